//! Spec of exercise 5: `interval` (chapter 6).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex05_interval
//! ```
//!
//! The tests are in `specs/ex05_interval.rs`, written against `answer`, here your file
//! (with `--features start`) or the reference solution. `wrong_solutions.rs` runs the
//! same tests against each wrong solution in `exercises/wrong/`, where they must fail.

#[macro_use]
mod common;

use looplab_exercises::under_test::ex05_interval as answer;

#[path = "specs/ex05_interval.rs"]
mod spec;

spec::with_tests!(as_tests);
