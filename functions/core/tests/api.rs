//! The HTTP API's decisions, through `lobby_core::api::{route, authorize}` and `Lobby::call`,
//! with an in-memory message log that keeps the messages the replies' events carry.
//!
//! Every call goes through [`World::call`], which checks that a refusal (an `Err`) changes
//! nothing, and that a reply without events changes nothing either.

mod support;

use std::sync::OnceLock;

use lobby_core::api::{self, authorize, route, Actor, Meta, Route, Secrets};
use lobby_core::auth::{self, Claims, TokenRole};
use lobby_core::lobby::{Event, Lobby};
use lobby_core::ApiError;
use lobby_wire as wire;
use serde_json::{json, Value};
use support::{browser, created_id, World, ADMIN_PASSWORD, OP_PASSWORD, ORIGIN, SECRET};

const PLATFORM: &str = "platform-token-for-tests";

impl World {
    /// Tenant `acme` with its admin; groups Sales and Support; operator Ann in Sales (2
    /// chats); a widget for Sales on https://shop.example. Built once (password hashing is
    /// slow), cloned for every test.
    fn new() -> Self {
        static BUILT: OnceLock<World> = OnceLock::new();
        World::built_once(&BUILT, || {
            let mut w = World::acme();
            let r = w.ok(
                Route::Login,
                &Actor::Anonymous,
                json!({"tenant": "acme", "email": "ann@acme.test", "password": OP_PASSWORD}),
            );
            w.ann_token = r.body["token"].as_str().unwrap().to_string();
            w.shop_widget();
            w
        })
    }

    /// Cid, an operator of Support with the default limits and a password of its own.
    fn cid(&mut self) -> Actor {
        let admin = self.admin.clone();
        let r = self.ok(
            Route::CreateOperator,
            &admin,
            json!({"email": "cid@acme.test", "password": "cid's password", "name": "Cid",
                   "role": "operator", "groups": [self.support]}),
        );
        Actor::Operator {
            id: created_id(&r),
            admin: false,
        }
    }
}

fn json_body(v: Value) -> Vec<u8> {
    serde_json::to_vec(&v).unwrap()
}

// ---------------------------------------------------------------- tenants and login

#[test]
fn a_tenant_is_created_by_the_platform_and_its_admin_logs_in() {
    let mut w = World::new();
    let tenant = w.lobby.tenant.clone().unwrap();
    assert_eq!(
        (tenant.slug.as_str(), tenant.name.as_str()),
        ("acme", "Acme")
    );
    // The creation's events: the tenant and its admin, with a real password hash.
    assert!(matches!(
        &w.journal[..2],
        [(Event::TenantCreated { .. }, _), (Event::OperatorCreated { operator }, _)]
            if operator.role == wire::Role::Admin && operator.password_hash.starts_with("$argon2id$")
    ));
    let r = w.ok(
        Route::Login,
        &Actor::Anonymous,
        json!({"tenant": "acme", "email": " Admin@ACME.test", "password": ADMIN_PASSWORD}),
    );
    assert_eq!(r.status, 200);
    assert!(r.events.is_empty());
    let logged: wire::LoggedIn = serde_json::from_value(r.body).unwrap();
    let claims = auth::verify_token(&logged.token, SECRET, w.now / 1000).unwrap();
    let Actor::Operator { id, .. } = &w.admin else {
        unreachable!()
    };
    assert_eq!(claims.tenant, "acme");
    assert_eq!(&claims.sub, id);
    assert_eq!(claims.role, TokenRole::Admin);
    assert_eq!(claims.session, None);
    assert_eq!(logged.operator.id, *id);
    assert_eq!(logged.operator.role, wire::Role::Admin);
    assert_eq!(claims.exp, w.now / 1000 + auth::OPERATOR_TOKEN_SECONDS);
    assert_eq!(logged.expires_at, lobby_core::rfc3339(claims.exp * 1000));
    // Another secret does not verify it; after its expiry it is refused.
    assert!(auth::verify_token(&logged.token, b"another secret", w.now / 1000).is_err());
    assert!(auth::verify_token(&logged.token, SECRET, claims.exp).is_err());
    // An operator's token says operator.
    let c = auth::verify_token(&w.ann_token, SECRET, w.now / 1000).unwrap();
    assert_eq!(c.role, TokenRole::Operator);
    w.check_replay();
}

#[test]
fn a_tenant_cannot_be_created_twice() {
    let mut w = World::new();
    let body = json_body(json!({"slug": "acme", "name": "Again", "admin": {
        "email": "x@acme.test", "password": "long enough", "name": "X"}}));
    let refusal = w.refused(
        Route::CreateTenant,
        &Actor::Platform,
        &body,
        &Meta::default(),
    );
    assert_eq!(refusal, (409, "tenant_exists".into()));
}

#[test]
fn a_tenant_needs_a_valid_slug_name_and_admin() {
    let mut w = World::bare();
    let cases = [
        json!({"slug": "A", "name": "Acme", "admin": {"email": "a@b.cz", "password": "long enough", "name": "A"}}),
        json!({"slug": "acme", "name": " ", "admin": {"email": "a@b.cz", "password": "long enough", "name": "A"}}),
        json!({"slug": "acme", "name": "Acme", "admin": {"email": "nope", "password": "long enough", "name": "A"}}),
        json!({"slug": "acme", "name": "Acme", "admin": {"email": "a@b.cz", "password": "short", "name": "A"}}),
        json!({"slug": "acme", "name": "Acme"}),
    ];
    for body in cases {
        let r = w.refused(
            Route::CreateTenant,
            &Actor::Platform,
            &json_body(body.clone()),
            &Meta::default(),
        );
        assert_eq!(r, (422, "invalid_body".into()), "{body}");
    }
    assert!(w.lobby.tenant.is_none());
    // Nothing but creating the tenant works on a store without one.
    let r = w.refused(
        Route::Login,
        &Actor::Anonymous,
        &json_body(json!({"tenant": "acme", "email": "a@b.cz", "password": "long enough"})),
        &Meta::default(),
    );
    assert_eq!(r, (401, "unauthorized".into()));
    let r = w.refused(
        Route::WidgetEntry {
            key: "acme.k".into(),
        },
        &Actor::Anonymous,
        &json_body(json!({"entry": "webchat"})),
        &browser(),
    );
    assert_eq!(r.0, 404);
}

#[test]
fn a_wrong_password_or_unknown_email_is_401() {
    let mut w = World::new();
    for body in [
        json!({"tenant": "acme", "email": "ann@acme.test", "password": "not the password"}),
        json!({"tenant": "acme", "email": "nobody@acme.test", "password": OP_PASSWORD}),
    ] {
        let r = w.refused(
            Route::Login,
            &Actor::Anonymous,
            &json_body(body),
            &Meta::default(),
        );
        assert_eq!(r, (401, "unauthorized".into()));
    }
}

// ---------------------------------------------------------------- administration

