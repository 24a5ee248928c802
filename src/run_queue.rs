//! The run queue: the tasks that are ready to be polled, in the order they were woken
//! (chapter 5).
//!
//! A wake means "put this task in line". Where the line is depends on who wakes:
//!
//! - **On the loop's own thread** (a task waking a task, a timer, the reactor) the task
//!   goes straight onto a plain `VecDeque` that only that thread touches: asyncio's
//!   `_ready` deque, tokio's local queue.
//! - **From another thread** it cannot touch that deque. It sends the task through a
//!   crossbeam channel, raises a flag, and rings the loop's `mio::Waker` in case the
//!   loop is parked in the reactor. The loop moves the channel's tasks onto the deque
//!   at the start of each turn (asyncio's `call_soon_threadsafe`, tokio's inject queue).
//!
//! The rules a reader can rely on:
//!
//! 1. **A task is queued at most once** however often it is woken before its poll
//!    (the `scheduled` flag of `task.rs`). What is queued is the task's key in the
//!    runtime's task table (`task_table.rs`), not the task: two numbers.
//! 2. **First woken, first polled**, per thread of origin; wakes from other threads
//!    join behind the ones already queued on the loop's thread.
//! 3. **The main future has no place in the deque**: it is `block_on`'s future, not
//!    `Send`, living on `block_on`'s stack. A wake of main sets a flag instead, and the
//!    loop polls main first in the next turn.
//! 4. **Which turn a task runs in** (executor.rs, step 1): the loop polls main, then
//!    the tasks in the deque at that moment, once each. So a task that main spawns or
//!    wakes runs in the *same* turn, right after main; a task that another task
//!    spawns or wakes (or that wakes itself) waits for the *next* turn, so a task that
//!    keeps waking itself cannot starve the rest.
//!
//! Which of the two doors a wake takes is decided by whoever knows which loop runs on
//! the current thread: `runtime.rs`, through the thread-local `context.rs`. This file
//! only offers the two doors, [`RunQueue::push`] and [`Injector::push_remote`].

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Receiver, Sender};

use crate::task::{Header, TaskKey};

/// The loop's side of the run queue. Lives on the loop's thread only.
pub(crate) struct RunQueue {
    /// Tasks woken on the loop's thread, in wake order.
    local: RefCell<VecDeque<TaskKey>>,
    /// Tasks woken on other threads, waiting to join `local`.
    from_other_threads: Receiver<TaskKey>,
    /// The door for other threads, shared with every waker.
    injector: Arc<Injector>,
}

/// The run queue's door for wakes that do not come from the loop's thread: shared by
/// every task of one runtime (and by main's waker), so it is `Send + Sync`.
pub(crate) struct Injector {
    runtime_id: u64,
    sender: Sender<TaskKey>,
    /// Set after each send, so the loop can see with one load that the channel has
    /// something, instead of asking the channel itself every turn.
    tasks_waiting: AtomicBool,
    /// Main's place in line (rule 3): set by a wake of main, cleared when the loop
    /// polls it.
    main_woken: AtomicBool,
    /// Rings the reactor: `mio::Poll::poll` returns at once. Only needed when the wake
    /// comes from another thread; the loop thread never parks while it is polling.
    loop_waker: Arc<mio::Waker>,
}

impl RunQueue {
    /// An empty run queue for runtime `runtime_id`, whose parked loop `loop_waker`
    /// interrupts.
    pub(crate) fn new(runtime_id: u64, loop_waker: Arc<mio::Waker>) -> RunQueue {
        let (sender, receiver) = crossbeam_channel::unbounded();
        RunQueue {
            local: RefCell::new(VecDeque::new()),
            from_other_threads: receiver,
            injector: Arc::new(Injector {
                runtime_id,
                sender,
                tasks_waiting: AtomicBool::new(false),
                main_woken: AtomicBool::new(false),
                loop_waker,
            }),
        }
    }

    /// The door other threads (and every waker) use.
    pub(crate) fn injector(&self) -> &Arc<Injector> {
        &self.injector
    }

    /// Queues `task` from the loop's own thread, unless it is queued already or
    /// finished (rule 1).
    #[inline]
    pub(crate) fn push(&self, task: &Header) {
        if task.claim_a_place_in_the_queue() {
            self.local.borrow_mut().push_back(task.key());
        }
    }

    /// The next task to poll.
    #[inline]
    pub(crate) fn pop(&self) -> Option<TaskKey> {
        // The borrow ends with this call: polling the task may wake others onto the
        // same queue.
        self.local.borrow_mut().pop_front()
    }

    /// Tasks queued on the loop's thread now.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.local.borrow().len()
    }

    /// Moves the wakes that came from other threads onto the deque, behind the ones
    /// already there (rule 2).
    #[inline]
    pub(crate) fn take_wakes_from_other_threads(&self) {
        if !self.injector.tasks_waiting.load(Ordering::Acquire)
            || !self.injector.tasks_waiting.swap(false, Ordering::AcqRel)
        {
            return;
        }
        let mut local = self.local.borrow_mut();
        while let Ok(task) = self.from_other_threads.try_recv() {
            local.push_back(task);
        }
    }

    /// Whether main was woken since its last poll; clears the flag. The load first:
    /// the swap is a locked instruction, and in most turns main sleeps.
    #[inline]
    pub(crate) fn take_main_wake(&self) -> bool {
        let main = &self.injector.main_woken;
        main.load(Ordering::Acquire) && main.swap(false, Ordering::AcqRel)
    }

    /// Whether anything waits to be polled: main, a task on the deque, or a task in
    /// the channel from another thread.
    #[inline]
    pub(crate) fn has_work(&self) -> bool {
        !self.local.borrow().is_empty()
            || self.injector.tasks_waiting.load(Ordering::Acquire)
            || self.injector.main_woken.load(Ordering::Acquire)
    }

    /// Whether main is woken and waits for its poll (the `--step` view).
    pub(crate) fn main_is_woken(&self) -> bool {
        self.injector.main_woken.load(Ordering::Acquire)
    }

    /// The queued tasks' keys, in the order they will run (the `--step` view).
    pub(crate) fn keys(&self) -> Vec<TaskKey> {
        self.local.borrow().iter().copied().collect()
    }
}

impl Injector {
    /// The runtime whose queue this door leads to.
    pub(crate) fn runtime_id(&self) -> u64 {
        self.runtime_id
    }

    /// Queues `task` from another thread (or from no runtime at all): through the
    /// channel, then rings the loop in case it is parked.
    pub(crate) fn push_remote(&self, task: &Header) {
        task.mark_woken_remotely();
        if !task.claim_a_place_in_the_queue() {
            return;
        }
        // The receiver lives as long as the runtime. Once the runtime is gone a send
        // fails, and there is nothing left to poll the task anyway; the same for the
        // `mio::Waker`.
        if self.sender.send(task.key()).is_ok() {
            // Flag after the send: a loop that sees the flag finds the task in the
            // channel. Ring after the flag: a loop woken by the ring sees the flag.
            self.tasks_waiting.store(true, Ordering::Release);
            let _ = self.loop_waker.wake();
        }
    }

    /// Puts main in line (rule 3). `on_the_loop_thread`: the wake comes from the loop
    /// itself, which is running and so needs no ring.
    pub(crate) fn wake_main(&self, on_the_loop_thread: bool) {
        self.main_woken.store(true, Ordering::Release);
        if !on_the_loop_thread {
            let _ = self.loop_waker.wake();
        }
    }
}
