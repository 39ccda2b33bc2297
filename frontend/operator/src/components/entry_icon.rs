//! The icon of a client's entry type: nine distinct inline SVGs (no image requests), coloured
//! per channel by the stylesheet, with the entry's name as its tooltip and accessible label.

use leptos::prelude::*;
use lobby_wire::EntryKind;

use crate::i18n::{tr, Text};

pub fn entry_text(entry: EntryKind) -> Text {
    match entry {
        EntryKind::Webchat => Text::EntryWebchat,
        EntryKind::Video => Text::EntryVideo,
        EntryKind::Callback => Text::EntryCallback,
        EntryKind::Invitation => Text::EntryInvitation,
        EntryKind::Messenger => Text::EntryMessenger,
        EntryKind::Whatsapp => Text::EntryWhatsapp,
        EntryKind::Apple => Text::EntryApple,
        EntryKind::Vk => Text::EntryVk,
        EntryKind::Phone => Text::EntryPhone,
    }
}

pub fn entry_code(entry: EntryKind) -> &'static str {
    match entry {
        EntryKind::Webchat => "webchat",
        EntryKind::Video => "video",
        EntryKind::Callback => "callback",
        EntryKind::Invitation => "invitation",
        EntryKind::Messenger => "messenger",
        EntryKind::Whatsapp => "whatsapp",
        EntryKind::Apple => "apple",
        EntryKind::Vk => "vk",
        EntryKind::Phone => "phone",
    }
}

fn svg(entry: EntryKind) -> &'static str {
    match entry {
        // A speech bubble with three dots.
        EntryKind::Webchat => {
            r##"<svg viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"/><circle cx="8" cy="10.5" r="1.4" fill="#fff"/><circle cx="12" cy="10.5" r="1.4" fill="#fff"/><circle cx="16" cy="10.5" r="1.4" fill="#fff"/></svg>"##
        }
        // A video camera.
        EntryKind::Video => {
            r##"<svg viewBox="0 0 24 24" aria-hidden="true"><rect x="2" y="6" width="13" height="12" rx="2" fill="currentColor"/><path fill="currentColor" d="M16 10.5l6-3.5v10l-6-3.5z"/></svg>"##
        }
        // A handset with an arrow calling back.
        EntryKind::Callback => {
            r##"<svg viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25 11.4 11.4 0 0 0 3.6.57 1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1z"/><path fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" d="M14 3h7v7M21 3l-7 7"/></svg>"##
        }
        // A ticket with a code.
        EntryKind::Invitation => {
            r##"<svg viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="M2 6a2 2 0 0 1 2-2h16a2 2 0 0 1 2 2v3a3 3 0 0 0 0 6v3a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2v-3a3 3 0 0 0 0-6z"/><text x="12" y="15.5" font-size="9" font-weight="700" text-anchor="middle" fill="#fff" font-family="sans-serif">123</text></svg>"##
        }
        // Messenger: a round bubble with a lightning zigzag.
        EntryKind::Messenger => {
            r##"<svg viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="M12 2C6.4 2 2 6.1 2 11.4c0 2.9 1.3 5.4 3.5 7.1V22l3.2-1.8c1 .3 2.1.4 3.3.4 5.6 0 10-4.1 10-9.3S17.6 2 12 2z"/><path fill="#fff" d="M5.8 14.2l3.6-5.7 3 2.3 3.9-2.3-3.6 5.7-3-2.3z"/></svg>"##
        }
        // WhatsApp: a round bubble with a handset.
        EntryKind::Whatsapp => {
            r##"<svg viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="M12 2a10 10 0 0 0-8.6 15.1L2 22l5-1.3A10 10 0 1 0 12 2z"/><path fill="#fff" d="M9 7c.3 0 .6 0 .8.5l.9 2.1c.1.3 0 .5-.1.7l-.6.7c.8 1.5 2 2.7 3.6 3.5l.7-.8c.2-.2.4-.3.7-.2l2 1c.3.1.4.4.3.7-.2 1.1-1.2 1.8-2.3 1.8-3.6-.3-7-3.6-7.3-7.2 0-1.1.6-2.2 1.3-2.8z"/></svg>"##
        }
        // Apple: the bitten apple with its leaf.
        EntryKind::Apple => {
            r##"<svg viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="M16.4 12.6c0-2.4 2-3.6 2.1-3.7a4.6 4.6 0 0 0-3.6-1.9c-1.5-.2-3 .9-3.7.9s-2-.9-3.2-.9a4.8 4.8 0 0 0-4 2.5c-1.7 3-.4 7.3 1.2 9.7.8 1.2 1.8 2.5 3 2.4 1.2 0 1.7-.8 3.1-.8s1.9.8 3.2.8 2.1-1.2 2.9-2.4a10 10 0 0 0 1.3-2.7 4.2 4.2 0 0 1-2.3-3.9zM14 5.4a4.2 4.2 0 0 0 1-3.1 4.4 4.4 0 0 0-2.9 1.5 4 4 0 0 0-1 3c1.1 0 2.2-.6 2.9-1.4z"/></svg>"##
        }
        // VK: the letters on a rounded square.
        EntryKind::Vk => {
            r##"<svg viewBox="0 0 24 24" aria-hidden="true"><rect x="1" y="3" width="22" height="18" rx="5" fill="currentColor"/><text x="12" y="16.3" font-size="10" font-weight="800" text-anchor="middle" fill="#fff" font-family="sans-serif">VK</text></svg>"##
        }
        // A classic handset.
        EntryKind::Phone => {
            r##"<svg viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25 11.4 11.4 0 0 0 3.6.57 1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1z"/></svg>"##
        }
    }
}

/// The entry icon as the queue, the preview and the Client tab show it.
#[component]
pub fn EntryIcon(entry: EntryKind) -> impl IntoView {
    let label = tr(entry_text(entry));
    view! {
        <span
            class=format!("entry-icon entry-{}", entry_code(entry))
            data-testid="entry-icon"
            data-entry=entry_code(entry)
            role="img"
            aria-label=label
            title=label
            inner_html=svg(entry)
        ></span>
    }
}
