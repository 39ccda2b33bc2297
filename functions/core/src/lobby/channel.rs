//! The messaging channels inside a tenant: what a channel user's message does to the queue, and
//! what Lobby owes the providers in return.
//!
//! - A channel user's first message makes a waiting client in the channel's group, later ones
//!   join the same conversation; a provider retry (same message id, same VK `event_id`) changes
//!   nothing. The webhook that brings them is [`crate::channels::desk`]'s.
//! - An operator's reply to a channel client, and the profile lookup that names a Messenger or
//!   VK client, become [`Outgoing`] items: stored first (events), then sent by the adapter
//!   ([`Lobby::outbound_request`] builds the exact request) and settled with
//!   [`Command::OutboundResult`]. A failure is retried with the e-mail outbox's backoff; the
//!   final one is posted in the conversation as a system message, so the operator sees it.
//!   Until settled a call is owed: the admin's view of a channel counts them ([`Lobby::owed_on`]).
//! - Delivery reports (WhatsApp statuses, Messenger deliveries) update the operator's message.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use lobby_wire::Party;
use serde::{Deserialize, Serialize};

use crate::channels::{
    messenger, vk, whatsapp, Channel, ChannelConfig, DeliveryState, HttpRequest, Inbound,
    ProviderError, StatusUpdate,
};
use crate::error::ApiError;
use crate::outbox;

use super::{
    Client, ClientState, Command, Details, Event, Lobby, Millis, Session, Target,
    MAX_DELIVERY_REPORTS,
};

/// How many provider message and delivery ids a tenant remembers (retries come within hours).
pub const MAX_SEEN: usize = 10_000;
/// How many sent messages' provider ids a tenant remembers for delivery reports.
pub const MAX_SENT_IDS: usize = 10_000;

// ---------------------------------------------------------------- bounded memories

/// Recently seen keys, oldest first; a bounded set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Recent {
    order: VecDeque<String>,
    #[serde(skip)]
    set: BTreeSet<String>,
}

impl PartialEq for Recent {
    fn eq(&self, other: &Self) -> bool {
        self.order == other.order
    }
}

impl Recent {
    pub fn contains(&self, key: &str) -> bool {
        self.set.contains(key)
    }

    pub fn insert(&mut self, key: &str) {
        if self.set.insert(key.to_string()) {
            self.order.push_back(key.to_string());
            while self.order.len() > MAX_SEEN {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Rebuilds the set after loading a snapshot.
    pub fn reindex(&mut self) {
        self.set = self.order.iter().cloned().collect();
    }
}

/// One sent operator message: the provider's id of it, where it is, and when it was accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SentId {
    provider_id: String,
    session: String,
    seq: u64,
    at: Millis,
}

/// Provider message ids of sent operator messages → (session, seq), bounded.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SentIds {
    order: VecDeque<SentId>,
    #[serde(skip)]
    map: BTreeMap<String, (String, u64)>,
}

impl PartialEq for SentIds {
    fn eq(&self, other: &Self) -> bool {
        self.order == other.order
    }
}

impl SentIds {
    pub fn get(&self, provider_id: &str) -> Option<&(String, u64)> {
        self.map.get(provider_id)
    }

    pub fn insert(&mut self, provider_id: &str, session: &str, seq: u64, at: Millis) {
        self.order.push_back(SentId {
            provider_id: provider_id.to_string(),
            session: session.to_string(),
            seq,
            at,
        });
        self.map
            .insert(provider_id.to_string(), (session.to_string(), seq));
        while self.order.len() > MAX_SENT_IDS {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old.provider_id);
            }
        }
    }

    /// The messages of a session sent at or before `until`, as `(seq, provider id)`.
    pub fn sent_until(&self, session: &str, until: Millis) -> Vec<(u64, String)> {
        self.order
            .iter()
            .filter(|s| s.session == session && s.at <= until)
            .map(|s| (s.seq, s.provider_id.clone()))
            .collect()
    }

    pub fn reindex(&mut self) {
        self.map = self
            .order
            .iter()
            .map(|s| (s.provider_id.clone(), (s.session.clone(), s.seq)))
            .collect();
    }
}

