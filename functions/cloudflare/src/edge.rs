//! The stateless edge: every request enters here. It reads the request for `lobby-core`'s
//! `request::prepare` (which resolves the route and the caller, so a bad token or a wrong role is
//! refused before any tenant is touched), answers what needs no tenant, and hands the rest to the
//! tenant's `TenantRoom`.

use lobby_core::api::MAX_BODY_BYTES;
use lobby_core::channels::desk::HookRequest;
use lobby_core::channels::Channel;
use lobby_core::request::{self, Call, Prepared, Runtime, Settings};
use lobby_core::ApiError;
use worker::*;

use crate::tenant::{HookMeta, ENVELOPE_HEADER, HOOK_HEADER, PROTOCOL_HEADER};
use crate::{error_response, json_response};

pub async fn handle(mut req: Request, env: Env) -> Result<Response> {
    let headers = req.headers().clone();
    let mut resp = match answer(&mut req, &env, &headers).await {
        Ok(r) => r,
        Err(e) => error_response(&e)?,
    };
    if resp.status_code() == 101 {
        return Ok(resp);
    }
    // A Durable Object's answer has immutable headers: copy it to add CORS.
    let status = resp.status_code();
    let kept = resp.headers().clone();
    let body = resp.bytes().await?;
    let mut resp = Response::from_bytes(body)?.with_status(status);
    for (name, value) in kept.entries() {
        resp.headers_mut().set(&name, &value)?;
    }
    let origin = headers.get("Origin")?;
    for (name, value) in request::cors(origin.as_deref()) {
        resp.headers_mut().set(name, &value)?;
    }
    Ok(resp)
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// Reads the request, lets the core decide what it is, and does what that takes.
async fn answer(
    req: &mut Request,
    env: &Env,
    headers: &Headers,
) -> std::result::Result<Response, ApiError> {
    let url = req.url().map_err(internal)?;
    // As sent: `worker::Method` reads a method it does not know (e.g. QUERY) as GET.
    let method = req.inner().method().to_ascii_uppercase();
    let header = |name: &str| headers.get(name).ok().flatten();
    let body = if request::reads_body(&method) {
        // Not read at all when it says it is too long.
        request::check_declared_length(header("Content-Length").as_deref(), MAX_BODY_BYTES)?;
        req.bytes().await.map_err(internal)?
    } else {
        vec![]
    };
    let setting = |name: &str| {
        env.secret(name)
            .map(|s| s.to_string())
            .or_else(|_| env.var(name).map(|v| v.to_string()))
            .unwrap_or_default()
    };
    let platform_token = setting("LOBBY_PLATFORM_TOKEN");
    let token_secret = setting("LOBBY_TOKEN_SECRET");
    let trusted_proxies = setting("LOBBY_TRUSTED_PROXIES");
    let settings = Settings {
        platform_token: &platform_token,
        token_secret: &token_secret,
        trusted_proxies: &trusted_proxies,
    };
    let view = request::Request {
        runtime: Runtime::Cloudflare,
        method: &method,
        path: url.path(),
        query: url.query(),
        header: &header,
        body: &body,
    };
    let now_secs = (Date::now().as_millis() / 1000) as i64;
    match request::prepare(&view, &settings, now_secs)? {
        Prepared::Preflight => Response::empty()
            .map(|r| r.with_status(204))
            .map_err(internal),
        Prepared::Redirect(to) => {
            let to = url.join(to).map_err(internal)?;
            Response::redirect_with_status(to, 302).map_err(internal)
        }
        Prepared::Answer { status, body } => json_response(status, &body).map_err(internal),
        Prepared::Hook {
            tenant,
            channel,
            request,
        } => webhook(env, &tenant, channel, request).await,
        Prepared::Call { tenant, call } => {
            let h = Headers::new();
            h.set("Content-Type", "application/json")
                .map_err(internal)?;
            let body = serde_json::to_string(&call).map_err(internal)?;
            let mut init = RequestInit::new();
            init.with_method(Method::Post)
                .with_headers(h)
                .with_body(Some(body.into()));
            forward(env, &tenant, "https://tenant.lobby/call", &init).await
        }
        Prepared::Stream {
            tenant,
            call,
            protocol,
        } => {
            // The upgrade goes on to the tenant's object with the call in a header (an upgrade
            // has no body).
            let h = Headers::new();
            for (k, v) in headers.entries() {
                h.set(&k, &v).map_err(internal)?;
            }
            let envelope = serde_json::to_string::<Call>(&call).map_err(internal)?;
            h.set(ENVELOPE_HEADER, &envelope).map_err(internal)?;
            if let Some(p) = protocol {
                h.set(PROTOCOL_HEADER, p).map_err(internal)?;
            }
            let mut init = RequestInit::new();
            init.with_method(Method::Get).with_headers(h);
            forward(env, &tenant, "https://tenant.lobby/ws", &init).await
        }
    }
}

/// Sends a request to `tenant`'s Durable Object.
async fn forward(
    env: &Env,
    tenant: &str,
    url: &str,
    init: &RequestInit,
) -> std::result::Result<Response, ApiError> {
    let namespace = env.durable_object("TENANT").map_err(internal)?;
    let stub = namespace
        .id_from_name(tenant)
        .and_then(|id| id.get_stub())
        .map_err(internal)?;
    let request = Request::new_with_init(url, init).map_err(internal)?;
    stub.fetch_with_request(request).await.map_err(internal)
}

/// Hands a webhook request to its tenant's coordinator byte for byte; the answer (text or JSON,
/// as the provider expects) comes back unchanged.
async fn webhook(
    env: &Env,
    tenant: &str,
    channel: Channel,
    request: HookRequest,
) -> std::result::Result<Response, ApiError> {
    let meta = HookMeta {
        channel,
        method: request.method,
        query: request.query,
        signature: request.signature,
    };
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
            worker::js_sys::Uint8Array::from(request.body.as_slice()).into(),
        ));
    forward(env, tenant, "https://tenant.lobby/hook", &init).await
}
