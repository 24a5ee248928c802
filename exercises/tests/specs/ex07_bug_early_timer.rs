//! Spec of exercise 7 (a bug hunt): no timer fires before its deadline, and none is lost (chapter 6).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex07_bug_early_timer
//! ```
//!
//! The promise checked here: a timer fires at the first `advance` whose time has
//! reached its deadline rounded **up** to a whole tick. So never before its deadline,
//! late by less than one tick, and never lost. The wheel is a plain data structure, so
//! each test is a few calls; a watchdog still ends any that runs away (a fix that loops
//! over every tick of a long jump, say).

use std::collections::BTreeMap;
use std::time::Duration;

use super::answer::{TICK, TimerWheel};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

use crate::common::{ms, watchdog};

fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

/// Advances `wheel` to `now` and returns the values that fired, sorted.
fn fire<T: Ord>(wheel: &mut TimerWheel<T>, now: Duration) -> Vec<T> {
    let mut values: Vec<T> = wheel.advance(now).into_iter().map(|(_, v)| v).collect();
    values.sort();
    values
}

pub fn a_deadline_between_two_ticks_never_fires_before_it() {
    let _watchdog = watchdog(Duration::from_secs(10), "a deadline between two ticks");
    let mut wheel = TimerWheel::new();
    wheel.insert(us(1_500), "1.5 ms");
    assert_eq!(
        fire(&mut wheel, ms(1)),
        Vec::<&str>::new(),
        "a timer due at 1.5 ms fired at 1 ms, 0.5 ms before its deadline"
    );
    assert_eq!(fire(&mut wheel, us(1_999)), Vec::<&str>::new());
    assert_eq!(fire(&mut wheel, ms(2)), ["1.5 ms"], "due, on the next tick");
    assert!(wheel.is_empty());
}

pub fn a_deadline_inside_the_tick_just_processed_does_not_fire_early_either() {
    let _watchdog = watchdog(Duration::from_secs(10), "a deadline inside the last tick");
    let mut wheel = TimerWheel::new();
    assert!(fire(&mut wheel, us(5_300)).is_empty());
    // Tick 5 has been processed; this deadline lies after the time, inside tick 5..6.
    wheel.insert(us(5_700), "5.7 ms");
    assert_eq!(
        fire(&mut wheel, us(5_600)),
        Vec::<&str>::new(),
        "a timer due at 5.7 ms fired at 5.6 ms, before its deadline"
    );
    assert_eq!(fire(&mut wheel, ms(6)), ["5.7 ms"]);
}

pub fn timers_on_whole_ticks_fire_on_their_tick_not_later() {
    let _watchdog = watchdog(Duration::from_secs(10), "timers on whole ticks");
    let mut wheel = TimerWheel::new();
    for deadline in [1, 2, 64, 65] {
        wheel.insert(ms(deadline), deadline);
    }
    assert!(fire(&mut wheel, us(999)).is_empty());
    assert_eq!(fire(&mut wheel, ms(1)), [1], "due at 1 ms, fires at 1 ms");
    assert_eq!(fire(&mut wheel, ms(2)), [2]);
    assert!(fire(&mut wheel, us(63_999)).is_empty());
    assert_eq!(fire(&mut wheel, ms(65)), [64, 65]);
}

pub fn a_timer_a_turn_ahead_waits_for_its_turn() {
    let _watchdog = watchdog(Duration::from_secs(10), "a timer a turn ahead");
    let mut wheel = TimerWheel::new();
    // 36 ms and 100 ms share slot 36 (100 = 64 + 36).
    wheel.insert(ms(36), 36);
    wheel.insert(ms(100), 100);
    assert_eq!(fire(&mut wheel, ms(36)), [36]);
    assert!(fire(&mut wheel, us(99_999)).is_empty());
    assert_eq!(fire(&mut wheel, ms(100)), [100]);
}

pub fn a_jump_of_many_turns_fires_what_is_due_and_keeps_the_rest() {
    let _watchdog = watchdog(Duration::from_secs(10), "a long jump");
    let mut wheel = TimerWheel::new();
    for deadline in [10, 500, 5_000] {
        wheel.insert(ms(deadline), deadline);
    }
    assert_eq!(fire(&mut wheel, ms(600)), [10, 500]);
    assert_eq!(wheel.len(), 1);
    assert_eq!(fire(&mut wheel, ms(5_000)), [5_000]);
    assert!(wheel.is_empty());
}

/// One step of the property test.
#[derive(Clone, Debug)]
enum Op {
    /// Insert a timer due `delay` after the current time.
    Insert { delay: Duration },
    /// Move the time forward by `step` and advance the wheel.
    Advance { step: Duration },
}

