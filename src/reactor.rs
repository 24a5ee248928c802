//! The reactor: one `mio::Poll` that waits for every socket at once (chapter 7).
//!
//! A thread that calls `read` on a socket with no data sleeps in the kernel until data
//! comes. That is why a thread-per-request server needs a thread per connection. The
//! reactor turns it around: every socket is **non-blocking** (a read with no data
//! returns `WouldBlock` at once), and one call, `mio::Poll::poll` (epoll on Linux,
//! kqueue on macOS), waits for *all* of them and says which became ready. The loop
//! parks there, with the timer wheel's next deadline as the timeout.
//!
//! Per registered socket (a **source**) the reactor keeps:
//!
//! - a **token**, the number mio hands back with each event. It encodes a slot index
//!   and a **generation**: when a socket is dropped its slot may go to a new socket,
//!   and a late event for the old one must not wake the new one's tasks. An event
//!   whose generation does not match is ignored.
//! - two **readiness flags**, readable and writable, and
//! - the waker of the task waiting to read and of the one waiting to write.
//!
//! ## Edge-triggered, and the lost wakeup
//!
//! mio is edge-triggered: it reports a socket *once* when it becomes readable, not
//! again and again while data is waiting. Two rules follow, and they live in
//! `poll_io`:
//!
//! 1. Keep reading (or writing) until the OS says `WouldBlock` before waiting again.
//!    After a successful read there may be more data, and no new event will say so.
//! 2. Remember readiness **per source**, not per waiting task. The event may arrive
//!    while no task is waiting: the reader was busy elsewhere, or its read was
//!    cancelled by a timeout. A reactor that only wakes a stored waker and forgets the
//!    event loses the wakeup for good: the next read waits for an edge that already
//!    happened, and hangs. So an event always sets the flag; only a `WouldBlock` clears
//!    it, and the waker is stored in that same step.
//!
//! In a multi-threaded runtime the event could also land *between* the `WouldBlock`
//! and the storing of the waker; tokio guards that with a readiness "tick". Here the
//! reactor only runs while no task is being polled (step 4 of the loop), so between a
//! task's `WouldBlock` and its waker being stored no event can be processed at all.
//!
//! asyncio's equivalent is its `selectors` module plus `add_reader`/`add_writer`;
//! tokio's is `tokio::runtime::io::Driver` with its `ScheduledIo` per source.

use std::io;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use mio::{Events, Interest, Token};

use crate::runtime::with_core;
use crate::trace::{Event, TaskId};

/// The token of the `mio::Waker` that other threads ring to unpark the loop.
const REMOTE_WAKE_TOKEN: Token = Token(usize::MAX);

/// How many events one `poll` may return; more simply wait for the next turn.
const EVENTS_PER_POLL: usize = 1024;

/// Which half of a socket an operation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

/// A registered source: which slot, and which generation of that slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IoKey {
    index: u32,
    generation: u32,
}

impl IoKey {
    fn token(self) -> Token {
        Token(((self.generation as usize) << 32) | self.index as usize)
    }

    fn from_token(token: Token) -> IoKey {
        IoKey {
            index: (token.0 & 0xFFFF_FFFF) as u32,
            generation: (token.0 >> 32) as u32,
        }
    }

    /// The number the trace shows ("token 3"): the slot index.
    pub(crate) fn number(self) -> usize {
        self.index as usize
    }
}

/// A task waiting on a source, and for the trace, which task it is.
pub(crate) struct Waiter {
    pub(crate) waker: Waker,
    pub(crate) task: Option<TaskId>,
}

/// What the reactor knows about one registered socket.
struct SourceState {
    what: &'static str,
    /// Set by every readiness event, cleared only by a `WouldBlock` (rule 2 above).
    readable: bool,
    writable: bool,
    reader: Option<Waiter>,
    writer: Option<Waiter>,
}

/// A slot of the source table. `generation` counts how often it has been reused.
struct Slot {
    generation: u32,
    state: Option<SourceState>,
}

/// Readiness seen on one source, with the tasks to wake.
pub(crate) struct Ready {
    pub(crate) token: usize,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    pub(crate) waiters: Vec<Waiter>,
}

/// What one `wait` brought.
pub(crate) struct Wakeup {
    pub(crate) ready: Vec<Ready>,
    pub(crate) remote_wake: bool,
}

/// The reactor: mio's `Poll` plus the table of registered sources.
pub(crate) struct Reactor {
    poll: mio::Poll,
    events: Events,
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
}

