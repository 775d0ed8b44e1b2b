//! The snapshot thread's scheduling class: `SCHED_IDLE` during the run,
//! back to normal (`SCHED_OTHER`, nice 10) while it is behind and starved,
//! and once the run has stopped.
//!
//! Why idle: the follower replays every journaled event, so in an unpaced
//! run it wants a whole core. At nice 10 it still took a tenth of the core
//! it shared with the fused stage thread, and the scheduler counted its core
//! as busy, so a waking helper (the venue, the journal's preallocator) could
//! be placed on the stage thread's core instead. A `SCHED_IDLE` thread gets
//! a core only when no normal thread wants it, and a core running only such
//! threads counts as idle for a waking thread. In `bench throughput --rows
//! fused` on the shared 2-vCPU host, with the follower made idle for the
//! whole run, the fused thread's wait for a core fell from a median 27 % to
//! 20 % of the window (docs/performance.md, "Fourteenth round").
//!
//! Why not idle always: on a machine whose cores are all busy an idle thread
//! gets almost nothing, so the follower would fall behind without bound,
//! snapshots would stop coming and the final one could miss
//! `FINISH_DEADLINE`. So while it is behind (every poll a full budget) it
//! looks, every [`BEHIND_WINDOW`], at the CPU it got: below
//! [`STARVED_SHARE`] of a core (what nice 10 gets beside one busy nice-0
//! thread) it returns to normal until it next reaches the journal's end.
//! Behind but getting a core (it replays more slowly than an unpaced fused
//! thread journals), normal priority would not make it faster, and it
//! stays idle. Once the run stops it is normal, to catch up. A process that
//! may not leave `SCHED_IDLE` again (no CAP_SYS_NICE, `RLIMIT_NICE` too
//! low) never enters it: the follower then stays at nice 10 throughout.
//!
//! Owning thread: the snapshot thread; the decisions are pure (time is
//! passed in), so tests drive them directly.

use std::time::{Duration, Instant};

/// How long a spell behind is watched before its CPU share is judged.
pub const BEHIND_WINDOW: Duration = Duration::from_millis(500);
/// Below this share of a core while behind, the follower is starved and
/// returns to normal priority: nice 10 beside one busy nice-0 thread gets
/// 110 / (110 + 1024) of a core.
pub const STARVED_SHARE: f64 = 0.1;

/// The scheduling class the follower runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// `SCHED_IDLE`: only CPU time no normal thread wants.
    Idle,
    /// `SCHED_OTHER` at the follower's nice value.
    Normal,
}

/// Decides the follower's class after each poll.
#[derive(Debug)]
pub struct Priority {
    class: Class,
    /// False when this process may not leave `SCHED_IDLE` again, or the
    /// thread follows only after the run (deferred): then always normal.
    idle_allowed: bool,
    /// When the window of the current spell behind (unbroken full polls)
    /// began, and the thread's CPU time then.
    behind_since: Option<(Instant, u64)>,
    /// Times it returned to normal because it was behind and starved.
    pub raises_behind: u64,
}

impl Priority {
    /// Starts normal; [`Priority::after_poll`] moves it to idle once allowed.
    pub fn new(idle_allowed: bool) -> Priority {
        Priority {
            class: Class::Normal,
            idle_allowed,
            behind_since: None,
            raises_behind: 0,
        }
    }

    pub fn class(&self) -> Class {
        self.class
    }

    /// A class change failed: stay normal from now on.
    pub fn disallow_idle(&mut self) {
        self.idle_allowed = false;
        self.class = Class::Normal;
    }

    /// After a poll at `now`, the thread having used `cpu_ns` of CPU so
    /// far: `behind` when it applied a full budget, `finishing` once the
    /// run has stopped. Returns the class to switch to when it changes.
    pub fn after_poll(
        &mut self,
        behind: bool,
        finishing: bool,
        now: Instant,
        cpu_ns: u64,
    ) -> Option<Class> {
        if !behind {
            self.behind_since = None;
        }
        let wanted = if !self.idle_allowed || finishing {
            Class::Normal
        } else if !behind {
            Class::Idle
        } else if self.starved(now, cpu_ns) {
            Class::Normal
        } else {
            self.class
        };
        if wanted == self.class {
            return None;
        }
        if wanted == Class::Normal && !finishing {
            self.raises_behind += 1;
        }
        self.class = wanted;
        Some(wanted)
    }

