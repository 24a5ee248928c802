//! The driver: what the loop parks in, the reactor and the timers together
//! (chapter 7, after the reactor).
//!
//! Step 4 of the loop has one entry point, [`Driver::park`], and it always says what
//! ended the park ([`UnparkReason`]):
//!
//! | the loop asked for | real time | virtual time |
//! |---|---|---|
//! | `Zero` (tasks are ready) | a *peek*: `epoll_wait` with a zero timeout, collecting I/O that is there already | the same |
//! | `Until(deadline)` | `epoll_wait` until the deadline: I/O, a wake from another thread, or the deadline | a peek; if nothing is there, the **clock jumps** to the deadline |
//! | `Forever` (no timer) | `epoll_wait` with no timeout | the same: nothing to jump to |
//!
//! A peek that finds nothing leaves no line in the trace; every real park does, with
//! its reason.
//!
//! **Why a jump is safe.** Under virtual time the loop moves the clock only when
//! nothing could happen before the next deadline. A reply on its way from one of the
//! runtime's sockets to another (written by one task, not yet readable by the other)
//! is the one thing that could. So under virtual time every look at the reactor is a
//! *settle* (`reactor/ledger.rs`): the runtime counts what its sockets owe each other
//! (bytes, ends of stream, handshakes, connections) and collects events until all of
//! it has landed; only an empty settle lets the clock jump. No wall-clock grace is
//! involved, so the trace does not depend on how busy the machine is. Sockets to the
//! outside world are the limit: the trace warns when the clock jumps while a task
//! waits on one.
//!
//! A real error from `epoll_wait` means the loop can no longer see its sockets: it
//! panics with the OS's reason, as tokio's driver does, rather than spin on a broken
//! reactor. An interrupted call (a signal arrived, EINTR) is not an error: the reactor
//! returns it as an empty wait, and the park says "nothing happened" if its deadline
//! has not come.

use std::rc::Rc;
use std::time::Duration;

use crate::reactor::{Reactor, Wakeup};
use crate::stats::{Counter, StatsReport, TimeCounter};
use crate::time::driver::TimeDriver;
use crate::trace::{Event, Tracer, UnparkReason};

use crate::executor::{ParkReport, ParkTimeout};

#[derive(Default)]
struct ParkCounters {
    unparks_deadline: Counter,
    unparks_io: Counter,
    unparks_remote: Counter,
    clock_jumps: Counter,
    parked: TimeCounter,
}

/// The reactor and the timer driver, behind the loop's one park.
pub(crate) struct Driver {
    time: TimeDriver,
    reactor: Reactor,
    tracer: Rc<Tracer>,
    counters: ParkCounters,
}

impl Driver {
    pub(crate) fn new(time: TimeDriver, reactor: Reactor, tracer: Rc<Tracer>) -> Driver {
        Driver {
            time,
            reactor,
            tracer,
            counters: ParkCounters::default(),
        }
    }

    /// The runtime's timers and clock.
    pub(crate) fn time(&self) -> &TimeDriver {
        &self.time
    }

    /// The runtime's reactor.
    pub(crate) fn reactor(&self) -> &Reactor {
        &self.reactor
    }

    /// Step 4: waits as `timeout` says, wakes the tasks whose sockets became ready, and
    /// says what ended the wait.
    pub(crate) fn park(&self, timeout: ParkTimeout) -> ParkReport {
        let deadline = match timeout {
            ParkTimeout::Zero => {
                let peeked = if self.time.is_virtual() {
                    self.settle()
                } else {
                    self.poll_reactor(Some(Duration::ZERO), Quiet::IfNothing)
                };
                let events = match peeked {
                    UnparkReason::Io(n) => n,
                    _ => 0,
                };
                return ParkReport::Peeked { events };
            }
            ParkTimeout::Until(deadline) => Some(deadline),
            ParkTimeout::Forever => None,
        };
        let until_deadline = deadline.map(|d| d.saturating_sub(self.time.now()));
        if self.tracer.enabled() {
            self.tracer.emit(Event::Park {
                timeout: until_deadline,
                timers: self.time.len(),
                sources: self.reactor.source_count(),
            });
        }
        let started = std::time::Instant::now();
        let clock_before = self.time.now();
        let ended_by = if self.time.is_virtual() {
            self.park_virtual(deadline)
        } else {
            self.park_real(until_deadline)
        };
        let waited = started.elapsed();
        self.counters.parked.add(waited);
        match ended_by {
            UnparkReason::ClockJump => ParkReport::Jumped {
                from: clock_before,
                to: self.time.now(),
            },
            UnparkReason::Io(events) if self.time.is_virtual() => ParkReport::Settled { events },
            ended_by => ParkReport::Waited { waited, ended_by },
        }
    }

