//! The messaging channels' codecs against the providers' own documented payloads (copied under
//! `tests/fixtures/channels/`): every delivery parses into what it says, forged or malformed ones
//! are refused, outbound requests have the documented shape, and no input makes a parser panic.

mod support;

use lobby_core::channels::messenger::{self, MessengerConfig};
use lobby_core::channels::vk::{self, VkConfig};
use lobby_core::channels::whatsapp::{self, Template, WhatsappConfig};
use lobby_core::channels::{
    decode_form, Attachment, AttachmentKind, Channel, DeliveryState, HookError, HttpRequest,
    Inbound, InboundEvent, Method, StatusUpdate, VerifyError,
};
use proptest::prelude::*;
use serde_json::{json, Value};
use support::deliveries::{self, fixture, sign};

const SECRET: &str = "test-app-secret";
const TOKEN: &str = "test-access-token";

fn messenger_config() -> MessengerConfig {
    MessengerConfig {
        page_id: "404217156637689".into(),
        app_secret: SECRET.into(),
        verify_token: "meatyhamhock".into(),
        page_access_token: TOKEN.into(),
        group: "support".into(),
        api_base: None,
    }
}

fn whatsapp_config() -> WhatsappConfig {
    WhatsappConfig {
        phone_number_id: "1122334455667".into(),
        app_secret: SECRET.into(),
        verify_token: "s3cret-verify".into(),
        access_token: TOKEN.into(),
        group: "support".into(),
        api_base: None,
        templates: vec![],
    }
}

fn vk_config() -> VkConfig {
    VkConfig {
        community_id: "123456".into(),
        confirmation: "d8v2ve07".into(),
        secret: "secret_123456".into(),
        access_token: TOKEN.into(),
        group: "support".into(),
        api_base: None,
    }
}

fn only_message(events: &[InboundEvent]) -> &Inbound {
    match events {
        [InboundEvent::Message(m)] => m,
        other => panic!("expected one message, got {other:?}"),
    }
}

fn only_status(events: &[InboundEvent]) -> &StatusUpdate {
    match events {
        [InboundEvent::Status(s)] => s,
        other => panic!("expected one status, got {other:?}"),
    }
}

fn body_json(req: &HttpRequest) -> Value {
    serde_json::from_slice(&req.body).expect("the request body is JSON")
}

fn url_path(req: &HttpRequest) -> &str {
    req.url.split_once('?').map_or(req.url.as_str(), |(p, _)| p)
}

fn url_query(req: &HttpRequest) -> Vec<(String, String)> {
    req.url
        .split_once('?')
        .map(|(_, q)| decode_form(q))
        .unwrap_or_default()
}

fn query_value(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ================================================================ Messenger

/// A documented `messaging` item (shown alone in the documentation) as Meta delivers it.
fn page_delivery(item: &str) -> Vec<u8> {
    deliveries::page_delivery(serde_json::from_str(item).unwrap())
}

fn messenger_parse(item: &str) -> Vec<InboundEvent> {
    messenger::parse(&page_delivery(item)).unwrap()
}

#[test]
fn messenger_image_message_parses_into_a_picture() {
    let events = messenger_parse(fixture!("messenger/bottender_messaging_image.json"));
    assert_eq!(
        only_message(&events),
        &Inbound {
            channel: Channel::Messenger,
            message_id: "mid.$cAAE1UUyiiwthh1ZAO1bVhDxGk2N0".into(),
            user_id: "1423587017700273".into(),
            display_name: None,
            phone: None,
            text: String::new(),
            payload: None,
            attachments: vec![Attachment {
                kind: AttachmentKind::Image,
                url: Some("https://scontent.xx.fbcdn.net/v/t35.0-12/17887258_1429713783754592_1626047672_o.jpg?_nc_ad=z-m&oh=e44af5a4c973541ef56333202f160720&oe=58ECF78B".into()),
                media_id: None,
                mime_type: None,
                name: None,
            }],
            reply_to: None,
            account: Some("404217156637689".into()),
            at: Some(1_491_797_604_411),
        }
    );
}

#[test]
fn messenger_text_with_quick_reply_keeps_text_and_payload() {
    let events = messenger_parse(fixture!(
        "messenger/meta_doc_messages_text_quick_reply.json"
    ));
    let m = only_message(&events);
    assert_eq!(m.message_id, "mid.1457764197618:41d102a3e1ae206a38");
    assert_eq!(m.user_id, "<PSID>");
    assert_eq!(m.account.as_deref(), Some("<PAGE_ID>"));
    assert_eq!(m.text, "hello, world!");
    assert_eq!(m.payload.as_deref(), Some("<DEVELOPER_DEFINED_PAYLOAD>"));
    assert_eq!(m.reply_to, None);
    assert_eq!(m.at, Some(1_458_692_752_478));
}

#[test]
fn messenger_reply_names_the_message_it_answers() {
    let events = messenger_parse(fixture!("messenger/meta_doc_messages_reply_to.json"));
    let m = only_message(&events);
    assert_eq!(m.message_id, "m_1457764197618:41d102a3e1ae206a38");
    assert_eq!(m.text, "hello, world!");
    assert_eq!(
        m.reply_to.as_deref(),
        Some("m_1fTq8oLumEyIp3Q2MR-aY7IfLZDamVrALniheU")
    );
}

#[test]
fn messenger_entry_with_attachment_parses_as_a_whole_entry() {
    let entry: Value = serde_json::from_str(fixture!(
        "messenger/meta_doc_messages_attachment_entry.json"
    ))
    .unwrap();
    let body = serde_json::to_vec(&json!({"object": "page", "entry": [entry]})).unwrap();
    let events = messenger::parse(&body).unwrap();
    let m = only_message(&events);
    assert_eq!(m.message_id, "mid.$cAAJdkrCd2ORnva8ErFhjGm0X_Q_c");
    assert_eq!(m.at, Some(1_518_479_195_308));
    // The documentation's placeholder type is no kind we know: kept, as "something came".
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].kind, AttachmentKind::Other);
    assert_eq!(m.attachments[0].url.as_deref(), Some("<ATTACHMENT_URL>"));
    // A real type is recognised.
    let real = String::from_utf8(body)
        .unwrap()
        .replace("<image|video|audio|file|reel|ig_reel>", "video");
    let events = messenger::parse(real.as_bytes()).unwrap();
    assert_eq!(
        only_message(&events).attachments[0].kind,
        AttachmentKind::Video
    );
}

#[test]
fn messenger_postback_without_mid_gets_a_stable_key() {
    let item = fixture!("messenger/bottender_messaging_postback.json");
    let first = messenger_parse(item);
    let m = only_message(&first);
    assert_eq!(m.message_id, "postback:1423587017700273:1491798782090");
    assert_eq!(m.text, "USER_DEFINED_PAYLOAD");
    assert_eq!(m.payload.as_deref(), Some("USER_DEFINED_PAYLOAD"));
    // A re-delivery is recognisable as the same message.
    assert_eq!(messenger_parse(item), first);
}

