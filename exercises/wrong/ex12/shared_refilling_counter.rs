//! WRONG: one budget for the whole loop, which the stream refills itself when it runs out: a poll that ended early leaves the next one short, and one task's reads shorten another's.
//!
//! A drop-in for `src/start/ex12_coop_budget.rs`; checked by `tests/wrong_solutions.rs`.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// The most items a task may take from [`Busy`] streams in one poll. The next one
/// makes it give the thread back.
pub const BUDGET: u32 = 32;

/// A small single-threaded executor on a virtual clock.
pub struct Executor {
    shared: Rc<Shared>,
    /// Every task spawned, by number; `None` once it has finished.
    tasks: RefCell<Vec<Option<Task>>>,
}

/// What the tasks reach through the thread-local [`CURRENT`] while the loop runs.
struct Shared {
    /// The virtual clock: time since the executor was made.
    now: Cell<Duration>,
    /// Pending timers by (deadline, timer number), each with the waker to wake.
    timers: RefCell<BTreeMap<(Duration, u64), Waker>>,
    next_timer: Cell<u64>,
    /// Task numbers ready to be polled, in order. Behind a `Mutex` because a `Waker`
    /// must be `Send + Sync`, though on this executor every wake happens on its thread.
    run_queue: Arc<Mutex<VecDeque<usize>>>,
    /// What is left of the budget of the poll under way; `None` between polls, where
    /// nothing is limited (a future polled outside a task is not the loop's business).
    budget: Cell<Option<u32>>,
}

struct Task {
    future: Pin<Box<dyn Future<Output = ()>>>,
    waker: Arc<TaskWaker>,
}

/// A task's waker: puts its number in the run queue, at most once until it is polled.
struct TaskWaker {
    id: usize,
    queued: AtomicBool,
    run_queue: Arc<Mutex<VecDeque<usize>>>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.run_queue.lock().unwrap().push_back(self.id);
        }
    }
}

thread_local! {
    /// The executor running on this thread, for [`sleep`], [`work`] and [`now`].
    static CURRENT: RefCell<Option<Rc<Shared>>> = const { RefCell::new(None) };
}

fn with_current<R>(f: impl FnOnce(&Shared) -> R) -> R {
    CURRENT.with(|current| {
        let current = current.borrow();
        let shared = current
            .as_ref()
            .expect("sleep, work and now work only inside a task of Executor::run");
        f(shared)
    })
}

impl Executor {
    /// An executor with no task; its clock starts at zero.
    pub fn new() -> Executor {
        Executor {
            shared: Rc::new(Shared {
                now: Cell::new(Duration::ZERO),
                timers: RefCell::new(BTreeMap::new()),
                next_timer: Cell::new(0),
                run_queue: Arc::new(Mutex::new(VecDeque::new())),
                budget: Cell::new(Some(BUDGET)),
            }),
            tasks: RefCell::new(Vec::new()),
        }
    }

    /// Adds a task; it first runs in the next turn of [`run`](Executor::run).
    pub fn spawn(&self, future: impl Future<Output = ()> + 'static) {
        let mut tasks = self.tasks.borrow_mut();
        let waker = Arc::new(TaskWaker {
            id: tasks.len(),
            queued: AtomicBool::new(false),
            run_queue: self.shared.run_queue.clone(),
        });
        waker.wake_by_ref();
        tasks.push(Some(Task {
            future: Box::pin(future),
            waker,
        }));
    }

    /// The virtual clock.
    pub fn now(&self) -> Duration {
        self.shared.now.get()
    }

    /// Runs every task to the end.
    ///
    /// # Panics
    /// If tasks still wait but nothing can wake them (no task ready, no timer).
    pub fn run(&self) {
        CURRENT.with(|current| *current.borrow_mut() = Some(self.shared.clone()));
        let _reset = ResetCurrent;
        loop {
            // 1. Run every task that was queued when the turn began, once each. Tasks
            //    woken meanwhile wait for the next turn.
            let ready: Vec<usize> = self.shared.run_queue.lock().unwrap().drain(..).collect();
            for id in ready {
                self.poll_task(id);
            }
            if self.tasks.borrow().iter().all(Option::is_none) {
                return;
            }
            // 2. Nothing ready: jump the clock to the next timer (virtual time).
            if self.shared.run_queue.lock().unwrap().is_empty() {
                let next = self.shared.timers.borrow().keys().next().map(|k| k.0);
                let next = next.expect("every task waits, and no timer can wake one");
                self.shared.now.set(self.shared.now.get().max(next));
            }
            // 3. Fire the timers that are due.
            self.fire_due_timers();
        }
    }

