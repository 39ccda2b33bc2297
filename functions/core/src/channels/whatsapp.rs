//! WhatsApp, through Meta's WhatsApp Business Cloud API.
//!
//! In: the same handshake and `X-Hub-Signature-256` as Messenger ([`verify_subscription`],
//! [`receive`]); the body is `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":
//! "messages","value":{…}}]}]}` where a value holds the users' `contacts[]` (their profile name),
//! their `messages[]` and the `statuses[]` of what we sent. Since 2026 a user is identified by a
//! business-scoped user id (`user_id`/`from_user_id`, like `US.1349…`) and the phone number
//! (`wa_id`/`from`) is absent for users with a username: the BSUID is the stable key when present,
//! the phone number only a fallback for older deliveries.
//!
//! Out: `POST /{phone_number_id}/messages` with a Bearer token ([`send_text`], [`send_image`],
//! [`send_template`]). Free text is only allowed within 24 hours of the user's last message
//! ([`may_send_free_text`]); outside it only an approved template may open the conversation.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    array_at, base_url, id_at, int_at, json_object, meta_error, percent_encode, redacted,
    secs_to_millis, str_at, text_at, validate_config, verify_meta_signature,
    verify_meta_subscription, Attachment, AttachmentKind, Channel, DeliveryState, HookError,
    HttpRequest, Inbound, InboundEvent, Method, ParseError, ProviderError, Sent, StatusUpdate,
    VerifyError,
};
use crate::error::ApiError;
use crate::time::Millis;

pub const DEFAULT_API_BASE: &str = "https://graph.facebook.com";
/// The Graph API version of the Cloud API documentation this follows.
pub const GRAPH_VERSION: &str = "v26.0";
/// The Cloud API refuses longer text bodies.
pub const MAX_TEXT_CHARS: usize = 4096;
/// The customer-service window: free-form messages may be sent this long after the user's last
/// message.
pub const CUSTOMER_SERVICE_WINDOW_MS: Millis = 24 * 3_600_000;

/// An admin's WhatsApp configuration (`PUT /api/v1/channels/whatsapp`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhatsappConfig {
    #[serde(deserialize_with = "super::id_string")]
    pub phone_number_id: String,
    pub app_secret: String,
    pub verify_token: String,
    pub access_token: String,
    /// The Lobby group this channel's clients wait in.
    pub group: String,
    /// The Graph API's base URL, for tests and proxies; Meta's own when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
    /// The message templates approved by Meta that operators may send (the only messages
    /// allowed outside the 24-hour window).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<Template>,
}

/// At most this many templates per number.
pub const MAX_TEMPLATES: usize = 100;

/// What a GET of the configuration shows: no secret, no token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhatsappPublic {
    pub phone_number_id: String,
    pub group: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<Template>,
}

impl WhatsappConfig {
    pub fn api_base(&self) -> &str {
        base_url(&self.api_base, DEFAULT_API_BASE)
    }

    pub fn public(&self) -> WhatsappPublic {
        WhatsappPublic {
            phone_number_id: self.phone_number_id.clone(),
            group: self.group.clone(),
            api_base: self.api_base.clone(),
            templates: self.templates.clone(),
        }
    }

    pub fn template(&self, name: &str) -> Option<&Template> {
        self.templates.iter().find(|t| t.name == name)
    }

    pub fn validate(&self) -> Result<(), ApiError> {
        validate_config(
            &[
                ("phone_number_id", &self.phone_number_id),
                ("app_secret", &self.app_secret),
                ("verify_token", &self.verify_token),
                ("access_token", &self.access_token),
                ("group", &self.group),
            ],
            &self.api_base,
        )?;
        if self.templates.len() > MAX_TEMPLATES {
            return Err(ApiError::invalid(format!(
                "`templates`: at most {MAX_TEMPLATES}"
            )));
        }
        for (i, t) in self.templates.iter().enumerate() {
            // Meta's template names: letters, digits and underscores.
            let name_ok = !t.name.is_empty()
                && t.name.len() <= 512
                && t.name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !name_ok {
                return Err(ApiError::invalid(format!(
                    "`templates[{i}].name` must be letters, digits and underscores"
                )));
            }
            let lang_ok = (2..=15).contains(&t.language.len())
                && t.language
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !lang_ok {
                return Err(ApiError::invalid(format!(
                    "`templates[{i}].language` must be a language code such as en_US"
                )));
            }
            if t.parameters.iter().any(|p| p.trim().is_empty()) || t.parameters.len() > 20 {
                return Err(ApiError::invalid(format!(
                    "`templates[{i}].parameters`: at most 20 labels, none empty"
                )));
            }
            if self.templates[..i].iter().any(|o| o.name == t.name) {
                return Err(ApiError::invalid(format!(
                    "`templates`: {} is listed twice",
                    t.name
                )));
            }
        }
        Ok(())
    }
}