impl Reactor {
    /// A reactor, and the waker other threads use to interrupt its `wait`.
    pub(crate) fn new() -> io::Result<(Reactor, Arc<mio::Waker>)> {
        let poll = mio::Poll::new()?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), REMOTE_WAKE_TOKEN)?);
        Ok((
            Reactor {
                poll,
                events: Events::with_capacity(EVENTS_PER_POLL),
                slots: Vec::new(),
                free: Vec::new(),
                live: 0,
            },
            waker,
        ))
    }

    /// Registers a socket. `assume_ready` starts the flags set, so the first
    /// operation is simply tried (right for an accepted or connected socket; a
    /// `WouldBlock` corrects it); a socket still connecting starts not ready.
    pub(crate) fn register(
        &mut self,
        source: &mut impl mio::event::Source,
        what: &'static str,
        interest: Interest,
        assume_ready: bool,
    ) -> io::Result<IoKey> {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    state: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        let key = IoKey {
            index,
            generation: slot.generation,
        };
        if let Err(e) = self.poll.registry().register(source, key.token(), interest) {
            self.free.push(index);
            return Err(e);
        }
        slot.state = Some(SourceState {
            what,
            readable: assume_ready,
            writable: assume_ready,
            reader: None,
            writer: None,
        });
        self.live += 1;
        Ok(key)
    }

    /// Removes a socket. Returns the tasks that were waiting on it, so the caller can
    /// wake them (they will find their socket gone rather than wait forever).
    pub(crate) fn deregister(
        &mut self,
        source: &mut impl mio::event::Source,
        key: IoKey,
    ) -> Vec<Waiter> {
        let slot = match self.slots.get_mut(key.index as usize) {
            Some(slot) if slot.generation == key.generation => slot,
            // Already deregistered: a stale key changes nothing.
            _ => return Vec::new(),
        };
        let Some(state) = slot.state.take() else {
            return Vec::new();
        };
        // Closing the socket would remove it from epoll anyway; deregistering first
        // keeps the reactor's table and the kernel's in step.
        let _ = self.poll.registry().deregister(source);
        // The next socket in this slot gets a new generation: stale tokens stay stale.
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(key.index);
        self.live -= 1;
        state.reader.into_iter().chain(state.writer).collect()
    }

    fn state_mut(&mut self, key: IoKey) -> Option<&mut SourceState> {
        let slot = self.slots.get_mut(key.index as usize)?;
        if slot.generation != key.generation {
            return None;
        }
        slot.state.as_mut()
    }

    /// Whether the last thing known about this direction is "ready". A stale key reads
    /// as ready, so the operation runs and reports the real error.
    pub(crate) fn is_ready(&mut self, key: IoKey, direction: Direction) -> bool {
        match self.state_mut(key) {
            Some(state) => match direction {
                Direction::Read => state.readable,
                Direction::Write => state.writable,
            },
            None => true,
        }
    }

    /// Records a `WouldBlock`: not ready any more, and `waker` waits for the next edge.
    /// One step, so that no event can fall between the two.
    pub(crate) fn wait_for(
        &mut self,
        key: IoKey,
        direction: Direction,
        waker: &Waker,
        task: Option<TaskId>,
    ) {
        let Some(state) = self.state_mut(key) else {
            return;
        };
        let (flag, waiter) = match direction {
            Direction::Read => (&mut state.readable, &mut state.reader),
            Direction::Write => (&mut state.writable, &mut state.writer),
        };
        *flag = false;
        match waiter {
            Some(w) if w.waker.will_wake(waker) => {}
            _ => {
                *waiter = Some(Waiter {
                    waker: waker.clone(),
                    task,
                })
            }
        }
    }

    /// Stores a waker for a source that is not ready yet, without touching the flag.
    pub(crate) fn set_waiter(
        &mut self,
        key: IoKey,
        direction: Direction,
        waker: &Waker,
        task: Option<TaskId>,
    ) {
        if let Some(state) = self.state_mut(key) {
            let waiter = match direction {
                Direction::Read => &mut state.reader,
                Direction::Write => &mut state.writer,
            };
            *waiter = Some(Waiter {
                waker: waker.clone(),
                task,
            });
        }
    }

    /// Blocks in `mio::Poll::poll` for at most `timeout` (`None`: no limit), then
    /// records readiness and collects the tasks to wake.
    pub(crate) fn wait(&mut self, timeout: Option<Duration>) -> io::Result<Wakeup> {
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                return Ok(Wakeup {
                    ready: Vec::new(),
                    remote_wake: false,
                });
            }
            Err(e) => return Err(e),
        }
        let mut wakeup = Wakeup {
            ready: Vec::new(),
            remote_wake: false,
        };
        for event in self.events.iter() {
            if event.token() == REMOTE_WAKE_TOKEN {
                wakeup.remote_wake = true;
                continue;
            }
            let key = IoKey::from_token(event.token());
            let Some(slot) = self.slots.get_mut(key.index as usize) else {
                continue;
            };
            // An event for a socket that was dropped (and maybe replaced) meanwhile.
            if slot.generation != key.generation {
                continue;
            }
            let Some(state) = slot.state.as_mut() else {
                continue;
            };
            // Closed and errored count as ready: the next read returns 0 or the error,
            // which is exactly what the waiting task needs to see.
            let readable = event.is_readable() || event.is_read_closed() || event.is_error();
            let writable = event.is_writable() || event.is_write_closed() || event.is_error();
            let mut waiters = Vec::new();
            if readable {
                state.readable = true;
                waiters.extend(state.reader.take());
            }
            if writable {
                state.writable = true;
                waiters.extend(state.writer.take());
            }
            wakeup.ready.push(Ready {
                token: key.number(),
                readable,
                writable,
                waiters,
            });
        }
        Ok(wakeup)
    }

    /// Registered sources.
    pub(crate) fn source_count(&self) -> usize {
        self.live
    }

    /// Tasks waiting on some source.
    pub(crate) fn waiter_count(&self) -> usize {
        self.slots
            .iter()
            .filter_map(|s| s.state.as_ref())
            .map(|s| s.reader.is_some() as usize + s.writer.is_some() as usize)
            .sum()
    }

    /// (token, what, reading task, writing task) for every source: the `--step` view.
    pub(crate) fn registrations(
        &self,
    ) -> Vec<(usize, &'static str, Option<TaskId>, Option<TaskId>)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let state = s.state.as_ref()?;
                Some((
                    i,
                    state.what,
                    state.reader.as_ref().and_then(|w| w.task),
                    state.writer.as_ref().and_then(|w| w.task),
                ))
            })
            .collect()
    }

    /// Takes every stored waker out (the runtime is shutting down).
    pub(crate) fn take_all_waiters(&mut self) -> Vec<Waiter> {
        let mut all = Vec::new();
        for state in self.slots.iter_mut().filter_map(|s| s.state.as_mut()) {
            all.extend(state.reader.take());
            all.extend(state.writer.take());
        }
        all
    }
}