// ---------------------------------------------------------------- the outbox of provider calls

/// A call Lobby owes a channel provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    /// Stable for good: `<session>.<seq>` for a reply, `<client>.profile` for a lookup. VK's
    /// `random_id` is derived from it, so a retried send is delivered once.
    pub id: String,
    pub channel: Channel,
    pub client: String,
    pub session: String,
    /// The provider's id of the user ([`Inbound::user_id`]).
    pub user_id: String,
    /// WhatsApp: the user's phone number, when Meta shared it.
    #[serde(default)]
    pub phone: Option<String>,
    pub what: Outbound,
    pub created_at: Millis,
    pub attempts: u32,
    /// When to try next.
    pub next_at: Option<Millis>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outbound {
    /// An operator's message `seq`, as the provider gets it.
    Text { seq: u64, text: String },
    /// A picture of message `seq`, sent as the channel's own image message (Messenger,
    /// WhatsApp); VK gets pictures as links in the text.
    Image { seq: u64, url: String },
    /// A WhatsApp template (message `seq` in the conversation) with its parameter values.
    Template {
        seq: u64,
        name: String,
        values: Vec<String>,
    },
    /// The user's name for the queue row (Messenger User Profile API, VK users.get).
    Profile,
}

/// The idempotency key of an inbound message.
pub fn inbound_key(m: &Inbound) -> String {
    format!("in:{}:{}", m.channel.as_str(), m.message_id)
}

/// What the conversation shows of an inbound message: its text (with a `[kind]` mark for each
/// attachment Lobby cannot link to) and its linkable attachments.
fn conversation_of(m: &Inbound) -> (String, Vec<lobby_wire::Attachment>) {
    let mut marks = Vec::new();
    let mut attachments = Vec::new();
    for a in &m.attachments {
        let kind = serde_json::to_value(a.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "file".into());
        match &a.url {
            Some(url) => attachments.push(lobby_wire::Attachment {
                url: url.clone(),
                kind: Some(kind),
                name: a.name.clone(),
            }),
            None => marks.push(format!("[{kind}]")),
        }
    }
    let mut text = m.text.clone();
    if !marks.is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&marks.join(" "));
    }
    if text.trim().is_empty() && attachments.is_empty() {
        text = "[message]".into();
    }
    (text, attachments)
}

fn rank(state: DeliveryState) -> u8 {
    match state {
        DeliveryState::Sent => 1,
        DeliveryState::Delivered => 2,
        DeliveryState::Read => 3,
        DeliveryState::Failed => 4,
    }
}

impl Lobby {
    /// The live client a channel user is now (waiting or in session), if any.
    pub fn channel_client(&self, channel: Channel, user_id: &str) -> Option<&Client> {
        let entry = channel.entry();
        self.clients
            .values()
            .find(|c| c.entry == entry && c.details.channel_user.as_deref() == Some(user_id))
    }

    /// The channel calls due at `now`, oldest first.
    pub fn due_outgoing(&self, now: Millis) -> Vec<String> {
        let mut due: Vec<&Outgoing> = self
            .outgoing
            .values()
            .filter(|o| o.next_at.is_some_and(|t| t <= now))
            .collect();
        due.sort_by_key(|o| (o.created_at, o.id.clone()));
        due.into_iter().map(|o| o.id.clone()).collect()
    }

    /// When the next channel call is due.
    pub fn next_outgoing_at(&self) -> Option<Millis> {
        self.outgoing.values().filter_map(|o| o.next_at).min()
    }

    /// The calls owed to `channel`'s provider (stored, not yet settled by an answer) and when the
    /// next of them is due: what an admin reads to see whether replies are held up, and what tells
    /// that nothing more will be sent.
    pub fn owed_on(&self, channel: Channel) -> (usize, Option<Millis>) {
        let owed = self.outgoing.values().filter(|o| o.channel == channel);
        let next = owed.clone().filter_map(|o| o.next_at).min();
        (owed.count(), next)
    }

