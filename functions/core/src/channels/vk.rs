//! VK (VKontakte): a community's messages, through the Callback API and the VK API.
//!
//! In: VK POSTs one JSON event per request to `/hooks/{tenant}/vk`: `{"type","group_id",
//! "event_id","secret","object"}`. When the server is added, a `confirmation` event must be
//! answered with the community's confirmation string; every other event with the plain text `ok`
//! (anything else makes VK retry, and after enough failures switch the server off). There is no
//! signature: the shared `secret` in the body is the proof, checked in constant time. VK retries
//! unanswered events, so each carries an `event_id` for de-duplication. `message_new` comes in
//! two shapes: since API 5.103 `object.message` (with `client_info` beside it), before that the
//! message is `object` itself.
//!
//! Out: the VK API's `messages.send` ([`send_text`]) and `users.get` ([`users_get_request`]),
//! form-encoded POSTs to `{api_base}/method/<name>` carrying `access_token` and `v`. A send
//! carries a `random_id` that VK uses to drop a repeated send: the caller derives it from the
//! outgoing message's own id ([`random_id`]), so a retry from the outbox reuses it.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{
    array_at, base_url, encode_form, id_at, int_at, json_object, redacted, secs_to_millis,
    status_retryable, str_at, text_at, validate_config, Attachment, AttachmentKind, Channel,
    HookError, HttpRequest, Inbound, InboundEvent, Method, ParseError, Profile, ProviderError,
    Sent, VerifyError,
};
use crate::error::ApiError;

pub const DEFAULT_API_BASE: &str = "https://api.vk.com";
/// The VK API version every call names (`v`).
pub const API_VERSION: &str = "5.199";
/// `messages.send` refuses longer texts.
pub const MAX_TEXT_CHARS: usize = 9000;
/// Chats have peer ids above this (2000000000 + chat id).
const CHAT_PEER_BASE: i64 = 2_000_000_000;

/// An admin's VK configuration (`PUT /api/v1/channels/vk`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VkConfig {
    #[serde(deserialize_with = "super::id_string")]
    pub community_id: String,
    /// The string VK shows in the community's Callback API settings, answered to `confirmation`.
    pub confirmation: String,
    /// The Callback API "secret key", sent by VK in every event.
    pub secret: String,
    /// A community access token with the messages permission.
    pub access_token: String,
    /// The Lobby group this channel's clients wait in.
    pub group: String,
    /// The VK API's base URL, for tests and proxies; VK's own when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
}

/// What a GET of the configuration shows: no secret, no token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VkPublic {
    pub community_id: String,
    pub group: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
}

impl VkConfig {
    pub fn api_base(&self) -> &str {
        base_url(&self.api_base, DEFAULT_API_BASE)
    }

    pub fn public(&self) -> VkPublic {
        VkPublic {
            community_id: self.community_id.clone(),
            group: self.group.clone(),
            api_base: self.api_base.clone(),
        }
    }

    pub fn validate(&self) -> Result<(), ApiError> {
        validate_config(
            &[
                ("community_id", &self.community_id),
                ("confirmation", &self.confirmation),
                ("secret", &self.secret),
                ("access_token", &self.access_token),
                ("group", &self.group),
            ],
            &self.api_base,
        )
    }
}

impl fmt::Debug for VkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VkConfig")
            .field("community_id", &self.community_id)
            .field("confirmation", &self.confirmation)
            .field("secret", &redacted(&self.secret))
            .field("access_token", &redacted(&self.access_token))
            .field("group", &self.group)
            .field("api_base", &self.api_base)
            .finish()
    }
}

// ---------------------------------------------------------------- in

/// One Callback API event.
#[derive(Clone, PartialEq)]
pub struct VkCallback {
    /// The event type (`message_new`, `confirmation`, `group_join`, …).
    pub kind: String,
    pub group_id: Option<String>,
    /// VK's unique id of this event; a repeated one must change nothing. Absent in confirmations
    /// and in events of old API versions.
    pub event_id: Option<String>,
    /// The shared secret as the request carried it; [`verify`] compares it.
    pub secret: Option<String>,
    /// What Lobby keeps of it; `None` for events it does not use (still answered `ok`).
    pub event: Option<InboundEvent>,
}

impl fmt::Debug for VkCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VkCallback")
            .field("kind", &self.kind)
            .field("group_id", &self.group_id)
            .field("event_id", &self.event_id)
            .field("secret", &self.secret.as_deref().map(redacted))
            .field("event", &self.event)
            .finish()
    }
}

