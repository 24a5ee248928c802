//! The runtime's in-memory records ([`trace::Record`](crate::trace::Record)) as
//! recording lines.
//!
//! Most events map one to one. Two are split, so that every wake in a recording is a
//! line of its own with who caused it: `TimersFired` becomes a `timer_fired` line per
//! timer, then a `wake` `by` `{"timer":N}` for the task that armed it; `IoReady`
//! becomes an `io_ready` line, then a `wake` `by` `{"io":token}` per task it woke.
//!
//! The per-turn state (`turn` lines' `state`) is not in the records: the executor
//! builds it for `--step` and hands it to a hook. [`from_records`] leaves it `null`;
//! a runtime that records its turns passes a [`TurnState`] per turn to
//! [`from_records_with_turns`].

use std::collections::HashMap;

use super::line::{
    By, Clock, FORMAT, Header, IoKeys, Kind, Line, Place, PollResult, Runnable, Source,
    TimerLayout, TurnState, UnparkReason, VERSION, Via,
};
use super::read::Recording;
use crate::trace::{Event, Record, TaskId, UnparkReason as TraceUnpark};

/// A looplab header: wheel timers, token keys.
pub fn looplab_header(clock: Clock, program: &str) -> Header {
    Header {
        format: FORMAT.to_string(),
        version: VERSION,
        source: Source::Looplab,
        clock,
        timers: TimerLayout::Wheel,
        io_keys: IoKeys::Token,
        program: program.to_string(),
    }
}

/// `records` as a recording, with no per-turn state.
pub fn from_records(records: &[Record], clock: Clock, program: &str) -> Recording {
    from_records_with_turns(records, clock, program, |_| None)
}

/// `records` as a recording; `state_of(turn)` gives the state the loop built at the
/// end of that turn (the `TurnView` the `--step` hook receives), or `None`.
pub fn from_records_with_turns(
    records: &[Record],
    clock: Clock,
    program: &str,
    mut state_of: impl FnMut(u64) -> Option<TurnState>,
) -> Recording {
    let mut seen = Seen::default();
    // Room for every line at once: grown by doubling, a vector of 600,000 lines would
    // be copied on the way and touch half as much memory again.
    let room = records.iter().map(|r| most_lines_of(&r.event)).sum();
    let mut lines = Vec::with_capacity(room);
    for record in records {
        let at_ns = nanos(record.at);
        lines_of(&record.event, &mut seen, &mut state_of, &mut |kind| {
            lines.push(Line { at_ns, kind })
        });
    }
    Recording {
        header: looplab_header(clock, program),
        lines,
    }
}

/// How many lines [`lines_of`] may make of `event`, at most.
fn most_lines_of(event: &Event) -> usize {
    match event {
        Event::Spawn { .. } => 2,
        // A `timer_fired` per timer, and a `wake` for each that a task armed.
        Event::TimersFired { timers, .. } => 2 * timers.len(),
        Event::IoReady { woke, .. } => 1 + woke.len(),
        _ => 1,
    }
}

/// What the conversion remembers from earlier records.
#[derive(Default)]
struct Seen {
    /// The task that armed each timer still in the wheel.
    armed_by: HashMap<u64, TaskId>,
    /// What each registered source watches.
    interest: HashMap<u64, String>,
}

