//! Exercise 1, a bug hunt (chapter 3): a `join` that panics when one side finishes
//! first.
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex01_bug_polled_after_ready
//! ```
//!
//! **The part.** [`join`] runs two futures at once inside one task and finishes when
//! both have, with both outputs: `join(fetch(a), fetch(b)).await` waits for the slower
//! of the two, not for their sum (`futures::join!`, tokio's `join!`, asyncio's
//! `gather` for two). Each poll of the [`Join`] polls the futures with the task's own
//! waker, so whichever of them is woken, the task is, and the `Join` polls again. An
//! output that comes early is kept until the other one comes.
//!
//! The statement: `exercises/README.md`, "ex01_bug_polled_after_ready".
//! Hints, when you are stuck: `exercises/hints/ex01.md`.
//! This file has exactly one bug.

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
        // Poll both with the task's waker: we do not know which of them was woken.
        if let Poll::Ready(output) = this.a.as_mut().poll(cx) {
            this.a_output = Some(output);
        }
        if let Poll::Ready(output) = this.b.as_mut().poll(cx) {
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
