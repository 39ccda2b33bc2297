//! Messaging channels end to end against `wrangler dev` (or the Spin host): an admin configures Messenger, WhatsApp
//! and VK with `api_base` pointing at a fake provider that runs in this test process (a plain
//! HTTP server on 127.0.0.1 that records every request Lobby makes and answers as the provider
//! documents); webhook deliveries built from the providers' documented payloads, signed as the
//! provider signs them, drive entry → queue → accept → the operator's reply delivered to the
//! provider → the user's next message in the same session. Forged, unsigned, replayed and
//! malformed deliveries are refused or de-duplicated with nothing changed; a failed send is
//! retried (by the Durable Object's alarm; on Spin, by the open event stream of an operator at
//! work), also across a crash of the server, with the same VK `random_id`. The same runs on the
//! Spin host (LOBBY_E2E_RUNTIME=spin).

// The signed deliveries are built by the same helpers as the core's channel tests.
#[path = "../../../functions/core/tests/support/deliveries.rs"]
mod deliveries;

use std::time::Duration;

use deliveries::{
    fixture, messenger_text, sign, vk_message, whatsapp_text, PAGE_ID, PSID, VK_PEER,
};
use lobby_e2e::fake::*;
use lobby_e2e::*;
use lobby_wire::{EntryKind, Message, OperatorEvent, Party};
use serde_json::{json, Value};

const APP_SECRET: &str = "e2e-meta-app-secret";
const WA_PHONE_ID: &str = "1122334455667";
const VK_GROUP: i64 = 183287114;
const VK_SECRET: &str = "e2e-vk-secret";

// ---------------------------------------------------------------- the fake provider

/// What each provider answers to a successful call, from its documentation.
fn documented_success(r: &Recorded) -> Answer {
    let path = r.path();
    let body = if path.ends_with("/method/messages.send") {
        json!({"response": 4242})
    } else if path.ends_with("/method/users.get") {
        json!({"response": [{"id": VK_PEER, "first_name": "Pavel", "last_name": "Durov",
                             "photo_100": "https://vk.example/p.jpg"}]})
    } else if path.ends_with(&format!("/{WA_PHONE_ID}/messages")) {
        json!({"messaging_product": "whatsapp",
               "contacts": [{"input": "972987654321", "wa_id": "972987654321"}],
               "messages": [{"id": "wamid.xyzxyz"}]})
    } else if path.ends_with(&format!("/{PAGE_ID}/messages")) {
        json!({"recipient_id": PSID, "message_id": "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P"})
    } else if path.ends_with(&format!("/{PSID}")) {
        json!({"first_name": "Peter", "last_name": "Chang",
               "profile_pic": "https://fb.example/p.jpg", "id": PSID})
    } else {
        return (
            404,
            json!({"error": {"message": "unknown path", "code": 803}}).to_string(),
        );
    };
    (200, body.to_string())
}

// ---------------------------------------------------------------- deliveries

fn hook(server: &Server, slug: &str, channel: &str, body: &[u8], signature: Option<&str>) -> Resp {
    let mut call = server
        .post(&format!("/hooks/{slug}/{channel}"))
        .raw(body.to_vec());
    if let Some(s) = signature {
        call = call.header("X-Hub-Signature-256", s);
    }
    call.send()
}

fn signed(server: &Server, slug: &str, channel: &str, body: &[u8]) -> Resp {
    hook(server, slug, channel, body, Some(&sign(APP_SECRET, body)))
}

// ---------------------------------------------------------------- helpers

fn configure(server: &Server, token: &str, channel: &str, body: Value) -> Resp {
    server
        .put(&format!("/api/v1/channels/{channel}"))
        .auth(token)
        .json(&body)
        .send()
}

fn channel_clients(server: &Server, token: &str, entry: EntryKind) -> Vec<lobby_wire::QueueItem> {
    server
        .queue(token)
        .into_iter()
        .filter(|c| c.entry == entry)
        .collect()
}

/// Waits until the admin's view of `channel` owes its provider nothing: every call Lobby stored
/// has been settled by the provider's answer (sent, or given up), so none is still to be made.
/// What the fake provider has recorded by then is all it will ever get for those calls.
fn wait_settled(server: &Server, admin: &str, channel: &str) {
    wait_within(
        Duration::from_secs(90),
        "nothing owed to the provider",
        || {
            let v: Value = server
                .get(&format!("/api/v1/channels/{channel}"))
                .auth(admin)
                .send()
                .ok(200);
            (v["owed"] == 0).then_some(())
        },
    );
}

