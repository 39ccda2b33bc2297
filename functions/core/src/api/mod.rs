//! The HTTP API as decisions: which route a request is, who may call it, which tenant it
//! belongs to, and what a call does to that tenant's [`Lobby`]. The runtimes only move bytes:
//! the edge function runs [`route`] and [`authorize`] (stateless, so a bad token never reaches
//! a tenant), the tenant's coordinator runs [`Lobby::call`] and persists the events it returns
//! before it answers.
//!
//! This file holds what every call shares: [`Route`] and [`Access`] (from the route table),
//! [`authorize`], [`Reply`], the field checks, and [`Lobby::call`]'s dispatch. Each feature's
//! route handlers live in its own file: `administration` (tenant, sign-in, groups, operators,
//! widgets), `queue` (widget entry, status, queue, preview, accept, redirect, leave),
//! `conversation` (sessions, messages, pages, typing, tags, notes, close), `invitation`,
//! `offline` and `channel`.

use lobby_wire as wire;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::{self, Claims, TokenRole};
use crate::error::{parse_json, ApiError};
use crate::lobby::{Client, Event, Lobby, Millis, Operator, Widget};
use crate::views::TypingTo;

mod administration;
mod channel;
mod conversation;
mod invitation;
mod offline;
mod queue;

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

/// One call as a feature's route handlers see it (see [`Lobby::call`]).
#[derive(Clone, Copy)]
struct Call<'c> {
    route: &'c Route,
    actor: &'c Actor,
    body: &'c [u8],
    meta: &'c Meta,
    ctx: &'c Ctx<'c>,
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
        let call = Call {
            route,
            actor,
            body,
            meta,
            ctx,
        };
        let reply = match route {
            Route::Healthz | Route::OpenApi | Route::OperatorEvents | Route::ClientEvents => {
                return Err(ApiError::NoRoute("this route is served by the edge".into()))
            }
            Route::Ping => Reply::ok(json!({"pong": true})),
            Route::CreateTenant
            | Route::Login
            | Route::Me
            | Route::ListGroups
            | Route::CreateGroup
            | Route::ListOperators
            | Route::CreateOperator
            | Route::UpdateOperator { .. }
            | Route::ListWidgets
            | Route::CreateWidget => self.call_administration(call)?,
            Route::WidgetConfig { .. }
            | Route::WidgetEntry { .. }
            | Route::SetStatus
            | Route::Queue
            | Route::Preview { .. }
            | Route::Accept { .. }
            | Route::Redirect { .. }
            | Route::ClientLeave => self.call_queue(call)?,
            Route::MySessions
            | Route::SessionMessages { .. }
            | Route::PostSessionMessage { .. }
            | Route::ClientMessages
            | Route::PostClientMessage
            | Route::ClientPages
            | Route::ClientTyping
            | Route::SessionTyping { .. }
            | Route::AddTag { .. }
            | Route::AddNote { .. }
            | Route::CloseSession { .. } => self.call_conversation(call)?,
            Route::CreateInvitation => self.call_invitation(call)?,
            Route::WidgetOffline { .. } => self.call_offline(call)?,
            Route::ListChannels
            | Route::GetChannel { .. }
            | Route::ConfigureChannel { .. }
            | Route::WhatsappTemplates
            | Route::SendTemplate { .. } => self.call_channel(call)?,
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
