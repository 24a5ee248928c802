//! Spec of exercise 7 (a bug hunt): no timer fires before its deadline, and none is lost (chapter 6).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex07_bug_early_timer
//! ```
//!
//! The tests are in `specs/ex07_bug_early_timer.rs`, written against `answer`, here your file
//! (with `--features start`) or the reference solution. `wrong_solutions.rs` runs the
//! same tests against each wrong solution in `exercises/wrong/`, where they must fail.

#[macro_use]
mod common;

use looplab_exercises::under_test::ex07_bug_early_timer as answer;

#[path = "specs/ex07_bug_early_timer.rs"]
mod spec;

spec::with_tests!(as_tests);
