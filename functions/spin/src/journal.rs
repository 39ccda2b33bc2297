//! Every tenant's journal in Spin's SQLite (`spin:sqlite`, the `default` database): the tables
//! of `lobby_core::journal` (as on Cloudflare) with a `tenant` column in front, since one
//! database holds all tenants, and two of Spin's own (typing, delivery claims).
//!
//! The coordinator runs each call inside one write transaction (`BEGIN IMMEDIATE` … `COMMIT`):
//! load the snapshot and the events after it, apply the core, append the reply's events,
//! commit, and only then answer. SQLite serializes write transactions, so two concurrent
//! calls of one tenant (two accepts of one client) run one after the other and the second sees
//! the first's events: exactly one winner, as with the Durable Object.
//!
//! Statements use the synchronous `execute` of `spin:sqlite@3.1.0` on purpose: `MessageLog` (the
//! core reading messages in the middle of a call) is synchronous, and no `await` between load and
//! commit mirrors the Durable Object's "one synchronous stretch".

use lobby_core::api::MessageLog;
use lobby_core::invitation::Guard;
use lobby_core::journal::{self as shape, Cell, Layout, SCHEMA_NAMES};
use lobby_core::views::TypingTo;
use lobby_core::{snapshot, ApiError, Event, Lobby, Millis};
use lobby_wire::Message;
use spin_sdk::sqlite::wit::sqlite::{Connection, Error as SqlError, Value};

/// `BEGIN IMMEDIATE` is retried this many times (5 ms apart) while another writer holds the
/// database (a host whose connection has no busy timeout answers "database is locked" at once).
const BEGIN_ATTEMPTS: u32 = 2_000;

/// Spin's tables besides the journal's ([`shape::schema`]).
const SPIN_TABLES: [(&str, &str); 2] = [
    // "Typing…" to relay (never journaled): event streams pick up rows newer than they saw;
    // rows older than a minute are dropped.
    (
        "typing",
        "CREATE TABLE IF NOT EXISTS typing (
  id INTEGER PRIMARY KEY,
  tenant TEXT NOT NULL,
  at INTEGER NOT NULL,
  operator TEXT,
  session TEXT,
  client TEXT
)",
    ),
    // Who is sending which mail or provider call until when (`deliver`): concurrent instances
    // send each once.
    (
        "claims",
        "CREATE TABLE IF NOT EXISTS claims (
  tenant TEXT NOT NULL,
  id TEXT NOT NULL,
  until INTEGER NOT NULL,
  PRIMARY KEY (tenant, id)
)",
    ),
];

pub struct Journal {
    db: Connection,
    tenant: String,
}

pub use lobby_core::journal::Stored;

pub fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

fn sql_error(e: SqlError) -> ApiError {
    ApiError::Internal(format!("sqlite: {}", describe(&e)))
}

fn describe(e: &SqlError) -> String {
    match e {
        SqlError::NoSuchDatabase => {
            "no such database (is `sqlite_databases = [\"default\"]` in spin.toml?)".into()
        }
        SqlError::AccessDenied => "access denied".into(),
        SqlError::InvalidConnection => "invalid connection".into(),
        SqlError::DatabaseFull => "database full".into(),
        SqlError::Io(m) => m.clone(),
    }
}

fn is_busy(e: &SqlError) -> bool {
    match e {
        SqlError::Io(m) => {
            let m = m.to_ascii_lowercase();
            m.contains("locked") || m.contains("busy") || m.contains("within a transaction")
        }
        _ => false,
    }
}

fn int(v: u64) -> Value {
    Value::Integer(v as i64)
}

fn text(v: Option<&str>) -> Value {
    v.map_or(Value::Null, |s| Value::Text(s.to_string()))
}

fn as_u64(v: &Value) -> u64 {
    match v {
        Value::Integer(i) => *i as u64,
        Value::Real(f) => *f as u64,
        _ => 0,
    }
}

