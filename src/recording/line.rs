//! The lines of a recording, as Rust types: what `docs/recording.md` describes.
//!
//! Each type derives serde's `Serialize` and `Deserialize`, so the JSON a line becomes
//! is decided here and nowhere else: struct fields are written in the order they are
//! declared, every field is always written (an absent value is `null`, an empty list
//! `[]`), and times are integer nanoseconds. That is what makes a recording the same
//! bytes on every run of a deterministic program.
//!
//! Two loops fill these types. Where they differ, the type says so: a timer sits in
//! looplab's wheel at a level and slot, or in asyncio's heap at a position
//! ([`Place`]); what runs is a task, or (asyncio only) a plain callback
//! ([`Runnable`]); an I/O source is keyed by a mio token or by a file descriptor
//! ([`IoKeys`]).

use serde::{Deserialize, Serialize};

/// The format's name, in every header.
pub const FORMAT: &str = "looplab-recording";

/// The version this crate writes and reads.
pub const VERSION: u64 = 1;

/// The first line of every recording: what the file is and how to read the rest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`] for the files this crate writes.
    pub version: u64,
    /// Which loop made the recording.
    pub source: Source,
    /// Whether times are wall time or the virtual clock's.
    pub clock: Clock,
    /// How the loop keeps its timers, which says what a [`Place`] holds.
    pub timers: TimerLayout,
    /// What an I/O source's `key` is.
    pub io_keys: IoKeys,
    /// What was run, for a viewer's title: `looplab lookup --requests 3,2,1`,
    /// `python/seed_async.py`.
    pub program: String,
}

/// Which loop made the recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// looplab's executor.
    Looplab,
    /// Python's asyncio, through `python/asyncio_record.py`.
    Asyncio,
}

/// The clock the times were read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// Wall time: a second in the file took a second.
    Real,
    /// The virtual clock, which jumps to the next deadline when nothing is ready:
    /// times are exact, and the file is the same bytes on every run.
    Virtual,
}

/// How the loop keeps its timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerLayout {
    /// looplab's hierarchical wheel: a timer has a level and a slot.
    Wheel,
    /// asyncio's `_scheduled`, a binary heap of `TimerHandle`s ordered by deadline.
    Heap,
}

/// What identifies an I/O source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IoKeys {
    /// looplab's reactor: the mio token.
    Token,
    /// asyncio's selector: the file descriptor.
    Fd,
}

/// Every line after the header: when, and what happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Nanoseconds since the loop started, on the header's clock.
    pub at_ns: u64,
    /// What happened, named by the line's `"kind"`.
    #[serde(flatten)]
    pub kind: Kind,
}

/// What the loop runs: a task, or (asyncio) a plain callback.
///
/// In JSON `{"task":1}` or `{"callback":"_SelectorSocketTransport._read_ready"}`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Runnable {
    /// A task by its number. looplab's main (the `block_on` future) is task 0;
    /// asyncio's first task (the one `asyncio.run` makes) is task 0 too.
    Task(u64),
    /// A plain callback by its qualified name (asyncio's `Handle` that is no task's
    /// step).
    Callback(String),
}

/// Who caused a wake.
///
/// In JSON `{"task":1}`, `{"callback":"..."}`, `{"timer":3}`, `{"io":7}`, `"thread"` or
/// `"outside"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum By {
    /// A task, while it was polled (or itself: a yield).
    Task(u64),
    /// A plain callback, while it ran.
    Callback(String),
    /// A timer, as it fired.
    Timer(u64),
    /// Readiness on an I/O source (its key).
    Io(u64),
    /// Another OS thread.
    Thread,
    /// Code outside any poll, on the loop's thread: asyncio's `asyncio.run` making the
    /// first task before the loop runs it.
    Outside,
}

/// How a wake reached the run queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// The task was just created, and creating it queued it (looplab's `spawn`;
    /// asyncio's `Task()`, whose constructor `call_soon`s its first step).
    Spawn,
    /// looplab: a `Waker`'s `wake`.
    Waker,
    /// asyncio: `loop.call_soon`.
    CallSoon,
    /// asyncio: `loop.call_soon_threadsafe`, from another thread.
    CallSoonThreadsafe,
    /// asyncio: a future finished and `call_soon`ed its done-callback (a task's
    /// wakeup, or a plain callback): the line that ties the future to who waits on it.
    Future,
    /// asyncio: the selector reported the source ready, and `_process_events` put the
    /// reader's or writer's handle straight into `_ready`.
    Selector,
}

/// Where a timer sits, which depends on the header's [`TimerLayout`].
///
/// In JSON `{"wheel":{"level":1,"slot":15}}` or `{"heap":0}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// looplab: a level of the wheel, and a slot of that level.
    Wheel {
        /// The level (0: milliseconds).
        level: u64,
        /// The slot on that level.
        slot: u64,
    },
    /// asyncio: the index in the `_scheduled` heap list (0: the next to fire).
    Heap(u64),
}

