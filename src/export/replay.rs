//! The loop's state, replayed from the trace: what `looplab lookup --step` shows.
//!
//! After each turn `--step` prints the run queue, the timers by wheel level and slot,
//! and the I/O registrations with the tasks waiting on them. The runtime hands that
//! view to a hook while it runs; a page drawn afterwards has only the records. But
//! each piece of that state changes only through an event, so applying the events in
//! order rebuilds it:
//!
//! - **run queue**: a spawn or a wake puts a task at the back (once: a task is queued
//!   at most once), its poll takes it out, its end removes it for good. Main (task 0)
//!   is not in the queue; its own flag says whether it was woken.
//! - **timers**: `TimerArmed` puts a timer at its level and slot, `TimerCascaded`
//!   moves it down, `TimersFired` and `TimerCancelled` take it out.
//! - **I/O**: `IoRegistered` adds a source, `IoWouldBlock` and `IoWait` add a waiter
//!   (reads and accepts wait to read, writes and connects to write), `IoReady` wakes
//!   and removes the waiters of the directions it reports, `IoDeregistered` drops the
//!   source.
//! - **readiness** (the `r`/`w` column): a source starts ready in the directions it
//!   was registered for (all but a client's connecting stream, which waits for its
//!   handshake: the reactor's `assume_ready`), `IoReady` sets the directions it
//!   reports, a `WouldBlock` clears its direction, and a read that got bytes clears
//!   the read flag. (The reactor clears it only after a *short* read; the trace does
//!   not say how big the buffer was, so a read that filled it shows as emptied.)
//! - **the wheel's hand**: it follows the clock while timers are armed. Arming a
//!   timer in an empty wheel brings it to the clock; step 5 of a turn with timers in
//!   the wheel moves it to the clock (the turn's end, to the millisecond); an empty
//!   wheel leaves it where it was.
//!
//! Recordings made before `IoWait` existed lack the waits of tasks that found a
//! socket not ready without trying it: the replay finds such waiters afterwards, from
//! the `IoReady` that wakes them, and counts them as waiting from the end of their
//! last poll before it.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use crate::executor::TimerView;
use crate::trace::{Event, Record, TaskId};

/// An I/O source registered with the reactor, and who waits on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoState {
    /// Its token.
    pub token: usize,
    /// What it is: "listener", "stream", ...
    pub what: &'static str,
    /// What the reactor reports for it: "read", "write" or "read+write".
    pub interest: &'static str,
    /// Tasks waiting to read (or accept).
    pub readers: Vec<TaskId>,
    /// Tasks waiting to write (or for a connect to finish).
    pub writers: Vec<TaskId>,
    /// Tasks waiting in a direction the trace does not tell (see the module docs).
    pub waiting: Vec<TaskId>,
    /// Readable, as the reactor last saw it (see the module docs).
    pub readable: bool,
    /// Writable, the same.
    pub writable: bool,
}

impl IoState {
    /// Its readiness as `--step` prints it: "r w", "r -", "- w" or "- -".
    pub fn ready(&self) -> &'static str {
        match (self.readable, self.writable) {
            (true, true) => "r w",
            (true, false) => "r -",
            (false, true) => "- w",
            (false, false) => "- -",
        }
    }
}

/// The state `--step` shows, at one point of the run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoopState {
    /// Tasks in the run queue, in the order they will be polled.
    run_queue: VecDeque<TaskId>,
    /// The same tasks, to find one without a walk through a queue of thousands.
    queued: HashSet<TaskId>,
    /// Main (task 0) was woken and will be polled first in the next turn.
    pub main_woken: bool,
    timers: BTreeMap<u64, TimerView>,
    io: BTreeMap<usize, IoState>,
    finished: HashSet<TaskId>,
    hand: u64,
}

