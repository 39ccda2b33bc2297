//! A provider on 127.0.0.1 for the tests (Meta's and VK's APIs, an e-mail API): it records
//! every request exactly as sent, so that a test can check its method, path, headers and body,
//! and answers as the provider documents, or as a test scripts it (errors, outages).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::event_timeout;

/// Polls `f` until it gives a value (twice the event timeout at most).
pub fn wait_until<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    wait_within(event_timeout() * 2, what, f)
}

pub fn wait_within<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// One request Lobby made to the provider.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    pub fn query(&self) -> Vec<(String, String)> {
        self.target
            .split_once('?')
            .map(|(_, q)| form(q))
            .unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} {}: body is not JSON ({e}): {}",
                self.method,
                self.target,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn form(&self) -> Vec<(String, String)> {
        form(std::str::from_utf8(&self.body).expect("a UTF-8 form body"))
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let h = u8::from_str_radix(&s[i + 1..i + 3], 16).expect("a %XX escape");
                out.push(h);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).expect("UTF-8 after decoding")
}

pub fn form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

pub fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// How the fake answers a request: a status and a JSON body.
pub type Answer = (u16, String);

/// A provider on 127.0.0.1: records every request; answers from `scripted` first (in order),
/// otherwise with `success` (what the provider documents for a successful call).
pub struct FakeProvider {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    seen: Arc<Mutex<Vec<Recorded>>>,
    scripted: Arc<Mutex<VecDeque<Answer>>>,
}

impl FakeProvider {
    pub fn start(success: fn(&Recorded) -> Answer) -> FakeProvider {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake provider");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let scripted = Arc::new(Mutex::new(VecDeque::new()));
        let (s, q) = (seen.clone(), scripted.clone());
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (s, q) = (s.clone(), q.clone());
                thread::spawn(move || serve(stream, &s, &q, success));
            }
        });
        FakeProvider {
            base,
            seen,
            scripted,
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.seen.lock().unwrap().clone()
    }

    /// The next request whose path ends with `suffix`, after the first `after` of them.
    pub fn wait_for(&self, suffix: &str, after: usize) -> Recorded {
        wait_until(&format!("a request to …{suffix}"), || {
            self.requests()
                .into_iter()
                .filter(|r| r.path().ends_with(suffix))
                .nth(after)
        })
    }

    pub fn count(&self, suffix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.path().ends_with(suffix))
            .count()
    }

    pub fn script(&self, answer: Answer) {
        self.scripted.lock().unwrap().push_back(answer);
    }
}

fn serve(
    stream: TcpStream,
    seen: &Mutex<Vec<Recorded>>,
    scripted: &Mutex<VecDeque<Answer>>,
    success: fn(&Recorded) -> Answer,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let header = |n: &str| {
        headers
            .iter()
            .find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if let Some(len) = header("content-length").and_then(|l| l.parse::<usize>().ok()) {
        body.resize(len, 0);
        let _ = reader.read_exact(&mut body);
    } else if header("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            if reader.read_line(&mut size).unwrap_or(0) == 0 {
                break;
            }
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            let _ = reader.read_exact(&mut chunk);
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    let rec = Recorded {
        method,
        target,
        headers,
        body,
    };
    let (status, answer) = scripted
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| success(&rec));
    seen.lock().unwrap().push(rec);
    let reply = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
    let mut stream = stream;
    let _ = stream.write_all(reply.as_bytes());
    let _ = stream.flush();
}

/// What an e-mail API with Resend's shape answers to `POST /emails`: 200 with the mail's id.
pub fn mail_api_success(r: &Recorded) -> Answer {
    if r.method == "POST" && r.path() == "/emails" {
        (
            200,
            serde_json::json!({"id": format!("e2e-{}", crate::random_hex(8))}).to_string(),
        )
    } else {
        (
            404,
            serde_json::json!({"name": "not_found", "message": "unknown path"}).to_string(),
        )
    }
}
