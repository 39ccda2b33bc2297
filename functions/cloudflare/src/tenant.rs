//! `TenantRoom`, the Durable Object that coordinates one tenant: it holds the tenant's
//! [`Lobby`] in memory, runs one call at a time against it, appends the events to its SQLite
//! journal before answering, and pushes what changed to the operators' and clients'
//! hibernatable WebSockets. It decides nothing itself: every rule is in `lobby-core`.

use std::cell::RefCell;
use std::collections::HashMap;

use lobby_core::api::{Actor, Ctx};
use lobby_core::channels::desk::HookRequest;
use lobby_core::channels::{self, Channel, HttpRequest};
use lobby_core::lobby::Command;
use lobby_core::outbox::{self, Mail};
use lobby_core::request::Call;
use lobby_core::views::{StreamOf, TypingTo};
use lobby_core::{ApiError, Event, Lobby, Millis};
use lobby_wire::{ClientEvent, OperatorEvent};
use serde::{Deserialize, Serialize};
use worker::*;

use crate::journal::{Journal, Stored};
use crate::{error_response, json_response};

/// A webhook request's parts besides its raw body (which travels as the request's body).
#[derive(Serialize, Deserialize)]
pub struct HookMeta {
    pub channel: Channel,
    pub method: String,
    pub query: String,
    pub signature: Option<String>,
}

/// The header that carries a webhook's [`HookMeta`].
pub const HOOK_HEADER: &str = "x-lobby-hook";

/// The header that carries the [`Call`] of a WebSocket upgrade (which has no body).
pub const ENVELOPE_HEADER: &str = "x-lobby-envelope";
/// The subprotocol to answer with, when the token came in `Sec-WebSocket-Protocol`.
pub const PROTOCOL_HEADER: &str = "x-lobby-protocol";

/// Who is on the other end of a WebSocket; kept with the socket across hibernation.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Peer {
    Operator { id: String },
    Client { id: String, session: String },
}

/// At most this many journal events are replayed to a reconnecting operator.
const MAX_REPLAY: u32 = 50_000;

struct Live {
    journal: Journal,
    lobby: Lobby,
    last: u64,
    snapshot: u64,
}

#[durable_object]
pub struct TenantRoom {
    state: State,
    env: Env,
    live: RefCell<Option<Live>>,
}

impl TenantRoom {
    /// Runs `f` on the live state, loading it from the journal first if this object just woke
    /// up. If `f` fails (storage error), the in-memory state is dropped so that the next call
    /// reloads exactly what was stored.
    fn with_live<R>(&self, f: impl FnOnce(&mut Live) -> Result<R>) -> Result<R> {
        let mut slot = self.live.borrow_mut();
        if slot.is_none() {
            let journal = Journal::open(self.state.storage().sql())?;
            let (mut lobby, last, snapshot) = journal.load()?;
            lobby.guard = journal.load_guard()?;
            *slot = Some(Live {
                journal,
                lobby,
                last,
                snapshot,
            });
        }
        let result = f(slot.as_mut().expect("loaded above"));
        if result.is_err() {
            *slot = None;
        }
        result
    }

    /// Appends events to the journal (numbering them) and pushes them to the sockets.
    fn record(&self, live: &mut Live, now: Millis, events: Vec<Event>) -> Result<()> {
        let stored = live.journal.append(live.last, now, events)?;
        live.last += stored.len() as u64;
        live.journal
            .maybe_snapshot(&live.lobby, live.last, &mut live.snapshot)?;
        self.broadcast(&live.lobby, &stored, now);
        Ok(())
    }

