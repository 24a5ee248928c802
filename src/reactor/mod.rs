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
//! - per direction (read, write): a **readiness flag**, a **tick** that counts the
//!   readiness events, and the wakers of the tasks waiting in that direction. Usually
//!   one task, but not always: several tasks may `accept` on one shared listener, and
//!   each must be woken, not only the last to arrive.
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
//! The event could also land *between* the `WouldBlock` and the storing of the waker:
//! the operation saw "no data", the event then set the flag, and clearing the flag
//! now would throw that event away. In this loop the reactor only runs between polls
//! (step 4), so it cannot happen through `poll_io` today; but the reactor does not
//! lean on that. Like tokio's `ScheduledIo`, it counts events in a **tick**: an
//! operation notes the tick before it runs, and its `WouldBlock` clears the flag only
//! if the tick has not moved. If it has, the `WouldBlock` is out of date and the
//! operation is simply tried again. (The unit tests at the bottom provoke exactly
//! this race.)
//!
//! asyncio's equivalent is its `selectors` module plus `add_reader`/`add_writer`;
//! tokio's is `tokio::runtime::io::Driver` with its `ScheduledIo` per source.

use std::cell::RefCell;
use std::io;
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::Duration;

use mio::{Events, Interest, Token};

use crate::executor::IoView;
use crate::task::TaskId;

pub(crate) mod registration;

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

/// A token is one `usize`: the slot index in its low half, the generation in its
/// high half (32 bits each on a 64-bit target, 16 on a 32-bit one).
const HALF: u32 = usize::BITS / 2;

/// The largest index or generation a half holds. A slot index stays below it, so no
/// token is ever `REMOTE_WAKE_TOKEN` (both halves full); a generation wraps at it.
const HALF_MAX: u32 = u32::MAX >> (u32::BITS - HALF);

/// A registered source: which slot, and which generation of that slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct IoKey {
    index: u32,
    generation: u32,
}

impl IoKey {
    fn token(self) -> Token {
        Token(((self.generation as usize) << HALF) | self.index as usize)
    }

    fn from_token(token: Token) -> IoKey {
        IoKey {
            index: (token.0 & HALF_MAX as usize) as u32,
            generation: (token.0 >> HALF) as u32,
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

/// What the reactor knows about one direction (read or write) of a socket.
#[derive(Default)]
struct Half {
    /// Set by every readiness event, cleared only by a `WouldBlock` (rule 2 above).
    ready: bool,
    /// Counts the readiness events. An operation notes it before it runs; its
    /// `WouldBlock` may clear `ready` only if no event came meanwhile (the race in the
    /// module docs).
    tick: u64,
    /// An event said this direction is closed (the peer's end of stream, a reset):
    /// that is reported once and stays true, so a short read never clears `ready`
    /// after it. Only a `WouldBlock` can.
    closed: bool,
    /// The tasks waiting for the next event in this direction. A list, not one slot:
    /// tasks sharing a listener all wait in `accept`, and each must be woken. A waiter whose
    /// operation was cancelled (a timeout) stays until the next event wakes it once,
    /// which is harmless; a task waiting again keeps its one entry (`will_wake`).
    waiters: Vec<Waiter>,
}

impl Half {
    fn add_waiter(&mut self, waker: &Waker, task: Option<TaskId>) {
        if !self.waiters.iter().any(|w| w.waker.will_wake(waker)) {
            self.waiters.push(Waiter {
                waker: waker.clone(),
                task,
            });
        }
    }
}

/// What the reactor knows about one registered socket.
struct SourceState {
    what: &'static str,
    read: Half,
    write: Half,
}

impl SourceState {
    /// Records a readiness event in the directions it names and takes out the tasks
    /// waiting in them.
    fn mark_ready(&mut self, readable: bool, writable: bool) -> Vec<Waiter> {
        let mut waiters = Vec::new();
        for (seen, half) in [(readable, &mut self.read), (writable, &mut self.write)] {
            if seen {
                half.ready = true;
                half.tick = half.tick.wrapping_add(1);
                waiters.append(&mut half.waiters);
            }
        }
        waiters
    }

    fn half(&mut self, direction: Direction) -> &mut Half {
        match direction {
            Direction::Read => &mut self.read,
            Direction::Write => &mut self.write,
        }
    }
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
    /// Wakers left behind by sockets dropped out of the reactor's reach (of operations
    /// cancelled earlier): nothing to wake, only to drop once the reactor is no longer
    /// borrowed (see `reclaim_released`).
    pub(crate) leftover_waiters: Vec<Waiter>,
}

/// The reactor's state behind its `RefCell`: mio's `Poll` plus the table of
/// registered sources.
struct ReactorState {
    poll: mio::Poll,
    events: Events,
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
    /// Keys of sockets dropped where this reactor could not be reached: outside its
    /// runtime's `block_on` (a socket returned from `block_on` and dropped later), in
    /// another runtime, or on another thread. Their slots are freed at the next
    /// `wait`. (The kernel side needs nothing: closing the socket removes it from
    /// epoll.)
    released: Arc<Mutex<Vec<IoKey>>>,
}

impl ReactorState {
    fn new() -> io::Result<(ReactorState, Arc<mio::Waker>)> {
        let poll = mio::Poll::new()?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), REMOTE_WAKE_TOKEN)?);
        Ok((
            ReactorState {
                poll,
                events: Events::with_capacity(EVENTS_PER_POLL),
                slots: Vec::new(),
                free: Vec::new(),
                live: 0,
                released: Arc::default(),
            },
            waker,
        ))
    }

