//! The app's frame: sign-in, or the workspace (top bar with navigation, connection, status,
//! language and sign-out; the waiting queue on the left; the preview or the Client tabs on the
//! right; the administration for admins). Also the page title, the clock and the shortcuts.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use lobby_wire::{OperatorInfo, OperatorRef, Presence, SetStatus};

use crate::api;
use crate::components::admin::AdminScreen;
use crate::components::client_tab::{ClientPanel, ClientTabs};
use crate::components::connection_indicator::ConnectionIndicator;
use crate::components::error_message::ErrorMessage;
use crate::components::lang_switch::LangSwitch;
use crate::components::login::LoginForm;
use crate::components::preview::PreviewPanel;
use crate::components::queue::Queue;
use crate::components::redirect_dialog::RedirectDialog;
use crate::components::status_switch::StatusSwitch;
use crate::i18n::{tr, Text};
use crate::store::{now_ms, store, Screen};

/// After a successful sign-in (or a kept token checked on load): remember who, go live.
pub fn signed_in(operator: OperatorRef) {
    let s = store();
    s.operator.set(Some(operator));
    s.notice.set(None);
    spawn_local(async move {
        if let Ok(me) = api::get::<OperatorInfo>("/me").await {
            s.me.set(Some(me));
        }
    });
    crate::live::start();
}

fn sign_out() {
    let s = store();
    spawn_local(async move {
        // Signing out also stops clients from being routed here.
        let _ = api::put::<_, serde::de::IgnoredAny>(
            "/me/status",
            &SetStatus {
                status: Presence::Offline,
            },
        )
        .await;
        s.sign_out_locally();
    });
}

/// Alt+N accepts the first waiting client; Alt+1..9 switch Client tabs.
fn shortcut(ev: web_sys::KeyboardEvent) {
    if !ev.alt_key() || ev.ctrl_key() || ev.meta_key() {
        return;
    }
    let s = store();
    if s.operator.with_untracked(Option::is_none) {
        return;
    }
    // `code`, not `key`: Alt+N types "˜" on a Mac keyboard.
    let code = ev.code();
    if code == "KeyN" {
        ev.prevent_default();
        s.accept_next();
    } else if let Some(n) = code
        .strip_prefix("Digit")
        .and_then(|d| d.parse::<usize>().ok())
        .filter(|n| (1..=9).contains(n))
    {
        ev.prevent_default();
        if let Some(session) = s
            .tabs
            .with_untracked(|ts| ts.get(n - 1).map(|t| t.session.clone()))
        {
            s.focus_tab(&session);
        }
    }
}

/// A kept token (a reload of the tab): find out who we are. A refused token means signing in
/// again; an unreachable server (restarting) means trying again shortly.
fn resume_session(booting: RwSignal<bool>, attempt: u32) {
    let s = store();
    spawn_local(async move {
        match api::get::<OperatorInfo>("/me").await {
            Ok(me) => {
                let op = OperatorRef {
                    id: me.id.clone(),
                    name: me.name.clone(),
                    role: me.role,
                };
                signed_in(op);
                s.me.set(Some(me));
                booting.set(false);
            }
            Err(f) if f.code == "network" || f.status >= 500 => {
                let delay = 500u64 << attempt.min(4);
                set_timeout(
                    move || resume_session(booting, attempt + 1),
                    Duration::from_millis(delay),
                );
            }
            Err(_) => {
                api::session_remove(api::TOKEN_KEY);
                booting.set(false);
            }
        }
    });
}

#[component]
pub fn App() -> impl IntoView {
    let s = store();
    let booting = RwSignal::new(api::token().is_some());
    if booting.get_untracked() {
        resume_session(booting, 0);
    }
    s.lang.get_untracked().remember();
    Effect::new(move |_| document().set_title(&crate::alerts::title(s.queue.with(Vec::len))));
    set_interval(move || s.now.set(now_ms()), Duration::from_secs(1));
    let _keys = window_event_listener(leptos::ev::keydown, shortcut);

    move || {
        if booting.get() {
            view! { <p class="booting">{tr(Text::Loading)}</p> }.into_any()
        } else if s.operator.with(Option::is_some) {
            view! { <Workspace/> }.into_any()
        } else {
            view! { <LoginForm/> }.into_any()
        }
    }
}

#[component]
fn Workspace() -> impl IntoView {
    let s = store();
    let name = move || {
        s.operator
            .with(|o| o.as_ref().map(|o| o.name.clone()).unwrap_or_default())
    };
    let screen = s.screen;
    view! {
        <div class="workspace">
            <header class="topbar">
                <span class="brand">"Lobby"</span>
                <nav class="main-nav">
                    <button type="button" data-testid="nav-queue" class:active=move || screen.get() == Screen::Queue
                        on:click=move |_| screen.set(Screen::Queue)>
                        {tr(Text::NavQueue)}
                        {move || s.queue.with(|q| (!q.is_empty()).then(|| view! { <span class="badge">{q.len()}</span> }))}
                    </button>
                    <Show when=move || s.is_admin()>
                        <button type="button" data-testid="nav-admin" class:active=move || screen.get() == Screen::Admin
                            on:click=move |_| screen.set(Screen::Admin)>
                            {tr(Text::NavAdmin)}
                        </button>
                    </Show>
                </nav>
                <span class="spacer"></span>
                <ConnectionIndicator/>
                <StatusSwitch/>
                <LangSwitch/>
                <span class="operator-name" data-testid="signed-in-as">{name}</span>
                <button type="button" class="quiet" data-testid="sign-out" on:click=move |_| sign_out()>
                    {tr(Text::SignOut)}
                </button>
            </header>
            <ErrorMessage/>
            <main class="main">
                {move || match screen.get() {
                    Screen::Queue => view! { <Queue/><Desk/> }.into_any(),
                    Screen::Admin => view! { <AdminScreen/> }.into_any(),
                }}
            </main>
            {move || s.redirect.get().map(|of| view! { <RedirectDialog of/> })}
        </div>
    }
}

/// The right-hand side: the preview when one is open, else the active Client tab.
#[component]
fn Desk() -> impl IntoView {
    let s = store();
    // The active tab's session, only while such a tab exists (a Memo: a new message or tab
    // elsewhere does not redraw the panel).
    let active = Memo::new(move |_| {
        s.active
            .get()
            .filter(|a| s.tabs.with(|ts| ts.iter().any(|t| &t.session == a)))
    });
    view! {
        <section class="desk">
            <ClientTabs/>
            {move || {
                if let Some(client) = s.preview.get() {
                    view! { <PreviewPanel client/> }.into_any()
                } else if let Some(tab) = active.get().and_then(|a| s.tab(&a)) {
                    view! { <ClientPanel tab/> }.into_any()
                } else {
                    view! { <p class="desk-empty">{tr(Text::NoChats)}</p> }.into_any()
                }
            }}
        </section>
    }
}
