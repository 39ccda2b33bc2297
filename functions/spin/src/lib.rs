//! Lobby on Fermyon Spin: the same HTTP API as the Cloudflare worker, over the same
//! `lobby-core`. One HTTP component does what the worker's edge and Durable Object do together:
//!
//! - the edge (`handle`): `lobby_core::api::route` + `authorize`, so a bad token or a wrong role
//!   is refused before any tenant is touched;
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
//! Secrets come from Spin variables: `lobby_platform_token`, `lobby_token_secret`, `lobby_mail_key`.

mod assets;
mod deliver;
mod journal;
mod sse;

use bytes::Bytes;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full};
use lobby_core::api::{self, Access, Actor, Ctx, Meta, Route, Secrets, MAX_BODY_BYTES};
use lobby_core::auth::bearer;
use lobby_core::channels::desk::{hook_route, HookRequest};
use lobby_core::channels::Channel;
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
    let origin = header(&parts.headers, "Origin");
    if parts.method == "OPTIONS" {
        return with_cors(respond(204, Bytes::new()), origin);
    }
    let path = parts.uri.path().to_string();
    if let Some(file) = assets::serve(
        parts.method.as_str(),
        &path,
        parts.uri.query(),
        &parts.headers,
    ) {
        return file;
    }
    if path == "/" || path == "/app" {
        // The operator app lives under /app/ (static files, see `assets`).
        let mut r = respond(302, Bytes::new());
        r.headers_mut()
            .insert("Location", "/app/".parse().expect("static header"));
        return r;
    }
    // The channels' webhooks speak their providers' protocols, not the API's.
    if let Some(hook) = hook_route(parts.method.as_str(), &path) {
        return match hook {
            Ok((tenant, channel)) => match self::hook(&parts, body, &tenant, channel).await {
                Ok(r) => r,
                Err(e) => error_response(&e),
            },
            Err(e) => error_response(&e),
        };
    }
    let resp = match api::route(parts.method.as_str(), &path) {
        Err(e) => error_response(&e),
        Ok(route) => match answer(&parts, body, route).await {
            Ok(r) => r,
            Err(e) => error_response(&e),
        },
    };
    with_cors(resp, origin)
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
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

/// As on Cloudflare: every route takes its credentials from the `Authorization` header (or the
/// `token` query parameter of the event streams), never from cookies, so any origin may read.
fn with_cors(mut resp: Response<Body>, origin: Option<String>) -> Response<Body> {
    let h = resp.headers_mut();
    let origin = origin.unwrap_or_else(|| "*".into());
    if let Ok(v) = origin.parse() {
        h.insert("Access-Control-Allow-Origin", v);
    }
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, v.parse().expect("static header"));
    };
    set(h, "Vary", "Origin");
    set(h, "Access-Control-Allow-Methods", "GET, POST, PUT, OPTIONS");
    set(
        h,
        "Access-Control-Allow-Headers",
        "Authorization, Content-Type, Last-Event-ID",
    );
    set(h, "Access-Control-Max-Age", "600");
    resp
}

/// A Spin variable, empty when unset (an empty `lobby_platform_token` creates no tenant).
pub(crate) async fn variable(name: &str) -> String {
    spin_sdk::variables::get(name).await.unwrap_or_default()
}

/// The secret that signs tokens; the deployment must set it (`SPIN_VARIABLE_LOBBY_TOKEN_SECRET`).
pub(crate) async fn token_secret() -> Result<String, ApiError> {
    let s = variable("lobby_token_secret").await;
    if s.len() < 16 {
        return Err(ApiError::Internal(
            "the Spin variable lobby_token_secret is not set (at least 16 characters)".into(),
        ));
    }
    Ok(s)
}

/// Milliseconds since the Unix epoch (`wasi:clocks/system-clock`).
pub(crate) fn now_millis() -> i64 {
    let t = spin_sdk::wasip3::clocks::system_clock::now();
    t.seconds * 1000 + (t.nanoseconds / 1_000_000) as i64
}

fn query(uri: &spin_sdk::http::Uri, name: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_decode(v))
    })
}

pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn answer(
    parts: &http::request::Parts,
    body: spin_sdk::wasip3::http_compat::IncomingRequestBody,
    route: Route,
) -> Result<Response<Body>, ApiError> {
    match route {
        Route::Healthz => {
            // Spin has no inbound WebSockets: the event routes answer Server-Sent Events.
            let health = lobby_wire::Health {
                status: "ok".into(),
                events: lobby_wire::EventTransport::Sse,
            };
            return Ok(json_response(200, &health));
        }
        Route::OpenApi => return Ok(json_response(200, &lobby_core::openapi::document())),
        _ => {}
    }
    let h = &parts.headers;
    let body = if parts.method == "POST" || parts.method == "PUT" {
        read_body(h, body).await?
    } else {
        Bytes::new()
    };
    let body = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::InvalidJson("the body is not UTF-8".into()))?;

    let token = match bearer(header(h, "Authorization").as_deref()) {
        Some(t) => Some(t.to_string()),
        None if route.is_websocket() => query(&parts.uri, "token"),
        None => None,
    };
    let platform = variable("lobby_platform_token").await;
    let token_secret = token_secret().await?;
    let now = now_millis();
    let (tenant, actor) = api::authorize(
        &route,
        token.as_deref(),
        body.as_bytes(),
        &Secrets {
            platform_token: &platform,
            token_secret: token_secret.as_bytes(),
        },
        now / 1000,
    )?;
    let tenant = tenant.ok_or_else(|| internal("no tenant for a tenant route"))?;
    debug_assert!(route.access() != Access::Public);

    // `after` of message lists and streams; an EventSource that reconnects sends the last
    // `id:` it saw as `Last-Event-ID`, which is newer than the `after` of its URL.
    let last_event_id = route
        .is_websocket()
        .then(|| header(h, "Last-Event-ID"))
        .flatten()
        .filter(|v| !v.is_empty());
    let after = last_event_id
        .or_else(|| query(&parts.uri, "after"))
        .map(|a| api::parse_after(&a))
        .transpose()?;
    let meta = Meta {
        user_agent: header(h, "User-Agent"),
        origin: header(h, "Origin"),
        accept_language: header(h, "Accept-Language"),
        after,
        // Behind a proxy the first X-Forwarded-For hop is the client; else the address Spin
        // saw (`spin-client-addr`, "ip:port").
        address: header(h, "X-Forwarded-For")
            .and_then(|f| f.split(',').next().map(|a| a.trim().to_string()))
            .or_else(|| {
                header(h, "spin-client-addr").map(|a| match a.rsplit_once(':') {
                    Some((ip, _)) => ip.trim_matches(['[', ']']).to_string(),
                    None => a,
                })
            }),
    };

    if route.is_websocket() {
        // Hosts strip the hop-by-hop `Upgrade` header before the component sees it;
        // `Sec-WebSocket-Key` stays.
        let websocket = header(h, "Upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
            || header(h, "Sec-WebSocket-Key").is_some();
        if websocket {
            return Ok(json_response(
                426,
                &serde_json::json!({"error": {"code": "event_stream_required",
                    "message": "Spin has no WebSockets: this route answers Server-Sent Events (GET with Accept: text/event-stream)"}}),
            ));
        }
        return sse::open(tenant, actor, meta).await;
    }
    coordinate(
        &tenant,
        &route,
        &actor,
        &body,
        &meta,
        token_secret.as_bytes(),
        now,
    )
    .await
}

/// A body beyond this is refused without reading it (the connection closes under the client).
const DRAIN_LIMIT: usize = 16 * MAX_BODY_BYTES;

/// The request body, at most [`MAX_BODY_BYTES`]. A longer one is read to its end (up to
/// [`DRAIN_LIMIT`], without keeping it) before the 413, so that the client, still sending, gets
/// the answer instead of a reset connection.
async fn read_body(
    h: &HeaderMap,
    body: spin_sdk::wasip3::http_compat::IncomingRequestBody,
) -> Result<Bytes, ApiError> {
    let too_large = ApiError::PayloadTooLarge(MAX_BODY_BYTES);
    let declared = header(h, "Content-Length").and_then(|l| l.parse::<usize>().ok());
    if declared.is_some_and(|l| l > DRAIN_LIMIT) {
        return Err(too_large);
    }
    let mut body = std::pin::pin!(body);
    let mut kept = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| internal(format!("{e:?}")))?;
        if let Ok(data) = frame.into_data() {
            total += data.len();
            if total <= MAX_BODY_BYTES {
                kept.extend_from_slice(&data);
            } else if total > DRAIN_LIMIT {
                break;
            }
        }
    }
    if total > MAX_BODY_BYTES {
        return Err(too_large);
    }
    Ok(Bytes::from(kept))
}

/// A channel's webhook delivery (Meta's verification GET, a signed POST; VK's callback) for
/// `tenant`, in one write transaction: the core checks it and answers in the provider's terms.
async fn hook(
    parts: &http::request::Parts,
    body: spin_sdk::wasip3::http_compat::IncomingRequestBody,
    tenant: &str,
    channel: Channel,
) -> Result<Response<Body>, ApiError> {
    let h = &parts.headers;
    let body = if parts.method == "POST" {
        read_body(h, body).await?
    } else {
        Bytes::new()
    };
    let req = HookRequest {
        method: parts.method.to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        signature: header(h, "X-Hub-Signature-256"),
        body: body.to_vec(),
    };
    let entropy = spin_sdk::wasip3::random::random::get_random_bytes(64);
    let now = now_millis();
    let journal = Journal::open(tenant).await?;
    journal.begin_write().await?;
    let result = (|| {
        let (mut lobby, last, snapshot) = journal.load()?;
        let reply = lobby.hook(channel, &req, &entropy, now);
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
        Ok((resp, deliver::any_due(&lobby, now)))
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
    route: &Route,
    actor: &Actor,
    body: &str,
    meta: &Meta,
    secret: &[u8],
    now: i64,
) -> Result<Response<Body>, ApiError> {
    let entropy = spin_sdk::wasip3::random::random::get_random_bytes(64);
    let journal = Journal::open(tenant).await?;
    journal.begin_write().await?;
    let result = (|| {
        let (mut lobby, last, snapshot) = journal.load()?;
        lobby.guard = journal.load_guard()?;
        let guard_before = serde_json::to_string(&lobby.guard).map_err(internal)?;
        let ctx = Ctx {
            now,
            entropy: &entropy,
            token_secret: secret,
            messages: &journal,
        };
        let result = lobby.call(route, actor, body.as_bytes(), meta, &ctx);
        // A wrong invitation code is counted even though the call is refused.
        let guard_after = serde_json::to_string(&lobby.guard).map_err(internal)?;
        if guard_after != guard_before {
            journal.save_guard(&guard_after)?;
        }
        let reply = match result {
            Ok(reply) => reply,
            Err(e) => return Ok((error_response(&e), false)),
        };
        if let Some(to) = &reply.typing {
            journal.save_typing(to, now)?;
        }
        let stored = journal.append(last, now, reply.events)?;
        journal.maybe_snapshot(&lobby, last + stored.len() as u64, snapshot)?;
        Ok((
            json_response(reply.status, &reply.body),
            deliver::any_due(&lobby, now),
        ))
    })();
    finish(&journal, tenant, result)
}
