//! Waiting for tasks: `JoinHandle`, `JoinError` and `join_all` (chapter 5).
//!
//! [`spawn`](crate::spawn) hands the future to the loop and gives back a
//! [`JoinHandle`]: a future of the task's result. Between them sits a small shared
//! slot: the task puts its output (or its panic) there when it finishes and wakes
//! whoever waits on the handle.
//!
//! Three decisions a runtime has to make here, and looplab's answers:
//!
//! - **A panic stays in its task.** The task's poll runs under `catch_unwind`; a panic
//!   becomes a [`JoinError`] carrying the message, the task counts as finished, and the
//!   loop and every other task go on. (asyncio does the same: the exception is stored
//!   in the `Task` and re-raised by `await task`.)
//! - **Dropping a `JoinHandle` detaches the task**, as in tokio: the task keeps running
//!   and its output is dropped when it finishes. Cancelling is a separate, explicit act
//!   (an exercise adds `JoinHandle::abort`). This makes "spawn and forget" work, which is
//!   how servers spawn one task per connection.
//! - **The output waits in the slot** until the handle takes it, so a handle awaited
//!   long after its task finished still gets the value.
//!
//! [`join_all`] waits for many futures and returns their outputs in input order,
//! whatever order they finish in, like asyncio's `gather`.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::task::{TaskFuture, TaskId, TaskOutcome};

/// The slot between a task and its handle.
struct JoinSlot<T> {
    result: Option<Result<T, JoinError>>,
    /// The task awaiting the handle, woken when the result arrives.
    waiter: Option<Waker>,
    /// The handle already returned the result once.
    taken: bool,
}

/// A future of a spawned task's result: `Ok(output)`, or `Err(JoinError)` if the task
/// panicked.
///
/// Dropping the handle **detaches** the task: it keeps running and its output is
/// dropped when it finishes.
pub struct JoinHandle<T> {
    id: TaskId,
    slot: Arc<Mutex<JoinSlot<T>>>,
}

impl<T> JoinHandle<T> {
    /// The task's number, as the trace shows it.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// Whether the task has finished (completed or panicked). Does not wait.
    pub fn is_finished(&self) -> bool {
        let slot = self.slot.lock().unwrap();
        slot.result.is_some() || slot.taken
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.slot.lock().unwrap();
        if let Some(result) = slot.result.take() {
            slot.taken = true;
            return Poll::Ready(result);
        }
        assert!(
            !slot.taken,
            "a JoinHandle was polled again after it returned its result"
        );
        // Keep only the newest waker: the handle may have moved to another task.
        match &slot.waiter {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => slot.waiter = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("id", &self.id).finish()
    }
}

/// Why a task gave no result: it panicked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinError {
    task: TaskId,
    panic_message: String,
}

impl JoinError {
    /// The task that failed.
    pub fn task(&self) -> TaskId {
        self.task
    }

    /// Whether the task panicked (the only way a task fails today; an exercise adds
    /// cancellation).
    pub fn is_panic(&self) -> bool {
        true
    }

    /// The panic's message (`"<non-string panic payload>"` if it was not a string).
    pub fn panic_message(&self) -> &str {
        &self.panic_message
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} panicked: {}", self.task, self.panic_message)
    }
}

impl std::error::Error for JoinError {}

/// Turns a panic payload into text: `panic!("...")` carries a `&str` or a `String`.
/// (Public for tests and examples that catch panics themselves.)
pub fn panic_message_of(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

/// Wraps a user's future into what a task runs: poll under `catch_unwind`, and on
/// completion put the output (or the panic) into the handle's slot and wake its waiter.
pub(crate) fn into_task<F>(id: TaskId, future: F) -> (TaskFuture, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let slot = Arc::new(Mutex::new(JoinSlot {
        result: None,
        waiter: None,
        taken: false,
    }));
    let handle = JoinHandle {
        id,
        slot: slot.clone(),
    };
    let writer = SlotWriter { slot: Some(slot) };
    let body = async move {
        // `pin!` pins the future inside this async block's own (already pinned)
        // state: safe, and no second allocation.
        let mut future = std::pin::pin!(future);
        let outcome = std::future::poll_fn(|cx| {
            match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
                Ok(Poll::Pending) => Poll::Pending,
                Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
                Err(payload) => Poll::Ready(Err(panic_message_of(&*payload))),
            }
        })
        .await;
        let (result, outcome) = match outcome {
            Ok(value) => (Ok(value), TaskOutcome::Completed),
            Err(message) => (
                Err(JoinError {
                    task: id,
                    panic_message: message.clone(),
                }),
                TaskOutcome::Panicked(message),
            ),
        };
        let waiter = writer.finish(result);
        if let Some(waiter) = waiter {
            waiter.wake();
        }
        outcome
    };
    (Box::pin(body), handle)
}

/// The task's end of its join slot. If the task's future is dropped before it has a
/// result (its runtime was dropped with the task still waiting), the task awaiting
/// the handle can never be woken: drop its waker now. Kept, that waker would hold the
/// awaiting task, whose future holds the handle, which holds this slot, which holds
/// the waker: a cycle of `Arc`s that nothing would ever free.
struct SlotWriter<T> {
    /// `None` once [`finish`](SlotWriter::finish) has delivered the result.
    slot: Option<Arc<Mutex<JoinSlot<T>>>>,
}

impl<T> SlotWriter<T> {
    /// Puts the task's result in the slot and returns the waiter to wake (outside the
    /// lock: the waiter may be polled on this same thread later, and lock it then).
    fn finish(mut self, result: Result<T, JoinError>) -> Option<Waker> {
        let slot = self.slot.take()?;
        let mut slot = slot.lock().unwrap();
        slot.result = Some(result);
        slot.waiter.take()
    }
}

impl<T> Drop for SlotWriter<T> {
    fn drop(&mut self) {
        // Finished: the result is delivered, nothing to let go of.
        let Some(slot) = self.slot.take() else {
            return;
        };
        let waiter = slot.lock().ok().and_then(|mut slot| slot.waiter.take());
        // Dropped after the lock is released: it may free the awaiting task.
        drop(waiter);
    }
}

/// Waits for every future and returns their outputs **in input order**, whatever
/// order they finish in (asyncio's `gather`).
///
/// Every future is polled each time the `JoinAll` is woken, which is O(n) per wake:
/// fine for the tens of futures a program joins this way. (futures' `join_all`
/// switches to a smarter structure for large n.)
pub fn join_all<I>(futures: I) -> JoinAll<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    let pending: Vec<Option<Pin<Box<I::Item>>>> =
        futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let outputs = pending.iter().map(|_| None).collect();
    JoinAll { pending, outputs }
}

/// The future returned by [`join_all`].
pub struct JoinAll<F: Future> {
    /// `None` once that future has finished.
    pending: Vec<Option<Pin<Box<F>>>>,
    outputs: Vec<Option<F::Output>>,
}

// The boxed futures are pinned on the heap; the vectors themselves may move freely.
impl<F: Future> Unpin for JoinAll<F> {}

impl<F: Future> Future for JoinAll<F> {
    type Output = Vec<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mut all_done = true;
        for (future, output) in this.pending.iter_mut().zip(this.outputs.iter_mut()) {
            if let Some(f) = future {
                match f.as_mut().poll(cx) {
                    Poll::Ready(value) => {
                        *output = Some(value);
                        *future = None;
                    }
                    Poll::Pending => all_done = false,
                }
            }
        }
        if !all_done {
            return Poll::Pending;
        }
        let outputs = std::mem::take(&mut this.outputs);
        Poll::Ready(outputs.into_iter().map(|o| o.unwrap()).collect())
    }
}