    /// Registers a socket. `assume_ready` starts the flags set, so the first
    /// operation is simply tried (right for an accepted or connected socket; a
    /// `WouldBlock` corrects it); a socket still connecting starts not ready.
    fn register(
        &mut self,
        source: &mut impl mio::event::Source,
        what: &'static str,
        interest: Interest,
        assume_ready: bool,
    ) -> io::Result<IoKey> {
        let index = match self.free.pop() {
            Some(index) => index,
            None if self.slots.len() >= HALF_MAX as usize => {
                return Err(io::Error::other(format!(
                    "the reactor holds {} sources already, as many as its tokens can name",
                    self.slots.len()
                )));
            }
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
        // A direction the source was not registered for is never ready.
        let half = |wanted: bool| Half {
            ready: assume_ready && wanted,
            ..Half::default()
        };
        slot.state = Some(SourceState {
            what,
            read: half(interest.is_readable()),
            write: half(interest.is_writable()),
        });
        self.live += 1;
        Ok(key)
    }

    /// Removes a socket. Returns the tasks that were waiting on it, so the caller can
    /// wake them (they will find their socket gone rather than wait forever).
    fn deregister(&mut self, source: &mut impl mio::event::Source, key: IoKey) -> Vec<Waiter> {
        let slot = match self.slots.get_mut(key.index as usize) {
            Some(slot) if slot.generation == key.generation => slot,
            // Already deregistered: a stale key changes nothing.
            _ => return Vec::new(),
        };
        if slot.state.is_none() {
            return Vec::new();
        }
        // Closing the socket would remove it from epoll anyway; deregistering first
        // keeps the reactor's table and the kernel's in step.
        let _ = self.poll.registry().deregister(source);
        self.free_slot(key)
    }

    /// Empties `key`'s slot for the next socket and returns the tasks that waited on it.
    fn free_slot(&mut self, key: IoKey) -> Vec<Waiter> {
        let slot = &mut self.slots[key.index as usize];
        let Some(state) = slot.state.take() else {
            return Vec::new();
        };
        // The next socket in this slot gets a new generation: stale tokens stay stale.
        slot.generation = if slot.generation == HALF_MAX {
            0
        } else {
            slot.generation + 1
        };
        self.free.push(key.index);
        self.live -= 1;
        state
            .read
            .waiters
            .into_iter()
            .chain(state.write.waiters)
            .collect()
    }

    /// Frees the slots of sockets dropped away from this reactor (see `released`) and
    /// returns their leftover waiters (of operations cancelled earlier). The caller
    /// drops those after releasing the reactor: dropping a waker may drop a task, and
    /// with it sockets that deregister themselves here.
    fn reclaim_released(&mut self) -> Vec<Waiter> {
        let released = std::mem::take(&mut *self.released.lock().unwrap());
        let mut orphans = Vec::new();
        for key in released {
            if self.slots.get(key.index as usize).map(|s| s.generation) == Some(key.generation) {
                orphans.extend(self.free_slot(key));
            }
        }
        orphans
    }

    fn state_mut(&mut self, key: IoKey) -> Option<&mut SourceState> {
        let slot = self.slots.get_mut(key.index as usize)?;
        if slot.generation != key.generation {
            return None;
        }
        slot.state.as_mut()
    }

    /// Whether the last thing known about this direction is "ready", and if so the
    /// tick to hand back to [`wait_for`](Self::wait_for) if the operation would block.
    /// `None`: not ready, wait. A stale key reads as ready, so the operation runs and
    /// reports the real error.
    fn readiness(&mut self, key: IoKey, direction: Direction) -> Option<u64> {
        match self.state_mut(key) {
            Some(state) => {
                let half = state.half(direction);
                half.ready.then_some(half.tick)
            }
            None => Some(0),
        }
    }

    /// Records a `WouldBlock` of an operation that started at `tick` (from
    /// [`readiness`](Self::readiness)): not ready any more, and `waker` waits for the
    /// next edge. One step, so that no event can fall between the two.
    ///
    /// Returns `false` if an event arrived since `tick`: the `WouldBlock` is out of
    /// date, the flag stays set, no waker is stored, and the caller must try the
    /// operation again. (Clearing the flag here would lose that event for good: the
    /// edge has been reported already and will not come again.)
    fn wait_for(
        &mut self,
        key: IoKey,
        direction: Direction,
        tick: u64,
        waker: &Waker,
        task: Option<TaskId>,
    ) -> bool {
        let Some(state) = self.state_mut(key) else {
            return true;
        };
        let half = state.half(direction);
        if half.tick != tick {
            return false;
        }
        half.ready = false;
        half.add_waiter(waker, task);
        true
    }

    /// A read that returned less than it asked for emptied the socket: clear the flag
    /// (if no event came meanwhile), so the next read waits for an edge instead of
    /// asking the kernel for a `WouldBlock` first.
    fn drained(&mut self, key: IoKey, direction: Direction, tick: u64) {
        if let Some(state) = self.state_mut(key) {
            let half = state.half(direction);
            if half.tick == tick && !half.closed {
                half.ready = false;
            }
        }
    }

    /// Stores a waker for a source that is not ready yet, without touching the flag.
    fn set_waiter(
        &mut self,
        key: IoKey,
        direction: Direction,
        waker: &Waker,
        task: Option<TaskId>,
    ) {
        if let Some(state) = self.state_mut(key) {
            state.half(direction).add_waiter(waker, task);
        }
    }

    /// Blocks in `mio::Poll::poll` for at most `timeout` (`None`: no limit), then
    /// records readiness and collects the tasks to wake.
    fn wait(&mut self, timeout: Option<Duration>) -> io::Result<Wakeup> {
        let mut wakeup = Wakeup {
            ready: Vec::new(),
            remote_wake: false,
            leftover_waiters: Vec::new(),
        };
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(wakeup),
            Err(e) => return Err(e),
        }
        // Before the events: a reclaimed slot has a new generation, so an event for
        // the dropped socket is ignored below.
        wakeup.leftover_waiters = self.reclaim_released();
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
            let waiters = state.mark_ready(readable, writable);
            if event.is_read_closed() || event.is_error() {
                state.read.closed = true;
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

    /// Registered sources (not counting those dropped already and waiting to be
    /// reclaimed). Every key in `released` names a live slot: a socket leaves its key
    /// there only when it could not deregister itself, and only once.
    fn source_count(&self) -> usize {
        self.live - self.released.lock().unwrap().len()
    }

    /// Tasks waiting on some source.
    #[cfg(test)]
    fn waiter_count(&self) -> usize {
        self.slots
            .iter()
            .filter_map(|s| s.state.as_ref())
            .map(|s| s.read.waiters.len() + s.write.waiters.len())
            .sum()
    }

    /// Every source with its flags and first waiter in each direction.
    fn registrations(&self) -> Vec<IoView> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let state = s.state.as_ref()?;
                Some(IoView {
                    token: i,
                    what: state.what,
                    readable: state.read.ready,
                    writable: state.write.ready,
                    reader: state.read.waiters.first().and_then(|w| w.task),
                    writer: state.write.waiters.first().and_then(|w| w.task),
                    simulated: false,
                })
            })
            .collect()
    }

    /// Takes every stored waker out (the runtime is shutting down).
    fn take_all_waiters(&mut self) -> Vec<Waiter> {
        let mut all = Vec::new();
        for state in self.slots.iter_mut().filter_map(|s| s.state.as_mut()) {
            all.append(&mut state.read.waiters);
            all.append(&mut state.write.waiters);
        }
        all
    }
}

