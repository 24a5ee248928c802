//! WRONG: runs the job without catching its panic: the panic ends the pool thread, the task waits for a result that never comes, and the pool has one thread less.
//!
//! A drop-in for `src/start/ex13_spawn_blocking.rs`; checked by `tests/wrong_solutions.rs`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;

use crossbeam_channel::{Receiver, Sender};

/// A job for the pool: run it, and it delivers its own result.
type Job = Box<dyn FnOnce() + Send>;

/// A fixed pool of OS threads for blocking work (a file read, a DNS lookup, a CPU-heavy
/// computation, a library that only has a blocking API), so the loop's thread never
/// runs it.
///
/// tokio: `tokio::task::spawn_blocking` (a pool that grows up to 512 threads and
/// shrinks when idle); asyncio: `loop.run_in_executor(None, f)` (a
/// `ThreadPoolExecutor`), or `asyncio.to_thread(f)`.
pub struct BlockingPool {
    /// The job queue's sending end; `None` once the pool is shutting down. Closing it
    /// is how the workers learn to stop: `recv` fails when every sender is gone.
    jobs: Option<Sender<Job>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl BlockingPool {
    /// Starts `threads` worker threads, named `blocking-0`, `blocking-1`, ...
    ///
    /// # Panics
    /// If `threads` is zero, or the OS refuses a thread.
    pub fn new(threads: usize) -> BlockingPool {
        assert!(threads > 0, "a BlockingPool needs at least one thread");
        // Many producers (any task), many consumers (the workers): one crossbeam
        // channel, each worker holding a clone of the receiver.
        let (sender, receiver) = crossbeam_channel::unbounded::<Job>();
        let threads = (0..threads)
            .map(|i| {
                let receiver: Receiver<Job> = receiver.clone();
                thread::Builder::new()
                    .name(format!("blocking-{i}"))
                    .spawn(move || {
                        // Blocks in `recv` while idle: an idle worker costs no CPU.
                        while let Ok(job) = receiver.recv() {
                            job();
                        }
                    })
                    .expect("could not start a blocking-pool thread")
            })
            .collect();
        BlockingPool {
            jobs: Some(sender),
            threads,
        }
    }

    /// Runs `f` on one of the pool's threads and returns a future of its result. The
    /// future is woken from the pool's thread when `f` is done, which rings the loop's
    /// `mio::Waker` if the loop is parked: no polling, no timer.
    ///
    /// `f` starts as soon as a thread is free, whether or not the future is awaited
    /// (like tokio's). A panic in `f` becomes `Err(JobPanicked)`; the thread goes on.
    pub fn spawn_blocking<F, T>(&self, f: F) -> BlockingTask<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let slot = Arc::new(Mutex::new(Slot {
            result: None,
            waker: None,
        }));
        let for_worker = slot.clone();
        let job: Job = Box::new(move || {
            let result: Result<T, JobPanicked> = Ok(f());
            let waker = {
                let mut slot = for_worker.lock().unwrap();
                slot.result = Some(result);
                slot.waker.take()
            };
            // Outside the lock. This is a wake from another thread: it queues the task
            // and rings the loop's mio::Waker (see src/task.rs).
            if let Some(waker) = waker {
                waker.wake();
            }
        });
        self.jobs
            .as_ref()
            .expect("the pool is shutting down")
            .send(job)
            .expect("the pool's threads are gone");
        BlockingTask { slot }
    }
}

impl Drop for BlockingPool {
    /// Closes the queue and waits for the workers: jobs already queued still run.
    fn drop(&mut self) {
        drop(self.jobs.take());
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
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

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The check and the store happen under one lock, and the worker stores the
        // result under the same lock: a result can never slip in between (that would be
        // a lost wakeup, exercise 9).
        let mut slot = self.slot.lock().unwrap();
        if let Some(result) = slot.result.take() {
            return Poll::Ready(result);
        }
        match &slot.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => slot.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
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
