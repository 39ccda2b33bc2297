//! The HTTP API as decisions: which route a request is, who may call it, which tenant it
//! belongs to, and what a call does to that tenant's [`Lobby`]. The runtimes only move bytes:
//! the edge function runs [`route`] and [`authorize`] (stateless, so a bad token never reaches
//! a tenant), the tenant's coordinator runs [`Lobby::call`] and persists the events it returns
//! before it answers.

use lobby_wire as wire;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::{self, Claims, TokenRole};
use crate::channels::{Channel, ChannelConfig};
use crate::client_info;
use crate::error::{parse_json, ApiError};
use crate::lobby::{
    Author, Client, Closer, Command, Details, Event, Group, Lobby, Millis, Operator, Target,
    Tenant, Widget, DEFAULT_CHAT_LIMIT,
};
use crate::views::TypingTo;

pub use crate::routes::{Access, Route, MAX_BODY_BYTES};

/// The longest text a message may carry, in characters.
pub const MAX_MESSAGE_CHARS: usize = 10_000;
const MAX_FIELD_CHARS: usize = 200;

/// Resolves a method and path to a route (404 `not_found` / 405 otherwise), by the route table
/// ([`crate::routes::OPERATIONS`]), which also describes each route in the served document.
pub fn route(method: &str, path: &str) -> Result<Route, ApiError> {
    crate::routes::find(method, path)
}

/// Who makes a call, as established at the edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    Platform,
    Anonymous,
    Operator { id: String, admin: bool },
    Client { id: String, session: String },
}

/// The largest `after` accepted: 2^53 − 1, the largest integer that every runtime and browser
/// holds exactly (a journal never comes near it).
pub const MAX_AFTER: u64 = (1 << 53) - 1;

/// Parses `?after=` (or an event stream's `Last-Event-ID`): an integer from 0 to [`MAX_AFTER`].
pub fn parse_after(v: &str) -> Result<u64, ApiError> {
    match v.parse::<u64>() {
        Ok(n) if n <= MAX_AFTER => Ok(n),
        _ => Err(ApiError::InvalidBody(format!(
            "`after` must be an integer from 0 to {MAX_AFTER}"
        ))),
    }
}

/// What the edge knows of a request besides its body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub user_agent: Option<String>,
    pub origin: Option<String>,
    pub accept_language: Option<String>,
    /// `?after=` of message lists and event streams.
    pub after: Option<u64>,
    /// The client's network address, as the edge saw it (for rate limits).
    #[serde(default)]
    pub address: Option<String>,
}

/// The deployment's secrets, read by the edge from its environment.
pub struct Secrets<'a> {
    pub platform_token: &'a str,
    pub token_secret: &'a [u8],
}

/// Decides who is calling and which tenant the call goes to. `token` is the bearer token from
/// the `Authorization` header, or for WebSockets the `token` query parameter.
pub fn authorize(
    route: &Route,
    token: Option<&str>,
    body: &[u8],
    secrets: &Secrets,
    now_secs: i64,
) -> Result<(Option<String>, Actor), ApiError> {
    let claims = || -> Result<Claims, ApiError> {
        let t = token.ok_or_else(|| {
            ApiError::Unauthorized("sign in first: this needs a bearer token".into())
        })?;
        auth::verify_token(t, secrets.token_secret, now_secs)
    };
    match route.access() {
        Access::Public => Ok((None, Actor::Anonymous)),
        Access::Platform => {
            let t = token.ok_or_else(|| {
                ApiError::Unauthorized("creating a tenant needs the platform token".into())
            })?;
            if !auth::secret_matches(t, secrets.platform_token) {
                return Err(ApiError::Unauthorized(
                    "the platform token is not valid".into(),
                ));
            }
            let req: wire::CreateTenant = parse_json(body)?;
            Ok((Some(valid_slug(&req.slug)?), Actor::Platform))
        }
        Access::Login => {
            let req: wire::Login = parse_json(body)?;
            Ok((Some(valid_slug(&req.tenant)?), Actor::Anonymous))
        }
        Access::Widget => {
            let key = route
                .widget_key()
                .expect("only widget routes have widget access");
            let tenant = tenant_of_widget_key(key)
                .ok_or_else(|| ApiError::not_found(format!("widget {key}")))?;
            Ok((Some(tenant), Actor::Anonymous))
        }
        Access::Admin | Access::Operator => {
            let c = claims()?;
            let admin = match c.role {
                TokenRole::Admin => true,
                TokenRole::Operator => false,
                TokenRole::Client => {
                    return Err(ApiError::Forbidden("this needs an operator's token".into()))
                }
            };
            if route.access() == Access::Admin && !admin {
                return Err(ApiError::Forbidden("this needs the admin role".into()));
            }
            Ok((Some(c.tenant), Actor::Operator { id: c.sub, admin }))
        }
        Access::Client => {
            let c = claims()?;
            if c.role != TokenRole::Client {
                return Err(ApiError::Forbidden("this needs a client's token".into()));
            }
            Ok((
                Some(c.tenant),
                Actor::Client {
                    id: c.sub,
                    session: c.session.unwrap_or_default(),
                },
            ))
        }
    }
}

/// A tenant slug: 2–40 lowercase letters, digits and inner dashes.
pub fn valid_slug(slug: &str) -> Result<String, ApiError> {
    let ok = (2..=40).contains(&slug.len())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok {
        Ok(slug.to_string())
    } else {
        Err(ApiError::invalid(
            "tenant slug must be 2-40 lowercase letters, digits or inner dashes",
        ))
    }
}

