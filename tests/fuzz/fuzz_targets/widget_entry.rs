//! A widget entry as a browser (or anyone) may post it: the first line is the `User-Agent`, the
//! second the `Accept-Language`, the rest the JSON body of `POST /api/v1/widgets/{key}/entries`.
//! Against a real tenant (a group, an online operator, a widget), the call answers or refuses;
//! it never panics, and a refusal changes nothing.
#![no_main]

use std::sync::OnceLock;

use lobby_core::api::{Actor, Ctx, MessageLog, Meta, Route};
use lobby_core::lobby::Lobby;
use serde_json::json;

const SECRET: &[u8] = b"the fuzzing deployment secret, 32+";
const NOW: i64 = 1_700_000_000_000;

struct NoMessages;

impl MessageLog for NoMessages {
    fn messages(&self, _: &str, _: u64, _: usize) -> Vec<lobby_wire::Message> {
        vec![]
    }
}

fn ctx(entropy: &[u8]) -> Ctx<'_> {
    Ctx {
        now: NOW,
        entropy,
        token_secret: SECRET,
        messages: &NoMessages,
    }
}

/// Tenant `acme`: its admin online in group Sales, a Sales widget on https://shop.example.
fn tenant() -> &'static (Lobby, String) {
    static BUILT: OnceLock<(Lobby, String)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let mut lobby = Lobby::new();
        let entropy = [7u8; 64];
        let meta = Meta::default();
        let call = |lobby: &mut Lobby, route: Route, actor: &Actor, body: serde_json::Value| {
            lobby
                .call(&route, actor, &serde_json::to_vec(&body).unwrap(), &meta, &ctx(&entropy))
                .unwrap_or_else(|e| panic!("{route:?}: {e:?}"))
        };
        call(
            &mut lobby,
            Route::CreateTenant,
            &Actor::Platform,
            json!({"slug": "acme", "name": "Acme",
                   "admin": {"email": "admin@acme.test", "password": "correct horse battery", "name": "Adam"}}),
        );
        let admin = Actor::Operator {
            id: lobby.operator_by_email("admin@acme.test").unwrap().id.clone(),
            admin: true,
        };
        let group = call(&mut lobby, Route::CreateGroup, &admin, json!({"name": "Sales"})).body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let id = match &admin {
            Actor::Operator { id, .. } => id.clone(),
            _ => unreachable!(),
        };
        call(
            &mut lobby,
            Route::UpdateOperator { operator: id },
            &admin,
            json!({"groups": [group], "limits": {"chat": 5}}),
        );
        call(&mut lobby, Route::SetStatus, &admin, json!({"status": "online"}));
        let key = call(
            &mut lobby,
            Route::CreateWidget,
            &admin,
            json!({"name": "Shop chat", "group": group, "allowed_origins": ["https://shop.example"],
                   "offline_email": "offline@acme.test"}),
        )
        .body["key"]
            .as_str()
            .unwrap()
            .to_string();
        (lobby, key)
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (built, key) = tenant();
    let mut lines = data.splitn(3, |b| *b == b'\n');
    let user_agent = lines
        .next()
        .map(|l| String::from_utf8_lossy(l).into_owned());
    let accept_language = lines
        .next()
        .map(|l| String::from_utf8_lossy(l).into_owned());
    let body = lines.next().unwrap_or_default();
    let meta = Meta {
        user_agent,
        origin: Some("https://shop.example".into()),
        accept_language,
        after: None,
        address: Some("203.0.113.7".into()),
    };
    let mut lobby = built.clone();
    let entropy = [9u8; 64];
    let route = Route::WidgetEntry { key: key.clone() };
    match lobby.call(&route, &Actor::Anonymous, body, &meta, &ctx(&entropy)) {
        Ok(reply) => assert!(reply.status < 500, "{reply:?}"),
        Err(e) => {
            assert!((400..500).contains(&e.status()), "{e:?}");
            assert!(lobby == *built, "a refused entry changed the tenant");
        }
    }
});
