//! The core's integration-test harness: a [`World`] holding one tenant's [`Lobby`] with the
//! journal and message log an adapter would keep, driven through `Lobby::call` (the HTTP API's
//! decisions) and `Lobby::handle` (the adapter's own commands), with sans-IO time and entropy
//! that advance per call. Every call checks that a refusal, or an answer without events,
//! changes nothing; [`World::check_replay`] checks that the journal replays to the live state.
//!
//! The fixtures (tenant `acme`, its groups, operators and widgets) are built from the small
//! steps here by each test file, which names them on its own `impl World`. Each test binary
//! uses a part of this module, hence the `dead_code` allowance.

#![allow(dead_code)]

pub mod deliveries;

use std::sync::OnceLock;

use lobby_core::api::{Actor, Ctx, MessageLog, Meta, Reply, Route};
use lobby_core::lobby::{Command, Event, Lobby, Millis};
use lobby_core::ApiError;
use lobby_wire as wire;
use serde_json::{json, Value};

pub const SECRET: &[u8] = b"a token secret for the tests, 32+";
pub const T0: Millis = 1_700_000_000_000;
pub const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
pub const ORIGIN: &str = "https://shop.example";
pub const ADMIN_PASSWORD: &str = "correct horse battery";
pub const OP_PASSWORD: &str = "operator password";

/// The journal's messages, as an adapter keeps them.
#[derive(Default, Clone)]
pub struct Log(pub Vec<(String, wire::Message)>);

impl MessageLog for Log {
    fn messages(&self, session: &str, after: u64, limit: usize) -> Vec<wire::Message> {
        self.0
            .iter()
            .filter(|(s, m)| s == session && m.seq > after)
            .map(|(_, m)| m.clone())
            .take(limit)
            .collect()
    }
}

/// The 64 bytes of entropy of call number `call`: distinct per call, the same on every run.
pub fn entropy(call: u64) -> [u8; 64] {
    let mut e = [0u8; 64];
    for (slot, chunk) in e.chunks_mut(8).enumerate() {
        let v = (call * 8 + slot as u64) ^ 0x5a5a_1234_9876_abcd;
        chunk.copy_from_slice(&v.to_be_bytes());
    }
    e
}

/// A fresh Lobby that has applied `journal` and rebuilt its indexes, as a restarted
/// coordinator would.
pub fn replayed(journal: &[(Event, Millis)]) -> Lobby {
    let mut replayed = Lobby::new();
    for (e, at) in journal {
        replayed.apply(e, *at);
    }
    replayed.reindex();
    replayed
}

/// A browser on the widget's page, at `address`.
pub fn page_at(address: &str) -> Meta {
    Meta {
        user_agent: Some(CHROME.into()),
        origin: Some(ORIGIN.into()),
        accept_language: Some("cs-CZ,cs;q=0.9,en;q=0.8".into()),
        after: None,
        address: Some(address.into()),
    }
}

pub fn browser() -> Meta {
    page_at("203.0.113.7")
}

pub fn created_id(r: &Reply) -> String {
    r.body["id"].as_str().expect("an id").to_string()
}

pub fn op_id(a: &Actor) -> String {
    match a {
        Actor::Operator { id, .. } => id.clone(),
        _ => panic!("not an operator: {a:?}"),
    }
}

/// One tenant's state and what its adapter keeps beside it. The actors and ids are filled in
/// by the test file's fixture; those it does not build stay anonymous or empty.
#[derive(Clone)]
pub struct World {
    pub lobby: Lobby,
    pub log: Log,
    pub journal: Vec<(Event, Millis)>,
    pub now: Millis,
    pub calls: u64,
    pub admin: Actor,
    pub ann: Actor,
    pub ann_token: String,
    pub bea: Actor,
    pub sam: Actor,
    pub sales: String,
    pub support: String,
    pub widget_key: String,
    pub widget_id: String,
    pub chat_only_key: String,
}

impl World {
    /// An empty tenant store: no tenant yet.
    pub fn bare() -> Self {
        World {
            lobby: Lobby::new(),
            log: Log::default(),
            journal: vec![],
            now: T0,
            calls: 0,
            admin: Actor::Anonymous,
            ann: Actor::Anonymous,
            ann_token: String::new(),
            bea: Actor::Anonymous,
            sam: Actor::Anonymous,
            sales: String::new(),
            support: String::new(),
            widget_key: String::new(),
            widget_id: String::new(),
            chat_only_key: String::new(),
        }
    }

