//! The timer wheel's promises, checked through its public API only.
//!
//! A timer never fires early, never fires late (it fires at the first `advance` that
//! reaches its deadline), never fires twice and is never lost; a cancelled timer never
//! fires; a stale key touches nothing. The last test drives random operations against a
//! plain ordered map that keeps the same promises the slow, obvious way.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use looplab::time::wheel::{
    LEVELS, MAX_DELAY, Placement, SLOTS_PER_LEVEL, TimerKey, TimerWheel, WheelEvent,
};
use proptest::prelude::*;

const ONE_SECOND: u64 = 1_000;
const ONE_HOUR: u64 = 3_600 * ONE_SECOND;
const ONE_DAY: u64 = 24 * ONE_HOUR;
const ONE_YEAR: u64 = 365 * ONE_DAY;

/// 64^level: the ticks one slot covers on `level`, and one turn of `level - 1`.
fn slot_span(level: usize) -> u64 {
    (SLOTS_PER_LEVEL as u64).pow(level as u32)
}

fn at(level: usize, slot: usize) -> Placement {
    Placement { level, slot }
}

/// A fired timer as the tests look at it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fired<T> {
    key: TimerKey,
    deadline: u64,
    value: T,
}

/// A cascade as the tests look at it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cascade {
    key: TimerKey,
    deadline: u64,
    from: Placement,
    to: Placement,
}

/// Advances to `now` and returns what fired and what cascaded, in event order. Checks the
/// one thing every event must satisfy wherever it comes from: nothing fires early.
fn advance<T>(wheel: &mut TimerWheel<T>, now: u64) -> (Vec<Fired<T>>, Vec<Cascade>) {
    let before = wheel.now();
    let mut fired = Vec::new();
    let mut cascaded = Vec::new();
    wheel.advance(now, |event| match event {
        WheelEvent::Fired {
            key,
            deadline,
            value,
        } => {
            assert!(
                deadline <= now,
                "timer {key:?} for {deadline} fired early at {now}"
            );
            fired.push(Fired {
                key,
                deadline,
                value,
            });
        }
        WheelEvent::Cascaded {
            key,
            deadline,
            from,
            to,
        } => cascaded.push(Cascade {
            key,
            deadline,
            from,
            to,
        }),
    });
    assert_eq!(wheel.now(), before.max(now));
    (fired, cascaded)
}

/// Advances to `now` and returns the keys that fired, in order.
fn fire<T>(wheel: &mut TimerWheel<T>, now: u64) -> Vec<TimerKey> {
    advance(wheel, now).0.into_iter().map(|f| f.key).collect()
}

/// Checks that the timer fires at exactly `deadline`: not at the tick before, and at
/// that tick, alone.
fn assert_fires_exactly_at<T>(wheel: &mut TimerWheel<T>, key: TimerKey, deadline: u64) {
    assert_eq!(wheel.deadline(key), Some(deadline));
    assert_eq!(wheel.next_deadline(), Some(deadline));
    if deadline > wheel.now() {
        assert_eq!(fire(wheel, deadline - 1), vec![], "fired before {deadline}");
        assert_eq!(
            wheel.deadline(key),
            Some(deadline),
            "lost before {deadline}"
        );
    }
    assert_eq!(
        fire(wheel, deadline),
        vec![key],
        "did not fire at {deadline}"
    );
    assert!(wheel.is_empty());
}

// ----- the clock and the empty wheel -----

#[test]
fn a_new_wheel_is_empty_at_tick_zero() {
    let wheel: TimerWheel<()> = TimerWheel::new();
    assert_eq!(wheel.now(), 0);
    assert_eq!(wheel.len(), 0);
    assert!(wheel.is_empty());
    assert_eq!(wheel.next_deadline(), None);
    assert_eq!(wheel.iter().count(), 0);
    assert_eq!(wheel.occupied_slots(), vec![]);

    let default: TimerWheel<()> = TimerWheel::default();
    assert_eq!(default.now(), 0);
    assert!(default.is_empty());
}

#[test]
fn advancing_to_an_earlier_tick_does_nothing() {
    let mut wheel = TimerWheel::new();
    wheel.advance(5_000, |_| panic!("nothing to fire"));
    let (key, _) = wheel.insert(4_000, 7);
    wheel.advance(1_000, |_| {
        panic!("time does not go back, and nothing fires")
    });
    assert_eq!(wheel.now(), 5_000);
    assert_eq!(wheel.deadline(key), Some(4_000));
}

