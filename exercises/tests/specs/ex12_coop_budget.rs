//! Spec of exercise 12: a cooperative budget (chapter 9).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex12_coop_budget
//! ```
//!
//! The executor runs on a virtual clock that moves only by `work` (a task computing)
//! and by jumps to the next timer. Every busy task here works [`STEP`] per item, so
//! "late by two budgets of work" is an exact number of microseconds, the same on every
//! machine.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::answer::{BUDGET, Busy, Executor, now, sleep, work, yield_now};

use crate::common::{ms, watchdog};

/// The virtual time a busy task computes per item (or per step between yields).
const STEP: Duration = Duration::from_micros(10);

/// How many items a busy task reads: a second of work at [`STEP`] each.
const ITEMS: u64 = 100_000;

/// The most a due timer may be late beside a busy task. The turn in which the
/// deadline passes ends after at most one budget of the busy task's work; the timer
/// fires then and wakes the sleeper, which runs in the next turn, behind the busy task
/// that queued itself first: at most a second budget.
fn max_lateness() -> Duration {
    STEP * BUDGET * 2
}

/// Runs a sleeper of 1 ms beside `busy` and returns how late it woke, how many steps
/// `busy` had counted by then, and how many in all.
fn sleeper_beside(
    busy: impl FnOnce(Rc<Cell<u64>>) -> Pin<Box<dyn Future<Output = ()>>>,
) -> (Duration, u64, u64) {
    let _watchdog = watchdog(Duration::from_secs(20), "a sleeper beside a busy task");
    let executor = Executor::new();
    let steps = Rc::new(Cell::new(0));
    let woke = Rc::new(Cell::new(None));
    {
        // Spawned first, so the timer is armed at 0 ms, before the busy task runs.
        let (steps, woke) = (steps.clone(), woke.clone());
        executor.spawn(async move {
            let deadline = now() + ms(1);
            sleep(ms(1)).await;
            woke.set(Some((now() - deadline, steps.get())));
        });
    }
    executor.spawn(busy(steps.clone()));
    executor.run();
    let (late, steps_then) = woke.get().expect("the sleeper never woke");
    (late, steps_then, steps.get())
}

pub fn a_timer_is_served_on_time_beside_a_task_reading_a_busy_stream() {
    let (late, reads_then, reads) = sleeper_beside(|reads| {
        Box::pin(async move {
            let mut stream = Busy::new();
            for expected in 0..ITEMS {
                let item = stream.read().await;
                assert_eq!(
                    item, expected,
                    "the stream gave item {item} where {expected} was due: an item was \
                     lost or read twice"
                );
                work(STEP);
                reads.set(reads.get() + 1);
            }
        })
    });
    assert_eq!(reads, ITEMS, "the busy reader did not finish its reads");
    assert!(
        late <= max_lateness(),
        "a sleeper due at 1 ms woke {:.3} ms late, after the busy reader's {reads_then} \
         reads of {STEP:?} each: one task held the loop. It should give the thread back \
         after {BUDGET} reads, so the timer is at most {:.3} ms late",
        late.as_secs_f64() * 1e3,
        max_lateness().as_secs_f64() * 1e3,
    );
}

pub fn a_timer_is_still_served_on_time_beside_a_task_that_yields_after_every_step() {
    // The turn rule already protects this one; a budget must not break it.
    let (late, steps_then, steps) = sleeper_beside(|steps| {
        Box::pin(async move {
            for _ in 0..ITEMS / 10 {
                work(STEP);
                steps.set(steps.get() + 1);
                yield_now().await;
            }
        })
    });
    assert_eq!(steps, ITEMS / 10, "the yielding task did not finish");
    assert!(
        late <= max_lateness(),
        "a sleeper due at 1 ms woke {:.3} ms late, after {steps_then} steps of a task \
         that yields after each",
        late.as_secs_f64() * 1e3,
    );
}

pub fn two_busy_readers_take_turns_at_most_budget_reads_in_a_row() {
    let _watchdog = watchdog(Duration::from_secs(20), "two busy readers");
    let executor = Executor::new();
    let log = Rc::new(RefCell::new(Vec::new()));
    let per_reader = 10 * BUDGET as usize;
    for reader in [1u8, 2] {
        let log = log.clone();
        executor.spawn(async move {
            let mut stream = Busy::new();
            for _ in 0..per_reader {
                stream.read().await;
                log.borrow_mut().push(reader);
            }
        });
    }
    executor.run();
    let log = log.borrow();
    assert_eq!(log.len(), 2 * per_reader, "the readers did not finish");
    let longest_run = log.chunk_by(|a, b| a == b).map(<[u8]>::len).max().unwrap();
    assert!(
        longest_run <= BUDGET as usize,
        "one reader read {longest_run} items in a row while the other was ready: at most \
         {BUDGET} (BUDGET), then the other's turn"
    );
}

