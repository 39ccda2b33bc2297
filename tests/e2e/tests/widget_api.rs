//! The widget's server side over real HTTP and WebSockets against `wrangler dev`: the widget's
//! config and its origin check, the offline form and the e-mail it becomes (read from the .eml
//! file wrangler dev writes for the `send_email` binding), invitation codes and the wrong-code
//! guard per client address, the wait estimate in the client's status frame, and typing relayed
//! both ways between a client and the operator serving it.

use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lobby_e2e::fake::{wait_until, wait_within};
use lobby_e2e::*;
use lobby_wire::{
    ClientEvent, EntryAccepted, EntryKind, FieldRule, InvitationCreated, Presence, WidgetConfig,
};
use serde_json::{json, Value};
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message as Frame, WebSocket};

fn config(server: &Server, key: &str, origin: Option<&str>) -> Resp {
    let mut call = server.get(&format!("/api/v1/widgets/{key}/config"));
    if let Some(o) = origin {
        call = call.header("Origin", o);
    }
    call.send()
}

fn invite(server: &Server, token: &str) -> InvitationCreated {
    server
        .post("/api/v1/invitations")
        .auth(token)
        .send()
        .ok(201)
}

/// A widget entry from a browser on [`SHOP`] at address `ip`, as the platform delivers it.
///
/// On Cloudflare the client's address is `CF-Connecting-IP`, which Cloudflare's edge sets (a
/// client cannot forge it there); `wrangler dev` adds `CF-Connecting-IP: 127.0.0.1` to a request
/// without one, so the test sends it as Cloudflare would. On Spin the address that connected is
/// the tests' own, which the suite's servers trust as their proxy ([`TRUSTED_PROXY`]), so there
/// `X-Forwarded-For` names the client, as a proxy in front of Spin would.
fn enter_from(server: &Server, key: &str, ip: &str, body: &Value) -> Resp {
    server.enter_with(
        key,
        &[
            ("Origin", SHOP),
            ("User-Agent", UA_CHROME_WINDOWS),
            ("X-Forwarded-For", ip),
            ("CF-Connecting-IP", ip),
        ],
        body,
    )
}

/// How many offline-form mails of widget `id` the admin's widget list says are still owed.
fn offline_owed(server: &Server, admin: &str, id: &str) -> usize {
    server
        .widgets(admin)
        .into_iter()
        .find(|w| w.id == id)
        .expect("the widget in the admin's list")
        .offline_owed
}

/// Waits until the widget owes no mail: every one was accepted by the mail service (or given
/// up), so nothing more of it will be sent. (On Spin each of these calls also sends what is due.)
fn wait_mails_settled(server: &Server, admin: &str, id: &str) {
    wait_until("no offline mail owed", || {
        (offline_owed(server, admin, id) == 0).then_some(())
    });
}

fn invitation(code: &str) -> Value {
    json!({"entry": "invitation", "code": code, "form": {"name": "Invited Ivo"}})
}

/// A six-digit code other than `code`.
fn other_code(code: &str, n: u32) -> String {
    let c: u32 = code.parse().unwrap();
    format!("{:06}", (c + n) % 1_000_000)
}

// ---------------------------------------------------------------- config