#[test]
fn key_ids_count_inserts_from_one_even_when_entries_are_reused() {
    let mut wheel = TimerWheel::new();
    let mut ids = Vec::new();
    for round in 0..4 {
        let (key, _) = wheel.insert(round * 10, ());
        ids.push(key.id());
        wheel.cancel(key);
    }
    let (fired_key, _) = wheel.insert(0, ());
    ids.push(fired_key.id());
    fire(&mut wheel, 0);
    let (last, _) = wheel.insert(3, ());
    ids.push(last.id());
    assert_eq!(ids, vec![1, 2, 3, 4, 5, 6]);
}

// ----- due timers: deadline 0, deadline == now, deadlines in the past -----

#[test]
fn deadline_zero_fires_at_advance_to_zero() {
    let mut wheel = TimerWheel::new();
    let (key, placement) = wheel.insert(0, "now");
    assert_eq!(
        placement,
        at(0, 0),
        "a due timer waits under the level-0 hand"
    );
    assert_eq!(wheel.next_deadline(), Some(0));

    let (fired, _) = advance(&mut wheel, 0);
    assert_eq!(
        fired,
        vec![Fired {
            key,
            deadline: 0,
            value: "now"
        }]
    );
    assert!(wheel.is_empty());
    assert_eq!(fire(&mut wheel, 0), vec![], "fires once");
    assert_eq!(fire(&mut wheel, 1_000), vec![], "fires once");
}

#[test]
fn deadline_equal_to_now_fires_at_advance_to_the_same_now() {
    let mut wheel = TimerWheel::new();
    wheel.advance(12_345, |_| {});
    let (key, placement) = wheel.insert(12_345, ());
    assert_eq!(placement, at(0, 12_345 % 64));
    assert_eq!(wheel.next_deadline(), Some(12_345));
    assert_eq!(fire(&mut wheel, 12_345), vec![key]);
    assert!(wheel.is_empty());
}

#[test]
fn deadlines_in_the_past_fire_at_the_next_advance_keeping_their_own_deadline() {
    let mut wheel = TimerWheel::new();
    wheel.advance(5_000, |_| {});
    let (late, _) = wheel.insert(4_999, "late");
    let (very_late, placement) = wheel.insert(10, "very late");
    assert_eq!(placement, at(0, 5_000 % 64));
    assert_eq!(wheel.next_deadline(), Some(10), "exact, even in the past");

    // Deadline order, not insertion order; the deadline is reported as given.
    let (fired, _) = advance(&mut wheel, 5_000);
    assert_eq!(
        fired,
        vec![
            Fired {
                key: very_late,
                deadline: 10,
                value: "very late"
            },
            Fired {
                key: late,
                deadline: 4_999,
                value: "late"
            },
        ]
    );
}

// ----- placement: which level and slot -----

#[test]
fn a_one_second_timer_armed_at_zero_sits_at_level_1_slot_15() {
    // 1000 = 0b1111_101000: base-64 digits (15, 40); the highest differing bit is 9.
    let mut wheel = TimerWheel::new();
    let (key, placement) = wheel.insert(1_000, ());
    assert_eq!(placement, at(1, 15));
    assert_eq!(wheel.placement(key), Some(at(1, 15)));
    assert_eq!(wheel.occupied_slots(), vec![(at(1, 15), 1)]);
}

#[test]
fn placement_is_the_highest_base64_digit_where_deadline_and_now_differ() {
    let cases = [
        // (now, deadline, level, slot)
        (0, 1, 0, 1),
        (0, 63, 0, 63),
        (0, 64, 1, 1),
        (0, 4_095, 1, 63),
        (0, 4_096, 2, 1),
        (100, 127, 0, 63), // 100 = (1, 36) and 127 = (1, 63): same level-1 digit
        (100, 128, 1, 2),
        // One tick ahead, but across a slot boundary: the coarse level, briefly.
        (63, 64, 1, 1),
        (4_095, 4_096, 2, 1),
        (slot_span(5) - 1, slot_span(5), 5, 1),
        (0, slot_span(5) - 1, 4, 63),
        (0, slot_span(5), 5, 1),
        (0, MAX_DELAY, 5, 63),
        // Past the end of the top level's turn: the top ring wraps to slot 0.
        (62 * slot_span(5), slot_span(6), 5, 0),
    ];
    for (now, deadline, level, slot) in cases {
        let mut wheel = TimerWheel::new();
        wheel.advance(now, |_| {});
        let (_, placement) = wheel.insert(deadline, ());
        assert_eq!(placement, at(level, slot), "now {now}, deadline {deadline}");
    }
}

