//! Exercise 5 (chapter 6), reference solution: `interval`, ticks that do not drift.
//!
//! ```text
//! cargo test -p looplab-exercises --test ex05_interval
//! ```

use std::time::Duration;

use looplab::time::{Instant, sleep_until};

/// Ticks every `period`, the first time one `period` from now (tokio's `interval`,
/// asyncio's `while True: ...; await asyncio.sleep(...)` done right).
///
/// tokio's first tick completes at once; this one waits a period first, which is
/// tokio's `interval_at(Instant::now() + period, period)`.
///
/// # Panics
/// If `period` is zero, and outside a runtime (it reads the runtime's clock).
pub fn interval(period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "interval(0): a zero period would tick forever at once"
    );
    Interval {
        next: Instant::now() + period,
        period,
    }
}

/// The ticker returned by [`interval`].
#[derive(Debug)]
pub struct Interval {
    /// When the next tick is due. Always `start + k × period`: computed from the
    /// previous *deadline*, never from the time the tick was noticed, so lateness does
    /// not add up.
    next: Instant,
    period: Duration,
}

impl Interval {
    /// Waits for the next tick and returns the instant it was **due** (`start + k ×
    /// period`), which may be earlier than now if the caller was late.
    ///
    /// A caller that was late by several periods gets the missed ticks at once, one per
    /// call, until it has caught up (tokio's default, `MissedTickBehavior::Burst`).
    pub async fn tick(&mut self) -> Instant {
        let due = self.next;
        // A deadline already passed is ready on the first poll: that is the catch-up.
        sleep_until(due).await;
        // Advance from the deadline, not from `Instant::now()`: `now` includes however
        // late this task was polled, and adding that every time is the drift. (Keeping
        // the start and a count, `start + k × period`, is the same schedule:
        // `exercises/right/ex05/counted_ticks.rs`.)
        self.next = due + self.period;
        due
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }
}
