//! Lobby on Cloudflare Workers. The edge function (`edge`) authenticates and routes every
//! request (through `lobby_core::request`, as the Spin runtime does); one Durable Object per tenant (`tenant::TenantRoom`) runs the tenant's queue from
//! `lobby-core` and keeps its journal in SQLite (`journal`). Thin by design: the rules live in
//! the core, shared with the Spin runtime.

mod edge;
mod journal;
mod tenant;

use lobby_core::ApiError;
use serde::Serialize;
use worker::*;

pub use tenant::TenantRoom;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    edge::handle(req, env).await
}

/// A JSON answer with a status.
pub(crate) fn json_response<T: Serialize>(status: u16, body: &T) -> Result<Response> {
    let mut resp = Response::from_json(body)?.with_status(status);
    resp.headers_mut()
        .set("Content-Type", "application/json; charset=utf-8")?;
    Ok(resp)
}

/// The API's error body with the error's status.
pub(crate) fn error_response(e: &ApiError) -> Result<Response> {
    if e.status() >= 500 {
        console_error!("lobby: {e}");
    }
    let mut resp = json_response(e.status(), &e.body())?;
    for (name, value) in e.headers() {
        resp.headers_mut().set(name, &value)?;
    }
    Ok(resp)
}

/// The secret that signs tokens; the deployment must set it (`wrangler secret put`).
pub(crate) fn token_secret(env: &Env) -> Result<String> {
    let s = env
        .secret("LOBBY_TOKEN_SECRET")
        .map(|s| s.to_string())
        .unwrap_or_default();
    lobby_core::request::token_secret(lobby_core::request::Runtime::Cloudflare, &s)
        .map(str::to_string)
        .map_err(|e| Error::RustError(e.to_string()))
}
