//! The executor: the loop itself (chapter 5).
//!
//! Everything else in looplab exists to feed this loop. One turn is five steps, and
//! `Executor::run` is exactly these five calls:
//!
//! 1. **Run the ready tasks.** Poll main (the `block_on` future) if it was woken, then
//!    the tasks that are in the run queue at that moment, once each. So a task that
//!    main spawns or wakes runs in this same turn, right after main; a task spawned or
//!    woken by another task waits for the next turn, which is why a task that keeps
//!    waking itself cannot starve the rest (`run_queue.rs`, rule 4).
//! 2. **Stop** if main is done.
//! 3. **Choose how long to park**: not at all while tasks are ready (but every 64
//!    polls a zero-timeout peek at I/O, so busy tasks cannot starve the sockets),
//!    else until the next timer's deadline, else until something happens.
//! 4. **Park** for that long: wait in the reactor for sockets (and for wakes from
//!    other threads), and under virtual time jump the clock instead of waiting
//!    (`park.rs`).
//! 5. **Fire the due timers**: wake the tasks whose deadlines passed.
//!
//! Steps 4 and 5 need the timer wheel (chapter 6) and the reactor (chapter 7). This
//! file sees them only through the small `Park` trait, which `runtime.rs`
//! implements once those chapters have built the parts; so chapter 5 reads on its own.
//!
//! That is asyncio's `BaseEventLoop._run_once` too: its `_ready` deque is the run queue,
//! `call_soon` is a wake, the selector's timeout is step 3, `call_later`'s heap is the
//! timer wheel. tokio's current-thread scheduler is the same loop with more care
//! (a budget per task, I/O checked every 61 polls).
//!
//! Data flows one way: tasks -> wakers -> run queue -> poll. Nothing here calls into
//! a task except through `poll`.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::join::JoinHandle;
use crate::run_queue::{Injector, RunQueue};
use crate::stats::{Counter, StatsReport, TimeCounter};
use crate::task::{Header, Schedule, TaskId, TaskKey, TaskOutcome, new_task};
use crate::task_table::TaskTable;
use crate::trace::{Event, Tracer};

/// While tasks are ready the loop does not park, but it still peeks at the reactor
/// (with a zero timeout) after this many polls, so busy tasks cannot starve I/O. A
/// syscall per turn would cost more than the polls themselves in a yield-heavy program.
const POLLS_BETWEEN_IO_CHECKS: u64 = 64;

/// While tracing, polls are counted task by task for the first this many tasks (main
/// included); the polls of all later tasks are counted together, so a traced run of
/// 20,000 tasks keeps 64 counters, not 20,000.
const TASKS_COUNTED_ONE_BY_ONE: usize = 64;

/// How long step 4 may wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParkTimeout {
    /// Do not wait: only collect what the reactor has already (tasks are ready).
    Zero,
    /// Until the runtime's clock reaches this deadline (the next timer's).
    Until(Duration),
    /// Until a socket or another thread has news (no timer is armed).
    Forever,
}

/// What the loop parks in, and whose timers it fires: steps 3 to 5 seen from here.
/// `runtime.rs` implements it with the timer wheel of chapter 6 and the reactor of
/// chapter 7.
pub(crate) trait Park {
    /// The nearest timer deadline, on the runtime's clock (step 3).
    fn next_deadline(&self) -> Option<Duration>;
    /// Waits for at most `timeout` (step 4), wakes the tasks whose sockets became
    /// ready, and says how the wait went.
    fn park(&self, timeout: ParkTimeout) -> ParkReport;
    /// Wakes the tasks whose timers are due (step 5).
    fn fire_due_timers(&self);
    /// Called after each completed turn (the `--step` view), with its step 4.
    fn turn_ended(&self, park: ParkReport);
}

/// A snapshot of the loop between two turns, for [`Builder::on_turn`](crate::Builder::on_turn)
/// (the `--step` view).
#[derive(Clone, Debug)]
pub struct TurnView {
    /// Turns completed so far.
    pub turn: u64,
    /// The runtime's clock.
    pub now: Duration,
    /// Whether main (the `block_on` future) is woken and will be polled first in the
    /// next turn: it has no place in the run queue, only a flag.
    pub main_woken: bool,
    /// Tasks waiting in the run queue, in order.
    pub run_queue: Vec<TaskId>,
    /// How this turn's step 4 went.
    pub park: ParkReport,
    /// The wheel's hand: the tick (millisecond) it has advanced to. Slots are absolute:
    /// a timer sits where its deadline's digits say, counted from tick 0, not from now.
    pub wheel_tick: u64,
    /// Timers in the wheel, by level and slot.
    pub timers: Vec<TimerView>,
    /// I/O registrations, by token.
    pub io: Vec<IoView>,
}