#[test]
fn messenger_dashboard_test_postback_in_changes_shape() {
    let change: Value = serde_json::from_str(fixture!(
        "messenger/meta_doc_messaging_postbacks_test_notification.json"
    ))
    .unwrap();
    let body = serde_json::to_vec(
        &json!({"object": "page", "entry": [{"id": "0", "time": 1, "changes": [change]}]}),
    )
    .unwrap();
    let events = messenger::parse(&body).unwrap();
    let m = only_message(&events);
    assert_eq!(m.message_id, "m_MESSAGE-ID");
    assert_eq!(m.user_id, "USER-REF-ID");
    assert_eq!(m.text, "TITLE-FOR-THE-CTA");
    assert_eq!(m.payload.as_deref(), Some("USER-DEFINED-PAYLOAD"));
    assert_eq!(m.account.as_deref(), Some("PAGE-ID"));
    // The test notification's timestamp is in seconds.
    assert_eq!(m.at, Some(1_527_459_824_000));
}

#[test]
fn messenger_delivery_and_read_become_statuses() {
    let events = messenger_parse(fixture!("messenger/meta_doc_message_deliveries.json"));
    assert_eq!(
        only_status(&events),
        &StatusUpdate {
            channel: Channel::Messenger,
            user_id: "<PSID>".into(),
            state: DeliveryState::Delivered,
            message_ids: vec!["mid.1458668856218:ed81099e15d3f4f233".into()],
            watermark: Some(1_458_668_856_253),
            at: None,
            error: None,
            account: Some("<PAGE_ID>".into()),
        }
    );
    let events = messenger_parse(fixture!("messenger/meta_doc_message_reads.json"));
    let s = only_status(&events);
    assert_eq!(s.state, DeliveryState::Read);
    assert!(s.message_ids.is_empty());
    assert_eq!(s.watermark, Some(1_458_668_856_253));
    assert_eq!(s.at, Some(1_458_668_856_463));
}

#[test]
fn messenger_skips_echoes_unknown_events_and_other_objects() {
    let echo = r#"{"sender":{"id":"PAGE"},"recipient":{"id":"PSID"},"timestamp":1,
        "message":{"mid":"m_1","is_echo":true,"text":"our own reply"}}"#;
    assert!(messenger_parse(echo).is_empty());
    let optin =
        r#"{"sender":{"id":"PSID"},"recipient":{"id":"PAGE"},"timestamp":1,"optin":{"ref":"x"}}"#;
    assert!(messenger_parse(optin).is_empty());
    let instagram = br#"{"object":"instagram","entry":[{"id":"1","messaging":[{"sender":{"id":"1"},"message":{"mid":"m","text":"hi"}}]}]}"#;
    assert!(messenger::parse(instagram).unwrap().is_empty());
    assert!(messenger::parse(b"not json").is_err());
    assert!(messenger::parse(b"[1,2]").is_err());
}