impl fmt::Debug for WhatsappConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WhatsappConfig")
            .field("phone_number_id", &self.phone_number_id)
            .field("app_secret", &redacted(&self.app_secret))
            .field("verify_token", &redacted(&self.verify_token))
            .field("access_token", &redacted(&self.access_token))
            .field("group", &self.group)
            .field("api_base", &self.api_base)
            .field("templates", &self.templates)
            .finish()
    }
}

/// A message template the admin registered with Meta and configured in Lobby: its name, its
/// language code (`en_US`) and a label for each `{{n}}` of its body, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub name: String,
    pub language: String,
    #[serde(default)]
    pub parameters: Vec<String>,
}

// ---------------------------------------------------------------- in

/// The verification GET: the `hub.challenge` to echo as a `text/plain` 200, or why not (403).
pub fn verify_subscription(config: &WhatsappConfig, query: &str) -> Result<String, VerifyError> {
    verify_meta_subscription(&config.verify_token, query)
}

/// Checks `X-Hub-Signature-256` (pass the header's value, `None` when absent) over the raw body.
pub fn verify_signature(
    config: &WhatsappConfig,
    header: Option<&str>,
    body: &[u8],
) -> Result<(), VerifyError> {
    verify_meta_signature(&config.app_secret, header, body)
}

/// A webhook POST, start to end: verified first, then parsed, keeping only what concerns the
/// configured phone number (one WhatsApp Business Account may have several).
pub fn receive(
    config: &WhatsappConfig,
    signature: Option<&str>,
    body: &[u8],
) -> Result<Vec<InboundEvent>, HookError> {
    verify_signature(config, signature, body)?;
    let mut events = parse(body)?;
    let ours = |a: &Option<String>| a.as_deref().is_none_or(|a| a == config.phone_number_id);
    events.retain(|e| match e {
        InboundEvent::Message(m) => ours(&m.account),
        InboundEvent::Status(s) => ours(&s.account),
        InboundEvent::Confirmation => false,
    });
    Ok(events)
}

/// One user of a `contacts[]` array.
struct Contact {
    wa_id: Option<String>,
    user_id: Option<String>,
    name: Option<String>,
}

fn contacts(value: &Value) -> Vec<Contact> {
    array_at(value, "contacts")
        .iter()
        .map(|c| {
            let profile = c.get("profile").unwrap_or(&Value::Null);
            Contact {
                wa_id: id_at(c, "wa_id"),
                user_id: id_at(c, "user_id"),
                // A username stands in for a missing profile name, as Meta suggests.
                name: text_at(profile, "name").or_else(|| text_at(profile, "username")),
            }
        })
        .collect()
}

/// The contact a message or status is about: by BSUID, by phone, or the only one there is.
fn contact_for<'a>(
    all: &'a [Contact],
    user_id: Option<&str>,
    phone: Option<&str>,
) -> Option<&'a Contact> {
    all.iter()
        .find(|c| user_id.is_some() && c.user_id.as_deref() == user_id)
        .or_else(|| {
            all.iter()
                .find(|c| phone.is_some() && c.wa_id.as_deref() == phone)
        })
        .or(if all.len() == 1 { all.first() } else { None })
}

