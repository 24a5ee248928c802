//! RIGHT: keeps the start and the number of ticks taken, and computes each deadline as `start + k × period`; the reference adds the period to the last deadline, which is the same instant.
//!
//! A drop-in for `src/start/ex05_interval.rs`; checked by `tests/wrong_solutions.rs`.

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
        start: Instant::now(),
        taken: 0,
        period,
    }
}

/// The ticker returned by [`interval`].
#[derive(Debug)]
pub struct Interval {
    /// When the interval was made: tick `k` is due at `start + k × period`, whenever
    /// it is noticed, so lateness does not add up.
    start: Instant,
    /// Ticks completed so far.
    taken: u32,
    period: Duration,
}

impl Interval {
    /// Waits for the next tick and returns the instant it was **due** (`start + k ×
    /// period`), which may be earlier than now if the caller was late.
    ///
    /// A caller that was late by several periods gets the missed ticks at once, one per
    /// call, until it has caught up (tokio's default, `MissedTickBehavior::Burst`).
    pub async fn tick(&mut self) -> Instant {
        let due = self.start + self.period * (self.taken + 1);
        sleep_until(due).await;
        self.taken += 1;
        due
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }
}
