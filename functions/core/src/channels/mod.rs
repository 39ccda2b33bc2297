//! Messaging channels — Facebook Messenger, WhatsApp and VK — as sans-IO codecs. Each provider
//! lives in one file that owns its whole protocol: how a webhook delivery proves it came from the
//! provider, how its body becomes channel-neutral [`InboundEvent`]s, and the exact shape of the
//! HTTP requests that deliver an operator's reply ([`HttpRequest`], built, never sent). This file
//! holds what the three share: the neutral types, the errors and their HTTP statuses, and the
//! small encoders (hex, percent-encoding, HMAC) the providers' protocols are made of.
//!
//! Nothing here reads a clock, draws a random number or touches the network: the time (`now`),
//! the stable `random_id` of a VK send and the provider's answers come in as arguments, so every
//! rule is testable against the providers' documented payloads. Parsing is total: any byte string
//! yields `Ok` or a [`ParseError`], never a panic (the fuzz targets hold us to it), and event types
//! a channel does not use are skipped rather than refused, because providers add new ones without
//! asking and a refused delivery is retried for days.

pub mod desk;
pub mod messenger;
pub mod vk;
pub mod whatsapp;

use hmac::{Hmac, Mac};
use lobby_wire::{ErrorBody, ErrorDetail};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use sha2::Sha256;
use thiserror::Error;

use crate::error::ApiError;
use crate::time::Millis;

// ---------------------------------------------------------------- the neutral model

/// Which provider a message came through or goes out by; also the icon the operator sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Messenger,
    Whatsapp,
    Vk,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Messenger => "messenger",
            Channel::Whatsapp => "whatsapp",
            Channel::Vk => "vk",
        }
    }
}

/// What a webhook delivery carried that Lobby keeps. One delivery may hold several (Meta batches
/// entries); a VK delivery holds at most one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InboundEvent {
    /// A channel user wrote something: a first one makes a waiting client, later ones join the
    /// same conversation.
    Message(Inbound),
    /// What became of a message an operator sent (Messenger deliveries/reads, WhatsApp statuses).
    Status(StatusUpdate),
    /// VK's handshake when the Callback API server is added: answer with the configured string.
    Confirmation,
}

/// One message from a channel user, in the channel's neutral form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbound {
    pub channel: Channel,
    /// The provider's id of the message. Providers re-deliver until they get a 200, so this is the
    /// idempotency key: a message id seen before must change nothing.
    pub message_id: String,
    /// Who wrote, and where a reply goes: Messenger's page-scoped id (PSID, or the `user_ref` of a
    /// guest), WhatsApp's business-scoped user id (`US.…`) or, for older deliveries without one,
    /// the phone number (`wa_id`), VK's `peer_id`.
    pub user_id: String,
    /// The name the payload itself gives (WhatsApp `contacts[].profile.name`); Messenger and VK
    /// need a profile lookup ([`messenger::user_profile_request`], [`vk::users_get_request`]).
    pub display_name: Option<String>,
    /// WhatsApp only, and only when Meta shares it: users with a username may have none.
    pub phone: Option<String>,
    /// What the user sees they sent (for a tapped button, its title). May be empty when the
    /// message is only attachments.
    pub text: String,
    /// The machine value behind a tapped quick reply, postback or button, when there is one.
    pub payload: Option<String>,
    pub attachments: Vec<Attachment>,
    /// The provider id of the message this one answers, when the user used "reply".
    pub reply_to: Option<String>,
    /// The provider's own account the message was addressed to (Messenger page id, WhatsApp
    /// phone number id, VK community id); deliveries for another account are not ours.
    pub account: Option<String>,
    /// When the user sent it, by the provider's clock.
    pub at: Option<Millis>,
}

/// A picture, file, location… attached to an inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub kind: AttachmentKind,
    /// Where to fetch it, when the payload says (Messenger, VK; a `geo:` URI for a location).
    pub url: Option<String>,
    /// WhatsApp sends a media id instead of a URL: resolve it with
    /// [`whatsapp::media_request`], then download with the access token.
    pub media_id: Option<String>,
    pub mime_type: Option<String>,
    /// A file name or title, when the payload has one.
    pub name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    Image,
    Video,
    Audio,
    File,
    Sticker,
    Location,
    Link,
    /// A kind the channel has that Lobby cannot show; kept so the operator knows something came.
    Other,
}

/// A delivery report for messages an operator sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusUpdate {
    pub channel: Channel,
    /// The channel user the messages went to (same meaning as [`Inbound::user_id`]).
    pub user_id: String,
    pub state: DeliveryState,
    /// The provider ids of the messages concerned (`wamid.…`, Messenger `mid`s). Empty for a
    /// Messenger read, which only has a watermark.
    pub message_ids: Vec<String>,
    /// Messenger: every message sent before this moment is delivered/read.
    pub watermark: Option<Millis>,
    pub at: Option<Millis>,
    /// Why it failed, as the provider says it (WhatsApp `errors[]`).
    pub error: Option<String>,
    pub account: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Sent,
    Delivered,
    Read,
    Failed,
}

