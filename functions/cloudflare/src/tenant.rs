//! `TenantRoom`, the Durable Object that coordinates one tenant: it holds the tenant's
//! [`Lobby`] in memory, runs one call at a time against it, appends the events to its SQLite
//! journal before answering, and pushes what changed to the operators' and clients'
//! hibernatable WebSockets. It decides nothing itself: every rule is in `lobby-core`.

use std::cell::RefCell;
use std::collections::HashMap;

use lobby_core::api::{Actor, Ctx, MessageLog, Meta, Route};
use lobby_core::{ApiError, Lobby};
use lobby_wire::{ClientEvent, OperatorEvent};
use serde::{Deserialize, Serialize};
use worker::*;

use crate::journal::{Journal, Stored};
use crate::{error_response, json_response};

/// A call as the edge hands it over, already authenticated.
#[derive(Serialize, Deserialize)]
pub struct Envelope {
    pub route: Route,
    pub actor: Actor,
    pub meta: Meta,
    #[serde(default)]
    pub body: String,
}

/// The header that carries the envelope of a WebSocket upgrade (which has no body).
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
            let (lobby, last, snapshot) = journal.load()?;
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

    fn call(&self, env: Envelope) -> Result<Response> {
        let now = Date::now().as_millis() as i64;
        let mut entropy = [0u8; 64];
        getrandom::fill(&mut entropy).map_err(|e| Error::RustError(e.to_string()))?;
        let secret = crate::token_secret(&self.env)?;
        self.with_live(|live| {
            let Live {
                journal,
                lobby,
                last,
                snapshot,
            } = live;
            let ctx = Ctx {
                now,
                entropy: &entropy,
                token_secret: secret.as_bytes(),
                messages: &*journal,
            };
            let reply =
                match lobby.call(&env.route, &env.actor, env.body.as_bytes(), &env.meta, &ctx) {
                    Ok(reply) => reply,
                    Err(e) => return error_response(&e),
                };
            let stored = journal.append(*last, now, reply.events)?;
            *last += stored.len() as u64;
            journal.maybe_snapshot(lobby, *last, snapshot)?;
            self.broadcast(lobby, &stored);
            json_response(reply.status, &reply.body)
        })
    }

    /// Sends every socket what it should see of the new events.
    fn broadcast(&self, lobby: &Lobby, stored: &[Stored]) {
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
                            let _ = ws.send(&ClientEvent::Position {
                                position: *position,
                            });
                        }
                    }
                }
            }
        }
    }

    /// Accepts an operator's or a client's WebSocket: a first frame with where things stand,
    /// then what it missed since `after`, then live events.
    fn open_stream(&self, env: Envelope, protocol: Option<String>) -> Result<Response> {
        let pair = WebSocketPair::new()?;
        let server = pair.server;
        let refused = self.with_live(|live| {
            match &env.actor {
                Actor::Operator { id, .. } => {
                    let Some(op) = live.lobby.operators.get(id) else {
                        return Ok(Some(ApiError::Unauthorized(
                            "this operator no longer exists".into(),
                        )));
                    };
                    self.state
                        .accept_websocket_with_tags(&server, &["operator"]);
                    server.serialize_attachment(Peer::Operator { id: id.clone() })?;
                    server.send(&OperatorEvent::Hello { seq: live.last })?;
                    if let Some(after) = env.meta.after {
                        for s in live.journal.after(after, MAX_REPLAY)? {
                            if let Some(ev) = live.lobby.operator_event(op, s.seq, &s.event, s.at) {
                                server.send(&ev)?;
                            }
                        }
                    }
                }
                Actor::Client { id, session } => {
                    self.state.accept_websocket_with_tags(&server, &["client"]);
                    server.serialize_attachment(Peer::Client {
                        id: id.clone(),
                        session: session.clone(),
                    })?;
                    server.send(&live.lobby.client_status(id, session))?;
                    if let Some(after) = env.meta.after {
                        for message in live.journal.messages(session, after, 10_000) {
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
            let env: Envelope = serde_json::from_str(&header)?;
            let protocol = req.headers().get(PROTOCOL_HEADER)?;
            return self.open_stream(env, protocol);
        }
        let env: Envelope = req.json().await?;
        self.call(env)
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> Result<()> {
        // Clients may ping to keep a connection alive through proxies; nothing else is read.
        if let WebSocketIncomingMessage::String(text) = message {
            if text.contains("\"ping\"") {
                ws.send_with_str(r#"{"type":"pong"}"#)?;
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
