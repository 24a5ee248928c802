//! Tasks and their wakers (chapter 4).
//!
//! A **task** is a spawned future plus what the loop and the task's `JoinHandle` need:
//! a number, a place in the runtime's task table, a way back into the run queue, and
//! a cell where the future's output waits for the handle. A future alone cannot be
//! "woken": it is just a value. The task is what a [`Waker`] points at, so that
//! whoever holds the waker (a timer, the reactor, another task, another thread) can
//! say "poll this one again".
//!
//! ## Two halves: what is shared, and what only the loop touches
//!
//! A task is split in two, by who may touch what:
//!
//! - **`Arc<Task<T>>`, the shared half**: the header (number, flags, the way to the
//!   run queue) and the cell where the output waits. Every waker points at it, and so
//!   does the `JoinHandle<T>`. Wakers may be used on any thread, so this half must be
//!   `Sync`: its flags are atomics and its output cell is a `Mutex`, locked once when
//!   the task finishes and when the handle looks.
//! - **`Spawned<F>`, the loop's half**: the future itself, boxed so it can be pinned,
//!   and the `Arc` of the shared half. Nothing else points at it: the runtime's task
//!   table owns it (as a `Box<dyn Runnable>`, its type erased), and the loop takes it
//!   out of the table for each poll. So a poll locks nothing and counts no
//!   references: the waker it lends the future is made from the `Arc` in place
//!   (futures-task's `waker_ref`), and cloned only if the future keeps it.
//!
//! An earlier looplab kept the future inside the shared half, behind the same
//! `Mutex`: one allocation fewer, but a lock and an unlock on every poll, and a
//! reference count up and down to take the task from the table. On the `wake`
//! benchmark those four atomic operations were most of looplab's own share of a
//! wake (BENCHMARKS.md, issue 22). tokio keeps everything in one allocation and
//! polls through an atomic state word, laid out by hand in `unsafe` code.
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
use std::sync::{Arc, Mutex};
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
    #[inline]
    pub(crate) fn id(&self) -> TaskId {
        self.id
    }

    #[inline]
    pub(crate) fn key(&self) -> TaskKey {
        self.key
    }

    /// Whether the future has returned `Ready` (or panicked).
    #[inline]
    pub(crate) fn is_finished(&self) -> bool {
        self.completed.load(Ordering::Acquire)
    }

    /// Claims the right to queue the task: `false` if it is finished, or queued
    /// already (then this wake is free: the task is going to be polled anyway).
    #[inline]
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
    #[inline]
    pub(crate) fn take_woken_remotely(&self) -> bool {
        self.woken_remotely.load(Ordering::Acquire)
            && self.woken_remotely.swap(false, Ordering::AcqRel)
    }

    /// Whether this is the task's first poll (`true` once).
    #[inline]
    pub(crate) fn first_poll(&self) -> bool {
        !self.polled.swap(true, Ordering::Relaxed)
    }
}

/// A panic's message, as the task keeps it for its handle: boxed twice so that a
/// finished task's output (`Ok(value)` or this) takes one word beside the value.
type PanicMessage = Box<Box<str>>;

/// Where the task's output is in its life.
enum Stage<T> {
    /// The future has not finished yet.
    Running,
    /// Done: the output, or the panic's message, waits for the `JoinHandle`.
    Finished(Result<T, PanicMessage>),
    /// The `JoinHandle` took the output.
    Taken,
    /// The runtime was dropped before the task finished: the future is gone, and
    /// there will be no output.
    Abandoned,
}

/// The stage, and who awaits the task's `JoinHandle`, under one lock.
struct OutputCell<T> {
    stage: Stage<T>,
    join_waiter: Option<Waker>,
}

/// What a task shares with its wakers and its `JoinHandle`: the header, and the cell
/// where the output waits. The future is not in here: the loop alone holds it
/// ([`Runnable`]).
pub(crate) struct Task<T> {
    header: Header,
    /// A `Mutex` because a `Waker` must be `Sync`, so `Task` must be. It is locked when
    /// the task finishes and when its handle looks, never around a poll.
    output: Mutex<OutputCell<T>>,
}

/// The part of a task that only the loop holds, with the future's type erased: the
/// runtime's task table keeps one per live task.
pub(crate) trait Runnable: Send {
    fn header(&self) -> &Header;
    /// Polls the future once with the task's own waker. `Ready` once the future has
    /// finished (or panicked); its output is in the task by then.
    fn poll(&mut self) -> Poll<TaskOutcome>;
    /// Drops the future and the handle's waiter (the runtime is being dropped).
    fn abandon(self: Box<Self>);
}

/// A spawned future and the task it belongs to. Nothing else points at it, so the loop
/// polls it through a plain `&mut`: no lock, and no reference counted.
struct Spawned<F: Future> {
    /// Boxed so it can be pinned; `None` once it finished (dropped at once, so its
    /// sockets close and its timers are cancelled at completion).
    future: Option<Pin<Box<F>>>,
    task: Arc<Task<F::Output>>,
}

