//! Lobby's core: every rule of the contact center, sans-IO. It never reads a clock, a socket, a
//! disk or a random source: the adapters (`functions/cloudflare`, `functions/spin`) pass time,
//! randomness and stored history in, and persist and deliver what comes out.
//!
//! - [`lobby`]: one tenant's state machine (configuration, presence, queue, sessions), event-sourced.
//! - [`capacity`]: how many sessions, and which kinds, an operator may serve at once.
//! - [`auth`]: password hashes and signed, expiring tokens.
//! - [`client_info`]: browser, OS and language of a client.
//! - [`api`]: the HTTP API's routes, who may call them, and what each call does to a tenant.
//! - [`routes`]: the route table the router matches and the OpenAPI document describes.
//! - [`invitation`]: six-digit invitation codes and the guard against guessing them.
//! - [`outbox`]: e-mails owed (offline form), their retries and MIME form.
//! - [`owed`]: when what a tenant owes (mails, provider calls) is next due: the runtimes' wake-up.
//! - [`openapi`]: the OpenAPI document the server serves, generated from the route table and the
//!   wire types.
//! - [`request`]: what every HTTP request goes through before a tenant's coordinator (both
//!   runtimes): body limit, token, authorization, the client's address, CORS.
//! - [`journal`]: the journal's tables, rows and rebuild, shared by both runtimes' journals.
//! - [`snapshot`]: when the journal snapshots a tenant's state, and how it is stored in parts.
//! - [`time`]: the caller's clock as the core counts it, and the API's timestamp form; depends on
//!   nothing else in the core.
//! - [`watch`]: when an event stream without pushes (Spin's) looks at the journal, and reads it.

pub mod api;
pub mod auth;
pub mod capacity;
pub mod channels;
pub mod client_info;
pub mod error;
pub mod invitation;
pub mod journal;
pub mod lobby;
pub mod openapi;
pub mod outbox;
pub mod owed;
pub mod request;
pub mod routes;
pub mod snapshot;
pub mod time;
pub mod views;
pub mod watch;

pub use error::ApiError;
pub use lobby::{Command, Event, Lobby};
pub use time::{rfc3339, Millis};