impl LoopState {
    /// The run queue, in the order its tasks will be polled (main, task 0, is not in
    /// it: see [`main_woken`](LoopState::main_woken)).
    pub fn run_queue(&self) -> impl ExactSizeIterator<Item = TaskId> + '_ {
        self.run_queue.iter().copied()
    }

    /// The timers, ordered as the wheel holds them: by level, slot, then number.
    pub fn timers_by_slot(&self) -> Vec<&TimerView> {
        let mut timers: Vec<&TimerView> = self.timers.values().collect();
        timers.sort_by_key(|t| (t.level, t.slot, t.timer));
        timers
    }

    /// How many timers are in the wheel.
    pub fn timer_count(&self) -> usize {
        self.timers.len()
    }

    /// The registered sources, by token.
    pub fn io(&self) -> impl Iterator<Item = &IoState> {
        self.io.values()
    }

    /// How many sources are registered.
    pub fn io_count(&self) -> usize {
        self.io.len()
    }

    /// The wheel's hand: the tick (millisecond) it has advanced to.
    pub fn wheel_tick(&self) -> u64 {
        self.hand
    }

    fn hand_to(&mut self, at: std::time::Duration) {
        let tick = u64::try_from(at.as_millis()).unwrap_or(u64::MAX);
        self.hand = self.hand.max(tick);
    }

    fn queue(&mut self, task: TaskId) {
        if task == TaskId(0) {
            self.main_woken = true;
        } else if !self.finished.contains(&task) && self.queued.insert(task) {
            self.run_queue.push_back(task);
        }
    }

    fn unqueue(&mut self, task: TaskId) {
        if !self.queued.remove(&task) {
            return;
        }
        // Usually the task polled is the one at the front.
        if self.run_queue.front() == Some(&task) {
            self.run_queue.pop_front();
        } else {
            self.run_queue.retain(|t| *t != task);
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Read,
    Write,
    Unknown,
}

/// A waiter found afterwards: it starts waiting at the record that ended its poll.
type InferredWaits = HashMap<usize, Vec<(usize, Direction, TaskId)>>;

/// Applies records one by one to a [`LoopState`].
pub struct Replay<'a> {
    records: &'a [Record],
    next: usize,
    state: LoopState,
    inferred: InferredWaits,
}