#[test]
fn widget_config_answers_its_own_origin_only_and_follows_presence() {
    let server = shared();
    let tenant = server.create_tenant("wcfg");
    let group = tenant.group("Sales");
    let op = tenant.operator("Olga", &[&group], 3);
    let widget = tenant.widget("Shop chat", &group, &[SHOP]);

    let c: WidgetConfig = config(server, &widget.key, Some(SHOP)).ok(200);
    assert_eq!(c.name, "Shop chat");
    assert_eq!(
        c.buttons,
        vec![EntryKind::Webchat, EntryKind::Video, EntryKind::Callback]
    );
    assert_eq!(
        (c.form.name, c.form.phone, c.form.email),
        (
            FieldRule::Optional,
            FieldRule::Optional,
            FieldRule::Optional
        )
    );
    assert!(c.languages.contains(&"en".to_string()));
    assert!(!c.online, "nobody is online yet");

    server.set_status(&op.token, Presence::Online);
    let c: WidgetConfig = config(server, &widget.key, Some(SHOP)).ok(200);
    assert!(c.online);
    server.set_status(&op.token, Presence::Offline);
    let c: WidgetConfig = config(server, &widget.key, Some(SHOP)).ok(200);
    assert!(!c.online);

    for origin in [
        Some("https://evil.example"),
        Some("http://shop.example"),
        None,
    ] {
        config(server, &widget.key, origin).expect_error(403, "origin_not_allowed");
    }
    // A chat-only widget with its own form rules shows them.
    let created: lobby_wire::WidgetCreated = server
        .post("/api/v1/widgets")
        .auth(&tenant.admin.token)
        .json(
            &json!({"name": "Chat only", "group": group, "allowed_origins": [SHOP],
                      "buttons": ["webchat"], "form": {"email": "required", "name": "hidden"}}),
        )
        .send()
        .ok(201);
    let v = config(server, &created.key, Some(SHOP)).expect(200).value();
    assert_eq!(v["buttons"], json!(["webchat"]));
    assert_eq!(
        v["form"],
        json!({"name": "hidden", "phone": "optional", "email": "required"})
    );
    // It refuses a video entry, and a chat without the required e-mail.
    server.set_status(&op.token, Presence::Online);
    enter_from(
        server,
        &created.key,
        "198.51.100.20",
        &json!({"entry": "video", "form": {"email": "v@example.com"}}),
    )
    .expect_error(422, "invalid_body");
    enter_from(
        server,
        &created.key,
        "198.51.100.20",
        &json!({"entry": "webchat", "form": {"phone": "+420 777 000 111"}}),
    )
    .expect_error(422, "invalid_body");
    let _: EntryAccepted = enter_from(
        server,
        &created.key,
        "198.51.100.20",
        &json!({"entry": "webchat", "form": {"email": "v@example.com"}}),
    )
    .ok(201);
}

// ---------------------------------------------------------------- offline form → e-mail

/// The `.eml` files wrangler's log names after `send_email binding called`, in order.
fn sent_eml_files(server: &Server) -> Vec<PathBuf> {
    let log = std::fs::read_to_string(server.log_path()).unwrap_or_default();
    let mut out = vec![];
    let mut after_call = false;
    for line in log.lines() {
        if line.contains("send_email binding called") {
            after_call = true;
        }
        if let Some(i) = line.find("Email:") {
            let path = line[i + "Email:".len()..].trim();
            if after_call && path.ends_with(".eml") {
                let p = PathBuf::from(path);
                out.push(if p.is_absolute() {
                    p
                } else {
                    repo_root().join(p)
                });
            }
        }
    }
    out
}

