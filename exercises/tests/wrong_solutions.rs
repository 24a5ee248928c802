//! Every spec rejects the wrong solutions a learner would plausibly write, and accepts
//! the other right ones.
//!
//! ```text
//! cargo test -p looplab-exercises --test wrong_solutions             # all of them
//! cargo test -p looplab-exercises --test wrong_solutions -- ex09     # one exercise's
//! ```
//!
//! `exercises/wrong/exNN/NAME.rs` is a solution with one subtle bug, its first line says
//! which; `exercises/right/exNN/NAME.rs` is a correct design other than the reference
//! solution's; and every untouched starting point (`start/exNN`) must fail too. Each
//! wrong or right file is a drop-in replacement for the start file `src/start/exNN_*.rs`
//! (copy it there and run the exercise's own command to see the same result). Here
//! they are all compiled once, into this one binary, each as a module `answer` next to
//! its own copy of the spec module (`specs/exNN_*.rs`).
//!
//! This file has no test harness (`harness = false` in `exercises/Cargo.toml`): run
//! without arguments, `main` starts itself once per solution, as a child process that
//! runs that solution's spec tests in turn (`--solution NAME`). A wrong solution must
//! make its child fail: a test panics, or a watchdog ends the child with its message.
//! One that makes it pass, or hang past [`CHILD_LIMIT`], is a spec that fails its job,
//! and so is a right solution whose child fails. A child per solution keeps a hang, an
//! abort or a `process::exit` from taking the other checks down with it.

// One spec file is loaded once per solution, next to each: that is the design.
#![allow(clippy::duplicate_mod)]
// Each solution has public items its spec does not use. (A test left out of a spec's
// `with_tests!` list still shows: it is dead code in the exercise's own spec target.)
#![allow(dead_code)]

use std::io::Read;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[macro_use]
mod common;

/// A spec's tests, by name.
type Tests = &'static [(&'static str, fn())];

/// How long one solution's whole spec may take before it counts as hanging. Every spec
/// bounds itself well inside this (virtual-time limits, poll bounds, watchdogs).
const CHILD_LIMIT: Duration = Duration::from_secs(60);

/// What a solution's spec must do.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    Pass,
    Fail,
}

/// One solution under check: its name (`exNN/file`), what its spec must do, and the
/// spec's tests instantiated against it.
struct Solution {
    name: &'static str,
    expect: Expect,
    tests: Tests,
}

macro_rules! solutions {
    ($($expect:ident $name:literal => $module:ident),* $(,)?) => {
        &[$(Solution { name: $name, expect: Expect::$expect, tests: $module::TESTS }),*]
    };
}

