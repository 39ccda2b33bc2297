//! The wire format of Lobby: every JSON body of the HTTP API (served as `/api/v1/openapi.json`) and every
//! WebSocket event, as plain serde types. The functions, the operator app, the widget and the
//! end-to-end tests all use these, so a change of the protocol breaks the build, not production.
//!
//! Requests are parsed with `deny_unknown_fields` nowhere: clients may send more than we read.
//! Optional fields are `Option`, so a missing required field is a 422 at the edge.
//!
//! With the `schema` feature every type also derives `schemars::JsonSchema`: the served OpenAPI
//! document's schemas are generated from these very types (natively, by lobby-core's tests), so
//! a field added here shows in the contract once the document is regenerated.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The error body every 4xx/5xx carries: `{"error": {"code", "message"}}`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

// ---------------------------------------------------------------- health

/// `GET /healthz`: the server is up, and how its event routes (`/api/v1/operator/events`,
/// `/api/v1/client/events`) deliver events, so that the operator app and the widget open the
/// right kind of stream.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Health {
    pub status: String,
    /// Absent from servers older than this field: they spoke WebSocket only.
    #[serde(default)]
    pub events: EventTransport,
}

/// How a runtime delivers live events. Both carry the same JSON frames (`OperatorEvent`,
/// `ClientEvent`) and resume after the same sequence numbers (`after=N`).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum EventTransport {
    /// A WebSocket (Cloudflare): frames both ways, so pings and typing go up it too.
    #[default]
    Websocket,
    /// Server-Sent Events, `text/event-stream` (Spin: no inbound WebSockets): frames down only;
    /// each journaled frame carries its sequence number as `id:`, so an `EventSource` resumes
    /// with `Last-Event-ID`.
    Sse,
}

