//! `make bench`: measures Lobby in one run and writes `BENCHMARKS.md` (and prints the same table).
//!
//! 1. The core natively: Enter → Accept → PostMessage (client) → PostMessage (operator) → Close
//!    cycles on a `Lobby` with clients waiting in the background, through `Lobby::handle`, and the
//!    same cycle through the API layer the worker runs per request (`route` + `authorize` +
//!    `Lobby::call`, with JSON bodies and tokens).
//! 2. Through `wrangler dev`: entry → accept → operator message → close cycles over HTTP, next to
//!    the empty Durable Object round trip (`GET /api/v1/ping`), in alternating blocks.
//! 3. The latency from a client's entry to the `client_waiting` event on an operator's WebSocket,
//!    next to the ping's round trip; 2 and 3 again on the local Spin host (Server-Sent Events).
//! 4. What an idle event stream costs the Spin host (SQLite statements, time inside SQLite, host
//!    CPU), the previous way (the journal read every 200 ms) and the current one (SQLite's change
//!    counter every 5 ms), each on a fresh host.
//!
//! This machine is shared and noisy: every figure is reported next to a baseline measured in the
//! same run, and blocks of the measured path and of the baseline alternate so that noise hits
//! both. Nothing here asserts on a time; a wrong answer from the server does stop the bench.

use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lobby_core::api::{self, Ctx, MessageLog, Meta, Reply, Secrets};
use lobby_core::auth::{self, Claims, TokenRole};
use lobby_core::lobby::{
    Author, Closer, Command, Details, Group, Lobby, Millis, Operator as CoreOperator, Target,
    Tenant as CoreTenant, Widget,
};
use lobby_e2e::{
    event_timeout, op_waiting_is, repo_root, webchat, Server, Ws, SHOP, UA_CHROME_WINDOWS,
};
use lobby_wire::{EntryAccepted, EntryKind, OperatorEvent, Page, Presence, Role};
use serde_json::{json, Value};

// ------------------------------------------------------------------ sizes

/// Clients waiting in the background queue while the cycles run (natively).
const CORE_BACKGROUND: usize = 300;
/// Native rounds (median reported) and cycles per round: 5 × 40 000 = 200 000 cycles.
const CORE_ROUNDS: usize = 5;
const CORE_CYCLES: usize = 40_000;
/// The API layer does more per command (JSON, tokens, user agents): fewer cycles.
const API_ROUNDS: usize = 5;
const API_CYCLES: usize = 4_000;

/// Through wrangler dev: clients waiting in the background, rounds of alternating blocks.
const HTTP_BACKGROUND: usize = 20;
const HTTP_ROUNDS: usize = 5;
const PINGS_PER_ROUND: usize = 300;
const CYCLES_PER_ROUND: usize = 100;
/// Requests before anything is timed (the Durable Object wakes, V8 tiers the Wasm up).
const WARMUP_PINGS: usize = 100;
const WARMUP_CYCLES: usize = 25;
/// Entry → operator event samples (each followed by one ping for the baseline).
const LATENCY_SAMPLES: usize = 200;
/// Idle operator streams held open on the Spin host, and for how long their cost is measured.
const IDLE_STREAMS: usize = 40;
const IDLE_SECONDS: f64 = 10.0;

const T0: Millis = 1_700_000_000_000;
const SECRET: &[u8] = b"bench token secret, at least 32 bytes long";
const CLIENT_TEXT: &str = "Hello, my order 4711 has not arrived yet.";
const OPERATOR_TEXT: &str = "Hi, Ann here. Let me look at order 4711 for you.";

// ------------------------------------------------------------------ statistics

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Nearest-rank percentile (`q` in 0..=1) of durations, in milliseconds.
fn percentile_ms(v: &[Duration], q: f64) -> f64 {
    let mut s: Vec<Duration> = v.to_vec();
    s.sort();
    if s.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len());
    s[rank - 1].as_secs_f64() * 1e3
}

fn max_ms(v: &[Duration]) -> f64 {
    v.iter().max().map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
}

/// `1234567.8` → `1 234 568`; small figures keep a decimal or two.
fn num(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    if x >= 1000.0 {
        let s = format!("{:.0}", x);
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push('\u{202f}');
            }
            out.push(c);
        }
        out
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn ratio(x: f64) -> String {
    if !x.is_finite() {
        "n/a".into()
    } else if x >= 10.0 {
        format!("{x:.0}×")
    } else {
        format!("{x:.2}×")
    }
}

// ------------------------------------------------------------------ 1. the core natively

fn core_operator(id: &str, groups: &[&str], role: Role) -> CoreOperator {
    CoreOperator {
        id: id.into(),
        email: format!("{id}@bench.example"),
        name: format!("Operator {id}"),
        role,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        chat_limit: 100,
        // The state machine only stores the hash; hashing is the API layer's business.
        password_hash: "$argon2id$not-a-real-hash".into(),
        presence: Presence::Offline,
    }
}

fn details(i: usize) -> Details {
    Details {
        language: Some("cs".into()),
        browser: Some("Chrome".into()),
        os: Some("Windows 10".into()),
        widget: Some("w_shop".into()),
        name: Some(format!("Client {i}")),
        page: Some(Page {
            url: "https://shop.example/cart".into(),
            title: Some("Cart".into()),
            referrer: None,
        }),
        ..Default::default()
    }
}

fn must(lobby: &mut Lobby, cmd: &Command, at: Millis) -> usize {
    match lobby.handle(cmd, at) {
        Ok(events) => black_box(events).len(),
        Err(e) => panic!("the core refused {cmd:?}: {e:?}"),
    }
}

