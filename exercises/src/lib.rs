//! # looplab exercises: extend the runtime yourself
//!
//! Each exercise lives here twice, under the same module name:
//!
//! - [`start`]`::exNN_name`: **the starting point you edit**. Signatures and docs are
//!   written; the bodies are `todo!()`. Bug hunts (`exNN_bug_name`) are complete copies
//!   of a runtime part with one bug planted; exercises 12 and 14 carry a small loop of
//!   their own to change.
//! - [`solutions`]`::exNN_name`: the reference solution, with the same public items.
//!
//! Each spec's tests, in `tests/specs/exNN_name.rs`, are written against a module
//! `answer`; its target `tests/exNN_name.rs` makes that [`under_test`], which is one
//! of the two, chosen by the cargo feature `start`:
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex01_bug_polled_after_ready   # your work
//! cargo test -p looplab-exercises --test ex01_bug_polled_after_ready                    # the solution
//! ```
//!
//! The default build compiles both trees (so the starting points always compile and
//! clippy sees them) but tests only the solutions: a plain `cargo test` at the root
//! proves every spec test passes against its reference solution, and an unsolved
//! starting point can never break the default build or tests.
//!
//! The exercises are numbered in the reading order of `CHAPTERS.md`, which links each
//! from the end of its chapter; their statements are in `exercises/README.md`, their
//! hints in `exercises/hints/`, and the wrong solutions each spec must reject in
//! `exercises/wrong/` (`tests/wrong_solutions.rs` checks them all).

pub mod solutions;
pub mod start;

/// The tree the spec tests run against: [`start`] with `--features start`, else
/// [`solutions`].
#[cfg(feature = "start")]
pub use start as under_test;

/// The tree the spec tests run against: [`start`] with `--features start`, else
/// [`solutions`].
#[cfg(not(feature = "start"))]
pub use solutions as under_test;
