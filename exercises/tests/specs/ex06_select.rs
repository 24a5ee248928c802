//! Spec of exercise 6: `select` (chapter 6).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex06_select
//! ```

use std::future::{Future, pending, ready};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use super::answer::{Either, select};
use looplab::time::{Instant, sleep, timers_in_wheel};

use crate::common::{polls_at_most, virtual_runtime, within};

const LIMIT: Duration = Duration::from_secs(60);

/// Wraps a future and raises a flag when it is dropped.
struct DropFlag<F> {
    inner: Pin<Box<F>>,
    dropped: Arc<AtomicBool>,
}

impl<F: Future> Future for DropFlag<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<F> Drop for DropFlag<F> {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

fn flagged<F>(inner: F) -> (DropFlag<F>, Arc<AtomicBool>) {
    let dropped = Arc::new(AtomicBool::new(false));
    (
        DropFlag {
            inner: Box::pin(inner),
            dropped: dropped.clone(),
        },
        dropped,
    )
}

pub fn the_right_future_can_win_and_the_loser_is_dropped_as_soon_as_it_lost() {
    let rt = virtual_runtime();
    rt.block_on(async {
        let (slow, slow_dropped) = flagged(sleep(Duration::from_secs(2)));
        let mut race = pin!(select(slow, sleep(Duration::from_secs(1))));
        // Poll the Select by hand, so that it is still alive when it returns Ready.
        let winner = within(
            LIMIT,
            "the race",
            std::future::poll_fn(|cx| race.as_mut().poll(cx)),
        )
        .await;
        assert_eq!(winner, Either::Right(()));
        assert_eq!(
            Instant::now().since_start(),
            Duration::from_secs(1),
            "won at 1 s"
        );
        assert!(
            slow_dropped.load(Ordering::SeqCst),
            "the loser must be dropped when the Select returns Ready, not later"
        );
        assert_eq!(
            timers_in_wheel().0,
            0,
            "the loser's 2 s timer must be cancelled"
        );
    });
    assert_eq!(rt.pending_resources(), (0, 0));
}

pub fn the_left_future_can_win_with_its_own_output() {
    virtual_runtime().block_on(async {
        let fast = async {
            sleep(Duration::from_secs(1)).await;
            "left"
        };
        let slow = async {
            sleep(Duration::from_secs(3)).await;
            7
        };
        // Two sleeps: a poll to start, one per wake. A select that wakes itself to
        // poll again never lets virtual time move; the bound makes that a failure.
        let race = within(LIMIT, "the race", select(fast, slow));
        let winner = polls_at_most(4, "a race of two sleeps", race).await;
        assert_eq!(winner, Either::Left("left"));
        assert_eq!(Instant::now().since_start(), Duration::from_secs(1));
        assert_eq!(timers_in_wheel().0, 0, "the 3 s timer must be cancelled");
    });
}

pub fn a_branch_woken_by_another_task_wins() {
    // The left branch waits for a task (woken through its JoinHandle), the right one for
    // nothing at all: only the left one's wake can finish the race.
    virtual_runtime().block_on(async {
        let task = looplab::spawn(async {
            sleep(Duration::from_millis(1500)).await;
            42
        });
        let winner = within(LIMIT, "the race", select(task, pending::<()>())).await;
        assert_eq!(winner, Either::Left(Ok(42)));
        assert_eq!(Instant::now().since_start(), Duration::from_millis(1500));
    });
}

pub fn when_both_are_ready_at_once_the_left_one_wins() {
    virtual_runtime().block_on(async {
        assert_eq!(select(ready(1), ready(2)).await, Either::Left(1));
        // Two sleeps due at the same tick: a goes first.
        let winner = within(
            LIMIT,
            "the race",
            select(sleep(Duration::from_secs(1)), sleep(Duration::from_secs(1))),
        )
        .await;
        assert_eq!(winner, Either::Left(()));
    });
}

/// The tests above, listed once for the two kinds of target that run them: the
/// exercise's own spec target makes each a `#[test]` (`with_tests!(as_tests)`), and
/// `wrong_solutions.rs`, which has no test harness, a table it calls in turn
/// (`with_tests!(as_table)`). Both macros are in `common/mod.rs`.
macro_rules! with_tests {
    ($then:ident) => {
        $then! {
            the_right_future_can_win_and_the_loser_is_dropped_as_soon_as_it_lost,
            the_left_future_can_win_with_its_own_output,
            a_branch_woken_by_another_task_wins,
            when_both_are_ready_at_once_the_left_one_wins,
        }
    };
}
pub(crate) use with_tests;
