//! Spec of exercise 8: `AsyncRead`, `AsyncWrite`, `pipe` and `copy` (chapter 7).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex08_async_io_traits
//! ```
//!
//! The tests are in `specs/ex08_async_io_traits.rs`, written against `answer`, here your file
//! (with `--features start`) or the reference solution. `wrong_solutions.rs` runs the
//! same tests against each wrong solution in `exercises/wrong/`, where they must fail.

#[macro_use]
mod common;

use looplab_exercises::under_test::ex08_async_io_traits as answer;

#[path = "specs/ex08_async_io_traits.rs"]
mod spec;

spec::with_tests!(as_tests);
