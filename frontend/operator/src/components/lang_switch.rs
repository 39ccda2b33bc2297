//! The language switch (English, Czech). The choice holds for this browser tab's session.

use leptos::prelude::*;

use crate::i18n::{tr, Lang, Text};
use crate::store::store;

#[component]
pub fn LangSwitch() -> impl IntoView {
    let lang = store().lang;
    view! {
        <select
            class="lang-switch"
            data-testid="lang-switch"
            aria-label=tr(Text::Language)
            title=tr(Text::Language)
            prop:value=move || lang.get().code()
            on:change=move |ev| {
                if let Some(l) = Lang::from_code(&event_target_value(&ev)) {
                    lang.set(l);
                    l.remember();
                }
            }
        >
            <option value="en">"English"</option>
            <option value="cs">"Čeština"</option>
        </select>
    }
}
