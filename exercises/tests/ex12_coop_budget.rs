//! Spec of exercise 12: a cooperative budget (chapter 9).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex12_coop_budget
//! ```
//!
//! The tests are in `specs/ex12_coop_budget.rs`, written against `answer`, here your file
//! (with `--features start`) or the reference solution. `wrong_solutions.rs` runs the
//! same tests against each wrong solution in `exercises/wrong/`, where they must fail.

#[macro_use]
mod common;

use looplab_exercises::under_test::ex12_coop_budget as answer;

#[path = "specs/ex12_coop_budget.rs"]
mod spec;

spec::with_tests!(as_tests);
