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
//! Read in this order (it is also the dependency order); `CHAPTERS.md` is the guide.
//!
//! | chapter | file | what it holds |
//! |---|---|---|
//! | 1, 2 | `lookup/blocking.rs` | the post's scenario with blocking sockets: in sequence, and a thread per request |
//! | 3 | `examples/ch03_futures_by_hand.rs` | a `Future` by hand; an `async fn` does nothing until polled |
//! | 4 | [`task`] | a spawned future, and the waker that puts it back in the run queue |
//! | 5 | [`executor`], [`runtime`], [`join`] | the loop, `block_on`/`spawn`, `JoinHandle`/`join_all` |
//! | 6 | [`time`] | the timer wheel, real and virtual clocks, `sleep`, `timeout` |
//! | 7 | [`reactor`], [`net`] | `mio::Poll`, readiness, async `TcpListener`/`TcpStream` |
//! | 8 | [`lookup`], [`stats`] | the user-directory API, the three clients, the report |
//! | 9 | `examples/ch09_pitfalls.rs` | blocking the loop, forgetting `.await`, CPU-bound tasks |
//! | all | [`trace`] | the events the loop reports, printed or recorded |
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

pub mod executor;
pub mod join;
pub mod lookup;
pub mod net;
pub mod reactor;
pub mod runtime;
pub mod signal;
pub mod stats;
pub mod task;
pub mod time;
pub mod trace;

pub use join::{JoinAll, JoinError, JoinHandle, join_all};
pub use runtime::{Builder, Runtime, block_on, spawn, spawn_named};
pub use trace::{Recorder, TraceOutput};
