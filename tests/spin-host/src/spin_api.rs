//! `spin:sqlite/sqlite@3.1.0` and `spin:variables/variables@3.0.0`, bound with `bindgen!`
//! against the WIT files shipped in the spin-sdk crate (copied verbatim into ../wit/deps).
//!
//! SQLite: one file per database label the component may open (`sqlite_databases`); `default`
//! is `$SPIN_HOST_SQLITE_PATH` (default `.spin/sqlite_db.db` next to spin.toml, as `spin up`).
//! The file is in WAL mode with `synchronous=NORMAL`. Every `open` is its own connection, so a
//! transaction (`BEGIN IMMEDIATE` … `COMMIT`) belongs to the request that began it; a second
//! `BEGIN` waits up to 50 ms inside SQLite and then gets "database is locked", which the guest
//! retries after an async sleep (so no host thread is parked behind a lock for long).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rusqlite::types::ValueRef;
use wasmtime::component::{Accessor, FutureReader, HasData, Resource, StreamReader};

use crate::Ctx;

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "lobby:spin-host/host",
        with: {
            "spin:sqlite/sqlite.connection": super::Connection,
        },
    });
}

use bindings::spin::sqlite::sqlite::{self, Error, QueryResult, RowResult, Value};
use bindings::spin::variables::variables;

/// What a component may use: its databases (label -> file) and its resolved variables.
pub struct SpinConfig {
    pub databases: BTreeMap<String, PathBuf>,
    pub variables: BTreeMap<String, String>,
    /// One connection per database held for the host's lifetime, as a long-running Spin keeps
    /// its own: without it the last request's connection to close checkpoints and removes the
    /// WAL, and a request opening the file at that moment gets "database is locked".
    #[allow(dead_code)] // held, never read
    pub keep_open: Vec<std::sync::Mutex<rusqlite::Connection>>,
}

pub struct Connection(rusqlite::Connection);

/// The `HasData` marker the generated `add_to_linker` functions are given.
pub struct Spin;

impl HasData for Spin {
    type Data<'a> = &'a mut Ctx;
}

pub fn add_to_linker(linker: &mut wasmtime::component::Linker<Ctx>) -> wasmtime::Result<()> {
    sqlite::add_to_linker::<Ctx, Spin>(linker, |c| c)?;
    variables::add_to_linker::<Ctx, Spin>(linker, |c| c)?;
    Ok(())
}

/// Prepares a database file once at start: WAL, synchronous=NORMAL (persistent settings of the
/// file / applied again per connection).
pub fn init_database(path: &PathBuf) -> anyhow::Result<rusqlite::Connection> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let c = rusqlite::Connection::open(path)?;
    let mode: String = c.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    anyhow::ensure!(
        mode.eq_ignore_ascii_case("wal"),
        "{} refused WAL",
        path.display()
    );
    Ok(c)
}

fn open(config: &SpinConfig, database: &str) -> Result<Connection, Error> {
    let path = config.databases.get(database).ok_or(Error::AccessDenied)?;
    let c = rusqlite::Connection::open(path).map_err(io)?;
    c.busy_timeout(WAIT).map_err(io)?;
    c.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
        .map_err(io)?;
    Ok(Connection(c))
}

/// How long a statement waits for a lock inside SQLite. `BEGIN …` waits briefly and answers
/// "database is locked", so that a guest waiting for another request's write transaction
/// retries after an async sleep instead of parking a host thread; other statements (reads in
/// WAL mode practically never wait) get the long timeout.
const WAIT: std::time::Duration = std::time::Duration::from_secs(5);
const WAIT_BEGIN: std::time::Duration = std::time::Duration::from_millis(50);

fn io(e: rusqlite::Error) -> Error {
    Error::Io(e.to_string())
}

/// What the components asked of SQLite since the host started: statements run, how many of them
/// were `PRAGMA`s, and the time spent running them (prepare, bind, step, copy out). The benchmark
/// reads them (`SPIN_HOST_STATS`) to weigh what an idle event stream costs the database.
pub struct Stats {
    pub statements: AtomicU64,
    pub pragmas: AtomicU64,
    pub nanos: AtomicU64,
}

pub static STATS: Stats = Stats {
    statements: AtomicU64::new(0),
    pragmas: AtomicU64::new(0),
    nanos: AtomicU64::new(0),
};

fn execute(c: &rusqlite::Connection, sql: &str, params: Vec<Value>) -> Result<QueryResult, Error> {
    let started = std::time::Instant::now();
    let r = execute_timed(c, sql, params);
    let pragma = sql
        .trim_start()
        .get(..6)
        .is_some_and(|w| w.eq_ignore_ascii_case("pragma"));
    STATS.statements.fetch_add(1, Ordering::Relaxed);
    if pragma {
        STATS.pragmas.fetch_add(1, Ordering::Relaxed);
    }
    STATS
        .nanos
        .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
    r
}

