//! One model of a run, built from its recording in one pass: what every view draws.
//!
//! A recording is a flat list of lines, in the order the loop did things. The views
//! need it the other way round: per task, when was it polled and what did each poll
//! return; per wake, who woke whom, and which poll that wake led to; per turn, which
//! lines belong to it, which of the loop's five steps did anything, and the state the
//! loop held at its end. [`Model::new`] makes that one pass over the lines, and the
//! page, the Chrome trace, the SVG and `looplab render --step` all read the result.
//!
//! Nothing here is inferred: the state after a turn is the one the loop recorded on
//! the turn's `turn` line (what `--step` printed while it ran), and every wake names
//! its cause. A recording from asyncio fills the same model: its callbacks are polls
//! on the loop's own lane, its timers sit in a heap instead of a wheel, and its turns
//! run their steps in asyncio's order (park first, then the handles).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;

use crate::recording::line::{
    By, Header, IoKeys, Kind, Line, Place, PollResult, Runnable, Source, TimerLayout, TurnState,
    UnparkReason, Via,
};
use crate::recording::read::Recording;

/// The five steps of one turn of looplab's loop, in order (see the executor).
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

    /// The step during which the loop wrote a line of `kind`, or `None` for the
    /// line that closes a turn (`turn`).
    ///
    /// What a task does while it is polled (spawns, wakes, timers armed, sockets
    /// registered) belongs to step 1. `park` carries the timeout the loop chose, so it
    /// stands for step 3; what ended the park, and the readiness it brought with its
    /// wakes, is step 4; a timer firing, with its wakes, is step 5.
    pub fn of(kind: &Kind, after_fire: bool, after_unpark: bool) -> Option<LoopStep> {
        Some(match kind {
            Kind::Turn { .. } | Kind::LookupRun { .. } => return None,
            Kind::Stop { .. } => LoopStep::Stop,
            Kind::Park { .. } => LoopStep::ChooseTimeout,
            Kind::Unpark { .. } | Kind::IoReady { .. } => LoopStep::Park,
            Kind::TimerCascaded { .. } | Kind::TimerFired { .. } => LoopStep::FireTimers,
            Kind::Wake {
                by: By::Timer(_), ..
            } if after_fire => LoopStep::FireTimers,
            Kind::Wake { by: By::Io(_), .. } if after_unpark => LoopStep::Park,
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

/// One task's lane (asyncio's and looplab's main is task 0).
#[derive(Clone, Debug, PartialEq)]
pub struct TaskLane {
    /// The task's number.
    pub id: u64,
    /// Its name, empty if it has none.
    pub name: String,
    /// Who created it (`None` for main, or when created outside any poll).
    pub parent: Option<Runnable>,
    /// When it was created, in nanoseconds.
    pub spawned: u64,
    /// Its polls, as indices into [`Model::polls`], in order.
    pub polls: Vec<usize>,
    /// How it ended, if it did within the recording.
    pub ended: Option<PollOutcome>,
}

impl TaskLane {
    /// "task 2 find_users(3)", as the trace prints it.
    pub fn label(&self) -> String {
        task_label(self.id, &self.name)
    }
}

/// "task 2 find_users(3)", or "task 2" for a task without a name.
pub fn task_label(task: u64, name: &str) -> String {
    if name.is_empty() {
        format!("task {task}")
    } else {
        format!("task {task} {name}")
    }
}

/// What a poll returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PollOutcome {
    /// `Pending`: the task gave the thread back and waits for a wake.
    Pending,
    /// `Ready`: the task is done.
    Ready,
    /// The poll panicked, or (asyncio) the task ended with an exception: the message.
    Panicked(String),
    /// asyncio: the task ended cancelled.
    Cancelled,
    /// asyncio: a plain callback ran.
    Ran,
    /// The recording ends before the poll did (a recording cut short).
    Unfinished,
}

impl PollOutcome {
    fn of(result: PollResult, message: &Option<String>) -> PollOutcome {
        match result {
            PollResult::Pending => PollOutcome::Pending,
            PollResult::Ready => PollOutcome::Ready,
            PollResult::Panicked => PollOutcome::Panicked(message.clone().unwrap_or_default()),
            PollResult::Cancelled => PollOutcome::Cancelled,
            PollResult::Ran => PollOutcome::Ran,
        }
    }

    /// The task is over after this poll.
    pub fn ends_the_task(&self) -> bool {
        matches!(
            self,
            PollOutcome::Ready | PollOutcome::Panicked(_) | PollOutcome::Cancelled
        )
    }
}

/// One poll of a task (or one run of an asyncio callback): from its `poll` line to
/// the `poll_end` that ended it. Every line in between happened inside the poll.
#[derive(Clone, Debug, PartialEq)]
pub struct PollSpan {
    /// What was polled.
    pub who: Runnable,
    /// When the poll began, in nanoseconds on the recording's clock.
    pub start: u64,
    /// When it returned (equal to `start` under virtual time: polls take no time there).
    pub end: u64,
    /// Its lines, its `poll` line to its `poll_end` included.
    pub lines: Range<usize>,
    /// What it returned.
    pub outcome: PollOutcome,
    /// The turn it ran in, as an index into [`Model::turns`].
    pub turn: usize,
}

/// One wake: an arrow from the waker to the woken task's next poll.
#[derive(Clone, Debug, PartialEq)]
pub struct Wake {
    /// When, in nanoseconds.
    pub at: u64,
    /// Its line.
    pub line: usize,
    /// Who woke.
    pub by: By,
    /// How.
    pub via: Via,
    /// Who was woken.
    pub who: Runnable,
    /// The poll running when it happened (the waker's, for a task or a callback),
    /// index into [`Model::polls`].
    pub from_poll: Option<usize>,
    /// The woken one's next poll after the wake, if it had one: where the arrow ends.
    pub to_poll: Option<usize>,
}

/// One park of the loop (step 4), or a zero-timeout peek at I/O while tasks were ready.
#[derive(Clone, Debug, PartialEq)]
pub struct Park {
    /// When the loop parked (for a peek: when it found something), in nanoseconds.
    pub start: u64,
    /// When it ran again.
    pub end: u64,
    /// The `park` line (for a peek: its `unpark` line).
    pub line: usize,
    /// How long it was willing to wait, in nanoseconds (`None`: until something
    /// happens).
    pub timeout: Option<u64>,
    /// Timers armed when it parked (0 for a peek: the line does not say).
    pub timers: u64,
    /// I/O sources registered when it parked (0 for a peek).
    pub sources: u64,
    /// What ended it, and the readiness events it brought; `None` if no `unpark`
    /// followed (an interrupted wait).
    pub ended_by: Option<(UnparkReason, u64)>,
    /// A peek: the loop had tasks ready, asked the reactor with a zero timeout, and
    /// found news, with no `park` line before (looplab writes none for a peek).
    pub peek: bool,
    /// The turn, as an index into [`Model::turns`].
    pub turn: usize,
}

impl Park {
    /// What ended it, in a few words: "deadline", "virtual clock jump", "I/O (3
    /// events)", "remote wake".
    pub fn ended_by_words(&self) -> String {
        match &self.ended_by {
            Some((UnparkReason::Deadline, _)) => "deadline".to_string(),
            Some((UnparkReason::ClockJump, _)) => "virtual clock jump".to_string(),
            Some((UnparkReason::Io, n)) => {
                format!("I/O ({n} event{})", if *n == 1 { "" } else { "s" })
            }
            Some((UnparkReason::RemoteWake, _)) => "remote wake".to_string(),
            Some((UnparkReason::Nothing, _)) => "nothing (an interrupted wait)".to_string(),
            None => "not traced".to_string(),
        }
    }
}

/// Something that happened to a timer.
#[derive(Clone, Debug, PartialEq)]
pub enum TimerAction {
    /// Armed: due at `deadline` (nanoseconds), put at `place`.
    Armed {
        /// When it is due.
        deadline: u64,
        /// Where it was put.
        place: Place,
    },
    /// Moved down the wheel as its deadline came near.
    Cascaded {
        /// The level it moved to.
        level: u64,
        /// Its slot there.
        slot: u64,
    },
    /// Came due.
    Fired,
    /// Left before it fired.
    Cancelled,
}

/// A timer line, with who armed the timer.
#[derive(Clone, Debug, PartialEq)]
pub struct TimerMark {
    /// When, in nanoseconds.
    pub at: u64,
    /// The line.
    pub line: usize,
    /// The timer's number.
    pub timer: u64,
    /// Who armed it (`None` if armed outside any poll).
    pub who: Option<Runnable>,
    /// What happened.
    pub action: TimerAction,
}

/// One turn of the loop: the lines from just after the previous turn's end to its
/// own `turn` line (or to `stop`, for the turn in which the loop stops).
#[derive(Clone, Debug, PartialEq)]
pub struct Turn {
    /// Its lines.
    pub lines: Range<usize>,
    /// The clock at its first line, in nanoseconds.
    pub start: u64,
    /// The clock at its last line.
    pub end: u64,
    /// It ran to its end (a `turn` line); `--step` shows its state.
    pub completed: bool,
    /// The main task was done in it: the loop stopped.
    pub stopped: bool,
    /// Its polls, as a range of [`Model::polls`].
    pub polls: Range<usize>,
    /// Its park or peek, as an index into [`Model::parks`].
    pub park: Option<usize>,
    /// The timers that fired in it, in order.
    pub fired: Vec<u64>,
    /// The state the loop recorded at its end (`None` for the turn that stopped the
    /// loop, and where the recorder did not take it).
    pub state: Option<TurnState>,
}

/// A whole run, as every view reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct Model<'r> {
    /// The recording's header: the clock, the timer layout, the program.
    pub header: &'r Header,
    /// Its lines, which the model's ranges and indices point into.
    pub lines: &'r [Line],
    /// The step of each line (`None` for `turn` lines), for the stepper's colours.
    pub steps: Vec<Option<LoopStep>>,
    /// One lane per task, by task number; main (task 0) first.
    pub tasks: Vec<TaskLane>,
    /// Every poll, in order.
    pub polls: Vec<PollSpan>,
    /// Every wake, in order.
    pub wakes: Vec<Wake>,
    /// Every park and peek, in order.
    pub parks: Vec<Park>,
    /// Every timer line, in order.
    pub timers: Vec<TimerMark>,
    /// Every turn, in order.
    pub turns: Vec<Turn>,
    /// The `lookup_run` lines (a `looplab lookup` recording's requests), by index.
    pub lookup_runs: Vec<usize>,
}

impl<'r> Model<'r> {
    /// The model of `recording`, in one pass over its lines.
    pub fn new(recording: &'r Recording) -> Model<'r> {
        let mut builder = Builder::default();
        for (index, line) in recording.lines.iter().enumerate() {
            builder.add(index, line);
        }
        builder.finish(recording)
    }

    /// The lane of `task`, if the recording mentions it.
    pub fn task(&self, task: u64) -> Option<&TaskLane> {
        self.tasks
            .binary_search_by_key(&task, |lane| lane.id)
            .ok()
            .map(|i| &self.tasks[i])
    }

    /// How many turns ran to their end: the number of `turn` lines, and the number of
    /// states `--step` shows.
    pub fn completed_turns(&self) -> usize {
        self.turns.iter().filter(|turn| turn.completed).count()
    }

    /// The clock at the loop's last line, in nanoseconds.
    pub fn duration(&self) -> u64 {
        self.turns.last().map_or(0, |turn| turn.end)
    }

    /// The timers sit in asyncio's heap rather than looplab's wheel.
    pub fn heap_timers(&self) -> bool {
        self.header.timers == TimerLayout::Heap
    }

    /// "task 2 find_users(3)" for a task, the callback's name for a callback.
    pub fn label(&self, who: &Runnable) -> String {
        match who {
            Runnable::Task(task) => match self.task(*task) {
                Some(lane) => lane.label(),
                None => task_label(*task, ""),
            },
            Runnable::Callback(name) => format!("callback {name}"),
        }
    }

    /// Who caused a wake, as the trace names it.
    pub fn by_label(&self, by: &By) -> String {
        match by {
            By::Task(task) => self.label(&Runnable::Task(*task)),
            By::Callback(name) => self.label(&Runnable::Callback(name.clone())),
            By::Timer(timer) => format!("timer #{timer}"),
            By::Io(key) => format!("io {key}"),
            By::Thread => "thread".to_string(),
            By::Outside => "outside".to_string(),
        }
    }

    /// The line at `index` as the trace prints it: who, and what.
    pub fn describe(&self, index: usize) -> (String, String) {
        describe(self, &self.lines[index].kind)
    }
}

/// The state of the one pass over the lines.
#[derive(Default)]
struct Builder {
    steps: Vec<Option<LoopStep>>,
    tasks: BTreeMap<u64, TaskLane>,
    polls: Vec<PollSpan>,
    wakes: Vec<Wake>,
    parks: Vec<Park>,
    timers: Vec<TimerMark>,
    turns: Vec<Turn>,
    /// Who armed each timer still armed.
    timer_owner: BTreeMap<u64, Option<Runnable>>,
    /// The poll in progress.
    open_poll: Option<usize>,
    /// The park in progress (parked, not yet unparked).
    open_park: Option<usize>,
    /// The turn in progress: its first line and first poll.
    turn_start: Option<(usize, usize)>,
    turn_park: Option<usize>,
    turn_fired: Vec<u64>,
    turn_stopped: bool,
    /// The `lookup_run` lines.
    lookup_runs: Vec<usize>,
    /// Since the last poll: a timer fired, the loop unparked (their wakes are theirs).
    after_fire: bool,
    after_unpark: bool,
}

impl Builder {
    fn turn_index(&self) -> usize {
        self.turns.len()
    }

    fn lane(&mut self, task: u64, at: u64) -> &mut TaskLane {
        self.tasks.entry(task).or_insert_with(|| TaskLane {
            id: task,
            name: String::new(),
            parent: None,
            spawned: at,
            polls: Vec::new(),
            ended: None,
        })
    }

    fn add(&mut self, index: usize, line: &Line) {
        let at = line.at_ns;
        // A lookup's measured runs follow the loop's lines: no part of any turn.
        if let Kind::LookupRun { .. } = line.kind {
            self.steps.push(None);
            self.lookup_runs.push(index);
            return;
        }
        if self.turn_start.is_none() {
            self.turn_start = Some((index, self.polls.len()));
        }
        self.steps
            .push(LoopStep::of(&line.kind, self.after_fire, self.after_unpark));
        match &line.kind {
            Kind::Start { task, name } => {
                let lane = self.lane(*task, at);
                if lane.name.is_empty() {
                    lane.name = name.clone();
                }
            }
            Kind::Spawn { task, parent, name } => {
                let lane = self.lane(*task, at);
                lane.name = name.clone();
                lane.parent = parent.clone();
                lane.spawned = at;
            }
            Kind::Poll { who } => {
                let poll = self.polls.len();
                if let Runnable::Task(task) = who {
                    self.lane(*task, at).polls.push(poll);
                }
                self.open_poll = Some(poll);
                self.after_fire = false;
                self.after_unpark = false;
                self.polls.push(PollSpan {
                    who: who.clone(),
                    start: at,
                    end: at,
                    lines: index..index + 1,
                    outcome: PollOutcome::Unfinished,
                    turn: self.turn_index(),
                });
            }
            Kind::PollEnd {
                who,
                result,
                message,
            } => self.end_poll(who, index, at, PollOutcome::of(*result, message)),
            Kind::Wake { who, by, via } => {
                if let Runnable::Task(task) = who {
                    self.lane(*task, at);
                }
                self.wakes.push(Wake {
                    at,
                    line: index,
                    by: by.clone(),
                    via: *via,
                    who: who.clone(),
                    from_poll: self.open_poll,
                    to_poll: None,
                });
            }
            Kind::TimerArmed {
                timer,
                who,
                deadline_ns,
                place,
                ..
            } => {
                self.timer_owner.insert(*timer, who.clone());
                self.timer_mark(
                    at,
                    index,
                    *timer,
                    TimerAction::Armed {
                        deadline: *deadline_ns,
                        place: place.clone(),
                    },
                );
            }
            Kind::TimerCascaded {
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
            Kind::TimerFired { timer } => {
                self.after_fire = true;
                self.turn_fired.push(*timer);
                self.timer_mark(at, index, *timer, TimerAction::Fired);
                self.timer_owner.remove(timer);
            }
            Kind::TimerCancelled { timer } => {
                self.timer_mark(at, index, *timer, TimerAction::Cancelled);
                self.timer_owner.remove(timer);
            }
            Kind::Park {
                timeout_ns,
                timers,
                sources,
            } => {
                self.open_park = Some(self.parks.len());
                self.turn_park = Some(self.parks.len());
                self.parks.push(Park {
                    start: at,
                    end: at,
                    line: index,
                    timeout: *timeout_ns,
                    timers: *timers,
                    sources: *sources,
                    ended_by: None,
                    peek: false,
                    turn: self.turn_index(),
                });
            }
            Kind::Unpark { reason, events } => {
                self.after_unpark = true;
                match self.open_park.take() {
                    Some(park) => {
                        self.parks[park].end = at;
                        self.parks[park].ended_by = Some((*reason, *events));
                    }
                    // No park before it in this turn: tasks were ready and the loop
                    // only peeked at the reactor, which had news.
                    None => {
                        self.turn_park = Some(self.parks.len());
                        self.parks.push(Park {
                            start: at,
                            end: at,
                            line: index,
                            timeout: Some(0),
                            timers: 0,
                            sources: 0,
                            ended_by: Some((*reason, *events)),
                            peek: true,
                            turn: self.turn_index(),
                        });
                    }
                }
            }
            Kind::Stop { .. } => {
                self.turn_stopped = true;
                self.end_turn(index, false, None);
                return;
            }
            Kind::Turn { state, .. } => {
                self.end_turn(index, true, state.clone());
                return;
            }
            Kind::LookupRun { .. } => unreachable!("taken out above"),
            Kind::Note { .. }
            | Kind::IoRegistered { .. }
            | Kind::IoModified { .. }
            | Kind::IoReady { .. }
            | Kind::IoWouldBlock { .. }
            | Kind::IoWait { .. }
            | Kind::IoDone { .. }
            | Kind::IoDeregistered { .. }
            | Kind::SlowPoll { .. } => {}
        }
        // Whatever happens while a poll is open happens inside it.
        if let Some(poll) = self.open_poll {
            self.polls[poll].lines.end = index + 1;
        }
    }

    fn end_poll(&mut self, who: &Runnable, index: usize, at: u64, outcome: PollOutcome) {
        let Some(poll) = self.open_poll.take_if(|p| self.polls[*p].who == *who) else {
            return;
        };
        let span = &mut self.polls[poll];
        span.end = at;
        span.lines.end = index + 1;
        if let Runnable::Task(task) = who
            && outcome.ends_the_task()
        {
            self.lane(*task, at).ended = Some(outcome.clone());
        }
        self.polls[poll].outcome = outcome;
    }

    fn timer_mark(&mut self, at: u64, line: usize, timer: u64, action: TimerAction) {
        let who = self.timer_owner.get(&timer).cloned().flatten();
        self.timers.push(TimerMark {
            at,
            line,
            timer,
            who,
            action,
        });
    }

    fn end_turn(&mut self, index: usize, completed: bool, state: Option<TurnState>) {
        let (first_line, first_poll) = self.turn_start.take().unwrap_or((index, 0));
        self.turns.push(Turn {
            lines: first_line..index + 1,
            start: 0,
            end: 0,
            completed,
            stopped: std::mem::take(&mut self.turn_stopped),
            polls: first_poll..self.polls.len(),
            park: self.turn_park.take(),
            fired: std::mem::take(&mut self.turn_fired),
            state,
        });
        self.open_park = None;
        self.after_fire = false;
        self.after_unpark = false;
    }

    fn finish(mut self, recording: &Recording) -> Model<'_> {
        let lines = &recording.lines[..];
        // Lines after the last turn's end (a recording cut short) form a last,
        // unfinished turn.
        let loop_lines = self.lookup_runs.first().copied().unwrap_or(lines.len());
        if let Some((first_line, _)) = self.turn_start
            && first_line < loop_lines
        {
            self.end_turn(loop_lines - 1, false, None);
        }
        for turn in &mut self.turns {
            turn.start = lines[turn.lines.start].at_ns;
            turn.end = lines[turn.lines.end - 1].at_ns;
        }
        // A poll the recording cuts short ends at the last line.
        if let Some(last) = lines[..loop_lines].last() {
            for poll in &mut self.polls {
                if poll.outcome == PollOutcome::Unfinished {
                    poll.end = last.at_ns;
                }
            }
        }
        // Each wake's arrow ends at the woken task's first poll after it.
        for wake in &mut self.wakes {
            if let Runnable::Task(task) = wake.who
                && let Some(lane) = self.tasks.get(&task)
            {
                let next = lane
                    .polls
                    .partition_point(|&p| self.polls[p].lines.start <= wake.line);
                wake.to_poll = lane.polls.get(next).copied();
            }
        }
        Model {
            header: &recording.header,
            lines,
            steps: self.steps,
            tasks: self.tasks.into_values().collect(),
            polls: self.polls,
            wakes: self.wakes,
            parks: self.parks,
            timers: self.timers,
            turns: self.turns,
            lookup_runs: self.lookup_runs,
        }
    }
}

/// Seconds with three decimals, as the trace prints them: "1.000s".
pub fn secs(ns: u64) -> String {
    format!("{}.{:03}s", ns / 1_000_000_000, (ns / 1_000_000) % 1000)
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Where a timer sits, in words: "wheel level 1 slot 15", "heap 0".
pub fn place_words(place: &Place) -> String {
    match place {
        Place::Wheel { level, slot } => format!("wheel level {level} slot {slot}"),
        Place::Heap(index) => format!("heap {index}"),
    }
}

/// One line as the trace prints it: who, and what.
fn describe(model: &Model, kind: &Kind) -> (String, String) {
    let or_loop = |who: &Option<Runnable>| match who {
        Some(who) => model.label(who),
        None => "loop".to_string(),
    };
    // The same line names asyncio's own parts where they differ from looplab's.
    let asyncio = model.header.source == Source::Asyncio;
    let entry = if asyncio {
        "run_until_complete"
    } else {
        "block_on"
    };
    match kind {
        Kind::Start { task, .. } => (
            model.label(&Runnable::Task(*task)),
            format!("{entry}: start"),
        ),
        Kind::Stop { elapsed_ns } => (
            model.label(&Runnable::Task(0)),
            format!("{entry} returns after {}", secs(*elapsed_ns)),
        ),
        Kind::Spawn { task, parent, .. } => (
            or_loop(parent),
            format!("spawn {}", model.label(&Runnable::Task(*task))),
        ),
        Kind::Poll { who } => (model.label(who), "poll".into()),
        Kind::PollEnd {
            who,
            result,
            message,
        } => (
            model.label(who),
            match result {
                PollResult::Pending => "-> Pending".into(),
                PollResult::Ready => "-> Ready (done)".into(),
                PollResult::Panicked => format!(
                    "-> panicked: {:?} (its JoinHandle gets the error)",
                    message.as_deref().unwrap_or("")
                ),
                PollResult::Cancelled => "-> cancelled".into(),
                PollResult::Ran => "ran".into(),
            },
        ),
        Kind::Wake { who, by, via } => {
            let woken = model.label(who);
            let how = match via {
                Via::Spawn => " (its first step)",
                Via::Waker => "",
                Via::CallSoon => " (call_soon)",
                Via::CallSoonThreadsafe => " (call_soon_threadsafe)",
                Via::Future => " (a future it awaited is done)",
                Via::Selector => " (the selector saw it ready)",
            };
            match by {
                By::Task(t) if Runnable::Task(*t) == *who => (woken, "wakes itself (yield)".into()),
                By::Thread => ("thread".into(), format!("another thread woke {woken}{how}")),
                By::Outside => ("loop".into(), format!("queues {woken}{how}")),
                _ => (model.by_label(by), format!("wakes {woken}{how}")),
            }
        }
        Kind::Note { who, text } => (or_loop(who), format!("\"{text}\"")),
        Kind::Park {
            timeout_ns,
            timers,
            sources,
        } if asyncio => {
            let until = match timeout_ns {
                Some(0) => "0: handles are ready, only a look".to_string(),
                Some(t) => format!("{} ms, to the next deadline", t / 1_000_000),
                None => "none: until I/O".to_string(),
            };
            (
                "loop".into(),
                format!(
                    "select, timeout {until}; {timers} timer{}, {sources} fd{}",
                    plural(*timers),
                    plural(*sources)
                ),
            )
        }
        Kind::Park {
            timeout_ns,
            timers,
            sources,
        } => {
            let until = match timeout_ns {
                Some(0) => "a timer is due already".to_string(),
                Some(t) => format!("next deadline in {} ms", t / 1_000_000),
                None if *timers == 0 && *sources == 0 => {
                    "no timer, no socket: only another thread can wake the loop now".to_string()
                }
                None => "wait for I/O (no timer armed)".to_string(),
            };
            (
                "loop".into(),
                format!(
                    "park: run queue empty, {timers} timer{}, {sources} socket{}; {until}",
                    plural(*timers),
                    plural(*sources)
                ),
            )
        }
        Kind::Unpark { reason, events } => {
            let why = match reason {
                UnparkReason::Deadline => "deadline reached".to_string(),
                UnparkReason::ClockJump => {
                    "nothing to do: clock jumps to the next deadline".to_string()
                }
                UnparkReason::Io => format!("{events} I/O event{}", plural(*events)),
                UnparkReason::RemoteWake => "woken by another thread".to_string(),
                UnparkReason::Nothing => "nothing happened".to_string(),
            };
            ("loop".into(), format!("unpark: {why}"))
        }
        Kind::TimerArmed {
            timer,
            who,
            deadline_ns,
            place,
            callback,
        } => {
            let mut what = format!(
                "timer #{timer} armed: deadline {}, {}",
                secs(*deadline_ns),
                place_words(place)
            );
            if let Some(callback) = callback {
                let _ = write!(what, ", runs {callback}");
            }
            (or_loop(who), what)
        }
        Kind::TimerCascaded {
            timer,
            from_level,
            to_level,
            slot,
        } => (
            "timer".into(),
            format!("#{timer} cascades from level {from_level} to level {to_level} slot {slot}"),
        ),
        Kind::TimerFired { timer } => ("timer".into(), format!("#{timer} fired")),
        Kind::TimerCancelled { timer } => ("timer".into(), format!("#{timer} cancelled")),
        Kind::IoRegistered {
            key,
            who,
            what,
            interest,
        } => (
            or_loop(who),
            format!(
                "io: {what} registered as {} {key}, interest {interest}",
                key_word(model)
            ),
        ),
        Kind::IoModified { key, interest } => (
            "io".into(),
            format!("{} {key}: interest now {interest}", key_word(model)),
        ),
        Kind::IoReady {
            key,
            readable,
            writable,
        } => {
            let mut ready = Vec::new();
            if *readable {
                ready.push("readable");
            }
            if *writable {
                ready.push("writable");
            }
            (
                "io".into(),
                format!("{} {key} {}", key_word(model), ready.join("+")),
            )
        }
        Kind::IoWouldBlock { key, who, op } => (
            or_loop(who),
            format!(
                "io: {op} on {} {key} would block; wait for readiness",
                key_word(model)
            ),
        ),
        Kind::IoWait { key, who, op } => (
            or_loop(who),
            format!("io: {op} on {} {key} waits for readiness", key_word(model)),
        ),
        Kind::IoDone {
            key,
            who,
            op,
            bytes,
        } => (
            or_loop(who),
            match (op.as_str(), bytes) {
                ("read", 0) => format!("io: read on {} {key}: end of stream", key_word(model)),
                (op, n) => format!("io: {op} {n} bytes on {} {key}", key_word(model)),
            },
        ),
        Kind::IoDeregistered { key } => (
            "io".into(),
            format!("{} {key} deregistered", key_word(model)),
        ),
        Kind::SlowPoll { who, took_ns } => (
            model.label(who),
            format!(
                "warning: this poll held the loop for {} ms",
                took_ns / 1_000_000
            ),
        ),
        Kind::Turn { turn, .. } => ("loop".into(), format!("turn {turn} ends")),
        Kind::LookupRun { mode, total_ns, .. } => (
            "lookup".into(),
            format!("{mode}: every request answered after {}", secs(*total_ns)),
        ),
    }
}

/// "token" (looplab) or "fd" (asyncio).
pub fn key_word(model: &Model) -> &'static str {
    match model.header.io_keys {
        IoKeys::Token => "token",
        IoKeys::Fd => "fd",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::{Clock, IoKeys, ParkOutcome, Source};

    fn line(ms: u64, kind: Kind) -> Line {
        Line {
            at_ns: ms * 1_000_000,
            kind,
        }
    }

    fn recording(lines: Vec<Line>) -> Recording {
        Recording {
            header: Header {
                format: crate::recording::FORMAT.into(),
                version: crate::recording::VERSION,
                source: Source::Looplab,
                clock: Clock::Virtual,
                timers: TimerLayout::Wheel,
                io_keys: IoKeys::Token,
                program: "test".into(),
            },
            lines,
        }
    }

    fn state(run_queue: Vec<Runnable>) -> TurnState {
        TurnState {
            main_woken: false,
            run_queue,
            park: ParkOutcome::Skipped,
            wheel_tick: Some(1000),
            timers: vec![],
            io: vec![],
        }
    }

    /// main spawns a worker that sleeps 1 s; main awaits it.
    fn sleepy_run() -> Recording {
        let (main, worker) = (Runnable::Task(0), Runnable::Task(1));
        recording(vec![
            line(
                0,
                Kind::Start {
                    task: 0,
                    name: "main".into(),
                },
            ),
            line(0, Kind::Poll { who: main.clone() }),
            line(
                0,
                Kind::Spawn {
                    task: 1,
                    parent: Some(main.clone()),
                    name: "worker".into(),
                },
            ),
            line(
                0,
                Kind::Wake {
                    who: worker.clone(),
                    by: By::Task(0),
                    via: Via::Spawn,
                },
            ),
            line(
                0,
                Kind::PollEnd {
                    who: main.clone(),
                    result: PollResult::Pending,
                    message: None,
                },
            ),
            line(
                0,
                Kind::Poll {
                    who: worker.clone(),
                },
            ),
            line(
                0,
                Kind::TimerArmed {
                    timer: 1,
                    who: Some(worker.clone()),
                    deadline_ns: 1_000_000_000,
                    place: Place::Wheel { level: 1, slot: 15 },
                    callback: None,
                },
            ),
            line(
                0,
                Kind::PollEnd {
                    who: worker.clone(),
                    result: PollResult::Pending,
                    message: None,
                },
            ),
            line(
                0,
                Kind::Park {
                    timeout_ns: Some(1_000_000_000),
                    timers: 1,
                    sources: 0,
                },
            ),
            line(
                1000,
                Kind::Unpark {
                    reason: UnparkReason::ClockJump,
                    events: 0,
                },
            ),
            line(1000, Kind::TimerFired { timer: 1 }),
            line(
                1000,
                Kind::Wake {
                    who: worker.clone(),
                    by: By::Timer(1),
                    via: Via::Waker,
                },
            ),
            line(
                1000,
                Kind::Turn {
                    turn: 1,
                    state: Some(state(vec![worker.clone()])),
                },
            ),
            line(
                1000,
                Kind::Poll {
                    who: worker.clone(),
                },
            ),
            line(
                1000,
                Kind::Wake {
                    who: main.clone(),
                    by: By::Task(1),
                    via: Via::Waker,
                },
            ),
            line(
                1000,
                Kind::PollEnd {
                    who: worker.clone(),
                    result: PollResult::Ready,
                    message: None,
                },
            ),
            line(
                1000,
                Kind::Turn {
                    turn: 2,
                    state: Some(state(vec![])),
                },
            ),
            line(1000, Kind::Poll { who: main.clone() }),
            line(
                1000,
                Kind::PollEnd {
                    who: main,
                    result: PollResult::Ready,
                    message: None,
                },
            ),
            line(
                1000,
                Kind::Stop {
                    elapsed_ns: 1_000_000_000,
                },
            ),
        ])
    }

    #[test]
    fn lanes_polls_and_outcomes_per_task() {
        let recording = sleepy_run();
        let model = Model::new(&recording);
        let labels: Vec<String> = model.tasks.iter().map(TaskLane::label).collect();
        assert_eq!(labels, ["task 0 main", "task 1 worker"]);
        assert_eq!(model.tasks[1].parent, Some(Runnable::Task(0)));
        let outcomes: Vec<_> = model.polls.iter().map(|p| (&p.who, &p.outcome)).collect();
        assert_eq!(
            outcomes,
            [
                (&Runnable::Task(0), &PollOutcome::Pending),
                (&Runnable::Task(1), &PollOutcome::Pending),
                (&Runnable::Task(1), &PollOutcome::Ready),
                (&Runnable::Task(0), &PollOutcome::Ready)
            ]
        );
        // The worker's first poll holds the timer it armed.
        assert_eq!(model.polls[1].lines, 5..8);
        assert_eq!(model.tasks[1].ended, Some(PollOutcome::Ready));
    }

    #[test]
    fn turns_end_at_turn_lines_and_at_stop_and_keep_the_recorded_state() {
        let recording = sleepy_run();
        let model = Model::new(&recording);
        assert_eq!(model.turns.len(), 3);
        assert_eq!(model.completed_turns(), 2);
        assert_eq!(model.turns[0].lines, 0..13);
        assert_eq!(model.turns[0].polls, 0..2);
        assert_eq!(model.turns[0].fired, [1]);
        assert_eq!(model.turns[0].park, Some(0));
        assert_eq!(model.turns[0].end, 1_000_000_000);
        assert_eq!(
            model.turns[0].state.as_ref().unwrap().run_queue,
            [Runnable::Task(1)]
        );
        assert!(model.turns[2].stopped && !model.turns[2].completed);
        assert_eq!(model.turns[2].state, None);
        assert_eq!(model.polls[3].turn, 2);
        // The timer's wake is step 5's, the worker's wake of main step 1's.
        assert_eq!(model.steps[11], Some(LoopStep::FireTimers));
        assert_eq!(model.steps[14], Some(LoopStep::Run));
        assert_eq!(model.steps[12], None);
    }

    #[test]
    fn a_park_ends_with_its_unpark_reason() {
        let recording = sleepy_run();
        let model = Model::new(&recording);
        assert_eq!(model.parks.len(), 1);
        let park = &model.parks[0];
        assert_eq!((park.start, park.end), (0, 1_000_000_000));
        assert_eq!(park.ended_by, Some((UnparkReason::ClockJump, 0)));
        assert!(!park.peek);
    }

    #[test]
    fn wakes_point_from_the_waker_to_the_next_poll_of_the_woken() {
        let recording = sleepy_run();
        let model = Model::new(&recording);
        let wakes: Vec<_> = model
            .wakes
            .iter()
            .map(|w| (w.by.clone(), w.who.clone(), w.from_poll, w.to_poll))
            .collect();
        assert_eq!(
            wakes,
            [
                (By::Task(0), Runnable::Task(1), Some(0), Some(1)),
                (By::Timer(1), Runnable::Task(1), None, Some(2)),
                (By::Task(1), Runnable::Task(0), Some(2), Some(3)),
            ]
        );
    }

    #[test]
    fn an_unpark_without_a_park_is_a_peek() {
        let recording = recording(vec![
            line(
                0,
                Kind::Poll {
                    who: Runnable::Task(0),
                },
            ),
            line(
                0,
                Kind::PollEnd {
                    who: Runnable::Task(0),
                    result: PollResult::Pending,
                    message: None,
                },
            ),
            line(
                0,
                Kind::Unpark {
                    reason: UnparkReason::Io,
                    events: 2,
                },
            ),
            line(
                0,
                Kind::Turn {
                    turn: 1,
                    state: None,
                },
            ),
        ]);
        let model = Model::new(&recording);
        assert_eq!(model.parks.len(), 1);
        assert!(model.parks[0].peek);
        assert_eq!(model.parks[0].ended_by, Some((UnparkReason::Io, 2)));
    }

    #[test]
    fn a_recording_cut_short_leaves_an_unfinished_poll_and_turn() {
        let mut recording = sleepy_run();
        recording.lines.truncate(6); // ends just after the worker's poll line
        let model = Model::new(&recording);
        assert_eq!(model.turns.len(), 1);
        assert!(!model.turns[0].completed);
        assert_eq!(model.polls[1].outcome, PollOutcome::Unfinished);
    }

    #[test]
    fn lines_are_described_as_the_trace_prints_them() {
        let recording = sleepy_run();
        let model = Model::new(&recording);
        assert_eq!(
            model.describe(6),
            (
                "task 1 worker".to_string(),
                "timer #1 armed: deadline 1.000s, wheel level 1 slot 15".to_string()
            )
        );
        assert_eq!(
            model.describe(11),
            ("timer #1".to_string(), "wakes task 1 worker".to_string())
        );
    }
}
