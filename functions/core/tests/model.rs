//! Model-based property test of one tenant's state machine.
//!
//! Random sequences of commands from several operators (chat limits 1..3, different groups,
//! some admins) and clients (every kind of entry, into groups or directed to operators;
//! accepts, many of them racing on one client; redirects; leaves; messages; closes; presence
//! changes) run against a [`Lobby`] and, side by side, against a small reference model that
//! says which commands must succeed and what they must do. After every step the invariants
//! are checked:
//!
//! - every command succeeds exactly when the model says so, with the events the model expects,
//!   and a refused command changes nothing;
//! - a client is in exactly one place: one queue, or active with exactly one operator;
//! - no operator is ever over a limit (`capacity::within_limits`), and only an online one
//!   takes a new client;
//! - each queue is ordered by how long its clients wait: since their entry (a redirect keeps
//!   it), ties in the order they joined the queue; positions are 1..n in that order, and the
//!   position an entry or a redirect announces is the one the client has;
//! - nothing disappears without an accepted Leave or Close;
//! - message numbers per session are 1..k with no gap;
//! - the events returned so far, replayed on a fresh Lobby, give the same state, and so does a
//!   JSON snapshot.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use lobby_core::capacity;
use lobby_core::lobby::{
    Author, Client, ClientState, Closer, Command, Details, Event, Group, Lobby, Millis, Operator,
    Redirected, Target, Tenant,
};
use lobby_core::ApiError;
use lobby_wire::{EntryKind, Page, Party, Presence, Role};
use proptest::prelude::*;
use support::{replayed, T0};

const GROUPS: [&str; 3] = ["g0", "g1", "g2"];

struct OpSpec {
    id: &'static str,
    groups: &'static [&'static str],
    limit: u32,
    admin: bool,
}

const OPS: [OpSpec; 6] = [
    OpSpec {
        id: "o0",
        groups: &["g0"],
        limit: 1,
        admin: false,
    },
    OpSpec {
        id: "o1",
        groups: &["g0", "g1"],
        limit: 2,
        admin: false,
    },
    OpSpec {
        id: "o2",
        groups: &["g1", "g2"],
        limit: 3,
        admin: false,
    },
    OpSpec {
        id: "o3",
        groups: &["g2"],
        limit: 2,
        admin: true,
    },
    OpSpec {
        id: "o4",
        groups: &[],
        limit: 3,
        admin: true,
    },
    OpSpec {
        id: "o5",
        groups: &["g0", "g2"],
        limit: 1,
        admin: false,
    },
];

const KINDS: [EntryKind; 9] = [
    EntryKind::Webchat,
    EntryKind::Video,
    EntryKind::Callback,
    EntryKind::Phone,
    EntryKind::Messenger,
    EntryKind::Whatsapp,
    EntryKind::Apple,
    EntryKind::Vk,
    EntryKind::Invitation,
];

const PRESENCES: [Presence; 3] = [Presence::Online, Presence::Away, Presence::Offline];

fn spec(id: &str) -> Option<&'static OpSpec> {
    OPS.iter().find(|o| o.id == id)
}

fn op_id(i: usize) -> String {
    OPS.get(i).map_or("ghost_op", |o| o.id).to_string()
}

fn all_targets() -> Vec<Target> {
    GROUPS
        .iter()
        .map(|g| Target::Group(g.to_string()))
        .chain(OPS.iter().map(|o| Target::Operator(o.id.to_string())))
        .collect()
}

fn fresh_lobby() -> (Lobby, Vec<(Event, Millis)>) {
    let mut lobby = Lobby::new();
    let mut journal = vec![];
    let mut cmds = vec![];
    let operator = |s: &OpSpec| Operator {
        id: s.id.into(),
        email: format!("{}@model.test", s.id),
        name: s.id.to_uppercase(),
        role: if s.admin { Role::Admin } else { Role::Operator },
        groups: s.groups.iter().map(|g| g.to_string()).collect(),
        chat_limit: s.limit,
        password_hash: "unused".into(),
        // The shift has begun; presence steps send some away or offline.
        presence: Presence::Online,
    };
    cmds.push(Command::CreateTenant {
        tenant: Tenant {
            slug: "model".into(),
            name: "Model".into(),
        },
        admin: operator(&OPS[4]),
    });
    for g in GROUPS {
        cmds.push(Command::CreateGroup(Group {
            id: g.into(),
            name: g.to_uppercase(),
        }));
    }
    for s in OPS.iter().filter(|s| s.id != "o4") {
        cmds.push(Command::CreateOperator(operator(s)));
    }
    for c in cmds {
        for e in lobby.handle(&c, T0).expect("setup") {
            journal.push((e, T0));
        }
    }
    (lobby, journal)
}

// ---------------------------------------------------------------- steps

#[derive(Debug, Clone)]
enum TargetSel {
    /// 0..3 a group, 3 an unknown one.
    Group(usize),
    /// 0..6 an operator, 6 an unknown one.
    Operator(usize),
}

