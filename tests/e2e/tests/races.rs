//! Races under load: many operators hammer accept, redirect and close on the same few clients at
//! once, through the real HTTP API, while every operator's event stream is recorded. Afterwards:
//! every answer is justified, and the event log (the operators' streams merged in journal order)
//! shows no client accepted twice and no operator ever over a limit, at any point, not only at the
//! end.
//!
//! Scale from the environment (`make test` runs the defaults; `make prove` runs at least 50
//! operators and 10,000 accept attempts): `LOBBY_RACE_OPERATORS`, `LOBBY_RACE_ATTEMPTS`,
//! `LOBBY_RACE_WAITING` (clients kept waiting). With `LOBBY_RELIABILITY_OUT=<file>` the figures
//! are appended to that file as a Markdown section (RELIABILITY.md).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lobby_e2e::reliability::{self, env_usize};
use lobby_e2e::*;
use lobby_wire::{Accepted, OperatorEvent};
use serde_json::{json, Value};

/// A small PRNG (xorshift64*), seeded from the kernel per thread: the test needs spread, not
/// cryptographic quality.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        Rng(u64::from_str_radix(&random_hex(8), 16).unwrap_or(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// One accept attempt as the operator's thread saw it.
#[derive(Debug, Clone)]
struct Attempt {
    operator: usize,
    client: String,
    status: u16,
    code: Option<String>,
    /// Sessions the operator held when it asked (its thread is the only one acting for it, and
    /// clients never leave in this test, so this is exact).
    held: usize,
}

#[derive(Default)]
struct Shared {
    /// Clients believed waiting: what operators pick from (the front few, to collide).
    pool: Vec<String>,
    /// Clients some operator closed (later accepts of them may be answered 404).
    closed: BTreeSet<String>,
    attempts: Vec<Attempt>,
    /// Accepts answered 200: (operator, client, session).
    won: Vec<(usize, String, String)>,
    /// Anything that must not happen, in words.
    wrong: Vec<String>,
    redirects: usize,
    closes: usize,
}

/// One operator's stream as read: each journaled frame with its seq.
type Stream = Arc<Mutex<Vec<(u64, OperatorEvent)>>>;

fn record(events: &Stream, v: Value) {
    if let Ok(e) = serde_json::from_value::<OperatorEvent>(v) {
        if let Some(seq) = serde_json::to_value(&e)
            .ok()
            .and_then(|j| j["seq"].as_u64())
        {
            events.lock().unwrap().push((seq, e));
        }
    }
}