#[test]
fn an_admin_creates_groups_operators_and_widgets() {
    let w0 = World::new();
    let mut w = w0.clone();
    let admin = w.admin.clone();
    let r = w.ok(Route::CreateGroup, &admin, json!({"name": "  VIP  "}));
    assert_eq!(r.status, 201);
    let vip = created_id(&r);
    assert!(vip.starts_with("g_"), "{vip}");
    assert!(matches!(&r.events[..], [Event::GroupCreated { group }] if group.name == "VIP"));

    let r = w.ok(Route::ListGroups, &w.ann.clone(), Value::Null);
    let names: Vec<&str> = r.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3);
    assert!(names.contains(&"VIP") && names.contains(&"Sales"));

    let r = w.ok(
        Route::CreateOperator,
        &admin,
        json!({"email": "bob@acme.test", "password": "bob's password", "name": "Bob",
               "role": "operator", "groups": [vip, w.sales]}),
    );
    assert_eq!(r.status, 201);
    let bob = created_id(&r);
    assert!(bob.starts_with("op_"));
    let op = &w.lobby.operators[&bob];
    assert_eq!(op.chat_limit, lobby_core::lobby::DEFAULT_CHAT_LIMIT);
    assert_eq!(op.presence, wire::Presence::Offline);
    assert!(auth::verify_password("bob's password", &op.password_hash));

    let r = w.ok(
        Route::CreateWidget,
        &admin,
        json!({"name": "VIP line", "group": vip}),
    );
    assert_eq!(r.status, 201);
    let created: wire::WidgetCreated = serde_json::from_value(r.body).unwrap();
    assert!(created.key.starts_with("acme."), "{}", created.key);
    assert_eq!(
        api::tenant_of_widget_key(&created.key).as_deref(),
        Some("acme")
    );
    assert_ne!(created.key, w.widget_key);
    assert_eq!(w.lobby.widget_by_key(&created.key).unwrap().id, created.id);

    let r = w.ok(Route::ListWidgets, &admin, Value::Null);
    let widgets: Vec<wire::WidgetInfo> = serde_json::from_value(r.body["widgets"].clone()).unwrap();
    assert_eq!(widgets.len(), 2);
    let shop = widgets.iter().find(|x| x.name == "Shop chat").unwrap();
    // Origins are stored normalized.
    assert_eq!(shop.allowed_origins, [ORIGIN]);

    let r = w.ok(Route::ListOperators, &w.ann.clone(), Value::Null);
    let ops: Vec<wire::OperatorInfo> = serde_json::from_value(r.body["operators"].clone()).unwrap();
    assert_eq!(ops.len(), 3);
    let ann = ops.iter().find(|o| o.name == "Ann").unwrap();
    assert_eq!(ann.limits.chat, 2);
    assert_eq!(ann.groups, [w.sales.clone()]);
    w.check_replay();
}

#[test]
fn operators_see_colleagues_without_their_e_mail_addresses_and_admins_see_all() {
    let mut w = World::new();
    let admin = w.admin.clone();
    let ann = w.ann.clone();
    let support = w.support.clone();
    w.operator("Bob", &support);
    w.online(&ann);

    // What Ann's redirect dialog gets: every colleague's name, groups, presence and load,
    // her own address, and nobody else's.
    let r = w.ok(Route::ListOperators, &ann, Value::Null);
    let raw = r.body.to_string();
    for other in ["admin@acme.test", "bob@acme.test"] {
        assert!(!raw.contains(other), "an operator sees {other}: {raw}");
    }
    let ops: Vec<wire::OperatorInfo> = serde_json::from_value(r.body["operators"].clone()).unwrap();
    let by_name = |name: &str| ops.iter().find(|o| o.name == name).unwrap().clone();
    let bob = by_name("Bob");
    assert_eq!(bob.email, None);
    assert_eq!(bob.groups, [w.support.clone()]);
    assert_eq!(bob.status, wire::Presence::Offline);
    assert_eq!(by_name("Adam").email, None);
    let me = by_name("Ann");
    assert_eq!(me.email.as_deref(), Some("ann@acme.test"));
    assert_eq!(me.status, wire::Presence::Online);
    assert!(r.body["operators"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["name"] != "Ann")
        .all(|o| o.get("email").is_none()));

    // The admin manages the accounts: it sees every address.
    let r = w.ok(Route::ListOperators, &admin, Value::Null);
    let ops: Vec<wire::OperatorInfo> = serde_json::from_value(r.body["operators"].clone()).unwrap();
    let mut emails: Vec<_> = ops.iter().map(|o| o.email.clone().unwrap()).collect();
    emails.sort();
    assert_eq!(
        emails,
        ["admin@acme.test", "ann@acme.test", "bob@acme.test"]
    );
}

#[test]
fn administration_refuses_bad_requests_and_changes_nothing() {
    let mut w = World::new();
    let admin = w.admin.clone();
    let m = Meta::default();
    let sales = w.sales.clone();
    let cases: Vec<(Route, Vec<u8>, u16, &str)> = vec![
        (Route::CreateGroup, b"{nope".to_vec(), 400, "invalid_json"),
        (Route::CreateGroup, b"".to_vec(), 400, "invalid_json"),
        (
            Route::CreateGroup,
            json_body(json!({})),
            422,
            "invalid_body",
        ),
        (
            Route::CreateGroup,
            json_body(json!({"name": 5})),
            422,
            "invalid_body",
        ),
        (
            Route::CreateGroup,
            json_body(json!({"name": "  "})),
            422,
            "invalid_body",
        ),
        (
            Route::CreateOperator,
            json_body(
                json!({"email": "x@acme.test", "password": "long enough", "name": "X",
                             "role": "operator", "groups": ["g_nowhere"]}),
            ),
            404,
            "not_found",
        ),
        (
            Route::CreateOperator,
            json_body(
                json!({"email": "ANN@acme.test", "password": "long enough", "name": "X",
                             "role": "operator"}),
            ),
            409,
            "conflict",
        ),
        (
            Route::CreateOperator,
            json_body(
                json!({"email": "x@acme.test", "password": "long enough", "name": "X",
                             "role": "operator", "limits": {"chat": 0}}),
            ),
            422,
            "invalid_body",
        ),
        (
            Route::CreateOperator,
            json_body(
                json!({"email": "x@acme.test", "password": "long enough", "name": "X",
                             "role": "superuser"}),
            ),
            422,
            "invalid_body",
        ),
        (
            Route::CreateOperator,
            json_body(json!({"email": "x@acme.test", "password": "long enough", "name": "X"})),
            422,
            "invalid_body",
        ),
        (
            Route::CreateOperator,
            json_body(
                json!({"email": "x@acme.test", "password": "short", "name": "X",
                             "role": "operator"}),
            ),
            422,
            "invalid_body",
        ),
        (
            Route::CreateWidget,
            json_body(json!({"name": "W", "group": "g_nowhere"})),
            404,
            "not_found",
        ),
        (
            Route::CreateWidget,
            json_body(json!({"name": "W", "group": sales, "allowed_origins": ["ftp://x"]})),
            422,
            "invalid_body",
        ),
        (
            Route::CreateWidget,
            json_body(json!({"name": "W"})),
            422,
            "invalid_body",
        ),
        (
            Route::SetStatus,
            json_body(json!({"status": "asleep"})),
            422,
            "invalid_body",
        ),
        (Route::SetStatus, json_body(json!({})), 422, "invalid_body"),
        (
            Route::SetStatus,
            b"{\"status\":".to_vec(),
            400,
            "invalid_json",
        ),
    ];
    for (route, body, status, code) in cases {
        let r = w.refused(route.clone(), &admin, &body, &m);
        assert_eq!(
            r,
            (status, code.to_string()),
            "{route:?} {}",
            String::from_utf8_lossy(&body)
        );
    }
    // A body over the limit is refused before anything is read.
    let big = vec![b' '; api::MAX_BODY_BYTES + 1];
    assert_eq!(
        w.refused(Route::CreateGroup, &admin, &big, &m),
        (413, "payload_too_large".into())
    );
    // Non-operators calling operator routes.
    let client = Actor::Client {
        id: "c_x".into(),
        session: "s_x".into(),
    };
    let body = json_body(json!({"name": "X"}));
    assert_eq!(w.refused(Route::CreateGroup, &client, &body, &m).0, 403);
    assert_eq!(w.refused(Route::Queue, &Actor::Anonymous, b"", &m).0, 403);
    let gone = Actor::Operator {
        id: "op_gone".into(),
        admin: true,
    };
    assert_eq!(w.refused(Route::CreateGroup, &gone, &body, &m).0, 401);
    w.check_replay();
}