/// Which operator issues a command.
#[derive(Debug, Clone)]
enum OpSel {
    /// One who could do it (serves the client's queue, or serves the client), if any.
    Fitting(usize),
    /// Anyone, or (6) an unknown operator.
    Any(usize),
}

#[derive(Debug, Clone)]
enum Who {
    Client,
    System,
    /// The operator serving the session (or o0 if nobody does).
    Serving,
    Op(usize),
}

#[derive(Debug, Clone)]
enum Ids {
    Fresh,
    /// An id some client had before (taken if it is still here, free again if it left).
    ReuseClient(usize),
    /// A fresh client with a session id that exists.
    ReuseSession(usize),
}

#[derive(Debug, Clone)]
enum Step {
    Enter {
        kind: usize,
        target: TargetSel,
        ids: Ids,
    },
    Accept {
        op: OpSel,
        client: usize,
    },
    /// Several operators accept one waiting client, one after another.
    Race {
        client: usize,
        ops: Vec<OpSel>,
    },
    Redirect {
        op: OpSel,
        client: usize,
        to: TargetSel,
    },
    Leave {
        client: usize,
    },
    Post {
        session: usize,
        who: Who,
        empty: bool,
    },
    Close {
        session: usize,
        who: Who,
    },
    Presence {
        op: usize,
        presence: usize,
    },
    Visit {
        client: usize,
    },
}

fn target_sel() -> impl Strategy<Value = TargetSel> {
    prop_oneof![
        5 => (0..4usize).prop_map(TargetSel::Group),
        2 => (0..7usize).prop_map(TargetSel::Operator),
    ]
}

fn op_sel() -> impl Strategy<Value = OpSel> {
    prop_oneof![
        4 => any::<usize>().prop_map(OpSel::Fitting),
        1 => (0..7usize).prop_map(OpSel::Any),
    ]
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        3 => Just(Who::Client),
        1 => Just(Who::System),
        4 => Just(Who::Serving),
        1 => (0..7usize).prop_map(Who::Op),
    ]
}

fn ids() -> impl Strategy<Value = Ids> {
    prop_oneof![
        12 => Just(Ids::Fresh),
        1 => any::<usize>().prop_map(Ids::ReuseClient),
        1 => any::<usize>().prop_map(Ids::ReuseSession),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..KINDS.len(), target_sel(), ids())
            .prop_map(|(kind, target, ids)| Step::Enter { kind, target, ids }),
        6 => (op_sel(), any::<usize>()).prop_map(|(op, client)| Step::Accept { op, client }),
        3 => (any::<usize>(), prop::collection::vec(op_sel(), 2..6))
            .prop_map(|(client, ops)| Step::Race { client, ops }),
        3 => (op_sel(), any::<usize>(), target_sel())
            .prop_map(|(op, client, to)| Step::Redirect { op, client, to }),
        2 => any::<usize>().prop_map(|client| Step::Leave { client }),
        4 => (any::<usize>(), who(), prop::bool::weighted(0.1))
            .prop_map(|(session, who, empty)| Step::Post { session, who, empty }),
        2 => (any::<usize>(), who()).prop_map(|(session, who)| Step::Close { session, who }),
        // Mostly back online: an operator who is away or offline takes no client, and the
        // capacity rules need operators who do.
        2 => (0..7usize, prop_oneof![3 => Just(0usize), 1 => Just(1), 1 => Just(2)])
            .prop_map(|(op, presence)| Step::Presence { op, presence }),
        1 => any::<usize>().prop_map(|client| Step::Visit { client }),
    ]
}

// ---------------------------------------------------------------- the reference model

#[derive(Debug, Clone, PartialEq)]
enum Place {
    /// Waiting in a queue; the number is the model's own counter of joining a queue.
    Waiting(Target, u64),
    Active(String),
}

#[derive(Debug, Clone)]
struct MClient {
    session: String,
    kind: EntryKind,
    place: Place,
    /// When it entered: it waits since then, through every redirect.
    entered: Millis,
}

#[derive(Debug, Clone)]
struct MSession {
    client: String,
    closed: bool,
    messages: u64,
}

