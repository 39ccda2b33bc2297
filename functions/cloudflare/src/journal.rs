//! A tenant's journal in its Durable Object's SQLite (the tables of `lobby_core::journal`): every
//! event the core produced, numbered in order, plus a snapshot of the state so that waking up
//! replays only the tail, and the wrong-invitation-code guard.
//!
//! All writes of one call happen in one synchronous stretch with no `await`, which the runtime
//! commits as one atomic transaction, and its output gate holds the reply until the write is
//! durable: nothing is acknowledged before it is stored.

use lobby_core::api::MessageLog;
use lobby_core::invitation::Guard;
use lobby_core::journal::{self as shape, Cell, Layout};
use lobby_core::{snapshot, Event, Lobby, Millis};
use lobby_wire::Message;
use serde::Deserialize;
use worker::{SqlStorage, SqlStorageValue};

pub struct Journal {
    sql: SqlStorage,
}

pub use lobby_core::journal::Stored;

#[derive(Deserialize)]
struct Row {
    seq: f64,
    at: f64,
    body: String,
}

impl Row {
    fn into_stored(self) -> worker::Result<Stored> {
        Ok(Stored {
            seq: self.seq as u64,
            at: self.at as Millis,
            event: serde_json::from_str(&self.body)?,
        })
    }
}

#[derive(Deserialize)]
struct SnapshotRow {
    seq: f64,
    body: String,
}

#[derive(Deserialize)]
struct GuardRow {
    body: String,
}

fn int(v: u64) -> SqlStorageValue {
    SqlStorageValue::Integer(v as i64)
}

impl Journal {
    pub fn open(sql: SqlStorage) -> worker::Result<Self> {
        for stmt in shape::schema(Layout::OneTenant) {
            sql.exec(&stmt, None)?;
        }
        Ok(Journal { sql })
    }

    /// The state as stored: the snapshot plus every event after it; with the last event's
    /// number and the snapshot's.
    pub fn load(&self) -> worker::Result<(Lobby, u64, u64)> {
        let parts: Vec<SnapshotRow> = self
            .sql
            .exec("SELECT seq, body FROM snapshot_parts ORDER BY part", None)?
            .to_array()?;
        let parts = parts.iter().map(|p| (p.seq as u64, p.body.as_str()));
        shape::rebuild(parts, |seq| self.after(seq, u32::MAX))
    }

    /// The wrong-invitation-code guard (empty when none is stored).
    pub fn load_guard(&self) -> worker::Result<Guard> {
        let rows: Vec<GuardRow> = self
            .sql
            .exec("SELECT body FROM guards WHERE id = 0", None)?
            .to_array()?;
        match rows.first() {
            Some(r) => Ok(serde_json::from_str(&r.body)?),
            None => Ok(Guard::default()),
        }
    }

    /// Stores the guard (in the call's synchronous stretch, so with its answer).
    pub fn save_guard(&self, guard: &Guard) -> worker::Result<()> {
        self.sql.exec(
            "INSERT INTO guards (id, body) VALUES (0, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
            vec![SqlStorageValue::String(serde_json::to_string(guard)?)],
        )?;
        Ok(())
    }

    /// Events with `seq > after`, in order, at most `limit`.
    pub fn after(&self, after: u64, limit: u32) -> worker::Result<Vec<Stored>> {
        let rows: Vec<Row> = self
            .sql
            .exec(
                "SELECT seq, at, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                vec![int(after), int(limit as u64)],
            )?
            .to_array()?;
        rows.into_iter().map(Row::into_stored).collect()
    }

    /// Appends events numbered from `last + 1`; answers them with their numbers.
    pub fn append(&self, last: u64, at: Millis, events: Vec<Event>) -> worker::Result<Vec<Stored>> {
        shape::append(last, at, events, |row| {
            let values = row.cells(at).map(|c| match c {
                Cell::Integer(i) => SqlStorageValue::Integer(i),
                Cell::Text(t) => SqlStorageValue::String(t.to_string()),
                Cell::Null => SqlStorageValue::Null,
            });
            let insert = shape::insert_event(Layout::OneTenant);
            self.sql.exec(insert, values.to_vec())?;
            Ok(())
        })
    }

    /// Writes a snapshot when enough events have piled up since the last one.
    pub fn maybe_snapshot(
        &self,
        lobby: &Lobby,
        seq: u64,
        snapshot_seq: &mut u64,
    ) -> worker::Result<()> {
        if !snapshot::due(seq, *snapshot_seq) {
            return Ok(());
        }
        let parts = snapshot::parts(lobby)?;
        self.sql.exec("DELETE FROM snapshot_parts", None)?;
        for (part, body) in parts.into_iter().enumerate() {
            self.sql.exec(
                "INSERT INTO snapshot_parts (part, seq, body) VALUES (?, ?, ?)",
                vec![int(part as u64), int(seq), SqlStorageValue::String(body)],
            )?;
        }
        *snapshot_seq = seq;
        Ok(())
    }
}

impl MessageLog for Journal {
    fn messages(&self, session: &str, after: u64, limit: usize) -> Vec<Message> {
        let rows: worker::Result<Vec<Row>> = self
            .sql
            .exec(
                "SELECT seq, at, body FROM events WHERE kind = 'message_posted' AND session = ? AND msg_seq > ? ORDER BY msg_seq LIMIT ?",
                vec![
                    SqlStorageValue::String(session.to_string()),
                    int(after),
                    int(limit as u64),
                ],
            )
            .and_then(|c| c.to_array());
        rows.unwrap_or_default()
            .into_iter()
            .filter_map(|r| r.into_stored().ok())
            .filter_map(|s| Lobby::message_of(&s.event, s.at).map(|(_, m)| m))
            .collect()
    }
}
