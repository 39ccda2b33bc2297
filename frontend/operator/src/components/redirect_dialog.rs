//! The redirect dialog: hand a client to a group or to one operator (each shown with status and
//! load), with an optional note for whoever takes it next. Opened from the preview (a waiting
//! client) or from a Client tab (an active session).

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use lobby_wire::{GroupInfo, OperatorInfo, Redirect};

use crate::api;
use crate::components::status_switch::presence_text;
use crate::i18n::{t, tr, Text};
use crate::store::{store, RedirectOf};

#[component]
pub fn RedirectDialog(of: RedirectOf) -> impl IntoView {
    let s = store();
    let groups = RwSignal::new(Vec::<GroupInfo>::new());
    let operators = RwSignal::new(Vec::<OperatorInfo>::new());
    let target = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let select = NodeRef::<html::Select>::new();

    spawn_local(async move {
        let (g, o) = (
            api::get::<api::Groups>("/groups").await,
            api::get::<api::Operators>("/operators").await,
        );
        match g {
            Ok(g) => groups.try_set(g.groups),
            Err(f) => {
                s.fail(f);
                None
            }
        };
        if let Ok(o) = o {
            let me = s.my_id();
            operators.try_set(
                o.operators
                    .into_iter()
                    .filter(|o| Some(&o.id) != me.as_ref())
                    .collect(),
            );
        }
        if let Some(el) = select.get_untracked() {
            let _ = el.focus();
        }
    });

    let cancel = move || s.redirect.set(None);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let chosen = target.get_untracked();
        let (group, operator) = match chosen.split_once(':') {
            Some(("group", id)) => (Some(id.to_string()), None),
            Some(("operator", id)) => (None, Some(id.to_string())),
            _ => return,
        };
        let note = Some(note.get_untracked().trim().to_string()).filter(|n| !n.is_empty());
        let of = of.clone();
        busy.set(true);
        spawn_local(async move {
            if let Some(session) = &of.session {
                s.leaving(session);
            }
            let path = format!("/queue/{}/redirect", api::seg(&of.client));
            let body = Redirect {
                group,
                operator,
                note,
            };
            match api::post::<_, serde::de::IgnoredAny>(&path, &body).await {
                Ok(_) => {
                    s.redirect.set(None);
                    if let Some(session) = &of.session {
                        s.drop_tab(session);
                    }
                    if s.preview.get_untracked().as_deref() == Some(of.client.as_str()) {
                        s.preview.set(None);
                    }
                }
                Err(f) => {
                    if let Some(session) = &of.session {
                        s.staying(session);
                    }
                    busy.try_set(false);
                    s.fail(f);
                }
            }
        });
    };

    view! {
        <div class="modal-backdrop" on:click=move |_| cancel()>
            <form class="dialog" role="dialog" aria-modal="true" data-testid="redirect-dialog"
                on:click=|ev| ev.stop_propagation() on:submit=submit
                on:keydown=move |ev| if ev.key() == "Escape" { cancel() }>
                <h2>{tr(Text::RedirectTitle)}</h2>
                <label>
                    <span>{tr(Text::RedirectTo)}</span>
                    <select data-testid="redirect-target" node_ref=select required
                        prop:value=move || target.get()
                        on:change=move |ev| target.set(event_target_value(&ev))>
                        <option value="">{tr(Text::Choose)}</option>
                        <optgroup label=move || t(Text::Groups)>
                            {move || groups.get().into_iter().map(|g| view! {
                                <option value=format!("group:{}", g.id)>{g.name}</option>
                            }).collect_view()}
                        </optgroup>
                        <optgroup label=move || t(Text::Operators)>
                            {move || operators.get().into_iter().map(|o| {
                                let chat = o.limits.chat;
                                let (status, load) = (o.status, o.load);
                                view! {
                                    <option value=format!("operator:{}", o.id)>
                                        {move || format!("{} — {} · {load}/{chat} {}", o.name, t(presence_text(status)), t(Text::Load))}
                                    </option>
                                }
                            }).collect_view()}
                        </optgroup>
                    </select>
                </label>
                <label>
                    <span>{tr(Text::NoteOptional)}</span>
                    <textarea data-testid="redirect-note" rows="3" bind:value=note></textarea>
                </label>
                <div class="buttons">
                    <button type="button" data-testid="redirect-cancel" on:click=move |_| cancel()>
                        {tr(Text::Cancel)}
                    </button>
                    <button type="submit" class="primary" data-testid="redirect-submit"
                        disabled=move || busy.get() || target.with(String::is_empty)>
                        {tr(Text::Redirect)}
                    </button>
                </div>
            </form>
        </div>
    }
}
