//! A session's conversation once a client is here: messages (with a sender's idempotency key),
//! page views, tags and notes, and closing it. Only the serving operator writes in or closes a
//! session; an operator's reply to a channel client is also owed to its provider.

use lobby_wire::{PageView, Party};

use crate::error::ApiError;
use crate::time::Millis;

use super::{
    Author, ClientState, Closer, Command, Event, Lobby, Note, MAX_MESSAGE_KEYS, MAX_NOTES,
    MAX_PAGES_PER_SESSION, MAX_TAGS,
};

impl Lobby {
    pub(super) fn decide_conversation(
        &self,
        cmd: &Command,
        at: Millis,
    ) -> Result<Vec<Event>, ApiError> {
        match cmd {
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
            _ => Err(ApiError::Internal("not a conversation command".into())),
        }
    }

    pub(super) fn apply_conversation(&mut self, event: &Event, at: Millis) {
        match event {
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
            _ => {}
        }
    }
}

/// The idempotency key a message is stored under: keys are per sender, so a client's and an
/// operator's ids never collide.
pub(crate) fn message_key(author: &Author, id: &str) -> String {
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
    from: Party,
    operator: Option<&String>,
) -> Option<&'a str> {
    match (from, operator) {
        (Party::Operator, Some(o)) => key
            .strip_prefix("op:")?
            .strip_prefix(o.as_str())?
            .strip_prefix(':'),
        (Party::Client, _) => key.strip_prefix("client:"),
        (Party::System, _) => key.strip_prefix("system:"),
        (Party::Operator, None) => None,
    }
}
