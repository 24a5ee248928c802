//! Exercise 14 (chapter 10): a second worker thread, and two loops that steal work
//! from each other.
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex14_work_stealing
//! ```
//!
//! The statement: `exercises/README.md`, "ex14_work_stealing".
//! Hints, when you are stuck: `exercises/hints/ex14.md`.
//!
//! **The part.** A small, complete executor built the way looplab's is, without timers
//! or sockets: tasks are `Arc<Task>`s whose waker queues them again, at most once
//! (the `scheduled` flag); the run queue is a `VecDeque` in a `RefCell` that only the
//! loop's thread touches, found through a thread-local, as looplab's `spawn` finds its
//! runtime; a wake from another thread comes through a channel, and the loop, when it
//! has nothing to run, waits on that channel. [`Pool::run`] runs a root task and every
//! task it spawns, and returns when all of them have finished.
//!
//! This starting point has one loop, on the thread that calls [`Pool::run`], however
//! many workers the pool was made with.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use crossbeam_channel::{Receiver, Sender};

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// An executor of `workers` loops.
pub struct Pool {
    workers: usize,
}

impl Pool {
    /// A pool of `workers` loops, each on a thread of its own.
    ///
    /// # Panics
    /// If `workers` is zero.
    pub fn new(workers: usize) -> Pool {
        assert!(workers > 0, "a pool needs at least one worker");
        Pool { workers }
    }

    /// How many workers the pool has.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Runs `root` and every task spawned from it (and from those), and returns once
    /// they have all finished.
    ///
    /// # Panics
    /// If called inside a task, or if a task panics.
    pub fn run<F>(&self, root: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (remote_wakes, remote_rx) = crossbeam_channel::unbounded();
        let local = Rc::new(Loop {
            run_queue: RefCell::new(VecDeque::new()),
            remote_wakes,
            remote_rx,
            live: Cell::new(0),
        });
        CURRENT.with(|current| {
            let mut current = current.borrow_mut();
            assert!(current.is_none(), "Pool::run inside a task of a pool");
            *current = Some(local.clone());
        });
        let _reset = ResetCurrent;
        spawn(root);
        local.run();
    }
}

thread_local! {
    /// The loop running on this thread, if any: how `spawn` and a wake find the run
    /// queue.
    static CURRENT: RefCell<Option<Rc<Loop>>> = const { RefCell::new(None) };
}

/// Clears [`CURRENT`] when `run` ends, even by a panic.
struct ResetCurrent;

impl Drop for ResetCurrent {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|current| current.borrow_mut().take());
    }
}

/// One loop: its run queue and what it needs to know when it is done.
struct Loop {
    /// Tasks ready to be polled, in order. Only this loop's thread touches it.
    run_queue: RefCell<VecDeque<Arc<Task>>>,
    /// Wakes from other threads: any thread may send, the loop receives.
    remote_wakes: Sender<Arc<Task>>,
    remote_rx: Receiver<Arc<Task>>,
    /// Tasks spawned and not finished yet.
    live: Cell<usize>,
}

impl Loop {
    fn run(&self) {
        while self.live.get() > 0 {
            // Tasks woken from other threads join the queue first.
            while let Ok(task) = self.remote_rx.try_recv() {
                self.run_queue.borrow_mut().push_back(task);
            }
            // The borrow ends with this statement: polling may wake tasks onto the
            // same queue.
            let next = self.run_queue.borrow_mut().pop_front();
            match next {
                Some(task) => self.poll(task),
                // Nothing to run, tasks still alive: only another thread can wake one.
                None => {
                    let task = self
                        .remote_rx
                        .recv()
                        .expect("the loop keeps a sender, so the channel stays open");
                    self.run_queue.borrow_mut().push_back(task);
                }
            }
        }
    }

    fn poll(&self, task: Arc<Task>) {
        // Cleared before the poll: a wake during the poll must queue the task again.
        task.scheduled.store(false, Ordering::Release);
        let waker = Waker::from(task.clone());
        let mut cx = Context::from_waker(&waker);
        let mut slot = task.future.lock().unwrap();
        // A task can be queued after it finished, if a wake raced with its last poll.
        let Some(future) = slot.as_mut() else {
            return;
        };
        if future.as_mut().poll(&mut cx).is_ready() {
            *slot = None;
            self.live.set(self.live.get() - 1);
        }
    }
}

/// A spawned future, and the way back into its loop's run queue.
struct Task {
    /// `None` once finished. A `Mutex` because a waker, and so the task it points to,
    /// must be `Send + Sync`.
    future: Mutex<Option<BoxFuture>>,
    /// In a run queue (or on its way there) already: further wakes add nothing.
    scheduled: AtomicBool,
    /// Where a wake from another thread goes.
    remote_wakes: Sender<Arc<Task>>,
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        // On the loop's thread: straight into its run queue. Anywhere else: the channel.
        let queued_here = CURRENT.with(|current| match current.borrow().as_ref() {
            Some(local) => {
                local.run_queue.borrow_mut().push_back(self.clone());
                true
            }
            None => false,
        });
        if !queued_here {
            // The loop may have finished and dropped its receiver: then there is no one
            // to run the task, and nothing to do.
            let _ = self.remote_wakes.send(self.clone());
        }
    }
}

/// Spawns a task on the pool this thread runs.
///
/// # Panics
/// Outside a task of [`Pool::run`].
pub fn spawn<F>(future: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    CURRENT.with(|current| {
        let current = current.borrow();
        let local = current
            .as_ref()
            .expect("spawn works only inside a task of Pool::run");
        let task = Arc::new(Task {
            future: Mutex::new(Some(Box::pin(future))),
            scheduled: AtomicBool::new(true),
            remote_wakes: local.remote_wakes.clone(),
        });
        local.live.set(local.live.get() + 1);
        local.run_queue.borrow_mut().push_back(task);
    });
}

/// Gives the thread to the other ready tasks once, then goes on (exercise 2).
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
#[must_use = "a YieldNow does nothing until it is awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
