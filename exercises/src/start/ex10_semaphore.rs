//! Exercise 10 (chapter 8): a semaphore, and a lookup client that makes at most K calls
//! at once.
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex10_semaphore
//! ```
//!
//! The statement: `exercises/README.md`, "ex10_semaphore".
//! Hints, when you are stuck: `exercises/hints/ex10.md`.
//!
//! Read `src/lookup/event_loop.rs` first: the client this one limits.
// The starting point declares fields that only your code will read: delete this line
// once the exercise is done.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use looplab::lookup::http::{self, ResponseParse, User};
use looplab::net::TcpStream;

/// An async semaphore: `permits` permits, handed out in the order they were asked for.
/// A permit is a value: dropping it gives it back.
pub struct Semaphore {
    state: Mutex<State>,
}

/// A suggested state; change it as you like.
struct State {
    /// Permits nobody holds and nobody has been handed.
    available: usize,
    /// Waiters in arrival order: their ticket and the waker of their latest poll.
    queue: VecDeque<(u64, Waker)>,
    /// Tickets that have been handed a permit but have not been polled since.
    granted: Vec<u64>,
    next_ticket: u64,
}

impl Semaphore {
    /// A semaphore with `permits` permits.
    pub fn new(_permits: usize) -> Semaphore {
        todo!("ex10: yours to write")
    }

    /// Permits free right now.
    pub fn available_permits(&self) -> usize {
        todo!("ex10: yours to write")
    }

    /// Waits for a permit. Waiters are served first come, first served.
    pub fn acquire(&self) -> Acquire<'_> {
        todo!("ex10: yours to write")
    }

    /// Gives one permit back. To whom?
    fn release(&self) {
        todo!("ex10: yours to write")
    }
}

/// The future returned by [`Semaphore::acquire`].
#[must_use = "an Acquire does nothing until it is awaited"]
pub struct Acquire<'a> {
    semaphore: &'a Semaphore,
    /// Our place in the queue, once we had to wait.
    ticket: Option<u64>,
}

impl<'a> Future for Acquire<'a> {
    type Output = Permit<'a>;

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Permit<'a>> {
        todo!("ex10: yours to write")
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        // ex10: yours to write.
    }
}

/// One permit of a [`Semaphore`], given back when dropped.
#[must_use = "dropping a Permit gives it back at once"]
pub struct Permit<'a> {
    semaphore: &'a Semaphore,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        // ex10: yours to write.
    }
}

/// A client of the user directory that makes at most `max_calls` calls at once, however
/// many tasks use it. Clones share the limit.
#[derive(Clone)]
pub struct LimitedClient {
    directory: SocketAddr,
    limit: Arc<Semaphore>,
}

impl LimitedClient {
    /// A client of the directory at `directory`, limited to `max_calls` calls at once.
    pub fn new(_directory: SocketAddr, _max_calls: usize) -> LimitedClient {
        todo!("ex10: yours to write")
    }

    /// Looks one user up, waiting first for one of the `max_calls` permits, held for
    /// the whole call.
    pub async fn get_user(&self, _id: u64) -> io::Result<User> {
        todo!("ex10: yours to write")
    }
}

/// One call to the directory with no limit: connect, `GET /users/{id}`, read the
/// answer, close. (Given: this exercise is about the limit.)
pub async fn get_user_unlimited(directory: SocketAddr, id: u64) -> io::Result<User> {
    let mut stream = TcpStream::connect(directory).await?;
    stream
        .write_all(&http::user_request(id, &directory.to_string()))
        .await?;
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match http::parse_response(&buffer) {
            ResponseParse::Complete {
                status: 200, body, ..
            } => {
                return http::parse_user(&body).map_err(io::Error::other);
            }
            ResponseParse::Complete { status, .. } => {
                return Err(io::Error::other(format!("user {id}: status {status}")));
            }
            ResponseParse::Invalid(reason) => return Err(io::Error::other(reason)),
            ResponseParse::Partial => match stream.read(&mut chunk).await? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => buffer.extend_from_slice(&chunk[..n]),
            },
        }
    }
}
