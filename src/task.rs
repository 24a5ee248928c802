//! Tasks and their wakers (chapter 4).
//!
//! A **task** is a spawned future plus what the loop and the task's `JoinHandle` need:
//! a number, a place in the runtime's task table, a way back into the run queue, and
//! a cell where the future's output waits for the handle. A future alone cannot be
//! "woken": it is just a value. The task is what a [`Waker`] points at, so that
//! whoever holds the waker (a timer, the reactor, another task, another thread) can
//! say "poll this one again".
//!
//! ## One allocation, and the future's own box
//!
//! A task is one `Arc<Task<T>>`, shared three ways: by the runtime's task table (which
//! owns every live task), by every waker made for it, and by its `JoinHandle<T>`.
//! Inside it sit the header (number, flags, the way to the run queue) and the task's
//! stage: first the future, then its output. The future itself keeps a `Box` of
//! its own: polling needs it pinned (`Pin<&mut F>`), and a value inside a shared,
//! lockable cell cannot be pinned there without `unsafe`. tokio's `RawTask` saves that
//! second allocation too, by laying out header, future and output in one block by hand
//! and promising the compiler, in `unsafe` code, never to move the future.
//!
//! ## The waker
//!
//! The waker is built with futures-task's [`ArcWake`]: implement `wake_by_ref` for
//! `Arc<Task<T>>` and futures-task builds the `RawWakerVTable` for us, without
//! `unsafe`. (Example `ch04_wakers` builds the same thing by hand, to show what that
//! saves.) Waking is "put me back in the run queue", with one rule that lives here:
//!
//! - **Queued at most once.** A task woken ten times before its next poll is polled
//!   once; the `scheduled` flag makes the extra wakes free.
//!
//! Where the task goes is not this file's business: a task only knows *something* that
//! can `Schedule` it. Chapter 5's run queue is that something (`run_queue.rs`), so this
//! file needs nothing from a later chapter.
//!
//! asyncio has no separate task object for wakes: `Future.add_done_callback` plus
//! `loop.call_soon(task.__step)` play this part. tokio's is `tokio::runtime::task`.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, TryLockError};
use std::task::{Context, Poll, Waker};

use futures_task::{ArcWake, waker_ref};

/// A task's number, unique within one runtime. The `block_on` future is task 0, "main".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub u64);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task {}", self.0)
    }
}

/// Where a task sits in its runtime's task table: the slot, and the low bits of the
/// task's number. A key that outlives its task (the slot since given to another)
/// names a number the slot no longer holds, so it is recognised as stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TaskKey {
    pub(crate) index: u32,
    pub(crate) id_bits: u32,
}

impl TaskKey {
    pub(crate) fn new(index: u32, id: TaskId) -> TaskKey {
        TaskKey {
            index,
            // Only a tag: two tasks 2^32 spawns apart would share it, and a stale key
            // lives a turn or two.
            id_bits: id.0 as u32,
        }
    }
}

/// How a poll that finished the task ended, as the loop sees it: the value itself
/// stays in the task for the `JoinHandle`.
pub(crate) enum TaskOutcome {
    Completed,
    Panicked(String),
}

/// Whatever can put a woken task back in line to be polled: the run queue of the
/// task's runtime. A `Waker` may be used on any thread, so this must be `Send + Sync`.
pub(crate) trait Schedule: Send + Sync {
    /// Puts the task with this header in line for a poll. Called on every wake.
    fn schedule(&self, task: &Header);
}

/// What every task has, whatever its output type: what the loop, the run queue and
/// the trace need.
pub(crate) struct Header {
    id: TaskId,
    key: TaskKey,
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
    /// Set at the task's first poll (counted only while tracing: the counters tell a
    /// first poll from a later one that ends `Pending` again).
    polled: AtomicBool,
    /// Where a wake sends the task.
    scheduler: Arc<dyn Schedule>,
}

impl Header {
    pub(crate) fn id(&self) -> TaskId {
        self.id
    }

