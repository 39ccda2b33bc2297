//! Invitations: an operator hands a client a six-digit code, and the client who enters it waits
//! for that operator only. Codes are random, single use and expire. Because six digits can be
//! guessed, wrong codes are rate-limited per client address and per tenant ([`Guard`]).

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::time::Millis;

/// How long a code is good for unless the operator asks otherwise.
pub const DEFAULT_TTL_SECONDS: i64 = 600;
pub const MIN_TTL_SECONDS: i64 = 60;
pub const MAX_TTL_SECONDS: i64 = 86_400;
/// Wrong codes one address may try within [`WINDOW_MS`] before it gets 429.
pub const MAX_WRONG_PER_ADDRESS: usize = 10;
/// Wrong codes the whole tenant may see within [`WINDOW_MS`] (a distributed guesser).
pub const MAX_WRONG_PER_TENANT: usize = 200;
pub const WINDOW_MS: Millis = 10 * 60 * 1000;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Invitation {
    pub code: String,
    pub operator: String,
    pub expires_at: Millis,
    pub used: bool,
}

/// A six-digit code from random bytes, without modulo bias worth speaking of (u64 → 10^6).
pub fn code_from(bytes: &[u8]) -> String {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[..8]);
    format!("{:06}", u64::from_le_bytes(b) % 1_000_000)
}

/// Is this what a client typed a plausible code (six ASCII digits)?
pub fn well_formed(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// Counts wrong codes in a sliding window. Not part of the tenant's journal (equality ignores
/// it): a refused guess changes nothing anyone can see, so no event records it. Both runtimes
/// store it beside the journal (serde) whenever a call reports it changed
/// ([`crate::request::Outcome::guard`]): a Durable Object that is evicted between two guesses,
/// or a Spin instance that lives for one request, must not forget them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Guard {
    by_address: BTreeMap<String, VecDeque<Millis>>,
    tenant: VecDeque<Millis>,
    /// A wrong code was counted since the last [`Guard::take_update`].
    #[serde(skip)]
    changed: bool,
}

impl PartialEq for Guard {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

fn prune(q: &mut VecDeque<Millis>, now: Millis) {
    while q.front().is_some_and(|t| *t <= now - WINDOW_MS) {
        q.pop_front();
    }
}

impl Guard {
    /// May this address try a code now?
    pub fn allows(&mut self, address: &str, now: Millis) -> bool {
        prune(&mut self.tenant, now);
        let mine = self.by_address.entry(address.to_string()).or_default();
        prune(mine, now);
        mine.len() < MAX_WRONG_PER_ADDRESS && self.tenant.len() < MAX_WRONG_PER_TENANT
    }

    pub fn wrong(&mut self, address: &str, now: Millis) {
        self.changed = true;
        self.by_address
            .entry(address.to_string())
            .or_default()
            .push_back(now);
        self.tenant.push_back(now);
        // Forget quiet addresses so the map stays small.
        if self.by_address.len() > 10_000 {
            self.by_address.retain(|_, q| {
                prune(q, now);
                !q.is_empty()
            });
        }
    }
}

impl Guard {
    /// The guard to store, when a wrong code was counted since the last time it was asked.
    /// (Pruning old entries alone is no change worth a write: a loaded guard prunes again.)
    pub fn take_update(&mut self) -> Option<Guard> {
        std::mem::take(&mut self.changed).then(|| self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        assert_eq!(code_from(&[0; 8]), "000000");
        assert_eq!(code_from(&[255; 8]).len(), 6);
        assert!(well_formed("012345"));
        assert!(!well_formed("12345"));
        assert!(!well_formed("12345a"));
        assert!(!well_formed("１２３４５６"));
    }

    #[test]
    fn ten_wrong_codes_per_address_then_429_until_the_window_passes() {
        let mut g = Guard::default();
        for i in 0..MAX_WRONG_PER_ADDRESS {
            assert!(g.allows("1.2.3.4", i as Millis));
            g.wrong("1.2.3.4", i as Millis);
        }
        assert!(!g.allows("1.2.3.4", 100));
        assert!(g.allows("5.6.7.8", 100), "another address is not limited");
        assert!(g.allows("1.2.3.4", WINDOW_MS + 10), "the window slides");
    }

    #[test]
    fn only_a_counted_wrong_code_is_an_update_to_store() {
        let mut g = Guard::default();
        assert!(g.allows("1.2.3.4", 0));
        assert!(g.take_update().is_none(), "asking changes nothing to store");
        g.wrong("1.2.3.4", 0);
        let stored = g.take_update().expect("a wrong code is stored");
        assert!(g.take_update().is_none(), "reported once");
        // What is stored restores the count.
        let mut restored: Guard =
            serde_json::from_str(&serde_json::to_string(&stored).unwrap()).unwrap();
        for i in 1..MAX_WRONG_PER_ADDRESS {
            restored.wrong("1.2.3.4", i as Millis);
        }
        assert!(!restored.allows("1.2.3.4", 100));
        // Pruning what the window let go is no update.
        assert!(restored.take_update().is_some());
        assert!(restored.allows("1.2.3.4", WINDOW_MS + 10));
        assert!(restored.take_update().is_none());
    }

    #[test]
    fn a_distributed_guesser_hits_the_tenant_limit() {
        let mut g = Guard::default();
        for i in 0..MAX_WRONG_PER_TENANT {
            let addr = format!("10.0.{}.{}", i / 250, i % 250);
            assert!(g.allows(&addr, 0));
            g.wrong(&addr, 0);
        }
        assert!(!g.allows("192.0.2.1", 1));
    }
}
