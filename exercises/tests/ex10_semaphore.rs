//! Spec of exercise 10: `Semaphore` and `LimitedClient` (chapter 8).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex10_semaphore
//! ```
//!
//! The tests are in `specs/ex10_semaphore.rs`, written against `answer`, here your file
//! (with `--features start`) or the reference solution. `wrong_solutions.rs` runs the
//! same tests against each wrong solution in `exercises/wrong/`, where they must fail.

#[macro_use]
mod common;

use looplab_exercises::under_test::ex10_semaphore as answer;

#[path = "specs/ex10_semaphore.rs"]
mod spec;

spec::with_tests!(as_tests);