/// What the model expects of a command: success with these event kinds, or a refusal for
/// one of these reasons (error codes).
#[derive(Debug)]
enum Expect {
    Ok(Vec<&'static str>),
    Refused(BTreeSet<&'static str>),
}

#[derive(Default)]
struct Model {
    clients: BTreeMap<String, MClient>,
    sessions: BTreeMap<String, MSession>,
    arrivals: u64,
    /// Every client id and session id ever used, to pick departed ones too.
    client_ids: Vec<String>,
    session_ids: Vec<String>,
    next_id: u64,
    /// Operators whose presence is not `online` (everyone starts online).
    not_online: BTreeSet<String>,
}

fn target_exists(t: &Target) -> bool {
    match t {
        Target::Group(g) => GROUPS.contains(&g.as_str()),
        Target::Operator(o) => spec(o).is_some(),
    }
}

fn serves(op: &OpSpec, t: &Target) -> bool {
    match t {
        Target::Group(g) => op.groups.contains(&g.as_str()),
        Target::Operator(o) => o == op.id,
    }
}

/// The capacity rule, written again independently of `capacity::check`.
fn may_take(active: &[EntryKind], limit: u32, new: EntryKind) -> bool {
    let call = |k: &EntryKind| matches!(k, EntryKind::Video | EntryKind::Phone);
    if active.iter().any(call) {
        false
    } else if call(&new) {
        active.is_empty()
    } else {
        (active.len() as u32) < limit
    }
}

impl Model {
    fn fresh(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{}", self.next_id)
    }

    fn active_kinds(&self, op: &str) -> Vec<EntryKind> {
        self.clients
            .values()
            .filter(|c| c.place == Place::Active(op.to_string()))
            .map(|c| c.kind)
            .collect()
    }

    fn serving(&self, client: &str) -> Option<String> {
        match &self.clients.get(client)?.place {
            Place::Active(o) => Some(o.clone()),
            Place::Waiting(..) => None,
        }
    }

    /// Mostly a client who is here; sometimes one who left, or one who never was.
    fn pick_client(&self, i: usize) -> String {
        let live: Vec<&String> = self.clients.keys().collect();
        if i % 8 == 7 || live.is_empty() {
            let j = (i / 8) % (self.client_ids.len() + 1);
            self.client_ids
                .get(j)
                .cloned()
                .unwrap_or_else(|| "ghost_client".into())
        } else {
            live[i % live.len()].clone()
        }
    }

    fn pick_waiting(&self, i: usize) -> String {
        let waiting: Vec<&String> = self
            .clients
            .iter()
            .filter(|(_, c)| matches!(c.place, Place::Waiting(..)))
            .map(|(id, _)| id)
            .collect();
        if waiting.is_empty() {
            self.pick_client(i)
        } else {
            waiting[i % waiting.len()].clone()
        }
    }

    fn pick_session(&self, i: usize) -> String {
        let live: Vec<&String> = self.clients.values().map(|c| &c.session).collect();
        if i % 8 == 7 || live.is_empty() {
            let j = (i / 8) % (self.session_ids.len() + 1);
            self.session_ids
                .get(j)
                .cloned()
                .unwrap_or_else(|| "ghost_session".into())
        } else {
            live[i % live.len()].clone()
        }
    }

    fn pick_op(&self, sel: &OpSel, client: &str) -> String {
        match sel {
            OpSel::Any(i) => op_id(*i),
            OpSel::Fitting(i) => {
                let fitting: Vec<&str> = match self.clients.get(client).map(|c| &c.place) {
                    Some(Place::Waiting(t, _)) => {
                        OPS.iter().filter(|o| serves(o, t)).map(|o| o.id).collect()
                    }
                    Some(Place::Active(o)) => vec![o.as_str()],
                    None => vec![],
                };
                if fitting.is_empty() {
                    op_id(i % OPS.len())
                } else {
                    fitting[i % fitting.len()].to_string()
                }
            }
        }
    }

    fn target(&self, sel: &TargetSel) -> Target {
        match sel {
            TargetSel::Group(i) => {
                Target::Group(GROUPS.get(*i).map_or("ghost_group", |g| g).to_string())
            }
            TargetSel::Operator(i) => Target::Operator(op_id(*i)),
        }
    }

    fn who(&self, who: &Who, session: &str) -> Author {
        match who {
            Who::Client => Author::Client,
            Who::System => Author::System,
            Who::Serving => Author::Operator(
                self.sessions
                    .get(session)
                    .and_then(|s| self.serving(&s.client))
                    .unwrap_or_else(|| "o0".into()),
            ),
            Who::Op(i) => Author::Operator(op_id(*i)),
        }
    }

    /// The live client of a session, or why there is none.
    fn live_session(&self, session: &str) -> Result<&String, &'static str> {
        match self.sessions.get(session) {
            None => Err("not_found"),
            Some(s) if s.closed => Err("conflict"),
            Some(s) => Ok(&s.client),
        }
    }

    fn expect(&self, cmd: &Command) -> Expect {
        let mut why: BTreeSet<&'static str> = BTreeSet::new();
        let ok = match cmd {
            Command::SetPresence { operator, .. } => {
                if spec(operator).is_none() {
                    why.insert("not_found");
                }
                // No event if the presence does not change; checked by the caller.
                vec!["presence_changed"]
            }
            Command::Enter {
                client,
                session,
                target,
                ..
            } => {
                if self.clients.contains_key(client) || self.sessions.contains_key(session) {
                    why.insert("conflict");
                }
                if !target_exists(target) {
                    why.insert("not_found");
                }
                vec!["client_entered"]
            }
            Command::Accept { operator, client } => {
                match (spec(operator), self.clients.get(client)) {
                    (Some(op), Some(c)) => match &c.place {
                        Place::Active(_) => {
                            why.insert("already_accepted");
                        }
                        Place::Waiting(t, _) => {
                            if !serves(op, t) {
                                why.insert("forbidden");
                            } else if self.not_online.contains(op.id) {
                                why.insert("not_online");
                            } else if !may_take(&self.active_kinds(op.id), op.limit, c.kind) {
                                why.insert("capacity");
                            }
                        }
                    },
                    _ => {
                        why.insert("not_found");
                    }
                }
                vec!["client_accepted"]
            }
            Command::Redirect {
                operator,
                client,
                to,
                ..
            } => {
                match (spec(operator), self.clients.get(client)) {
                    (Some(op), Some(c)) if target_exists(to) => match &c.place {
                        Place::Waiting(t, _) => {
                            if !serves(op, t) && !op.admin {
                                why.insert("forbidden");
                            } else if t == to {
                                why.insert("conflict");
                            }
                        }
                        Place::Active(o) => {
                            if o != operator && !op.admin {
                                why.insert("forbidden");
                            }
                        }
                    },
                    _ => {
                        why.insert("not_found");
                    }
                }
                vec!["client_redirected"]
            }
            Command::Leave { client } => match self.clients.get(client) {
                None => {
                    why.insert("not_found");
                    vec![]
                }
                Some(c) => match c.place {
                    Place::Waiting(..) => vec!["client_left"],
                    Place::Active(_) => vec!["session_closed"],
                },
            },
            Command::PostMessage {
                session,
                author,
                text,
                attachments,
                key: None,
            } => {
                match self.live_session(session) {
                    Err(e) => {
                        why.insert(e);
                    }
                    Ok(client) => {
                        if let Author::Operator(o) = author {
                            if self.serving(client).as_ref() != Some(o) {
                                why.insert("forbidden");
                            }
                        }
                        if text.trim().is_empty() && attachments.is_empty() {
                            why.insert("invalid_body");
                        }
                    }
                }
                vec!["message_posted"]
            }
            Command::Close { session, by } => {
                match self.live_session(session) {
                    Err(e) => {
                        why.insert(e);
                    }
                    Ok(client) => {
                        if let Closer::Operator(o) = by {
                            if self.serving(client).as_ref() != Some(o) {
                                why.insert("forbidden");
                            }
                        }
                    }
                }
                vec!["session_closed"]
            }
            Command::VisitPage { client, .. } => {
                if !self.clients.contains_key(client) {
                    why.insert("not_found");
                }
                vec!["page_visited"]
            }
            other => panic!("the model does not generate {other:?}"),
        };
        if why.is_empty() {
            Expect::Ok(ok)
        } else {
            Expect::Refused(why)
        }
    }

    /// Applies a command the Lobby accepted at `now`.
    fn apply(&mut self, cmd: &Command, now: Millis) {
        match cmd {
            Command::Enter {
                client,
                session,
                entry,
                target,
                ..
            } => {
                self.arrivals += 1;
                self.clients.insert(
                    client.clone(),
                    MClient {
                        session: session.clone(),
                        kind: *entry,
                        place: Place::Waiting(target.clone(), self.arrivals),
                        entered: now,
                    },
                );
                self.sessions.insert(
                    session.clone(),
                    MSession {
                        client: client.clone(),
                        closed: false,
                        messages: 0,
                    },
                );
                if !self.client_ids.contains(client) {
                    self.client_ids.push(client.clone());
                }
                self.session_ids.push(session.clone());
            }
            Command::Accept { operator, client } => {
                self.clients.get_mut(client).unwrap().place = Place::Active(operator.clone());
            }
            Command::Redirect { client, to, .. } => {
                self.arrivals += 1;
                self.clients.get_mut(client).unwrap().place =
                    Place::Waiting(to.clone(), self.arrivals);
            }
            Command::Leave { client } => {
                let c = self.clients.remove(client).unwrap();
                self.sessions.get_mut(&c.session).unwrap().closed = true;
            }
            Command::Close { session, .. } => {
                let s = self.sessions.get_mut(session).unwrap();
                s.closed = true;
                let client = s.client.clone();
                self.clients.remove(&client);
            }
            Command::PostMessage { session, .. } => {
                self.sessions.get_mut(session).unwrap().messages += 1;
            }
            Command::SetPresence { operator, presence } => {
                if *presence == Presence::Online {
                    self.not_online.remove(operator);
                } else {
                    self.not_online.insert(operator.clone());
                }
            }
            Command::VisitPage { .. } => {}
            other => panic!("the model does not generate {other:?}"),
        }
    }

    /// The commands of one step, resolved against the current state. A race gives several.
    fn commands(&mut self, step: &Step) -> Vec<Command> {
        match step {
            Step::Enter { kind, target, ids } => {
                let (client, session) = match ids {
                    Ids::Fresh => (self.fresh("c"), self.fresh("s")),
                    Ids::ReuseClient(i) => (self.pick_client(*i), self.fresh("s")),
                    Ids::ReuseSession(i) => (self.fresh("c"), self.pick_session(*i)),
                };
                let kind = KINDS[*kind];
                vec![Command::Enter {
                    client: client.clone(),
                    session,
                    entry: kind,
                    details: Details {
                        language: Some("en".into()),
                        name: Some(format!("Client {client}")),
                        phone: (kind == EntryKind::Callback).then(|| "+420123456789".into()),
                        page: Some(Page {
                            url: format!("https://shop.example/{client}"),
                            title: None,
                            referrer: None,
                        }),
                        params: serde_json::json!({ "ivr": 2, "lang": "en" })
                            .as_object()
                            .unwrap()
                            .clone(),
                        ..Default::default()
                    },
                    target: self.target(target),
                }]
            }
            Step::Accept { op, client } => {
                let client = self.pick_client(*client);
                vec![Command::Accept {
                    operator: self.pick_op(op, &client),
                    client,
                }]
            }
            Step::Race { client, ops } => {
                let client = self.pick_waiting(*client);
                // All resolved before any of them runs, as concurrent requests would be.
                ops.iter()
                    .map(|op| Command::Accept {
                        operator: self.pick_op(op, &client),
                        client: client.clone(),
                    })
                    .collect()
            }
            Step::Redirect { op, client, to } => {
                let client = self.pick_client(*client);
                vec![Command::Redirect {
                    operator: self.pick_op(op, &client),
                    client,
                    to: self.target(to),
                    note: Some("over to you".into()),
                }]
            }
            Step::Leave { client } => vec![Command::Leave {
                client: self.pick_client(*client),
            }],
            Step::Post {
                session,
                who,
                empty,
            } => {
                let session = self.pick_session(*session);
                vec![Command::PostMessage {
                    author: self.who(who, &session),
                    session,
                    text: if *empty { " ".into() } else { "hello".into() },
                    attachments: vec![],
                    key: None,
                }]
            }
            Step::Close { session, who } => {
                let session = self.pick_session(*session);
                let by = match self.who(who, &session) {
                    Author::Operator(o) => Closer::Operator(o),
                    _ => Closer::Client,
                };
                vec![Command::Close { session, by }]
            }
            Step::Presence { op, presence } => vec![Command::SetPresence {
                operator: op_id(*op),
                presence: PRESENCES[*presence],
            }],
            Step::Visit { client } => vec![Command::VisitPage {
                client: self.pick_client(*client),
                url: "https://shop.example/next".into(),
                title: Some("Next".into()),
            }],
        }
    }
}

// ---------------------------------------------------------------- the run

struct Run {
    lobby: Lobby,
    journal: Vec<(Event, Millis)>,
    model: Model,
    /// The seq of every message event, per session.
    seqs: BTreeMap<String, Vec<u64>>,
    now: Millis,
    stats: Stats,
}

impl Run {
    fn new() -> Self {
        let (lobby, journal) = fresh_lobby();
        Run {
            lobby,
            journal,
            model: Model::default(),
            seqs: BTreeMap::new(),
            now: T0,
            stats: Stats::default(),
        }
    }