    /// Behind: whether the window that ends now gave it less than
    /// [`STARVED_SHARE`] of a core (a new window starts after each judged one).
    fn starved(&mut self, now: Instant, cpu_ns: u64) -> bool {
        let (since, cpu_since) = *self.behind_since.get_or_insert((now, cpu_ns));
        let wall = now.duration_since(since);
        if wall < BEHIND_WINDOW {
            return false;
        }
        self.behind_since = Some((now, cpu_ns));
        let share = cpu_ns.saturating_sub(cpu_since) as f64 / wall.as_nanos() as f64;
        share < STARVED_SHARE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    const MS_NS: u64 = 1_000_000;

    /// Where the test's time starts: the decisions only compare the
    /// instants they are given, so any instant will do.
    #[allow(clippy::disallowed_methods)]
    fn any_instant() -> Instant {
        Instant::now()
    }

    // A follower that keeps up goes idle at its first poll and stays idle.
    #[test]
    fn keeping_up_runs_idle() {
        let t0 = any_instant();
        let mut priority = Priority::new(true);
        assert_eq!(priority.after_poll(false, false, t0, 0), Some(Class::Idle));
        for step in 1..100u32 {
            assert_eq!(priority.after_poll(false, false, t0 + step * MS, 0), None);
        }
        assert_eq!(priority.class(), Class::Idle);
        assert_eq!(priority.raises_behind, 0);
    }

    // Behind and starved (5 % of a core over a window) it returns to
    // normal, and goes idle again at the first poll that drains the journal.
    #[test]
    fn behind_and_starved_returns_to_normal_until_caught_up() {
        let t0 = any_instant();
        let mut priority = Priority::new(true);
        priority.after_poll(false, false, t0, 0);
        assert_eq!(priority.after_poll(true, false, t0 + MS, MS_NS), None);
        let window_ns = BEHIND_WINDOW.as_nanos() as u64;
        assert_eq!(
            priority.after_poll(true, false, t0 + BEHIND_WINDOW, MS_NS + window_ns / 40),
            None,
            "the window has not passed yet"
        );
        assert_eq!(
            priority.after_poll(true, false, t0 + MS + BEHIND_WINDOW, MS_NS + window_ns / 20),
            Some(Class::Normal)
        );
        assert_eq!(priority.raises_behind, 1);
        assert_eq!(
            priority.after_poll(true, false, t0 + 3 * BEHIND_WINDOW, window_ns),
            None,
            "normal while still behind, whatever it gets"
        );
        let drained = t0 + 4 * BEHIND_WINDOW;
        assert_eq!(
            priority.after_poll(false, false, drained, window_ns),
            Some(Class::Idle)
        );
    }

    // Behind but getting most of a core it stays idle: normal priority
    // would not replay faster. Each judged window starts the next.
    #[test]
    fn behind_with_a_core_stays_idle() {
        let t0 = any_instant();
        let window_ns = BEHIND_WINDOW.as_nanos() as u64;
        let mut priority = Priority::new(true);
        priority.after_poll(false, false, t0, 0);
        priority.after_poll(true, false, t0, 0);
        for window in 1..=4u32 {
            let cpu_ns = u64::from(window) * window_ns * 8 / 10;
            assert_eq!(
                priority.after_poll(true, false, t0 + window * BEHIND_WINDOW, cpu_ns),
                None
            );
        }
        assert_eq!(priority.class(), Class::Idle);
        // Then a starved window: judged on its own CPU, not the run's.
        let cpu_ns = 4 * window_ns * 8 / 10 + window_ns / 100;
        assert_eq!(
            priority.after_poll(true, false, t0 + 5 * BEHIND_WINDOW, cpu_ns),
            Some(Class::Normal)
        );
    }

    // A caught-up poll between two full ones restarts the window.
    #[test]
    fn a_drained_poll_restarts_the_window() {
        let t0 = any_instant();
        let mut priority = Priority::new(true);
        priority.after_poll(false, false, t0, 0);
        priority.after_poll(true, false, t0, 0);
        priority.after_poll(false, false, t0 + BEHIND_WINDOW - MS, 0);
        assert_eq!(
            priority.after_poll(true, false, t0 + BEHIND_WINDOW, 0),
            None
        );
        assert_eq!(priority.class(), Class::Idle);
    }

    // Once the run stops it is normal, behind or not, so the final
    // snapshot competes for a core like any other thread.
    #[test]
    fn finishing_is_normal() {
        let t0 = any_instant();
        let mut priority = Priority::new(true);
        priority.after_poll(false, false, t0, 0);
        assert_eq!(
            priority.after_poll(false, true, t0 + MS, 0),
            Some(Class::Normal)
        );
        assert_eq!(priority.after_poll(true, true, t0 + 2 * MS, 0), None);
        assert_eq!(priority.after_poll(false, true, t0 + 3 * MS, 0), None);
        assert_eq!(priority.raises_behind, 0);
    }

    // Without leave to come back from idle it never goes idle.
    #[test]
    fn not_allowed_stays_normal() {
        let t0 = any_instant();
        let mut priority = Priority::new(false);
        assert_eq!(priority.after_poll(false, false, t0, 0), None);
        assert_eq!(
            priority.after_poll(true, false, t0 + BEHIND_WINDOW, 0),
            None
        );
        assert_eq!(priority.class(), Class::Normal);
        let mut failed = Priority::new(true);
        failed.after_poll(false, false, t0, 0);
        failed.disallow_idle();
        assert_eq!(failed.after_poll(false, false, t0 + MS, 0), None);
        assert_eq!(failed.class(), Class::Normal);
    }
}