/// A tenant with group `support`, operator `ann` (online, 100 chats) and `CORE_BACKGROUND`
/// clients waiting in the group's queue.
fn core_lobby() -> Lobby {
    let mut l = Lobby::new();
    let at = T0;
    must(
        &mut l,
        &Command::CreateTenant {
            tenant: CoreTenant {
                slug: "bench".into(),
                name: "Bench".into(),
            },
            admin: core_operator("adm", &[], Role::Admin),
        },
        at,
    );
    must(
        &mut l,
        &Command::CreateGroup(Group {
            id: "support".into(),
            name: "Support".into(),
        }),
        at,
    );
    must(
        &mut l,
        &Command::CreateOperator(core_operator("ann", &["support"], Role::Operator)),
        at,
    );
    must(
        &mut l,
        &Command::SetPresence {
            operator: "ann".into(),
            presence: Presence::Online,
        },
        at,
    );
    for i in 0..CORE_BACKGROUND {
        must(
            &mut l,
            &Command::Enter {
                client: format!("bg{i}"),
                session: format!("sbg{i}"),
                entry: EntryKind::Webchat,
                details: details(i),
                target: Target::Group("support".into()),
            },
            at,
        );
    }
    l
}

/// One Enter → Accept → PostMessage ×2 → Close cycle; returns how many events it made.
fn core_cycle(l: &mut Lobby, i: usize, at: Millis) -> usize {
    let client = format!("c{i}");
    let session = format!("s{i}");
    let mut n = must(
        l,
        &Command::Enter {
            client: client.clone(),
            session: session.clone(),
            entry: EntryKind::Webchat,
            details: details(i),
            target: Target::Group("support".into()),
        },
        at,
    );
    n += must(
        l,
        &Command::Accept {
            operator: "ann".into(),
            client,
        },
        at + 1,
    );
    n += must(
        l,
        &Command::PostMessage {
            session: session.clone(),
            author: Author::Client,
            text: CLIENT_TEXT.into(),
            attachments: vec![],
            key: None,
        },
        at + 2,
    );
    n += must(
        l,
        &Command::PostMessage {
            session: session.clone(),
            author: Author::Operator("ann".into()),
            text: OPERATOR_TEXT.into(),
            attachments: vec![],
            key: None,
        },
        at + 3,
    );
    n += must(
        l,
        &Command::Close {
            session,
            by: Closer::Operator("ann".into()),
        },
        at + 4,
    );
    n
}

struct Rate {
    /// Cycles per second, median over rounds.
    cycles_per_s: f64,
    /// Every round's figure, for the spread.
    rounds: Vec<f64>,
    cycles: usize,
}

fn bench_core() -> Rate {
    let mut rounds = Vec::new();
    // Warm-up (caches, allocator), not counted.
    {
        let mut l = core_lobby();
        for i in 0..2_000 {
            core_cycle(&mut l, i, T0 + 10 * i as i64);
        }
    }
    for _ in 0..CORE_ROUNDS {
        // A fresh tenant per round: the core keeps every closed session, so rounds stay alike.
        let mut l = core_lobby();
        let start = Instant::now();
        let mut events = 0;
        for i in 0..CORE_CYCLES {
            events += core_cycle(&mut l, i, T0 + 10 * i as i64);
        }
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(events, 5 * CORE_CYCLES, "one event per command");
        assert_eq!(
            l.queue_len(&Target::Group("support".into())) as usize,
            CORE_BACKGROUND
        );
        rounds.push(CORE_CYCLES as f64 / secs);
        black_box(&l);
    }
    Rate {
        cycles_per_s: median(&rounds),
        rounds,
        cycles: CORE_ROUNDS * CORE_CYCLES,
    }
}

/// The journal's message log; the cycle never reads messages back.
struct NoMessages;

impl MessageLog for NoMessages {
    fn messages(&self, _: &str, _: u64, _: usize) -> Vec<lobby_wire::Message> {
        vec![]
    }
}

/// What the worker does per request natively: resolve the route, authorize the token, run the
/// call against the tenant's Lobby.
struct ApiWorld {
    lobby: Lobby,
    calls: u64,
    now: Millis,
    widget_key: String,
    op_token: String,
}

impl ApiWorld {
    fn new() -> Self {
        let mut lobby = core_lobby();
        let key = "bench.00112233445566778899aabbccddeeff".to_string();
        must(
            &mut lobby,
            // Through serde, so that fields with defaults (buttons, form rules) take them.
            &Command::CreateWidget(
                serde_json::from_value::<Widget>(json!({
                    "id": "w_shop", "key": key, "name": "Shop chat", "group": "support",
                    "allowed_origins": [SHOP], "offline_email": null,
                }))
                .expect("a widget"),
            ),
            T0,
        );
        let op_token = auth::sign_token(
            &Claims {
                tenant: "bench".into(),
                sub: "ann".into(),
                role: TokenRole::Operator,
                exp: T0 / 1000 + 365 * 24 * 3600,
                session: None,
            },
            SECRET,
        );
        ApiWorld {
            lobby,
            calls: 0,
            now: T0,
            widget_key: key,
            op_token,
        }
    }