/// One timer in the `--step` view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimerView {
    /// Its number, as the trace prints it ("timer #3").
    pub timer: u64,
    /// When it is due, on the runtime's clock.
    pub deadline: Duration,
    /// Its wheel level.
    pub level: usize,
    /// Its slot on that level.
    pub slot: usize,
    /// The task that armed it.
    pub task: Option<TaskId>,
}

/// One registered socket in the `--step` view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoView {
    /// Its token, as the trace prints it.
    pub token: usize,
    /// What it is: "listener", "stream", ...
    pub what: &'static str,
    /// Readiness as the reactor last saw it: readable since the last read that would
    /// have blocked.
    pub readable: bool,
    /// The same for writing.
    pub writable: bool,
    /// The task waiting to read (the first, if several wait).
    pub reader: Option<TaskId>,
    /// The task waiting to write.
    pub writer: Option<TaskId>,
    /// A socket of the runtime's simulated network (virtual time, `sim_net/`), not a
    /// real one on the reactor.
    pub simulated: bool,
}

/// How step 4 of a turn went.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ParkReport {
    /// No park at all: tasks were ready, and the I/O check was not due.
    #[default]
    Skipped,
    /// Tasks were ready, so only a zero-timeout look at the reactor (the I/O check
    /// every 64 polls): it found this many I/O events.
    Peeked {
        /// Readiness events found.
        events: usize,
    },
    /// A real wait in `epoll_wait`, this long in wall time.
    Waited {
        /// Wall time spent waiting.
        waited: Duration,
        /// What ended it.
        ended_by: crate::trace::UnparkReason,
    },
    /// Virtual time: nothing could happen before the next deadline, so the clock
    /// jumped there instead of waiting.
    Jumped {
        /// The clock before the jump.
        from: Duration,
        /// The clock after.
        to: Duration,
    },
}

/// The executor's own counters.
#[derive(Default)]
struct ExecutorCounters {
    spawned: Counter,
    polls: Counter,
    later_polls_pending: Counter,
    completed: Counter,
    panicked: Counter,
    turns: Counter,
    busy: TimeCounter,
    /// Only filled while tracing (a map update per poll is too dear otherwise), and
    /// for at most `TASKS_COUNTED_ONE_BY_ONE` tasks.
    polls_per_task: std::cell::RefCell<std::collections::BTreeMap<TaskId, u64>>,
    /// Polls of the tasks past that limit (only while tracing).
    polls_of_other_tasks: Counter,
    /// Whether main has been polled yet (only while tracing).
    main_polled: Cell<bool>,
}

/// The loop and what it owns: every live task, the run queue, the task being polled,
/// and the numbers it hands out to new tasks.
pub(crate) struct Executor {
    tasks: TaskTable,
    run_queue: RunQueue,
    /// Given to every new task: where its wakes go.
    scheduler: Arc<dyn Schedule>,
    /// The task being polled right now (`None` between polls). Wakes, spawns, timers
    /// and notes made during a poll are attributed to it in the trace.
    current_task: Cell<Option<TaskId>>,
    next_task_id: Cell<u64>,
    /// Polls since the reactor was last asked (step 3's I/O-check budget).
    polls_since_io_check: Cell<u64>,
    tracer: Rc<Tracer>,
    /// A poll longer than this (wall time) is reported as a slow poll.
    slow_poll_threshold: Duration,
    counters: ExecutorCounters,
}

impl Executor {
    pub(crate) fn new(
        run_queue: RunQueue,
        scheduler: Arc<dyn Schedule>,
        tracer: Rc<Tracer>,
        slow_poll_threshold: Duration,
    ) -> Executor {
        Executor {
            tasks: TaskTable::default(),
            run_queue,
            scheduler,
            current_task: Cell::new(None),
            next_task_id: Cell::new(1),
            polls_since_io_check: Cell::new(0),
            tracer,
            slow_poll_threshold,
            counters: ExecutorCounters::default(),
        }
    }

    /// Runs the loop until `main` completes. The heart of the crate: one iteration is
    /// one turn, and each step is one call.
    pub(crate) fn run<F: Future>(
        &self,
        mut main: Pin<&mut F>,
        main_waker: &Waker,
        park: &impl Park,
    ) -> F::Output {
        let started = self.tracer.now();
        self.tracer.emit(Event::BlockOnStart);
        // Main's first poll is what starts the loop.
        self.run_queue.injector().wake_main(true);
        loop {
            let main_output = self.run_ready_tasks(main.as_mut(), main_waker); // 1
            if let Some(output) = main_output {
                return self.stop(started, output); // 2
            }
            let timeout = self.choose_park_timeout(park); // 3
            let parked = match timeout {
                Some(timeout) => park.park(timeout), // 4
                None => ParkReport::Skipped,
            };
            park.fire_due_timers(); // 5
            self.end_turn(park, parked);
        }
    }