    fn command(&mut self, cmd: &Command) -> Result<(), ApiError> {
        // Where the client of a leave or redirect was, for the statistics.
        let was = match cmd {
            Command::Leave { client } | Command::Redirect { client, .. } => {
                match self.model.clients.get(client).map(|c| &c.place) {
                    Some(Place::Waiting(..)) if matches!(cmd, Command::Leave { .. }) => ":waiting",
                    Some(Place::Waiting(..)) => ":queue",
                    Some(Place::Active(_)) => ":active",
                    None => "",
                }
            }
            _ => "",
        };
        let result = self.command_checked(cmd);
        let mut key = outcome_key(&self.lobby, cmd, &result);
        if result.is_ok() {
            key.push_str(was);
        }
        self.stats.add(key);
        result
    }

    fn command_checked(&mut self, cmd: &Command) -> Result<(), ApiError> {
        let expected = self.model.expect(cmd);
        let before = self.lobby.clone();
        let result = self.lobby.handle(cmd, self.now);
        match (&expected, result) {
            (Expect::Ok(kinds), Ok(events)) => {
                let got: Vec<&str> = events.iter().map(Event::kind).collect();
                let no_change = matches!(cmd, Command::SetPresence { .. }) && got.is_empty();
                assert!(
                    got == *kinds || no_change,
                    "{cmd:?} gave events {got:?}, the model expected {kinds:?}"
                );
                self.check_events(cmd, &events);
                for e in events {
                    if let Event::MessagePosted { session, seq, .. } = &e {
                        self.seqs.entry(session.clone()).or_default().push(*seq);
                    }
                    self.journal.push((e, self.now));
                }
                self.model.apply(cmd, self.now);
                Ok(())
            }
            (Expect::Refused(why), Err(e)) => {
                assert!(
                    why.contains(e.code()),
                    "{cmd:?} was refused with {e:?}; the model expected one of {why:?}"
                );
                assert!(
                    self.lobby == before,
                    "refused {cmd:?} ({e:?}) changed the state"
                );
                Err(e)
            }
            (Expect::Ok(_), Err(e)) => {
                panic!("{cmd:?} was refused ({e:?}) but the model expected it to succeed")
            }
            (Expect::Refused(why), Ok(events)) => panic!(
                "{cmd:?} succeeded with {events:?} but the model expected a refusal: {why:?}"
            ),
        }
    }