    /// route + authorize + Lobby::call; panics unless the answer has `status`.
    fn request(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &[u8],
        meta: &Meta,
        status: u16,
    ) -> Reply {
        self.calls += 1;
        self.now += 1;
        let mut entropy = [0u8; 64];
        for (slot, chunk) in entropy.chunks_mut(8).enumerate() {
            let v = (self.calls * 8 + slot as u64) ^ 0x5a5a_1234_9876_abcd;
            chunk.copy_from_slice(&v.to_be_bytes());
        }
        let route = api::route(method, path).unwrap_or_else(|e| panic!("{path}: {e:?}"));
        let secrets = Secrets {
            platform_token: "bench-platform-token",
            token_secret: SECRET,
        };
        let (_tenant, actor) = api::authorize(&route, token, body, &secrets, self.now / 1000)
            .unwrap_or_else(|e| panic!("{method} {path}: not authorized: {e:?}"));
        let ctx = Ctx {
            now: self.now,
            entropy: &entropy,
            token_secret: SECRET,
            messages: &NoMessages,
        };
        match self.lobby.call(&route, &actor, body, meta, &ctx) {
            Ok(r) if r.status == status => r,
            Ok(r) => panic!("{method} {path} answered {} {}", r.status, r.body),
            Err(e) => panic!("{method} {path} was refused: {e:?}"),
        }
    }

    fn cycle(&mut self, meta: &Meta, entry_body: &[u8], client_msg: &[u8], op_msg: &[u8]) {
        let key = self.widget_key.clone();
        let op = self.op_token.clone();
        let r = self.request(
            "POST",
            &format!("/api/v1/widgets/{key}/entries"),
            None,
            entry_body,
            meta,
            201,
        );
        let e: EntryAccepted = serde_json::from_value(r.body).expect("an entry answer");
        let none = Meta::default();
        self.request(
            "POST",
            &format!("/api/v1/queue/{}/accept", e.client),
            Some(&op),
            b"",
            &none,
            200,
        );
        self.request(
            "POST",
            "/api/v1/client/messages",
            Some(&e.token),
            client_msg,
            &none,
            201,
        );
        self.request(
            "POST",
            &format!("/api/v1/sessions/{}/messages", e.session),
            Some(&op),
            op_msg,
            &none,
            201,
        );
        self.request(
            "POST",
            &format!("/api/v1/sessions/{}/close", e.session),
            Some(&op),
            b"",
            &none,
            200,
        );
    }
}

fn bench_api() -> Rate {
    let meta = Meta {
        user_agent: Some(UA_CHROME_WINDOWS.into()),
        origin: Some(SHOP.into()),
        accept_language: Some("cs-CZ,cs;q=0.9,en;q=0.8".into()),
        ..Default::default()
    };
    let entry = serde_json::to_vec(&webchat("Jana Nováková", "+420 777 123 456", "cs")).unwrap();
    let client_msg = serde_json::to_vec(&json!({ "text": CLIENT_TEXT })).unwrap();
    let op_msg = serde_json::to_vec(&json!({ "text": OPERATOR_TEXT })).unwrap();
    {
        let mut w = ApiWorld::new();
        for _ in 0..200 {
            w.cycle(&meta, &entry, &client_msg, &op_msg);
        }
    }
    let mut rounds = Vec::new();
    for _ in 0..API_ROUNDS {
        let mut w = ApiWorld::new();
        let start = Instant::now();
        for _ in 0..API_CYCLES {
            w.cycle(&meta, &entry, &client_msg, &op_msg);
        }
        rounds.push(API_CYCLES as f64 / start.elapsed().as_secs_f64());
        black_box(&w.lobby);
    }
    Rate {
        cycles_per_s: median(&rounds),
        rounds,
        cycles: API_ROUNDS * API_CYCLES,
    }
}

// ------------------------------------------------------------------ 2 and 3. through wrangler dev

/// Reads an operator's WebSocket on its own thread and hands every frame over with the moment it
/// arrived, so that an event's arrival is timed even while the main thread waits for an HTTP
/// answer.
struct Reader {
    rx: Receiver<(Instant, Value)>,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Ws>,
}

impl Reader {
    fn spawn(mut ws: Ws) -> Reader {
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                let Some(v) = ws.next_value(Duration::from_millis(100)) else {
                    if ws.closed {
                        break;
                    }
                    continue;
                };
                if tx.send((Instant::now(), v)).is_err() {
                    break;
                }
            }
            ws
        });
        Reader { rx, stop, handle }
    }

    /// Drops what arrived so far.
    fn discard(&self) -> usize {
        self.rx.try_iter().count()
    }

    /// When the `client_waiting` event for `client` arrived.
    fn waiting_arrival(&self, client: &str) -> Instant {
        let deadline = Instant::now() + event_timeout();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok((at, v)) => {
                    if let Ok(e) = serde_json::from_value::<OperatorEvent>(v) {
                        if op_waiting_is(&e, client) {
                            return at;
                        }
                    }
                }
                Err(_) => panic!(
                    "no client_waiting for {client} on the operator's WebSocket within {:?}",
                    event_timeout()
                ),
            }
        }
    }

    fn stop(self) -> Ws {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("the WebSocket reader")
    }
}

/// Through-the-server figures.
struct Http {
    ping_rps: f64,
    ping_rounds: Vec<f64>,
    cycle_cps: f64,
    cycle_rounds: Vec<f64>,
    /// Per-request durations of each kind over all rounds.
    ping: Vec<Duration>,
    entry: Vec<Duration>,
    accept: Vec<Duration>,
    message: Vec<Duration>,
    close: Vec<Duration>,
    /// Entry → `client_waiting` on the operator's socket; entry's own round trip; the pings
    /// interleaved with them.
    lat_event: Vec<Duration>,
    lat_entry: Vec<Duration>,
    lat_ping: Vec<Duration>,
    /// Anything odd the server did (non-200 answers, a closed socket, errors in its log).
    errors: Vec<String>,
}

