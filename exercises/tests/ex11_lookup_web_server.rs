//! Spec of exercise 11: the lookup web server (chapter 8).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex11_lookup_web_server
//! ```
//!
//! The tests are in `specs/ex11_lookup_web_server.rs`, written against `answer`, here your file
//! (with `--features start`) or the reference solution. `wrong_solutions.rs` runs the
//! same tests against each wrong solution in `exercises/wrong/`, where they must fail.

#[macro_use]
mod common;

use looplab_exercises::under_test::ex11_lookup_web_server as answer;

#[path = "specs/ex11_lookup_web_server.rs"]
mod spec;

spec::with_tests!(as_tests);
