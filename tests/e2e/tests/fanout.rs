//! Fan-out: many operator event streams on one tenant with a long queue; each new client's
//! `client_waiting` must reach every stream exactly once, and what it costs on the wire must be
//! the change (one queue row), not the queue: the frame for a client entering behind thousands
//! weighs what it weighs behind a few.
//!
//! Scale from the environment (`make test` runs the defaults, `make prove` 1,000 streams and
//! 10,000 waiting clients): `LOBBY_FANOUT_OPERATORS`, `LOBBY_FANOUT_SOCKETS` (streams per
//! operator), `LOBBY_FANOUT_WAITING`, `LOBBY_FANOUT_SAMPLES`. The latencies are reported, never
//! asserted (this machine is shared). With `LOBBY_RELIABILITY_OUT=<file>` the figures are appended
//! to that file (RELIABILITY.md).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use lobby_e2e::reliability::{self, env_usize};
use lobby_e2e::*;

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}

/// A `client_waiting` frame as one stream read it.
struct Seen {
    stream: usize,
    client: String,
    at: Instant,
    bytes: usize,
}

#[test]
fn every_stream_gets_each_new_client_once_and_a_frame_costs_one_row() {
    let operators = env_usize("LOBBY_FANOUT_OPERATORS", 5).max(1);
    let per_operator = env_usize("LOBBY_FANOUT_SOCKETS", 4).max(1);
    let waiting = env_usize("LOBBY_FANOUT_WAITING", 300);
    let samples = env_usize("LOBBY_FANOUT_SAMPLES", 20).max(2);
    let streams = operators * per_operator;

    let server = shared();
    let tenant = server.create_tenant("fanout");
    let group = tenant.group("Support");
    let widget = tenant.widget("Shop chat", &group, &[SHOP]);
    let ops: Vec<Operator> = (0..operators)
        .map(|i| tenant.operator(&format!("Operator {i}"), &[&group], 3))
        .collect();
    for op in &ops {
        server.set_status(&op.token, lobby_wire::Presence::Online);
    }
    let body = webchat("Fan Out", "+420 777 000 002", "cs");

    // The first sample, with the queue almost empty: the frame's weight to compare with.
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<Seen>();
    let open = |first: usize, count: usize| -> Vec<std::thread::JoinHandle<()>> {
        (first..first + count)
            .map(|n| {
                let (mut ws, _) = server.operator_ws(&ops[n % operators].token, None);
                let (tx, stop) = (tx.clone(), stop.clone());
                std::thread::spawn(move || {
                    loop {
                        match ws.next_value(Duration::from_millis(200)) {
                            Some(v) if v["type"] == "client_waiting" => {
                                let bytes = serde_json::to_string(&v).map_or(0, |s| s.len());
                                let client = v["client"]["id"].as_str().unwrap_or("").to_string();
                                let _ = tx.send(Seen {
                                    stream: n,
                                    client,
                                    at: Instant::now(),
                                    bytes,
                                });
                            }
                            Some(_) => {}
                            None if stop.load(Ordering::Relaxed) => break,
                            None => {}
                        }
                    }
                    ws.close();
                })
            })
            .collect()
    };
    let mut readers = open(0, 1);
    let early = server.enter_ok(&widget.key, UA_CHROME_WINDOWS, &body);
    let early_bytes = loop {
        let s = rx
            .recv_timeout(event_timeout())
            .expect("the first client_waiting frame");
        if s.client == early.id {
            break s.bytes;
        }
    };

    // The long queue, entered from several threads.
    let t0 = Instant::now();
    let threads = 8;
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (key, body) = (widget.key.clone(), body.clone());
            scope.spawn(move || {
                for _ in (t..waiting).step_by(threads) {
                    server.enter_ok(&key, UA_CHROME_WINDOWS, &body);
                }
            });
        }
    });
    let fill = t0.elapsed();
    // Everything the first stream saw meanwhile is not part of the measurement.
    std::thread::sleep(Duration::from_millis(500));
    while rx.try_recv().is_ok() {}

    // The other streams, opened on the long queue.
    let t1 = Instant::now();
    readers.extend(open(1, streams - 1));
    let connect = t1.elapsed();

    let mut deliveries: Vec<Duration> = vec![];
    let mut to_all: Vec<Duration> = vec![];
    let mut late_bytes = 0usize;
    let mut wrong: Vec<String> = vec![];
    for i in 0..samples {
        let sent = Instant::now();
        let c = server.enter_ok(&widget.key, UA_CHROME_WINDOWS, &body);
        let mut got: HashMap<usize, Instant> = HashMap::new();
        let deadline = Instant::now() + event_timeout() * 3;
        while got.len() < streams {
            let Ok(s) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
                wrong.push(format!(
                    "sample {i}: {} of {streams} streams never got client {}",
                    streams - got.len(),
                    c.id
                ));
                break;
            };
            if s.client != c.id {
                wrong.push(format!(
                    "sample {i}: stream {} got {} while waiting for {}",
                    s.stream, s.client, c.id
                ));
                continue;
            }
            late_bytes = late_bytes.max(s.bytes);
            if got.insert(s.stream, s.at).is_some() {
                wrong.push(format!(
                    "sample {i}: stream {} got {} twice",
                    s.stream, c.id
                ));
            }
        }
        for at in got.values() {
            deliveries.push(at.saturating_duration_since(sent));
        }
        if let Some(last) = got.values().max() {
            to_all.push(last.saturating_duration_since(sent));
        }
    }
    // Nothing more may arrive: a late duplicate would show here.
    std::thread::sleep(Duration::from_millis(500));
    while let Ok(s) = rx.try_recv() {
        wrong.push(format!(
            "stream {} got {} late or twice",
            s.stream, s.client
        ));
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        let _ = r.join();
    }

    deliveries.sort();
    to_all.sort();
    let summary = format!(
        "{streams} operator event streams ({operators} operators × {per_operator}) on one tenant with {waiting} clients waiting (entered in {:.1} s; the streams connected in {:.1} s); {samples} new clients: entry → frame at one stream p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; entry → frame at every stream p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({}); the client_waiting frame weighs {early_bytes} bytes with 1 client waiting and {late_bytes} bytes with {} waiting; deliveries missing, doubled or out of place: {}",
        fill.as_secs_f64(),
        connect.as_secs_f64(),
        percentile(&deliveries, 0.5),
        percentile(&deliveries, 0.99),
        percentile(&deliveries, 1.0),
        percentile(&to_all, 0.5),
        percentile(&to_all, 0.99),
        percentile(&to_all, 1.0),
        match runtime() {
            Runtime::Cloudflare => "wrangler dev, WebSockets",
            Runtime::Spin => "the Spin host, Server-Sent Events",
        },
        waiting + 1,
        wrong.len(),
    );
    eprintln!("fanout: {summary}");
    reliability::report(
        &format!("Fan-out ({})", reliability::runtime_name()),
        &summary,
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
    // The change, not the queue: a frame may differ by a few digits (position, ids), not grow
    // with the queue.
    assert!(
        late_bytes <= early_bytes + 64,
        "a client_waiting frame grew from {early_bytes} to {late_bytes} bytes with the queue"
    );
}
