//! Sign-in: company (tenant), e-mail and password. The token goes to `sessionStorage`, so each
//! browser tab (and each browser context of a test) is its own operator.

use leptos::prelude::*;
use leptos::task::spawn_local;
use lobby_wire::{LoggedIn, Login};

use crate::api;
use crate::components::lang_switch::LangSwitch;
use crate::i18n::{tr, Text};

const TENANT_KEY: &str = "lobby.tenant";

fn remembered_tenant() -> String {
    window()
        .local_storage()
        .ok()
        .flatten()
        .and_then(|s| s.get_item(TENANT_KEY).ok().flatten())
        .unwrap_or_default()
}

#[component]
pub fn LoginForm() -> impl IntoView {
    let tenant = RwSignal::new(remembered_tenant());
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        crate::alerts::ask_permission();
        busy.set(true);
        error.set(None);
        let body = Login {
            tenant: tenant.get_untracked().trim().to_string(),
            email: email.get_untracked().trim().to_string(),
            password: password.get_untracked(),
        };
        spawn_local(async move {
            match api::post::<_, LoggedIn>("/auth/login", &body).await {
                Ok(ok) => {
                    if let Ok(Some(s)) = window().local_storage() {
                        let _ = s.set_item(TENANT_KEY, &body.tenant);
                    }
                    api::session_set(api::TOKEN_KEY, &ok.token);
                    password.set(String::new());
                    crate::components::app::signed_in(ok.operator);
                }
                Err(f) if f.status == 401 || f.status == 422 || f.status == 400 => {
                    error.set(Some(crate::i18n::t(Text::LoginFailed).to_string()))
                }
                Err(f) if f.code == "network" => {
                    error.set(Some(crate::i18n::t(Text::ErrNetwork).to_string()))
                }
                Err(f) => error.set(Some(f.message)),
            }
            busy.set(false);
        });
    };

    view! {
        <div class="login-page">
            <form class="login-card" data-testid="login-form" on:submit=submit>
                <div class="login-head">
                    <h1>"Lobby"</h1>
                    <LangSwitch/>
                </div>
                <label>
                    <span>{tr(Text::Tenant)}</span>
                    <input data-testid="login-tenant" name="tenant" autocomplete="organization"
                        required bind:value=tenant/>
                </label>
                <label>
                    <span>{tr(Text::Email)}</span>
                    <input data-testid="login-email" name="email" type="email" autocomplete="username"
                        required bind:value=email/>
                </label>
                <label>
                    <span>{tr(Text::Password)}</span>
                    <input data-testid="login-password" name="password" type="password"
                        autocomplete="current-password" required bind:value=password/>
                </label>
                {move || error.get().map(|e| view! {
                    <p class="login-error" data-testid="login-error" role="alert">{e}</p>
                })}
                <button class="primary" type="submit" data-testid="login-submit" disabled=busy>
                    {move || if busy.get() { tr(Text::SigningIn)() } else { tr(Text::SignIn)() }}
                </button>
            </form>
        </div>
    }
}