// ----- exact firing on level boundaries -----

/// Nows that start the wheel at awkward places: slot and level boundaries, and just
/// before the top ring wraps around.
fn interesting_nows() -> Vec<u64> {
    let mut nows = vec![0, 1, 37, 63, 64, 1_000, 4_095, 4_097];
    for level in 2..=LEVELS {
        nows.push(slot_span(level) - 1);
        nows.push(slot_span(level) + 7);
    }
    nows.push(62 * slot_span(5) + 12_345);
    nows.push(3 * slot_span(6) + 5 * slot_span(4) + 1);
    nows
}

/// Deadlines around every level boundary after `now`: 64^k - 1, 64^k and 64^k + 1,
/// both as delays from now and as the next multiple of 64^k.
fn boundary_deadlines(now: u64) -> Vec<u64> {
    let mut deadlines = Vec::new();
    for level in 1..=LEVELS {
        let span = slot_span(level);
        let next_multiple = (now / span + 1) * span;
        for base in [now + span, next_multiple] {
            for deadline in [base - 1, base, base + 1] {
                if deadline > now && deadline - now <= MAX_DELAY {
                    deadlines.push(deadline);
                }
            }
        }
    }
    deadlines.sort_unstable();
    deadlines.dedup();
    deadlines
}

#[test]
fn a_timer_on_a_level_boundary_fires_exactly_on_its_tick() {
    for now in interesting_nows() {
        for deadline in boundary_deadlines(now) {
            let mut wheel = TimerWheel::new();
            wheel.advance(now, |_| {});
            let (key, _) = wheel.insert(deadline, 0);
            assert_fires_exactly_at(&mut wheel, key, deadline);
        }
    }
}

#[test]
fn many_timers_on_level_boundaries_each_fire_exactly_on_their_tick() {
    for now in interesting_nows() {
        let mut wheel = TimerWheel::new();
        wheel.advance(now, |_| {});
        let deadlines = boundary_deadlines(now);
        let keys: Vec<_> = deadlines.iter().map(|&d| wheel.insert(d, d).0).collect();
        for (&deadline, &key) in deadlines.iter().zip(&keys) {
            assert_eq!(wheel.next_deadline(), Some(deadline));
            assert_eq!(fire(&mut wheel, deadline - 1), vec![]);
            assert_eq!(fire(&mut wheel, deadline), vec![key], "now was {now}");
        }
        assert!(wheel.is_empty());
    }
}

// ----- the longest delay -----

#[test]
fn max_delay_reaches_more_than_a_year() {
    const { assert!(MAX_DELAY >= ONE_YEAR) };
    assert_eq!(MAX_DELAY, 63 * slot_span(5));
}

#[test]
fn a_timer_max_delay_ahead_fires_exactly_then() {
    for now in [0, 123_456_789, 62 * slot_span(5) + 12_345] {
        let mut wheel = TimerWheel::new();
        wheel.advance(now, |_| {});
        let (key, placement) = wheel.insert(now + MAX_DELAY, 0);
        assert_eq!(placement.level, LEVELS - 1);
        assert_fires_exactly_at(&mut wheel, key, now + MAX_DELAY);
    }
}

#[test]
fn deadlines_beyond_max_delay_are_clamped_to_now_plus_max_delay() {
    let now = 987_654;
    let mut wheel = TimerWheel::new();
    wheel.advance(now, |_| {});
    let (just_beyond, _) = wheel.insert(now + MAX_DELAY + 1, 1);
    let (forever, _) = wheel.insert(u64::MAX, 2);
    assert_eq!(wheel.deadline(just_beyond), Some(now + MAX_DELAY));
    assert_eq!(wheel.deadline(forever), Some(now + MAX_DELAY));

    assert_eq!(fire(&mut wheel, now + MAX_DELAY - 1), vec![]);
    let (fired, _) = advance(&mut wheel, now + MAX_DELAY);
    let reported: Vec<_> = fired.iter().map(|f| (f.key, f.deadline)).collect();
    assert_eq!(
        reported,
        vec![(just_beyond, now + MAX_DELAY), (forever, now + MAX_DELAY)]
    );
}

