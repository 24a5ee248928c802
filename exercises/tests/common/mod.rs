//! What every spec test shares: runtimes, and limits that turn a hang into a failure.
//!
//! A wrong solution often does not fail, it waits forever (a `Pending` nobody wakes).
//! So every test is bounded: under virtual time by [`within`] (a looplab `timeout`,
//! which costs no wall time), and where threads or real time are involved by a
//! [`watchdog`] thread that ends the whole test process with a message.

// Each test file uses only some of these helpers.
#![allow(dead_code)]

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::time::Duration;

use looplab::Runtime;

/// A runtime on virtual time: sleeps cost no wall time, timestamps are exact.
///
/// A task that keeps waking itself never lets virtual time move, so no time limit can
/// fire, whichever task it is: the runtime counts its turns and panics past
/// [`MAX_TURNS`], with a message, instead of spinning for ever.
pub fn virtual_runtime() -> Runtime {
    let mut turns = 0u64;
    Runtime::builder()
        .virtual_time(true)
        .on_turn(move |_| {
            turns += 1;
            assert!(
                turns <= MAX_TURNS,
                "the loop made {MAX_TURNS} turns without virtual time reaching any limit: \
                 a task keeps waking itself instead of waiting for a real wake (busy \
                 waiting)"
            );
        })
        .build()
        .unwrap()
}

/// More turns than any spec's run needs.
pub const MAX_TURNS: u64 = 100_000;

/// A runtime on wall time, for tests with other threads in them.
pub fn real_runtime() -> Runtime {
    Runtime::builder().build().unwrap()
}

/// Runs `future` for at most `limit` on the runtime's clock, and panics with `what` if
/// it is not done by then, or if it was polled more than [`MAX_POLLS`] times (a task
/// that keeps waking itself never lets virtual time reach the limit).
pub async fn within<F: Future>(limit: Duration, what: &str, future: F) -> F::Output {
    let timed = async {
        match looplab::time::timeout(limit, future).await {
            Ok(output) => output,
            Err(_) => panic!(
                "{what}: still not done after {limit:?}. Is a task waiting for a wake that \
                 never comes?"
            ),
        }
    };
    polls_at_most(MAX_POLLS, what, timed).await
}

/// More polls than any spec's task needs: beyond this, a task is busy waiting.
pub const MAX_POLLS: u32 = 100_000;

/// Ends the test process if it is still running `limit` from now, unless the returned
/// guard has been dropped by then. For tests where a hang would not reach a looplab
/// timer (another thread, a hand-made executor).
#[must_use = "the watchdog stops watching when this guard is dropped"]
pub struct Watchdog {
    _stop: mpsc::Sender<()>,
}

pub fn watchdog(limit: Duration, what: &'static str) -> Watchdog {
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        // The guard's drop disconnects the channel: `Err(Disconnected)`, all is well.
        if let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(limit) {
            // Straight to the process's stderr: the test harness captures `eprintln!`
            // and would lose the message with the process.
            let message = format!(
                "\nwatchdog: `{what}` still running after {limit:?}: it hangs \
                 (a lost wakeup, or a loop that waits for something that never comes). \
                 Ending the test process.\n"
            );
            let _ = std::io::stderr().write_all(message.as_bytes());
            std::process::exit(101);
        }
    });
    Watchdog { _stop: stop }
}

/// Milliseconds, for short time literals in assertions.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs `future`, and panics with `what` if it is polled more than `max_polls` times.
///
/// Under virtual time a task that keeps waking itself never lets the clock move, so
/// [`within`] would never fire: the loop spins forever. Counting polls turns that
/// busy wait into a failure with a message. Wrapped around a task's whole future, its
/// polls are the task's polls.
pub async fn polls_at_most<F: Future>(max_polls: u32, what: &str, future: F) -> F::Output {
    PollsAtMost {
        future: Box::pin(future),
        polls: 0,
        max_polls,
        what,
    }
    .await
}

struct PollsAtMost<'a, F> {
    future: Pin<Box<F>>,
    polls: u32,
    max_polls: u32,
    what: &'a str,
}

impl<F: Future> Future for PollsAtMost<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls += 1;
        if self.polls > self.max_polls {
            panic!(
                "{}: polled more than {} times. A task that wakes itself instead of \
                 waiting for a real wake polls in a loop (busy waiting).",
                self.what, self.max_polls
            );
        }
        self.future.as_mut().poll(cx)
    }
}

/// Makes each test of a spec a `#[test]` of this target: `spec::with_tests!(as_tests)`.
#[macro_export]
macro_rules! as_tests {
    ($($test:ident),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                spec::$test()
            }
        )*
    };
}

/// The tests of a spec as a table of names and functions, for a target without a test
/// harness: `spec::with_tests!(as_table)`.
#[macro_export]
macro_rules! as_table {
    ($($test:ident),* $(,)?) => {
        &[$((stringify!($test), spec::$test as fn())),*]
    };
}
