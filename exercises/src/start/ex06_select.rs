//! Exercise 6 (chapter 6): `select`, race two futures.
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex06_select
//! ```
//!
//! The statement: `exercises/README.md`, "ex06_select".
//! Hints, when you are stuck: `exercises/hints/ex06.md`.
//!
//! Read `src/time/timeout.rs` first.
// The starting point declares fields that only your code will read: delete this line
// once the exercise is done.
#![allow(dead_code)]

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
pub fn select<A: Future, B: Future>(a: A, b: B) -> Select<A, B> {
    Select {
        a: Some(Box::pin(a)),
        b: Some(Box::pin(b)),
    }
}

/// The future returned by [`select`].
#[must_use = "a Select does nothing until it is awaited"]
pub struct Select<A, B> {
    // Boxed so that `Select` is `Unpin` and needs no pin projection: poll them with
    // `as_mut()`. `None` once dropped.
    a: Option<Pin<Box<A>>>,
    b: Option<Pin<Box<B>>>,
}

impl<A: Future, B: Future> Future for Select<A, B> {
    type Output = Either<A::Output, B::Output>;

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Self::Output> {
        todo!("ex06: yours to write")
    }
}
