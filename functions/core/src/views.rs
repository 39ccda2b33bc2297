//! What people see of the state: the queue rows an operator reads, the preview, and which
//! event reaches which operator's or client's WebSocket. Pure functions of the state and the
//! events, so both runtimes show exactly the same thing.

use lobby_wire::{
    ClientEvent, ClientInfo, ClientStatus, Message, MessageAuthor, OperatorEvent, OperatorInfo,
    Party, PastSession, Preview, QueueItem, RemovedReason,
};

use crate::lobby::{Client, ClientState, Details, Event, Lobby, Operator, Redirected, Target};
use crate::time::rfc3339;
use lobby_wire::EntryKind;

impl Lobby {
    fn widget_name(&self, details: &Details) -> Option<String> {
        let id = details.widget.as_ref()?;
        self.widgets.get(id).map(|w| w.name.clone())
    }

    pub fn queue_item(&self, client: &Client, position: u32) -> QueueItem {
        let (target, since) = match &client.state {
            ClientState::Waiting { target, since, .. } => (target.clone(), *since),
            ClientState::Active { operator, since } => (Target::Operator(operator.clone()), *since),
        };
        self.row(
            &client.id,
            &client.session,
            client.entry,
            &client.details,
            &target,
            since,
            position,
        )
    }

    /// A queue row from its parts, as an event records them.
    #[allow(clippy::too_many_arguments)]
    fn row(
        &self,
        id: &str,
        session: &str,
        entry: EntryKind,
        d: &Details,
        target: &Target,
        since: crate::Millis,
        position: u32,
    ) -> QueueItem {
        let (group, operator) = match target {
            Target::Group(g) => (Some(g.clone()), None),
            Target::Operator(o) => (None, Some(o.clone())),
        };
        QueueItem {
            id: id.to_string(),
            entry,
            channel: entry.channel().to_string(),
            language: d.language.clone(),
            browser: d.browser.clone(),
            os: d.os.clone(),
            widget: self.widget_name(d),
            widget_id: d.widget.clone(),
            name: d.name.clone(),
            phone: d.phone.clone(),
            email: d.email.clone(),
            group,
            operator,
            waiting_since: rfc3339(since),
            position,
            session: session.to_string(),
            page: d.page.clone(),
        }
    }

    pub fn client_info(&self, client: &Client) -> ClientInfo {
        let (status, group, operator) = match &client.state {
            ClientState::Waiting {
                target: Target::Group(g),
                ..
            } => (ClientStatus::Waiting, Some(g.clone()), None),
            ClientState::Waiting {
                target: Target::Operator(o),
                ..
            } => (ClientStatus::Waiting, None, Some(o.clone())),
            ClientState::Active { operator, .. } => {
                (ClientStatus::Active, None, Some(operator.clone()))
            }
        };
        let d = &client.details;
        ClientInfo {
            id: client.id.clone(),
            session: client.session.clone(),
            entry: client.entry,
            channel: client.entry.channel().to_string(),
            status,
            language: d.language.clone(),
            browser: d.browser.clone(),
            os: d.os.clone(),
            widget: self.widget_name(&client.details),
            name: d.name.clone(),
            phone: d.phone.clone(),
            email: d.email.clone(),
            group,
            operator,
            page: d.page.clone(),
            entered_at: rfc3339(client.entered_at),
        }
    }

    /// An operator as an admin, or the operator itself, sees it.
    pub fn operator_info(&self, o: &Operator) -> OperatorInfo {
        OperatorInfo {
            id: o.id.clone(),
            email: Some(o.email.clone()),
            name: o.name.clone(),
            role: o.role,
            groups: o.groups.clone(),
            limits: lobby_wire::Limits { chat: o.chat_limit },
            status: o.presence,
            load: self.load(&o.id),
        }
    }

    /// An operator as `viewer` sees it in the operators list. Choosing whom to redirect to needs
    /// a colleague's name, groups, presence and load, not the e-mail address it signs in with:
    /// only admins (who manage the accounts) and the operator itself see that.
    pub fn operator_info_for(&self, viewer: &Operator, o: &Operator) -> OperatorInfo {
        let mut info = self.operator_info(o);
        if viewer.role != lobby_wire::Role::Admin && viewer.id != o.id {
            info.email = None;
        }
        info
    }

    /// May this operator look at this client (preview, messages)? Those who may serve it,
    /// whoever serves or served it, and admins.
    pub fn may_see(&self, operator: &Operator, client: &Client) -> bool {
        if operator.role == lobby_wire::Role::Admin {
            return true;
        }
        match &client.state {
            ClientState::Waiting { target, .. } => self.serves(operator, target),
            ClientState::Active { .. } => self
                .sessions
                .get(&client.session)
                .is_some_and(|s| s.operators.contains(&operator.id)),
        }
    }

