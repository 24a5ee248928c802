//! The runtime: the parts of chapters 5 to 7 put together, and the way in
//! (`block_on`, `spawn`).
//!
//! A [`Runtime`] owns one `Core`, and the core owns one of each part, each behind its
//! own door:
//!
//! | part | file | what it owns |
//! |---|---|---|
//! | the executor | `executor.rs` | the run queue (`run_queue.rs`), the task being polled, the loop |
//! | the parker | `park.rs` | step 4: the timers (`time/timers.rs`: clock and wheel), the reactor (`reactor/`) and, under virtual time, the simulated network (`sim_net/`) |
//! | the tracer | `trace/` | where events go, stamped with the clock |
//!
//! The core is what the thread-local of `context.rs` points at while
//! [`Runtime::block_on`] runs, which is how `spawn`, `sleep` and the sockets find
//! their runtime. It is also the one place that knows both a waker's runtime and the
//! loop running on this thread, so it decides which door of the run queue a wake
//! takes (`Schedule` for tasks, the main waker for `block_on`'s future).
//!
//! [`block_on`] is the bridge from ordinary code into the loop (asyncio's
//! `asyncio.run`): it builds a runtime with default settings, runs one future to
//! completion on this thread, and returns its output.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_task::ArcWake;

use crate::context::{self, Entered};
use crate::executor::{Executor, Park, ParkReport, ParkTimeout, TurnView};
use crate::join::JoinHandle;
use crate::park::Parker;
use crate::reactor::Reactor;
use crate::recording::{Capture, Clock as RecordedClock, EnvRecording};
use crate::run_queue::{Injector, RunQueue};
use crate::sim_net::SimNet;
use crate::stats::StatsReport;
use crate::task::{Header, Schedule};
use crate::time::clock::Clock;
use crate::time::timers::Timers;
use crate::trace::{Recorder, TraceOutput, Tracer};

/// Everything one runtime owns. Used only on the thread running the loop.
pub(crate) struct Core {
    id: u64,
    executor: Executor,
    park: Parker,
    tracer: Rc<Tracer>,
    /// Called after each turn of the loop (the `--step` view).
    on_turn: RefCell<Option<TurnHook>>,
    /// Keeps that view after each turn, for the recording.
    capture: Option<Capture>,
}

impl Core {
    /// The runtime's number: sockets and sleeps remember it, to refuse being used in
    /// another runtime.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn executor(&self) -> &Executor {
        &self.executor
    }

    pub(crate) fn timers(&self) -> &Timers {
        self.park.timers()
    }

    pub(crate) fn reactor(&self) -> &Reactor {
        self.park.reactor()
    }

    /// The simulated network: `Some` exactly under virtual time.
    pub(crate) fn sim_net(&self) -> Option<&SimNet> {
        self.park.sim_net()
    }

    pub(crate) fn tracer(&self) -> &Tracer {
        &self.tracer
    }
}

/// The loop's steps 3 to 5, as the executor sees them.
impl Park for Core {
    fn next_deadline(&self) -> Option<Duration> {
        self.park.timers().next_deadline()
    }

    fn park(&self, timeout: ParkTimeout) -> ParkReport {
        self.park.park(timeout)
    }

    #[inline]
    fn fire_due_timers(&self) {
        self.park.timers().fire_due();
    }

    #[inline]
    fn turn_ended(&self, park: ParkReport) {
        // Checked here, inlined into the loop: nearly every run has no one watching,
        // and then a turn's end costs two loads.
        let capture_keeps_turns = self.capture.as_ref().is_some_and(Capture::keeps_turns);
        if capture_keeps_turns || self.on_turn.borrow().is_some() {
            self.show_turn(park, capture_keeps_turns);
        }
    }
}

impl Core {
    /// Hands the turn's view to the capture and the hook that watch the loop.
    fn show_turn(&self, park: ParkReport, capture_keeps_turns: bool) {
        let mut hook = self.on_turn.borrow_mut();
        let view = TurnView {
            turn: self.executor.turns(),
            now: self.timers().now(),
            main_woken: self.executor.main_is_woken(),
            run_queue: self.executor.queued_task_ids(),
            park,
            wheel_tick: self.timers().wheel_tick(),
            timers: self.timers().timers_view(),
            io: {
                let mut io = self.reactor().registrations();
                io.extend(self.sim_net().map(SimNet::sockets).unwrap_or_default());
                io
            },
        };
        if let Some(capture) = self.capture.as_ref().filter(|_| capture_keeps_turns) {
            capture.turn_ended(&view);
        }
        if let Some(hook) = hook.as_mut() {
            hook(&view);
        }
    }
}

/// Runs `on_the_loop` with the core if this thread is running `runtime_id`'s loop;
/// `false` otherwise (another thread, no runtime, or another runtime's loop).
fn on_the_loop_of(runtime_id: u64, on_the_loop: impl FnOnce(&Core)) -> bool {
    context::try_with_core(|core| {
        if core.id != runtime_id {
            return false;
        }
        on_the_loop(core);
        true
    })
    .unwrap_or(false)
}

