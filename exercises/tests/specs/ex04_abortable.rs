//! Spec of exercise 4: `spawn_abortable` (chapter 5).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex04_abortable
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::answer::{Aborted, abortable, spawn_abortable};
use looplab::time::{Instant, sleep, timeout, timers_in_wheel};

use crate::common::{real_runtime, virtual_runtime, watchdog, within};

const HOUR: Duration = Duration::from_secs(3600);

pub fn abort_stops_a_task_stuck_in_a_long_sleep_at_once_and_its_timer_goes_with_it() {
    let rt = virtual_runtime();
    let finished_sleeping = Arc::new(AtomicBool::new(false));
    let flag = finished_sleeping.clone();
    rt.block_on(async move {
        let (abort, handle) = spawn_abortable(async move {
            sleep(HOUR).await;
            flag.store(true, Ordering::SeqCst);
            "slept an hour"
        });
        sleep(Duration::from_secs(1)).await;
        assert!(!abort.is_aborted());
        abort.abort();
        assert!(abort.is_aborted());
        let result = within(Duration::from_secs(10), "the aborted task's handle", handle).await;
        assert_eq!(result, Ok(Err(Aborted)), "the task's output");
        assert_eq!(
            Instant::now().since_start(),
            Duration::from_secs(1),
            "the task must end at once, not when its hour is up: does abort wake it?"
        );
        assert_eq!(timers_in_wheel().0, 0, "the hour-long timer must be gone");
    });
    assert!(
        !finished_sleeping.load(Ordering::SeqCst),
        "the rest of the body never ran"
    );
    assert_eq!(rt.pending_resources(), (0, 0));
}

pub fn a_task_aborted_before_its_first_poll_never_runs() {
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    virtual_runtime().block_on(async move {
        let (abort, handle) = spawn_abortable(async move {
            flag.store(true, Ordering::SeqCst);
        });
        abort.abort();
        let result = within(Duration::from_secs(10), "the aborted task's handle", handle).await;
        assert_eq!(result, Ok(Err(Aborted)));
    });
    assert!(!ran.load(Ordering::SeqCst), "the body must not run at all");
}

pub fn a_task_never_aborted_returns_its_output_and_a_late_abort_changes_nothing() {
    virtual_runtime().block_on(async {
        let (abort, handle) = spawn_abortable(async {
            sleep(Duration::from_secs(2)).await;
            7
        });
        let result = within(Duration::from_secs(10), "the task's handle", handle).await;
        assert_eq!(result, Ok(Ok(7)));
        assert_eq!(Instant::now().since_start(), Duration::from_secs(2));

        let (abort_late, handle) = spawn_abortable(async { 8 });
        sleep(Duration::from_secs(1)).await; // the task is done by now
        abort_late.abort();
        abort.abort();
        let result = within(Duration::from_secs(10), "the task's handle", handle).await;
        assert_eq!(
            result,
            Ok(Ok(8)),
            "aborting a finished task changes nothing"
        );
    });
}

pub fn an_aborted_future_lets_go_of_what_it_holds_when_it_ends() {
    virtual_runtime().block_on(async {
        let (abort, future) = abortable(sleep(HOUR));
        let mut future = std::pin::pin!(future);
        // A first poll arms the hour's timer.
        assert!(
            timeout(Duration::from_millis(1), future.as_mut())
                .await
                .is_err()
        );
        assert_eq!(timers_in_wheel().0, 1, "the hour's timer is armed");
        abort.abort();
        let result = within(
            Duration::from_secs(10),
            "the aborted future",
            future.as_mut(),
        )
        .await;
        assert_eq!(result, Err(Aborted));
        assert_eq!(
            timers_in_wheel().0,
            0,
            "the aborted future has ended, but the hour's timer is still in the wheel: \
             what an aborted future holds (timers, sockets, buffers) must go when it \
             ends, not whenever its owner gets round to dropping it"
        );
    });
}

pub fn abort_from_another_thread_wakes_the_parked_loop() {
    let _watchdog = watchdog(Duration::from_secs(20), "abort_from_another_thread");
    let rt = real_runtime();
    let wall = std::time::Instant::now();
    rt.block_on(async {
        let (abort, handle) = spawn_abortable(sleep(Duration::from_secs(60)));
        let aborter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            abort.abort();
        });
        let result = within(Duration::from_secs(10), "the aborted task's handle", handle).await;
        assert_eq!(result, Ok(Err(Aborted)));
        aborter.join().unwrap();
    });
    assert!(
        wall.elapsed() < Duration::from_secs(5),
        "the abort took {:?}: the wake from the other thread must unpark the loop",
        wall.elapsed()
    );
    assert_eq!(rt.pending_resources(), (0, 0));
}

/// The tests above, listed once for the two kinds of target that run them: the
/// exercise's own spec target makes each a `#[test]` (`with_tests!(as_tests)`), and
/// `wrong_solutions.rs`, which has no test harness, a table it calls in turn
/// (`with_tests!(as_table)`). Both macros are in `common/mod.rs`.
macro_rules! with_tests {
    ($then:ident) => {
        $then! {
            abort_stops_a_task_stuck_in_a_long_sleep_at_once_and_its_timer_goes_with_it,
            a_task_aborted_before_its_first_poll_never_runs,
            a_task_never_aborted_returns_its_output_and_a_late_abort_changes_nothing,
            an_aborted_future_lets_go_of_what_it_holds_when_it_ends,
            abort_from_another_thread_wakes_the_parked_loop,
        }
    };
}
pub(crate) use with_tests;