#[test]
fn meta_signature_over_the_raw_body() {
    let cfg = messenger_config();
    let body = page_delivery(fixture!("messenger/meta_doc_messages_reply_to.json"));
    let good = sign(SECRET, &body);
    assert_eq!(
        messenger::verify_signature(&cfg, Some(&good), &body),
        Ok(())
    );
    // Hex case and surrounding whitespace do not matter.
    let upper = format!("sha256={}", good[7..].to_ascii_uppercase());
    assert_eq!(
        messenger::verify_signature(&cfg, Some(&upper), &body),
        Ok(())
    );

    let mut flipped = body.clone();
    flipped[10] ^= 1;
    let refused = |header: Option<&str>, body: &[u8]| {
        messenger::verify_signature(&cfg, header, body).unwrap_err()
    };
    assert_eq!(refused(Some(&good), &flipped), VerifyError::BadSignature);
    assert_eq!(
        refused(Some(&sign("another-secret", &body)), &body),
        VerifyError::BadSignature
    );
    assert_eq!(refused(None, &body), VerifyError::MissingSignature);
    for malformed in [
        "",
        "sha256=",
        "sha256=xyz",
        &good[7..],                      // no prefix
        &good[..good.len() - 2],         // too short
        &format!("sha1={}", &good[7..]), // the old SHA-1 header's format
        &format!("{good}00"),            // too long
        "sha256=ünïcödé-ünïcödé-ünïcödé-ünïcödé-ünïcödé",
    ] {
        assert_eq!(
            refused(Some(malformed), &body),
            VerifyError::MalformedSignature,
            "{malformed:?}"
        );
    }
    assert_eq!(VerifyError::MissingSignature.status(), 401);
    assert_eq!(VerifyError::MalformedSignature.status(), 400);
    assert_eq!(VerifyError::BadSignature.status(), 403);

    // An empty configured secret verifies nothing, not even a body "signed" with it.
    let unset = MessengerConfig {
        app_secret: String::new(),
        ..messenger_config()
    };
    assert_eq!(
        messenger::verify_signature(&unset, Some(&sign("", &body)), &body),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn meta_signature_matches_an_openssl_computed_value() {
    // `openssl dgst -sha256 -hmac test-app-secret < whatsapp/inbound_text.json`
    let body = fixture!("whatsapp/inbound_text.json").as_bytes();
    let header = "sha256=2efde9009b6cba03aa9bce489479d485d21669d22515ace17a270a64a0c9bbfb";
    assert_eq!(sign(SECRET, body), header);
    assert_eq!(
        whatsapp::verify_signature(&whatsapp_config(), Some(header), body),
        Ok(())
    );
}

#[test]
fn messenger_receive_refuses_before_parsing_and_keeps_only_our_page() {
    let cfg = messenger_config();
    let body = page_delivery(fixture!("messenger/bottender_messaging_image.json"));
    let events = messenger::receive(&cfg, Some(&sign(SECRET, &body)), &body).unwrap();
    assert_eq!(events.len(), 1);

    let forged = b"{not even json";
    let err = messenger::receive(&cfg, Some(&sign("guess", forged)), forged).unwrap_err();
    assert_eq!(err, HookError::Refused(VerifyError::BadSignature));
    assert_eq!(err.status(), 403);
    assert_eq!(err.body().error.code, "forbidden");

    let garbage = b"{not even json";
    let err = messenger::receive(&cfg, Some(&sign(SECRET, garbage)), garbage).unwrap_err();
    assert!(matches!(err, HookError::Malformed(_)));
    assert_eq!(err.status(), 400);

    // Signed, but for another page: nothing of it is ours.
    let other = String::from_utf8(body)
        .unwrap()
        .replace("404217156637689", "999");
    let events = messenger::receive(
        &cfg,
        Some(&sign(SECRET, other.as_bytes())),
        other.as_bytes(),
    )
    .unwrap();
    assert!(events.is_empty());
}

/// The documented GET, its query lines joined.
fn documented_query(doc: &str) -> String {
    let request: String = doc
        .lines()
        .take_while(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::trim)
        .collect();
    let query = request.split_once('?').unwrap().1;
    query.to_string()
}

#[test]
fn messenger_verification_get_echoes_the_challenge() {
    let cfg = messenger_config();
    let query = documented_query(fixture!("messenger/meta_doc_verification_request.txt"));
    assert_eq!(
        messenger::verify_subscription(&cfg, &query),
        Ok("1158201444".to_string())
    );
    assert_eq!(
        messenger::verify_subscription(&cfg, &format!("?{query}")),
        Ok("1158201444".to_string())
    );
    let wrong = query.replace("meatyhamhock", "meatyhamhocks");
    let err = messenger::verify_subscription(&cfg, &wrong).unwrap_err();
    assert_eq!(err, VerifyError::WrongVerifyToken);
    assert_eq!(err.status(), 403);
    let no_token = "hub.mode=subscribe&hub.challenge=1158201444";
    assert_eq!(
        messenger::verify_subscription(&cfg, no_token),
        Err(VerifyError::WrongVerifyToken)
    );
    let unsubscribe = query.replace("subscribe", "unsubscribe");
    assert_eq!(
        messenger::verify_subscription(&cfg, &unsubscribe)
            .unwrap_err()
            .status(),
        403
    );
    let no_challenge = "hub.mode=subscribe&hub.verify_token=meatyhamhock";
    assert_eq!(
        messenger::verify_subscription(&cfg, no_challenge),
        Err(VerifyError::MissingChallenge)
    );
}

#[test]
fn whatsapp_verification_get_with_encoded_values() {
    let cfg = WhatsappConfig {
        verify_token: "<HUB.VERIFY_TOKEN>".into(),
        ..whatsapp_config()
    };
    let query = documented_query(fixture!("whatsapp/meta_doc_verification_request.txt"));
    assert_eq!(
        whatsapp::verify_subscription(&cfg, &query),
        Ok("<HUB.CHALLENGE>".to_string())
    );
    // Percent-encoded as a real client would send it.
    let encoded = "hub.mode=subscribe&hub.challenge=%3CHUB.CHALLENGE%3E&hub.verify_token=%3CHUB.VERIFY_TOKEN%3E";
    assert_eq!(
        whatsapp::verify_subscription(&cfg, encoded),
        Ok("<HUB.CHALLENGE>".to_string())
    );
    assert_eq!(
        whatsapp::verify_subscription(&whatsapp_config(), &query),
        Err(VerifyError::WrongVerifyToken)
    );
}

/// The `-d "name=value"` fields of the documented curl call; values in single-quoted
/// pseudo-JSON are turned into JSON.
fn curl_form_fields(doc: &str) -> Vec<(String, String)> {
    doc.lines()
        .filter_map(|l| l.trim().strip_prefix("-d \""))
        .map(|l| {
            let field = &l[..l.rfind('"').unwrap()];
            let (k, v) = field.split_once('=').unwrap();
            (k.to_string(), v.replace('\'', "\""))
        })
        .collect()
}

#[test]
fn messenger_send_text_matches_the_send_api_documentation() {
    let doc = fixture!("messenger/meta_doc_send_api_text.txt");
    let cfg = MessengerConfig {
        page_id: "{PAGE_ID}".into(),
        page_access_token: "{PAGE_ACCESS_TOKEN}".into(),
        ..messenger_config()
    };
    let fields = curl_form_fields(doc);
    let field = |k: &str| query_value(&fields, k).unwrap();

    let req = messenger::send_text(&cfg, "{PSID}", "hello, world");
    assert_eq!(req.method, Method::Post);
    let documented_url = doc.split('"').nth(1).unwrap();
    assert_eq!(
        url_path(&req).replace("%7B", "{").replace("%7D", "}"),
        documented_url
    );
    assert_eq!(req.header("content-type"), Some("application/json"));
    let body = body_json(&req);
    let expected = json!({
        "recipient": serde_json::from_str::<Value>(&field("recipient")).unwrap(),
        "messaging_type": field("messaging_type"),
        "message": serde_json::from_str::<Value>(&field("message")).unwrap(),
    });
    assert_eq!(body, expected);
    assert_eq!(
        body,
        json!({"recipient": {"id": "{PSID}"}, "messaging_type": "RESPONSE", "message": {"text": "hello, world"}})
    );

    let query = url_query(&req);
    assert_eq!(
        query_value(&query, "access_token"),
        Some(field("access_token"))
    );
    assert_eq!(
        query_value(&query, "appsecret_proof"),
        Some(messenger::appsecret_proof(SECRET, "{PAGE_ACCESS_TOKEN}"))
    );
    // The base and version are the ones every Send API example uses.
    let quick = fixture!("messenger/meta_doc_send_api_quick_replies.txt");
    assert!(quick.contains(&format!(
        "{}/{}/",
        messenger::DEFAULT_API_BASE,
        messenger::GRAPH_VERSION
    )));
}

#[test]
fn messenger_send_image_matches_the_attachment_example() {
    let expected: Value =
        serde_json::from_str(fixture!("messenger/send_api_image_attachment.json")).unwrap();
    let req = messenger::send_image(
        &messenger_config(),
        "<PSID>",
        "http://www.messenger-rocks.com/image.jpg",
    );
    assert_eq!(body_json(&req), expected);
}

#[test]
fn messenger_api_base_comes_from_configuration() {
    let cfg = MessengerConfig {
        api_base: Some("http://127.0.0.1:9000/".into()),
        ..messenger_config()
    };
    let req = messenger::send_text(&cfg, "1", "hi");
    assert!(req
        .url
        .starts_with("http://127.0.0.1:9000/v25.0/404217156637689/messages?access_token=test-access-token&appsecret_proof="));
}

#[test]
fn appsecret_proof_is_hmac_sha256_of_the_token() {
    // RFC 4231 test case 2.
    assert_eq!(
        messenger::appsecret_proof("Jefe", "what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    // `echo -n test-access-token | openssl dgst -sha256 -hmac test-app-secret`
    assert_eq!(
        messenger::appsecret_proof(SECRET, TOKEN),
        "c7a7a56a58d03b05def128144d755b6c5bd4ba6b88fbfd8a59a909c862e52d7b"
    );
    assert_eq!(
        format!("sha256={}", messenger::appsecret_proof(SECRET, TOKEN)),
        sign(SECRET, TOKEN.as_bytes())
    );
}

#[test]
fn messenger_user_profile_request_and_answer() {
    let req = messenger::user_profile_request(&messenger_config(), "1423587017700273");
    assert_eq!(req.method, Method::Get);
    assert_eq!(
        url_path(&req),
        "https://graph.facebook.com/v25.0/1423587017700273"
    );
    assert_eq!(
        url_query(&req),
        pairs(&[
            ("fields", "first_name,last_name,profile_pic"),
            ("access_token", TOKEN),
            (
                "appsecret_proof",
                "c7a7a56a58d03b05def128144d755b6c5bd4ba6b88fbfd8a59a909c862e52d7b"
            ),
        ])
    );
    let answer = br#"{"first_name":"Peter","last_name":"Chang","profile_pic":"https://example.com/p.jpg","id":"1423587017700273"}"#;
    let profile = messenger::parse_user_profile(200, answer).unwrap();
    assert_eq!(profile.name.as_deref(), Some("Peter Chang"));
    assert_eq!(
        profile.avatar_url.as_deref(),
        Some("https://example.com/p.jpg")
    );
    let only_first = messenger::parse_user_profile(200, br#"{"first_name":"Ana"}"#).unwrap();
    assert_eq!(only_first.name.as_deref(), Some("Ana"));
    let denied = br#"{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190}}"#;
    let err = messenger::parse_user_profile(400, denied).unwrap_err();
    assert_eq!(err.code, Some(190));
    assert!(!err.retryable);
}

#[test]
fn messenger_send_answers_are_classified_for_the_outbox() {
    let ok = br#"{"recipient_id":"1254477777772919","message_id":"AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P"}"#;
    assert_eq!(
        messenger::parse_send_response(200, ok).unwrap().message_id.as_deref(),
        Some("AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P")
    );
    // Accepted even if the answer is unreadable: resending would duplicate the message.
    assert_eq!(
        messenger::parse_send_response(200, b"").unwrap().message_id,
        None
    );
    let rate = br#"{"error":{"message":"Application request limit reached","code":4}}"#;
    assert!(
        messenger::parse_send_response(400, rate)
            .unwrap_err()
            .retryable
    );
    let transient = br#"{"error":{"message":"x","code":100,"is_transient":true}}"#;
    assert!(
        messenger::parse_send_response(400, transient)
            .unwrap_err()
            .retryable
    );
    let blocked = br#"{"error":{"message":"This person isn't available right now.","code":551}}"#;
    let err = messenger::parse_send_response(400, blocked).unwrap_err();
    assert!(!err.retryable);
    assert_eq!(err.message, "This person isn't available right now.");
    assert!(
        messenger::parse_send_response(503, b"<html>")
            .unwrap_err()
            .retryable
    );
}

// ================================================================ WhatsApp

fn whatsapp_parse(body: &str) -> Vec<InboundEvent> {
    whatsapp::parse(body.as_bytes()).unwrap()
}

#[test]
fn whatsapp_text_message_with_name_bsuid_and_phone() {
    let events = whatsapp_parse(fixture!("whatsapp/inbound_text.json"));
    assert_eq!(
        only_message(&events),
        &Inbound {
            channel: Channel::Whatsapp,
            message_id: "wamid.xyzxyz".into(),
            user_id: "US.13491208655302741918".into(),
            display_name: Some("Test Name".into()),
            phone: Some("972987654321".into()),
            text: "Body Text".into(),
            payload: None,
            attachments: vec![],
            reply_to: None,
            account: Some("1122334455667".into()),
            at: Some(1_697_043_223_000),
        }
    );
}

#[test]
fn whatsapp_image_carries_its_media_id() {
    let events = whatsapp_parse(fixture!("whatsapp/inbound_image.json"));
    let m = only_message(&events);
    assert_eq!(m.text, "");
    assert_eq!(
        m.attachments,
        vec![Attachment {
            kind: AttachmentKind::Image,
            url: None,
            media_id: Some("65463453".into()),
            mime_type: Some("image/jpeg".into()),
            name: None,
        }]
    );
    assert_eq!(m.at, Some(1_697_043_379_000));
}

#[test]
fn whatsapp_button_and_list_replies_give_title_and_id() {
    for (file, id) in [
        (
            fixture!("whatsapp/inbound_interactive_button_reply.json"),
            "wamid.xyzxyz",
        ),
        (
            fixture!("whatsapp/inbound_interactive_list_reply.json"),
            "wamid.zyzxyz",
        ),
    ] {
        let events = whatsapp_parse(file);
        let m = only_message(&events);
        assert_eq!(m.message_id, id);
        assert_eq!(m.text, "title");
        assert_eq!(m.payload.as_deref(), Some("callback_data"));
        assert_eq!(m.reply_to.as_deref(), Some("wamid.xyzxyz"));
        assert_eq!(m.display_name.as_deref(), Some("Test Name"));
    }
    let events = whatsapp_parse(fixture!(
        "whatsapp/inbound_template_quick_reply_button.json"
    ));
    let m = only_message(&events);
    assert_eq!(m.message_id, "wamid.xsidjw");
    assert_eq!(
        (m.text.as_str(), m.payload.as_deref()),
        ("title", Some("callback_data"))
    );
    assert_eq!(m.reply_to.as_deref(), Some("wamid.xyzxyz=="));
}

#[test]
fn whatsapp_statuses_name_the_message_they_refer_to() {
    for (file, state, at) in [
        (
            fixture!("whatsapp/status_sent.json"),
            DeliveryState::Sent,
            1_698_266_945_000,
        ),
        (
            fixture!("whatsapp/status_delivered.json"),
            DeliveryState::Delivered,
            1_698_266_945_000,
        ),
        (
            fixture!("whatsapp/status_read.json"),
            DeliveryState::Read,
            1_689_380_458_000,
        ),
    ] {
        let events = whatsapp_parse(file);
        assert_eq!(
            only_status(&events),
            &StatusUpdate {
                channel: Channel::Whatsapp,
                user_id: "US.13491208655302741918".into(),
                state,
                message_ids: vec!["wamid.xyzxyz".into()],
                watermark: None,
                at: Some(at),
                error: None,
                account: Some("1122334455667".into()),
            }
        );
    }
    let events = whatsapp_parse(fixture!("whatsapp/status_failed.json"));
    let s = only_status(&events);
    assert_eq!(s.state, DeliveryState::Failed);
    assert_eq!(s.message_ids, vec!["wamid.xyzxyz".to_string()]);
    let error = s.error.as_deref().unwrap();
    assert!(error.contains("130472"), "{error}");
    assert!(error.contains("part of an experiment"), "{error}");
}

/// pywa's test data: one named webhook body per case.
fn pywa_cases(file: &str) -> Vec<(String, Vec<InboundEvent>)> {
    let cases: serde_json::Map<String, Value> = serde_json::from_str(file).unwrap();
    cases
        .into_iter()
        .map(|(name, body)| {
            let events = whatsapp::parse(&serde_json::to_vec(&body).unwrap()).unwrap();
            (name, events)
        })
        .collect()
}

#[test]
fn whatsapp_every_pywa_message_kind() {
    let cases = pywa_cases(fixture!("whatsapp/pywa_tests_data_updates_message.json"));
    assert_eq!(cases.len(), 23);
    for (name, events) in &cases {
        let skipped = [
            "reaction",
            "unreaction_empty",
            "unreaction_no_emoji",
            "order",
            "unsupported",
            "unsupported_with_type",
            "interactive_message_with_err",
        ];
        if skipped.contains(&name.as_str()) {
            assert!(events.is_empty(), "{name}: {events:?}");
            continue;
        }
        let m = only_message(events);
        assert_eq!(m.user_id, "US.13491208655302741918", "{name}");
        assert_eq!(m.phone.as_deref(), Some("972987654321"), "{name}");
        let first = m.attachments.first();
        let kind = first.map(|a| a.kind);
        match name.as_str() {
            "text" => assert_eq!(m.text, "Body Text"),
            "image" => assert_eq!(first.unwrap().media_id.as_deref(), Some("65463453")),
            "media_with_url" => assert!(first
                .unwrap()
                .url
                .as_deref()
                .unwrap()
                .starts_with("https://lookaside.fbsbx.com/")),
            "video" => {
                assert_eq!(kind, Some(AttachmentKind::Video));
                assert_eq!(m.text, "caption");
            }
            "document" => {
                assert_eq!(kind, Some(AttachmentKind::File));
                assert_eq!(first.unwrap().name.as_deref(), Some("filename.pdf"));
                assert_eq!(first.unwrap().mime_type.as_deref(), Some("application/pdf"));
            }
            "audio" | "voice" => assert_eq!(kind, Some(AttachmentKind::Audio)),
            "static_sticker" | "animated_sticker" => {
                assert_eq!(kind, Some(AttachmentKind::Sticker))
            }
            "current_location" => {
                assert_eq!(first.unwrap().url.as_deref(), Some("geo:12.25089,43.90539"));
                assert_eq!(m.text, "");
            }
            "chosen_location" => {
                assert_eq!(kind, Some(AttachmentKind::Location));
                assert_eq!(m.text, "Facebook HQ, 1 Hacker Way, Menlo Park, CA 94025");
            }
            "contacts" => assert_eq!(
                m.text,
                "Chandler Bing +1 555-555-5555\nMonica +1 666-666-6666\nRachel Green +1 777-777-7777"
            ),
            "reply" => {
                assert_eq!(m.text, "replied text");
                assert_eq!(m.reply_to.as_deref(), Some("wamid.xyzxyz=="));
            }
            "forwarded" => {
                assert_eq!(m.text, "forwarded text");
                assert_eq!(m.reply_to, None);
            }
            "forwarded_many_times" => assert_eq!(m.text, "text forwarded many times"),
            "referral" => assert_eq!(m.text, "BODY"),
            other => panic!("an unexpected case {other}"),
        }
    }
}

#[test]
fn whatsapp_every_pywa_status_and_callback() {
    for (name, events) in pywa_cases(fixture!(
        "whatsapp/pywa_tests_data_updates_message_status.json"
    )) {
        if name == "played" {
            assert!(events.is_empty(), "{name}");
            continue;
        }
        let s = only_status(&events);
        let expected = match name.as_str() {
            "sent" | "with_tracker" => DeliveryState::Sent,
            "delivered" => DeliveryState::Delivered,
            "read" | "group" => DeliveryState::Read,
            "failed" => DeliveryState::Failed,
            other => panic!("an unexpected case {other}"),
        };
        assert_eq!(s.state, expected, "{name}");
    }
    for file in [
        fixture!("whatsapp/pywa_tests_data_updates_callback_button.json"),
        fixture!("whatsapp/pywa_tests_data_updates_callback_selection.json"),
    ] {
        for (name, events) in pywa_cases(file) {
            let m = only_message(&events);
            assert_eq!(m.text, "title", "{name}");
            assert_eq!(m.payload.as_deref(), Some("callback_data"), "{name}");
            assert_eq!(m.user_id, "US.13491208655302741918", "{name}");
        }
    }
}

#[test]
fn whatsapp_user_without_a_phone_number() {
    // 2026: a user with a username; Meta withholds the phone number.
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages",
        "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001111", "phone_number_id": "1122334455667"},
            "contacts": [{"profile": {"username": "@jana"}, "user_id": "CZ.77001"}],
            "messages": [{"from_user_id": "CZ.77001", "id": "wamid.u1", "timestamp": "1767225600",
                          "type": "text", "text": {"body": "Ahoj 👋 https://example.cz"}}],
            "statuses": [{"id": "wamid.out1", "status": "read", "timestamp": "1767225700",
                          "recipient_user_id": "CZ.77001"}]
        }
    }]}]});
    let events = whatsapp::parse(&serde_json::to_vec(&body).unwrap()).unwrap();
    let InboundEvent::Message(m) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(m.user_id, "CZ.77001");
    assert_eq!(m.phone, None);
    assert_eq!(m.display_name.as_deref(), Some("@jana"));
    assert_eq!(m.text, "Ahoj 👋 https://example.cz");
    let InboundEvent::Status(s) = &events[1] else {
        panic!("{events:?}")
    };
    assert_eq!(
        (s.user_id.as_str(), s.state),
        ("CZ.77001", DeliveryState::Read)
    );

    // The reply goes to the BSUID (`recipient`), there being no phone number (`to`).
    let req = whatsapp::send_text(
        &whatsapp_config(),
        &m.user_id,
        m.phone.as_deref(),
        "Dobrý den",
        false,
    );
    let body = body_json(&req);
    assert_eq!(body["recipient"], "CZ.77001");
    assert!(body.get("to").is_none());
}

