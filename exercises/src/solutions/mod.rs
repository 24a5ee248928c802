//! The reference solutions, one per exercise, with the same public items as the
//! starting points. A plain `cargo test` runs every spec test against these, so each
//! test is proven passable. Read one after your own version passes: there is more than
//! one good answer, and the comments say why this one is built the way it is.

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