/// How a poll ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PollResult {
    /// The task gave the thread back and waits for a wake.
    Pending,
    /// The task is done.
    Ready,
    /// The poll panicked (looplab) or the task ended with an exception (asyncio); the
    /// line's `message` says what.
    Panicked,
    /// asyncio: the task ended cancelled.
    Cancelled,
    /// asyncio: a plain callback ran (callbacks have no result).
    Ran,
}

/// Why a parked loop runs again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnparkReason {
    /// The timeout ran out: the nearest timer is due.
    Deadline,
    /// Virtual time: nothing was ready, so the clock jumped to the nearest deadline.
    ClockJump,
    /// I/O sources became ready (the line's `events`).
    Io,
    /// Another thread woke the loop.
    RemoteWake,
    /// A zero-timeout look that found nothing.
    Nothing,
}

/// One line's event. The variant's name, in snake case, is the line's `"kind"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Kind {
    /// The loop starts running its main task (`block_on`, `run_until_complete`).
    Start {
        /// The main task (0).
        task: u64,
        /// Its name.
        name: String,
    },
    /// The main task is done and the loop stops. Nothing follows.
    Stop {
        /// How long the run took, on the header's clock.
        elapsed_ns: u64,
    },
    /// A task was created. A `wake` `via` `spawn` follows: creating a task queues it.
    Spawn {
        /// Its number.
        task: u64,
        /// Who created it (`null`: outside any poll).
        parent: Option<Runnable>,
        /// Its name (empty if it has none).
        name: String,
    },
    /// The loop starts running a task's poll or a callback.
    Poll {
        /// What runs.
        who: Runnable,
    },
    /// The poll that began at the last `poll` line ended.
    PollEnd {
        /// What ran.
        who: Runnable,
        /// How it ended.
        result: PollResult,
        /// For `panicked`: the panic's or the exception's message.
        message: Option<String>,
    },
    /// Something was put in the run queue.
    Wake {
        /// What was queued.
        who: Runnable,
        /// Who queued it.
        by: By,
        /// How.
        via: Via,
    },
    /// A line the program wrote: looplab's `trace::note`, asyncio's `print`.
    Note {
        /// Who was running (`null`: the loop itself).
        who: Option<Runnable>,
        /// The text, without its newline.
        text: String,
    },
    /// The loop is about to wait for I/O (looplab's step 4; asyncio's `select`).
    Park {
        /// How long it will wait at most (`null`: until something happens).
        timeout_ns: Option<u64>,
        /// Timers armed.
        timers: u64,
        /// I/O sources registered.
        sources: u64,
    },
    /// The loop runs again after a park.
    Unpark {
        /// Why.
        reason: UnparkReason,
        /// How many readiness events the park returned.
        events: u64,
    },
    /// A timer was armed.
    TimerArmed {
        /// Its number.
        timer: u64,
        /// Who armed it (`null`: the loop).
        who: Option<Runnable>,
        /// When it is due, in nanoseconds on the header's clock.
        deadline_ns: u64,
        /// Where it was put.
        place: Place,
        /// asyncio: the callback it will run (`null` for looplab, whose timers wake
        /// the task that armed them).
        callback: Option<String>,
    },
    /// looplab: a timer moved down a level of the wheel as its deadline came near.
    TimerCascaded {
        /// Its number.
        timer: u64,
        /// The level it left.
        from_level: u64,
        /// The level it moved to.
        to_level: u64,
        /// Its slot there.
        slot: u64,
    },
    /// A timer came due. The wakes it causes follow, `by` `{"timer":N}`.
    TimerFired {
        /// Its number.
        timer: u64,
    },
    /// A timer was cancelled before it fired.
    TimerCancelled {
        /// Its number.
        timer: u64,
    },
    /// An I/O source was registered (looplab's reactor, asyncio's selector).
    IoRegistered {
        /// Its key: token or file descriptor.
        key: u64,
        /// Who registered it (`null`: the loop).
        who: Option<Runnable>,
        /// What it is: "listener", "stream", "self-pipe", ...
        what: String,
        /// What is watched: "read", "write" or "read+write".
        interest: String,
    },
    /// asyncio: a registered source's interest changed (`selector.modify`).
    IoModified {
        /// Its key.
        key: u64,
        /// What is watched now.
        interest: String,
    },
    /// The park reported a source ready. The wakes it causes follow, `by` `{"io":key}`.
    IoReady {
        /// Its key.
        key: u64,
        /// Ready to read (or closed).
        readable: bool,
        /// Ready to write.
        writable: bool,
    },
    /// looplab: an operation hit `WouldBlock` and waits for readiness.
    IoWouldBlock {
        /// Its key.
        key: u64,
        /// Who waits.
        who: Option<Runnable>,
        /// "read", "write", "accept", "connect".
        op: String,
    },
    /// looplab: an operation found its source not ready without asking the kernel,
    /// and waits for readiness.
    IoWait {
        /// Its key.
        key: u64,
        /// Who waits.
        who: Option<Runnable>,
        /// "read", "write", "accept", "connect".
        op: String,
    },
    /// looplab: a read or a write succeeded (a read of 0 bytes: end of stream).
    IoDone {
        /// Its key.
        key: u64,
        /// Who ran it.
        who: Option<Runnable>,
        /// "read" or "write".
        op: String,
        /// How many bytes.
        bytes: u64,
    },
    /// An I/O source left the reactor or the selector.
    IoDeregistered {
        /// Its key.
        key: u64,
    },
    /// looplab, virtual time: the clock jumped while tasks waited on sockets whose peer
    /// is outside the runtime.
    JumpPastOutside {
        /// The keys waited on.
        keys: Vec<u64>,
    },
    /// looplab, virtual time: a settle stopped waiting for owed I/O; from here runs may
    /// differ.
    SettleGaveUp,
    /// One poll held the loop too long.
    SlowPoll {
        /// The task.
        who: Runnable,
        /// How long, in wall time.
        took_ns: u64,
    },
    /// A turn of the loop ended.
    Turn {
        /// Turns completed so far, this one included.
        turn: u64,
        /// The state the next turn starts from, as `--step` shows it (`null` where the
        /// recorder did not take it).
        state: Option<TurnState>,
    },
}

