//! The shape of a tenant's journal, shared by both runtimes' SQLite journals: the tables (a
//! Durable Object's database holds one tenant; Spin's one database holds them all, keyed by a
//! leading `tenant` column), how an event becomes a row, and how a tenant's state is rebuilt
//! from its snapshot parts and the events after them. The adapters only run the statements.

use crate::lobby::{Event, Lobby};
use crate::snapshot;
use crate::time::Millis;

/// Whose database the journal lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The tenant's own (a Durable Object's storage).
    OneTenant,
    /// One database for every tenant: each table leads with a `tenant` column.
    ManyTenants,
}

/// The tables and indexes, created if missing: `events` (every event the core produced,
/// numbered in order, with the columns message lists are looked up by), `snapshot_parts` (the
/// last snapshot, see [`snapshot`]) and `guards` (the wrong-invitation-code guard, see
/// [`crate::invitation::Guard`]; one row, `id` 0, in a tenant's own database).
pub fn schema(layout: Layout) -> [String; 4] {
    let (column, key) = match layout {
        Layout::OneTenant => ("", ""),
        Layout::ManyTenants => ("\n  tenant TEXT NOT NULL,", "tenant, "),
    };
    let guard_key = match layout {
        Layout::OneTenant => "id INTEGER PRIMARY KEY CHECK (id = 0)",
        Layout::ManyTenants => "tenant TEXT PRIMARY KEY",
    };
    [
        format!(
            "CREATE TABLE IF NOT EXISTS events ({column}
  seq INTEGER NOT NULL,
  at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  client TEXT,
  session TEXT,
  msg_seq INTEGER,
  body TEXT NOT NULL,
  PRIMARY KEY ({key}seq)
)"
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS events_by_message ON events ({key}session, msg_seq) WHERE kind = 'message_posted'"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS snapshot_parts ({column}
  part INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY ({key}part)
)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS guards (
  {guard_key},
  body TEXT NOT NULL
)"
        ),
    ]
}

/// The names [`schema`] creates, for a check that they all exist.
pub const SCHEMA_NAMES: [&str; 4] = ["events", "events_by_message", "snapshot_parts", "guards"];

/// A stored event with its number and time.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub seq: u64,
    pub at: Millis,
    pub event: Event,
}

/// An event as a row of `events`, besides `at` (and `tenant`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row<'a> {
    pub seq: u64,
    pub kind: &'static str,
    pub client: Option<&'a str>,
    pub session: Option<&'a str>,
    /// A posted message's number in its session (message lists are read by it).
    pub msg_seq: Option<u64>,
    pub body: String,
}

/// One value of a row, for the adapter to hand its SQLite in its own kind of value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell<'a> {
    Integer(i64),
    Text(&'a str),
    Null,
}

impl Row<'_> {
    /// The row's values in the order of [`insert_event`]'s parameters (after `tenant`).
    pub fn cells(&self, at: Millis) -> [Cell<'_>; 7] {
        [
            Cell::Integer(self.seq as i64),
            Cell::Integer(at),
            Cell::Text(self.kind),
            self.client.map_or(Cell::Null, Cell::Text),
            self.session.map_or(Cell::Null, Cell::Text),
            self.msg_seq.map_or(Cell::Null, |s| Cell::Integer(s as i64)),
            Cell::Text(&self.body),
        ]
    }
}

/// The statement that stores an event: its parameters are the tenant (in a database of many)
/// and then [`Row::cells`].
pub fn insert_event(layout: Layout) -> &'static str {
    match layout {
        Layout::OneTenant => "INSERT INTO events (seq, at, kind, client, session, msg_seq, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
        Layout::ManyTenants => "INSERT INTO events (tenant, seq, at, kind, client, session, msg_seq, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    }
}

/// Numbers `events` from `last + 1`, hands each to `insert` as its row, and answers them as
/// stored.
pub fn append<E: From<serde_json::Error>>(
    last: u64,
    at: Millis,
    events: Vec<Event>,
    mut insert: impl FnMut(Row) -> Result<(), E>,
) -> Result<Vec<Stored>, E> {
    let mut out = Vec::with_capacity(events.len());
    for (i, event) in events.into_iter().enumerate() {
        let seq = last + 1 + i as u64;
        let (client, session) = event.subject();
        insert(Row {
            seq,
            kind: event.kind(),
            client,
            session,
            msg_seq: match &event {
                Event::MessagePosted { seq, .. } => Some(*seq),
                _ => None,
            },
            body: serde_json::to_string(&event)?,
        })?;
        out.push(Stored { seq, at, event });
    }
    Ok(out)
}

