//! Lobby on Fermyon Spin: the same HTTP API as the Cloudflare worker, over the same
//! `lobby-core`. One HTTP component does what the worker's edge and Durable Object do together:
//!
//! - the edge (`handle`): `lobby_core::request::prepare` (route + `authorize`), so a bad token or
//!   a wrong role is refused before any tenant is touched;
//! - the coordinator (`coordinate`): one SQLite write transaction per tenant call (load the
//!   tenant's `Lobby` from its snapshot and journal, `Lobby::call`, append the reply's events,
//!   commit, answer) — see `journal`;
//! - real time (`sse`): Spin has no inbound WebSockets, so the two event routes answer
//!   Server-Sent Events with the same JSON frames, resuming from `after`.
//!
//! - static files (`assets`): the operator app and the widget from the folder spin.toml mounts;
//! - channels (`hook`): `/hooks/{tenant}/{channel}` deliveries from Meta and VK, answered in their
//!   providers' protocols by the core, in one write transaction like any call;
//! - delivery (`deliver`): the mails (through an HTTP e-mail API) and provider calls the tenant
//!   owes, sent after the call that owes them commits.
//!
//! What every request goes through first (body limit, token, `authorize`, the client's address,
//! CORS) is `lobby_core::request`, as on Cloudflare: this file reads the request for it and does
//! the I/O its answer names.
//!
//! Secrets come from Spin variables: `lobby_platform_token`, `lobby_token_secret`, `lobby_mail_key`;
//! `lobby_trusted_proxies` names the proxies whose `X-Forwarded-For` is believed.

mod assets;
mod deliver;
mod journal;
mod sse;

use bytes::Bytes;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full};
use lobby_core::api::{Ctx, MAX_BODY_BYTES};
use lobby_core::channels::desk::HookRequest;
use lobby_core::channels::Channel;
use lobby_core::request::{self, Call, Prepared, Runtime, Settings};
use lobby_core::ApiError;
use serde::Serialize;
use spin_sdk::http::{HeaderMap, Request, Response};
use spin_sdk::http_service;

use journal::{internal, Journal};

/// Every answer's body: a full JSON body, or the open stream of Server-Sent Events.
pub(crate) type Body = UnsyncBoxBody<Bytes, anyhow::Error>;

#[http_service]
async fn handle(req: Request) -> Response<Body> {
    let (parts, body) = req.into_parts();
    if let Some(file) = assets::serve(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query(),
        &parts.headers,
    ) {
        return file;
    }
    let mut resp = match answer(&parts, body).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    };
    for (name, value) in request::cors(header(&parts.headers, "Origin").as_deref()) {
        if let Ok(v) = value.parse() {
            resp.headers_mut().insert(name, v);
        }
    }
    resp
}

/// A header's value; one sent several times reads as its values joined with ", " (so that
/// every hop of X-Forwarded-For counts).
fn header(h: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<&str> = h
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

pub(crate) fn respond(status: u16, body: Bytes) -> Response<Body> {
    let mut r = Response::new(Full::new(body).map_err(|e| match e {}).boxed_unsync());
    *r.status_mut() = spin_sdk::http::StatusCode::from_u16(status)
        .unwrap_or(spin_sdk::http::StatusCode::INTERNAL_SERVER_ERROR);
    r
}

/// A JSON answer with a status.
pub(crate) fn json_response<T: Serialize>(status: u16, body: &T) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"null".to_vec());
    let mut r = respond(status, bytes.into());
    r.headers_mut().insert(
        "Content-Type",
        "application/json; charset=utf-8"
            .parse()
            .expect("static header"),
    );
    r
}

/// The API's error body with the error's status.
pub(crate) fn error_response(e: &ApiError) -> Response<Body> {
    if e.status() >= 500 {
        eprintln!("lobby: {e}");
    }
    let mut resp = json_response(e.status(), &e.body());
    for (name, value) in e.headers() {
        if let Ok(v) = value.parse() {
            resp.headers_mut().insert(name, v);
        }
    }
    resp
}

/// A Spin variable, empty when unset (an empty `lobby_platform_token` creates no tenant).
pub(crate) async fn variable(name: &str) -> String {
    spin_sdk::variables::get(name).await.unwrap_or_default()
}

/// Milliseconds since the Unix epoch (`wasi:clocks/system-clock`).
pub(crate) fn now_millis() -> i64 {
    let t = spin_sdk::wasip3::clocks::system_clock::now();
    t.seconds * 1000 + (t.nanoseconds / 1_000_000) as i64
}

