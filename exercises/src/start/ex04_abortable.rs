//! Exercise 4 (chapter 5): abort a task from outside.
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex04_abortable
//! ```
//!
//! The statement: `exercises/README.md`, "ex04_abortable".
//! Hints, when you are stuck: `exercises/hints/ex04.md`.
//!
//! Read `src/task.rs` and `src/join.rs` first: how a task hands its output to its `JoinHandle`.
// The starting point declares fields that only your code will read: delete this line
// once the exercise is done.
#![allow(dead_code)]

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::task::{Context, Poll, Waker};

use looplab::JoinHandle;

/// The output of an aborted task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Aborted;

impl fmt::Display for Aborted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the task was aborted")
    }
}

impl std::error::Error for Aborted {}

/// Spawns `future` as a task that can be stopped from outside: the task ends with
/// `Err(Aborted)` as soon as the loop polls it after [`AbortHandle::abort`], and its
/// future is dropped then, with every timer and socket it held.
pub fn spawn_abortable<F>(_future: F) -> (AbortHandle, JoinHandle<Result<F::Output, Aborted>>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    todo!("ex04: yours to write")
}

/// Wraps `future` so that it can be aborted, without spawning it.
pub fn abortable<F: Future>(_future: F) -> (AbortHandle, Abortable<F>) {
    todo!("ex04: yours to write")
}

/// What the handle and the task share: the flag, and whom to wake when it is set.
struct AbortShared {
    aborted: AtomicBool,
    /// The waker of the task's latest poll.
    waker: Mutex<Option<Waker>>,
}

/// Stops an [`Abortable`] future (and so the task running it). Cheap to clone, and may
/// be used from any thread.
#[derive(Clone)]
pub struct AbortHandle {
    shared: Arc<AbortShared>,
}

impl AbortHandle {
    /// Asks the task to stop. It ends at its next poll, which this call brings about at
    /// once: a task asleep for an hour does not sleep on. Aborting a task that has
    /// finished changes nothing.
    pub fn abort(&self) {
        todo!("ex04: yours to write")
    }

    /// Whether [`abort`](AbortHandle::abort) has been called.
    pub fn is_aborted(&self) -> bool {
        todo!("ex04: yours to write")
    }
}

/// A future that finishes with `Err(Aborted)` once its [`AbortHandle`] is used.
#[must_use = "an Abortable does nothing until it is awaited"]
pub struct Abortable<F> {
    /// Boxed so `Abortable` is `Unpin` (no pin projection); `None` once finished.
    future: Option<Pin<Box<F>>>,
    shared: Arc<AbortShared>,
}

impl<F: Future> Future for Abortable<F> {
    type Output = Result<F::Output, Aborted>;

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Self::Output> {
        todo!("ex04: yours to write")
    }
}
