//! The park: step 4 of the loop, where it waits for the world (chapter 7, after the
//! reactor).
//!
//! Step 4 has one entry point, [`Parker::park`], and it always says what ended the
//! park ([`UnparkReason`]):
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
//! **Why the jump is correct.** The loop parks only when no task is ready. Under
//! virtual time every socket is simulated (`sim_net/`): a write lands in its peer's
//! buffer and wakes the reader's task within the writer's poll, so no byte, end of
//! stream or connection is ever on its way anywhere the loop cannot see. One thread,
//! no kernel in between, wakes in program order: when no task is ready, nothing can
//! happen before the next deadline, and the clock may go straight there. The only
//! things outside the simulation are wakes from other threads and OS sources such as
//! signals; the peek collects those that have come. It is exact by construction, with
//! no wall-clock grace, so the trace is the same on every run however busy the
//! machine is.
//!
//! A real error from `epoll_wait` means the loop can no longer see its sockets: it
//! panics with the OS's reason, as tokio's driver does, rather than spin on a broken
//! reactor. An interrupted call (a signal arrived, EINTR) is not an error: the reactor
//! returns it as an empty wait, and the park says "nothing happened" if its deadline
//! has not come.

use std::rc::Rc;
use std::time::Duration;

use crate::executor::{ParkReport, ParkTimeout};
use crate::reactor::{Reactor, Wakeup};
use crate::sim_net::SimNet;
use crate::stats::{Counter, StatsReport, TimeCounter};
use crate::time::clock::Clock;
use crate::time::timers::Timers;
use crate::trace::{Event, Tracer, UnparkReason};

#[derive(Default)]
struct ParkCounters {
    unparks_deadline: Counter,
    unparks_io: Counter,
    unparks_remote: Counter,
    clock_jumps: Counter,
    parked: TimeCounter,
}

/// What the loop parks in: the reactor, the timers and their clock, and under
/// virtual time the simulated network.
pub(crate) struct Parker {
    clock: Rc<Clock>,
    timers: Timers,
    reactor: Reactor,
    /// `Some` exactly when the clock is virtual.
    sim_net: Option<SimNet>,
    tracer: Rc<Tracer>,
    counters: ParkCounters,
}

impl Parker {
    pub(crate) fn new(clock: Rc<Clock>, reactor: Reactor, tracer: Rc<Tracer>) -> Parker {
        let sim_net = clock.is_virtual().then(|| SimNet::new(tracer.clone()));
        Parker {
            timers: Timers::new(clock.clone(), tracer.clone()),
            clock,
            reactor,
            sim_net,
            tracer,
            counters: ParkCounters::default(),
        }
    }

    /// The runtime's timers and clock.
    pub(crate) fn timers(&self) -> &Timers {
        &self.timers
    }

    /// The runtime's reactor.
    pub(crate) fn reactor(&self) -> &Reactor {
        &self.reactor
    }

    /// The simulated network, under virtual time.
    pub(crate) fn sim_net(&self) -> Option<&SimNet> {
        self.sim_net.as_ref()
    }

    /// Sockets and other sources: the reactor's and the simulated network's.
    pub(crate) fn source_count(&self) -> usize {
        let simulated = self.sim_net.as_ref().map_or(0, |net| {
            net.reclaim_released();
            net.len()
        });
        self.reactor.source_count() + simulated
    }

