//! The operator's live events (`/api/v1/operator/events`), kept for as long as the operator is
//! signed in, over the transport the server offers (`GET /healthz` → `events`): a WebSocket on
//! Cloudflare, Server-Sent Events (`EventSource`) on Spin. Either way the stream reconnects by
//! itself with exponential backoff after a network drop or a server restart and resumes with
//! `after=<the highest seq seen>`, so the journal replays exactly what was missed. Frames with a
//! seq at or below that are dropped (no duplicates).
//!
//! After a `hello` on a new connection the queue and the active sessions are fetched again, to
//! be safe; frames arriving meanwhile wait in a buffer and are applied after the snapshot. That
//! works because [`Store::apply`] is idempotent.
//!
//! Server-Sent Events: the server ends each stream after a while (25 s on Spin) and the
//! `EventSource` reconnects by itself, sending the last `id:` it saw as `Last-Event-ID`; the
//! server replays from there, so such a reconnect needs no snapshot. A failure before the stream
//! opened (server down, token refused) closes it and takes the backoff path above instead. The
//! stream is one-way: no pings go up (a `keepalive` event comes down every 5 s instead).

use std::cell::RefCell;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use lobby_wire::{EventTransport, OperatorEvent, QueueList};
use wasm_bindgen::{closure::Closure, JsCast};
use web_sys::{Event, EventSource, MessageEvent, WebSocket};

use crate::api;
use crate::store::{now_ms, store, Connection};

/// A ping this often; a connection silent for `DEAD_AFTER` is dropped and reopened (a half-open
/// TCP connection after a network change never reports an error by itself).
const PING_EVERY: Duration = Duration::from_secs(10);
const DEAD_AFTER_MS: f64 = 25_000.0;
const BACKOFF_FIRST_MS: f64 = 300.0;
const BACKOFF_MAX_MS: f64 = 8_000.0;
const PROBE_TIMEOUT: Duration = Duration::from_secs(8);

#[derive(Default)]
struct Live {
    running: bool,
    socket: Option<Socket>,
    /// Counts connections, so that a late callback of an old one is ignored.
    generation: u32,
    /// The highest journal seq applied; `None` before the first `hello`.
    max_seq: Option<u64>,
    attempt: u32,
    /// Frames received while the snapshot is being fetched.
    buffer: Option<Vec<OperatorEvent>>,
    last_heard: f64,
    timers_started: bool,
    /// What the server offers; asked again after every lost connection (`None`: not known).
    transport: Option<EventTransport>,
}

enum Conn {
    Ws(WebSocket),
    Sse(EventSource),
}

struct Socket {
    conn: Conn,
    /// An `EventSource` has opened its stream since its last error (so an error now is the end
    /// of that stream, which it reconnects by itself).
    open: bool,
    /// This connection has had its `hello` (later ones are an `EventSource`'s own reconnects).
    greeted: bool,
    // The callbacks must live as long as the connection.
    _callbacks: Vec<Closure<dyn FnMut(Event)>>,
}

impl Drop for Socket {
    fn drop(&mut self) {
        match &self.conn {
            Conn::Ws(ws) => {
                ws.set_onmessage(None);
                ws.set_onclose(None);
                let _ = ws.close();
            }
            Conn::Sse(es) => {
                es.set_onmessage(None);
                es.set_onerror(None);
                es.set_onopen(None);
                es.close();
            }
        }
    }
}

thread_local! {
    static LIVE: RefCell<Live> = RefCell::new(Live::default());
}