/// Where a task's wake goes: onto the run queue's deque if this thread runs the
/// task's loop, else through the door for other threads (`run_queue.rs`).
impl Schedule for Injector {
    fn schedule(&self, task: &Header) {
        if !on_the_loop_of(self.runtime_id(), |core| core.executor.wake_here(task)) {
            self.push_remote(task);
        }
    }
}

/// The waker of main, the `block_on` future: the same two doors as a task's, leading
/// to main's flag instead of the deque.
struct MainWaker(Arc<Injector>);

impl ArcWake for MainWaker {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        let injector = &arc_self.0;
        if !on_the_loop_of(injector.runtime_id(), |core| core.executor.wake_main_here()) {
            injector.wake_main(false);
        }
    }
}

/// A function the loop calls after every turn, with a view of its state.
pub type TurnHook = Box<dyn FnMut(&TurnView)>;

/// Spawns a future as a new task on the current runtime and returns its handle.
///
/// The task does not run inside this call (asyncio's `create_task` and tokio's `spawn`
/// behave the same way): it waits in the run queue. Spawned by main (the `block_on`
/// future), it runs later in the same turn, right after main's poll; spawned by
/// another task, in the next turn (`run_queue.rs`, rule 4). Dropping the handle
/// detaches the task; see [`JoinHandle`].
///
/// # Panics
/// Outside a runtime: call it from code that runs inside [`block_on`].
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    context::with_core("looplab::spawn", |core| core.executor.spawn("", future))
}

/// Like [`spawn`], with a name that the trace prints beside the task's number
/// ("task 1 find_users(3)").
pub fn spawn_named<F>(name: impl Into<String>, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    context::with_core("looplab::spawn_named", |core| {
        core.executor.spawn(name, future)
    })
}

/// Runs a future to completion on a new runtime with default settings, on this
/// thread, and returns its output: the bridge from ordinary code into the loop
/// (asyncio's `asyncio.run`).
///
/// Real time. Tracing follows the environment: `LOOPLAB_TRACE=1` prints the trace to
/// stderr.
///
/// # Panics
/// Inside a running loop (see the module docs), or if the OS refuses the runtime's
/// reactor (`epoll`), which only happens when out of file descriptors.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let runtime = Runtime::builder()
        .trace(TraceOutput::from_env())
        .build()
        .expect("could not create the runtime's reactor (mio::Poll)");
    runtime.block_on(future)
}

static NEXT_RUNTIME_ID: AtomicU64 = AtomicU64::new(1);

/// Settings for a [`Runtime`]: `Runtime::builder().virtual_time(true).build()?`.
#[must_use]
pub struct Builder {
    virtual_time: bool,
    trace: TraceOutput,
    recorder: Option<Recorder>,
    capture: Option<Capture>,
    slow_poll_threshold: Duration,
    on_turn: Option<TurnHook>,
}

impl Builder {
    /// Virtual time (`true`) or wall time (`false`, the default). See
    /// [`time`](crate::time) for what virtual time means.
    pub fn virtual_time(mut self, on: bool) -> Builder {
        self.virtual_time = on;
        self
    }

    /// Where to print the trace (default: off).
    pub fn trace(mut self, output: TraceOutput) -> Builder {
        self.trace = output;
        self
    }

    /// Also keep every trace event in `recorder`.
    pub fn record(mut self, recorder: Recorder) -> Builder {
        self.recorder = Some(recorder);
        self
    }

    /// Capture the run for a recording: every trace event into `capture`'s recorder,
    /// and the loop's state after every turn (what `--step` shows), so that
    /// [`Capture::recording`] has nothing to rebuild.
    pub fn capture(mut self, capture: Capture) -> Builder {
        self.recorder = Some(capture.recorder());
        self.capture = Some(capture);
        self
    }

    /// A poll that holds the loop longer than this is reported in the trace as a
    /// warning (default 100 ms, as asyncio's debug mode warns about slow callbacks).
    /// Real time only: the warning measures wall time, and a virtual-time trace must
    /// not depend on it (on a busy machine any poll may be descheduled for 100 ms).
    pub fn slow_poll_threshold(mut self, threshold: Duration) -> Builder {
        self.slow_poll_threshold = threshold;
        self
    }

    /// Calls `hook` after every turn of the loop with a view of the run queue, the
    /// timers and the I/O registrations (what `looplab lookup --step` shows).
    pub fn on_turn(mut self, hook: impl FnMut(&TurnView) + 'static) -> Builder {
        self.on_turn = Some(Box::new(hook));
        self
    }

