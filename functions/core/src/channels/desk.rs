//! A channel's webhooks: the table of their operations (described in the served OpenAPI
//! document like the API's routes), which tenant and channel a `/hooks/...` path names, and
//! [`Lobby::hook`], which answers a delivery exactly as its provider expects (Meta's
//! verification GET, VK's confirmation, a plain `ok`) after checking its proof (signature,
//! secret) over the raw bytes. What a delivery's messages and statuses do to the tenant is
//! [`crate::lobby`]'s channel feature; the types it owes providers are re-exported here.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{hex, messenger, vk, whatsapp, Channel, ChannelConfig, HookError, InboundEvent};
use crate::error::ApiError;
use crate::lobby::{Command, Event, Lobby, Millis};
use crate::routes::{self, says, Answer, Body, Doc, Param, Request, Schema, MAX_BODY_BYTES};

pub use crate::lobby::{inbound_key, Outbound, Outgoing, Recent, SentIds, MAX_SEEN, MAX_SENT_IDS};

// ---------------------------------------------------------------- webhooks

/// A webhook request as the edge received it: nothing decoded, the body byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookRequest {
    pub method: String,
    /// The raw query string, without `?`.
    #[serde(default)]
    pub query: String,
    /// `X-Hub-Signature-256`, when present.
    #[serde(default)]
    pub signature: Option<String>,
    #[serde(default)]
    pub body: Vec<u8>,
}

/// The answer to a webhook request, and the events to persist before sending it.
#[derive(Debug, Clone, PartialEq)]
pub struct HookReply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub events: Vec<Event>,
    /// Headers besides `Content-Type` (`Allow` on a 405).
    pub headers: Vec<(&'static str, String)>,
}

impl HookReply {
    fn text(body: &str, events: Vec<Event>) -> Self {
        HookReply {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body: body.to_string(),
            events,
            headers: vec![],
        }
    }

    fn error(status: u16, code: &str, message: &str) -> Self {
        HookReply {
            status,
            content_type: "application/json; charset=utf-8",
            body: json!({"error": {"code": code, "message": message}}).to_string(),
            events: vec![],
            headers: vec![],
        }
    }

    fn api(e: &ApiError) -> Self {
        let mut reply = Self::error(e.status(), e.code(), &e.to_string());
        reply.headers = e.headers();
        reply
    }

    fn hook(e: &HookError) -> Self {
        Self::error(e.status(), e.code(), &e.to_string())
    }
}

/// One webhook operation: the providers call these, each in its own protocol. Described in the
/// served OpenAPI document like the API's routes ([`crate::routes`]).
pub struct HookOperation {
    /// Upper case, as compared.
    pub method: &'static str,
    /// `/hooks/{tenant}/<channel>`.
    pub path: &'static str,
    pub channel: Channel,
    pub doc: Doc,
}

const HOOK_BODY: Option<Request> = routes::body(Schema::json(|| json!({"type": "object"})));
const NOT_CONFIGURED: Answer = says(404, "the channel is not configured", Body::Error);
const MALFORMED: Answer = says(400, "malformed", Body::Error);

/// Meta's verification handshake (Messenger and WhatsApp subscribe their webhooks alike).
macro_rules! meta_verification {
    ($name:literal) => {
        Doc {
            summary: concat!($name, ": Meta's verification handshake (hub.mode, hub.verify_token, hub.challenge)"),
            description: None,
            parameters: &[
                Param {
                    name: "hub.mode",
                    location: "query",
                    required: true,
                    schema: Schema::json(|| json!({"type": "string", "enum": ["subscribe"]})),
                },
                Param { name: "hub.verify_token", location: "query", required: true, schema: Schema::of::<String>() },
                Param { name: "hub.challenge", location: "query", required: true, schema: Schema::of::<String>() },
            ],
            request: None,
            answers: &[
                says(200, "the challenge", Body::Text),
                says(403, "wrong verify token", Body::Error),
                NOT_CONFIGURED,
            ],
            errors: &[],
        }
    };
}

/// A Meta webhook delivery (Messenger and WhatsApp sign theirs alike).
macro_rules! meta_delivery {
    ($name:literal) => {
        Doc {
            summary: concat!(
                $name,
                ": a webhook delivery, signed with X-Hub-Signature-256 over the raw body"
            ),
            description: None,
            parameters: &[Param {
                name: "X-Hub-Signature-256",
                location: "header",
                required: true,
                schema: Schema::of::<String>(),
            }],
            request: HOOK_BODY,
            answers: &[
                says(200, "ok", Body::Text),
                MALFORMED,
                says(401, "no signature", Body::Error),
                says(403, "wrong signature", Body::Error),
                NOT_CONFIGURED,
                says(413, "too large", Body::Error),
            ],
            errors: &[],
        }
    };
}

