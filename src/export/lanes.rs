//! A run rebuilt from its trace: one lane per task, and the loop's turns.
//!
//! The trace is a flat list of records, in the order the loop produced them. The
//! pictures need it the other way round: per task, when was it polled and what did
//! each poll return; per wake, who woke whom, and which poll that wake led to; per
//! turn, which records belong to it and which of the loop's five steps did anything.
//! [`Run::from_records`] makes that one pass over the records, and both the HTML page
//! and the Chrome trace draw from the result.
//!
//! Nothing here asks the runtime anything: everything comes from the events, so a
//! trace recorded anywhere (a test, an example, the `looplab` command) draws the same.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use crate::trace::{Event, Record, TaskId, UnparkReason};

/// The five steps of one turn of the loop, in order (see [`executor`](crate::executor)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LoopStep {
    /// 1. Poll the tasks that were ready when the turn began.
    Run,
    /// 2. Stop if the `block_on` future is done.
    Stop,
    /// 3. Decide how long to park: not at all, until the next deadline, or until I/O.
    ChooseTimeout,
    /// 4. Park in the reactor (or, under virtual time, jump the clock).
    Park,
    /// 5. Advance the timer wheel and wake the tasks whose timers expired.
    FireTimers,
}

impl LoopStep {
    /// All five, in the order a turn runs them.
    pub const ALL: [LoopStep; 5] = [
        LoopStep::Run,
        LoopStep::Stop,
        LoopStep::ChooseTimeout,
        LoopStep::Park,
        LoopStep::FireTimers,
    ];

    /// The step during which the loop emits `event`, or `None` for the marker that
    /// closes a turn ([`Event::TurnEnded`]).
    ///
    /// Events a task causes while it is polled (spawns, wakes, timers armed, sockets
    /// registered) belong to step 1. `Park` carries the timeout the loop chose, so it
    /// stands for step 3; what ended the park, and the readiness it brought, is step 4.
    pub fn of(event: &Event) -> Option<LoopStep> {
        Some(match event {
            Event::TurnEnded { .. } => return None,
            Event::BlockOnReturn { .. } => LoopStep::Stop,
            Event::Park { .. } => LoopStep::ChooseTimeout,
            Event::Unpark { .. } | Event::IoReady { .. } => LoopStep::Park,
            Event::TimerCascaded { .. } | Event::TimersFired { .. } => LoopStep::FireTimers,
            _ => LoopStep::Run,
        })
    }

    /// The step's short name, as the loop diagram shows it.
    pub fn name(self) -> &'static str {
        match self {
            LoopStep::Run => "run",
            LoopStep::Stop => "stop?",
            LoopStep::ChooseTimeout => "choose timeout",
            LoopStep::Park => "park",
            LoopStep::FireTimers => "fire timers",
        }
    }
}

/// One spawned task (or `block_on`'s future, task 0 "main"): its lane.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskLane {
    /// The task.
    pub id: TaskId,
    /// Its name (`spawn_named`), "main" for task 0, empty if it has none.
    pub name: String,
    /// The task that spawned it (`None` for main, or when spawned outside a poll).
    pub parent: Option<TaskId>,
    /// When it was spawned (for main: when `block_on` started).
    pub spawned: Duration,
    /// Its polls, as indices into [`Run::polls`], in order.
    pub polls: Vec<usize>,
    /// How it ended, if it did within the records.
    pub ended: Option<PollOutcome>,
}

impl TaskLane {
    /// "task 2 find_users(3)", as the trace prints it.
    pub fn label(&self) -> String {
        task_label(self.id, &self.name)
    }
}

/// "task 2 find_users(3)", or "task 2" for a task without a name.
pub fn task_label(task: TaskId, name: &str) -> String {
    if name.is_empty() {
        task.to_string()
    } else {
        format!("{task} {name}")
    }
}

/// What a poll returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PollOutcome {
    /// `Pending`: the task gave the thread back and waits for a wake.
    Pending,
    /// `Ready`: the task is done.
    Ready,
    /// The poll panicked (the message).
    Panicked(String),
    /// The records end before the poll did (a recording cut short).
    Unfinished,
}

