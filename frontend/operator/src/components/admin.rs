//! Administration (role admin): groups, operators (their groups and chat limit) and widgets
//! (with the snippet that embeds the widget on a website).

use leptos::prelude::*;
use leptos::task::spawn_local;
use lobby_wire::{
    CreateGroup, CreateOperator, CreateWidget, Created, GroupInfo, Limits, OperatorInfo, Role,
    UpdateOperator, WidgetCreated, WidgetInfo,
};
use wasm_bindgen::JsCast;

use crate::api;
use crate::components::status_switch::presence_text;
use crate::i18n::{t, tr, Text};
use crate::store::store;

/// What the three screens share: the lists, re-read after each change.
#[derive(Clone, Copy)]
struct Lists {
    groups: RwSignal<Vec<GroupInfo>>,
    operators: RwSignal<Vec<OperatorInfo>>,
    widgets: RwSignal<Vec<WidgetInfo>>,
}

impl Lists {
    fn reload(self) {
        let s = store();
        spawn_local(async move {
            match api::get::<api::Groups>("/groups").await {
                Ok(g) => {
                    self.groups.try_set(g.groups);
                }
                Err(f) => s.fail(f),
            }
            if let Ok(o) = api::get::<api::Operators>("/operators").await {
                self.operators.try_set(o.operators);
            }
            if let Ok(w) = api::get::<api::Widgets>("/widgets").await {
                self.widgets.try_set(w.widgets);
            }
        });
    }

    fn group_name(self, id: &str) -> String {
        self.groups.with(|gs| {
            gs.iter()
                .find(|g| g.id == id)
                .map_or_else(|| id.to_string(), |g| g.name.clone())
        })
    }
}

/// The values chosen in a `<select multiple>`.
fn selected(ev: &leptos::ev::Event) -> Vec<String> {
    let Some(select) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlSelectElement>().ok())
    else {
        return vec![];
    };
    let options = select.selected_options();
    (0..options.length())
        .filter_map(|i| options.item(i))
        .filter_map(|o| o.dyn_into::<web_sys::HtmlOptionElement>().ok())
        .map(|o| o.value())
        .collect()
}

/// Options of a group `<select>`, each selected when it is among `chosen`. (Plain lists rather
/// than keyed `<For>`s throughout the admin screens: they are short, and each `<For>` costs Wasm.)
fn group_options(lists: Lists, chosen: Signal<Vec<String>>) -> impl IntoView {
    move || {
        lists
            .groups
            .get()
            .into_iter()
            .map(|g| {
                let id = g.id.clone();
                view! {
                    <option value=g.id prop:selected=move || chosen.with(|c| c.contains(&id))>{g.name}</option>
                }
            })
            .collect_view()
    }
}

#[component]
pub fn AdminScreen() -> impl IntoView {
    let lists = Lists {
        groups: RwSignal::new(vec![]),
        operators: RwSignal::new(vec![]),
        widgets: RwSignal::new(vec![]),
    };
    lists.reload();
    view! {
        <div class="admin">
            <AdminGroups lists/>
            <AdminOperators lists/>
            <AdminWidgets lists/>
        </div>
    }
}

#[component]
fn AdminGroups(lists: Lists) -> impl IntoView {
    let s = store();
    let name = RwSignal::new(String::new());
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = CreateGroup {
            name: name.get_untracked().trim().to_string(),
        };
        if body.name.is_empty() {
            return;
        }
        spawn_local(async move {
            match api::post::<_, Created>("/groups", &body).await {
                Ok(_) => {
                    name.set(String::new());
                    lists.reload();
                }
                Err(f) => s.fail(f),
            }
        });
    };
    view! {
        <section class="admin-section" data-testid="admin-groups">
            <h2>{tr(Text::AdminGroups)}</h2>
            <ul class="plain admin-list">
                {move || lists.groups.get().into_iter().map(|g| view! {
                    <li class="group-row" data-group-id=g.id.clone()>{g.name}</li>
                }).collect_view()}
            </ul>
            <form class="admin-form" on:submit=add>
                <input data-testid="group-name" placeholder=move || t(Text::GroupName) required bind:value=name/>
                <button type="submit" class="primary" data-testid="group-add">{tr(Text::AddGroup)}</button>
            </form>
        </section>
    }
}