/// Starts the connection (after sign-in, or on load with a kept token).
pub fn start() {
    let first = LIVE.with_borrow_mut(|l| {
        l.running = true;
        l.attempt = 0;
        !std::mem::replace(&mut l.timers_started, true)
    });
    if first {
        // Checks liveness and pings; survives sign-out (it does nothing while not running).
        set_interval(heartbeat, PING_EVERY);
        // The browser knows when the network comes back: try at once instead of waiting.
        let on_online = Closure::<dyn FnMut()>::new(|| {
            if LIVE.with_borrow(|l| l.running && l.socket.is_none()) {
                LIVE.with_borrow_mut(|l| l.attempt = 0);
                connect();
            }
        });
        let on_offline = Closure::<dyn FnMut()>::new(|| drop_socket(true));
        let w = window();
        let _ = w.add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref());
        let _ = w.add_event_listener_with_callback("offline", on_offline.as_ref().unchecked_ref());
        on_online.forget();
        on_offline.forget();
    }
    connect();
}

/// Stops it (sign-out): no reconnects, and a next sign-in starts from a fresh snapshot.
pub fn stop() {
    let socket = LIVE.with_borrow_mut(|l| {
        l.running = false;
        l.max_seq = None;
        l.buffer = None;
        l.generation += 1;
        l.socket.take()
    });
    drop(socket);
    store().connection.set(Connection::Reconnecting);
}

fn connect() {
    let Some(token) = api::token() else { return };
    let generation = LIVE.with_borrow_mut(|l| {
        l.generation += 1;
        l.socket.take();
        l.buffer = None;
        l.generation
    });
    if !LIVE.with_borrow(|l| l.running) {
        return;
    }
    let Some(transport) = LIVE.with_borrow(|l| l.transport) else {
        // Ask the server which transport it offers, then connect.
        spawn_local(async move {
            let health = api::health(PROBE_TIMEOUT).await;
            if !LIVE.with_borrow(|l| l.running && l.generation == generation) {
                return;
            }
            match health {
                Ok(h) => {
                    LIVE.with_borrow_mut(|l| l.transport = Some(h.events));
                    connect();
                }
                Err(_) => schedule_reconnect(generation),
            }
        });
        return;
    };
    let loc = window().location();
    let secure = loc.protocol().ok().as_deref() == Some("https:");
    let host = loc.host().unwrap_or_default();
    let mut query = format!("token={}", api::seg(&token));
    if let Some(seq) = LIVE.with_borrow(|l| l.max_seq) {
        query.push_str(&format!("&after={seq}"));
    }
    let on_message = Closure::<dyn FnMut(Event)>::new(move |e: Event| {
        if let Some(text) = e.unchecked_ref::<MessageEvent>().data().as_string() {
            on_frame(generation, &text);
        }
    });
    let socket = match transport {
        EventTransport::Websocket => {
            let scheme = if secure { "wss" } else { "ws" };
            let url = format!("{scheme}://{host}/api/v1/operator/events?{query}");
            let Ok(ws) = WebSocket::new(&url) else {
                schedule_reconnect(generation);
                return;
            };
            let on_close = Closure::<dyn FnMut(Event)>::new(move |_e: Event| {
                if LIVE.with_borrow(|l| l.generation == generation) {
                    drop_socket(true);
                }
            });
            ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
            Socket {
                conn: Conn::Ws(ws),
                open: false,
                greeted: false,
                _callbacks: vec![on_message, on_close],
            }
        }
        EventTransport::Sse => {
            let Ok(es) = EventSource::new(&format!("/api/v1/operator/events?{query}")) else {
                schedule_reconnect(generation);
                return;
            };
            let on_open = Closure::<dyn FnMut(Event)>::new(move |_e: Event| {
                LIVE.with_borrow_mut(|l| {
                    if l.generation == generation {
                        l.last_heard = now_ms();
                        if let Some(s) = &mut l.socket {
                            s.open = true;
                        }
                    }
                });
            });
            let on_error = Closure::<dyn FnMut(Event)>::new(move |_e: Event| {
                // The stream ended after it had opened and the browser is reconnecting with
                // `Last-Event-ID`: let it. Anything else goes the backoff way.
                let own_reconnect = LIVE.with_borrow_mut(|l| {
                    if l.generation != generation {
                        return None;
                    }
                    let s = l.socket.as_mut()?;
                    let Conn::Sse(es) = &s.conn else { return None };
                    let reconnecting = s.open && es.ready_state() == EventSource::CONNECTING;
                    s.open = false;
                    Some(reconnecting)
                });
                if own_reconnect == Some(false) {
                    drop_socket(true);
                }
            });
            // Not a frame: it only proves the stream alive.
            let on_keepalive = Closure::<dyn FnMut(Event)>::new(move |_e: Event| {
                LIVE.with_borrow_mut(|l| {
                    if l.generation == generation {
                        l.last_heard = now_ms();
                    }
                });
            });
            es.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            es.set_onopen(Some(on_open.as_ref().unchecked_ref()));
            es.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            let _ = es.add_event_listener_with_callback(
                "keepalive",
                on_keepalive.as_ref().unchecked_ref(),
            );
            Socket {
                conn: Conn::Sse(es),
                open: false,
                greeted: false,
                _callbacks: vec![on_message, on_open, on_error, on_keepalive],
            }
        }
    };
    LIVE.with_borrow_mut(|l| {
        l.last_heard = now_ms();
        l.socket = Some(socket);
    });
}

