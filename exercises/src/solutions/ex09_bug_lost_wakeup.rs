//! Exercise 9, a bug hunt (chapter 7), reference solution: an event source that sometimes never
//! woke its task.
//!
//! ```text
//! cargo test -p looplab-exercises --test ex09_bug_lost_wakeup
//! ```
//!
//! **The bug.** `NextItem::poll` tried to take an item first and stored its waker
//! after. A producer that added an item and notified *between* the two found no waker,
//! woke no one, and the task then stored its waker and slept with an item waiting: the
//! classic lost wakeup. **The fix:** store the waker first, then try (see the comment
//! in `NextItem::poll`).
//!
//! The handshake is the reactor's (`src/reactor/mod.rs`), fed from another thread: a
//! producer makes an item available and calls [`Readiness::notify`]; a task awaits
//! [`next_item`], which takes an item or leaves its waker and waits.

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
        // The other right answer: try, leave the waker, then try once more (an item
        // that came before the waker was in is found by the second try):
        // `exercises/right/ex09/try_register_try.rs`.
        *this.readiness.waker.lock().unwrap() = Some(cx.waker().clone());
        if let Some(item) = (this.try_take)() {
            return Poll::Ready(item);
        }
        Poll::Pending
    }
}