#[component]
fn AdminOperators(lists: Lists) -> impl IntoView {
    let s = store();
    let email = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let role = RwSignal::new("operator".to_string());
    let groups = RwSignal::new(Vec::<String>::new());
    let limit = RwSignal::new("3".to_string());
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = CreateOperator {
            email: email.get_untracked().trim().to_string(),
            password: password.get_untracked(),
            name: name.get_untracked().trim().to_string(),
            role: if role.get_untracked() == "admin" {
                Role::Admin
            } else {
                Role::Operator
            },
            groups: groups.get_untracked(),
            limits: Some(Limits {
                chat: limit.get_untracked().trim().parse().unwrap_or(3),
            }),
        };
        spawn_local(async move {
            match api::post::<_, Created>("/operators", &body).await {
                Ok(_) => {
                    for f in [email, name, password] {
                        f.set(String::new());
                    }
                    groups.set(vec![]);
                    lists.reload();
                }
                Err(f) => s.fail(f),
            }
        });
    };
    view! {
        <section class="admin-section" data-testid="admin-operators">
            <h2>{tr(Text::AdminOperators)}</h2>
            <table class="admin-table">
                <thead>
                    <tr>
                        <th>{tr(Text::Name)}</th>
                        <th>{tr(Text::Email)}</th>
                        <th>{tr(Text::Role)}</th>
                        <th>{tr(Text::Status)}</th>
                        <th>{tr(Text::Groups)}</th>
                        <th>{tr(Text::ChatLimit)}</th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>
                    {move || lists.operators.get().into_iter().map(|o| view! {
                        <OperatorRow lists operator=o/>
                    }).collect_view()}
                </tbody>
            </table>
            <form class="admin-form grid" on:submit=add>
                <input data-testid="operator-email" type="email" placeholder=move || t(Text::Email) required bind:value=email/>
                <input data-testid="operator-name" placeholder=move || t(Text::Name) required bind:value=name/>
                <input data-testid="operator-password" type="password" autocomplete="new-password"
                    placeholder=move || t(Text::Password) required bind:value=password/>
                <select data-testid="operator-role" prop:value=move || role.get()
                    on:change=move |ev| role.set(event_target_value(&ev))>
                    <option value="operator">{tr(Text::RoleOperator)}</option>
                    <option value="admin">{tr(Text::RoleAdmin)}</option>
                </select>
                <select data-testid="operator-groups" multiple aria-label=tr(Text::Groups) title=tr(Text::Groups)
                    on:change=move |ev| groups.set(selected(&ev))>
                    {group_options(lists, groups.into())}
                </select>
                <label class="compact">
                    <span>{tr(Text::ChatLimit)}</span>
                    <input data-testid="operator-chat-limit" type="number" min="1" max="20" required bind:value=limit/>
                </label>
                <button type="submit" class="primary" data-testid="operator-add">{tr(Text::AddOperator)}</button>
            </form>
        </section>
    }
}

/// One operator, with its groups and chat limit editable in place.
#[component]
fn OperatorRow(lists: Lists, operator: OperatorInfo) -> impl IntoView {
    let s = store();
    let groups = RwSignal::new(operator.groups.clone());
    let limit = RwSignal::new(operator.limits.chat.to_string());
    let saved = RwSignal::new(false);
    let id = operator.id.clone();
    let save = move |_| {
        let body = UpdateOperator {
            groups: Some(groups.get_untracked()),
            limits: Some(Limits {
                chat: limit.get_untracked().trim().parse().unwrap_or(1),
            }),
            ..Default::default()
        };
        let id = id.clone();
        spawn_local(async move {
            match api::put::<_, serde::de::IgnoredAny>(
                &format!("/operators/{}", api::seg(&id)),
                &body,
            )
            .await
            {
                Ok(_) => {
                    saved.try_set(true);
                    lists.reload();
                }
                Err(f) => s.fail(f),
            }
        });
    };
    let role = operator.role;
    view! {
        <tr data-testid="operator-row" data-operator-id=operator.id.clone()>
            <td>{operator.name.clone()}</td>
            <td>{operator.email.clone()}</td>
            <td>{move || if role == Role::Admin { t(Text::RoleAdmin) } else { t(Text::RoleOperator) }}</td>
            <td>{tr(presence_text(operator.status))}{format!(" · {}", operator.load)}</td>
            <td>
                <select multiple class="row-groups" data-testid="operator-row-groups" aria-label=tr(Text::Groups)
                    on:change=move |ev| { saved.set(false); groups.set(selected(&ev)) }>
                    {group_options(lists, groups.into())}
                </select>
                <span class="muted">
                    {move || groups.get().iter().map(|g| lists.group_name(g)).collect::<Vec<_>>().join(", ")}
                </span>
            </td>
            <td>
                <input class="row-limit" data-testid="operator-row-chat-limit" type="number" min="1" max="20"
                    aria-label=tr(Text::ChatLimit)
                    prop:value=move || limit.get()
                    on:input=move |ev| { saved.set(false); limit.set(event_target_value(&ev)) }/>
            </td>
            <td>
                <button type="button" data-testid="operator-save" on:click=save>{tr(Text::Save)}</button>
                {move || saved.get().then(|| view! { <span class="muted">" "{tr(Text::Saved)}</span> })}
            </td>
        </tr>
    }
}