/// The events of a webhook body. Other `field`s (template reviews, account updates) and message
/// types Lobby cannot show (reactions, orders, system notices) are skipped.
pub fn parse(body: &[u8]) -> Result<Vec<InboundEvent>, ParseError> {
    let v = json_object(body)?;
    if str_at(&v, "object").is_some_and(|o| o != "whatsapp_business_account") {
        return Ok(Vec::new());
    }
    let mut events = Vec::new();
    for entry in array_at(&v, "entry") {
        for change in array_at(entry, "changes") {
            if str_at(change, "field").is_some_and(|f| f != "messages") {
                continue;
            }
            let Some(value) = change.get("value") else {
                continue;
            };
            let account = value
                .get("metadata")
                .and_then(|m| id_at(m, "phone_number_id"));
            let people = contacts(value);
            for m in array_at(value, "messages") {
                if let Some(msg) = parse_message(m, &people, &account) {
                    events.push(InboundEvent::Message(msg));
                }
            }
            for s in array_at(value, "statuses") {
                if let Some(st) = parse_status(s, &people, &account) {
                    events.push(InboundEvent::Status(st));
                }
            }
        }
    }
    Ok(events)
}

fn media(kind: AttachmentKind, m: &Value) -> Attachment {
    Attachment {
        kind,
        url: text_at(m, "url").or_else(|| text_at(m, "link")),
        media_id: id_at(m, "id"),
        mime_type: text_at(m, "mime_type"),
        name: text_at(m, "filename"),
    }
}

fn parse_message(m: &Value, people: &[Contact], account: &Option<String>) -> Option<Inbound> {
    let message_id = id_at(m, "id")?;
    let from = id_at(m, "from");
    let from_user_id = id_at(m, "from_user_id");
    let contact = contact_for(people, from_user_id.as_deref(), from.as_deref());
    let phone = from.or_else(|| contact.and_then(|c| c.wa_id.clone()));
    let user_id = from_user_id
        .or_else(|| contact.and_then(|c| c.user_id.clone()))
        .or_else(|| phone.clone())?;

    let (text, payload, attachments) = content(m)?;
    if text.is_empty() && attachments.is_empty() {
        return None;
    }
    Some(Inbound {
        channel: Channel::Whatsapp,
        message_id,
        user_id,
        display_name: contact.and_then(|c| c.name.clone()),
        phone,
        text,
        payload,
        attachments,
        reply_to: m.get("context").and_then(|c| id_at(c, "id")),
        account: account.clone(),
        at: int_at(m, "timestamp").map(secs_to_millis),
    })
}

