//! What an integrator does to get going (tenant, admin, groups, operators, widgets) and what the
//! operator app and the widget do afterwards, as short typed helpers.

use std::sync::atomic::{AtomicU64, Ordering};

use lobby_wire::{
    Accepted, Created, EntryAccepted, GroupInfo, LoggedIn, Message, MessageList, OperatorInfo,
    Posted, Presence, QueueItem, QueueList, Role, WidgetCreated, WidgetInfo,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::Resp;
use crate::server::{platform_token, random_hex, Server};

/// Real browsers' User-Agent strings.
pub const UA_CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
pub const UA_FIREFOX_UBUNTU: &str =
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0";
pub const UA_SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1";

/// The origin the test widgets allow.
pub const SHOP: &str = "https://shop.example";

/// A tenant slug nobody used yet: `<prefix>-<random>-<n>` (lowercase letters, digits, '-').
pub fn unique_slug(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        random_hex(3),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

#[derive(Debug, Clone, Deserialize)]
pub struct GroupList {
    pub groups: Vec<GroupInfo>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OperatorList {
    pub operators: Vec<OperatorInfo>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WidgetList {
    pub widgets: Vec<WidgetInfo>,
}

/// A tenant made through the platform API, with its admin logged in.
pub struct Tenant<'s> {
    pub server: &'s Server,
    pub slug: String,
    pub admin: Operator,
}

/// An operator (or admin) with its credentials and a fresh token.
#[derive(Debug, Clone)]
pub struct Operator {
    pub id: String,
    pub name: String,
    pub email: String,
    pub password: String,
    pub token: String,
}

/// A client that entered through a widget: its id, token and session.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub token: String,
    pub session: String,
    pub position: u32,
}

impl From<EntryAccepted> for Client {
    fn from(e: EntryAccepted) -> Self {
        Client {
            id: e.client,
            token: e.token,
            session: e.session,
            position: e.position,
        }
    }
}

/// The body of `POST /api/v1/tenants`.
pub fn tenant_body(slug: &str) -> Value {
    json!({
        "slug": slug,
        "name": format!("Tenant {slug}"),
        "admin": {"email": format!("admin@{slug}.example"), "password": "admin-password-1", "name": "Ada Admin"},
    })
}

/// A webchat entry with a form.
pub fn webchat(name: &str, phone: &str, language: &str) -> Value {
    json!({
        "entry": "webchat",
        "form": {"name": name, "phone": phone},
        "language": language,
        "page": {"url": "https://shop.example/cart", "title": "Cart", "referrer": "https://search.example/"},
    })
}

impl Server {
    /// `POST /api/v1/tenants` with the platform token, then the admin's login.
    pub fn create_tenant(&self, prefix: &str) -> Tenant<'_> {
        let slug = unique_slug(prefix);
        let body = tenant_body(&slug);
        let created: lobby_wire::TenantCreated = self
            .post("/api/v1/tenants")
            .auth(platform_token())
            .json(&body)
            .send()
            .ok(201);
        assert_eq!(created.tenant, slug);
        let email = body["admin"]["email"].as_str().unwrap().to_owned();
        let password = body["admin"]["password"].as_str().unwrap().to_owned();
        let li = self.login(&slug, &email, &password);
        assert_eq!(li.operator.role, Role::Admin);
        Tenant {
            server: self,
            slug,
            admin: Operator {
                id: li.operator.id,
                name: li.operator.name,
                email,
                password,
                token: li.token,
            },
        }
    }

    /// `POST /api/v1/auth/login` → 200.
    pub fn login(&self, tenant: &str, email: &str, password: &str) -> LoggedIn {
        self.post("/api/v1/auth/login")
            .json(&json!({"tenant": tenant, "email": email, "password": password}))
            .send()
            .ok(200)
    }

    /// `PUT /api/v1/me/status` → 200.
    pub fn set_status(&self, token: &str, status: Presence) {
        self.put("/api/v1/me/status")
            .auth(token)
            .json(&json!({ "status": status }))
            .send()
            .expect(200);
    }

    /// `POST /api/v1/widgets/{key}/entries` with `Origin` and `User-Agent` headers.
    pub fn enter(&self, widget_key: &str, origin: &str, user_agent: &str, body: &Value) -> Resp {
        self.enter_with(
            widget_key,
            &[("Origin", origin), ("User-Agent", user_agent)],
            body,
        )
    }

    /// `POST /api/v1/widgets/{key}/entries` with any headers.
    pub fn enter_with(&self, widget_key: &str, headers: &[(&str, &str)], body: &Value) -> Resp {
        let mut call = self.post(&format!("/api/v1/widgets/{widget_key}/entries"));
        for (k, v) in headers {
            call = call.header(k, v);
        }
        call.json(body).send()
    }

    /// An entry that must be queued (201, status waiting).
    pub fn enter_ok(&self, widget_key: &str, user_agent: &str, body: &Value) -> Client {
        let e: EntryAccepted = self.enter(widget_key, SHOP, user_agent, body).ok(201);
        assert_eq!(e.status, lobby_wire::ClientStatus::Waiting);
        e.into()
    }

    /// `GET /api/v1/queue` → the clients this operator may serve.
    pub fn queue(&self, token: &str) -> Vec<QueueItem> {
        self.get("/api/v1/queue")
            .auth(token)
            .send()
            .ok::<QueueList>(200)
            .clients
    }

    /// `POST /api/v1/queue/{id}/accept` (any answer).
    pub fn accept(&self, token: &str, client: &str) -> Resp {
        self.post(&format!("/api/v1/queue/{client}/accept"))
            .auth(token)
            .send()
    }

    /// An accept that must win: 200 → the session id.
    pub fn accept_ok(&self, token: &str, client: &str) -> String {
        self.accept(token, client).ok::<Accepted>(200).session
    }

    /// `POST /api/v1/queue/{id}/redirect` (any answer).
    pub fn redirect(&self, token: &str, client: &str, body: &Value) -> Resp {
        self.post(&format!("/api/v1/queue/{client}/redirect"))
            .auth(token)
            .json(body)
            .send()
    }

    /// `GET /api/v1/sessions/{id}/messages?after=N` → 200.
    pub fn messages(&self, token: &str, session: &str, after: u64) -> Vec<Message> {
        self.get(&format!(
            "/api/v1/sessions/{session}/messages?after={after}"
        ))
        .auth(token)
        .send()
        .ok::<MessageList>(200)
        .messages
    }

    /// `POST /api/v1/sessions/{id}/messages` → 201 → seq.
    pub fn post_message(&self, token: &str, session: &str, text: &str) -> u64 {
        self.post(&format!("/api/v1/sessions/{session}/messages"))
            .auth(token)
            .json(&json!({ "text": text }))
            .send()
            .ok::<Posted>(201)
            .seq
    }

    /// `POST /api/v1/client/messages` with the client's token → 201 → seq.
    pub fn client_post(&self, client_token: &str, text: &str) -> u64 {
        self.post("/api/v1/client/messages")
            .auth(client_token)
            .json(&json!({ "text": text }))
            .send()
            .ok::<Posted>(201)
            .seq
    }

    /// `GET /api/v1/client/messages?after=N` with the client's token → 200.
    pub fn client_messages(&self, client_token: &str, after: u64) -> Vec<Message> {
        self.get(&format!("/api/v1/client/messages?after={after}"))
            .auth(client_token)
            .send()
            .ok::<MessageList>(200)
            .messages
    }

    /// `POST /api/v1/sessions/{id}/close` (any answer).
    pub fn close(&self, token: &str, session: &str) -> Resp {
        self.post(&format!("/api/v1/sessions/{session}/close"))
            .auth(token)
            .send()
    }

    pub fn groups(&self, token: &str) -> Vec<GroupInfo> {
        self.get("/api/v1/groups")
            .auth(token)
            .send()
            .ok::<GroupList>(200)
            .groups
    }

    pub fn operators(&self, token: &str) -> Vec<OperatorInfo> {
        self.get("/api/v1/operators")
            .auth(token)
            .send()
            .ok::<OperatorList>(200)
            .operators
    }

    pub fn widgets(&self, token: &str) -> Vec<WidgetInfo> {
        self.get("/api/v1/widgets")
            .auth(token)
            .send()
            .ok::<WidgetList>(200)
            .widgets
    }
}

impl Tenant<'_> {
    /// `POST /api/v1/groups` → the group id.
    pub fn group(&self, name: &str) -> String {
        self.server
            .post("/api/v1/groups")
            .auth(&self.admin.token)
            .json(&json!({ "name": name }))
            .send()
            .ok::<Created>(201)
            .id
    }

    /// `POST /api/v1/operators` (role operator, the given groups, `{"chat": chat}`), then its login.
    pub fn operator(&self, name: &str, groups: &[&str], chat: u32) -> Operator {
        self.member(name, Role::Operator, groups, chat)
    }

    /// An operator or admin, created and logged in.
    pub fn member(&self, name: &str, role: Role, groups: &[&str], chat: u32) -> Operator {
        let email = format!(
            "{}@{}.example",
            name.to_lowercase().replace(' ', "."),
            self.slug
        );
        let password = format!(
            "pw-{}-{}",
            name.to_lowercase().replace(' ', "-"),
            random_hex(4)
        );
        let id = self
            .server
            .post("/api/v1/operators")
            .auth(&self.admin.token)
            .json(&json!({
                "email": email, "password": password, "name": name, "role": role,
                "groups": groups, "limits": {"chat": chat},
            }))
            .send()
            .ok::<Created>(201)
            .id;
        let li = self.server.login(&self.slug, &email, &password);
        assert_eq!(
            li.operator.id, id,
            "login answers the created operator's id"
        );
        assert_eq!(li.operator.role, role);
        Operator {
            id,
            name: name.to_owned(),
            email,
            password,
            token: li.token,
        }
    }

    /// `POST /api/v1/widgets` → `{"id","key"}`.
    pub fn widget(&self, name: &str, group: &str, allowed_origins: &[&str]) -> WidgetCreated {
        self.server
            .post("/api/v1/widgets")
            .auth(&self.admin.token)
            .json(&json!({
                "name": name, "group": group, "allowed_origins": allowed_origins,
                "offline_email": format!("offline@{}.example", self.slug),
            }))
            .send()
            .ok(201)
    }
}

