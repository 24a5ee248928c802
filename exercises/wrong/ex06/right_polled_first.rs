//! WRONG: polls `b` before `a`: when both are ready in the same poll, the right one wins.
//!
//! A drop-in for `src/start/ex06_select.rs`; checked by `tests/wrong_solutions.rs`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The winner of a [`select`]: the left future's output or the right one's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Either<A, B> {
    /// The first future (`a`) finished first.
    Left(A),
    /// The second future (`b`) finished first.
    Right(B),
}

/// Waits for whichever of `a` and `b` finishes first and returns its output; the other
/// one is **dropped** as soon as the winner is known, which cancels whatever it was
/// waiting on (a timer, a read). If both are ready in the same poll, `a` wins.
///
/// asyncio: `asyncio.wait({a, b}, return_when=FIRST_COMPLETED)`, then cancel the rest.
/// tokio: `tokio::select!` (which picks a random branch first, for fairness; this one
/// always polls `a` first, like `futures::future::select` and `select_biased!`).
pub fn select<A: Future, B: Future>(a: A, b: B) -> Select<A, B> {
    Select {
        a: Some(Box::pin(a)),
        b: Some(Box::pin(b)),
    }
}

/// The future returned by [`select`].
#[must_use = "a Select does nothing until it is awaited"]
pub struct Select<A, B> {
    // Boxed so that `Select` is `Unpin` and needs no pin projection: `Pin<Box<_>>` can
    // be polled through `as_mut()` with no `unsafe`. (tokio and futures pin in place,
    // with `pin-project`, to save the allocation.) `None` once dropped.
    a: Option<Pin<Box<A>>>,
    b: Option<Pin<Box<B>>>,
}

impl<A: Future, B: Future> Future for Select<A, B> {
    type Output = Either<A::Output, B::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let (Some(a), Some(b)) = (this.a.as_mut(), this.b.as_mut()) else {
            panic!("a Select was polled again after it finished");
        };
        // Both get the same waker: whichever of them is woken, the task polls the
        // Select again, and the Select polls both. A future that was not woken just
        // answers Pending again (cheap for a `Sleep` or a `JoinHandle`).
        let winner = if let Poll::Ready(out) = b.as_mut().poll(cx) {
            Either::Right(out)
        } else if let Poll::Ready(out) = a.as_mut().poll(cx) {
            Either::Left(out)
        } else {
            return Poll::Pending;
        };
        // Drop both now, not when the Select itself is dropped: the loser's timer or
        // socket interest goes away the moment it has lost.
        this.a = None;
        this.b = None;
        Poll::Ready(winner)
    }
}