/// Every webhook operation. VK has no verification GET: it confirms a server by POSTing a
/// `confirmation` event.
pub static HOOKS: &[HookOperation] = &[
    HookOperation {
        method: "GET",
        path: "/hooks/{tenant}/messenger",
        channel: Channel::Messenger,
        doc: meta_verification!("Facebook Messenger"),
    },
    HookOperation {
        method: "POST",
        path: "/hooks/{tenant}/messenger",
        channel: Channel::Messenger,
        doc: meta_delivery!("Facebook Messenger"),
    },
    HookOperation {
        method: "GET",
        path: "/hooks/{tenant}/whatsapp",
        channel: Channel::Whatsapp,
        doc: meta_verification!("WhatsApp Cloud API"),
    },
    HookOperation {
        method: "POST",
        path: "/hooks/{tenant}/whatsapp",
        channel: Channel::Whatsapp,
        doc: meta_delivery!("WhatsApp Cloud API"),
    },
    HookOperation {
        method: "POST",
        path: "/hooks/{tenant}/vk",
        channel: Channel::Vk,
        doc: Doc {
            summary: "VK Callback API: answered with the confirmation string for `confirmation`, `ok` for every other event; the body's `secret` must match",
            description: None,
            parameters: &[],
            request: HOOK_BODY,
            answers: &[
                says(200, "the confirmation string, or ok", Body::Text),
                MALFORMED,
                says(401, "no secret", Body::Error),
                says(403, "wrong secret or community", Body::Error),
                NOT_CONFIGURED,
            ],
            errors: &[],
        },
    },
];

/// `/hooks/{tenant}/{channel}`, by [`HOOKS`]: `None` for other paths; the tenant and channel, or
/// why not (unknown channel or malformed tenant 404, a method the channel's webhook does not
/// answer 405).
pub fn hook_route(method: &str, path: &str) -> Option<Result<(String, Channel), ApiError>> {
    path.strip_prefix("/hooks/")?;
    let segs = routes::segments(path);
    let no_route = || ApiError::NoRoute(path.to_string());
    let m = method.to_ascii_uppercase();
    let mut allow = vec![];
    for hook in HOOKS {
        let Some(params) = routes::match_template(hook.path, &segs) else {
            continue;
        };
        let tenant = match crate::api::valid_slug(params[0]) {
            Ok(t) => t,
            Err(_) => return Some(Err(no_route())),
        };
        if hook.method == m {
            return Some(Ok((tenant, hook.channel)));
        }
        allow.push(hook.method);
    }
    Some(Err(if allow.is_empty() {
        no_route()
    } else {
        ApiError::method_not_allowed(m, &allow)
    }))
}

/// An id `<prefix>_<16 hex>` drawn from the call's entropy and an index, so that one delivery
/// can bring any number of new clients.
fn derived_id(prefix: &str, entropy: &[u8], index: usize) -> String {
    let mut h = Sha256::new();
    h.update(entropy);
    h.update((index as u64).to_be_bytes());
    format!("{prefix}_{}", hex(&h.finalize()[..8]))
}

impl Lobby {
    /// Answers one webhook request of `channel`. `entropy` (at least 32 bytes, fresh) names new
    /// clients. Nothing changes unless the reply carries events.
    pub fn hook(
        &mut self,
        channel: Channel,
        req: &HookRequest,
        entropy: &[u8],
        now: Millis,
    ) -> HookReply {
        if self.tenant.is_none() {
            return HookReply::api(&ApiError::not_found("tenant"));
        }
        if req.body.len() > MAX_BODY_BYTES {
            return HookReply::api(&ApiError::PayloadTooLarge(MAX_BODY_BYTES));
        }
        let Some(config) = self.channels.get(channel) else {
            return HookReply::api(&ApiError::not_found(format!(
                "the {} channel of this tenant",
                channel.label()
            )));
        };
        let get = req.method.eq_ignore_ascii_case("GET");
        let received = match (&config, get) {
            (ChannelConfig::Messenger(c), true) => {
                return match messenger::verify_subscription(c, &req.query) {
                    Ok(challenge) => HookReply::text(&challenge, vec![]),
                    Err(e) => HookReply::hook(&e.into()),
                }
            }
            (ChannelConfig::Whatsapp(c), true) => {
                return match whatsapp::verify_subscription(c, &req.query) {
                    Ok(challenge) => HookReply::text(&challenge, vec![]),
                    Err(e) => HookReply::hook(&e.into()),
                }
            }
            (ChannelConfig::Vk(_), true) => {
                return HookReply::api(&ApiError::method_not_allowed("GET", &["POST"]))
            }
            (ChannelConfig::Messenger(c), false) => {
                messenger::receive(c, req.signature.as_deref(), &req.body).map(|e| (e, None))
            }
            (ChannelConfig::Whatsapp(c), false) => {
                whatsapp::receive(c, req.signature.as_deref(), &req.body).map(|e| (e, None))
            }
            (ChannelConfig::Vk(c), false) => match vk::receive(c, &req.body) {
                Ok(cb) => {
                    if cb.event == Some(InboundEvent::Confirmation) {
                        return HookReply::text(vk::answer(c, &cb), vec![]);
                    }
                    let delivery = cb.event_id.as_ref().map(|e| format!("vk:event:{e}"));
                    if delivery.as_deref().is_some_and(|d| self.seen.contains(d)) {
                        return HookReply::text("ok", vec![]);
                    }
                    Ok((cb.event.into_iter().collect(), delivery))
                }
                Err(e) => Err(e),
            },
        };
        let (items, delivery) = match received {
            Ok(x) => x,
            Err(e) => return HookReply::hook(&e),
        };
        let mut events = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let cmd = match item {
                InboundEvent::Message(inbound) => Command::ChannelMessage {
                    inbound,
                    client: derived_id("c", entropy, 2 * i),
                    session: derived_id("s", entropy, 2 * i + 1),
                    delivery: delivery.clone(),
                },
                InboundEvent::Status(s) => Command::ChannelStatus(s),
                InboundEvent::Confirmation => continue,
            };
            // One item the state refuses (none is expected: the channel and its group exist)
            // must not make the provider re-deliver the others for days; it is skipped.
            if let Ok(e) = self.handle(&cmd, now) {
                events.extend(e);
            }
        }
        HookReply::text("ok", events)
    }
}
