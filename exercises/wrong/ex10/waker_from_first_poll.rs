//! WRONG: keeps the waker the waiter was queued with: a waiter moved to another task is never woken there.
//!
//! A drop-in for `src/start/ex10_semaphore.rs`; checked by `tests/wrong_solutions.rs`.

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
///
/// asyncio: `asyncio.Semaphore`; tokio: `tokio::sync::Semaphore` (also first come,
/// first served). A permit is a value: dropping it gives it back, so a task that
/// returns early, fails, or is cancelled cannot keep it by mistake.
pub struct Semaphore {
    state: Mutex<State>,
}

struct State {
    /// Permits nobody holds and nobody has been handed.
    available: usize,
    /// Waiters in arrival order: their ticket and the waker of their latest poll.
    queue: VecDeque<(u64, Waker)>,
    /// Tickets that have been handed a permit but have not been polled since. The
    /// permit is theirs: nobody else may take it, not even a task that asks first.
    granted: Vec<u64>,
    next_ticket: u64,
}

impl Semaphore {
    /// A semaphore with `permits` permits.
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            state: Mutex::new(State {
                available: permits,
                queue: VecDeque::new(),
                granted: Vec::new(),
                next_ticket: 0,
            }),
        }
    }

    /// Permits free right now.
    pub fn available_permits(&self) -> usize {
        self.state.lock().unwrap().available
    }

    /// Waits for a permit. Waiters are served first come, first served.
    pub fn acquire(&self) -> Acquire<'_> {
        Acquire {
            semaphore: self,
            ticket: None,
        }
    }

    /// Gives one permit back: **hands it to the first waiter** if there is one (so a
    /// task that asks later cannot take it first), else makes it available.
    fn release(&self) {
        let waker = {
            let mut state = self.state.lock().unwrap();
            match state.queue.pop_front() {
                Some((ticket, waker)) => {
                    state.granted.push(ticket);
                    Some(waker)
                }
                None => {
                    state.available += 1;
                    None
                }
            }
        };
        // Wake outside the lock: the woken task may run (on another runtime's thread)
        // and lock the state at once.
        if let Some(waker) = waker {
            waker.wake();
        }
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

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit<'a>> {
        let semaphore = self.semaphore;
        let mut state = semaphore.state.lock().unwrap();
        match self.ticket {
            None => {
                // Take a free permit only if nobody is waiting: otherwise we would
                // overtake them.
                if state.available > 0 && state.queue.is_empty() {
                    state.available -= 1;
                    return Poll::Ready(Permit { semaphore });
                }
                let ticket = state.next_ticket;
                state.next_ticket += 1;
                state.queue.push_back((ticket, cx.waker().clone()));
                drop(state);
                self.ticket = Some(ticket);
                Poll::Pending
            }
            Some(ticket) => {
                if let Some(i) = state.granted.iter().position(|&t| t == ticket) {
                    state.granted.swap_remove(i);
                    drop(state);
                    self.ticket = None;
                    return Poll::Ready(Permit { semaphore });
                }
                // Still waiting, and already queued with a waker.
                Poll::Pending
            }
        }
    }
}

impl Drop for Acquire<'_> {
    /// A waiter that gives up (a timeout, a select that picked another branch, an
    /// aborted task) leaves the queue. If a permit was handed to it in the meantime,
    /// it was never used: pass it on, or it is lost for good.
    fn drop(&mut self) {
        let Some(ticket) = self.ticket.take() else {
            return;
        };
        let mut state = self.semaphore.state.lock().unwrap();
        if let Some(i) = state.granted.iter().position(|&t| t == ticket) {
            state.granted.swap_remove(i);
            drop(state);
            self.semaphore.release();
        } else {
            state.queue.retain(|(t, _)| *t != ticket);
        }
    }
}

/// One permit of a [`Semaphore`], given back when dropped.
#[must_use = "dropping a Permit gives it back at once"]
pub struct Permit<'a> {
    semaphore: &'a Semaphore,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.semaphore.release();
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
    pub fn new(directory: SocketAddr, max_calls: usize) -> LimitedClient {
        LimitedClient {
            directory,
            limit: Arc::new(Semaphore::new(max_calls)),
        }
    }

    /// Looks one user up, waiting first for one of the `max_calls` permits. The permit
    /// is held for the whole call (connect, request, answer) and given back when the
    /// call ends, however it ends.
    pub async fn get_user(&self, id: u64) -> io::Result<User> {
        let _permit = self.limit.acquire().await;
        get_user_unlimited(self.directory, id).await
    }
}

/// One call to the directory with no limit: connect, `GET /users/{id}`, read the
/// answer, close.
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