/// Counts the polls of the future it wraps.
struct CountPolls<F> {
    future: Pin<Box<F>>,
    polls: Rc<Cell<u64>>,
}

impl<F: Future> Future for CountPolls<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.set(self.polls.get() + 1);
        self.future.as_mut().poll(cx)
    }
}

pub fn the_budget_is_per_poll_and_full_at_every_poll() {
    let _watchdog = watchdog(Duration::from_secs(20), "a reader alone");
    let executor = Executor::new();
    let polls = Rc::new(Cell::new(0));
    let reads = Rc::new(Cell::new(0u64));
    let items = 1_000u64;
    {
        let reads = reads.clone();
        executor.spawn(CountPolls {
            future: Box::pin(async move {
                let mut stream = Busy::new();
                for _ in 0..items {
                    stream.read().await;
                    reads.set(reads.get() + 1);
                }
            }),
            polls: polls.clone(),
        });
    }
    executor.run();
    assert_eq!(reads.get(), items, "the reader did not finish");
    let fewest = items.div_ceil(u64::from(BUDGET));
    assert!(
        polls.get() >= fewest,
        "{items} reads took {} polls: with at most {BUDGET} reads per poll they take at \
         least {fewest}",
        polls.get()
    );
    assert!(
        polls.get() <= 2 * fewest,
        "{items} reads took {} polls: each poll should start with a full budget of \
         {BUDGET}, so about {fewest} polls",
        polls.get()
    );
}

/// Records, for every poll of the future it wraps, how many reads `reads` counted
/// during that poll.
struct ReadsPerPoll<F: ?Sized> {
    future: Pin<Box<F>>,
    reads: Rc<Cell<u64>>,
    per_poll: Rc<RefCell<Vec<u64>>>,
}

impl<F: Future + ?Sized> Future for ReadsPerPoll<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let before = self.reads.get();
        let poll = self.future.as_mut().poll(cx);
        let during = self.reads.get() - before;
        self.per_poll.borrow_mut().push(during);
        poll
    }
}

/// Spawns `body` (given a read counter) on `executor`, recording its reads per poll.
fn spawn_recorded(
    executor: &Executor,
    body: impl FnOnce(Rc<Cell<u64>>) -> Pin<Box<dyn Future<Output = ()>>>,
) -> Rc<RefCell<Vec<u64>>> {
    let reads = Rc::new(Cell::new(0));
    let per_poll = Rc::new(RefCell::new(Vec::new()));
    executor.spawn(ReadsPerPoll {
        future: body(reads.clone()),
        reads,
        per_poll: per_poll.clone(),
    });
    per_poll
}

pub fn a_poll_that_ended_with_budget_left_does_not_shorten_the_next() {
    let _watchdog = watchdog(Duration::from_secs(20), "a reader that pauses");
    let executor = Executor::new();
    let per_poll = spawn_recorded(&executor, |reads| {
        Box::pin(async move {
            let mut stream = Busy::new();
            // A few reads, then a pause: this poll ends with most of its budget unspent.
            for _ in 0..10 {
                stream.read().await;
                reads.set(reads.get() + 1);
            }
            sleep(ms(1)).await;
            for _ in 0..3 * BUDGET {
                stream.read().await;
                reads.set(reads.get() + 1);
            }
        })
    });
    executor.run();
    let per_poll = per_poll.borrow();
    assert_eq!(
        per_poll.first(),
        Some(&10),
        "the first poll reads 10, then sleeps"
    );
    assert_eq!(
        per_poll.get(1),
        Some(&u64::from(BUDGET)),
        "reads per poll: {per_poll:?}. The first poll read 10 items and slept; the one it \
         woke to should read a full budget ({BUDGET}) before it gives the thread back. \
         What a poll leaves unspent must not be taken from the next one"
    );
}