/// Every wrong and right solution. Its module is declared below.
const SOLUTIONS: &[Solution] = solutions![
    Pass "right/ex03/always_replace_waker" => right_ex03_always_replace_waker,
    Pass "right/ex04/register_then_check_once" => right_ex04_register_then_check_once,
    Pass "right/ex05/counted_ticks" => right_ex05_counted_ticks,
    Pass "right/ex09/try_register_try" => right_ex09_try_register_try,
    Pass "right/ex12/budget_by_poll_number" => right_ex12_budget_by_poll_number,
    Pass "right/ex14/one_shared_queue" => right_ex14_one_shared_queue,
    Fail "wrong/ex01/guards_only_one_side" => wrong_ex01_guards_only_one_side,
    Fail "wrong/ex01/one_side_after_the_other" => wrong_ex01_one_side_after_the_other,
    Fail "wrong/ex01/self_wake" => wrong_ex01_self_wake,
    Fail "wrong/ex02/budget_never_reset" => wrong_ex02_budget_never_reset,
    Fail "wrong/ex02/budget_yields_a_tick_late" => wrong_ex02_budget_yields_a_tick_late,
    Fail "wrong/ex02/yield_without_wake" => wrong_ex02_yield_without_wake,
    Fail "wrong/ex03/drop_does_not_wake" => wrong_ex03_drop_does_not_wake,
    Fail "wrong/ex03/gone_checked_before_value" => wrong_ex03_gone_checked_before_value,
    Fail "wrong/ex03/keeps_waker_that_will_wake" => wrong_ex03_keeps_waker_that_will_wake,
    Fail "wrong/ex04/abort_without_wake" => wrong_ex04_abort_without_wake,
    Fail "wrong/ex04/checks_after_polling" => wrong_ex04_checks_after_polling,
    Fail "wrong/ex04/inner_future_kept" => wrong_ex04_inner_future_kept,
    Fail "wrong/ex05/first_tick_at_once" => wrong_ex05_first_tick_at_once,
    Fail "wrong/ex05/late_tick_skips_ahead" => wrong_ex05_late_tick_skips_ahead,
    Fail "wrong/ex05/next_advanced_before_waiting" => wrong_ex05_next_advanced_before_waiting,
    Fail "wrong/ex05/next_from_now" => wrong_ex05_next_from_now,
    Fail "wrong/ex06/loser_kept" => wrong_ex06_loser_kept,
    Fail "wrong/ex06/right_polled_first" => wrong_ex06_right_polled_first,
    Fail "wrong/ex06/right_polled_with_a_dead_waker" => wrong_ex06_right_polled_with_a_dead_waker,
    Fail "wrong/ex06/self_wake" => wrong_ex06_self_wake,
    Fail "wrong/ex07/deadline_checked_on_fire" => wrong_ex07_deadline_checked_on_fire,
    Fail "wrong/ex07/down_plus_one" => wrong_ex07_down_plus_one,
    Fail "wrong/ex07/rounded_to_nearest" => wrong_ex07_rounded_to_nearest,
    Fail "wrong/ex07/time_rounded_up_too" => wrong_ex07_time_rounded_up_too,
    Fail "wrong/ex08/closing_wakes_no_one" => wrong_ex08_closing_wakes_no_one,
    Fail "wrong/ex08/copy_ignores_short_writes" => wrong_ex08_copy_ignores_short_writes,
    Fail "wrong/ex08/empty_is_the_end" => wrong_ex08_empty_is_the_end,
    Fail "wrong/ex08/empty_read_wakes_itself" => wrong_ex08_empty_read_wakes_itself,
    Fail "wrong/ex08/reader_does_not_wake_writer" => wrong_ex08_reader_does_not_wake_writer,
    Fail "wrong/ex09/lock_held_while_trying" => wrong_ex09_lock_held_while_trying,
    Fail "wrong/ex09/self_wake" => wrong_ex09_self_wake,
    Fail "wrong/ex09/waker_stored_once" => wrong_ex09_waker_stored_once,
    Fail "wrong/ex10/no_drop_for_acquire" => wrong_ex10_no_drop_for_acquire,
    Fail "wrong/ex10/permit_lost_on_cancel" => wrong_ex10_permit_lost_on_cancel,
    Fail "wrong/ex10/wake_without_handing_over" => wrong_ex10_wake_without_handing_over,
    Fail "wrong/ex10/waker_from_first_poll" => wrong_ex10_waker_from_first_poll,
    Fail "wrong/ex11/directory_error_panics" => wrong_ex11_directory_error_panics,
    Fail "wrong/ex11/one_connection_at_a_time" => wrong_ex11_one_connection_at_a_time,
    Fail "wrong/ex11/stop_seen_only_between_connections" => wrong_ex11_stop_seen_only_between_connections,
    Fail "wrong/ex11/zero_users_accepted" => wrong_ex11_zero_users_accepted,
    Fail "wrong/ex12/budget_per_turn" => wrong_ex12_budget_per_turn,
    Fail "wrong/ex12/counter_per_stream" => wrong_ex12_counter_per_stream,
    Fail "wrong/ex12/item_taken_before_budget" => wrong_ex12_item_taken_before_budget,
    Fail "wrong/ex12/shared_refilling_counter" => wrong_ex12_shared_refilling_counter,
    Fail "wrong/ex13/panic_kills_the_worker" => wrong_ex13_panic_kills_the_worker,
    Fail "wrong/ex13/runs_on_the_loop" => wrong_ex13_runs_on_the_loop,
    Fail "wrong/ex13/self_wake" => wrong_ex13_self_wake,
    Fail "wrong/ex13/thread_per_job" => wrong_ex13_thread_per_job,
    Fail "wrong/ex14/plain_scheduled_flag" => wrong_ex14_plain_scheduled_flag,
    Fail "wrong/ex14/requeued_after_ready" => wrong_ex14_requeued_after_ready,
    Fail "wrong/ex14/sleep_checks_before_announcing" => wrong_ex14_sleep_checks_before_announcing,
    Fail "start/ex01" => start_ex01,
    Fail "start/ex02" => start_ex02,
    Fail "start/ex03" => start_ex03,
    Fail "start/ex04" => start_ex04,
    Fail "start/ex05" => start_ex05,
    Fail "start/ex06" => start_ex06,
    Fail "start/ex07" => start_ex07,
    Fail "start/ex08" => start_ex08,
    Fail "start/ex09" => start_ex09,
    Fail "start/ex10" => start_ex10,
    Fail "start/ex11" => start_ex11,
    Fail "start/ex12" => start_ex12,
    Fail "start/ex13" => start_ex13,
    Fail "start/ex14" => start_ex14,
];

