//! One tenant's live state and every rule that changes it: configuration (groups, operators,
//! widgets), presence, the waiting queue, accept, redirect, leave, messages and close.
//!
//! It is event-sourced: [`Lobby::decide`] checks a [`Command`] against the state and answers
//! the [`Event`]s it causes, or a refusal; [`Lobby::apply`] folds an event into the state and
//! never fails. An adapter persists the events (its journal) before it acknowledges anything,
//! and rebuilds the state after a restart by loading a snapshot and applying the events after it.
//! Because `decide` reads and `apply` writes with no I/O in between, a coordinator that runs one
//! command at a time gives every race (two accepts of one client) exactly one winner.

use std::collections::{BTreeMap, BTreeSet};

use lobby_wire::{Attachment, EntryKind, Page, PageView, Party, Presence, Role};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::capacity;
use crate::channels::desk::{Outgoing, Recent, SentIds};
use crate::channels::{ChannelConfig, Channels, DeliveryState, Inbound, StatusUpdate};
use crate::error::ApiError;
use crate::invitation::{Guard, Invitation};
use crate::outbox::{self, Mail};

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

    /// Ids of the clients an operator serves now.
    pub fn active_clients(&self, operator: &str) -> impl Iterator<Item = &Client> {
        self.index
            .active
            .get(operator)
            .into_iter()
            .flatten()
            .filter_map(|id| self.clients.get(id))
    }

    pub fn load(&self, operator: &str) -> u32 {
        self.index
            .active
            .get(operator)
            .map_or(0, |s| s.len() as u32)
    }

    fn active_kinds(&self, operator: &str) -> Vec<EntryKind> {
        self.active_clients(operator).map(|c| c.entry).collect()
    }

    /// May this operator serve clients waiting in `target`?
    pub fn serves(&self, operator: &Operator, target: &Target) -> bool {
        match target {
            Target::Group(g) => operator.groups.iter().any(|x| x == g),
            Target::Operator(o) => *o == operator.id,
        }
    }

    /// Operators who see a queue.
    pub fn operators_serving<'a>(
        &'a self,
        target: &'a Target,
    ) -> impl Iterator<Item = &'a Operator> {
        self.operators
            .values()
            .filter(move |o| self.serves(o, target))
    }

    /// Is anyone online to take a client in this queue? (Else the widget offers the offline form.)
    pub fn anyone_online(&self, target: &Target) -> bool {
        self.operators_serving(target)
            .any(|o| o.presence == Presence::Online)
    }

    /// The waiting clients of one queue, longest waiting first (position = index + 1).
    pub fn queue(&self, target: &Target) -> impl Iterator<Item = &Client> {
        self.index
            .queues
            .get(target)
            .into_iter()
            .flat_map(|q| q.values())
            .filter_map(|id| self.clients.get(id))
    }

    /// An honest estimate of how long the client at `position` will still wait: the queue's
    /// accept rate over the last half hour, if at least three clients were accepted from it
    /// then; otherwise `None` (not enough to go on).
    pub fn estimated_wait_seconds(
        &self,
        target: &Target,
        position: u32,
        now: Millis,
    ) -> Option<u32> {
        let since = now - ESTIMATE_WINDOW_MS;
        let times: Vec<Millis> = self
            .recent_accepts
            .iter()
            .filter(|(t, at)| t == target && *at > since)
            .map(|(_, at)| *at)
            .collect();
        if times.len() < 3 {
            return None;
        }
        let span = (now - times[0]).max(1000);
        let per_client_ms = span as f64 / times.len() as f64;
        // Rounded up: "0 seconds" would promise what no queue keeps.
        Some(((per_client_ms * position as f64 / 1000.0).ceil() as u32).max(1))
    }

    /// How many clients wait in a queue.
    pub fn queue_len(&self, target: &Target) -> u32 {
        self.index.queues.get(target).map_or(0, |q| q.len() as u32)
    }

    /// A waiting client's 1-based position in its queue.
    pub fn position(&self, client: &Client) -> Option<u32> {
        let ClientState::Waiting {
            target,
            since,
            order,
        } = &client.state
        else {
            return None;
        };
        let q = self.index.queues.get(target)?;
        Some(q.range(..(*since, *order)).count() as u32 + 1)
    }

    /// The position a client waiting since `since` gets on joining `target` now.
    pub fn joining_position(&self, target: &Target, since: Millis) -> u32 {
        let ahead = self
            .index
            .queues
            .get(target)
            .map_or(0, |q| q.range(..(since, self.next_order)).count() as u32);
        ahead + 1
    }

    /// Every queue an operator sees, merged in order of waiting time.
    pub fn queue_for(&self, operator: &Operator) -> Vec<(&Client, u32)> {
        let mut out: Vec<(&Client, u32)> = Vec::new();
        for target in self.index.queues.keys() {
            if self.serves(operator, target) {
                out.extend(self.queue(target).zip(1..));
            }
        }
        out.sort_by_key(|(c, _)| match &c.state {
            ClientState::Waiting { since, order, .. } => (*since, *order),
            ClientState::Active { since, .. } => (*since, 0),
        });
        out
    }

    pub fn client_by_session(&self, session: &str) -> Option<&Client> {
        self.sessions
            .get(session)
            .and_then(|s| self.clients.get(&s.client))
    }

    // ------------------------------------------------------------------ commands

    /// Checks a command and answers the events it causes; changes nothing.
    pub fn decide(&self, cmd: &Command, at: Millis) -> Result<Vec<Event>, ApiError> {
        match cmd {
            Command::ConfigureChannel(_)
            | Command::ChannelMessage { .. }
            | Command::ChannelStatus(_)
            | Command::SendTemplate { .. }
            | Command::OutboundResult { .. } => self.decide_channel(cmd, at),
            Command::EnterByInvitation {
                client,
                session,
                details,
                code,
            } => {
                let inv = self.invitations.get(code).ok_or_else(|| {
                    ApiError::InvalidCode("this invitation code is not valid".into())
                })?;
                if inv.used {
                    return Err(ApiError::CodeUsed);
                }
                if inv.expires_at <= at {
                    return Err(ApiError::CodeExpired);
                }
                let mut events = vec![Event::InvitationUsed { code: code.clone() }];
                events.extend(self.decide(
                    &Command::Enter {
                        client: client.clone(),
                        session: session.clone(),
                        entry: EntryKind::Invitation,
                        details: details.clone(),
                        target: Target::Operator(inv.operator.clone()),
                    },
                    at,
                )?);
                Ok(events)
            }
            Command::CreateInvitation(inv) => {
                self.operator(&inv.operator)?;
                if self
                    .invitations
                    .get(&inv.code)
                    .is_some_and(|i| i.expires_at > at)
                {
                    return Err(ApiError::Conflict("this code is in use".into()));
                }
                Ok(vec![Event::InvitationCreated {
                    invitation: inv.clone(),
                }])
            }
            Command::ReceiveOffline { widget, mail } => {
                self.widgets
                    .get(widget)
                    .ok_or_else(|| ApiError::not_found(format!("widget {widget}")))?;
                Ok(vec![Event::OfflineReceived {
                    widget: widget.clone(),
                    mail: mail.clone(),
                }])
            }
            Command::MailSent { id } => {
                self.outbox
                    .get(id)
                    .ok_or_else(|| ApiError::not_found(format!("mail {id}")))?;
                Ok(vec![Event::MailSent { id: id.clone() }])
            }
            Command::MailFailed { id, error } => {
                let m = self
                    .outbox
                    .get(id)
                    .ok_or_else(|| ApiError::not_found(format!("mail {id}")))?;
                Ok(vec![Event::MailFailed {
                    id: id.clone(),
                    error: error.clone(),
                    next_at: outbox::next_attempt(m.attempts + 1, at),
                }])
            }
            Command::CreateTenant { tenant, admin } => {
                if self.tenant.is_some() {
                    return Err(ApiError::TenantExists);
                }
                Ok(vec![
                    Event::TenantCreated {
                        tenant: tenant.clone(),
                    },
                    Event::OperatorCreated {
                        operator: admin.clone(),
                    },
                ])
            }
            Command::CreateGroup(group) => {
                if self.groups.contains_key(&group.id) {
                    return Err(ApiError::Conflict("a group with this id exists".into()));
                }
                Ok(vec![Event::GroupCreated {
                    group: group.clone(),
                }])
            }
            Command::CreateOperator(op) => {
                if self.operator_by_email(&op.email).is_some() {
                    return Err(ApiError::Conflict(format!(
                        "an operator with e-mail {} exists",
                        op.email
                    )));
                }
                if self.operators.contains_key(&op.id) {
                    return Err(ApiError::Conflict("an operator with this id exists".into()));
                }
                for g in &op.groups {
                    self.group(g)?;
                }
                if op.chat_limit == 0 {
                    return Err(ApiError::invalid("limits.chat must be at least 1"));
                }
                Ok(vec![Event::OperatorCreated {
                    operator: op.clone(),
                }])
            }
            Command::UpdateOperator {
                operator,
                name,
                groups,
                chat_limit,
            } => {
                self.operator(operator)?;
                for g in groups.iter().flatten() {
                    self.group(g)?;
                }
                if let Some(limit) = chat_limit {
                    // Lowering a limit below what the operator serves now would put it over
                    // its limit; the admin waits until a session ends.
                    let chats = self
                        .active_kinds(operator)
                        .iter()
                        .filter(|k| !k.is_exclusive())
                        .count() as u32;
                    if *limit == 0 {
                        return Err(ApiError::invalid("limits.chat must be at least 1"));
                    }
                    if *limit < chats {
                        return Err(ApiError::Conflict(format!(
                            "the operator serves {chats} chats now; the limit cannot go below that"
                        )));
                    }
                }
                Ok(vec![Event::OperatorUpdated {
                    operator: operator.clone(),
                    name: name.clone(),
                    groups: groups.clone(),
                    chat_limit: *chat_limit,
                }])
            }
            Command::Tag { client, tag } => {
                let c = self.client(client)?;
                let s = &self.sessions[&c.session];
                if s.tags.iter().any(|t| t == tag) {
                    return Ok(vec![]);
                }
                if s.tags.len() >= MAX_TAGS {
                    return Err(ApiError::Conflict(format!("at most {MAX_TAGS} tags")));
                }
                Ok(vec![Event::Tagged {
                    client: client.clone(),
                    session: c.session.clone(),
                    tag: tag.clone(),
                }])
            }
            Command::Note {
                client,
                operator,
                text,
            } => {
                let c = self.client(client)?;
                self.operator(operator)?;
                if self.sessions[&c.session].notes.len() >= MAX_NOTES {
                    return Err(ApiError::Conflict(format!("at most {MAX_NOTES} notes")));
                }
                Ok(vec![Event::NoteAdded {
                    client: client.clone(),
                    session: c.session.clone(),
                    text: text.clone(),
                    operator: operator.clone(),
                }])
            }
            Command::CreateWidget(w) => {
                self.group(&w.group)?;
                if self.widgets.contains_key(&w.id) || self.widget_by_key(&w.key).is_some() {
                    return Err(ApiError::Conflict("a widget with this id exists".into()));
                }
                Ok(vec![Event::WidgetCreated { widget: w.clone() }])
            }
            Command::SetPresence { operator, presence } => {
                let op = self.operator(operator)?;
                if op.presence == *presence {
                    return Ok(vec![]);
                }
                Ok(vec![Event::PresenceChanged {
                    operator: operator.clone(),
                    presence: *presence,
                }])
            }
            Command::Enter {
                client,
                session,
                entry,
                details,
                target,
            } => {
                if self.clients.contains_key(client) || self.sessions.contains_key(session) {
                    return Err(ApiError::Conflict("this client id is taken".into()));
                }
                self.check_target(target)?;
                Ok(vec![Event::ClientEntered {
                    client: client.clone(),
                    session: session.clone(),
                    entry: *entry,
                    details: details.clone(),
                    target: target.clone(),
                    order: self.next_order,
                    position: self.joining_position(target, at),
                }])
            }
            Command::Accept { operator, client } => {
                let op = self.operator(operator)?;
                let c = self.client(client)?;
                let from = match &c.state {
                    ClientState::Active { .. } => return Err(ApiError::AlreadyAccepted),
                    ClientState::Waiting { target, .. } => target,
                };
                if !self.serves(op, from) {
                    return Err(ApiError::Forbidden(
                        "this client waits for another group or operator".into(),
                    ));
                }
                // `away` means "finishing my current work": the sessions held go on (messages,
                // close, redirect), but a new client goes only to someone online.
                if op.presence != Presence::Online {
                    return Err(ApiError::NotOnline(format!(
                        "you are {}: set your status to online to accept a client",
                        match op.presence {
                            Presence::Away => "away",
                            _ => "offline",
                        }
                    )));
                }
                capacity::check(&self.active_kinds(operator), op.chat_limit, c.entry)
                    .map_err(|r| ApiError::Capacity(r.message()))?;
                Ok(vec![Event::ClientAccepted {
                    client: client.clone(),
                    session: c.session.clone(),
                    operator: operator.clone(),
                    from: from.clone(),
                }])
            }
            Command::Redirect {
                operator,
                client,
                to,
                note,
            } => {
                let op = self.operator(operator)?;
                let c = self.client(client)?;
                self.check_target(to)?;
                let from = match &c.state {
                    ClientState::Waiting { target, .. } => {
                        if !self.serves(op, target) && op.role != Role::Admin {
                            return Err(ApiError::Forbidden(
                                "only an operator who may serve this client can redirect it".into(),
                            ));
                        }
                        if target == to {
                            return Err(ApiError::Conflict(
                                "the client already waits there".into(),
                            ));
                        }
                        Redirected::Queue(target.clone())
                    }
                    ClientState::Active {
                        operator: serving, ..
                    } => {
                        if serving != operator && op.role != Role::Admin {
                            return Err(ApiError::Forbidden(
                                "another operator serves this client".into(),
                            ));
                        }
                        Redirected::Operator(serving.clone())
                    }
                };
                // A redirect is not a new arrival: the client waits since it entered, whether
                // it was waiting or being served, and takes its turn by that in the new queue.
                let since = c.entered_at;
                Ok(vec![Event::ClientRedirected {
                    client: client.clone(),
                    session: c.session.clone(),
                    from,
                    to: to.clone(),
                    order: self.next_order,
                    waiting_since: Some(since),
                    by: operator.clone(),
                    note: note.clone(),
                    entry: c.entry,
                    details: c.details.clone(),
                    position: self.joining_position(to, since),
                }])
            }
            Command::Leave { client } => {
                let c = self.client(client)?;
                Ok(vec![match &c.state {
                    ClientState::Waiting { target, .. } => Event::ClientLeft {
                        client: client.clone(),
                        session: c.session.clone(),
                        from: target.clone(),
                    },
                    ClientState::Active { operator, .. } => Event::SessionClosed {
                        client: client.clone(),
                        session: c.session.clone(),
                        operator: Some(operator.clone()),
                        waiting_in: None,
                        by: Party::Client,
                    },
                }])
            }
            Command::PostMessage {
                session,
                author,
                text,
                attachments,
                key,
            } => {
                let c = self.live_session(session)?;
                let s = &self.sessions[session];
                if key
                    .as_ref()
                    .is_some_and(|k| s.keys.iter().any(|(x, _)| x == k))
                {
                    // A retry of a message already stored: nothing new happens.
                    return Ok(vec![]);
                }
                let serving = match &c.state {
                    ClientState::Active { operator, .. } => Some(operator.clone()),
                    ClientState::Waiting { .. } => None,
                };
                let (from, operator) = match author {
                    Author::Client => (Party::Client, serving),
                    Author::System => (Party::System, serving),
                    Author::Operator(o) => {
                        if serving.as_deref() != Some(o.as_str()) {
                            return Err(ApiError::Forbidden(
                                "only the operator serving this session can write in it".into(),
                            ));
                        }
                        (Party::Operator, serving)
                    }
                };
                if text.trim().is_empty() && attachments.is_empty() {
                    return Err(ApiError::invalid("a message needs text or an attachment"));
                }
                // An operator's reply to a channel client also goes out through the provider.
                let outbound = match author {
                    Author::Operator(_) => self.reply_outbound(c, s, text, attachments, at)?,
                    _ => vec![],
                };
                let mut events = vec![Event::MessagePosted {
                    client: c.id.clone(),
                    session: session.clone(),
                    seq: s.next_seq,
                    from,
                    operator,
                    text: text.clone(),
                    attachments: attachments.clone(),
                    key: key.clone(),
                }];
                events.extend(
                    outbound
                        .into_iter()
                        .map(|item| Event::OutboundQueued { item }),
                );
                Ok(events)
            }
            Command::VisitPage { client, url, title } => {
                let c = self.client(client)?;
                Ok(vec![Event::PageVisited {
                    client: client.clone(),
                    session: c.session.clone(),
                    url: url.clone(),
                    title: title.clone(),
                }])
            }
            Command::Close { session, by } => {
                let c = self.live_session(session)?;
                let (operator, waiting_in) = match &c.state {
                    ClientState::Active { operator, .. } => (Some(operator.clone()), None),
                    ClientState::Waiting { target, .. } => (None, Some(target.clone())),
                };
                let by = match by {
                    Closer::Client => Party::Client,
                    Closer::Operator(o) => {
                        if operator.as_deref() != Some(o.as_str()) {
                            return Err(ApiError::Forbidden(
                                "only the operator serving this session can close it".into(),
                            ));
                        }
                        Party::Operator
                    }
                };
                Ok(vec![Event::SessionClosed {
                    client: c.id.clone(),
                    session: session.clone(),
                    operator,
                    waiting_in,
                    by,
                }])
            }
        }
    }

    /// Folds one event into the state. `at` is when it happened.
    pub fn apply(&mut self, event: &Event, at: Millis) {
        match event {
            Event::ChannelConfigured { .. }
            | Event::OutboundQueued { .. }
            | Event::OutboundSent { .. }
            | Event::OutboundFailed { .. }
            | Event::ClientRenamed { .. }
            | Event::DeliveryUpdated { .. }
            | Event::InboundSeen { .. } => self.apply_channel(event, at),
            Event::TenantCreated { tenant } => self.tenant = Some(tenant.clone()),
            Event::GroupCreated { group } => {
                self.groups.insert(group.id.clone(), group.clone());
            }
            Event::OperatorCreated { operator } => {
                self.index
                    .email
                    .insert(operator.email.trim().to_lowercase(), operator.id.clone());
                self.operators.insert(operator.id.clone(), operator.clone());
            }
            Event::WidgetCreated { widget } => {
                self.index
                    .widget_key
                    .insert(widget.key.clone(), widget.id.clone());
                self.widgets.insert(widget.id.clone(), widget.clone());
            }
            Event::OperatorUpdated {
                operator,
                name,
                groups,
                chat_limit,
            } => {
                if let Some(o) = self.operators.get_mut(operator) {
                    if let Some(n) = name {
                        o.name = n.clone();
                    }
                    if let Some(g) = groups {
                        o.groups = g.clone();
                    }
                    if let Some(l) = chat_limit {
                        o.chat_limit = *l;
                    }
                }
            }
            Event::InvitationCreated { invitation } => {
                // Used codes stay until they expire, so that a second use is told "used".
                self.invitations.retain(|_, i| i.expires_at > at);
                self.invitations
                    .insert(invitation.code.clone(), invitation.clone());
            }
            Event::InvitationUsed { code } => {
                if let Some(i) = self.invitations.get_mut(code) {
                    i.used = true;
                }
            }
            Event::OfflineReceived { widget, mail } => {
                // The event names the widget (also in journals older than Mail::widget).
                let mail = outbox::Mail {
                    widget: Some(widget.clone()),
                    ..mail.clone()
                };
                self.outbox.insert(mail.id.clone(), mail);
            }
            Event::MailSent { id } => {
                self.outbox.remove(id);
            }
            Event::MailFailed { id, error, next_at } => {
                if let Some(m) = self.outbox.get_mut(id) {
                    m.attempts += 1;
                    m.last_error = Some(error.clone());
                    m.next_at = *next_at;
                }
            }
            Event::Tagged { session, tag, .. } => {
                if let Some(s) = self.sessions.get_mut(session) {
                    s.tags.push(tag.clone());
                }
            }
            Event::NoteAdded {
                session,
                text,
                operator,
                ..
            } => {
                if let Some(s) = self.sessions.get_mut(session) {
                    s.notes.push(Note {
                        text: text.clone(),
                        operator: operator.clone(),
                        at,
                    });
                }
            }
            Event::PresenceChanged { operator, presence } => {
                if let Some(o) = self.operators.get_mut(operator) {
                    o.presence = *presence;
                }
            }
            Event::ClientEntered {
                client,
                session,
                entry,
                details,
                target,
                order,
                ..
            } => {
                self.sessions.insert(
                    session.clone(),
                    Session {
                        id: session.clone(),
                        client: client.clone(),
                        entry: *entry,
                        contact: details.contact.clone(),
                        started_at: at,
                        closed_at: None,
                        operators: vec![],
                        next_seq: 1,
                        tags: vec![],
                        notes: vec![],
                        keys: vec![],
                        last_client_at: None,
                        delivery: vec![],
                        pages: details
                            .page
                            .iter()
                            .map(|p| PageView {
                                url: p.url.clone(),
                                title: p.title.clone(),
                                at: crate::time::rfc3339(at),
                            })
                            .collect(),
                    },
                );
                self.clients.insert(
                    client.clone(),
                    Client {
                        id: client.clone(),
                        session: session.clone(),
                        entry: *entry,
                        details: details.clone(),
                        state: ClientState::Waiting {
                            target: target.clone(),
                            since: at,
                            order: *order,
                        },
                        entered_at: at,
                    },
                );
                self.enqueue(target, at, *order, client);
            }
            Event::ClientAccepted {
                client,
                operator,
                from,
                ..
            } => {
                self.recent_accepts.push((from.clone(), at));
                if self.recent_accepts.len() > MAX_RECENT_ACCEPTS {
                    self.recent_accepts.remove(0);
                }
                self.unqueue(client);
                if let Some(c) = self.clients.get_mut(client) {
                    c.state = ClientState::Active {
                        operator: operator.clone(),
                        since: at,
                    };
                    if let Some(s) = self.sessions.get_mut(&c.session) {
                        s.operators.push(operator.clone());
                    }
                }
                self.index
                    .active
                    .entry(operator.clone())
                    .or_default()
                    .insert(client.clone());
            }
            Event::ClientRedirected {
                client,
                session,
                to,
                order,
                waiting_since,
                by,
                note,
                ..
            } => {
                self.unqueue(client);
                self.unassign(client);
                let since = waiting_since.unwrap_or(at);
                if let Some(c) = self.clients.get_mut(client) {
                    c.state = ClientState::Waiting {
                        target: to.clone(),
                        since,
                        order: *order,
                    };
                }
                self.enqueue(to, since, *order, client);
                // The note for whoever takes the client next is one of the session's notes, so
                // the preview and the Client tab show it.
                if let (Some(text), Some(s)) = (note, self.sessions.get_mut(session)) {
                    s.notes.push(Note {
                        text: text.clone(),
                        operator: by.clone(),
                        at,
                    });
                }
            }
            Event::ClientLeft {
                client, session, ..
            }
            | Event::SessionClosed {
                client, session, ..
            } => {
                self.unqueue(client);
                self.unassign(client);
                self.clients.remove(client);
                if let Some(s) = self.sessions.get_mut(session) {
                    s.closed_at = Some(at);
                    // A closed visit keeps its summary (past sessions); its page views stay in
                    // the journal only.
                    s.pages = vec![];
                }
                // Only the most recent closed sessions stay in memory (and in snapshots);
                // older ones live in the journal.
                self.closed.push_back(session.clone());
                while self.closed.len() > MAX_CLOSED_SESSIONS {
                    if let Some(old) = self.closed.pop_front() {
                        self.sessions.remove(&old);
                    }
                }
            }
            Event::MessagePosted {
                session,
                seq,
                key,
                from,
                ..
            } => {
                if let Some(k) = key.as_deref().filter(|k| k.starts_with("in:")) {
                    self.seen.insert(k);
                }
                if let Some(s) = self.sessions.get_mut(session) {
                    if *from == Party::Client {
                        s.last_client_at = Some(at);
                    }
                    s.next_seq = s.next_seq.max(seq + 1);
                    if let Some(k) = key {
                        s.keys.push((k.clone(), *seq));
                        if s.keys.len() > MAX_MESSAGE_KEYS {
                            s.keys.remove(0);
                        }
                    }
                }
            }
            Event::PageVisited {
                session,
                url,
                title,
                ..
            } => {
                if let Some(s) = self.sessions.get_mut(session) {
                    if s.pages.len() >= MAX_PAGES_PER_SESSION {
                        s.pages.remove(0);
                    }
                    s.pages.push(PageView {
                        url: url.clone(),
                        title: title.clone(),
                        at: crate::time::rfc3339(at),
                    });
                }
            }
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

    // ------------------------------------------------------------------ helpers

    fn enqueue(&mut self, target: &Target, since: Millis, order: u64, client: &str) {
        self.next_order = self.next_order.max(order + 1);
        self.index
            .queues
            .entry(target.clone())
            .or_default()
            .insert((since, order), client.to_string());
    }

    fn unqueue(&mut self, client: &str) {
        if let Some(Client {
            state:
                ClientState::Waiting {
                    target,
                    since,
                    order,
                },
            ..
        }) = self.clients.get(client)
        {
            if let Some(q) = self.index.queues.get_mut(target) {
                q.remove(&(*since, *order));
                if q.is_empty() {
                    self.index.queues.remove(target);
                }
            }
        }
    }

    fn unassign(&mut self, client: &str) {
        if let Some(Client {
            state: ClientState::Active { operator, .. },
            ..
        }) = self.clients.get(client)
        {
            if let Some(set) = self.index.active.get_mut(operator) {
                set.remove(client);
                if set.is_empty() {
                    self.index.active.remove(operator);
                }
            }
        }
    }

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
