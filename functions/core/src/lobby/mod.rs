//! One tenant's live state and every rule that changes it: configuration (groups, operators,
//! widgets), presence, the waiting queue, accept, redirect, leave, messages and close.
//!
//! It is event-sourced: [`Lobby::decide`] checks a [`Command`] against the state and answers
//! the [`Event`]s it causes, or a refusal; [`Lobby::apply`] folds an event into the state and
//! never fails. An adapter persists the events (its journal) before it acknowledges anything,
//! and rebuilds the state after a restart by loading a snapshot and applying the events after it.
//! Because `decide` reads and `apply` writes with no I/O in between, a coordinator that runs one
//! command at a time gives every race (two accepts of one client) exactly one winner.
//!
//! This file holds the model (the state, [`Command`], [`Event`]) and the dispatch; each feature
//! of the product decides its commands and folds its events in its own file: `administration`
//! (tenant, groups, operators, widgets), `queue` (presence, entry, accept, redirect, leave, and
//! the waiting queue's queries), `conversation` (messages, pages, tags, notes, close),
//! `invitation`, `offline` (the offline form's mail) and `channel` (messaging channels).

use std::collections::{BTreeMap, BTreeSet};

use lobby_wire::{Attachment, EntryKind, Page, PageView, Party, Presence, Role};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::channels::{ChannelConfig, Channels, DeliveryState, Inbound, StatusUpdate};
use crate::error::ApiError;
use crate::invitation::{Guard, Invitation};
use crate::outbox::Mail;

mod administration;
mod channel;
mod conversation;
mod invitation;
mod offline;
mod queue;

pub use channel::{inbound_key, Outbound, Outgoing, Recent, SentIds, MAX_SEEN, MAX_SENT_IDS};
pub(crate) use conversation::{message_key, sender_message_id};

pub use crate::time::Millis;

/// The chat limit of an operator for whom the admin set none.
pub const DEFAULT_CHAT_LIMIT: u32 = 3;
/// How many closed sessions a tenant keeps in memory for the preview's past sessions; the
/// journal keeps them all. Bounds the state (and its snapshot) whatever the tenant's history.
pub const MAX_CLOSED_SESSIONS: usize = 2_000;
/// How many accepts are remembered for wait estimates.
pub const MAX_RECENT_ACCEPTS: usize = 500;
/// The window of accepts a wait estimate looks at.
pub const ESTIMATE_WINDOW_MS: Millis = 30 * 60 * 1000;
/// How many page views of one client's visit are kept for the preview.
pub const MAX_PAGES_PER_SESSION: usize = 100;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tenant {
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Operator {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub groups: Vec<String>,
    pub chat_limit: u32,
    pub password_hash: String,
    #[serde(default)]
    pub presence: Presence,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Widget {
    pub id: String,
    pub key: String,
    pub name: String,
    pub group: String,
    pub allowed_origins: Vec<String>,
    pub offline_email: Option<String>,
    /// The entry buttons the widget shows.
    #[serde(default = "default_buttons")]
    pub buttons: Vec<EntryKind>,
    /// Which form fields the entry form asks for.
    #[serde(default)]
    pub form: FormRules,
}

pub fn default_buttons() -> Vec<EntryKind> {
    vec![EntryKind::Webchat, EntryKind::Video, EntryKind::Callback]
}

pub use lobby_wire::{FieldRule, FormRules};

/// Where a waiting client waits: in a group's queue, or for one operator only.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Group(String),
    Operator(String),
}

/// What a client told us, or what we learnt, at entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Details {
    pub language: Option<String>,
    pub browser: Option<String>,
    pub os: Option<String>,
    pub widget: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub page: Option<Page>,
    #[serde(default)]
    pub params: Map<String, Value>,
    /// Who this client is across visits (an e-mail, a phone, a channel user id), for the
    /// preview's past sessions.
    pub contact: Option<String>,
    /// For a client of a messaging channel: the provider's id of the user, where replies go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_user: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ClientState {
    Waiting {
        target: Target,
        /// Since when the client waits: its entry, kept through redirects.
        since: Millis,
        /// Breaks ties between equal `since`s: the order in which clients joined queues.
        /// A queue is ordered by `(since, order)`; positions are ranks of it.
        order: u64,
    },
    Active {
        operator: String,
        since: Millis,
    },
}

