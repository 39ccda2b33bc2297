//! Facebook Messenger: a Facebook Page's inbox, through Meta's Messenger Platform.
//!
//! In: Meta calls `/hooks/{tenant}/messenger` — once with a verification GET when the webhook is
//! set up ([`verify_subscription`]), then with signed POSTs ([`receive`]) whose body is
//! `{"object":"page","entry":[{"id":<page>,"messaging":[…]}]}`; each `messaging` item is a
//! message (text, attachments, quick reply, reply), a postback (a tapped button), a delivery or a
//! read. Meta re-delivers anything not answered 200, hence the `mid` as idempotency key.
//!
//! Out: the Send API ([`send_text`], [`send_image`]) with `messaging_type: RESPONSE` — a reply to
//! the user within the standard messaging window — and the User Profile API
//! ([`user_profile_request`]) for the name on the waiting client's card. Every Graph call carries
//! `appsecret_proof`, so a leaked page token is useless without the app secret.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    array_at, base_url, hex, hmac_sha256, id_at, int_at, json_object, meta_error, percent_encode,
    redacted, str_at, text_at, validate_config, verify_meta_signature, verify_meta_subscription,
    Attachment, AttachmentKind, Channel, DeliveryState, HookError, HttpRequest, Inbound,
    InboundEvent, Method, ParseError, Profile, ProviderError, Sent, StatusUpdate, VerifyError,
};
use crate::error::ApiError;
use crate::time::Millis;

pub const DEFAULT_API_BASE: &str = "https://graph.facebook.com";
/// The Graph API version of the Send API documentation this follows.
pub const GRAPH_VERSION: &str = "v25.0";
/// The Send API refuses longer texts.
pub const MAX_TEXT_CHARS: usize = 2000;

/// An admin's Messenger configuration (`PUT /api/v1/channels/messenger`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessengerConfig {
    #[serde(deserialize_with = "super::id_string")]
    pub page_id: String,
    pub app_secret: String,
    pub verify_token: String,
    pub page_access_token: String,
    /// The Lobby group this channel's clients wait in.
    pub group: String,
    /// The Graph API's base URL, for tests and proxies; Meta's own when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
}

/// What a GET of the configuration shows: no secret, no token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessengerPublic {
    pub page_id: String,
    pub group: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
}

impl MessengerConfig {
    pub fn api_base(&self) -> &str {
        base_url(&self.api_base, DEFAULT_API_BASE)
    }

    pub fn public(&self) -> MessengerPublic {
        MessengerPublic {
            page_id: self.page_id.clone(),
            group: self.group.clone(),
            api_base: self.api_base.clone(),
        }
    }

    pub fn validate(&self) -> Result<(), ApiError> {
        validate_config(
            &[
                ("page_id", &self.page_id),
                ("app_secret", &self.app_secret),
                ("verify_token", &self.verify_token),
                ("page_access_token", &self.page_access_token),
                ("group", &self.group),
            ],
            &self.api_base,
        )
    }
}

impl fmt::Debug for MessengerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessengerConfig")
            .field("page_id", &self.page_id)
            .field("app_secret", &redacted(&self.app_secret))
            .field("verify_token", &redacted(&self.verify_token))
            .field("page_access_token", &redacted(&self.page_access_token))
            .field("group", &self.group)
            .field("api_base", &self.api_base)
            .finish()
    }
}

// ---------------------------------------------------------------- in

/// The verification GET: the `hub.challenge` to echo as a `text/plain` 200, or why not (403).
/// `query` is the raw query string, with or without its `?`.
pub fn verify_subscription(config: &MessengerConfig, query: &str) -> Result<String, VerifyError> {
    verify_meta_subscription(&config.verify_token, query)
}

/// Checks `X-Hub-Signature-256` (pass the header's value, `None` when absent) over the raw body.
pub fn verify_signature(
    config: &MessengerConfig,
    header: Option<&str>,
    body: &[u8],
) -> Result<(), VerifyError> {
    verify_meta_signature(&config.app_secret, header, body)
}

/// A webhook POST, start to end: verified first (a forged body is not even parsed), then parsed,
/// keeping only what was addressed to the configured page.
pub fn receive(
    config: &MessengerConfig,
    signature: Option<&str>,
    body: &[u8],
) -> Result<Vec<InboundEvent>, HookError> {
    verify_signature(config, signature, body)?;
    let mut events = parse(body)?;
    events.retain(|e| match e {
        InboundEvent::Message(m) => m.account.as_deref().is_none_or(|a| a == config.page_id),
        InboundEvent::Status(s) => s.account.as_deref().is_none_or(|a| a == config.page_id),
        InboundEvent::Confirmation => false,
    });
    Ok(events)
}

