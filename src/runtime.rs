//! The runtime: building one, entering it, and finding it again (chapter 5).
//!
//! A [`Runtime`] owns everything the loop needs: the run queue, the timer wheel, the
//! reactor, the clock and the trace. Those live in one `Core`, and while
//! [`Runtime::block_on`] runs, a thread-local points at that core. That is how
//! `looplab::spawn(...)`, `sleep(...)` and `TcpStream::connect(...)` find "the"
//! runtime without being handed it: they look at the thread they are called on.
//!
//! - Calling them outside a runtime panics with a message that names `block_on`.
//! - Calling `block_on` inside a running loop panics too: the inner call would block
//!   the thread, and with it the outer loop and every task on it. (asyncio raises
//!   "asyncio.run() cannot be called from a running event loop" for the same reason.)
//!
//! [`block_on`] is the bridge from ordinary code into the loop (asyncio's
//! `asyncio.run`): it builds a runtime with default settings, runs one future to
//! completion on this thread, and returns its output.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::Receiver;

use crate::join::{JoinHandle, into_task};
use crate::reactor::Reactor;
use crate::stats::Stats;
use crate::task::{Scheduler, Task};
use crate::time::clock::Clock;
use crate::time::wheel::TimerWheel;
use crate::trace::{Event, Recorder, TaskId, TraceOutput, Tracer};

/// What the timer wheel stores per timer: whom to wake, and (for the trace) which task
/// that is.
pub(crate) struct TimerEntry {
    pub(crate) waker: std::task::Waker,
    pub(crate) task: Option<TaskId>,
}

/// Everything one runtime owns. Used only on the thread running the loop, so plain
/// `Cell`/`RefCell` suffice; the parts other threads need sit in [`Scheduler`].
pub(crate) struct Core {
    pub(crate) id: u64,
    pub(crate) clock: Clock,
    pub(crate) tracer: Tracer,
    pub(crate) timers: RefCell<TimerWheel<TimerEntry>>,
    pub(crate) reactor: RefCell<Reactor>,
    pub(crate) scheduler: Arc<Scheduler>,
    /// The run queue: tasks woken and waiting for their poll, in wake order. Only this
    /// thread touches it, so it is a plain `VecDeque` (asyncio's `_ready` deque).
    pub(crate) run_queue: RefCell<VecDeque<Arc<Task>>>,
    /// Wakes from other threads, moved into `run_queue` at the start of each turn.
    pub(crate) remote_wakes: Receiver<Arc<Task>>,
    /// The task being polled right now (`None` between polls). Wakes, spawns, timers
    /// and notes made during a poll are attributed to it in the trace.
    pub(crate) current_task: Cell<Option<TaskId>>,
    next_task_id: Cell<u64>,
    pub(crate) stats: Stats,
    /// A poll longer than this (wall time) is reported as a slow poll.
    pub(crate) slow_poll_threshold: Duration,
    /// Called after each turn of the loop (the `--step` view).
    pub(crate) on_turn: RefCell<Option<TurnHook>>,
}

/// A function the loop calls after every turn, with a view of its state.
pub type TurnHook = Box<dyn FnMut(&crate::executor::TurnView)>;

thread_local! {
    /// The runtime whose loop is running on this thread, if any.
    static CURRENT: RefCell<Option<Rc<Core>>> = const { RefCell::new(None) };
}

/// Runs `f` with the current runtime's core, or returns `None` outside a runtime.
pub(crate) fn try_with_core<R>(f: impl FnOnce(&Core) -> R) -> Option<R> {
    // `try_with`: during thread exit the thread-local may already be gone (a waker
    // dropped late); that is "no runtime", not a crash.
    CURRENT
        .try_with(|current| current.borrow().as_ref().map(|core| f(core)))
        .ok()
        .flatten()
}

/// Runs `f` with the current runtime's core.
///
/// # Panics
/// Outside a runtime, with a message naming `what` and pointing to `block_on`.
pub(crate) fn with_core<R>(what: &str, f: impl FnOnce(&Core) -> R) -> R {
    CURRENT.with(|current| match current.borrow().as_ref() {
        Some(core) => f(core),
        None => panic!(
            "{what} was called outside a looplab runtime. It needs a running event loop: \
             run your async code inside `looplab::block_on(async {{ ... }})` \
             (or `Runtime::builder().build()?.block_on(...)`)."
        ),
    })
}

/// Spawns a future as a new task on the current runtime and returns its handle.
///
/// The task starts running at the loop's next turn, not inside this call (asyncio's
/// `create_task` and tokio's `spawn` behave the same way). Dropping the handle
/// detaches the task; see [`JoinHandle`].
///
/// # Panics
/// Outside a runtime: call it from code that runs inside [`block_on`].
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    with_core("looplab::spawn", |core| core.spawn("", future))
}

