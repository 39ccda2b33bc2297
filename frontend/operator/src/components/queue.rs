//! The waiting queue (left column): every client this operator may serve, oldest first, live
//! from the operator WebSocket.

use leptos::prelude::*;
use lobby_wire::QueueItem;

use crate::components::client_card::ClientCard;
use crate::i18n::{tr, Text};
use crate::store::{positions, store};

#[component]
pub fn Queue() -> impl IntoView {
    let s = store();
    let rows = Memo::new(move |_| {
        s.queue.with(|q| {
            q.iter()
                .cloned()
                .zip(positions(q))
                .collect::<Vec<(QueueItem, u32)>>()
        })
    });
    view! {
        <aside class="queue" data-testid="queue" aria-label=tr(Text::WaitingQueue)>
            <h2>
                {tr(Text::WaitingQueue)}
                <span class="count">{move || rows.with(Vec::len)}</span>
            </h2>
            <Show when=move || rows.with(Vec::is_empty)>
                <p class="queue-empty" data-testid="queue-empty">{tr(Text::QueueEmpty)}</p>
            </Show>
            <ul class="queue-list">
                <For
                    each=move || rows.get()
                    // A row is redrawn when what it shows changes (its place, or a redirect).
                    key=|(c, p)| {
                        (c.id.clone(), *p, c.waiting_since.clone(), c.group.clone(), c.operator.clone())
                    }
                    children=|(client, position)| view! { <ClientCard client position/> }
                />
            </ul>
            <p class="shortcuts">{tr(Text::Shortcuts)}</p>
        </aside>
    }
}
