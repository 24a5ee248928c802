//! # looplab: how one thread with an event loop does the work of many threads
//!
//! looplab builds, in plain safe Rust, a small single-threaded async runtime —
//! tasks, wakers, an executor with a run queue, a hierarchical timer wheel and a
//! reactor on mio — and uses it to run the scenario of a blog post about asyncio:
//! three requests for 3, 2 and 1 users arrive at once, and an external API takes one
//! second per user. Done one after another they finish at 3, 5 and 6 seconds; on one
//! thread with an event loop, at 3, 2 and 1.
//!
//! **It is for learning.** Every part is written to be read, with the reasons in the
//! comments. For real programs use [tokio](https://tokio.rs), which this crate is
//! measured against side by side (`BENCHMARKS.md`).
//!
//! ## The map
//!
//! Read in this order; it is also the dependency order: each file imports only files
//! of its own chapter or an earlier one (`tests/layout.rs` checks it). The one pair
//! of files that know each other is `context.rs` and `runtime.rs`: the thread-local
//! and the core it points to. `CHAPTERS.md` is the guide.
//!
//! | chapter | file | what it holds |
//! |---|---|---|
//! | 1, 2 | `lookup/blocking.rs` | the post's scenario with blocking sockets: in sequence, and a thread per request |
//! | 3 | `examples/ch03_futures_by_hand.rs` | a `Future` by hand; an `async fn` does nothing until polled |
//! | 4 | [`task`] | a spawned future, its [`TaskId`](task::TaskId), how it ended, and its waker |
//! | 5 | [`trace`] | the events the loop reports (every chapter prints them) |
//! | 5 | [`export`] | the recorded events drawn: an HTML page (task lanes, a turn stepper) and a Chrome trace; every chapter from 5 on can be watched this way |
//! | 5 | [`recording`] | a run saved as a versioned JSON Lines file (looplab's or asyncio's), read back with errors that name the line |
//! | 5 (read in 8) | [`stats`] | the counters each part keeps, and the report they make |
//! | 5 | `task_table.rs` | every live task, owned by the runtime: a slab, and a key per task |
//! | 5 | `run_queue.rs` | the run queue and its rules: queued once, in wake order, which turn a task runs in |
//! | 5 | [`join`] | `JoinHandle`, `JoinError`, `join_all` |
//! | 5 | [`executor`] | the loop: one turn is five named steps; the park timeout is chosen here |
//! | 5 | `context.rs` | the current runtime on this thread (the thread-local) |
//! | 6 | [`time`] | `wheel.rs` (a slot, a level), `clock.rs`, `driver.rs` (the timer driver), `sleep`, `timeout`, `Instant` |
//! | 7 | [`reactor`], [`net`] | `mio::Poll` and its tokens, a socket's registration, async `TcpListener`/`TcpStream` |
//! | 7 | `driver.rs` | the one park: reactor and timers together, and the virtual clock's jump |
//! | 7 | [`runtime`] | the core that holds the parts of chapters 5 to 7; `Builder`, `block_on`, `spawn` |
//! | 8 | [`lookup`] | the user-directory API, the three clients, the report |
//! | 8 | [`signal`] | Ctrl-C and SIGTERM as a future, through the reactor (the directory's shutdown) |
//! | 9 | `examples/ch09_pitfalls.rs` | blocking the loop, forgetting `.await`, CPU-bound tasks |
//!
//! Where to find one thing:
//!
//! | the | file |
//! |---|---|
//! | run queue | `run_queue.rs` |
//! | waker | `task.rs` (`impl ArcWake for Task`) |
//! | wheel slot | `time/wheel.rs` |
//! | timer driver | `time/driver.rs` |
//! | reactor token | `reactor/mod.rs` (`IoKey`) |
//! | park timeout | `executor.rs` (`choose_park_timeout`) |
//! | virtual clock's jump | `driver.rs` (`park_virtual`) |
//!
//! The runtime never depends on [`lookup`]; data flows one way through the loop:
//! tasks -> wakers -> run queue -> poll.
//!
//! ## The API
//!
//! | looplab | Python asyncio | tokio |
//! |---|---|---|
//! | [`block_on`] | `asyncio.run` | `Runtime::block_on` |
//! | [`spawn`] | `asyncio.create_task` | `tokio::spawn` |
//! | [`JoinHandle`] | `Task` | `JoinHandle` |
//! | [`join_all`] | `asyncio.gather` | `futures::future::join_all` |
//! | [`time::sleep()`], [`time::timeout()`] | `asyncio.sleep`, `asyncio.wait_for` | `tokio::time` |
//! | [`net::TcpListener`], [`net::TcpStream`] | `asyncio.start_server`, `open_connection` | `tokio::net` |
//! | [`Runtime::builder`] | `asyncio.new_event_loop` | `runtime::Builder` |
//!
//! ```
//! use std::time::Duration;
//! use looplab::time::{Instant, sleep};
//!
//! let rt = looplab::Runtime::builder().virtual_time(true).build().unwrap();
//! let took = rt.block_on(async {
//!     let start = Instant::now();
//!     let a = looplab::spawn(async { sleep(Duration::from_secs(1)).await; 1 });
//!     let b = looplab::spawn(async { sleep(Duration::from_secs(2)).await; 2 });
//!     assert_eq!(looplab::join_all([a, b]).await, [Ok(1), Ok(2)]);
//!     start.elapsed()
//! });
//! // The sleeps overlapped: two seconds, not three. Virtual time made it instant.
//! assert_eq!(took, Duration::from_secs(2));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// The reading order is the map above (rustfmt sorts this list).
mod context;
mod driver;
pub mod executor;
pub mod export;
pub mod join;
pub mod lookup;
pub mod net;
pub mod reactor;
pub mod recording;
mod run_queue;
pub mod runtime;
pub mod signal;
pub mod stats;
pub mod task;
mod task_table;
pub mod time;
pub mod trace;

pub use join::{JoinAll, JoinError, JoinHandle, join_all};
pub use runtime::{Builder, Runtime, block_on, spawn, spawn_named};
pub use trace::{Recorder, TraceOutput};