fn timed<T>(d: &mut Vec<Duration>, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let r = f();
    d.push(t.elapsed());
    r
}

fn bench_server(runtime_name: &str) -> Http {
    eprintln!("[bench] starting {runtime_name}");
    let server = Server::start();
    eprintln!("[bench] server on {}; setting up a tenant", server.base());
    let desk = server.desk("bench", &["Ann"], 100);
    let ann = desk.ops[0].token.clone();
    let key = desk.widget.key.clone();
    let entry_body = webchat("Jana Nováková", "+420 777 123 456", "cs");
    for _ in 0..HTTP_BACKGROUND {
        server.enter_ok(&key, UA_CHROME_WINDOWS, &entry_body);
    }
    let (ws, _hello) = server.operator_ws(&ann, None);
    let reader = Reader::spawn(ws);

    let ping = |d: &mut Vec<Duration>| {
        timed(d, || server.get("/api/v1/ping").auth(&ann).send()).expect(200);
    };

    let mut h = Http {
        ping_rps: 0.0,
        ping_rounds: vec![],
        cycle_cps: 0.0,
        cycle_rounds: vec![],
        ping: vec![],
        entry: vec![],
        accept: vec![],
        message: vec![],
        close: vec![],
        lat_event: vec![],
        lat_entry: vec![],
        lat_ping: vec![],
        errors: vec![],
    };
    // Warm-up, not counted: the object is awake and V8 has tiered up the worker's Wasm.
    for _ in 0..WARMUP_CYCLES {
        let c = server.enter_ok(&key, UA_CHROME_WINDOWS, &entry_body);
        let session = server.accept_ok(&ann, &c.id);
        server.post_message(&ann, &session, OPERATOR_TEXT);
        server.close(&ann, &session).expect(200);
    }
    for _ in 0..WARMUP_PINGS {
        ping(&mut vec![]);
    }
    reader.discard();

    for round in 0..HTTP_ROUNDS {
        // Alternate which block goes first, so that neither always follows the other.
        for block in 0..2 {
            let pings_now = (round + block) % 2 == 0;
            if pings_now {
                let start = Instant::now();
                for _ in 0..PINGS_PER_ROUND {
                    ping(&mut h.ping);
                }
                let rps = PINGS_PER_ROUND as f64 / start.elapsed().as_secs_f64();
                eprintln!("[bench] round {}: ping {:.1} req/s", round + 1, rps);
                h.ping_rounds.push(rps);
            } else {
                let start = Instant::now();
                for _ in 0..CYCLES_PER_ROUND {
                    let c = timed(&mut h.entry, || {
                        server.enter_ok(&key, UA_CHROME_WINDOWS, &entry_body)
                    });
                    let session = timed(&mut h.accept, || server.accept_ok(&ann, &c.id));
                    timed(&mut h.message, || {
                        server.post_message(&ann, &session, OPERATOR_TEXT)
                    });
                    let r = timed(&mut h.close, || server.close(&ann, &session));
                    if r.status != 200 {
                        h.errors
                            .push(format!("close answered {}: {}", r.status, r.body));
                    }
                }
                let cps = CYCLES_PER_ROUND as f64 / start.elapsed().as_secs_f64();
                eprintln!(
                    "[bench] round {}: {:.1} cycles/s = {:.1} req/s",
                    round + 1,
                    cps,
                    4.0 * cps
                );
                h.cycle_rounds.push(cps);
            }
            reader.discard();
        }
    }
    h.ping_rps = median(&h.ping_rounds);
    h.cycle_cps = median(&h.cycle_rounds);

    eprintln!("[bench] entry → operator event latency, {LATENCY_SAMPLES} samples");
    for i in 0..LATENCY_SAMPLES {
        reader.discard();
        let t0 = Instant::now();
        let resp = server.enter(&key, SHOP, UA_CHROME_WINDOWS, &entry_body);
        h.lat_entry.push(t0.elapsed());
        let e: EntryAccepted = resp.ok(201);
        let arrived = reader.waiting_arrival(&e.client);
        h.lat_event.push(arrived.saturating_duration_since(t0));
        // The baseline, right next to each sample; alternate its side.
        if i % 2 == 0 {
            ping(&mut h.lat_ping);
        }
        // Untimed: serve and close, so the queue stays as it was.
        let session = server.accept_ok(&ann, &e.client);
        let r = server.close(&ann, &session);
        if r.status != 200 {
            h.errors
                .push(format!("close answered {}: {}", r.status, r.body));
        }
        if i % 2 == 1 {
            ping(&mut h.lat_ping);
        }
    }
    let ws = reader.stop();
    if ws.closed {
        h.errors.push(format!(
            "{runtime_name}: the operator's event stream was closed by the server during the bench"
        ));
    }
    ws.close();
    // wrangler logs every request with its status: count 5xx answers and errors in the whole log.
    let log = std::fs::read_to_string(server.log_path()).unwrap_or_default();
    let (mut failed, mut errors) = (0, 0);
    for line in log.lines() {
        let l = line.to_ascii_lowercase();
        if l.contains("[wrangler:info]")
            && l.split_whitespace()
                .any(|w| w.len() == 3 && w.starts_with('5') && w.parse::<u16>().is_ok())
        {
            failed += 1;
        } else if l.contains("error") || l.contains("panicked") || l.contains("exception") {
            errors += 1;
        }
    }
    if failed > 0 {
        h.errors.push(format!(
            "{failed} request(s) answered 5xx in the log of {runtime_name}"
        ));
    }
    if errors > 0 {
        h.errors.push(format!(
            "{errors} line(s) mentioning an error in the log of {runtime_name}"
        ));
    }
    drop(server);
    h
}

