//! The runtime's counters (chapter 8): what the loop did, in numbers.
//!
//! A trace shows each step; counters show the shape of a whole run at a glance: how
//! often each task was polled, how many polls found the task still waiting, how many
//! timers were armed, cancelled and fired, why the loop woke up, and how its time
//! split between parked (waiting for the world) and busy (running tasks). For the
//! post's scenario the split is the whole lesson: three seconds parked, a few
//! milliseconds busy.
//!
//! The counters are plain `Cell`s: only the loop thread touches them, so counting
//! costs an add, never a lock.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::task::TaskId;

/// One count that only the loop's thread touches: an add, never a lock. Each part
/// of the runtime keeps its own counters and fills them into a [`StatsReport`].
#[derive(Default)]
pub(crate) struct Counter(Cell<u64>);

impl Counter {
    #[inline]
    pub(crate) fn bump(&self) {
        self.add(1);
    }

    pub(crate) fn add(&self, n: u64) {
        self.0.set(self.0.get() + n);
    }

    #[inline]
    pub(crate) fn get(&self) -> u64 {
        self.0.get()
    }
}

/// A running total of time, like [`Counter`].
#[derive(Default)]
pub(crate) struct TimeCounter(Cell<Duration>);

impl TimeCounter {
    pub(crate) fn add(&self, d: Duration) {
        self.0.set(self.0.get() + d);
    }

    pub(crate) fn get(&self) -> Duration {
        self.0.get()
    }
}

/// A snapshot of the runtime's counters ([`Runtime::stats`](crate::Runtime::stats)).
///
/// Most counters are a plain add and are always kept. Four measurements cost more (two
/// clock reads and a map update per poll), so the loop takes them only while it traces
/// or records (`LOOPLAB_TRACE=1`, `--trace`, [`Builder::record`](crate::Builder::record)):
/// `later_polls_pending`, `busy`, `polls_per_task` and the slow-poll warning.
/// [`per_poll_measured`](StatsReport::per_poll_measured) says whether they were, so a
/// zero there is never mistaken for "no time spent".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatsReport {
    /// Tasks spawned (not counting `block_on`'s future).
    pub spawned: u64,
    /// Polls of any task, main included.
    pub polls: u64,
    /// Polls that were not a task's first and returned `Pending` again (only while
    /// tracing): the task was woken, did what it could, and waits once more. A wake
    /// that does not finish a task is normal (a timer fired, the task sent a request
    /// and now waits for the reply); a task with many of these is polled often for
    /// little work.
    pub later_polls_pending: u64,
    /// Tasks that ran to completion.
    pub completed: u64,
    /// Tasks that panicked.
    pub panicked: u64,
    /// Timers put in the wheel.
    pub timers_armed: u64,
    /// Timers removed before they fired.
    pub timers_cancelled: u64,
    /// Timers that fired.
    pub timers_fired: u64,
    /// Parks that ended because a deadline came (real time).
    pub unparks_deadline: u64,
    /// Parks that ended with I/O readiness.
    pub unparks_io: u64,
    /// Parks that ended with a wake from another thread.
    pub unparks_remote: u64,
    /// Times virtual time jumped to the next deadline.
    pub clock_jumps: u64,
    /// Turns of the loop, the last one included: the turn in which `block_on`'s future
    /// returns stops at step 2, and counts as a turn all the same.
    pub turns: u64,
    /// Wall time spent parked in the reactor.
    pub parked: Duration,
    /// Wall time spent polling tasks (only while tracing).
    pub busy: Duration,
    /// Polls per task (filled only while tracing), for the first 64 tasks polled.
    pub polls_per_task: BTreeMap<TaskId, u64>,
    /// Polls of the tasks past those 64, all together (only while tracing).
    pub polls_of_other_tasks: u64,
    /// Whether the per-poll measurements above were taken (the runtime was tracing or
    /// recording); when `false`, `busy` and `later_polls_pending` stay zero.
    pub per_poll_measured: bool,
}

impl fmt::Display for StatsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "runtime counters")?;
        writeln!(
            f,
            "  tasks       {} spawned, {} completed, {} panicked",
            self.spawned, self.completed, self.panicked
        )?;
        if self.per_poll_measured {
            writeln!(
                f,
                "  polls       {} in {} turns; {} later polls ended Pending again",
                self.polls, self.turns, self.later_polls_pending
            )?;
        } else {
            writeln!(
                f,
                "  polls       {} in {} turns (per-poll counts are taken only while tracing)",
                self.polls, self.turns
            )?;
        }
        if !self.polls_per_task.is_empty() {
            let per_task: Vec<String> = self
                .polls_per_task
                .iter()
                .map(|(task, n)| format!("{}: {n}", task))
                .collect();
            // Four to a line, so the counters fit an 80-column screen.
            for (i, chunk) in per_task.chunks(4).enumerate() {
                let label = if i == 0 { "per task" } else { "" };
                writeln!(f, "  {label:<11} {}", chunk.join(", "))?;
            }
            if self.polls_of_other_tasks > 0 {
                writeln!(
                    f,
                    "  {:<11} and {} polls of later tasks",
                    "", self.polls_of_other_tasks
                )?;
            }
        }
        writeln!(
            f,
            "  timers      {} armed, {} cancelled, {} fired",
            self.timers_armed, self.timers_cancelled, self.timers_fired
        )?;
        writeln!(
            f,
            "  wakeups     {} by deadline, {} by I/O, {} by another thread, {} clock jumps",
            self.unparks_deadline, self.unparks_io, self.unparks_remote, self.clock_jumps
        )?;
        if self.per_poll_measured {
            write!(
                f,
                "  wall time   {:.3}s parked, {:.3}s busy polling",
                self.parked.as_secs_f64(),
                self.busy.as_secs_f64()
            )
        } else {
            write!(
                f,
                "  wall time   {:.3}s parked (busy time is measured only while tracing)",
                self.parked.as_secs_f64()
            )
        }
    }
}
