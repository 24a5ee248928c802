//! Spec of exercise 1 (a bug hunt): `join` never polls a future again after it returned `Ready`
//! (chapter 3).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex01_bug_polled_after_ready
//! ```
//!
//! The tests are in `specs/ex01_bug_polled_after_ready.rs`, written against `answer`, here your file
//! (with `--features start`) or the reference solution. `wrong_solutions.rs` runs the
//! same tests against each wrong solution in `exercises/wrong/`, where they must fail.

#[macro_use]
mod common;

use looplab_exercises::under_test::ex01_bug_polled_after_ready as answer;

#[path = "specs/ex01_bug_polled_after_ready.rs"]
mod spec;

spec::with_tests!(as_tests);
