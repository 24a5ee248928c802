//! Exercise 2 (chapter 4): `yield_now`, and a budget that yields every `n` steps.
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex02_yield_now
//! ```
//!
//! The statement: `exercises/README.md`, "ex02_yield_now".
//! Hints, when you are stuck: `exercises/hints/ex02.md`.
// The starting point declares fields that only your code will read: delete this line
// once the exercise is done.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Gives the loop's thread to the other ready tasks once, then goes on (asyncio's
/// `await asyncio.sleep(0)`, tokio's `tokio::task::yield_now().await`).
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`]: `Pending` once (after waking its own task),
/// then `Ready`.
#[derive(Debug)]
#[must_use = "a YieldNow does nothing until it is awaited"]
pub struct YieldNow {
    /// Set by the first poll. The second poll sees it and finishes.
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        todo!("ex02: yours to write")
    }
}

/// A cooperative budget for a long loop: call [`tick`](YieldEvery::tick) once per
/// step, and every `n`-th call yields the thread. A CPU-bound task that never awaits
/// anything holds the loop until it ends (chapter 9); one that ticks shares it.
#[derive(Debug)]
pub struct YieldEvery {
    /// Yield on every `n`-th tick.
    n: u32,
    /// Ticks since the last yield.
    since_yield: u32,
}

impl YieldEvery {
    /// A budget that yields on every `n`-th tick.
    ///
    /// # Panics
    /// If `n` is zero.
    pub fn new(_n: u32) -> YieldEvery {
        todo!("ex02: yours to write")
    }

    /// Counts one step; on every `n`-th call, yields (see [`yield_now`]).
    pub async fn tick(&mut self) {
        todo!("ex02: yours to write")
    }
}
