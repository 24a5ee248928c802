//! Spec of exercise 5: `interval` (chapter 6).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex05_interval
//! ```

use std::time::Duration;

use super::answer::interval;
use looplab::time::{Instant, sleep, timeout, timers_in_wheel};

use crate::common::{ms, virtual_runtime, within};

/// Ticks `n` times with `interval(period)`, doing `work(k)` (a sleep) after the k-th
/// tick. Returns, per tick, (the instant it was due, the time it completed), both
/// since the start.
fn run_ticks(period: Duration, n: u32, work: fn(u32) -> Duration) -> Vec<(Duration, Duration)> {
    virtual_runtime().block_on(async move {
        let start = Instant::now();
        let mut ticks = interval(period);
        assert_eq!(ticks.period(), period);
        let mut seen = Vec::new();
        for k in 1..=n {
            let due = within(Duration::from_secs(60), "a tick", ticks.tick()).await;
            seen.push((due - start, start.elapsed()));
            sleep(work(k)).await;
        }
        seen
    })
}

pub fn ticks_land_on_exact_multiples_of_the_period_whatever_the_work_between_them() {
    // 30 ms of work after each 100 ms tick. Sleeping a period after each tick would
    // tick at 100, 230, 360, ...: the work adds up. An interval does not drift.
    let seen = run_ticks(ms(100), 5, |_| ms(30));
    let expected: Vec<_> = (1..=5).map(|k| (ms(100 * k), ms(100 * k))).collect();
    assert_eq!(seen, expected, "(due, completed) for each tick");
}

pub fn a_late_tick_is_caught_up_at_once_and_the_schedule_does_not_shift() {
    // After the first tick the task is busy for 250 ms: the ticks due at 200 and 300
    // are late. They complete at once (at 350), and the next is at 400 as planned.
    let seen = run_ticks(
        ms(100),
        5,
        |k| if k == 1 { ms(250) } else { Duration::ZERO },
    );
    assert_eq!(
        seen,
        vec![
            (ms(100), ms(100)),
            (ms(200), ms(350)),
            (ms(300), ms(350)),
            (ms(400), ms(400)),
            (ms(500), ms(500)),
        ],
        "(due, completed) for each tick"
    );
}

pub fn the_first_tick_is_one_period_after_the_interval_was_made() {
    let (first, at) = virtual_runtime().block_on(async {
        sleep(Duration::from_secs(1)).await;
        let mut ticks = interval(ms(250));
        let due = within(Duration::from_secs(60), "the first tick", ticks.tick()).await;
        (due.since_start(), Instant::now().since_start())
    });
    assert_eq!((first, at), (ms(1250), ms(1250)));
}

pub fn a_tick_given_up_on_leaves_no_timer_behind() {
    let leftover = virtual_runtime().block_on(async {
        let mut ticks = interval(Duration::from_secs(1));
        assert!(
            timeout(ms(300), ticks.tick()).await.is_err(),
            "the tick is due at 1 s, the timeout is at 0.3 s"
        );
        timers_in_wheel().0
    });
    assert_eq!(leftover, 0, "the abandoned tick's timer must be cancelled");
}

pub fn a_tick_given_up_on_is_still_the_next_one_due() {
    let (due, at) = virtual_runtime().block_on(async {
        let mut ticks = interval(Duration::from_secs(1));
        // A `tick()` dropped before it completed, as a lost `select` or a timeout drops
        // it, must not take its tick with it.
        assert!(timeout(ms(300), ticks.tick()).await.is_err());
        let due = within(Duration::from_secs(60), "the next tick", ticks.tick()).await;
        (due.since_start(), Instant::now().since_start())
    });
    assert_eq!(
        (due, at),
        (ms(1000), ms(1000)),
        "(due, completed) of the tick after one that was given up on at 300 ms: the 1 s \
         tick never happened, so it is still the next one"
    );
}

/// The tests above, listed once for the two kinds of target that run them: the
/// exercise's own spec target makes each a `#[test]` (`with_tests!(as_tests)`), and
/// `wrong_solutions.rs`, which has no test harness, a table it calls in turn
/// (`with_tests!(as_table)`). Both macros are in `common/mod.rs`.
macro_rules! with_tests {
    ($then:ident) => {
        $then! {
            ticks_land_on_exact_multiples_of_the_period_whatever_the_work_between_them,
            a_late_tick_is_caught_up_at_once_and_the_schedule_does_not_shift,
            the_first_tick_is_one_period_after_the_interval_was_made,
            a_tick_given_up_on_leaves_no_timer_behind,
            a_tick_given_up_on_is_still_the_next_one_due,
        }
    };
}
pub(crate) use with_tests;