/// A user's name and picture from a provider's profile API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub name: Option<String>,
    pub avatar_url: Option<String>,
}

/// One channel's configuration, as an admin sets it and the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "lowercase")]
pub enum ChannelConfig {
    Messenger(messenger::MessengerConfig),
    Whatsapp(whatsapp::WhatsappConfig),
    Vk(vk::VkConfig),
}

impl ChannelConfig {
    pub fn channel(&self) -> Channel {
        match self {
            ChannelConfig::Messenger(_) => Channel::Messenger,
            ChannelConfig::Whatsapp(_) => Channel::Whatsapp,
            ChannelConfig::Vk(_) => Channel::Vk,
        }
    }

    /// The Lobby group this channel's clients wait in.
    pub fn group(&self) -> &str {
        match self {
            ChannelConfig::Messenger(c) => &c.group,
            ChannelConfig::Whatsapp(c) => &c.group,
            ChannelConfig::Vk(c) => &c.group,
        }
    }

    pub fn validate(&self) -> Result<(), ApiError> {
        match self {
            ChannelConfig::Messenger(c) => c.validate(),
            ChannelConfig::Whatsapp(c) => c.validate(),
            ChannelConfig::Vk(c) => c.validate(),
        }
    }

    /// What a GET shows: the channel's name, its public settings, never a secret or token.
    pub fn public(&self) -> Value {
        let (channel, view) = match self {
            ChannelConfig::Messenger(c) => (Channel::Messenger, serde_json::to_value(c.public())),
            ChannelConfig::Whatsapp(c) => (Channel::Whatsapp, serde_json::to_value(c.public())),
            ChannelConfig::Vk(c) => (Channel::Vk, serde_json::to_value(c.public())),
        };
        let mut view = view.unwrap_or(Value::Null);
        if let Some(o) = view.as_object_mut() {
            o.insert("channel".into(), Value::String(channel.as_str().into()));
        }
        view
    }
}

impl Channel {
    /// `messenger`, `whatsapp`, `vk`; anything else is no channel Lobby has.
    pub fn parse(name: &str) -> Option<Channel> {
        match name {
            "messenger" => Some(Channel::Messenger),
            "whatsapp" => Some(Channel::Whatsapp),
            "vk" => Some(Channel::Vk),
            _ => None,
        }
    }

    /// The kind of entry a client of this channel makes (and the icon of its queue row).
    pub fn entry(self) -> lobby_wire::EntryKind {
        match self {
            Channel::Messenger => lobby_wire::EntryKind::Messenger,
            Channel::Whatsapp => lobby_wire::EntryKind::Whatsapp,
            Channel::Vk => lobby_wire::EntryKind::Vk,
        }
    }

    pub fn of_entry(entry: lobby_wire::EntryKind) -> Option<Channel> {
        match entry {
            lobby_wire::EntryKind::Messenger => Some(Channel::Messenger),
            lobby_wire::EntryKind::Whatsapp => Some(Channel::Whatsapp),
            lobby_wire::EntryKind::Vk => Some(Channel::Vk),
            _ => None,
        }
    }

    /// How the operator reads its name.
    pub fn label(self) -> &'static str {
        match self {
            Channel::Messenger => "Messenger",
            Channel::Whatsapp => "WhatsApp",
            Channel::Vk => "VK",
        }
    }
}

/// The tenant's channel configurations, one per channel at most.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channels {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messenger: Option<messenger::MessengerConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp: Option<whatsapp::WhatsappConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vk: Option<vk::VkConfig>,
}

impl Channels {
    pub fn get(&self, channel: Channel) -> Option<ChannelConfig> {
        match channel {
            Channel::Messenger => self.messenger.clone().map(ChannelConfig::Messenger),
            Channel::Whatsapp => self.whatsapp.clone().map(ChannelConfig::Whatsapp),
            Channel::Vk => self.vk.clone().map(ChannelConfig::Vk),
        }
    }

    pub fn set(&mut self, config: ChannelConfig) {
        match config {
            ChannelConfig::Messenger(c) => self.messenger = Some(c),
            ChannelConfig::Whatsapp(c) => self.whatsapp = Some(c),
            ChannelConfig::Vk(c) => self.vk = Some(c),
        }
    }

    pub fn group_of(&self, channel: Channel) -> Option<String> {
        self.get(channel).map(|c| c.group().to_string())
    }
}

