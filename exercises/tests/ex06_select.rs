//! Spec of exercise 6: `select` (chapter 6).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex06_select
//! ```
//!
//! The tests are in `specs/ex06_select.rs`, written against `answer`, here your file
//! (with `--features start`) or the reference solution. `wrong_solutions.rs` runs the
//! same tests against each wrong solution in `exercises/wrong/`, where they must fail.

#[macro_use]
mod common;

use looplab_exercises::under_test::ex06_select as answer;

#[path = "specs/ex06_select.rs"]
mod spec;

spec::with_tests!(as_tests);