/// Shows the client of `session` that its operator is typing: up the WebSocket, or over HTTP
/// (`POST /sessions/{id}/typing`) beside a one-way stream of Server-Sent Events. The caller
/// throttles.
pub fn typing(session: &str) {
    let conn = LIVE.with_borrow(|l| {
        l.socket.as_ref().map(|s| match &s.conn {
            Conn::Ws(ws) => Some(ws.clone()),
            Conn::Sse(_) => None,
        })
    });
    match conn {
        Some(Some(ws)) if ws.ready_state() == WebSocket::OPEN => {
            let frame = serde_json::json!({"type": "typing", "session": session});
            let _ = ws.send_with_str(&frame.to_string());
        }
        Some(None) => {
            let path = format!("/sessions/{}/typing", api::seg(session));
            spawn_local(async move {
                // Best effort: a lost "typing…" is not worth an error on screen.
                let _ = api::post::<_, serde_json::Value>(&path, &serde_json::json!({})).await;
            });
        }
        _ => {}
    }
}

/// The connection is gone (closed, dead or the browser went offline): show it and try again
/// later, asking the server afresh which transport it offers.
fn drop_socket(reconnect: bool) {
    let (socket, generation, running) = LIVE.with_borrow_mut(|l| {
        l.generation += 1;
        l.transport = None;
        (l.socket.take(), l.generation, l.running)
    });
    // Dropping a socket runs its callbacks' destructors: outside the borrow.
    drop(socket);
    if running {
        store().connection.set(Connection::Reconnecting);
        if reconnect {
            schedule_reconnect(generation);
        }
    }
}

fn schedule_reconnect(generation: u32) {
    let attempt = LIVE.with_borrow_mut(|l| {
        l.attempt += 1;
        l.attempt
    });
    let base = (BACKOFF_FIRST_MS * 2f64.powi(attempt.min(10) as i32 - 1)).min(BACKOFF_MAX_MS);
    let delay = base * (0.75 + 0.5 * js_sys::Math::random());
    set_timeout(
        move || {
            let still = LIVE.with_borrow(|l| l.running && l.generation == generation);
            if !still {
                return;
            }
            // Ask over HTTP first: a 401 means the token expired (sign in again), a network
            // error means the server is still away (wait longer).
            spawn_local(async move {
                match api::get_quick::<lobby_wire::OperatorInfo>("/me", PROBE_TIMEOUT).await {
                    Ok(me) => {
                        store().me.set(Some(me));
                        if LIVE.with_borrow(|l| l.running && l.generation == generation) {
                            connect();
                        }
                    }
                    Err(f) if f.status == 401 => store().fail(f),
                    Err(_) => {
                        if LIVE.with_borrow(|l| l.running && l.generation == generation) {
                            schedule_reconnect(generation);
                        }
                    }
                }
            });
        },
        Duration::from_millis(delay as u64),
    );
}

