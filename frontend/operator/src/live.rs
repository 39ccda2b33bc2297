//! The operator WebSocket (`/api/v1/operator/events`), kept alive for as long as the operator is
//! signed in: it reconnects by itself with exponential backoff after a network drop or a server
//! restart and resumes with `after=<the highest seq seen>`, so the journal replays exactly what
//! was missed. Frames with a seq at or below that are dropped (no duplicates).
//!
//! After every `hello` the queue and the active sessions are fetched again, to be safe; frames
//! arriving meanwhile wait in a buffer and are applied after the snapshot. That works because
//! [`Store::apply`] is idempotent.

use std::cell::RefCell;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use lobby_wire::{OperatorEvent, QueueList};
use wasm_bindgen::{closure::Closure, JsCast};
use web_sys::{CloseEvent, MessageEvent, WebSocket};

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
    /// Counts sockets, so that a late callback of an old one is ignored.
    generation: u32,
    /// The highest journal seq applied; `None` before the first `hello`.
    max_seq: Option<u64>,
    attempt: u32,
    /// Frames received while the snapshot is being fetched.
    buffer: Option<Vec<OperatorEvent>>,
    last_heard: f64,
    timers_started: bool,
}

struct Socket {
    ws: WebSocket,
    // The callbacks must live as long as the socket.
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
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
    let loc = window().location();
    let scheme = if loc.protocol().ok().as_deref() == Some("https:") {
        "wss"
    } else {
        "ws"
    };
    let host = loc.host().unwrap_or_default();
    let mut url = format!(
        "{scheme}://{host}/api/v1/operator/events?token={}",
        api::seg(&token)
    );
    if let Some(seq) = LIVE.with_borrow(|l| l.max_seq) {
        url.push_str(&format!("&after={seq}"));
    }
    let ws = match WebSocket::new(&url) {
        Ok(ws) => ws,
        Err(_) => {
            schedule_reconnect(generation);
            return;
        }
    };
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        if let Some(text) = e.data().as_string() {
            on_frame(generation, &text);
        }
    });
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_e: CloseEvent| {
        let current = LIVE.with_borrow(|l| l.generation == generation);
        if current {
            drop_socket(true);
        }
    });
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    LIVE.with_borrow_mut(|l| {
        l.last_heard = now_ms();
        l.socket = Some(Socket {
            ws,
            _on_message: on_message,
            _on_close: on_close,
        });
    });
}

/// The socket is gone (closed, dead or the browser went offline): show it and try again later.
fn drop_socket(reconnect: bool) {
    let (socket, generation, running) = LIVE.with_borrow_mut(|l| {
        l.generation += 1;
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
    let (socket, silent) = LIVE.with_borrow(|l| {
        (
            l.socket.as_ref().map(|s| s.ws.clone()),
            now_ms() - l.last_heard,
        )
    });
    let Some(ws) = socket else { return };
    if silent > DEAD_AFTER_MS {
        // Silent too long, or stuck connecting: start over.
        drop_socket(true);
    } else if ws.ready_state() == WebSocket::OPEN {
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
        LIVE.with_borrow_mut(|l| {
            l.attempt = 0;
            match l.max_seq {
                // The server's journal is behind what we saw: it was reset. Start afresh.
                Some(max) if seq < max => l.max_seq = Some(seq),
                Some(_) => {}
                None => l.max_seq = Some(seq),
            }
            l.buffer = Some(vec![]);
        });
        store().connection.set(Connection::Connected);
        resync(generation);
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