    /// Creates the runtime. Fails only if the OS refuses a `mio::Poll` (an epoll
    /// instance), e.g. when the process is out of file descriptors.
    pub fn build(self) -> io::Result<Runtime> {
        let (reactor, loop_waker) = Reactor::new()?;
        let id = NEXT_RUNTIME_ID.fetch_add(1, Ordering::Relaxed);
        let clock = Rc::new(if self.virtual_time {
            Clock::virtual_()
        } else {
            Clock::real()
        });
        // `LOOPLAB_RECORD=run.jsonl` (or `LOOPLAB_HTML`, `LOOPLAB_CHROME_TRACE`) makes
        // any program record its run: the runtime captures it, and writes the files
        // when it is dropped.
        let clock_name = if self.virtual_time {
            RecordedClock::Virtual
        } else {
            RecordedClock::Real
        };
        let env_export = EnvRecording::from_env().map(|export| {
            let export = export.with_clock(clock_name);
            match (&self.capture, &self.recorder) {
                (Some(capture), _) if capture.keeps_turns() => export.with_capture(capture.clone()),
                // A records-only capture shares its records; the file gets the turns.
                (Some(capture), _) => export.with_recorder(capture.recorder()),
                (None, Some(recorder)) => export.with_recorder(recorder.clone()),
                (None, None) => export,
            }
        });
        let capture = match self.capture {
            Some(capture) if capture.keeps_turns() => Some(capture),
            records_only => env_export
                .as_ref()
                .map(|export| export.capture())
                .or(records_only),
        };
        let recorder = self
            .recorder
            .or_else(|| capture.as_ref().map(|capture| capture.recorder()));
        let tracer = Rc::new(Tracer::new(self.trace, recorder, {
            let clock = clock.clone();
            move || clock.now()
        }));
        let run_queue = RunQueue::new(id, loop_waker);
        let scheduler: Arc<dyn Schedule> = run_queue.injector().clone();
        let core = Core {
            id,
            executor: Executor::new(
                run_queue,
                scheduler,
                tracer.clone(),
                if self.virtual_time {
                    Duration::MAX
                } else {
                    self.slow_poll_threshold
                },
            ),
            park: Parker::new(clock, reactor, tracer.clone()),
            tracer,
            on_turn: RefCell::new(self.on_turn),
            capture,
        };
        Ok(Runtime {
            core: Rc::new(core),
            env_export,
        })
    }
}

/// A single-threaded event loop: a run queue of tasks, a timer wheel and a reactor,
/// all driven by [`Runtime::block_on`] on the calling thread.
///
/// Tasks spawned inside one `block_on` call that are still unfinished when it returns
/// stay in the runtime and go on at the next `block_on` on it; dropping the runtime
/// drops them.
pub struct Runtime {
    core: Rc<Core>,
    /// The files `LOOPLAB_RECORD` / `LOOPLAB_HTML` / `LOOPLAB_CHROME_TRACE` asked for,
    /// written on drop.
    env_export: Option<EnvRecording>,
}

impl Runtime {
    /// Starts building a runtime.
    pub fn builder() -> Builder {
        Builder {
            virtual_time: false,
            trace: TraceOutput::Off,
            recorder: None,
            capture: None,
            slow_poll_threshold: Duration::from_millis(100),
            on_turn: None,
        }
    }

    /// Runs `future` to completion on this thread, running spawned tasks, timers and
    /// I/O meanwhile, and returns its output.
    ///
    /// # Panics
    /// If this thread is already running a loop (see the module docs), and if
    /// `future` itself panics (spawned tasks' panics go to their handles instead).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _entered = Entered::enter(self.core.clone());
        let future = std::pin::pin!(future);
        let main_waker = futures_task::waker(Arc::new(MainWaker(self.core.executor.injector())));
        self.core.executor.run(future, &main_waker, &*self.core)
    }

    /// The runtime's counters so far (polls, wakes, timers, parks, ...).
    pub fn stats(&self) -> StatsReport {
        let mut report = StatsReport {
            per_poll_measured: self.core.tracer.enabled(),
            ..StatsReport::default()
        };
        self.core.executor.report_into(&mut report);
        self.core.park.report_into(&mut report);
        report
    }

    /// How many timers are in the wheel and how many I/O sources the runtime holds
    /// (the reactor's, and the simulated network's under virtual time): both are zero
    /// once every sleep and socket is gone.
    pub fn pending_resources(&self) -> (usize, usize) {
        (self.core.timers().len(), self.core.park.source_count())
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // The run is over: draw it, if the environment asked. A file that cannot be
        // written is reported on stderr, naming it; the program goes on.
        if let Some(export) = &self.env_export {
            export.write_or_report();
        }
        // Abandon every unfinished task: its future is dropped now, with what it owns,
        // even where a JoinHandle still holds the task. Then let go of the wakers in
        // the wheel and the reactor. Dropping a future may reach for this wheel or
        // reactor (a `Sleep` or a `TcpStream` cancelling itself): harmless, no runtime
        // is current here, so they leave them alone.
        self.core.executor.abandon_all_tasks();
        let timers = self.core.timers().take_all();
        drop(timers);
        let waiters = self.core.reactor().take_all_waiters();
        drop(waiters);
        if let Some(net) = self.core.sim_net() {
            net.clear();
        }
    }
}