    /// The World `build` makes, built once per test binary (password hashing is slow) and
    /// cloned for every test.
    pub fn built_once(cell: &'static OnceLock<World>, build: fn() -> World) -> Self {
        cell.get_or_init(build).clone()
    }

    /// Tenant `acme`, created by the platform, with its admin Adam as [`World::admin`].
    pub fn tenant() -> Self {
        let mut w = World::bare();
        let r = w
            .call(
                Route::CreateTenant,
                &Actor::Platform,
                json!({"slug": "acme", "name": "Acme", "admin": {
                    "email": "admin@acme.test", "password": ADMIN_PASSWORD, "name": "Adam"}}),
                &Meta::default(),
            )
            .unwrap();
        assert_eq!(r.status, 201);
        let admin = w.lobby.operator_by_email("admin@acme.test").unwrap();
        w.admin = Actor::Operator {
            id: admin.id.clone(),
            admin: true,
        };
        w
    }

    /// Tenant `acme` as [`World::tenant`], with groups Sales (`sales`) and Support (`support`)
    /// and operator Ann in Sales with 2 chats (`ann`), all offline.
    pub fn acme() -> Self {
        let mut w = World::tenant();
        w.sales = w.group("Sales");
        w.support = w.group("Support");
        let sales = w.sales.clone();
        w.ann = w.member("Ann", &sales, 2);
        w
    }

    /// The Sales widget on https://shop.example (all buttons, all fields optional) with an
    /// offline address, as `widget_key` and `widget_id`.
    pub fn shop_widget(&mut self) {
        let r = self.widget(json!({"name": "Shop chat", "group": self.sales,
               "allowed_origins": ["https://Shop.example/"],
               "offline_email": "offline@acme.test"}));
        self.widget_key = r.body["key"].as_str().unwrap().to_string();
        self.widget_id = created_id(&r);
    }

    /// A group created by the admin → its id.
    pub fn group(&mut self, name: &str) -> String {
        let admin = self.admin.clone();
        created_id(&self.ok(Route::CreateGroup, &admin, json!({ "name": name })))
    }

    /// An operator of `group` with `chat` concurrent chats, signing in as `<name>@acme.test`.
    pub fn member(&mut self, name: &str, group: &str, chat: u32) -> Actor {
        self.new_operator(
            json!({"email": format!("{}@acme.test", name.to_lowercase()),
               "password": OP_PASSWORD, "name": name,
               "role": "operator", "groups": [group], "limits": {"chat": chat}}),
        )
    }

    /// Another operator of group `group` with the default limits, signing in as
    /// `<name>@acme.test`.
    pub fn operator(&mut self, name: &str, group: &str) -> Actor {
        self.new_operator(
            json!({"email": format!("{}@acme.test", name.to_lowercase()),
               "password": OP_PASSWORD, "name": name, "role": "operator", "groups": [group]}),
        )
    }

    fn new_operator(&mut self, body: Value) -> Actor {
        let admin = self.admin.clone();
        let id = created_id(&self.ok(Route::CreateOperator, &admin, body));
        Actor::Operator { id, admin: false }
    }

    /// A widget created by the admin → the reply, whose body holds its `id` and `key`.
    pub fn widget(&mut self, body: Value) -> Reply {
        let admin = self.admin.clone();
        self.ok(Route::CreateWidget, &admin, body)
    }

    /// One call, one second after the previous one.
    pub fn ctx_call(
        &mut self,
        route: &Route,
        actor: &Actor,
        body: &[u8],
        meta: &Meta,
    ) -> Result<Reply, ApiError> {
        self.calls += 1;
        self.now += 1000;
        let entropy = entropy(self.calls);
        let before = self.lobby.clone();
        let ctx = Ctx {
            now: self.now,
            entropy: &entropy,
            token_secret: SECRET,
            messages: &self.log,
        };
        let result = self.lobby.call(route, actor, body, meta, &ctx);
        match &result {
            Ok(reply) => {
                if reply.events.is_empty() {
                    assert!(
                        self.lobby == before,
                        "{route:?} answered without events but changed the state"
                    );
                }
                for e in &reply.events {
                    if let Some(m) = Lobby::message_of(e, self.now) {
                        self.log.0.push(m);
                    }
                    self.journal.push((e.clone(), self.now));
                }
            }
            Err(e) => assert!(
                self.lobby == before,
                "the refused {route:?} ({e:?}) changed the state"
            ),
        }
        result
    }

