//! Crash and restart under traffic: clients enter, operators accept, messages flow both ways from
//! several threads at a steady rate while the runtime's whole process group is SIGKILLed and
//! started again, several times. Afterwards every entry, accept and message that got a 2xx before
//! a kill is there (messages with the seq they were given), and nothing appears twice. Requests
//! that failed during a kill were never acknowledged and may or may not have happened.
//!
//! Scale from the environment: `LOBBY_CRASH_KILLS` (default 3), `LOBBY_CRASH_THREADS` (4).
//! With `LOBBY_RELIABILITY_OUT=<file>` the figures are appended to that file (RELIABILITY.md).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lobby_e2e::reliability::{self, env_usize};
use lobby_e2e::*;
use lobby_wire::{Accepted, EntryAccepted, Message, Posted, QueueItem};
use serde_json::{json, Value};

/// What the server acknowledged (2xx) and therefore must still have.
#[derive(Default)]
struct Acked {
    /// Entered clients: id → token.
    entered: BTreeMap<String, String>,
    /// Accepted clients: id → (operator index, session).
    accepted: BTreeMap<String, (usize, String)>,
    /// Messages: (session, text) → seq.
    messages: BTreeMap<(String, String), u64>,
    /// Clients whose accept was answered 409: an earlier accept went through but its answer
    /// was lost in a kill (never acknowledged, so nothing to check but that it is served).
    taken: std::collections::BTreeSet<String>,
    /// Requests that failed (the server was down or restarting), by kind.
    failed: BTreeMap<&'static str, usize>,
}

