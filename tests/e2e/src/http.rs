//! HTTP calls to the server and their answers, checked against the wire types.

use lobby_wire::ErrorBody;
use reqwest::blocking::RequestBuilder;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::server::Server;

/// One request being built: `server.post("/api/v1/groups").auth(&token).json(&body).send()`.
pub struct Call<'s> {
    what: String,
    builder: RequestBuilder,
    server: &'s Server,
}

impl Server {
    pub fn call(&self, method: reqwest::Method, path: &str) -> Call<'_> {
        Call {
            what: format!("{method} {path}"),
            builder: self.http.request(method, self.url(path)),
            server: self,
        }
    }

    /// A request sent from local address `from` (e.g. 127.0.0.2: another machine, as far as the
    /// server can tell) instead of the suite's own.
    pub fn call_from(
        &self,
        from: std::net::IpAddr,
        method: reqwest::Method,
        path: &str,
    ) -> Call<'_> {
        let http = reqwest::blocking::Client::builder()
            .no_proxy()
            .local_address(from)
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .expect("an HTTP client");
        Call {
            what: format!("{method} {path} from {from}"),
            builder: http.request(method, self.url(path)),
            server: self,
        }
    }

    pub fn get(&self, path: &str) -> Call<'_> {
        self.call(reqwest::Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Call<'_> {
        self.call(reqwest::Method::POST, path)
    }

    pub fn put(&self, path: &str) -> Call<'_> {
        self.call(reqwest::Method::PUT, path)
    }
}

impl Call<'_> {
    /// `Authorization: Bearer <token>`
    pub fn auth(mut self, token: &str) -> Self {
        self.builder = self.builder.bearer_auth(token);
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    /// A JSON body.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        self.builder = self.builder.json(body);
        self
    }

    /// Raw bytes sent as `application/json` (malformed JSON, huge bodies).
    pub fn raw(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.builder = self
            .builder
            .header("content-type", "application/json")
            .body(body.into());
        self
    }

    /// Sends it; a transport error (not an HTTP status) panics.
    pub fn send(self) -> Resp {
        self.try_send().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Sends it; a transport error is returned (the server is down, the connection was reset).
    pub fn try_send(self) -> Result<Resp, String> {
        let what = self.what;
        let r = self.builder.send().map_err(|e| format!("{what}: {e}"))?;
        let status = r.status().as_u16();
        let content_type = r
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = r.text().map_err(|e| format!("{what}: {e}"))?;
        // A 5xx is a server bug: keep what the worker printed, for the failure message.
        let server_log = (status >= 500).then(|| self.server.log_tail(40));
        Ok(Resp {
            what,
            status,
            content_type,
            body,
            server_log,
        })
    }
}

/// An HTTP answer: status, content type and body text.
#[derive(Debug, Clone)]
pub struct Resp {
    /// `METHOD /path`, for messages.
    pub what: String,
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
    /// The tail of wrangler's log when the status is a 5xx.
    pub server_log: Option<String>,
}

impl Resp {
    /// The wrangler log tail to append to a failure message (5xx only).
    fn log_note(&self) -> String {
        match &self.server_log {
            Some(log) => format!("\n----- tail of wrangler's log -----\n{log}\n-----"),
            None => String::new(),
        }
    }

    /// The body as `T`; panics with the body when it does not parse (a contract breach).
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} → {}: body does not parse as {}: {e}\nbody: {}",
                self.what,
                self.status,
                std::any::type_name::<T>(),
                self.body
            )
        })
    }

    pub fn value(&self) -> Value {
        self.json()
    }

    /// Asserts the status; returns the answer for more checks.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status,
            status,
            "{} answered {} (expected {status}); body: {}{}",
            self.what,
            self.status,
            self.body,
            self.log_note()
        );
        self
    }

    /// Asserts the status and parses the body.
    #[track_caller]
    pub fn ok<T: DeserializeOwned>(self, status: u16) -> T {
        self.expect(status).json()
    }

    pub fn is_json(&self) -> bool {
        self.content_type
            .as_deref()
            .is_some_and(|c| c.to_ascii_lowercase().starts_with("application/json"))
    }

    /// The error body, checked: `Content-Type: application/json` and `{"error":{"code","message"}}`.
    #[track_caller]
    pub fn error(&self) -> ErrorBody {
        assert!(
            self.is_json(),
            "{} → {}: error answer without Content-Type application/json (got {:?}); body: {}",
            self.what,
            self.status,
            self.content_type,
            self.body
        );
        let e: ErrorBody = self.json();
        assert!(
            !e.error.code.is_empty(),
            "{}: empty error code: {}",
            self.what,
            self.body
        );
        e
    }

    /// Asserts a given status and error code, with a JSON error body.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> ErrorBody {
        let e = self.expect(status).error();
        assert_eq!(e.error.code, code, "error code; body: {:?}", e);
        e
    }

    /// Asserts some 4xx status with a JSON error body.
    #[track_caller]
    pub fn expect_4xx(self) -> ErrorBody {
        assert!(
            (400..500).contains(&self.status),
            "{} answered {} (expected a 4xx); body: {}{}",
            self.what,
            self.status,
            self.body,
            self.log_note()
        );
        self.error()
    }

    /// Asserts one of several statuses, with a JSON error body.
    #[track_caller]
    pub fn expect_error_in(self, statuses: &[u16]) -> ErrorBody {
        assert!(
            statuses.contains(&self.status),
            "{} answered {} (expected one of {statuses:?}); body: {}{}",
            self.what,
            self.status,
            self.body,
            self.log_note()
        );
        self.error()
    }

    /// A mismatch description when the answer is not `status` (+ `code`) with a JSON error body,
    /// for tests that collect every failure before asserting.
    pub fn check_error(&self, status: u16, code: Option<&str>) -> Option<String> {
        if self.status != status {
            return Some(format!(
                "{}: got {} (expected {status}); body: {}{}",
                self.what,
                self.status,
                self.body,
                self.log_note()
            ));
        }
        if !self.is_json() {
            return Some(format!(
                "{}: {} without Content-Type application/json ({:?}); body: {}",
                self.what, self.status, self.content_type, self.body
            ));
        }
        match serde_json::from_str::<ErrorBody>(&self.body) {
            Err(e) => Some(format!(
                "{}: {} body is not {{\"error\":{{\"code\",\"message\"}}}} ({e}): {}",
                self.what, self.status, self.body
            )),
            Ok(b) => match code {
                Some(code) if b.error.code != code => Some(format!(
                    "{}: {} code {:?} (expected {code:?}); body: {}",
                    self.what, self.status, b.error.code, self.body
                )),
                _ => None,
            },
        }
    }
}