/// What the user sent: its text, the payload of a tapped button, its attachments.
fn content(m: &Value) -> Option<(String, Option<String>, Vec<Attachment>)> {
    let kind = str_at(m, "type").unwrap_or("");
    Some(match kind {
        "text" => (str_at(m.get("text")?, "body")?.to_string(), None, vec![]),
        "image" | "video" | "audio" | "document" | "sticker" => {
            let body = m.get(kind)?;
            let kind = match kind {
                "image" => AttachmentKind::Image,
                "video" => AttachmentKind::Video,
                "audio" => AttachmentKind::Audio,
                "sticker" => AttachmentKind::Sticker,
                _ => AttachmentKind::File,
            };
            let caption = str_at(body, "caption").unwrap_or("").to_string();
            (caption, None, vec![media(kind, body)])
        }
        "interactive" => {
            // button_reply / list_reply: {"id", "title"}.
            let i = m.get("interactive")?;
            let reply = i.get(str_at(i, "type")?)?;
            (text_at(reply, "title")?, id_at(reply, "id"), vec![])
        }
        "button" => {
            // A template's quick-reply button.
            let b = m.get("button")?;
            (text_at(b, "text")?, text_at(b, "payload"), vec![])
        }
        "location" => {
            let l = m.get("location")?;
            let (lat, long) = (l.get("latitude")?.as_f64()?, l.get("longitude")?.as_f64()?);
            let text = [text_at(l, "name"), text_at(l, "address")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ");
            let place = Attachment {
                kind: AttachmentKind::Location,
                url: Some(format!("geo:{lat},{long}")),
                media_id: None,
                mime_type: None,
                name: text_at(l, "name"),
            };
            (text, None, vec![place])
        }
        "contacts" => {
            // Shared contact cards, shown as text: "Name +1 555…", one per line.
            let text = array_at(m, "contacts")
                .iter()
                .map(|c| {
                    let name = c.get("name").and_then(|n| text_at(n, "formatted_name"));
                    let phones = array_at(c, "phones")
                        .iter()
                        .filter_map(|p| text_at(p, "phone"));
                    name.into_iter().chain(phones).collect::<Vec<_>>().join(" ")
                })
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("\n");
            (text, None, vec![])
        }
        _ => return None,
    })
}

fn parse_status(s: &Value, people: &[Contact], account: &Option<String>) -> Option<StatusUpdate> {
    let message_id = id_at(s, "id")?;
    let state = match str_at(s, "status")? {
        "sent" => DeliveryState::Sent,
        "delivered" => DeliveryState::Delivered,
        "read" => DeliveryState::Read,
        "failed" => DeliveryState::Failed,
        _ => return None,
    };
    let phone = id_at(s, "recipient_id");
    let bsuid = id_at(s, "recipient_user_id");
    let contact = contact_for(people, bsuid.as_deref(), phone.as_deref());
    let user_id = bsuid
        .or_else(|| contact.and_then(|c| c.user_id.clone()))
        .or(phone)?;
    let error = array_at(s, "errors").first().map(|e| {
        let title = text_at(e, "message")
            .or_else(|| text_at(e, "title"))
            .unwrap_or_else(|| "the message could not be delivered".into());
        let details = e.get("error_data").and_then(|d| text_at(d, "details"));
        match (int_at(e, "code"), details) {
            (Some(code), Some(d)) => format!("{title} ({code}: {d})"),
            (Some(code), None) => format!("{title} ({code})"),
            (None, Some(d)) => format!("{title} ({d})"),
            (None, None) => title,
        }
    });
    Some(StatusUpdate {
        channel: Channel::Whatsapp,
        user_id,
        state,
        message_ids: vec![message_id],
        watermark: None,
        at: int_at(s, "timestamp").map(secs_to_millis),
        error,
        account: account.clone(),
    })
}

// ---------------------------------------------------------------- the 24-hour window

/// Whether free text (anything but a template) may go to a user whose last message arrived at
/// `last_client_message_at`: only strictly within 24 hours of it. Never, if the user never wrote.
pub fn may_send_free_text(last_client_message_at: Option<Millis>, now: Millis) -> bool {
    last_client_message_at.is_some_and(|last| now < free_text_until(last))
}

/// The moment the window opened by a message at `last` closes (a deadline for the adapter to
/// schedule, e.g. to grey out the operator's text box).
pub fn free_text_until(last: Millis) -> Millis {
    last.saturating_add(CUSTOMER_SERVICE_WINDOW_MS)
}

// ---------------------------------------------------------------- out

/// How the Cloud API addresses a user: `to` a phone number when there is one (Meta prefers it),
/// else `recipient` a business-scoped user id. `user_id` is [`Inbound::user_id`]; a legacy one
/// that is a phone number goes to `to`.
fn address<'a>(user_id: &'a str, phone: Option<&'a str>) -> (Option<&'a str>, Option<&'a str>) {
    match phone.filter(|p| !p.is_empty()) {
        Some(p) => (Some(p), None),
        None if is_bsuid(user_id) => (None, Some(user_id)),
        None => (Some(user_id), None),
    }
}

/// `US.13491208655302741918`, `US.ENT.1181…`: two capital letters and a dot.
pub fn is_bsuid(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() > 3 && b[0].is_ascii_uppercase() && b[1].is_ascii_uppercase() && b[2] == b'.'
}

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    messaging_product: &'static str,
    recipient_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipient: Option<&'a str>,
    #[serde(flatten)]
    content: T,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Content<'a> {
    Text { text: TextBody<'a> },
    Image { image: ImageBody<'a> },
    Template { template: TemplateBody<'a> },
}

#[derive(Serialize)]
struct TextBody<'a> {
    preview_url: bool,
    body: &'a str,
}

#[derive(Serialize)]
struct ImageBody<'a> {
    link: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    caption: Option<&'a str>,
}

#[derive(Serialize)]
struct TemplateBody<'a> {
    name: &'a str,
    language: Language<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    components: Vec<Component<'a>>,
}

#[derive(Serialize)]
struct Language<'a> {
    policy: &'static str,
    code: &'a str,
}

#[derive(Serialize)]
struct Component<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    parameters: Vec<Parameter<'a>>,
}

#[derive(Serialize)]
struct Parameter<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
}

fn send(
    config: &WhatsappConfig,
    user_id: &str,
    phone: Option<&str>,
    content: Content<'_>,
) -> HttpRequest {
    let (to, recipient) = address(user_id, phone);
    let body = Envelope {
        messaging_product: "whatsapp",
        recipient_type: "individual",
        to,
        recipient,
        content,
    };
    HttpRequest {
        method: Method::Post,
        url: format!(
            "{}/{GRAPH_VERSION}/{}/messages",
            config.api_base(),
            percent_encode(&config.phone_number_id)
        ),
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            (
                "Authorization".into(),
                format!("Bearer {}", config.access_token),
            ),
        ],
        body: serde_json::to_vec(&body).unwrap_or_default(),
    }
}