#[test]
fn acknowledged_entries_accepts_and_messages_survive_repeated_sigkills_under_traffic() {
    let kills = env_usize("LOBBY_CRASH_KILLS", 3);
    let threads = env_usize("LOBBY_CRASH_THREADS", 4).max(1);
    let server = Server::start();
    let desk = server.desk("crash", &["Cyril", "Cecilie"], 100);
    let ops: Vec<String> = desk.ops.iter().map(|o| o.token.clone()).collect();
    let key = desk.widget.key.clone();
    let body = webchat("Crash Client", "+420 777 000 001", "cs");

    let acked = Arc::new(Mutex::new(Acked::default()));
    // Sessions that messages can go to: (session, client token, operator index).
    let live: Arc<Mutex<Vec<(String, String, usize)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(Mutex::new(0u64));

    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (acked, live, stop, counter) =
                (acked.clone(), live.clone(), stop.clone(), counter.clone());
            let (ops, key, body, server) = (ops.clone(), key.clone(), body.clone(), &server);
            scope.spawn(move || {
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let n = {
                        let mut c = counter.lock().unwrap();
                        *c += 1;
                        *c
                    };
                    let text = format!("m{n} from thread {t}");
                    let (kind, result): (&'static str, Result<Resp, String>) = match i % 4 {
                        // A client enters.
                        0 => (
                            "entry",
                            server
                                .post(&format!("/api/v1/widgets/{key}/entries"))
                                .header("Origin", SHOP)
                                .header("User-Agent", UA_CHROME_WINDOWS)
                                .json(&body)
                                .try_send(),
                        ),
                        // An operator accepts the longest-waiting client it knows of.
                        1 => {
                            let op = (t + i) % ops.len();
                            let next = {
                                let a = acked.lock().unwrap();
                                a.entered
                                    .keys()
                                    .find(|c| !a.accepted.contains_key(*c) && !a.taken.contains(*c))
                                    .cloned()
                            };
                            let Some(client) = next else { continue };
                            let r = server
                                .post(&format!("/api/v1/queue/{client}/accept"))
                                .auth(&ops[op])
                                .try_send();
                            if let Ok(resp) = &r {
                                if resp.status == 409 {
                                    // Accepted by a request whose answer a kill cut off.
                                    acked.lock().unwrap().taken.insert(client.clone());
                                    continue;
                                }
                                if resp.status == 200 {
                                    let a: Accepted = resp.json();
                                    let token = acked.lock().unwrap().entered[&client].clone();
                                    acked
                                        .lock()
                                        .unwrap()
                                        .accepted
                                        .insert(client.clone(), (op, a.session.clone()));
                                    live.lock().unwrap().push((a.session, token, op));
                                }
                            }
                            ("accept", r)
                        }
                        // The client writes, or the operator answers.
                        _ => {
                            let target = {
                                let l = live.lock().unwrap();
                                (!l.is_empty()).then(|| l[n as usize % l.len()].clone())
                            };
                            let Some((session, client_token, op)) = target else {
                                continue;
                            };
                            let r = if i % 4 == 2 {
                                server
                                    .post("/api/v1/client/messages")
                                    .auth(&client_token)
                                    .json(&json!({ "text": text }))
                                    .try_send()
                            } else {
                                server
                                    .post(&format!("/api/v1/sessions/{session}/messages"))
                                    .auth(&ops[op])
                                    .json(&json!({ "text": text }))
                                    .try_send()
                            };
                            if let Ok(resp) = &r {
                                if resp.status == 201 {
                                    let p: Posted = resp.json();
                                    acked
                                        .lock()
                                        .unwrap()
                                        .messages
                                        .insert((session, text.clone()), p.seq);
                                }
                            }
                            ("message", r)
                        }
                    };
                    match result {
                        Ok(resp) if kind == "entry" && resp.status == 201 => {
                            let e: EntryAccepted = resp.json();
                            acked.lock().unwrap().entered.insert(e.client, e.token);
                        }
                        Ok(resp) if resp.status < 300 => {}
                        Ok(resp) if resp.status >= 500 => {
                            *acked.lock().unwrap().failed.entry(kind).or_default() += 1;
                        }
                        Ok(resp) => panic!(
                            "{} answered {} (not a crash): {}",
                            resp.what, resp.status, resp.body
                        ),
                        Err(_) => {
                            *acked.lock().unwrap().failed.entry(kind).or_default() += 1;
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                }
            });
        }

        // The crashes, while the threads above keep going.
        for k in 0..kills {
            std::thread::sleep(Duration::from_millis(2_000));
            eprintln!("crashes: SIGKILL {} of {kills}", k + 1);
            server.kill();
            std::thread::sleep(Duration::from_millis(300));
            server.restart();
        }
        std::thread::sleep(Duration::from_millis(1_500));
        stop.store(true, Ordering::Relaxed);
    });
    let elapsed = started.elapsed();

    // ---- everything acknowledged is there, once.
    let a = acked.lock().unwrap();
    let mut wrong: Vec<String> = vec![];
    let queue: Vec<QueueItem> = server.queue(&ops[0]);
    let waiting: HashMap<&str, &QueueItem> = queue.iter().map(|q| (q.id.as_str(), q)).collect();
    let mut sessions_of: Vec<Vec<String>> = vec![];
    let mut served: std::collections::BTreeSet<String> = Default::default();
    for token in &ops {
        let v: Value = server.get("/api/v1/sessions").auth(token).send().ok(200);
        let list = v["sessions"].as_array().cloned().unwrap_or_default();
        sessions_of.push(
            list.iter()
                .filter_map(|s| s["session"].as_str().map(str::to_string))
                .collect(),
        );
        served.extend(
            list.iter()
                .filter_map(|s| s["id"].as_str().map(str::to_string)),
        );
    }
    let served_now = served;
    for client in a.entered.keys() {
        let acked_accept = a.accepted.contains_key(client);
        // Waiting, or served (accepted by a request whose answer a kill may have cut off).
        if !waiting.contains_key(client.as_str()) && !served_now.contains(client) {
            wrong.push(format!(
                "acknowledged entry {client} is gone (neither waiting nor served; acknowledged accept: {acked_accept})"
            ));
        }
    }
    for (client, (op, session)) in &a.accepted {
        if !sessions_of[*op].contains(session) {
            wrong.push(format!(
                "acknowledged accept of {client} by operator {op}: session {session} is not theirs"
            ));
        }
        if waiting.contains_key(client.as_str()) {
            wrong.push(format!("accepted client {client} is back in the queue"));
        }
    }
    let mut by_session: BTreeMap<&str, Vec<Message>> = BTreeMap::new();
    for (session, _) in a.messages.keys() {
        if !by_session.contains_key(session.as_str()) {
            let op = a
                .accepted
                .values()
                .find(|(_, s)| s == session)
                .map_or(0, |(o, _)| *o);
            by_session.insert(session, server.messages(&ops[op], session, 0));
        }
    }
    for ((session, text), seq) in &a.messages {
        let found: Vec<&Message> = by_session[session.as_str()]
            .iter()
            .filter(|m| &m.text == text)
            .collect();
        match found.as_slice() {
            [m] if m.seq == *seq => {}
            [] => wrong.push(format!("acknowledged message {text:?} (seq {seq}) is lost")),
            [m] => wrong.push(format!(
                "message {text:?} was acknowledged as seq {seq} but is stored as {}",
                m.seq
            )),
            many => wrong.push(format!("message {text:?} is stored {} times", many.len())),
        }
    }
    for (session, messages) in &by_session {
        assert_increasing(messages);
        let mut texts: Vec<&str> = messages.iter().map(|m| m.text.as_str()).collect();
        texts.sort();
        let before = texts.len();
        texts.dedup();
        if texts.len() != before {
            wrong.push(format!("session {session} holds a message twice"));
        }
    }

    let summary = format!(
        "{kills} SIGKILLs of the whole process group of {} in {:.0} s under {threads} threads of traffic; acknowledged: {} entries, {} accepts, {} messages; requests that failed while it was down: {:?}; acknowledged but lost: {}; stored twice: {}",
        match runtime() {
            Runtime::Cloudflare => "wrangler dev",
            Runtime::Spin => "the Spin host",
        },
        elapsed.as_secs_f64(),
        a.entered.len(),
        a.accepted.len(),
        a.messages.len(),
        a.failed,
        wrong.iter().filter(|w| w.contains("lost") || w.contains("gone")).count(),
        wrong.iter().filter(|w| w.contains("twice") || w.contains("times")).count(),
    );
    eprintln!("crashes: {summary}");
    reliability::report(
        &format!("Crash and restart ({})", reliability::runtime_name()),
        &summary,
    );
    assert!(
        a.failed.values().sum::<usize>() > 0,
        "no request ever failed: the kills did not land during traffic"
    );
    assert!(
        !a.messages.is_empty() && !a.accepted.is_empty(),
        "too little traffic to prove anything"
    );
    assert!(
        wrong.is_empty(),
        "{} problem(s):\n{}",
        wrong.len(),
        wrong
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
