//! A state change is durable before it is acknowledged: after a crash (SIGKILL of the whole
//! `wrangler dev` process group) and a restart on the same storage, everything acknowledged is
//! there, tokens still work, and event streams resume without gaps or repeats.

use lobby_e2e::*;
use lobby_wire::{ClientEvent, ClientStatus, OperatorEvent, Party, QueueItem};

fn standing(queue: &[QueueItem]) -> Vec<(String, u32, String)> {
    let mut v: Vec<_> = queue
        .iter()
        .map(|q| (q.id.clone(), q.position, q.session.clone()))
        .collect();
    v.sort_by_key(|(_, p, _)| *p);
    v
}

#[test]
fn acknowledged_state_survives_a_crash_and_restart() {
    let server = Server::start();
    let desk = server.desk("durable", &["Dora", "Dirk"], 2);
    let (dora, dirk) = (&desk.ops[0], &desk.ops[1]);
    let (mut ws, _) = server.operator_ws(&dora.token, None);

    let clients: Vec<Client> = [
        ("Ines", UA_CHROME_WINDOWS),
        ("Jonas", UA_FIREFOX_UBUNTU),
        ("Karin", UA_SAFARI_IPHONE),
    ]
    .iter()
    .enumerate()
    .map(|(i, (name, ua))| {
        server.enter_ok(
            &desk.widget.key,
            ua,
            &webchat(name, &format!("+49 40 555 01{i}"), "de"),
        )
    })
    .collect();
    let session = server.accept_ok(&dora.token, &clients[0].id);
    server.client_post(&clients[0].token, "before 1");
    server.post_message(&dora.token, &session, "before 2");
    let m3 = server.client_post(&clients[0].token, "before 3");
    let seen =
        ws.until::<OperatorEvent>("the message \"before 3\"", |e| op_message_is(e, "before 3"));
    let last_seq = seen.iter().map(op_seq).max().unwrap();

    let queue_before = standing(&server.queue(&dora.token));
    assert_eq!(queue_before.len(), 2);
    let messages_before = server.messages(&dora.token, &session, 0);
    assert_eq!(
        conversation(&messages_before),
        [
            (Party::Client, "before 1".to_owned()),
            (Party::Operator, "before 2".to_owned()),
            (Party::Client, "before 3".to_owned())
        ]
    );
    let loads = || {
        let mut v: Vec<(String, u32)> = server
            .operators(&desk.tenant.admin.token)
            .into_iter()
            .map(|o| (o.id, o.load))
            .collect();
        v.sort();
        v
    };
    let loads_before = loads();

    // ---- crash
    drop(ws);
    server.kill();
    assert!(
        server.get("/healthz").try_send().is_err(),
        "the server answers after its process group was SIGKILLed"
    );
    server.restart();

    // Tokens issued before the crash still work (same secret); logging in still works.
    let queue_after = standing(&server.queue(&dora.token));
    assert_eq!(
        queue_after, queue_before,
        "the waiting clients and their positions"
    );
    assert_eq!(standing(&server.queue(&dirk.token)), queue_before);
    server.login(&desk.tenant.slug, &dora.email, &dora.password);
    server.login(
        &desk.tenant.slug,
        &desk.tenant.admin.email,
        &desk.tenant.admin.password,
    );

    // The session is still active, with its messages in order.
    assert_eq!(server.messages(&dora.token, &session, 0), messages_before);
    assert_eq!(loads(), loads_before, "operators' loads");
    let (_cws, status) = server.client_ws(&clients[0].token, Some(m3));
    assert!(
        matches!(&status, ClientEvent::Status { status: ClientStatus::Active, session: s, .. } if *s == session),
        "the accepted client's status after restart: {status:?}"
    );
    let (_cws2, status) = server.client_ws(&clients[1].token, None);
    assert!(
        matches!(
            &status,
            ClientEvent::Status {
                status: ClientStatus::Waiting,
                position: Some(1),
                ..
            }
        ),
        "a waiting client's status after restart: {status:?}"
    );

    // ---- the operator resumes: what happened while it was away arrives once, then live events
    server.client_post(&clients[0].token, "after 1");
    let (mut ws, _) = server.operator_ws(&dora.token, Some(last_seq));
    server.post_message(&dora.token, &session, "after 2");
    server.client_post(&clients[0].token, "after 3");
    let events =
        ws.until::<OperatorEvent>("the message \"after 3\"", |e| op_message_is(e, "after 3"));
    let seqs: Vec<u64> = events.iter().map(op_seq).collect();
    assert!(
        seqs.iter().all(|&s| s > last_seq),
        "events at or before seq {last_seq} came again: {events:#?}"
    );
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "event seqs do not increase: {seqs:?}"
    );
    let count = |text: &str| events.iter().filter(|e| op_message_is(e, text)).count();
    assert_eq!(count("after 1"), 1, "{events:#?}");
    assert_eq!(count("after 3"), 1, "{events:#?}");
    assert!(count("after 2") <= 1, "{events:#?}");
    for old in ["before 1", "before 2", "before 3"] {
        assert_eq!(count(old), 0, "{old:?} was replayed: {events:#?}");
    }
    let all = server.messages(&dora.token, &session, 0);
    assert_increasing(&all);
    assert_eq!(all[..messages_before.len()], messages_before[..]);
    assert_eq!(
        conversation(&all[messages_before.len()..]),
        [
            (Party::Client, "after 1".to_owned()),
            (Party::Operator, "after 2".to_owned()),
            (Party::Client, "after 3".to_owned())
        ]
    );
}

