//! A widget takes entries only from its allowed origins, and only while someone can answer; any
//! page may read the API's answers (one CORS list on both runtimes); an event route speaks only
//! its runtime's transport.

use lobby_e2e::*;
use lobby_wire::Presence;
use serde_json::Value;

#[test]
fn entry_from_a_foreign_origin_is_refused_and_changes_nothing() {
    let server = shared();
    let desk = server.desk("origin", &["Olga"], 3);
    let op = &desk.ops[0];
    let key = &desk.widget.key;
    let before = server.queue(&op.token);
    assert!(before.is_empty());

    for origin in [
        "https://evil.example",
        "http://shop.example",
        "https://shop.example.evil.example",
    ] {
        server
            .enter(
                key,
                origin,
                UA_CHROME_WINDOWS,
                &webchat("Mallory", "+1 555 0199", "en"),
            )
            .expect_error(403, "origin_not_allowed");
    }
    assert_eq!(
        server.queue(&op.token),
        before,
        "a refused entry changed the queue"
    );

    // The same entry from the allowed origin is queued: the refusal was about the origin.
    let c = server.enter_ok(
        key,
        UA_CHROME_WINDOWS,
        &webchat("Alice", "+1 555 0100", "en"),
    );
    let queue = server.queue(&op.token);
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].id, c.id);
}

#[test]
fn entry_with_nobody_online_is_answered_offline_and_not_queued() {
    let server = shared();
    let tenant = server.create_tenant("offline");
    let group = tenant.group("Sales");
    let op = tenant.operator("Oscar", &[&group], 3);
    let widget = tenant.widget("Sales chat", &group, &[SHOP]);
    let body = webchat("Bob", "+44 20 7946 0000", "en");

    // Operators start offline.
    let answer: Value = server
        .enter(&widget.key, SHOP, UA_FIREFOX_UBUNTU, &body)
        .ok(200);
    assert_eq!(answer["status"], "offline", "answer: {answer}");
    assert!(
        answer.get("token").is_none(),
        "an offline answer carries no client token: {answer}"
    );

    // Away is not online either.
    server.set_status(&op.token, Presence::Away);
    let answer: Value = server
        .enter(&widget.key, SHOP, UA_FIREFOX_UBUNTU, &body)
        .ok(200);
    assert_eq!(answer["status"], "offline", "answer: {answer}");
    assert!(
        server.queue(&op.token).is_empty(),
        "an offline entry was queued"
    );

    // An online operator of another group does not count.
    let other_group = tenant.group("Billing");
    let other = tenant.operator("Olive", &[&other_group], 3);
    server.set_status(&other.token, Presence::Online);
    let answer: Value = server
        .enter(&widget.key, SHOP, UA_FIREFOX_UBUNTU, &body)
        .ok(200);
    assert_eq!(answer["status"], "offline", "answer: {answer}");
    assert!(server.queue(&op.token).is_empty());
    assert!(server.queue(&other.token).is_empty());

    // Once an operator of the group is online, the same entry is queued.
    server.set_status(&op.token, Presence::Online);
    let c = server.enter_ok(&widget.key, UA_FIREFOX_UBUNTU, &body);
    let queue = server.queue(&op.token);
    assert_eq!(
        queue.iter().map(|q| q.id.as_str()).collect::<Vec<_>>(),
        [c.id.as_str()]
    );
}

/// Every answer tells a page on any origin that it may read it (credentials travel in headers,
/// never cookies), with one list of methods and headers on both runtimes: an EventSource's
/// `Last-Event-ID` among them.
#[test]
fn preflights_and_answers_carry_the_same_cors_headers_on_both_runtimes() {
    let server = shared();
    let http = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap();
    let preflight = http
        .request(reqwest::Method::OPTIONS, server.url("/api/v1/me/status"))
        .header("Origin", SHOP)
        .header("Access-Control-Request-Method", "PUT")
        .header(
            "Access-Control-Request-Headers",
            "authorization, last-event-id",
        )
        .send()
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 204);
    let header = |r: &reqwest::blocking::Response, name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(header(&preflight, "Access-Control-Allow-Origin"), SHOP);
    let methods = header(&preflight, "Access-Control-Allow-Methods");
    for m in ["GET", "POST", "PUT"] {
        assert!(methods.contains(m), "{methods}");
    }
    let allowed = header(&preflight, "Access-Control-Allow-Headers").to_ascii_lowercase();
    for h in ["authorization", "content-type", "last-event-id"] {
        assert!(allowed.contains(h), "{allowed}");
    }
    // A refusal is readable too, so a page can show why.
    let refused = http
        .get(server.url("/api/v1/queue"))
        .header("Origin", SHOP)
        .send()
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    assert_eq!(header(&refused, "Access-Control-Allow-Origin"), SHOP);
    assert_eq!(
        header(&refused, "Access-Control-Allow-Methods"),
        methods,
        "one list for every answer"
    );
}

/// An event route refuses the transport this runtime does not speak, with a JSON error that
/// says which one it does.
#[test]
fn an_event_route_asked_for_the_other_transport_answers_426() {
    let server = shared();
    let desk = server.desk("transport", &["Olga"], 3);
    let olga = &desk.ops[0];
    match runtime() {
        Runtime::Cloudflare => {
            server
                .get("/api/v1/operator/events")
                .auth(&olga.token)
                .send()
                .expect_error(426, "upgrade_required");
        }
        Runtime::Spin => {
            server
                .get("/api/v1/operator/events")
                .auth(&olga.token)
                .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
                .header("Sec-WebSocket-Version", "13")
                .send()
                .expect_error(426, "event_stream_required");
        }
    }
    // Who calls is checked before the transport.
    server
        .get("/api/v1/operator/events")
        .send()
        .expect_error(401, "unauthorized");
}
