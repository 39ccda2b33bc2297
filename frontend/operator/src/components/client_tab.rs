//! Client tabs: a header per session this operator serves (side by side, up to its limit) and
//! the active one's panel: client information, the conversation, tags, notes, history, and the
//! buttons to redirect or close the session.

use leptos::prelude::*;
use leptos::task::spawn_local;
use lobby_wire::Party;

use crate::api;
use crate::components::client_details::{
    browsing, note_list, params, past_sessions, tag_chips, ClientFacts,
};
use crate::components::conversation::Conversation;
use crate::components::entry_icon::EntryIcon;
use crate::i18n::{t, tr, Text};
use crate::store::{store, RedirectOf, Tab};

/// The strip of tab headers, with how many chats are open against the limit.
#[component]
pub fn ClientTabs() -> impl IntoView {
    let s = store();
    let limit = move || s.me.with(|m| m.as_ref().map(|m| m.limits.chat));
    let open = move || {
        s.tabs
            .with(|ts| ts.iter().filter(|t| t.ended.get().is_none()).count())
    };
    let numbered = move || s.tabs.get().into_iter().enumerate().collect::<Vec<_>>();
    view! {
        <nav class="client-tabs" role="tablist">
            <For
                each=numbered
                key=|(i, t)| (*i, t.session.clone())
                children=move |(i, tab)| view! { <TabHeader tab index=i/> }
            />
            <span class="chat-count" title=tr(Text::Chats)>
                {tr(Text::Chats)}" "{open}{move || limit().map(|l| format!(" / {l}"))}
            </span>
        </nav>
    }
}

#[component]
fn TabHeader(tab: Tab, index: usize) -> impl IntoView {
    let s = store();
    let session = tab.session.clone();
    let active = {
        let session = session.clone();
        move || {
            s.active.with(|a| a.as_deref() == Some(session.as_str()))
                && s.preview.with(Option::is_none)
        }
    };
    let name = {
        let tab = tab.clone();
        move || tab.name().unwrap_or_else(|| t(Text::NoName).to_string())
    };
    let entry = {
        let tab = tab.clone();
        move || tab.entry()
    };
    let unread = tab.unread;
    let ended = tab.ended;
    let focus = session.clone();
    view! {
        <button
            type="button"
            role="tab"
            class="client-tab"
            class:active=active.clone()
            class:ended=move || ended.with(Option::is_some)
            aria-selected=move || if active() { "true" } else { "false" }
            data-testid="client-tab"
            data-session-id=session
            data-client-id=tab.client.clone()
            title=(index < 9).then(|| format!("Alt+{}", index + 1))
            on:click=move |_| s.focus_tab(&focus)
        >
            {move || entry().map(|e| view! { <EntryIcon entry=e/> })}
            <span class="tab-name">{name}</span>
            {move || (unread.get() > 0).then(|| view! { <span class="badge">{unread.get()}</span> })}
        </button>
    }
}

/// The active Client tab.
#[component]
pub fn ClientPanel(tab: Tab) -> impl IntoView {
    let s = store();
    let ended = tab.ended;
    let (close_id, redirect_session, dismiss_id) = (
        tab.session.clone(),
        tab.session.clone(),
        tab.session.clone(),
    );
    let client = tab.client.clone();
    let detail = tab.detail;
    view! {
        <section class="client-panel panel" data-testid="client-panel" data-session-id=tab.session.clone()
            data-client-id=tab.client.clone()>
            <header class="panel-head">
                <h2>
                    {let tab = tab.clone(); move || tab.name().unwrap_or_else(|| t(Text::NoName).to_string())}
                </h2>
                <div class="buttons">
                    <Show when=move || ended.get().is_none()
                        fallback=move || view! {
                            <button type="button" data-testid="close-tab"
                                on:click={let id = dismiss_id.clone(); move |_| s.drop_tab(&id)}>
                                {tr(Text::CloseTab)}
                            </button>
                        }>
                        <button type="button" data-testid="redirect-button"
                            on:click={
                                let (client, session) = (client.clone(), redirect_session.clone());
                                move |_| s.redirect.set(Some(RedirectOf { client: client.clone(), session: Some(session.clone()) }))
                            }>
                            {tr(Text::Redirect)}
                        </button>
                        <button type="button" class="danger" data-testid="close-session"
                            on:click={let id = close_id.clone(); move |_| s.close_session(id.clone())}>
                            {tr(Text::CloseSession)}
                        </button>
                    </Show>
                </div>
            </header>
            {move || ended.get().map(|by| view! {
                <p class="ended-banner" role="status">
                    {if by == Party::Client { tr(Text::EndedByClient)() } else { tr(Text::SessionEnded)() }}
                </p>
            })}
            <div class="client-body">
                <Conversation tab=tab.clone()/>
                <aside class="client-side">
                    <div class="client-info" data-testid="client-info">
                        {move || match detail.get() {
                            Some(d) => view! { <ClientFacts client=d.client/> }.into_any(),
                            None => view! { <p class="loading">{tr(Text::Loading)}</p> }.into_any(),
                        }}
                    </div>
                    <TagEditor tab=tab.clone()/>
                    <NoteEditor tab=tab.clone()/>
                    {move || detail.get().map(|d| view! {
                        {params(d.call_parameters)}
                        {browsing(d.browsing_history)}
                        {past_sessions(d.past_sessions)}
                    })}
                </aside>
            </div>
        </section>
    }
}