/// A client who is here now: waiting or being served. A closed or departed client leaves this
/// map; its session stays in [`Lobby::sessions`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Client {
    pub id: String,
    pub session: String,
    pub entry: EntryKind,
    pub details: Details,
    pub state: ClientState,
    pub entered_at: Millis,
}

/// Every session, live or closed: the conversation of one client visit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Session {
    pub id: String,
    pub client: String,
    pub entry: EntryKind,
    pub contact: Option<String>,
    pub started_at: Millis,
    pub closed_at: Option<Millis>,
    /// Every operator who served it, in order.
    pub operators: Vec<String>,
    /// The sequence number the next message gets (the first is 1).
    pub next_seq: u64,
    pub pages: Vec<PageView>,
    /// Labels operators put on the conversation.
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub notes: Vec<Note>,
    /// The latest senders' message keys with their seqs, to recognise retries.
    #[serde(default)]
    pub keys: Vec<(String, u64)>,
    /// When the client last wrote (WhatsApp's 24-hour window counts from it).
    #[serde(default)]
    pub last_client_at: Option<Millis>,
    /// What the channel's provider reported of operators' messages: by seq, the latest state
    /// (at most [`MAX_DELIVERY_REPORTS`]).
    #[serde(default)]
    pub delivery: Vec<(u64, DeliveryState, Option<String>)>,
}

/// How many delivery reports a session keeps.
pub const MAX_DELIVERY_REPORTS: usize = 500;

/// An operator's note on a client, shown in the preview and the Client tab.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Note {
    pub text: String,
    pub operator: String,
    pub at: Millis,
}

/// At most this many tags and notes per session.
pub const MAX_TAGS: usize = 50;
/// How many recent message keys a session remembers (retries come within seconds).
pub const MAX_MESSAGE_KEYS: usize = 100;
pub const MAX_NOTES: usize = 200;