#[test]
fn whatsapp_receive_verifies_and_keeps_only_our_number() {
    let cfg = whatsapp_config();
    let body = fixture!("whatsapp/inbound_text.json").as_bytes();
    assert_eq!(
        whatsapp::receive(&cfg, Some(&sign(SECRET, body)), body)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        whatsapp::receive(&cfg, None, body),
        Err(HookError::Refused(VerifyError::MissingSignature))
    );
    let other_number = WhatsappConfig {
        phone_number_id: "999".into(),
        ..whatsapp_config()
    };
    assert!(
        whatsapp::receive(&other_number, Some(&sign(SECRET, body)), body)
            .unwrap()
            .is_empty()
    );
}

/// The documented curl call: its URL, `-H` headers and the JSON after `-d`.
fn curl_json_call(doc: &str) -> (String, Vec<String>, String) {
    let url = doc.split('\'').nth(1).unwrap().to_string();
    let headers = doc
        .lines()
        .filter_map(|l| l.trim().strip_prefix("-H '"))
        .map(|h| h.trim_end_matches(" \\").trim_end_matches('\'').to_string())
        .collect();
    let data_at = doc.find("-d '").unwrap() + 4;
    let data_len = doc[data_at..].find('\'').unwrap();
    (url, headers, doc[data_at..data_at + data_len].to_string())
}

