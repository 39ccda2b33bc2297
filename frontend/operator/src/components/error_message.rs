//! A refused action explained in words (taken by another operator, over the limit, ...). It
//! stays until dismissed or replaced, and goes by itself after a while.

use std::time::Duration;

use leptos::prelude::*;

use crate::i18n::{tr, Text};
use crate::store::store;

#[component]
pub fn ErrorMessage() -> impl IntoView {
    let notice = store().notice;
    // Hide a message 12 s after it appeared, unless another one replaced it.
    let shown = StoredValue::new(0u32);
    Effect::new(move |_| {
        if notice.with(Option::is_some) {
            shown.update_value(|n| *n += 1);
            let mine = shown.get_value();
            set_timeout(
                move || {
                    if shown.try_get_value() == Some(mine) {
                        notice.set(None);
                    }
                },
                Duration::from_secs(12),
            );
        }
    });
    // The dismiss cross is drawn by the stylesheet, so the alert's text is the message only.
    move || {
        notice.get().map(|text| {
            view! {
                <div class="error-message" data-testid="error-message" role="alert">
                    <span>{text}</span>
                    <button class="icon-button dismiss" type="button" aria-label=tr(Text::Dismiss)
                        title=tr(Text::Dismiss) on:click=move |_| notice.set(None)></button>
                </div>
            }
        })
    }
}