/// Like [`spawn`], with a name that the trace prints beside the task's number
/// ("task 1 find_users(3)").
pub fn spawn_named<F>(name: impl Into<String>, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    with_core("looplab::spawn_named", |core| core.spawn(name, future))
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

    /// A poll that holds the loop longer than this is reported in the trace as a
    /// warning (default 100 ms, as asyncio's debug mode warns about slow callbacks).
    pub fn slow_poll_threshold(mut self, threshold: Duration) -> Builder {
        self.slow_poll_threshold = threshold;
        self
    }

    /// Calls `hook` after every turn of the loop with a view of the run queue, the
    /// timers and the I/O registrations (what `looplab lookup --step` shows).
    pub fn on_turn(mut self, hook: impl FnMut(&crate::executor::TurnView) + 'static) -> Builder {
        self.on_turn = Some(Box::new(hook));
        self
    }

    /// Creates the runtime. Fails only if the OS refuses a `mio::Poll` (an epoll
    /// instance), e.g. when the process is out of file descriptors.
    pub fn build(self) -> io::Result<Runtime> {
        let (reactor, loop_waker) = Reactor::new()?;
        let (sender, receiver) = crossbeam_channel::unbounded();
        let id = NEXT_RUNTIME_ID.fetch_add(1, Ordering::Relaxed);
        let core = Core {
            id,
            clock: if self.virtual_time {
                Clock::virtual_()
            } else {
                Clock::real()
            },
            tracer: Tracer::new(self.trace, self.recorder),
            timers: RefCell::new(TimerWheel::new()),
            reactor: RefCell::new(reactor),
            scheduler: Arc::new(Scheduler {
                runtime_id: id,
                remote_wakes: sender,
                remote_wakes_waiting: AtomicBool::new(false),
                loop_waker,
            }),
            run_queue: RefCell::new(VecDeque::new()),
            remote_wakes: receiver,
            current_task: Cell::new(None),
            next_task_id: Cell::new(1),
            stats: Stats::default(),
            slow_poll_threshold: self.slow_poll_threshold,
            on_turn: RefCell::new(self.on_turn),
        };
        Ok(Runtime {
            core: Rc::new(core),
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
}

impl Runtime {
    /// Starts building a runtime.
    pub fn builder() -> Builder {
        Builder {
            virtual_time: false,
            trace: TraceOutput::Off,
            recorder: None,
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
        self.core.run(future)
    }

    /// The runtime's counters so far (polls, wakes, timers, parks, ...).
    pub fn stats(&self) -> crate::stats::StatsReport {
        self.core.stats.report(self.core.tracer.enabled())
    }

    /// How many timers are in the wheel and how many I/O sources the reactor holds:
    /// both are zero once every sleep and socket is gone.
    pub fn pending_resources(&self) -> (usize, usize) {
        (
            self.core.timers.borrow().len(),
            self.core.reactor.borrow().source_count(),
        )
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // Drop every task the loop still holds, with the futures inside them: the ones
        // in the run queue, and the wakers in the wheel and the reactor (the only other
        // places that keep a waiting task alive). Each is taken out first and dropped
        // after: dropping a future may reach for this wheel or reactor (a `Sleep` or a
        // `TcpStream` cancelling itself; harmless, no runtime is current here).
        let queued = std::mem::take(&mut *self.core.run_queue.borrow_mut());
        drop(queued);
        let timers = std::mem::take(&mut *self.core.timers.borrow_mut());
        drop(timers);
        let waiters = self.core.reactor.borrow_mut().take_all_waiters();
        drop(waiters);
        // A future dropped above may have woken another task; with no loop running
        // here, that wake went through the channel. Tasks in the channel hold a sender
        // of that same channel, so drain it until it stays empty, or they would keep
        // each other alive.
        while self.core.remote_wakes.try_recv().is_ok() {}
    }
}

/// Marks this thread as running `core`'s loop until dropped (also on panic).
struct Entered;

impl Entered {
    fn enter(core: Rc<Core>) -> Entered {
        CURRENT.with(|current| {
            let mut current = current.borrow_mut();
            assert!(
                current.is_none(),
                "block_on was called inside a running looplab event loop. That would block \
                 the loop's only thread, and every task on it, until the inner future is \
                 done. Inside async code, `.await` the future instead (or `spawn` it)."
            );
            *current = Some(core);
        });
        Entered
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        // Take the core out first and drop it after the borrow ends: dropping it could
        // run destructors that look at CURRENT.
        let core = CURRENT.with(|current| current.borrow_mut().take());
        drop(core);
    }
}

impl Core {
    pub(crate) fn spawn<F>(&self, name: impl Into<String>, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let id = TaskId(self.next_task_id.get());
        self.next_task_id.set(id.0 + 1);
        let (future, handle) = into_task(id, future);
        let task = Arc::new(Task {
            id,
            future: Mutex::new(Some(future)),
            scheduled: AtomicBool::new(false),
            completed: AtomicBool::new(false),
            woken_remotely: AtomicBool::new(false),
            scheduler: self.scheduler.clone(),
        });
        if self.tracer.enabled() {
            self.tracer.emit(
                self.clock.now(),
                Event::Spawn {
                    parent: self.current_task.get(),
                    task: id,
                    name: name.into(),
                },
            );
        }
        self.stats.spawned.set(self.stats.spawned.get() + 1);
        task.schedule_on(self);
        handle
    }
}