fn as_text(v: &Value) -> &str {
    match v {
        Value::Text(s) => s,
        _ => "",
    }
}

fn stored(row: &[Value]) -> Result<Stored, ApiError> {
    Ok(Stored {
        seq: as_u64(&row[0]),
        at: as_u64(&row[1]) as Millis,
        event: serde_json::from_str(as_text(&row[2])).map_err(internal)?,
    })
}

impl Journal {
    /// Opens the `default` database for `tenant`, creating the tables on first use (a write:
    /// retried like `BEGIN IMMEDIATE` while another request holds the database).
    pub async fn open(tenant: &str) -> Result<Self, ApiError> {
        let db = Connection::open("default").map_err(sql_error)?;
        let j = Journal {
            db,
            tenant: tenant.to_string(),
        };
        let names: Vec<&str> = SCHEMA_NAMES
            .into_iter()
            .chain(SPIN_TABLES.iter().map(|(name, _)| *name))
            .collect();
        let ready = j.exec(
            &format!(
                "SELECT count(*) FROM sqlite_master WHERE name IN ('{}')",
                names.join("', '")
            ),
            vec![],
        )?;
        if ready.first().and_then(|r| r.first()).map(as_u64) != Some(names.len() as u64) {
            for stmt in shape::schema(Layout::ManyTenants) {
                j.retrying(&stmt).await?;
            }
            for (_, stmt) in SPIN_TABLES {
                j.retrying(stmt).await?;
            }
        }
        Ok(j)
    }

