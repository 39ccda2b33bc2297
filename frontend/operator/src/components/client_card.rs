//! One waiting client in the queue: entry icon, name, phone, language, browser, OS, widget, how
//! long it has waited (ticking) and its position. Hover or focus shows Preview and Accept.

use leptos::prelude::*;
use lobby_wire::QueueItem;

use crate::components::entry_icon::{entry_code, EntryIcon};
use crate::format::waited;
use crate::i18n::{t, tr, Text};
use crate::store::{parse_time, store};

pub const EYE: &str = r#"<svg viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="M12 5C6.5 5 2.7 9.1 1.5 12c1.2 2.9 5 7 10.5 7s9.3-4.1 10.5-7C21.3 9.1 17.5 5 12 5zm0 11.5A4.5 4.5 0 1 1 12 7.5a4.5 4.5 0 0 1 0 9zm0-7a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5z"/></svg>"#;
pub const CHECK: &str = r#"<svg viewBox="0 0 24 24" aria-hidden="true"><path fill="none" stroke="currentColor" stroke-width="3" stroke-linecap="round" stroke-linejoin="round" d="M4.5 12.5l5 5 10-11"/></svg>"#;

#[component]
pub fn ClientCard(client: QueueItem, position: u32) -> impl IntoView {
    let s = store();
    let since = parse_time(&client.waiting_since);
    let id = client.id.clone();
    let (accept_id, preview_id, open_id) = (id.clone(), id.clone(), id.clone());
    let previewing = {
        let id = id.clone();
        move || s.preview.with(|p| p.as_deref() == Some(id.as_str()))
    };
    let name = client.name.clone();
    let meta = |testid: &'static str, title: Text, value: Option<String>| {
        value.map(|v| {
            view! { <span class=testid data-testid=testid title=tr(title)>{v}</span> }
        })
    };
    view! {
        <li
            class="queue-item"
            class:previewing=previewing
            data-testid="queue-item"
            data-client-id=id
            data-entry=entry_code(client.entry)
            tabindex="0"
            on:dblclick=move |_| s.preview.set(Some(open_id.clone()))
        >
            <EntryIcon entry=client.entry/>
            <div class="who">
                <span class="client-name" data-testid="client-name">
                    {move || name.clone().unwrap_or_else(|| t(Text::NoName).to_string())}
                </span>
            </div>
            <div class="facts">
                {meta("client-phone", Text::Phone, client.phone.clone())}
                {meta("client-language", Text::Language, client.language.clone())}
                {meta("client-browser", Text::Browser, client.browser.clone())}
                {meta("client-os", Text::Os, client.os.clone())}
                {meta("client-widget", Text::Widget, client.widget.clone())}
            </div>
            <div class="wait">
                <span class="waiting-time" data-testid="waiting-time" title=tr(Text::Waiting)>
                    {move || waited(s.now.get() - since)}
                </span>
                <span class="position" data-testid="position" title=tr(Text::Position)>
                    {format!("#{position}")}
                </span>
            </div>
            <div class="actions">
                <button type="button" class="icon-button preview" data-testid="preview-button"
                    title=tr(Text::Preview) aria-label=tr(Text::Preview) inner_html=EYE
                    on:click=move |_| s.preview.set(Some(preview_id.clone()))></button>
                <button type="button" class="icon-button accept" data-testid="accept-button"
                    title=tr(Text::Accept) aria-label=tr(Text::Accept) inner_html=CHECK
                    on:click=move |_| s.accept(accept_id.clone())></button>
            </div>
        </li>
    }
}