/// One poll of one task: from the `Poll` event to the `Pending`/`Ready`/`Panicked`
/// that ended it. Every record in between happened inside the poll.
#[derive(Clone, Debug, PartialEq)]
pub struct PollSpan {
    /// The task polled.
    pub task: TaskId,
    /// When the poll began, on the runtime's clock.
    pub start: Duration,
    /// When it returned (equal to `start` under virtual time: polls take no time there).
    pub end: Duration,
    /// The records of the poll, its `Poll` event to its ending event included.
    pub records: Range<usize>,
    /// What it returned.
    pub outcome: PollOutcome,
    /// The turn it ran in, as an index into [`Run::turns`].
    pub turn: usize,
}

/// Who woke a task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Waker {
    /// A task, during its poll (a task may wake itself: that is a yield).
    Task(TaskId),
    /// A timer that fired, by its number.
    Timer(u64),
    /// The reactor, for readiness on this token.
    Io(usize),
    /// Another OS thread (seen only when the loop picks the wake up).
    Thread,
}

/// One wake: an arrow from the waker to the woken task's next poll.
#[derive(Clone, Debug, PartialEq)]
pub struct Wake {
    /// When the wake happened.
    pub at: Duration,
    /// The record that reports it.
    pub record: usize,
    /// Who woke.
    pub by: Waker,
    /// Who was woken.
    pub task: TaskId,
    /// The poll during which a task woke it (for [`Waker::Task`]), index into [`Run::polls`].
    pub from_poll: Option<usize>,
    /// The woken task's next poll after the wake, if it had one: where the arrow ends.
    pub to_poll: Option<usize>,
}

/// One park of the loop (step 4), or a zero-timeout peek at I/O while tasks were ready.
#[derive(Clone, Debug, PartialEq)]
pub struct Park {
    /// When the loop parked (for a peek: when it found something).
    pub start: Duration,
    /// When it ran again.
    pub end: Duration,
    /// The `Park` record (for a peek: its `Unpark` record).
    pub record: usize,
    /// How long it was willing to wait (`None`: until something happens).
    pub timeout: Option<Duration>,
    /// Timers in the wheel when it parked (0 for a peek: the trace does not say).
    pub timers: usize,
    /// I/O sources registered when it parked (0 for a peek).
    pub sources: usize,
    /// What ended it; `None` if no `Unpark` was traced (an interrupted wait).
    pub ended_by: Option<UnparkReason>,
    /// A peek: the loop had tasks ready, asked the reactor with a zero timeout, and
    /// found news. (A peek that finds nothing leaves no trace at all.)
    pub peek: bool,
    /// The turn, as an index into [`Run::turns`].
    pub turn: usize,
}

impl Park {
    /// What ended it, in a few words: "deadline", "virtual clock jump", "I/O (3
    /// events)", "remote wake".
    pub fn ended_by_words(&self) -> String {
        match &self.ended_by {
            Some(UnparkReason::Deadline) => "deadline".to_string(),
            Some(UnparkReason::ClockJump) => "virtual clock jump".to_string(),
            Some(UnparkReason::Io(n)) => {
                format!("I/O ({n} event{})", if *n == 1 { "" } else { "s" })
            }
            Some(UnparkReason::RemoteWake) => "remote wake".to_string(),
            Some(UnparkReason::Nothing) => "nothing (an interrupted wait)".to_string(),
            None => "not traced".to_string(),
        }
    }
}

/// Something that happened to a timer.
#[derive(Clone, Debug, PartialEq)]
pub enum TimerAction {
    /// Armed: due at `deadline`, placed at this wheel level and slot.
    Armed {
        /// When it is due, on the runtime's clock.
        deadline: Duration,
        /// Wheel level.
        level: usize,
        /// Slot in that level.
        slot: usize,
    },
    /// Moved down the wheel as its deadline came near.
    Cascaded {
        /// The level it moved to.
        level: usize,
        /// Its slot there.
        slot: usize,
    },
    /// Came due and woke its task.
    Fired,
    /// Dropped before it fired.
    Cancelled,
}

/// A timer event, with the task that armed the timer.
#[derive(Clone, Debug, PartialEq)]
pub struct TimerMark {
    /// When.
    pub at: Duration,
    /// The record.
    pub record: usize,
    /// The timer's number.
    pub timer: u64,
    /// The task that armed it (`None` if armed outside any poll).
    pub task: Option<TaskId>,
    /// What happened.
    pub action: TimerAction,
}

