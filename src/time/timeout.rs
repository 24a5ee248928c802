//! `timeout`: race a future against a sleep (chapter 6).
//!
//! `timeout(d, fut)` polls `fut` first and then its deadline, each time it is woken.
//! Whichever is ready first decides the result. Both stay inside the `Timeout` until
//! the `Timeout` itself is dropped: a future that lost the race is dropped then (which
//! is how cancellation works for Rust futures), and so is the `Sleep`, whose drop
//! cancels its timer, so a request that answers in time leaves nothing in the wheel
//! once its `Timeout` is gone. asyncio's `wait_for` cancels the inner task at once.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::sleep::{Sleep, sleep};

/// Runs `future` for at most `duration`: `Ok(output)` if it finished in time,
/// `Err(Elapsed)` if the time ran out first (the future is dropped with the
/// `Timeout`).
///
/// # Panics
/// Outside a runtime.
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future: Box::pin(future),
        deadline: sleep(duration),
        duration,
    }
}

/// The future returned by [`timeout`].
#[must_use = "a Timeout does nothing until it is awaited"]
pub struct Timeout<F> {
    // Boxed so that `Timeout` is `Unpin` and needs no pin projection (no `unsafe`).
    future: Pin<Box<F>>,
    deadline: Sleep,
    duration: Duration,
}

/// The error of a [`timeout`] whose time ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed {
    after: Duration,
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "timed out after {:?}", self.after)
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e.to_string())
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The future first: a result that is ready at the deadline still counts.
        if let Poll::Ready(output) = self.future.as_mut().poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match Pin::new(&mut self.deadline).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed {
                after: self.duration,
            })),
            Poll::Pending => Poll::Pending,
        }
    }
}