    /// Runs a call; answers the response and whether e-mails or provider calls are owed now
    /// (wake the alarm).
    fn call(&self, call: Call) -> Result<(Response, bool)> {
        let now = Date::now().as_millis() as i64;
        let mut entropy = [0u8; 64];
        getrandom::fill(&mut entropy).map_err(|e| Error::RustError(e.to_string()))?;
        let secret = crate::token_secret(&self.env)?;
        self.with_live(|live| {
            let ctx = Ctx {
                now,
                entropy: &entropy,
                token_secret: secret.as_bytes(),
                messages: &live.journal,
            };
            let outcome = live.lobby.serve(&call, &ctx);
            // A wrong invitation code is counted even though the call is refused; stored so
            // that an evicted object does not forget it.
            if let Some(guard) = &outcome.guard {
                live.journal.save_guard(guard)?;
            }
            let reply = match outcome.result {
                Ok(reply) => reply,
                Err(e) => return Ok((error_response(&e)?, false)),
            };
            if let Some(to) = &reply.typing {
                self.tell_typing(to);
            }
            self.record(live, now, reply.events)?;
            Ok((
                json_response(reply.status, &reply.body)?,
                live.lobby.is_due(now),
            ))
        })
    }

    /// Answers a channel's webhook request; also whether provider calls are owed now.
    fn hook(&self, meta: HookMeta, body: Vec<u8>) -> Result<(Response, bool)> {
        let now = Date::now().as_millis() as i64;
        let mut entropy = [0u8; 64];
        getrandom::fill(&mut entropy).map_err(|e| Error::RustError(e.to_string()))?;
        let req = HookRequest {
            method: meta.method,
            query: meta.query,
            signature: meta.signature,
            body,
        };
        self.with_live(|live| {
            let reply = live.lobby.hook(meta.channel, &req, &entropy, now);
            self.record(live, now, reply.events)?;
            let owes = live.lobby.is_due(now);
            let mut resp = Response::from_bytes(reply.body.into_bytes())?.with_status(reply.status);
            resp.headers_mut().set("Content-Type", reply.content_type)?;
            for (name, value) in &reply.headers {
                resp.headers_mut().set(name, value)?;
            }
            Ok((resp, owes))
        })
    }

    /// Performs one provider call; its status and body, or why there was no answer.
    async fn fetch_provider(&self, r: &HttpRequest) -> Result<(u16, Vec<u8>)> {
        let headers = Headers::new();
        for (k, v) in &r.headers {
            headers.set(k, v)?;
        }
        let mut init = RequestInit::new();
        init.with_method(match r.method {
            channels::Method::Get => Method::Get,
            channels::Method::Post => Method::Post,
        })
        .with_headers(headers);
        if !r.body.is_empty() {
            init.with_body(Some(
                worker::js_sys::Uint8Array::from(r.body.as_slice()).into(),
            ));
        }
        let request = Request::new_with_init(&r.url, &init)?;
        let mut resp = Fetch::Request(request).send().await?;
        let status = resp.status_code();
        let body = resp.bytes().await.unwrap_or_default();
        Ok((status, body))
    }

    /// Makes the provider calls that are due and records how each went.
    async fn flush_channels(&self) -> Result<()> {
        let now = Date::now().as_millis() as i64;
        let due: Vec<(String, std::result::Result<HttpRequest, String>)> =
            self.with_live(|live| {
                Ok(live
                    .lobby
                    .due_outgoing(now)
                    .into_iter()
                    .map(|id| {
                        let req = live.lobby.outbound_request(&id);
                        (id, req)
                    })
                    .collect())
            })?;
        for (id, req) in due {
            let (status, body, error) = match req {
                Ok(r) => match self.fetch_provider(&r).await {
                    Ok((status, body)) => (status, body, None),
                    Err(e) => (0, vec![], Some(e.to_string())),
                },
                Err(e) => (0, vec![], Some(e)),
            };
            let at = Date::now().as_millis() as i64;
            self.with_live(|live| {
                let cmd = Command::OutboundResult {
                    id: id.clone(),
                    status,
                    body,
                    error,
                };
                match live.lobby.handle(&cmd, at) {
                    Ok(events) => self.record(live, at, events),
                    Err(_) => Ok(()), // already settled by a concurrent run
                }
            })?;
        }
        Ok(())
    }

