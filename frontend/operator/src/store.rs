//! What the app knows, as signals: the signed-in operator, the waiting queue, the open Client
//! tabs, what is shown (preview, redirect dialog, the refusal message) and the connection. The
//! operator WebSocket's frames change it through [`Store::apply`], which is idempotent (a frame
//! seen twice, or already contained in a fresh snapshot, changes nothing more), so resuming and
//! re-fetching after a reconnect can never duplicate a client, a tab or a message.

use leptos::prelude::*;
use leptos::task::spawn_local;
use lobby_wire::{
    ClientInfo, Message, OperatorEvent, OperatorInfo, OperatorRef, Party, Preview, QueueItem,
    RemovedReason, Role,
};

use crate::api::{self, Failure};
use crate::i18n::{t, Text};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    Connected,
    Reconnecting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Queue,
    Admin,
}

/// One Client tab: a session this operator serves. Its parts are signals of their own so that
/// a message re-renders the conversation, not the whole tab.
#[derive(Clone)]
pub struct Tab {
    pub session: String,
    pub client: String,
    /// The client's queue row when the tab opened: name and entry to show until `detail` loads.
    pub seed: Option<QueueItem>,
    /// Client information, tags, notes, history: the preview of the client, loaded on opening.
    pub detail: RwSignal<Option<Preview>>,
    /// Tags and notes saved from this tab so far: a details load under way meanwhile answers
    /// what the server had before, and is read again rather than shown.
    pub edits: RwSignal<u32>,
    pub messages: RwSignal<Vec<Message>>,
    /// Set when the session ended without this operator closing it (the client left, an admin).
    pub ended: RwSignal<Option<Party>>,
    pub draft: RwSignal<String>,
    pub unread: RwSignal<u32>,
    /// When the client was last seen typing (ms), for the "typing…" hint.
    pub typing: RwSignal<f64>,
    /// When this tab opened (ms): a snapshot asked for before that cannot know its session.
    pub opened_at: f64,
}

/// Whom the redirect dialog moves: a waiting client (from the preview) or the client of an
/// active session (from its tab).
#[derive(Debug, Clone, PartialEq)]
pub struct RedirectOf {
    pub client: String,
    pub session: Option<String>,
}

#[derive(Clone, Copy)]
pub struct Store {
    pub operator: RwSignal<Option<OperatorRef>>,
    pub me: RwSignal<Option<OperatorInfo>>,
    pub queue: RwSignal<Vec<QueueItem>>,
    pub tabs: RwSignal<Vec<Tab>>,
    pub active: RwSignal<Option<String>>,
    pub preview: RwSignal<Option<String>>,
    pub redirect: RwSignal<Option<RedirectOf>>,
    /// The refused action explained in words (`error-message`).
    pub notice: RwSignal<Option<String>>,
    pub connection: RwSignal<Connection>,
    /// Milliseconds since the epoch, ticking every second (waiting times).
    pub now: RwSignal<f64>,
    pub screen: RwSignal<Screen>,
    pub lang: RwSignal<crate::i18n::Lang>,
    /// Sessions this operator is closing or redirecting: their end removes the tab.
    leaving: StoredValue<Vec<String>>,
}

thread_local! {
    static STORE: std::cell::OnceCell<Store> = const { std::cell::OnceCell::new() };
}

/// The app's one store. Global rather than a context, because WebSocket callbacks and spawned
/// futures run outside any component.
pub fn store() -> Store {
    STORE.with(|s| *s.get_or_init(Store::new))
}

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Milliseconds since the epoch of an RFC 3339 time (NaN when unreadable).
pub fn parse_time(s: &str) -> f64 {
    js_sys::Date::parse(s)
}

/// The queue a waiting client is in: its group, or the operator it waits for.
fn target(c: &QueueItem) -> (&Option<String>, &Option<String>) {
    (&c.group, &c.operator)
}

/// Each client's place in its own queue (group or operator), in display order.
pub fn positions(queue: &[QueueItem]) -> Vec<u32> {
    let mut seen: std::collections::HashMap<(&Option<String>, &Option<String>), u32> =
        std::collections::HashMap::new();
    queue
        .iter()
        .map(|c| {
            let n = seen.entry(target(c)).or_insert(0);
            *n += 1;
            *n
        })
        .collect()
}