/// Widget keys are `<tenant>.<random>`, so an entry finds its tenant without a lookup.
pub fn tenant_of_widget_key(key: &str) -> Option<String> {
    let (tenant, rest) = key.split_once('.')?;
    (!rest.is_empty()).then_some(())?;
    valid_slug(tenant).ok()
}

/// The idempotency key a message is stored under: keys are per sender, so a client's and an
/// operator's ids never collide.
fn message_key(author: &Author, id: &str) -> String {
    match author {
        Author::Operator(o) => format!("op:{o}:{id}"),
        Author::Client => format!("client:{id}"),
        Author::System => format!("system:{id}"),
    }
}

/// The sender's own id of a stored message, back from its key ([`message_key`]); `None` for
/// keys the sender did not choose (a channel provider's message ids).
pub(crate) fn sender_message_id<'a>(
    key: &'a str,
    from: wire::Party,
    operator: Option<&String>,
) -> Option<&'a str> {
    match (from, operator) {
        (wire::Party::Operator, Some(o)) => key
            .strip_prefix("op:")?
            .strip_prefix(o.as_str())?
            .strip_prefix(':'),
        (wire::Party::Client, _) => key.strip_prefix("client:"),
        (wire::Party::System, _) => key.strip_prefix("system:"),
        (wire::Party::Operator, None) => None,
    }
}

/// What the coordinator gets besides the call: the time, fresh randomness, the token secret,
/// and read access to the journal's messages.
pub struct Ctx<'a> {
    pub now: Millis,
    /// At least 64 random bytes, fresh for this call.
    pub entropy: &'a [u8],
    pub token_secret: &'a [u8],
    pub messages: &'a dyn MessageLog,
}

/// Read access to the messages the journal holds (the core keeps only their count).
pub trait MessageLog {
    /// The session's messages with `seq > after`, in order, at most `limit`.
    fn messages(&self, session: &str, after: u64, limit: usize) -> Vec<wire::Message>;
}

/// The answer to a call: the HTTP status and body, and the events to persist before sending it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub events: Vec<Event>,
    /// "Typing…" for the adapter to relay live (never journaled).
    pub typing: Option<TypingTo>,
}

impl Reply {
    fn ok(body: impl Serialize) -> Self {
        Self::with(200, body, vec![])
    }

    fn with(status: u16, body: impl Serialize, events: Vec<Event>) -> Self {
        Reply {
            status,
            body: serde_json::to_value(body).expect("wire types serialize"),
            events,
            typing: None,
        }
    }
}

/// Ids are a prefix and 16 hex digits (64 random bits) from the call's entropy.
fn id(prefix: &str, entropy: &[u8], slot: usize) -> String {
    let bytes = entropy
        .get(slot * 8..slot * 8 + 8)
        .expect("64 bytes of entropy per call");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}_{hex}")
}

fn text_field(name: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ApiError::invalid(format!("{name} must not be empty")));
    }
    if v.chars().count() > max {
        return Err(ApiError::invalid(format!(
            "{name} is longer than {max} characters"
        )));
    }
    Ok(v.to_string())
}

fn optional_field(name: &str, value: &Option<String>) -> Result<Option<String>, ApiError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => text_field(name, v, MAX_FIELD_CHARS).map(Some),
    }
}

fn email_field(value: &str) -> Result<String, ApiError> {
    let v = text_field("email", value, MAX_FIELD_CHARS)?;
    match v.split_once('@') {
        Some((a, b)) if !a.is_empty() && b.contains('.') && !v.contains(char::is_whitespace) => {
            Ok(v)
        }
        _ => Err(ApiError::invalid(format!("{v} is not an e-mail address"))),
    }
}

fn password_field(value: &str) -> Result<&str, ApiError> {
    if value.chars().count() < 8 {
        return Err(ApiError::invalid(
            "password must have at least 8 characters",
        ));
    }
    if value.len() > 1024 {
        return Err(ApiError::invalid("password is too long"));
    }
    Ok(value)
}

/// An origin as browsers send it: scheme://host[:port], lowercase, no trailing slash.
fn normalize_origin(o: &str) -> String {
    o.trim().trim_end_matches('/').to_ascii_lowercase()
}

impl Lobby {
    /// The calling operator's id, when it serves or served `session` (else the session is
    /// unknown to it: 404).
    fn serving_operator(&self, actor: &Actor, session: &str) -> Result<String, ApiError> {
        let op = self.acting_operator(actor)?.id.clone();
        if !self
            .sessions
            .get(session)
            .is_some_and(|s| s.operators.contains(&op))
        {
            return Err(ApiError::not_found(format!("session {session}")));
        }
        Ok(op)
    }

    fn acting_operator(&self, actor: &Actor) -> Result<&Operator, ApiError> {
        match actor {
            Actor::Operator { id, .. } => self
                .operators
                .get(id)
                .ok_or_else(|| ApiError::Unauthorized("this operator no longer exists".into())),
            _ => Err(ApiError::Forbidden("this needs an operator's token".into())),
        }
    }

    fn new_operator(
        &self,
        id: String,
        req: &wire::CreateOperator,
        salt: &[u8],
    ) -> Result<Operator, ApiError> {
        let chat_limit = req.limits.map_or(DEFAULT_CHAT_LIMIT, |l| l.chat);
        if !(1..=100).contains(&chat_limit) {
            return Err(ApiError::invalid("limits.chat must be between 1 and 100"));
        }
        Ok(Operator {
            id,
            email: email_field(&req.email)?,
            name: text_field("name", &req.name, MAX_FIELD_CHARS)?,
            role: req.role,
            groups: req.groups.clone(),
            chat_limit,
            password_hash: auth::hash_password(password_field(&req.password)?, salt)?,
            presence: Default::default(),
        })
    }

