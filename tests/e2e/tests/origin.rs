//! A widget takes entries only from its allowed origins, and only while someone can answer.

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
