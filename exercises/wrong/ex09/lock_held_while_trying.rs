//! WRONG: leaves the waker and tries under one lock, to make the two one step; a producer that notifies meanwhile waits for that lock, and a `try_take` that waits for its producer never ends.
//!
//! A drop-in for `src/start/ex09_bug_lost_wakeup.rs`; checked by `tests/wrong_solutions.rs`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

/// Whom to wake when an event source has something: the waker of the task waiting on
/// it. Shared by the producer (any thread, usually through an `Arc`) and the consumer.
///
/// It holds one waker: one consumer per source, like one reader per socket half.
#[derive(Default)]
pub struct Readiness {
    /// The waiting task's waker, from its latest `Pending`; taken by `notify`.
    waker: Mutex<Option<Waker>>,
}

impl Readiness {
    /// A readiness with no task waiting.
    pub fn new() -> Readiness {
        Readiness::default()
    }

    /// Producer side, after each item it made available: wakes the waiting task, if a
    /// task is waiting. A notify with no one waiting does nothing: a task that comes
    /// later finds the item with its own `try_take`.
    pub fn notify(&self) {
        let waker = self.waker.lock().unwrap().take();
        // Wake outside the lock: waking may run code that calls back into us.
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// Waits for the next item: `try_take` gives one if there is one (and must never
/// block), and `readiness` is what its producer notifies after making one available.
pub fn next_item<T, F>(readiness: &Readiness, try_take: F) -> NextItem<'_, F>
where
    F: FnMut() -> Option<T> + Unpin,
{
    NextItem {
        readiness,
        try_take,
    }
}

/// The future returned by [`next_item`].
#[must_use = "a NextItem does nothing until it is awaited"]
pub struct NextItem<'a, F> {
    readiness: &'a Readiness,
    /// The non-blocking attempt: `Some(item)`, or `None` for "nothing yet" (the
    /// `WouldBlock` of a socket).
    try_take: F,
}

impl<T, F> Future for NextItem<'_, F>
where
    F: FnMut() -> Option<T> + Unpin,
{
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = &mut *self;
        // Leave our waker *before* trying. A producer may add an item and notify at any
        // moment on its own thread; if that lands after our try found nothing, the
        // notify must find the waker, or no one will ever wake us. Stored first, the
        // worst case is a wake we did not need (the try below already took the item),
        // which costs one spurious poll. Stored after, a notify in between is lost for
        // good. (tokio closes the same window with a readiness "tick" in ScheduledIo.)
        // Under the lock, no notify can come between the try and the waker.
        let mut waker = this.readiness.waker.lock().unwrap();
        if let Some(item) = (this.try_take)() {
            return Poll::Ready(item);
        }
        *waker = Some(cx.waker().clone());
        Poll::Pending
    }
}
