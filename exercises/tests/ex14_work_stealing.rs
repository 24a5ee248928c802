//! Spec of exercise 14: two workers that steal tasks from each other (chapter 10).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex14_work_stealing
//! ```
//!
//! The tests are in `specs/ex14_work_stealing.rs`, written against `answer`, here your file
//! (with `--features start`) or the reference solution. `wrong_solutions.rs` runs the
//! same tests against each wrong solution in `exercises/wrong/`, where they must fail.

#[macro_use]
mod common;

use looplab_exercises::under_test::ex14_work_stealing as answer;

#[path = "specs/ex14_work_stealing.rs"]
mod spec;

spec::with_tests!(as_tests);
