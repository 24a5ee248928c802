//! A socket's registration with the reactor, and the edge-triggered way to use it
//! (chapter 7).
//!
//! `net.rs`'s sockets (and `signal.rs`'s signals) each hold a [`Registration`]: the
//! key of their slot in the reactor of the runtime they were created in. Through it a
//! socket runs each non-blocking operation with [`poll_io`], which applies the two
//! rules of the reactor's module docs, and leaves the reactor when it is dropped.
//!
//! This is the part of the reactor that finds "the" runtime through the thread-local
//! (`context.rs`); the reactor itself (`mod.rs`) never does, so the loop can own it
//! without a circle of imports.

use std::io;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use mio::Interest;

use super::{Direction, IoKey};
use crate::context;
use crate::trace::Event;

/// A registration held by a socket type: the key, and which runtime it belongs to (a
/// socket dropped on another runtime's thread must not touch that runtime's table).
#[derive(Debug)]
pub(crate) struct Registration {
    key: IoKey,
    runtime_id: u64,
    /// The reactor's list of keys dropped out of its reach (see `Reactor::released`).
    released: Arc<Mutex<Vec<IoKey>>>,
}

impl Registration {
    /// Registers `source` with the current runtime's reactor.
    pub(crate) fn new(
        what: &'static str,
        source: &mut impl mio::event::Source,
        interest: Interest,
        assume_ready: bool,
    ) -> io::Result<Registration> {
        context::with_core(what, |core| {
            let reactor = core.reactor();
            let key = reactor.register(source, what, interest, assume_ready)?;
            let released = reactor.released_list();
            if core.tracer().enabled() {
                core.tracer().emit(Event::IoRegistered {
                    task: core.executor().current_task(),
                    token: key.number(),
                    what,
                    interest: match (interest.is_readable(), interest.is_writable()) {
                        (true, true) => "read+write",
                        (false, true) => "write",
                        _ => "read",
                    },
                });
            }
            Ok(Registration {
                key,
                runtime_id: core.id(),
                released,
            })
        })
    }

    /// Deregisters `source`; call from the socket's `Drop`.
    pub(crate) fn deregister(&self, source: &mut impl mio::event::Source) {
        let waiters = context::try_with_core(|core| {
            if core.id() != self.runtime_id {
                return None;
            }
            let waiters = core.reactor().deregister(source, self.key);
            core.tracer().emit(Event::IoDeregistered {
                token: self.key.number(),
            });
            Some(waiters)
        })
        .flatten();
        let Some(waiters) = waiters else {
            // Not on the thread running our runtime's loop: leave the key for the
            // reactor to free at its next turn.
            self.released.lock().unwrap().push(self.key);
            return;
        };
        for waiter in waiters {
            waiter.waker.wake();
        }
    }

    /// Runs a non-blocking operation the edge-triggered way; see [`poll_io`].
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        op_name: &'static str,
        op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        poll_io(
            self.key,
            self.runtime_id,
            cx,
            direction,
            op_name,
            op,
            |_| None,
        )
    }

    /// A read or write of at most `capacity` bytes, the edge-triggered way, counted:
    /// the bytes it moved go into the trace (`IoDone`). A read that returns fewer bytes than
    /// `capacity` (and more than none) emptied the socket, so the next one waits for
    /// an edge, as tokio's does: without this, every short read is followed by a read
    /// that only hears `WouldBlock`.
    pub(crate) fn poll_bytes(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        capacity: usize,
        op: impl FnMut() -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let op_name = match direction {
            Direction::Read => "read",
            Direction::Write => "write",
        };
        poll_io(
            self.key,
            self.runtime_id,
            cx,
            direction,
            op_name,
            op,
            |&bytes| Some(Counted { bytes, capacity }),
        )
    }
}

/// A read's or write's result, as `poll_io` counts it: the bytes it moved, and how many
/// it could have.
pub(crate) struct Counted {
    bytes: usize,
    capacity: usize,
}