// Each module holds one solution as `answer` and the spec written against it as
// `spec`. The module's own path is the solution's folder; the spec is reached from
// there.

// BEGIN modules (tests/specs/README.md says how to add one)

#[path = "../right/ex03"]
mod right_ex03_always_replace_waker {
    #[path = "always_replace_waker.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex03_bug_stale_waker.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../right/ex04"]
mod right_ex04_register_then_check_once {
    #[path = "register_then_check_once.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex04_abortable.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../right/ex05"]
mod right_ex05_counted_ticks {
    #[path = "counted_ticks.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex05_interval.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../right/ex09"]
mod right_ex09_try_register_try {
    #[path = "try_register_try.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex09_bug_lost_wakeup.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../right/ex12"]
mod right_ex12_budget_by_poll_number {
    #[path = "budget_by_poll_number.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex12_coop_budget.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../right/ex14"]
mod right_ex14_one_shared_queue {
    #[path = "one_shared_queue.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex14_work_stealing.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex01"]
mod wrong_ex01_guards_only_one_side {
    #[path = "guards_only_one_side.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex01_bug_polled_after_ready.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex01"]
mod wrong_ex01_one_side_after_the_other {
    #[path = "one_side_after_the_other.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex01_bug_polled_after_ready.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex01"]
mod wrong_ex01_self_wake {
    #[path = "self_wake.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex01_bug_polled_after_ready.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex02"]
mod wrong_ex02_budget_never_reset {
    #[path = "budget_never_reset.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex02_yield_now.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex02"]
mod wrong_ex02_budget_yields_a_tick_late {
    #[path = "budget_yields_a_tick_late.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex02_yield_now.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex02"]
mod wrong_ex02_yield_without_wake {
    #[path = "yield_without_wake.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex02_yield_now.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex03"]
mod wrong_ex03_drop_does_not_wake {
    #[path = "drop_does_not_wake.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex03_bug_stale_waker.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex03"]
mod wrong_ex03_gone_checked_before_value {
    #[path = "gone_checked_before_value.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex03_bug_stale_waker.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex03"]
mod wrong_ex03_keeps_waker_that_will_wake {
    #[path = "keeps_waker_that_will_wake.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex03_bug_stale_waker.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex04"]
mod wrong_ex04_abort_without_wake {
    #[path = "abort_without_wake.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex04_abortable.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex04"]
mod wrong_ex04_checks_after_polling {
    #[path = "checks_after_polling.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex04_abortable.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex04"]
mod wrong_ex04_inner_future_kept {
    #[path = "inner_future_kept.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex04_abortable.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex05"]
mod wrong_ex05_first_tick_at_once {
    #[path = "first_tick_at_once.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex05_interval.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex05"]
mod wrong_ex05_late_tick_skips_ahead {
    #[path = "late_tick_skips_ahead.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex05_interval.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex05"]
mod wrong_ex05_next_advanced_before_waiting {
    #[path = "next_advanced_before_waiting.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex05_interval.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex05"]
mod wrong_ex05_next_from_now {
    #[path = "next_from_now.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex05_interval.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex06"]
mod wrong_ex06_loser_kept {
    #[path = "loser_kept.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex06_select.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex06"]
mod wrong_ex06_right_polled_first {
    #[path = "right_polled_first.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex06_select.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex06"]
mod wrong_ex06_right_polled_with_a_dead_waker {
    #[path = "right_polled_with_a_dead_waker.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex06_select.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex06"]
mod wrong_ex06_self_wake {
    #[path = "self_wake.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex06_select.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex07"]
mod wrong_ex07_deadline_checked_on_fire {
    #[path = "deadline_checked_on_fire.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex07_bug_early_timer.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex07"]
mod wrong_ex07_down_plus_one {
    #[path = "down_plus_one.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex07_bug_early_timer.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex07"]
mod wrong_ex07_rounded_to_nearest {
    #[path = "rounded_to_nearest.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex07_bug_early_timer.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex07"]
mod wrong_ex07_time_rounded_up_too {
    #[path = "time_rounded_up_too.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex07_bug_early_timer.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex08"]
mod wrong_ex08_closing_wakes_no_one {
    #[path = "closing_wakes_no_one.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex08_async_io_traits.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex08"]
mod wrong_ex08_copy_ignores_short_writes {
    #[path = "copy_ignores_short_writes.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex08_async_io_traits.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex08"]
mod wrong_ex08_empty_is_the_end {
    #[path = "empty_is_the_end.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex08_async_io_traits.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex08"]
mod wrong_ex08_empty_read_wakes_itself {
    #[path = "empty_read_wakes_itself.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex08_async_io_traits.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex08"]
mod wrong_ex08_reader_does_not_wake_writer {
    #[path = "reader_does_not_wake_writer.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex08_async_io_traits.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex09"]
mod wrong_ex09_lock_held_while_trying {
    #[path = "lock_held_while_trying.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex09_bug_lost_wakeup.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex09"]
mod wrong_ex09_self_wake {
    #[path = "self_wake.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex09_bug_lost_wakeup.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex09"]
mod wrong_ex09_waker_stored_once {
    #[path = "waker_stored_once.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex09_bug_lost_wakeup.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex10"]
mod wrong_ex10_no_drop_for_acquire {
    #[path = "no_drop_for_acquire.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex10_semaphore.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex10"]
mod wrong_ex10_permit_lost_on_cancel {
    #[path = "permit_lost_on_cancel.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex10_semaphore.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex10"]
mod wrong_ex10_wake_without_handing_over {
    #[path = "wake_without_handing_over.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex10_semaphore.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex10"]
mod wrong_ex10_waker_from_first_poll {
    #[path = "waker_from_first_poll.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex10_semaphore.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex11"]
mod wrong_ex11_directory_error_panics {
    #[path = "directory_error_panics.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex11_lookup_web_server.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex11"]
mod wrong_ex11_one_connection_at_a_time {
    #[path = "one_connection_at_a_time.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex11_lookup_web_server.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex11"]
mod wrong_ex11_stop_seen_only_between_connections {
    #[path = "stop_seen_only_between_connections.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex11_lookup_web_server.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex11"]
mod wrong_ex11_zero_users_accepted {
    #[path = "zero_users_accepted.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex11_lookup_web_server.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex12"]
mod wrong_ex12_budget_per_turn {
    #[path = "budget_per_turn.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex12_coop_budget.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex12"]
mod wrong_ex12_counter_per_stream {
    #[path = "counter_per_stream.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex12_coop_budget.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex12"]
mod wrong_ex12_item_taken_before_budget {
    #[path = "item_taken_before_budget.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex12_coop_budget.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex12"]
mod wrong_ex12_shared_refilling_counter {
    #[path = "shared_refilling_counter.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex12_coop_budget.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex13"]
mod wrong_ex13_panic_kills_the_worker {
    #[path = "panic_kills_the_worker.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex13_spawn_blocking.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex13"]
mod wrong_ex13_runs_on_the_loop {
    #[path = "runs_on_the_loop.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex13_spawn_blocking.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex13"]
mod wrong_ex13_self_wake {
    #[path = "self_wake.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex13_spawn_blocking.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex13"]
mod wrong_ex13_thread_per_job {
    #[path = "thread_per_job.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex13_spawn_blocking.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex14"]
mod wrong_ex14_plain_scheduled_flag {
    #[path = "plain_scheduled_flag.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex14_work_stealing.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex14"]
mod wrong_ex14_requeued_after_ready {
    #[path = "requeued_after_ready.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex14_work_stealing.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../wrong/ex14"]
mod wrong_ex14_sleep_checks_before_announcing {
    #[path = "sleep_checks_before_announcing.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex14_work_stealing.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../src/start"]
mod start_ex01 {
    #[path = "ex01_bug_polled_after_ready.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex01_bug_polled_after_ready.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../src/start"]
mod start_ex02 {
    #[path = "ex02_yield_now.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex02_yield_now.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../src/start"]
mod start_ex03 {
    #[path = "ex03_bug_stale_waker.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex03_bug_stale_waker.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../src/start"]
mod start_ex04 {
    #[path = "ex04_abortable.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex04_abortable.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../src/start"]
mod start_ex05 {
    #[path = "ex05_interval.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex05_interval.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../src/start"]
mod start_ex06 {
    #[path = "ex06_select.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex06_select.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../src/start"]
mod start_ex07 {
    #[path = "ex07_bug_early_timer.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex07_bug_early_timer.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../src/start"]
mod start_ex08 {
    #[path = "ex08_async_io_traits.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex08_async_io_traits.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../src/start"]
mod start_ex09 {
    #[path = "ex09_bug_lost_wakeup.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex09_bug_lost_wakeup.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../src/start"]
mod start_ex10 {
    #[path = "ex10_semaphore.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex10_semaphore.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../src/start"]
mod start_ex11 {
    #[path = "ex11_lookup_web_server.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex11_lookup_web_server.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../src/start"]
mod start_ex12 {
    #[path = "ex12_coop_budget.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex12_coop_budget.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../src/start"]
mod start_ex13 {
    #[path = "ex13_spawn_blocking.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex13_spawn_blocking.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

#[path = "../src/start"]
mod start_ex14 {
    #[path = "ex14_work_stealing.rs"]
    pub mod answer;
    #[path = "../../tests/specs/ex14_work_stealing.rs"]
    pub mod spec;
    pub const TESTS: crate::Tests = spec::with_tests!(as_table);
}

// END modules

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|arg| arg == "--solution") {
        let name = args.get(at + 1).map(String::as_str).unwrap_or("");
        return run_spec(name);
    }
    // Like a test harness: a first argument that is not a flag filters by name, and
    // `--list` lists without running.
    let filter = args.iter().find(|arg| !arg.starts_with('-'));
    let chosen: Vec<&'static Solution> = SOLUTIONS
        .iter()
        .filter(|solution| filter.is_none_or(|filter| solution.name.contains(filter.as_str())))
        .collect();
    if args.iter().any(|arg| arg == "--list") {
        for solution in &chosen {
            println!("{}: test", solution.name);
        }
        return ExitCode::SUCCESS;
    }
    if let Some(missing) = solution_files().into_iter().find(|file| {
        !SOLUTIONS
            .iter()
            .any(|solution| solution.name == file.as_str())
    }) {
        println!("{missing}.rs is not in SOLUTIONS: add it and its module to wrong_solutions.rs");
        return ExitCode::FAILURE;
    }
    check_all(&chosen)
}

/// Every solution file in `wrong/` and `right/`, as `wrong/exNN/name`.
fn solution_files() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for kind in ["wrong", "right"] {
        let Ok(exercises) = std::fs::read_dir(root.join(kind)) else {
            continue;
        };
        for exercise in exercises.flatten() {
            for file in std::fs::read_dir(exercise.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let path = file.path();
                if let Some(stem) = path
                    .file_stem()
                    .filter(|_| path.extension().is_some_and(|e| e == "rs"))
                {
                    files.push(format!(
                        "{kind}/{}/{}",
                        exercise.file_name().to_string_lossy(),
                        stem.to_string_lossy()
                    ));
                }
            }
        }
    }
    files
}

/// Child side: runs every test of solution `name`'s spec in turn and stops at the first
/// that fails. The panic's message goes to stderr as usual; a line `FAILED test` on
/// stdout names the test for the parent.
fn run_spec(name: &str) -> ExitCode {
    let Some(solution) = SOLUTIONS.iter().find(|solution| solution.name == name) else {
        eprintln!("no solution named {name:?}");
        return ExitCode::from(2);
    };
    for (test, run) in solution.tests {
        if std::panic::catch_unwind(run).is_err() {
            println!("FAILED {test}");
            return ExitCode::FAILURE;
        }
        println!("passed {test}");
    }
    ExitCode::SUCCESS
}

/// What one child did.
struct Outcome {
    name: &'static str,
    expect: Expect,
    /// `None` if the child hung and was killed.
    passed: Option<bool>,
    took: Duration,
    /// The child's stdout and stderr.
    output: String,
}

impl Outcome {
    fn as_expected(&self) -> bool {
        self.passed == Some(self.expect == Expect::Pass)
    }