// ---------------------------------------------------------------- platform, tenants, auth

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CreateTenant {
    pub slug: String,
    pub name: String,
    pub admin: NewAdmin,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NewAdmin {
    pub email: String,
    pub password: String,
    pub name: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TenantCreated {
    pub tenant: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Login {
    pub tenant: String,
    pub email: String,
    pub password: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoggedIn {
    pub token: String,
    pub operator: OperatorRef,
    /// When the token stops being accepted (RFC 3339).
    pub expires_at: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OperatorRef {
    pub id: String,
    pub name: String,
    pub role: Role,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Operator,
}

// ---------------------------------------------------------------- administration

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CreateGroup {
    pub name: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Created {
    pub id: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CreateOperator {
    pub email: String,
    pub password: String,
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub limits: Option<Limits>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Limits {
    /// How many chat-like sessions the operator serves at once.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub chat: u32,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CreateWidget {
    pub name: String,
    pub group: String,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub offline_email: Option<String>,
    /// The entry buttons to show (default: webchat, video, callback).
    #[serde(default)]
    pub buttons: Option<Vec<EntryKind>>,
    #[serde(default)]
    pub form: Option<FormRules>,
}

/// Per field of the widget's entry form: required, optional, or not asked.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum FieldRule {
    Required,
    #[default]
    Optional,
    Hidden,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct FormRules {
    #[serde(default)]
    pub name: FieldRule,
    #[serde(default)]
    pub phone: FieldRule,
    #[serde(default)]
    pub email: FieldRule,
}

/// `GET /api/v1/widgets/{key}/config`: what the embed loader and the widget draw.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WidgetConfig {
    pub name: String,
    pub buttons: Vec<EntryKind>,
    pub form: FormRules,
    /// Is an operator of the widget's group online? If not, Chat and Callback offer the
    /// offline form.
    pub online: bool,
    pub languages: Vec<String>,
}

/// `POST /api/v1/widgets/{key}/offline`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OfflineMessage {
    #[serde(default)]
    pub form: Form,
    pub message: String,
    /// The page the client writes from, as an entry carries it: the mail shows it to whoever
    /// answers, as the queue would have.
    #[serde(default)]
    pub page: Option<Page>,
    /// The language the widget speaks with the client (else the browser's `Accept-Language`).
    #[serde(default)]
    pub language: Option<String>,
}

/// `POST /api/v1/invitations` (body optional).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct CreateInvitation {
    /// Seconds until the code expires (60..86400, default 600).
    #[serde(default)]
    pub expires_in: Option<i64>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InvitationCreated {
    pub code: String,
    pub expires_at: String,
}

/// `PUT /api/v1/operators/{id}`: what an admin changes; absent fields stay as they are.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct UpdateOperator {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub groups: Option<Vec<String>>,
    #[serde(default)]
    pub limits: Option<Limits>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AddTag {
    pub tag: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AddNote {
    pub text: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WidgetCreated {
    pub id: String,
    pub key: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GroupInfo {
    pub id: String,
    pub name: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OperatorInfo {
    pub id: String,
    /// The operator's sign-in name: shown to admins and to the operator itself, absent from a
    /// colleague's entry in the operators list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub name: String,
    pub role: Role,
    pub groups: Vec<String>,
    pub limits: Limits,
    pub status: Presence,
    /// Active sessions right now.
    pub load: u32,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WidgetInfo {
    pub id: String,
    pub key: String,
    pub name: String,
    pub group: String,
    pub allowed_origins: Vec<String>,
    pub offline_email: Option<String>,
    pub buttons: Vec<EntryKind>,
    pub form: FormRules,
    /// Offline-form messages of this widget not yet accepted by the mail service (still being
    /// tried; a mail given up no longer counts).
    #[serde(default)]
    pub offline_owed: usize,
}

// ---------------------------------------------------------------- operators

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Online,
    Away,
    #[default]
    Offline,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SetStatus {
    pub status: Presence,
}

/// How a client came in. The queue shows it as an icon.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Webchat,
    Video,
    Callback,
    Invitation,
    Messenger,
    Whatsapp,
    Apple,
    Vk,
    Phone,
}

impl EntryKind {
    /// A video or phone call takes the operator's whole attention: it is served alone.
    pub fn is_exclusive(self) -> bool {
        matches!(self, EntryKind::Video | EntryKind::Phone)
    }

    /// The channel a kind of entry arrives by.
    pub fn channel(self) -> &'static str {
        match self {
            EntryKind::Webchat | EntryKind::Video | EntryKind::Callback | EntryKind::Invitation => {
                "widget"
            }
            EntryKind::Messenger => "messenger",
            EntryKind::Whatsapp => "whatsapp",
            EntryKind::Apple => "apple",
            EntryKind::Vk => "vk",
            EntryKind::Phone => "phone",
        }
    }
}

/// One waiting client as an operator's queue shows it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueueItem {
    pub id: String,
    pub entry: EntryKind,
    pub channel: String,
    pub language: Option<String>,
    pub browser: Option<String>,
    pub os: Option<String>,
    /// The widget's name (what the operator reads), with its id in `widget_id`.
    pub widget: Option<String>,
    pub widget_id: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// The group it waits in; `None` when it waits for one operator only.
    pub group: Option<String>,
    /// The operator it waits for, when directed (invitation, redirect to an operator).
    pub operator: Option<String>,
    /// When the client entered (RFC 3339); a redirect keeps it, and a queue is ordered by it.
    pub waiting_since: String,
    pub position: u32,
    pub session: String,
    pub page: Option<Page>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueueList {
    pub clients: Vec<QueueItem>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Accepted {
    pub session: String,
}

/// `{"group": id}` or `{"operator": id}`, with an optional note for the next operator.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Redirect {
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub operator: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    Client,
    Operator,
    System,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Message {
    pub seq: u64,
    pub from: Party,
    pub text: String,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    pub at: String,
    /// For an operator's message to a messaging-channel client: what the provider last reported
    /// (`sent`, `delivered`, `read`, `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(extend("enum" = ["sent", "delivered", "read", "failed"]))
    )]
    pub delivery: Option<String>,
    /// For an operator's message: who wrote it. After a redirect a conversation holds messages
    /// of several operators, and each shows its own author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<MessageAuthor>,
    /// The `client_message_id` its sender posted it with, so that the sender can tell which of
    /// its pending messages this one is (two identical texts in a row are two messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_message_id: Option<String>,
}

/// The operator who wrote a message: its id, and its name as the tenant knows it now (a
/// renamed operator's earlier messages show the new name, as its notes do).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MessageAuthor {
    pub id: String,
    pub name: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Attachment {
    pub url: String,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MessageList {
    pub messages: Vec<Message>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PostMessage {
    pub text: String,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// Optional, chosen by the sender: sending the same message again with the same id (a
    /// retry after a lost answer) stores it once and answers the same `seq`.
    #[serde(default)]
    pub client_message_id: Option<String>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Posted {
    pub seq: u64,
    /// The `client_message_id` of the request, when it gave one (also on a retry's answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_message_id: Option<String>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Page {
    pub url: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub referrer: Option<String>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PageView {
    pub url: String,
    #[serde(default)]
    pub title: Option<String>,
    pub at: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PastSession {
    pub session: String,
    pub entry: EntryKind,
    pub started_at: String,
    pub closed_at: Option<String>,
    pub operator: Option<String>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Note {
    pub text: String,
    pub operator: String,
    pub at: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Preview {
    pub client: ClientInfo,
    pub past_sessions: Vec<PastSession>,
    pub browsing_history: Vec<PageView>,
    pub tags: Vec<String>,
    pub call_parameters: Map<String, Value>,
    pub notes: Vec<Note>,
    pub messages: Vec<Message>,
}

/// Everything known of one client (the preview's first section and the Client tab's header).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClientInfo {
    pub id: String,
    pub session: String,
    pub entry: EntryKind,
    pub channel: String,
    pub status: ClientStatus,
    pub language: Option<String>,
    pub browser: Option<String>,
    pub os: Option<String>,
    pub widget: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub group: Option<String>,
    pub operator: Option<String>,
    pub page: Option<Page>,
    pub entered_at: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ClientStatus {
    Waiting,
    Active,
    Closed,
    Offline,
}

// ---------------------------------------------------------------- clients (widget)

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Form {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WidgetEntry {
    pub entry: EntryKind,
    #[serde(default)]
    pub form: Form,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub page: Option<Page>,
    #[serde(default)]
    pub params: Map<String, Value>,
    #[serde(default)]
    pub code: Option<String>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EntryAccepted {
    pub client: String,
    pub token: String,
    pub status: ClientStatus,
    pub position: u32,
    pub session: String,
    /// `None` when there is not enough recent data to estimate honestly.
    #[serde(default)]
    pub estimated_wait_seconds: Option<u32>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReportPage {
    pub url: String,
    #[serde(default)]
    pub title: Option<String>,
}

// ---------------------------------------------------------------- events

/// What an operator's WebSocket carries. `seq` is the tenant's event sequence number: a
/// reconnecting operator passes the last one it saw as `after` and receives what it missed.
/// Each journal event gives an operator at most one frame, so a frame implies what goes with
/// it: `session_started` also takes the client out of the queue; `client_waiting` for a client
/// this operator was serving (redirected back into a queue it sees) also ends that session.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // built, sent and dropped one at a time
pub enum OperatorEvent {
    /// First frame after connecting: the sequence number the replay starts from.
    Hello { seq: u64 },
    /// A client this operator may serve is waiting (new, or redirected here).
    ClientWaiting { seq: u64, client: QueueItem },
    /// A client left this operator's queue: accepted (by anyone), redirected away, or gone.
    ClientRemoved {
        seq: u64,
        client: String,
        reason: RemovedReason,
        /// Who accepted it, when `reason` is `accepted`.
        operator: Option<String>,
    },
    /// This operator now serves a session (it accepted, or a client was handed over).
    SessionStarted {
        seq: u64,
        session: String,
        client: String,
    },
    /// A message in one of this operator's sessions.
    Message {
        seq: u64,
        session: String,
        message: Message,
    },
    /// One of this operator's sessions ended.
    SessionClosed {
        seq: u64,
        session: String,
        by: Party,
    },
    /// The client of one of this operator's sessions is typing (not journaled: no seq).
    Typing { session: String },
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RemovedReason {
    Accepted,
    Redirected,
    Left,
    Closed,
}

/// What a client's WebSocket carries.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientEvent {
    /// First frame after connecting: where the client stands now.
    Status {
        status: ClientStatus,
        position: Option<u32>,
        session: String,
        #[serde(default)]
        estimated_wait_seconds: Option<u32>,
        /// The serving operator's name, when active.
        #[serde(default)]
        operator: Option<String>,
    },
    Position {
        position: u32,
        #[serde(default)]
        estimated_wait_seconds: Option<u32>,
    },
    /// The other side is typing (not journaled, not resumed).
    Typing {
        from: Party,
    },
    Accepted {
        session: String,
        operator: String,
    },
    /// Back in the queue after a redirect.
    Redirected {
        position: u32,
    },
    Message {
        message: Message,
    },
    Closed {
        by: Party,
    },
}