/// Reads an event. Only a body that is not a VK event at all (not a JSON object, no `type`) is an
/// error; unknown types parse with `event: None`.
pub fn parse(body: &[u8]) -> Result<VkCallback, ParseError> {
    let v = json_object(body)?;
    let kind = str_at(&v, "type")
        .ok_or_else(|| ParseError::Shape("a VK callback has a `type`".into()))?
        .to_string();
    let group_id = id_at(&v, "group_id");
    let event = match kind.as_str() {
        "confirmation" => Some(InboundEvent::Confirmation),
        "message_new" => v
            .get("object")
            .and_then(|o| parse_message(o, &group_id))
            .map(InboundEvent::Message),
        _ => None,
    };
    Ok(VkCallback {
        kind,
        group_id,
        event_id: text_at(&v, "event_id"),
        secret: str_at(&v, "secret").map(str::to_string),
        event,
    })
}

/// The event must be for the configured community and carry its secret. VK's secret is optional
/// on VK's side, but Lobby requires one: without it anyone who learns the URL could write as any
/// user.
pub fn verify(config: &VkConfig, callback: &VkCallback) -> Result<(), VerifyError> {
    if callback.group_id.as_deref() != Some(config.community_id.trim()) {
        return Err(VerifyError::WrongCommunity);
    }
    let given = callback
        .secret
        .as_deref()
        .ok_or(VerifyError::MissingSecret)?;
    if !crate::auth::secret_matches(given, &config.secret) {
        return Err(VerifyError::WrongSecret);
    }
    Ok(())
}

/// A webhook POST, start to end: parsed, then verified.
pub fn receive(config: &VkConfig, body: &[u8]) -> Result<VkCallback, HookError> {
    let callback = parse(body)?;
    verify(config, &callback)?;
    Ok(callback)
}

/// The plain-text body of the 200 answer: the confirmation string for `confirmation`, `ok` for
/// everything else (including events Lobby skips and repeated `event_id`s).
pub fn answer<'a>(config: &'a VkConfig, callback: &VkCallback) -> &'a str {
    match callback.event {
        Some(InboundEvent::Confirmation) => &config.confirmation,
        _ => "ok",
    }
}

fn parse_message(object: &Value, group_id: &Option<String>) -> Option<Inbound> {
    // 5.103+: {"message": {...}, "client_info": {...}}; before: the message itself.
    let m = object
        .get("message")
        .filter(|m| m.is_object())
        .unwrap_or(object);
    if int_at(m, "out") == Some(1) || m.get("action").is_some() {
        return None; // the community's own message, or a chat service notice (kick, invite, pin)
    }
    let peer_id = int_at(m, "peer_id").or_else(|| int_at(m, "from_id"))?;
    let cmid = int_at(m, "conversation_message_id").filter(|c| *c > 0);
    // In chats `id` is 0; (peer, conversation message id) is unique everywhere.
    let message_id = match (cmid, int_at(m, "id").filter(|i| *i > 0)) {
        (Some(c), _) => format!("{peer_id}_{c}"),
        (None, Some(id)) => id.to_string(),
        (None, None) => return None,
    };
    let text = str_at(m, "text").unwrap_or("").to_string();
    let attachments: Vec<Attachment> = array_at(m, "attachments")
        .iter()
        .filter_map(attachment)
        .collect();
    if text.is_empty() && attachments.is_empty() {
        return None;
    }
    let reply_to = m.get("reply_message").and_then(|r| {
        match int_at(r, "conversation_message_id").filter(|c| *c > 0) {
            Some(c) => Some(format!("{peer_id}_{c}")),
            None => int_at(r, "id").filter(|i| *i > 0).map(|i| i.to_string()),
        }
    });
    Some(Inbound {
        channel: Channel::Vk,
        message_id,
        user_id: peer_id.to_string(),
        display_name: None,
        phone: None,
        text,
        payload: text_at(m, "payload"),
        attachments,
        reply_to,
        account: group_id.clone(),
        at: int_at(m, "date").map(secs_to_millis),
    })
}

/// The URL of the largest of `sizes[]` (by area; among equals, the last listed).
fn largest(sizes: &[Value], url_key: &str) -> Option<String> {
    sizes
        .iter()
        .filter_map(|s| {
            let url = text_at(s, url_key)?;
            let area = int_at(s, "width")
                .unwrap_or(0)
                .saturating_mul(int_at(s, "height").unwrap_or(0));
            Some((area, url))
        })
        .fold(
            None,
            |best: Option<(i64, String)>, (area, url)| match best {
                Some((a, _)) if a > area => best,
                _ => Some((area, url)),
            },
        )
        .map(|(_, url)| url)
}