/// `<script src="ORIGIN/widget.js" data-widget="KEY" async></script>`, ORIGIN being where this
/// app is served from, scheme included (the same worker serves the widget).
pub fn embed_snippet(key: &str) -> String {
    let origin = window().location().origin().unwrap_or_default();
    format!(r#"<script src="{origin}/widget.js" data-widget="{key}" async></script>"#)
}

#[component]
fn AdminWidgets(lists: Lists) -> impl IntoView {
    let s = store();
    let name = RwSignal::new(String::new());
    let group = RwSignal::new(String::new());
    let origins = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let group_id = match group.get_untracked() {
            g if !g.is_empty() => g,
            _ => match lists
                .groups
                .with_untracked(|g| g.first().map(|g| g.id.clone()))
            {
                Some(g) => g,
                None => return,
            },
        };
        let body = CreateWidget {
            name: name.get_untracked().trim().to_string(),
            group: group_id,
            allowed_origins: origins
                .get_untracked()
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|o| !o.is_empty())
                .map(str::to_string)
                .collect(),
            offline_email: Some(email.get_untracked().trim().to_string()).filter(|e| !e.is_empty()),
            buttons: None,
            form: None,
        };
        spawn_local(async move {
            match api::post::<_, WidgetCreated>("/widgets", &body).await {
                Ok(_) => {
                    for f in [name, origins, email] {
                        f.set(String::new());
                    }
                    lists.reload();
                }
                Err(f) => s.fail(f),
            }
        });
    };
    view! {
        <section class="admin-section" data-testid="admin-widgets">
            <h2>{tr(Text::AdminWidgets)}</h2>
            <ul class="plain admin-list widgets">
                {move || lists.widgets.get().into_iter().map(|w| {
                    let snippet = embed_snippet(&w.key);
                    let copy_text = snippet.clone();
                    let copied = RwSignal::new(false);
                    let group = w.group.clone();
                    view! {
                        <li class="widget-row" data-testid="widget-row" data-widget-id=w.id.clone() data-widget-key=w.key.clone()>
                            <div class="widget-head">
                                <strong>{w.name.clone()}</strong>
                                <span class="muted">{move || format!(" · {} {}", t(Text::Group), lists.group_name(&group))}</span>
                                <span class="muted">{format!(" · {}", w.allowed_origins.join(", "))}</span>
                                <span class="muted">" · "{tr(Text::Key)}" "<code class="widget-key">{w.key.clone()}</code></span>
                            </div>
                            <div class="snippet">
                                <span class="muted">{tr(Text::EmbedSnippet)}</span>
                                <code data-testid="embed-snippet">{snippet}</code>
                                <button type="button" data-testid="embed-copy" on:click=move |_| {
                                    // "Copied" only once the browser says so (it may refuse).
                                    let done = window().navigator().clipboard().write_text(&copy_text);
                                    spawn_local(async move {
                                        if wasm_bindgen_futures::JsFuture::from(done).await.is_ok() {
                                            copied.try_set(true);
                                        }
                                    });
                                }>{move || if copied.get() { t(Text::Copied) } else { t(Text::Copy) }}</button>
                            </div>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <form class="admin-form grid" on:submit=add>
                <input data-testid="widget-name" placeholder=move || t(Text::WidgetName) required bind:value=name/>
                <select data-testid="widget-group" aria-label=tr(Text::Group) prop:value=move || group.get()
                    on:change=move |ev| group.set(event_target_value(&ev))>
                    <option value="">{tr(Text::Choose)}</option>
                    {group_options(lists, Signal::derive(move || vec![group.get()]))}
                </select>
                <textarea data-testid="widget-origins" rows="2" placeholder=move || t(Text::Origins)
                    bind:value=origins></textarea>
                <input data-testid="widget-email" type="email" placeholder=move || t(Text::OfflineEmail) bind:value=email/>
                <button type="submit" class="primary" data-testid="widget-add">{tr(Text::AddWidget)}</button>
            </form>
        </section>
    }
}
