//! Exercise 13 (chapter 9): `spawn_blocking` on a small pool of threads.
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex13_spawn_blocking
//! ```
//!
//! The statement: `exercises/README.md`, "ex13_spawn_blocking".
//! Hints, when you are stuck: `exercises/hints/ex13.md`.
// The starting point declares fields that only your code will read: delete this line
// once the exercise is done.
#![allow(dead_code)]

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;

use crossbeam_channel::Sender;

/// A job for the pool: run it, and it delivers its own result.
type Job = Box<dyn FnOnce() + Send>;

/// A fixed pool of OS threads for blocking work, so the loop's thread never runs it.
pub struct BlockingPool {
    /// The job queue's sending end; `None` once the pool is shutting down.
    jobs: Option<Sender<Job>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl BlockingPool {
    /// Starts `threads` worker threads.
    ///
    /// # Panics
    /// If `threads` is zero, or the OS refuses a thread.
    pub fn new(_threads: usize) -> BlockingPool {
        todo!("ex13: yours to write")
    }

    /// Runs `f` on one of the pool's threads and returns a future of its result, woken
    /// from the pool's thread when `f` is done. A panic in `f` becomes
    /// `Err(JobPanicked)`; the thread goes on.
    pub fn spawn_blocking<F, T>(&self, _f: F) -> BlockingTask<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        todo!("ex13: yours to write")
    }
}

impl Drop for BlockingPool {
    /// Closes the queue and waits for the workers.
    fn drop(&mut self) {
        // ex13: yours to write.
    }
}

/// Where a worker leaves a job's result, and whom it wakes then.
struct Slot<T> {
    result: Option<Result<T, JobPanicked>>,
    waker: Option<Waker>,
}

/// The future of a job's result, returned by [`BlockingPool::spawn_blocking`].
#[must_use = "the job runs anyway; await this to get its result"]
pub struct BlockingTask<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

impl<T> Future for BlockingTask<T> {
    type Output = Result<T, JobPanicked>;

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Self::Output> {
        todo!("ex13: yours to write")
    }
}

/// The job panicked; the message of its panic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobPanicked {
    /// The panic's message.
    pub message: String,
}

impl fmt::Display for JobPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the blocking job panicked: {}", self.message)
    }
}

impl std::error::Error for JobPanicked {}