/// Runs `op` (a non-blocking read, write, accept, ...) if the source is ready in
/// `direction`, the edge-triggered way:
///
/// - flag clear: no readiness since the last `WouldBlock`; store the waker and wait.
/// - flag set: try the operation. Success returns at once, and the flag stays set
///   (there may be more; rule 1). `WouldBlock` clears the flag and stores the waker in
///   one step (rule 2), unless an event came while the operation ran: then it is tried
///   again. `Interrupted` is simply tried again.
///
/// A socket used inside another runtime's `block_on` than the one it was registered
/// with gets an error: its key means nothing in that runtime's table, and its events
/// go to a `mio::Poll` that this loop does not poll.
pub(crate) fn poll_io<R>(
    key: IoKey,
    runtime_id: u64,
    cx: &mut Context<'_>,
    direction: Direction,
    op_name: &'static str,
    mut op: impl FnMut() -> io::Result<R>,
    counted: impl Fn(&R) -> Option<Counted>,
) -> Poll<io::Result<R>> {
    context::with_core(op_name, |core| {
        if core.id() != runtime_id {
            return Poll::Ready(Err(io::Error::other(format!(
                "{op_name} on a socket of another looplab runtime: a socket belongs to \
                 the runtime it was created in; use it inside that runtime's block_on"
            ))));
        }
        loop {
            let reactor = core.reactor();
            let task = core.executor().current_task();
            let Some(tick) = reactor.readiness(key, direction) else {
                reactor.set_waiter(key, direction, cx.waker(), task);
                if core.tracer().enabled() {
                    core.tracer().emit(Event::IoWait {
                        task,
                        token: key.number(),
                        op: op_name,
                    });
                }
                return Poll::Pending;
            };
            // The reactor is not borrowed while the syscall runs.
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let waiting = reactor.wait_for(key, direction, tick, cx.waker(), task);
                    if !waiting {
                        // Readiness arrived while the operation ran: try again.
                        continue;
                    }
                    if core.tracer().enabled() {
                        core.tracer().emit(Event::IoWouldBlock {
                            task,
                            token: key.number(),
                            op: op_name,
                        });
                    }
                    return Poll::Pending;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(done) => {
                    if let Some(Counted { bytes, capacity }) = counted(&done) {
                        if direction == Direction::Read && bytes > 0 && bytes < capacity {
                            reactor.drained(key, direction, tick);
                        }
                        if core.tracer().enabled() {
                            core.tracer().emit(Event::IoDone {
                                task,
                                token: key.number(),
                                op: op_name,
                                bytes,
                            });
                        }
                    }
                    return Poll::Ready(Ok(done));
                }
                result => return Poll::Ready(result),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::time::Duration;

    use mio::net::UnixStream;

    use super::*;
    use crate::reactor::Direction;

    const LONG_ENOUGH: Option<Duration> = Some(Duration::from_secs(2));

    #[test]
    fn poll_io_tries_again_when_readiness_lands_during_the_operation() {
        // The same race through `poll_io`, inside a runtime: the read's own closure
        // plays the loop's step 4 right after the syscall said WouldBlock.
        let rt = crate::Runtime::builder().build().unwrap();
        let got = rt.block_on(async {
            let (mut a, mut b) = UnixStream::pair().unwrap();
            let registration = Registration::new("a", &mut a, Interest::READABLE, true).unwrap();
            let mut buf = [0u8; 8];
            let mut raced = false;
            let read = std::future::poll_fn(|cx| {
                registration.poll_io(cx, Direction::Read, "read", || {
                    let result = (&a).read(&mut buf);
                    if !raced
                        && result
                            .as_ref()
                            .is_err_and(|e| e.kind() == io::ErrorKind::WouldBlock)
                    {
                        raced = true;
                        b.write_all(b"x").unwrap();
                        let wakeup = context::with_core("test", |core| {
                            core.reactor().wait(LONG_ENOUGH).unwrap()
                        });
                        assert_eq!(wakeup.ready.len(), 1, "the data was reported");
                    }
                    result
                })
            });
            let got = crate::time::timeout(Duration::from_secs(2), read).await;
            registration.deregister(&mut a);
            (got, raced)
        });
        let (got, raced) = got;
        assert!(raced, "the race was not staged");
        let n = got.expect("the read waited for an edge that had come already");
        assert_eq!(n.unwrap(), 1);
    }
}