/// The reactor: one `mio::Poll` and the table of registered sources. Its methods
/// take `&self`: the state sits in a `RefCell`, borrowed only inside each call, so no
/// caller ever holds the reactor while a task runs.
pub(crate) struct Reactor {
    state: RefCell<ReactorState>,
    /// The same list as `ReactorState::released`, handed to each `Registration`.
    released: Arc<Mutex<Vec<IoKey>>>,
}

impl Reactor {
    /// A reactor, and the waker other threads use to interrupt its `wait`.
    pub(crate) fn new() -> io::Result<(Reactor, Arc<mio::Waker>)> {
        let (state, waker) = ReactorState::new()?;
        let released = state.released.clone();
        let reactor = Reactor {
            state: RefCell::new(state),
            released,
        };
        Ok((reactor, waker))
    }

    /// Registers a socket. `assume_ready` starts the flags set, so the first
    /// operation is simply tried (right for an accepted or connected socket; a
    /// `WouldBlock` corrects it); a socket still connecting starts not ready.
    pub(crate) fn register(
        &self,
        source: &mut impl mio::event::Source,
        what: &'static str,
        interest: Interest,
        assume_ready: bool,
    ) -> io::Result<IoKey> {
        self.state
            .borrow_mut()
            .register(source, what, interest, assume_ready)
    }