    fn poll_task(&self, id: usize) {
        // Out of the table while it runs, so the table is not borrowed during the poll.
        let Some(mut task) = self.tasks.borrow_mut()[id].take() else {
            return;
        };
        task.waker.queued.store(false, Ordering::Release);
        let waker = Waker::from(task.waker.clone());
        let mut cx = Context::from_waker(&waker);
        // Every poll starts with a full budget; what it leaves unspent is not carried
        // over, so a task that was quiet cannot save up for a long run later.
        let poll = task.future.as_mut().poll(&mut cx);
        if poll.is_pending() {
            self.tasks.borrow_mut()[id] = Some(task);
        }
    }

    fn fire_due_timers(&self) {
        let now = self.shared.now.get();
        let mut timers = self.shared.timers.borrow_mut();
        while let Some(entry) = timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            entry.remove().wake();
        }
    }
}

impl Default for Executor {
    fn default() -> Self {
        Executor::new()
    }
}

/// Clears [`CURRENT`] when `run` ends, even by a panic.
struct ResetCurrent;

impl Drop for ResetCurrent {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|current| current.borrow_mut().take());
    }
}

/// The virtual clock of the running executor.
pub fn now() -> Duration {
    with_current(|shared| shared.now.get())
}

/// Pretends that the calling task computes for `duration`: the virtual clock moves on
/// by that much, as the real one would while a task holds the thread.
pub fn work(duration: Duration) {
    with_current(|shared| shared.now.set(shared.now.get() + duration));
}

/// Waits until `duration` from now on the executor's clock.
pub fn sleep(duration: Duration) -> Sleep {
    Sleep {
        deadline: now() + duration,
        timer: None,
    }
}

/// The future returned by [`sleep`].
#[must_use = "a Sleep does nothing until it is awaited"]
pub struct Sleep {
    deadline: Duration,
    /// The timer's key while one is armed.
    timer: Option<(Duration, u64)>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = self.deadline;
        with_current(|shared| {
            if shared.now.get() >= deadline {
                if let Some(key) = self.timer.take() {
                    shared.timers.borrow_mut().remove(&key);
                }
                return Poll::Ready(());
            }
            // Arm a timer, or give the armed one the waker of this poll.
            let key = *self.timer.get_or_insert_with(|| {
                let number = shared.next_timer.get();
                shared.next_timer.set(number + 1);
                (deadline, number)
            });
            shared.timers.borrow_mut().insert(key, cx.waker().clone());
            Poll::Pending
        })
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(key) = self.timer.take() {
            let _ = CURRENT.try_with(|current| {
                if let Some(shared) = current.borrow().as_ref() {
                    shared.timers.borrow_mut().remove(&key);
                }
            });
        }
    }
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

/// A stream that always has an item ready, like a socket whose peer sends faster than
/// the task reads: items 0, 1, 2, ...
#[derive(Debug, Default)]
pub struct Busy {
    next_item: u64,
}

impl Busy {
    /// A stream whose first item is 0.
    pub fn new() -> Busy {
        Busy::default()
    }

    /// Reads the next item.
    pub fn read(&mut self) -> Read<'_> {
        Read { stream: self }
    }
}

/// The future returned by [`Busy::read`].
#[must_use = "a Read does nothing until it is awaited"]
pub struct Read<'a> {
    stream: &'a mut Busy,
}

impl Future for Read<'_> {
    type Output = u64;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        // Ask before taking the item: a read refused for want of budget must leave the
        // item in the stream, or it would be lost.
        if spend_budget(cx).is_pending() {
            return Poll::Pending;
        }
        let item = self.stream.next_item;
        self.stream.next_item += 1;
        Poll::Ready(item)
    }
}

/// Spends one unit of the current poll's budget, or, if it is spent, wakes the task and
/// returns `Pending` so that the caller gives the thread back (tokio's `poll_proceed`).
/// Outside a task's poll there is no budget and nothing to spend.
fn spend_budget(cx: &mut Context<'_>) -> Poll<()> {
    let left = CURRENT.with(|current| {
        let current = current.borrow();
        let budget = &current.as_ref()?.budget;
        let left = budget.get()?;
        if left == 0 {
            // Spent: refill for next time, and give the thread back now.
            budget.set(Some(BUDGET));
        } else {
            budget.set(Some(left - 1));
        }
        Some(left)
    });
    match left {
        Some(0) => {
            // Ready to go on, so no one else will wake it: it must wake itself.
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        _ => Poll::Ready(()),
    }
}
