//! Spec of exercise 1 (a bug hunt): `join` never polls a future again after it returned `Ready`
//! (chapter 3).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex01_bug_polled_after_ready
//! ```

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use super::answer::join;
use looplab::time::{Instant, sleep};

use crate::common::{ms, polls_at_most, virtual_runtime, within};

/// A future that is `Ready` on its `ready_on`-th poll and counts every poll after that.
/// A well-behaved caller never makes one, so the count must stay 0. (Polled after
/// `Ready` it answers `Pending`, as a future is free to: the contract says nothing of
/// what happens then.)
struct Recorded {
    output: u32,
    ready_on: u32,
    polls: u32,
    polls_after_ready: Arc<AtomicU32>,
}

impl Recorded {
    fn new(output: u32, ready_on: u32) -> (Recorded, Arc<AtomicU32>) {
        let polls_after_ready = Arc::new(AtomicU32::new(0));
        let future = Recorded {
            output,
            ready_on,
            polls: 0,
            polls_after_ready: polls_after_ready.clone(),
        };
        (future, polls_after_ready)
    }
}

impl Future for Recorded {
    type Output = u32;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        self.polls += 1;
        if self.polls > self.ready_on {
            self.polls_after_ready.fetch_add(1, Ordering::SeqCst);
            return Poll::Pending;
        }
        if self.polls == self.ready_on {
            return Poll::Ready(self.output);
        }
        // Not yet: ask to be polled again, like a `yield_now`.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Polls `future` until it is ready, at most `max_polls` times; returns its output
/// and how many polls it took.
fn poll_to_end<F: Future>(future: F, max_polls: u32) -> (F::Output, u32) {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    for poll in 1..=max_polls {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return (output, poll);
        }
    }
    panic!("not ready after {max_polls} polls");
}

pub fn a_left_side_that_finished_first_is_never_polled_again() {
    let (a, a_after_ready) = Recorded::new(1, 1);
    let (b, b_after_ready) = Recorded::new(2, 3);
    let (output, polls) = poll_to_end(join(a, b), 10);
    assert_eq!(output, (1, 2));
    assert_eq!(polls, 3, "the join is ready when the slower side is");
    assert_eq!(
        a_after_ready.load(Ordering::SeqCst),
        0,
        "`a` returned Ready on the join's first poll and was polled again this many \
         times after that"
    );
    assert_eq!(b_after_ready.load(Ordering::SeqCst), 0);
}

pub fn a_right_side_that_finished_first_is_never_polled_again() {
    let (a, a_after_ready) = Recorded::new(1, 4);
    let (b, b_after_ready) = Recorded::new(2, 2);
    let (output, polls) = poll_to_end(join(a, b), 10);
    assert_eq!(output, (1, 2));
    assert_eq!(polls, 4, "the join is ready when the slower side is");
    assert_eq!(
        b_after_ready.load(Ordering::SeqCst),
        0,
        "`b` returned Ready on the join's second poll and was polled again this many \
         times after that"
    );
    assert_eq!(a_after_ready.load(Ordering::SeqCst), 0);
}

pub fn two_sides_ready_on_the_first_poll_end_the_join_at_once() {
    let (output, polls) = poll_to_end(join(std::future::ready('a'), async { "b" }), 1);
    assert_eq!((output, polls), (('a', "b"), 1));
}

pub fn two_async_blocks_that_finish_apart_run_at_once_on_the_loop() {
    let (output, took) = virtual_runtime().block_on(async {
        let start = Instant::now();
        // An `async` block polled after it finished panics ("`async fn` resumed after
        // completion"): the 10 ms side finishes 20 ms before the other one.
        let both = join(
            async {
                sleep(ms(10)).await;
                1
            },
            async {
                sleep(ms(30)).await;
                "two"
            },
        );
        // Two sleeps: the task is polled once to start, once per wake. A join that
        // wakes itself to poll again never lets virtual time move: bounded polls turn
        // that loop into a failure.
        let both = within(Duration::from_secs(10), "the join", both);
        let output = polls_at_most(5, "the join of two sleeps", both).await;
        (output, start.elapsed())
    });
    assert_eq!(output, (1, "two"));
    assert_eq!(
        took,
        ms(30),
        "the two sleeps overlap: the join takes as long as the longer one"
    );
}

/// The tests above, listed once for the two kinds of target that run them: the
/// exercise's own spec target makes each a `#[test]` (`with_tests!(as_tests)`), and
/// `wrong_solutions.rs`, which has no test harness, a table it calls in turn
/// (`with_tests!(as_table)`). Both macros are in `common/mod.rs`.
macro_rules! with_tests {
    ($then:ident) => {
        $then! {
            a_left_side_that_finished_first_is_never_polled_again,
            a_right_side_that_finished_first_is_never_polled_again,
            two_sides_ready_on_the_first_poll_end_the_join_at_once,
            two_async_blocks_that_finish_apart_run_at_once_on_the_loop,
        }
    };
}
pub(crate) use with_tests;