/// Puts a client in the queue at the position the server gave it (replacing an older row of the
/// same client). Answers whether it was new.
pub fn upsert(queue: &mut Vec<QueueItem>, item: QueueItem) -> bool {
    let was = remove(queue, &item.id);
    let at = queue
        .iter()
        .enumerate()
        .filter(|(_, c)| target(c) == target(&item))
        .nth(item.position.saturating_sub(1) as usize)
        .map_or(queue.len(), |(i, _)| i);
    queue.insert(at, item);
    !was
}

pub fn remove(queue: &mut Vec<QueueItem>, client: &str) -> bool {
    let before = queue.len();
    queue.retain(|c| c.id != client);
    queue.len() != before
}

/// Adds messages by their sequence number: one seen twice stays once, the order is the server's.
pub fn merge(messages: &mut Vec<Message>, new: impl IntoIterator<Item = Message>) -> usize {
    let mut added = 0;
    for m in new {
        match messages.binary_search_by_key(&m.seq, |x| x.seq) {
            Ok(_) => {}
            Err(i) => {
                messages.insert(i, m);
                added += 1;
            }
        }
    }
    added
}

thread_local! {
    /// An owner that is nobody's child and lives as long as the page: created by the first
    /// `store()` call, which `main` makes before mounting, when no owner is current.
    static ROOT: Owner = Owner::new();
}

/// Signals created here belong to no component, so a tab outlives whichever view or handler
/// happened to open it. (Tabs are few; their signals are freed with the page.)
fn unowned<T>(f: impl FnOnce() -> T) -> T {
    ROOT.with(|root| root.with(f))
}

impl Tab {
    /// The client's name as far as known (the loaded details, else the queue row).
    pub fn name(&self) -> Option<String> {
        self.detail
            .with(|d| d.as_ref().map(|d| d.client.name.clone()))
            .unwrap_or_else(|| self.seed.as_ref().and_then(|s| s.name.clone()))
    }

    pub fn entry(&self) -> Option<lobby_wire::EntryKind> {
        self.detail
            .with(|d| d.as_ref().map(|d| d.client.entry))
            .or_else(|| self.seed.as_ref().map(|s| s.entry))
    }
}

impl Store {
    fn new() -> Self {
        unowned(|| Store {
            lang: RwSignal::new(crate::i18n::Lang::initial()),
            operator: RwSignal::new(None),
            me: RwSignal::new(None),
            queue: RwSignal::new(vec![]),
            tabs: RwSignal::new(vec![]),
            active: RwSignal::new(None),
            preview: RwSignal::new(None),
            redirect: RwSignal::new(None),
            notice: RwSignal::new(None),
            connection: RwSignal::new(Connection::Reconnecting),
            now: RwSignal::new(now_ms()),
            screen: RwSignal::new(Screen::Queue),
            leaving: StoredValue::new(vec![]),
        })
    }

    pub fn is_admin(&self) -> bool {
        self.operator
            .with(|o| o.as_ref().is_some_and(|o| o.role == Role::Admin))
    }

    pub fn my_id(&self) -> Option<String> {
        self.operator
            .with_untracked(|o| o.as_ref().map(|o| o.id.clone()))
    }

    /// Shows a refusal in words. 401 means the token is gone or expired: back to sign-in.
    pub fn fail(&self, f: Failure) {
        if f.status == 401 && f.code != "network" {
            self.sign_out_locally();
            return;
        }
        let text = match f.code.as_str() {
            "already_accepted" => t(Text::ErrAlreadyAccepted).to_string(),
            "capacity" => t(Text::ErrCapacity).to_string(),
            "network" => t(Text::ErrNetwork).to_string(),
            "not_waiting" => t(Text::ErrNotFound).to_string(),
            _ => format!("{} {}", t(Text::ErrGeneric), f.message),
        };
        self.notice.set(Some(text));
    }

    pub fn sign_out_locally(&self) {
        crate::live::stop();
        api::session_remove(api::TOKEN_KEY);
        self.operator.set(None);
        self.me.set(None);
        self.queue.set(vec![]);
        self.tabs.set(vec![]);
        self.active.set(None);
        self.preview.set(None);
        self.redirect.set(None);
        self.screen.set(Screen::Queue);
    }

    pub fn tab(&self, session: &str) -> Option<Tab> {
        self.tabs
            .with_untracked(|ts| ts.iter().find(|t| t.session == session).cloned())
    }

