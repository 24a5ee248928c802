//! The reference solutions, one per exercise, with the same public items as the
//! starting points. A plain `cargo test` runs every spec test against these, so each
//! test is proven passable. Read one after your own version passes: there is more than
//! one good answer, and the comments say why this one is built the way it is.

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