    /// The preview of a waiting or active client; `messages` is the chat so far, read from
    /// the journal by the caller.
    pub fn preview(&self, client: &Client, messages: Vec<Message>) -> Preview {
        let session = self.sessions.get(&client.session);
        let past_sessions = match &client.details.contact {
            Some(contact) => self
                .sessions
                .values()
                .filter(|s| s.contact.as_ref() == Some(contact) && s.id != client.session)
                .map(|s| PastSession {
                    session: s.id.clone(),
                    entry: s.entry,
                    started_at: rfc3339(s.started_at),
                    closed_at: s.closed_at.map(rfc3339),
                    operator: s
                        .operators
                        .last()
                        .and_then(|o| self.operators.get(o))
                        .map(|o| o.name.clone()),
                })
                .collect(),
            None => vec![],
        };
        Preview {
            client: self.client_info(client),
            past_sessions,
            browsing_history: session.map(|s| s.pages.clone()).unwrap_or_default(),
            tags: session.map(|s| s.tags.clone()).unwrap_or_default(),
            call_parameters: client.details.params.clone(),
            notes: self.notes_of(&client.session),
            messages,
        }
    }

    /// A session's notes as the API shows them, with the operators' names.
    pub fn notes_of(&self, session: &str) -> Vec<lobby_wire::Note> {
        self.sessions
            .get(session)
            .map(|s| {
                s.notes
                    .iter()
                    .map(|n| lobby_wire::Note {
                        text: n.text.clone(),
                        operator: self
                            .operators
                            .get(&n.operator)
                            .map_or_else(|| n.operator.clone(), |o| o.name.clone()),
                        at: rfc3339(n.at),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Messages read from the journal as people see them: each operator's message with its
    /// author's name, and the delivery reports the state holds for them.
    pub fn shown_messages(&self, session: &str, mut messages: Vec<Message>) -> Vec<Message> {
        let reports = self
            .sessions
            .get(session)
            .is_some_and(|s| !s.delivery.is_empty());
        for m in &mut messages {
            if let Some(author) = &mut m.operator {
                if let Some(o) = self.operators.get(&author.id) {
                    author.name = o.name.clone();
                }
            }
            if !reports {
                continue;
            }
            if let Some((state, _)) = self.delivery_of(session, m.seq) {
                m.delivery = serde_json::to_value(state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string));
            }
        }
        messages
    }

    /// The message an event records, as the journal keeps it: an operator's message names its
    /// author by id only, since names belong to the state ([`Lobby::shown_messages`] adds them).
    pub fn message_of(event: &Event, at: crate::Millis) -> Option<(String, Message)> {
        match event {
            Event::MessagePosted {
                session,
                seq,
                from,
                operator,
                text,
                attachments,
                key,
                ..
            } => {
                // For other messages `operator` is whoever served the session at the time.
                let author = operator.as_ref().filter(|_| *from == Party::Operator);
                Some((
                    session.clone(),
                    Message {
                        seq: *seq,
                        from: *from,
                        text: text.clone(),
                        attachments: attachments.clone(),
                        at: rfc3339(at),
                        delivery: None,
                        operator: author.map(|id| MessageAuthor {
                            id: id.clone(),
                            name: String::new(),
                        }),
                        client_message_id: key
                            .as_deref()
                            .and_then(|k| crate::lobby::sender_message_id(k, *from, author))
                            .map(str::to_string),
                    },
                ))
            }
            _ => None,
        }
    }

    /// The message a live frame carries: as [`Lobby::message_of`] records it, as people see it.
    fn live_message(&self, event: &Event, at: crate::Millis) -> Option<(String, Message)> {
        let (session, message) = Self::message_of(event, at)?;
        let message = self.shown_messages(&session, vec![message]).pop()?;
        Some((session, message))
    }

    /// What one operator's WebSocket shows of a journal event (`seq` is its journal number):
    /// at most one frame, so that resuming after a seq never skips half of an event. A frame
    /// implies what goes with it: `session_started` also removes the client from the queue,
    /// `client_waiting` for a client this operator was serving also ends that session.
    /// Called after the event was applied; replays build the same frame from the same event.
    pub fn operator_event(
        &self,
        operator: &Operator,
        seq: u64,
        event: &Event,
        at: crate::Millis,
    ) -> Option<OperatorEvent> {
        let sees = |t: &Target| self.serves(operator, t);
        let me = |o: &str| o == operator.id;
        let waiting = |client: QueueItem| OperatorEvent::ClientWaiting { seq, client };
        let removed = |client: &str, reason, by: Option<&String>| OperatorEvent::ClientRemoved {
            seq,
            client: client.to_string(),
            reason,
            operator: by.cloned(),
        };
        match event {
            Event::ClientEntered {
                client,
                session,
                entry,
                details,
                target,
                position,
                ..
            } if sees(target) => Some(waiting(
                self.row(client, session, *entry, details, target, at, *position),
            )),
            Event::ClientAccepted {
                client,
                session,
                operator: by,
                ..
            } if me(by) => Some(OperatorEvent::SessionStarted {
                seq,
                session: session.clone(),
                client: client.clone(),
            }),
            Event::ClientAccepted {
                client,
                operator: by,
                from,
                ..
            } if sees(from) => Some(removed(client, RemovedReason::Accepted, Some(by))),
            Event::ClientRedirected {
                client,
                session,
                to,
                entry,
                details,
                position,
                waiting_since,
                ..
            } if sees(to) => Some(waiting(self.row(
                client,
                session,
                *entry,
                details,
                to,
                waiting_since.unwrap_or(at),
                *position,
            ))),
            Event::ClientRedirected {
                client,
                session,
                from,
                ..
            } => match from {
                Redirected::Queue(t) if sees(t) => {
                    Some(removed(client, RemovedReason::Redirected, None))
                }
                Redirected::Operator(o) if me(o) => Some(OperatorEvent::SessionClosed {
                    seq,
                    session: session.clone(),
                    by: Party::Operator,
                }),
                _ => None,
            },
            // A channel client named by its profile while waiting: its row again, renamed.
            Event::ClientRenamed { client, .. } => {
                let c = self.clients.get(client)?;
                match &c.state {
                    ClientState::Waiting { target, .. } if sees(target) => {
                        Some(waiting(self.queue_item(c, self.position(c)?)))
                    }
                    _ => None,
                }
            }
            Event::ClientLeft { client, from, .. } if sees(from) => {
                Some(removed(client, RemovedReason::Left, None))
            }
            Event::MessagePosted { operator: o, .. } if o.as_deref().is_some_and(me) => self
                .live_message(event, at)
                .map(|(session, message)| OperatorEvent::Message {
                    seq,
                    session,
                    message,
                }),
            Event::SessionClosed {
                session,
                operator: o,
                by,
                ..
            } if o.as_deref().is_some_and(me) => Some(OperatorEvent::SessionClosed {
                seq,
                session: session.clone(),
                by: *by,
            }),
            Event::SessionClosed {
                client,
                waiting_in: Some(t),
                ..
            } if sees(t) => Some(removed(client, RemovedReason::Closed, None)),
            _ => None,
        }
    }

    /// What a client's WebSocket shows of an event about that client.
    pub fn client_event(
        &self,
        client_id: &str,
        event: &Event,
        at: crate::Millis,
    ) -> Option<ClientEvent> {
        let (Some(subject), _) = event.subject() else {
            return None;
        };
        if subject != client_id {
            return None;
        }
        match event {
            Event::ClientAccepted {
                session, operator, ..
            } => Some(ClientEvent::Accepted {
                session: session.clone(),
                operator: self
                    .operators
                    .get(operator)
                    .map(|o| o.name.clone())
                    .unwrap_or_default(),
            }),
            Event::ClientRedirected { position, .. } => Some(ClientEvent::Redirected {
                position: *position,
            }),
            Event::MessagePosted { .. } => self
                .live_message(event, at)
                .map(|(_, message)| ClientEvent::Message { message }),
            Event::SessionClosed { by, .. } => Some(ClientEvent::Closed { by: *by }),
            _ => None,
        }
    }

    /// The first frame of a client's WebSocket: where it stands now.
    pub fn client_status(&self, client_id: &str, session: &str, now: crate::Millis) -> ClientEvent {
        match self.clients.get(client_id) {
            Some(c) => {
                let position = self.position(c);
                ClientEvent::Status {
                    status: match c.state {
                        ClientState::Waiting { .. } => ClientStatus::Waiting,
                        ClientState::Active { .. } => ClientStatus::Active,
                    },
                    position,
                    session: c.session.clone(),
                    estimated_wait_seconds: position.and_then(|p| self.estimate_for(c, p, now)),
                    operator: match &c.state {
                        ClientState::Active { operator, .. } => {
                            self.operators.get(operator).map(|o| o.name.clone())
                        }
                        ClientState::Waiting { .. } => None,
                    },
                }
            }
            None => ClientEvent::Status {
                status: ClientStatus::Closed,
                position: None,
                session: session.to_string(),
                estimated_wait_seconds: None,
                operator: None,
            },
        }
    }

    fn estimate_for(&self, c: &Client, position: u32, now: crate::Millis) -> Option<u32> {
        match &c.state {
            ClientState::Waiting { target, .. } => {
                self.estimated_wait_seconds(target, position, now)
            }
            ClientState::Active { .. } => None,
        }
    }

    /// A waiting client's new position, with the estimate that goes with it.
    pub fn position_event(
        &self,
        client_id: &str,
        position: u32,
        now: crate::Millis,
    ) -> ClientEvent {
        ClientEvent::Position {
            position,
            estimated_wait_seconds: self
                .clients
                .get(client_id)
                .and_then(|c| self.estimate_for(c, position, now)),
        }
    }

    /// Who should see that someone is typing: the operator serving a typing client, or the
    /// client of a session its serving operator types in.
    pub fn typing_peer(&self, client_id: &str) -> Option<(String, String)> {
        let c = self.clients.get(client_id)?;
        match &c.state {
            ClientState::Active { operator, .. } => Some((operator.clone(), c.session.clone())),
            ClientState::Waiting { .. } => None,
        }
    }

    /// Client `client_id` is typing: whom to tell (the operator serving it), if anyone.
    pub fn typing_from_client(&self, client_id: &str) -> Option<TypingTo> {
        self.typing_peer(client_id)
            .map(|(operator, session)| TypingTo::Operator { operator, session })
    }

    /// Operator `operator` is typing in `session`: whom to tell (its client, while this
    /// operator serves it), if anyone.
    pub fn typing_from_operator(&self, operator: &str, session: &str) -> Option<TypingTo> {
        let c = self.client_by_session(session)?;
        let (serving, current) = self.typing_peer(&c.id)?;
        (serving == operator && current == session).then(|| TypingTo::Client {
            client: c.id.clone(),
        })
    }

    /// Clients whose queue position an event may have changed: everyone waiting behind the
    /// place a client left, in the queues the event touched, and behind the place a redirected
    /// client took (it keeps its turn, so it may go in ahead of others).
    pub fn moved_by(&self, event: &Event) -> Vec<(String, u32)> {
        let targets: Vec<&Target> = match event {
            Event::ClientAccepted { from, .. } | Event::ClientLeft { from, .. } => vec![from],
            Event::ClientRedirected { from, to, .. } => match from {
                Redirected::Queue(t) => vec![t, to],
                Redirected::Operator(_) => vec![to],
            },
            Event::SessionClosed {
                waiting_in: Some(t),
                ..
            } => vec![t],
            _ => vec![],
        };
        targets
            .into_iter()
            .flat_map(|t| self.queue(t).zip(1..).map(|(c, p)| (c.id.clone(), p)))
            .collect()
    }
}

/// "Typing…" to show someone now; relayed live, never journaled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypingTo {
    /// The operator serving the typing client, in that session's tab.
    Operator { operator: String, session: String },
    /// The client whose operator is typing.
    Client { client: String },
}

/// Whose live streams a frame is for: every stream of one operator, or of one client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StreamOf {
    Operator(String),
    Client(String),
}

impl TypingTo {
    /// The stream that shows this "typing…" and the frame it shows (never journaled, so it
    /// carries no sequence number).
    pub fn frame(&self) -> (StreamOf, serde_json::Value) {
        let (to, frame) = match self {
            TypingTo::Operator { operator, session } => (
                StreamOf::Operator(operator.clone()),
                serde_json::to_value(OperatorEvent::Typing {
                    session: session.clone(),
                }),
            ),
            TypingTo::Client { client } => (
                StreamOf::Client(client.clone()),
                serde_json::to_value(ClientEvent::Typing {
                    from: Party::Operator,
                }),
            ),
        };
        (to, frame.unwrap_or_default())
    }
}

#[cfg(test)]
mod typing_tests {
    use super::*;

    #[test]
    fn typing_goes_to_the_serving_operators_tab_or_to_the_client_as_its_stream_frame() {
        let to = TypingTo::Operator {
            operator: "op_1".into(),
            session: "s_1".into(),
        };
        assert_eq!(
            to.frame(),
            (
                StreamOf::Operator("op_1".into()),
                serde_json::json!({"type": "typing", "session": "s_1"})
            )
        );
        let to = TypingTo::Client {
            client: "c_1".into(),
        };
        assert_eq!(
            to.frame(),
            (
                StreamOf::Client("c_1".into()),
                serde_json::json!({"type": "typing", "from": "operator"})
            )
        );
    }
}