    fn tab_of_client(&self, client: &str) -> Option<Tab> {
        self.tabs.with_untracked(|ts| {
            ts.iter()
                .find(|t| t.client == client && t.ended.get_untracked().is_none())
                .cloned()
        })
    }

    /// Opens (or finds) the Client tab of a session and loads what it shows.
    pub fn open_tab(&self, session: &str, client: &str, focus: bool) {
        if self.tab(session).is_none() {
            let seed = self
                .queue
                .with_untracked(|q| q.iter().find(|c| c.id == client).cloned());
            let tab = unowned(|| Tab {
                session: session.to_string(),
                client: client.to_string(),
                seed,
                detail: RwSignal::new(None),
                edits: RwSignal::new(0),
                messages: RwSignal::new(vec![]),
                ended: RwSignal::new(None),
                draft: RwSignal::new(String::new()),
                unread: RwSignal::new(0),
                typing: RwSignal::new(0.0),
                opened_at: now_ms(),
            });
            self.tabs.update(|ts| ts.push(tab.clone()));
            self.load_tab(&tab);
        }
        if focus || self.active.get_untracked().is_none() {
            self.focus_tab(session);
        }
    }

    pub fn focus_tab(&self, session: &str) {
        self.preview.set(None);
        self.screen.set(Screen::Queue);
        self.active.set(Some(session.to_string()));
        if let Some(tab) = self.tab(session) {
            tab.unread.set(0);
        }
    }

    /// Reads the client's details and the messages after the last one the tab has.
    pub fn load_tab(&self, tab: &Tab) {
        let store = *self;
        let tab = tab.clone();
        spawn_local(async move {
            let after = tab
                .messages
                .with_untracked(|m| m.last().map_or(0, |m| m.seq));
            let path = format!(
                "/sessions/{}/messages?after={after}",
                api::seg(&tab.session)
            );
            match api::get::<lobby_wire::MessageList>(&path).await {
                Ok(list) => {
                    tab.messages.update(|m| {
                        merge(m, list.messages);
                    });
                }
                Err(f) if f.status == 401 => store.fail(f),
                Err(_) => {}
            }
            store.load_detail(&tab).await;
        });
    }

    pub async fn load_detail(&self, tab: &Tab) {
        let path = format!("/clients/{}/preview", api::seg(&tab.client));
        // A tag or note saved while the answer was on its way: that answer is older, ask again.
        for _ in 0..3 {
            let edits = tab.edits.get_untracked();
            match api::get::<Preview>(&path).await {
                Ok(p) if tab.edits.get_untracked() == edits => return tab.detail.set(Some(p)),
                Ok(_) => continue,
                Err(f) if f.status == 401 => return self.fail(f),
                Err(_) => return,
            }
        }
    }

    /// Removes a tab, focusing a neighbour.
    pub fn drop_tab(&self, session: &str) {
        let mut next = None;
        self.tabs.update(|ts| {
            if let Some(i) = ts.iter().position(|t| t.session == session) {
                ts.remove(i);
                next = ts
                    .get(i)
                    .or_else(|| i.checked_sub(1).and_then(|j| ts.get(j)))
                    .map(|t| t.session.clone());
            }
        });
        if self.active.get_untracked().as_deref() == Some(session) {
            self.active.set(next);
        }
    }

    /// This operator is ending the session itself (close or redirect): when the server confirms,
    /// the tab goes away instead of showing "ended".
    pub fn leaving(&self, session: &str) {
        self.leaving.update_value(|l| l.push(session.to_string()));
    }

    /// The close or redirect was refused: the session goes on.
    pub fn staying(&self, session: &str) {
        self.leaving.update_value(|l| l.retain(|s| s != session));
    }

    fn is_leaving(&self, session: &str) -> bool {
        self.leaving.with_value(|l| l.iter().any(|s| s == session))
    }