#[test]
fn whatsapp_send_text_matches_the_cloud_api_documentation() {
    let (url, headers, data) = curl_json_call(fixture!("whatsapp/meta_doc_send_text_request.txt"));
    let cfg = WhatsappConfig {
        access_token: "<ACCESS_TOKEN>".into(),
        ..whatsapp_config()
    };
    let req = whatsapp::send_text(
        &cfg,
        "US.13491208655302741918",
        Some("<WHATSAPP_USER_PHONE_NUMBER>"),
        "<BODY_TEXT>",
        false,
    );
    assert_eq!(req.method, Method::Post);
    assert_eq!(
        req.url,
        url.replace("<API_VERSION>", whatsapp::GRAPH_VERSION)
            .replace("<WHATSAPP_BUSINESS_PHONE_NUMBER_ID>", "1122334455667")
    );
    for header in headers {
        let (name, value) = header.split_once(": ").unwrap();
        assert_eq!(req.header(name), Some(value), "{name}");
    }
    let documented: Value =
        serde_json::from_str(&data.replace("<ENABLE_LINK_PREVIEW>", "false")).unwrap();
    assert_eq!(body_json(&req), documented);
    let with_preview = whatsapp::send_text(&cfg, "1", None, "see https://lobby.example", true);
    assert_eq!(body_json(&with_preview)["text"]["preview_url"], true);
    // A legacy user id that is a phone number goes to `to`.
    assert_eq!(body_json(&with_preview)["to"], "1");
}