    /// Step 1: polls main if it was woken, then every task queued at that moment.
    /// Returns main's output if main finished.
    fn run_ready_tasks<F: Future>(
        &self,
        main: Pin<&mut F>,
        main_waker: &Waker,
    ) -> Option<F::Output> {
        let mut polls = 0;
        if self.run_queue.take_main_wake() {
            if let Poll::Ready(output) = self.poll_main(main, main_waker) {
                return Some(output);
            }
            polls += 1;
        }
        self.run_queue.take_wakes_from_other_threads();
        let queued_now = self.run_queue.len();
        for _ in 0..queued_now {
            let Some(key) = self.run_queue.pop() else {
                break;
            };
            self.poll_task(key);
        }
        polls += queued_now as u64;
        self.polls_since_io_check
            .set(self.polls_since_io_check.get() + polls);
        None
    }

    /// Step 2: main is done; the loop stops and `block_on` returns its output. This
    /// last turn counts as a turn too, though it never reaches steps 3 to 5.
    fn stop<T>(&self, started: Duration, output: T) -> T {
        self.counters.turns.bump();
        let elapsed = self.tracer.now().saturating_sub(started);
        self.tracer.emit(Event::BlockOnReturn { elapsed });
        output
    }

    /// Step 3: `None` means "do not park at all" (tasks are ready and the I/O check
    /// is not due yet).
    fn choose_park_timeout(&self, park: &impl Park) -> Option<ParkTimeout> {
        if self.run_queue.has_work() {
            if self.polls_since_io_check.get() < POLLS_BETWEEN_IO_CHECKS {
                return None;
            }
            self.polls_since_io_check.set(0);
            return Some(ParkTimeout::Zero);
        }
        self.polls_since_io_check.set(0);
        Some(match park.next_deadline() {
            Some(deadline) => ParkTimeout::Until(deadline),
            None => ParkTimeout::Forever,
        })
    }

    /// After step 5: count the turn and let an observer look at the loop.
    fn end_turn(&self, park: &impl Park, parked: ParkReport) {
        self.counters.turns.bump();
        if self.tracer.enabled() {
            self.tracer.emit(Event::TurnEnded {
                turn: self.counters.turns.get(),
            });
        }
        park.turn_ended(parked);
    }

    fn poll_main<F: Future>(&self, main: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
        let mut cx = Context::from_waker(waker);
        self.before_poll(TaskId(0));
        let started = self.tracer.enabled().then(std::time::Instant::now);
        let first = started.is_some() && !self.counters.main_polled.replace(true);
        let result = main.poll(&mut cx);
        self.after_poll(TaskId(0), started, first, result.is_pending());
        if result.is_ready() {
            self.tracer.emit(Event::Ready { task: TaskId(0) });
        }
        result
    }

    /// Polls the task `key` names, if it is still live.
    fn poll_task(&self, key: TaskKey) {
        // A finished task's key can still be in the queue if a wake raced with its
        // completion; its slot may hold another task by now.
        let Some(mut task) = self.tasks.take_for_poll(key) else {
            return;
        };
        let header = task.header();
        let (id, woken_remotely) = (header.id(), header.take_woken_remotely());
        if woken_remotely {
            self.tracer.emit(Event::WokenByThread { task: id });
        }
        self.before_poll(id);
        let started = self.tracer.enabled().then(std::time::Instant::now);
        let first = started.is_some() && task.header().first_poll();
        match task.poll() {
            Poll::Pending => {
                self.tasks.put_back(key, task);
                self.after_poll(id, started, first, true);
            }
            Poll::Ready(outcome) => {
                // The future is dropped already: its own trace lines (sockets closed,
                // timers cancelled) come before "Ready".
                self.tasks.remove(key);
                drop(task);
                self.after_poll(id, started, first, false);
                match outcome {
                    TaskOutcome::Completed => {
                        self.counters.completed.bump();
                        self.tracer.emit(Event::Ready { task: id });
                    }
                    TaskOutcome::Panicked(message) => {
                        self.counters.panicked.bump();
                        self.tracer.emit(Event::Panicked { task: id, message });
                    }
                }
            }
        }
    }