/// The usual small setup: a tenant, one group, `n` operators (limit `chat`, all online) and a
/// widget allowing [`SHOP`].
pub struct Desk<'s> {
    pub tenant: Tenant<'s>,
    pub group: String,
    pub ops: Vec<Operator>,
    pub widget: WidgetCreated,
}

impl Server {
    pub fn desk(&self, prefix: &str, names: &[&str], chat: u32) -> Desk<'_> {
        let tenant = self.create_tenant(prefix);
        let group = tenant.group("Support");
        let ops: Vec<Operator> = names
            .iter()
            .map(|n| tenant.operator(n, &[&group], chat))
            .collect();
        let widget = tenant.widget("Shop chat", &group, &[SHOP]);
        for op in &ops {
            self.set_status(&op.token, Presence::Online);
        }
        Desk {
            tenant,
            group,
            ops,
            widget,
        }
    }
}

/// Messages without the system ones, as `(from, text)`.
pub fn conversation(messages: &[Message]) -> Vec<(lobby_wire::Party, String)> {
    messages
        .iter()
        .filter(|m| m.from != lobby_wire::Party::System)
        .map(|m| (m.from, m.text.clone()))
        .collect()
}

/// Asserts that message seqs strictly increase.
#[track_caller]
pub fn assert_increasing(messages: &[Message]) {
    for w in messages.windows(2) {
        assert!(
            w[0].seq < w[1].seq,
            "message seqs do not increase: {} then {} in {messages:?}",
            w[0].seq,
            w[1].seq
        );
    }
}
