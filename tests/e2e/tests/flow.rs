//! The whole flow of the product, as an integrator sets it up and as operators and clients live it:
//! entry from three real browsers, the queue with what each operator needs to see, a race for one
//! client, capacity, redirect to a busy colleague, conversation both ways, close.

use std::sync::Barrier;

use lobby_e2e::*;
use lobby_wire::{
    Accepted, ClientEvent, ClientStatus, EntryAccepted, EntryKind, OperatorEvent, Party, Presence,
    QueueItem,
};
use serde_json::json;

struct Visitor {
    ua: &'static str,
    accept_language: &'static str,
    language: &'static str,
    name: &'static str,
    phone: &'static str,
    browser: &'static str,
    os: &'static [&'static str],
}

const VISITORS: [Visitor; 3] = [
    Visitor {
        ua: UA_CHROME_WINDOWS,
        accept_language: "de-DE,de;q=0.9,en;q=0.8",
        language: "de",
        name: "Anna Schmidt",
        phone: "+49 30 1234567",
        browser: "Chrome",
        os: &["Windows"],
    },
    Visitor {
        ua: UA_FIREFOX_UBUNTU,
        accept_language: "fr-FR,fr;q=0.9,en-US;q=0.7",
        language: "fr",
        name: "Jean Dupont",
        phone: "+33 1 23 45 67 89",
        browser: "Firefox",
        os: &["Linux", "Ubuntu"],
    },
    Visitor {
        ua: UA_SAFARI_IPHONE,
        accept_language: "en-US,en;q=0.9",
        language: "en",
        name: "John Smith",
        phone: "+1 555 0100",
        browser: "Safari",
        os: &["iOS", "iPhone"],
    },
];

fn item<'a>(queue: &'a [QueueItem], id: &str) -> Option<&'a QueueItem> {
    queue.iter().find(|q| q.id == id)
}

#[track_caller]
fn positions(queue: &[QueueItem], ids: &[&str]) -> Vec<u32> {
    ids.iter()
        .map(|id| {
            item(queue, id)
                .unwrap_or_else(|| panic!("client {id} not in queue {queue:?}"))
                .position
        })
        .collect()
}

