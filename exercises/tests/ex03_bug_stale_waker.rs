//! Spec of exercise 3 (a bug hunt): a one-shot channel wakes the waker of the receiver's latest poll
//! (chapter 4).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex03_bug_stale_waker
//! ```
//!
//! The tests are in `specs/ex03_bug_stale_waker.rs`, written against `answer`, here your file
//! (with `--features start`) or the reference solution. `wrong_solutions.rs` runs the
//! same tests against each wrong solution in `exercises/wrong/`, where they must fail.

#[macro_use]
mod common;

use looplab_exercises::under_test::ex03_bug_stale_waker as answer;

#[path = "specs/ex03_bug_stale_waker.rs"]
mod spec;

spec::with_tests!(as_tests);
