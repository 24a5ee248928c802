//! Exercise 14 (chapter 10), reference solution: a second worker thread, and two loops
//! that steal work from each other.
//!
//! ```text
//! cargo test -p looplab-exercises --test ex14_work_stealing
//! ```
//!
//! **The part.** A small executor of `workers` loops, each on a thread of its own,
//! without timers or sockets. [`Pool::run`] runs a root task and every task it spawns,
//! and returns when all of them have finished.
//!
//! **What changed from one loop** (the starting point, built like looplab):
//!
//! - **The run queue.** One loop had a `VecDeque` in a `RefCell`, touched only by its
//!   thread. Now each worker owns a `crossbeam_deque::Worker`: it pushes and pops at
//!   its own end without a lock, and the others take from the far end through a
//!   `Stealer`, half of what is there at a time. Spawns and wakes from threads that are
//!   not workers go to one shared `Injector`, the role looplab's remote-wake channel
//!   plays. (Putting every task in that one shared queue is right too, and simpler:
//!   `exercises/right/ex14/one_shared_queue.rs`; both workers then contend for it on
//!   every push and pop, which a queue of one's own avoids.)
//! - **The thread-local.** It said "the loop running on this thread"; now it says
//!   "which worker of which pool this thread is", so that `spawn` and a wake on a
//!   worker reach that worker's own queue, and a wake anywhere else the injector.
//! - **The `scheduled` flag becomes a state.** One loop cleared the flag before each
//!   poll, so that a wake during the poll queued the task again: harmless when the
//!   same thread both polls and pops. With two, the other worker could steal that
//!   entry and poll the task while the first still polls it. In safe Rust the `Mutex`
//!   around the future turns that into a wait, not a crash; the state word avoids the
//!   wait altogether: a wake during a poll only marks the task (`NOTIFIED`), and the
//!   worker that polled queues it again when the poll ends. So a task is in at most one
//!   queue or one poll at any moment, and one that finished (`DONE`) is never queued.
//! - **`Send` and `Sync` everywhere.** Futures were already `Send` (`spawn` asked for
//!   it, since wakers cross threads); now the executor's own state is shared too:
//!   `Rc` became `Arc`, the `Cell` counting live tasks an atomic, and the `RefCell`
//!   queue lock-free deques. A future holding an `Rc` across an `.await` cannot be
//!   spawned here (tokio's `spawn_local` on a `LocalSet` is for those).
//! - **Idle and done.** One loop was done when its own count of live tasks reached
//!   zero, and idle when its queue was empty. Now the count is shared, and an idle
//!   worker sleeps on a condition variable, from which any thread that queues work
//!   wakes it. The announce-then-check order below is exercise 9's lost wakeup, met
//!   again between threads.
//!
//! **What tokio's multi-thread scheduler adds.** A LIFO slot per worker (a task just
//! woken runs next, while its data is still in cache), a fixed-size local queue that
//! overflows half of itself into the injector, a cap on how many idle workers search
//! for work at once, the I/O and timer drivers (one worker parks on epoll while the
//! others sleep), the budget of exercise 12, a state word that packs these flags with
//! the reference count and the `JoinHandle`'s interest, and `block_in_place`.

use std::cell::RefCell;
use std::future::Future;
use std::iter;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering, fence};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;

use crossbeam_deque::{Injector, Steal, Stealer, Worker};

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
        assert!(
            WORKER.with(|worker| worker.borrow().is_none()),
            "Pool::run inside a task of a pool"
        );
        let queues: Vec<Worker<Arc<Task>>> = iter::repeat_with(Worker::new_fifo)
            .take(self.workers)
            .collect();
        let shared = Arc::new(Shared {
            injector: Injector::new(),
            stealers: queues.iter().map(Worker::stealer).collect(),
            live: AtomicUsize::new(0),
            aborted: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            sleep_lock: Mutex::new(()),
            wakeup: Condvar::new(),
        });
        shared.add_task(Box::pin(root), None);
        thread::scope(|scope| {
            for (index, queue) in queues.into_iter().enumerate() {
                let shared = shared.clone();
                thread::Builder::new()
                    .name(format!("worker-{index}"))
                    .spawn_scoped(scope, move || worker_main(shared, queue, index))
                    .expect("the OS refused a worker thread");
            }
        });
        // A worker that panicked re-raises its panic from `scope` above.
    }
}