/// A change of state. Persisted in order; applying them from an empty state gives the state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    TenantCreated {
        tenant: Tenant,
    },
    GroupCreated {
        group: Group,
    },
    OperatorCreated {
        operator: Operator,
    },
    WidgetCreated {
        widget: Widget,
    },
    PresenceChanged {
        operator: String,
        presence: Presence,
    },
    ClientEntered {
        client: String,
        session: String,
        entry: EntryKind,
        details: Details,
        target: Target,
        order: u64,
        /// Its position on arrival, so that a replayed event shows what the live one showed.
        position: u32,
    },
    ClientAccepted {
        client: String,
        session: String,
        operator: String,
        /// The queue it left.
        from: Target,
    },
    ClientRedirected {
        client: String,
        session: String,
        /// The queue it waited in, or the operator who served it.
        from: Redirected,
        to: Target,
        order: u64,
        /// Since when the client waits (its entry): it keeps its turn in the new queue.
        /// Absent from events journaled before the rule, which restarted the wait at the
        /// redirect; they replay as they happened.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        waiting_since: Option<Millis>,
        by: String,
        note: Option<String>,
        /// What the new queue shows of the client: its entry, details and position there.
        entry: EntryKind,
        details: Details,
        position: u32,
    },
    ClientLeft {
        client: String,
        session: String,
        from: Target,
    },
    MessagePosted {
        client: String,
        session: String,
        seq: u64,
        from: Party,
        /// The operator who wrote it, for operator messages; the serving operator otherwise.
        operator: Option<String>,
        text: String,
        #[serde(default)]
        attachments: Vec<Attachment>,
        /// The sender's idempotency key, if it gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    PageVisited {
        client: String,
        session: String,
        url: String,
        title: Option<String>,
    },
    Tagged {
        client: String,
        session: String,
        tag: String,
    },
    NoteAdded {
        client: String,
        session: String,
        text: String,
        operator: String,
    },
    OperatorUpdated {
        operator: String,
        name: Option<String>,
        groups: Option<Vec<String>>,
        chat_limit: Option<u32>,
    },
    InvitationCreated {
        invitation: Invitation,
    },
    /// An invitation code was entered (just before the client's `ClientEntered`).
    InvitationUsed {
        code: String,
    },
    /// The offline form was submitted: stored, and owed to the widget's e-mail address.
    OfflineReceived {
        widget: String,
        mail: Mail,
    },
    MailSent {
        id: String,
    },
    MailFailed {
        id: String,
        error: String,
        /// The next attempt, or `None` when given up.
        next_at: Option<Millis>,
    },
    /// An admin configured a messaging channel (credentials and the group its clients go to).
    ChannelConfigured {
        config: ChannelConfig,
    },
    /// A call to a channel provider is owed (an operator's reply, a profile lookup).
    OutboundQueued {
        item: Outgoing,
    },
    /// The provider took it; `provider_id` is its id of the message, when it gave one.
    OutboundSent {
        id: String,
        #[serde(default)]
        provider_id: Option<String>,
    },
    /// An attempt failed: retried at `next_at`, or given up when `None`.
    OutboundFailed {
        id: String,
        error: String,
        next_at: Option<Millis>,
    },
    /// A channel client's name became known (profile lookup).
    ClientRenamed {
        client: String,
        session: String,
        name: String,
    },
    /// The provider reports what became of an operator's message.
    DeliveryUpdated {
        session: String,
        seq: u64,
        state: DeliveryState,
        #[serde(default)]
        error: Option<String>,
    },
    /// A provider delivery id (VK's `event_id`) was handled; its retries change nothing.
    InboundSeen {
        key: String,
    },
    SessionClosed {
        client: String,
        session: String,
        /// Who served it when it closed, if anyone.
        operator: Option<String>,
        /// The queue it was waiting in, if it closed while waiting.
        waiting_in: Option<Target>,
        by: Party,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Redirected {
    Queue(Target),
    Operator(String),
}

impl Event {
    /// The client and session an event concerns, for the journal's indexes.
    pub fn subject(&self) -> (Option<&str>, Option<&str>) {
        match self {
            Event::ClientEntered {
                client, session, ..
            }
            | Event::ClientAccepted {
                client, session, ..
            }
            | Event::ClientRedirected {
                client, session, ..
            }
            | Event::ClientLeft {
                client, session, ..
            }
            | Event::MessagePosted {
                client, session, ..
            }
            | Event::PageVisited {
                client, session, ..
            }
            | Event::Tagged {
                client, session, ..
            }
            | Event::NoteAdded {
                client, session, ..
            }
            | Event::SessionClosed {
                client, session, ..
            }
            | Event::ClientRenamed {
                client, session, ..
            } => (Some(client), Some(session)),
            _ => (None, None),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Event::TenantCreated { .. } => "tenant_created",
            Event::GroupCreated { .. } => "group_created",
            Event::OperatorCreated { .. } => "operator_created",
            Event::WidgetCreated { .. } => "widget_created",
            Event::PresenceChanged { .. } => "presence_changed",
            Event::ClientEntered { .. } => "client_entered",
            Event::ClientAccepted { .. } => "client_accepted",
            Event::ClientRedirected { .. } => "client_redirected",
            Event::ClientLeft { .. } => "client_left",
            Event::MessagePosted { .. } => "message_posted",
            Event::PageVisited { .. } => "page_visited",
            Event::Tagged { .. } => "tagged",
            Event::NoteAdded { .. } => "note_added",
            Event::OperatorUpdated { .. } => "operator_updated",
            Event::InvitationCreated { .. } => "invitation_created",
            Event::InvitationUsed { .. } => "invitation_used",
            Event::OfflineReceived { .. } => "offline_received",
            Event::MailSent { .. } => "mail_sent",
            Event::MailFailed { .. } => "mail_failed",
            Event::SessionClosed { .. } => "session_closed",
            Event::ChannelConfigured { .. } => "channel_configured",
            Event::OutboundQueued { .. } => "outbound_queued",
            Event::OutboundSent { .. } => "outbound_sent",
            Event::OutboundFailed { .. } => "outbound_failed",
            Event::ClientRenamed { .. } => "client_renamed",
            Event::DeliveryUpdated { .. } => "delivery_updated",
            Event::InboundSeen { .. } => "inbound_seen",
        }
    }
}

/// Who writes a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Author {
    Client,
    Operator(String),
    System,
}