#[test]
fn many_operators_race_for_the_same_clients_and_no_rule_ever_breaks() {
    let operators = env_usize("LOBBY_RACE_OPERATORS", 12).max(2);
    let attempts_wanted = env_usize("LOBBY_RACE_ATTEMPTS", 1_200);
    let waiting = env_usize("LOBBY_RACE_WAITING", 24).max(2);

    let server = shared();
    let tenant = server.create_tenant("race");
    let sales = tenant.group("Sales");
    let support = tenant.group("Support");
    let widget = tenant.widget("Shop chat", &sales, &[SHOP]);
    // Chat limits 1, 2, 3, 1, 2, 3, …: the small ones are reached all the time.
    let limits: Vec<usize> = (0..operators).map(|i| i % 3 + 1).collect();
    let ops: Vec<Operator> = (0..operators)
        .map(|i| {
            tenant.operator(
                &format!("Operator {i}"),
                &[&sales, &support],
                limits[i] as u32,
            )
        })
        .collect();
    for op in &ops {
        server.set_status(&op.token, lobby_wire::Presence::Online);
    }

    // Every operator's event stream, read on its own thread until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let streams: Vec<Stream> = (0..operators).map(|_| Arc::default()).collect();
    let readers: Vec<_> = ops
        .iter()
        .zip(&streams)
        .map(|(op, events)| {
            let (mut ws, _hello) = server.operator_ws(&op.token, None);
            let (stop, events) = (stop.clone(), events.clone());
            std::thread::spawn(move || {
                loop {
                    match ws.next_value(Duration::from_millis(200)) {
                        Some(v) => record(&events, v),
                        None if stop.load(Ordering::Relaxed) => break,
                        None => {}
                    }
                }
                ws.close();
            })
        })
        .collect();

    let body = webchat("Race Client", "+420 777 000 000", "cs");
    let shared_state = Arc::new(Mutex::new(Shared::default()));
    for _ in 0..waiting {
        let c = server.enter_ok(&widget.key, UA_CHROME_WINDOWS, &body);
        shared_state.lock().unwrap().pool.push(c.id);
    }

    let counter = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for (i, op) in ops.iter().enumerate() {
            let (state, counter) = (shared_state.clone(), counter.clone());
            let (limit, widget_key, body) = (limits[i], widget.key.clone(), body.clone());
            let groups = [sales.clone(), support.clone()];
            scope.spawn(move || {
                let mut rng = Rng::new();
                let mut held: Vec<(String, String)> = vec![]; // (client, session)
                while counter.fetch_add(1, Ordering::Relaxed) < attempts_wanted {
                    // Mostly the front of the pool, so that operators collide.
                    let pick = {
                        let s = state.lock().unwrap();
                        if s.pool.is_empty() {
                            None
                        } else {
                            let n = s.pool.len().min(4);
                            Some(s.pool[rng.below(n)].clone())
                        }
                    };
                    let Some(client) = pick.or_else(|| held.first().map(|h| h.0.clone())) else {
                        continue;
                    };
                    let before = held.len();
                    let r = server.accept(&op.token, &client);
                    let code = (r.status != 200)
                        .then(|| r.value()["error"]["code"].as_str().map(str::to_string))
                        .flatten();
                    {
                        let mut s = state.lock().unwrap();
                        s.attempts.push(Attempt {
                            operator: i,
                            client: client.clone(),
                            status: r.status,
                            code: code.clone(),
                            held: before,
                        });
                        if r.status == 200 {
                            let a: Accepted = r.json();
                            s.pool.retain(|c| c != &client);
                            s.won.push((i, client.clone(), a.session.clone()));
                            held.push((client.clone(), a.session));
                        }
                    }
                    // Let go of a session now and then; at the limit, more often (but not
                    // always: accepting at the limit must be refused in words).
                    let let_go = if held.len() >= limit {
                        rng.chance(70)
                    } else {
                        rng.chance(35)
                    };
                    if let_go && !held.is_empty() {
                        let (client, session) = held.remove(rng.below(held.len()));
                        if rng.chance(50) {
                            let r = server.close(&op.token, &session);
                            let replacement =
                                server.enter_ok(&widget_key, UA_CHROME_WINDOWS, &body);
                            let mut s = state.lock().unwrap();
                            if r.status != 200 {
                                s.wrong.push(format!(
                                    "close of {session} answered {}: {}",
                                    r.status, r.body
                                ));
                            }
                            s.closes += 1;
                            s.closed.insert(client);
                            s.pool.push(replacement.id);
                        } else {
                            let to = &groups[rng.below(2)];
                            let r = server.redirect(&op.token, &client, &json!({ "group": to }));
                            let mut s = state.lock().unwrap();
                            if r.status != 200 {
                                s.wrong.push(format!(
                                    "redirect of {client} answered {}: {}",
                                    r.status, r.body
                                ));
                            }
                            s.redirects += 1;
                            s.pool.push(client);
                        }
                    }
                }
            });
        }
    });
    let elapsed = started.elapsed();

    // A sentinel entry reaches every operator's stream (all serve Sales): once each has seen
    // it, each has seen everything before it.
    let sentinel = server.enter_ok(&widget.key, UA_CHROME_WINDOWS, &body);
    let deadline = Instant::now() + Duration::from_secs(60);
    for (i, events) in streams.iter().enumerate() {
        loop {
            let seen = events.lock().unwrap().iter().any(|(_, e)| {
                matches!(e, OperatorEvent::ClientWaiting { client, .. } if client.id == sentinel.id)
            });
            if seen {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "operator {i}'s stream never delivered the sentinel entry"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().expect("a stream reader panicked");
    }

    let s = shared_state.lock().unwrap();
    let mut wrong = s.wrong.clone();

    // 1. Every answer is justified.
    let winners: HashMap<&str, BTreeSet<usize>> =
        s.won.iter().fold(HashMap::new(), |mut m, (op, c, _)| {
            m.entry(c.as_str()).or_default().insert(*op);
            m
        });
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    for a in &s.attempts {
        let kind = match &a.code {
            None => a.status.to_string(),
            Some(code) => format!("{} {code}", a.status),
        };
        *by_kind.entry(kind).or_default() += 1;
        let justified = match (a.status, a.code.as_deref()) {
            (200, _) => a.held < limits[a.operator],
            (409, Some("capacity")) => a.held >= limits[a.operator],
            // Someone (another operator, or this one earlier) was given that client.
            (409, Some("already_accepted")) => winners.contains_key(a.client.as_str()),
            (404, _) => s.closed.contains(&a.client),
            _ => false,
        };
        if !justified {
            wrong.push(format!(
                "operator {} (limit {}, holding {}) asked for {}: {} {:?}",
                a.operator, limits[a.operator], a.held, a.client, a.status, a.code
            ));
        }
    }

    // 2. The event log, in journal order: who served whom at every step.
    let mut log: BTreeMap<(u64, usize), OperatorEvent> = BTreeMap::new();
    for (op, events) in streams.iter().enumerate() {
        for (seq, e) in events.lock().unwrap().iter() {
            log.insert((*seq, op), e.clone());
        }
    }
    let mut active: Vec<BTreeMap<String, String>> = vec![BTreeMap::new(); operators]; // session -> client
    let mut owner: HashMap<String, usize> = HashMap::new(); // client -> operator
    let (mut started_n, mut peak) = (0usize, vec![0usize; operators]);
    let (mut double, mut over) = (0usize, 0usize);
    for ((seq, op), e) in &log {
        match e {
            OperatorEvent::SessionStarted {
                session, client, ..
            } => {
                started_n += 1;
                if let Some(other) = owner.insert(client.clone(), *op) {
                    double += 1;
                    wrong.push(format!(
                        "seq {seq}: client {client} started with operator {op} while operator {other} served it"
                    ));
                }
                active[*op].insert(session.clone(), client.clone());
                peak[*op] = peak[*op].max(active[*op].len());
                if active[*op].len() > limits[*op] {
                    over += 1;
                    wrong.push(format!(
                        "seq {seq}: operator {op} serves {} clients, limit {}",
                        active[*op].len(),
                        limits[*op]
                    ));
                }
            }
            OperatorEvent::SessionClosed { session, .. } => {
                if let Some(client) = active[*op].remove(session) {
                    owner.remove(&client);
                }
            }
            // One frame per event: a client this operator served waiting again (redirected to
            // a group the operator is in) also ends that session for it.
            OperatorEvent::ClientWaiting { client, .. } => {
                let ended: Vec<String> = active[*op]
                    .iter()
                    .filter(|(_, c)| **c == client.id)
                    .map(|(s, _)| s.clone())
                    .collect();
                for session in ended {
                    active[*op].remove(&session);
                    owner.remove(&client.id);
                }
            }
            _ => {}
        }
    }
    if started_n != s.won.len() {
        wrong.push(format!(
            "{} accepts answered 200 but the log holds {started_n} session starts",
            s.won.len()
        ));
    }

    // 3. The end state agrees with the log.
    for (i, op) in ops.iter().enumerate() {
        let mine: BTreeSet<String> = server
            .get("/api/v1/sessions")
            .auth(&op.token)
            .send()
            .ok::<Value>(200)["sessions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s["session"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let logged: BTreeSet<String> = active[i].keys().cloned().collect();
        if mine != logged {
            wrong.push(format!(
                "operator {i}: the server lists sessions {mine:?}, the log {logged:?}"
            ));
        }
    }
    let queue = server.queue(&ops[0].token);
    for item in &queue {
        if let Some(op) = owner.get(&item.id) {
            wrong.push(format!(
                "client {} waits in the queue while operator {op} serves it",
                item.id
            ));
        }
    }

    let rps = (s.attempts.len() + s.closes * 2 + s.redirects) as f64 / elapsed.as_secs_f64();
    let summary = format!(
        "{operators} operators (chat limits 1–3), {waiting} clients kept waiting, {} accept attempts, {} redirects, {} closes in {:.1} s (~{rps:.0} requests/s through {}); answers: {}; log: {started_n} session starts, busiest operators at {:?} of limits {:?}; clients accepted twice: {double}; operators over a limit: {over}; unjustified answers or mismatches: {}",
        s.attempts.len(),
        s.redirects,
        s.closes,
        elapsed.as_secs_f64(),
        match runtime() {
            Runtime::Cloudflare => "wrangler dev",
            Runtime::Spin => "the Spin host",
        },
        by_kind
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        peak.iter().take(6).collect::<Vec<_>>(),
        limits.iter().take(6).collect::<Vec<_>>(),
        wrong.len(),
    );
    eprintln!("races: {summary}");
    reliability::report(
        &format!("Races ({})", reliability::runtime_name()),
        &summary,
    );
    assert!(
        by_kind.keys().any(|k| k.contains("already_accepted")),
        "no two operators ever collided: the test did not race ({by_kind:?})"
    );
    assert!(
        by_kind.keys().any(|k| k.contains("capacity")),
        "no operator ever hit its limit: the test did not press the limits ({by_kind:?})"
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
