//! The trace: a line for everything the loop does (every chapter).
//!
//! An event loop is hard to see. Threads at least show up in a debugger, one stack
//! each; a loop's tasks are just values in a queue, and the interesting moments —
//! a task giving the thread back, a timer firing, a socket becoming readable — leave
//! no mark. So the runtime reports each such moment as an [`Event`], stamped with
//! the runtime's clock:
//!
//! ```text
//!   0.000s  task 1 find_users(3)     poll
//!   0.000s  task 1 find_users(3)     timer #1 armed: deadline 1.000s, wheel level 1 slot 15
//!   0.000s  task 1 find_users(3)     -> Pending
//!   0.000s  loop                     park: run queue empty, 3 timers, 0 sockets; next deadline in 1000 ms
//!   1.000s  loop                     unpark: nothing to do: clock jumps to the next deadline
//!   1.000s  timer                    #1 #2 #3 fired -> wake task 1, task 2, task 3
//! ```
//!
//! Two sinks take the events: a printer (turned on by `LOOPLAB_TRACE=1` for
//! [`block_on`](crate::block_on), or by [`Builder::trace`](crate::Builder::trace)) and a
//! [`Recorder`] that keeps them in memory, for tests and for drawing the timeline.
//! Under virtual time the output is deterministic, so two runs can be diffed.
//!
//! Tracing costs nothing when it is off: the runtime asks `Tracer::enabled` before it
//! builds an event.
//!
//! asyncio's nearest equivalent is its debug mode (`PYTHONASYNCIODEBUG=1`); tokio's is
//! the `tracing` crate plus tokio-console.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use crate::task::TaskId;

mod note;
pub use note::note;

/// Why a parked loop woke up again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnparkReason {
    /// The park timeout ran out: the nearest timer is due.
    Deadline,
    /// Under virtual time nothing was ready, so the clock jumped to the nearest deadline.
    ClockJump,
    /// Sockets became ready (how many readiness events arrived).
    Io(usize),
    /// Another thread woke a task (through `mio::Waker`).
    RemoteWake,
    /// Nothing at all: a zero-timeout poll that found nothing (the loop goes on).
    Nothing,
}