fn attachment(a: &Value) -> Option<Attachment> {
    let kind_name = str_at(a, "type")?;
    let body = a.get(kind_name).unwrap_or(&Value::Null);
    let (kind, url, name) = match kind_name {
        "photo" => {
            let url = largest(array_at(body, "sizes"), "url").or_else(|| {
                // Photos of old API versions: photo_75 … photo_2560.
                [
                    "photo_2560",
                    "photo_1280",
                    "photo_807",
                    "photo_604",
                    "photo_130",
                ]
                .iter()
                .find_map(|k| text_at(body, k))
            });
            (AttachmentKind::Image, url, None)
        }
        "sticker" => (
            AttachmentKind::Sticker,
            largest(array_at(body, "images"), "url"),
            None,
        ),
        "doc" => (
            AttachmentKind::File,
            text_at(body, "url"),
            text_at(body, "title"),
        ),
        "audio_message" => (
            AttachmentKind::Audio,
            text_at(body, "link_mp3").or_else(|| text_at(body, "link_ogg")),
            None,
        ),
        "link" => (
            AttachmentKind::Link,
            text_at(body, "url"),
            text_at(body, "title"),
        ),
        "video" => (AttachmentKind::Video, None, text_at(body, "title")),
        _ => (AttachmentKind::Other, None, None),
    };
    Some(Attachment {
        kind,
        url,
        media_id: None,
        mime_type: None,
        name,
    })
}

// ---------------------------------------------------------------- out

/// A `random_id` for `messages.send`, derived from a key that names one outgoing message for
/// good (say `"{tenant}/{message id}"`): the same key gives the same id on every retry, so VK
/// delivers the message once. Positive 31-bit, never 0 (0 would switch the check off).
pub fn random_id(key: &str) -> i32 {
    let d = Sha256::digest(key.as_bytes());
    let n = i32::from_be_bytes([d[0], d[1], d[2], d[3]]) & i32::MAX;
    if n == 0 {
        1
    } else {
        n
    }
}

fn call(config: &VkConfig, method: &str, params: &[(&str, &str)]) -> HttpRequest {
    let mut pairs = params.to_vec();
    pairs.push(("access_token", &config.access_token));
    pairs.push(("v", API_VERSION));
    HttpRequest {
        method: Method::Post,
        url: format!("{}/method/{method}", config.api_base()),
        headers: vec![(
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        )],
        body: encode_form(&pairs).into_bytes(),
    }
}

/// An operator's text reply: `messages.send` with `peer_id` (the [`Inbound::user_id`]),
/// `random_id` (see [`random_id`]) and `message`.
pub fn send_text(config: &VkConfig, peer_id: &str, text: &str, random_id: i32) -> HttpRequest {
    let random_id = random_id.to_string();
    call(
        config,
        "messages.send",
        &[
            ("peer_id", peer_id),
            ("random_id", &random_id),
            ("message", text),
        ],
    )
}

/// VK answers HTTP 200 with either `{"response": …}` or `{"error": {"error_code", "error_msg"}}`.
fn vk_result(status: u16, body: &[u8]) -> Result<Value, ProviderError> {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if let Some(err) = v.get("error") {
        let code = int_at(err, "error_code");
        // 1 unknown, 6 too many requests per second, 9 flood control, 10 internal error.
        let retryable = status_retryable(status) || matches!(code, Some(1 | 6 | 9 | 10));
        return Err(ProviderError {
            status,
            code,
            message: text_at(err, "error_msg").unwrap_or_else(|| "VK refused the call".into()),
            retryable,
        });
    }
    if !(200..300).contains(&status) {
        return Err(ProviderError {
            status,
            code: None,
            message: format!("VK answered HTTP {status}"),
            retryable: status_retryable(status),
        });
    }
    Ok(v.get("response").cloned().unwrap_or(Value::Null))
}

/// `messages.send`'s answer: the new message's id.
pub fn parse_send_response(status: u16, body: &[u8]) -> Result<Sent, ProviderError> {
    let r = vk_result(status, body)?;
    let message_id = match &r {
        Value::Number(n) => Some(n.to_string()),
        // With `peer_ids`: [{"peer_id","message_id","error"?}].
        Value::Array(items) => items.first().and_then(|i| id_at(i, "message_id")),
        _ => None,
    };
    Ok(Sent { message_id })
}

/// `users.get` for the name on a waiting client's card (private dialogs: peer id = user id).
/// A chat's peer id names no user; there is nothing to ask then, and `None` comes back.
pub fn users_get_request(config: &VkConfig, user_id: &str) -> Option<HttpRequest> {
    let id: i64 = user_id.trim().parse().ok()?;
    if id <= 0 || id >= CHAT_PEER_BASE {
        return None;
    }
    Some(call(
        config,
        "users.get",
        &[("user_ids", user_id.trim()), ("fields", "photo_100")],
    ))
}

/// `{"response":[{"first_name","last_name","photo_100"}]}` → "First Last" and the picture.
pub fn parse_users_get(status: u16, body: &[u8]) -> Result<Profile, ProviderError> {
    let r = vk_result(status, body)?;
    let Some(user) = r.as_array().and_then(|a| a.first()) else {
        return Ok(Profile::default());
    };
    let parts: Vec<String> = ["first_name", "last_name"]
        .iter()
        .filter_map(|k| text_at(user, k))
        .map(|s| s.trim().to_string())
        .collect();
    Ok(Profile {
        name: (!parts.is_empty()).then(|| parts.join(" ")),
        avatar_url: text_at(user, "photo_100"),
    })
}