    /// A real-time park: `epoll_wait` until I/O, another thread, or the deadline.
    fn park_real(&self, until_deadline: Option<Duration>) -> UnparkReason {
        // Quiet: when the wait comes back empty, the one line to print is "deadline
        // reached" (the timeout ran out), not "nothing happened".
        let reason = self.poll_reactor(until_deadline, Quiet::IfNothing);
        if reason != UnparkReason::Nothing {
            return reason;
        }
        // An empty wait ended by its timeout, or by a signal (EINTR) before it.
        let deadline_came = until_deadline.is_some_and(|_| {
            self.time
                .next_deadline()
                .is_none_or(|deadline| self.time.now() >= deadline)
        });
        let reason = if deadline_came {
            self.counters.unparks_deadline.bump();
            UnparkReason::Deadline
        } else {
            UnparkReason::Nothing
        };
        self.tracer.emit(Event::Unpark {
            reason: reason.clone(),
        });
        reason
    }

    /// A virtual-time park: the reactor settles (everything the runtime's own
    /// sockets owe each other lands first, `reactor/ledger.rs`), and if that brought
    /// nothing, nothing can happen before the deadline: the clock jumps there.
    fn park_virtual(&self, deadline: Option<Duration>) -> UnparkReason {
        let reason = self.settle();
        if reason != UnparkReason::Nothing {
            return reason;
        }
        match deadline {
            Some(deadline) => {
                let outside = self.reactor.outside_readers();
                if !outside.is_empty() {
                    self.tracer
                        .emit(Event::JumpPastOutsideSockets { tokens: outside });
                }
                self.time.jump_to(deadline);
                self.counters.clock_jumps.bump();
                self.tracer.emit(Event::Unpark {
                    reason: UnparkReason::ClockJump,
                });
                UnparkReason::ClockJump
            }
            // No timer to jump to: only I/O from outside or another thread can move
            // things on.
            None => self.poll_reactor(None, Quiet::Never),
        }
    }

    /// Virtual time's look at the reactor: settled first, then reported in token
    /// order. An empty result prints nothing (what follows it matters).
    fn settle(&self) -> UnparkReason {
        let wakeup = match self.reactor.settle() {
            Ok(wakeup) => wakeup,
            Err(e) => reactor_failed(e),
        };
        if wakeup.settle_gave_up {
            self.tracer.emit(Event::SettleGaveUp);
        }
        self.report_and_wake(wakeup, Quiet::IfNothing)
    }

    /// One `epoll_wait` of at most `timeout`; wakes the tasks it reports and says what
    /// it found (`Nothing` if nothing).
    fn poll_reactor(&self, timeout: Option<Duration>, quiet: Quiet) -> UnparkReason {
        let wakeup = match self.reactor.wait(timeout) {
            Ok(wakeup) => wakeup,
            Err(e) => reactor_failed(e),
        };
        self.report_and_wake(wakeup, quiet)
    }

    /// Traces what a wait brought and wakes the tasks it names.
    fn report_and_wake(&self, wakeup: Wakeup, quiet: Quiet) -> UnparkReason {
        let reason = if !wakeup.ready.is_empty() {
            self.counters.unparks_io.bump();
            UnparkReason::Io(wakeup.ready.len())
        } else if wakeup.remote_wake {
            self.counters.unparks_remote.bump();
            UnparkReason::RemoteWake
        } else {
            UnparkReason::Nothing
        };
        if !(quiet == Quiet::IfNothing && reason == UnparkReason::Nothing) {
            self.tracer.emit(Event::Unpark {
                reason: reason.clone(),
            });
        }
        // The reactor is released before waking anyone: a wake never runs a task, but
        // keeping borrows short keeps the rule simple.
        for ready in wakeup.ready {
            if self.tracer.enabled() {
                self.tracer.emit(Event::IoReady {
                    token: ready.token,
                    readable: ready.readable,
                    writable: ready.writable,
                    woke: ready.waiters.iter().filter_map(|w| w.task).collect(),
                });
            }
            for waiter in ready.waiters {
                waiter.waker.wake();
            }
        }
        reason
    }

    /// Fills in the park counters.
    pub(crate) fn report_into(&self, report: &mut StatsReport) {
        let c = &self.counters;
        report.unparks_deadline = c.unparks_deadline.get();
        report.unparks_io = c.unparks_io.get();
        report.unparks_remote = c.unparks_remote.get();
        report.clock_jumps = c.clock_jumps.get();
        report.parked = c.parked.get();
        self.time.report_into(report);
    }
}

/// A real error from `epoll_wait`: the loop cannot see its sockets any more.
fn reactor_failed(e: std::io::Error) -> ! {
    panic!(
        "looplab's reactor failed: epoll_wait returned an error ({e}). The loop cannot \
         see its sockets any more, so it stops here."
    )
}

/// Whether an empty `epoll_wait` prints an "unpark: nothing happened" line.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quiet {
    /// A peek or a settle: its "nothing" is followed by the line that matters.
    IfNothing,
    Never,
}
