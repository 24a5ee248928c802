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

pub fn a_task_woken_during_its_last_poll_is_not_polled_again() {
    let _watchdog = watchdog(
        Duration::from_secs(60),
        "tasks that wake themselves and end",
    );
    let seen = Arc::new(Seen::default());
    let root_seen = seen.clone();
    let tasks = 10_000;
    Pool::new(2).run(probe(&seen.clone(), async move {
        for _ in 0..tasks {
            // Woken in the very poll that finishes it: the wake must not bring it back.
            spawn(probe(
                &root_seen,
                std::future::poll_fn(|cx| {
                    cx.waker().wake_by_ref();
                    Poll::Ready(())
                }),
            ));
        }
    }));
    assert_clean(&seen, tasks + 1, tasks + 1);
}

/// How long the slow task's first poll holds its worker, and when, into that poll, a
/// thread outside the pool wakes the other task.
const SLOW_POLL: Duration = Duration::from_millis(600);
const WAKE_AT: Duration = Duration::from_millis(150);

pub fn a_task_that_wakes_itself_in_a_long_poll_does_not_hold_the_other_worker() {
    let _watchdog = watchdog(Duration::from_secs(60), "a long poll beside an idle worker");
    let gate = Arc::new(Gate::default());
    // When the slow poll ends, and when the gated task ran, since the run began.
    let slow_poll_ended = Arc::new(Mutex::new(None));
    let gated_ran = Arc::new(Mutex::new(None));
    let start = std::time::Instant::now();
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let opener = {
        let gate = gate.clone();
        thread::spawn(move || {
            if started_rx.recv().is_ok() {
                thread::sleep(WAKE_AT);
                gate.open();
            }
        })
    };
    let (ended, ran) = (slow_poll_ended.clone(), gated_ran.clone());
    Pool::new(2).run(async move {
        let wait = gate.wait();
        spawn(async move {
            wait.await;
            *ran.lock().unwrap() = Some(start.elapsed());
        });
        let mut first = true;
        spawn(std::future::poll_fn(move |cx| {
            if !first {
                return Poll::Ready(());
            }
            first = false;
            // Ready to go on, so it wakes itself (as `yield_now` does), then computes
            // for a long time in the same poll.
            cx.waker().wake_by_ref();
            let _ = started_tx.send(());
            thread::sleep(SLOW_POLL);
            *ended.lock().unwrap() = Some(start.elapsed());
            Poll::Pending
        }));
    });
    opener.join().unwrap();
    let ended = slow_poll_ended
        .lock()
        .unwrap()
        .expect("the slow task was polled");
    let ran = gated_ran.lock().unwrap().expect("the gated task ran");
    assert!(
        ran < ended,
        "a task woken from outside the pool {WAKE_AT:?} into another task's long poll ran \
         only at {ran:?}, after that poll ended ({ended:?}): the second worker, which had \
         nothing else to do, was stuck waiting for the task in the long poll. A task woken \
         during its own poll must not be taken by another worker before that poll ends"
    );
}

pub fn a_lone_worker_never_sleeps_through_a_wake() {
    let _watchdog = watchdog(Duration::from_secs(60), "a lone worker woken from outside");
    // One worker, so no second one can cover for a wake it sleeps through. A thread
    // outside the pool wakes the tasks one at a time, each right when the worker has
    // run the one before and is going back to sleep: the moment a wake can be lost.
    // The window is a few instructions wide, so it goes on for a while: a wrong
    // answer is caught in about nine runs of ten, and `wrong_solutions.rs` gives it five.
    const TASKS: usize = 100_000;
    const FOR: Duration = Duration::from_millis(1_500);
    // A wake takes microseconds to reach a sleeping worker; a second is a lost one.
    const LOST_AFTER: Duration = Duration::from_secs(1);
    let gates: Vec<Arc<Gate>> = (0..TASKS).map(|_| Arc::new(Gate::default())).collect();
    let ran = Arc::new(AtomicU64::new(0));
    let lost = Arc::new(AtomicU64::new(0));
    let opener = {
        let (gates, ran, lost) = (gates.clone(), ran.clone(), lost.clone());
        thread::spawn(move || {
            let start = std::time::Instant::now();
            for (i, gate) in gates.iter().enumerate() {
                // Spin, do not block: the next wake must land within microseconds of
                // the last task's end, at a point that moves a little each time.
                let wait = std::time::Instant::now();
                while ran.load(Ordering::Acquire) < i as u64 {
                    if wait.elapsed() > LOST_AFTER {
                        // The worker sleeps with a task in its queue. Note it, and go
                        // on: the next wake finds it asleep and brings it back.
                        lost.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    std::hint::spin_loop();
                }
                let delay = Duration::from_nanos((i as u64 * 37) % 10_000);
                let spin = std::time::Instant::now();
                while spin.elapsed() < delay {
                    std::hint::spin_loop();
                }
                gate.open();
                if lost.load(Ordering::Relaxed) > 0 || start.elapsed() > FOR {
                    // Enough: open the rest at once, so the run ends.
                    for gate in &gates[i + 1..] {
                        gate.open();
                    }
                    return;
                }
            }
        })
    };
    let waiting = gates.clone();
    Pool::new(1).run(async move {
        for gate in &waiting {
            let (wait, ran) = (gate.wait(), ran.clone());
            spawn(async move {
                wait.await;
                ran.fetch_add(1, Ordering::Release);
            });
        }
    });
    opener.join().unwrap();
    assert_eq!(
        lost.load(Ordering::Relaxed),
        0,
        "a task woken from outside the pool waited more than {LOST_AFTER:?} while the only worker \
         slept: the worker went to sleep after the wake had queued the task, and the wake \
         did not wake it (a lost wakeup)"
    );
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
            a_task_woken_during_its_last_poll_is_not_polled_again,
            a_task_that_wakes_itself_in_a_long_poll_does_not_hold_the_other_worker,
            a_lone_worker_never_sleeps_through_a_wake,
        }
    };
}
pub(crate) use with_tests;
