//! WebSockets to the server: the operator's and the client's event streams.

use std::io::ErrorKind;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use lobby_wire::{ClientEvent, OperatorEvent};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message as Frame, WebSocket};

use crate::server::{env_secs, Server};

/// How long to wait for one expected event (`LOBBY_E2E_EVENT_TIMEOUT` in seconds overrides it).
/// Only a bound on waiting: no test asserts on how long anything took.
pub fn event_timeout() -> Duration {
    env_secs("LOBBY_E2E_EVENT_TIMEOUT", 10)
}

/// Percent-encodes a query parameter value.
pub fn encode_query(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A refused WebSocket handshake: the HTTP answer the server gave instead.
#[derive(Debug, Clone)]
pub struct WsRefused {
    pub status: u16,
    pub body: String,
}

/// An open WebSocket. Every JSON frame read is kept in `seen` (for failure messages).
pub struct Ws {
    what: String,
    socket: WebSocket<TcpStream>,
    pub seen: Vec<Value>,
    pub closed: bool,
}

impl Server {
    /// Opens `path` (which may already carry a query) as a WebSocket with `token` as the `token`
    /// query parameter.
    pub fn ws_try_connect(&self, path: &str, token: &str) -> Result<Ws, WsRefused> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!(
            "ws://127.0.0.1:{}{path}{sep}token={}",
            self.port(),
            encode_query(token)
        );
        let stream = TcpStream::connect(("127.0.0.1", self.port()))
            .unwrap_or_else(|e| panic!("connect for {path}: {e}"));
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
        stream.set_nodelay(true).ok();
        let request = url.as_str().into_client_request().expect("ws request");
        match tungstenite::client(request, stream) {
            Ok((socket, _)) => Ok(Ws {
                what: path.split('?').next().unwrap_or(path).to_owned(),
                socket,
                seen: Vec::new(),
                closed: false,
            }),
            Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
                Err(WsRefused {
                    status: resp.status().as_u16(),
                    body: resp
                        .body()
                        .as_ref()
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .unwrap_or_default(),
                })
            }
            Err(e) => panic!("WebSocket handshake for {path}: {e}"),
        }
    }

    /// Opens a WebSocket; panics when refused.
    pub fn ws_connect(&self, path: &str, token: &str) -> Ws {
        self.ws_try_connect(path, token)
            .unwrap_or_else(|r| panic!("WebSocket {path} refused: {} {}", r.status, r.body))
    }

    /// The operator's event stream (optionally resuming after `after`); returns it and the seq of
    /// its first frame, `{"type":"hello","seq":N}`.
    pub fn operator_ws(&self, token: &str, after: Option<u64>) -> (Ws, u64) {
        let path = match after {
            Some(a) => format!("/api/v1/operator/events?after={a}"),
            None => "/api/v1/operator/events".to_owned(),
        };
        let mut ws = self.ws_connect(&path, token);
        match ws.expect::<OperatorEvent>("the hello frame") {
            OperatorEvent::Hello { seq } => (ws, seq),
            other => panic!("first operator frame is not hello: {other:?}"),
        }
    }

    /// The client's event stream (optionally resuming after message seq `after`); returns it and
    /// its first frame, `{"type":"status",...}`.
    pub fn client_ws(&self, client_token: &str, after: Option<u64>) -> (Ws, ClientEvent) {
        let path = match after {
            Some(a) => format!("/api/v1/client/events?after={a}"),
            None => "/api/v1/client/events".to_owned(),
        };
        let mut ws = self.ws_connect(&path, client_token);
        let first = ws.expect::<ClientEvent>("the status frame");
        assert!(
            matches!(first, ClientEvent::Status { .. }),
            "first client frame is not status: {first:?}"
        );
        (ws, first)
    }
}

