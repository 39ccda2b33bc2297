//! The route table of the HTTP API: every operation's method and path template, the [`Route`] it
//! yields, who may call it ([`Access`]), and its description in the served OpenAPI document
//! (summary, parameters, request and answer bodies by their wire types, statuses). The router
//! ([`crate::api::route`]) matches requests against this table and the document's generator
//! ([`crate::openapi`]) iterates it, so a route cannot be served without being described, nor
//! described without being served. The webhooks' table (`/hooks/{tenant}/{channel}`) lives next
//! to their handling, in [`crate::channels::desk`], and uses the same [`Doc`].
//!
//! A new route, or a changed status, field or text of one: edit its entry here (or the wire type
//! it names), then regenerate `functions/core/openapi.json` (`make openapi`).

use lobby_wire as wire;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::ApiError;

/// The largest request body the API reads.
pub const MAX_BODY_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "route", rename_all = "snake_case")]
pub enum Route {
    Healthz,
    OpenApi,
    CreateTenant,
    Login,
    ListGroups,
    CreateGroup,
    ListOperators,
    CreateOperator,
    ListWidgets,
    CreateWidget,
    Me,
    SetStatus,
    Ping,
    Queue,
    Preview { client: String },
    AddTag { client: String },
    AddNote { client: String },
    UpdateOperator { operator: String },
    Accept { client: String },
    Redirect { client: String },
    MySessions,
    SessionMessages { session: String },
    PostSessionMessage { session: String },
    CloseSession { session: String },
    SessionTyping { session: String },
    OperatorEvents,
    WidgetEntry { key: String },
    WidgetConfig { key: String },
    WidgetOffline { key: String },
    CreateInvitation,
    ClientMessages,
    PostClientMessage,
    ClientPages,
    ClientLeave,
    ClientTyping,
    ClientEvents,
    ListChannels,
    GetChannel { channel: String },
    ConfigureChannel { channel: String },
    WhatsappTemplates,
    SendTemplate { session: String },
}

/// Who may call a route, and where its tenant comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone; answered at the edge, no tenant.
    Public,
    /// The platform token; the tenant is the body's `slug`.
    Platform,
    /// Anyone; the tenant is the body's `tenant`.
    Login,
    /// Anyone on an allowed origin; the tenant is the widget key's.
    Widget,
    Admin,
    Operator,
    Client,
}

impl Route {
    /// Who may call this route: its entry's in the route table.
    pub fn access(&self) -> Access {
        self.operation().access
    }

    /// The widget key of a widget route.
    pub fn widget_key(&self) -> Option<&str> {
        match self {
            Route::WidgetEntry { key }
            | Route::WidgetConfig { key }
            | Route::WidgetOffline { key } => Some(key),
            _ => None,
        }
    }

    pub fn is_websocket(&self) -> bool {
        matches!(self, Route::OperatorEvents | Route::ClientEvents)
    }
}

/// A body's JSON Schema, known to the document's generator only. Without the `schema` feature
/// (every runtime build) it holds nothing, so the Worker's and Spin's Wasm carry no schema code;
/// the table still names the wire types, so a renamed or removed type breaks the build there too.
#[derive(Clone, Copy)]
pub struct Schema {
    #[cfg(feature = "schema")]
    pub(crate) make: Make,
}

#[cfg(feature = "schema")]
#[derive(Clone, Copy)]
pub(crate) enum Make {
    /// A wire type: its schema is derived from the type (a `$ref` to it when it has a name).
    Wire(fn(&mut schemars::SchemaGenerator) -> schemars::Schema),
    /// Described by hand: bodies that are no wire type (channel configurations, providers'
    /// payloads, the document itself).
    Json(fn() -> Value),
}

/// What a type needs to be named in the table: with the `schema` feature, a JSON Schema.
#[cfg(feature = "schema")]
pub trait Described: schemars::JsonSchema {}
#[cfg(feature = "schema")]
impl<T: schemars::JsonSchema + ?Sized> Described for T {}
/// What a type needs to be named in the table: without the `schema` feature, nothing.
#[cfg(not(feature = "schema"))]
pub trait Described {}
#[cfg(not(feature = "schema"))]
impl<T: ?Sized> Described for T {}

#[cfg(feature = "schema")]
fn subschema<T: schemars::JsonSchema + ?Sized>(
    g: &mut schemars::SchemaGenerator,
) -> schemars::Schema {
    g.subschema_for::<T>()
}