/// Builds a task: the part its `JoinHandle` and wakers share, and the part the loop
/// polls. `key` is its place in the runtime's task table.
pub(crate) fn new_task<F>(
    id: TaskId,
    key: TaskKey,
    future: F,
    scheduler: Arc<dyn Schedule>,
) -> (Arc<Task<F::Output>>, Box<dyn Runnable>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let task = Arc::new(Task {
        header: Header {
            id,
            key,
            scheduled: AtomicBool::new(false),
            completed: AtomicBool::new(false),
            woken_remotely: AtomicBool::new(false),
            polled: AtomicBool::new(false),
            scheduler,
        },
        output: Mutex::new(OutputCell {
            stage: Stage::Running,
            join_waiter: None,
        }),
    });
    let spawned = Spawned {
        future: Some(Box::pin(future)),
        task: task.clone(),
    };
    (task, Box::new(spawned))
}

impl<T: Send + 'static> Task<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, OutputCell<T>> {
        // A poisoned lock only means a panic elsewhere while it was held; the cell
        // itself is always whole.
        self.output.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The future has finished: its output waits for the handle, and whoever awaits
    /// the handle is woken.
    fn finish(&self, output: Result<T, PanicMessage>) {
        let waiter = {
            let mut cell = self.lock();
            cell.stage = Stage::Finished(output);
            self.header.completed.store(true, Ordering::Release);
            cell.join_waiter.take()
        };
        // Woken outside the lock: the waiter may be polled on another thread at once,
        // and lock the cell then.
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }

    /// The runtime is being dropped and the future with it: an unfinished task will
    /// never finish (a finished one keeps its output for the handle), and the handle's
    /// waiter is let go.
    fn abandon(&self) {
        let waiter = {
            let mut cell = self.lock();
            if matches!(cell.stage, Stage::Running) {
                cell.stage = Stage::Abandoned;
            }
            cell.join_waiter.take()
        };
        // Dropped after the lock is released: dropping a waker may free another task,
        // which locks its own cell (never this one).
        drop(waiter);
    }

    /// The `JoinHandle`'s poll: the output if the task is done, else the waiter's
    /// waker is kept (only the newest: the handle may have moved to another task).
    ///
    /// # Panics
    /// If the output was taken already: a handle polled again after `Ready`.
    pub(crate) fn poll_output(&self, cx: &mut Context<'_>) -> Poll<Result<T, Box<str>>> {
        let mut cell = self.lock();
        match std::mem::replace(&mut cell.stage, Stage::Taken) {
            Stage::Finished(output) => return Poll::Ready(output.map_err(|message| *message)),
            Stage::Taken => panic!("a JoinHandle was polled again after it returned its result"),
            unfinished => cell.stage = unfinished,
        }
        match &cell.join_waiter {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => cell.join_waiter = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    /// Whether the task has finished (completed or panicked).
    pub(crate) fn is_finished(&self) -> bool {
        self.header.is_finished()
    }

    pub(crate) fn id(&self) -> TaskId {
        self.header.id
    }
}

impl<F> Runnable for Spawned<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn header(&self) -> &Header {
        &self.task.header
    }

    fn poll(&mut self) -> Poll<TaskOutcome> {
        // Clear the flag before polling: a wake that arrives during the poll (from the
        // task itself, or another thread) must queue the task again, not be swallowed.
        self.task.header.scheduled.store(false, Ordering::Release);
        let Some(future) = self.future.as_mut() else {
            // Finished already. The loop drops a task when it finishes, so this is
            // never asked; if it were, there is nothing to do.
            return Poll::Pending;
        };
        // The task's own waker, lent for this poll: made from the task's `Arc`
        // without touching its count.
        let waker = waker_ref(&self.task);
        let mut cx = Context::from_waker(&waker);
        // A panic stays in its task: it becomes the handle's error, and the loop and
        // every other task go on.
        let (mut output, mut outcome) =
            match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx))) {
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready(value)) => (Ok(value), TaskOutcome::Completed),
                Err(payload) => panicked(&*payload),
            };
        // Drop the future before the output is handed over: its sockets close and its
        // timers are cancelled at completion, and their trace lines come before
        // "Ready". A drop that panics is the task's panic too: caught, or the task
        // would never finish and its handle would wait for a future that is gone.
        let future = self.future.take();
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| drop(future))) {
            (output, outcome) = panicked(&*payload);
        }
        self.task.finish(output);
        Poll::Ready(outcome)
    }

    fn abandon(self: Box<Self>) {
        let Spawned { future, task } = *self;
        // The future first, outside the lock: dropping it may drop other tasks'
        // handles and wakers, which lock their own cells (never this one).
        drop(future);
        task.abandon();
    }
}

/// A panic caught in a task, as the task's output and as the loop sees it.
fn panicked<T>(payload: &(dyn Any + Send)) -> (Result<T, PanicMessage>, TaskOutcome) {
    let message = panic_message_of(payload);
    let outcome = TaskOutcome::Panicked(message.clone());
    (Err(Box::new(message.into_boxed_str())), outcome)
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