    /// Removes a socket. Returns the tasks that were waiting on it, so the caller can
    /// wake them (they will find their socket gone rather than wait forever).
    pub(crate) fn deregister(
        &self,
        source: &mut impl mio::event::Source,
        key: IoKey,
    ) -> Vec<Waiter> {
        self.state.borrow_mut().deregister(source, key)
    }

    /// The list where sockets dropped out of this reactor's reach leave their keys.
    pub(crate) fn released_list(&self) -> Arc<Mutex<Vec<IoKey>>> {
        self.released.clone()
    }

    /// Whether the last thing known about this direction is "ready", and if so the
    /// tick to hand back to [`wait_for`](Self::wait_for) if the operation would block.
    /// `None`: not ready, wait. A stale key reads as ready, so the operation runs and
    /// reports the real error.
    pub(crate) fn readiness(&self, key: IoKey, direction: Direction) -> Option<u64> {
        self.state.borrow_mut().readiness(key, direction)
    }

    /// Records a `WouldBlock` of an operation that started at `tick` (from
    /// [`readiness`](Self::readiness)): not ready any more, and `waker` waits for the
    /// next edge. One step, so that no event can fall between the two.
    ///
    /// Returns `false` if an event arrived since `tick`: the `WouldBlock` is out of
    /// date, the flag stays set, no waker is stored, and the caller must try the
    /// operation again. (Clearing the flag here would lose that event for good: the
    /// edge has been reported already and will not come again.)
    pub(crate) fn wait_for(
        &self,
        key: IoKey,
        direction: Direction,
        tick: u64,
        waker: &Waker,
        task: Option<TaskId>,
    ) -> bool {
        self.state
            .borrow_mut()
            .wait_for(key, direction, tick, waker, task)
    }

    /// A short read emptied the socket: the next read waits for an edge (see
    /// `ReactorState::drained`).
    pub(crate) fn drained(&self, key: IoKey, direction: Direction, tick: u64) {
        self.state.borrow_mut().drained(key, direction, tick);
    }