#[test]
fn time_near_the_end_of_u64_still_fires_exactly() {
    let now = u64::MAX - 100;
    let mut wheel = TimerWheel::new();
    wheel.advance(now, |_| {});
    let (last_tick, _) = wheel.insert(u64::MAX, ());
    let (soon, _) = wheel.insert(now + 50, ());
    assert_eq!(
        wheel.deadline(last_tick),
        Some(u64::MAX),
        "clamping saturates"
    );
    assert_eq!(fire(&mut wheel, now + 49), vec![]);
    assert_eq!(fire(&mut wheel, now + 50), vec![soon]);
    assert_eq!(fire(&mut wheel, u64::MAX - 1), vec![]);
    assert_eq!(fire(&mut wheel, u64::MAX), vec![last_tick]);
}

// ----- many timers -----

#[test]
fn ten_thousand_timers_with_one_deadline_all_fire_once_in_insertion_order() {
    let mut wheel = TimerWheel::new();
    let keys: Vec<_> = (0..10_000).map(|i| wheel.insert(1_000, i).0).collect();
    assert_eq!(wheel.occupied_slots(), vec![(at(1, 15), 10_000)]);
    assert_eq!(wheel.next_deadline(), Some(1_000));

    assert_eq!(fire(&mut wheel, 999), vec![]);
    let (fired, _) = advance(&mut wheel, 1_000);
    let values: Vec<_> = fired.iter().map(|f| f.value).collect();
    assert_eq!(values, (0..10_000).collect::<Vec<_>>());
    assert_eq!(fired.iter().map(|f| f.key).collect::<Vec<_>>(), keys);
    assert!(wheel.is_empty());
    assert_eq!(fire(&mut wheel, 10 * ONE_SECOND), vec![]);
}

#[test]
fn ten_thousand_timers_in_one_coarse_slot_each_fire_once_on_their_own_tick() {
    // Level 1 slot 15 covers ticks 960..1024; spread the timers over all of it.
    let mut wheel = TimerWheel::new();
    for i in 0..10_000u64 {
        let (_, placement) = wheel.insert(960 + (i * 7) % 64, i);
        assert_eq!(placement, at(1, 15));
    }
    let mut fired_count = vec![0; 10_000];
    for tick in 950..1_030 {
        for fired in advance(&mut wheel, tick).0 {
            assert_eq!(fired.deadline, tick, "fired late");
            fired_count[fired.value as usize] += 1;
        }
    }
    assert!(fired_count.iter().all(|&count| count == 1));
    assert!(wheel.is_empty());
}

#[test]
fn fired_timers_come_in_deadline_order_ties_in_insertion_order() {
    let mut wheel = TimerWheel::new();
    let deadlines = [
        ONE_DAY, 5, ONE_SECOND, 5, ONE_HOUR, 64, ONE_SECOND, 0, 4_096, 63,
    ];
    for (value, &deadline) in deadlines.iter().enumerate() {
        wheel.insert(deadline, value);
    }
    let (fired, _) = advance(&mut wheel, ONE_YEAR);
    let order: Vec<_> = fired.iter().map(|f| (f.deadline, f.value)).collect();
    let mut expected: Vec<_> = deadlines.iter().copied().zip(0..).collect();
    expected.sort();
    assert_eq!(order, expected);
}

// ----- cascading -----

#[test]
fn a_cascade_is_reported_and_the_placement_follows_it() {
    let mut wheel = TimerWheel::new();
    let (key, _) = wheel.insert(1_000, ());
    assert_eq!(advance(&mut wheel, 959), (vec![], vec![]));

    let (fired, cascaded) = advance(&mut wheel, 960);
    assert_eq!(fired, vec![]);
    assert_eq!(
        cascaded,
        vec![Cascade {
            key,
            deadline: 1_000,
            from: at(1, 15),
            to: at(0, 40)
        }]
    );
    assert_eq!(wheel.placement(key), Some(at(0, 40)));
    assert_eq!(wheel.next_deadline(), Some(1_000));
    assert_fires_exactly_at(&mut wheel, key, 1_000);
}