    /// The content of the events, beyond their kinds.
    fn check_events(&self, cmd: &Command, events: &[Event]) {
        match (cmd, events) {
            (
                Command::Enter { client, .. },
                [Event::ClientEntered {
                    client: c,
                    position,
                    ..
                }],
            ) => {
                assert_eq!(c, client);
                let now = self.lobby.position(&self.lobby.clients[client]);
                assert_eq!(Some(*position), now, "the position an entry announces");
            }
            (
                Command::Accept { operator, client },
                [Event::ClientAccepted {
                    client: c,
                    operator: o,
                    from,
                    ..
                }],
            ) => {
                assert_eq!((c, o), (client, operator));
                assert!(
                    matches!(&self.model.clients[client].place, Place::Waiting(t, _) if t == from)
                );
            }
            (
                Command::Redirect {
                    client,
                    to,
                    operator,
                    ..
                },
                [Event::ClientRedirected {
                    client: c,
                    from,
                    to: t,
                    by,
                    waiting_since,
                    position,
                    ..
                }],
            ) => {
                assert_eq!((c, t, by), (client, to, operator));
                assert_eq!(*waiting_since, Some(self.model.clients[client].entered));
                let now = self.lobby.position(&self.lobby.clients[client]);
                assert_eq!(Some(*position), now, "the position a redirect announces");
                match (&self.model.clients[client].place, from) {
                    (Place::Waiting(q, _), Redirected::Queue(f)) => assert_eq!(q, f),
                    (Place::Active(o), Redirected::Operator(f)) => assert_eq!(o, f),
                    (p, f) => panic!("redirected from {f:?} but the client was {p:?}"),
                }
            }
            (
                Command::PostMessage {
                    session, author, ..
                },
                [Event::MessagePosted {
                    session: s,
                    seq,
                    from,
                    operator,
                    ..
                }],
            ) => {
                assert_eq!(s, session);
                assert_eq!(*seq, self.model.sessions[session].messages + 1);
                let client = &self.model.sessions[session].client;
                assert_eq!(*operator, self.model.serving(client));
                let party = match author {
                    Author::Client => Party::Client,
                    Author::System => Party::System,
                    Author::Operator(_) => Party::Operator,
                };
                assert_eq!(*from, party);
            }
            (
                Command::Close { session, by },
                [Event::SessionClosed {
                    session: s,
                    by: b,
                    operator,
                    waiting_in,
                    ..
                }],
            ) => {
                assert_eq!(s, session);
                let client = &self.model.sessions[session].client;
                let place = &self.model.clients[client].place;
                match place {
                    Place::Waiting(t, _) => {
                        assert_eq!((operator, waiting_in.as_ref()), (&None, Some(t)))
                    }
                    Place::Active(o) => {
                        assert_eq!((operator.as_ref(), waiting_in), (Some(o), &None))
                    }
                }
                let party = match by {
                    Closer::Client => Party::Client,
                    Closer::Operator(_) => Party::Operator,
                };
                assert_eq!(*b, party);
            }
            _ => {}
        }
    }