    /// Stores a waker for a source that is not ready yet, without touching the flag.
    pub(crate) fn set_waiter(
        &self,
        key: IoKey,
        direction: Direction,
        waker: &Waker,
        task: Option<TaskId>,
    ) {
        self.state
            .borrow_mut()
            .set_waiter(key, direction, waker, task)
    }

    /// Blocks in `mio::Poll::poll` for at most `timeout` (`None`: no limit, `ZERO`: do
    /// not block at all), then records readiness and collects the tasks to wake. An
    /// interrupted wait (EINTR) is an empty wakeup; any other error is the OS's.
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> io::Result<Wakeup> {
        self.state.borrow_mut().wait(timeout)
    }

    /// Registered sources (not counting those dropped already and waiting to be
    /// reclaimed).
    pub(crate) fn source_count(&self) -> usize {
        self.state.borrow().source_count()
    }

    /// Tasks waiting on some source.
    #[cfg(test)]
    pub(crate) fn waiter_count(&self) -> usize {
        self.state.borrow().waiter_count()
    }

    /// Every source with its readiness flags and the tasks waiting on it: the `--step`
    /// view. Where several tasks wait in one direction, the first to arrive is shown.
    pub(crate) fn registrations(&self) -> Vec<IoView> {
        self.state.borrow().registrations()
    }

    /// Takes every stored waker out (the runtime is shutting down).
    pub(crate) fn take_all_waiters(&self) -> Vec<Waiter> {
        self.state.borrow_mut().take_all_waiters()
    }
}

