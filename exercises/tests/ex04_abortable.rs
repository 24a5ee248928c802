//! Spec of exercise 4: `spawn_abortable` (chapter 5).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex04_abortable
//! ```
//!
//! The tests are in `specs/ex04_abortable.rs`, written against `answer`, here your file
//! (with `--features start`) or the reference solution. `wrong_solutions.rs` runs the
//! same tests against each wrong solution in `exercises/wrong/`, where they must fail.

#[macro_use]
mod common;

use looplab_exercises::under_test::ex04_abortable as answer;

#[path = "specs/ex04_abortable.rs"]
mod spec;

spec::with_tests!(as_tests);