/// One turn of the loop: the records from just after the previous turn's end to its
/// own [`Event::TurnEnded`] (or to `BlockOnReturn`, for the turn in which the loop stops).
#[derive(Clone, Debug, PartialEq)]
pub struct Turn {
    /// Its records.
    pub records: Range<usize>,
    /// The clock at its first record.
    pub start: Duration,
    /// The clock at its last record.
    pub end: Duration,
    /// It ran to its end (`TurnEnded`); the `--step` view is shown after such turns.
    pub completed: bool,
    /// `block_on`'s future was done in it: step 2 stopped the loop.
    pub stopped: bool,
    /// Its polls, as a range of [`Run::polls`].
    pub polls: Range<usize>,
    /// Its park or peek, as an index into [`Run::parks`].
    pub park: Option<usize>,
    /// How many timers fired in it.
    pub timers_fired: usize,
}

/// A whole run, rebuilt from its records.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Run {
    /// One lane per task, by task number; main (task 0) first.
    pub tasks: Vec<TaskLane>,
    /// Every poll, in order.
    pub polls: Vec<PollSpan>,
    /// Every wake, in order.
    pub wakes: Vec<Wake>,
    /// Every park and peek, in order.
    pub parks: Vec<Park>,
    /// Every timer event, in order.
    pub timers: Vec<TimerMark>,
    /// Every turn, in order.
    pub turns: Vec<Turn>,
}

impl Run {
    /// Rebuilds the run from `records` (as [`Recorder::records`](crate::Recorder::records)
    /// returns them).
    pub fn from_records(records: &[Record]) -> Run {
        let mut builder = Builder::default();
        for (index, record) in records.iter().enumerate() {
            builder.add(index, record);
        }
        builder.finish(records)
    }

    /// The lane of `task`, if the records mention it.
    pub fn task(&self, task: TaskId) -> Option<&TaskLane> {
        self.tasks
            .binary_search_by_key(&task, |lane| lane.id)
            .ok()
            .map(|i| &self.tasks[i])
    }

    /// How many turns ran to their end: the number of `TurnEnded` events, and the
    /// number of views `--step` would show.
    pub fn completed_turns(&self) -> usize {
        self.turns.iter().filter(|turn| turn.completed).count()
    }
}

/// The state of the one pass over the records.
#[derive(Default)]
struct Builder {
    tasks: BTreeMap<TaskId, TaskLane>,
    polls: Vec<PollSpan>,
    wakes: Vec<Wake>,
    parks: Vec<Park>,
    timers: Vec<TimerMark>,
    turns: Vec<Turn>,
    /// Which task armed each timer still in the wheel.
    timer_owner: BTreeMap<u64, Option<TaskId>>,
    /// The poll in progress.
    open_poll: Option<usize>,
    /// The park in progress (parked, not yet unparked).
    open_park: Option<usize>,
    /// The turn in progress: its first record and first poll.
    turn_start: Option<(usize, usize)>,
    turn_park: Option<usize>,
    turn_fired: usize,
    turn_stopped: bool,
}

impl Builder {
    fn turn_index(&self) -> usize {
        self.turns.len()
    }

    fn lane(&mut self, task: TaskId, at: Duration) -> &mut TaskLane {
        self.tasks.entry(task).or_insert_with(|| TaskLane {
            id: task,
            name: if task == TaskId(0) {
                "main".to_string()
            } else {
                String::new()
            },
            parent: None,
            spawned: at,
            polls: Vec::new(),
            ended: None,
        })
    }