/// The lines for one event, handed to `push` in order.
fn lines_of(
    event: &Event,
    seen: &mut Seen,
    state_of: &mut impl FnMut(u64) -> Option<TurnState>,
    push: &mut impl FnMut(Kind),
) {
    let who = |task: &Option<TaskId>| task.map(task_of);
    let kind = match event {
        Event::BlockOnStart => Kind::Start {
            task: 0,
            name: "main".to_string(),
        },
        Event::BlockOnReturn { elapsed } => Kind::Stop {
            elapsed_ns: nanos(*elapsed),
        },
        Event::Spawn { parent, task, name } => {
            push(Kind::Spawn {
                task: task.0,
                parent: who(parent),
                name: name.clone(),
            });
            // `spawn` puts the new task in the run queue: say so, as every other
            // entry into the queue is said.
            Kind::Wake {
                who: task_of(*task),
                by: parent.map_or(By::Outside, |p| By::Task(p.0)),
                via: Via::Spawn,
            }
        }
        Event::Poll { task } => Kind::Poll {
            who: task_of(*task),
        },
        Event::Pending { task } => poll_end(*task, PollResult::Pending, None),
        Event::Ready { task } => poll_end(*task, PollResult::Ready, None),
        Event::Panicked { task, message } => {
            poll_end(*task, PollResult::Panicked, Some(message.clone()))
        }
        Event::WokenByTask { task, by } => Kind::Wake {
            who: task_of(*task),
            by: By::Task(by.0),
            via: Via::Waker,
        },
        Event::WokenByThread { task } => Kind::Wake {
            who: task_of(*task),
            by: By::Thread,
            via: Via::Waker,
        },
        Event::Note { task, text } => Kind::Note {
            who: who(task),
            text: text.clone(),
        },
        Event::Park {
            timeout,
            timers,
            sources,
        } => Kind::Park {
            timeout_ns: timeout.map(nanos),
            timers: *timers as u64,
            sources: *sources as u64,
        },
        Event::Unpark { reason } => {
            let (reason, events) = unpark_reason(reason);
            Kind::Unpark { reason, events }
        }
        Event::TimerArmed {
            task,
            timer,
            deadline,
            level,
            slot,
        } => {
            if let Some(task) = task {
                seen.armed_by.insert(*timer, *task);
            }
            Kind::TimerArmed {
                timer: *timer,
                who: who(task),
                deadline_ns: nanos(*deadline),
                place: Place::Wheel {
                    level: *level as u64,
                    slot: *slot as u64,
                },
                callback: None,
            }
        }
        Event::TimerCascaded {
            timer,
            from_level,
            to_level,
            slot,
        } => Kind::TimerCascaded {
            timer: *timer,
            from_level: *from_level as u64,
            to_level: *to_level as u64,
            slot: *slot as u64,
        },
        Event::TimersFired { timers, .. } => {
            // The runtime's `woke` lists the arming task of each timer that has one,
            // in firing order: the same tasks, each paired here with its timer.
            for timer in timers {
                push(Kind::TimerFired { timer: *timer });
            }
            for timer in timers {
                if let Some(task) = seen.armed_by.remove(timer) {
                    push(Kind::Wake {
                        who: task_of(task),
                        by: By::Timer(*timer),
                        via: Via::Waker,
                    });
                }
            }
            return;
        }
        Event::TimerCancelled { timer } => {
            seen.armed_by.remove(timer);
            Kind::TimerCancelled { timer: *timer }
        }
        Event::IoRegistered {
            task,
            token,
            what,
            interest,
        } => {
            seen.interest.insert(*token as u64, interest.to_string());
            Kind::IoRegistered {
                key: *token as u64,
                who: who(task),
                what: what.to_string(),
                interest: interest.to_string(),
            }
        }
        Event::IoReady {
            token,
            readable,
            writable,
            woke,
        } => {
            push(Kind::IoReady {
                key: *token as u64,
                readable: *readable,
                writable: *writable,
            });
            for task in woke {
                push(Kind::Wake {
                    who: task_of(*task),
                    by: By::Io(*token as u64),
                    via: Via::Waker,
                });
            }
            return;
        }
        Event::IoWouldBlock { task, token, op } => Kind::IoWouldBlock {
            key: *token as u64,
            who: who(task),
            op: op.to_string(),
        },
        Event::IoWait { task, token, op } => Kind::IoWait {
            key: *token as u64,
            who: who(task),
            op: op.to_string(),
        },
        Event::IoDone {
            task,
            token,
            op,
            bytes,
        } => Kind::IoDone {
            key: *token as u64,
            who: who(task),
            op: op.to_string(),
            bytes: *bytes as u64,
        },
        Event::IoDeregistered { token } => Kind::IoDeregistered { key: *token as u64 },
        Event::TurnEnded { turn } => {
            let mut state = state_of(*turn);
            for source in state.iter_mut().flat_map(|s| s.io.iter_mut()) {
                if source.interest.is_empty()
                    && let Some(known) = seen.interest.get(&source.key)
                {
                    source.interest = known.clone();
                }
            }
            Kind::Turn { turn: *turn, state }
        }
        Event::SlowPoll { task, took } => Kind::SlowPoll {
            who: task_of(*task),
            took_ns: nanos(*took),
        },
    };
    push(kind);
}

/// The trace's reason as the format's, with its event count.
pub fn unpark_reason(reason: &TraceUnpark) -> (UnparkReason, u64) {
    match reason {
        TraceUnpark::Deadline => (UnparkReason::Deadline, 0),
        TraceUnpark::ClockJump => (UnparkReason::ClockJump, 0),
        TraceUnpark::Io(n) => (UnparkReason::Io, *n as u64),
        TraceUnpark::RemoteWake => (UnparkReason::RemoteWake, 0),
        TraceUnpark::Nothing => (UnparkReason::Nothing, 0),
    }
}

fn poll_end(task: TaskId, result: PollResult, message: Option<String>) -> Kind {
    Kind::PollEnd {
        who: task_of(task),
        result,
        message,
    }
}

/// A looplab task as a [`Runnable`].
pub fn task_of(task: TaskId) -> Runnable {
    Runnable::Task(task.0)
}

/// A duration in the format's unit. Durations past 584 years saturate.
pub fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
