//! Capturing a looplab run as it goes: its trace records and, after every turn, the
//! state the loop holds.
//!
//! The records ([`Recorder`]) say what the loop did; the state after each turn (the
//! run queue, main's flag, the wheel and its timers, the sockets and who waits on
//! them) is what `--step` prints, and the executor builds it anyway for
//! [`Builder::on_turn`](crate::Builder::on_turn). A [`Capture`] given to
//! [`Builder::capture`](crate::Builder::capture) keeps both, so the recording it
//! makes ([`Capture::recording`]) carries each turn's state on its `turn` line and a
//! viewer has nothing to rebuild.

use std::sync::{Arc, Mutex};

use super::from_trace::from_records_with_turns;
use super::line::{Clock, TurnState};
use super::read::Recording;
use super::turn_view::turn_state;
use crate::executor::TurnView;
use crate::trace::Recorder;

/// A run's records and its per-turn state, shared by the runtime that fills it and
/// whoever writes the recording. Cloning shares it.
#[derive(Clone)]
pub struct Capture {
    recorder: Recorder,
    // A Mutex, not a RefCell: a Capture, like a Recorder, may be read from the thread
    // that started a runtime on another thread.
    turns: Arc<Mutex<Vec<(u64, TurnState)>>>,
    /// Whether it keeps the state after each turn (`false`: records only).
    keeps_turns: bool,
}

impl Default for Capture {
    fn default() -> Capture {
        Capture::new()
    }
}

impl Capture {
    /// An empty capture, with a recorder of its own.
    pub fn new() -> Capture {
        Capture::with_recorder(Recorder::new())
    }

    /// An empty capture of the records alone, without the state after each turn: for
    /// a reader of tasks, polls, wakes and parks (`looplab lookup --json`), which needs
    /// no `--step` view. Building that view costs a table of every task, timer and
    /// socket at the end of each turn, and with 40,000 sockets that is most of the
    /// recording's size. Its recording's `turn` lines have `"state": null`.
    pub fn records_only() -> Capture {
        Capture {
            keeps_turns: false,
            ..Capture::new()
        }
    }

    /// Whether it keeps the loop's state after each turn ([`Capture::new`] does,
    /// [`Capture::records_only`] does not): the runtime builds that state only for a
    /// capture that keeps it.
    pub fn keeps_turns(&self) -> bool {
        self.keeps_turns
    }

    /// A capture into `recorder` (for a run that records already: one recorder serves
    /// both).
    pub fn with_recorder(recorder: Recorder) -> Capture {
        Capture {
            recorder,
            turns: Arc::default(),
            keeps_turns: true,
        }
    }

    /// The recorder the runtime writes its records into.
    pub fn recorder(&self) -> Recorder {
        self.recorder.clone()
    }

    /// Keeps the state `view` shows (the runtime calls it after every turn).
    pub fn turn_ended(&self, view: &TurnView) {
        let state = turn_state(view);
        self.turns.lock().unwrap().push((view.turn, state));
    }

    /// How many turns' states it holds.
    pub fn turns(&self) -> usize {
        self.turns.lock().unwrap().len()
    }

    /// Everything so far as a recording on `clock`, titled `program`.
    pub fn recording(&self, clock: Clock, program: &str) -> Recording {
        let turns = self.turns.lock().unwrap();
        // Read in place: at 20,000 connections the records are 30 MB, and a copy of
        // them is as many page faults.
        self.recorder.with_records(|records| {
            // Turns are numbered from 1 in order; a runtime that ran `block_on` twice
            // numbers on from the first, so the number finds the state.
            from_records_with_turns(records, clock, program, |turn| {
                turns
                    .binary_search_by_key(&turn, |(n, _)| *n)
                    .ok()
                    .map(|i| turns[i].1.clone())
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::recording::{Kind, Line};
    use crate::runtime::Runtime;

    /// The same little program, captured by `capture`.
    fn run_captured(capture: &Capture) -> Recording {
        let runtime = Runtime::builder()
            .virtual_time(true)
            .capture(capture.clone())
            .build()
            .unwrap();
        runtime.block_on(async {
            let sleeper = crate::spawn(crate::time::sleep(Duration::from_millis(5)));
            sleeper.await.unwrap();
        });
        capture.recording(Clock::Virtual, "test")
    }

    #[test]
    fn a_records_only_capture_has_the_same_lines_and_no_turn_states() {
        let full = run_captured(&Capture::new());
        let records_only = run_captured(&Capture::records_only());
        let states = |r: &Recording| -> Vec<bool> {
            r.lines
                .iter()
                .filter_map(|l| match &l.kind {
                    Kind::Turn { state, .. } => Some(state.is_some()),
                    _ => None,
                })
                .collect()
        };
        assert!(states(&full).len() >= 2, "the program takes turns");
        assert!(states(&full).iter().all(|&kept| kept));
        assert!(states(&records_only).iter().all(|&kept| !kept));
        // Apart from the states, line for line the same run.
        let without_states = |r: &Recording| -> Vec<Line> {
            r.lines
                .iter()
                .cloned()
                .map(|mut line| {
                    if let Kind::Turn { state, .. } = &mut line.kind {
                        *state = None;
                    }
                    line
                })
                .collect()
        };
        assert_eq!(without_states(&full), without_states(&records_only));
        assert!(!Capture::records_only().keeps_turns());
        assert!(Capture::new().keeps_turns());
    }
}
