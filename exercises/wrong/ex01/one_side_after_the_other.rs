//! WRONG: polls `b` only once `a` has finished: never twice after `Ready`, but the two no longer run at once.
//!
//! A drop-in for `src/start/ex01_bug_polled_after_ready.rs`; checked by `tests/wrong_solutions.rs`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Runs `a` and `b` at once and returns both outputs, `(a's, b's)`, once both are done.
pub fn join<A: Future, B: Future>(a: A, b: B) -> Join<A, B> {
    Join {
        a: Box::pin(a),
        b: Box::pin(b),
        a_output: None,
        b_output: None,
    }
}

/// The future returned by [`join`]. Like any future, it must not be polled again
/// once it has returned `Ready`.
#[must_use = "a Join does nothing until it is awaited"]
pub struct Join<A: Future, B: Future> {
    // Boxed so that `Join` needs no pin projection: `Pin<Box<_>>` is polled through
    // `as_mut()` with no `unsafe`. (`futures::join!` pins in place to save the
    // allocation.)
    a: Pin<Box<A>>,
    b: Pin<Box<B>>,
    /// `a`'s output, from the poll where `a` finished until `Join` finishes.
    a_output: Option<A::Output>,
    /// `b`'s output, likewise.
    b_output: Option<B::Output>,
}

// Nothing in a `Join` is pinned in place: the futures are behind their own `Pin<Box>`,
// and the outputs are plain values that are only ever moved out. So moving a `Join` is
// fine even after it has been polled, and `poll` may take `&mut Join`.
impl<A: Future, B: Future> Unpin for Join<A, B> {}

impl<A: Future, B: Future> Future for Join<A, B> {
    type Output = (A::Output, B::Output);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        // Poll each side with the task's waker (we do not know which was woken), but
        // only while it has not finished: a future that returned `Ready` must never be
        // polled again, and only we know that it did. Its output in `a_output` or
        // `b_output` is the memory of that. (`futures` keeps the same memory in a
        // `MaybeDone` per side: the future, then its output, then nothing.)
        if this.a_output.is_none() {
            match this.a.as_mut().poll(cx) {
                Poll::Ready(output) => this.a_output = Some(output),
                Poll::Pending => return Poll::Pending,
            }
        }
        if this.b_output.is_none()
            && let Poll::Ready(output) = this.b.as_mut().poll(cx)
        {
            this.b_output = Some(output);
        }
        // Done when both outputs are in; else keep what we have and wait.
        if this.a_output.is_some() && this.b_output.is_some() {
            let a = this.a_output.take().unwrap();
            let b = this.b_output.take().unwrap();
            return Poll::Ready((a, b));
        }
        Poll::Pending
    }
}