/// One thing the runtime did. The printed form is in [`Event::describe`].
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// `block_on` started running its future (as task 0, "main").
    BlockOnStart,
    /// `block_on`'s future finished; the loop stops.
    BlockOnReturn {
        /// How long `block_on` ran, on the runtime's clock.
        elapsed: Duration,
    },
    /// A task was spawned (by the task being polled, or by main).
    Spawn {
        /// Who called `spawn`.
        parent: Option<TaskId>,
        /// The new task.
        task: TaskId,
        /// Its name, if it was given one (`spawn_named`).
        name: String,
    },
    /// The loop is about to poll a task.
    Poll {
        /// The task.
        task: TaskId,
    },
    /// A poll returned `Pending`: the task gave the thread back.
    Pending {
        /// The task.
        task: TaskId,
    },
    /// A poll returned `Ready`: the task is done and its future was dropped.
    Ready {
        /// The task.
        task: TaskId,
    },
    /// A poll panicked. The panic is caught and handed to the task's `JoinHandle`.
    Panicked {
        /// The task.
        task: TaskId,
        /// The panic message.
        message: String,
    },
    /// A task was woken by another task (or by itself, which is how `yield_now` works).
    WokenByTask {
        /// The task woken.
        task: TaskId,
        /// The task that called `wake`.
        by: TaskId,
    },
    /// A task was woken from another OS thread; seen when the loop picks the wake up.
    WokenByThread {
        /// The task woken.
        task: TaskId,
    },
    /// A line the program itself wants in the trace ([`note`]), e.g. the post's
    /// "looking up user 1 of 3 ...".
    Note {
        /// The task that was running, if any.
        task: Option<TaskId>,
        /// The text.
        text: String,
    },
    /// The loop is about to block in the reactor.
    Park {
        /// How long it will wait at most (`None`: until something happens).
        timeout: Option<Duration>,
        /// Timers in the wheel.
        timers: usize,
        /// Registered I/O sources.
        sources: usize,
    },
    /// The loop is running again.
    Unpark {
        /// Why.
        reason: UnparkReason,
    },
    /// A task armed a timer.
    TimerArmed {
        /// The task that armed it.
        task: Option<TaskId>,
        /// The timer's number.
        timer: u64,
        /// When it is due, on the runtime's clock.
        deadline: Duration,
        /// Where in the wheel it sits.
        level: usize,
        /// Which slot of that level.
        slot: usize,
    },
    /// A timer moved down a level of the wheel as its deadline came near.
    TimerCascaded {
        /// The timer's number.
        timer: u64,
        /// Level it left.
        from_level: usize,
        /// Level it moved to.
        to_level: usize,
        /// Its slot in the new level.
        slot: usize,
    },
    /// Timers came due and woke the tasks that armed them.
    TimersFired {
        /// The timers' numbers.
        timers: Vec<u64>,
        /// The tasks they woke, in firing order.
        woke: Vec<TaskId>,
    },
    /// A timer was dropped before it fired (its `Sleep` went away).
    TimerCancelled {
        /// The timer's number.
        timer: u64,
    },
    /// An I/O source was registered with the reactor.
    IoRegistered {
        /// The task that registered it.
        task: Option<TaskId>,
        /// The mio token.
        token: usize,
        /// What it was: "listener", "stream", ...
        what: &'static str,
        /// What the reactor will report for it: "read", "write" or "read+write".
        interest: &'static str,
    },
    /// The reactor saw readiness on a source.
    IoReady {
        /// The mio token.
        token: usize,
        /// Ready to read (or closed for reading).
        readable: bool,
        /// Ready to write.
        writable: bool,
        /// The tasks it woke.
        woke: Vec<TaskId>,
    },
    /// An operation hit `WouldBlock`: the task will wait for the next readiness event.
    IoWouldBlock {
        /// The task.
        task: Option<TaskId>,
        /// The mio token.
        token: usize,
        /// "read", "write", "accept", "connect".
        op: &'static str,
    },
    /// An operation found its socket not ready (no readiness since it last emptied
    /// it) and waits for the next readiness event without asking the kernel.
    IoWait {
        /// The task.
        task: Option<TaskId>,
        /// The mio token.
        token: usize,
        /// "read", "write", "accept", "connect".
        op: &'static str,
    },
    /// An I/O source left the reactor (its socket was dropped).
    IoDeregistered {
        /// The mio token.
        token: usize,
    },
    /// A read or write succeeded (an end of stream is a read of 0 bytes).
    IoDone {
        /// The task that ran it.
        task: Option<TaskId>,
        /// The mio token.
        token: usize,
        /// "read" or "write".
        op: &'static str,
        /// How many bytes.
        bytes: usize,
    },
    /// A turn of the loop ended (after step 5, timers fired). Recorded for the
    /// pictures (the stepper counts turns by it), never printed: a line per turn would
    /// drown the trace.
    TurnEnded {
        /// Turns completed so far, this one included.
        turn: u64,
    },
    /// A single poll kept the loop busy too long: nothing else could run meanwhile.
    SlowPoll {
        /// The task.
        task: TaskId,
        /// How long the poll took, in wall time.
        took: Duration,
    },
}

/// An event and when it happened (on the runtime's clock, from the runtime's start).
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Time since the runtime started.
    pub at: Duration,
    /// What happened.
    pub event: Event,
}

/// Where printed trace lines go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TraceOutput {
    /// No printing (a [`Recorder`] may still record).
    #[default]
    Off,
    /// Standard output: examples use it, so their own lines and the trace stay in order.
    Stdout,
    /// Standard error: keeps stdout free, e.g. for `--json`.
    Stderr,
}

impl TraceOutput {
    /// `Stderr` if the environment variable `LOOPLAB_TRACE` is set to anything but `0` or empty.
    pub fn from_env() -> TraceOutput {
        match std::env::var("LOOPLAB_TRACE") {
            Ok(v) if !v.is_empty() && v != "0" => TraceOutput::Stderr,
            _ => TraceOutput::Off,
        }
    }
}

