//! The stateless edge: every request enters here. It resolves the route and the caller with
//! `lobby-core` (so a bad token or a wrong role is refused before any tenant is touched), answers
//! what needs no tenant, and hands the rest to the tenant's `TenantRoom`.

use lobby_core::api::{self, Access, Meta, Route, Secrets, MAX_BODY_BYTES};
use lobby_core::auth::bearer;
use lobby_core::ApiError;
use worker::*;

use lobby_core::channels::desk::hook_route;
use lobby_core::channels::Channel;

use crate::tenant::{Envelope, HookMeta, ENVELOPE_HEADER, HOOK_HEADER, PROTOCOL_HEADER};
use crate::{error_response, json_response};

/// The subprotocol a browser names when it passes its token in `Sec-WebSocket-Protocol`
/// (`new WebSocket(url, ["lobby", token])`).
const WS_PROTOCOL: &str = "lobby";

pub async fn handle(mut req: Request, env: Env) -> Result<Response> {
    let url = req.url()?;
    // As sent: `worker::Method` reads a method it does not know (e.g. QUERY) as GET.
    let method = req.inner().method().to_ascii_uppercase();
    if method == "OPTIONS" {
        return with_cors(Response::empty()?.with_status(204), &req);
    }
    if url.path() == "/" || url.path() == "/app" {
        // The operator app lives under /app/ (static assets).
        let mut to = url.clone();
        to.set_path("/app/");
        to.set_query(None);
        return Response::redirect_with_status(to, 302);
    }
    // The channels' webhooks speak their providers' protocols, not the API's: the raw body,
    // query and signature go to the tenant as they came.
    if let Some(hook) = hook_route(&method, url.path()) {
        return match hook {
            Ok((tenant, channel)) => match webhook(&mut req, &env, &url, &tenant, channel).await {
                Ok(r) => Ok(r),
                Err(e) => error_response(&e),
            },
            Err(e) => error_response(&e),
        };
    }
    let route = match api::route(&method, url.path()) {
        Ok(r) => r,
        Err(e) => return with_cors(error_response(&e)?, &req),
    };
    let mut resp = match answer(&mut req, &env, &url, route).await {
        Ok(r) => r,
        Err(e) => error_response(&e)?,
    };
    if resp.status_code() == 101 {
        return Ok(resp);
    }
    // A Durable Object's answer has immutable headers: copy it to add CORS.
    let status = resp.status_code();
    let body = resp.bytes().await?;
    let mut copy = Response::from_bytes(body)?.with_status(status);
    copy.headers_mut()
        .set("Content-Type", "application/json; charset=utf-8")?;
    with_cors(copy, &req)
}