    /// The exact HTTP request of an owed call, built from the channel's configuration now (so a
    /// corrected token applies to retries); `tenant` makes VK's `random_id` unique. An error is
    /// what to report as the attempt's failure.
    pub fn outbound_request(&self, id: &str) -> Result<HttpRequest, String> {
        let item = self
            .outgoing
            .get(id)
            .ok_or_else(|| format!("no call {id} is owed"))?;
        let config = self
            .channels
            .get(item.channel)
            .ok_or_else(|| format!("the {} channel is not configured", item.channel.label()))?;
        let tenant = self.tenant.as_ref().map_or("", |t| t.slug.as_str());
        let user = item.user_id.as_str();
        match (&item.what, &config) {
            (Outbound::Text { text, .. }, ChannelConfig::Messenger(c)) => {
                Ok(messenger::send_text(c, user, text))
            }
            (Outbound::Text { text, .. }, ChannelConfig::Whatsapp(c)) => Ok(whatsapp::send_text(
                c,
                user,
                item.phone.as_deref(),
                text,
                text.contains("https://") || text.contains("http://"),
            )),
            (Outbound::Text { text, .. }, ChannelConfig::Vk(c)) => Ok(vk::send_text(
                c,
                user,
                text,
                vk::random_id(&format!("{tenant}/{}", item.id)),
            )),
            (Outbound::Image { url, .. }, ChannelConfig::Messenger(c)) => {
                Ok(messenger::send_image(c, user, url))
            }
            (Outbound::Image { url, .. }, ChannelConfig::Whatsapp(c)) => Ok(whatsapp::send_image(
                c,
                user,
                item.phone.as_deref(),
                url,
                None,
            )),
            (Outbound::Image { url, .. }, ChannelConfig::Vk(c)) => Ok(vk::send_text(
                c,
                user,
                url,
                vk::random_id(&format!("{tenant}/{}", item.id)),
            )),
            (Outbound::Template { name, values, .. }, ChannelConfig::Whatsapp(c)) => {
                let template = c
                    .template(name)
                    .ok_or_else(|| format!("the template {name} is not configured any more"))?;
                whatsapp::send_template(c, user, item.phone.as_deref(), template, values)
                    .map_err(|e| e.to_string())
            }
            (Outbound::Template { .. }, _) => Err("templates are WhatsApp's only".into()),
            (Outbound::Profile, ChannelConfig::Messenger(c)) => {
                Ok(messenger::user_profile_request(c, user))
            }
            (Outbound::Profile, ChannelConfig::Vk(c)) => vk::users_get_request(c, user)
                .ok_or_else(|| format!("VK peer {user} is a chat: it has no profile")),
            (Outbound::Profile, ChannelConfig::Whatsapp(_)) => {
                Err("WhatsApp names its users in every delivery; there is no lookup".into())
            }
        }
    }