    fn add(&mut self, index: usize, record: &Record) {
        let at = record.at;
        if self.turn_start.is_none() {
            self.turn_start = Some((index, self.polls.len()));
        }
        match &record.event {
            Event::BlockOnStart => {
                self.lane(TaskId(0), at);
            }
            Event::Spawn { parent, task, name } => {
                let lane = self.lane(*task, at);
                lane.name = name.clone();
                lane.parent = *parent;
                lane.spawned = at;
            }
            Event::Poll { task } => {
                let poll = self.polls.len();
                self.lane(*task, at).polls.push(poll);
                self.open_poll = Some(poll);
                self.polls.push(PollSpan {
                    task: *task,
                    start: at,
                    end: at,
                    records: index..index + 1,
                    outcome: PollOutcome::Unfinished,
                    turn: self.turn_index(),
                });
            }
            Event::Pending { task } => self.end_poll(*task, index, at, PollOutcome::Pending),
            Event::Ready { task } => self.end_poll(*task, index, at, PollOutcome::Ready),
            Event::Panicked { task, message } => {
                self.end_poll(*task, index, at, PollOutcome::Panicked(message.clone()))
            }
            Event::WokenByTask { task, by } => {
                let from_poll = self.open_poll;
                self.wake(at, index, Waker::Task(*by), *task, from_poll);
            }
            Event::WokenByThread { task } => self.wake(at, index, Waker::Thread, *task, None),
            Event::TimerArmed {
                task,
                timer,
                deadline,
                level,
                slot,
            } => {
                self.timer_owner.insert(*timer, *task);
                self.timer_mark(
                    at,
                    index,
                    *timer,
                    TimerAction::Armed {
                        deadline: *deadline,
                        level: *level,
                        slot: *slot,
                    },
                );
            }
            Event::TimerCascaded {
                timer,
                to_level,
                slot,
                ..
            } => self.timer_mark(
                at,
                index,
                *timer,
                TimerAction::Cascaded {
                    level: *to_level,
                    slot: *slot,
                },
            ),
            Event::TimersFired { timers, woke } => {
                self.turn_fired += timers.len();
                for timer in timers {
                    self.timer_mark(at, index, *timer, TimerAction::Fired);
                }
                for task in woke {
                    let by = self.timer_that_woke(timers, *task);
                    self.wake(at, index, Waker::Timer(by), *task, None);
                }
                for timer in timers {
                    self.timer_owner.remove(timer);
                }
            }
            Event::TimerCancelled { timer } => {
                self.timer_mark(at, index, *timer, TimerAction::Cancelled);
                self.timer_owner.remove(timer);
            }
            Event::Park {
                timeout,
                timers,
                sources,
            } => {
                self.open_park = Some(self.parks.len());
                self.turn_park = Some(self.parks.len());
                self.parks.push(Park {
                    start: at,
                    end: at,
                    record: index,
                    timeout: *timeout,
                    timers: *timers,
                    sources: *sources,
                    ended_by: None,
                    peek: false,
                    turn: self.turn_index(),
                });
            }
            Event::Unpark { reason } => match self.open_park.take() {
                Some(park) => {
                    self.parks[park].end = at;
                    self.parks[park].ended_by = Some(reason.clone());
                }
                // No park before it in this turn: tasks were ready and the loop only
                // peeked at the reactor, which had news.
                None => {
                    self.turn_park = Some(self.parks.len());
                    self.parks.push(Park {
                        start: at,
                        end: at,
                        record: index,
                        timeout: Some(Duration::ZERO),
                        timers: 0,
                        sources: 0,
                        ended_by: Some(reason.clone()),
                        peek: true,
                        turn: self.turn_index(),
                    });
                }
            },
            Event::IoReady { token, woke, .. } => {
                for task in woke {
                    self.wake(at, index, Waker::Io(*token), *task, None);
                }
            }
            Event::BlockOnReturn { .. } => {
                self.turn_stopped = true;
                self.end_turn(index, false);
                return;
            }
            Event::TurnEnded { .. } => {
                self.end_turn(index, true);
                return;
            }
            Event::Note { .. }
            | Event::IoRegistered { .. }
            | Event::IoWouldBlock { .. }
            | Event::IoDeregistered { .. }
            | Event::SlowPoll { .. }
            | Event::IoDone { .. }
            | Event::IoWait { .. } => {}
        }
        // Whatever happens while a poll is open happens inside it.
        if let Some(poll) = self.open_poll {
            self.polls[poll].records.end = index + 1;
        }
    }

    fn end_poll(&mut self, task: TaskId, index: usize, at: Duration, outcome: PollOutcome) {
        let Some(poll) = self.open_poll.take_if(|p| self.polls[*p].task == task) else {
            return;
        };
        let span = &mut self.polls[poll];
        span.end = at;
        span.records.end = index + 1;
        if outcome != PollOutcome::Pending {
            self.lane(task, at).ended = Some(outcome.clone());
        }
        self.polls[poll].outcome = outcome;
    }

    fn wake(
        &mut self,
        at: Duration,
        record: usize,
        by: Waker,
        task: TaskId,
        from_poll: Option<usize>,
    ) {
        self.lane(task, at);
        self.wakes.push(Wake {
            at,
            record,
            by,
            task,
            from_poll,
            to_poll: None,
        });
    }