    /// Runs one API call against this tenant. Nothing changes unless the reply carries events
    /// (which the caller must persist before sending the reply).
    pub fn call(
        &mut self,
        route: &Route,
        actor: &Actor,
        body: &[u8],
        meta: &Meta,
        ctx: &Ctx,
    ) -> Result<Reply, ApiError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
        }
        if self.tenant.is_none() && *route != Route::CreateTenant {
            // A widget key names its tenant: with no tenant there is no such widget (every
            // widget route answers as for an unknown key of an existing tenant).
            return Err(match (route, route.widget_key()) {
                (Route::Login, _) => {
                    ApiError::Unauthorized("wrong tenant, e-mail or password".into())
                }
                (_, Some(key)) => ApiError::not_found(format!("widget {key}")),
                _ => ApiError::Unauthorized("this tenant does not exist".into()),
            });
        }
        if route.access() == Access::Admin {
            // The token says admin; the stored role must agree.
            let op = self.acting_operator(actor)?;
            if op.role != wire::Role::Admin {
                return Err(ApiError::Forbidden("this needs the admin role".into()));
            }
        }
        let e = ctx.entropy;
        let reply = match route {
            Route::Healthz | Route::OpenApi | Route::OperatorEvents | Route::ClientEvents => {
                return Err(ApiError::NoRoute("this route is served by the edge".into()))
            }
            Route::Ping => Reply::ok(json!({"pong": true})),
            Route::CreateTenant => {
                let req: wire::CreateTenant = parse_json(body)?;
                let slug = valid_slug(&req.slug)?;
                let name = text_field("name", &req.name, MAX_FIELD_CHARS)?;
                let admin = self.new_operator(
                    id("op", e, 0),
                    &wire::CreateOperator {
                        email: req.admin.email.clone(),
                        password: req.admin.password.clone(),
                        name: req.admin.name.clone(),
                        role: wire::Role::Admin,
                        groups: vec![],
                        limits: None,
                    },
                    &e[8..24],
                )?;
                let cmd = Command::CreateTenant {
                    tenant: Tenant {
                        slug: slug.clone(),
                        name,
                    },
                    admin,
                };
                let events = self.handle(&cmd, ctx.now)?;
                Reply::with(201, wire::TenantCreated { tenant: slug }, events)
            }
            Route::Login => {
                let req: wire::Login = parse_json(body)?;
                let wrong = || ApiError::Unauthorized("wrong tenant, e-mail or password".into());
                let op = self.operator_by_email(&req.email).ok_or_else(wrong)?;
                if !auth::verify_password(&req.password, &op.password_hash) {
                    return Err(wrong());
                }
                let exp = ctx.now / 1000 + auth::OPERATOR_TOKEN_SECONDS;
                let claims = Claims {
                    tenant: req.tenant.clone(),
                    sub: op.id.clone(),
                    role: match op.role {
                        wire::Role::Admin => TokenRole::Admin,
                        wire::Role::Operator => TokenRole::Operator,
                    },
                    exp,
                    session: None,
                };
                Reply::ok(wire::LoggedIn {
                    token: auth::sign_token(&claims, ctx.token_secret),
                    operator: wire::OperatorRef {
                        id: op.id.clone(),
                        name: op.name.clone(),
                        role: op.role,
                    },
                    expires_at: crate::time::rfc3339(exp * 1000),
                })
            }
            Route::ListGroups => {
                self.acting_operator(actor)?;
                let groups: Vec<wire::GroupInfo> = self
                    .groups
                    .values()
                    .map(|g| wire::GroupInfo {
                        id: g.id.clone(),
                        name: g.name.clone(),
                    })
                    .collect();
                Reply::ok(json!({ "groups": groups }))
            }
            Route::CreateGroup => {
                self.acting_operator(actor)?;
                let req: wire::CreateGroup = parse_json(body)?;
                let group = Group {
                    id: id("g", e, 0),
                    name: text_field("name", &req.name, MAX_FIELD_CHARS)?,
                };
                let events = self.handle(&Command::CreateGroup(group.clone()), ctx.now)?;
                Reply::with(201, wire::Created { id: group.id }, events)
            }
            Route::ListOperators => {
                let viewer = self.acting_operator(actor)?;
                let ops: Vec<wire::OperatorInfo> = self
                    .operators
                    .values()
                    .map(|o| self.operator_info_for(viewer, o))
                    .collect();
                Reply::ok(json!({ "operators": ops }))
            }
            Route::CreateOperator => {
                self.acting_operator(actor)?;
                let req: wire::CreateOperator = parse_json(body)?;
                for g in &req.groups {
                    self.group(g)?;
                }
                let op = self.new_operator(id("op", e, 0), &req, &e[8..24])?;
                let events = self.handle(&Command::CreateOperator(op.clone()), ctx.now)?;
                Reply::with(201, wire::Created { id: op.id }, events)
            }
            Route::UpdateOperator { operator } => {
                let req: wire::UpdateOperator = parse_json(body)?;
                let name = match &req.name {
                    Some(n) => Some(text_field("name", n, MAX_FIELD_CHARS)?),
                    None => None,
                };
                let events = self.handle(
                    &Command::UpdateOperator {
                        operator: operator.clone(),
                        name,
                        groups: req.groups.clone(),
                        chat_limit: req.limits.map(|l| l.chat),
                    },
                    ctx.now,
                )?;
                let op = self.operator(operator)?;
                Reply::with(200, self.operator_info(op), events)
            }
            Route::AddTag { client } => {
                let op = self.acting_operator(actor)?;
                let c = self.visible_client(op, client)?.id.clone();
                let req: wire::AddTag = parse_json(body)?;
                let tag = text_field("tag", &req.tag, 50)?;
                let events = self.handle(
                    &Command::Tag {
                        client: c.clone(),
                        tag,
                    },
                    ctx.now,
                )?;
                let tags = self.sessions[&self.clients[&c].session].tags.clone();
                Reply::with(201, json!({ "tags": tags }), events)
            }
            Route::AddNote { client } => {
                let op = self.acting_operator(actor)?;
                let operator = op.id.clone();
                let c = self.visible_client(op, client)?.id.clone();
                let req: wire::AddNote = parse_json(body)?;
                let text = text_field("text", &req.text, 5000)?;
                let events = self.handle(
                    &Command::Note {
                        client: c.clone(),
                        operator,
                        text,
                    },
                    ctx.now,
                )?;
                let notes = self.notes_of(&self.clients[&c].session);
                Reply::with(201, json!({ "notes": notes }), events)
            }
            Route::ListWidgets => {
                self.acting_operator(actor)?;
                let ws: Vec<wire::WidgetInfo> = self
                    .widgets
                    .values()
                    .map(|w| wire::WidgetInfo {
                        id: w.id.clone(),
                        key: w.key.clone(),
                        name: w.name.clone(),
                        group: w.group.clone(),
                        allowed_origins: w.allowed_origins.clone(),
                        offline_email: w.offline_email.clone(),
                        buttons: w.buttons.clone(),
                        form: w.form,
                        offline_owed: self
                            .outbox
                            .values()
                            .filter(|m| m.widget.as_ref() == Some(&w.id) && crate::outbox::owed(m))
                            .count(),
                    })
                    .collect();
                Reply::ok(json!({ "widgets": ws }))
            }
            Route::CreateWidget => {
                self.acting_operator(actor)?;
                let req: wire::CreateWidget = parse_json(body)?;
                let slug = &self.tenant.as_ref().expect("checked above").slug;
                let mut origins = vec![];
                for o in &req.allowed_origins {
                    let n = normalize_origin(o);
                    if !(n.starts_with("http://") || n.starts_with("https://")) || n.len() > 300 {
                        return Err(ApiError::invalid(format!(
                            "allowed_origins: {o} is not an http(s) origin"
                        )));
                    }
                    origins.push(n);
                }
                let offline_email = match req.offline_email.as_deref() {
                    None | Some("") => None,
                    Some(m) => Some(email_field(m)?),
                };
                let buttons = match &req.buttons {
                    None => crate::lobby::default_buttons(),
                    Some(b) => {
                        use wire::EntryKind::*;
                        let mut out: Vec<wire::EntryKind> = vec![];
                        for k in b {
                            if !matches!(k, Webchat | Video | Callback) {
                                return Err(ApiError::invalid(format!(
                                    "buttons: a widget offers webchat, video and callback, not {k:?}"
                                )));
                            }
                            if !out.contains(k) {
                                out.push(*k);
                            }
                        }
                        if out.is_empty() {
                            return Err(ApiError::invalid("buttons: at least one"));
                        }
                        out
                    }
                };
                let wid = id("w", e, 0);
                let widget = Widget {
                    // 128 random bits after the tenant's slug.
                    key: format!("{slug}.{}{}", &id("k", e, 1)[2..], &id("k", e, 2)[2..]),
                    id: wid.clone(),
                    name: text_field("name", &req.name, MAX_FIELD_CHARS)?,
                    group: req.group.clone(),
                    allowed_origins: origins,
                    offline_email,
                    buttons,
                    form: req.form.unwrap_or_default(),
                };
                let events = self.handle(&Command::CreateWidget(widget.clone()), ctx.now)?;
                Reply::with(
                    201,
                    wire::WidgetCreated {
                        id: wid,
                        key: widget.key,
                    },
                    events,
                )
            }
            Route::Me => {
                let op = self.acting_operator(actor)?;
                Reply::ok(self.operator_info(op))
            }
            Route::SetStatus => {
                let op = self.acting_operator(actor)?.id.clone();
                let req: wire::SetStatus = parse_json(body)?;
                let events = self.handle(
                    &Command::SetPresence {
                        operator: op,
                        presence: req.status,
                    },
                    ctx.now,
                )?;
                Reply::with(200, json!({ "status": req.status }), events)
            }
            Route::Queue => {
                let op = self.acting_operator(actor)?;
                let clients: Vec<wire::QueueItem> = self
                    .queue_for(op)
                    .into_iter()
                    .map(|(c, pos)| self.queue_item(c, pos))
                    .collect();
                Reply::ok(wire::QueueList { clients })
            }
            Route::Preview { client } => {
                let op = self.acting_operator(actor)?;
                let c = self.visible_client(op, client)?;
                let messages =
                    self.shown_messages(&c.session, ctx.messages.messages(&c.session, 0, 1000));
                Reply::ok(self.preview(c, messages))
            }
            Route::Accept { client } => {
                let op = self.acting_operator(actor)?.id.clone();
                self.visible_or_taken(&op, client)?;
                let events = self.handle(
                    &Command::Accept {
                        operator: op,
                        client: client.clone(),
                    },
                    ctx.now,
                )?;
                let session = self.clients[client].session.clone();
                Reply::with(200, wire::Accepted { session }, events)
            }
            Route::Redirect { client } => {
                let op = self.acting_operator(actor)?.id.clone();
                self.visible_or_taken(&op, client)?;
                let req: wire::Redirect = parse_json(body)?;
                let to = match (&req.group, &req.operator) {
                    (Some(g), None) => Target::Group(g.clone()),
                    (None, Some(o)) => Target::Operator(o.clone()),
                    _ => {
                        return Err(ApiError::invalid(
                            "give either \"group\" or \"operator\" to redirect to",
                        ))
                    }
                };
                let note = optional_field("note", &req.note)?;
                let events = self.handle(
                    &Command::Redirect {
                        operator: op,
                        client: client.clone(),
                        to,
                        note,
                    },
                    ctx.now,
                )?;
                Reply::with(200, json!({ "status": "waiting" }), events)
            }
            Route::MySessions => {
                let op = self.acting_operator(actor)?;
                let sessions: Vec<wire::ClientInfo> = self
                    .active_clients(&op.id)
                    .map(|c| self.client_info(c))
                    .collect();
                Reply::ok(json!({ "sessions": sessions }))
            }
            Route::SessionMessages { session } => {
                let op = self.acting_operator(actor)?;
                let s = self
                    .sessions
                    .get(session)
                    .filter(|s| {
                        op.role == wire::Role::Admin
                            || s.operators.contains(&op.id)
                            || self
                                .clients
                                .get(&s.client)
                                .is_some_and(|c| self.may_see(op, c))
                    })
                    .ok_or_else(|| ApiError::not_found(format!("session {session}")))?;
                let messages = ctx.messages.messages(&s.id, meta.after.unwrap_or(0), 1000);
                let messages = self.shown_messages(&s.id, messages);
                Reply::ok(wire::MessageList { messages })
            }
            Route::PostSessionMessage { session } => {
                let op = self.serving_operator(actor, session)?;
                let req: wire::PostMessage = parse_json(body)?;
                self.post(session, Author::Operator(op), req, ctx)?
            }
            Route::CloseSession { session } => {
                let op = self.serving_operator(actor, session)?;
                let events = self.handle(
                    &Command::Close {
                        session: session.clone(),
                        by: Closer::Operator(op),
                    },
                    ctx.now,
                )?;
                Reply::with(200, json!({ "status": "closed" }), events)
            }
            Route::WidgetEntry { key } => self.enter(key, body, meta, ctx)?,
            Route::WidgetConfig { key } => {
                let w = self.widget_for_page(key, meta)?;
                Reply::ok(wire::WidgetConfig {
                    name: w.name.clone(),
                    buttons: w.buttons.clone(),
                    form: w.form,
                    online: self.anyone_online(&Target::Group(w.group.clone())),
                    languages: vec!["en".into(), "cs".into()],
                })
            }
            Route::WidgetOffline { key } => {
                let w = self.widget_for_page(key, meta)?.clone();
                let req: wire::OfflineMessage = parse_json(body)?;
                let message = text_field("message", &req.message, MAX_MESSAGE_CHARS)?;
                let name = optional_field("form.name", &req.form.name)?;
                let phone = optional_field("form.phone", &req.form.phone)?;
                let email = match req.form.email.as_deref().map(str::trim) {
                    None | Some("") => None,
                    Some(m) => Some(email_field(m)?),
                };
                if email.is_none() && phone.is_none() {
                    return Err(ApiError::invalid(
                        "leave an e-mail or a phone number so that we can answer",
                    ));
                }
                let page = match &req.page {
                    None => None,
                    Some(p) => Some(wire::Page {
                        url: text_field("page.url", &p.url, 2000)?,
                        title: optional_field("page.title", &p.title)?,
                        referrer: None,
                    }),
                };
                let to = w.offline_email.clone().ok_or_else(|| {
                    ApiError::Conflict("this widget has no offline form address".into())
                })?;
                // What the queue would have shown of this client, as an entry learns it.
                let language =
                    client_info::language(req.language.as_deref(), meta.accept_language.as_deref());
                let (browser, os) = client_info::browser_and_os(meta.user_agent.as_deref());
                let form = crate::outbox::OfflineForm {
                    widget: &w.name,
                    name: name.as_deref(),
                    email: email.as_deref(),
                    phone: phone.as_deref(),
                    language: language.as_deref(),
                    browser: browser.as_deref(),
                    os: os.as_deref(),
                    page: page.as_ref(),
                    site: meta.origin.as_deref(),
                    message: &message,
                };
                let mail = crate::outbox::Mail {
                    id: id("m", e, 0),
                    to,
                    reply_to: email.clone(),
                    subject: form.subject(),
                    text: form.text(),
                    created_at: ctx.now,
                    attempts: 0,
                    next_at: Some(ctx.now),
                    last_error: None,
                    // Applying the event fills it in from the event's widget.
                    widget: None,
                };
                let events = self.handle(
                    &Command::ReceiveOffline {
                        widget: w.id.clone(),
                        mail,
                    },
                    ctx.now,
                )?;
                Reply::with(202, json!({ "status": "received" }), events)
            }
            Route::CreateInvitation => {
                let op = self.acting_operator(actor)?.id.clone();
                let req: wire::CreateInvitation = if body.iter().all(u8::is_ascii_whitespace) {
                    wire::CreateInvitation::default()
                } else {
                    parse_json(body)?
                };
                use crate::invitation as inv;
                let ttl = req.expires_in.unwrap_or(inv::DEFAULT_TTL_SECONDS);
                if !(inv::MIN_TTL_SECONDS..=inv::MAX_TTL_SECONDS).contains(&ttl) {
                    return Err(ApiError::invalid(format!(
                        "expires_in must be between {} and {} seconds",
                        inv::MIN_TTL_SECONDS,
                        inv::MAX_TTL_SECONDS
                    )));
                }
                // Eight tries at a code no live invitation holds.
                let expires_at = ctx.now + ttl * 1000;
                let mut last = Err(ApiError::Conflict("no free invitation code".into()));
                for slot in 0..8 {
                    let code = inv::code_from(&e[slot * 8..slot * 8 + 8]);
                    last = self
                        .handle(
                            &Command::CreateInvitation(inv::Invitation {
                                code: code.clone(),
                                operator: op.clone(),
                                expires_at,
                                used: false,
                            }),
                            ctx.now,
                        )
                        .map(|events| (code, events));
                    if last.is_ok() {
                        break;
                    }
                }
                let (code, events) = last?;
                Reply::with(
                    201,
                    wire::InvitationCreated {
                        code,
                        expires_at: crate::time::rfc3339(expires_at),
                    },
                    events,
                )
            }
            Route::ClientMessages => {
                let (_, session) = client_of(actor)?;
                let messages = ctx
                    .messages
                    .messages(session, meta.after.unwrap_or(0), 1000);
                let messages = self.shown_messages(session, messages);
                Reply::ok(wire::MessageList { messages })
            }
            Route::PostClientMessage => {
                let (_, session) = client_of(actor)?;
                let req: wire::PostMessage = parse_json(body)?;
                self.post(session, Author::Client, req, ctx)?
            }
            Route::ClientPages => {
                let (client, _) = client_of(actor)?;
                let req: wire::ReportPage = parse_json(body)?;
                let url = text_field("url", &req.url, 2000)?;
                let events = self.handle(
                    &Command::VisitPage {
                        client: client.to_string(),
                        url,
                        title: optional_field("title", &req.title)?,
                    },
                    ctx.now,
                )?;
                Reply::with(202, json!({ "status": "recorded" }), events)
            }
            Route::ListChannels => {
                let channels: Vec<Value> = [Channel::Messenger, Channel::Whatsapp, Channel::Vk]
                    .into_iter()
                    .filter_map(|c| self.channels.get(c))
                    .map(|c| self.channel_view(&c))
                    .collect();
                Reply::ok(json!({ "channels": channels }))
            }
            Route::GetChannel { channel } => {
                let ch = known_channel(channel)?;
                let config = self.channels.get(ch).ok_or_else(|| {
                    ApiError::not_found(format!("the {} channel's configuration", ch.label()))
                })?;
                Reply::ok(self.channel_view(&config))
            }
            Route::ConfigureChannel { channel } => {
                let ch = known_channel(channel)?;
                let mut v: Value = parse_json(body)?;
                v["channel"] = Value::String(ch.as_str().into());
                let mut config: ChannelConfig = serde_json::from_value(v).map_err(|e| {
                    ApiError::invalid(format!(
                        "the body does not match the {} configuration: {e}",
                        ch.label()
                    ))
                })?;
                trim_config(&mut config);
                let events = self.handle(&Command::ConfigureChannel(config.clone()), ctx.now)?;
                Reply::with(200, self.channel_view(&config), events)
            }
            Route::WhatsappTemplates => {
                self.acting_operator(actor)?;
                let templates = self
                    .channels
                    .whatsapp
                    .as_ref()
                    .map(|c| c.templates.clone())
                    .unwrap_or_default();
                Reply::ok(json!({ "templates": templates }))
            }
            Route::SendTemplate { session } => {
                let op = self.serving_operator(actor, session)?;
                #[derive(Deserialize)]
                struct SendTemplate {
                    name: String,
                    #[serde(default)]
                    values: Vec<String>,
                }
                let req: SendTemplate = parse_json(body)?;
                let events = self.handle(
                    &Command::SendTemplate {
                        session: session.clone(),
                        operator: op,
                        name: req.name.trim().to_string(),
                        values: req.values,
                    },
                    ctx.now,
                )?;
                let seq = match events.first() {
                    Some(Event::MessagePosted { seq, .. }) => *seq,
                    _ => 0,
                };
                let client_message_id = None;
                Reply::with(
                    201,
                    wire::Posted {
                        seq,
                        client_message_id,
                    },
                    events,
                )
            }
            Route::ClientTyping => {
                let (client, _) = client_of(actor)?;
                typing_reply(self.typing_from_client(client))
            }
            Route::SessionTyping { session } => {
                let op = self.serving_operator(actor, session)?;
                typing_reply(self.typing_from_operator(&op, session))
            }
            Route::ClientLeave => {
                let (client, _) = client_of(actor)?;
                let events = self.handle(
                    &Command::Leave {
                        client: client.to_string(),
                    },
                    ctx.now,
                )?;
                Reply::with(200, json!({ "status": "closed" }), events)
            }
        };
        Ok(reply)
    }

    /// The widget of a key, for a page on one of its allowed origins (all origins when the
    /// list is empty).
    fn widget_for_page(&self, key: &str, meta: &Meta) -> Result<&Widget, ApiError> {
        let widget = self
            .widget_by_key(key)
            .ok_or_else(|| ApiError::not_found(format!("widget {key}")))?;
        if !widget.allowed_origins.is_empty() {
            let origin = meta.origin.as_deref().map(normalize_origin);
            if !origin
                .as_ref()
                .is_some_and(|o| widget.allowed_origins.contains(o))
            {
                return Err(ApiError::OriginNotAllowed(format!(
                    "this widget does not accept entries from {}",
                    meta.origin.as_deref().unwrap_or("a page without an Origin")
                )));
            }
        }
        Ok(widget)
    }

    /// A client this operator may look at; others are reported as not found, so that ids of
    /// other groups (or tenants) reveal nothing.
    fn visible_client(&self, op: &Operator, client: &str) -> Result<&Client, ApiError> {
        self.clients
            .get(client)
            .filter(|c| self.may_see(op, c))
            .ok_or_else(|| ApiError::not_found(format!("client {client}")))
    }

    /// For accept and redirect: a client the operator could serve, or one already taken
    /// (which the command then refuses with `already_accepted`).
    fn visible_or_taken(&self, op: &str, client: &str) -> Result<(), ApiError> {
        let op = self.operator(op)?;
        match self.clients.get(client) {
            Some(c) if self.may_see(op, c) => Ok(()),
            Some(c) if matches!(c.state, crate::lobby::ClientState::Active { .. }) => Ok(()),
            _ => Err(ApiError::not_found(format!("client {client}"))),
        }
    }

    fn post(
        &mut self,
        session: &str,
        author: Author,
        req: wire::PostMessage,
        ctx: &Ctx,
    ) -> Result<Reply, ApiError> {
        if req.text.chars().count() > MAX_MESSAGE_CHARS {
            return Err(ApiError::invalid(format!(
                "text is longer than {MAX_MESSAGE_CHARS} characters"
            )));
        }
        if req.attachments.len() > 10
            || req
                .attachments
                .iter()
                .any(|a| !(a.url.starts_with("https://") || a.url.starts_with("http://")))
        {
            return Err(ApiError::invalid(
                "attachments: at most 10, each with an http(s) url",
            ));
        }
        let id = match req.client_message_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(k) if k.len() > 100 => {
                return Err(ApiError::invalid(
                    "client_message_id is longer than 100 bytes",
                ))
            }
            Some(k) => Some(k.to_string()),
        };
        let key = id.as_deref().map(|k| message_key(&author, k));
        let events = self.handle(
            &Command::PostMessage {
                session: session.to_string(),
                author,
                text: req.text,
                attachments: req.attachments,
                key: key.clone(),
            },
            ctx.now,
        )?;
        let seq = match events.first() {
            Some(Event::MessagePosted { seq, .. }) => *seq,
            // A retry: the seq the first delivery got.
            _ => self.sessions[session]
                .keys
                .iter()
                .find(|(k, _)| Some(k) == key.as_ref())
                .map_or(0, |(_, seq)| *seq),
        };
        let posted = wire::Posted {
            seq,
            client_message_id: id,
        };
        Ok(Reply::with(201, posted, events))
    }

    fn enter(&mut self, key: &str, body: &[u8], meta: &Meta, ctx: &Ctx) -> Result<Reply, ApiError> {
        let widget = self.widget_for_page(key, meta)?.clone();
        let req: wire::WidgetEntry = parse_json(body)?;
        use wire::EntryKind::*;
        match req.entry {
            Webchat | Video | Callback if widget.buttons.contains(&req.entry) => {}
            Webchat | Video | Callback => {
                return Err(ApiError::invalid(format!(
                    "this widget does not offer {:?} entries",
                    req.entry
                )))
            }
            Invitation => {}
            other => {
                return Err(ApiError::invalid(format!(
                    "{other:?} clients arrive through their channel, not a widget"
                )))
            }
        }
        let code = match (req.entry, req.code.as_deref().map(str::trim)) {
            (Invitation, Some(c)) if crate::invitation::well_formed(c) => Some(c.to_string()),
            (Invitation, _) => {
                return Err(ApiError::invalid(
                    "an invitation entry needs the six-digit code the operator gave you",
                ))
            }
            _ => None,
        };
        let name = optional_field("form.name", &req.form.name)?;
        let phone = optional_field("form.phone", &req.form.phone)?;
        let email = match req.form.email.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(m) => Some(email_field(m)?),
        };
        if req.entry == Callback && phone.is_none() {
            return Err(ApiError::invalid("a callback needs form.phone"));
        }
        let rules = widget.form;
        for (field, rule, value) in [
            ("name", rules.name, name.is_some()),
            ("phone", rules.phone, phone.is_some()),
            ("email", rules.email, email.is_some()),
        ] {
            if rule == wire::FieldRule::Required && !value {
                return Err(ApiError::invalid(format!("form.{field} is required")));
            }
        }
        if serde_json::to_vec(&req.params).map_or(0, |v| v.len()) > 16 * 1024 {
            return Err(ApiError::invalid("params are larger than 16 KiB"));
        }
        // An invitation waits for its operator; a wrong code is counted against the address.
        let target = match &code {
            None => Target::Group(widget.group.clone()),
            Some(c) => {
                let address = meta.address.as_deref().unwrap_or("unknown");
                if !self.guard.allows(address, ctx.now) {
                    return Err(ApiError::RateLimited(
                        "too many wrong invitation codes; try again in a few minutes".into(),
                    ));
                }
                match self.invitations.get(c) {
                    Some(i) if !i.used && i.expires_at > ctx.now => {
                        Target::Operator(i.operator.clone())
                    }
                    found => {
                        self.guard.wrong(address, ctx.now);
                        return Err(match found {
                            None => {
                                ApiError::InvalidCode("this invitation code is not valid".into())
                            }
                            Some(i) if i.used => ApiError::CodeUsed,
                            Some(_) => ApiError::CodeExpired,
                        });
                    }
                }
            }
        };
        if !self.anyone_online(&target) {
            return Ok(Reply::ok(json!({ "status": "offline" })));
        }
        let (browser, os) = client_info::browser_and_os(meta.user_agent.as_deref());
        let contact = email
            .as_ref()
            .map(|m| format!("email:{}", m.to_lowercase()))
            .or_else(|| phone.as_ref().map(|p| format!("phone:{p}")));
        let details = Details {
            language: client_info::language(
                req.language.as_deref(),
                meta.accept_language.as_deref(),
            ),
            browser,
            os,
            widget: Some(widget.id.clone()),
            name,
            phone,
            email,
            page: req.page.clone(),
            params: req.params.clone(),
            contact,
            channel_user: None,
        };
        let client = id("c", ctx.entropy, 0);
        let session = id("s", ctx.entropy, 1);
        let cmd = match code {
            Some(code) => Command::EnterByInvitation {
                client: client.clone(),
                session: session.clone(),
                details,
                code,
            },
            None => Command::Enter {
                client: client.clone(),
                session: session.clone(),
                entry: req.entry,
                details,
                target: target.clone(),
            },
        };
        let events = self.handle(&cmd, ctx.now)?;
        let position = self.position(&self.clients[&client]).unwrap_or(0);
        let estimated_wait_seconds = self.estimated_wait_seconds(&target, position, ctx.now);
        let tenant = self.tenant.as_ref().expect("checked").slug.clone();
        let token = auth::sign_token(
            &Claims {
                tenant,
                sub: client.clone(),
                role: TokenRole::Client,
                exp: ctx.now / 1000 + auth::CLIENT_TOKEN_SECONDS,
                session: Some(session.clone()),
            },
            ctx.token_secret,
        );
        Ok(Reply::with(
            201,
            wire::EntryAccepted {
                client,
                token,
                status: wire::ClientStatus::Waiting,
                position,
                session,
                estimated_wait_seconds,
            },
            events,
        ))
    }
}