    /// Sends the e-mails that are due, records how each went, and sets the alarm for the next.
    async fn flush_outbox(&self) -> Result<()> {
        let now = Date::now().as_millis() as i64;
        let due: Vec<Mail> =
            self.with_live(|live| Ok(outbox::due(live.lobby.outbox.values(), now)))?;
        let from = self
            .env
            .var("LOBBY_MAIL_FROM")
            .map(|v| v.to_string())
            .unwrap_or_else(|_| "lobby@example.com".into());
        for mail in due {
            let outcome = self.send(&mail, &from, now).await;
            self.with_live(|live| {
                let cmd = match &outcome {
                    Ok(()) => Command::MailSent {
                        id: mail.id.clone(),
                    },
                    Err(e) => Command::MailFailed {
                        id: mail.id.clone(),
                        error: e.to_string(),
                    },
                };
                match live.lobby.handle(&cmd, now) {
                    Ok(events) => self.record(live, now, events),
                    Err(_) => Ok(()), // already settled by a concurrent run
                }
            })?;
        }
        self.flush_channels().await?;
        let next = self.with_live(|live| Ok(live.lobby.next_due()))?;
        let now = Date::now().as_millis() as i64;
        if let Some(at) = next {
            self.state.storage().set_alarm((at - now).max(0)).await?;
        }
        Ok(())
    }

    async fn send(&self, mail: &Mail, from: &str, now: Millis) -> Result<()> {
        let raw = outbox::mime(mail, from, &format!("{}@lobby", mail.id), now / 1000);
        let message = EmailMessage::new(from, &mail.to, &raw)
            .map_err(|e| Error::RustError(format!("{e:?}")))?;
        self.env
            .send_email("EMAIL")?
            .send(&message)
            .await
            .map(|_| ())
            .map_err(|e| Error::RustError(format!("{e:?}")))
    }

    /// Relays "typing" sent up a socket between a client and the operator serving it (not
    /// journaled; `POST /client/typing` and `/sessions/{id}/typing` do the same over HTTP).
    fn relay_typing(&self, peer: &Peer, text: &str) -> Result<()> {
        let Ok(frame) = serde_json::from_str::<serde_json::Value>(text) else {
            return Ok(());
        };
        if frame["type"] != "typing" {
            return Ok(());
        }
        self.with_live(|live| {
            let to = match peer {
                Peer::Client { id, .. } => live.lobby.typing_from_client(id),
                Peer::Operator { id } => live
                    .lobby
                    .typing_from_operator(id, frame["session"].as_str().unwrap_or_default()),
            };
            if let Some(to) = to {
                self.tell_typing(&to);
            }
            Ok(())
        })
    }

    /// Shows "typing…" on the sockets of whom it is for.
    fn tell_typing(&self, to: &TypingTo) {
        let (stream, typing) = to.frame();
        let tag = match &stream {
            StreamOf::Operator(id) => format!("op:{id}"),
            StreamOf::Client(id) => format!("client:{id}"),
        };
        for ws in self.state.get_websockets_with_tag(&tag) {
            let _ = ws.send(&typing);
        }
    }

    /// Sends every socket what it should see of the new events.
    fn broadcast(&self, lobby: &Lobby, stored: &[Stored], now: Millis) {
        if stored.is_empty() {
            return;
        }
        let sockets = self.state.get_websockets();
        if sockets.is_empty() {
            return;
        }
        // Queue positions that moved, computed once per event rather than once per socket.
        let moved: Vec<HashMap<String, u32>> = stored
            .iter()
            .map(|s| lobby.moved_by(&s.event).into_iter().collect())
            .collect();
        for ws in sockets {
            let Ok(Some(peer)) = ws.deserialize_attachment::<Peer>() else {
                continue;
            };
            match peer {
                Peer::Operator { id } => {
                    let Some(op) = lobby.operators.get(&id) else {
                        continue;
                    };
                    for s in stored {
                        if let Some(ev) = lobby.operator_event(op, s.seq, &s.event, s.at) {
                            let _ = ws.send(&ev);
                        }
                    }
                }
                Peer::Client { id, .. } => {
                    for (s, moved) in stored.iter().zip(&moved) {
                        if let Some(ev) = lobby.client_event(&id, &s.event, s.at) {
                            let _ = ws.send(&ev);
                        } else if let Some(position) = moved.get(&id) {
                            let _ = ws.send(&lobby.position_event(&id, *position, now));
                        }
                    }
                }
            }
        }
    }