    /// What an operator's message to this client owes its channel, if the client came by one:
    /// the text (with links), and each picture as the channel's own image message where it has
    /// one. Refuses what the channel would refuse (too long, WhatsApp outside its window).
    pub(crate) fn reply_outbound(
        &self,
        client: &Client,
        session: &Session,
        text: &str,
        attachments: &[lobby_wire::Attachment],
        at: Millis,
    ) -> Result<Vec<Outgoing>, ApiError> {
        let Some(channel) = Channel::of_entry(client.entry) else {
            return Ok(vec![]);
        };
        let Some(user) = client.details.channel_user.clone() else {
            return Ok(vec![]);
        };
        if self.channels.get(channel).is_none() {
            return Err(ApiError::Conflict(format!(
                "the {} channel is not configured any more: the reply cannot be delivered",
                channel.label()
            )));
        }
        let seq = session.next_seq;
        let mut out = text.trim().to_string();
        let mut images = Vec::new();
        for a in attachments {
            if channel != Channel::Vk && is_image(a) {
                images.push(a.url.clone());
                continue;
            }
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&a.url);
        }
        let max = match channel {
            Channel::Messenger => messenger::MAX_TEXT_CHARS,
            Channel::Whatsapp => whatsapp::MAX_TEXT_CHARS,
            Channel::Vk => vk::MAX_TEXT_CHARS,
        };
        if out.chars().count() > max {
            return Err(ApiError::invalid(format!(
                "{} takes at most {max} characters in one message",
                channel.label()
            )));
        }
        if channel == Channel::Whatsapp && !whatsapp::may_send_free_text(session.last_client_at, at)
        {
            return Err(self.window_closed(&session.id));
        }
        let item = |id: String, what: Outbound| Outgoing {
            id,
            channel,
            client: client.id.clone(),
            session: session.id.clone(),
            user_id: user.clone(),
            phone: client.details.phone.clone(),
            what,
            created_at: at,
            attempts: 0,
            next_at: Some(at),
            last_error: None,
        };
        let mut items = Vec::new();
        if !out.is_empty() {
            items.push(item(
                format!("{}.{seq}", session.id),
                Outbound::Text { seq, text: out },
            ));
        }
        for (i, url) in images.into_iter().enumerate() {
            items.push(item(
                format!("{}.{seq}.{}", session.id, i + 1),
                Outbound::Image { seq, url },
            ));
        }
        Ok(items)
    }

    /// The refusal of free text outside WhatsApp's window, offering the configured templates.
    fn window_closed(&self, session: &str) -> ApiError {
        let names: Vec<String> = self
            .channels
            .whatsapp
            .as_ref()
            .map(|c| {
                c.templates
                    .iter()
                    .map(|t| {
                        if t.parameters.is_empty() {
                            t.name.clone()
                        } else {
                            format!("{} ({})", t.name, t.parameters.join(", "))
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let offer = if names.is_empty() {
            "no template is configured: an admin adds them to the WhatsApp channel".to_string()
        } else {
            format!(
                "send a template instead (POST /api/v1/sessions/{session}/template): {}",
                names.join("; ")
            )
        };
        ApiError::WindowClosed(format!(
            "WhatsApp accepts free text only within 24 hours of the client's last message; {offer}"
        ))
    }

    /// An operator sends a WhatsApp template in the session it serves: the conversation shows
    /// it, the outbox sends it (allowed whether the 24-hour window is open or not).
    pub(crate) fn decide_template(
        &self,
        session: &str,
        operator: &str,
        name: &str,
        values: &[String],
        at: Millis,
    ) -> Result<Vec<Event>, ApiError> {
        let c = self.live_session(session)?;
        let s = &self.sessions[session];
        match &c.state {
            ClientState::Active { operator: o, .. } if o == operator => {}
            _ => {
                return Err(ApiError::Forbidden(
                    "only the operator serving this session can write in it".into(),
                ))
            }
        }
        let (Some(Channel::Whatsapp), Some(user)) =
            (Channel::of_entry(c.entry), c.details.channel_user.clone())
        else {
            return Err(ApiError::invalid(
                "templates are for clients who came by WhatsApp",
            ));
        };
        let config = self.channels.whatsapp.as_ref().ok_or_else(|| {
            ApiError::Conflict("the WhatsApp channel is not configured any more".into())
        })?;
        let template = config
            .template(name)
            .ok_or_else(|| ApiError::not_found(format!("WhatsApp template {name}")))?;
        let values: Vec<String> = values.iter().map(|v| v.trim().to_string()).collect();
        // Checks the values against the template's parameters (count, none empty).
        whatsapp::send_template(config, &user, c.details.phone.as_deref(), template, &values)?;
        let text = if values.is_empty() {
            format!("[template {name}]")
        } else {
            format!("[template {name}] {}", values.join(" | "))
        };
        Ok(vec![
            Event::MessagePosted {
                client: c.id.clone(),
                session: session.to_string(),
                seq: s.next_seq,
                from: Party::Operator,
                operator: Some(operator.to_string()),
                text,
                attachments: vec![],
                key: None,
            },
            Event::OutboundQueued {
                item: Outgoing {
                    id: format!("{}.{}", session, s.next_seq),
                    channel: Channel::Whatsapp,
                    client: c.id.clone(),
                    session: session.to_string(),
                    user_id: user,
                    phone: c.details.phone.clone(),
                    what: Outbound::Template {
                        seq: s.next_seq,
                        name: name.to_string(),
                        values,
                    },
                    created_at: at,
                    attempts: 0,
                    next_at: Some(at),
                    last_error: None,
                },
            },
        ])
    }

    /// A system message in a live session, shown to its operator (and its client).
    fn notice(&self, session: &str, text: String) -> Option<Event> {
        let c = self.live_session(session).ok()?;
        let s = self.sessions.get(session)?;
        let operator = match &c.state {
            ClientState::Active { operator, .. } => Some(operator.clone()),
            ClientState::Waiting { .. } => None,
        };
        Some(Event::MessagePosted {
            client: c.id.clone(),
            session: session.to_string(),
            seq: s.next_seq,
            from: Party::System,
            operator,
            text,
            attachments: vec![],
            key: None,
        })
    }

    pub(crate) fn decide_channel(&self, cmd: &Command, at: Millis) -> Result<Vec<Event>, ApiError> {
        match cmd {
            Command::ConfigureChannel(config) => {
                config.validate()?;
                self.group(config.group())?;
                Ok(vec![Event::ChannelConfigured {
                    config: config.clone(),
                }])
            }
            Command::ChannelMessage {
                inbound,
                client,
                session,
                delivery,
            } => self.decide_inbound(inbound, client, session, delivery.as_deref(), at),
            Command::ChannelStatus(status) => Ok(self.decide_status(status)),
            Command::SendTemplate {
                session,
                operator,
                name,
                values,
            } => self.decide_template(session, operator, name, values, at),
            Command::OutboundResult {
                id,
                status,
                body,
                error,
            } => self.decide_result(id, *status, body, error.as_deref(), at),
            _ => Err(ApiError::Internal("not a channel command".into())),
        }
    }

    fn decide_inbound(
        &self,
        m: &Inbound,
        client: &str,
        session: &str,
        delivery: Option<&str>,
        at: Millis,
    ) -> Result<Vec<Event>, ApiError> {
        let key = inbound_key(m);
        if self.seen.contains(&key) || delivery.is_some_and(|d| self.seen.contains(d)) {
            return Ok(vec![]);
        }
        let group = self
            .channels
            .group_of(m.channel)
            .ok_or_else(|| ApiError::not_found(format!("the {} channel", m.channel.label())))?;
        let (text, attachments) = conversation_of(m);
        let mut events = Vec::new();
        match self.channel_client(m.channel, &m.user_id) {
            Some(c) => {
                let s = &self.sessions[&c.session];
                if s.keys.iter().any(|(k, _)| *k == key) {
                    return Ok(vec![]);
                }
                let serving = match &c.state {
                    ClientState::Active { operator, .. } => Some(operator.clone()),
                    ClientState::Waiting { .. } => None,
                };
                // A WhatsApp user's name may change; the latest delivery says it.
                if let Some(name) = m.display_name.as_ref() {
                    if c.details.name.as_ref() != Some(name) {
                        events.push(Event::ClientRenamed {
                            client: c.id.clone(),
                            session: c.session.clone(),
                            name: name.clone(),
                        });
                    }
                }
                events.push(Event::MessagePosted {
                    client: c.id.clone(),
                    session: c.session.clone(),
                    seq: s.next_seq,
                    from: Party::Client,
                    operator: serving,
                    text,
                    attachments,
                    key: Some(key),
                });
            }
            None => {
                if self.clients.contains_key(client) || self.sessions.contains_key(session) {
                    return Err(ApiError::Conflict("this client id is taken".into()));
                }
                let target = Target::Group(group);
                self.check_target(&target)?;
                let details = Details {
                    // Until a profile lookup names them, Messenger and VK users show their id.
                    name: Some(
                        m.display_name
                            .clone()
                            .or_else(|| m.phone.clone())
                            .unwrap_or_else(|| m.user_id.clone()),
                    ),
                    phone: m.phone.clone(),
                    contact: Some(format!("{}:{}", m.channel.as_str(), m.user_id)),
                    channel_user: Some(m.user_id.clone()),
                    ..Details::default()
                };
                events.push(Event::ClientEntered {
                    client: client.to_string(),
                    session: session.to_string(),
                    entry: m.channel.entry(),
                    details,
                    target: target.clone(),
                    order: self.next_order(),
                    position: self.joining_position(&target, at),
                });
                events.push(Event::MessagePosted {
                    client: client.to_string(),
                    session: session.to_string(),
                    seq: 1,
                    from: Party::Client,
                    operator: None,
                    text,
                    attachments,
                    key: Some(key),
                });
                if m.display_name.is_none() && m.channel != Channel::Whatsapp {
                    events.push(Event::OutboundQueued {
                        item: Outgoing {
                            id: format!("{client}.profile"),
                            channel: m.channel,
                            client: client.to_string(),
                            session: session.to_string(),
                            user_id: m.user_id.clone(),
                            phone: None,
                            what: Outbound::Profile,
                            created_at: at,
                            attempts: 0,
                            next_at: Some(at),
                            last_error: None,
                        },
                    });
                }
            }
        }
        if let Some(d) = delivery {
            events.push(Event::InboundSeen { key: d.to_string() });
        }
        Ok(events)
    }

    fn decide_status(&self, status: &StatusUpdate) -> Vec<Event> {
        let mut events = Vec::new();
        let mut mids = status.message_ids.clone();
        // A Messenger read carries no ids, only a watermark: everything sent to the user
        // before it was read.
        if let (true, Some(watermark)) = (mids.is_empty(), status.watermark) {
            if let Some(c) = self.channel_client(status.channel, &status.user_id) {
                mids = self
                    .sent_ids
                    .sent_until(&c.session, watermark)
                    .into_iter()
                    .map(|(_, p)| p)
                    .collect();
            }
        }
        for mid in &mids {
            let Some((session, seq)) = self.sent_ids.get(mid) else {
                continue;
            };
            let Some(s) = self.sessions.get(session) else {
                continue;
            };
            let current = s
                .delivery
                .iter()
                .find(|(q, _, _)| q == seq)
                .map(|(_, st, _)| *st);
            // Reports arrive out of order and more than once: a state never goes back.
            if current.is_some_and(|c| rank(c) >= rank(status.state)) {
                continue;
            }
            events.push(Event::DeliveryUpdated {
                session: session.clone(),
                seq: *seq,
                state: status.state,
                error: status.error.clone(),
            });
            if status.state == DeliveryState::Failed {
                let why = status
                    .error
                    .clone()
                    .unwrap_or_else(|| "no reason given".into());
                events.extend(self.notice(
                    session,
                    format!(
                        "Message {seq} was not delivered on {}: {why}",
                        status.channel.label()
                    ),
                ));
            }
        }
        events
    }

    fn decide_result(
        &self,
        id: &str,
        status: u16,
        body: &[u8],
        error: Option<&str>,
        at: Millis,
    ) -> Result<Vec<Event>, ApiError> {
        let item = self
            .outgoing
            .get(id)
            .ok_or_else(|| ApiError::not_found(format!("outgoing call {id}")))?;
        enum Done {
            Sent(Option<String>),
            Named(Option<String>),
        }
        let outcome: Result<Done, ProviderError> = if status == 0 {
            Err(ProviderError {
                status,
                code: None,
                message: error.unwrap_or("no answer from the provider").to_string(),
                retryable: true,
            })
        } else {
            match (&item.what, item.channel) {
                (Outbound::Text { .. } | Outbound::Image { .. }, Channel::Messenger) => {
                    messenger::parse_send_response(status, body).map(|s| Done::Sent(s.message_id))
                }
                (
                    Outbound::Text { .. } | Outbound::Image { .. } | Outbound::Template { .. },
                    Channel::Whatsapp,
                ) => whatsapp::parse_send_response(status, body).map(|s| Done::Sent(s.message_id)),
                (Outbound::Text { .. } | Outbound::Image { .. }, Channel::Vk) => {
                    vk::parse_send_response(status, body).map(|s| Done::Sent(s.message_id))
                }
                (Outbound::Template { .. }, _) => {
                    whatsapp::parse_send_response(status, body).map(|s| Done::Sent(s.message_id))
                }
                (Outbound::Profile, Channel::Vk) => {
                    vk::parse_users_get(status, body).map(|p| Done::Named(p.name))
                }
                (Outbound::Profile, _) => {
                    messenger::parse_user_profile(status, body).map(|p| Done::Named(p.name))
                }
            }
        };
        let mut events = Vec::new();
        match outcome {
            Ok(Done::Sent(provider_id)) => events.push(Event::OutboundSent {
                id: id.to_string(),
                provider_id,
            }),
            Ok(Done::Named(name)) => {
                events.push(Event::OutboundSent {
                    id: id.to_string(),
                    provider_id: None,
                });
                let live = self
                    .clients
                    .get(&item.client)
                    .filter(|c| c.session == item.session);
                if let (Some(name), Some(c)) = (name.filter(|n| !n.trim().is_empty()), live) {
                    if c.details.name.as_ref() != Some(&name) {
                        events.push(Event::ClientRenamed {
                            client: c.id.clone(),
                            session: c.session.clone(),
                            name,
                        });
                    }
                }
            }
            Err(e) => {
                let next_at = if e.retryable {
                    outbox::next_attempt(item.attempts + 1, at)
                } else {
                    None
                };
                events.push(Event::OutboundFailed {
                    id: id.to_string(),
                    error: e.message.clone(),
                    next_at,
                });
                let seq = match &item.what {
                    Outbound::Text { seq, .. }
                    | Outbound::Image { seq, .. }
                    | Outbound::Template { seq, .. } => Some(*seq),
                    Outbound::Profile => None,
                };
                if let (None, Some(seq)) = (next_at, seq) {
                    events.extend(self.notice(
                        &item.session,
                        format!(
                            "Message {seq} could not be delivered on {}: {}",
                            item.channel.label(),
                            e.message
                        ),
                    ));
                }
            }
        }
        Ok(events)
    }

    pub(crate) fn apply_channel(&mut self, event: &Event, at: Millis) {
        match event {
            Event::ChannelConfigured { config } => self.channels.set(config.clone()),
            Event::OutboundQueued { item } => {
                self.outgoing.insert(item.id.clone(), item.clone());
            }
            Event::OutboundSent { id, provider_id } => {
                if let Some(item) = self.outgoing.remove(id) {
                    if let (
                        Outbound::Text { seq, .. }
                        | Outbound::Image { seq, .. }
                        | Outbound::Template { seq, .. },
                        Some(p),
                    ) = (&item.what, provider_id)
                    {
                        self.sent_ids.insert(p, &item.session, *seq, at);
                    }
                }
            }
            Event::OutboundFailed { id, error, next_at } => match next_at {
                None => {
                    self.outgoing.remove(id);
                }
                Some(t) => {
                    if let Some(item) = self.outgoing.get_mut(id) {
                        item.attempts += 1;
                        item.last_error = Some(error.clone());
                        item.next_at = Some(*t);
                    }
                }
            },
            Event::ClientRenamed { client, name, .. } => {
                if let Some(c) = self.clients.get_mut(client) {
                    c.details.name = Some(name.clone());
                }
            }
            Event::DeliveryUpdated {
                session,
                seq,
                state,
                error,
            } => {
                if let Some(s) = self.sessions.get_mut(session) {
                    s.delivery.retain(|(q, _, _)| q != seq);
                    s.delivery.push((*seq, *state, error.clone()));
                    if s.delivery.len() > MAX_DELIVERY_REPORTS {
                        s.delivery.remove(0);
                    }
                }
            }
            Event::InboundSeen { key } => self.seen.insert(key),
            _ => {}
        }
    }

    /// The delivery state of an operator's message, as its provider last reported it.
    pub fn delivery_of(&self, session: &str, seq: u64) -> Option<(DeliveryState, Option<String>)> {
        let s = self.sessions.get(session)?;
        s.delivery
            .iter()
            .find(|(q, _, _)| *q == seq)
            .map(|(_, st, e)| (*st, e.clone()))
    }
}

/// A picture the operator attached: said so, or named like one.
fn is_image(a: &lobby_wire::Attachment) -> bool {
    if let Some(kind) = a.kind.as_deref() {
        return kind.eq_ignore_ascii_case("image");
    }
    let path = a.url.split(['?', '#']).next().unwrap_or_default();
    let path = path.to_ascii_lowercase();
    [".png", ".jpg", ".jpeg", ".gif", ".webp"]
        .iter()
        .any(|ext| path.ends_with(ext))
}