    /// One frame of the operator WebSocket. `live` is false while replaying frames that arrived
    /// during a re-fetch: they raise no alerts.
    pub fn apply(&self, event: OperatorEvent, live: bool) {
        match event {
            OperatorEvent::Hello { .. } => {}
            OperatorEvent::ClientWaiting { client, .. } => {
                // Back in a queue while this operator served it: that session is over.
                if let Some(tab) = self.tab_of_client(&client.id) {
                    self.session_ended(&tab.session, Party::Operator);
                }
                let item = client.clone();
                let mut new = false;
                self.queue.update(|q| new = upsert(q, item));
                if new && live {
                    crate::alerts::new_client(&client);
                }
            }
            OperatorEvent::ClientRemoved {
                client,
                reason,
                operator,
                ..
            } => {
                let mut was = false;
                self.queue.update(|q| was = remove(q, &client));
                if self.preview.get_untracked().as_deref() == Some(client.as_str()) {
                    self.preview.set(None);
                    if was && reason == RemovedReason::Accepted && operator != self.my_id() {
                        self.notice.set(Some(t(Text::TakenWhilePreviewing).into()));
                    }
                }
            }
            OperatorEvent::SessionStarted {
                session, client, ..
            } => {
                self.open_tab(&session, &client, false);
                self.queue.update(|q| {
                    remove(q, &client);
                });
                if self.preview.get_untracked().as_deref() == Some(client.as_str()) {
                    self.preview.set(None);
                }
            }
            OperatorEvent::Message {
                session, message, ..
            } => {
                if let Some(tab) = self.tab(&session) {
                    let from_client = message.from == Party::Client;
                    let mut added = 0;
                    tab.messages.update(|m| added = merge(m, [message]));
                    if from_client {
                        tab.typing.set(0.0);
                    }
                    if added > 0
                        && from_client
                        && self.active.get_untracked().as_deref() != Some(session.as_str())
                    {
                        tab.unread.update(|n| *n += 1);
                    }
                }
            }
            OperatorEvent::SessionClosed { session, by, .. } => self.session_ended(&session, by),
            OperatorEvent::Typing { session } => {
                if let Some(tab) = self.tab(&session) {
                    tab.typing.set(now_ms());
                }
            }
        }
    }

    fn session_ended(&self, session: &str, by: Party) {
        if self.is_leaving(session) {
            self.drop_tab(session);
        } else if let Some(tab) = self.tab(session) {
            if tab.ended.get_untracked().is_none() {
                tab.ended.set(Some(by));
            }
        }
    }

    /// A fresh snapshot (after connecting), asked for at `asked_at` (ms): the queue as the server
    /// has it, a tab for every active session, and the tabs of sessions that ended meanwhile
    /// marked so. A tab opened while the snapshot was on its way (an accept that raced it) is
    /// not in it and is kept; the frames buffered since `hello` bring the rest up to date.
    pub fn apply_snapshot(&self, queue: Vec<QueueItem>, sessions: Vec<ClientInfo>, asked_at: f64) {
        let tabs = self.tabs.get_untracked();
        self.queue.set(
            queue
                .into_iter()
                .filter(|c| {
                    !tabs
                        .iter()
                        .any(|t| t.client == c.id && t.opened_at >= asked_at)
                })
                .collect(),
        );
        for tab in tabs {
            let listed = sessions.iter().any(|s| s.session == tab.session);
            if snapshot_ends(listed, tab.opened_at, asked_at) {
                self.session_ended(&tab.session, Party::System);
            } else if listed {
                self.load_tab(&tab);
            }
        }
        for s in sessions {
            self.open_tab(&s.session, &s.id, false);
        }
    }

    pub fn accept(&self, client: String) {
        let store = *self;
        spawn_local(async move {
            let path = format!("/queue/{}/accept", api::seg(&client));
            match api::post::<_, lobby_wire::Accepted>(&path, &serde_json::json!({})).await {
                Ok(a) => {
                    store.notice.set(None);
                    store.open_tab(&a.session, &client, true);
                    store.queue.update(|q| {
                        remove(q, &client);
                    });
                }
                Err(f) if f.code == "capacity" => {
                    store.notice.set(Some(store.capacity_text(&client)));
                }
                Err(f) => {
                    if f.code == "already_accepted" || f.status == 404 {
                        store.queue.update(|q| {
                            remove(q, &client);
                        });
                        if store.preview.get_untracked().as_deref() == Some(client.as_str()) {
                            store.preview.set(None);
                        }
                    }
                    store.fail(f);
                }
            }
        });
    }