fn texts(messages: &[Message]) -> Vec<(Party, String)> {
    messages.iter().map(|m| (m.from, m.text.clone())).collect()
}

// ================================================================ tests

#[test]
fn whatsapp_entry_queue_accept_reply_status_and_the_next_message() {
    let server = shared();
    let desk = server.desk("wa", &["Ann"], 3);
    let (slug, admin, ann) = (&desk.tenant.slug, &desk.tenant.admin.token, &desk.ops[0]);
    let fake = FakeProvider::start(documented_success);

    let config = json!({"phone_number_id": WA_PHONE_ID, "app_secret": APP_SECRET,
        "verify_token": "wa-verify-e2e", "access_token": "wa-access-e2e", "group": desk.group,
        "api_base": fake.base});
    let put = configure(server, admin, "whatsapp", config).expect(200);
    let shown = server
        .get("/api/v1/channels/whatsapp")
        .auth(admin)
        .send()
        .expect(200);
    for r in [&put, &shown] {
        assert!(
            !r.body.contains(APP_SECRET)
                && !r.body.contains("wa-access-e2e")
                && !r.body.contains("wa-verify-e2e"),
            "a secret is shown: {}",
            r.body
        );
        let v = r.value();
        assert_eq!(v["phone_number_id"], WA_PHONE_ID);
        assert_eq!(v["group"], json!(desk.group));
        assert_eq!(v["webhook"], format!("/hooks/{slug}/whatsapp"));
    }

    // Meta's verification handshake.
    let ok = server
        .get(&format!("/hooks/{slug}/whatsapp?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=wa-verify-e2e"))
        .send()
        .expect(200);
    assert_eq!(ok.body, "1158201444");
    server
        .get(&format!("/hooks/{slug}/whatsapp?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=wrong"))
        .send()
        .expect_error(403, "forbidden");

    let (mut ws, _) = server.operator_ws(&ann.token, None);
    let first = whatsapp_text("wamid.E2E.1", "Hello, my order is late");
    let r = signed(server, slug, "whatsapp", &first).expect(200);
    assert_eq!(r.body, "ok");
    let waiting: OperatorEvent = ws.wait_for("the WhatsApp client waiting", |e| {
        matches!(e, OperatorEvent::ClientWaiting { .. })
    });
    let OperatorEvent::ClientWaiting { client: row, .. } = waiting else {
        unreachable!()
    };
    assert_eq!(row.entry, EntryKind::Whatsapp);
    assert_eq!(row.channel, "whatsapp");
    assert_eq!(row.name.as_deref(), Some("Test Name"));
    assert_eq!(row.group.as_deref(), Some(desk.group.as_str()));

    // Meta retries the delivery: no second client, no second message.
    signed(server, slug, "whatsapp", &first).expect(200);
    let queue = channel_clients(server, &ann.token, EntryKind::Whatsapp);
    assert_eq!(queue.len(), 1);
    let preview: Value = server
        .get(&format!("/api/v1/clients/{}/preview", row.id))
        .auth(&ann.token)
        .send()
        .ok(200);
    assert_eq!(preview["messages"].as_array().unwrap().len(), 1);

    let session = server.accept_ok(&ann.token, &row.id);
    assert_eq!(session, row.session);
    let seq = server.post_message(&ann.token, &session, "Sorry! Let me check.");
    let sent = fake.wait_for(&format!("/v26.0/{WA_PHONE_ID}/messages"), 0);
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.header("Authorization"), Some("Bearer wa-access-e2e"));
    assert!(sent
        .header("Content-Type")
        .unwrap_or_default()
        .starts_with("application/json"));
    assert_eq!(
        sent.json(),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual",
               "to": "972987654321", "type": "text",
               "text": {"preview_url": false, "body": "Sorry! Let me check."}})
    );

    // Meta reports the message delivered, then read.
    signed(
        server,
        slug,
        "whatsapp",
        fixture!("whatsapp/status_delivered.json").as_bytes(),
    )
    .expect(200);
    let delivery = |server: &Server| {
        server
            .messages(&ann.token, &session, 0)
            .into_iter()
            .find(|m| m.seq == seq)
            .and_then(|m| m.delivery)
    };
    assert_eq!(delivery(server).as_deref(), Some("delivered"));
    signed(
        server,
        slug,
        "whatsapp",
        fixture!("whatsapp/status_read.json").as_bytes(),
    )
    .expect(200);
    assert_eq!(delivery(server).as_deref(), Some("read"));

    // The user's next message joins the same session, live on the operator's stream.
    signed(
        server,
        slug,
        "whatsapp",
        &whatsapp_text("wamid.E2E.2", "Thank you"),
    )
    .expect(200);
    ws.wait_for("the user's next message", |e: &OperatorEvent| {
        op_message_is(e, "Thank you")
    });
    assert_eq!(
        texts(&server.messages(&ann.token, &session, 0)),
        vec![
            (Party::Client, "Hello, my order is late".to_string()),
            (Party::Operator, "Sorry! Let me check.".to_string()),
            (Party::Client, "Thank you".to_string()),
        ]
    );
    assert_eq!(fake.count("/messages"), 1, "{:?}", fake.requests());
}

