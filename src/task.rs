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
//! - **Wakes may come from any thread.** A `Waker` is `Send + Sync`. A wake on the
//!   loop's own thread (a task waking a task, a timer, the reactor) pushes the task on
//!   the run queue, a plain `VecDeque` only that thread touches. A wake from another
//!   thread cannot touch it, so it sends the task through a crossbeam channel, which
//!   the loop empties into the run queue at each turn, and rings the loop's
//!   `mio::Waker`, in case the loop is parked in the reactor.
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
use crate::runtime::Core;
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

/// What a waker on another thread needs to get a task polled again: a channel into
/// the loop and a way to interrupt the loop's park. Shared by every task of one
/// runtime.
pub(crate) struct Scheduler {
    pub(crate) runtime_id: u64,
    /// Wakes from other threads; the loop moves them into its run queue each turn.
    pub(crate) remote_wakes: Sender<Arc<Task>>,
    /// Set after each send on `remote_wakes`, so the loop can see with one load that
    /// the channel has something, instead of asking the channel itself every turn.
    pub(crate) remote_wakes_waiting: AtomicBool,
    /// Rings the reactor: `mio::Poll::poll` returns at once. Only needed when the wake
    /// comes from another thread; the loop thread never parks while it is polling.
    pub(crate) loop_waker: Arc<mio::Waker>,
}

impl Task {
    /// Claims the right to queue the task: `false` if it is finished, or queued
    /// already (then this wake is free: the task is going to be polled anyway).
    fn claim_a_place_in_the_queue(&self) -> bool {
        if self.completed.load(Ordering::Acquire) {
            return false;
        }
        !self.scheduled.swap(true, Ordering::AcqRel)
    }

    /// Queues the task on `core`'s run queue (the loop's own thread) unless it is
    /// queued already or finished.
    pub(crate) fn schedule_on(self: &Arc<Self>, core: &Core) {
        if self.claim_a_place_in_the_queue() {
            core.run_queue.borrow_mut().push_back(self.clone());
        }
    }

    /// Queues the task from another thread (or from no runtime at all): through the
    /// channel, then rings the loop in case it is parked.
    fn schedule_remotely(self: &Arc<Self>) {
        self.woken_remotely.store(true, Ordering::Release);
        if !self.claim_a_place_in_the_queue() {
            return;
        }
        // The receiver lives as long as the runtime. Once the runtime is gone a send
        // fails, and there is nothing left to poll the task anyway; the same for the
        // `mio::Waker`.
        if self.scheduler.remote_wakes.send(self.clone()).is_ok() {
            // Flag after the send: a loop that sees the flag finds the task in the
            // channel. Ring after the flag: a loop woken by the ring sees the flag.
            self.scheduler
                .remote_wakes_waiting
                .store(true, Ordering::Release);
            let _ = self.scheduler.loop_waker.wake();
        }
    }
}

impl ArcWake for Task {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        let queued_on_the_loop = crate::runtime::try_with_core(|core| {
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
            arc_self.schedule_on(core);
            true
        })
        .unwrap_or(false);

        if !queued_on_the_loop {
            arc_self.schedule_remotely();
        }
    }
}