impl Schema {
    /// The schema of a wire type.
    pub const fn of<T: Described + ?Sized>() -> Self {
        Schema {
            #[cfg(feature = "schema")]
            make: Make::Wire(subschema::<T>),
        }
    }

    /// A schema written by hand.
    pub const fn json(f: fn() -> Value) -> Self {
        #[cfg(not(feature = "schema"))]
        let _ = f;
        Schema {
            #[cfg(feature = "schema")]
            make: Make::Json(f),
        }
    }
}

/// What an answer (or a request) carries.
#[derive(Clone, Copy)]
pub enum Body {
    /// Nothing (a WebSocket upgrade).
    Empty,
    /// The API's error body `{"error": {"code", "message"}}`.
    Error,
    /// JSON of this schema.
    Json(Schema),
    /// `{"<field>": [<item>, …]}`: the list routes' answers.
    ListOf(&'static str, Schema),
    /// `{"<field>": <value>}`: one-field answers (`{"status": …}`, `{"relayed": …}`).
    Field(&'static str, Schema),
    /// Plain text (the webhooks' answers to their providers).
    Text,
    /// Server-Sent Events: one JSON frame per `data:`, the journal's sequence number as `id:`.
    EventStream,
}

/// How an answer is described.
#[derive(Clone, Copy)]
pub enum Says {
    /// By the operation's summary (its success answer).
    Summary,
    /// By the error body's shape.
    Error,
    Text(&'static str),
}

#[derive(Clone, Copy)]
pub struct Answer {
    pub status: u16,
    pub says: Says,
    pub body: Body,
}

/// The success answer, described by the summary.
pub const fn ok(status: u16, body: Body) -> Answer {
    Answer {
        status,
        says: Says::Summary,
        body,
    }
}

/// An answer with a text of its own.
pub const fn says(status: u16, text: &'static str, body: Body) -> Answer {
    Answer {
        status,
        says: Says::Text(text),
        body,
    }
}

/// A query or header parameter (path parameters come from the template).
#[derive(Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    /// `query` or `header`.
    pub location: &'static str,
    pub required: bool,
    pub schema: Schema,
}

/// `?after=N`: resume after the journal's sequence number N.
pub const AFTER: Param = Param {
    name: "after",
    location: "query",
    required: false,
    schema: Schema::json(|| json!({"type": "integer", "minimum": 0})),
};

#[derive(Clone, Copy)]
pub struct Request {
    pub body: Body,
    pub required: bool,
}

/// A required JSON request body.
pub const fn body(schema: Schema) -> Option<Request> {
    Some(Request {
        body: Body::Json(schema),
        required: true,
    })
}

/// An operation's description in the OpenAPI document. Besides the statuses listed here, the
/// generator adds those every operation of a kind answers (see `openapi::implied_errors`).
#[derive(Clone, Copy)]
pub struct Doc {
    pub summary: &'static str,
    pub description: Option<&'static str>,
    pub parameters: &'static [Param],
    pub request: Option<Request>,
    /// Answers with a text of their own, the success answer first.
    pub answers: &'static [Answer],
    /// Error statuses, each described by the error body's shape.
    pub errors: &'static [u16],
}

impl Doc {
    /// The usual operation: a summary, maybe a request body, one success answer, error statuses.
    pub const fn new(
        summary: &'static str,
        request: Option<Request>,
        answers: &'static [Answer],
        errors: &'static [u16],
    ) -> Self {
        Doc {
            summary,
            description: None,
            parameters: &[],
            request,
            answers,
            errors,
        }
    }

    /// The same with a description: the rules behind its answers, in words.
    pub const fn described(self, description: &'static str) -> Self {
        Doc {
            description: Some(description),
            ..self
        }
    }
}

/// One operation of the API.
pub struct Operation {
    /// Upper case, as compared.
    pub method: &'static str,
    /// `/api/v1/clients/{id}/preview`: `{…}` stands for one path segment.
    pub path: &'static str,
    /// The route, from the path's parameters in order.
    pub route: fn(&[&str]) -> Route,
    pub access: Access,
    pub doc: Doc,
}

const S: Schema = Schema::of::<String>();
const BOOL: Schema = Schema::of::<bool>();
const OBJECT: Schema = Schema::json(|| json!({"type": "object"}));

/// The event routes speak what `GET /healthz` names in `events`: a WebSocket (101) on
/// Cloudflare, Server-Sent Events (200 `text/event-stream`) on Spin. Each refuses the other
/// kind with 426: `upgrade_required` / `event_stream_required`.
macro_rules! events {
    ($summary:expr) => {
        Doc {
            summary: $summary,
            // `Last-Event-ID` is described here rather than declared: a WebSocket server never reads it.
            description: Some("The transport is the one `GET /healthz` names in `events`. `websocket`: a WebSocket upgrade; JSON frames down, `{\"type\":\"ping\"}` (and `{\"type\":\"typing\"}`) up. `sse`: `Accept: text/event-stream`; one `data:` line of the same JSON per event, journaled frames with their sequence number as `id:`, so that a reconnecting EventSource resumes with `Last-Event-ID` (it takes precedence over `after`); nothing goes up the stream."),
            parameters: &[
                AFTER,
                Param {
                    name: "token",
                    location: "query",
                    required: false,
                    schema: S,
                },
            ],
            request: None,
            answers: &[
                says(101, "switching to the WebSocket protocol (`events`: `websocket`)", Body::Empty),
                says(200, "the stream of Server-Sent Events (`events`: `sse`), one JSON frame per `data:`, the journal seq as `id:`", Body::EventStream),
                says(401, "no or bad token", Body::Error),
                says(426, "not the transport this server speaks (`upgrade_required` on Cloudflare, `event_stream_required` on Spin)", Body::Error),
            ],
            errors: &[],
        }
    };
}

/// A session's or the client's messages (`?after=N`), with the answers' own texts.
macro_rules! messages {
    ($summary:expr, $answers:expr $(,)?) => {
        Doc {
            summary: $summary,
            description: None,
            parameters: &[AFTER],
            request: None,
            answers: $answers,
            errors: &[],
        }
    };
}

/// What an operator writes and a client writes.
const POST_MESSAGE: Option<Request> = body(Schema::of::<wire::PostMessage>());
const POSTED: Answer = ok(201, Body::Json(Schema::of::<wire::Posted>()));
const STATUS: Body = Body::Field("status", S);
const RELAYED: Answer = ok(200, Body::Field("relayed", BOOL));

/// Every operation of the API. The order is the document's nowhere (its paths are sorted); within
/// a path, the methods are listed as the `Allow` header of a 405 lists them.
pub static OPERATIONS: &[Operation] = &[
    Operation {
        method: "GET",
        path: "/healthz",
        route: |_| Route::Healthz,
        access: Access::Public,
        doc: Doc::new(
            "health, and how this server delivers live events: `events` is `websocket` (Cloudflare) or `sse` (Server-Sent Events, Spin)",
            None,
            &[ok(200, Body::Json(Schema::of::<wire::Health>()))],
            &[],
        ),
    },
    Operation {
        method: "GET",
        path: "/api/v1/openapi.json",
        route: |_| Route::OpenApi,
        access: Access::Public,
        doc: Doc::new("this document", None, &[ok(200, Body::Json(OBJECT))], &[]),
    },
    Operation {
        method: "POST",
        path: "/api/v1/tenants",
        route: |_| Route::CreateTenant,
        access: Access::Platform,
        doc: Doc::new(
            "create a tenant with its first admin",
            body(Schema::of::<wire::CreateTenant>()),
            &[ok(201, Body::Json(Schema::of::<wire::TenantCreated>()))],
            &[400, 401, 409, 413, 422],
        ),
    },
    Operation {
        method: "POST",
        path: "/api/v1/auth/login",
        route: |_| Route::Login,
        access: Access::Login,
        doc: Doc::new(
            "sign in",
            body(Schema::of::<wire::Login>()),
            &[ok(200, Body::Json(Schema::of::<wire::LoggedIn>()))],
            &[400, 401, 413, 422],
        ),
    },
    Operation {
        method: "GET",
        path: "/api/v1/groups",
        route: |_| Route::ListGroups,
        access: Access::Operator,
        doc: Doc::new(
            "list groups",
            None,
            &[ok(200, Body::ListOf("groups", Schema::of::<wire::GroupInfo>()))],
            &[401, 403],
        ),
    },
    Operation {
        method: "POST",
        path: "/api/v1/groups",
        route: |_| Route::CreateGroup,
        access: Access::Admin,
        doc: Doc::new(
            "create a group (admin)",
            body(Schema::of::<wire::CreateGroup>()),
            &[ok(201, Body::Json(Schema::of::<wire::Created>()))],
            &[400, 401, 403, 413, 422],
        ),
    },
    Operation {
        method: "GET",
        path: "/api/v1/operators",
        route: |_| Route::ListOperators,
        access: Access::Operator,
        doc: Doc::new(
            "list operators with status and load; an operator sees its colleagues' names, groups and presence but only its own e-mail, an admin sees every e-mail",
            None,
            &[ok(200, Body::ListOf("operators", Schema::of::<wire::OperatorInfo>()))],
            &[401, 403],
        ),
    },
    Operation {
        method: "POST",
        path: "/api/v1/operators",
        route: |_| Route::CreateOperator,
        access: Access::Admin,
        doc: Doc::new(
            "create an operator (admin)",
            body(Schema::of::<wire::CreateOperator>()),
            &[ok(201, Body::Json(Schema::of::<wire::Created>()))],
            &[400, 401, 403, 404, 409, 413, 422],
        ),
    },
    Operation {
        method: "GET",
        path: "/api/v1/widgets",
        route: |_| Route::ListWidgets,
        access: Access::Admin,
        doc: Doc::new(
            "list widgets (admin)",
            None,
            &[ok(200, Body::ListOf("widgets", Schema::of::<wire::WidgetInfo>()))],
            &[401, 403],
        ),
    },
    Operation {
        method: "POST",
        path: "/api/v1/widgets",
        route: |_| Route::CreateWidget,
        access: Access::Admin,
        doc: Doc::new(
            "create a widget (admin)",
            body(Schema::of::<wire::CreateWidget>()),
            &[ok(201, Body::Json(Schema::of::<wire::WidgetCreated>()))],
            &[400, 401, 403, 404, 413, 422],
        ),
    },
    Operation {
        method: "GET",
        path: "/api/v1/me",
        route: |_| Route::Me,
        access: Access::Operator,
        doc: Doc::new(
            "the signed-in operator",
            None,
            &[ok(200, Body::Json(Schema::of::<wire::OperatorInfo>()))],
            &[401],
        ),
    },
    Operation {
        method: "PUT",
        path: "/api/v1/me/status",
        route: |_| Route::SetStatus,
        access: Access::Operator,
        doc: Doc::new(
            "set presence",
            body(Schema::of::<wire::SetStatus>()),
            &[ok(200, Body::Field("status", Schema::of::<wire::Presence>()))],
            &[400, 401, 413, 422],
        ),
    },
    Operation {
        method: "GET",
        path: "/api/v1/ping",
        route: |_| Route::Ping,
        access: Access::Operator,
        doc: Doc::new(
            "a round trip to the tenant's coordinator that changes nothing",
            None,
            &[ok(200, Body::Field("pong", BOOL))],
            &[401],
        ),
    },
    Operation {
        method: "GET",
        path: "/api/v1/queue",
        route: |_| Route::Queue,
        access: Access::Operator,
        doc: Doc::new(
            "the clients this operator may serve",
            None,
            &[ok(200, Body::Json(Schema::of::<wire::QueueList>()))],
            &[401],
        ),
    },
    Operation {
        method: "GET",
        path: "/api/v1/clients/{id}/preview",
        route: |p| Route::Preview {
            client: p[0].into(),
        },
        access: Access::Operator,
        doc: Doc::new(
            "preview a client",
            None,
            &[ok(200, Body::Json(Schema::of::<wire::Preview>()))],
            &[401, 404],
        ),
    },
    Operation {
        method: "POST",
        path: "/api/v1/clients/{id}/tags",
        route: |p| Route::AddTag {
            client: p[0].into(),
        },
        access: Access::Operator,
        doc: Doc::new(
            "tag a client's conversation",
            body(Schema::of::<wire::AddTag>()),
            &[ok(201, Body::ListOf("tags", S))],
            &[400, 401, 404, 409, 413, 422],
        ),
    },
    Operation {
        method: "POST",
        path: "/api/v1/clients/{id}/notes",
        route: |p| Route::AddNote {
            client: p[0].into(),
        },
        access: Access::Operator,
        doc: Doc::new(
            "add an operator's note on a client",
            body(Schema::of::<wire::AddNote>()),
            &[ok(201, Body::ListOf("notes", Schema::of::<wire::Note>()))],
            &[400, 401, 404, 409, 413, 422],
        ),
    },
    Operation {
        method: "PUT",
        path: "/api/v1/operators/{id}",
        route: |p| Route::UpdateOperator {
            operator: p[0].into(),
        },
        access: Access::Admin,
        doc: Doc::new(
            "change an operator's name, groups or chat limit (admin)",
            // Each field is optional; null, like a missing field, leaves it as it is.
            body(Schema::of::<wire::UpdateOperator>()),
            &[ok(200, Body::Json(Schema::of::<wire::OperatorInfo>()))],
            &[400, 401, 403, 404, 409, 413, 422],
        ),
    },
    Operation {
        method: "POST",
        path: "/api/v1/queue/{id}/accept",
        route: |p| Route::Accept {
            client: p[0].into(),
        },
        access: Access::Operator,
        doc: Doc::new(
            "accept a waiting client",
            None,
            &[ok(200, Body::Json(Schema::of::<wire::Accepted>()))],
            &[401, 403, 404, 409],
        )
        .described("Only an operator whose presence is `online` takes a new client; `away` means finishing the current work: the sessions it holds go on (messages, close, redirect), but it accepts nobody. 409 codes: `not_online` (presence `away` or `offline`), `already_accepted` (another operator was first), `capacity` (over the chat limit, or a video/phone call, which is served alone). A refusal changes nothing."),
    },
    Operation {
        method: "POST",
        path: "/api/v1/queue/{id}/redirect",
        route: |p| Route::Redirect {
            client: p[0].into(),
        },
        access: Access::Operator,
        doc: Doc::new(
            "redirect a client to a group or an operator",
            body(Schema::of::<wire::Redirect>()),
            &[ok(200, STATUS)],
            &[400, 401, 403, 404, 409, 413, 422],
        )
        .described("A waiting client, or the client of the caller's session. It is not a new arrival: it keeps its `waiting_since` (its entry) and takes its place in the new queue by it, ahead of clients who came later; its stream gets `redirected` with that position, and those behind it their new `position`."),
    },
    Operation {
        method: "GET",
        path: "/api/v1/sessions",
        route: |_| Route::MySessions,
        access: Access::Operator,
        doc: Doc::new(
            "this operator's active sessions",
            None,
            &[ok(200, Body::ListOf("sessions", Schema::of::<wire::ClientInfo>()))],
            &[401],
        ),
    },
    Operation {
        method: "GET",
        path: "/api/v1/sessions/{id}/messages",
        route: |p| Route::SessionMessages {
            session: p[0].into(),
        },
        access: Access::Operator,
        doc: messages!(
            "a session's messages",
            &[
                says(200, "messages", Body::Json(Schema::of::<wire::MessageList>())),
                says(401, "no token", Body::Error),
                says(404, "unknown", Body::Error),
            ],
        ),
    },
    Operation {
        method: "POST",
        path: "/api/v1/sessions/{id}/messages",
        route: |p| Route::PostSessionMessage {
            session: p[0].into(),
        },
        access: Access::Operator,
        doc: Doc::new(
            "write to the client",
            POST_MESSAGE,
            &[POSTED],
            &[400, 401, 403, 404, 409, 413, 422],
        ),
    },
    Operation {
        method: "POST",
        path: "/api/v1/sessions/{id}/close",
        route: |p| Route::CloseSession {
            session: p[0].into(),
        },
        access: Access::Operator,
        doc: Doc::new("close a session", None, &[ok(200, STATUS)], &[401, 403, 404, 409]),
    },
    Operation {
        method: "POST",
        path: "/api/v1/sessions/{id}/typing",
        route: |p| Route::SessionTyping {
            session: p[0].into(),
        },
        access: Access::Operator,
        doc: Doc::new(
            "the operator is typing: the client sees it (over a WebSocket, `{\"type\":\"typing\",\"session\"}` up the socket does the same)",
            None,
            &[RELAYED],
            &[401, 403, 404],
        ),
    },
    Operation {
        method: "GET",
        path: "/api/v1/operator/events",
        route: |_| Route::OperatorEvents,
        access: Access::Operator,
        doc: events!("the operator's events (WebSocket or Server-Sent Events)"),
    },
    Operation {
        method: "POST",
        path: "/api/v1/widgets/{key}/entries",
        route: |p| Route::WidgetEntry { key: p[0].into() },
        access: Access::Widget,
        doc: Doc::new(
            "a client enters through a widget",
            body(Schema::of::<wire::WidgetEntry>()),
            &[
                ok(201, Body::Json(Schema::of::<wire::EntryAccepted>())),
                says(
                    200,
                    "nobody who could serve the entry is online: `{\"status\": \"offline\"}`, nothing is stored (the widget offers the offline form)",
                    Body::Field("status", Schema::of::<wire::ClientStatus>()),
                ),
            ],
            &[400, 403, 404, 409, 410, 413, 422, 429],
        )
        .described("An `invitation` entry names the operator's six-digit `code`: a wrong one is 422 `invalid_code`, a used one 409 `code_used`, an expired one 410 `code_expired`. After 10 wrong codes from one client address within 10 minutes (200 for the whole tenant) every code is 429 `rate_limited`. The client address is the one that connected to the platform (Cloudflare's `CF-Connecting-IP`, Spin's `spin-client-addr`); `X-Forwarded-For` counts only when that is one of the deployment's trusted proxies (`LOBBY_TRUSTED_PROXIES`, Spin `lobby_trusted_proxies`), and then its last hop that is not such a proxy is the client."),
    },
    Operation {
        method: "GET",
        path: "/api/v1/widgets/{key}/config",
        route: |p| Route::WidgetConfig { key: p[0].into() },
        access: Access::Widget,
        doc: Doc::new(
            "what the embed loader and the widget draw: the widget's name, entry buttons and form, and whether an operator of its group is online (if not, Chat and Callback offer the offline form)",
            None,
            &[ok(200, Body::Json(Schema::of::<wire::WidgetConfig>()))],
            &[403, 404],
        ),
    },
    Operation {
        method: "POST",
        path: "/api/v1/widgets/{key}/offline",
        route: |p| Route::WidgetOffline { key: p[0].into() },
        access: Access::Widget,
        doc: Doc::new(
            "leave a message through the offline form: e-mailed to the widget's offline address (an e-mail or a phone number to answer is required; 409 when the widget has no address)",
            body(Schema::of::<wire::OfflineMessage>()),
            &[ok(202, STATUS)],
            &[400, 403, 404, 409, 413, 422],
        )
        .described("Stored, then e-mailed to the widget's `offline_email` (409 `conflict` when it has none), with a reply address when the client gave an e-mail; an e-mail or a phone is needed (422). The mail shows what the waiting queue would have: name, e-mail, phone, language, browser and OS (from `User-Agent`), the page (`url`, `title`), the site (`Origin`) and the widget's name, then the message. Until the mail service has accepted it (or it was given up after the last retry) the admin's `GET /api/v1/widgets` counts it in the widget's `offline_owed`."),
    },
    Operation {
        method: "POST",
        path: "/api/v1/invitations",
        route: |_| Route::CreateInvitation,
        access: Access::Operator,
        doc: Doc::new(
            "create a six-digit invitation code: a client entering with it waits for this operator alone (the body is optional; `expires_in` in seconds, 60 to 86400, default 600)",
            Some(Request {
                body: Body::Json(Schema::of::<wire::CreateInvitation>()),
                required: false,
            }),
            &[ok(201, Body::Json(Schema::of::<wire::InvitationCreated>()))],
            &[400, 401, 403, 409, 413, 422],
        ),
    },
    Operation {
        method: "GET",
        path: "/api/v1/channels",
        route: |_| Route::ListChannels,
        access: Access::Admin,
        doc: Doc::new(
            "the configured messaging channels, without secrets (admin)",
            None,
            &[ok(200, Body::ListOf("channels", CHANNEL_VIEW))],
            &[401, 403],
        ),
    },
    Operation {
        method: "GET",
        path: "/api/v1/channels/whatsapp/templates",
        route: |_| Route::WhatsappTemplates,
        access: Access::Operator,
        doc: Doc::new(
            "the WhatsApp templates operators may send",
            None,
            &[ok(
                200,
                Body::ListOf(
                    "templates",
                    Schema::json(|| {
                        json!({"type": "object", "required": ["name", "language"],
                            "properties": {"name": {"type": "string"}, "language": {"type": "string"},
                                "parameters": {"type": "array", "items": {"type": "string"}}}})
                    }),
                ),
            )],
            &[401],
        ),
    },
    Operation {
        method: "POST",
        path: "/api/v1/sessions/{id}/template",
        route: |p| Route::SendTemplate {
            session: p[0].into(),
        },
        access: Access::Operator,
        doc: Doc::new(
            "send a WhatsApp template to the client (allowed outside the 24-hour window)",
            body(Schema::json(|| {
                json!({"type": "object", "required": ["name"],
                    "properties": {"name": {"type": "string"},
                        "values": {"type": "array", "items": {"type": "string"}}}})
            })),
            &[POSTED],
            &[400, 401, 403, 404, 409, 413, 422],
        ),
    },
    Operation {
        method: "GET",
        path: "/api/v1/channels/{channel}",
        route: |p| Route::GetChannel {
            channel: p[0].into(),
        },
        access: Access::Admin,
        doc: Doc::new(
            "a channel's configuration, without secrets (admin)",
            None,
            &[ok(200, Body::Json(CHANNEL_VIEW))],
            &[401, 403, 404],
        ),
    },
    Operation {
        method: "PUT",
        path: "/api/v1/channels/{channel}",
        route: |p| Route::ConfigureChannel {
            channel: p[0].into(),
        },
        access: Access::Admin,
        doc: Doc::new(
            "configure a messaging channel: credentials and the group its clients wait in (admin)",
            body(CHANNEL_CONFIG),
            &[ok(200, Body::Json(CHANNEL_VIEW))],
            &[400, 401, 403, 404, 413, 422],
        ),
    },
    Operation {
        method: "GET",
        path: "/api/v1/client/messages",
        route: |_| Route::ClientMessages,
        access: Access::Client,
        doc: messages!(
            "the client's conversation",
            &[
                says(200, "messages", Body::Json(Schema::of::<wire::MessageList>())),
                says(401, "no token", Body::Error),
            ],
        ),
    },
    Operation {
        method: "POST",
        path: "/api/v1/client/messages",
        route: |_| Route::PostClientMessage,
        access: Access::Client,
        doc: Doc::new(
            "the client writes",
            POST_MESSAGE,
            &[POSTED],
            &[400, 401, 403, 409, 413, 422],
        ),
    },
    Operation {
        method: "POST",
        path: "/api/v1/client/pages",
        route: |_| Route::ClientPages,
        access: Access::Client,
        doc: Doc::new(
            "report a page view (browsing history)",
            body(Schema::of::<wire::ReportPage>()),
            &[ok(202, STATUS)],
            &[400, 401, 404, 413, 422],
        ),
    },
    Operation {
        method: "POST",
        path: "/api/v1/client/leave",
        route: |_| Route::ClientLeave,
        access: Access::Client,
        doc: Doc::new(
            "the client leaves the queue or ends its session",
            None,
            &[ok(200, STATUS)],
            &[401, 404],
        ),
    },
    Operation {
        method: "POST",
        path: "/api/v1/client/typing",
        route: |_| Route::ClientTyping,
        access: Access::Client,
        doc: Doc::new(
            "the client is typing: its operator sees it (over a WebSocket, `{\"type\":\"typing\"}` up the socket does the same)",
            None,
            &[RELAYED],
            &[401, 403, 404],
        ),
    },
    Operation {
        method: "GET",
        path: "/api/v1/client/events",
        route: |_| Route::ClientEvents,
        access: Access::Client,
        doc: events!("the client's events (WebSocket or Server-Sent Events)"),
    },
];

/// What the channel routes show of a configuration (`ChannelConfig::public` and the webhook's
/// path): never a secret.
const CHANNEL_VIEW: Schema = Schema::json(|| {
    json!({"type": "object", "required": ["channel", "group", "webhook", "owed", "next_attempt_at"],
        "properties": {"channel": {"type": "string", "enum": ["messenger", "whatsapp", "vk"]},
            "group": {"type": "string"}, "webhook": {"type": "string"}, "page_id": {"type": "string"},
            "phone_number_id": {"type": "string"}, "community_id": {"type": "string"},
            "api_base": {"type": "string"},
            "owed": {"type": "integer", "minimum": 0,
                "description": "calls to the provider (replies, profile lookups) stored and not yet settled by its answer; 0: nothing more will be sent"},
            "next_attempt_at": {"type": ["string", "null"], "format": "date-time",
                "description": "when the next owed call is due (a failed one waits out its retry pause)"}}})
});

/// A channel's configuration as `PUT /api/v1/channels/{channel}` takes it (the channel is the
/// path's): Messenger's, WhatsApp's or VK's.
const CHANNEL_CONFIG: Schema = Schema::json(|| {
    let obj = |props: &[&str], required: &[&str]| {
        let properties: serde_json::Map<String, Value> = props
            .iter()
            .map(|p| (p.to_string(), json!({"type": "string"})))
            .collect();
        json!({"type": "object", "properties": properties, "required": required})
    };
    json!({"oneOf": [
        obj(&["page_id", "app_secret", "verify_token", "page_access_token", "group", "api_base"],
            &["page_id", "app_secret", "verify_token", "page_access_token", "group"]),
        obj(&["phone_number_id", "app_secret", "verify_token", "access_token", "group", "api_base"],
            &["phone_number_id", "app_secret", "verify_token", "access_token", "group"]),
        obj(&["community_id", "confirmation", "secret", "access_token", "group", "api_base"],
            &["community_id", "confirmation", "secret", "access_token", "group"]),
    ]})
});

/// The schema of a path parameter: a string, or one of the values the route knows.
pub fn path_param_schema(name: &str) -> Value {
    match name {
        "channel" => json!({"type": "string", "enum": ["messenger", "whatsapp", "vk"]}),
        _ => json!({"type": "string"}),
    }
}

/// The values of a template's `{…}` segments in `segs`, when the path has its shape.
pub fn match_template<'a>(template: &str, segs: &[&'a str]) -> Option<Vec<&'a str>> {
    let parts: Vec<&str> = template.split('/').skip(1).collect();
    if parts.len() != segs.len() {
        return None;
    }
    let mut params = vec![];
    for (part, seg) in parts.iter().zip(segs) {
        if part.starts_with('{') {
            params.push(*seg);
        } else if part != seg {
            return None;
        }
    }
    Some(params)
}

