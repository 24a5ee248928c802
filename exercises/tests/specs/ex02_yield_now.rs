//! Spec of exercise 2: `yield_now` and `YieldEvery` (chapter 4).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex02_yield_now
//! ```

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use super::answer::{YieldEvery, yield_now};
use futures::task::ArcWake;
use looplab::time::Instant;
use looplab::trace::{Event, TaskId};
use looplab::{Recorder, Runtime};

use crate::common::within;

/// A waker that counts its wakes.
struct CountingWaker(AtomicUsize);

impl ArcWake for CountingWaker {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.fetch_add(1, Ordering::SeqCst);
    }
}

pub fn the_first_poll_wakes_its_task_and_is_pending_the_second_is_ready() {
    let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let waker = futures::task::waker(counter.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(yield_now());

    assert_eq!(future.as_mut().poll(&mut cx), Poll::Pending, "first poll");
    assert_eq!(
        counter.0.load(Ordering::SeqCst),
        1,
        "the first poll must wake the task exactly once: nothing else will"
    );
    assert_eq!(
        future.as_mut().poll(&mut cx),
        Poll::Ready(()),
        "second poll"
    );
    assert_eq!(
        counter.0.load(Ordering::SeqCst),
        1,
        "no wake on the second poll"
    );
}

pub fn three_tasks_take_turns_one_step_each_without_time_passing() {
    let recorder = Recorder::new();
    let rt = Runtime::builder()
        .virtual_time(true)
        .record(recorder.clone())
        .build()
        .unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let took = rt.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = (1..=3)
            .map(|task| {
                let log = log.clone();
                looplab::spawn(async move {
                    for step in 1..=3 {
                        log.lock().unwrap().push((task, step));
                        if step < 3 {
                            yield_now().await;
                        }
                    }
                })
            })
            .collect();
        for result in within(
            Duration::from_secs(10),
            "the three tasks",
            looplab::join_all(handles),
        )
        .await
        {
            result.expect("a task failed");
        }
        start.elapsed()
    });
    let expected: Vec<(u32, u32)> = (1..=3)
        .flat_map(|step| (1..=3).map(move |task| (task, step)))
        .collect();
    assert_eq!(
        *log.lock().unwrap(),
        expected,
        "each task should run one step per turn: task 1, 2, 3, then again"
    );
    assert_eq!(
        took,
        Duration::ZERO,
        "yielding gives the thread away but takes no time"
    );
    let self_wakes = recorder
        .events()
        .into_iter()
        .filter(
            |e| matches!(e, Event::WokenByTask { task, by } if task == by && *task != TaskId(0)),
        )
        .count();
    assert_eq!(
        self_wakes, 6,
        "3 tasks × 2 yields, each one a task waking itself"
    );
}

pub fn a_budget_yields_on_every_nth_tick_so_a_busy_task_shares_the_thread() {
    let rt = crate::common::virtual_runtime();
    let log = Arc::new(Mutex::new(Vec::new()));
    rt.block_on(async {
        let busy = {
            let log = log.clone();
            looplab::spawn(async move {
                let mut budget = YieldEvery::new(3);
                for i in 1..=10 {
                    log.lock().unwrap().push(format!("busy {i}"));
                    budget.tick().await;
                }
            })
        };
        let other = {
            let log = log.clone();
            looplab::spawn(async move {
                for j in 1..=4 {
                    log.lock().unwrap().push(format!("other {j}"));
                    yield_now().await;
                }
            })
        };
        let both = looplab::join_all([busy, other]);
        for result in within(Duration::from_secs(10), "the two tasks", both).await {
            result.expect("a task failed");
        }
    });
    let expected = [
        "busy 1", "busy 2", "busy 3", "other 1", //
        "busy 4", "busy 5", "busy 6", "other 2", //
        "busy 7", "busy 8", "busy 9", "other 3", //
        "busy 10", "other 4",
    ];
    assert_eq!(
        *log.lock().unwrap(),
        expected,
        "the busy task should yield after its 3rd, 6th and 9th tick, and only then"
    );
}

/// The tests above, listed once for the two kinds of target that run them: the
/// exercise's own spec target makes each a `#[test]` (`with_tests!(as_tests)`), and
/// `wrong_solutions.rs`, which has no test harness, a table it calls in turn
/// (`with_tests!(as_table)`). Both macros are in `common/mod.rs`.
macro_rules! with_tests {
    ($then:ident) => {
        $then! {
            the_first_poll_wakes_its_task_and_is_pending_the_second_is_ready,
            three_tasks_take_turns_one_step_each_without_time_passing,
            a_budget_yields_on_every_nth_tick_so_a_busy_task_shares_the_thread,
        }
    };
}
pub(crate) use with_tests;
