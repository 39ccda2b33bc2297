//! What is known of a client, as the preview and the Client tab both show it: information,
//! past sessions, browsing history, call parameters, tags and notes. Each section says plainly
//! when it is empty.

use leptos::prelude::*;
use lobby_wire::{ClientInfo, Note, PageView, PastSession};
use serde_json::{Map, Value};

use crate::components::entry_icon::{entry_text, EntryIcon};
use crate::format::when;
use crate::i18n::{t, tr, Text};
use crate::store::store;

/// A titled section with its test id; `data-empty` and the empty text when there is nothing.
pub fn section(
    testid: &'static str,
    title: Text,
    empty: bool,
    empty_text: Text,
    body: impl IntoView + 'static,
) -> impl IntoView {
    view! {
        <section class="detail-section" data-testid=testid data-empty=if empty { "true" } else { "false" }>
            <h3>{tr(title)}</h3>
            {if empty {
                view! { <p class="empty">{tr(empty_text)}</p> }.into_any()
            } else {
                body.into_any()
            }}
        </section>
    }
}

fn row(label: Text, value: Option<String>) -> impl IntoView {
    value.filter(|v| !v.is_empty()).map(|v| {
        view! {
            <dt>{tr(label)}</dt>
            <dd>{v}</dd>
        }
    })
}

/// Client information: who, how they came, from where.
#[component]
pub fn ClientFacts(client: ClientInfo) -> impl IntoView {
    let lang = store().lang;
    let entered = client.entered_at.clone();
    let page = client.page.clone();
    view! {
        <div class="client-facts">
            <div class="client-title">
                <EntryIcon entry=client.entry/>
                <strong class="client-name">
                    {let n = client.name.clone(); move || n.clone().unwrap_or_else(|| t(Text::NoName).into())}
                </strong>
            </div>
            <dl>
                <dt>{tr(Text::Entry)}</dt>
                <dd>{tr(entry_text(client.entry))}</dd>
                {row(Text::Phone, client.phone.clone())}
                {row(Text::Email, client.email.clone())}
                {row(Text::Language, client.language.clone())}
                {row(Text::Browser, client.browser.clone())}
                {row(Text::Os, client.os.clone())}
                {row(Text::Widget, client.widget.clone())}
                {page.map(|p| {
                    let label = p.title.clone().filter(|t| !t.is_empty()).unwrap_or_else(|| p.url.clone());
                    view! {
                        <dt>{tr(Text::Page)}</dt>
                        <dd><a href=safe_url(&p.url) target="_blank" rel="noopener noreferrer">{label}</a></dd>
                    }
                })}
                <dt>{tr(Text::EnteredAt)}</dt>
                <dd>{move || when(&entered, lang.get())}</dd>
            </dl>
        </div>
    }
}

/// Only http(s) links become clickable: a `javascript:` URL from a client must not run.
pub fn safe_url(url: &str) -> String {
    let lower = url.trim_start().to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        url.to_string()
    } else {
        "#".to_string()
    }
}

pub fn past_sessions(list: Vec<PastSession>) -> impl IntoView {
    let lang = store().lang;
    let empty = list.is_empty();
    section(
        "preview-past-sessions",
        Text::PastSessions,
        empty,
        Text::NoPastSessions,
        view! {
            <ul class="plain">
                {list.into_iter().map(|p| {
                    let started = p.started_at.clone();
                    let closed = p.closed_at.clone();
                    view! {
                        <li>
                            <EntryIcon entry=p.entry/>
                            <span>{move || when(&started, lang.get())}</span>
                            {move || match &closed {
                                Some(c) => format!(" – {}", when(c, lang.get())),
                                None => format!(" – {}", t(Text::Open)),
                            }}
                            {p.operator.clone().map(|o| view! { <span class="muted">{format!(" · {o}")}</span> })}
                        </li>
                    }
                }).collect_view()}
            </ul>
        },
    )
}

pub fn browsing(list: Vec<PageView>) -> impl IntoView {
    let lang = store().lang;
    let empty = list.is_empty();
    section(
        "preview-browsing",
        Text::Browsing,
        empty,
        Text::NoBrowsing,
        view! {
            <ol class="plain">
                {list.into_iter().rev().map(|p| {
                    let at = p.at.clone();
                    let label = p.title.clone().filter(|t| !t.is_empty()).unwrap_or_else(|| p.url.clone());
                    view! {
                        <li>
                            <span class="muted">{move || when(&at, lang.get())}</span>" "
                            <a href=safe_url(&p.url) target="_blank" rel="noopener noreferrer" title=p.url.clone()>{label}</a>
                        </li>
                    }
                }).collect_view()}
            </ol>
        },
    )
}

pub fn params(map: Map<String, Value>) -> impl IntoView {
    let empty = map.is_empty();
    section(
        "preview-params",
        Text::Params,
        empty,
        Text::NoParams,
        view! {
            <dl>
                {map.into_iter().map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    view! { <dt>{k}</dt><dd>{v}</dd> }
                }).collect_view()}
            </dl>
        },
    )
}

/// Tags as chips; `testid` is `tag` in the Client tab (where they are added).
pub fn tag_chips(tags: Vec<String>, testid: &'static str) -> impl IntoView {
    view! {
        <ul class="tags">
            {tags.into_iter().map(|tag| view! { <li class="tag" data-testid=testid>{tag}</li> }).collect_view()}
        </ul>
    }
}

pub fn note_list(notes: Vec<Note>, testid: &'static str) -> impl IntoView {
    let lang = store().lang;
    view! {
        <ul class="notes">
            {notes.into_iter().map(|n| {
                let at = n.at.clone();
                view! {
                    <li class="note" data-testid=testid>
                        <p>{n.text.clone()}</p>
                        <span class="muted">{n.operator.clone()}" · "{move || when(&at, lang.get())}</span>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}
