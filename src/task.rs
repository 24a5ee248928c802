//! Tasks and their wakers (chapter 4).
//!
//! A **task** is a spawned future plus what the loop needs to run it: a number, a
//! name for the trace, and a way back into the run queue. A future alone cannot be
//! "woken": it is just a value. The task is what a [`Waker`](std::task::Waker) points
//! at, so that whoever holds the waker (a timer, the reactor, another task, another
//! thread) can say "poll this one again".
//!
//! The waker is built with futures-task's [`ArcWake`]: implement `wake_by_ref` for
//! `Arc<Task>` and futures-task builds the `RawWakerVTable` for us, without `unsafe`.
//! (Example `ch04_wakers` builds the same thing by hand, to show what that saves.)
//!
//! Waking is "put me back in the run queue", with two rules:
//!
//! - **Queued at most once.** A task woken ten times before its next poll is polled
//!   once; the `scheduled` flag makes the extra wakes free.
//! - **Wakes may come from any thread.** A `Waker` is `Send + Sync`, so the run queue
//!   is a crossbeam channel, and a wake from a thread that is not the loop's also
//!   rings the loop's `mio::Waker`, in case the loop is parked in the reactor.
//!
//! asyncio has no separate task object for wakes: `Future.add_done_callback` plus
//! `loop.call_soon(task.__step)` play this part. tokio's is `tokio::runtime::task`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::Sender;
use futures_task::ArcWake;

use crate::join::TaskOutcome;
use crate::trace::{Event, TaskId};

/// The future a task runs, type-erased: every task's future ends in a
/// [`TaskOutcome`] because its real output has already gone to its `JoinHandle`.
pub(crate) type TaskFuture = Pin<Box<dyn Future<Output = TaskOutcome> + Send>>;

/// A spawned future and the bookkeeping that lets wakers reschedule it.
pub(crate) struct Task {
    pub(crate) id: TaskId,
    /// The future, until it completes. `None` afterwards: a finished task's future is
    /// dropped at once (with everything it owned), not when the last waker goes away.
    /// A `Mutex` because a `Waker` must be `Sync`, so `Task` must be; only the loop
    /// thread ever locks it, so the lock is never contended.
    pub(crate) future: Mutex<Option<TaskFuture>>,
    /// Set when the task is put in the run queue, cleared just before it is polled.
    /// While set, further wakes do nothing: the task is already going to be polled.
    /// Cleared *before* the poll (not after) so that a wake arriving during the poll
    /// queues the task again instead of being lost.
    pub(crate) scheduled: AtomicBool,
    /// Set once the future has returned `Ready` (or panicked). Wakes after that are
    /// ignored: waking a finished task is harmless.
    pub(crate) completed: AtomicBool,
    /// Set by a wake from another OS thread, so the loop can trace who woke the task
    /// when it picks it up (the waking thread has no access to the loop's trace).
    pub(crate) woken_remotely: AtomicBool,
    /// The loop's state this task needs to schedule itself from any thread.
    pub(crate) scheduler: Arc<Scheduler>,
}

/// What a waker needs to get a task polled again: the run queue's sending end and a
/// way to interrupt the loop's park. Shared by every task of one runtime.
pub(crate) struct Scheduler {
    pub(crate) runtime_id: u64,
    pub(crate) run_queue: Sender<Arc<Task>>,
    /// Rings the reactor: `mio::Poll::poll` returns at once. Only needed when the wake
    /// comes from another thread; the loop thread never parks while it is polling.
    pub(crate) loop_waker: Arc<mio::Waker>,
}

impl Task {
    /// Queues the task unless it is queued already or finished. Returns whether it was
    /// queued by this call.
    pub(crate) fn schedule(self: &Arc<Self>) -> bool {
        if self.completed.load(Ordering::Acquire) {
            return false;
        }
        if self.scheduled.swap(true, Ordering::AcqRel) {
            return false;
        }
        // The receiver lives as long as the runtime. Once the runtime is gone a send
        // fails, and there is nothing left to poll the task anyway.
        //
        // One queue for every wake keeps the rule simple, but it is a channel built for
        // many threads, paid even by a wake from the loop's own thread: about a fifth
        // of a task-to-task wake (BENCHMARKS.md, `wake`). The fast version, tokio's, is
        // two queues: a plain `VecDeque` in the loop for wakes on its own thread
        // (`wake_by_ref` below already knows which thread it is on), and this channel
        // only for wakes from other threads, drained into the deque at each turn.
        self.scheduler.run_queue.send(self.clone()).is_ok()
    }
}

impl ArcWake for Task {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        let on_loop_thread = crate::runtime::try_with_core(|core| {
            if core.id != arc_self.scheduler.runtime_id {
                return false;
            }
            // A wake while some task is being polled is a task waking a task. Wakes
            // by timers and I/O happen between polls; their own events name the tasks.
            if let Some(by) = core.current_task.get()
                && core.tracer.enabled()
                && !arc_self.completed.load(Ordering::Acquire)
            {
                core.tracer.emit(
                    core.clock.now(),
                    Event::WokenByTask {
                        task: arc_self.id,
                        by,
                    },
                );
            }
            true
        })
        .unwrap_or(false);

        if on_loop_thread {
            arc_self.schedule();
        } else {
            arc_self.woken_remotely.store(true, Ordering::Release);
            if arc_self.schedule() {
                // The loop may be parked in `Poll::poll`; ring it. An error here means
                // the runtime is gone, and then no one is left to poll the task.
                let _ = arc_self.scheduler.loop_waker.wake();
            }
        }
    }
}