// ---------------------------------------------------------------- outbound requests

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// A request to a provider's API, complete and ready to send: the adapter performs it (from an
/// outbox, so a failed send is retried) and hands the answer back to the channel's
/// `parse_*_response`. It holds the access token, so it is not to be logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A provider accepted a message. Its id is what later status updates refer to; it is absent
/// only if a 2xx answer had no readable body (accepted all the same: resending would duplicate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub message_id: Option<String>,
}

/// A provider refused or failed a call. `retryable` says whether the outbox should try again
/// later (rate limits, the provider's own outages) or give up and show the operator `message`
/// (a revoked token, a user who blocked the page, a closed WhatsApp window).
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[error("{message}")]
pub struct ProviderError {
    pub status: u16,
    pub code: Option<i64>,
    pub message: String,
    pub retryable: bool,
}

/// Transport-level answers worth retrying whatever the body says.
pub(crate) fn status_retryable(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

// ---------------------------------------------------------------- errors

/// Why a webhook delivery was refused before anything was read from it. A refused delivery
/// changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    #[error("the X-Hub-Signature-256 header is missing")]
    MissingSignature,
    #[error("the X-Hub-Signature-256 header is not `sha256=` and 64 hex digits")]
    MalformedSignature,
    #[error("the signature does not match the body")]
    BadSignature,
    #[error("hub.mode is not `subscribe`")]
    NotSubscribe,
    #[error("hub.verify_token does not match")]
    WrongVerifyToken,
    #[error("hub.challenge is missing")]
    MissingChallenge,
    #[error("the callback has no secret")]
    MissingSecret,
    #[error("the callback's secret does not match")]
    WrongSecret,
    #[error("the callback is for another community")]
    WrongCommunity,
}

impl VerifyError {
    /// 401 when the proof is absent, 403 when it is wrong, 400 when the request is malformed.
    /// Meta's verification GET is answered 403 on any mismatch, as its documentation asks.
    pub fn status(&self) -> u16 {
        match self {
            VerifyError::MissingSignature | VerifyError::MissingSecret => 401,
            VerifyError::BadSignature
            | VerifyError::NotSubscribe
            | VerifyError::WrongVerifyToken
            | VerifyError::WrongSecret
            | VerifyError::WrongCommunity => 403,
            VerifyError::MalformedSignature | VerifyError::MissingChallenge => 400,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::MissingSignature | VerifyError::MissingSecret => "unauthorized",
            VerifyError::MalformedSignature | VerifyError::MissingChallenge => "bad_request",
            _ => "forbidden",
        }
    }
}

/// A delivery whose body is not what the provider sends.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("{0}")]
    Shape(String),
}

/// Everything a webhook can answer other than success.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HookError {
    #[error(transparent)]
    Refused(#[from] VerifyError),
    #[error(transparent)]
    Malformed(#[from] ParseError),
}

impl HookError {
    pub fn status(&self) -> u16 {
        match self {
            HookError::Refused(e) => e.status(),
            HookError::Malformed(_) => 400,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            HookError::Refused(e) => e.code(),
            HookError::Malformed(_) => "invalid_json",
        }
    }

    /// The API's usual `{"error": {"code", "message"}}` body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message: self.to_string(),
            },
        }
    }
}

// ---------------------------------------------------------------- configuration helpers

/// The configured base URL without a trailing slash, or the provider's real one.
pub(crate) fn base_url<'a>(configured: &'a Option<String>, default: &'a str) -> &'a str {
    configured
        .as_deref()
        .map(|b| b.trim_end_matches('/'))
        .filter(|b| !b.is_empty())
        .unwrap_or(default)
}

/// Checks that every required credential is present and that `api_base`, if set, is a URL.
pub(crate) fn validate_config(
    required: &[(&str, &str)],
    api_base: &Option<String>,
) -> Result<(), ApiError> {
    if let Some((name, _)) = required.iter().find(|(_, v)| v.trim().is_empty()) {
        return Err(ApiError::invalid(format!("`{name}` must not be empty")));
    }
    if let Some(base) = api_base {
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(ApiError::invalid(
                "`api_base` must be an http(s) URL, e.g. https://graph.facebook.com",
            ));
        }
    }
    Ok(())
}

/// Provider ids (page, phone number, community) are digits that admins paste as strings or as
/// numbers; both are accepted and kept as a string.
pub(crate) fn id_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        S(String),
        N(i64),
        U(u64),
    }
    Ok(match Id::deserialize(d)? {
        Id::S(s) => s,
        Id::N(n) => n.to_string(),
        Id::U(n) => n.to_string(),
    })
}

/// Shows a secret's presence, never its value (configs end up in logs via `{:?}`).
pub(crate) fn redacted(secret: &str) -> &'static str {
    if secret.is_empty() {
        "<empty>"
    } else {
        "<redacted>"
    }
}

// ---------------------------------------------------------------- Meta's shared webhook rules

type HmacSha256 = Hmac<Sha256>;

pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; the error branch cannot happen.
    match HmacSha256::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`, compared in constant
/// time over the bytes exactly as received (re-serialised JSON would not match). An empty
/// configured secret verifies nothing.
pub(crate) fn verify_meta_signature(
    app_secret: &str,
    header: Option<&str>,
    body: &[u8],
) -> Result<(), VerifyError> {
    let header = header.ok_or(VerifyError::MissingSignature)?.trim();
    let digits = match header.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("sha256=") => &header[7..],
        _ => return Err(VerifyError::MalformedSignature),
    };
    let given = unhex(digits)
        .filter(|b| b.len() == 32)
        .ok_or(VerifyError::MalformedSignature)?;
    if app_secret.is_empty() {
        return Err(VerifyError::BadSignature);
    }
    let mut mac =
        HmacSha256::new_from_slice(app_secret.as_bytes()).map_err(|_| VerifyError::BadSignature)?;
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| VerifyError::BadSignature)
}

/// Meta's subscription handshake: `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`
/// is answered 200 with the challenge as the whole (text/plain) body when the token matches.
pub(crate) fn verify_meta_subscription(
    verify_token: &str,
    query: &str,
) -> Result<String, VerifyError> {
    let pairs = decode_form(query.strip_prefix('?').unwrap_or(query));
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    if get("hub.mode") != Some("subscribe") {
        return Err(VerifyError::NotSubscribe);
    }
    if !crate::auth::secret_matches(get("hub.verify_token").unwrap_or(""), verify_token) {
        return Err(VerifyError::WrongVerifyToken);
    }
    get("hub.challenge")
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .ok_or(VerifyError::MissingChallenge)
}

/// A Graph API error answer (`{"error": {"message", "code", "is_transient"}}`) or a transport
/// failure, classified for the outbox.
pub(crate) fn meta_error(status: u16, body: &[u8]) -> ProviderError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let err = v.get("error").unwrap_or(&Value::Null);
    let code = int_at(err, "code");
    let transient = err.get("is_transient").and_then(Value::as_bool) == Some(true);
    // Rate limits and Meta's own temporary failures; everything else needs a person.
    const RETRY: [i64; 12] = [
        1, 2, 4, 17, 32, 613, 1200, 80006, 80007, 130429, 131016, 133004,
    ];
    let mut message = str_at(err, "message").unwrap_or("").to_string();
    if let Some(details) = err.get("error_data").and_then(|d| str_at(d, "details")) {
        message = format!("{message} ({details})");
    }
    if message.trim().is_empty() {
        message = format!("the provider answered HTTP {status}");
    }
    ProviderError {
        status,
        code,
        message,
        retryable: transient
            || status_retryable(status)
            || code.is_some_and(|c| RETRY.contains(&c)),
    }
}

// ---------------------------------------------------------------- encoders

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|p| Some(hex_digit(p[0])? << 4 | hex_digit(p[1])?))
        .collect()
}

/// RFC 3986 percent-encoding: everything but unreserved characters is escaped, so a value is
/// safe in a path segment, a query and an `application/x-www-form-urlencoded` body alike.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push_str(&hex(&[b]).to_ascii_uppercase());
        }
    }
    out
}

/// `k=v&k=v`, each side percent-encoded.
pub fn encode_form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Decodes a query string or form body into its pairs (`+` is a space, `%XX` a byte; a broken
/// escape is kept literally, invalid UTF-8 replaced). Total: never fails, never panics.
pub fn decode_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (url_decode(k), url_decode(v))
        })
        .collect()
}

fn url_decode(part: &str) -> String {
    let b = part.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'+' {
            out.push(b' ');
        } else if c == b'%' {
            let pair = b
                .get(i + 1)
                .and_then(|&h| hex_digit(h))
                .zip(b.get(i + 2).and_then(|&l| hex_digit(l)));
            if let Some((h, l)) = pair {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
            out.push(c);
        } else {
            out.push(c);
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------- lenient JSON access

/// Parses a webhook body that must be a JSON object.
pub(crate) fn json_object(body: &[u8]) -> Result<Value, ParseError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| ParseError::NotJson(e.to_string()))?;
    if v.is_object() {
        Ok(v)
    } else {
        Err(ParseError::Shape("the body must be a JSON object".into()))
    }
}

pub(crate) fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)?.as_str()
}

/// A non-empty string field, or its trimmed absence.
pub(crate) fn text_at(v: &Value, key: &str) -> Option<String> {
    str_at(v, key)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
}

/// An id that providers send as a string or as a number.
pub(crate) fn id_at(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An integer sent as a number or as a numeric string; out-of-range values saturate.
pub(crate) fn int_at(v: &Value, key: &str) -> Option<i64> {
    match v.get(key)? {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_u64().map(|_| i64::MAX))
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn array_at<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

pub(crate) fn secs_to_millis(secs: i64) -> Millis {
    secs.saturating_mul(1000)
}
