//! The preview of a waiting client, before accepting: client information, past sessions,
//! browsing history, tags, call parameters, operator notes and the chat so far, with Accept and
//! Redirect.

use leptos::prelude::*;
use leptos::task::spawn_local;
use lobby_wire::Preview;

use crate::api::{self, Failure};
use crate::components::client_details::{
    browsing, note_list, params, past_sessions, section, tag_chips, ClientFacts,
};
use crate::components::conversation::MessageView;
use crate::i18n::{tr, Text};
use crate::store::{store, RedirectOf};

#[component]
pub fn PreviewPanel(client: String) -> impl IntoView {
    let s = store();
    let data = RwSignal::new(None::<Result<Preview, Failure>>);
    {
        let client = client.clone();
        spawn_local(async move {
            let got = api::get::<Preview>(&format!("/clients/{}/preview", api::seg(&client))).await;
            if let Err(f) = &got {
                if f.status == 401 {
                    s.fail(f.clone());
                }
            }
            data.try_set(Some(got));
        });
    }
    let (accept_id, redirect_id) = (client.clone(), client.clone());
    view! {
        <section class="preview panel" data-testid="preview" data-client-id=client.clone()>
            <header class="panel-head">
                <h2>{tr(Text::Preview)}</h2>
                <div class="buttons">
                    <button type="button" class="primary" data-testid="preview-accept"
                        on:click=move |_| s.accept(accept_id.clone())>{tr(Text::Accept)}</button>
                    <button type="button" data-testid="preview-redirect"
                        on:click=move |_| s.redirect.set(Some(RedirectOf { client: redirect_id.clone(), session: None }))>
                        {tr(Text::Redirect)}
                    </button>
                    <button type="button" data-testid="preview-close"
                        on:click=move |_| s.preview.set(None)>{tr(Text::Close)}</button>
                </div>
            </header>
            {move || match data.get() {
                None => view! { <p class="loading">{tr(Text::Loading)}</p> }.into_any(),
                Some(Err(f)) => view! { <p class="empty">{tr(Text::ErrGeneric)}" "{f.message}</p> }.into_any(),
                Some(Ok(p)) => preview_sections(p).into_any(),
            }}
        </section>
    }
}

fn preview_sections(p: Preview) -> impl IntoView {
    let Preview {
        client,
        past_sessions: past,
        browsing_history,
        tags,
        call_parameters,
        notes,
        messages,
    } = p;
    let (no_tags, no_notes, no_messages) = (tags.is_empty(), notes.is_empty(), messages.is_empty());
    view! {
        <div class="preview-body">
            <div class="preview-column">
                {section("preview-info", Text::ClientInfo, false, Text::Unknown, view! { <ClientFacts client/> })}
                {section("preview-tags", Text::Tags, no_tags, Text::NoTags, tag_chips(tags, "preview-tag"))}
                {params(call_parameters)}
                {section("preview-notes", Text::Notes, no_notes, Text::NoNotes, note_list(notes, "preview-note"))}
            </div>
            <div class="preview-column">
                {section("preview-messages", Text::Chat, no_messages, Text::NoMessages, view! {
                    <ol class="messages">
                        {messages.into_iter().map(|m| view! { <MessageView message=m/> }).collect_view()}
                    </ol>
                })}
                {past_sessions(past)}
                {browsing(browsing_history)}
            </div>
        </div>
    }
}
