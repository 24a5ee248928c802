//! Exercise 4 (chapter 5), reference solution: abort a task from outside.
//!
//! ```text
//! cargo test -p looplab-exercises --test ex04_abortable
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
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
///
/// tokio: `JoinHandle::abort`; asyncio: `Task.cancel()` (which raises `CancelledError`
/// inside the coroutine; in Rust, dropping the future is the whole cancellation).
pub fn spawn_abortable<F>(future: F) -> (AbortHandle, JoinHandle<Result<F::Output, Aborted>>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (handle, future) = abortable(future);
    (handle, looplab::spawn(future))
}

/// Wraps `future` so that it can be aborted, without spawning it.
pub fn abortable<F: Future>(future: F) -> (AbortHandle, Abortable<F>) {
    let shared = Arc::new(AbortShared {
        aborted: AtomicBool::new(false),
        waker: Mutex::new(None),
    });
    (
        AbortHandle {
            shared: shared.clone(),
        },
        Abortable {
            future: Some(Box::pin(future)),
            shared,
        },
    )
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
    /// once by waking it: a task asleep for an hour does not sleep on. Aborting a task
    /// that has finished changes nothing.
    pub fn abort(&self) {
        // The flag first, then the wake: the poll the wake causes must see the flag.
        self.shared.aborted.store(true, Ordering::SeqCst);
        let waker = self.shared.waker.lock().unwrap().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Whether [`abort`](AbortHandle::abort) has been called.
    pub fn is_aborted(&self) -> bool {
        self.shared.aborted.load(Ordering::SeqCst)
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

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.shared.aborted.load(Ordering::SeqCst) {
            // Drop the inner future now: its timers and sockets go with it.
            self.future = None;
            return Poll::Ready(Err(Aborted));
        }
        // Store the waker *before* polling the inner future: an abort from another
        // thread that comes after the check above and before this store would find no
        // waker to wake. So check the flag once more after storing. (That second check
        // alone is enough, `exercises/right/ex04/register_then_check_once.rs`; the
        // first only saves the store when the abort came long before.)
        {
            let mut stored = self.shared.waker.lock().unwrap();
            match stored.as_ref() {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *stored = Some(cx.waker().clone()),
            }
        }
        if self.shared.aborted.load(Ordering::SeqCst) {
            self.future = None;
            return Poll::Ready(Err(Aborted));
        }
        let future = self
            .future
            .as_mut()
            .expect("an Abortable was polled again after it finished");
        match future.as_mut().poll(cx) {
            Poll::Ready(output) => {
                self.future = None;
                Poll::Ready(Ok(output))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