/// A registration held by a socket type: the key, and which runtime it belongs to (a
/// socket dropped on another runtime's thread must not touch that runtime's table).
#[derive(Debug)]
pub(crate) struct Registration {
    pub(crate) key: IoKey,
    pub(crate) runtime_id: u64,
}

impl Registration {
    /// Registers `source` with the current runtime's reactor.
    pub(crate) fn new(
        what: &'static str,
        source: &mut impl mio::event::Source,
        interest: Interest,
        assume_ready: bool,
    ) -> io::Result<Registration> {
        with_core(what, |core| {
            let key = core
                .reactor
                .borrow_mut()
                .register(source, what, interest, assume_ready)?;
            if core.tracer.enabled() {
                core.trace(Event::IoRegistered {
                    task: core.current_task.get(),
                    token: key.number(),
                    what,
                });
            }
            Ok(Registration {
                key,
                runtime_id: core.id,
            })
        })
    }

    /// Deregisters `source`; call from the socket's `Drop`.
    pub(crate) fn deregister(&self, source: &mut impl mio::event::Source) {
        let waiters = crate::runtime::try_with_core(|core| {
            if core.id != self.runtime_id {
                return Vec::new();
            }
            let waiters = core.reactor.borrow_mut().deregister(source, self.key);
            core.trace(Event::IoDeregistered {
                token: self.key.number(),
            });
            waiters
        })
        .unwrap_or_default();
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
        poll_io(self.key, cx, direction, op_name, op)
    }
}

/// Runs `op` (a non-blocking read, write, accept, ...) if the source is ready in
/// `direction`, the edge-triggered way:
///
/// - flag clear: no readiness since the last `WouldBlock`; store the waker and wait.
/// - flag set: try the operation. Success returns at once, and the flag stays set
///   (there may be more; rule 1). `WouldBlock` clears the flag and stores the waker in
///   one step (rule 2). `Interrupted` is simply tried again.
pub(crate) fn poll_io<R>(
    key: IoKey,
    cx: &mut Context<'_>,
    direction: Direction,
    op_name: &'static str,
    mut op: impl FnMut() -> io::Result<R>,
) -> Poll<io::Result<R>> {
    with_core(op_name, |core| {
        loop {
            let ready = core.reactor.borrow_mut().is_ready(key, direction);
            if !ready {
                core.reactor.borrow_mut().set_waiter(
                    key,
                    direction,
                    cx.waker(),
                    core.current_task.get(),
                );
                return Poll::Pending;
            }
            // The reactor is not borrowed while the syscall runs.
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    core.reactor.borrow_mut().wait_for(
                        key,
                        direction,
                        cx.waker(),
                        core.current_task.get(),
                    );
                    if core.tracer.enabled() {
                        core.trace(Event::IoWouldBlock {
                            task: core.current_task.get(),
                            token: key.number(),
                            op: op_name,
                        });
                    }
                    return Poll::Pending;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                result => return Poll::Ready(result),
            }
        }
    })
}
