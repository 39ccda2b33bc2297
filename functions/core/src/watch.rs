//! How an event stream that cannot be pushed to follows its tenant's journal: Spin's
//! Server-Sent Events. On Spin the instance that serves a stream shares no memory with the
//! instances that append events, so the stream has to look at the database; this module decides
//! when it looks, when a look is worth the full read of the journal (and the typing table), when
//! it says `keepalive`, and when the stream has run its time. It is a clock-free state machine:
//! the adapter passes the monotonic time and what the database answered in.
//!
//! The look is cheap: a change counter that moves whenever another connection commits (SQLite's
//! `PRAGMA data_version` on the stream's own connection), asked every [`CHECK_MS`]. Only when it
//! moved does the stream read the journal after its last seq. Since the counter is read before
//! the journal, a commit is either already in that read or moves the counter for the next look:
//! nothing is missed and nothing is read twice (the read starts after the stream's last seq).
//! Every [`KEEPALIVE_MS`] the stream also reads unconditionally, so that a database whose counter
//! does not move for other connections' commits (a connection shared between instances, a remote
//! database) still delivers, late. [`Mode::Poll`] reads every [`POLL_MS`] instead, for such a
//! database.

use crate::time::Millis;

/// How often a stream asks the change counter (the entry → event latency it adds is at most this).
pub const CHECK_MS: Millis = 5;
/// How often a stream reads the journal in [`Mode::Poll`].
pub const POLL_MS: Millis = 200;
/// How often a stream says `keepalive` (and, in [`Mode::Counter`], reads regardless of the counter).
pub const KEEPALIVE_MS: Millis = 5_000;

/// How a stream notices new events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Ask the database's change counter every [`CHECK_MS`]; read the journal when it moved.
    Counter,
    /// Read the journal every [`POLL_MS`], counter or not.
    Poll,
}

impl Mode {
    /// The mode a deployment names (`data_version`, `poll`); anything else is the default,
    /// [`Mode::Counter`].
    pub fn parse(name: &str) -> Mode {
        match name.trim() {
            "poll" => Mode::Poll,
            _ => Mode::Counter,
        }
    }

    fn interval(self) -> Millis {
        match self {
            Mode::Counter => CHECK_MS,
            Mode::Poll => POLL_MS,
        }
    }
}

/// What a look found to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Look {
    /// Read the journal after the stream's last seq (and the typing table after its cursor).
    pub read: bool,
    /// Send `keepalive` (and see whether mails or provider calls are due).
    pub keepalive: bool,
}

/// One stream's schedule.
#[derive(Debug, Clone)]
pub struct Watch {
    mode: Mode,
    /// The counter's value at the last look (none yet: the first look reads).
    seen: Option<i64>,
    next_keepalive: Millis,
    end: Millis,
}