fn op() -> impl Strategy<Value = Op> {
    // Delays and steps in microseconds, so most deadlines fall between two ticks;
    // some whole ticks, and some long enough to span several turns of the wheel.
    let delay = prop_oneof![
        4 => (0u64..3_000).prop_map(us),
        2 => (0u64..200).prop_map(ms),
        1 => (0u64..300_000).prop_map(us),
    ];
    let step = prop_oneof![
        4 => (0u64..2_000).prop_map(us),
        1 => (0u64..100).prop_map(ms),
        1 => (0u64..200_000).prop_map(us),
    ];
    prop_oneof![
        delay.prop_map(|delay| Op::Insert { delay }),
        step.prop_map(|step| Op::Advance { step }),
    ]
}

/// The deadline rounded up to a whole tick: the time from which the timer must fire.
fn due_from(deadline: Duration) -> Duration {
    let ticks = deadline.as_nanos().div_ceil(TICK.as_nanos());
    TICK * u32::try_from(ticks).expect("test deadlines are short")
}

/// Advances `wheel` to `now`, and checks what fired against `waiting`, the model: the
/// timers not fired yet, by id, with their deadlines.
fn advance_and_check(
    wheel: &mut TimerWheel<u32>,
    waiting: &mut BTreeMap<u32, Duration>,
    now: Duration,
) -> Result<(), TestCaseError> {
    for (deadline, id) in wheel.advance(now) {
        prop_assert!(
            deadline <= now,
            "timer #{id} due at {deadline:?} fired at {now:?}: {:?} early",
            deadline - now
        );
        prop_assert_eq!(
            waiting.remove(&id),
            Some(deadline),
            "timer #{} fired twice, or with another deadline",
            id
        );
    }
    for (id, deadline) in waiting.iter() {
        prop_assert!(
            now < due_from(*deadline),
            "timer #{id} due at {deadline:?} has not fired at {now:?}: late by a tick or \
             more, or lost"
        );
    }
    prop_assert_eq!(
        wheel.len(),
        waiting.len(),
        "len() counts the waiting timers"
    );
    Ok(())
}

/// Runs `ops` on a wheel and on a model (a map of the timers not fired yet).
fn check(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut wheel = TimerWheel::new();
    let mut waiting: BTreeMap<u32, Duration> = BTreeMap::new();
    let mut now = Duration::ZERO;
    let mut next_id = 0u32;
    for op in ops {
        match op {
            Op::Insert { delay } => {
                let deadline = now + *delay;
                wheel.insert(deadline, next_id);
                waiting.insert(next_id, deadline);
                next_id += 1;
            }
            Op::Advance { step } => {
                now += *step;
                advance_and_check(&mut wheel, &mut waiting, now)?;
            }
        }
    }
    // Far enough ahead for every deadline: all must fire now, none may be lost.
    now += Duration::from_secs(1);
    advance_and_check(&mut wheel, &mut waiting, now)?;
    prop_assert!(waiting.is_empty(), "timers never fired: {:?}", waiting);
    prop_assert!(wheel.is_empty());
    Ok(())
}

pub fn no_timer_fires_before_its_deadline_and_none_is_lost() {
    let _watchdog = watchdog(Duration::from_secs(60), "the timer wheel property test");
    let mut runner = TestRunner::new(Config {
        cases: 512,
        // A failure is printed, shrunk to a small example; no regression file is
        // written into the exercises' directory.
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&proptest::collection::vec(op(), 1..60), |ops| check(&ops));
    match result {
        Ok(()) => {}
        // Run the smallest failing case once more, for its own message (proptest
        // reports the message of the first failure it met, before shrinking).
        Err(TestError::Fail(_, ops)) => {
            let why = check(&ops).expect_err("the shrunk case failed before");
            panic!("{why}\nthe smallest failing sequence: {ops:#?}");
        }
        Err(e) => panic!("{e}"),
    }
}

/// The tests above, listed once for the two kinds of target that run them: the
/// exercise's own spec target makes each a `#[test]` (`with_tests!(as_tests)`), and
/// `wrong_solutions.rs`, which has no test harness, a table it calls in turn
/// (`with_tests!(as_table)`). Both macros are in `common/mod.rs`.
macro_rules! with_tests {
    ($then:ident) => {
        $then! {
            a_deadline_between_two_ticks_never_fires_before_it,
            a_deadline_inside_the_tick_just_processed_does_not_fire_early_either,
            timers_on_whole_ticks_fire_on_their_tick_not_later,
            a_timer_a_turn_ahead_waits_for_its_turn,
            a_jump_of_many_turns_fires_what_is_due_and_keeps_the_rest,
            no_timer_fires_before_its_deadline_and_none_is_lost,
        }
    };
}
pub(crate) use with_tests;