#[component]
fn TagEditor(tab: Tab) -> impl IntoView {
    let s = store();
    let text = RwSignal::new(String::new());
    let tags = move || {
        tab.detail
            .with(|d| d.as_ref().map(|d| d.tags.clone()).unwrap_or_default())
    };
    let (detail, edits) = (tab.detail, tab.edits);
    let client = tab.client.clone();
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let tag = text.get_untracked().trim().to_string();
        if tag.is_empty() || detail.with_untracked(Option::is_none) {
            return;
        }
        let client = client.clone();
        spawn_local(async move {
            let path = format!("/clients/{}/tags", api::seg(&client));
            match api::post::<_, api::Tags>(&path, &lobby_wire::AddTag { tag }).await {
                Ok(t) => {
                    text.set(String::new());
                    edits.update(|e| *e += 1);
                    detail.update(|d| {
                        if let Some(d) = d {
                            d.tags = t.tags;
                        }
                    });
                }
                Err(f) => s.fail(f),
            }
        });
    };
    view! {
        <section class="detail-section tags-editor">
            <h3>{tr(Text::Tags)}</h3>
            {move || {
                let list = tags();
                if list.is_empty() {
                    view! { <p class="empty">{tr(Text::NoTags)}</p> }.into_any()
                } else {
                    tag_chips(list, "tag").into_any()
                }
            }}
            <form class="inline-form" on:submit=add>
                <input data-testid="tag-input" placeholder=move || t(Text::NewTag) maxlength="60"
                    bind:value=text/>
                // Until the client's details are loaded, a new tag would be overwritten by them.
                <button type="submit" data-testid="tag-add"
                    disabled=move || detail.with(Option::is_none)>{tr(Text::AddTag)}</button>
            </form>
        </section>
    }
}

#[component]
fn NoteEditor(tab: Tab) -> impl IntoView {
    let s = store();
    let text = RwSignal::new(String::new());
    let (detail, edits) = (tab.detail, tab.edits);
    let client = tab.client.clone();
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let note = text.get_untracked().trim().to_string();
        if note.is_empty() || detail.with_untracked(Option::is_none) {
            return;
        }
        let client = client.clone();
        spawn_local(async move {
            let path = format!("/clients/{}/notes", api::seg(&client));
            match api::post::<_, api::Notes>(&path, &lobby_wire::AddNote { text: note }).await {
                Ok(n) => {
                    text.set(String::new());
                    edits.update(|e| *e += 1);
                    detail.update(|d| {
                        if let Some(d) = d {
                            d.notes = n.notes;
                        }
                    });
                }
                Err(f) => s.fail(f),
            }
        });
    };
    let notes = move || detail.with(|d| d.as_ref().map(|d| d.notes.clone()).unwrap_or_default());
    view! {
        <section class="detail-section notes-editor">
            <h3>{tr(Text::Notes)}</h3>
            {move || {
                let list = notes();
                if list.is_empty() {
                    view! { <p class="empty">{tr(Text::NoNotes)}</p> }.into_any()
                } else {
                    note_list(list, "note").into_any()
                }
            }}
            <form class="inline-form" on:submit=add>
                <textarea data-testid="note-input" rows="2" placeholder=move || t(Text::NewNote)
                    bind:value=text></textarea>
                <button type="submit" data-testid="note-add"
                    disabled=move || detail.with(Option::is_none)>{tr(Text::AddNote)}</button>
            </form>
        </section>
    }
}