#[test]
fn whatsapp_template_matches_the_documented_body() {
    let expected: Value =
        serde_json::from_str(fixture!("whatsapp/send_template_request_body.json")).unwrap();
    let template = Template {
        name: "Subscribe".into(),
        language: "en_US".into(),
        parameters: vec!["topic".into()],
    };
    let req = whatsapp::send_template(
        &whatsapp_config(),
        "12345678901",
        None,
        &template,
        &["newsletter".to_string()],
    )
    .unwrap();
    assert_eq!(body_json(&req), expected);

    // The SDK's full template object: same language object, same body text parameter shape.
    let sdk: Value =
        serde_json::from_str(fixture!("whatsapp/meta_sdk_doc_template_object.json")).unwrap();
    let ours = &body_json(&req)["template"];
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(keys(&ours["language"]), keys(&sdk["language"]));
    assert_eq!(ours["language"]["policy"], sdk["language"]["policy"]);
    let sdk_body = sdk["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "body")
        .unwrap();
    assert_eq!(
        keys(&ours["components"][0]["parameters"][0]),
        keys(&sdk_body["parameters"][0])
    );

    // A template without parameters has no components; a wrong count is the operator's error.
    let hello = Template {
        name: "hello_world".into(),
        language: "en_US".into(),
        parameters: vec![],
    };
    let req = whatsapp::send_template(&whatsapp_config(), "1", None, &hello, &[]).unwrap();
    assert!(body_json(&req)["template"].get("components").is_none());
    let err = whatsapp::send_template(&whatsapp_config(), "1", None, &template, &[]).unwrap_err();
    assert_eq!(err.status(), 422);
    let err = whatsapp::send_template(&whatsapp_config(), "1", None, &template, &[" ".into()])
        .unwrap_err();
    assert_eq!(err.status(), 422);
}

#[test]
fn whatsapp_customer_service_window_edges() {
    let last = 1_700_000_000_000;
    let day = 24 * 3_600_000;
    assert!(!whatsapp::may_send_free_text(None, last));
    assert!(whatsapp::may_send_free_text(Some(last), last));
    assert!(whatsapp::may_send_free_text(Some(last), last + day - 1));
    assert!(!whatsapp::may_send_free_text(Some(last), last + day));
    assert!(!whatsapp::may_send_free_text(Some(last), last + 2 * day));
    // A clock slightly behind the provider's does not close the window.
    assert!(whatsapp::may_send_free_text(Some(last), last - 5_000));
    assert_eq!(whatsapp::free_text_until(last), last + day);
    assert!(!whatsapp::may_send_free_text(Some(i64::MAX), i64::MAX));
}

#[test]
fn whatsapp_send_answers_and_media() {
    let ok = br#"{"messaging_product":"whatsapp","contacts":[{"input":"16505551234","wa_id":"16505551234"}],"messages":[{"id":"wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"}]}"#;
    assert_eq!(
        whatsapp::parse_send_response(200, ok)
            .unwrap()
            .message_id
            .as_deref(),
        Some("wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA")
    );
    let window = br#"{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."}}}"#;
    let err = whatsapp::parse_send_response(400, window).unwrap_err();
    assert_eq!(err.code, Some(131047));
    assert!(!err.retryable);
    assert!(err.message.contains("24 hours"));
    let throttled = br#"{"error":{"message":"Rate limit hit","code":130429}}"#;
    assert!(
        whatsapp::parse_send_response(400, throttled)
            .unwrap_err()
            .retryable
    );

    let req = whatsapp::media_request(&whatsapp_config(), "65463453");
    assert_eq!(req.url, "https://graph.facebook.com/v26.0/65463453");
    assert_eq!(
        req.header("authorization"),
        Some("Bearer test-access-token")
    );
    let url = whatsapp::parse_media_url(
        200,
        br#"{"messaging_product":"whatsapp","url":"https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=65463453","mime_type":"image/jpeg","id":"65463453"}"#,
    )
    .unwrap();
    let download = whatsapp::media_download_request(&whatsapp_config(), &url);
    assert_eq!(download.url, url);
    assert_eq!(
        download.header("Authorization"),
        Some("Bearer test-access-token")
    );
    assert!(whatsapp::parse_media_url(200, b"{}").is_err());
}

// ================================================================ VK

#[test]
fn vk_confirmation_is_answered_with_the_configured_string() {
    let cfg = vk_config();
    let cb = vk::parse(fixture!("vk/confirmation_request_with_secret.json").as_bytes()).unwrap();
    assert_eq!(cb.kind, "confirmation");
    assert_eq!(cb.event, Some(InboundEvent::Confirmation));
    assert_eq!(cb.group_id.as_deref(), Some("123456"));
    assert_eq!(cb.event_id, None);
    assert_eq!(vk::verify(&cfg, &cb), Ok(()));
    assert_eq!(vk::answer(&cfg, &cb), "d8v2ve07");

    // Without the secret Lobby requires, not even the handshake is answered.
    let bare = fixture!("vk/confirmation_request.json").as_bytes();
    let cb = vk::parse(bare).unwrap();
    assert_eq!(cb.event, Some(InboundEvent::Confirmation));
    assert_eq!(cb.secret, None);
    let err = vk::receive(&cfg, bare).unwrap_err();
    assert_eq!(err, HookError::Refused(VerifyError::MissingSecret));
    assert_eq!(err.status(), 401);
}

#[test]
fn vk_secret_and_community_are_checked() {
    let cfg = vk_config();
    let body = fixture!("vk/confirmation_request_with_secret.json");
    let wrong = body.replace("secret_123456", "secret_123457");
    let err = vk::receive(&cfg, wrong.as_bytes()).unwrap_err();
    assert_eq!(err, HookError::Refused(VerifyError::WrongSecret));
    assert_eq!(err.status(), 403);
    let shorter = body.replace("secret_123456", "secret_");
    assert_eq!(
        vk::receive(&cfg, shorter.as_bytes()),
        Err(HookError::Refused(VerifyError::WrongSecret))
    );
    let other = body.replace("123456,", "654321,");
    assert_eq!(
        vk::receive(&cfg, other.as_bytes()),
        Err(HookError::Refused(VerifyError::WrongCommunity))
    );
    // An empty configured secret accepts nothing.
    let unset = VkConfig {
        secret: String::new(),
        ..vk_config()
    };
    let empty = body.replace("secret_123456", "");
    assert_eq!(
        vk::receive(&unset, empty.as_bytes()),
        Err(HookError::Refused(VerifyError::WrongSecret))
    );
    // The secret never shows in logs.
    let cb = vk::parse(body.as_bytes()).unwrap();
    assert!(!format!("{cb:?}").contains("secret_123456"));
}

#[test]
fn vk_other_events_are_answered_ok_and_kept_out() {
    let cfg = VkConfig {
        community_id: "1".into(),
        ..vk_config()
    };
    let body = fixture!("vk/group_join_doc_example.json");
    let cb = vk::parse(body.as_bytes()).unwrap();
    assert_eq!(cb.kind, "group_join");
    assert_eq!(cb.event, None);
    assert_eq!(vk::answer(&cfg, &cb), "ok");
    let signed = body.replace(
        r#""group_id": 1"#,
        r#""group_id": 1, "secret": "secret_123456""#,
    );
    let cb = vk::receive(&cfg, signed.as_bytes()).unwrap();
    assert_eq!(vk::answer(&cfg, &cb), "ok");

    assert!(vk::parse(b"{}").is_err());
    assert!(vk::parse(b"ok").is_err());
}

#[test]
fn vk_message_new_in_the_current_shape_with_the_largest_photo() {
    let body = fixture!("vk/message_new_photo_attachment_v5103plus.json");
    let cb = vk::parse(body.as_bytes()).unwrap();
    assert_eq!(
        cb.event_id.as_deref(),
        Some("2bc491893831d3b0d801f2bc122af6697aa4369a")
    );
    let Some(InboundEvent::Message(m)) = &cb.event else {
        panic!("{cb:?}")
    };
    assert_eq!(
        m,
        &Inbound {
            channel: Channel::Vk,
            message_id: "2000000279_241661".into(),
            user_id: "2000000279".into(),
            display_name: None,
            phone: None,
            text: "Чувак могёт ракетами кидаться".into(),
            payload: None,
            attachments: vec![Attachment {
                kind: AttachmentKind::Image,
                // The `w` size, 945×2048, the largest of the ten.
                url: Some(
                    "https://sun9-3.userapi.com/c857236/v857236595/124a59/nJXapHnUbeo.jpg".into()
                ),
                media_id: None,
                mime_type: None,
                name: None,
            }],
            reply_to: None,
            account: Some("183287114".into()),
            at: Some(1_584_566_394_000),
        }
    );
    let cfg = VkConfig {
        community_id: "183287114".into(),
        ..vk_config()
    };
    // The fixture carries no secret: refused as it is, accepted once it carries ours.
    assert!(vk::receive(&cfg, body.as_bytes()).is_err());
    let signed = body.replace(
        r#""group_id":183287114"#,
        r#""group_id":183287114,"secret":"secret_123456""#,
    );
    let cb = vk::receive(&cfg, signed.as_bytes()).unwrap();
    assert!(matches!(cb.event, Some(InboundEvent::Message(_))));
    assert_eq!(vk::answer(&cfg, &cb), "ok");
}

#[test]
fn vk_message_new_in_the_legacy_shape() {
    // The fixture is a chat service notice (a user was removed): nothing a client wrote.
    let body = fixture!("vk/message_new_legacy_pre5103_vksdk.json");
    let cb = vk::parse(body.as_bytes()).unwrap();
    assert_eq!(cb.kind, "message_new");
    assert_eq!(cb.event, None);
    // The same legacy shape carrying text is a message.
    let mut v: Value = serde_json::from_str(body).unwrap();
    v["object"].as_object_mut().unwrap().remove("action");
    v["object"]["text"] = json!("Здравствуйте! 🙂");
    let cb = vk::parse(&serde_json::to_vec(&v).unwrap()).unwrap();
    let Some(InboundEvent::Message(m)) = &cb.event else {
        panic!("{cb:?}")
    };
    assert_eq!(m.message_id, "2000000001_147826");
    assert_eq!(m.user_id, "2000000001");
    assert_eq!(m.text, "Здравствуйте! 🙂");
    assert_eq!(m.at, Some(1_558_100_846_000));
    // The community's own outgoing message is not the client's.
    v["object"]["out"] = json!(1);
    assert_eq!(
        vk::parse(&serde_json::to_vec(&v).unwrap()).unwrap().event,
        None
    );
}

/// The documented form body that follows `POST …/method/<name>`.
fn vk_documented_form(doc: &str, starts: &str) -> Vec<(String, String)> {
    decode_form(doc.lines().find(|l| l.starts_with(starts)).unwrap())
}

#[test]
fn vk_messages_send_matches_the_documentation() {
    let doc = fixture!("vk/messages_send_request.txt");
    let cfg = VkConfig {
        access_token: "<COMMUNITY_TOKEN>".into(),
        ..vk_config()
    };
    let req = vk::send_text(&cfg, "228970688", "Hello World!", 1_234_567_890);
    assert_eq!(req.method, Method::Post);
    assert_eq!(req.url, "https://api.vk.com/method/messages.send");
    assert!(doc.contains(&format!("POST {}", req.url)));
    assert_eq!(
        req.header("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
    let ours = decode_form(std::str::from_utf8(&req.body).unwrap());
    assert_eq!(ours, vk_documented_form(doc, "peer_id="));
    assert_eq!(
        ours,
        pairs(&[
            ("peer_id", "228970688"),
            ("random_id", "1234567890"),
            ("message", "Hello World!"),
            ("access_token", "<COMMUNITY_TOKEN>"),
            ("v", "5.199"),
        ])
    );
    // Text with '&', '=', '+', newlines and emoji survives the form encoding.
    let tricky = "a&b=c+d\n😀 100%";
    let req = vk::send_text(&cfg, "1", tricky, 7);
    let sent = decode_form(std::str::from_utf8(&req.body).unwrap());
    assert_eq!(query_value(&sent, "message").as_deref(), Some(tricky));

    // Every parameter we send is one `messages.send` declares in VK's own API schema.
    let schema: Value =
        serde_json::from_str(fixture!("vk/vkcom_vk-api-schema_messages_methods.json")).unwrap();
    let send = schema["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "messages.send")
        .unwrap();
    let declared: Vec<&str> = send["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for (name, _) in &ours {
        if name != "access_token" && name != "v" {
            assert!(declared.contains(&name.as_str()), "{name}");
        }
    }
}

#[test]
fn vk_random_id_is_stable_per_outgoing_message() {
    let a = vk::random_id("acme/msg_0001");
    assert_eq!(a, vk::random_id("acme/msg_0001"));
    assert_ne!(a, vk::random_id("acme/msg_0002"));
    for i in 0..1000 {
        assert!(vk::random_id(&format!("k{i}")) > 0);
    }
}

#[test]
fn vk_users_get_request_and_answer() {
    let doc = fixture!("vk/messages_send_request.txt");
    let cfg = VkConfig {
        access_token: "<COMMUNITY_TOKEN>".into(),
        ..vk_config()
    };
    let req = vk::users_get_request(&cfg, "228970688").unwrap();
    assert_eq!(req.url, "https://api.vk.com/method/users.get");
    assert_eq!(
        decode_form(std::str::from_utf8(&req.body).unwrap()),
        vk_documented_form(doc, "user_ids=")
    );
    // A chat has no user to look up.
    assert_eq!(vk::users_get_request(&cfg, "2000000279"), None);
    assert_eq!(vk::users_get_request(&cfg, "-1"), None);

    let answer = r#"{"response":[{"id":228970688,"first_name":"Иван","last_name":"Петров","can_access_closed":true,"is_closed":false,"photo_100":"https://sun9-1.userapi.com/p.jpg"}]}"#;
    let profile = vk::parse_users_get(200, answer.as_bytes()).unwrap();
    assert_eq!(profile.name.as_deref(), Some("Иван Петров"));
    assert_eq!(
        profile.avatar_url.as_deref(),
        Some("https://sun9-1.userapi.com/p.jpg")
    );
    assert_eq!(
        vk::parse_users_get(200, br#"{"response":[]}"#)
            .unwrap()
            .name,
        None
    );
    let err = vk::parse_users_get(
        200,
        br#"{"error":{"error_code":5,"error_msg":"User authorization failed"}}"#,
    )
    .unwrap_err();
    assert_eq!(err.code, Some(5));
    assert!(!err.retryable);
}

#[test]
fn vk_send_answers_are_classified_for_the_outbox() {
    assert_eq!(
        vk::parse_send_response(200, br#"{"response":4512}"#)
            .unwrap()
            .message_id
            .as_deref(),
        Some("4512")
    );
    let many = br#"{"response":[{"peer_id":1,"message_id":77,"conversation_message_id":3}]}"#;
    assert_eq!(
        vk::parse_send_response(200, many)
            .unwrap()
            .message_id
            .as_deref(),
        Some("77")
    );
    let flood = br#"{"error":{"error_code":9,"error_msg":"Flood control"}}"#;
    assert!(vk::parse_send_response(200, flood).unwrap_err().retryable);
    let denied = br#"{"error":{"error_code":901,"error_msg":"Can't send messages for users without permission"}}"#;
    let err = vk::parse_send_response(200, denied).unwrap_err();
    assert!(!err.retryable);
    assert_eq!(
        err.message,
        "Can't send messages for users without permission"
    );
    assert!(
        vk::parse_send_response(502, b"Bad Gateway")
            .unwrap_err()
            .retryable
    );
}

// ================================================================ configuration

#[test]
fn configs_read_the_admin_json_and_never_show_secrets() {
    let cfg: VkConfig = serde_json::from_value(json!({
        "community_id": 183287114, "confirmation": "d8v2ve07", "secret": "s3cr3t-key",
        "access_token": "vk1.a.token", "group": "sales"
    }))
    .unwrap();
    assert_eq!(cfg.community_id, "183287114");
    assert_eq!(cfg.api_base(), vk::DEFAULT_API_BASE);
    assert!(cfg.validate().is_ok());
    let public = serde_json::to_string(&cfg.public()).unwrap();
    let debug = format!("{cfg:?}");
    for secret in ["s3cr3t-key", "vk1.a.token"] {
        assert!(!public.contains(secret));
        assert!(!debug.contains(secret));
    }
    assert_eq!(
        serde_json::to_value(cfg.public()).unwrap(),
        json!({"community_id": "183287114", "group": "sales"})
    );

    let m: MessengerConfig = serde_json::from_value(json!({
        "page_id": "404217156637689", "app_secret": "app-s", "verify_token": "verify-s",
        "page_access_token": "page-t", "group": "support", "api_base": "http://localhost:8788/"
    }))
    .unwrap();
    assert_eq!(m.api_base(), "http://localhost:8788");
    let public = serde_json::to_value(m.public()).unwrap();
    assert_eq!(
        public,
        json!({"page_id": "404217156637689", "group": "support", "api_base": "http://localhost:8788/"})
    );
    assert!(!format!("{m:?}").contains("app-s"));

    let w = whatsapp_config();
    assert_eq!(
        serde_json::to_value(w.public()).unwrap(),
        json!({"phone_number_id": "1122334455667", "group": "support"})
    );
    assert!(!format!("{w:?}").contains(TOKEN));

    let missing = WhatsappConfig {
        access_token: " ".into(),
        ..whatsapp_config()
    };
    assert_eq!(missing.validate().unwrap_err().status(), 422);
    let bad_base = WhatsappConfig {
        api_base: Some("graph.facebook.com".into()),
        ..whatsapp_config()
    };
    assert!(bad_base.validate().is_err());
    assert!(serde_json::from_value::<MessengerConfig>(json!({"page_id": "1"})).is_err());
}

// ================================================================ no input makes a parser panic

/// Arbitrary JSON whose object keys are the providers' own, so that random values reach deep
/// into the parsers instead of being skipped at the top.
fn provider_json() -> impl Strategy<Value = Value> {
    const KEYS: &[&str] = &[
        "object",
        "entry",
        "id",
        "time",
        "messaging",
        "changes",
        "field",
        "value",
        "sender",
        "recipient",
        "timestamp",
        "message",
        "mid",
        "text",
        "attachments",
        "type",
        "payload",
        "url",
        "quick_reply",
        "reply_to",
        "postback",
        "title",
        "delivery",
        "read",
        "mids",
        "watermark",
        "is_echo",
        "coordinates",
        "lat",
        "long",
        "sticker_id",
        "user_ref",
        "metadata",
        "phone_number_id",
        "contacts",
        "profile",
        "name",
        "username",
        "wa_id",
        "user_id",
        "from",
        "from_user_id",
        "messages",
        "statuses",
        "status",
        "recipient_id",
        "recipient_user_id",
        "errors",
        "code",
        "error_data",
        "details",
        "context",
        "body",
        "image",
        "video",
        "audio",
        "document",
        "sticker",
        "caption",
        "mime_type",
        "filename",
        "interactive",
        "button_reply",
        "list_reply",
        "button",
        "location",
        "latitude",
        "longitude",
        "address",
        "phones",
        "phone",
        "formatted_name",
        "group_id",
        "event_id",
        "secret",
        "peer_id",
        "from_id",
        "out",
        "action",
        "conversation_message_id",
        "date",
        "photo",
        "sizes",
        "width",
        "height",
        "doc",
        "reply_message",
        "response",
        "error",
        "error_code",
        "error_msg",
        "first_name",
        "last_name",
        "profile_pic",
        "photo_100",
        "is_transient",
        "message_id",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::from),
        prop::sample::select(KEYS).prop_map(Value::from),
        prop::sample::select(
            &[
                "page",
                "whatsapp_business_account",
                "messages",
                "message_new",
                "confirmation",
                "text",
                "image",
                "photo",
                "interactive",
                "button_reply",
                "failed",
                "1697043223",
                "subscribe"
            ][..]
        )
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..8).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

/// Runs every parser of every channel on `body`; they may refuse it, never panic.
fn parse_everything(body: &[u8]) {
    let _ = messenger::parse(body);
    let _ = whatsapp::parse(body);
    let _ = vk::parse(body);
    let _ = vk::receive(&vk_config(), body);
    for status in [200, 400, 500] {
        let _ = messenger::parse_send_response(status, body);
        let _ = messenger::parse_user_profile(status, body);
        let _ = whatsapp::parse_send_response(status, body);
        let _ = whatsapp::parse_media_url(status, body);
        let _ = vk::parse_send_response(status, body);
        let _ = vk::parse_users_get(status, body);
    }
}

/// Every fixture body a webhook can receive, as JSON, for mutation.
fn webhook_fixtures() -> Vec<Value> {
    let messenger_items = [
        fixture!("messenger/bottender_messaging_image.json"),
        fixture!("messenger/bottender_messaging_postback.json"),
        fixture!("messenger/meta_doc_message_deliveries.json"),
        fixture!("messenger/meta_doc_message_reads.json"),
        fixture!("messenger/meta_doc_messages_reply_to.json"),
        fixture!("messenger/meta_doc_messages_text_quick_reply.json"),
    ];
    let whole = [
        fixture!("whatsapp/inbound_text.json"),
        fixture!("whatsapp/inbound_image.json"),
        fixture!("whatsapp/inbound_interactive_button_reply.json"),
        fixture!("whatsapp/inbound_interactive_list_reply.json"),
        fixture!("whatsapp/inbound_template_quick_reply_button.json"),
        fixture!("whatsapp/status_failed.json"),
        fixture!("whatsapp/status_sent.json"),
        fixture!("vk/message_new_photo_attachment_v5103plus.json"),
        fixture!("vk/message_new_legacy_pre5103_vksdk.json"),
        fixture!("vk/confirmation_request_with_secret.json"),
    ];
    messenger_items
        .iter()
        .map(|i| serde_json::from_slice(&page_delivery(i)).unwrap())
        .chain(whole.iter().map(|b| serde_json::from_str(b).unwrap()))
        .collect()
}

/// Every JSON pointer into `v`.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                pointers(
                    child,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

proptest! {
    #[test]
    fn random_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        parse_everything(&body);
        let text = String::from_utf8_lossy(&body);
        let _ = decode_form(&text);
        let _ = messenger::verify_subscription(&messenger_config(), &text);
        let _ = whatsapp::verify_signature(&whatsapp_config(), Some(&text), &body);
    }

    #[test]
    fn random_json_never_panics(v in provider_json()) {
        let shapes = [
            v.clone(),
            json!({"object": "page", "entry": [{"id": "1", "messaging": [v.clone()], "changes": [{"value": v.clone()}]}]}),
            json!({"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": v.clone()}]}]}),
            json!({"type": "message_new", "group_id": 123456, "secret": "secret_123456", "object": v.clone()}),
            json!({"type": "message_new", "object": {"message": v.clone()}}),
            json!({"response": v.clone(), "error": v.clone()}),
        ];
        for body in shapes {
            parse_everything(&serde_json::to_vec(&body).unwrap());
        }
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        replacement in provider_json(),
    ) {
        let fixtures = webhook_fixtures();
        let mut v = which.get(&fixtures).clone();
        let mut paths = Vec::new();
        pointers(&v, String::new(), &mut paths);
        let path = at.get(&paths).clone();
        if let Some(slot) = v.pointer_mut(&path) {
            *slot = replacement;
        }
        parse_everything(&serde_json::to_vec(&v).unwrap());
    }
}
