//! A dropped WebSocket loses nothing: reconnecting with `after=<last seq seen>` delivers exactly
//! what was missed, in order, once, and then goes on live.

use lobby_e2e::*;
use lobby_wire::{ClientEvent, ClientStatus, Message, OperatorEvent, RemovedReason};

#[track_caller]
fn assert_strictly_increasing(seqs: &[u64], what: &str) {
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "{what}: seqs repeat or go back: {seqs:?}"
    );
}

#[test]
fn operator_stream_resumes_after_the_last_seq_seen() {
    let server = shared();
    let desk = server.desk("resume-op", &["Rita"], 5);
    let rita = &desk.ops[0];
    let key = &desk.widget.key;
    // A second tab of the same operator stays connected throughout: what it sees live is what a
    // reconnecting tab must be given.
    let (mut live, _) = server.operator_ws(&rita.token, None);
    let (mut tab, _) = server.operator_ws(&rita.token, None);

    let a = server.enter_ok(
        key,
        UA_CHROME_WINDOWS,
        &webchat("Anna", "+1 555 0501", "en"),
    );
    let seen = tab.until::<OperatorEvent>("client_waiting for Anna", |e| op_waiting_is(e, &a.id));
    let s = seen.iter().map(op_seq).max().unwrap();
    tab.close();

    // While the tab is away.
    let b = server.enter_ok(
        key,
        UA_FIREFOX_UBUNTU,
        &webchat("Bernd", "+1 555 0502", "en"),
    );
    let session = server.accept_ok(&rita.token, &a.id);
    server.client_post(&a.token, "hello while away");
    server.post_message(&rita.token, &session, "reply while away");
    let c = server.enter_ok(
        key,
        UA_SAFARI_IPHONE,
        &webchat("Clara", "+1 555 0503", "en"),
    );
    server
        .post("/api/v1/client/leave")
        .auth(&b.token)
        .send()
        .expect(200);

    let (mut back, _) = server.operator_ws(&rita.token, Some(s));
    server.client_post(&a.token, "marker");
    let replayed =
        back.until::<OperatorEvent>("the marker message", |e| op_message_is(e, "marker"));
    let reference: Vec<OperatorEvent> = live
        .until::<OperatorEvent>("the marker message (live tab)", |e| {
            op_message_is(e, "marker")
        })
        .into_iter()
        .filter(|e| op_seq(e) > s)
        .collect();

    let seqs: Vec<u64> = replayed.iter().map(op_seq).collect();
    assert_strictly_increasing(&seqs, "replayed operator events");
    assert!(
        seqs.iter().all(|&q| q > s),
        "events at or before {s} replayed: {replayed:#?}"
    );
    assert_eq!(
        replayed, reference,
        "the resumed stream differs from what a connected tab saw after seq {s}"
    );
    // And it is what happened: the new clients, the accept, the conversation, the leave.
    let has = |what: &str, f: &dyn Fn(&OperatorEvent) -> bool| {
        assert!(replayed.iter().any(f), "missing {what} in {replayed:#?}");
    };
    has("client_waiting Bernd", &|e| op_waiting_is(e, &b.id));
    has("client_waiting Clara", &|e| op_waiting_is(e, &c.id));
    has(
        "session_started",
        &|e| matches!(e, OperatorEvent::SessionStarted { session: x, client, .. } if *x == session && *client == a.id),
    );
    has("the client's message", &|e| {
        op_message_is(e, "hello while away")
    });
    has(
        "client_removed Bernd (left)",
        &|e| matches!(e, OperatorEvent::ClientRemoved { client, reason: RemovedReason::Left, .. } if *client == b.id),
    );
    assert!(
        !replayed.iter().any(|e| op_waiting_is(e, &a.id)),
        "Anna's client_waiting (seen before the drop) came again"
    );
}

fn messages_of(events: &[ClientEvent]) -> Vec<Message> {
    events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Message { message } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn client_stream_resumes_after_the_last_message_seen() {
    let server = shared();
    let desk = server.desk("resume-cl", &["Rolf"], 5);
    let rolf = &desk.ops[0];
    let a = server.enter_ok(
        &desk.widget.key,
        UA_CHROME_WINDOWS,
        &webchat("Anja", "+1 555 0601", "de"),
    );
    let session = server.accept_ok(&rolf.token, &a.id);

    let (mut ws, status) = server.client_ws(&a.token, None);
    assert!(
        matches!(
            status,
            ClientEvent::Status {
                status: ClientStatus::Active,
                ..
            }
        ),
        "{status:?}"
    );
    server.post_message(&rolf.token, &session, "m1");
    let seen = ws.until::<ClientEvent>("m1", |e| client_message_is(e, "m1"));
    let last = messages_of(&seen).iter().map(|m| m.seq).max().unwrap();
    ws.close();

    server.post_message(&rolf.token, &session, "m2");
    server.client_post(&a.token, "m3");
    server.post_message(&rolf.token, &session, "m4");

    let (mut back, status) = server.client_ws(&a.token, Some(last));
    assert!(
        matches!(&status, ClientEvent::Status { status: ClientStatus::Active, session: s, .. } if *s == session),
        "{status:?}"
    );
    server.post_message(&rolf.token, &session, "marker");
    let events = back.until::<ClientEvent>("the marker", |e| client_message_is(e, "marker"));
    let got = messages_of(&events);
    let seqs: Vec<u64> = got.iter().map(|m| m.seq).collect();
    assert_strictly_increasing(&seqs, "replayed client messages");
    assert!(
        seqs.iter().all(|&q| q > last),
        "messages at or before {last} replayed: {got:#?}"
    );
    let expected = server.client_messages(&a.token, last);
    assert_eq!(
        got, expected,
        "the resumed stream vs GET /api/v1/client/messages?after={last}"
    );
    let texts: Vec<&str> = got.iter().map(|m| m.text.as_str()).collect();
    for t in ["m2", "m3", "m4", "marker"] {
        assert_eq!(
            texts.iter().filter(|x| **x == t).count(),
            1,
            "{t} in {texts:?}"
        );
    }
    assert!(
        !texts.contains(&"m1"),
        "m1 (seen before the drop) came again: {texts:?}"
    );
}