#[test]
fn a_distant_timer_steps_down_one_level_or_more_per_cascade() {
    let deadline = 3 * ONE_DAY + 2 * ONE_HOUR + 17 * ONE_SECOND + 5;
    let mut wheel = TimerWheel::new();
    let (key, first) = wheel.insert(deadline, ());
    let (fired, cascaded) = advance(&mut wheel, deadline);
    assert_eq!(fired.len(), 1);

    let mut level = first.level;
    for cascade in &cascaded {
        assert_eq!((cascade.key, cascade.deadline), (key, deadline));
        assert_eq!(cascade.from.level, level);
        assert!(cascade.to.level < cascade.from.level);
        level = cascade.to.level;
    }
    assert!(!cascaded.is_empty() && cascaded.len() < LEVELS);
}

#[test]
fn a_timer_due_on_the_tick_its_coarse_slot_starts_fires_without_a_cascade_event() {
    let mut wheel = TimerWheel::new();
    let (key, placement) = wheel.insert(4_096, ());
    assert_eq!(placement, at(2, 1));
    let (fired, cascaded) = advance(&mut wheel, 4_096);
    assert_eq!(fired.iter().map(|f| f.key).collect::<Vec<_>>(), vec![key]);
    assert_eq!(cascaded, vec![]);
}

// ----- cancel and stale keys -----

#[test]
fn a_timer_cancelled_before_its_cascade_never_fires() {
    let mut wheel = TimerWheel::new();
    let (keep, _) = wheel.insert(1_000, "keep");
    let (drop, _) = wheel.insert(1_010, "drop");
    assert_eq!(wheel.cancel(drop), Some("drop"));
    assert_eq!(wheel.len(), 1);
    assert_eq!(wheel.occupied_slots(), vec![(at(1, 15), 1)]);

    let (fired, cascaded) = advance(&mut wheel, ONE_HOUR);
    assert_eq!(fired.iter().map(|f| f.key).collect::<Vec<_>>(), vec![keep]);
    assert!(cascaded.iter().all(|c| c.key != drop));
}

#[test]
fn a_timer_cancelled_after_its_cascade_never_fires() {
    let mut wheel = TimerWheel::new();
    let (key, _) = wheel.insert(ONE_HOUR + 1_234, 1);
    let (other, _) = wheel.insert(ONE_HOUR + 1_234, 2);

    // Walk time up to just before the deadline; the timers must have come down to level 0.
    let (fired, cascaded) = advance(&mut wheel, ONE_HOUR + 1_233);
    assert_eq!(fired, vec![]);
    assert!(cascaded.len() >= 4, "both timers cascaded at least twice");
    assert_eq!(wheel.placement(key).map(|p| p.level), Some(0));

    assert_eq!(wheel.cancel(key), Some(1));
    assert_eq!(wheel.cancel(key), None, "cancel works once");
    assert_eq!(fire(&mut wheel, ONE_DAY), vec![other]);
}

#[test]
fn cancelling_one_timer_among_many_in_a_slot_leaves_the_others_alone() {
    let mut wheel = TimerWheel::new();
    let keys: Vec<_> = (0..100).map(|i| wheel.insert(1_000 + i % 3, i).0).collect();
    // Cancel every third, in an order that moves entries around inside the slot.
    for key in keys.iter().rev().step_by(3) {
        assert!(wheel.cancel(*key).is_some());
    }
    let mut survivors: Vec<_> = (keys.iter().rev().enumerate())
        .filter(|(i, _)| i % 3 != 0)
        .map(|(_, key)| *key)
        .collect();
    survivors.sort_by_key(|key| (wheel.deadline(*key), key.id()));

    assert_eq!(fire(&mut wheel, 2_000), survivors);
}