/// The events of a webhook body, in delivery order. Unknown `object`s and event kinds (optins,
/// reactions, handover `standby`, the page's own echoes) are skipped.
pub fn parse(body: &[u8]) -> Result<Vec<InboundEvent>, ParseError> {
    let v = json_object(body)?;
    if str_at(&v, "object").is_some_and(|o| o != "page") {
        return Ok(Vec::new());
    }
    let mut events = Vec::new();
    for entry in array_at(&v, "entry") {
        let page = id_at(entry, "id");
        for item in array_at(entry, "messaging") {
            events.extend(parse_item(item, page.as_deref()));
        }
        // The App Dashboard's "Test" button sends `changes[{field, value}]` whose value is a
        // messaging item.
        for change in array_at(entry, "changes") {
            if let Some(item) = change.get("value").filter(|i| i.get("sender").is_some()) {
                events.extend(parse_item(item, page.as_deref()));
            }
        }
    }
    Ok(events)
}

/// Messenger timestamps are milliseconds; the dashboard's test notifications use seconds.
fn meta_millis(t: i64) -> Millis {
    if (-100_000_000_000..100_000_000_000).contains(&t) {
        t.saturating_mul(1000)
    } else {
        t
    }
}

fn parse_item(item: &Value, page: Option<&str>) -> Option<InboundEvent> {
    let sender = item.get("sender")?;
    let user_id = id_at(sender, "id").or_else(|| id_at(sender, "user_ref"))?;
    let account = item
        .get("recipient")
        .and_then(|r| id_at(r, "id"))
        .or_else(|| page.map(str::to_string));
    let at = int_at(item, "timestamp").map(meta_millis);

    if let Some(m) = item.get("message") {
        if m.get("is_echo").and_then(Value::as_bool) == Some(true) {
            return None; // the page's own message (possibly our reply), not the user's
        }
        let message_id = id_at(m, "mid")?;
        let text = str_at(m, "text").unwrap_or("").to_string();
        let attachments: Vec<Attachment> = array_at(m, "attachments")
            .iter()
            .filter_map(attachment)
            .collect();
        if text.is_empty() && attachments.is_empty() {
            return None;
        }
        return Some(InboundEvent::Message(Inbound {
            channel: Channel::Messenger,
            message_id,
            user_id,
            display_name: None,
            phone: None,
            text,
            payload: m.get("quick_reply").and_then(|q| text_at(q, "payload")),
            attachments,
            reply_to: m.get("reply_to").and_then(|r| id_at(r, "mid")),
            account,
            at,
        }));
    }

    if let Some(p) = item.get("postback") {
        let payload = text_at(p, "payload");
        let text = text_at(p, "title").or_else(|| payload.clone())?;
        // Older postbacks carry no `mid`; a retry repeats sender and timestamp, so they make a
        // stable key.
        let message_id = id_at(p, "mid").unwrap_or_else(|| {
            format!(
                "postback:{user_id}:{}",
                int_at(item, "timestamp").unwrap_or(0)
            )
        });
        return Some(InboundEvent::Message(Inbound {
            channel: Channel::Messenger,
            message_id,
            user_id,
            display_name: None,
            phone: None,
            text,
            payload,
            attachments: Vec::new(),
            reply_to: None,
            account,
            at,
        }));
    }

    let (state, report) = if let Some(d) = item.get("delivery") {
        (DeliveryState::Delivered, d)
    } else if let Some(r) = item.get("read") {
        (DeliveryState::Read, r)
    } else {
        return None;
    };
    Some(InboundEvent::Status(StatusUpdate {
        channel: Channel::Messenger,
        user_id,
        state,
        message_ids: array_at(report, "mids")
            .iter()
            .filter_map(|m| m.as_str().map(str::to_string))
            .collect(),
        watermark: int_at(report, "watermark").map(meta_millis),
        at,
        error: None,
        account,
    }))
}