/// The reactor driven by hand, without the loop: each test sets up the exact order of
/// events that the loop would only produce by chance.
#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_task::ArcWake;
    use mio::net::UnixStream;

    use super::*;

    /// A waker that counts its wakes.
    struct CountingWaker(AtomicUsize);

    impl ArcWake for CountingWaker {
        fn wake_by_ref(arc_self: &Arc<Self>) {
            arc_self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting_waker() -> (Waker, Arc<CountingWaker>) {
        let count = Arc::new(CountingWaker(AtomicUsize::new(0)));
        (futures_task::waker(count.clone()), count)
    }

    fn wakes(count: &CountingWaker) -> usize {
        count.0.load(Ordering::SeqCst)
    }

    const LONG_ENOUGH: Option<Duration> = Some(Duration::from_secs(2));

    #[test]
    fn a_token_holds_index_and_generation_in_its_halves_and_is_never_the_remote_wake() {
        for (index, generation) in [(0, 0), (3, 7), (HALF_MAX - 1, HALF_MAX), (1, HALF_MAX)] {
            let key = IoKey { index, generation };
            assert_eq!(IoKey::from_token(key.token()), key);
            assert_ne!(key.token(), REMOTE_WAKE_TOKEN);
        }
        // Half a usize each, whatever the target's width.
        assert_eq!(HALF_MAX as u64, (1u64 << (usize::BITS / 2)) - 1);
    }

    #[test]
    fn readiness_between_a_would_block_and_the_storing_of_the_waker_is_not_lost() {
        let (reactor, _remote) = Reactor::new().unwrap();
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let key = reactor
            .register(&mut a, "a", Interest::READABLE, true)
            .unwrap();

        // A task's read: the flag says "try", the socket says "nothing yet".
        let tick = reactor
            .readiness(key, Direction::Read)
            .expect("starts ready");
        let mut buf = [0u8; 8];
        let err = a.read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);

        // Before the task stores its waker, data comes and the reactor reports it.
        // No waker is stored yet, so the event can only be remembered in the flag.
        b.write_all(b"x").unwrap();
        let wakeup = reactor.wait(LONG_ENOUGH).unwrap();
        assert_eq!(wakeup.ready.len(), 1);
        assert!(wakeup.ready[0].readable);
        assert!(wakeup.ready[0].waiters.is_empty());

        // Now the task records its WouldBlock. It is out of date: the reactor must say
        // "try again" and keep the flag, not clear it and park the task.
        let (waker, count) = counting_waker();
        let parked = reactor.wait_for(key, Direction::Read, tick, &waker, None);
        assert!(!parked, "a stale WouldBlock parked the task");
        assert!(reactor.readiness(key, Direction::Read).is_some());
        assert_eq!(reactor.waiter_count(), 0);
        assert_eq!(a.read(&mut buf).unwrap(), 1);

        // Why it matters: the edge has been reported and will not come again, so a
        // task parked on it would never be woken.
        let wakeup = reactor.wait(Some(Duration::from_millis(50))).unwrap();
        assert!(wakeup.ready.is_empty());
        assert_eq!(wakes(&count), 0);
    }

    #[test]
    fn an_event_for_a_dropped_sources_token_does_not_wake_the_slots_new_owner() {
        let (reactor, _remote) = Reactor::new().unwrap();
        let (mut old_socket, _old_peer) = UnixStream::pair().unwrap();
        let old = reactor
            .register(&mut old_socket, "old", Interest::READABLE, false)
            .unwrap();
        assert!(reactor.deregister(&mut old_socket, old).is_empty());

        // The freed slot goes to the next socket, under a new generation.
        let (mut new_socket, mut new_peer) = UnixStream::pair().unwrap();
        let new = reactor
            .register(&mut new_socket, "new", Interest::READABLE, false)
            .unwrap();
        assert_eq!(new.number(), old.number(), "the slot was reused");
        assert_ne!(new.token(), old.token());
        let (waker, count) = counting_waker();
        reactor.set_waiter(new, Direction::Read, &waker, None);

        // A late event under the old token (the kernel still reporting the old socket;
        // staged here by registering another socket under that token by hand).
        let (mut ghost, mut ghost_peer) = UnixStream::pair().unwrap();
        reactor
            .state
            .borrow()
            .poll
            .registry()
            .register(&mut ghost, old.token(), Interest::READABLE)
            .unwrap();
        ghost_peer.write_all(b"late").unwrap();
        let wakeup = reactor.wait(LONG_ENOUGH).unwrap();
        assert!(wakeup.ready.is_empty(), "the stale event was taken as news");
        assert_eq!(reactor.readiness(new, Direction::Read), None);

        // The old key changes nothing either: no second deregistration, no waiter.
        assert!(reactor.deregister(&mut old_socket, old).is_empty());
        let (other_waker, _) = counting_waker();
        reactor.set_waiter(old, Direction::Read, &other_waker, None);
        assert_eq!(reactor.source_count(), 1);
        assert_eq!(reactor.waiter_count(), 1);

        // The new socket's own event wakes its task, once.
        new_peer.write_all(b"x").unwrap();
        let wakeup = reactor.wait(LONG_ENOUGH).unwrap();
        assert_eq!(wakeup.ready.len(), 1);
        assert_eq!(wakeup.ready[0].token, new.number());
        for waiter in wakeup.ready.into_iter().flat_map(|r| r.waiters) {
            waiter.waker.wake();
        }
        assert_eq!(wakes(&count), 1);
    }

    #[test]
    fn one_event_wakes_every_task_waiting_in_that_direction_and_no_other() {
        let (reactor, _remote) = Reactor::new().unwrap();
        let (mut a, mut peer) = UnixStream::pair().unwrap();
        let key = reactor
            .register(&mut a, "a", Interest::READABLE, false)
            .unwrap();
        let (first, first_count) = counting_waker();
        let (second, second_count) = counting_waker();
        let (writer, writer_count) = counting_waker();
        reactor.set_waiter(key, Direction::Read, &first, None);
        reactor.set_waiter(key, Direction::Read, &second, None);
        // The same task waiting again keeps one entry, not two.
        reactor.set_waiter(key, Direction::Read, &first, None);
        reactor.set_waiter(key, Direction::Write, &writer, None);
        assert_eq!(reactor.waiter_count(), 3);

        peer.write_all(b"x").unwrap();
        let wakeup = reactor.wait(LONG_ENOUGH).unwrap();
        assert_eq!(wakeup.ready.len(), 1);
        assert!(wakeup.ready[0].readable && !wakeup.ready[0].writable);
        for waiter in wakeup.ready.into_iter().flat_map(|r| r.waiters) {
            waiter.waker.wake();
        }
        assert_eq!(wakes(&first_count), 1);
        assert_eq!(wakes(&second_count), 1);
        assert_eq!(wakes(&writer_count), 0, "a read event woke the writer");
        assert_eq!(reactor.waiter_count(), 1);
    }
}
