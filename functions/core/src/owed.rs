//! What a tenant owes the outside world, and when: the offline form's e-mails ([`crate::outbox`])
//! and the calls to channel providers ([`crate::channels::desk`]). Both are state with a due
//! time, set and moved by events (stored, failed with a backoff, settled, given up). The runtimes
//! ask the core when to act — a Durable Object sets its alarm to [`Lobby::next_due`]; Spin, which
//! has no alarms, sends after a call or on a stream's tick when [`Lobby::is_due`] — rather than
//! deciding from the events themselves.

use crate::lobby::Lobby;
use crate::time::Millis;

impl Lobby {
    /// When the next owed e-mail or provider call is due; `None` when nothing is owed (every
    /// one was sent, answered or given up).
    pub fn next_due(&self) -> Option<Millis> {
        let mail = self.outbox.values().filter_map(|m| m.next_at).min();
        match (mail, self.next_outgoing_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether something owed is due at `now`: send it now (a stored one at once, a failed one
    /// once its retry pause is over).
    pub fn is_due(&self, now: Millis) -> bool {
        self.next_due().is_some_and(|at| at <= now)
    }
}