#[test]
fn a_fired_key_is_stale_and_cannot_touch_the_timer_that_reused_its_entry() {
    let mut wheel = TimerWheel::new();
    let (old, _) = wheel.insert(10, "old");
    assert_eq!(fire(&mut wheel, 10), vec![old]);

    // The slab entry is free again, so the next insert reuses it.
    let (new, _) = wheel.insert(20, "new");
    assert_ne!(old, new);
    assert_eq!(wheel.cancel(old), None);
    assert_eq!(wheel.get_mut(old), None);
    assert_eq!(wheel.deadline(old), None);
    assert_eq!(wheel.placement(old), None);

    assert_eq!(wheel.len(), 1);
    assert_eq!(wheel.deadline(new), Some(20));
    let (fired, _) = advance(&mut wheel, 20);
    assert_eq!(fired.len(), 1);
    assert_eq!((fired[0].key, fired[0].value), (new, "new"));
}

#[test]
fn a_cancelled_key_is_stale_and_cannot_touch_the_timer_that_reused_its_entry() {
    let mut wheel = TimerWheel::new();
    let (old, _) = wheel.insert(ONE_SECOND, 1);
    assert_eq!(wheel.cancel(old), Some(1));
    let (new, _) = wheel.insert(ONE_SECOND, 2);
    assert_eq!(wheel.cancel(old), None);
    assert_eq!(wheel.deadline(new), Some(ONE_SECOND));
    assert_eq!(fire(&mut wheel, ONE_SECOND), vec![new]);
}

#[test]
fn get_mut_changes_the_value_handed_back_when_the_timer_fires() {
    let mut wheel = TimerWheel::new();
    let (key, _) = wheel.insert(ONE_SECOND, String::from("first waker"));
    fire(&mut wheel, 960); // cascade first: the key must stay valid
    *wheel.get_mut(key).unwrap() = String::from("newer waker");
    let (fired, _) = advance(&mut wheel, ONE_SECOND);
    assert_eq!(fired[0].value, "newer waker");
}

// ----- next_deadline -----

#[test]
fn next_deadline_is_the_exact_tick_not_the_start_of_a_coarse_slot() {
    let mut wheel = TimerWheel::new();
    let (one_second, placement) = wheel.insert(1_000, ());
    assert_eq!(placement.level, 1, "level 1 slot 15 starts at 960");
    assert_eq!(wheel.next_deadline(), Some(1_000));

    wheel.insert(1_020, ());
    wheel.insert(1_003, ());
    wheel.insert(ONE_HOUR, ());
    wheel.insert(5, ());
    assert_eq!(wheel.next_deadline(), Some(5));
    fire(&mut wheel, 5);
    assert_eq!(wheel.next_deadline(), Some(1_000));
    wheel.cancel(one_second);
    assert_eq!(wheel.next_deadline(), Some(1_003));
    fire(&mut wheel, 1_020);
    assert_eq!(wheel.next_deadline(), Some(ONE_HOUR));
    fire(&mut wheel, ONE_HOUR);
    assert_eq!(wheel.next_deadline(), None);
}

#[test]
fn next_deadline_is_exact_on_the_top_level_and_across_its_wrap() {
    let now = 62 * slot_span(5) + 12_345;
    let mut wheel = TimerWheel::new();
    wheel.advance(now, |_| {});
    // Top-ring slots behind the hand are the next turn: later, not earlier.
    wheel.insert(now + MAX_DELAY, ());
    wheel.insert(now + 3 * slot_span(5) + 17, ());
    wheel.insert(now + slot_span(5) + 99, ());
    assert_eq!(wheel.next_deadline(), Some(now + slot_span(5) + 99));
}

// ----- big jumps -----

#[test]
fn jumping_a_year_ahead_with_a_few_timers_is_quick() {
    let mut wheel = TimerWheel::new();
    let deadlines = [1, ONE_SECOND, ONE_HOUR, ONE_DAY, 200 * ONE_DAY, ONE_YEAR];
    for &deadline in &deadlines {
        wheel.insert(deadline, deadline);
    }
    let started = Instant::now();
    let (fired, _) = advance(&mut wheel, ONE_YEAR);
    let elapsed = started.elapsed();

    let values: Vec<_> = fired.iter().map(|f| f.value).collect();
    assert_eq!(values, deadlines);
    // A tick-by-tick loop would visit 31.5 billion ticks; hopping visits a few dozen.
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");

    let started = Instant::now();
    wheel.advance(ONE_YEAR + MAX_DELAY, |_| {});
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "an empty wheel jumps at once"
    );
}

