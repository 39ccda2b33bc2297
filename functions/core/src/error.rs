//! Every way a request can be refused, typed inside the core and turned into the API's
//! `{"error": {"code", "message"}}` body with its HTTP status at the edge.

use lobby_wire::{ErrorBody, ErrorDetail};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApiError {
    #[error("the request body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidBody(String),
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    OriginNotAllowed(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("no route for {0}")]
    NoRoute(String),
    /// `allow`: the methods the path answers, for the `Allow` header (e.g. "GET, POST").
    #[error("method {method} is not allowed here (allowed: {allow})")]
    MethodNotAllowed { method: String, allow: String },
    #[error("this client was already accepted by another operator")]
    AlreadyAccepted,
    #[error("{0}")]
    Capacity(String),
    /// Taking a new client needs presence `online`; `away` only finishes the sessions held.
    #[error("{0}")]
    NotOnline(String),
    #[error("a tenant with this slug already exists")]
    TenantExists,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotWaiting(String),
    #[error("{0}")]
    InvalidCode(String),
    #[error("this invitation code was used already")]
    CodeUsed,
    #[error("this invitation code has expired; ask the operator for a new one")]
    CodeExpired,
    #[error("{0}")]
    RateLimited(String),
    /// WhatsApp's 24-hour customer-service window is closed: only a template may go out.
    #[error("{0}")]
    WindowClosed(String),
    /// A plain HTTP request on an event route of a runtime whose event routes are WebSockets.
    #[error("this route is a WebSocket: connect with an Upgrade: websocket request")]
    UpgradeRequired,
    /// A WebSocket upgrade on an event route of a runtime whose event routes are Server-Sent Events.
    #[error("Spin has no WebSockets: this route answers Server-Sent Events (GET with Accept: text/event-stream)")]
    EventStreamRequired,
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::InvalidJson(_) => 400,
            ApiError::InvalidBody(_) => 422,
            ApiError::PayloadTooLarge(_) => 413,
            ApiError::Unauthorized(_) => 401,
            ApiError::Forbidden(_) | ApiError::OriginNotAllowed(_) => 403,
            ApiError::NotFound(_) | ApiError::NoRoute(_) => 404,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::AlreadyAccepted
            | ApiError::Capacity(_)
            | ApiError::NotOnline(_)
            | ApiError::TenantExists
            | ApiError::Conflict(_)
            | ApiError::NotWaiting(_) => 409,
            ApiError::InvalidCode(_) => 422,
            ApiError::CodeUsed => 409,
            ApiError::CodeExpired => 410,
            ApiError::RateLimited(_) => 429,
            ApiError::WindowClosed(_) => 409,
            ApiError::UpgradeRequired | ApiError::EventStreamRequired => 426,
            ApiError::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::InvalidBody(_) => "invalid_body",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::OriginNotAllowed(_) => "origin_not_allowed",
            ApiError::NotFound(_) | ApiError::NoRoute(_) => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::AlreadyAccepted => "already_accepted",
            ApiError::Capacity(_) => "capacity",
            ApiError::NotOnline(_) => "not_online",
            ApiError::TenantExists => "tenant_exists",
            ApiError::Conflict(_) => "conflict",
            ApiError::NotWaiting(_) => "not_waiting",
            ApiError::InvalidCode(_) => "invalid_code",
            ApiError::CodeUsed => "code_used",
            ApiError::CodeExpired => "code_expired",
            ApiError::RateLimited(_) => "rate_limited",
            ApiError::WindowClosed(_) => "window_closed",
            ApiError::UpgradeRequired => "upgrade_required",
            ApiError::EventStreamRequired => "event_stream_required",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message: self.to_string(),
            },
        }
    }

    /// Headers the answer must carry besides its JSON body: `Allow` on a 405.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            ApiError::MethodNotAllowed { allow, .. } => vec![("Allow", allow.clone())],
            _ => vec![],
        }
    }

    pub fn method_not_allowed(method: impl Into<String>, allow: &[&str]) -> Self {
        ApiError::MethodNotAllowed {
            method: method.into(),
            allow: allow.join(", "),
        }
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        ApiError::InvalidBody(msg.into())
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::NotFound(what.into())
    }
}

/// Parses a JSON body into `T`: a body that is not JSON is a 400 `invalid_json`; JSON of the
/// wrong shape (not an object, a missing field, a wrong type) a 422 `invalid_body` naming what
/// is wrong. Parsing in two steps keeps the two apart: serde_json alone reports some type
/// errors (a number where an enum's string belongs) as syntax errors.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidJson("the body is empty".into()));
    }
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ApiError::InvalidJson(e.to_string()))?;
    if !value.is_object() {
        return Err(ApiError::InvalidBody(
            "the body must be a JSON object".into(),
        ));
    }
    serde_json::from_value(value).map_err(|e| {
        ApiError::InvalidBody(format!("the body does not match the expected shape: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct G {
        name: String,
    }

    #[test]
    fn syntax_errors_are_400_and_shape_errors_422() {
        assert_eq!(parse_json::<G>(b"{nope").unwrap_err().status(), 400);
        assert_eq!(parse_json::<G>(b"").unwrap_err().status(), 400);
        assert_eq!(parse_json::<G>(b"{}").unwrap_err().status(), 422);
        assert_eq!(parse_json::<G>(br#"{"name":5}"#).unwrap_err().status(), 422);
        assert_eq!(parse_json::<G>(br#"[1]"#).unwrap_err().status(), 422);
        assert_eq!(parse_json::<G>(br#"["x"]"#).unwrap_err().status(), 422);
        assert!(parse_json::<G>(br#"{"name":"x"}"#).is_ok());
    }

    #[test]
    fn error_bodies_carry_code_and_message() {
        let b = ApiError::AlreadyAccepted.body();
        assert_eq!(b.error.code, "already_accepted");
        assert!(b.error.message.contains("another operator"));
    }
}