fn heartbeat() {
    let (socket, ws, silent) = LIVE.with_borrow(|l| {
        (
            l.socket.is_some(),
            l.socket.as_ref().and_then(|s| match &s.conn {
                Conn::Ws(ws) => Some(ws.clone()),
                Conn::Sse(_) => None,
            }),
            now_ms() - l.last_heard,
        )
    });
    if !socket {
        return;
    }
    if silent > DEAD_AFTER_MS {
        // Silent too long, or stuck connecting: start over.
        drop_socket(true);
    } else if let Some(ws) = ws.filter(|ws| ws.ready_state() == WebSocket::OPEN) {
        // WebSocket only: Server-Sent Events go one way (the server sends `keepalive`).
        let _ = ws.send_with_str(r#"{"type":"ping"}"#);
    }
}

fn on_frame(generation: u32, text: &str) {
    if !LIVE.with_borrow_mut(|l| {
        l.last_heard = now_ms();
        l.generation == generation
    }) {
        return;
    }
    let Some(event) = parse_event(text) else {
        // `pong`, or a frame of a newer server that this app does not know.
        return;
    };
    let Some(seq) = seq_of(&event) else {
        // Not journaled (typing): neither resumed nor counted.
        store().apply(event, true);
        return;
    };
    if let OperatorEvent::Hello { seq } = event {
        let snapshot = LIVE.with_borrow_mut(|l| {
            l.attempt = 0;
            // A new connection takes a snapshot; an EventSource's own reconnect of the same one
            // does not (the server replayed from `Last-Event-ID`), unless the server was reset.
            let greeted = l
                .socket
                .as_mut()
                .is_some_and(|s| std::mem::replace(&mut s.greeted, true));
            let snapshot = match l.max_seq {
                // The server's journal is behind what we saw: it was reset. Start afresh.
                Some(max) if seq < max => {
                    l.max_seq = Some(seq);
                    true
                }
                Some(_) => !greeted,
                None => {
                    l.max_seq = Some(seq);
                    true
                }
            };
            if snapshot {
                l.buffer = Some(vec![]);
            }
            snapshot
        });
        store().connection.set(Connection::Connected);
        if snapshot {
            resync(generation);
        }
        return;
    }
    let apply_now = LIVE.with_borrow_mut(|l| {
        if l.max_seq.is_some_and(|max| seq <= max) {
            return None; // seen already
        }
        l.max_seq = Some(seq);
        match &mut l.buffer {
            Some(buffer) => {
                buffer.push(event.clone());
                None
            }
            None => Some(event.clone()),
        }
    });
    if let Some(event) = apply_now {
        store().apply(event, true);
    }
}

/// An operator frame, read by its `type` by hand rather than through serde's internally tagged
/// enum support: that would buffer every frame and compile a second deserializer for each
/// payload type, which costs the app ~20 KB of Wasm. The tests below keep it in step with
/// `OperatorEvent`'s serde form.
pub fn parse_event(text: &str) -> Option<OperatorEvent> {
    let mut v: serde_json::Value = serde_json::from_str(text).ok()?;
    let seq = v.get("seq").and_then(serde_json::Value::as_u64);
    let mut take = |k: &str| v.get_mut(k).map(serde_json::Value::take);
    let string = |v: Option<serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => Some(s),
        _ => None,
    };
    let kind = string(take("type"))?;
    Some(match kind.as_str() {
        "hello" => OperatorEvent::Hello { seq: seq? },
        "client_waiting" => OperatorEvent::ClientWaiting {
            seq: seq?,
            client: api::decode(take("client")?).ok()?,
        },
        "client_removed" => OperatorEvent::ClientRemoved {
            seq: seq?,
            client: string(take("client"))?,
            reason: api::decode(take("reason")?).ok()?,
            operator: string(take("operator")),
        },
        "session_started" => OperatorEvent::SessionStarted {
            seq: seq?,
            session: string(take("session"))?,
            client: string(take("client"))?,
        },
        "message" => OperatorEvent::Message {
            seq: seq?,
            session: string(take("session"))?,
            message: api::decode(take("message")?).ok()?,
        },
        "session_closed" => OperatorEvent::SessionClosed {
            seq: seq?,
            session: string(take("session"))?,
            by: api::decode(take("by")?).ok()?,
        },
        "typing" => OperatorEvent::Typing {
            session: string(take("session"))?,
        },
        _ => return None,
    })
}