// ----- the step view -----

#[test]
fn iter_and_occupied_slots_show_every_pending_timer() {
    let mut wheel = TimerWheel::new();
    let (a, _) = wheel.insert(1_000, 'a');
    let (b, _) = wheel.insert(1_001, 'b');
    let (c, _) = wheel.insert(10, 'c');
    let (d, _) = wheel.insert(ONE_HOUR, 'd');
    wheel.cancel(b);

    let mut listed: Vec<_> = wheel
        .iter()
        .map(|(key, deadline, placement, value)| (key, deadline, placement, *value))
        .collect();
    listed.sort_by_key(|entry| entry.1);
    assert_eq!(
        listed,
        vec![
            (c, 10, at(0, 10), 'c'),
            (a, 1_000, at(1, 15), 'a'),
            (d, ONE_HOUR, at(3, 13), 'd'),
        ]
    );
    assert_eq!(
        wheel.occupied_slots(),
        vec![(at(0, 10), 1), (at(1, 15), 1), (at(3, 13), 1)]
    );
}

// ----- random deadlines against the definition, and against a model -----

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Each timer fires in the first advance whose `now` reaches its deadline: not
    /// before (never early), not in a later one (never late).
    #[test]
    fn random_deadlines_fire_at_the_first_advance_that_reaches_them(
        deadlines in prop::collection::vec(0..(1u64 << 26), 1..60),
        steps in prop::collection::vec(
            prop_oneof![0..70u64, 0..5_000u64, 0..(1u64 << 24)], 1..40),
    ) {
        let mut wheel = TimerWheel::new();
        for (i, &deadline) in deadlines.iter().enumerate() {
            wheel.insert(deadline, i);
        }
        let mut fired_at = vec![None; deadlines.len()];
        let mut previous_advance = None;
        let mut now = 0;
        for step in steps.into_iter().chain([1 << 26]) {
            now += step;
            for fired in advance(&mut wheel, now).0 {
                prop_assert!(fired.deadline <= now, "early");
                if let Some(previous) = previous_advance {
                    prop_assert!(fired.deadline > previous,
                        "late: deadline {} was reached by the advance to {previous}",
                        fired.deadline);
                }
                prop_assert_eq!(fired_at[fired.value], None, "fired twice");
                fired_at[fired.value] = Some(now);
            }
            previous_advance = Some(now);
        }
        prop_assert!(fired_at.iter().all(Option::is_some), "lost");
    }
}

/// The model: what a timer structure must do, the slow and obvious way.
#[derive(Default)]
struct Model {
    now: u64,
    /// Pending timers by (deadline, id) -> value: iteration order is firing order.
    pending: BTreeMap<(u64, u64), u64>,
}

#[derive(Clone, Debug)]
enum Op {
    /// Insert a timer.
    Insert(InsertAt),
    /// Cancel a key issued earlier, live or stale.
    Cancel(prop::sample::Index),
    /// Advance to `now + step`.
    Advance(u64),
}

/// Where an inserted timer's deadline goes, relative to now.
#[derive(Clone, Debug)]
enum InsertAt {
    /// `now + delay`.
    In(u64),
    /// `now - ago`: already due.
    Ago(u64),
    /// On or next to the next multiple of 64^level after now.
    NearBoundary { level: usize, offset: i8 },
}

impl InsertAt {
    fn deadline(&self, now: u64) -> u64 {
        match *self {
            InsertAt::In(delay) => now.saturating_add(delay),
            InsertAt::Ago(ago) => now.saturating_sub(ago),
            InsertAt::NearBoundary { level, offset } => {
                let span = slot_span(level);
                let next_multiple = (now / span + 1) * span;
                next_multiple.saturating_add_signed(offset.into())
            }
        }
    }
}

/// Delays and steps on and around every level boundary and the limit.
fn boundary_ticks() -> Vec<u64> {
    let mut ticks = vec![0, 1, 2];
    for level in 1..=LEVELS {
        let span = slot_span(level);
        ticks.extend([span - 1, span, span + 1]);
    }
    ticks.extend([MAX_DELAY - 1, MAX_DELAY, MAX_DELAY + 1]);
    ticks
}