/// A channel name of the channel routes (404 for others).
fn known_channel(name: &str) -> Result<Channel, ApiError> {
    Channel::parse(name).ok_or_else(|| ApiError::not_found(format!("channel {name}")))
}

/// Pasted credentials often carry stray spaces; ids and URLs never do.
fn trim_config(config: &mut ChannelConfig) {
    fn t(s: &mut String) {
        *s = s.trim().to_string();
    }
    fn base(b: &mut Option<String>) {
        *b = b
            .as_deref()
            .map(|x| x.trim().trim_end_matches('/').to_string())
            .filter(|x| !x.is_empty());
    }
    match config {
        ChannelConfig::Messenger(c) => {
            for f in [
                &mut c.page_id,
                &mut c.app_secret,
                &mut c.verify_token,
                &mut c.page_access_token,
                &mut c.group,
            ] {
                t(f);
            }
            base(&mut c.api_base);
        }
        ChannelConfig::Whatsapp(c) => {
            for f in [
                &mut c.phone_number_id,
                &mut c.app_secret,
                &mut c.verify_token,
                &mut c.access_token,
                &mut c.group,
            ] {
                t(f);
            }
            base(&mut c.api_base);
        }
        ChannelConfig::Vk(c) => {
            for f in [
                &mut c.community_id,
                &mut c.confirmation,
                &mut c.secret,
                &mut c.access_token,
                &mut c.group,
            ] {
                t(f);
            }
            base(&mut c.api_base);
        }
    }
}

