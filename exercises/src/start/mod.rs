//! The starting points: **the files you edit**.
//!
//! An exercise file (`exNN_*`) has its public items written, with docs that say what
//! each must do, and `todo!("...")` bodies with a hint. Fill the bodies in (add private
//! fields, types and helpers as you like; keep the public signatures, the spec test
//! uses them), then run the one command at the top of the file.
//!
//! A bug hunt (`bugNN_*`) is a complete, small copy of a runtime part with **one** bug
//! planted. Its spec test fails; find the bug, fix it, and the test passes.
//!
//! The starting points compile and are clippy-clean, but they are never tested by a
//! plain `cargo test`: see the crate docs.

pub mod ex01_yield_now;
pub mod ex02_interval;
pub mod ex03_select;
pub mod ex04_abortable;
pub mod ex05_semaphore;
pub mod ex06_spawn_blocking;
pub mod ex07_async_io_traits;
pub mod ex08_lookup_web_server;

pub mod bug01_stale_waker;
pub mod bug02_lost_wakeup;
pub mod bug03_polled_after_ready;
pub mod bug04_early_timer;