    /// Accepts an operator's or a client's WebSocket: a first frame with where things stand,
    /// then what it missed since `after`, then live events.
    fn open_stream(&self, call: Call, protocol: Option<String>) -> Result<Response> {
        let pair = WebSocketPair::new()?;
        let server = pair.server;
        let refused = self.with_live(|live| {
            match &call.actor {
                Actor::Operator { id, .. } => {
                    let Some(op) = live.lobby.operators.get(id) else {
                        return Ok(Some(ApiError::Unauthorized(
                            "this operator no longer exists".into(),
                        )));
                    };
                    self.state
                        .accept_websocket_with_tags(&server, &["operator", &format!("op:{id}")]);
                    server.serialize_attachment(Peer::Operator { id: id.clone() })?;
                    server.send(&OperatorEvent::Hello { seq: live.last })?;
                    if let Some(after) = call.meta.after {
                        for s in live.journal.after(after, MAX_REPLAY)? {
                            if let Some(ev) = live.lobby.operator_event(op, s.seq, &s.event, s.at) {
                                server.send(&ev)?;
                            }
                        }
                    }
                }
                Actor::Client { id, session } => {
                    self.state
                        .accept_websocket_with_tags(&server, &["client", &format!("client:{id}")]);
                    server.serialize_attachment(Peer::Client {
                        id: id.clone(),
                        session: session.clone(),
                    })?;
                    let now = Date::now().as_millis() as i64;
                    server.send(&live.lobby.client_status(id, session, now))?;
                    if let Some(after) = call.meta.after {
                        for message in live.lobby.client_replay(session, &live.journal, after) {
                            server.send(&ClientEvent::Message { message })?;
                        }
                    }
                }
                _ => {
                    return Ok(Some(ApiError::Forbidden(
                        "this stream needs an operator's or a client's token".into(),
                    )))
                }
            }
            Ok(None)
        })?;
        if let Some(e) = refused {
            return error_response(&e);
        }
        let mut resp = Response::from_websocket(pair.client)?;
        if let Some(p) = protocol {
            resp.headers_mut().set("Sec-WebSocket-Protocol", &p)?;
        }
        Ok(resp)
    }
}

impl DurableObject for TenantRoom {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            live: RefCell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        if let Some(header) = req.headers().get(ENVELOPE_HEADER)? {
            let call: Call = serde_json::from_str(&header)?;
            let protocol = req.headers().get(PROTOCOL_HEADER)?;
            return self.open_stream(call, protocol);
        }
        if let Some(header) = req.headers().get(HOOK_HEADER)? {
            let meta: HookMeta = serde_json::from_str(&header)?;
            let body = req.bytes().await?;
            let (response, owes) = self.hook(meta, body)?;
            if owes {
                self.state.storage().set_alarm(0).await?;
            }
            return Ok(response);
        }
        let call: Call = req.json().await?;
        let (response, owes) = self.call(call)?;
        if owes {
            // Sent (e-mail, provider call) by the alarm right after this answer; retried by
            // later alarms.
            self.state.storage().set_alarm(0).await?;
        }
        Ok(response)
    }

    async fn alarm(&self) -> Result<Response> {
        self.flush_outbox().await?;
        Response::ok("")
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> Result<()> {
        // Pings keep a connection alive through proxies; "typing" is relayed; nothing else
        // is read from sockets (changes go through the HTTP API).
        if let WebSocketIncomingMessage::String(text) = message {
            if text.contains("\"ping\"") {
                ws.send_with_str(r#"{"type":"pong"}"#)?;
            } else if let Ok(Some(peer)) = ws.deserialize_attachment::<Peer>() {
                self.relay_typing(&peer, &text)?;
            }
        }
        Ok(())
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        code: usize,
        reason: String,
        _clean: bool,
    ) -> Result<()> {
        // 1005 and 1006 are reserved: they may be received but not sent.
        let code = match code {
            1005 | 1006 => 1000,
            c => c as u16,
        };
        let _ = ws.close(Some(code), Some(reason));
        Ok(())
    }

    async fn websocket_error(&self, _ws: WebSocket, _error: Error) -> Result<()> {
        Ok(())
    }
}