impl Lobby {
    /// What the channel routes show of a configuration: public settings and the webhook URL's
    /// path, never a secret or a token.
    fn channel_view(&self, config: &ChannelConfig) -> Value {
        let mut v = config.public();
        let slug = self.tenant.as_ref().map_or("", |t| t.slug.as_str());
        v["webhook"] = Value::String(format!("/hooks/{slug}/{}", config.channel().as_str()));
        let (owed, next) = self.owed_on(config.channel());
        v["owed"] = json!(owed);
        v["next_attempt_at"] = json!(next.map(crate::time::rfc3339));
        v
    }
}

/// A typing call's answer: whether anyone is told (nobody while the client waits, or after the
/// session moved on), and whom.
fn typing_reply(to: Option<TypingTo>) -> Reply {
    let mut reply = Reply::ok(json!({ "relayed": to.is_some() }));
    reply.typing = to;
    reply
}

fn client_of(actor: &Actor) -> Result<(&str, &str), ApiError> {
    match actor {
        Actor::Client { id, session } => Ok((id, session)),
        _ => Err(ApiError::Forbidden("this needs a client's token".into())),
    }
}

#[cfg(test)]
mod after_tests {
    use super::*;

    #[test]
    fn after_is_an_integer_a_browser_holds_exactly() {
        assert_eq!(parse_after("0").unwrap(), 0);
        assert_eq!(parse_after("9007199254740991").unwrap(), MAX_AFTER);
        for bad in [
            "9007199254740992",
            "18010270915140180",
            "-1",
            "null",
            "1.5",
            "",
        ] {
            assert_eq!(parse_after(bad).unwrap_err().status(), 422, "{bad}");
        }
    }
}