#[test]
fn clients_enter_operators_race_redirect_converse_and_close() {
    let server = shared();
    let tenant = server.create_tenant("flow");
    let group = tenant.group("Support");
    let ops = [
        tenant.operator("Alice Agent", &[&group], 1),
        tenant.operator("Bob Agent", &[&group], 1),
    ];
    let widget = tenant.widget("Shop chat", &group, &[SHOP]);
    for op in &ops {
        server.set_status(&op.token, Presence::Online);
    }
    let mut op_ws: Vec<Ws> = ops
        .iter()
        .map(|op| server.operator_ws(&op.token, None).0)
        .collect();

    // ---- three clients enter from three browsers
    let mut clients = Vec::new();
    for (i, v) in VISITORS.iter().enumerate() {
        let body = webchat(v.name, v.phone, v.language);
        let e: EntryAccepted = server
            .enter_with(
                &widget.key,
                &[
                    ("Origin", SHOP),
                    ("User-Agent", v.ua),
                    ("Accept-Language", v.accept_language),
                ],
                &body,
            )
            .ok(201);
        assert_eq!(e.status, ClientStatus::Waiting);
        assert_eq!(
            e.position,
            i as u32 + 1,
            "entry answer's position for {}",
            v.name
        );
        assert!(!e.session.is_empty() && !e.token.is_empty());
        clients.push(Client::from(e));
    }
    let ids: Vec<&str> = clients.iter().map(|c| c.id.as_str()).collect();

    // ---- both operators see all three, with what the queue shows
    for op in &ops {
        let queue = server.queue(&op.token);
        assert_eq!(queue.len(), 3, "{}'s queue: {queue:?}", op.name);
        for (i, (v, c)) in VISITORS.iter().zip(&clients).enumerate() {
            let q = item(&queue, &c.id).unwrap_or_else(|| panic!("{} missing: {queue:?}", v.name));
            let ctx = format!("{}'s queue, {}: {q:?}", op.name, v.name);
            assert_eq!(q.position, i as u32 + 1, "{ctx}");
            assert_eq!(q.entry, EntryKind::Webchat, "{ctx}");
            assert_eq!(q.channel, "widget", "{ctx}");
            assert!(
                q.browser.as_deref().unwrap_or("").contains(v.browser),
                "browser: {ctx}"
            );
            let os = q.os.as_deref().unwrap_or("");
            assert!(v.os.iter().any(|o| os.contains(o)), "os: {ctx}");
            assert!(
                q.language.as_deref().unwrap_or("").starts_with(v.language),
                "language: {ctx}"
            );
            assert_eq!(q.widget.as_deref(), Some("Shop chat"), "{ctx}");
            assert_eq!(q.name.as_deref(), Some(v.name), "{ctx}");
            assert_eq!(q.phone.as_deref(), Some(v.phone), "{ctx}");
            assert_eq!(q.group.as_deref(), Some(group.as_str()), "{ctx}");
            assert_eq!(q.operator, None, "{ctx}");
            assert_eq!(q.session, c.session, "{ctx}");
            assert!(!q.waiting_since.is_empty(), "{ctx}");
        }
    }
    for (op, ws) in ops.iter().zip(op_ws.iter_mut()) {
        let mut missing: Vec<&str> = ids.clone();
        while !missing.is_empty() {
            let e = ws.wait_for::<OperatorEvent>(
                &format!("client_waiting for {missing:?} ({})", op.name),
                |e| missing.iter().any(|id| op_waiting_is(e, id)),
            );
            if let OperatorEvent::ClientWaiting { client, .. } = e {
                let i = ids.iter().position(|id| *id == client.id).unwrap();
                assert_eq!(client.name.as_deref(), Some(VISITORS[i].name), "{client:?}");
                assert_eq!(client.position, i as u32 + 1, "{client:?}");
                missing.retain(|id| *id != client.id);
            }
        }
    }

    // Each client's own stream starts with where it stands.
    let mut client_ws: Vec<Ws> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (ws, status) = server.client_ws(&c.token, None);
            assert_eq!(
                status,
                ClientEvent::Status {
                    status: ClientStatus::Waiting,
                    position: Some(i as u32 + 1),
                    session: c.session.clone(),
                    // Nobody was accepted from this queue yet: no honest estimate.
                    estimated_wait_seconds: None,
                    operator: None,
                }
            );
            ws
        })
        .collect();

    // A client may write while waiting; it belongs to the session it will have.
    server.client_post(&clients[2].token, "Is anyone there?");

    // ---- both operators accept the first client at the same moment: exactly one wins
    let barrier = Barrier::new(2);
    let answers: Vec<Resp> = std::thread::scope(|s| {
        let handles: Vec<_> = ops
            .iter()
            .map(|op| {
                let barrier = &barrier;
                let client = clients[0].id.clone();
                s.spawn(move || {
                    barrier.wait();
                    server.accept(&op.token, &client)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    let winner = match statuses.as_slice() {
        [200, 409] => 0,
        [409, 200] => 1,
        _ => panic!("race answers: {answers:#?}"),
    };
    let loser = 1 - winner;
    let s1 = answers[winner].json::<Accepted>().session;
    assert_eq!(
        s1, clients[0].session,
        "accept answers the session made at entry"
    );
    answers[loser].clone().expect_error(409, "already_accepted");
    let (w, l) = (&ops[winner], &ops[loser]);

    let accepted = client_ws[0]
        .wait_for::<ClientEvent>("accepted", |e| matches!(e, ClientEvent::Accepted { .. }));
    match accepted {
        ClientEvent::Accepted { session, operator } => {
            assert_eq!(session, s1);
            assert!(
                operator == w.id || operator == w.name,
                "accepted by {operator:?}, winner {w:?}"
            );
        }
        _ => unreachable!(),
    }
    // The queue renumbers: 1..n in arrival order, and the clients hear of it.
    for op in &ops {
        let queue = server.queue(&op.token);
        assert!(
            item(&queue, &clients[0].id).is_none(),
            "accepted client still queued: {queue:?}"
        );
        assert_eq!(
            positions(&queue, &ids[1..]),
            [1, 2],
            "{}'s queue {queue:?}",
            op.name
        );
    }
    client_ws[1].wait_for::<ClientEvent>("position 1", |e| {
        matches!(e, ClientEvent::Position { position: 1, .. })
    });
    client_ws[2].wait_for::<ClientEvent>("position 2", |e| {
        matches!(e, ClientEvent::Position { position: 2, .. })
    });
    // The other operator sees the client taken; the winner's `session_started` (below) also
    // takes it out of the winner's queue: one frame per journal event and operator.
    op_ws[1 - winner].wait_for::<OperatorEvent>(
        "client_removed of the accepted client",
        |e| matches!(e, OperatorEvent::ClientRemoved { client, .. } if *client == clients[0].id),
    );
    op_ws[winner].wait_for::<OperatorEvent>(
        "session_started",
        |e| matches!(e, OperatorEvent::SessionStarted { session, .. } if *session == s1),
    );

    // ---- capacity: the winner (limit 1) cannot take a second chat; the loser can
    server
        .accept(&w.token, &clients[1].id)
        .expect_error(409, "capacity");
    let s2 = server.accept_ok(&l.token, &clients[1].id);
    assert_eq!(s2, clients[1].session);
    for op in &ops {
        assert_eq!(positions(&server.queue(&op.token), &ids[2..]), [1]);
    }
    client_ws[2].wait_for::<ClientEvent>("position 1", |e| {
        matches!(e, ClientEvent::Position { position: 1, .. })
    });

    // ---- conversation with the winner, both ways
    let m1 = server.client_post(
        &clients[0].token,
        "Hallo, ich habe eine Frage zur Bestellung.",
    );
    op_ws[winner].wait_for::<OperatorEvent>("the client's message", |e| {
        matches!(e, OperatorEvent::Message { session, message, .. }
            if *session == s1 && message.from == Party::Client && message.seq == m1)
    });
    let m2 = server.post_message(&w.token, &s1, "Guten Tag! Wie kann ich helfen?");
    client_ws[0].wait_for::<ClientEvent>("the operator's message", |e| {
        matches!(e, ClientEvent::Message { message } if message.seq == m2 && message.from == Party::Operator
            && message.text == "Guten Tag! Wie kann ich helfen?")
    });
    let m3 = server.client_post(&clients[0].token, "Wo ist mein Paket?");
    assert!(m1 < m2 && m2 < m3, "seqs {m1} {m2} {m3}");
    let history = server.messages(&w.token, &s1, 0);
    assert_increasing(&history);
    let expected_history = vec![
        (
            Party::Client,
            "Hallo, ich habe eine Frage zur Bestellung.".to_owned(),
        ),
        (
            Party::Operator,
            "Guten Tag! Wie kann ich helfen?".to_owned(),
        ),
        (Party::Client, "Wo ist mein Paket?".to_owned()),
    ];
    assert_eq!(conversation(&history), expected_history);
    let later = server.messages(&w.token, &s1, m1);
    assert!(later.iter().all(|m| m.seq > m1), "?after={m1}: {later:?}");
    assert_eq!(conversation(&later), expected_history[1..]);
    // The client reads the same conversation.
    assert_eq!(
        conversation(&server.client_messages(&clients[0].token, 0)),
        expected_history
    );

    // ---- redirect to the busy colleague: into its own queue, out of the winner's
    server
        .redirect(
            &w.token,
            &clients[0].id,
            &json!({"operator": l.id, "note": "German speaker, parcel question"}),
        )
        .expect(200);
    let lq = server.queue(&l.token);
    let directed = item(&lq, &clients[0].id)
        .unwrap_or_else(|| panic!("redirected client not in {}'s queue: {lq:?}", l.name));
    assert_eq!(
        directed.operator.as_deref(),
        Some(l.id.as_str()),
        "{directed:?}"
    );
    assert_eq!(directed.session, s1);
    let wq = server.queue(&w.token);
    assert!(
        item(&wq, &clients[0].id).is_none(),
        "client directed to {} shows in {}'s queue: {wq:?}",
        l.name,
        w.name
    );
    client_ws[0].wait_for::<ClientEvent>("redirected", |e| {
        matches!(e, ClientEvent::Redirected { .. })
    });
    op_ws[loser].wait_for::<OperatorEvent>("client_waiting for the redirected client", |e| {
        matches!(e, OperatorEvent::ClientWaiting { client, .. }
            if client.id == clients[0].id && client.operator.as_deref() == Some(l.id.as_str()))
    });

    // The loser is at its limit; it closes its chat, then takes the redirected client.
    server
        .accept(&l.token, &clients[0].id)
        .expect_error(409, "capacity");
    server.close(&l.token, &s2).expect(200);
    client_ws[1].wait_for::<ClientEvent>("closed", |e| {
        matches!(
            e,
            ClientEvent::Closed {
                by: Party::Operator
            }
        )
    });
    let s1_again = server.accept_ok(&l.token, &clients[0].id);
    assert_eq!(s1_again, s1, "the handed-over client keeps its session");
    client_ws[0].wait_for::<ClientEvent>("accepted by the colleague", |e| {
        matches!(e, ClientEvent::Accepted { session, operator } if *session == s1 && (*operator == l.id || *operator == l.name))
    });
    assert_eq!(
        conversation(&server.messages(&l.token, &s1, 0))[..3],
        expected_history[..],
        "the colleague sees the earlier conversation"
    );

    // The conversation goes on with the colleague.
    let m4 = server.client_post(&clients[0].token, "Danke!");
    op_ws[loser].wait_for::<OperatorEvent>("the client's message to the colleague", |e| {
        matches!(e, OperatorEvent::Message { session, message, .. } if *session == s1 && message.seq == m4 && message.text == "Danke!")
    });
    let m5 = server.post_message(&l.token, &s1, "Gern geschehen.");
    client_ws[0].wait_for::<ClientEvent>("the colleague's message", |e| {
        matches!(e, ClientEvent::Message { message } if message.seq == m5 && message.from == Party::Operator)
    });
    let all = server.messages(&l.token, &s1, 0);
    assert_increasing(&all);
    let mut expected_all = expected_history.clone();
    expected_all.push((Party::Client, "Danke!".to_owned()));
    expected_all.push((Party::Operator, "Gern geschehen.".to_owned()));
    assert_eq!(conversation(&all), expected_all);
    assert_eq!(
        conversation(&server.messages(&l.token, &s1, m4)),
        expected_all[4..],
        "?after={m4}"
    );

    // ---- close
    server.close(&l.token, &s1).expect(200);
    client_ws[0].wait_for::<ClientEvent>("closed", |e| {
        matches!(
            e,
            ClientEvent::Closed {
                by: Party::Operator
            }
        )
    });
    op_ws[loser].wait_for::<OperatorEvent>(
        "session_closed",
        |e| matches!(e, OperatorEvent::SessionClosed { session, .. } if *session == s1),
    );
    server.close(&l.token, &s1).expect_error_in(&[404, 409]);

    // ---- the winner, free again, takes the third client: what it wrote while waiting is there
    let s3 = server.accept_ok(&w.token, &clients[2].id);
    assert_eq!(s3, clients[2].session);
    let waiting_msgs = conversation(&server.messages(&w.token, &s3, 0));
    assert_eq!(
        waiting_msgs,
        [(Party::Client, "Is anyone there?".to_owned())]
    );
    for op in &ops {
        assert!(
            server.queue(&op.token).is_empty(),
            "{}'s queue is not empty",
            op.name
        );
    }
}