impl Ws {
    /// The next JSON frame within `timeout`; `None` on timeout or when the socket closed.
    pub fn next_value(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.closed {
                return None;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.socket
                .get_mut()
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .ok();
            let text = match self.socket.read() {
                Ok(Frame::Text(t)) => t.as_str().to_owned(),
                Ok(Frame::Binary(b)) => String::from_utf8_lossy(&b).into_owned(),
                Ok(Frame::Close(_)) => {
                    self.closed = true;
                    return None;
                }
                Ok(_) => continue, // ping/pong: tungstenite answers pings itself
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    continue
                }
                Err(_) => {
                    self.closed = true;
                    return None;
                }
            };
            let v: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: frame is not JSON ({e}): {text}", self.what));
            self.seen.push(v.clone());
            return Some(v);
        }
    }

    /// The next frame as `T` within `timeout`; a frame that does not parse as `T` panics.
    pub fn next<T: DeserializeOwned>(&mut self, timeout: Duration) -> Option<T> {
        let v = self.next_value(timeout)?;
        Some(parse_frame(&self.what, v))
    }

    /// The next frame as `T`; panics when none comes within [`event_timeout`].
    #[track_caller]
    pub fn expect<T: DeserializeOwned>(&mut self, what: &str) -> T {
        match self.next(event_timeout()) {
            Some(t) => t,
            None => panic!("{}: no frame ({what}) {}", self.what, self.why_none()),
        }
    }

    /// Reads frames until one satisfies `pred` (each waited for up to [`event_timeout`]);
    /// returns every frame read, the matching one last. Panics with what it saw otherwise.
    #[track_caller]
    pub fn until<T: DeserializeOwned>(
        &mut self,
        what: &str,
        mut pred: impl FnMut(&T) -> bool,
    ) -> Vec<T> {
        let mut got = Vec::new();
        loop {
            match self.next::<T>(event_timeout()) {
                Some(t) => {
                    let hit = pred(&t);
                    got.push(t);
                    if hit {
                        return got;
                    }
                }
                None => panic!(
                    "{}: waited for {what}, {}; frames seen on this socket:\n{}",
                    self.what,
                    self.why_none(),
                    self.seen_text()
                ),
            }
        }
    }

    /// Reads frames until one satisfies `pred`; returns it.
    #[track_caller]
    pub fn wait_for<T: DeserializeOwned>(&mut self, what: &str, pred: impl FnMut(&T) -> bool) -> T {
        self.until(what, pred)
            .pop()
            .expect("until returns the match")
    }

    /// Every frame that arrives before `quiet` passes without one (for "nothing else came").
    pub fn drain<T: DeserializeOwned>(&mut self, quiet: Duration) -> Vec<T> {
        let mut got = Vec::new();
        while let Some(t) = self.next(quiet) {
            got.push(t);
        }
        got
    }

    fn why_none(&self) -> String {
        if self.closed {
            "the server closed the socket".to_owned()
        } else {
            format!("none within {:?}", event_timeout())
        }
    }

    /// The frames read so far, one per line.
    pub fn seen_text(&self) -> String {
        self.seen
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Closes the socket (a client going away).
    pub fn close(mut self) {
        let _ = self.socket.close(None);
        let _ = self.socket.flush();
    }
}

fn parse_frame<T: DeserializeOwned>(what: &str, v: Value) -> T {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| {
        panic!(
            "{what}: frame does not parse as {}: {e}\nframe: {v}",
            std::any::type_name::<T>()
        )
    })
}

/// The `seq` of an operator event (read through JSON, so new event kinds need no change here).
pub fn op_seq(e: &OperatorEvent) -> u64 {
    serde_json::to_value(e).expect("serialize event")["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("operator event without seq: {e:?}"))
}

/// Whether `e` is a message event carrying `text`.
pub fn op_message_is(e: &OperatorEvent, text: &str) -> bool {
    matches!(e, OperatorEvent::Message { message, .. } if message.text == text)
}

/// Whether `e` is a `client_waiting` for `client`.
pub fn op_waiting_is(e: &OperatorEvent, client: &str) -> bool {
    matches!(e, OperatorEvent::ClientWaiting { client: c, .. } if c.id == client)
}

/// Whether `e` is a message event carrying `text`.
pub fn client_message_is(e: &ClientEvent, text: &str) -> bool {
    matches!(e, ClientEvent::Message { message } if message.text == text)
}
