//! Tasks and their wakers (chapter 4).
//!
//! A **task** is a spawned future plus what the loop needs to run it: a number, a
//! way back into the run queue, and how it ended. A future alone cannot be "woken": it
//! is just a value. The task is what a [`Waker`](std::task::Waker) points at, so that
//! whoever holds the waker (a timer, the reactor, another task, another thread) can
//! say "poll this one again".
//!
//! The waker is built with futures-task's [`ArcWake`]: implement `wake_by_ref` for
//! `Arc<Task>` and futures-task builds the `RawWakerVTable` for us, without `unsafe`.
//! (Example `ch04_wakers` builds the same thing by hand, to show what that saves.)
//!
//! Waking is "put me back in the run queue", with one rule that lives here:
//!
//! - **Queued at most once.** A task woken ten times before its next poll is polled
//!   once; the `scheduled` flag makes the extra wakes free.
//!
//! Where the task goes is not this file's business: a task only knows *something*
//! that can `Schedule` it. Chapter 5's run queue is that something (`run_queue.rs`),
//! so this file needs nothing from a later chapter.
//!
//! asyncio has no separate task object for wakes: `Future.add_done_callback` plus
//! `loop.call_soon(task.__step)` play this part. tokio's is `tokio::runtime::task`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_task::{ArcWake, waker_ref};

/// A task's number, unique within one runtime. The `block_on` future is task 0, "main".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub u64);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task {}", self.0)
    }
}

/// How a task's future ended, as the loop sees it: the value itself has already gone
/// to the `JoinHandle`.
pub(crate) enum TaskOutcome {
    Completed,
    Panicked(String),
}

/// The future a task runs, type-erased: every task's future ends in a
/// [`TaskOutcome`] because its real output has already gone to its `JoinHandle`.
pub(crate) type TaskFuture = Pin<Box<dyn Future<Output = TaskOutcome> + Send>>;

/// Whatever can put a woken task back in line to be polled: the run queue of the
/// task's runtime. A `Waker` may be used on any thread, so this must be `Send + Sync`.
pub(crate) trait Schedule: Send + Sync {
    /// Puts `task` in line for a poll. Called on every wake, from any thread.
    fn schedule(&self, task: &Arc<Task>);
}

/// A spawned future and the bookkeeping that lets wakers reschedule it.
pub(crate) struct Task {
    id: TaskId,
    /// The future, until it completes. `None` afterwards: a finished task's future is
    /// dropped at once (with everything it owned), not when the last waker goes away.
    /// A `Mutex` because a `Waker` must be `Sync`, so `Task` must be; only the loop
    /// thread ever locks it, so the lock is never contended.
    future: Mutex<Option<TaskFuture>>,
    /// Set when the task is put in the run queue, cleared just before it is polled.
    /// While set, further wakes do nothing: the task is already going to be polled.
    /// Cleared *before* the poll (not after) so that a wake arriving during the poll
    /// queues the task again instead of being lost.
    scheduled: AtomicBool,
    /// Set once the future has returned `Ready` (or panicked). Wakes after that are
    /// ignored: waking a finished task is harmless.
    completed: AtomicBool,
    /// Set by a wake from another OS thread, so the loop can trace who woke the task
    /// when it picks it up (the waking thread has no access to the loop's trace).
    woken_remotely: AtomicBool,
    /// Where a wake sends the task.
    scheduler: Arc<dyn Schedule>,
}

impl Task {
    pub(crate) fn new(id: TaskId, future: TaskFuture, scheduler: Arc<dyn Schedule>) -> Arc<Task> {
        Arc::new(Task {
            id,
            future: Mutex::new(Some(future)),
            scheduled: AtomicBool::new(false),
            completed: AtomicBool::new(false),
            woken_remotely: AtomicBool::new(false),
            scheduler,
        })
    }

    pub(crate) fn id(&self) -> TaskId {
        self.id
    }

    /// Whether the future has returned `Ready` (or panicked).
    pub(crate) fn is_finished(&self) -> bool {
        self.completed.load(Ordering::Acquire)
    }

    /// Claims the right to queue the task: `false` if it is finished, or queued
    /// already (then this wake is free: the task is going to be polled anyway).
    pub(crate) fn claim_a_place_in_the_queue(&self) -> bool {
        if self.is_finished() {
            return false;
        }
        !self.scheduled.swap(true, Ordering::AcqRel)
    }

    /// Notes that another thread woke the task (for the trace).
    pub(crate) fn mark_woken_remotely(&self) {
        self.woken_remotely.store(true, Ordering::Release);
    }

    /// Whether another thread woke the task since the last call. The load first: the
    /// swap is a locked instruction, and nearly every wake comes from the loop thread.
    pub(crate) fn take_woken_remotely(&self) -> bool {
        self.woken_remotely.load(Ordering::Acquire)
            && self.woken_remotely.swap(false, Ordering::AcqRel)
    }

    /// Polls the future once, with this task's own waker. `None` if the task had
    /// finished already (a wake raced with its completion). On `Ready` the future is
    /// dropped at once: its sockets close and its timers are cancelled now, not
    /// whenever the last waker happens to go away.
    pub(crate) fn poll(self: &Arc<Self>) -> Option<Poll<TaskOutcome>> {
        // Clear the flag before polling: a wake that arrives during the poll (from the
        // task itself, or another thread) must queue the task again, not be swallowed.
        self.scheduled.store(false, Ordering::Release);
        let waker = waker_ref(self);
        let mut cx = Context::from_waker(&waker);
        let mut slot = self.future.lock().unwrap();
        let future = slot.as_mut()?;
        let result = future.as_mut().poll(&mut cx);
        if result.is_ready() {
            self.completed.store(true, Ordering::Release);
            let finished = slot.take();
            // Dropped after the lock is released: dropping a future may wake tasks.
            drop(slot);
            drop(finished);
        }
        Some(result)
    }
}

impl ArcWake for Task {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.scheduler.schedule(arc_self);
    }
}
