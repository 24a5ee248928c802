//! Spec of exercise 14: two workers that steal tasks from each other (chapter 10).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex14_work_stealing
//! ```
//!
//! Every task body here is wrapped in a [`Probe`], which watches each poll from
//! outside the executor: which thread made it, whether another poll of the same task
//! was still under way, and whether the task had already returned `Ready`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::{self, ThreadId};
use std::time::Duration;

use super::answer::{Pool, spawn, yield_now};

use crate::common::watchdog;

/// What the probes saw, over a whole run.
#[derive(Default)]
struct Seen {
    polls: AtomicU64,
    finished: AtomicU64,
    /// A poll began while another poll of the same task was still under way.
    overlapping: AtomicU64,
    /// A task was polled after it had returned `Ready`.
    after_ready: AtomicU64,
    polls_by_thread: Mutex<HashMap<ThreadId, u64>>,
}

/// Wraps a task's future and reports every poll of it to [`Seen`].
struct Probe<F> {
    future: Pin<Box<F>>,
    /// Set for the length of a poll. Outside the future (an `Arc`), so that two polls
    /// at once are seen even if they were to reach the future through two paths.
    in_poll: Arc<AtomicBool>,
    ready: bool,
    seen: Arc<Seen>,
}

fn probe<F: Future<Output = ()>>(seen: &Arc<Seen>, future: F) -> Probe<F> {
    Probe {
        future: Box::pin(future),
        in_poll: Arc::new(AtomicBool::new(false)),
        ready: false,
        seen: seen.clone(),
    }
}

impl<F: Future<Output = ()>> Future for Probe<F> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let seen = self.seen.clone();
        seen.polls.fetch_add(1, Ordering::Relaxed);
        *seen
            .polls_by_thread
            .lock()
            .unwrap()
            .entry(thread::current().id())
            .or_default() += 1;
        if self.ready {
            seen.after_ready.fetch_add(1, Ordering::Relaxed);
            return Poll::Ready(());
        }
        if self.in_poll.swap(true, Ordering::AcqRel) {
            seen.overlapping.fetch_add(1, Ordering::Relaxed);
        }
        let poll = self.future.as_mut().poll(cx);
        self.in_poll.store(false, Ordering::Release);
        if poll.is_ready() {
            self.ready = true;
            seen.finished.fetch_add(1, Ordering::Relaxed);
        }
        poll
    }
}

/// The checks every run ends with.
fn assert_clean(seen: &Seen, tasks: u64, polls: u64) {
    assert_eq!(
        seen.overlapping.load(Ordering::Relaxed),
        0,
        "a task was polled by two threads at once"
    );
    assert_eq!(
        seen.after_ready.load(Ordering::Relaxed),
        0,
        "a task was polled again after it returned Ready"
    );
    assert_eq!(
        seen.finished.load(Ordering::Relaxed),
        tasks,
        "tasks were lost: {} of {tasks} finished",
        seen.finished.load(Ordering::Relaxed)
    );
    assert_eq!(
        seen.polls.load(Ordering::Relaxed),
        polls,
        "every task should be polled exactly once per yield, plus once to finish"
    );
}

/// How many polls each thread made, fewest first; fails unless at least two threads
/// made some.
fn assert_two_threads_polled(seen: &Seen) -> Vec<u64> {
    let mut counts: Vec<u64> = seen
        .polls_by_thread
        .lock()
        .unwrap()
        .values()
        .copied()
        .collect();
    counts.sort_unstable();
    assert!(
        counts.len() >= 2,
        "every poll ran on one thread: the second worker never stole a task \
         (polls by thread: {counts:?})"
    );
    counts
}

const TASKS: u64 = 100_000;

/// How often each task yields: every yield is a wake during a poll, the moment the
/// other worker could steal the task while it is still being polled.
const YIELDS: u64 = 2;

