//! The starting points: **the files you edit**.
//!
//! Most exercise files have their public items written, with docs that say what each
//! must do, and `todo!()` bodies. Fill the bodies in (add private fields, types and
//! helpers as you like; keep the public signatures, the spec test uses them), then run
//! the one command at the top of the file.
//!
//! A bug hunt (`exNN_bug_*`) is a complete, small copy of a runtime part with **one**
//! bug planted. Its spec test fails; find the bug, fix it, and the test passes.
//!
//! Exercises 12 and 14 are small, complete loops that work but lack what the exercise
//! asks for: change the loop until the spec test passes.
//!
//! The statements are in `exercises/README.md`, one per exercise, and their hints in
//! `exercises/hints/`, a file per exercise.
//!
//! The starting points compile and are clippy-clean, but they are never tested by a
//! plain `cargo test`: see the crate docs.

pub mod ex01_bug_polled_after_ready;
pub mod ex02_yield_now;
pub mod ex03_bug_stale_waker;
pub mod ex04_abortable;
pub mod ex05_interval;
pub mod ex06_select;
pub mod ex07_bug_early_timer;
pub mod ex08_async_io_traits;
pub mod ex09_bug_lost_wakeup;
pub mod ex10_semaphore;
pub mod ex11_lookup_web_server;
pub mod ex12_coop_budget;
pub mod ex13_spawn_blocking;
pub mod ex14_work_stealing;