/// Keeps trace records in memory. Clone it into a [`Builder`](crate::Builder) and read it
/// after the run; all clones share one list.
#[derive(Clone, Default)]
pub struct Recorder {
    inner: Arc<Mutex<RecorderInner>>,
}

#[derive(Default)]
struct RecorderInner {
    records: Vec<Record>,
    names: HashMap<TaskId, String>,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Recorder {
        Recorder::default()
    }

    /// Every record so far, in order.
    pub fn records(&self) -> Vec<Record> {
        self.inner.lock().unwrap().records.clone()
    }

    /// Runs `read` on the records so far, without copying them (the recorder stays
    /// locked meanwhile: `read` must not emit, nor run the loop).
    pub fn with_records<R>(&self, read: impl FnOnce(&[Record]) -> R) -> R {
        read(&self.inner.lock().unwrap().records)
    }

    /// Every event so far, without timestamps.
    pub fn events(&self) -> Vec<Event> {
        let inner = self.inner.lock().unwrap();
        inner.records.iter().map(|r| r.event.clone()).collect()
    }

    /// The records as the printer would print them, one string a line.
    pub fn lines(&self) -> Vec<String> {
        let inner = self.inner.lock().unwrap();
        inner
            .records
            .iter()
            .filter(|r| r.event.is_printed())
            .map(|r| render_line(r, &inner.names))
            .collect()
    }

    /// How many records there are so far.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().records.len()
    }

    /// Whether nothing has been recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records from index `start` on (for a viewer that shows a run piece by
    /// piece, such as `--step`), and as the printer would print them.
    pub fn since(&self, start: usize) -> (Vec<Record>, Vec<String>) {
        let inner = self.inner.lock().unwrap();
        let new = inner.records.get(start..).unwrap_or_default();
        let lines = new
            .iter()
            .filter(|r| r.event.is_printed())
            .map(|r| render_line(r, &inner.names))
            .collect();
        (new.to_vec(), lines)
    }

    /// Forgets every record.
    pub fn clear(&self) {
        self.inner.lock().unwrap().records.clear();
    }
}

/// The runtime's side of tracing: decides whether anything listens, and sends each
/// event to the printer and the recorder.
///
/// It reads the runtime's clock itself (through `clock`, a closure because the clock
/// belongs to chapter 6), so every part of the runtime can shout an event without
/// first asking what time it is.
pub(crate) struct Tracer {
    output: TraceOutput,
    recorder: Option<Recorder>,
    // The printer needs task names for every line; the recorder keeps its own copy.
    names: std::cell::RefCell<HashMap<TaskId, String>>,
    clock: Box<dyn Fn() -> Duration>,
}

impl Tracer {
    /// A tracer that stamps events with `clock()`.
    pub(crate) fn new(
        output: TraceOutput,
        recorder: Option<Recorder>,
        clock: impl Fn() -> Duration + 'static,
    ) -> Tracer {
        let mut names = HashMap::new();
        names.insert(TaskId(0), "main".to_string());
        if let Some(rec) = &recorder {
            rec.inner
                .lock()
                .unwrap()
                .names
                .insert(TaskId(0), "main".to_string());
        }
        Tracer {
            output,
            recorder,
            names: std::cell::RefCell::new(names),
            clock: Box::new(clock),
        }
    }

    /// The runtime's clock.
    pub(crate) fn now(&self) -> Duration {
        (self.clock)()
    }

    /// Whether any sink listens. Callers check this before building an event, so a
    /// runtime without tracing pays one branch per event site.
    #[inline]
    pub(crate) fn enabled(&self) -> bool {
        self.output != TraceOutput::Off || self.recorder.is_some()
    }

    /// Sends `event`, stamped with the clock, to whoever listens. Free when no one
    /// does; callers that must build an event at some cost ask [`enabled`](Self::enabled)
    /// first.
    #[inline]
    pub(crate) fn emit(&self, event: Event) {
        if self.enabled() {
            self.emit_at(self.now(), event);
        }
    }