    fn step(&mut self, step: &Step, dt: Millis) {
        self.now += dt;
        let cmds = self.model.commands(step);
        let race = matches!(step, Step::Race { .. });
        let mut winners = 0;
        for cmd in &cmds {
            if self.command(cmd).is_ok() && race {
                winners += 1;
            }
        }
        assert!(
            winners <= 1,
            "{winners} operators won the race for one client"
        );
        if race && winners == 1 && cmds.len() > 1 {
            self.stats.add("race:won".into());
        }
        self.check();
    }

    /// Every invariant, after every step.
    fn check(&self) {
        let l = &self.lobby;
        let m = &self.model;

        // Nothing appears or disappears without a command that does it.
        assert_eq!(
            l.clients.keys().collect::<Vec<_>>(),
            m.clients.keys().collect::<Vec<_>>(),
            "the clients present differ from the model's"
        );
        assert_eq!(
            l.sessions.keys().collect::<BTreeSet<_>>(),
            m.sessions.keys().collect::<BTreeSet<_>>(),
        );

        // Every client is in exactly one place.
        let mut places: BTreeMap<&str, usize> = BTreeMap::new();
        for t in all_targets() {
            let queue: Vec<&Client> = l.queue(&t).collect();
            let mut last = None;
            for (i, c) in queue.iter().enumerate() {
                *places.entry(&c.id).or_default() += 1;
                let ClientState::Waiting {
                    target,
                    since,
                    order,
                } = &c.state
                else {
                    panic!("active client {} is in queue {t:?}", c.id);
                };
                assert_eq!(*target, t, "client {} is filed under another queue", c.id);
                assert_eq!(*since, m.clients[&c.id].entered, "{} waits since", c.id);
                assert!(last < Some((*since, *order)), "queue {t:?} is out of order");
                last = Some((*since, *order));
                assert_eq!(l.position(c), Some(i as u32 + 1), "position in {t:?}");
            }
            // Longest waiting first (since entry), then in the order they joined this queue.
            let mut expected: Vec<(Millis, u64, &String)> = m
                .clients
                .iter()
                .filter_map(|(id, c)| match &c.place {
                    Place::Waiting(q, n) if *q == t => Some((c.entered, *n, id)),
                    _ => None,
                })
                .collect();
            expected.sort();
            let expected: Vec<&String> = expected.into_iter().map(|(_, _, id)| id).collect();
            let got: Vec<&String> = queue.iter().map(|c| &c.id).collect();
            assert_eq!(got, expected, "queue {t:?} differs from the model's");
        }
        for op in &OPS {
            let active: Vec<&Client> = l.active_clients(op.id).collect();
            assert_eq!(l.load(op.id) as usize, active.len());
            for c in &active {
                *places.entry(&c.id).or_default() += 1;
                assert!(
                    matches!(&c.state, ClientState::Active { operator, .. } if operator == op.id),
                    "client {} is listed as {}'s but is {:?}",
                    c.id,
                    op.id,
                    c.state
                );
                assert_eq!(
                    l.sessions[&c.session].operators.last().map(String::as_str),
                    Some(op.id)
                );
            }
            let kinds: Vec<EntryKind> = active.iter().map(|c| c.entry).collect();
            assert!(
                capacity::within_limits(&kinds, op.limit),
                "{} (limit {}) serves {kinds:?}",
                op.id,
                op.limit
            );
        }
        for id in l.clients.keys() {
            assert_eq!(
                places.get(id.as_str()),
                Some(&1),
                "client {id} is not in one place"
            );
        }
        assert_eq!(
            places.len(),
            l.clients.len(),
            "a departed client is still listed"
        );

        // Each client is where the model says.
        for (id, c) in &l.clients {
            let mc = &m.clients[id];
            assert_eq!((&c.session, c.entry), (&mc.session, mc.kind));
            match (&c.state, &mc.place) {
                (ClientState::Waiting { target, .. }, Place::Waiting(t, _)) => {
                    assert_eq!(target, t)
                }
                (ClientState::Active { operator, .. }, Place::Active(o)) => assert_eq!(operator, o),
                (a, b) => panic!("client {id} is {a:?}, the model says {b:?}"),
            }
        }

        // Sessions and their messages.
        for (id, s) in &l.sessions {
            let ms = &m.sessions[id];
            assert_eq!(s.client, ms.client);
            assert_eq!(s.closed_at.is_some(), ms.closed, "session {id} open/closed");
            assert_eq!(s.next_seq, ms.messages + 1, "session {id} next seq");
            let seqs = self.seqs.get(id).cloned().unwrap_or_default();
            assert_eq!(
                seqs,
                (1..=ms.messages).collect::<Vec<_>>(),
                "session {id} seqs"
            );
        }

        // What each operator's waiting column shows.
        for op in &OPS {
            let got: Vec<(String, u32)> = l
                .queue_for(&l.operators[op.id])
                .into_iter()
                .map(|(c, p)| (c.id.clone(), p))
                .collect();
            let mut expected: Vec<(Millis, u64, String, u32)> = l
                .clients
                .values()
                .filter_map(|c| match &c.state {
                    ClientState::Waiting {
                        target,
                        since,
                        order,
                    } if serves(op, target) => {
                        Some((*since, *order, c.id.clone(), l.position(c).unwrap()))
                    }
                    _ => None,
                })
                .collect();
            expected.sort();
            let expected: Vec<(String, u32)> =
                expected.into_iter().map(|(_, _, id, p)| (id, p)).collect();
            assert_eq!(got, expected, "{}'s queue", op.id);
        }

        // Event sourcing: the journal replayed from nothing gives this state.
        assert!(
            replayed(&self.journal) == *l,
            "replaying the journal gives another state"
        );
        let mut reindexed = l.clone();
        reindexed.reindex();
        assert!(reindexed == *l, "the live indexes differ from rebuilt ones");
    }