/// Who ends a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closer {
    Client,
    Operator(String),
}

/// A request to change the state. Ids and time come from the caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    CreateTenant {
        tenant: Tenant,
        admin: Operator,
    },
    CreateGroup(Group),
    CreateOperator(Operator),
    /// An admin changes an operator's name, groups or chat limit.
    UpdateOperator {
        operator: String,
        name: Option<String>,
        groups: Option<Vec<String>>,
        chat_limit: Option<u32>,
    },
    /// An operator who may see the client tags its conversation.
    Tag {
        client: String,
        tag: String,
    },
    Note {
        client: String,
        operator: String,
        text: String,
    },
    CreateWidget(Widget),
    SetPresence {
        operator: String,
        presence: Presence,
    },
    Enter {
        client: String,
        session: String,
        entry: EntryKind,
        details: Details,
        target: Target,
    },
    Accept {
        operator: String,
        client: String,
    },
    Redirect {
        operator: String,
        client: String,
        to: Target,
        note: Option<String>,
    },
    /// A client enters with an invitation code and waits for the operator who made it.
    EnterByInvitation {
        client: String,
        session: String,
        details: Details,
        code: String,
    },
    CreateInvitation(Invitation),
    /// The offline form: store the message and owe it to the widget's address.
    ReceiveOffline {
        widget: String,
        mail: Mail,
    },
    /// The adapter reports how sending an owed e-mail went.
    MailSent {
        id: String,
    },
    MailFailed {
        id: String,
        error: String,
    },
    /// The client goes away (closes the widget): out of the queue, or ends its session.
    Leave {
        client: String,
    },
    PostMessage {
        session: String,
        author: Author,
        text: String,
        attachments: Vec<Attachment>,
        /// The sender's id for this message: a retry with the same key is the same message.
        key: Option<String>,
    },
    VisitPage {
        client: String,
        url: String,
        title: Option<String>,
    },
    Close {
        session: String,
        by: Closer,
    },
    /// An admin sets a channel's configuration (replacing the previous one).
    ConfigureChannel(ChannelConfig),
    /// A channel user wrote: a first message makes a waiting client (with these ids), later
    /// ones join its conversation; a provider retry changes nothing.
    ChannelMessage {
        inbound: Inbound,
        client: String,
        session: String,
        /// The provider's id of the whole delivery (VK `event_id`), when it has one.
        delivery: Option<String>,
    },
    /// A provider reports what became of messages an operator sent.
    ChannelStatus(StatusUpdate),
    /// The serving operator sends a configured WhatsApp template.
    SendTemplate {
        session: String,
        operator: String,
        name: String,
        values: Vec<String>,
    },
    /// The adapter reports how a call to a provider went: its HTTP status and body, or
    /// (`status` 0) why there was no answer at all.
    OutboundResult {
        id: String,
        status: u16,
        body: Vec<u8>,
        error: Option<String>,
    },
}

