//! `yield_now`: give the loop's thread to the other ready tasks once, then go on.
//!
//! Spoiler: this file is the answer to exercise 2 (`exercises/README.md`). Write yours
//! first; chapter 5 reads this one after.
//!
//! looplab has no `yield_now` of its own because building it is that exercise; the
//! examples of chapters 2, 5 and 9 and the `yield_now` benchmark share this copy (the
//! benchmarks include this file with a `#[path]` module). tokio's is
//! `tokio::task::yield_now`, asyncio's `await asyncio.sleep(0)`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Gives the thread to the other ready tasks once, then goes on.
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future behind [`yield_now`]: `Pending` once, then `Ready`.
#[must_use = "a YieldNow does nothing until it is awaited"]
pub struct YieldNow {
    /// Set by the first poll; the second poll sees it and finishes.
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        // No timer or socket will ever wake this task, so it wakes itself: the wake
        // puts it at the back of the run queue, behind every task already there.
        // Without it, this `Pending` would be the task's last poll.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
