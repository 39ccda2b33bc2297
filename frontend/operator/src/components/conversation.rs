//! The conversation of a session: messages from the client, from operators (this one's read
//! "You", others' — before a redirect — carry their author's name) and the system (redirect
//! notes and the like), links clickable, image attachments shown as pictures; and the box to
//! write in, with a few emoji at hand.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use lobby_wire::{Attachment, Message, MessageAuthor, Party, PostMessage, Posted};

use crate::api;
use crate::components::client_details::safe_url;
use crate::format::{now_rfc3339, when};
use crate::i18n::{t, tr, Text};
use crate::store::{merge, store, Tab};

const EMOJI: [&str; 10] = ["🙂", "😀", "👍", "🙏", "👋", "😉", "🎉", "❤️", "😢", "✅"];

fn party(p: Party) -> &'static str {
    match p {
        Party::Client => "client",
        Party::Operator => "operator",
        Party::System => "system",
    }
}

/// Splits text into plain parts and http(s) links.
pub fn linkify(text: &str) -> Vec<(bool, String)> {
    let mut out = vec![];
    let mut rest = text;
    while let Some(start) = ["https://", "http://"]
        .iter()
        .filter_map(|p| rest.find(p))
        .min()
    {
        let end = rest[start..]
            .find(char::is_whitespace)
            .map_or(rest.len(), |e| start + e);
        // Trailing punctuation belongs to the sentence, not the link.
        let url =
            rest[start..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '\'', '"']);
        let end = start + url.len();
        if start > 0 {
            out.push((false, rest[..start].to_string()));
        }
        out.push((true, url.to_string()));
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        out.push((false, rest.to_string()));
    }
    out
}

/// Whose message it is, as the operator reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum Who {
    Client,
    /// This operator's own message.
    Me,
    /// Another operator's (the one who served the client before a redirect): by name.
    Colleague(String),
}

impl Who {
    fn text(&self, lang: crate::i18n::Lang) -> String {
        match self {
            Who::Client => Text::ClientParty.get(lang).to_string(),
            Who::Me => Text::You.get(lang).to_string(),
            // An author the server could not name (never expected): the role, not an id.
            Who::Colleague(name) if name.is_empty() => Text::Operator.get(lang).to_string(),
            Who::Colleague(name) => name.clone(),
        }
    }
}

/// The label of a message's author; system messages have none. An operator's message without
/// a known author can only be this operator's own, just sent.
pub fn author_label(m: &Message, me: Option<&str>) -> Option<Who> {
    match m.from {
        Party::Client => Some(Who::Client),
        Party::System => None,
        Party::Operator => Some(match &m.operator {
            Some(a) if Some(a.id.as_str()) != me => Who::Colleague(a.name.clone()),
            _ => Who::Me,
        }),
    }
}

