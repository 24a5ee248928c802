//! What every spec test shares: runtimes, and limits that turn a hang into a failure.
//!
//! A wrong solution often does not fail, it waits forever (a `Pending` nobody wakes).
//! So every test is bounded: under virtual time by [`within`] (a looplab `timeout`,
//! which costs no wall time), and where threads or real time are involved by a
//! [`watchdog`] thread that ends the whole test process with a message.

// Each test file uses only some of these helpers.
#![allow(dead_code)]

use std::future::Future;
use std::sync::mpsc;
use std::time::Duration;

use looplab::Runtime;

/// A runtime on virtual time: sleeps cost no wall time, timestamps are exact.
pub fn virtual_runtime() -> Runtime {
    Runtime::builder().virtual_time(true).build().unwrap()
}

/// A runtime on wall time, for tests with other threads in them.
pub fn real_runtime() -> Runtime {
    Runtime::builder().build().unwrap()
}

/// Runs `future` for at most `limit` on the runtime's clock, and panics with `what` if
/// it is not done by then.
pub async fn within<F: Future>(limit: Duration, what: &str, future: F) -> F::Output {
    match looplab::time::timeout(limit, future).await {
        Ok(output) => output,
        Err(_) => panic!(
            "{what}: still not done after {limit:?}. Is a task waiting for a wake that never comes?"
        ),
    }
}

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
            eprintln!(
                "\nwatchdog: `{what}` still running after {limit:?}: it hangs \
                 (a lost wakeup, or a loop that waits for something that never comes). \
                 Ending the test process.\n"
            );
            std::process::exit(101);
        }
    });
    Watchdog { _stop: stop }
}

/// Milliseconds, for short time literals in assertions.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
