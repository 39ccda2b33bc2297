//! The HTTP API as the app calls it: same origin, `Authorization: Bearer <token>` from
//! `sessionStorage` (`lobby.token`, so that two browser tabs or contexts can be two operators),
//! JSON bodies through the wire types, and every refusal turned into a [`Failure`] that keeps
//! the server's error code and message.

use lobby_wire::ErrorBody;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use std::time::Duration;

use gloo_net::http::{Method, RequestBuilder};

pub const TOKEN_KEY: &str = "lobby.token";

/// Why a call did not succeed. `status` 0 means the server could not be reached.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl Failure {
    fn network(e: impl std::fmt::Display) -> Self {
        Failure {
            status: 0,
            code: "network".into(),
            message: e.to_string(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Failure>;

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

pub fn session_get(key: &str) -> Option<String> {
    session_storage()?.get_item(key).ok().flatten()
}

pub fn session_set(key: &str, value: &str) {
    if let Some(s) = session_storage() {
        let _ = s.set_item(key, value);
    }
}

pub fn session_remove(key: &str) {
    if let Some(s) = session_storage() {
        let _ = s.remove_item(key);
    }
}

pub fn token() -> Option<String> {
    session_get(TOKEN_KEY).filter(|t| !t.is_empty())
}

/// The one place that talks HTTP. Not generic, so the request code exists once in the Wasm;
/// answers are decoded from a `serde_json::Value` (one deserializer for every wire type).
async fn call(
    method: Method,
    path: &str,
    body: Option<String>,
    timeout: Duration,
) -> Result<Value> {
    call_url(method, &format!("/api/v1{path}"), body, timeout).await
}

async fn call_url(
    method: Method,
    url: &str,
    body: Option<String>,
    timeout: Duration,
) -> Result<Value> {
    let mut req = RequestBuilder::new(url).method(method);
    // A request into a silent network would otherwise wait for as long as the browser lets it.
    let abort = web_sys::AbortController::new().ok();
    if let Some(a) = &abort {
        req = req.abort_signal(Some(&a.signal()));
    }
    let timer = abort
        .and_then(|a| leptos::prelude::set_timeout_with_handle(move || a.abort(), timeout).ok());
    if let Some(token) = token() {
        req = req.header("Authorization", &format!("Bearer {token}"));
    }
    let req = match body {
        Some(b) => req
            .header("Content-Type", "application/json")
            .body(b)
            .map_err(Failure::network)?,
        None => req.build().map_err(Failure::network)?,
    };
    let resp = req.send().await.map_err(Failure::network)?;
    let status = resp.status();
    let text = resp.text().await.map_err(Failure::network)?;
    if let Some(t) = timer {
        t.clear();
    }
    // Some answers carry no body the caller cares about: read them as `null`.
    let value = if text.trim().is_empty() {
        Ok(Value::Null)
    } else {
        serde_json::from_str::<Value>(&text)
    };
    if (200..300).contains(&status) {
        value.map_err(|e| Failure {
            status,
            code: "bad_answer".into(),
            message: e.to_string(),
        })
    } else {
        Err(match value.ok().and_then(|v| decode::<ErrorBody>(v).ok()) {
            Some(b) => Failure {
                status,
                code: b.error.code,
                message: b.error.message,
            },
            None => Failure {
                status,
                code: format!("http_{status}"),
                message: format!("HTTP {status}"),
            },
        })
    }
}

/// A wire type from JSON already parsed.
pub fn decode<T: DeserializeOwned>(v: Value) -> std::result::Result<T, serde_json::Error> {
    serde_json::from_value(v)
}

fn answer<T: DeserializeOwned>(v: Result<Value>) -> Result<T> {
    decode(v?).map_err(|e| Failure {
        status: 200,
        code: "bad_answer".into(),
        message: e.to_string(),
    })
}

fn json<B: Serialize>(body: &B) -> Option<String> {
    Some(serde_json::to_string(body).expect("wire types serialize"))
}

/// How long a call may take before it counts as a network failure.
const TIMEOUT: Duration = Duration::from_secs(20);

pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T> {
    answer(call(Method::GET, path, None, TIMEOUT).await)
}

/// A GET that gives up sooner (the reconnect probe: the next attempt comes anyway).
pub async fn get_quick<T: DeserializeOwned>(path: &str, timeout: Duration) -> Result<T> {
    answer(call(Method::GET, path, None, timeout).await)
}

/// `GET /healthz`: whether the server is up, and which transport its event routes speak.
pub async fn health(timeout: Duration) -> Result<lobby_wire::Health> {
    answer(call_url(Method::GET, "/healthz", None, timeout).await)
}

pub async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T> {
    answer(call(Method::POST, path, json(body), TIMEOUT).await)
}

pub async fn put<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T> {
    answer(call(Method::PUT, path, json(body), TIMEOUT).await)
}

/// Path segments are opaque ids from the server; escape them anyway.
pub fn seg(id: &str) -> String {
    String::from(js_sys::encode_uri_component(id))
}

// Answers of list routes (`{"groups": [...]}` and so on) that the wire crate leaves as JSON.

#[derive(serde::Deserialize)]
pub struct Groups {
    pub groups: Vec<lobby_wire::GroupInfo>,
}

#[derive(serde::Deserialize)]
pub struct Operators {
    pub operators: Vec<lobby_wire::OperatorInfo>,
}

#[derive(serde::Deserialize)]
pub struct Widgets {
    pub widgets: Vec<lobby_wire::WidgetInfo>,
}

#[derive(serde::Deserialize)]
pub struct Sessions {
    pub sessions: Vec<lobby_wire::ClientInfo>,
}

#[derive(serde::Deserialize)]
pub struct Tags {
    pub tags: Vec<String>,
}

#[derive(serde::Deserialize)]
pub struct Notes {
    pub notes: Vec<lobby_wire::Note>,
}
