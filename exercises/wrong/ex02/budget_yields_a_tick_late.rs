//! WRONG: counts ticks from 1 but compares with `>`: it yields on every (n+1)-th tick.
//!
//! A drop-in for `src/start/ex02_yield_now.rs`; checked by `tests/wrong_solutions.rs`.

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

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        // No timer or socket will ever wake this task: it must wake itself, or a
        // `Pending` here would be the end of it. The wake puts the task at the *back*
        // of the run queue, so every task already queued runs before it comes back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A cooperative budget for a long loop: call [`tick`](YieldEvery::tick) once per
/// step, and every `n`-th call yields the thread. A CPU-bound task that never awaits
/// anything holds the loop until it ends (chapter 9); one that ticks shares it.
///
/// tokio does this without being asked: every task gets a budget of 128 operations
/// per poll (`tokio::task::coop`), and a resource that finds the budget spent returns
/// `Pending` after waking the task, exactly like [`YieldNow`].
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
    pub fn new(n: u32) -> YieldEvery {
        assert!(
            n > 0,
            "YieldEvery::new(0): a budget of zero steps would never run"
        );
        YieldEvery { n, since_yield: 0 }
    }

    /// Counts one step; on every `n`-th call, yields (see [`yield_now`]).
    pub async fn tick(&mut self) {
        self.since_yield += 1;
        if self.since_yield > self.n {
            self.since_yield = 0;
            yield_now().await;
        }
    }
}