pub fn two_tasks_polled_in_one_turn_each_get_a_full_budget() {
    let _watchdog = watchdog(Duration::from_secs(20), "two tasks in one turn");
    let executor = Executor::new();
    // Both are queued for the first turn: the first spends a little and sleeps, the
    // second reads on.
    spawn_recorded(&executor, |_| {
        Box::pin(async move {
            let mut stream = Busy::new();
            for _ in 0..10 {
                stream.read().await;
            }
            sleep(ms(1)).await;
        })
    });
    let second = spawn_recorded(&executor, |reads| {
        Box::pin(async move {
            let mut stream = Busy::new();
            for _ in 0..3 * BUDGET {
                stream.read().await;
                reads.set(reads.get() + 1);
            }
        })
    });
    executor.run();
    let second = second.borrow();
    assert_eq!(
        second.first(),
        Some(&u64::from(BUDGET)),
        "reads per poll of the second task: {second:?}. Polled after a task that read 10 \
         items in the same turn, it should still read a full budget ({BUDGET}) in its \
         first poll: the budget is each poll's own, not the turn's or the loop's"
    );
}

pub fn a_task_reading_two_streams_has_one_budget_for_both() {
    let _watchdog = watchdog(Duration::from_secs(20), "a reader of two streams");
    let executor = Executor::new();
    let per_poll = spawn_recorded(&executor, |reads| {
        Box::pin(async move {
            let (mut left, mut right) = (Busy::new(), Busy::new());
            for _ in 0..4 * BUDGET {
                left.read().await;
                right.read().await;
                reads.set(reads.get() + 2);
            }
        })
    });
    executor.run();
    let per_poll = per_poll.borrow();
    let most = per_poll.iter().copied().max().unwrap_or(0);
    assert!(
        most <= u64::from(BUDGET) + 1,
        "reads per poll: {per_poll:?}. A task that reads two streams by turns read {most} \
         items in one poll: the budget belongs to the task's poll, whatever it reads \
         from, or a task holds the loop longer for every stream it opens"
    );
}

pub fn outside_a_task_a_busy_stream_is_not_limited() {
    // A future polled by hand, with no executor running, has no budget to spend.
    let waker = std::task::Waker::noop();
    let mut cx = Context::from_waker(waker);
    let mut stream = Busy::new();
    for expected in 0..10 * u64::from(BUDGET) {
        let mut next = std::pin::pin!(stream.read());
        assert_eq!(
            next.as_mut().poll(&mut cx),
            Poll::Ready(expected),
            "outside an executor every read should succeed"
        );
    }
}

pub fn a_reader_with_a_sleeping_neighbour_ends_at_the_time_its_work_says() {
    // The budget changes the order of the work, never its amount: the clock ends at
    // the reader's total work, and the sleeper's 1 ms hides inside it.
    let _watchdog = watchdog(Duration::from_secs(20), "the clock's end");
    let executor = Executor::new();
    executor.spawn(async {
        let mut stream = Busy::new();
        for _ in 0..1_000 {
            stream.read().await;
            work(STEP);
        }
    });
    executor.spawn(async {
        sleep(ms(1)).await;
    });
    executor.run();
    assert_eq!(
        executor.now(),
        STEP * 1_000,
        "the run should end when the reader's 1,000 steps of work do: the sleeper armed \
         its 1 ms early in the run. Later means the sleeper was first polled only after \
         the reader was done"
    );
}

/// The tests above, listed once for the two kinds of target that run them: the
/// exercise's own spec target makes each a `#[test]` (`with_tests!(as_tests)`), and
/// `wrong_solutions.rs`, which has no test harness, a table it calls in turn
/// (`with_tests!(as_table)`). Both macros are in `common/mod.rs`.
macro_rules! with_tests {
    ($then:ident) => {
        $then! {
            a_timer_is_served_on_time_beside_a_task_reading_a_busy_stream,
            a_timer_is_still_served_on_time_beside_a_task_that_yields_after_every_step,
            two_busy_readers_take_turns_at_most_budget_reads_in_a_row,
            the_budget_is_per_poll_and_full_at_every_poll,
            a_poll_that_ended_with_budget_left_does_not_shorten_the_next,
            two_tasks_polled_in_one_turn_each_get_a_full_budget,
            a_task_reading_two_streams_has_one_budget_for_both,
            outside_a_task_a_busy_stream_is_not_limited,
            a_reader_with_a_sleeping_neighbour_ends_at_the_time_its_work_says,
        }
    };
}
pub(crate) use with_tests;