/// A tenant's state as stored: the snapshot from its parts (in order, each with the seq the
/// snapshot was taken at; none: no snapshot yet), plus the events after it, which `after(seq)`
/// reads. Answers the state, the last event's seq and the snapshot's.
pub fn rebuild<'a, E: From<serde_json::Error>>(
    parts: impl IntoIterator<Item = (u64, &'a str)>,
    after: impl FnOnce(u64) -> Result<Vec<Stored>, E>,
) -> Result<(Lobby, u64, u64), E> {
    let mut snapshot_seq = None;
    let bodies: Vec<&str> = parts
        .into_iter()
        .map(|(seq, body)| {
            snapshot_seq.get_or_insert(seq);
            body
        })
        .collect();
    let snapshot_seq = snapshot_seq.unwrap_or(0);
    let mut lobby = snapshot::restore(bodies)?;
    let mut last = snapshot_seq;
    for s in after(snapshot_seq)? {
        lobby.apply(&s.event, s.at);
        last = s.seq;
    }
    Ok((lobby, last, snapshot_seq))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lobby::{Group, Tenant};

    fn group(id: &str) -> Event {
        Event::GroupCreated {
            group: Group {
                id: id.into(),
                name: id.into(),
            },
        }
    }

    #[test]
    fn the_two_layouts_differ_only_in_the_tenant_key() {
        let one = schema(Layout::OneTenant);
        let many = schema(Layout::ManyTenants);
        assert!(one.iter().all(|s| !s.contains("tenant")));
        assert!(
            many[0].contains("tenant TEXT NOT NULL")
                && many[0].contains("PRIMARY KEY (tenant, seq)")
        );
        assert!(many[1].contains("(tenant, session, msg_seq)"));
        for (stmt, name) in one.iter().zip(SCHEMA_NAMES) {
            assert!(stmt.contains(&format!("EXISTS {name} ")), "{stmt}");
        }
    }

    #[test]
    fn appended_events_rebuild_the_state_with_or_without_a_snapshot() {
        let mut rows = vec![];
        let stored = append::<serde_json::Error>(
            7,
            1000,
            vec![
                Event::TenantCreated {
                    tenant: Tenant {
                        slug: "acme".into(),
                        name: "Acme".into(),
                    },
                },
                group("g1"),
            ],
            |row| {
                rows.push((row.seq, row.kind, row.body));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(stored.iter().map(|s| s.seq).collect::<Vec<_>>(), vec![8, 9]);
        assert_eq!(rows[1].0, 9);
        assert_eq!(rows[1].1, group("g1").kind());
        let row = Row {
            seq: 3,
            kind: "message_posted",
            client: None,
            session: Some("s_1"),
            msg_seq: Some(2),
            body: "{}".into(),
        };
        let cells = row.cells(1000);
        assert_eq!(cells[1], Cell::Integer(1000));
        assert_eq!(
            (cells[3], cells[4], cells[5]),
            (Cell::Null, Cell::Text("s_1"), Cell::Integer(2))
        );
        for layout in [Layout::OneTenant, Layout::ManyTenants] {
            let params = insert_event(layout).matches('?').count();
            let tenant = usize::from(layout == Layout::ManyTenants);
            assert_eq!(params, cells.len() + tenant);
        }

        // No snapshot: every event from the start.
        let (lobby, last, snap) = rebuild::<serde_json::Error>(std::iter::empty(), |after| {
            assert_eq!(after, 0);
            Ok(stored.clone())
        })
        .unwrap();
        assert_eq!((last, snap), (9, 0));
        assert!(lobby.groups.contains_key("g1"));

        // A snapshot at 9 and one event after it.
        let parts = snapshot::parts(&lobby).unwrap();
        let after = vec![Stored {
            seq: 10,
            at: 2000,
            event: group("g2"),
        }];
        let (again, last, snap) =
            rebuild::<serde_json::Error>(parts.iter().map(|p| (9, p.as_str())), |from| {
                assert_eq!(from, 9);
                Ok(after)
            })
            .unwrap();
        assert_eq!((last, snap), (10, 9));
        assert!(again.groups.contains_key("g1") && again.groups.contains_key("g2"));
    }
}