/// Polls the log (up to ~20 s) for a sent message whose `To:` is `to`; returns its text.
fn wait_for_mail_to(server: &Server, to: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        for path in sent_eml_files(server) {
            if let Ok(raw) = std::fs::read_to_string(&path) {
                if header(&raw, "To").is_some_and(|t| t.contains(to)) {
                    return raw;
                }
            }
        }
        if Instant::now() > deadline {
            panic!(
                "no e-mail to {to} within 20 s; files named: {:?}\n----- tail of wrangler's log -----\n{}",
                sent_eml_files(server),
                server.log_tail(60)
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A header's value (unfolded) from an RFC 5322 message.
fn header(raw: &str, name: &str) -> Option<String> {
    let head = raw.replace("\r\n", "\n");
    let head = head.split("\n\n").next().unwrap_or_default().to_owned();
    let mut value: Option<String> = None;
    for line in head.lines() {
        match &mut value {
            Some(v) if line.starts_with([' ', '\t']) => {
                v.push_str(line.trim_start_matches([' ', '\t']))
            }
            Some(_) => break,
            None => {
                if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case(name) {
                        value = Some(v.trim().to_owned());
                    }
                }
            }
        }
    }
    value
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = vec![];
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter_map(val) {
        acc = (acc << 6) | c;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Quoted-printable (`underscore_is_space` for RFC 2047's Q encoding).
fn qp_decode(s: &str, underscore_is_space: bool) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'=' if i + 1 < b.len() && (b[i + 1] == b'\n' || b[i + 1] == b'\r') => {
                i += 1;
                while i < b.len() && (b[i] == b'\r' || b[i] == b'\n') {
                    i += 1;
                }
                continue;
            }
            b'=' if i + 2 < b.len() && hex(b[i + 1]).is_some() && hex(b[i + 2]).is_some() => {
                out.push(hex(b[i + 1]).unwrap() * 16 + hex(b[i + 2]).unwrap());
                i += 3;
                continue;
            }
            b'_' if underscore_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// Decodes RFC 2047 encoded words (`=?utf-8?B?...?=`, `=?utf-8?Q?...?=`) in a header value.
fn decode_words(v: &str) -> String {
    let mut out = String::new();
    let mut rest = v;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let before = &rest[..start];
        if !(last_was_word && before.trim().is_empty()) {
            out.push_str(before);
        }
        let word = &rest[start + 2..];
        let parts: Vec<&str> = word.splitn(3, '?').collect();
        let Some(end) = parts.get(2).and_then(|p| p.find("?=")) else {
            out.push_str(&rest[start..]);
            return out;
        };
        let text = &parts[2][..end];
        let bytes = if parts[1].eq_ignore_ascii_case("b") {
            base64_decode(text)
        } else {
            qp_decode(text, true)
        };
        out.push_str(&String::from_utf8_lossy(&bytes));
        let consumed = 2 + parts[0].len() + 1 + parts[1].len() + 1 + end + 2;
        rest = &rest[start + consumed..];
        last_was_word = true;
    }
    out.push_str(rest);
    out
}

/// The text of a single-part message, decoded per its Content-Transfer-Encoding.
fn body_text(raw: &str) -> String {
    let norm = raw.replace("\r\n", "\n");
    let body = norm.split_once("\n\n").map(|x| x.1).unwrap_or_default();
    let cte = header(raw, "Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let bytes = match cte.as_str() {
        "base64" => base64_decode(body),
        "quoted-printable" => qp_decode(body, false),
        _ => body.as_bytes().to_vec(),
    };
    String::from_utf8(bytes).expect("a UTF-8 body")
}

#[test]
fn the_offline_form_is_received_then_emailed_to_the_widgets_address() {
    let server = shared();
    let tenant = server.create_tenant("woff");
    let group = tenant.group("Sales");
    let widget = tenant.widget("Shop chat", &group, &[SHOP]);
    let to = format!("offline@{}.example", tenant.slug);
    let marker = random_hex(6);
    let name = format!("Jana Nováková {marker}");
    let message = format!("Dobrý den, volejte prosím zítra po deváté. 😊 ({marker})");

    // Sent by Chrome on Windows set to Czech, from the cart page, as the widget's loader does.
    let answer: Value = server
        .post(&format!("/api/v1/widgets/{}/offline", widget.key))
        .header("Origin", SHOP)
        .header("User-Agent", UA_CHROME_WINDOWS)
        .header("Accept-Language", "cs-CZ,cs;q=0.9,en;q=0.8")
        .json(
            &json!({"form": {"name": name, "email": "jana@example.cz"}, "message": message,
                      "page": {"url": format!("{SHOP}/cart"), "title": "Košík"}}),
        )
        .send()
        .ok(202);
    assert_eq!(answer, json!({"status": "received"}));
    // What the queue would have shown of the client, in the mail's text.
    let details = [
        "Language: cs-cz".to_string(),
        "Browser: Chrome 124".into(),
        "OS: Windows 10".into(),
        format!("Page: {SHOP}/cart"),
        "Page title: Košík".into(),
        format!("Site: {SHOP}"),
        "Widget: Shop chat".into(),
    ];
    let has_details = |text: &str| {
        for d in &details {
            assert!(
                text.lines().any(|l| l.trim_end() == d.as_str()),
                "{d:?} missing from\n{text}"
            );
        }
    };

    // Refusals: no way to answer; another origin.
    server
        .post(&format!("/api/v1/widgets/{}/offline", widget.key))
        .header("Origin", SHOP)
        .json(&json!({"form": {"name": "Nobody"}, "message": "hello"}))
        .send()
        .expect_error(422, "invalid_body");
    server
        .post(&format!("/api/v1/widgets/{}/offline", widget.key))
        .header("Origin", "https://evil.example")
        .json(&json!({"form": {"email": "e@example.com"}, "message": "hello"}))
        .send()
        .expect_error(403, "origin_not_allowed");

    if runtime() == Runtime::Spin {
        // Spin has no e-mail binding: the mail goes to the HTTP e-mail API (Resend's shape).
        let (api, key) = server.mail_api();
        let sent = wait_until("the mail at the e-mail API", || {
            api.requests()
                .into_iter()
                .find(|r| r.json()["to"] == json!([to]))
        });
        assert_eq!(
            (sent.method.as_str(), sent.target.as_str()),
            ("POST", "/emails")
        );
        assert_eq!(
            sent.header("Authorization"),
            Some(format!("Bearer {key}").as_str())
        );
        assert_eq!(sent.header("Content-Type"), Some("application/json"));
        let idempotency = sent.header("Idempotency-Key").expect("an Idempotency-Key");
        assert!(idempotency.starts_with("lobby-mail/"), "{idempotency}");
        let body = sent.json();
        assert_eq!(body["from"], "Lobby <lobby@e2e.example>");
        assert_eq!(body["reply_to"], json!(["jana@example.cz"]));
        assert!(body["subject"].as_str().unwrap().contains(&name), "{body}");
        assert!(body["text"].as_str().unwrap().contains(&message), "{body}");
        has_details(body["text"].as_str().unwrap());
        // Sent once: settled, so later calls to the tenant find nothing more to send.
        wait_mails_settled(server, &tenant.admin.token, &widget.id);
        tenant.group("Later");
        let copies = api
            .requests()
            .iter()
            .filter(|r| r.header("Idempotency-Key") == Some(idempotency))
            .count();
        assert_eq!(copies, 1, "the mail was sent once");
        return;
    }
    let raw = wait_for_mail_to(server, &to);
    let to_header = header(&raw, "To").unwrap();
    assert!(to_header.contains(&to), "To: {to_header}\n{raw}");
    let subject = decode_words(&header(&raw, "Subject").expect("a Subject"));
    assert!(subject.contains(&name), "Subject: {subject}\n{raw}");
    let reply_to = header(&raw, "Reply-To").expect("a Reply-To");
    assert!(reply_to.contains("jana@example.cz"), "{raw}");
    let text = body_text(&raw);
    assert!(text.contains(&message), "body: {text}\n{raw}");
    has_details(&text);
}

// ---------------------------------------------------------------- invitations

#[test]
fn an_invited_client_waits_for_the_inviting_operator_only_and_the_code_is_single_use() {
    let server = shared();
    let desk = server.desk("winv", &["Olga", "Petr"], 3);
    let (olga, petr) = (&desk.ops[0], &desk.ops[1]);
    let inv = invite(server, &olga.token);
    assert!(
        inv.code.len() == 6 && inv.code.bytes().all(|b| b.is_ascii_digit()),
        "{inv:?}"
    );
    assert!(inv.expires_at.ends_with('Z'), "{inv:?}");

    let e: EntryAccepted = enter_from(
        server,
        &desk.widget.key,
        "198.51.100.7",
        &invitation(&inv.code),
    )
    .ok(201);
    let olga_queue = server.queue(&olga.token);
    let row = olga_queue
        .iter()
        .find(|c| c.id == e.client)
        .unwrap_or_else(|| panic!("Olga's queue lacks the invited client: {olga_queue:?}"));
    assert_eq!(row.entry, EntryKind::Invitation);
    assert_eq!(row.operator.as_deref(), Some(olga.id.as_str()));
    assert!(
        server.queue(&petr.token).iter().all(|c| c.id != e.client),
        "Petr sees Olga's invited client"
    );
    server.accept(&petr.token, &e.client).expect_4xx();

    // The same code again, from anywhere.
    enter_from(
        server,
        &desk.widget.key,
        "198.51.100.8",
        &invitation(&inv.code),
    )
    .expect_error(409, "code_used");
    assert_eq!(server.accept_ok(&olga.token, &e.client), e.session);

    // Expiry bounds.
    for bad in [json!({"expires_in": 59}), json!({"expires_in": 86_401})] {
        server
            .post("/api/v1/invitations")
            .auth(&olga.token)
            .json(&bad)
            .send()
            .expect_error(422, "invalid_body");
    }
    // A malformed code.
    enter_from(
        server,
        &desk.widget.key,
        "198.51.100.7",
        &invitation("12345"),
    )
    .expect_error(422, "invalid_body");
}

#[test]
fn ten_wrong_codes_from_one_address_then_429_while_another_address_still_gets_through() {
    let server = shared();
    let desk = server.desk("wguard", &["Olga"], 3);
    let olga = &desk.ops[0];
    let key = &desk.widget.key;
    let inv = invite(server, &olga.token);
    let guesser = "192.0.2.66";
    for n in 1..=10 {
        enter_from(server, key, guesser, &invitation(&other_code(&inv.code, n)))
            .expect_error(422, "invalid_code");
    }
    // The 11th try is throttled, even with the right code.
    enter_from(server, key, guesser, &invitation(&inv.code)).expect_error(429, "rate_limited");
    enter_from(
        server,
        key,
        guesser,
        &invitation(&other_code(&inv.code, 11)),
    )
    .expect_error(429, "rate_limited");

    // Another address: a wrong code is just wrong, the right one works.
    enter_from(
        server,
        key,
        "198.51.100.7",
        &invitation(&other_code(&inv.code, 12)),
    )
    .expect_error(422, "invalid_code");
    let e: EntryAccepted = enter_from(server, key, "198.51.100.7", &invitation(&inv.code)).ok(201);
    assert!(server.queue(&olga.token).iter().any(|c| c.id == e.client));
}

/// Another machine, as far as the server can tell: not the suite's proxy.
const ELSEWHERE: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

/// A widget entry that comes with headers a client wrote to look like guess `n` came from
/// somewhere new: on Spin it may write any header (both forwarding headers rotate); on
/// Cloudflare the edge sets `CF-Connecting-IP` to the address that really connected.
fn forged_entry(server: &Server, key: &str, n: u32, body: &Value) -> Resp {
    let forwarded = format!("198.51.100.{n}");
    let connecting = match runtime() {
        Runtime::Spin => format!("203.0.113.{n}"),
        Runtime::Cloudflare => "192.0.2.77".to_string(),
    };
    server
        .call_from(
            ELSEWHERE,
            reqwest::Method::POST,
            &format!("/api/v1/widgets/{key}/entries"),
        )
        .header("Origin", SHOP)
        .header("User-Agent", UA_CHROME_WINDOWS)
        .header("X-Forwarded-For", &forwarded)
        .header("CF-Connecting-IP", &connecting)
        .json(body)
        .send()
}

#[test]
fn a_guesser_who_writes_a_new_forwarded_address_each_time_still_gets_429() {
    let server = shared();
    let desk = server.desk("wforge", &["Olga"], 3);
    let olga = &desk.ops[0];
    let key = &desk.widget.key;
    let inv = invite(server, &olga.token);
    // The forwarding headers are the guesser's own words: the 11th try is throttled, whatever
    // they say, even with the right code.
    ten_wrong_then_429(&inv.code, |n, body| forged_entry(server, key, n, body));
    forged_entry(server, key, 12, &invitation(&other_code(&inv.code, 12)))
        .expect_error(429, "rate_limited");
    // A client behind the trusted proxy is someone else: the right code works for them.
    gets_in(server, &olga.token, key, "198.51.100.200", &inv.code);
}

/// Ten wrong codes through `guess(n, body)`, each a 422; then the right `code` is a 429.
fn ten_wrong_then_429(code: &str, guess: impl Fn(u32, &Value) -> Resp) {
    for n in 1..=10 {
        guess(n, &invitation(&other_code(code, n))).expect_error(422, "invalid_code");
    }
    guess(11, &invitation(code)).expect_error(429, "rate_limited");
}

/// A client at `ip` enters with `code` and waits in the operator's queue.
fn gets_in(server: &Server, operator_token: &str, key: &str, ip: &str, code: &str) {
    let e: EntryAccepted = enter_from(server, key, ip, &invitation(code)).ok(201);
    assert!(server
        .queue(operator_token)
        .iter()
        .any(|c| c.id == e.client));
}

#[test]
fn behind_the_trusted_proxy_hops_a_guesser_wrote_in_front_count_for_nothing() {
    let server = shared();
    let desk = server.desk("wchain", &["Olga"], 3);
    let olga = &desk.ops[0];
    let key = &desk.widget.key;
    let inv = invite(server, &olga.token);
    // The proxy appends the address it saw (192.0.2.88) to what the client sent.
    let via_proxy = |n: u32, body: &Value| {
        let chain = format!("10.9.8.{n}, 198.51.100.{n}, 192.0.2.88");
        server.enter_with(
            key,
            &[
                ("Origin", SHOP),
                ("User-Agent", UA_CHROME_WINDOWS),
                ("X-Forwarded-For", &chain),
                // On Cloudflare the proxy is who connected to Cloudflare's edge.
                ("CF-Connecting-IP", TRUSTED_PROXY),
            ],
            body,
        )
    };
    ten_wrong_then_429(&inv.code, via_proxy);
    gets_in(server, &olga.token, key, "198.51.100.201", &inv.code);
}

// ---------------------------------------------------------------- wait estimate

#[test]
fn the_status_frame_carries_an_estimated_wait_that_is_null_without_history() {
    let server = shared();
    let desk = server.desk("west", &["Olga"], 3);
    let olga = &desk.ops[0];
    let r = server
        .enter(
            &desk.widget.key,
            SHOP,
            UA_CHROME_WINDOWS,
            &webchat("Eva", "+420 777 000 111", "cs"),
        )
        .expect(201);
    let v = r.value();
    assert!(
        v.get("estimated_wait_seconds").is_some(),
        "entry answer: {v}"
    );
    assert_eq!(v["estimated_wait_seconds"], Value::Null);
    let c: Client = r.json::<EntryAccepted>().into();

    let (ws, first) = server.client_ws(&c.token, None);
    let raw = ws.seen[0].clone();
    assert_eq!(raw["type"], "status", "{raw}");
    assert!(
        raw.get("estimated_wait_seconds").is_some(),
        "status frame: {raw}"
    );
    assert_eq!(raw["estimated_wait_seconds"], Value::Null, "{raw}");
    assert!(
        matches!(
            first,
            ClientEvent::Status {
                position: Some(1),
                estimated_wait_seconds: None,
                ..
            }
        ),
        "{first:?}"
    );
    ws.close();

    // Three accepts from the queue give it a number.
    for i in 0..3 {
        let c = server.enter_ok(
            &desk.widget.key,
            UA_FIREFOX_UBUNTU,
            &webchat(&format!("Early {i}"), "+420 777 000 112", "en"),
        );
        server.accept_ok(&olga.token, &c.id);
    }
    // (the first client still waits, at position 1)
    let (ws, _) = server.client_ws(&c.token, None);
    let raw = ws.seen[0].clone();
    assert!(
        raw["estimated_wait_seconds"].is_u64(),
        "after three accepts the status frame carries a number: {raw}"
    );
    ws.close();
}

// ---------------------------------------------------------------- typing

/// A WebSocket of this test's own, which can also send.
struct Socket {
    ws: WebSocket<TcpStream>,
    seen: Vec<Value>,
}

impl Socket {
    fn open(server: &Server, path: &str, token: &str) -> Socket {
        let url = format!(
            "ws://127.0.0.1:{}{path}?token={}",
            server.port(),
            encode_query(token)
        );
        let stream = TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
        stream.set_nodelay(true).ok();
        let request = url.as_str().into_client_request().expect("ws request");
        let (ws, _) = tungstenite::client(request, stream)
            .unwrap_or_else(|e| panic!("WebSocket {path}: {e}"));
        Socket { ws, seen: vec![] }
    }

    fn send(&mut self, v: Value) {
        self.ws
            .send(Frame::text(v.to_string()))
            .expect("send a frame");
    }

    /// The next JSON frame within `timeout`.
    fn next(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.ws.get_mut().set_read_timeout(Some(left)).ok();
            match self.ws.read() {
                Ok(Frame::Text(t)) => {
                    let v: Value = serde_json::from_str(t.as_str()).expect("a JSON frame");
                    self.seen.push(v.clone());
                    return Some(v);
                }
                Ok(Frame::Close(_)) => return None,
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return None
                }
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// Reads until a frame satisfies `pred`.
    #[track_caller]
    fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + event_timeout();
        while let Some(v) = self.next(deadline.saturating_duration_since(Instant::now())) {
            if pred(&v) {
                return v;
            }
        }
        panic!("no {what}; frames seen: {:?}", self.seen)
    }

    fn close(mut self) {
        let _ = self.ws.close(None);
        let _ = self.ws.flush();
    }
}

fn is_typing(v: &Value) -> bool {
    v["type"] == "typing"
}

#[test]
fn typing_is_relayed_between_the_client_and_its_operator() {
    if runtime() == Runtime::Spin {
        // Up a WebSocket; Spin has none (its streams go one way): see the HTTP test below.
        println!("typing up a WebSocket: Cloudflare only");
        return;
    }
    let server = shared();
    let desk = server.desk("wtyp", &["Olga", "Petr"], 3);
    let (olga, petr) = (&desk.ops[0], &desk.ops[1]);
    let c = server.enter_ok(
        &desk.widget.key,
        UA_CHROME_WINDOWS,
        &webchat("Tomáš", "+420 777 000 113", "cs"),
    );
    let mut olga_ws = Socket::open(server, "/api/v1/operator/events", &olga.token);
    olga_ws.wait_for("hello", |v| v["type"] == "hello");
    let mut petr_ws = Socket::open(server, "/api/v1/operator/events", &petr.token);
    petr_ws.wait_for("hello", |v| v["type"] == "hello");
    let mut client_ws = Socket::open(server, "/api/v1/client/events", &c.token);
    client_ws.wait_for("status", |v| v["type"] == "status");

    // While it waits, nobody serves it: its typing goes nowhere. The pong says the server has
    // handled the typing frame (one socket's frames are handled in order), so a relay of it
    // would reach Olga before the accept that follows.
    client_ws.send(json!({"type": "typing"}));
    client_ws.send(json!({"type": "ping"}));
    client_ws.wait_for("pong", |v| v["type"] == "pong");

    let session = server.accept_ok(&olga.token, &c.id);
    client_ws.wait_for("accepted", |v| v["type"] == "accepted");
    olga_ws.wait_for("her session", |v| v["type"] == "session_started");
    assert!(
        !olga_ws.seen.iter().any(is_typing),
        "typing of a waiting client reached an operator: {:?}",
        olga_ws.seen
    );

    client_ws.send(json!({"type": "typing"}));
    let t = olga_ws.wait_for("the client's typing", is_typing);
    assert_eq!(t, json!({"type": "typing", "session": session}));

    olga_ws.send(json!({"type": "typing", "session": session}));
    let t = client_ws.wait_for("the operator's typing", is_typing);
    assert_eq!(t, json!({"type": "typing", "from": "operator"}));

    // Petr does not serve it: his typing does not reach the client, nor does the client's reach
    // him. After his pong, any relay of his typing is on its way before Olga's message, and the
    // client's earlier typing before the next client's entry on Petr's socket.
    let from = client_ws.seen.len();
    petr_ws.send(json!({"type": "typing", "session": session}));
    petr_ws.send(json!({"type": "ping"}));
    petr_ws.wait_for("pong", |v| v["type"] == "pong");
    server.post_message(&olga.token, &session, "Olga again");
    client_ws.wait_for("Olga's message", |v| v["type"] == "message");
    assert!(
        !client_ws.seen[from..].iter().any(is_typing),
        "another operator's typing reached the client: {:?}",
        client_ws.seen
    );
    let next = server.enter_ok(
        &desk.widget.key,
        UA_CHROME_WINDOWS,
        &webchat("Next", "+420 777 000 115", "cs"),
    );
    petr_ws.wait_for("the next client waiting", |v| {
        v["type"] == "client_waiting" && v["client"]["id"] == next.id.as_str()
    });
    assert!(
        !petr_ws.seen.iter().any(is_typing),
        "the client's typing reached another operator: {:?}",
        petr_ws.seen
    );
    // Ping still answers pong.
    client_ws.send(json!({"type": "ping"}));
    client_ws.wait_for("pong", |v| v["type"] == "pong");
    for s in [olga_ws, petr_ws, client_ws] {
        s.close();
    }
}

#[test]
fn on_spin_a_mail_the_api_refused_is_sent_again_later_once() {
    if runtime() != Runtime::Spin {
        println!("Spin only: on Cloudflare mails go through the send_email binding");
        return;
    }
    // Its own server: the scripted outage must meet this test's mail, not another test's.
    let server = &Server::start();
    let tenant = server.create_tenant("wretry");
    let group = tenant.group("Sales");
    let widget = tenant.widget("Shop chat", &group, &[SHOP]);
    let to = format!("offline@{}.example", tenant.slug);
    let (api, _) = server.mail_api();
    // The API is down for the first attempt.
    api.script((
        503,
        json!({"name": "internal_server_error", "message": "down"}).to_string(),
    ));
    let marker = random_hex(6);
    server
        .post(&format!("/api/v1/widgets/{}/offline", widget.key))
        .header("Origin", SHOP)
        .json(&json!({"form": {"name": "Eva", "email": "eva@example.cz"}, "message": format!("Call me ({marker})")}))
        .send()
        .ok::<Value>(202);
    let mine = || {
        api.requests()
            .into_iter()
            .filter(|r| r.json()["to"] == json!([to]))
            .collect::<Vec<_>>()
    };
    let first = wait_until("the first attempt", || mine().into_iter().next());
    let admin = &tenant.admin.token;
    // Refused, so still owed (before and after the refusal is journaled).
    assert_eq!(offline_owed(server, admin, &widget.id), 1);
    // The core retries after its first pause (30 s of the server's clock: a real wait). Spin has
    // no alarms: a call to the tenant once it is due sends it, as an admin reading the list does.
    let again = wait_within(Duration::from_secs(90), "the second attempt", || {
        offline_owed(server, admin, &widget.id);
        mine().into_iter().nth(1)
    });
    assert_eq!(
        again.header("Idempotency-Key"),
        first.header("Idempotency-Key")
    );
    assert_eq!(again.json(), first.json(), "the same mail");
    wait_mails_settled(server, admin, &widget.id);
    assert_eq!(
        mine().len(),
        2,
        "accepted the second time, not sent a third"
    );
}

/// `POST /api/v1/client/typing` or `/api/v1/sessions/{id}/typing` (what a client beside a
/// stream of Server-Sent Events sends), with its answer.
fn type_over_http(server: &Server, path: &str, token: &str) -> Resp {
    server.post(path).auth(token).send()
}

#[test]
fn typing_over_http_reaches_the_serving_operator_and_its_client_on_both_runtimes() {
    let server = shared();
    let desk = server.desk("wtyh", &["Olga", "Petr"], 3);
    let (olga, petr) = (&desk.ops[0], &desk.ops[1]);
    let c = server.enter_ok(
        &desk.widget.key,
        UA_FIREFOX_UBUNTU,
        &webchat("Zdeňka", "+420 777 000 114", "cs"),
    );
    let (mut olga_events, _) = server.operator_ws(&olga.token, None);
    let (mut petr_events, _) = server.operator_ws(&petr.token, None);
    let (mut client_events, _) = server.client_ws(&c.token, None);

    // While it waits, nobody serves it: its typing goes nowhere.
    let r: Value = type_over_http(server, "/api/v1/client/typing", &c.token).ok(200);
    assert_eq!(r, json!({"relayed": false}));
    let session = server.accept_ok(&olga.token, &c.id);
    client_events.wait_for::<Value>("accepted", |v| v["type"] == "accepted");

    let r: Value = type_over_http(server, "/api/v1/client/typing", &c.token).ok(200);
    assert_eq!(r, json!({"relayed": true}));
    let t = olga_events.wait_for::<Value>("the client's typing", is_typing);
    assert_eq!(t, json!({"type": "typing", "session": session}));

    let path = format!("/api/v1/sessions/{session}/typing");
    let r: Value = type_over_http(server, &path, &olga.token).ok(200);
    assert_eq!(r, json!({"relayed": true}));
    let t = client_events.wait_for::<Value>("the operator's typing", is_typing);
    assert_eq!(t, json!({"type": "typing", "from": "operator"}));

    // Petr does not serve it: his typing is refused, and the client's never reached him (by the
    // time the next client's entry, journaled after it, reaches his stream).
    type_over_http(server, &path, &petr.token).expect_error(404, "not_found");
    let next = server.enter_ok(
        &desk.widget.key,
        UA_FIREFOX_UBUNTU,
        &webchat("Next", "+420 777 000 116", "cs"),
    );
    petr_events.wait_for::<Value>("the next client waiting", |v| {
        v["type"] == "client_waiting" && v["client"]["id"] == next.id.as_str()
    });
    assert!(
        !petr_events.seen.iter().any(is_typing),
        "the client's typing reached another operator: {:?}",
        petr_events.seen
    );
    // Nor do the tokens mix.
    type_over_http(server, &path, &c.token).expect_error(403, "forbidden");
    type_over_http(server, "/api/v1/client/typing", &olga.token).expect_error(403, "forbidden");
    // Typing is not journaled: a stream resumed from the start replays no typing, up to a
    // message posted after every typing call.
    let (mut again, _) = server.client_ws(&c.token, Some(0));
    server.post_message(&olga.token, &session, "after the typing");
    again.wait_for::<Value>("the later message", |v| {
        v["type"] == "message" && v["message"]["text"] == "after the typing"
    });
    assert!(!again.seen.iter().any(is_typing), "{:?}", again.seen);
    for s in [olga_events, petr_events, client_events, again] {
        s.close();
    }
}
