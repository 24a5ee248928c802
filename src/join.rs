//! Waiting for tasks: `JoinHandle`, `JoinError` and `join_all` (chapter 5).
//!
//! [`spawn`](crate::spawn) hands the future to the loop and gives back a
//! [`JoinHandle`]: a future of the task's result. The handle holds the task itself
//! (one allocation, `task.rs`): when the task finishes, its output (or its panic)
//! takes the future's place inside it, and the task wakes whoever waits on the handle.
//!
//! Three decisions a runtime has to make here, and looplab's answers:
//!
//! - **A panic stays in its task.** The task's poll runs under `catch_unwind`; a panic
//!   becomes a [`JoinError`] carrying the message, the task counts as finished, and the
//!   loop and every other task go on. (asyncio does the same: the exception is stored
//!   in the `Task` and re-raised by `await task`.)
//! - **Dropping a `JoinHandle` detaches the task**, as in tokio: the task keeps running
//!   (the runtime's task table owns it) and its output is dropped with the task. Cancelling is a separate, explicit act
//!   (an exercise adds `JoinHandle::abort`). This makes "spawn and forget" work, which is
//!   how servers spawn one task per connection.
//! - **The output waits in the task** until the handle takes it, so a handle awaited
//!   long after its task finished still gets the value. If the runtime is dropped
//!   first, an unfinished task is abandoned: its future is dropped, and its handle
//!   never becomes ready.
//! - **A task that awaits its own handle gets an error, not a hang.** It would wait for
//!   itself forever (tokio's handle simply never becomes ready). The handle is asked
//!   with its own task's waker in hand (which that task's poll lends out, and which
//!   nothing else should hold while polling the handle), and resolves to a
//!   [`JoinError`] that says so ([`JoinError::is_self_await`]). A task that reaches its
//!   own handle through a combinator with wakers of its own is not recognised, and
//!   waits forever, as in tokio.
//!
//! [`join_all`] waits for many futures and returns their outputs in input order,
//! whatever order they finish in, like asyncio's `gather`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

pub use crate::task::panic_message_of;
use crate::task::{Task, TaskId};

/// A future of a spawned task's result: `Ok(output)`, or `Err(JoinError)` if the task
/// panicked.
///
/// Dropping the handle **detaches** the task: it keeps running and its output is
/// dropped when it finishes.
pub struct JoinHandle<T> {
    /// The task itself: its output waits inside it (`task.rs`).
    task: Arc<Task<T>>,
}

impl<T: Send + 'static> JoinHandle<T> {
    pub(crate) fn new(task: Arc<Task<T>>) -> JoinHandle<T> {
        JoinHandle { task }
    }

    /// The task's number, as the trace shows it.
    pub fn id(&self) -> TaskId {
        self.task.id()
    }

    /// Whether the task has finished (completed or panicked). Does not wait.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl<T: Send + 'static> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let error = |cause| JoinError {
            task: self.task.id(),
            cause,
        };
        // Only the task's own poll has its waker in hand: a task that is not finished
        // and asks with its own waker is awaiting itself. Compared by the waker's data
        // pointer (the task's `Arc`), not `will_wake`: that compares vtable addresses
        // too, and an optimised build may hold two copies of the same vtable.
        let own = Arc::as_ptr(&self.task).cast::<()>();
        if !self.task.is_finished() && std::ptr::eq(cx.waker().data(), own) {
            return Poll::Ready(Err(error(Cause::AwaitedItself)));
        }
        self.task
            .poll_output(cx)
            .map(|output| output.map_err(|m| error(Cause::Panicked(m.into()))))
    }
}

impl<T: Send + 'static> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .finish()
    }
}

/// Why a handle gave no result: the task panicked, or it was awaited by itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinError {
    task: TaskId,
    cause: Cause,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Cause {
    Panicked(String),
    /// The task awaited its own `JoinHandle`.
    AwaitedItself,
}

impl JoinError {
    /// The task that failed.
    pub fn task(&self) -> TaskId {
        self.task
    }

    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.cause, Cause::Panicked(_))
    }

    /// Whether the task awaited its own handle: it would have waited for itself
    /// forever, so the handle gave up at once. The task itself goes on.
    pub fn is_self_await(&self) -> bool {
        self.cause == Cause::AwaitedItself
    }

    /// The panic's message (`"<non-string panic payload>"` if it was not a string);
    /// empty if the task did not panic (see [`is_panic`](Self::is_panic)).
    pub fn panic_message(&self) -> &str {
        match &self.cause {
            Cause::Panicked(message) => message,
            Cause::AwaitedItself => "",
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            Cause::Panicked(message) => write!(f, "{} panicked: {message}", self.task),
            Cause::AwaitedItself => write!(
                f,
                "{} awaited its own JoinHandle: a task cannot wait for itself to finish \
                 (it would wait forever)",
                self.task
            ),
        }
    }
}

impl std::error::Error for JoinError {}

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