    fn emit_at(&self, at: Duration, event: Event) {
        if let Event::Spawn { task, name, .. } = &event
            && !name.is_empty()
        {
            self.names.borrow_mut().insert(*task, name.clone());
            if let Some(rec) = &self.recorder {
                rec.inner.lock().unwrap().names.insert(*task, name.clone());
            }
        }
        let record = Record { at, event };
        if self.output != TraceOutput::Off && record.event.is_printed() {
            let line = render_line(&record, &self.names.borrow());
            // A trace line that cannot be written (closed pipe) is not worth a panic.
            let _ = match self.output {
                TraceOutput::Stdout => writeln!(std::io::stdout().lock(), "{line}"),
                TraceOutput::Stderr => writeln!(std::io::stderr().lock(), "{line}"),
                TraceOutput::Off => Ok(()),
            };
        }
        if let Some(rec) = &self.recorder {
            rec.inner.lock().unwrap().records.push(record);
        }
    }
}

/// Width of the "who" column; names longer than this push the "what" column right.
const WHO_WIDTH: usize = 24;

fn task_label(task: TaskId, names: &HashMap<TaskId, String>) -> String {
    match names.get(&task) {
        Some(name) => format!("{task} {name}"),
        None => task.to_string(),
    }
}

fn task_list(tasks: &[TaskId]) -> String {
    let labels: Vec<String> = tasks.iter().map(|t| t.to_string()).collect();
    labels.join(", ")
}