/// What every worker, task and waker of one pool share.
struct Shared {
    /// Tasks queued by threads that are not workers of this pool (and the root).
    injector: Injector<Arc<Task>>,
    /// The far end of every worker's queue, one per worker.
    stealers: Vec<Stealer<Arc<Task>>>,
    /// Tasks spawned and not finished. At zero, the workers go home.
    live: AtomicUsize,
    /// A task panicked: every worker stops, and `run` re-raises the panic.
    aborted: AtomicBool,
    /// Workers asleep on `wakeup`, or about to be (see [`Shared::sleep`]).
    sleepers: AtomicUsize,
    sleep_lock: Mutex<()>,
    wakeup: Condvar,
}

impl Shared {
    /// A new task, queued on `worker` if the spawning thread is one, else injected.
    fn add_task(self: &Arc<Self>, future: BoxFuture, worker: Option<&WorkerContext>) {
        self.live.fetch_add(1, Ordering::AcqRel);
        let task = Arc::new(Task {
            future: Mutex::new(Some(future)),
            state: AtomicU8::new(SCHEDULED),
            pool: self.clone(),
        });
        self.push(task, worker);
    }

    /// Queues a task that has just become `SCHEDULED`.
    fn push(&self, task: Arc<Task>, worker: Option<&WorkerContext>) {
        match worker {
            Some(worker) => worker.queue.push(task),
            None => self.injector.push(task),
        }
        // Pairs with the fence in `sleep`: either this load sees the sleeper, or the
        // sleeper's check sees the task just pushed. Never neither.
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            let _lock = self.sleep_lock.lock().unwrap();
            self.wakeup.notify_one();
        }
    }

    /// Whether any queue holds a task a worker could take.
    fn has_work(&self) -> bool {
        !self.injector.is_empty() || self.stealers.iter().any(|s| !s.is_empty())
    }

    fn finished(&self) -> bool {
        self.live.load(Ordering::Acquire) == 0 || self.aborted.load(Ordering::Acquire)
    }

    /// Sleeps until there may be work, or everything is done.
    fn sleep(&self) {
        let lock = self.sleep_lock.lock().unwrap();
        // Announce first, then look: a `push` after the announcement will notify, and
        // one before it is seen by `has_work`. The lock is held from the check to the
        // wait, so a notify cannot fall between them.
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if !self.has_work() && !self.finished() {
            drop(self.wakeup.wait(lock).unwrap());
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
    }

    /// Wakes every sleeping worker: everything is done, or a task panicked.
    fn wake_all_workers(&self) {
        let _lock = self.sleep_lock.lock().unwrap();
        self.wakeup.notify_all();
    }
}

/// One worker: its own queue, and which pool it belongs to.
struct WorkerContext {
    pool: Arc<Shared>,
    queue: Worker<Arc<Task>>,
    index: usize,
}

thread_local! {
    /// The worker this thread is, if any: how `spawn` and a wake find its queue.
    static WORKER: RefCell<Option<Rc<WorkerContext>>> = const { RefCell::new(None) };
}

fn worker_main(pool: Arc<Shared>, queue: Worker<Arc<Task>>, index: usize) {
    let worker = Rc::new(WorkerContext {
        pool: pool.clone(),
        queue,
        index,
    });
    WORKER.with(|current| *current.borrow_mut() = Some(worker.clone()));
    let _on_exit = OnWorkerExit(pool.clone());
    while !pool.finished() {
        match find_task(&worker) {
            Some(task) => task.run(&worker),
            None => pool.sleep(),
        }
    }
}

/// Clears the thread-local when a worker ends, and if it ends by a panic, stops the
/// others (they might otherwise sleep for ever, waiting for the task that died).
struct OnWorkerExit(Arc<Shared>);

impl Drop for OnWorkerExit {
    fn drop(&mut self) {
        let _ = WORKER.try_with(|current| current.borrow_mut().take());
        if thread::panicking() {
            self.0.aborted.store(true, Ordering::Release);
            self.0.wake_all_workers();
        }
    }
}

