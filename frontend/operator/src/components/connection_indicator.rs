//! Whether the live connection to the server stands (`connected`) or is being re-established
//! (`reconnecting`); the queue may be stale while it reconnects.

use leptos::prelude::*;

use crate::i18n::{tr, Text};
use crate::store::{store, Connection};

#[component]
pub fn ConnectionIndicator() -> impl IntoView {
    let c = store().connection;
    let state = move || match c.get() {
        Connection::Connected => "connected",
        Connection::Reconnecting => "reconnecting",
    };
    view! {
        <span class=move || format!("connection {}", state()) data-testid="connection-status"
            data-state=state role="status">
            <span class="dot" aria-hidden="true"></span>
            {move || match c.get() {
                Connection::Connected => tr(Text::Connected)(),
                Connection::Reconnecting => tr(Text::Reconnecting)(),
            }}
        </span>
    }
}