/// The state of one tenant.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct Lobby {
    pub tenant: Option<Tenant>,
    pub groups: BTreeMap<String, Group>,
    pub operators: BTreeMap<String, Operator>,
    pub widgets: BTreeMap<String, Widget>,
    pub clients: BTreeMap<String, Client>,
    pub sessions: BTreeMap<String, Session>,
    /// Invitation codes not yet expired at the last creation (expired ones are pruned then).
    #[serde(default)]
    pub invitations: BTreeMap<String, Invitation>,
    /// E-mails owed and not sent yet.
    #[serde(default)]
    pub outbox: BTreeMap<String, Mail>,
    /// The messaging channels' configurations.
    #[serde(default)]
    pub channels: Channels,
    /// Calls to channel providers owed and not done yet.
    #[serde(default)]
    pub outgoing: BTreeMap<String, Outgoing>,
    /// Recently handled provider message and delivery ids (retries change nothing).
    #[serde(default)]
    pub seen: Recent,
    /// Provider ids of recently sent operator messages → (session, seq), for status reports.
    #[serde(default)]
    pub sent_ids: SentIds,
    /// When recent clients were accepted from each queue (for honest wait estimates).
    #[serde(default)]
    pub recent_accepts: Vec<(Target, Millis)>,
    /// Closed sessions kept in memory, oldest first (at most [`MAX_CLOSED_SESSIONS`]).
    #[serde(default)]
    closed: std::collections::VecDeque<String>,
    next_order: u64,
    /// Wrong invitation codes, in memory only (see [`Guard`]).
    #[serde(skip)]
    pub guard: Guard,
    /// Derived indexes, rebuilt by [`Lobby::reindex`] after loading a snapshot.
    #[serde(skip)]
    index: Index,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Index {
    /// Each queue's waiting clients by how long they wait: `(since, order)`.
    queues: BTreeMap<Target, BTreeMap<(Millis, u64), String>>,
    /// Each operator's active clients.
    active: BTreeMap<String, BTreeSet<String>>,
    email: BTreeMap<String, String>,
    widget_key: BTreeMap<String, String>,
}

impl Lobby {
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds the derived indexes; call after deserializing a snapshot.
    pub fn reindex(&mut self) {
        let mut index = Index::default();
        for c in self.clients.values() {
            match &c.state {
                ClientState::Waiting {
                    target,
                    since,
                    order,
                } => {
                    index
                        .queues
                        .entry(target.clone())
                        .or_default()
                        .insert((*since, *order), c.id.clone());
                }
                ClientState::Active { operator, .. } => {
                    index
                        .active
                        .entry(operator.clone())
                        .or_default()
                        .insert(c.id.clone());
                }
            }
        }
        for o in self.operators.values() {
            index
                .email
                .insert(o.email.trim().to_lowercase(), o.id.clone());
        }
        for w in self.widgets.values() {
            index.widget_key.insert(w.key.clone(), w.id.clone());
        }
        self.index = index;
        self.seen.reindex();
        self.sent_ids.reindex();
    }

    // ------------------------------------------------------------------ queries

    pub fn operator_by_email(&self, email: &str) -> Option<&Operator> {
        self.index
            .email
            .get(&email.trim().to_lowercase())
            .and_then(|id| self.operators.get(id))
    }

    pub fn widget_by_key(&self, key: &str) -> Option<&Widget> {
        self.index
            .widget_key
            .get(key)
            .and_then(|id| self.widgets.get(id))
    }

    pub fn client_by_session(&self, session: &str) -> Option<&Client> {
        self.sessions
            .get(session)
            .and_then(|s| self.clients.get(&s.client))
    }

    // ------------------------------------------------------------------ commands

