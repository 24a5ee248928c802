//! Spec of exercise 9 (a bug hunt): an event source never loses a wakeup (chapter 7).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex09_bug_lost_wakeup
//! ```
//!
//! A lost wakeup is a race: the producer must notify in the short window where the
//! consumer has found nothing but is not yet ready to be woken. Waiting for that to
//! happen by chance makes a test that fails once in a thousand runs. So two tests
//! *place* the producer in the window: their `try_take` finds the queue empty, then,
//! before returning, runs a producer thread to the end (it adds an item and notifies).
//! Both right orders pass them: leave the waker then try, or try, leave the waker and
//! try again. Two more catch the usual wrong fixes: a task that wakes itself instead of
//! waiting (it polls in a loop), and a waker kept from an earlier poll. The last test
//! is the race as it happens in real life, a producer thread against the loop: on the
//! bug it fails only now and then (about one run in three on a two-core machine), and
//! each time after a 10 s stall.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

use super::answer::{Readiness, next_item};
use futures::task::ArcWake;
use looplab::time::Instant;

use crate::common::{polls_at_most, real_runtime, virtual_runtime, watchdog, within};

type Queue = Arc<Mutex<VecDeque<u32>>>;

/// How long a test may wait for its items (virtual time, or wall time for the last).
const LIMIT: Duration = Duration::from_secs(10);

/// How long a test without a runtime may take (wall time) before its watchdog ends it:
/// a poll that holds a lock the producer needs never returns.
const SHORT: Duration = Duration::from_secs(2);

/// A `try_take` on `queue` whose producer runs once, at the worst moment: the first
/// time it finds the queue empty, a producer thread adds `item` and notifies, and
/// `try_take` waits for that thread to finish before it answers "nothing yet".
fn try_take_with_unlucky_producer(
    queue: Queue,
    readiness: Arc<Readiness>,
    item: u32,
) -> impl FnMut() -> Option<u32> + Unpin + Send {
    let mut produced = false;
    move || {
        let taken = queue.lock().unwrap().pop_front();
        if taken.is_none() && !produced {
            produced = true;
            let (queue, readiness) = (queue.clone(), readiness.clone());
            thread::spawn(move || {
                queue.lock().unwrap().push_back(item);
                readiness.notify();
            })
            .join()
            .expect("the producer thread panicked");
        }
        taken
    }
}

/// A waker that counts its wakes.
struct CountingWaker(AtomicUsize);

impl ArcWake for CountingWaker {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.fetch_add(1, Ordering::SeqCst);
    }
}

pub fn a_notify_that_comes_while_the_task_goes_to_sleep_still_wakes_it() {
    let _watchdog = watchdog(SHORT, "a notify while the task goes to sleep");
    let queue = Queue::default();
    let readiness = Arc::new(Readiness::new());
    let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let waker = futures::task::waker(counter.clone());
    let mut cx = Context::from_waker(&waker);
    let try_take = try_take_with_unlucky_producer(queue.clone(), readiness.clone(), 1);
    let mut future = pin!(next_item(&readiness, try_take));

    // Two right answers: a poll that takes the item after all (it looked once more
    // after leaving its waker), or a `Pending` that the producer's notify has woken.
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(item) => assert_eq!(item, 1, "the producer's item"),
        Poll::Pending => {
            assert_eq!(
                queue.lock().unwrap().len(),
                1,
                "the producer added its item"
            );
            assert_eq!(
                counter.0.load(Ordering::SeqCst),
                1,
                "the producer added an item and notified while the task was going to \
                 sleep, and the notify woke no one: the task would now sleep forever with \
                 an item in the queue (a lost wakeup)"
            );
            assert_eq!(
                future.as_mut().poll(&mut cx),
                Poll::Ready(1),
                "woken: take it"
            );
        }
    }
}