    /// `TimersFired` lists the timers and the tasks they woke, but not which woke which:
    /// the timer armed by that task is the one.
    fn timer_that_woke(&self, timers: &[u64], task: TaskId) -> u64 {
        timers
            .iter()
            .copied()
            .find(|t| self.timer_owner.get(t) == Some(&Some(task)))
            .unwrap_or(timers[0])
    }

    fn timer_mark(&mut self, at: Duration, record: usize, timer: u64, action: TimerAction) {
        let task = self.timer_owner.get(&timer).copied().flatten();
        self.timers.push(TimerMark {
            at,
            record,
            timer,
            task,
            action,
        });
    }

    fn end_turn(&mut self, index: usize, completed: bool) {
        let (first_record, first_poll) = self.turn_start.take().unwrap_or((index, 0));
        self.turns.push(Turn {
            records: first_record..index + 1,
            start: Duration::ZERO,
            end: Duration::ZERO,
            completed,
            stopped: std::mem::take(&mut self.turn_stopped),
            polls: first_poll..self.polls.len(),
            park: self.turn_park.take(),
            timers_fired: std::mem::take(&mut self.turn_fired),
        });
        self.open_park = None;
    }

    fn finish(mut self, records: &[Record]) -> Run {
        // Records after the last turn's end (a recording taken mid-run) form a last,
        // unfinished turn.
        if let Some((first_record, _)) = self.turn_start
            && first_record < records.len()
        {
            self.end_turn(records.len() - 1, false);
        }
        for turn in &mut self.turns {
            turn.start = records[turn.records.start].at;
            turn.end = records[turn.records.end - 1].at;
        }
        // A poll the records cut short ends at the last record.
        if let Some(last) = records.last() {
            for poll in &mut self.polls {
                if poll.outcome == PollOutcome::Unfinished {
                    poll.end = last.at;
                }
            }
        }
        // Each wake's arrow ends at the woken task's first poll after it.
        for wake in &mut self.wakes {
            if let Some(lane) = self.tasks.get(&wake.task) {
                let next = lane
                    .polls
                    .partition_point(|&p| self.polls[p].records.start <= wake.record);
                wake.to_poll = lane.polls.get(next).copied();
            }
        }
        Run {
            tasks: self.tasks.into_values().collect(),
            polls: self.polls,
            wakes: self.wakes,
            parks: self.parks,
            timers: self.timers,
            turns: self.turns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ms: u64, event: Event) -> Record {
        Record {
            at: Duration::from_millis(ms),
            event,
        }
    }

    /// main spawns a worker that sleeps 1 s; main awaits it.
    fn sleepy_run() -> Vec<Record> {
        let (main, worker) = (TaskId(0), TaskId(1));
        vec![
            rec(0, Event::BlockOnStart),
            rec(0, Event::Poll { task: main }),
            rec(
                0,
                Event::Spawn {
                    parent: Some(main),
                    task: worker,
                    name: "worker".into(),
                },
            ),
            rec(0, Event::Pending { task: main }),
            rec(0, Event::Poll { task: worker }),
            rec(
                0,
                Event::TimerArmed {
                    task: Some(worker),
                    timer: 1,
                    deadline: Duration::from_secs(1),
                    level: 1,
                    slot: 15,
                },
            ),
            rec(0, Event::Pending { task: worker }),
            rec(
                0,
                Event::Park {
                    timeout: Some(Duration::from_secs(1)),
                    timers: 1,
                    sources: 0,
                },
            ),
            rec(
                1000,
                Event::Unpark {
                    reason: UnparkReason::ClockJump,
                },
            ),
            rec(
                1000,
                Event::TimersFired {
                    timers: vec![1],
                    woke: vec![worker],
                },
            ),
            rec(1000, Event::TurnEnded { turn: 1 }),
            rec(1000, Event::Poll { task: worker }),
            rec(
                1000,
                Event::WokenByTask {
                    task: main,
                    by: worker,
                },
            ),
            rec(1000, Event::Ready { task: worker }),
            rec(1000, Event::TurnEnded { turn: 2 }),
            rec(1000, Event::Poll { task: main }),
            rec(1000, Event::Ready { task: main }),
            rec(
                1000,
                Event::BlockOnReturn {
                    elapsed: Duration::from_secs(1),
                },
            ),
        ]
    }

    #[test]
    fn lanes_polls_and_outcomes_per_task() {
        let run = Run::from_records(&sleepy_run());
        let labels: Vec<String> = run.tasks.iter().map(TaskLane::label).collect();
        assert_eq!(labels, ["task 0 main", "task 1 worker"]);
        assert_eq!(run.tasks[1].parent, Some(TaskId(0)));
        assert_eq!(run.polls.len(), 4);
        let outcomes: Vec<_> = run.polls.iter().map(|p| (p.task.0, &p.outcome)).collect();
        assert_eq!(
            outcomes,
            [
                (0, &PollOutcome::Pending),
                (1, &PollOutcome::Pending),
                (1, &PollOutcome::Ready),
                (0, &PollOutcome::Ready)
            ]
        );
        // The worker's first poll holds the timer it armed.
        assert_eq!(run.polls[1].records, 4..7);
        assert_eq!(run.tasks[1].ended, Some(PollOutcome::Ready));
    }

    #[test]
    fn turns_end_at_turn_ended_and_at_block_on_return() {
        let run = Run::from_records(&sleepy_run());
        assert_eq!(run.turns.len(), 3);
        assert_eq!(run.completed_turns(), 2);
        assert_eq!(run.turns[0].records, 0..11);
        assert_eq!(run.turns[0].polls, 0..2);
        assert_eq!(run.turns[0].timers_fired, 1);
        assert_eq!(run.turns[0].park, Some(0));
        assert_eq!(run.turns[0].end, Duration::from_secs(1));
        assert!(run.turns[2].stopped && !run.turns[2].completed);
        assert_eq!(run.polls[3].turn, 2);
    }

    #[test]
    fn a_park_ends_with_its_unpark_reason() {
        let run = Run::from_records(&sleepy_run());
        assert_eq!(run.parks.len(), 1);
        let park = &run.parks[0];
        assert_eq!(
            (park.start, park.end),
            (Duration::ZERO, Duration::from_secs(1))
        );
        assert_eq!(park.ended_by, Some(UnparkReason::ClockJump));
        assert!(!park.peek);
    }

    #[test]
    fn wakes_point_from_the_waker_to_the_next_poll_of_the_woken() {
        let run = Run::from_records(&sleepy_run());
        let wakes: Vec<_> = run
            .wakes
            .iter()
            .map(|w| (w.by.clone(), w.task.0, w.from_poll, w.to_poll))
            .collect();
        assert_eq!(
            wakes,
            [
                (Waker::Timer(1), 1, None, Some(2)),
                (Waker::Task(TaskId(1)), 0, Some(2), Some(3)),
            ]
        );
    }

    #[test]
    fn an_unpark_without_a_park_is_a_peek() {
        let records = vec![
            rec(0, Event::Poll { task: TaskId(0) }),
            rec(0, Event::Pending { task: TaskId(0) }),
            rec(
                0,
                Event::Unpark {
                    reason: UnparkReason::Io(2),
                },
            ),
            rec(0, Event::TurnEnded { turn: 1 }),
        ];
        let run = Run::from_records(&records);
        assert_eq!(run.parks.len(), 1);
        assert!(run.parks[0].peek);
        assert_eq!(run.parks[0].ended_by, Some(UnparkReason::Io(2)));
    }

    #[test]
    fn records_cut_short_leave_an_unfinished_poll_and_turn() {
        let mut records = sleepy_run();
        records.truncate(5); // ends just after the worker's Poll
        let run = Run::from_records(&records);
        assert_eq!(run.turns.len(), 1);
        assert!(!run.turns[0].completed);
        assert_eq!(run.polls[1].outcome, PollOutcome::Unfinished);
    }

    #[test]
    fn every_event_but_the_turn_marker_belongs_to_a_step() {
        assert_eq!(LoopStep::of(&Event::TurnEnded { turn: 1 }), None);
        assert_eq!(
            LoopStep::of(&Event::Poll { task: TaskId(1) }),
            Some(LoopStep::Run)
        );
        assert_eq!(
            LoopStep::of(&Event::TimersFired {
                timers: vec![],
                woke: vec![]
            }),
            Some(LoopStep::FireTimers)
        );
    }
}