    fn exec(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Vec<Value>>, ApiError> {
        self.db
            .execute(sql, &params)
            .map(|r| r.rows.into_iter().map(|r| r.values).collect())
            .map_err(|e| {
                let head: String = sql.split_whitespace().take(4).collect::<Vec<_>>().join(" ");
                ApiError::Internal(format!("sqlite: {} ({head} …)", describe(&e)))
            })
    }

    /// Starts the call's write transaction, waiting while another writer holds the database.
    pub async fn begin_write(&self) -> Result<(), ApiError> {
        self.begin("BEGIN IMMEDIATE").await
    }

    /// Starts a read transaction (a consistent view of snapshot + events, in WAL mode).
    pub async fn begin_read(&self) -> Result<(), ApiError> {
        self.begin("BEGIN").await
    }

    async fn begin(&self, stmt: &str) -> Result<(), ApiError> {
        self.retrying(stmt).await
    }

    /// Runs a statement that takes the write lock, waiting (5 ms apart, 10 s at most) while
    /// another writer holds it.
    async fn retrying(&self, stmt: &str) -> Result<(), ApiError> {
        for _ in 0..BEGIN_ATTEMPTS {
            match self.db.execute(stmt, &[]) {
                Ok(_) => return Ok(()),
                Err(e) if is_busy(&e) => {
                    spin_sdk::time::sleep(std::time::Duration::from_millis(5)).await
                }
                Err(e) => return Err(sql_error(e)),
            }
        }
        Err(ApiError::Internal(
            "the database stayed locked for 10 s".into(),
        ))
    }

    pub fn commit(&self) -> Result<(), ApiError> {
        self.exec("COMMIT", vec![]).map(|_| ())
    }

    pub fn rollback(&self) {
        let _ = self.db.execute("ROLLBACK", &[]);
    }

    /// The state as stored: the snapshot plus every event after it; with the last event's
    /// number and the snapshot's.
    pub fn load(&self) -> Result<(Lobby, u64, u64), ApiError> {
        let parts = self.exec(
            "SELECT seq, body FROM snapshot_parts WHERE tenant = ? ORDER BY part",
            vec![Value::Text(self.tenant.clone())],
        )?;
        let parts = parts.iter().map(|p| (as_u64(&p[0]), as_text(&p[1])));
        shape::rebuild(parts, |seq| {
            self.after(seq, u32::MAX).map_err(anyhow::Error::from)
        })
        .map_err(internal)
    }

    /// The tenant's wrong-invitation-code guard (empty when none is stored).
    pub fn load_guard(&self) -> Result<Guard, ApiError> {
        let rows = self.exec(
            "SELECT body FROM guards WHERE tenant = ?",
            vec![Value::Text(self.tenant.clone())],
        )?;
        match rows.first() {
            Some(r) => serde_json::from_str(as_text(&r[0])).map_err(internal),
            None => Ok(Guard::default()),
        }
    }

    /// Stores the guard (in the call's write transaction).
    pub fn save_guard(&self, guard: &Guard) -> Result<(), ApiError> {
        let body = serde_json::to_string(guard).map_err(internal)?;
        self.exec(
            "INSERT INTO guards (tenant, body) VALUES (?, ?) ON CONFLICT (tenant) DO UPDATE SET body = excluded.body",
            vec![Value::Text(self.tenant.clone()), Value::Text(body)],
        )
        .map(|_| ())
    }

    /// Events with `seq > after`, in order, at most `limit`.
    pub fn after(&self, after: u64, limit: u32) -> Result<Vec<Stored>, ApiError> {
        self.exec(
            "SELECT seq, at, body FROM events WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT ?",
            vec![
                Value::Text(self.tenant.clone()),
                int(after),
                int(limit as u64),
            ],
        )?
        .iter()
        .map(|r| stored(r))
        .collect()
    }

    /// Appends events numbered from `last + 1`; answers them with their numbers.
    pub fn append(
        &self,
        last: u64,
        at: Millis,
        events: Vec<Event>,
    ) -> Result<Vec<Stored>, ApiError> {
        shape::append(last, at, events, |row| {
            let mut values = vec![Value::Text(self.tenant.clone())];
            values.extend(row.cells(at).map(|c| match c {
                Cell::Integer(i) => Value::Integer(i),
                Cell::Text(t) => Value::Text(t.to_string()),
                Cell::Null => Value::Null,
            }));
            self.exec(shape::insert_event(Layout::ManyTenants), values)
                .map(|_| ())
                .map_err(anyhow::Error::from)
        })
        .map_err(internal)
    }

    /// Stores "typing…" for the event streams to relay; drops what is older than a minute.
    pub fn save_typing(&self, to: &TypingTo, at: Millis) -> Result<(), ApiError> {
        self.exec(
            "DELETE FROM typing WHERE at < ?",
            vec![Value::Integer(at - 60_000)],
        )?;
        let (operator, session, client) = match to {
            TypingTo::Operator { operator, session } => (Some(operator), Some(session), None),
            TypingTo::Client { client } => (None, None, Some(client)),
        };
        self.exec(
            "INSERT INTO typing (tenant, at, operator, session, client) VALUES (?, ?, ?, ?, ?)",
            vec![
                Value::Text(self.tenant.clone()),
                Value::Integer(at),
                text(operator.map(String::as_str)),
                text(session.map(String::as_str)),
                text(client.map(String::as_str)),
            ],
        )
        .map(|_| ())
    }

    /// SQLite's `PRAGMA data_version` on this connection: a number that changes whenever another
    /// connection commits (any tenant, any table), and stays put otherwise. It reads no table, so
    /// an event stream asks it often and reads the journal only when it moved. Only a connection
    /// of one's own sees others' commits so: each `Connection::open` is its own connection on
    /// Spin's local SQLite (and on tests/spin-host).
    pub fn data_version(&self) -> Result<i64, ApiError> {
        let rows = self.exec("PRAGMA data_version", vec![])?;
        match rows.first().and_then(|r| r.first()) {
            Some(Value::Integer(v)) => Ok(*v),
            _ => Err(internal("PRAGMA data_version answered no number")),
        }
    }

    /// The newest typing row's id (any tenant): where a new stream starts looking.
    pub fn typing_cursor(&self) -> Result<u64, ApiError> {
        let rows = self.exec("SELECT coalesce(max(id), 0) FROM typing", vec![])?;
        Ok(rows.first().and_then(|r| r.first()).map_or(0, as_u64))
    }

    /// This tenant's typing rows after `cursor`, and the new cursor.
    pub fn typing_after(&self, cursor: u64) -> Result<(Vec<TypingTo>, u64), ApiError> {
        let rows = self.exec(
            "SELECT id, operator, session, client FROM typing WHERE id > ? AND tenant = ? ORDER BY id",
            vec![int(cursor), Value::Text(self.tenant.clone())],
        )?;
        let mut last = cursor;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            last = last.max(as_u64(&r[0]));
            let field = |i: usize| match &r[i] {
                Value::Text(t) => Some(t.clone()),
                _ => None,
            };
            out.push(match (field(1), field(2), field(3)) {
                (Some(operator), Some(session), _) => TypingTo::Operator { operator, session },
                (_, _, Some(client)) => TypingTo::Client { client },
                _ => continue,
            });
        }
        Ok((out, last))
    }

