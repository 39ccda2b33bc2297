//! WebSockets to the server: the operator's and the client's event streams.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use lobby_wire::{ClientEvent, OperatorEvent};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message as Frame, WebSocket};

use crate::server::{env_secs, runtime, Runtime, Server};

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
    transport: Transport,
    pub seen: Vec<Value>,
    pub closed: bool,
}

/// A WebSocket (Cloudflare) or a Server-Sent Events stream (Spin): the same JSON frames.
enum Transport {
    Socket(WebSocket<TcpStream>),
    Sse(Sse),
}

/// An SSE stream read as EventSource does: `data:` lines up to a blank line make a frame, `id:`
/// is the resume point, a named event (`event: keepalive`) is not a frame (`onmessage` never
/// sees it); when the server ends the stream it reconnects with `after=<id>` and
/// drops the new first frame (`hello`/`status`), so the caller sees one continuous stream.
struct Sse {
    port: u16,
    path: String,
    token: String,
    operator: bool,
    reader: BufReader<TcpStream>,
    line: Vec<u8>,
    data: String,
    /// The `event:` field of the event being read (empty: a plain message).
    event: String,
    last_id: Option<u64>,
    skip_first: bool,
    pending: VecDeque<Value>,
}

impl Sse {
    /// GET over HTTP/1.0 (a close-delimited body, no chunking); `Err` with the answer if not 200.
    fn connect(port: u16, path: &str, token: &str) -> Result<BufReader<TcpStream>, WsRefused> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("connect for {path}: {e}"));
        stream.set_nodelay(true).ok();
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
        write!(
            stream,
            "GET {path}{sep}token={} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n",
            encode_query(token)
        )
        .expect("send the SSE request");
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).expect("SSE status line");
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{path}: not an HTTP answer: {status_line:?}"));
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).expect("SSE header") == 0 || h.trim().is_empty() {
                break;
            }
        }
        if status != 200 {
            let mut body = String::new();
            let _ = reader.read_to_string(&mut body);
            return Err(WsRefused { status, body });
        }
        Ok(reader)
    }

    fn reconnect(&mut self) -> bool {
        let base = self.path.split('?').next().unwrap_or(&self.path).to_owned();
        let path = match self.last_id {
            Some(id) => format!("{base}?after={id}"),
            None => base,
        };
        match Sse::connect(self.port, &path, &self.token) {
            Ok(r) => {
                self.reader = r;
                self.skip_first = true;
                true
            }
            Err(_) => false,
        }
    }

    /// The next frame; `Err(())` at the deadline, `Ok(None)` when the stream ended for good.
    fn next(&mut self, deadline: Instant) -> Result<Option<Value>, ()> {
        loop {
            if let Some(v) = self.pending.pop_front() {
                return Ok(Some(v));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(());
            }
            self.reader.get_mut().set_read_timeout(Some(left)).ok();
            match self.reader.read_until(b'\n', &mut self.line) {
                Ok(0) => {
                    if !self.reconnect() {
                        return Ok(None);
                    }
                    continue;
                }
                Ok(_) if self.line.ends_with(b"\n") => {}
                Ok(_) => continue,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    continue
                }
                Err(_) => return Ok(None),
            }
            let line = String::from_utf8_lossy(&self.line)
                .trim_end_matches(['\r', '\n'])
                .to_owned();
            self.line.clear();
            if let Some(d) = line.strip_prefix("data:") {
                self.data.push_str(d.strip_prefix(' ').unwrap_or(d));
            } else if let Some(e) = line.strip_prefix("event:") {
                self.event = e.trim().to_owned();
            } else if let Some(id) = line.strip_prefix("id:") {
                if self.operator {
                    self.last_id = id.trim().parse().ok().or(self.last_id);
                }
            } else if line.is_empty() && !std::mem::take(&mut self.event).is_empty() {
                // A named event (the stream's `keepalive`): not a frame.
                self.data.clear();
            } else if line.is_empty() && !self.data.is_empty() {
                let text = std::mem::take(&mut self.data);
                let v: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("SSE frame is not JSON ({e}): {text}"));
                if !self.operator {
                    if let Some(seq) = v["message"]["seq"].as_u64() {
                        self.last_id = Some(seq);
                    }
                }
                if std::mem::take(&mut self.skip_first) {
                    continue;
                }
                self.pending.push_back(v);
            }
        }
    }
}

impl Server {
    /// Opens `path` (which may already carry a query) as a WebSocket with `token` as the `token`
    /// query parameter.
    pub fn ws_try_connect(&self, path: &str, token: &str) -> Result<Ws, WsRefused> {
        if runtime() == Runtime::Spin {
            let what = path.split('?').next().unwrap_or(path).to_owned();
            let reader = Sse::connect(self.port(), path, token)?;
            return Ok(Ws {
                transport: Transport::Sse(Sse {
                    port: self.port(),
                    path: path.to_owned(),
                    token: token.to_owned(),
                    operator: what.contains("/operator/"),
                    reader,
                    line: Vec::new(),
                    data: String::new(),
                    event: String::new(),
                    last_id: None,
                    skip_first: false,
                    pending: VecDeque::new(),
                }),
                what,
                seen: Vec::new(),
                closed: false,
            });
        }
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
                transport: Transport::Socket(socket),
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
            let socket = match &mut self.transport {
                Transport::Socket(socket) => socket,
                Transport::Sse(sse) => {
                    return match sse.next(Instant::now() + left) {
                        Ok(Some(v)) => {
                            self.seen.push(v.clone());
                            Some(v)
                        }
                        Ok(None) => {
                            self.closed = true;
                            None
                        }
                        Err(()) => None,
                    };
                }
            };
            socket
                .get_mut()
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .ok();
            let text = match socket.read() {
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
    pub fn close(self) {
        match self.transport {
            Transport::Socket(mut socket) => {
                let _ = socket.close(None);
                let _ = socket.flush();
            }
            Transport::Sse(sse) => {
                let _ = sse.reader.get_ref().shutdown(std::net::Shutdown::Both);
            }
        }
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