#[test]
fn forged_unsigned_replayed_and_malformed_deliveries_change_nothing() {
    let server = shared();
    let desk = server.desk("forge", &["Ann"], 3);
    let (slug, admin, ann) = (&desk.tenant.slug, &desk.tenant.admin.token, &desk.ops[0]);
    let fake = FakeProvider::start(documented_success);
    configure(
        server,
        admin,
        "whatsapp",
        json!({"phone_number_id": WA_PHONE_ID,
        "app_secret": APP_SECRET, "verify_token": "v", "access_token": "t",
        "group": desk.group, "api_base": fake.base}),
    )
    .expect(200);
    configure(
        server,
        admin,
        "vk",
        json!({"community_id": VK_GROUP, "confirmation": "d8v2ve07",
        "secret": VK_SECRET, "access_token": "vk-t", "group": desk.group, "api_base": fake.base}),
    )
    .expect(200);

    let body = whatsapp_text("wamid.FORGE.1", "let me in");
    hook(server, slug, "whatsapp", &body, None).expect_error(401, "unauthorized");
    hook(
        server,
        slug,
        "whatsapp",
        &body,
        Some(&sign("not the app secret", &body)),
    )
    .expect_error(403, "forbidden");
    hook(server, slug, "whatsapp", &body, Some("sha256=zz")).expect_error(400, "bad_request");
    // Signed, but the bytes changed on the way.
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    hook(
        server,
        slug,
        "whatsapp",
        &tampered,
        Some(&sign(APP_SECRET, &body)),
    )
    .expect_error(403, "forbidden");
    signed(server, slug, "whatsapp", b"{\"object\":").expect_error(400, "invalid_json");
    hook(
        server,
        slug,
        "vk",
        &vk_message("ev-forge", 1, "hi", "wrong secret"),
        None,
    )
    .expect_error(403, "forbidden");
    hook(server, slug, "vk", b"not json", None).expect_4xx();
    // Unknown channel, unconfigured channel, unknown tenant.
    server
        .post(&format!("/hooks/{slug}/telegram"))
        .raw("{}")
        .send()
        .expect_error(404, "not_found");
    signed(server, slug, "messenger", &messenger_text("m_x", "hi")).expect_error(404, "not_found");
    signed(server, "no-such-tenant-e2e", "whatsapp", &body).expect_error(404, "not_found");
    assert!(
        server.queue(&ann.token).is_empty(),
        "a refused delivery made a client"
    );

    // A real VK delivery, then its retry: one client, one message.
    let vk = vk_message("ev-real-1", 11, "Привет", VK_SECRET);
    assert_eq!(hook(server, slug, "vk", &vk, None).expect(200).body, "ok");
    assert_eq!(hook(server, slug, "vk", &vk, None).expect(200).body, "ok");
    let q = server.queue(&ann.token);
    assert_eq!(q.len(), 1);
    let preview: Value = server
        .get(&format!("/api/v1/clients/{}/preview", q[0].id))
        .auth(&ann.token)
        .send()
        .ok(200);
    assert_eq!(
        preview["messages"].as_array().unwrap().len(),
        1,
        "{preview}"
    );
    // One client, so one profile lookup (made by the alarm, after the answer); once it is
    // settled nothing more is owed, so the retried delivery queued no second one.
    fake.wait_for("/method/users.get", 0);
    wait_settled(server, admin, "vk");
    assert_eq!(fake.count("/method/users.get"), 1);
}