fn is_image(a: &Attachment) -> bool {
    let kind = a.kind.as_deref().unwrap_or("").to_ascii_lowercase();
    if kind.starts_with("image") {
        return true;
    }
    let path = a
        .url
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    [".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".avif"]
        .iter()
        .any(|e| path.ends_with(e))
}

#[component]
pub fn MessageView(message: Message) -> impl IntoView {
    let lang = store().lang;
    let at = message.at.clone();
    // What the channel's provider reported of an operator's message to a channel client.
    let delivery = message.delivery.clone().and_then(|d| {
        let text = match d.as_str() {
            "sent" => Text::DeliverySent,
            "delivered" => Text::DeliveryDelivered,
            "read" => Text::DeliveryRead,
            "failed" => Text::DeliveryFailed,
            _ => return None,
        };
        Some((d, text))
    });
    let who = author_label(&message, store().my_id().as_deref());
    view! {
        <li class=format!("message from-{}", party(message.from)) data-testid="message"
            data-from=party(message.from) data-seq=message.seq.to_string()>
            <div class="bubble">
                {(!message.text.is_empty()).then(|| view! {
                    <p class="text">
                        {linkify(&message.text).into_iter().map(|(link, part)| if link {
                            let href = safe_url(&part);
                            view! { <a href=href target="_blank" rel="noopener noreferrer">{part}</a> }.into_any()
                        } else {
                            part.into_any()
                        }).collect_view()}
                    </p>
                })}
                {message.attachments.iter().map(|a| {
                    let href = safe_url(&a.url);
                    let label = a.name.clone().unwrap_or_else(|| a.url.clone());
                    if is_image(a) {
                        let src = href.clone();
                        view! {
                            <a class="attachment image" href=href target="_blank" rel="noopener noreferrer">
                                <img src=src alt=label loading="lazy"/>
                            </a>
                        }.into_any()
                    } else {
                        view! {
                            <a class="attachment file" href=href target="_blank" rel="noopener noreferrer">{label}</a>
                        }.into_any()
                    }
                }).collect_view()}
            </div>
            <span class="meta">
                {move || who.as_ref().map(|w| w.text(lang.get()))}
                " · "
                {move || when(&at, lang.get())}
                {delivery.map(|(d, text)| view! {
                    " · "
                    <span class="delivery" data-testid="delivery" data-delivery=d>{tr(text)}</span>
                })}
            </span>
        </li>
    }
}

/// The messages of a session, newest at the bottom, kept scrolled to the end.
#[component]
pub fn MessageList(messages: Signal<Vec<Message>>) -> impl IntoView {
    let list = NodeRef::<html::Ol>::new();
    Effect::new(move |_| {
        messages.with(|_| ());
        if let Some(el) = list.get() {
            // After the new rows are in the DOM.
            request_animation_frame(move || el.set_scroll_top(el.scroll_height()));
        }
    });
    view! {
        <ol class="messages" node_ref=list>
            <Show when=move || messages.with(Vec::is_empty)>
                <li class="empty no-messages">{tr(Text::NoMessages)}</li>
            </Show>
            <For each=move || messages.get() key=|m| m.seq children=|m| view! { <MessageView message=m/> }/>
        </ol>
    }
}

#[component]
pub fn Conversation(tab: Tab) -> impl IntoView {
    let s = store();
    let draft = tab.draft;
    let ended = tab.ended;
    let sending = RwSignal::new(false);
    let emoji_open = RwSignal::new(false);
    let input = NodeRef::<html::Textarea>::new();
    let (session, messages, typing) = (tab.session.clone(), tab.messages, tab.typing);

    // The id of the message being sent: a retry of the same text after a lost answer reuses it,
    // so the server stores the message once.
    let attempt = StoredValue::new(None::<(String, String)>);
    let last_typing = StoredValue::new(0.0f64);
    let send = move || {
        let text = draft.get_untracked().trim().to_string();
        if text.is_empty() || sending.get_untracked() || ended.get_untracked().is_some() {
            return;
        }
        let id = match attempt.get_value() {
            Some((t, id)) if t == text => id,
            _ => {
                let id = format!(
                    "op-{:x}{:x}",
                    js_sys::Date::now() as u64,
                    (js_sys::Math::random() * 1e15) as u64
                );
                attempt.set_value(Some((text.clone(), id.clone())));
                id
            }
        };
        sending.set(true);
        let session = session.clone();
        spawn_local(async move {
            let path = format!("/sessions/{}/messages", api::seg(&session));
            let body = PostMessage {
                text: text.clone(),
                attachments: vec![],
                client_message_id: Some(id.clone()),
            };
            match api::post::<_, Posted>(&path, &body).await {
                Ok(p) => {
                    attempt.set_value(None);
                    draft.set(String::new());
                    // Shown at once; the WebSocket's copy (same seq) then changes nothing.
                    messages.update(|m| {
                        merge(
                            m,
                            [Message {
                                seq: p.seq,
                                from: Party::Operator,
                                text,
                                attachments: vec![],
                                at: now_rfc3339(),
                                delivery: None,
                                operator: s.operator.with_untracked(|o| {
                                    o.as_ref().map(|o| MessageAuthor {
                                        id: o.id.clone(),
                                        name: o.name.clone(),
                                    })
                                }),
                                client_message_id: Some(id),
                            }],
                        );
                    });
                }
                Err(f) => s.fail(f),
            }
            sending.set(false);
        });
    };
    let send_click = send.clone();

    view! {
        <div class="conversation" data-testid="conversation">
            <MessageList messages=Signal::from(messages)/>
            <p class="typing" aria-live="polite">
                {move || (s.now.get() - typing.get() < 5000.0).then(|| tr(Text::Typing))}
            </p>
            <Show when=move || ended.get().is_none()>
                <form class="composer" on:submit={
                    let send = send.clone();
                    move |ev: leptos::ev::SubmitEvent| {
                        ev.prevent_default();
                        send();
                    }
                }>
                    <div class="emoji-wrap">
                        <button type="button" class="icon-button" title=tr(Text::Emoji) aria-label=tr(Text::Emoji)
                            on:click=move |_| emoji_open.update(|o| *o = !*o)>"🙂"</button>
                        <Show when=move || emoji_open.get()>
                            <div class="emoji-menu" role="menu">
                                {EMOJI.iter().map(|e| view! {
                                    <button type="button" role="menuitem" on:click=move |_| {
                                        draft.update(|d| d.push_str(e));
                                        emoji_open.set(false);
                                        if let Some(i) = input.get() { let _ = i.focus(); }
                                    }>{*e}</button>
                                }).collect_view()}
                            </div>
                        </Show>
                    </div>
                    <textarea
                        data-testid="message-input"
                        rows="2"
                        node_ref=input
                        placeholder=move || t(Text::TypeMessage)
                        prop:value=move || draft.get()
                        on:input={
                            let session = tab.session.clone();
                            move |ev| {
                                let text = event_target_value(&ev);
                                // "Typing…" for the client, at most every 2 s.
                                let now = js_sys::Date::now();
                                if !text.trim().is_empty() && now - last_typing.get_value() > 2000.0 {
                                    last_typing.set_value(now);
                                    crate::live::typing(&session);
                                }
                                draft.set(text);
                            }
                        }
                        on:keydown={
                            let send = send_click.clone();
                            move |ev: leptos::ev::KeyboardEvent| {
                                if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                                    ev.prevent_default();
                                    send();
                                }
                            }
                        }
                    ></textarea>
                    <button type="submit" class="primary" data-testid="message-send" disabled=sending>
                        {tr(Text::Send)}
                    </button>
                </form>
            </Show>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::{author_label, linkify, Who};
    use lobby_wire::{Message, MessageAuthor, Party};

    #[test]
    fn operator_messages_name_their_author_unless_it_is_me() {
        let m = |from, operator: Option<(&str, &str)>| Message {
            seq: 1,
            from,
            text: "hi".into(),
            attachments: vec![],
            at: String::new(),
            delivery: None,
            operator: operator.map(|(id, name)| MessageAuthor {
                id: id.into(),
                name: name.into(),
            }),
            client_message_id: None,
        };
        let me = Some("op-b");
        assert_eq!(
            author_label(&m(Party::Operator, Some(("op-a", "Anna"))), me),
            Some(Who::Colleague("Anna".into()))
        );
        assert_eq!(
            author_label(&m(Party::Operator, Some(("op-b", "Boris"))), me),
            Some(Who::Me)
        );
        assert_eq!(author_label(&m(Party::Operator, None), me), Some(Who::Me));
        assert_eq!(author_label(&m(Party::Client, None), me), Some(Who::Client));
        assert_eq!(author_label(&m(Party::System, None), me), None);
    }

    #[test]
    fn links_are_found_without_their_punctuation() {
        assert_eq!(
            linkify("see https://example.com/a?b=1. Thanks"),
            vec![
                (false, "see ".to_string()),
                (true, "https://example.com/a?b=1".to_string()),
                (false, ". Thanks".to_string()),
            ]
        );
        assert_eq!(linkify("no link"), vec![(false, "no link".to_string())]);
    }
}
