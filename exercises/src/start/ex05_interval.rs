//! Exercise 5 (chapter 6): `interval`, ticks that do not drift.
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex05_interval
//! ```
//!
//! The statement: `exercises/README.md`, "ex05_interval".
//! Hints, when you are stuck: `exercises/hints/ex05.md`.
//!
//! Read `src/time/sleep.rs` first.
// The starting point declares fields that only your code will read: delete this line
// once the exercise is done.
#![allow(dead_code)]

use std::time::Duration;

use looplab::time::Instant;

/// Ticks every `period`, the first time one `period` from now (tokio's `interval`,
/// asyncio's `while True: ...; await asyncio.sleep(...)` done right).
///
/// # Panics
/// If `period` is zero, and outside a runtime (it reads the runtime's clock).
pub fn interval(_period: Duration) -> Interval {
    todo!("ex05: yours to write")
}

/// The ticker returned by [`interval`].
#[derive(Debug)]
pub struct Interval {
    /// When the next tick is due.
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
        todo!("ex05: yours to write")
    }

    /// The period.
    pub fn period(&self) -> Duration {
        todo!("ex05: yours to write")
    }
}
