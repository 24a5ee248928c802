//! Exercise 9, a bug hunt (chapter 7): an event source that sometimes never wakes its task.
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex09_bug_lost_wakeup
//! ```
//!
//! **The part.** The handshake at the heart of the reactor (`src/reactor/mod.rs`), small
//! and fed from another thread. A *producer* puts an item where the task can take it
//! without waiting (a queue, a socket's receive buffer) and then calls
//! [`Readiness::notify`], the way the OS reports a socket readable. A task awaits
//! [`next_item`]: it tries to take an item (`try_take`, a non-blocking read), and when
//! there is none it leaves its waker with the [`Readiness`] and returns `Pending`.
//! `notify` wakes that waker, and the task tries again.
//!
//! The statement: `exercises/README.md`, "ex09_bug_lost_wakeup".
//! Hints, when you are stuck: `exercises/hints/ex09.md`.
//! This file has exactly one bug.

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
        // An item already there: no waiting, no waker.
        if let Some(item) = (this.try_take)() {
            return Poll::Ready(item);
        }
        // Nothing yet: leave our waker, so the producer's next `notify` brings us back.
        *this.readiness.waker.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}
