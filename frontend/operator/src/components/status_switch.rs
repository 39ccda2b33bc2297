//! The operator's presence: online (clients are routed here), away, offline. Always visible.

use leptos::prelude::*;
use leptos::task::spawn_local;
use lobby_wire::{Presence, SetStatus};

use crate::api;
use crate::i18n::{tr, Text};
use crate::store::store;

fn code(p: Presence) -> &'static str {
    match p {
        Presence::Online => "online",
        Presence::Away => "away",
        Presence::Offline => "offline",
    }
}

fn parse(v: &str) -> Option<Presence> {
    match v {
        "online" => Some(Presence::Online),
        "away" => Some(Presence::Away),
        "offline" => Some(Presence::Offline),
        _ => None,
    }
}

pub fn presence_text(p: Presence) -> Text {
    match p {
        Presence::Online => Text::Online,
        Presence::Away => Text::Away,
        Presence::Offline => Text::Offline,
    }
}

#[component]
pub fn StatusSwitch() -> impl IntoView {
    let s = store();
    let current = move || {
        s.me.with(|m| m.as_ref().map_or(Presence::Offline, |m| m.status))
    };
    let change = move |ev: leptos::ev::Event| {
        let Some(status) = parse(&event_target_value(&ev)) else {
            return;
        };
        spawn_local(async move {
            match api::put::<_, serde::de::IgnoredAny>("/me/status", &SetStatus { status }).await {
                Ok(_) => s.me.update(|m| {
                    if let Some(m) = m {
                        m.status = status;
                    }
                }),
                Err(f) => {
                    // Show the status the server still has.
                    s.me.update(|_| {});
                    s.fail(f);
                }
            }
        });
    };
    view! {
        <label class=move || format!("status-switch status-{}", code(current()))>
            <span class="dot" aria-hidden="true"></span>
            <select
                data-testid="status-select"
                aria-label=tr(Text::Status)
                title=tr(Text::Status)
                prop:value=move || code(current())
                on:change=change
            >
                <option value="online">{tr(Text::Online)}</option>
                <option value="away">{tr(Text::Away)}</option>
                <option value="offline">{tr(Text::Offline)}</option>
            </select>
        </label>
    }
}