#[test]
fn messenger_names_the_client_from_its_profile_and_a_refused_reply_is_shown() {
    let server = shared();
    let desk = server.desk("fb", &["Ann"], 3);
    let (slug, admin, ann) = (&desk.tenant.slug, &desk.tenant.admin.token, &desk.ops[0]);
    let fake = FakeProvider::start(documented_success);
    configure(
        server,
        admin,
        "messenger",
        json!({"page_id": PAGE_ID, "app_secret": APP_SECRET,
        "verify_token": "fb-verify", "page_access_token": "fb-page-token", "group": desk.group,
        "api_base": fake.base}),
    )
    .expect(200);

    let (mut ws, _) = server.operator_ws(&ann.token, None);
    signed(
        server,
        slug,
        "messenger",
        &messenger_text("m_e2e_1", "hello, world!"),
    )
    .expect(200);
    // Shown by its id first, then by the name the profile lookup found.
    ws.wait_for("the Messenger client by its id", |e: &OperatorEvent| {
        matches!(e, OperatorEvent::ClientWaiting { client, .. } if client.name.as_deref() == Some(PSID))
    });
    ws.wait_for("the Messenger client renamed", |e: &OperatorEvent| {
        matches!(e, OperatorEvent::ClientWaiting { client, .. } if client.name.as_deref() == Some("Peter Chang"))
    });
    let lookup = fake.wait_for(&format!("/v25.0/{PSID}"), 0);
    assert_eq!(lookup.method, "GET");
    let q = lookup.query();
    assert_eq!(get(&q, "fields"), Some("first_name,last_name,profile_pic"));
    assert_eq!(get(&q, "access_token"), Some("fb-page-token"));
    let proof = get(&q, "appsecret_proof").unwrap().to_string();
    assert_eq!(
        proof,
        sign(APP_SECRET, b"fb-page-token").trim_start_matches("sha256=")
    );
    let row = wait_until("the client named from its profile", || {
        channel_clients(server, &ann.token, EntryKind::Messenger)
            .into_iter()
            .find(|c| c.name.as_deref() == Some("Peter Chang"))
    });

    let session = server.accept_ok(&ann.token, &row.id);
    server.post_message(&ann.token, &session, "Hi Peter, how can we help?");
    let sent = fake.wait_for(&format!("/v25.0/{PAGE_ID}/messages"), 0);
    assert_eq!(sent.method, "POST");
    let q = sent.query();
    assert_eq!(get(&q, "access_token"), Some("fb-page-token"));
    assert_eq!(get(&q, "appsecret_proof"), Some(proof.as_str()));
    assert_eq!(
        sent.json(),
        json!({"recipient": {"id": PSID}, "messaging_type": "RESPONSE",
               "message": {"text": "Hi Peter, how can we help?"}})
    );

    // The user's next message joins the session.
    signed(
        server,
        slug,
        "messenger",
        &messenger_text("m_e2e_2", "I need a refund"),
    )
    .expect(200);
    wait_until("the user's next message", || {
        server
            .messages(&ann.token, &session, 0)
            .iter()
            .any(|m| m.text == "I need a refund")
            .then_some(())
    });

    // Meta refuses the next reply for good: the operator reads why in the conversation.
    fake.script((
        400,
        json!({"error": {"message": "(#551) This person isn't available right now.",
                         "type": "OAuthException", "code": 551}})
        .to_string(),
    ));
    server.post_message(&ann.token, &session, "Are you still there?");
    fake.wait_for(&format!("/v25.0/{PAGE_ID}/messages"), 1);
    let notice = wait_until("the failure shown to the operator", || {
        server
            .messages(&ann.token, &session, 0)
            .into_iter()
            .find(|m| m.from == Party::System)
    });
    assert!(
        notice.text.contains("could not be delivered on Messenger")
            && notice.text.contains("isn't available"),
        "{}",
        notice.text
    );
    // Not retried: a refusal no retry can fix leaves nothing owed.
    wait_settled(server, admin, "messenger");
    assert_eq!(fake.count(&format!("/v25.0/{PAGE_ID}/messages")), 2);
}