    /// The test that failed, or the watchdog's line, for the summary.
    fn why(&self) -> String {
        let failed = self
            .output
            .lines()
            .find_map(|line| line.strip_prefix("FAILED "))
            .map(|test| format!("fails `{test}`"));
        let watchdog = self
            .output
            .lines()
            .find(|line| line.starts_with("watchdog:"))
            .map(|line| line.to_string());
        failed.or(watchdog).unwrap_or_else(|| "fails".to_string())
    }
}

/// Parent side: one child per solution, a few at a time (most of a spec's time is
/// spent waiting, not computing), and a summary line for each.
fn check_all(chosen: &[&'static Solution]) -> ExitCode {
    let exe = std::env::current_exe().expect("the test binary's own path");
    let next = Mutex::new(chosen.iter());
    let outcomes = Mutex::new(Vec::new());
    // Four at a time even on two cores: a spec mostly waits (virtual time costs no wall
    // time, and the real-time ones sleep).
    let workers = 4;
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    // Its own statement: the lock is let go before the child runs.
                    let Some(solution) = next.lock().unwrap().next() else {
                        break;
                    };
                    let mut outcome = run_child(&exe, solution);
                    // A race may slip through one run of a spec (ex14's lost wakeup
                    // is a window of a few instructions): a wrong solution gets five.
                    for _ in 0..4 {
                        if solution.expect == Expect::Fail && outcome.passed == Some(true) {
                            outcome = run_child(&exe, solution);
                        }
                    }
                    outcomes.lock().unwrap().push(outcome);
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap();
    outcomes.sort_by_key(|outcome| outcome.name);
    let mut wrong = 0;
    for outcome in &outcomes {
        let verdict = match (outcome.expect, outcome.passed) {
            (Expect::Fail, Some(false)) => format!("rejected: {}", outcome.why()),
            (Expect::Pass, Some(true)) => "accepted".to_string(),
            (Expect::Fail, Some(true)) => "PASSES ITS SPEC: the spec misses this bug".to_string(),
            (Expect::Pass, Some(false)) => format!("REJECTED: {}", outcome.why()),
            (_, None) => format!("HANGS: still running after {CHILD_LIMIT:?}"),
        };
        println!(
            "{:<40} {:>6.2}s  {verdict}",
            outcome.name,
            outcome.took.as_secs_f64()
        );
        if !outcome.as_expected() {
            wrong += 1;
            println!("--- its output:\n{}---", outcome.output);
        }
    }
    println!(
        "\n{} solutions checked in {:.1}s, {wrong} not as expected",
        outcomes.len(),
        start.elapsed().as_secs_f64()
    );
    if wrong == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn run_child(exe: &std::path::Path, solution: &'static Solution) -> Outcome {
    let start = Instant::now();
    let mut child = Command::new(exe)
        .args(["--solution", solution.name])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("could not start a child of the test binary");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let passed = loop {
        if let Some(status) = child.try_wait().expect("waiting for a child") {
            break Some(status.success());
        }
        if start.elapsed() > CHILD_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = start.elapsed();
    let output = out.join().unwrap() + &err.join().unwrap();
    Outcome {
        name: solution.name,
        expect: solution.expect,
        passed,
        took,
        output,
    }
}