/// Reads the request, lets the core decide what it is, and does what that takes.
async fn answer(
    parts: &http::request::Parts,
    body: spin_sdk::wasip3::http_compat::IncomingRequestBody,
) -> Result<Response<Body>, ApiError> {
    let h = &parts.headers;
    let body = if request::reads_body(parts.method.as_str()) {
        read_body(h, body).await?
    } else {
        Bytes::new()
    };
    let platform_token = variable("lobby_platform_token").await;
    let token_secret = variable("lobby_token_secret").await;
    let trusted_proxies = variable("lobby_trusted_proxies").await;
    let settings = Settings {
        platform_token: &platform_token,
        token_secret: &token_secret,
        trusted_proxies: &trusted_proxies,
    };
    let lookup = |name: &str| header(h, name);
    let view = request::Request {
        runtime: Runtime::Spin,
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        header: &lookup,
        body: &body,
    };
    let now = now_millis();
    match request::prepare(&view, &settings, now / 1000)? {
        Prepared::Preflight => Ok(respond(204, Bytes::new())),
        Prepared::Redirect(to) => {
            let mut r = respond(302, Bytes::new());
            r.headers_mut()
                .insert("Location", to.parse().map_err(internal)?);
            Ok(r)
        }
        Prepared::Answer { status, body } => Ok(json_response(status, &body)),
        Prepared::Hook {
            tenant,
            channel,
            request,
        } => hook(&tenant, channel, &request).await,
        Prepared::Call { tenant, call } => {
            coordinate(&tenant, &call, token_secret.as_bytes(), now).await
        }
        Prepared::Stream { tenant, call, .. } => sse::open(tenant, call.actor, call.meta).await,
    }
}

/// A body beyond this is refused without reading it (the connection closes under the client).
const DRAIN_LIMIT: usize = 16 * MAX_BODY_BYTES;

/// The request body for the core to judge: at most one byte more than [`MAX_BODY_BYTES`] is
/// kept (enough for its 413). A longer one is read to its end (up to [`DRAIN_LIMIT`], without
/// keeping it), so that the client, still sending, gets the answer instead of a reset connection.
async fn read_body(
    h: &HeaderMap,
    body: spin_sdk::wasip3::http_compat::IncomingRequestBody,
) -> Result<Bytes, ApiError> {
    request::check_declared_length(header(h, "Content-Length").as_deref(), DRAIN_LIMIT)?;
    let mut body = std::pin::pin!(body);
    let mut kept = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| internal(format!("{e:?}")))?;
        if let Ok(data) = frame.into_data() {
            total += data.len();
            let room = (MAX_BODY_BYTES + 1).saturating_sub(kept.len());
            kept.extend_from_slice(&data[..data.len().min(room)]);
            if total > DRAIN_LIMIT {
                break;
            }
        }
    }
    Ok(Bytes::from(kept))
}

/// A channel's webhook delivery (Meta's verification GET, a signed POST; VK's callback) for
/// `tenant`, in one write transaction: the core checks it and answers in the provider's terms.
async fn hook(
    tenant: &str,
    channel: Channel,
    req: &HookRequest,
) -> Result<Response<Body>, ApiError> {
    let entropy = spin_sdk::wasip3::random::random::get_random_bytes(64);
    let now = now_millis();
    let journal = Journal::open(tenant).await?;
    journal.begin_write().await?;
    let result = (|| {
        let (mut lobby, last, snapshot) = journal.load()?;
        let reply = lobby.hook(channel, req, &entropy, now);
        let stored = journal.append(last, now, reply.events)?;
        journal.maybe_snapshot(&lobby, last + stored.len() as u64, snapshot)?;
        let mut resp = respond(reply.status, Bytes::from(reply.body));
        resp.headers_mut().insert(
            "Content-Type",
            reply.content_type.parse().map_err(internal)?,
        );
        for (name, value) in &reply.headers {
            resp.headers_mut()
                .insert(*name, value.parse().map_err(internal)?);
        }
        Ok((resp, lobby.is_due(now)))
    })();
    finish(&journal, tenant, result)
}

/// Ends a call's write transaction: commits the answer (and, once committed, sends what the
/// tenant owes if anything is due), or rolls back on an error.
fn finish(
    journal: &Journal,
    tenant: &str,
    result: Result<(Response<Body>, bool), ApiError>,
) -> Result<Response<Body>, ApiError> {
    match result {
        Ok((resp, owes)) => {
            journal.commit()?;
            if owes {
                deliver::soon(tenant);
            }
            Ok(resp)
        }
        Err(e) => {
            journal.rollback();
            Err(e)
        }
    }
}

/// Runs one call of a tenant in one write transaction: load, apply the core, append, commit.
async fn coordinate(
    tenant: &str,
    call: &Call,
    secret: &[u8],
    now: i64,
) -> Result<Response<Body>, ApiError> {
    let entropy = spin_sdk::wasip3::random::random::get_random_bytes(64);
    let journal = Journal::open(tenant).await?;
    journal.begin_write().await?;
    let result = (|| {
        let (mut lobby, last, snapshot) = journal.load()?;
        lobby.guard = journal.load_guard()?;
        let ctx = Ctx {
            now,
            entropy: &entropy,
            token_secret: secret,
            messages: &journal,
        };
        let outcome = lobby.serve(call, &ctx);
        // A wrong invitation code is counted even though the call is refused.
        if let Some(guard) = &outcome.guard {
            journal.save_guard(guard)?;
        }
        let reply = match outcome.result {
            Ok(reply) => reply,
            Err(e) => return Ok((error_response(&e), false)),
        };
        if let Some(to) = &reply.typing {
            journal.save_typing(to, now)?;
        }
        let stored = journal.append(last, now, reply.events)?;
        journal.maybe_snapshot(&lobby, last + stored.len() as u64, snapshot)?;
        Ok((json_response(reply.status, &reply.body), lobby.is_due(now)))
    })();
    finish(&journal, tenant, result)
}