/// The next task for `worker`: its own queue first, then the injector, then the
/// other workers' queues, starting with the next one so that not every idle worker
/// robs the same victim.
fn find_task(worker: &WorkerContext) -> Option<Arc<Task>> {
    if let Some(task) = worker.queue.pop() {
        return Some(task);
    }
    let pool = &worker.pool;
    let victims = pool.stealers.len();
    iter::repeat_with(|| {
        let from_others = (1..victims)
            .map(|k| &pool.stealers[(worker.index + k) % victims])
            .map(|stealer| stealer.steal_batch_and_pop(&worker.queue));
        pool.injector
            .steal_batch_and_pop(&worker.queue)
            .or_else(|| from_others.collect())
    })
    // `Retry`: a steal raced with another thief; look again.
    .find(|steal| !steal.is_retry())
    .and_then(Steal::success)
}

// A task's state. Only the transitions drawn here happen:
//
//   IDLE --wake--> SCHEDULED --popped--> RUNNING --Pending--> IDLE
//                                           |  \--Ready----> DONE
//                                         wake
//                                           v
//                                        NOTIFIED --Pending--> SCHEDULED (queued again)
//                                                 \--Ready---> DONE
//
// A wake in SCHEDULED, NOTIFIED or DONE changes nothing.

/// Not queued, not running: a wake queues it.
const IDLE: u8 = 0;
/// In exactly one queue.
const SCHEDULED: u8 = 1;
/// Being polled by one worker.
const RUNNING: u8 = 2;
/// Being polled, and woken meanwhile: queued again when the poll ends.
const NOTIFIED: u8 = 3;
/// Finished; never queued or polled again.
const DONE: u8 = 4;

/// A spawned future and where it belongs.
struct Task {
    /// `None` once finished. Only the worker that moved the task to `RUNNING` locks
    /// it, so the lock is never contended; it is here because a `Task` must be `Sync`
    /// (wakers point to it from any thread) and safe Rust needs a lock for that.
    future: Mutex<Option<BoxFuture>>,
    state: AtomicU8,
    pool: Arc<Shared>,
}

impl Task {
    /// Polls the task once on `worker`. It was `SCHEDULED`, popped from a queue.
    fn run(self: Arc<Self>, worker: &WorkerContext) {
        let was = self.state.swap(RUNNING, Ordering::AcqRel);
        debug_assert_eq!(was, SCHEDULED, "a task ran that was not scheduled");
        let waker = Waker::from(self.clone());
        let mut cx = Context::from_waker(&waker);
        let poll = {
            let mut slot = self.future.lock().unwrap();
            let future = slot.as_mut().expect("a task is never queued after DONE");
            let poll = future.as_mut().poll(&mut cx);
            if poll.is_ready() {
                // Dropped now, on this worker: what it holds is let go at completion.
                *slot = None;
            }
            poll
        };
        if poll.is_ready() {
            self.state.store(DONE, Ordering::Release);
            if self.pool.live.fetch_sub(1, Ordering::AcqRel) == 1 {
                self.pool.wake_all_workers();
            }
            return;
        }
        // Pending: back to IDLE, unless a wake came during the poll.
        if self
            .state
            .compare_exchange(RUNNING, IDLE, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // NOTIFIED: only this worker can move the task on from here.
            self.state.store(SCHEDULED, Ordering::Release);
            let pool = self.pool.clone();
            pool.push(self, Some(worker));
        }
    }
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let next = match state {
                IDLE => SCHEDULED,
                RUNNING => NOTIFIED,
                _ => return, // queued already, or will be, or done
            };
            match self
                .state
                .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) if next == SCHEDULED => break,
                Ok(_) => return, // the worker polling it queues it again
                Err(actual) => state = actual,
            }
        }
        // IDLE -> SCHEDULED: this wake queues it, on this worker if the thread is one
        // of the task's pool, else in the injector.
        WORKER.with(|current| {
            let current = current.borrow();
            let worker = current
                .as_deref()
                .filter(|worker| Arc::ptr_eq(&worker.pool, &self.pool));
            self.pool.push(self.clone(), worker);
        });
    }
}

/// Spawns a task on the pool this thread is a worker of.
///
/// # Panics
/// Outside a task of [`Pool::run`].
pub fn spawn<F>(future: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    WORKER.with(|current| {
        let current = current.borrow();
        let worker = current
            .as_deref()
            .expect("spawn works only inside a task of Pool::run");
        worker.pool.add_task(Box::pin(future), Some(worker));
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