#[test]
fn an_operator_sets_its_status() {
    let mut w = World::new();
    let ann = w.ann.clone();
    let r = w.ok(Route::SetStatus, &ann, json!({"status": "online"}));
    assert_eq!((r.status, &r.body), (200, &json!({"status": "online"})));
    assert!(matches!(
        &r.events[..],
        [Event::PresenceChanged {
            presence: wire::Presence::Online,
            ..
        }]
    ));
    let me: wire::OperatorInfo =
        serde_json::from_value(w.ok(Route::Me, &ann, Value::Null).body).unwrap();
    assert_eq!(me.status, wire::Presence::Online);
    assert_eq!(me.load, 0);
    // The same status again changes nothing.
    let r = w.ok(Route::SetStatus, &ann, json!({"status": "online"}));
    assert!(r.events.is_empty());
    let r = w.ok(Route::SetStatus, &ann, json!({"status": "away"}));
    assert_eq!(r.events.len(), 1);
    w.check_replay();
}

// ---------------------------------------------------------------- widget entries

#[test]
fn a_browser_enters_through_the_widget_and_waits_first() {
    let mut w = World::new();
    let ann = w.ann.clone();
    w.online(&ann);
    let e = w.enter(
        json!({"entry": "webchat", "form": {"name": "Jana", "email": "Jana@Example.cz"},
                           "page": {"url": "https://shop.example/cart", "title": "Cart"},
                           "params": {"order": 42}}),
    );
    assert_eq!(e.position, 1);
    assert_eq!(e.status, wire::ClientStatus::Waiting);
    assert!(e.client.starts_with("c_") && e.session.starts_with("s_"));
    let claims = auth::verify_token(&e.token, SECRET, w.now / 1000).unwrap();
    assert_eq!(
        claims,
        Claims {
            tenant: "acme".into(),
            sub: e.client.clone(),
            role: TokenRole::Client,
            exp: w.now / 1000 + auth::CLIENT_TOKEN_SECONDS,
            session: Some(e.session.clone()),
        }
    );
    // The queue row: browser, OS, language, widget, form.
    let r = w.ok(Route::Queue, &ann, Value::Null);
    let q: wire::QueueList = serde_json::from_value(r.body).unwrap();
    let [row] = &q.clients[..] else {
        panic!("{q:?}")
    };
    assert_eq!(row.id, e.client);
    assert_eq!(row.position, 1);
    assert_eq!(row.entry, wire::EntryKind::Webchat);
    assert_eq!(row.channel, "widget");
    assert_eq!(row.browser.as_deref(), Some("Chrome 120"));
    assert!(
        row.os.as_deref().unwrap_or("").contains("Windows"),
        "{row:?}"
    );
    assert_eq!(row.language.as_deref(), Some("cs-cz"));
    assert_eq!(row.widget.as_deref(), Some("Shop chat"));
    assert_eq!(row.name.as_deref(), Some("Jana"));
    assert_eq!(row.email.as_deref(), Some("Jana@Example.cz"));
    assert_eq!(row.group.as_deref(), Some(w.sales.as_str()));
    assert_eq!(row.page.as_ref().unwrap().url, "https://shop.example/cart");
    // The next one is second.
    let e2 = w.enter(json!({"entry": "callback", "form": {"phone": "+420 777 111 222"}}));
    assert_eq!(e2.position, 2);
    let e3 = w.enter(json!({"entry": "video", "language": "de"}));
    assert_eq!(e3.position, 3);
    assert_eq!(
        w.lobby.clients[&e3.client].details.language.as_deref(),
        Some("de")
    );
    w.check_replay();
}

#[test]
fn an_entry_from_a_disallowed_origin_is_403_and_changes_nothing() {
    let mut w = World::new();
    let ann = w.ann.clone();
    w.online(&ann);
    let key = w.widget_key.clone();
    let body = json_body(json!({"entry": "webchat"}));
    for origin in [
        Some("https://evil.example"),
        Some("http://shop.example"),
        None,
    ] {
        let meta = Meta {
            origin: origin.map(str::to_string),
            ..browser()
        };
        let r = w.refused(
            Route::WidgetEntry { key: key.clone() },
            &Actor::Anonymous,
            &body,
            &meta,
        );
        assert_eq!(r, (403, "origin_not_allowed".into()), "{origin:?}");
    }
    // The allowed origin in another spelling is the same origin.
    let meta = Meta {
        origin: Some("HTTPS://SHOP.EXAMPLE/".into()),
        ..browser()
    };
    let r = w
        .ctx_call(&Route::WidgetEntry { key }, &Actor::Anonymous, &body, &meta)
        .unwrap();
    assert_eq!(r.status, 201);
    assert!(w.lobby.clients.len() == 1);
}

#[test]
fn with_nobody_online_the_widget_answers_offline_and_nothing_changes() {
    let mut w = World::new();
    let key = w.widget_key.clone();
    let ann = w.ann.clone();
    let r = w
        .call(
            Route::WidgetEntry { key: key.clone() },
            &Actor::Anonymous,
            json!({"entry": "webchat"}),
            &browser(),
        )
        .unwrap();
    assert_eq!((r.status, &r.body), (200, &json!({"status": "offline"})));
    assert!(r.events.is_empty());
    assert!(w.lobby.clients.is_empty());
    // Away is not online either.
    w.ok(Route::SetStatus, &ann, json!({"status": "away"}));
    let r = w
        .call(
            Route::WidgetEntry { key },
            &Actor::Anonymous,
            json!({"entry": "callback", "form": {"phone": "123"}}),
            &browser(),
        )
        .unwrap();
    assert_eq!(r.body, json!({"status": "offline"}));
    assert!(r.events.is_empty());
}