#[test]
fn vk_confirmation_entry_reply_with_random_id_and_redirect() {
    let server = shared();
    let desk = server.desk("vk", &["Ann", "Bob"], 3);
    let (slug, admin) = (&desk.tenant.slug, &desk.tenant.admin.token);
    let (ann, bob) = (&desk.ops[0], &desk.ops[1]);
    let fake = FakeProvider::start(documented_success);
    configure(
        server,
        admin,
        "vk",
        json!({"community_id": VK_GROUP.to_string(),
        "confirmation": "d8v2ve07", "secret": VK_SECRET, "access_token": "vk-access-e2e",
        "group": desk.group, "api_base": fake.base}),
    )
    .expect(200);

    let mut confirm: Value =
        serde_json::from_str(fixture!("vk/confirmation_request.json")).unwrap();
    confirm["group_id"] = json!(VK_GROUP);
    confirm["secret"] = json!(VK_SECRET);
    let r = hook(
        server,
        slug,
        "vk",
        &serde_json::to_vec(&confirm).unwrap(),
        None,
    )
    .expect(200);
    assert_eq!(r.body, "d8v2ve07");

    assert_eq!(
        hook(
            server,
            slug,
            "vk",
            &vk_message("ev-1", 21, "Здравствуйте", VK_SECRET),
            None
        )
        .expect(200)
        .body,
        "ok"
    );
    let lookup = fake.wait_for("/method/users.get", 0);
    let form = lookup.form();
    assert_eq!(get(&form, "user_ids"), Some(VK_PEER.to_string().as_str()));
    assert_eq!(get(&form, "access_token"), Some("vk-access-e2e"));
    let row = wait_until("the VK client named", || {
        channel_clients(server, &ann.token, EntryKind::Vk)
            .into_iter()
            .find(|c| c.name.as_deref() == Some("Pavel Durov"))
    });
    let session = server.accept_ok(&ann.token, &row.id);
    server.post_message(&ann.token, &session, "Чем могу помочь?");
    let sent = fake.wait_for("/method/messages.send", 0);
    assert_eq!(sent.method, "POST");
    assert_eq!(
        sent.header("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
    let form = sent.form();
    assert_eq!(get(&form, "peer_id"), Some(VK_PEER.to_string().as_str()));
    assert_eq!(get(&form, "message"), Some("Чем могу помочь?"));
    assert_eq!(get(&form, "v"), Some("5.199"));
    assert_eq!(get(&form, "access_token"), Some("vk-access-e2e"));
    let random_id: i64 = get(&form, "random_id").unwrap().parse().unwrap();
    assert!(random_id > 0);

    // Redirected to Bob: the user's next message lands in the same session, which Bob serves.
    server
        .redirect(&ann.token, &row.id, &json!({"operator": bob.id}))
        .expect(200);
    let session_b = server.accept_ok(&bob.token, &row.id);
    assert_eq!(session_b, session);
    hook(
        server,
        slug,
        "vk",
        &vk_message("ev-2", 22, "Спасибо", VK_SECRET),
        None,
    )
    .expect(200);
    let msgs = server.messages(&bob.token, &session, 0);
    assert_eq!(
        texts(&msgs)
            .into_iter()
            .filter(|(p, _)| *p != Party::System)
            .collect::<Vec<_>>(),
        vec![
            (Party::Client, "Здравствуйте".to_string()),
            (Party::Operator, "Чем могу помочь?".to_string()),
            (Party::Client, "Спасибо".to_string()),
        ]
    );
    assert_eq!(
        msgs[0].attachments.len(),
        1,
        "the photo of the first message"
    );
    // Bob's reply goes out with another random_id.
    server.post_message(&bob.token, &session, "Пожалуйста!");
    let second = fake.wait_for("/method/messages.send", 1);
    let other: i64 = get(&second.form(), "random_id").unwrap().parse().unwrap();
    assert_ne!(other, random_id);
}

#[test]
fn channel_configuration_is_validated_and_admin_only() {
    // The configuration routes are plain API routes: both runtimes serve them.
    let server = shared();
    let desk = server.desk("cfg", &["Ann"], 3);
    let (admin, ann) = (&desk.tenant.admin.token, &desk.ops[0]);
    let good = json!({"community_id": "123", "confirmation": "c", "secret": "s",
        "access_token": "t", "group": desk.group});
    configure(server, &ann.token, "vk", good.clone()).expect_error(403, "forbidden");
    configure(server, admin, "telegram", good.clone()).expect_error(404, "not_found");
    server
        .put("/api/v1/channels/vk")
        .auth(admin)
        .raw("{nope")
        .send()
        .expect_error(400, "invalid_json");
    for (field, value, status) in [
        ("secret", json!(""), 422),
        ("access_token", Value::Null, 422),
        ("group", json!("g_nope"), 404),
        ("api_base", json!("file:///etc/passwd"), 422),
    ] {
        let mut b = good.clone();
        b[field] = value;
        configure(server, admin, "vk", b).expect_error_in(&[status]);
    }
    server
        .get("/api/v1/channels/vk")
        .auth(admin)
        .send()
        .expect_error(404, "not_found");
    configure(server, admin, "vk", good).expect(200);
    let list: Value = server.get("/api/v1/channels").auth(admin).send().ok(200);
    let channels = list["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 1);
    assert_eq!(channels[0]["channel"], "vk");
    assert!(channels[0].get("secret").is_none() && channels[0].get("access_token").is_none());
}

#[test]
fn a_send_the_provider_fails_is_retried_by_the_alarm_with_the_same_random_id() {
    let server = shared();
    let desk = server.desk("retry", &["Ann"], 3);
    let (slug, admin, ann) = (&desk.tenant.slug, &desk.tenant.admin.token, &desk.ops[0]);
    let fake = FakeProvider::start(documented_success);
    configure(
        server,
        admin,
        "vk",
        json!({"community_id": VK_GROUP, "confirmation": "c", "secret": VK_SECRET,
               "access_token": "vk-t", "group": desk.group, "api_base": fake.base}),
    )
    .expect(200);
    hook(
        server,
        slug,
        "vk",
        &vk_message("ev-r1", 31, "hi", VK_SECRET),
        None,
    )
    .expect(200);
    let row = wait_until("the VK client", || {
        channel_clients(server, &ann.token, EntryKind::Vk).pop()
    });
    let session = server.accept_ok(&ann.token, &row.id);
    // The profile lookup is done first: the scripted answer below is for the send.
    fake.wait_for("/method/users.get", 0);
    // VK is overloaded for the first attempt (VK answers errors with HTTP 200).
    fake.script((
        200,
        json!({"error": {"error_code": 10, "error_msg": "Internal server error"}}).to_string(),
    ));
    server.post_message(&ann.token, &session, "Одну минуту");
    let first = fake.wait_for("/method/messages.send", 0);
    // The outbox retries after its first pause (30 s), while Ann's app is open (on Spin, open
    // event streams drive the retries; on Cloudflare the alarm does).
    let (at_work, _) = server.operator_ws(&ann.token, None);
    let second = wait_within(Duration::from_secs(90), "the retried send", || {
        fake.requests()
            .into_iter()
            .filter(|r| r.path().ends_with("/method/messages.send"))
            .nth(1)
    });
    assert_eq!(
        get(&first.form(), "random_id"),
        get(&second.form(), "random_id"),
        "a retry must carry the same random_id so that VK delivers it once"
    );
    assert_eq!(first.body, second.body);
    // Delivered on the retry: settled (nothing owed), no failure shown, no third attempt.
    wait_settled(server, admin, "vk");
    assert_eq!(fake.count("/method/messages.send"), 2);
    assert!(server
        .messages(&ann.token, &session, 0)
        .iter()
        .all(|m| m.from != Party::System));
    at_work.close();
}

#[test]
fn a_whatsapp_template_goes_out_in_the_documented_shape() {
    let server = shared();
    let desk = server.desk("tpl", &["Ann"], 3);
    let (slug, admin, ann) = (&desk.tenant.slug, &desk.tenant.admin.token, &desk.ops[0]);
    let fake = FakeProvider::start(documented_success);
    configure(
        server,
        admin,
        "whatsapp",
        json!({"phone_number_id": WA_PHONE_ID, "app_secret": APP_SECRET, "verify_token": "v",
               "access_token": "wa-t", "group": desk.group, "api_base": fake.base,
               "templates": [{"name": "Subscribe", "language": "en_US", "parameters": ["topic"]}]}),
    )
    .expect(200);
    let listed: Value = server
        .get("/api/v1/channels/whatsapp/templates")
        .auth(&ann.token)
        .send()
        .ok(200);
    assert_eq!(listed["templates"][0]["name"], "Subscribe");
    signed(
        server,
        slug,
        "whatsapp",
        &whatsapp_text("wamid.TPL.1", "hi"),
    )
    .expect(200);
    let row = wait_until("the WhatsApp client", || {
        channel_clients(server, &ann.token, EntryKind::Whatsapp).pop()
    });
    let session = server.accept_ok(&ann.token, &row.id);
    server
        .post(&format!("/api/v1/sessions/{session}/template"))
        .auth(&ann.token)
        .json(&json!({"name": "Subscribe", "values": []}))
        .send()
        .expect_error(422, "invalid_body");
    let posted: Value = server
        .post(&format!("/api/v1/sessions/{session}/template"))
        .auth(&ann.token)
        .json(&json!({"name": "Subscribe", "values": ["newsletter"]}))
        .send()
        .ok(201);
    assert_eq!(posted["seq"], 2);
    let sent = fake.wait_for(&format!("/v26.0/{WA_PHONE_ID}/messages"), 0);
    let mut expected: Value =
        serde_json::from_str(fixture!("whatsapp/send_template_request_body.json")).unwrap();
    expected["to"] = json!("972987654321");
    assert_eq!(sent.json(), expected);
    assert_eq!(sent.header("Authorization"), Some("Bearer wa-t"));

    // A picture goes as WhatsApp's image message, after the text of the same message.
    server
        .post(&format!("/api/v1/sessions/{session}/messages"))
        .auth(&ann.token)
        .json(
            &json!({"text": "Our shop", "attachments": [{"url": "https://acme.example/shop.jpg"}]}),
        )
        .send()
        .expect(201);
    let text = fake.wait_for(&format!("/v26.0/{WA_PHONE_ID}/messages"), 1);
    assert_eq!(text.json()["text"]["body"], "Our shop");
    let image = fake.wait_for(&format!("/v26.0/{WA_PHONE_ID}/messages"), 2);
    assert_eq!(
        image.json(),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual",
               "to": "972987654321", "type": "image",
               "image": {"link": "https://acme.example/shop.jpg"}})
    );
}

#[test]
fn an_owed_send_survives_a_crash_of_the_server_and_goes_out_once() {
    let server = Server::start();
    let desk = server.desk("crash", &["Ann"], 3);
    let (slug, admin, ann) = (&desk.tenant.slug, &desk.tenant.admin.token, &desk.ops[0]);
    let fake = FakeProvider::start(documented_success);
    configure(
        &server,
        admin,
        "vk",
        json!({"community_id": VK_GROUP, "confirmation": "c", "secret": VK_SECRET,
               "access_token": "vk-t", "group": desk.group, "api_base": fake.base}),
    )
    .expect(200);
    hook(
        &server,
        slug,
        "vk",
        &vk_message("ev-c1", 41, "hi", VK_SECRET),
        None,
    )
    .expect(200);
    let row = wait_until("the VK client", || {
        channel_clients(&server, &ann.token, EntryKind::Vk).pop()
    });
    fake.wait_for("/method/users.get", 0);
    let session = server.accept_ok(&ann.token, &row.id);
    fake.script((
        200,
        json!({"error": {"error_code": 6, "error_msg": "Too many requests per second"}})
            .to_string(),
    ));
    server.post_message(&ann.token, &session, "Сейчас проверю");
    let first = fake.wait_for("/method/messages.send", 0);
    // The server crashes while the retry is pending; the retry is stored, and so is its alarm.
    server.restart();
    let ann = server.login(slug, &ann.email, &ann.password);
    let (at_work, _) = server.operator_ws(&ann.token, None);
    let second = wait_within(Duration::from_secs(90), "the retry after the crash", || {
        fake.requests()
            .into_iter()
            .filter(|r| r.path().ends_with("/method/messages.send"))
            .nth(1)
    });
    assert_eq!(
        first.body, second.body,
        "the same call, with the same random_id"
    );
    let admin = server.login(slug, &desk.tenant.admin.email, &desk.tenant.admin.password);
    wait_settled(&server, &admin.token, "vk");
    assert_eq!(fake.count("/method/messages.send"), 2);
    at_work.close();
    let msgs = server.messages(&ann.token, &session, 0);
    assert_eq!(
        texts(&msgs),
        vec![
            (Party::Client, "hi".to_string()),
            (Party::Operator, "Сейчас проверю".to_string()),
        ]
    );
}