/// Every `.sqlite` / `.db` file under `dir` (wrangler keeps one per Durable Object, the Spin
/// host one for all tenants).
fn sqlite_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            sqlite_files(&p, out);
        } else if matches!(
            p.extension().and_then(|x| x.to_str()),
            Some("sqlite" | "db")
        ) {
            out.push(p);
        }
    }
}

/// The stored snapshot parts, as (seq, bytes of each part), from whichever database holds any.
fn stored_snapshot(dir: &std::path::Path) -> Option<(u64, Vec<usize>)> {
    let mut files = Vec::new();
    sqlite_files(dir, &mut files);
    files.into_iter().find_map(|f| {
        let db =
            rusqlite::Connection::open_with_flags(&f, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .ok()?;
        let mut stmt = db
            .prepare("SELECT seq, length(CAST(body AS BLOB)) FROM snapshot_parts ORDER BY part")
            .ok()?;
        let rows: Vec<(u64, usize)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .ok()?
            .collect::<Result<_, _>>()
            .ok()?;
        let seq = rows.first()?.0;
        Some((seq, rows.into_iter().map(|(_, n)| n).collect()))
    })
}

#[test]
fn a_tenant_past_its_snapshot_comes_back_whole_after_a_crash() {
    let server = Server::start();
    let desk = server.desk("snapshot", &["Saša"], 5);
    let sasa = &desk.ops[0];
    // Waiting clients whose call parameters make the state larger than one stored part
    // (512 KiB), in text that is mostly two-byte characters, so that parts are cut between them.
    let words = "Příliš žluťoučký kůň úpěl ďábelské ódy. ";
    let params = |i: usize| serde_json::json!({ "ivr": format!("{i}"), "note": words.repeat(14_000 / words.len()) });
    let clients: Vec<Client> = (0..40)
        .map(|i| {
            let mut body = webchat(&format!("Čeněk {i}"), &format!("+420 777 000 {i:03}"), "cs");
            body["params"] = params(i);
            server.enter_ok(&desk.widget.key, UA_FIREFOX_UBUNTU, &body)
        })
        .collect();
    let session = server.accept_ok(&sasa.token, &clients[0].id);
    // Past 500 events: a snapshot is written.
    for i in 0..240 {
        server.client_post(&clients[0].token, &format!("dotaz {i} — ř"));
        server.post_message(&sasa.token, &session, &format!("odpověď {i} — ů"));
    }
    let queue_before = standing(&server.queue(&sasa.token));
    let messages_before = server.messages(&sasa.token, &session, 0);
    assert_eq!(queue_before.len(), 39);
    assert!(messages_before.len() >= 480);

    server.kill();
    let (seq, parts) = stored_snapshot(server.dir()).expect("a stored snapshot");
    assert!(seq >= 500, "the snapshot is at event {seq}");
    assert!(parts.len() >= 2, "the state is stored in parts: {parts:?}");
    assert!(parts.iter().all(|&n| n <= 512 * 1024), "{parts:?}");
    server.restart();

    // The same queue, conversation and call parameters, from the snapshot plus what followed.
    assert_eq!(standing(&server.queue(&sasa.token)), queue_before);
    assert_eq!(server.messages(&sasa.token, &session, 0), messages_before);
    let last = &clients[39];
    let preview: serde_json::Value = server
        .get(&format!("/api/v1/clients/{}/preview", last.id))
        .auth(&sasa.token)
        .send()
        .ok(200);
    assert_eq!(preview["call_parameters"], params(39));
    assert_eq!(preview["client"]["name"], "Čeněk 39");
    // And it goes on: the next accept and message are served.
    let next = server.accept_ok(&sasa.token, &clients[1].id);
    server.post_message(&sasa.token, &next, "Dobrý den");
}