    /// Why an accept was refused for capacity, in words: from what this app knows of its open
    /// tabs and of the client (the rules of the server's `capacity` module).
    fn capacity_text(&self, client: &str) -> String {
        let exclusive = |e: Option<lobby_wire::EntryKind>| e.is_some_and(|e| e.is_exclusive());
        let open: Vec<Tab> = self.tabs.with_untracked(|ts| {
            ts.iter()
                .filter(|t| t.ended.get_untracked().is_none())
                .cloned()
                .collect()
        });
        let call = self
            .queue
            .with_untracked(|q| exclusive(q.iter().find(|c| c.id == client).map(|c| c.entry)));
        if open.iter().any(|t| exclusive(t.entry())) {
            t(Text::ErrInCall).to_string()
        } else if call {
            t(Text::ErrCallAlone).to_string()
        } else {
            let n = self
                .me
                .with_untracked(|m| m.as_ref().map(|m| m.limits.chat as usize))
                .unwrap_or(open.len());
            t(Text::ErrChatLimit).replace("{n}", &n.to_string())
        }
    }

    pub fn accept_next(&self) {
        if let Some(first) = self
            .queue
            .with_untracked(|q| q.first().map(|c| c.id.clone()))
        {
            self.accept(first);
        }
    }

    pub fn close_session(&self, session: String) {
        let store = *self;
        self.leaving(&session);
        spawn_local(async move {
            let path = format!("/sessions/{}/close", api::seg(&session));
            match api::post::<_, serde::de::IgnoredAny>(&path, &serde_json::json!({})).await {
                Ok(_) => store.drop_tab(&session),
                // Already over (the client left first): the tab can go.
                Err(f) if f.status == 404 || f.status == 409 => store.drop_tab(&session),
                Err(f) => {
                    store.staying(&session);
                    store.fail(f);
                }
            }
        });
    }
}

/// Does a snapshot end a tab? Only when its session is missing from a snapshot asked for after
/// the tab opened.
fn snapshot_ends(listed: bool, opened_at: f64, asked_at: f64) -> bool {
    !listed && opened_at < asked_at
}

#[cfg(test)]
mod tests {
    use super::*;
    use lobby_wire::EntryKind;

    fn item(id: &str, group: &str, position: u32) -> QueueItem {
        QueueItem {
            id: id.into(),
            entry: EntryKind::Webchat,
            channel: "widget".into(),
            language: None,
            browser: None,
            os: None,
            widget: None,
            widget_id: None,
            name: None,
            phone: None,
            email: None,
            group: Some(group.into()),
            operator: None,
            waiting_since: "2026-01-01T00:00:00Z".into(),
            position,
            session: format!("s-{id}"),
            page: None,
        }
    }

    #[test]
    fn positions_count_within_each_queue() {
        let mut q = vec![];
        assert!(upsert(&mut q, item("a", "g1", 1)));
        assert!(upsert(&mut q, item("b", "g2", 1)));
        assert!(upsert(&mut q, item("c", "g1", 2)));
        assert_eq!(positions(&q), vec![1, 1, 2]);
        remove(&mut q, "a");
        assert_eq!(positions(&q), vec![1, 1]);
    }

    #[test]
    fn a_frame_seen_twice_changes_nothing() {
        let mut q = vec![];
        upsert(&mut q, item("a", "g", 1));
        upsert(&mut q, item("b", "g", 2));
        let before = q.clone();
        assert!(!upsert(&mut q, item("b", "g", 2)));
        assert_eq!(q, before);
        // A frame older than the snapshot: `b` was 3rd then, is 2nd now; it stays 2nd.
        assert!(!upsert(&mut q, item("b", "g", 3)));
        assert_eq!(positions(&q), vec![1, 2]);
    }

    #[test]
    fn a_snapshot_older_than_a_tab_does_not_end_it() {
        // Listed: never ended. Missing from a snapshot asked after the tab opened: ended.
        assert!(!snapshot_ends(true, 100.0, 200.0));
        assert!(snapshot_ends(false, 100.0, 200.0));
        // Missing from a snapshot asked before the tab opened (an accept raced it): kept.
        assert!(!snapshot_ends(false, 300.0, 200.0));
    }

    #[test]
    fn messages_merge_by_seq() {
        let m = |seq| Message {
            seq,
            from: Party::Client,
            text: format!("{seq}"),
            attachments: vec![],
            at: String::new(),
            delivery: None,
            operator: None,
            client_message_id: None,
        };
        let mut ms = vec![m(1), m(5)];
        assert_eq!(merge(&mut ms, [m(3), m(5), m(7)]), 2);
        assert_eq!(
            ms.iter().map(|m| m.seq).collect::<Vec<_>>(),
            vec![1, 3, 5, 7]
        );
    }
}