#[test]
fn bad_widget_entries_are_refused_and_change_nothing() {
    let mut w = World::new();
    let ann = w.ann.clone();
    w.online(&ann);
    let key = w.widget_key.clone();
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"{".to_vec(), 400, "invalid_json"),
        (b"not json".to_vec(), 400, "invalid_json"),
        (b"".to_vec(), 400, "invalid_json"),
        (json_body(json!({})), 422, "invalid_body"),
        (json_body(json!({"entry": "teleport"})), 422, "invalid_body"),
        (
            json_body(json!({"entry": "webchat", "form": "Jana"})),
            422,
            "invalid_body",
        ),
        (
            json_body(json!({"entry": "webchat", "params": [1]})),
            422,
            "invalid_body",
        ),
        (json_body(json!({"entry": "callback"})), 422, "invalid_body"),
        (
            json_body(json!({"entry": "invitation"})),
            422,
            "invalid_body",
        ),
        (
            json_body(json!({"entry": "messenger"})),
            422,
            "invalid_body",
        ),
        (json_body(json!({"entry": "phone"})), 422, "invalid_body"),
        (
            json_body(json!({"entry": "webchat", "form": {"email": "not an address"}})),
            422,
            "invalid_body",
        ),
    ];
    for (body, status, code) in cases {
        let r = w.refused(
            Route::WidgetEntry { key: key.clone() },
            &Actor::Anonymous,
            &body,
            &browser(),
        );
        assert_eq!(
            r,
            (status, code.to_string()),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
    let r = w.refused(
        Route::WidgetEntry {
            key: "acme.unknown".into(),
        },
        &Actor::Anonymous,
        &json_body(json!({"entry": "webchat"})),
        &browser(),
    );
    assert_eq!(r, (404, "not_found".into()));
    assert!(w.lobby.clients.is_empty());
}

/// A body of valid JSON whose enum field has the wrong type (a number or a boolean where a
/// string is expected) is a shape error, 422 — but serde_json reports it as "expected ident",
/// a syntax-category error, so `error::parse_json` answers 400 `invalid_json`.
#[test]
fn a_wrong_type_for_an_enum_field_is_422() {
    let mut w = World::new();
    let ann = w.ann.clone();
    let admin = w.admin.clone();
    w.online(&ann);
    let key = w.widget_key.clone();
    let m = browser();
    let cases: Vec<(Route, &Actor, Value)> = vec![
        (
            Route::WidgetEntry { key: key.clone() },
            &Actor::Anonymous,
            json!({"entry": 7}),
        ),
        (
            Route::WidgetEntry { key },
            &Actor::Anonymous,
            json!({"entry": ["webchat"]}),
        ),
        (Route::SetStatus, &ann, json!({"status": true})),
        (Route::SetStatus, &ann, json!({"status": 1})),
        (
            Route::CreateOperator,
            &admin,
            json!({"email": "x@acme.test", "password": "long enough", "name": "X", "role": 5}),
        ),
    ];
    let mut wrong = vec![];
    for (route, actor, body) in cases {
        let r = w.refused(route.clone(), actor, &json_body(body.clone()), &m);
        if r != (422, "invalid_body".to_string()) {
            wrong.push(format!("{route:?} {body} -> {r:?}"));
        }
    }
    assert!(wrong.is_empty(), "not 422 invalid_body: {wrong:#?}");
}

/// A JSON array is not a request body (the contract: a wrong type is 422), but serde's derived
/// `Deserialize` also accepts a struct as a positional array, so `["Sales"]` creates a group.
#[test]
fn an_array_instead_of_an_object_is_422() {
    let mut w = World::new();
    let admin = w.admin.clone();
    let r = w.call(
        Route::CreateGroup,
        &admin,
        json!(["Sales"]),
        &Meta::default(),
    );
    assert!(
        matches!(&r, Err(e) if e.status() == 422),
        "a positional array was taken as a body: {r:?}"
    );
}

// ---------------------------------------------------------------- the conversation

#[test]
fn accept_converse_and_read_the_messages_back() {
    let mut w = World::new();
    let ann = w.ann.clone();
    w.online(&ann);
    let e = w.enter(json!({"entry": "webchat", "form": {"name": "Jana"}}));
    let client = World::client_actor(&e);

    // The client writes while waiting.
    let r = w.ok(Route::PostClientMessage, &client, json!({"text": "hello?"}));
    assert_eq!((r.status, &r.body), (201, &json!({"seq": 1})));
    // The preview shows it before acceptance.
    let r = w.ok(
        Route::Preview {
            client: e.client.clone(),
        },
        &ann,
        Value::Null,
    );
    let preview: wire::Preview = serde_json::from_value(r.body).unwrap();
    assert_eq!(preview.client.name.as_deref(), Some("Jana"));
    assert_eq!(preview.client.status, wire::ClientStatus::Waiting);
    assert_eq!(preview.messages.len(), 1);
    assert_eq!(preview.messages[0].text, "hello?");

    let r = w.ok(
        Route::Accept {
            client: e.client.clone(),
        },
        &ann,
        Value::Null,
    );
    assert_eq!((r.status, &r.body), (200, &json!({"session": e.session})));
    let r = w.ok(
        Route::PostSessionMessage {
            session: e.session.clone(),
        },
        &ann,
        json!({"text": "Hi, Ann here", "attachments": [{"url": "https://files.example/a.pdf"}]}),
    );
    assert_eq!(r.body, json!({"seq": 2}));
    w.ok(Route::PostClientMessage, &client, json!({"text": "thanks"}));

    // Both sides read the same three messages, in order; `after` skips.
    let r = w.ok(
        Route::SessionMessages {
            session: e.session.clone(),
        },
        &ann,
        Value::Null,
    );
    let list: wire::MessageList = serde_json::from_value(r.body).unwrap();
    let texts: Vec<(u64, wire::Party, &str)> = list
        .messages
        .iter()
        .map(|m| (m.seq, m.from, m.text.as_str()))
        .collect();
    assert_eq!(
        texts,
        [
            (1, wire::Party::Client, "hello?"),
            (2, wire::Party::Operator, "Hi, Ann here"),
            (3, wire::Party::Client, "thanks")
        ]
    );
    assert_eq!(list.messages[1].attachments.len(), 1);
    let r = w.ok(Route::ClientMessages, &client, Value::Null);
    let mine: wire::MessageList = serde_json::from_value(r.body).unwrap();
    assert_eq!(mine, list);
    let after = Meta {
        after: Some(2),
        ..browser()
    };
    let r = w
        .call(Route::ClientMessages, &client, Value::Null, &after)
        .unwrap();
    assert_eq!(r.body["messages"].as_array().unwrap().len(), 1);

    let sessions = w.ok(Route::MySessions, &ann, Value::Null);
    assert_eq!(sessions.body["sessions"][0]["id"], json!(e.client));

    // Bad messages.
    let m = browser();
    let s = Route::PostSessionMessage {
        session: e.session.clone(),
    };
    assert_eq!(
        w.refused(s.clone(), &ann, &json_body(json!({"text": "  "})), &m),
        (422, "invalid_body".into())
    );
    assert_eq!(
        w.refused(s.clone(), &ann, &json_body(json!({})), &m),
        (422, "invalid_body".into())
    );
    assert_eq!(
        w.refused(s.clone(), &ann, b"{\"text\": }", &m),
        (400, "invalid_json".into())
    );
    let long = "x".repeat(api::MAX_MESSAGE_CHARS + 1);
    assert_eq!(
        w.refused(s.clone(), &ann, &json_body(json!({"text": long})), &m),
        (422, "invalid_body".into())
    );
    assert_eq!(
        w.refused(
            s,
            &ann,
            &json_body(json!({"text": "x", "attachments": [{"url": "javascript:alert(1)"}]})),
            &m
        ),
        (422, "invalid_body".into())
    );

    // The client reports a page, then the operator closes.
    let r = w.ok(
        Route::ClientPages,
        &client,
        json!({"url": "https://shop.example/pay", "title": "Pay"}),
    );
    assert_eq!(r.status, 202);
    let r = w.ok(
        Route::CloseSession {
            session: e.session.clone(),
        },
        &ann,
        Value::Null,
    );
    assert_eq!(r.body, json!({"status": "closed"}));
    assert!(w.lobby.clients.is_empty());
    // After the close: writing is a conflict, reading still works.
    assert_eq!(
        w.refused(
            Route::PostClientMessage,
            &client,
            &json_body(json!({"text": "hello?"})),
            &m
        )
        .0,
        409
    );
    let r = w.ok(Route::ClientMessages, &client, Value::Null);
    assert_eq!(r.body["messages"].as_array().unwrap().len(), 3);
    w.check_replay();
}

#[test]
fn unknown_or_invisible_ids_are_404_and_change_nothing() {
    let mut w = World::new();
    let ann = w.ann.clone();
    let admin = w.admin.clone();
    w.online(&ann);
    let e = w.enter(json!({"entry": "webchat"}));
    let m = browser();
    let redirect = json_body(json!({"group": w.support}));
    for route in [
        Route::Accept {
            client: "c_unknown".into(),
        },
        Route::Preview {
            client: "c_unknown".into(),
        },
    ] {
        assert_eq!(
            w.refused(route.clone(), &ann, b"", &m),
            (404, "not_found".into()),
            "{route:?}"
        );
    }
    assert_eq!(
        w.refused(
            Route::Redirect {
                client: "c_unknown".into()
            },
            &ann,
            &redirect,
            &m
        ),
        (404, "not_found".into())
    );
    for route in [
        Route::SessionMessages {
            session: "s_unknown".into(),
        },
        Route::PostSessionMessage {
            session: "s_unknown".into(),
        },
        Route::CloseSession {
            session: "s_unknown".into(),
        },
    ] {
        assert_eq!(
            w.refused(route.clone(), &ann, &json_body(json!({"text": "x"})), &m),
            (404, "not_found".into()),
            "{route:?}"
        );
    }
    // A redirect to an unknown group, a malformed one, one giving both or neither.
    let redirect_route = Route::Redirect {
        client: e.client.clone(),
    };
    for (body, status) in [
        (json!({"group": "g_unknown"}), 404),
        (json!({"operator": "op_unknown"}), 404),
        (json!({"group": w.support, "operator": "op_x"}), 422),
        (json!({}), 422),
        (json!({"group": 5}), 422),
    ] {
        assert_eq!(
            w.refused(redirect_route.clone(), &ann, &json_body(body.clone()), &m)
                .0,
            status,
            "{body}"
        );
    }
    // A client of Sales redirected to Support vanishes from Ann's view: 404 for her.
    let r = w
        .call(redirect_route, &ann, json!({"group": w.support}), &m)
        .unwrap();
    assert_eq!(r.body, json!({"status": "waiting"}));
    assert_eq!(
        w.refused(
            Route::Accept {
                client: e.client.clone()
            },
            &ann,
            b"",
            &m
        ),
        (404, "not_found".into())
    );
    // The admin still sees it.
    w.ok(
        Route::Preview {
            client: e.client.clone(),
        },
        &admin,
        Value::Null,
    );
    w.check_replay();
}

#[test]
fn an_operator_who_is_not_online_cannot_accept_through_the_api() {
    let mut w = World::new();
    let ann = w.ann.clone();
    let sales = w.sales.clone();
    let bob = w.operator("Bob", &sales);
    // Bob keeps the widget open; Ann never went online.
    w.online(&bob);
    let c = w.enter(json!({"entry": "webchat"}));
    let accept = Route::Accept {
        client: c.client.clone(),
    };
    let m = browser();
    assert_eq!(
        w.refused(accept.clone(), &ann, b"", &m),
        (409, "not_online".into())
    );
    let body = w.ctx_call(&accept, &ann, b"", &m).unwrap_err().body();
    assert!(body.error.message.contains("online"), "{body:?}");
    w.ok(Route::SetStatus, &ann, json!({"status": "away"}));
    assert_eq!(
        w.refused(accept.clone(), &ann, b"", &m),
        (409, "not_online".into())
    );
    // The client still waits, first in the queue, for whoever is online.
    let q: wire::QueueList =
        serde_json::from_value(w.ok(Route::Queue, &ann, Value::Null).body).unwrap();
    assert_eq!(q.clients.len(), 1);
    assert_eq!(q.clients[0].position, 1);
    w.online(&ann);
    let r = w.ok(accept, &ann, Value::Null);
    assert_eq!(r.body["session"], c.session.as_str());
    w.check_replay();
}

#[test]
fn accepts_over_the_api_race_and_respect_capacity() {
    let mut w = World::new();
    let ann = w.ann.clone();
    // A second Sales operator.
    let sales = w.sales.clone();
    let bob = w.operator("Bob", &sales);
    w.online(&ann);
    w.online(&bob);
    let c: Vec<wire::EntryAccepted> = (0..3)
        .map(|_| w.enter(json!({"entry": "webchat"})))
        .collect();
    let video = w.enter(json!({"entry": "video"}));
    let m = browser();
    let accept = |c: &wire::EntryAccepted| Route::Accept {
        client: c.client.clone(),
    };
    w.ok(accept(&c[0]), &ann, Value::Null);
    assert_eq!(
        w.refused(accept(&c[0]), &bob, b"", &m),
        (409, "already_accepted".into())
    );
    w.ok(accept(&c[1]), &ann, Value::Null);
    // Ann's limit is 2.
    assert_eq!(
        w.refused(accept(&c[2]), &ann, b"", &m),
        (409, "capacity".into())
    );
    // Bob, free, takes the video call; then nothing else while it lasts.
    let r = w.ok(accept(&video), &bob, Value::Null);
    assert_eq!(r.status, 200);
    assert_eq!(
        w.refused(accept(&c[2]), &bob, b"", &m),
        (409, "capacity".into())
    );
    // Ann closes one chat and takes the third.
    w.ok(
        Route::CloseSession {
            session: c[0].session.clone(),
        },
        &ann,
        Value::Null,
    );
    w.ok(accept(&c[2]), &ann, Value::Null);
    // Bob cannot close or write in Ann's session: it is not his (404, it reveals nothing).
    assert_eq!(
        w.refused(
            Route::CloseSession {
                session: c[1].session.clone()
            },
            &bob,
            b"",
            &m
        )
        .0,
        404
    );
    w.check_replay();
}

#[test]
fn an_active_client_is_handed_over_and_the_session_goes_on() {
    let mut w = World::new();
    let ann = w.ann.clone();
    let cid = w.cid();
    let cid_id = support::op_id(&cid);
    w.online(&ann);
    w.online(&cid);
    let e = w.enter(json!({"entry": "webchat"}));
    let client = World::client_actor(&e);
    w.ok(
        Route::Accept {
            client: e.client.clone(),
        },
        &ann,
        Value::Null,
    );
    w.ok(Route::PostClientMessage, &client, json!({"text": "one"}));
    let r = w.ok(
        Route::Redirect {
            client: e.client.clone(),
        },
        &ann,
        json!({"operator": cid_id, "note": "VIP"}),
    );
    assert_eq!(r.body, json!({"status": "waiting"}));
    let me: wire::OperatorInfo =
        serde_json::from_value(w.ok(Route::Me, &ann, Value::Null).body).unwrap();
    assert_eq!(me.load, 0);
    let q: wire::QueueList =
        serde_json::from_value(w.ok(Route::Queue, &cid, Value::Null).body).unwrap();
    assert_eq!(q.clients.len(), 1);
    assert_eq!(q.clients[0].operator.as_deref(), Some(cid_id.as_str()));
    // The note arrives: the receiving operator's preview lists it among the notes, as Ann's.
    let p: wire::Preview = serde_json::from_value(
        w.ok(
            Route::Preview {
                client: e.client.clone(),
            },
            &cid,
            Value::Null,
        )
        .body,
    )
    .unwrap();
    assert_eq!(
        p.notes.iter().map(|n| n.text.as_str()).collect::<Vec<_>>(),
        ["VIP"]
    );
    let q: wire::QueueList =
        serde_json::from_value(w.ok(Route::Queue, &ann, Value::Null).body).unwrap();
    assert!(q.clients.is_empty());
    w.ok(
        Route::Accept {
            client: e.client.clone(),
        },
        &cid,
        Value::Null,
    );
    let r = w.ok(
        Route::PostSessionMessage {
            session: e.session.clone(),
        },
        &cid,
        json!({"text": "two"}),
    );
    assert_eq!(r.body, json!({"seq": 2}));
    // Ann served it once: she may still read it, but not write.
    let r = w.ok(
        Route::SessionMessages {
            session: e.session.clone(),
        },
        &ann,
        Value::Null,
    );
    assert_eq!(r.body["messages"].as_array().unwrap().len(), 2);
    assert_eq!(
        w.refused(
            Route::PostSessionMessage {
                session: e.session.clone()
            },
            &ann,
            &json_body(json!({"text": "me"})),
            &browser()
        )
        .0,
        403
    );
    // The client leaves.
    let r = w.ok(Route::ClientLeave, &client, Value::Null);
    assert_eq!(r.body, json!({"status": "closed"}));
    assert_eq!(
        w.refused(Route::ClientLeave, &client, b"", &browser()),
        (404, "not_found".into())
    );
    w.check_replay();
}

/// After a handover the conversation holds two operators' messages: each names who wrote it,
/// in the list and in the live frames, and every message gives its sender's id back.
#[test]
fn each_message_carries_its_author_and_its_senders_id() {
    let mut w = World::new();
    let (ann, admin) = (w.ann.clone(), w.admin.clone());
    let Actor::Operator { id: ann_id, .. } = ann.clone() else {
        unreachable!()
    };
    let cid = w.cid();
    let cid_id = support::op_id(&cid);
    w.online(&ann);
    w.online(&cid);
    let e = w.enter(json!({"entry": "webchat"}));
    let client = World::client_actor(&e);
    let session = e.session.clone();
    let accept = Route::Accept {
        client: e.client.clone(),
    };
    w.ok(accept.clone(), &ann, Value::Null);
    let post = Route::PostSessionMessage {
        session: session.clone(),
    };
    let r = w.ok(
        post.clone(),
        &ann,
        json!({"text": "Hello, Ann here", "client_message_id": "a-1"}),
    );
    assert_eq!(r.body, json!({"seq": 1, "client_message_id": "a-1"}));
    // The same text twice in a row: two messages, told apart by their ids.
    for id in ["c-1", "c-2"] {
        let r = w.ok(
            Route::PostClientMessage,
            &client,
            json!({"text": "thanks", "client_message_id": id}),
        );
        assert_eq!(r.body["client_message_id"], id);
    }
    // A retry's answer names the id too, with the seq the first delivery got.
    let r = w.ok(
        Route::PostClientMessage,
        &client,
        json!({"text": "thanks", "client_message_id": "c-1"}),
    );
    assert_eq!(r.body, json!({"seq": 2, "client_message_id": "c-1"}));
    w.ok(
        Route::Redirect {
            client: e.client.clone(),
        },
        &ann,
        json!({"operator": cid_id}),
    );
    w.ok(accept, &cid, Value::Null);
    w.ok(post, &cid, json!({"text": "Cid now"}));

    let list: wire::MessageList = serde_json::from_value(
        w.ok(
            Route::SessionMessages {
                session: session.clone(),
            },
            &cid,
            Value::Null,
        )
        .body,
    )
    .unwrap();
    let authors: Vec<_> = list
        .messages
        .iter()
        .map(|m| {
            (
                m.text.as_str(),
                m.operator
                    .as_ref()
                    .map(|a| (a.id.as_str(), a.name.as_str())),
                m.client_message_id.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        authors,
        [
            (
                "Hello, Ann here",
                Some((ann_id.as_str(), "Ann")),
                Some("a-1")
            ),
            ("thanks", None, Some("c-1")),
            ("thanks", None, Some("c-2")),
            ("Cid now", Some((cid_id.as_str(), "Cid")), None),
        ]
    );
    // The client reads the same authors.
    let mine: wire::MessageList =
        serde_json::from_value(w.ok(Route::ClientMessages, &client, Value::Null).body).unwrap();
    assert_eq!(mine.messages, list.messages);
    // So does a reconnecting client's replay (after its first message): the same as the list.
    assert_eq!(
        w.lobby.client_replay(&session, &w.log, 1),
        list.messages[1..].to_vec()
    );

    // The live frames carry them as well: the client's stream and the serving operator's.
    let posted = |text: &str| {
        w.journal
            .iter()
            .find(|(ev, _)| matches!(ev, Event::MessagePosted { text: t, .. } if t == text))
            .cloned()
            .unwrap()
    };
    let (ann_msg, at) = posted("Hello, Ann here");
    match w.lobby.client_event(&e.client, &ann_msg, at) {
        Some(wire::ClientEvent::Message { message }) => {
            assert_eq!(message, list.messages[0]);
        }
        other => panic!("{other:?}"),
    }
    let (cid_msg, at) = posted("Cid now");
    let cid_op = w.lobby.operators[&cid_id].clone();
    match w.lobby.operator_event(&cid_op, 99, &cid_msg, at) {
        Some(wire::OperatorEvent::Message { message, .. }) => {
            assert_eq!(message, list.messages[3]);
        }
        other => panic!("{other:?}"),
    }

    // Names are the tenant's: a renamed operator's earlier messages show the new name.
    w.ok(
        Route::UpdateOperator {
            operator: ann_id.clone(),
        },
        &admin,
        json!({"name": "Ann Smith"}),
    );
    let list: wire::MessageList = serde_json::from_value(
        w.ok(Route::SessionMessages { session }, &cid, Value::Null)
            .body,
    )
    .unwrap();
    assert_eq!(
        list.messages[0].operator.as_ref().unwrap().name,
        "Ann Smith"
    );
    w.check_replay();
}

#[test]
fn typing_reaches_the_serving_operator_and_its_client_only_and_is_never_journaled() {
    use lobby_core::views::TypingTo;
    let mut w = World::new();
    let ann = w.ann.clone();
    let cid = w.cid();
    let ann_id = match &ann {
        Actor::Operator { id, .. } => id.clone(),
        _ => unreachable!(),
    };
    w.online(&ann);
    let e = w.enter(json!({"entry": "webchat"}));
    let client = World::client_actor(&e);
    let session = Route::SessionTyping {
        session: e.session.clone(),
    };
    // Waiting: nobody to tell yet.
    let r = w.ok(Route::ClientTyping, &client, Value::Null);
    assert_eq!(r.body, json!({"relayed": false}));
    assert_eq!(r.typing, None);
    assert_eq!(
        w.refused(session.clone(), &ann, b"", &browser()),
        (404, "not_found".into())
    );
    w.ok(
        Route::Accept {
            client: e.client.clone(),
        },
        &ann,
        Value::Null,
    );
    let journaled = w.journal.len();
    let r = w.ok(Route::ClientTyping, &client, Value::Null);
    assert_eq!(r.body, json!({"relayed": true}));
    assert_eq!(
        r.typing,
        Some(TypingTo::Operator {
            operator: ann_id.clone(),
            session: e.session.clone()
        })
    );
    let r = w.ok(session.clone(), &ann, Value::Null);
    assert_eq!(
        r.typing,
        Some(TypingTo::Client {
            client: e.client.clone()
        })
    );
    assert!(r.events.is_empty());
    assert_eq!(w.journal.len(), journaled, "typing is not journaled");
    // Another operator's session: as if it did not exist.
    assert_eq!(
        w.refused(session.clone(), &cid, b"", &browser()),
        (404, "not_found".into())
    );
    // A client's token cannot type as an operator, nor an operator's as a client.
    assert_eq!(w.refused(session.clone(), &client, b"", &browser()).0, 403);
    assert_eq!(w.refused(Route::ClientTyping, &ann, b"", &browser()).0, 403);
    // After the session ends nobody is told.
    w.ok(Route::ClientLeave, &client, Value::Null);
    let r = w.ok(session, &ann, Value::Null);
    assert_eq!((r.body, r.typing), (json!({"relayed": false}), None));
    w.check_replay();
}

#[test]
fn a_json_snapshot_of_an_api_built_tenant_gives_the_same_state() {
    let mut w = World::new();
    let ann = w.ann.clone();
    w.online(&ann);
    let a = w.enter(json!({"entry": "webchat", "params": {"ivr": "2", "n": 3}}));
    w.enter(json!({"entry": "callback", "form": {"phone": "+420 1"}}));
    w.ok(Route::Accept { client: a.client }, &ann, Value::Null);
    let mut restored: Lobby =
        serde_json::from_str(&serde_json::to_string(&w.lobby).unwrap()).unwrap();
    restored.reindex();
    assert!(restored == w.lobby);
    // The restored tenant answers the same.
    let mut w2 = w.clone();
    w2.lobby = restored;
    let q1 = w.ok(Route::Queue, &ann, Value::Null);
    let q2 = w2.ok(Route::Queue, &ann, Value::Null);
    assert_eq!(q1.body, q2.body);
    let l = w2.ok(
        Route::Login,
        &Actor::Anonymous,
        json!({"tenant": "acme", "email": "ann@acme.test", "password": OP_PASSWORD}),
    );
    assert_eq!(l.status, 200);
    w.check_replay();
}

// ---------------------------------------------------------------- routes

#[test]
fn every_route_resolves() {
    let cases: Vec<(&str, &str, Route)> = vec![
        ("GET", "/healthz", Route::Healthz),
        ("GET", "/api/v1/openapi.json", Route::OpenApi),
        ("POST", "/api/v1/tenants", Route::CreateTenant),
        ("POST", "/api/v1/auth/login", Route::Login),
        ("GET", "/api/v1/groups", Route::ListGroups),
        ("POST", "/api/v1/groups", Route::CreateGroup),
        ("GET", "/api/v1/operators", Route::ListOperators),
        ("POST", "/api/v1/operators", Route::CreateOperator),
        ("GET", "/api/v1/widgets", Route::ListWidgets),
        ("POST", "/api/v1/widgets", Route::CreateWidget),
        ("GET", "/api/v1/me", Route::Me),
        ("PUT", "/api/v1/me/status", Route::SetStatus),
        ("GET", "/api/v1/ping", Route::Ping),
        ("GET", "/api/v1/queue", Route::Queue),
        (
            "GET",
            "/api/v1/clients/c_1/preview",
            Route::Preview {
                client: "c_1".into(),
            },
        ),
        (
            "POST",
            "/api/v1/queue/c_1/accept",
            Route::Accept {
                client: "c_1".into(),
            },
        ),
        (
            "POST",
            "/api/v1/queue/c_1/redirect",
            Route::Redirect {
                client: "c_1".into(),
            },
        ),
        ("GET", "/api/v1/sessions", Route::MySessions),
        (
            "GET",
            "/api/v1/sessions/s_1/messages",
            Route::SessionMessages {
                session: "s_1".into(),
            },
        ),
        (
            "POST",
            "/api/v1/sessions/s_1/messages",
            Route::PostSessionMessage {
                session: "s_1".into(),
            },
        ),
        (
            "POST",
            "/api/v1/sessions/s_1/close",
            Route::CloseSession {
                session: "s_1".into(),
            },
        ),
        ("GET", "/api/v1/operator/events", Route::OperatorEvents),
        (
            "POST",
            "/api/v1/widgets/acme.k1/entries",
            Route::WidgetEntry {
                key: "acme.k1".into(),
            },
        ),
        ("GET", "/api/v1/client/messages", Route::ClientMessages),
        ("POST", "/api/v1/client/messages", Route::PostClientMessage),
        ("POST", "/api/v1/client/pages", Route::ClientPages),
        ("POST", "/api/v1/client/leave", Route::ClientLeave),
        ("POST", "/api/v1/client/typing", Route::ClientTyping),
        (
            "POST",
            "/api/v1/sessions/s_1/typing",
            Route::SessionTyping {
                session: "s_1".into(),
            },
        ),
        ("GET", "/api/v1/client/events", Route::ClientEvents),
    ];
    for (method, path, expected) in &cases {
        assert_eq!(
            route(method, path).as_ref(),
            Ok(expected),
            "{method} {path}"
        );
        // Methods are case-insensitive and a trailing slash does not matter.
        assert_eq!(
            route(&method.to_lowercase(), &format!("{path}/")).as_ref(),
            Ok(expected),
            "{method} {path}/"
        );
        // Any other method is 405.
        for other in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            if other == *method || cases.iter().any(|(m, p, _)| m == &other && p == path) {
                continue;
            }
            let e = route(other, path).unwrap_err();
            assert_eq!(
                (e.status(), e.code()),
                (405, "method_not_allowed"),
                "{other} {path}"
            );
            // The answer names the methods the path does answer (RFC 9110 asks for `Allow`).
            let allow: Vec<String> = cases
                .iter()
                .filter(|(_, p, _)| p == path)
                .map(|(m, _, _)| m.to_string())
                .collect();
            let (name, value) = e.headers().pop().expect("an Allow header");
            assert_eq!(name, "Allow");
            let mut listed: Vec<&str> = value.split(", ").collect();
            listed.sort();
            let mut expected: Vec<&str> = allow.iter().map(String::as_str).collect();
            expected.sort();
            expected.dedup();
            assert_eq!(listed, expected, "Allow of {path}");
        }
    }
    assert!(cases.iter().filter(|c| c.2.is_websocket()).count() == 2);
}

#[test]
fn unknown_paths_are_404() {
    for path in [
        "/",
        "",
        "/api",
        "/api/v1",
        "/api/v2/queue",
        "/api/v1/nope",
        "/api/v1/queue/c_1",
        "/api/v1/queue/c_1/accept/now",
        "/api/v1/clients/c_1",
        "/api/v1/sessions/s_1",
        "/healthz/x",
        "/API/V1/QUEUE",
    ] {
        for method in ["GET", "POST"] {
            let e = route(method, path).unwrap_err();
            assert_eq!(
                (e.status(), e.code()),
                (404, "not_found"),
                "{method} {path}"
            );
        }
    }
}

#[test]
fn routes_say_who_may_call_them() {
    use api::Access;
    let access = |m: &str, p: &str| route(m, p).unwrap().access();
    assert_eq!(access("GET", "/healthz"), Access::Public);
    assert_eq!(access("POST", "/api/v1/tenants"), Access::Platform);
    assert_eq!(access("POST", "/api/v1/auth/login"), Access::Login);
    assert_eq!(access("POST", "/api/v1/groups"), Access::Admin);
    assert_eq!(access("POST", "/api/v1/operators"), Access::Admin);
    assert_eq!(access("POST", "/api/v1/widgets"), Access::Admin);
    assert_eq!(access("GET", "/api/v1/widgets"), Access::Admin);
    assert_eq!(access("GET", "/api/v1/groups"), Access::Operator);
    assert_eq!(access("GET", "/api/v1/queue"), Access::Operator);
    assert_eq!(access("POST", "/api/v1/queue/c/accept"), Access::Operator);
    assert_eq!(
        access("POST", "/api/v1/widgets/acme.k/entries"),
        Access::Widget
    );
    assert_eq!(access("POST", "/api/v1/client/messages"), Access::Client);
    assert_eq!(access("GET", "/api/v1/client/events"), Access::Client);
}

// ---------------------------------------------------------------- authorize

fn secrets() -> Secrets<'static> {
    Secrets {
        platform_token: PLATFORM,
        token_secret: SECRET,
    }
}

const NOW: i64 = 1_700_000_000;

fn token(role: TokenRole, exp: i64) -> String {
    auth::sign_token(
        &Claims {
            tenant: "acme".into(),
            sub: match role {
                TokenRole::Client => "c_1".into(),
                _ => "op_1".into(),
            },
            role,
            exp,
            session: (role == TokenRole::Client).then(|| "s_1".into()),
        },
        SECRET,
    )
}

fn status(r: Result<(Option<String>, Actor), ApiError>) -> u16 {
    r.map_or_else(|e| e.status(), |_| 200)
}

#[test]
fn authorize_checks_tokens_and_roles() {
    let s = secrets();
    let queue = Route::Queue;
    let create_group = Route::CreateGroup;
    let client_route = Route::PostClientMessage;
    let admin = token(TokenRole::Admin, NOW + 60);
    let operator = token(TokenRole::Operator, NOW + 60);
    let client = token(TokenRole::Client, NOW + 60);

    // No token: 401.
    for r in [&queue, &create_group, &client_route] {
        let e = authorize(r, None, b"", &s, NOW).unwrap_err();
        assert_eq!((e.status(), e.code()), (401, "unauthorized"), "{r:?}");
    }
    // A client's token on operator and admin routes: 403.
    assert_eq!(status(authorize(&queue, Some(&client), b"", &s, NOW)), 403);
    assert_eq!(
        status(authorize(&create_group, Some(&client), b"", &s, NOW)),
        403
    );
    // An operator's token on an admin route: 403; on an operator route: its tenant and id.
    let e = authorize(&create_group, Some(&operator), b"", &s, NOW).unwrap_err();
    assert_eq!((e.status(), e.code()), (403, "forbidden"));
    assert_eq!(
        authorize(&queue, Some(&operator), b"", &s, NOW).unwrap(),
        (
            Some("acme".into()),
            Actor::Operator {
                id: "op_1".into(),
                admin: false
            }
        )
    );
    assert_eq!(
        authorize(&create_group, Some(&admin), b"", &s, NOW).unwrap(),
        (
            Some("acme".into()),
            Actor::Operator {
                id: "op_1".into(),
                admin: true
            }
        )
    );
    // An operator's token on a client route: 403; a client's: its id and session.
    assert_eq!(
        status(authorize(&client_route, Some(&operator), b"", &s, NOW)),
        403
    );
    assert_eq!(
        authorize(&client_route, Some(&client), b"", &s, NOW).unwrap(),
        (
            Some("acme".into()),
            Actor::Client {
                id: "c_1".into(),
                session: "s_1".into()
            }
        )
    );
    // Expired, forged or garbage tokens: 401.
    let expired = token(TokenRole::Admin, NOW);
    let e = authorize(&queue, Some(&expired), b"", &s, NOW).unwrap_err();
    assert_eq!(e.status(), 401);
    assert!(e.to_string().contains("expired"), "{e}");
    let forged = auth::sign_token(
        &Claims {
            tenant: "acme".into(),
            sub: "op_1".into(),
            role: TokenRole::Admin,
            exp: NOW + 60,
            session: None,
        },
        b"another secret",
    );
    for t in [
        forged.as_str(),
        "garbage",
        "",
        "v1..",
        &admin[..admin.len() - 2],
    ] {
        assert_eq!(status(authorize(&queue, Some(t), b"", &s, NOW)), 401, "{t}");
    }
    // Public routes need nothing.
    assert_eq!(
        authorize(&Route::Healthz, None, b"", &s, NOW).unwrap(),
        (None, Actor::Anonymous)
    );
}

#[test]
fn authorize_checks_the_platform_token_and_finds_tenants() {
    let s = secrets();
    let body = json_body(json!({"slug": "acme", "name": "Acme", "admin": {
        "email": "a@acme.test", "password": "long enough", "name": "A"}}));
    let create = Route::CreateTenant;
    assert_eq!(
        authorize(&create, Some(PLATFORM), &body, &s, NOW).unwrap(),
        (Some("acme".into()), Actor::Platform)
    );
    for wrong in [
        None,
        Some(""),
        Some("platform-token-for-test"),
        Some(&token(TokenRole::Admin, NOW + 60)[..]),
    ] {
        let e = authorize(&create, wrong, &body, &s, NOW).unwrap_err();
        assert_eq!((e.status(), e.code()), (401, "unauthorized"), "{wrong:?}");
    }
    // An empty platform token in the environment never matches.
    let open = Secrets {
        platform_token: "",
        token_secret: SECRET,
    };
    assert_eq!(status(authorize(&create, Some(""), &body, &open, NOW)), 401);
    // The body decides the tenant: it must parse and carry a valid slug.
    assert_eq!(
        status(authorize(&create, Some(PLATFORM), b"{", &s, NOW)),
        400
    );
    let bad_slug = json_body(json!({"slug": "Not A Slug", "name": "x", "admin": {
        "email": "a@acme.test", "password": "long enough", "name": "A"}}));
    assert_eq!(
        status(authorize(&create, Some(PLATFORM), &bad_slug, &s, NOW)),
        422
    );

    // Login: the tenant of the body.
    let login = json_body(json!({"tenant": "acme", "email": "a@acme.test", "password": "x"}));
    assert_eq!(
        authorize(&Route::Login, None, &login, &s, NOW).unwrap(),
        (Some("acme".into()), Actor::Anonymous)
    );
    assert_eq!(
        status(authorize(&Route::Login, None, b"nope", &s, NOW)),
        400
    );
    assert_eq!(status(authorize(&Route::Login, None, b"{}", &s, NOW)), 422);

    // A widget key names its tenant.
    let entry = |key: &str| Route::WidgetEntry { key: key.into() };
    assert_eq!(
        authorize(&entry("acme.0123abcd"), None, b"", &s, NOW).unwrap(),
        (Some("acme".into()), Actor::Anonymous)
    );
    assert_eq!(
        authorize(&entry("other-shop.ff"), None, b"", &s, NOW)
            .unwrap()
            .0
            .as_deref(),
        Some("other-shop")
    );
    for key in ["nodot", "acme.", "ACME.k", ".k", "-acme.k"] {
        let e = authorize(&entry(key), None, b"", &s, NOW).unwrap_err();
        assert_eq!(e.status(), 404, "{key}");
    }
}

#[test]
fn operators_tag_and_annotate_a_client_and_the_preview_shows_it() {
    let mut w = World::new();
    let ann = w.ann.clone();
    w.online(&ann);
    let e = w.enter(json!({"entry": "webchat", "form": {"name": "Zoe"}}));
    let client = e.client.clone();
    let r = w.ok(
        Route::AddTag {
            client: client.clone(),
        },
        &ann,
        json!({"tag": "vip"}),
    );
    assert_eq!((r.status, r.body.clone()), (201, json!({"tags": ["vip"]})));
    // The same tag twice is kept once, and changes nothing.
    let r = w.ok(
        Route::AddTag {
            client: client.clone(),
        },
        &ann,
        json!({"tag": "vip"}),
    );
    assert!(r.events.is_empty());
    let r = w.ok(
        Route::AddNote {
            client: client.clone(),
        },
        &ann,
        json!({"text": "asked about the invoice"}),
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.body["notes"][0]["text"], "asked about the invoice");
    assert_eq!(r.body["notes"][0]["operator"], "Ann");
    let p = w.ok(
        Route::Preview {
            client: client.clone(),
        },
        &ann,
        Value::Null,
    );
    assert_eq!(p.body["tags"], json!(["vip"]));
    assert_eq!(p.body["notes"][0]["text"], "asked about the invoice");
    // Empty or missing text is refused; a client of another group is not found.
    let (status, code) = w.refused(
        Route::AddTag {
            client: client.clone(),
        },
        &ann,
        &json_body(json!({"tag": "  "})),
        &browser(),
    );
    assert_eq!((status, code.as_str()), (422, "invalid_body"));
    let (status, _) = w.refused(
        Route::AddNote {
            client: "c_nope".into(),
        },
        &ann,
        &json_body(json!({"text": "x"})),
        &browser(),
    );
    assert_eq!(status, 404);
    w.check_replay();
}

#[test]
fn an_admin_changes_an_operators_groups_and_limit_but_not_below_its_load() {
    let mut w = World::new();
    let (admin, ann) = (w.admin.clone(), w.ann.clone());
    let Actor::Operator { id: ann_id, .. } = ann.clone() else {
        unreachable!()
    };
    w.online(&ann);
    let a = w.enter(json!({"entry": "webchat"}));
    let b = w.enter(json!({"entry": "webchat"}));
    w.ok(
        Route::Accept {
            client: a.client.clone(),
        },
        &ann,
        Value::Null,
    );
    w.ok(
        Route::Accept {
            client: b.client.clone(),
        },
        &ann,
        Value::Null,
    );
    // Ann serves 2: a limit of 1 would put her over it.
    let (status, code) = w.refused(
        Route::UpdateOperator {
            operator: ann_id.clone(),
        },
        &admin,
        &json_body(json!({"limits": {"chat": 1}})),
        &browser(),
    );
    assert_eq!((status, code.as_str()), (409, "conflict"));
    let support = w.support.clone();
    let sales = w.sales.clone();
    let r = w.ok(
        Route::UpdateOperator {
            operator: ann_id.clone(),
        },
        &admin,
        json!({"name": "Ann B.", "groups": [sales, support], "limits": {"chat": 4}}),
    );
    assert_eq!(r.body["name"], "Ann B.");
    assert_eq!(r.body["limits"]["chat"], 4);
    assert_eq!(r.body["groups"].as_array().unwrap().len(), 2);
    // Only admins, only known groups.
    let (status, _) = w.refused(
        Route::UpdateOperator {
            operator: ann_id.clone(),
        },
        &ann,
        &json_body(json!({"limits": {"chat": 9}})),
        &browser(),
    );
    assert_eq!(status, 403);
    let (status, _) = w.refused(
        Route::UpdateOperator { operator: ann_id },
        &admin,
        &json_body(json!({"groups": ["g_unknown"]})),
        &browser(),
    );
    assert_eq!(status, 404);
    w.check_replay();
}
