//! Spec of exercise 9 (a bug hunt): an event source never loses a wakeup (chapter 7).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex09_bug_lost_wakeup
//! ```
//!
//! The tests are in `specs/ex09_bug_lost_wakeup.rs`, written against `answer`, here your file
//! (with `--features start`) or the reference solution. `wrong_solutions.rs` runs the
//! same tests against each wrong solution in `exercises/wrong/`, where they must fail.

#[macro_use]
mod common;

use looplab_exercises::under_test::ex09_bug_lost_wakeup as answer;

#[path = "specs/ex09_bug_lost_wakeup.rs"]
mod spec;

spec::with_tests!(as_tests);