fn seq_of(e: &OperatorEvent) -> Option<u64> {
    match e {
        OperatorEvent::Hello { seq }
        | OperatorEvent::ClientWaiting { seq, .. }
        | OperatorEvent::ClientRemoved { seq, .. }
        | OperatorEvent::SessionStarted { seq, .. }
        | OperatorEvent::Message { seq, .. }
        | OperatorEvent::SessionClosed { seq, .. } => Some(*seq),
        OperatorEvent::Typing { .. } => None,
    }
}

/// Fetches the queue and the active sessions, applies them, then the frames that came meanwhile.
fn resync(generation: u32) {
    spawn_local(async move {
        let asked_at = now_ms();
        let queue = api::get::<QueueList>("/queue").await;
        let sessions = api::get::<api::Sessions>("/sessions").await;
        if !LIVE.with_borrow(|l| l.generation == generation) {
            return;
        }
        let s = store();
        match (queue, sessions) {
            (Ok(q), Ok(ss)) => s.apply_snapshot(q.clients, ss.sessions, asked_at),
            (Err(f), _) | (_, Err(f)) if f.status == 401 => {
                s.fail(f);
                return;
            }
            _ => {} // the frames alone still tell the story
        }
        let buffered = LIVE
            .with_borrow_mut(|l| l.buffer.take())
            .unwrap_or_default();
        for event in buffered {
            s.apply(event, true);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::parse_event;
    use lobby_wire::*;

    fn roundtrip(e: OperatorEvent) {
        let text = serde_json::to_string(&e).unwrap();
        assert_eq!(parse_event(&text), Some(e), "{text}");
    }

    #[test]
    fn every_frame_reads_as_serde_writes_it() {
        let message = Message {
            seq: 7,
            from: Party::Client,
            text: "hi https://x.example".into(),
            attachments: vec![Attachment {
                url: "https://x.example/a.png".into(),
                kind: Some("image".into()),
                name: None,
            }],
            at: "2026-01-01T00:00:00Z".into(),
            delivery: None,
            operator: None,
            client_message_id: Some("m-1".into()),
        };
        let client = QueueItem {
            id: "c1".into(),
            entry: EntryKind::Whatsapp,
            channel: "whatsapp".into(),
            language: Some("cs".into()),
            browser: None,
            os: None,
            widget: Some("Website".into()),
            widget_id: Some("w1".into()),
            name: Some("Jana".into()),
            phone: None,
            email: None,
            group: Some("g1".into()),
            operator: None,
            waiting_since: "2026-01-01T00:00:00Z".into(),
            position: 2,
            session: "s1".into(),
            page: None,
        };
        roundtrip(OperatorEvent::Hello { seq: 3 });
        roundtrip(OperatorEvent::ClientWaiting { seq: 4, client });
        for operator in [None, Some("op1".to_string())] {
            roundtrip(OperatorEvent::ClientRemoved {
                seq: 5,
                client: "c1".into(),
                reason: RemovedReason::Accepted,
                operator,
            });
        }
        roundtrip(OperatorEvent::SessionStarted {
            seq: 6,
            session: "s1".into(),
            client: "c1".into(),
        });
        roundtrip(OperatorEvent::Message {
            seq: 7,
            session: "s1".into(),
            message,
        });
        roundtrip(OperatorEvent::SessionClosed {
            seq: 8,
            session: "s1".into(),
            by: Party::Client,
        });
        roundtrip(OperatorEvent::Typing {
            session: "s1".into(),
        });
        assert_eq!(parse_event(r#"{"type":"pong"}"#), None);
        assert_eq!(parse_event("not json"), None);
    }
}