    /// Checks a command and answers the events it causes; changes nothing. Each feature of the
    /// product decides its own commands (one file each).
    pub fn decide(&self, cmd: &Command, at: Millis) -> Result<Vec<Event>, ApiError> {
        match cmd {
            Command::CreateTenant { .. }
            | Command::CreateGroup(_)
            | Command::CreateOperator(_)
            | Command::UpdateOperator { .. }
            | Command::CreateWidget(_) => self.decide_administration(cmd),
            Command::SetPresence { .. }
            | Command::Enter { .. }
            | Command::Accept { .. }
            | Command::Redirect { .. }
            | Command::Leave { .. } => self.decide_queue(cmd, at),
            Command::Tag { .. }
            | Command::Note { .. }
            | Command::PostMessage { .. }
            | Command::VisitPage { .. }
            | Command::Close { .. } => self.decide_conversation(cmd, at),
            Command::EnterByInvitation { .. } | Command::CreateInvitation(_) => {
                self.decide_invitation(cmd, at)
            }
            Command::ReceiveOffline { .. }
            | Command::MailSent { .. }
            | Command::MailFailed { .. } => self.decide_offline(cmd, at),
            Command::ConfigureChannel(_)
            | Command::ChannelMessage { .. }
            | Command::ChannelStatus(_)
            | Command::SendTemplate { .. }
            | Command::OutboundResult { .. } => self.decide_channel(cmd, at),
        }
    }

    /// Folds one event into the state. `at` is when it happened.
    pub fn apply(&mut self, event: &Event, at: Millis) {
        match event {
            Event::TenantCreated { .. }
            | Event::GroupCreated { .. }
            | Event::OperatorCreated { .. }
            | Event::WidgetCreated { .. }
            | Event::OperatorUpdated { .. } => self.apply_administration(event),
            Event::PresenceChanged { .. }
            | Event::ClientEntered { .. }
            | Event::ClientAccepted { .. }
            | Event::ClientRedirected { .. }
            | Event::ClientLeft { .. }
            | Event::SessionClosed { .. } => self.apply_queue(event, at),
            Event::Tagged { .. }
            | Event::NoteAdded { .. }
            | Event::MessagePosted { .. }
            | Event::PageVisited { .. } => self.apply_conversation(event, at),
            Event::InvitationCreated { .. } | Event::InvitationUsed { .. } => {
                self.apply_invitation(event, at)
            }
            Event::OfflineReceived { .. } | Event::MailSent { .. } | Event::MailFailed { .. } => {
                self.apply_offline(event)
            }
            Event::ChannelConfigured { .. }
            | Event::OutboundQueued { .. }
            | Event::OutboundSent { .. }
            | Event::OutboundFailed { .. }
            | Event::ClientRenamed { .. }
            | Event::DeliveryUpdated { .. }
            | Event::InboundSeen { .. } => self.apply_channel(event, at),
        }
    }

    /// Decides and applies: the events that happened, or why nothing did.
    pub fn handle(&mut self, cmd: &Command, at: Millis) -> Result<Vec<Event>, ApiError> {
        let events = self.decide(cmd, at)?;
        for e in &events {
            self.apply(e, at);
        }
        Ok(events)
    }

    // ------------------------------------------------------------------ lookups

    pub fn operator(&self, id: &str) -> Result<&Operator, ApiError> {
        self.operators
            .get(id)
            .ok_or_else(|| ApiError::not_found(format!("operator {id}")))
    }

    pub fn group(&self, id: &str) -> Result<&Group, ApiError> {
        self.groups
            .get(id)
            .ok_or_else(|| ApiError::not_found(format!("group {id}")))
    }

    pub fn client(&self, id: &str) -> Result<&Client, ApiError> {
        self.clients
            .get(id)
            .ok_or_else(|| ApiError::not_found(format!("waiting or active client {id}")))
    }

    /// The client of a session that is still going on.
    pub fn live_session(&self, session: &str) -> Result<&Client, ApiError> {
        match self.sessions.get(session) {
            None => Err(ApiError::not_found(format!("session {session}"))),
            Some(s) if s.closed_at.is_some() => {
                Err(ApiError::Conflict("this session has ended".into()))
            }
            Some(s) => self.client(&s.client),
        }
    }

    pub(crate) fn next_order(&self) -> u64 {
        self.next_order
    }

    pub(crate) fn check_target(&self, target: &Target) -> Result<(), ApiError> {
        match target {
            Target::Group(g) => self.group(g).map(|_| ()),
            Target::Operator(o) => self.operator(o).map(|_| ()),
        }
    }
}