    /// Step 4: waits as `timeout` says, wakes the tasks whose sockets became ready, and
    /// says what ended the wait.
    pub(crate) fn park(&self, timeout: ParkTimeout) -> ParkReport {
        let deadline = match timeout {
            ParkTimeout::Zero => {
                let events = match self.poll_reactor(Some(Duration::ZERO)) {
                    UnparkReason::Io(n) => n,
                    _ => 0,
                };
                return ParkReport::Peeked { events };
            }
            ParkTimeout::Until(deadline) => Some(deadline),
            ParkTimeout::Forever => None,
        };
        if let Some(net) = &self.sim_net {
            // Sockets dropped away from the loop close now: their peers' wakes count.
            net.reclaim_released();
        }
        let until_deadline = deadline.map(|d| d.saturating_sub(self.clock.now()));
        if self.tracer.enabled() {
            self.tracer.emit(Event::Park {
                timeout: until_deadline,
                timers: self.timers.len(),
                sources: self.source_count(),
            });
        }
        let started = std::time::Instant::now();
        let clock_before = self.clock.now();
        let ended_by = match (self.clock.is_virtual(), deadline) {
            (true, Some(deadline)) => self.peek_or_jump(deadline),
            _ => self.wait(until_deadline),
        };
        let waited = started.elapsed();
        self.counters.parked.add(waited);
        match ended_by {
            UnparkReason::ClockJump => ParkReport::Jumped {
                from: clock_before,
                to: self.clock.now(),
            },
            ended_by => ParkReport::Waited { waited, ended_by },
        }
    }

    /// A park that waits: `epoll_wait` until I/O, another thread, or the deadline (a
    /// virtual-time park without a deadline waits here too: only the world outside can
    /// move it on).
    fn wait(&self, until_deadline: Option<Duration>) -> UnparkReason {
        let reason = self.poll_reactor(until_deadline);
        if reason != UnparkReason::Nothing {
            return reason;
        }
        // An empty wait ended by its timeout, or by a signal (EINTR) before it.
        let deadline_came = until_deadline.is_some_and(|_| {
            self.timers
                .next_deadline()
                .is_none_or(|deadline| self.clock.now() >= deadline)
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

    /// Virtual time with a deadline: no task is ready, so nothing can happen before
    /// the deadline but what the world outside has sent already (a wake from another
    /// thread, a signal). A peek collects that; if there is none, the clock jumps.
    fn peek_or_jump(&self, deadline: Duration) -> UnparkReason {
        let reason = self.poll_reactor(Some(Duration::ZERO));
        if reason != UnparkReason::Nothing {
            return reason;
        }
        self.clock.advance_to(deadline);
        self.counters.clock_jumps.bump();
        self.tracer.emit(Event::Unpark {
            reason: UnparkReason::ClockJump,
        });
        UnparkReason::ClockJump
    }

    /// One `epoll_wait` of at most `timeout`; wakes the tasks it reports and says what
    /// it found (`Nothing` if nothing).
    fn poll_reactor(&self, timeout: Option<Duration>) -> UnparkReason {
        let wakeup = match self.reactor.wait(timeout) {
            Ok(wakeup) => wakeup,
            Err(e) => reactor_failed(e),
        };
        self.report_and_wake(wakeup)
    }

    /// Traces what a wait brought and wakes the tasks it names. An empty wait prints
    /// nothing here: what follows it is the line that matters (a peek goes on, a
    /// wait says "deadline reached", a jump says so).
    fn report_and_wake(&self, wakeup: Wakeup) -> UnparkReason {
        let reason = if !wakeup.ready.is_empty() {
            self.counters.unparks_io.bump();
            UnparkReason::Io(wakeup.ready.len())
        } else if wakeup.remote_wake {
            self.counters.unparks_remote.bump();
            UnparkReason::RemoteWake
        } else {
            UnparkReason::Nothing
        };
        if reason != UnparkReason::Nothing {
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
        // Dropped here, with the reactor released: a waker may be a task's last
        // reference, and the task's sockets deregister themselves when it goes.
        drop(wakeup.leftover_waiters);
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
        self.timers.report_into(report);
    }
}

/// A real error from `epoll_wait`: the loop cannot see its sockets any more.
fn reactor_failed(e: std::io::Error) -> ! {
    panic!(
        "looplab's reactor failed: epoll_wait returned an error ({e}). The loop cannot \
         see its sockets any more, so it stops here."
    )
}