/// Browsers call the widget and client routes from companies' pages; every route takes its
/// credentials from the `Authorization` header, never from cookies, so any origin may read
/// the answers. (Which pages may create entries is the widget's `allowed_origins`, checked
/// by the core.)
fn with_cors(mut resp: Response, req: &Request) -> Result<Response> {
    let origin = req.headers().get("Origin")?.unwrap_or_else(|| "*".into());
    let h = resp.headers_mut();
    h.set("Access-Control-Allow-Origin", &origin)?;
    h.set("Vary", "Origin")?;
    h.set("Access-Control-Allow-Methods", "GET, POST, PUT, OPTIONS")?;
    h.set(
        "Access-Control-Allow-Headers",
        "Authorization, Content-Type",
    )?;
    h.set("Access-Control-Max-Age", "600")?;
    Ok(resp)
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

async fn answer(
    req: &mut Request,
    env: &Env,
    url: &Url,
    route: Route,
) -> std::result::Result<Response, ApiError> {
    match route {
        Route::Healthz => {
            let health = lobby_wire::Health {
                status: "ok".into(),
                events: lobby_wire::EventTransport::Websocket,
            };
            return json_response(200, &health).map_err(internal);
        }
        Route::OpenApi => {
            return json_response(200, &lobby_core::openapi::document()).map_err(internal)
        }
        _ => {}
    }
    let headers = req.headers().clone();
    let header = |name: &str| headers.get(name).ok().flatten();
    if let Some(len) = header("Content-Length").and_then(|l| l.parse::<usize>().ok()) {
        if len > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
        }
    }
    let body = if matches!(req.method(), Method::Post | Method::Put) {
        req.bytes().await.map_err(internal)?
    } else {
        vec![]
    };
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    let body = String::from_utf8(body)
        .map_err(|_| ApiError::InvalidJson("the body is not UTF-8".into()))?;

    let query = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let mut protocol = None;
    let token = match bearer(header("Authorization").as_deref()) {
        Some(t) => Some(t.to_string()),
        None if route.is_websocket() => query("token").or_else(|| {
            // `Sec-WebSocket-Protocol: lobby, <token>`: answer with `lobby`.
            let offered = header("Sec-WebSocket-Protocol")?;
            let mut parts = offered.split(',').map(str::trim);
            let t = parts.find(|p| *p != WS_PROTOCOL)?.to_string();
            protocol = Some(WS_PROTOCOL.to_string());
            Some(t)
        }),
        None => None,
    };
    let platform = env
        .secret("LOBBY_PLATFORM_TOKEN")
        .map(|s| s.to_string())
        .unwrap_or_default();
    let token_secret = crate::token_secret(env).map_err(internal)?;
    let now_secs = (Date::now().as_millis() / 1000) as i64;
    let (tenant, actor) = api::authorize(
        &route,
        token.as_deref(),
        body.as_bytes(),
        &Secrets {
            platform_token: &platform,
            token_secret: token_secret.as_bytes(),
        },
        now_secs,
    )?;
    let tenant = tenant.ok_or_else(|| internal("no tenant for a tenant route"))?;
    debug_assert!(route.access() != Access::Public);

    let after = query("after").map(|a| api::parse_after(&a)).transpose()?;
    let meta = Meta {
        user_agent: header("User-Agent"),
        origin: header("Origin"),
        accept_language: header("Accept-Language"),
        after,
        // Cloudflare's edge sets CF-Connecting-IP; behind other proxies the first
        // X-Forwarded-For hop is the client.
        address: header("CF-Connecting-IP").or_else(|| {
            header("X-Forwarded-For")
                .and_then(|f| f.split(',').next().map(|a| a.trim().to_string()))
        }),
    };
    let namespace = env.durable_object("TENANT").map_err(internal)?;
    let stub = namespace
        .id_from_name(&tenant)
        .and_then(|id| id.get_stub())
        .map_err(internal)?;

    let envelope = Envelope {
        route: route.clone(),
        actor,
        meta,
        body: if route.is_websocket() {
            String::new()
        } else {
            body
        },
    };
    let envelope_json = serde_json::to_string(&envelope).map_err(internal)?;
    let forward = if route.is_websocket() {
        if !header("Upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
            return upgrade_required();
        }
        let h = Headers::new();
        for (k, v) in headers.entries() {
            h.set(&k, &v).map_err(internal)?;
        }
        h.set(ENVELOPE_HEADER, &envelope_json).map_err(internal)?;
        if let Some(p) = &protocol {
            h.set(PROTOCOL_HEADER, p).map_err(internal)?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::Get).with_headers(h);
        Request::new_with_init("https://tenant.lobby/ws", &init).map_err(internal)?
    } else {
        let h = Headers::new();
        h.set("Content-Type", "application/json")
            .map_err(internal)?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(h)
            .with_body(Some(envelope_json.into()));
        Request::new_with_init("https://tenant.lobby/call", &init).map_err(internal)?
    };
    stub.fetch_with_request(forward).await.map_err(internal)
}

/// Hands a webhook request to its tenant's coordinator byte for byte; the answer (text or JSON,
/// as the provider expects) comes back unchanged.
async fn webhook(
    req: &mut Request,
    env: &Env,
    url: &Url,
    tenant: &str,
    channel: Channel,
) -> std::result::Result<Response, ApiError> {
    let headers = req.headers().clone();
    let header = |name: &str| headers.get(name).ok().flatten();
    if let Some(len) = header("Content-Length").and_then(|l| l.parse::<usize>().ok()) {
        if len > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
        }
    }
    let body = if req.method() == Method::Post {
        req.bytes().await.map_err(internal)?
    } else {
        vec![]
    };
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    let meta = HookMeta {
        channel,
        method: req.inner().method().to_ascii_uppercase(),
        query: url.query().unwrap_or_default().to_string(),
        signature: header("X-Hub-Signature-256"),
    };
    let namespace = env.durable_object("TENANT").map_err(internal)?;
    let stub = namespace
        .id_from_name(tenant)
        .and_then(|id| id.get_stub())
        .map_err(internal)?;
    let h = Headers::new();
    h.set(
        HOOK_HEADER,
        &serde_json::to_string(&meta).map_err(internal)?,
    )
    .map_err(internal)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(h)
        .with_body(Some(
            worker::js_sys::Uint8Array::from(body.as_slice()).into(),
        ));
    let forward = Request::new_with_init("https://tenant.lobby/hook", &init).map_err(internal)?;
    stub.fetch_with_request(forward).await.map_err(internal)
}

/// 426 for a plain HTTP request on a WebSocket route.
fn upgrade_required() -> std::result::Result<Response, ApiError> {
    let body = serde_json::json!({"error": {"code": "upgrade_required",
        "message": "this route is a WebSocket: connect with an Upgrade: websocket request"}});
    json_response(426, &body).map_err(internal)
}