    pub(crate) fn key(&self) -> TaskKey {
        self.key
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

    /// Whether this is the task's first poll (`true` once).
    pub(crate) fn first_poll(&self) -> bool {
        !self.polled.swap(true, Ordering::Relaxed)
    }
}

/// The future a task runs, boxed so it can be pinned.
type BoxedFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Where the task is in its life. The future and its output never exist at once, so
/// they share the space.
enum Stage<T> {
    /// Waiting for its next poll.
    Waiting(BoxedFuture<T>),
    /// Done: the output, or the panic's message, waits for the `JoinHandle`.
    Finished(Result<T, Box<str>>),
    /// The `JoinHandle` took the output.
    Taken,
    /// The runtime was dropped before the task finished: the future is gone, and
    /// there will be no output.
    Abandoned,
}

/// The stage, and who awaits the task's `JoinHandle`, under one lock.
struct Cell<T> {
    stage: Stage<T>,
    join_waiter: Option<Waker>,
}

/// A spawned future, its header and its output, in one allocation.
pub(crate) struct Task<T> {
    header: Header,
    /// A `Mutex` because a `Waker` must be `Sync`, so `Task` must be. Only the loop
    /// thread polls, and a handle is awaited by one task at a time, so the lock is in
    /// practice never contended.
    cell: Mutex<Cell<T>>,
}

/// A task with its output type erased: what the task table and the loop hold.
pub(crate) trait Runnable: Send + Sync {
    fn header(&self) -> &Header;
    /// Polls the future once with the task's own waker. `None` if the task was
    /// finished already (a wake raced with its completion).
    fn poll(self: Arc<Self>) -> Option<Poll<TaskOutcome>>;
    /// Drops the future and the handle's waiter (the runtime is being dropped).
    fn abandon(&self);
}

impl<T: Send + 'static> Task<T> {
    pub(crate) fn new(
        id: TaskId,
        key: TaskKey,
        future: BoxedFuture<T>,
        scheduler: Arc<dyn Schedule>,
    ) -> Arc<Task<T>> {
        Arc::new(Task {
            header: Header {
                id,
                key,
                scheduled: AtomicBool::new(false),
                completed: AtomicBool::new(false),
                woken_remotely: AtomicBool::new(false),
                polled: AtomicBool::new(false),
                scheduler,
            },
            cell: Mutex::new(Cell {
                stage: Stage::Waiting(future),
                join_waiter: None,
            }),
        })
    }

    /// The `JoinHandle`'s poll: the output if the task is done, else the waiter's
    /// waker is kept (only the newest: the handle may have moved to another task).
    /// `None`: the task is being polled at this very moment, so it cannot be looked
    /// at (the caller decides what that means: `join.rs`).
    ///
    /// # Panics
    /// If the output was taken already: a handle polled again after `Ready`.
    pub(crate) fn poll_output(&self, cx: &mut Context<'_>) -> Option<Poll<Result<T, Box<str>>>> {
        let mut cell = match self.cell.try_lock() {
            Ok(cell) => cell,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        match std::mem::replace(&mut cell.stage, Stage::Taken) {
            Stage::Finished(output) => return Some(Poll::Ready(output)),
            Stage::Taken => panic!("a JoinHandle was polled again after it returned its result"),
            unfinished => cell.stage = unfinished,
        }
        match &cell.join_waiter {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => cell.join_waiter = Some(cx.waker().clone()),
        }
        Some(Poll::Pending)
    }

    /// Whether the task has finished (completed or panicked).
    pub(crate) fn is_finished(&self) -> bool {
        self.header.is_finished()
    }

    pub(crate) fn id(&self) -> TaskId {
        self.header.id
    }
}

impl<T: Send + 'static> Runnable for Task<T> {
    fn header(&self) -> &Header {
        &self.header
    }

    fn poll(self: Arc<Self>) -> Option<Poll<TaskOutcome>> {
        // Clear the flag before polling: a wake that arrives during the poll (from the
        // task itself, or another thread) must queue the task again, not be swallowed.
        self.header.scheduled.store(false, Ordering::Release);
        let waker = waker_ref(&self);
        let mut cx = Context::from_waker(&waker);
        // The cell stays locked while the future runs: one lock per poll. A handle
        // polled meanwhile finds it locked and asks again (`poll_output`).
        let mut cell = self.cell.lock().unwrap();
        let Stage::Waiting(future) = &mut cell.stage else {
            return None;
        };
        // A panic stays in its task: it becomes the handle's error, and the loop and
        // every other task go on.
        let output = match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx))) {
            Ok(Poll::Pending) => return Some(Poll::Pending),
            Ok(Poll::Ready(value)) => Ok(value),
            Err(payload) => Err(panic_message_of(&*payload).into_boxed_str()),
        };
        let outcome = match &output {
            Ok(_) => TaskOutcome::Completed,
            Err(message) => TaskOutcome::Panicked(message.to_string()),
        };
        let future = std::mem::replace(&mut cell.stage, Stage::Finished(output));
        let waiter = cell.join_waiter.take();
        self.header.completed.store(true, Ordering::Release);
        drop(cell);
        // Drop the future now, outside the lock: its sockets close and its timers are
        // cancelled at completion, not whenever the last handle happens to go away.
        drop(future);
        // Woken outside the lock: the waiter may be polled on this same thread later,
        // and lock the cell then.
        if let Some(waiter) = waiter {
            waiter.wake();
        }
        Some(Poll::Ready(outcome))
    }

    fn abandon(&self) {
        let (future, waiter) = {
            let mut cell = self.cell.lock().unwrap_or_else(|e| e.into_inner());
            let future = match cell.stage {
                Stage::Waiting(_) => Some(std::mem::replace(&mut cell.stage, Stage::Abandoned)),
                // Finished: the output stays for the handle.
                _ => None,
            };
            (future, cell.join_waiter.take())
        };
        // Dropped after the lock is released: dropping a future or a waker may free
        // other tasks, which may lock their own cells (never this one).
        drop(future);
        drop(waiter);
    }
}
impl<T: Send + 'static> ArcWake for Task<T> {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.header.scheduler.schedule(&arc_self.header);
    }
}

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
