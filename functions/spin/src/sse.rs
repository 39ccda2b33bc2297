//! Real time without WebSockets: `GET /api/v1/operator/events` and `/api/v1/client/events`
//! answer Server-Sent Events (`text/event-stream`) carrying exactly the JSON frames the
//! Cloudflare WebSockets carry, one `data:` line per frame.
//!
//! The stream starts like the WebSocket: `hello` (operators) or `status` (clients), then the
//! replay of what was missed since `after` (journal sequence numbers for operators, message
//! numbers for clients, as on Cloudflare). Then it stays open and follows the journal, applying
//! new events to its own copy of the tenant's `Lobby` and projecting them with the same
//! `Lobby::operator_event` / `client_event` the Durable Object uses.
//!
//! Following without a push: the instance serving the stream shares no memory with the
//! instances that append events, so it looks at the database. Each look is SQLite's
//! `PRAGMA data_version` on the stream's own long-lived connection (it changes only when another
//! connection commits and reads no table), every 5 ms; only when it moved does the stream read
//! the journal after its last seq and the typing table after its cursor (`lobby_core::watch`
//! decides, and reads unconditionally with every keepalive in case a database's counter does
//! not move). An entry thus reaches an operator's stream a few ms after it commits (instead of
//! up to 200 ms). The price is the looks: a quiet stream runs some 150-200 tiny statements a
//! second instead of 10 indexed queries, and each look wakes the instance, which in all costs
//! the host more than the old poll did (BENCHMARKS.md measures both ways). The Spin variable
//! `lobby_stream_change_check = "poll"` restores the plain 200 ms read of the journal: for a
//! database whose connections do not see each other's commits in that counter, or a deployment
//! with many idle streams that would rather spend less than deliver sooner.
//!
//! After 25 s (the Spin variable `lobby_stream_seconds`) the stream ends, so that no request
//! runs forever on a Spin host; EventSource reconnects by itself (`retry: 1000`) and sends the
//! last `id:` it saw as `Last-Event-ID`, which is `after`.
//! Operator frames carry their journal seq as `id:`, and an `id:`-only line after the replay
//! and after each batch moves the cursor past events this operator does not see; client message
//! frames carry the message's seq. Every 5 s a named `keepalive` event (`data: {}`) proves the
//! stream alive to a reader that watches for silence (the operator app does).
//! "Typing…" (`POST /client/typing`, `/sessions/{id}/typing`; never journaled) is stored in a
//! small table that each read also reads (its commit moves the counter like any other); its
//! frames carry no `id:`. The streams also send the mails and provider calls that are due
//! (`deliver`): Spin has no alarms.

use std::collections::HashMap;
use std::time::Duration;

use futures::SinkExt;
use http_body_util::BodyExt;
use lobby_core::api::{Actor, Meta};
use lobby_core::views::{StreamOf, TypingTo};
use lobby_core::watch::{Mode, Watch};
use lobby_core::{ApiError, Lobby};
use lobby_wire::{ClientEvent, OperatorEvent};
use spin_sdk::http::Response;

use crate::journal::{Journal, Stored};
use crate::{error_response, now_millis, Body};

/// At most this many journal events are replayed to a reconnecting operator (as on Cloudflare).
const MAX_REPLAY: u32 = 50_000;
/// At most this many new events per read; a full read is followed by another at the next look.
const READ_LIMIT: u32 = 1_000;
/// How long a stream stays open unless the Spin variable `lobby_stream_seconds` says otherwise.
const STREAM_SECONDS: u32 = 25;
/// The `keepalive` event (every `watch::KEEPALIVE_MS`): keeps proxies from closing a quiet
/// stream, and tells a reader that the stream is alive (an `EventSource` dispatches no event for
/// a comment or an `id:`-only line, so a reader could not tell a quiet stream from a dead one).
/// A named event: `EventSource.onmessage` never sees it, only a `keepalive` listener.
const KEEPALIVE: &str = "event: keepalive\ndata: {}\n\n";

/// Milliseconds on the monotonic clock (`wasi:clocks/monotonic-clock`): the stream's schedule
/// must not jump with the wall clock.
fn monotonic_millis() -> i64 {
    (spin_sdk::wasip3::clocks::monotonic_clock::now() / 1_000_000) as i64
}

fn frame<T: serde::Serialize>(id: Option<u64>, ev: &T) -> String {
    let json = serde_json::to_string(ev).unwrap_or_default();
    match id {
        Some(id) => format!("id: {id}\ndata: {json}\n\n"),
        None => format!("data: {json}\n\n"),
    }
}

/// An `id:` line without data: moves an EventSource's `Last-Event-ID` to journal seq `seq`
/// (everything up to it was sent or is not for this operator) without dispatching an event, so
/// a reconnect replays neither too much nor too little. Operators only: a client's `after` is a
/// message number.
fn cursor(seq: u64) -> String {
    format!("id: {seq}\n\n")
}

/// Frames for events just appended (and already applied to `lobby`).
fn project(lobby: &Lobby, reader: &StreamOf, stored: &[Stored], out: &mut Vec<String>) {
    match reader {
        StreamOf::Operator(id) => {
            let Some(op) = lobby.operators.get(id) else {
                return;
            };
            for s in stored {
                if let Some(ev) = lobby.operator_event(op, s.seq, &s.event, s.at) {
                    out.push(frame(Some(s.seq), &ev));
                }
            }
        }
        StreamOf::Client(id) => {
            let now = now_millis();
            for s in stored {
                if let Some(ev) = lobby.client_event(id, &s.event, s.at) {
                    let seq = match &ev {
                        ClientEvent::Message { message } => Some(message.seq),
                        _ => None,
                    };
                    out.push(frame(seq, &ev));
                } else {
                    let moved: HashMap<String, u32> =
                        lobby.moved_by(&s.event).into_iter().collect();
                    if let Some(position) = moved.get(id) {
                        out.push(frame(None, &lobby.position_event(id, *position, now)));
                    }
                }
            }
        }
    }
}