    fn check_snapshot(&self) {
        // As the journals store it, and cut in many small parts.
        let parts = lobby_core::snapshot::parts(&self.lobby).unwrap();
        let restored = lobby_core::snapshot::restore(parts.iter().map(String::as_str)).unwrap();
        assert!(
            restored == self.lobby,
            "a JSON snapshot gives another state"
        );
        let json = parts.concat();
        let small = lobby_core::snapshot::split(&json, 97);
        let restored = lobby_core::snapshot::restore(small).unwrap();
        assert!(
            restored == self.lobby,
            "a snapshot in small parts gives another state"
        );
    }
}

/// How often each kind of command met each outcome, over all cases: the test also checks
/// that every rule was exercised, so that a change of the generators cannot make it vacuous.
#[derive(Default)]
struct Stats(BTreeMap<String, u64>);

impl Stats {
    fn add(&mut self, key: String) {
        *self.0.entry(key).or_default() += 1;
    }
}

fn outcome_key(lobby: &Lobby, cmd: &Command, result: &Result<(), ApiError>) -> String {
    let name = match cmd {
        Command::Enter { .. } => "enter",
        Command::Accept { .. } => "accept",
        Command::Redirect { .. } => "redirect",
        Command::Leave { .. } => "leave",
        Command::PostMessage { .. } => "post",
        Command::Close { .. } => "close",
        Command::SetPresence { .. } => "presence",
        Command::VisitPage { .. } => "visit",
        _ => "other",
    };
    match result {
        Ok(()) => {
            let detail = match cmd {
                Command::Accept { client, .. } => format!(":{:?}", lobby.clients[client].entry),
                _ => String::new(),
            };
            format!("{name}:ok{detail}")
        }
        Err(ApiError::Capacity(m)) => format!("{name}:capacity:{m}"),
        Err(e) => format!("{name}:{}", e.code()),
    }
}

fn steps() -> impl Strategy<Value = Vec<(Step, i64)>> {
    prop::collection::vec((step(), 0..3i64), 1..200)
}

#[test]
fn the_lobby_keeps_its_invariants() {
    let stats = std::sync::Mutex::new(Stats::default());
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 256,
        // Run by hand (to gather statistics), so there is no source file to persist to;
        // a failure prints its minimal input instead.
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = runner.run(&steps(), |steps| {
        let mut run = Run::new();
        run.check();
        for (i, (step, dt)) in steps.iter().enumerate() {
            run.step(step, dt * 1000);
            if i % 16 == 15 {
                run.check_snapshot();
            }
        }
        run.check_snapshot();
        let mut s = stats.lock().unwrap_or_else(|e| e.into_inner());
        for (k, n) in run.stats.0 {
            *s.0.entry(k).or_default() += n;
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let stats = stats.into_inner().unwrap_or_else(|e| e.into_inner()).0;
    let seen = |prefix: &str| stats.iter().any(|(k, n)| k.starts_with(prefix) && *n > 0);
    let capacity = |r: capacity::Refusal| format!("accept:capacity:{}", r.message());
    let mut missing = vec![];
    for key in [
        "enter:ok".to_string(),
        "enter:conflict".into(),
        "enter:not_found".into(),
        "accept:ok:Webchat".into(),
        "accept:ok:Video".into(),
        "accept:ok:Phone".into(),
        "accept:ok:Callback".into(),
        "accept:ok:Messenger".into(),
        "accept:already_accepted".into(),
        "accept:forbidden".into(),
        "accept:not_found".into(),
        "accept:not_online".into(),
        capacity(capacity::Refusal::InCall),
        capacity(capacity::Refusal::CallNeedsFreeOperator),
        capacity(capacity::Refusal::ChatLimit { limit: 1 }),
        capacity(capacity::Refusal::ChatLimit { limit: 2 }),
        capacity(capacity::Refusal::ChatLimit { limit: 3 }),
        "race:won".into(),
        "redirect:ok:queue".into(),
        "redirect:ok:active".into(),
        "redirect:forbidden".into(),
        "redirect:conflict".into(),
        "redirect:not_found".into(),
        "leave:ok:waiting".into(),
        "leave:ok:active".into(),
        "leave:not_found".into(),
        "post:ok".into(),
        "post:forbidden".into(),
        "post:invalid_body".into(),
        "post:conflict".into(),
        "post:not_found".into(),
        "close:ok".into(),
        "close:forbidden".into(),
        "close:conflict".into(),
        "presence:ok".into(),
        "presence:not_found".into(),
        "visit:ok".into(),
    ] {
        if !seen(&key) {
            missing.push(key);
        }
    }
    assert!(
        missing.is_empty(),
        "the generated commands never exercised {missing:#?}; outcomes: {stats:#?}"
    );
    if std::env::var_os("LOBBY_MODEL_STATS").is_some() {
        eprintln!("{stats:#?}");
    }
}

/// A hand-written burst: ten operators' worth of accepts on every waiting client, until the
/// queue is empty or nobody can take anyone.
#[test]
fn accept_storms_keep_every_limit() {
    let mut run = Run::new();
    for (i, kind) in KINDS.iter().cycle().take(30).enumerate() {
        let target = TargetSel::Group(i % 3);
        run.step(
            &Step::Enter {
                kind: KINDS.iter().position(|k| k == kind).unwrap(),
                target,
                ids: Ids::Fresh,
            },
            1000,
        );
    }
    for round in 0..20 {
        for c in 0..30 {
            run.step(
                &Step::Race {
                    client: c,
                    ops: (0..7).map(|o| OpSel::Any((o + round) % 7)).collect(),
                },
                0,
            );
        }
        if round % 5 == 4 {
            // Some sessions end, making room.
            for s in 0..5 {
                run.step(
                    &Step::Close {
                        session: s,
                        who: Who::Serving,
                    },
                    1000,
                );
            }
        }
    }
    run.check_snapshot();
}