fn attachment(a: &Value) -> Option<Attachment> {
    let kind_name = str_at(a, "type")?;
    let payload = a.get("payload").unwrap_or(&Value::Null);
    let mut kind = match kind_name {
        "image" => AttachmentKind::Image,
        "video" | "reel" | "ig_reel" => AttachmentKind::Video,
        "audio" => AttachmentKind::Audio,
        "file" => AttachmentKind::File,
        "location" => AttachmentKind::Location,
        "fallback" => AttachmentKind::Link,
        _ => AttachmentKind::Other,
    };
    if payload.get("sticker_id").is_some() {
        kind = AttachmentKind::Sticker;
    }
    let url = text_at(payload, "url")
        .or_else(|| text_at(a, "url"))
        .or_else(|| {
            let c = payload.get("coordinates")?;
            let (lat, long) = (c.get("lat")?.as_f64()?, c.get("long")?.as_f64()?);
            Some(format!("geo:{lat},{long}"))
        });
    Some(Attachment {
        kind,
        url,
        media_id: None,
        mime_type: None,
        name: text_at(payload, "title").or_else(|| text_at(a, "title")),
    })
}

// ---------------------------------------------------------------- out

/// `hex(HMAC-SHA256(key = app secret, message = access token))`, the `appsecret_proof` Graph
/// asks for when "Require App Secret" is on.
pub fn appsecret_proof(app_secret: &str, access_token: &str) -> String {
    hex(&hmac_sha256(app_secret.as_bytes(), access_token.as_bytes()))
}

fn auth_query(config: &MessengerConfig) -> String {
    format!(
        "access_token={}&appsecret_proof={}",
        percent_encode(&config.page_access_token),
        appsecret_proof(&config.app_secret, &config.page_access_token)
    )
}

#[derive(Serialize)]
struct SendBody<'a> {
    recipient: Recipient<'a>,
    messaging_type: &'static str,
    message: SendMessage<'a>,
}

#[derive(Serialize)]
struct Recipient<'a> {
    id: &'a str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum SendMessage<'a> {
    Text { text: &'a str },
    Attachment { attachment: AttachmentOut<'a> },
}

#[derive(Serialize)]
struct AttachmentOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    payload: AttachmentPayload<'a>,
}

#[derive(Serialize)]
struct AttachmentPayload<'a> {
    url: &'a str,
    is_reusable: bool,
}

fn send(config: &MessengerConfig, psid: &str, message: SendMessage<'_>) -> HttpRequest {
    let body = SendBody {
        recipient: Recipient { id: psid },
        messaging_type: "RESPONSE",
        message,
    };
    HttpRequest {
        method: Method::Post,
        url: format!(
            "{}/{GRAPH_VERSION}/{}/messages?{}",
            config.api_base(),
            percent_encode(&config.page_id),
            auth_query(config)
        ),
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: serde_json::to_vec(&body).unwrap_or_default(),
    }
}

/// An operator's text reply: `POST /{page}/messages` with
/// `{"recipient":{"id"},"messaging_type":"RESPONSE","message":{"text"}}`.
pub fn send_text(config: &MessengerConfig, psid: &str, text: &str) -> HttpRequest {
    send(config, psid, SendMessage::Text { text })
}

/// A picture by URL (`message.attachment` of type `image`).
pub fn send_image(config: &MessengerConfig, psid: &str, url: &str) -> HttpRequest {
    send(
        config,
        psid,
        SendMessage::Attachment {
            attachment: AttachmentOut {
                kind: "image",
                payload: AttachmentPayload {
                    url,
                    is_reusable: true,
                },
            },
        },
    )
}

/// The Send API's answer: `{"recipient_id","message_id"}`, or a Graph error.
pub fn parse_send_response(status: u16, body: &[u8]) -> Result<Sent, ProviderError> {
    if !(200..300).contains(&status) {
        return Err(meta_error(status, body));
    }
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    Ok(Sent {
        message_id: id_at(&v, "message_id"),
    })
}

/// The User Profile API: `GET /{psid}?fields=first_name,last_name,profile_pic`.
pub fn user_profile_request(config: &MessengerConfig, psid: &str) -> HttpRequest {
    HttpRequest {
        method: Method::Get,
        url: format!(
            "{}/{GRAPH_VERSION}/{}?fields=first_name,last_name,profile_pic&{}",
            config.api_base(),
            percent_encode(psid),
            auth_query(config)
        ),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

/// `{"first_name","last_name","profile_pic"}` → "First Last" and the picture.
pub fn parse_user_profile(status: u16, body: &[u8]) -> Result<Profile, ProviderError> {
    if !(200..300).contains(&status) {
        return Err(meta_error(status, body));
    }
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let parts: Vec<String> = ["first_name", "last_name"]
        .iter()
        .filter_map(|k| text_at(&v, k))
        .map(|s| s.trim().to_string())
        .collect();
    let name = if parts.is_empty() {
        text_at(&v, "name")
    } else {
        Some(parts.join(" "))
    };
    Ok(Profile {
        name,
        avatar_url: text_at(&v, "profile_pic"),
    })
}