/// A "typing…" frame, if it is for this reader (never journaled, so without an `id:`).
fn typing_frame(reader: &StreamOf, to: &TypingTo) -> Option<String> {
    let (stream, typing) = to.frame();
    (stream == *reader).then(|| frame(None, &typing))
}

pub async fn open(tenant: String, actor: Actor, meta: Meta) -> Result<Response<Body>, ApiError> {
    let seconds = crate::variable("lobby_stream_seconds")
        .await
        .parse::<u32>()
        .unwrap_or(STREAM_SECONDS)
        .clamp(1, 3600);
    let mode = Mode::parse(&crate::variable("lobby_stream_change_check").await);
    let journal = Journal::open(&tenant).await?;
    journal.begin_read().await?;
    let start = (|| {
        let (lobby, last, _) = journal.load()?;
        let mut frames = vec!["retry: 1000\n\n".to_string()];
        let reader = match &actor {
            Actor::Operator { id, .. } => {
                let Some(op) = lobby.operators.get(id) else {
                    return Err(ApiError::Unauthorized(
                        "this operator no longer exists".into(),
                    ));
                };
                frames.push(frame(None, &OperatorEvent::Hello { seq: last }));
                if let Some(after) = meta.after {
                    for s in journal.after(after, MAX_REPLAY)? {
                        if let Some(ev) = lobby.operator_event(op, s.seq, &s.event, s.at) {
                            frames.push(frame(Some(s.seq), &ev));
                        }
                    }
                }
                frames.push(cursor(last));
                StreamOf::Operator(id.clone())
            }
            Actor::Client { id, session } => {
                frames.push(frame(None, &lobby.client_status(id, session, now_millis())));
                if let Some(after) = meta.after {
                    for message in lobby.client_replay(session, &journal, after) {
                        let seq = message.seq;
                        frames.push(frame(Some(seq), &ClientEvent::Message { message }));
                    }
                }
                StreamOf::Client(id.clone())
            }
            _ => {
                return Err(ApiError::Forbidden(
                    "this stream needs an operator's or a client's token".into(),
                ))
            }
        };
        let typing = journal.typing_cursor()?;
        Ok((lobby, last, frames, reader, typing))
    })();
    journal.rollback(); // ends the read transaction
    let (mut lobby, mut last, frames, reader, mut typing) = match start {
        Ok(s) => s,
        Err(e) => return Ok(error_response(&e)),
    };

    let (mut tx, body) = spin_sdk::http::body::stream::<String>();
    spin_sdk::wasip3::spawn(async move {
        for f in frames {
            if tx.send(f).await.is_err() {
                return;
            }
        }
        let mut watch = Watch::new(mode, monotonic_millis(), seconds);
        while let Some(wait) = watch.wait(monotonic_millis()) {
            spin_sdk::time::sleep(Duration::from_millis(wait.unsigned_abs())).await;
            // The counter before the journal: a commit after this read moves it for the next look.
            let counter = if watch.wants_counter() {
                match journal.data_version() {
                    Ok(v) => Some(v),
                    Err(e) => {
                        eprintln!("lobby: event stream: {e}");
                        None
                    }
                }
            } else {
                None
            };
            let look = watch.look(monotonic_millis(), counter);
            let mut out = Vec::new();
            if look.read {
                let new = match journal.after(last, READ_LIMIT) {
                    Ok(new) => new,
                    Err(e) => {
                        eprintln!("lobby: event stream: {e}");
                        return;
                    }
                };
                if new.len() >= READ_LIMIT as usize {
                    watch.read_again();
                }
                match journal.typing_after(typing) {
                    Ok((rows, cursor)) => {
                        typing = cursor;
                        out.extend(rows.iter().filter_map(|t| typing_frame(&reader, t)));
                    }
                    Err(e) => eprintln!("lobby: event stream: {e}"),
                }
                if !new.is_empty() {
                    for s in &new {
                        lobby.apply(&s.event, s.at);
                    }
                    last = new.last().map_or(last, |s| s.seq);
                    project(&lobby, &reader, &new, &mut out);
                    if matches!(reader, StreamOf::Operator(_)) {
                        out.push(cursor(last));
                    }
                }
            }
            if look.keepalive {
                out.push(KEEPALIVE.into());
                // Spin has no alarms: open streams drive the retries of mails and provider calls.
                if lobby.is_due(now_millis()) {
                    // In a task of its own: a request sent from inside this streaming task went
                    // out without its body on the Spin host.
                    crate::deliver::soon(&tenant);
                }
            }
            for f in out {
                if tx.send(f).await.is_err() {
                    return; // the reader went away
                }
            }
        }
    });
    let mut resp = Response::new(BodyExt::boxed_unsync(body));
    let h = resp.headers_mut();
    h.insert(
        "Content-Type",
        "text/event-stream; charset=utf-8"
            .parse()
            .expect("static header"),
    );
    h.insert("Cache-Control", "no-cache".parse().expect("static header"));
    h.insert("X-Accel-Buffering", "no".parse().expect("static header"));
    Ok(resp)
}