// ------------------------------------------------------------------ 4. idle event streams on Spin

/// What idle operator event streams cost the Spin host, per stream and second, over and above
/// the same host with no stream open.
struct Idle {
    streams: usize,
    seconds: f64,
    /// SQLite statements per stream per second, of which `PRAGMA`s.
    statements: f64,
    pragmas: f64,
    /// Time inside SQLite (the host's `spin:sqlite` execute) per stream per second, µs.
    sqlite_us: f64,
    /// The host process's CPU time (all threads: wasm, timers, SQLite, HTTP) per stream per
    /// second, µs.
    cpu_us: f64,
}

/// User + system CPU time of process `pid` (all its threads), µs.
fn cpu_micros(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) close with ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    let hz = sh("getconf", &["CLK_TCK"]).parse::<u64>().unwrap_or(100);
    ticks * 1_000_000 / hz
}

/// The host's statistics once it has written them after `after` (its own clock, µs).
fn fresh_stats(server: &Server, after: u64) -> lobby_e2e::HostStats {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(s) = server.host_stats().filter(|s| s.micros > after) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "the Spin host did not write its statistics (SPIN_HOST_STATS)"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Statements, PRAGMAs, SQLite µs and CPU µs per second over a window of `secs` on `server`.
fn idle_window(server: &Server, secs: f64) -> [f64; 4] {
    let pid = server.pid().expect("the Spin host runs");
    let s0 = fresh_stats(server, 0);
    let s0 = fresh_stats(server, s0.micros);
    let c0 = cpu_micros(pid);
    let t0 = Instant::now();
    // A measuring window, not a wait for a state: nothing is asserted on what it saw.
    std::thread::sleep(Duration::from_secs_f64(secs));
    let s1 = fresh_stats(server, s0.micros);
    let c1 = cpu_micros(pid);
    let wall = t0.elapsed().as_secs_f64();
    let host = (s1.micros - s0.micros) as f64 / 1e6;
    [
        (s1.statements - s0.statements) as f64 / host,
        (s1.pragmas - s0.pragmas) as f64 / host,
        (s1.sqlite_nanos - s0.sqlite_nanos) as f64 / 1e3 / host,
        (c1 - c0) as f64 / wall,
    ]
}

/// `streams` idle operator streams on a quiet tenant of a fresh Spin host whose streams notice
/// events by `change_check` (the Spin variable `lobby_stream_change_check`).
fn bench_idle(change_check: &str, streams: usize) -> Idle {
    eprintln!("[bench] idle streams on the Spin host, lobby_stream_change_check = {change_check}");
    std::env::set_var("LOBBY_E2E_RUNTIME", "spin");
    std::env::set_var("SPIN_VARIABLE_LOBBY_STREAM_CHANGE_CHECK", change_check);
    let server = Server::start();
    std::env::remove_var("SPIN_VARIABLE_LOBBY_STREAM_CHANGE_CHECK");
    let desk = server.desk("idle", &["Ann"], 100);
    let ann = desk.ops[0].token.clone();
    let none = idle_window(&server, IDLE_SECONDS / 2.0);
    let open: Vec<Ws> = (0..streams)
        .map(|_| server.operator_ws(&ann, None).0)
        .collect();
    let some = idle_window(&server, IDLE_SECONDS);
    for ws in open {
        ws.close();
    }
    std::env::remove_var("LOBBY_E2E_RUNTIME");
    let per = |i: usize| (some[i] - none[i]).max(0.0) / streams as f64;
    let idle = Idle {
        streams,
        seconds: IDLE_SECONDS,
        statements: per(0),
        pragmas: per(1),
        sqlite_us: per(2),
        cpu_us: per(3),
    };
    eprintln!(
        "[bench]   per idle stream and second: {:.1} statements ({:.1} PRAGMA), {:.1} µs in SQLite, {:.0} µs host CPU",
        idle.statements, idle.pragmas, idle.sqlite_us, idle.cpu_us
    );
    idle
}

// ------------------------------------------------------------------ the report

fn sh(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn main() {
    let started = Instant::now();
    eprintln!(
        "[bench] 1/3 the core natively: {} cycles via Lobby::handle",
        CORE_ROUNDS * CORE_CYCLES
    );
    let core = bench_core();
    eprintln!(
        "[bench]   {:.0} cycles/s (rounds {:?})",
        core.cycles_per_s, core.rounds
    );
    eprintln!(
        "[bench]     and {} cycles via route + authorize + Lobby::call",
        API_ROUNDS * API_CYCLES
    );
    let apil = bench_api();
    eprintln!(
        "[bench]   {:.0} cycles/s (rounds {:?})",
        apil.cycles_per_s, apil.rounds
    );
    eprintln!("[bench] 2/3 and 3/3 through wrangler dev");
    let http = bench_server("wrangler dev");
    // The same path on the local Spin host (tests/spin-host), right after, in the same run.
    eprintln!("[bench] the same through the local Spin host");
    std::env::set_var("LOBBY_E2E_RUNTIME", "spin");
    let spin = bench_server("the Spin host");
    std::env::remove_var("LOBBY_E2E_RUNTIME");
    // What a quiet stream costs, the previous way (a journal read every 200 ms) and the current
    // one (SQLite's change counter every 5 ms), each on a fresh host, in the same run.
    let idle_poll = bench_idle("poll", IDLE_STREAMS);
    let idle_counter = bench_idle("data_version", IDLE_STREAMS);
    let file_size = |rel: &str| -> (u64, u64) {
        let path = repo_root().join(rel);
        let raw = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let gz = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("gzip -9c '{}' | wc -c", path.display()))
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(0);
        (raw, gz)
    };
    let spin_wasm = file_size("functions/spin/build/lobby_spin.wasm");
    let worker_wasm = file_size("functions/cloudflare/build/index_bg.wasm");

    // ---- figures
    let ping_ms = 1e3 / http.ping_rps; // per empty round trip, from the block throughput
    let core_cmd_us = 1e6 / (5.0 * core.cycles_per_s);
    let api_req_us = 1e6 / (5.0 * apil.cycles_per_s);
    let cmd_rps = 4.0 * http.cycle_cps;
    // Each round's command requests/s over the same round's pings/s (adjacent blocks share the
    // machine's mood); the median of those.
    let round_ratios: Vec<f64> = http
        .cycle_rounds
        .iter()
        .zip(&http.ping_rounds)
        .map(|(c, p)| 4.0 * c / p)
        .collect();
    let throughput_ratio = median(&round_ratios);
    let ping_p50 = percentile_ms(&http.ping, 0.5);
    let lat_p50 = percentile_ms(&http.lat_event, 0.5);
    let lat_p99 = percentile_ms(&http.lat_event, 0.99);
    let lat_max = max_ms(&http.lat_event);
    let lat_ping_p50 = percentile_ms(&http.lat_ping, 0.5);
    let lat_entry_p50 = percentile_ms(&http.lat_entry, 0.5);

    let date = sh("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let arch = sh("uname", &["-m"]);
    let nproc = sh("nproc", &[]);
    let kernel = sh("uname", &["-sr"]);
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into());

    let mut t = String::new();
    let _ = writeln!(t, "| Measured | Figure | Baseline (same run) | Ratio |");
    let _ = writeln!(t, "|---|---|---|---|");
    let _ = writeln!(
        t,
        "| Core natively (`Lobby::handle`): Enter → Accept → 2 × PostMessage → Close, {} waiting behind | {} cycles/s = **{} commands/s** ({:.2} µs/command) | empty Durable Object round trip through wrangler dev: {:.2} ms | one core command costs {} of an empty DO round trip ({} commands per round trip) |",
        CORE_BACKGROUND,
        num(core.cycles_per_s),
        num(5.0 * core.cycles_per_s),
        core_cmd_us,
        ping_ms,
        pct(core_cmd_us / (ping_ms * 1e3)),
        num(ping_ms * 1e3 / core_cmd_us),
    );
    let _ = writeln!(
        t,
        "| API layer natively (`route` + `authorize` + `Lobby::call`, JSON bodies, HMAC tokens, user agent parsing), same cycle | {} cycles/s = **{} requests/s** ({:.2} µs/request) | the core's own command: {:.2} µs | {} the core command; {} of an empty DO round trip |",
        num(apil.cycles_per_s),
        num(5.0 * apil.cycles_per_s),
        api_req_us,
        core_cmd_us,
        ratio(api_req_us / core_cmd_us),
        pct(api_req_us / (ping_ms * 1e3)),
    );
    let _ = writeln!(
        t,
        "| Through wrangler dev: entry → accept → operator message → close (4 requests), sequential | {} cycles/s = **{} requests/s** | `GET /api/v1/ping` (empty DO round trip), sequential: {} req/s | **command requests run at {} the empty DO round trip** |",
        num(http.cycle_cps),
        num(cmd_rps),
        num(http.ping_rps),
        ratio(throughput_ratio),
    );
    let _ = writeln!(
        t,
        "| Per request p50: entry / accept / message / close | {} / {} / {} / {} ms | ping p50 {} ms | {} / {} / {} / {} |",
        num(percentile_ms(&http.entry, 0.5)),
        num(percentile_ms(&http.accept, 0.5)),
        num(percentile_ms(&http.message, 0.5)),
        num(percentile_ms(&http.close, 0.5)),
        num(ping_p50),
        ratio(percentile_ms(&http.entry, 0.5) / ping_p50),
        ratio(percentile_ms(&http.accept, 0.5) / ping_p50),
        ratio(percentile_ms(&http.message, 0.5) / ping_p50),
        ratio(percentile_ms(&http.close, 0.5) / ping_p50),
    );
    let _ = writeln!(
        t,
        "| Client's entry → `client_waiting` on the operator's WebSocket ({} samples) | **p50 {} ms, p99 {} ms**, max {} ms (the entry's own HTTP answer: p50 {} ms) | ping round trip p50 {} ms (interleaved) | p50 {}, p99 {} the ping round trip |",
        http.lat_event.len(),
        num(lat_p50),
        num(lat_p99),
        num(lat_max),
        num(lat_entry_p50),
        num(lat_ping_p50),
        ratio(lat_p50 / lat_ping_p50),
        ratio(lat_p99 / lat_ping_p50),
    );

    let spin_round_ratios: Vec<f64> = spin
        .cycle_rounds
        .iter()
        .zip(&spin.ping_rounds)
        .map(|(c, p)| 4.0 * c / p)
        .collect();
    let _ = writeln!(
        t,
        "| On the local Spin host: entry → accept → operator message → close, sequential | {} cycles/s = **{} requests/s** | the same cycle through wrangler dev: {} cycles/s | **Spin runs the command path at {} wrangler dev's**; against its own empty round trip (`GET /api/v1/ping`, {} req/s): {} |",
        num(spin.cycle_cps),
        num(4.0 * spin.cycle_cps),
        num(http.cycle_cps),
        ratio(spin.cycle_cps / http.cycle_cps),
        num(spin.ping_rps),
        ratio(median(&spin_round_ratios)),
    );
    let _ = writeln!(
        t,
        "| On the Spin host: client's entry → `client_waiting` on the operator's event stream (SSE, {} samples) | p50 {} ms, p99 {} ms, max {} ms | the same through wrangler dev (WebSocket): p50 {} ms | p50 {} wrangler dev's |",
        spin.lat_event.len(),
        num(percentile_ms(&spin.lat_event, 0.5)),
        num(percentile_ms(&spin.lat_event, 0.99)),
        num(max_ms(&spin.lat_event)),
        num(lat_p50),
        ratio(percentile_ms(&spin.lat_event, 0.5) / lat_p50),
    );
    let idle_ratio = |before: f64, after: f64| {
        if after <= 0.0 {
            "none left".to_string()
        } else if before >= after {
            format!("**{:.1}× less**", before / after)
        } else {
            format!("**{:.1}× more**", after / before)
        }
    };
    let _ = writeln!(
        t,
        "| On the Spin host: one idle operator event stream ({} open on a quiet tenant, {} s; what they add to a host with none open, per stream and second) | SQLite's change counter every 5 ms (the default): **{} statements** ({} of them `PRAGMA data_version`), {} µs inside SQLite, **{} µs host CPU** | the previous design, same run (`lobby_stream_change_check = \"poll\"`: the journal and typing queries every 200 ms): {} statements ({} `PRAGMA`), {} µs inside SQLite, {} µs host CPU | statements {}; time inside SQLite {}; host CPU {}; journal and typing queries (the statements other than `PRAGMA`) {} |",
        idle_counter.streams,
        num(idle_counter.seconds),
        num(idle_counter.statements),
        num(idle_counter.pragmas),
        num(idle_counter.sqlite_us),
        num(idle_counter.cpu_us),
        num(idle_poll.statements),
        num(idle_poll.pragmas),
        num(idle_poll.sqlite_us),
        num(idle_poll.cpu_us),
        idle_ratio(idle_poll.statements, idle_counter.statements),
        idle_ratio(idle_poll.sqlite_us, idle_counter.sqlite_us),
        idle_ratio(idle_poll.cpu_us, idle_counter.cpu_us),
        idle_ratio(
            idle_poll.statements - idle_poll.pragmas,
            idle_counter.statements - idle_counter.pragmas
        ),
    );
    let _ = writeln!(
        t,
        "| Spin component (`functions/spin/build/lobby_spin.wasm`, wasm32-wasip2) | {} KB, **{} KB gzip** | the Cloudflare worker's Wasm: {} KB, {} KB gzip | {} the worker (gzip) |",
        spin_wasm.0 / 1024,
        spin_wasm.1 / 1024,
        worker_wasm.0 / 1024,
        worker_wasm.1 / 1024,
        ratio(spin_wasm.1 as f64 / worker_wasm.1.max(1) as f64),
    );

    let spread = |v: &[f64]| v.iter().map(|x| num(*x)).collect::<Vec<_>>().join(", ");
    let mut md = String::new();
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "Written by `make bench` (`tests/e2e/src/bin/bench.rs`); overwritten on every run.\n"
    );
    let _ = writeln!(
        md,
        "- Run: {date}, {} s in all\n- Machine: {nproc} cores (`nproc`), `{arch}` (`uname -m`), {kernel}; load average at the end {load}\n- Command: `make bench` (this part alone: `cargo run --release -p lobby-e2e --bin bench`; the sections of the two browser benchmarks below carry their own dates)\n",
        started.elapsed().as_secs()
    );
    let _ = writeln!(
        md,
        "This machine is shared and noisy, so absolute times lie: read the ratios, each against a\nbaseline measured in the same run.\n"
    );
    md.push_str(&t);
    let _ = writeln!(md, "\nRounds (medians above): core {} cycles/s; API layer {} cycles/s; ping {} req/s; command cycles {} cycles/s.\n",
        spread(&core.rounds), spread(&apil.rounds), spread(&http.ping_rounds), spread(&http.cycle_rounds));
    let _ = writeln!(
        md,
        "Per-round ratios of command requests/s to pings/s: {}.\n",
        round_ratios
            .iter()
            .map(|r| ratio(*r))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        md,
        "Spin host rounds: ping {} req/s; command cycles {} cycles/s.\n",
        spread(&spin.ping_rounds),
        spread(&spin.cycle_rounds)
    );
    let seen: Vec<&String> = http.errors.iter().chain(&spin.errors).collect();
    if !seen.is_empty() {
        let _ = writeln!(md, "Seen during the run:\n");
        for e in &seen {
            let _ = writeln!(md, "- {e}");
        }
        md.push('\n');
    }
    let _ = writeln!(md, "## How each figure is measured\n");
    let _ = writeln!(
        md,
        "**Core natively.** One tenant's `Lobby` (one group, one operator online with a chat limit of\n100, {CORE_BACKGROUND} clients waiting in the group's queue so that positions and queue indexes are\nnot trivially small) runs, in one thread, {CORE_ROUNDS} rounds of {CORE_CYCLES} cycles (a fresh tenant per\nround, since the core keeps every closed session) of `Enter` → `Accept` → `PostMessage` by the\nclient → `PostMessage` by the operator → `Close` through `Lobby::handle(&Command, at)`, building\neach command (its ids and details) in the loop; the median round's cycles/s is reported and\ncommands/s is five times that. The release profile is the workspace's (`opt-level = \"z\"`, LTO),\nthe same the worker is built with. The API layer row runs the same cycle as the worker's edge and\nDurable Object do per request, minus I/O: `api::route`, `api::authorize` (HMAC token check) and\n`Lobby::call` with JSON bodies, a real Chrome user agent and `Accept-Language` ({API_ROUNDS} rounds of\n{API_CYCLES} cycles). Both are compared with the per-request time of the empty Durable Object round\ntrip measured below.\n"
    );
    let _ = writeln!(
        md,
        "**Through wrangler dev.** One `wrangler dev` (the built worker, local SQLite-backed Durable\nObjects) on free ports, one tenant with one group, one operator (chat limit 100, online, its\noperator WebSocket connected and read by a thread so the fan-out is part of every command), a\nwidget, and {HTTP_BACKGROUND} clients left waiting. After an untimed warm-up ({WARMUP_CYCLES} cycles,
{WARMUP_PINGS} pings), {HTTP_ROUNDS} rounds, each with a block of {PINGS_PER_ROUND} sequential\n`GET /api/v1/ping` (operator token; the edge authorizes and forwards it to the tenant's Durable\nObject, which answers without changing anything: the empty round trip) and a block of\n{CYCLES_PER_ROUND} sequential cycles of `POST /widgets/{{key}}/entries` → `POST /queue/{{id}}/accept` →\n`POST /sessions/{{id}}/messages` → `POST /sessions/{{id}}/close`; the blocks alternate which goes\nfirst. Throughputs are the median rounds; the ratio is the median over rounds of that round's
command requests/s ÷ its ping requests/s.\nThe client is the e2e harness's blocking HTTP client, one fresh connection per request, on the\nsame machine as wrangler (both paths pay that alike). Per-request p50s are over all rounds.\n"
    );
    let _ = writeln!(
        md,
        "**Entry → operator event.** The same operator's WebSocket is read on its own thread, which\nstamps each frame the moment it is read. For each of {LATENCY_SAMPLES} samples the clock starts just before\n`POST /api/v1/widgets/{{key}}/entries` is sent and stops when the `client_waiting` event for that\nclient arrived on the socket (often before the HTTP answer itself); the sample is then accepted\nand closed, untimed, so the queue stays the same. Next to each sample one `GET /api/v1/ping` is\ntimed (alternately before and after the clean-up) as the baseline; ratios are to its p50.\nPercentiles are nearest-rank.\n"
    );

    let _ = writeln!(
        md,
        "**On the Spin host.** The same set-up and the same rounds, run right after the wrangler dev\npart against `tests/spin-host` (wasmtime serving `spin.toml`, the component built for\nwasm32-wasip2, state in one SQLite file). Each request is a fresh component instance that loads\nthe tenant (snapshot + events since) inside one write transaction; the operator's events come as\nServer-Sent Events: the stream's instance asks SQLite's change counter (`PRAGMA data_version`\non its own connection) every 5 ms and reads the journal when it moved. The local host is not\nFermyon's: compare the ratios, not the absolute figures, with a real Spin deployment.\n"
    );
    let _ = writeln!(
        md,
        "**Idle streams on the Spin host.** After the rounds above, two fresh Spin hosts in turn, one\nper way a stream notices events (the Spin variable `lobby_stream_change_check`: `poll`, the\nprevious design, reads the journal and the typing table every 200 ms; `data_version`, the\ndefault, asks the change counter every 5 ms and reads only when it moved). On each: one tenant,\none operator; a window of {} s with no stream open, then {IDLE_STREAMS} of that operator's streams\nopened and held, unread and quiet, for a window of {} s. The host counts every `spin:sqlite`\nstatement, the `PRAGMA`s among them and the time spent running them (prepare, bind, step,\ncopy out; `SPIN_HOST_STATS`, rates over the host's own clock); the host process's CPU time\n(user + system, all threads, `/proc/PID/stat`) covers everything else a stream costs (its timer,\nthe Wasm, the host calls). Each figure is the streams' window minus the empty one, divided by\nthe streams and the seconds.\n",
        num(IDLE_SECONDS / 2.0),
        num(IDLE_SECONDS),
    );

    println!("\n{t}");
    println!(
        "rounds: core {} | api {} | ping {} | cycles {} | ratios {}",
        spread(&core.rounds),
        spread(&apil.rounds),
        spread(&http.ping_rounds),
        spread(&http.cycle_rounds),
        round_ratios
            .iter()
            .map(|r| ratio(*r))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for e in http.errors.iter().chain(&spin.errors) {
        println!("seen: {e}");
    }
    let path = repo_root().join("BENCHMARKS.md");
    std::fs::write(&path, md).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    println!(
        "wrote {} ({} s; {} native cycles)",
        path.display(),
        started.elapsed().as_secs(),
        core.cycles + apil.cycles
    );
}

fn pct(x: f64) -> String {
    if !x.is_finite() {
        "n/a".into()
    } else if x >= 0.1 {
        format!("{:.0} %", x * 100.0)
    } else if x >= 0.001 {
        format!("{:.2} %", x * 100.0)
    } else {
        format!("{:.4} %", x * 100.0)
    }
}