impl<'a> Replay<'a> {
    /// A replay of `records`, before the first.
    pub fn new(records: &'a [Record]) -> Replay<'a> {
        Replay {
            records,
            next: 0,
            state: LoopState::default(),
            inferred: infer_silent_waits(records),
        }
    }

    /// Applies the records up to `end` (exclusive) and returns the state there.
    pub fn advance_to(&mut self, end: usize) -> &LoopState {
        while self.next < end.min(self.records.len()) {
            let index = self.next;
            self.apply(index);
            self.next += 1;
        }
        &self.state
    }

    fn apply(&mut self, index: usize) {
        let state = &mut self.state;
        let at = self.records[index].at;
        match &self.records[index].event {
            Event::Spawn { task, .. } => state.queue(*task),
            Event::WokenByTask { task, .. } => state.queue(*task),
            Event::TimersFired { timers, woke } => {
                state.hand_to(at);
                for timer in timers {
                    state.timers.remove(timer);
                }
                for task in woke {
                    state.queue(*task);
                }
            }
            Event::IoReady {
                token,
                readable,
                writable,
                woke,
            } => {
                if let Some(io) = state.io.get_mut(token) {
                    if *readable {
                        io.readers.clear();
                        io.readable = true;
                    }
                    if *writable {
                        io.writers.clear();
                        io.writable = true;
                    }
                    io.waiting.clear();
                }
                for task in woke {
                    state.queue(*task);
                }
            }
            Event::Poll { task } => {
                if *task == TaskId(0) {
                    state.main_woken = false;
                }
                state.unqueue(*task);
            }
            Event::Ready { task } | Event::Panicked { task, .. } => {
                state.unqueue(*task);
                state.finished.insert(*task);
            }
            Event::TimerArmed {
                task,
                timer,
                deadline,
                level,
                slot,
            } => {
                if state.timers.is_empty() {
                    state.hand_to(at);
                }
                state.timers.insert(
                    *timer,
                    TimerView {
                        timer: *timer,
                        deadline: *deadline,
                        level: *level,
                        slot: *slot,
                        task: *task,
                    },
                );
            }
            Event::TimerCascaded {
                timer,
                to_level,
                slot,
                ..
            } => {
                state.hand_to(at);
                if let Some(t) = state.timers.get_mut(timer) {
                    t.level = *to_level;
                    t.slot = *slot;
                }
            }
            Event::TimerCancelled { timer } => {
                state.timers.remove(timer);
            }
            Event::IoRegistered {
                token,
                what,
                interest,
                ..
            } => {
                // Only a connecting stream starts not ready: its first writable event
                // means "handshake done".
                let assume_ready = *what != "client stream";
                state.io.insert(
                    *token,
                    IoState {
                        token: *token,
                        what,
                        interest,
                        readers: Vec::new(),
                        writers: Vec::new(),
                        waiting: Vec::new(),
                        readable: assume_ready && interest.contains("read"),
                        writable: assume_ready && interest.contains("write"),
                    },
                );
            }
            Event::IoWouldBlock { task, token, op } => {
                if let Some(io) = state.io.get_mut(token) {
                    match direction_of(op) {
                        Direction::Read => io.readable = false,
                        Direction::Write => io.writable = false,
                        Direction::Unknown => {}
                    }
                }
                if let Some(task) = task {
                    add_waiter(state, *token, direction_of(op), *task);
                }
            }
            Event::IoDone {
                token, op, bytes, ..
            } if *op == "read" && *bytes > 0 => {
                if let Some(io) = state.io.get_mut(token) {
                    io.readable = false;
                }
            }
            Event::TurnEnded { .. } if !state.timers.is_empty() => state.hand_to(at),
            Event::IoWait {
                task: Some(task),
                token,
                op,
            } => add_waiter(state, *token, direction_of(op), *task),
            Event::IoDeregistered { token } => {
                state.io.remove(token);
            }
            _ => {}
        }
        if let Some(waits) = self.inferred.get(&index) {
            for &(token, direction, task) in waits {
                add_waiter(&mut self.state, token, direction, task);
            }
        }
    }
}

fn direction_of(op: &str) -> Direction {
    match op {
        "read" | "accept" => Direction::Read,
        "write" | "connect" => Direction::Write,
        _ => Direction::Unknown,
    }
}

fn add_waiter(state: &mut LoopState, token: usize, direction: Direction, task: TaskId) {
    let Some(io) = state.io.get_mut(&token) else {
        return;
    };
    let list = match direction {
        Direction::Read => &mut io.readers,
        Direction::Write => &mut io.writers,
        Direction::Unknown => &mut io.waiting,
    };
    if !list.contains(&task) {
        list.push(task);
    }
}

/// Finds the waiters that left no `WouldBlock`: tasks an `IoReady` wakes although no
/// event said they wait there. Each is placed at the end of its last poll before that
/// wake, the moment it started waiting.
fn infer_silent_waits(records: &[Record]) -> InferredWaits {
    let mut waiting: HashMap<(usize, TaskId), Direction> = HashMap::new();
    let mut last_poll_end: HashMap<TaskId, usize> = HashMap::new();
    let mut inferred = InferredWaits::new();
    for (index, record) in records.iter().enumerate() {
        match &record.event {
            Event::IoWouldBlock {
                task: Some(task),
                token,
                op,
            }
            | Event::IoWait {
                task: Some(task),
                token,
                op,
            } => {
                waiting.insert((*token, *task), direction_of(op));
            }
            Event::Pending { task } => {
                last_poll_end.insert(*task, index);
            }
            Event::IoReady {
                token,
                readable,
                writable,
                woke,
            } => {
                for task in woke {
                    if waiting.remove(&(*token, *task)).is_some() {
                        continue;
                    }
                    let Some(&since) = last_poll_end.get(task) else {
                        continue;
                    };
                    let direction = match (readable, writable) {
                        (true, false) => Direction::Read,
                        (false, true) => Direction::Write,
                        _ => Direction::Unknown,
                    };
                    inferred
                        .entry(since)
                        .or_default()
                        .push((*token, direction, *task));
                }
                // The directions it reports lose all their waiters.
                waiting.retain(|(t, _), direction| {
                    *t != *token
                        || match direction {
                            Direction::Read => !readable,
                            Direction::Write => !writable,
                            Direction::Unknown => false,
                        }
                });
            }
            Event::IoDeregistered { token } => waiting.retain(|(t, _), _| t != token),
            _ => {}
        }
    }
    inferred
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn rec(event: Event) -> Record {
        Record {
            at: Duration::ZERO,
            event,
        }
    }

    #[test]
    fn the_run_queue_follows_spawns_wakes_and_polls() {
        let (a, b) = (TaskId(1), TaskId(2));
        let records = vec![
            rec(Event::Spawn {
                parent: Some(TaskId(0)),
                task: a,
                name: String::new(),
            }),
            rec(Event::Spawn {
                parent: Some(TaskId(0)),
                task: b,
                name: String::new(),
            }),
            rec(Event::WokenByTask { task: a, by: b }), // queued already: no change
            rec(Event::Poll { task: a }),
            rec(Event::WokenByTask {
                task: TaskId(0),
                by: a,
            }),
            rec(Event::WokenByTask { task: a, by: a }), // a yield: back at the end
            rec(Event::Pending { task: a }),
        ];
        let mut replay = Replay::new(&records);
        assert_eq!(replay.advance_to(3).run_queue().collect::<Vec<_>>(), [a, b]);
        let state = replay.advance_to(records.len());
        assert_eq!(state.run_queue().collect::<Vec<_>>(), [b, a]);
        assert!(state.main_woken);
    }

    #[test]
    fn timers_are_listed_by_level_and_slot_and_leave_when_fired_or_cancelled() {
        let armed = |timer, level, slot| {
            rec(Event::TimerArmed {
                task: Some(TaskId(1)),
                timer,
                deadline: Duration::from_secs(timer),
                level,
                slot,
            })
        };
        let records = vec![
            armed(1, 1, 15),
            armed(2, 2, 3),
            armed(3, 1, 2),
            rec(Event::TimerCascaded {
                timer: 1,
                from_level: 1,
                to_level: 0,
                slot: 40,
            }),
            rec(Event::TimerCancelled { timer: 2 }),
        ];
        let mut replay = Replay::new(&records);
        let slots: Vec<_> = replay
            .advance_to(records.len())
            .timers_by_slot()
            .iter()
            .map(|t| (t.timer, t.level, t.slot))
            .collect();
        assert_eq!(slots, [(1, 0, 40), (3, 1, 2)]);
    }

    #[test]
    fn io_waiters_come_from_would_block_and_from_the_wake_that_ends_a_silent_wait() {
        let (reader, connector) = (TaskId(1), TaskId(2));
        let registered = |token| {
            rec(Event::IoRegistered {
                task: None,
                token,
                what: "stream",
                interest: "read+write",
            })
        };
        let records = vec![
            registered(0),
            registered(1),
            rec(Event::Poll { task: reader }),
            rec(Event::IoWouldBlock {
                task: Some(reader),
                token: 0,
                op: "read",
            }),
            rec(Event::Pending { task: reader }),
            rec(Event::Poll { task: connector }),
            rec(Event::Pending { task: connector }), // waits to connect, silently
            rec(Event::IoReady {
                token: 1,
                readable: false,
                writable: true,
                woke: vec![connector],
            }),
        ];
        let mut replay = Replay::new(&records);
        let state = replay.advance_to(7);
        let io: Vec<_> = state
            .io()
            .map(|s| (s.token, s.readers.clone(), s.writers.clone()))
            .collect();
        assert_eq!(
            io,
            [(0, vec![reader], vec![]), (1, vec![], vec![connector])]
        );
        let state = replay.advance_to(records.len());
        assert!(state.io().all(|s| s.token == 0 || s.writers.is_empty()));
        assert_eq!(state.run_queue().collect::<Vec<_>>(), [connector]);
    }
}
