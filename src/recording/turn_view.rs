//! The executor's `--step` snapshot ([`TurnView`]) as a recording's [`TurnState`].
//!
//! The executor already builds, after every turn, the state `--step` prints: the run
//! queue, main's flag, the wheel and its timers, the sockets and who waits on them.
//! A recording keeps that state on its `turn` lines, so a viewer shows it as it was
//! instead of replaying events to rebuild it. A runtime that records collects one
//! [`TurnState`] per turn through [`Builder::on_turn`](crate::Builder::on_turn) and
//! hands them to [`from_records_with_turns`](super::from_records_with_turns).

use super::from_trace::{nanos, task_of, unpark_reason};
use super::line::{IoState, ParkOutcome, Place, TimerState, TurnState};
use crate::executor::{ParkReport, TurnView};

/// The state `view` shows.
pub fn turn_state(view: &TurnView) -> TurnState {
    TurnState {
        main_woken: view.main_woken,
        run_queue: view.run_queue.iter().copied().map(task_of).collect(),
        park: park_outcome(&view.park),
        wheel_tick: Some(view.wheel_tick),
        timers: view
            .timers
            .iter()
            .map(|t| TimerState {
                timer: t.timer,
                deadline_ns: nanos(t.deadline),
                place: Place::Wheel {
                    level: t.level as u64,
                    slot: t.slot as u64,
                },
                who: t.task.map(task_of),
                callback: None,
            })
            .collect(),
        io: view
            .io
            .iter()
            .map(|source| IoState {
                key: source.token as u64,
                what: source.what.to_string(),
                // The view does not carry the interest: `from_records_with_turns`
                // fills it in from the source's `io_registered` line.
                interest: String::new(),
                readable: source.readable,
                writable: source.writable,
                readers: source.reader.into_iter().map(task_of).collect(),
                writers: source.writer.into_iter().map(task_of).collect(),
            })
            .collect(),
    }
}

fn park_outcome(park: &ParkReport) -> ParkOutcome {
    match park {
        ParkReport::Skipped => ParkOutcome::Skipped,
        ParkReport::Peeked { events } => ParkOutcome::Peeked {
            events: *events as u64,
        },
        ParkReport::Settled { events } => ParkOutcome::Settled {
            events: *events as u64,
        },
        ParkReport::Waited { waited, ended_by } => {
            let (ended_by, events) = unpark_reason(ended_by);
            ParkOutcome::Waited {
                waited_ns: nanos(*waited),
                ended_by,
                events,
            }
        }
        ParkReport::Jumped { from, to } => ParkOutcome::Jumped {
            from_ns: nanos(*from),
            to_ns: nanos(*to),
        },
    }
}
