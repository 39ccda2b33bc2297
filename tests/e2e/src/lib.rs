//! Lobby's end-to-end harness: starts the real server (`wrangler dev`, built beforehand by
//! `make test`) on free ports and drives it over HTTP and WebSocket as a user or integrator would.
//!
//! - [`Server::start`] / [`shared`]: a server of one's own (kill/restart) or the one shared by a
//!   test binary (each test makes its own tenant).
//! - [`Server::get`]/[`Server::post`]/[`Server::put`] → [`Call`] → [`Resp`]: HTTP with typed answers
//!   and checked error bodies.
//! - [`Server::operator_ws`], [`Server::client_ws`], [`Ws`]: event streams with bounded waits.
//! - [`Server::desk`], [`Tenant`], [`Operator`], [`Client`]: the usual setup in one line.
//!
//! Environment: `LOBBY_WRANGLER` (else `~/.cache/lobby/tools/npm-current/...`),
//! `LOBBY_E2E_START_TIMEOUT` and `LOBBY_E2E_EVENT_TIMEOUT` (seconds), `LOBBY_E2E_TMP` (where the
//! per-server folders go), `LOBBY_E2E_KEEP=1` (keep them, with `wrangler.log`).

pub mod fake;
pub mod fixtures;
pub mod http;
pub mod reliability;
pub mod server;
pub mod ws;

pub use fixtures::*;
pub use http::{Call, Resp};
pub use server::{
    platform_token, random_hex, repo_root, runtime, shared, HostStats, Runtime, Server,
    TRUSTED_PROXY,
};
pub use ws::{
    client_message_is, encode_query, event_timeout, op_message_is, op_seq, op_waiting_is, Ws,
    WsRefused,
};