    /// Claims mail or provider call `id` for sending until `until`, unless another instance
    /// holds an unexpired claim (call inside a write transaction).
    pub fn claim(&self, id: &str, now: Millis, until: Millis) -> Result<bool, ApiError> {
        let held = self.exec(
            "SELECT until FROM claims WHERE tenant = ? AND id = ?",
            vec![Value::Text(self.tenant.clone()), Value::Text(id.into())],
        )?;
        if held
            .first()
            .and_then(|r| r.first())
            .is_some_and(|v| matches!(v, Value::Integer(t) if *t > now))
        {
            return Ok(false);
        }
        self.exec(
            "INSERT OR REPLACE INTO claims (tenant, id, until) VALUES (?, ?, ?)",
            vec![
                Value::Text(self.tenant.clone()),
                Value::Text(id.into()),
                Value::Integer(until),
            ],
        )?;
        Ok(true)
    }

    /// Ends the claim on `id` (its outcome is journaled).
    pub fn release(&self, id: &str) -> Result<(), ApiError> {
        self.exec(
            "DELETE FROM claims WHERE tenant = ? AND id = ?",
            vec![Value::Text(self.tenant.clone()), Value::Text(id.into())],
        )
        .map(|_| ())
    }

    /// Writes a snapshot when enough events have piled up since the last one.
    pub fn maybe_snapshot(
        &self,
        lobby: &Lobby,
        seq: u64,
        snapshot_seq: u64,
    ) -> Result<(), ApiError> {
        if !snapshot::due(seq, snapshot_seq) {
            return Ok(());
        }
        let parts = snapshot::parts(lobby).map_err(internal)?;
        self.exec(
            "DELETE FROM snapshot_parts WHERE tenant = ?",
            vec![Value::Text(self.tenant.clone())],
        )?;
        for (part, body) in parts.into_iter().enumerate() {
            self.exec(
                "INSERT INTO snapshot_parts (tenant, part, seq, body) VALUES (?, ?, ?, ?)",
                vec![
                    Value::Text(self.tenant.clone()),
                    int(part as u64),
                    int(seq),
                    Value::Text(body),
                ],
            )?;
        }
        Ok(())
    }
}

impl MessageLog for Journal {
    fn messages(&self, session: &str, after: u64, limit: usize) -> Vec<Message> {
        self.exec(
            "SELECT seq, at, body FROM events WHERE tenant = ? AND kind = 'message_posted' AND session = ? AND msg_seq > ? ORDER BY msg_seq LIMIT ?",
            vec![
                Value::Text(self.tenant.clone()),
                Value::Text(session.to_string()),
                int(after),
                int(limit as u64),
            ],
        )
        .unwrap_or_default()
        .iter()
        .filter_map(|r| stored(r).ok())
        .filter_map(|s| Lobby::message_of(&s.event, s.at).map(|(_, m)| m))
        .collect()
    }
}
