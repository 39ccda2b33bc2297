//! The waiting queue and the way out of it: an operator's presence, a client's entry, accept,
//! redirect and leave, and what an operator may serve (group, presence, capacity). A client
//! waits by `(since, order)`, its entry time, so a redirect keeps its turn. A visit that ends,
//! by leaving or by a close, is folded here too: it frees the queue place or the operator.

use lobby_wire::{EntryKind, PageView, Party, Presence, Role};

use crate::capacity;
use crate::error::ApiError;
use crate::time::Millis;

use super::{
    Client, ClientState, Command, Event, Lobby, Note, Operator, Redirected, Session, Target,
    ESTIMATE_WINDOW_MS, MAX_CLOSED_SESSIONS, MAX_RECENT_ACCEPTS,
};

impl Lobby {
    pub(super) fn decide_queue(&self, cmd: &Command, at: Millis) -> Result<Vec<Event>, ApiError> {
        match cmd {
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
            _ => Err(ApiError::Internal("not a queue command".into())),
        }
    }

    pub(super) fn apply_queue(&mut self, event: &Event, at: Millis) {
        match event {
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
            _ => {}
        }
    }

    // ------------------------------------------------------------------ queries

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

    pub(super) fn active_kinds(&self, operator: &str) -> Vec<EntryKind> {
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

    // ------------------------------------------------------------------ the queue index

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
}