/// The loop's state at the end of a turn: everything `--step` shows, so a viewer has
/// nothing to rebuild.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnState {
    /// looplab: main was woken and is polled first next turn (it has a flag, not a
    /// place in the queue). asyncio: task 0's step is in `_ready` (where it also
    /// appears in `run_queue`).
    pub main_woken: bool,
    /// What the next turn runs, in order (looplab's run queue; asyncio's `_ready`).
    pub run_queue: Vec<Runnable>,
    /// How this turn's park went.
    pub park: ParkOutcome,
    /// looplab: the tick (millisecond) the wheel's hand has reached. asyncio: `null`.
    pub wheel_tick: Option<u64>,
    /// The armed timers, in the loop's own order: by level, slot and number in the
    /// wheel; by heap index in asyncio.
    pub timers: Vec<TimerState>,
    /// The registered I/O sources, by key.
    pub io: Vec<IoState>,
}

/// How a turn's park went.
///
/// In JSON an object whose `"how"` names the variant:
/// `{"how":"waited","waited_ns":1000000,"ended_by":"deadline"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum ParkOutcome {
    /// No park: tasks were ready.
    Skipped,
    /// Tasks were ready, so only a zero-timeout look at I/O.
    Peeked {
        /// Readiness events found.
        events: u64,
    },
    /// looplab, virtual time: the sockets settled without the clock moving.
    Settled {
        /// Readiness events found.
        events: u64,
    },
    /// A real wait.
    Waited {
        /// Wall time waited.
        waited_ns: u64,
        /// What ended it.
        ended_by: UnparkReason,
        /// Readiness events found.
        events: u64,
    },
    /// Virtual time: the clock jumped instead of waiting.
    Jumped {
        /// The clock before.
        from_ns: u64,
        /// The clock after.
        to_ns: u64,
    },
}

/// One armed timer in a [`TurnState`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerState {
    /// Its number.
    pub timer: u64,
    /// When it is due.
    pub deadline_ns: u64,
    /// Where it sits now.
    pub place: Place,
    /// Who armed it.
    pub who: Option<Runnable>,
    /// asyncio: the callback it will run.
    pub callback: Option<String>,
}

/// One registered I/O source in a [`TurnState`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoState {
    /// Its key.
    pub key: u64,
    /// What it is.
    pub what: String,
    /// What is watched: "read", "write" or "read+write".
    pub interest: String,
    /// Readable as the loop last saw it.
    pub readable: bool,
    /// Writable as the loop last saw it.
    pub writable: bool,
    /// Who waits to read (looplab: tasks; asyncio: the reader callback).
    pub readers: Vec<Runnable>,
    /// Who waits to write.
    pub writers: Vec<Runnable>,
}

impl Kind {
    /// Every `"kind"` a version-1 line may have, in the order the enum declares them.
    pub const NAMES: &'static [&'static str] = &[
        "start",
        "stop",
        "spawn",
        "poll",
        "poll_end",
        "wake",
        "note",
        "park",
        "unpark",
        "timer_armed",
        "timer_cascaded",
        "timer_fired",
        "timer_cancelled",
        "io_registered",
        "io_modified",
        "io_ready",
        "io_would_block",
        "io_wait",
        "io_done",
        "io_deregistered",
        "jump_past_outside",
        "settle_gave_up",
        "slow_poll",
        "turn",
    ];
}