/// A request path's segments (a trailing slash is ignored).
pub fn segments(path: &str) -> Vec<&str> {
    path.trim_end_matches('/').split('/').skip(1).collect()
}

/// Resolves a method and path against the table: the route, 405 with the methods the path
/// answers, or 404.
pub fn find(method: &str, path: &str) -> Result<Route, ApiError> {
    let segs = segments(path);
    let m = method.to_ascii_uppercase();
    let mut allow: Vec<&str> = vec![];
    for op in OPERATIONS {
        if let Some(params) = match_template(op.path, &segs) {
            if op.method == m {
                return Ok((op.route)(&params));
            }
            allow.push(op.method);
        }
    }
    if allow.is_empty() {
        Err(ApiError::NoRoute(path.to_string()))
    } else {
        Err(ApiError::method_not_allowed(m, &allow))
    }
}

/// Enough empty parameters for any template, to tell which entry yields a route.
const NO_PARAMS: [&str; 4] = [""; 4];

impl Route {
    /// This route's entry in the table.
    pub fn operation(&self) -> &'static Operation {
        let kind = std::mem::discriminant(self);
        OPERATIONS
            .iter()
            .find(|op| std::mem::discriminant(&(op.route)(&NO_PARAMS)) == kind)
            .expect("every route is in the table")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_has_one_entry_and_each_entry_its_own_route() {
        for (i, a) in OPERATIONS.iter().enumerate() {
            let route = (a.route)(&NO_PARAMS);
            assert!(
                std::ptr::eq(route.operation(), a),
                "{} {} yields the route of another entry",
                a.method,
                a.path
            );
            for b in &OPERATIONS[i + 1..] {
                assert!(
                    !(a.method == b.method && overlap(a.path, b.path)),
                    "{} {} and {} overlap",
                    a.method,
                    a.path,
                    b.path
                );
            }
        }
    }