/// A time as the trace prints it, and the page shows it: seconds to the millisecond,
/// `1.500s`.
pub(crate) fn secs(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

/// Formats one record as a trace line: time, who, what.
fn render_line(record: &Record, names: &HashMap<TaskId, String>) -> String {
    let (who, what) = record.event.describe(names);
    let mut line = String::new();
    let _ = write!(
        line,
        "{:>8}  {:<width$} {}",
        secs(record.at),
        who,
        what,
        width = WHO_WIDTH
    );
    line.truncate(line.trim_end().len());
    line
}

impl Event {
    /// Whether the printer shows this event. Only [`Event::TurnEnded`] is kept for
    /// the recorder alone.
    pub fn is_printed(&self) -> bool {
        !matches!(self, Event::TurnEnded { .. })
    }

    /// The event as the printer shows it: who did it, and what happened.
    pub fn describe(&self, names: &HashMap<TaskId, String>) -> (String, String) {
        let task_or_loop = |t: &Option<TaskId>| match t {
            Some(t) => task_label(*t, names),
            None => "loop".to_string(),
        };
        match self {
            Event::BlockOnStart => (task_label(TaskId(0), names), "block_on: start".into()),
            Event::BlockOnReturn { elapsed } => (
                task_label(TaskId(0), names),
                format!("block_on returns after {}", secs(*elapsed)),
            ),
            Event::Spawn { parent, task, .. } => (
                task_or_loop(parent),
                format!("spawn {}", task_label(*task, names)),
            ),
            Event::Poll { task } => (task_label(*task, names), "poll".into()),
            Event::Pending { task } => (task_label(*task, names), "-> Pending".into()),
            Event::Ready { task } => (task_label(*task, names), "-> Ready (done)".into()),
            Event::Panicked { task, message } => (
                task_label(*task, names),
                format!("-> panicked: {message:?} (its JoinHandle gets the error)"),
            ),
            Event::WokenByTask { task, by } if task == by => {
                (task_label(*by, names), "wakes itself (yield)".into())
            }
            Event::WokenByTask { task, by } => (
                task_label(*by, names),
                format!("wakes {}", task_label(*task, names)),
            ),
            Event::WokenByThread { task } => (
                "thread".into(),
                format!("another thread woke {}", task_label(*task, names)),
            ),
            Event::Note { task, text } => (task_or_loop(task), format!("\"{text}\"")),
            Event::Park {
                timeout,
                timers,
                sources,
            } => {
                let until = match timeout {
                    Some(t) if t.is_zero() => "a timer is due already".to_string(),
                    Some(t) => format!("next deadline in {} ms", t.as_millis()),
                    // Nothing in the loop itself can end this park. If no other
                    // thread holds a waker either, the program hangs here: the classic
                    // symptom of a lost wakeup.
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
            Event::Unpark { reason } => {
                let why = match reason {
                    UnparkReason::Deadline => "deadline reached".to_string(),
                    UnparkReason::ClockJump => {
                        "nothing to do: clock jumps to the next deadline".to_string()
                    }
                    UnparkReason::Io(n) => format!("{n} I/O event{}", plural(*n)),
                    UnparkReason::RemoteWake => "woken by another thread".to_string(),
                    UnparkReason::Nothing => "nothing happened".to_string(),
                };
                ("loop".into(), format!("unpark: {why}"))
            }
            Event::TimerArmed {
                task,
                timer,
                deadline,
                level,
                slot,
            } => (
                task_or_loop(task),
                format!(
                    "timer #{timer} armed: deadline {}, wheel level {level} slot {slot}",
                    secs(*deadline)
                ),
            ),
            Event::TimerCascaded {
                timer,
                from_level,
                to_level,
                slot,
            } => (
                "timer".into(),
                format!(
                    "#{timer} cascades from level {from_level} to level {to_level} slot {slot}"
                ),
            ),
            Event::TimersFired { timers, woke } => {
                let ids: Vec<String> = timers.iter().map(|t| format!("#{t}")).collect();
                let mut what = format!("{} fired", ids.join(" "));
                if !woke.is_empty() {
                    let _ = write!(what, " -> wake {}", task_list(woke));
                }
                ("timer".into(), what)
            }
            Event::TimerCancelled { timer } => ("timer".into(), format!("#{timer} cancelled")),
            Event::IoRegistered {
                task,
                token,
                what,
                interest,
            } => (
                task_or_loop(task),
                format!("io: {what} registered as token {token}, interest {interest}"),
            ),
            Event::IoReady {
                token,
                readable,
                writable,
                woke,
            } => {
                let mut ready = Vec::new();
                if *readable {
                    ready.push("readable");
                }
                if *writable {
                    ready.push("writable");
                }
                let mut what = format!("token {token} {}", ready.join("+"));
                if !woke.is_empty() {
                    let _ = write!(what, " -> wake {}", task_list(woke));
                }
                ("io".into(), what)
            }
            Event::IoWouldBlock { task, token, op } => (
                task_or_loop(task),
                format!("io: {op} on token {token} would block; wait for readiness"),
            ),
            Event::IoWait { task, token, op } => (
                task_or_loop(task),
                format!("io: {op} on token {token} waits for readiness"),
            ),
            Event::IoDeregistered { token } => ("io".into(), format!("token {token} deregistered")),
            Event::IoDone {
                task,
                token,
                op,
                bytes,
            } => (
                task_or_loop(task),
                match (*op, *bytes) {
                    ("read", 0) => format!("io: read on token {token}: end of stream"),
                    ("read", n) => format!("io: read {n} bytes on token {token}"),
                    (_, n) => format!("io: wrote {n} bytes on token {token}"),
                },
            ),
            Event::TurnEnded { turn } => ("loop".into(), format!("turn {turn} ends")),
            Event::SlowPoll { task, took } => (
                task_label(*task, names),
                format!(
                    "WARNING: one poll held the loop for {} ms; nothing else ran meanwhile",
                    took.as_millis()
                ),
            ),
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_align_time_who_and_what() {
        let rec = Recorder::new();
        let tracer = Tracer::new(TraceOutput::Off, Some(rec.clone()), || Duration::ZERO);
        tracer.emit_at(
            Duration::ZERO,
            Event::Spawn {
                parent: Some(TaskId(0)),
                task: TaskId(1),
                name: "find_users(3)".into(),
            },
        );
        tracer.emit_at(Duration::from_millis(1000), Event::Poll { task: TaskId(1) });
        assert_eq!(
            rec.lines(),
            vec![
                "  0.000s  task 0 main              spawn task 1 find_users(3)",
                "  1.000s  task 1 find_users(3)     poll",
            ]
        );
    }

    #[test]
    fn a_disabled_tracer_reports_itself_disabled() {
        assert!(!Tracer::new(TraceOutput::Off, None, || Duration::ZERO).enabled());
        assert!(Tracer::new(TraceOutput::Off, Some(Recorder::new()), || Duration::ZERO).enabled());
    }
}
