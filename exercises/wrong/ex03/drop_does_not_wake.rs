//! WRONG: marks the sender gone when it is dropped, but wakes no one: the receiver finds out only if something else polls it.
//!
//! A drop-in for `src/start/ex03_bug_stale_waker.rs`; checked by `tests/wrong_solutions.rs`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// Makes a one-shot channel: one value, from the [`Sender`] to the [`Receiver`].
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Mutex::new(Shared {
        value: None,
        sender_gone: false,
        waker: None,
    }));
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

/// What both ends share.
struct Shared<T> {
    /// The value, from `send` until the receiver takes it.
    value: Option<T>,
    /// The sender was dropped (after sending or not): no value will come after this.
    sender_gone: bool,
    /// The waker `send` (or the sender's drop) wakes: the task waiting for the value.
    waker: Option<Waker>,
}

/// The sending end of a [`channel`]: sends one value, or is dropped without one.
pub struct Sender<T> {
    shared: Arc<Mutex<Shared<T>>>,
}

impl<T> Sender<T> {
    /// Sends the value and wakes the task waiting for it. Sending to a receiver that is
    /// gone does nothing (the value is dropped with the slot).
    pub fn send(self, value: T) {
        let waker = {
            let mut shared = self.shared.lock().unwrap();
            shared.value = Some(value);
            shared.waker.take()
        };
        // Wake outside the lock: the woken task may be polled on this very thread.
        if let Some(waker) = waker {
            waker.wake();
        }
        // `self` is dropped here; its `Drop` finds no waker left to wake.
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut shared = self.shared.lock().unwrap();
            shared.sender_gone = true;
            shared.waker.take()
        };
        // The receiver sees `sender_gone` on its next poll.
        drop(waker);
    }
}

/// The receiving end of a [`channel`]: a future of the value, or of [`Canceled`] if
/// the sender was dropped without sending.
#[must_use = "a Receiver does nothing until it is awaited"]
pub struct Receiver<T> {
    shared: Arc<Mutex<Shared<T>>>,
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, Canceled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut shared = self.shared.lock().unwrap();
        if let Some(value) = shared.value.take() {
            return Poll::Ready(Ok(value));
        }
        if shared.sender_gone {
            return Poll::Ready(Err(Canceled));
        }
        // Leave a waker for `send`: the waker of *this* poll, always. Between two polls
        // a future may move to another task (a `timeout` gave up on it, a `select`
        // polled it, it was sent into a `spawn`), and the waker of an earlier poll then
        // wakes a task that no longer polls it. `will_wake` skips the clone when the
        // stored waker already wakes the same task, the common case.
        match &shared.waker {
            Some(stored) if stored.will_wake(cx.waker()) => {}
            _ => shared.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

/// The sender was dropped without sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Canceled;

impl fmt::Display for Canceled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the sender was dropped without sending")
    }
}

impl std::error::Error for Canceled {}