pub fn a_task_with_nothing_to_take_sleeps_until_notified() {
    let _watchdog = watchdog(SHORT, "a task with nothing to take");
    let queue = Queue::default();
    let readiness = Readiness::new();
    let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let waker = futures::task::waker(counter.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(next_item(&readiness, || queue.lock().unwrap().pop_front()));
    for _ in 0..3 {
        assert_eq!(
            future.as_mut().poll(&mut cx),
            Poll::Pending,
            "nothing to take"
        );
    }
    assert_eq!(
        counter.0.load(Ordering::SeqCst),
        0,
        "no item came and no one notified, yet the task was woken: a task that wakes \
         itself polls in a loop and keeps the loop's thread busy doing nothing"
    );
    queue.lock().unwrap().push_back(5);
    readiness.notify();
    assert_eq!(
        counter.0.load(Ordering::SeqCst),
        1,
        "the notify wakes the task"
    );
    assert_eq!(future.as_mut().poll(&mut cx), Poll::Ready(5));
}

pub fn the_notify_wakes_the_waker_of_the_latest_poll() {
    let _watchdog = watchdog(SHORT, "a task polled with a new waker");
    let queue = Queue::default();
    let readiness = Readiness::new();
    let first = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let latest = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let mut future = pin!(next_item(&readiness, || queue.lock().unwrap().pop_front()));
    let first_waker = futures::task::waker(first.clone());
    assert_eq!(
        future.as_mut().poll(&mut Context::from_waker(&first_waker)),
        Poll::Pending
    );
    // The same future polled again by another task (or the same task, moved to
    // another worker, with another waker): only the latest waker is worth waking.
    let latest_waker = futures::task::waker(latest.clone());
    assert_eq!(
        future
            .as_mut()
            .poll(&mut Context::from_waker(&latest_waker)),
        Poll::Pending
    );
    queue.lock().unwrap().push_back(9);
    readiness.notify();
    assert_eq!(
        latest.0.load(Ordering::SeqCst),
        1,
        "the notify woke a waker from an older poll, not the one the task left last: \
         the task that polls now would sleep forever"
    );
}

pub fn a_task_on_the_loop_gets_the_item_that_came_at_the_worst_moment() {
    let (item, took) = virtual_runtime().block_on(async {
        let start = Instant::now();
        let queue = Queue::default();
        let readiness = Arc::new(Readiness::new());
        let try_take = try_take_with_unlucky_producer(queue, readiness.clone(), 7);
        let wait = within(
            LIMIT,
            "the task waiting for the item",
            next_item(&readiness, try_take),
        );
        let item = polls_at_most(3, "the task waiting for the item", wait).await;
        (item, start.elapsed())
    });
    assert_eq!(item, 7);
    assert_eq!(
        took,
        Duration::ZERO,
        "the item was there from the first poll on, but the task only found it when the \
         time limit woke it: the producer's notify was lost"
    );
}

pub fn items_already_there_are_taken_without_waiting() {
    let queue: Queue = Arc::new(Mutex::new((1..=3).collect()));
    let readiness = Readiness::new();
    virtual_runtime().block_on(async {
        for expected in 1..=3 {
            let item = within(
                LIMIT,
                "an item already in the queue",
                next_item(&readiness, || queue.lock().unwrap().pop_front()),
            )
            .await;
            assert_eq!(item, expected);
        }
    });
}

pub fn every_item_from_a_producer_thread_arrives() {
    const ITEMS: u32 = 5_000;
    let queue = Queue::default();
    let readiness = Arc::new(Readiness::new());
    let producer = {
        let (queue, readiness) = (queue.clone(), readiness.clone());
        thread::spawn(move || {
            for item in 0..ITEMS {
                // Wait until the consumer has taken the last item: it is then about to
                // look again, find nothing and go to sleep, and the next item arrives
                // right in that moment. That is where a lost wakeup can happen.
                while !queue.lock().unwrap().is_empty() {
                    std::hint::spin_loop();
                }
                queue.lock().unwrap().push_back(item);
                readiness.notify();
            }
        })
    };
    let start = std::time::Instant::now();
    let received = real_runtime().block_on(async {
        let consume = async {
            let mut received = Vec::with_capacity(ITEMS as usize);
            while received.len() < ITEMS as usize {
                received.push(next_item(&readiness, || queue.lock().unwrap().pop_front()).await);
            }
            received
        };
        // At most one wake per notify, and one poll more per item: more is a task
        // that does not wait for its wakes.
        let consume = within(LIMIT, "the consumer of a producer thread", consume);
        polls_at_most(3 * ITEMS, "the consumer of a producer thread", consume).await
    });
    let took = start.elapsed();
    producer.join().expect("the producer thread panicked");
    // A lost wakeup here does not hang for good: when the time limit wakes the task,
    // `within` polls it once more, it finds the waiting items and goes on. So the sign
    // of the bug is a consumer that needed (nearly) the whole limit.
    assert!(
        took < LIMIT / 2,
        "{ITEMS} items took {took:?}: the consumer stalled until the time limit woke it, \
         so a notify was lost"
    );
    assert!(
        received.iter().copied().eq(0..ITEMS),
        "every item arrives, in order"
    );
}

/// The tests above, listed once for the two kinds of target that run them: the
/// exercise's own spec target makes each a `#[test]` (`with_tests!(as_tests)`), and
/// `wrong_solutions.rs`, which has no test harness, a table it calls in turn
/// (`with_tests!(as_table)`). Both macros are in `common/mod.rs`.
macro_rules! with_tests {
    ($then:ident) => {
        $then! {
            a_notify_that_comes_while_the_task_goes_to_sleep_still_wakes_it,
            a_task_with_nothing_to_take_sleeps_until_notified,
            the_notify_wakes_the_waker_of_the_latest_poll,
            a_task_on_the_loop_gets_the_item_that_came_at_the_worst_moment,
            items_already_there_are_taken_without_waiting,
            every_item_from_a_producer_thread_arrives,
        }
    };
}
pub(crate) use with_tests;