fn execute_timed(
    c: &rusqlite::Connection,
    sql: &str,
    params: Vec<Value>,
) -> Result<QueryResult, Error> {
    let begin = sql
        .trim_start()
        .get(..5)
        .is_some_and(|w| w.eq_ignore_ascii_case("begin"));
    if begin {
        c.busy_timeout(WAIT_BEGIN).map_err(io)?;
        let r = run(c, sql, params);
        c.busy_timeout(WAIT).map_err(io)?;
        return r;
    }
    run(c, sql, params)
}

fn run(c: &rusqlite::Connection, sql: &str, params: Vec<Value>) -> Result<QueryResult, Error> {
    let mut stmt = c.prepare_cached(sql).map_err(io)?;
    let columns: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let params: Vec<rusqlite::types::Value> = params
        .into_iter()
        .map(|v| match v {
            Value::Integer(i) => rusqlite::types::Value::Integer(i),
            Value::Real(f) => rusqlite::types::Value::Real(f),
            Value::Text(s) => rusqlite::types::Value::Text(s),
            Value::Blob(b) => rusqlite::types::Value::Blob(b),
            Value::Null => rusqlite::types::Value::Null,
        })
        .collect();
    let n = columns.len();
    let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(io)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(io)? {
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            values.push(match row.get_ref(i).map_err(io)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(i) => Value::Integer(i),
                ValueRef::Real(f) => Value::Real(f),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            });
        }
        out.push(RowResult { values });
    }
    Ok(QueryResult { columns, rows: out })
}

impl sqlite::Host for Ctx {}

impl sqlite::HostConnection for Ctx {
    fn open(&mut self, database: String) -> Result<Resource<Connection>, Error> {
        let c = open(&self.spin, &database)?;
        self.table.push(c).map_err(|e| Error::Io(e.to_string()))
    }

    fn execute(
        &mut self,
        conn: Resource<Connection>,
        statement: String,
        parameters: Vec<Value>,
    ) -> Result<QueryResult, Error> {
        let c = self
            .table
            .get(&conn)
            .map_err(|_| Error::InvalidConnection)?;
        execute(&c.0, &statement, parameters)
    }

    fn last_insert_rowid(&mut self, conn: Resource<Connection>) -> i64 {
        self.table
            .get(&conn)
            .map(|c| c.0.last_insert_rowid())
            .unwrap_or(0)
    }

    fn changes(&mut self, conn: Resource<Connection>) -> u64 {
        self.table.get(&conn).map(|c| c.0.changes()).unwrap_or(0)
    }

    fn drop(&mut self, conn: Resource<Connection>) -> wasmtime::Result<()> {
        self.table.delete(conn)?;
        Ok(())
    }
}

impl<U> sqlite::HostConnectionWithStore<U> for Spin {
    async fn open_async(
        store: &Accessor<U, Self>,
        database: String,
    ) -> Result<Resource<Connection>, Error> {
        store.with(|mut access| {
            let ctx: &mut Ctx = access.get();
            let c = open(&ctx.spin, &database)?;
            ctx.table.push(c).map_err(|e| Error::Io(e.to_string()))
        })
    }

    async fn execute_async(
        store: &Accessor<U, Self>,
        conn: Resource<Connection>,
        statement: String,
        parameters: Vec<Value>,
    ) -> Result<
        (
            Vec<String>,
            StreamReader<RowResult>,
            FutureReader<Result<(), Error>>,
        ),
        Error,
    > {
        store.with(|mut access| {
            let QueryResult { columns, rows } = {
                let ctx: &mut Ctx = access.get();
                let c = ctx.table.get(&conn).map_err(|_| Error::InvalidConnection)?;
                execute(&c.0, &statement, parameters)?
            };
            let host = |e: wasmtime::Error| Error::Io(format!("{e:?}"));
            let rows = StreamReader::new(&mut access, rows).map_err(host)?;
            let done = FutureReader::new(&mut access, async {
                wasmtime::error::Ok(Ok::<(), Error>(()))
            })
            .map_err(host)?;
            Ok((columns, rows, done))
        })
    }

    async fn last_insert_rowid_async(store: &Accessor<U, Self>, conn: Resource<Connection>) -> i64 {
        store.with(|mut access| {
            let ctx: &mut Ctx = access.get();
            ctx.table
                .get(&conn)
                .map(|c| c.0.last_insert_rowid())
                .unwrap_or(0)
        })
    }

    async fn changes_async(store: &Accessor<U, Self>, conn: Resource<Connection>) -> u64 {
        store.with(|mut access| {
            let ctx: &mut Ctx = access.get();
            ctx.table.get(&conn).map(|c| c.0.changes()).unwrap_or(0)
        })
    }
}

impl variables::Host for Ctx {}

impl<U> variables::HostWithStore<U> for Spin {
    async fn get(store: &Accessor<U, Self>, name: String) -> Result<String, variables::Error> {
        store.with(|mut access| {
            let ctx: &mut Ctx = access.get();
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid {
                return Err(variables::Error::InvalidName(name));
            }
            ctx.spin
                .variables
                .get(&name)
                .cloned()
                .ok_or(variables::Error::Undefined(name))
        })
    }
}

pub type Shared = Arc<SpinConfig>;