pub fn a_hundred_thousand_tasks_on_two_workers_none_lost_none_polled_twice_at_once() {
    let _watchdog = watchdog(Duration::from_secs(60), "100,000 tasks on two workers");
    let seen = Arc::new(Seen::default());
    let root_seen = seen.clone();
    let pool = Pool::new(2);
    assert_eq!(pool.workers(), 2);
    // The root spawns every task, so they all start in the queue of the worker that
    // runs the root: the other one only gets work by stealing it.
    pool.run(probe(&seen.clone(), async move {
        for _ in 0..TASKS {
            spawn(probe(&root_seen, async {
                for _ in 0..YIELDS {
                    yield_now().await;
                }
            }));
        }
    }));
    assert_clean(&seen, TASKS + 1, TASKS * (YIELDS + 1) + 1);

    let counts = assert_two_threads_polled(&seen);
    let total: u64 = counts.iter().sum();
    let least = counts[counts.len() - 2];
    assert!(
        least * 100 >= total,
        "the second-busiest thread made only {least} of {total} polls (under 1%): the \
         workers should share the work (polls by thread: {counts:?})"
    );
}

pub fn tasks_spawned_by_tasks_on_both_workers_all_finish() {
    let _watchdog = watchdog(Duration::from_secs(60), "a tree of tasks");
    let seen = Arc::new(Seen::default());
    let pool = Pool::new(2);
    // A binary tree of tasks 14 levels deep: 2^15 - 1 tasks, spawned from both
    // workers' queues as the tree grows.
    fn node(seen: Arc<Seen>, depth: u32) -> impl Future<Output = ()> + Send + 'static {
        let inner = seen.clone();
        probe(&seen, async move {
            yield_now().await;
            if depth > 0 {
                spawn(node(inner.clone(), depth - 1));
                spawn(node(inner, depth - 1));
            }
        })
    }
    pool.run(node(seen.clone(), 14));
    let tasks = (1 << 15) - 1;
    assert_clean(&seen, tasks, 2 * tasks);
    assert_two_threads_polled(&seen);
}

/// A gate that a plain thread opens: the tasks waiting on it are woken from outside
/// the pool.
#[derive(Default)]
struct Gate {
    state: Mutex<(bool, Vec<Waker>)>,
}

impl Gate {
    fn open(&self) {
        let wakers = {
            let mut state = self.state.lock().unwrap();
            state.0 = true;
            std::mem::take(&mut state.1)
        };
        for waker in wakers {
            waker.wake();
        }
    }

    fn wait(self: &Arc<Self>) -> impl Future<Output = ()> + Send + 'static {
        let gate = self.clone();
        std::future::poll_fn(move |cx| {
            let mut state = gate.state.lock().unwrap();
            if state.0 {
                return Poll::Ready(());
            }
            state.1.push(cx.waker().clone());
            Poll::Pending
        })
    }
}

pub fn tasks_woken_from_a_thread_outside_the_pool_are_not_lost() {
    let _watchdog = watchdog(Duration::from_secs(60), "tasks woken from outside");
    let seen = Arc::new(Seen::default());
    let pool = Pool::new(2);
    let waiting = 1_000;
    let gates: Vec<Arc<Gate>> = (0..waiting).map(|_| Arc::new(Gate::default())).collect();
    let opener = {
        let gates = gates.clone();
        // Opens the gates one by one while the workers have nothing else to do, so
        // each wake must bring a sleeping worker back.
        thread::spawn(move || {
            for gate in gates {
                thread::sleep(Duration::from_micros(50));
                gate.open();
            }
        })
    };
    let root_seen = seen.clone();
    pool.run(probe(&seen.clone(), async move {
        for gate in &gates {
            spawn(probe(&root_seen, gate.wait()));
        }
    }));
    opener.join().unwrap();
    let finished = seen.finished.load(Ordering::Relaxed);
    assert_eq!(
        finished,
        waiting as u64 + 1,
        "tasks were lost: {finished} of {} finished",
        waiting + 1
    );
    assert_eq!(seen.overlapping.load(Ordering::Relaxed), 0);
    assert_eq!(seen.after_ready.load(Ordering::Relaxed), 0);
}

/// The tests above, listed once for the two kinds of target that run them: the
/// exercise's own spec target makes each a `#[test]` (`with_tests!(as_tests)`), and
/// `wrong_solutions.rs`, which has no test harness, a table it calls in turn
/// (`with_tests!(as_table)`). Both macros are in `common/mod.rs`.
macro_rules! with_tests {
    ($then:ident) => {
        $then! {
            a_hundred_thousand_tasks_on_two_workers_none_lost_none_polled_twice_at_once,
            tasks_spawned_by_tasks_on_both_workers_all_finish,
            tasks_woken_from_a_thread_outside_the_pool_are_not_lost,
        }
    };
}
pub(crate) use with_tests;
