//! Webhook deliveries as the providers send them, for every test that feeds Lobby a channel's
//! traffic: the documented payloads under `functions/core/tests/fixtures/channels/` (loaded with
//! [`fixture!`]), Meta's `X-Hub-Signature-256` computed with the hmac crate (independently of the
//! code under test), and the WhatsApp, Messenger and VK message bodies the tests vary by id and
//! text.
//!
//! It needs only `hmac`, `sha2` and `serde_json`, so both the core's tests (`mod support;`) and
//! the end-to-end crate (through `#[path]`) compile the same file; [`fixture!`] finds the files
//! from either crate because both sit two folders below the workspace root.

#![allow(dead_code)]

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// The Messenger page the documented deliveries are addressed to.
pub const PAGE_ID: &str = "404217156637689";
/// The page-scoped id of the Messenger user who writes in [`messenger_text`].
pub const PSID: &str = "6783421865";
/// The VK user of [`vk_message`]'s private dialog.
pub const VK_PEER: i64 = 555644284;

/// A provider's documented payload, `include_str!`-ed at compile time: `fixture!("vk/x.json")`.
macro_rules! fixture {
    ($path:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../functions/core/tests/fixtures/channels/",
            $path
        ))
    };
}
#[allow(unused_imports)] // Not every test binary loads a fixture.
pub(crate) use fixture;

/// `sha256=<hex HMAC-SHA256(secret, body)>`: Meta's `X-Hub-Signature-256` header.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// Meta sends Messenger's `messaging` items inside `{"object":"page","entry":[…]}`; the
/// documentation's examples show the item alone.
pub fn page_delivery(item: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"object": "page", "entry": [
        {"id": PAGE_ID, "time": 1_458_692_752_478_i64, "messaging": [item]}]}))
    .unwrap()
}

/// The documented WhatsApp text message, with its message id and text replaced.
pub fn whatsapp_text(id: &str, body: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_str(fixture!("whatsapp/inbound_text.json")).unwrap();
    let m = &mut v["entry"][0]["changes"][0]["value"]["messages"][0];
    m["id"] = json!(id);
    m["text"]["body"] = json!(body);
    serde_json::to_vec(&v).unwrap()
}

/// The documented Messenger text message from [`PSID`] to [`PAGE_ID`], with its `mid` and text
/// replaced.
pub fn messenger_text(mid: &str, text: &str) -> Vec<u8> {
    let mut item: Value = serde_json::from_str(fixture!(
        "messenger/meta_doc_messages_text_quick_reply.json"
    ))
    .unwrap();
    item["sender"]["id"] = json!(PSID);
    item["recipient"]["id"] = json!(PAGE_ID);
    item["message"]["mid"] = json!(mid);
    item["message"]["text"] = json!(text);
    page_delivery(item)
}

/// VK's documented `message_new` callback carrying `secret` and `event_id` (what VK retries
/// under), with its conversation message id and text replaced, in a private dialog with
/// [`VK_PEER`].
pub fn vk_message(event_id: &str, cmid: i64, text: &str, secret: &str) -> Vec<u8> {
    let mut v: Value =
        serde_json::from_str(fixture!("vk/message_new_photo_attachment_v5103plus.json")).unwrap();
    v["event_id"] = json!(event_id);
    v["secret"] = json!(secret);
    v["object"]["message"]["conversation_message_id"] = json!(cmid);
    v["object"]["message"]["text"] = json!(text);
    // A private dialog: the peer is the user.
    v["object"]["message"]["peer_id"] = json!(VK_PEER);
    serde_json::to_vec(&v).unwrap()
}