/// An operator's text reply (`"type":"text"`); `preview_url` asks WhatsApp to render the first
/// link's preview. Allowed only inside the window ([`may_send_free_text`]).
pub fn send_text(
    config: &WhatsappConfig,
    user_id: &str,
    phone: Option<&str>,
    text: &str,
    preview_url: bool,
) -> HttpRequest {
    let text = TextBody {
        preview_url,
        body: text,
    };
    send(config, user_id, phone, Content::Text { text })
}

/// A picture by public URL (`"type":"image","image":{"link"}`), optionally captioned.
pub fn send_image(
    config: &WhatsappConfig,
    user_id: &str,
    phone: Option<&str>,
    link: &str,
    caption: Option<&str>,
) -> HttpRequest {
    let image = ImageBody { link, caption };
    send(config, user_id, phone, Content::Image { image })
}

/// A template message (allowed outside the window): the template's name and language and one
/// value per body parameter, in order. A missing or extra value is the operator's error (422).
pub fn send_template(
    config: &WhatsappConfig,
    user_id: &str,
    phone: Option<&str>,
    template: &Template,
    values: &[String],
) -> Result<HttpRequest, ApiError> {
    if values.len() != template.parameters.len() {
        return Err(ApiError::invalid(format!(
            "the template `{}` takes {} parameter(s), {} given",
            template.name,
            template.parameters.len(),
            values.len()
        )));
    }
    if let Some(i) = values.iter().position(|v| v.trim().is_empty()) {
        return Err(ApiError::invalid(format!(
            "the template parameter `{}` is empty",
            template.parameters[i]
        )));
    }
    let mut components = Vec::new();
    if !values.is_empty() {
        components.push(Component {
            kind: "body",
            parameters: values
                .iter()
                .map(|v| Parameter {
                    kind: "text",
                    text: v,
                })
                .collect(),
        });
    }
    let template = TemplateBody {
        name: &template.name,
        language: Language {
            policy: "deterministic",
            code: &template.language,
        },
        components,
    };
    Ok(send(config, user_id, phone, Content::Template { template }))
}

/// The Cloud API's answer: `{"messages":[{"id":"wamid…"}]}`, or a Graph error (`131047`: the
/// window is closed; `131026`: the user cannot receive it).
pub fn parse_send_response(status: u16, body: &[u8]) -> Result<Sent, ProviderError> {
    if !(200..300).contains(&status) {
        return Err(meta_error(status, body));
    }
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    Ok(Sent {
        message_id: array_at(&v, "messages")
            .first()
            .and_then(|m| id_at(m, "id")),
    })
}

/// Step one of fetching an inbound picture: `GET /{media_id}` answers its short-lived URL.
pub fn media_request(config: &WhatsappConfig, media_id: &str) -> HttpRequest {
    HttpRequest {
        method: Method::Get,
        url: format!(
            "{}/{GRAPH_VERSION}/{}",
            config.api_base(),
            percent_encode(media_id)
        ),
        headers: vec![(
            "Authorization".into(),
            format!("Bearer {}", config.access_token),
        )],
        body: Vec::new(),
    }
}

/// The media URL from `{"url","mime_type",…}`; step two is a GET of it with the same Bearer
/// header ([`media_download_request`]).
pub fn parse_media_url(status: u16, body: &[u8]) -> Result<String, ProviderError> {
    if !(200..300).contains(&status) {
        return Err(meta_error(status, body));
    }
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    text_at(&v, "url").ok_or_else(|| ProviderError {
        status,
        code: None,
        message: "the media answer has no url".into(),
        retryable: false,
    })
}

/// Downloads a media file; Meta's media URLs need the access token too.
pub fn media_download_request(config: &WhatsappConfig, url: &str) -> HttpRequest {
    HttpRequest {
        method: Method::Get,
        url: url.to_string(),
        headers: vec![(
            "Authorization".into(),
            format!("Bearer {}", config.access_token),
        )],
        body: Vec::new(),
    }
}
