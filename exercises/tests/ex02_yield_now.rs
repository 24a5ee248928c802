//! Spec of exercise 2: `yield_now` and `YieldEvery` (chapter 4).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex02_yield_now
//! ```
//!
//! The tests are in `specs/ex02_yield_now.rs`, written against `answer`, here your file
//! (with `--features start`) or the reference solution. `wrong_solutions.rs` runs the
//! same tests against each wrong solution in `exercises/wrong/`, where they must fail.

#[macro_use]
mod common;

use looplab_exercises::under_test::ex02_yield_now as answer;

#[path = "specs/ex02_yield_now.rs"]
mod spec;

spec::with_tests!(as_tests);
