//! Lobby's operator app: a Leptos single-page app (client-side rendered, Wasm) served by the
//! worker at `/app/`. Operators see the waiting queue live, preview and accept clients, converse
//! in Client tabs, redirect, and administer groups, operators and widgets.
//!
//! `store` holds the state as signals, `live` keeps the operator WebSocket (resume, reconnect),
//! `api` calls the HTTP API with the wire types; `components/` are what an operator sees.

mod alerts;
mod api;
mod components;
mod format;
mod i18n;
mod live;
mod store;

fn main() {
    // The store (and the owner its tabs live in) is made before anything is mounted.
    let _ = store::store();
    leptos::mount::mount_to_body(components::app::App);
}