    fn before_poll(&self, task: TaskId) {
        self.current_task.set(Some(task));
        self.counters.polls.bump();
        // Asked first, so a loop that nobody traces does not even build the event.
        if self.tracer.enabled() {
            self.tracer.emit(Event::Poll { task });
        }
    }

    /// Bookkeeping after a poll. `started` is the wall-clock start, taken only while
    /// tracing (reading the clock twice per poll is not free); `first` says whether it
    /// was the task's first poll. `Ready` and `Panicked` are traced by the caller.
    fn after_poll(
        &self,
        task: TaskId,
        started: Option<std::time::Instant>,
        first: bool,
        pending: bool,
    ) {
        self.current_task.set(None);
        let Some(started) = started else {
            return;
        };
        let took = started.elapsed();
        self.counters.busy.add(took);
        {
            let mut per_task = self.counters.polls_per_task.borrow_mut();
            let room = per_task.len() < TASKS_COUNTED_ONE_BY_ONE;
            match per_task.get_mut(&task) {
                Some(n) => *n += 1,
                None if room => {
                    per_task.insert(task, 1);
                }
                None => self.counters.polls_of_other_tasks.bump(),
            }
        }
        if pending && !first {
            self.counters.later_polls_pending.bump();
        }
        if took >= self.slow_poll_threshold {
            self.tracer.emit(Event::SlowPoll { task, took });
        }
        if pending {
            self.tracer.emit(Event::Pending { task });
        }
    }

    /// Spawns `future` as a new task, queued to run (see rule 4 of `run_queue.rs`
    /// for which turn).
    pub(crate) fn spawn<F>(&self, name: impl Into<String>, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let id = TaskId(self.next_task_id.get());
        self.next_task_id.set(id.0 + 1);
        let scheduler = self.scheduler.clone();
        let task = self
            .tasks
            .insert(id, |key| new_task(id, key, future, scheduler));
        if self.tracer.enabled() {
            self.tracer.emit(Event::Spawn {
                parent: self.current_task.get(),
                task: id,
                name: name.into(),
            });
        }
        self.counters.spawned.bump();
        self.run_queue.push(task.header());
        JoinHandle::new(task)
    }

    /// A wake on the loop's own thread: trace who woke whom, then queue the task.
    pub(crate) fn wake_here(&self, task: &Header) {
        if let Some(by) = self.current_task.get()
            && self.tracer.enabled()
            && !task.is_finished()
        {
            self.tracer.emit(Event::WokenByTask {
                task: task.id(),
                by,
            });
        }
        self.run_queue.push(task);
    }

    /// A wake of main on the loop's own thread.
    pub(crate) fn wake_main_here(&self) {
        if let Some(by) = self.current_task.get() {
            self.tracer.emit(Event::WokenByTask {
                task: TaskId(0),
                by,
            });
        }
        self.run_queue.injector().wake_main(true);
    }

    /// The run queue's door for wakes from other threads (main's waker holds it).
    pub(crate) fn injector(&self) -> Arc<Injector> {
        self.run_queue.injector().clone()
    }

    /// The task being polled, if any: wakes, timers and sockets it creates are
    /// attributed to it.
    pub(crate) fn current_task(&self) -> Option<TaskId> {
        self.current_task.get()
    }

    /// Turns completed so far.
    pub(crate) fn turns(&self) -> u64 {
        self.counters.turns.get()
    }

    /// Whether main is woken and waits for its poll (the `--step` view).
    pub(crate) fn main_is_woken(&self) -> bool {
        self.run_queue.main_is_woken()
    }

    /// The queued tasks, in the order they will run (the `--step` view).
    pub(crate) fn queued_task_ids(&self) -> Vec<TaskId> {
        let keys = self.run_queue.keys();
        keys.into_iter()
            .filter_map(|key| self.tasks.id_of(key))
            .collect()
    }

    /// The runtime is being dropped: every unfinished task is abandoned, its future
    /// dropped (its sockets closed, its timers cancelled) even if a `JoinHandle` still
    /// holds the task.
    pub(crate) fn abandon_all_tasks(&self) {
        for task in self.tasks.take_all() {
            task.abandon();
        }
    }

    /// Fills in the executor's counters.
    pub(crate) fn report_into(&self, report: &mut StatsReport) {
        let c = &self.counters;
        report.spawned = c.spawned.get();
        report.polls = c.polls.get();
        report.later_polls_pending = c.later_polls_pending.get();
        report.completed = c.completed.get();
        report.panicked = c.panicked.get();
        report.turns = c.turns.get();
        report.busy = c.busy.get();
        report.polls_per_task = c.polls_per_task.borrow().clone();
        report.polls_of_other_tasks = c.polls_of_other_tasks.get();
    }
}