impl Watch {
    /// A stream opened at `now` that ends after `seconds`.
    pub fn new(mode: Mode, now: Millis, seconds: u32) -> Watch {
        Watch {
            mode,
            seen: None,
            next_keepalive: now + KEEPALIVE_MS,
            end: now + Millis::from(seconds) * 1000,
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// How long to wait before the next look; `None` once the stream has run its time.
    pub fn wait(&self, now: Millis) -> Option<Millis> {
        (now < self.end).then(|| self.mode.interval().min(self.end - now))
    }

    /// Whether the next look should ask the change counter (only [`Mode::Counter`] does).
    pub fn wants_counter(&self) -> bool {
        self.mode == Mode::Counter
    }

    /// The last read stopped at its limit and left events behind: the next look reads, whatever
    /// the counter says (it moved for those events before that read, not after).
    pub fn read_again(&mut self) {
        self.seen = None;
    }

    /// A look at `now`, with the change counter as the database answered it (`None`: not asked,
    /// or the database failed to answer: that look reads, and the stream polls from then on).
    pub fn look(&mut self, now: Millis, counter: Option<i64>) -> Look {
        let keepalive = now >= self.next_keepalive;
        if keepalive {
            // Skip keepalives missed while the stream was busy: one is enough.
            while self.next_keepalive <= now {
                self.next_keepalive += KEEPALIVE_MS;
            }
        }
        let moved = match (self.mode, counter) {
            (Mode::Poll, _) => true,
            // A database that cannot tell its counter is polled as before, for the stream's life
            // (asking it again every few ms would read the journal every few ms).
            (Mode::Counter, None) => {
                self.mode = Mode::Poll;
                true
            }
            (Mode::Counter, Some(c)) => self.seen != Some(c),
        };
        if counter.is_some() {
            self.seen = counter;
        }
        Look {
            read: moved || keepalive,
            keepalive,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_first_look_reads_then_only_a_moved_counter_does() {
        let mut w = Watch::new(Mode::Counter, 0, 25);
        assert!(w.look(5, Some(7)).read);
        assert!(!w.look(10, Some(7)).read);
        assert!(w.look(15, Some(8)).read);
        assert!(!w.look(20, Some(8)).read);
        // The counter may move to any other value, even a smaller one.
        assert!(w.look(25, Some(3)).read);
    }

    #[test]
    fn a_database_that_cannot_tell_its_counter_is_polled() {
        let mut w = Watch::new(Mode::Counter, 0, 25);
        assert!(w.look(5, Some(1)).read);
        assert!(w.look(10, None).read);
        assert_eq!(w.mode(), Mode::Poll);
        assert!(!w.wants_counter());
        assert_eq!(w.wait(10), Some(POLL_MS));
        assert!(w.look(210, None).read);
    }

    #[test]
    fn a_read_cut_short_by_its_limit_reads_again_at_the_next_look() {
        let mut w = Watch::new(Mode::Counter, 0, 25);
        assert!(w.look(5, Some(2)).read);
        w.read_again();
        assert!(w.look(10, Some(2)).read);
        assert!(!w.look(15, Some(2)).read);
    }

    #[test]
    fn poll_mode_reads_every_look_and_waits_the_poll_interval() {
        let mut w = Watch::new(Mode::Poll, 0, 25);
        assert!(!w.wants_counter());
        assert_eq!(w.wait(0), Some(POLL_MS));
        assert!(w.look(200, None).read);
        assert!(w.look(400, None).read);
        assert_eq!(Mode::parse("poll"), Mode::Poll);
        assert_eq!(Mode::parse("data_version"), Mode::Counter);
        assert_eq!(Mode::parse(""), Mode::Counter);
    }

    #[test]
    fn keepalive_every_five_seconds_reads_even_an_unmoved_counter() {
        let mut w = Watch::new(Mode::Counter, 1_000, 25);
        assert!(w.look(1_005, Some(4)).read);
        let quiet = w.look(5_999, Some(4));
        assert_eq!(quiet, Look::default());
        assert_eq!(
            w.look(6_000, Some(4)),
            Look {
                read: true,
                keepalive: true
            }
        );
        assert!(!w.look(6_005, Some(4)).keepalive);
        // A stream that was stalled past two keepalives says it once.
        assert!(w.look(17_000, Some(4)).keepalive);
        assert!(!w.look(17_005, Some(4)).keepalive);
        assert!(w.look(21_000, Some(4)).keepalive);
    }

    #[test]
    fn the_stream_ends_after_its_seconds() {
        let w = Watch::new(Mode::Counter, 100, 2);
        assert_eq!(w.wait(100), Some(CHECK_MS));
        assert_eq!(w.wait(2_098), Some(2));
        assert_eq!(w.wait(2_100), None);
        assert_eq!(w.wait(9_999), None);
    }

    proptest! {
        /// Whatever the timing and the counter's values: every look whose counter differs from
        /// the one before (or is missing, or comes while polling) reads; keepalives keep a KEEPALIVE_MS cadence (up to one look's lateness);
        /// a read happens at least every KEEPALIVE_MS (plus a look); `wait` never exceeds the
        /// mode's interval and ends the stream on time.
        #[test]
        fn looks_follow_the_counter(
            poll in any::<bool>(),
            steps in proptest::collection::vec((1i64..400, proptest::option::weighted(0.98, 0i64..4)), 1..300),
        ) {
            let mode = if poll { Mode::Poll } else { Mode::Counter };
            let seconds = 30;
            let mut w = Watch::new(mode, 0, seconds);
            let mut now = 0;
            let mut last: Option<i64> = None;
            let mut last_keepalive = 0;
            let mut last_read = 0;
            for (dt, counter) in steps {
                match w.wait(now) {
                    None => {
                        prop_assert!(now >= Millis::from(seconds) * 1000);
                        break;
                    }
                    Some(d) => prop_assert!(d > 0 && d <= w.mode().interval()),
                }
                now += dt;
                let polling = w.mode() == Mode::Poll;
                let look = w.look(now, counter);
                if polling || counter.is_none() || counter != last {
                    prop_assert!(look.read, "a moved counter was not read at {now}");
                }
                if look.keepalive {
                    prop_assert!(now - last_keepalive > KEEPALIVE_MS - 400);
                    last_keepalive = now;
                } else {
                    prop_assert!(now - last_keepalive < KEEPALIVE_MS + 400);
                }
                if look.read {
                    last_read = now;
                }
                prop_assert!(now - last_read < KEEPALIVE_MS + 400);
                if counter.is_some() {
                    last = counter;
                }
            }
        }
    }
}
