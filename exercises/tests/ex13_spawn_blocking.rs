//! Spec of exercise 13: `BlockingPool::spawn_blocking` (chapter 9).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex13_spawn_blocking
//! ```
//!
//! The tests are in `specs/ex13_spawn_blocking.rs`, written against `answer`, here your file
//! (with `--features start`) or the reference solution. `wrong_solutions.rs` runs the
//! same tests against each wrong solution in `exercises/wrong/`, where they must fail.

#[macro_use]
mod common;

use looplab_exercises::under_test::ex13_spawn_blocking as answer;

#[path = "specs/ex13_spawn_blocking.rs"]
mod spec;

spec::with_tests!(as_tests);