    /// Could one request path match both templates?
    fn overlap(a: &str, b: &str) -> bool {
        let (a, b) = (segments(a), segments(b));
        a.len() == b.len()
            && a.iter()
                .zip(&b)
                .all(|(x, y)| x == y || x.starts_with('{') || y.starts_with('{'))
    }

    #[test]
    fn the_table_resolves_its_own_templates() {
        for op in OPERATIONS {
            let concrete = op.path.replace("{id}", "x_1").replace("{key}", "acme.k");
            let route = find(op.method, &concrete).unwrap();
            assert!(std::ptr::eq(route.operation(), op), "{}", op.path);
            assert_eq!(route.access(), op.access);
        }
    }

    #[test]
    fn a_path_without_the_method_answers_405_with_what_it_allows() {
        let e = find("DELETE", "/api/v1/sessions/s_1/messages").unwrap_err();
        assert_eq!(e.status(), 405);
        assert_eq!(e.headers(), vec![("Allow", "GET, POST".to_string())]);
        let e = find("POST", "/api/v1/channels/vk").unwrap_err();
        assert_eq!(e.headers(), vec![("Allow", "GET, PUT".to_string())]);
        assert_eq!(find("GET", "/api/v1/nothing").unwrap_err().status(), 404);
        assert_eq!(find("get", "/api/v1/queue/").unwrap(), Route::Queue);
    }
}
