//! A conversation's routes, for the operator who serves it and for its client: sessions, messages
//! (a sender's id makes a retry the same message), page views, typing, tags, notes and close.

use lobby_wire as wire;
use serde_json::json;

use crate::error::{parse_json, ApiError};
use crate::lobby::{message_key, Author, Closer, Command, Event, Lobby};
use crate::views::TypingTo;

use super::{
    client_of, optional_field, text_field, Call, Ctx, MessageLog, Reply, Route, MAX_MESSAGE_CHARS,
};

impl Lobby {
    pub(super) fn call_conversation(&mut self, call: Call) -> Result<Reply, ApiError> {
        let Call {
            route,
            actor,
            body,
            meta,
            ctx,
        } = call;
        let reply = match route {
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
            Route::ClientTyping => {
                let (client, _) = client_of(actor)?;
                typing_reply(self.typing_from_client(client))
            }
            Route::SessionTyping { session } => {
                let op = self.serving_operator(actor, session)?;
                typing_reply(self.typing_from_operator(&op, session))
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
            _ => return Err(ApiError::Internal("not a conversation route".into())),
        };
        Ok(reply)
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
}

/// A typing call's answer: whether anyone is told (nobody while the client waits, or after the
/// session moved on), and whom.
fn typing_reply(to: Option<TypingTo>) -> Reply {
    let mut reply = Reply::ok(json!({ "relayed": to.is_some() }));
    reply.typing = to;
    reply
}

/// At most this many messages are replayed to a reconnecting client.
pub const CLIENT_REPLAY: usize = 10_000;

impl Lobby {
    /// The messages a reconnecting client's stream replays: those after message `after` (at
    /// most [`CLIENT_REPLAY`]), as people see them. Live frames name each operator, so the
    /// replay of the same messages must too (both runtimes send this).
    pub fn client_replay(
        &self,
        session: &str,
        log: &dyn MessageLog,
        after: u64,
    ) -> Vec<wire::Message> {
        self.shown_messages(session, log.messages(session, after, CLIENT_REPLAY))
    }
}