/// Delays spread over every level, plus 0, the boundaries, and beyond the limit.
fn delay() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => 0..64u64,
        2 => 64..4_096u64,
        2 => 4_096..(1u64 << 24),
        1 => (1u64 << 24)..=MAX_DELAY,
        2 => prop::sample::select(boundary_ticks()),
        1 => MAX_DELAY..2 * MAX_DELAY,
    ]
}

/// Advance steps: mostly small (tick by tick through slots), some across whole levels.
fn step() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0..4u64,
        3 => 0..128u64,
        2 => 0..10_000u64,
        1 => 0..(1u64 << 22),
        1 => 0..(1u64 << 32),
        1 => 0..=MAX_DELAY + (1 << 31),
        1 => prop::sample::select(boundary_ticks()),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => delay().prop_map(|delay| Op::Insert(InsertAt::In(delay))),
        1 => (0..10_000u64).prop_map(|ago| Op::Insert(InsertAt::Ago(ago))),
        2 => (1..=LEVELS, -1..=1i8).prop_map(|(level, offset)| {
            Op::Insert(InsertAt::NearBoundary { level, offset })
        }),
        3 => any::<prop::sample::Index>().prop_map(Op::Cancel),
        4 => step().prop_map(Op::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_wheel_fires_exactly_what_an_ordered_map_fires(
        ops in prop::collection::vec(op(), 1..150),
    ) {
        let mut wheel = TimerWheel::new();
        let mut model = Model::default();
        // Every key ever issued, with its clamped deadline, so cancels hit stale keys too.
        let mut issued: Vec<(TimerKey, u64)> = Vec::new();

        for op in ops {
            match op {
                Op::Insert(at) => {
                    let requested = at.deadline(model.now);
                    let expected_id = issued.len() as u64 + 1;
                    let value = expected_id * 1_000 + 7;
                    let (key, placement) = wheel.insert(requested, value);
                    let deadline = requested.min(model.now + MAX_DELAY);
                    prop_assert_eq!(key.id(), expected_id);
                    prop_assert_eq!(wheel.deadline(key), Some(deadline));
                    prop_assert_eq!(wheel.placement(key), Some(placement));
                    prop_assert!(placement.level < LEVELS && placement.slot < SLOTS_PER_LEVEL);
                    model.pending.insert((deadline, key.id()), value);
                    issued.push((key, deadline));
                }
                Op::Cancel(pick) => {
                    if !issued.is_empty() {
                        let (key, deadline) = *pick.get(&issued);
                        let expected = model.pending.remove(&(deadline, key.id()));
                        prop_assert_eq!(wheel.cancel(key), expected);
                    }
                }
                Op::Advance(step) => {
                    let now = model.now + step;
                    let (fired, cascaded) = advance(&mut wheel, now);

                    // Same timers, same order: deadline order, ties by insertion.
                    let later = model.pending.split_off(&(now + 1, 0));
                    let due = std::mem::replace(&mut model.pending, later);
                    let expected: Vec<_> =
                        due.into_iter().map(|((d, id), v)| (id, d, v)).collect();
                    let got: Vec<_> =
                        fired.iter().map(|f| (f.key.id(), f.deadline, f.value)).collect();
                    prop_assert_eq!(got, expected);
                    model.now = now;

                    // Cascades go down, only for timers still pending, and a timer that
                    // did not fire sits where its last cascade put it.
                    let mut last_move = HashMap::new();
                    for cascade in cascaded {
                        prop_assert!(cascade.to.level < cascade.from.level);
                        last_move.insert(cascade.key, cascade.to);
                    }
                    for (key, to) in last_move {
                        if fired.iter().all(|f| f.key != key) {
                            prop_assert_eq!(wheel.placement(key), Some(to));
                        }
                    }
                }
            }

            prop_assert_eq!(wheel.now(), model.now);
            prop_assert_eq!(wheel.len(), model.pending.len());
            prop_assert_eq!(wheel.is_empty(), model.pending.is_empty());
            prop_assert_eq!(
                wheel.next_deadline(),
                model.pending.keys().next().map(|&(deadline, _)| deadline)
            );
            prop_assert_eq!(wheel.iter().count(), model.pending.len());
            let in_slots: usize = wheel.occupied_slots().iter().map(|&(_, n)| n).sum();
            prop_assert_eq!(in_slots, model.pending.len());
        }
    }
}