    /// A call with a JSON body (`Value::Null`: none).
    pub fn call(
        &mut self,
        route: Route,
        actor: &Actor,
        body: Value,
        meta: &Meta,
    ) -> Result<Reply, ApiError> {
        let body = if body.is_null() {
            vec![]
        } else {
            serde_json::to_vec(&body).unwrap()
        };
        self.ctx_call(&route, actor, &body, meta)
    }

    /// A call from the browser that must be accepted.
    #[track_caller]
    pub fn ok(&mut self, route: Route, actor: &Actor, body: Value) -> Reply {
        match self.call(route.clone(), actor, body, &browser()) {
            Ok(r) => r,
            Err(e) => panic!("{route:?} was refused: {e:?}"),
        }
    }

    /// A refusal of a raw body: its status and code.
    #[track_caller]
    pub fn refused(
        &mut self,
        route: Route,
        actor: &Actor,
        body: &[u8],
        meta: &Meta,
    ) -> (u16, String) {
        match self.ctx_call(&route, actor, body, meta) {
            Ok(r) => panic!("{route:?} was accepted: {r:?}"),
            Err(e) => (e.status(), e.code().to_string()),
        }
    }

    /// A refusal of a JSON body: its status and code.
    #[track_caller]
    pub fn refused_json(
        &mut self,
        route: Route,
        actor: &Actor,
        body: Value,
        meta: &Meta,
    ) -> (u16, String) {
        match self.call(route.clone(), actor, body, meta) {
            Ok(r) => panic!("{route:?} was accepted: {r:?}"),
            Err(e) => (e.status(), e.code().to_string()),
        }
    }

    /// A command the adapter runs itself (the outbox's reports), journaled like a call's.
    pub fn command(&mut self, cmd: Command) -> Result<Vec<Event>, ApiError> {
        self.now += 1000;
        let before = self.lobby.clone();
        let result = self.lobby.handle(&cmd, self.now);
        match &result {
            Ok(events) => {
                for e in events {
                    self.journal.push((e.clone(), self.now));
                }
            }
            Err(e) => assert!(
                self.lobby == before,
                "the refused {cmd:?} ({e:?}) changed the state"
            ),
        }
        result
    }

    pub fn status(&mut self, actor: &Actor, status: &str) {
        self.ok(Route::SetStatus, actor, json!({ "status": status }));
    }

    /// `actor` goes online, and the reply says so.
    pub fn online(&mut self, actor: &Actor) {
        let r = self.ok(Route::SetStatus, actor, json!({"status": "online"}));
        assert_eq!(r.body, json!({"status": "online"}));
    }

    /// A widget entry through the main widget, from `meta`.
    pub fn enter_from(&mut self, body: Value, meta: &Meta) -> Result<Reply, ApiError> {
        let key = self.widget_key.clone();
        self.call(Route::WidgetEntry { key }, &Actor::Anonymous, body, meta)
    }

    /// A widget entry from a real browser on the allowed origin, which must be queued.
    #[track_caller]
    pub fn enter(&mut self, body: Value) -> wire::EntryAccepted {
        let r = self.enter_from(body, &browser()).unwrap();
        assert_eq!(r.status, 201, "{:?}", r.body);
        serde_json::from_value(r.body).unwrap()
    }

    pub fn client_actor(e: &wire::EntryAccepted) -> Actor {
        Actor::Client {
            id: e.client.clone(),
            session: e.session.clone(),
        }
    }

    #[track_caller]
    pub fn check_replay(&self) {
        assert!(
            replayed(&self.journal) == self.lobby,
            "the replies' events replay to another state"
        );
    }

    /// The state through a snapshot (serde), as a restarted coordinator would load it.
    #[track_caller]
    pub fn check_snapshot(&self) {
        let mut restored: Lobby =
            serde_json::from_str(&serde_json::to_string(&self.lobby).unwrap()).unwrap();
        restored.reindex();
        assert!(
            restored == self.lobby,
            "the state does not survive a snapshot"
        );
    }
}
