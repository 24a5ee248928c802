//! The executor: the loop itself (chapter 5).
//!
//! Everything else in looplab exists to feed this loop. One turn:
//!
//! 1. **Run.** Poll the `block_on` future if it was woken, then every task that was in
//!    the run queue when the turn began, once each. Tasks woken during the turn wait
//!    for the next one, so a task that keeps waking itself cannot starve the rest.
//! 2. **Stop** if the `block_on` future is done.
//! 3. **Choose how long to park**: not at all if tasks are ready, else until the next
//!    timer's deadline, else until something happens.
//! 4. **Park** in the reactor (`mio::Poll::poll`) with that timeout, and wake the tasks
//!    whose sockets became ready (or that another thread woke meanwhile).
//! 5. **Fire timers**: advance the wheel to now and wake the tasks whose timers expired.
//!
//! That is asyncio's `BaseEventLoop._run_once` too: its `_ready` deque is the run queue,
//! `call_soon` is a wake, the selector's timeout is step 3, `call_later`'s heap is the
//! timer wheel. tokio's current-thread scheduler is the same loop with more care
//! (a budget per task, I/O checked every 61 polls).
//!
//! The run queue is a plain `VecDeque` that only the loop's thread touches. Wakes from
//! other threads arrive through a crossbeam channel (and ring the reactor), and step 1
//! moves them into the run queue first: asyncio's `call_soon_threadsafe` and tokio's
//! inject queue do the same.
//!
//! Under virtual time step 4 changes: when nothing is ready, the reactor is asked with
//! a zero timeout (plus a short settle for sockets that are waiting on each other, see
//! `Core::park`), and if it has nothing, the clock jumps straight to the next
//! deadline instead of waiting for it.
//!
//! Data flows one way: tasks -> wakers -> run queue -> poll. Nothing here calls into
//! a task except through `poll`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_task::{ArcWake, waker_ref};

use crate::join::TaskOutcome;
use crate::runtime::{Core, try_with_core};
use crate::stats::Stats;
use crate::task::Task;
use crate::time::clock::{deadline_to_tick, now_to_tick};
use crate::time::wheel::WheelEvent;
use crate::trace::{Event, TaskId, UnparkReason};

/// Under virtual time, before the clock jumps, the loop gives sockets that tasks are
/// waiting on this long (wall time) to report readiness. Data written to a loopback
/// socket is normally readable at once, but the kernel does not promise it; without
/// this grace the clock could jump past a reply that is in flight.
const VIRTUAL_TIME_IO_SETTLE: Duration = Duration::from_millis(1);

/// While tasks are ready the loop does not park, but it still asks the reactor (with a
/// zero timeout) after this many polls, so busy tasks cannot starve I/O. A syscall per
/// turn would cost more than the polls themselves in a yield-heavy program.
const POLLS_BETWEEN_IO_CHECKS: u64 = 64;

/// The waker of the `block_on` future ("task 0, main"). It is not a spawned task (it
/// need not be `Send`, and it lives on `block_on`'s stack), so it gets a flag of its
/// own instead of a place in the run queue.
struct MainWaker {
    woken: AtomicBool,
    runtime_id: u64,
    loop_waker: Arc<mio::Waker>,
}

impl ArcWake for MainWaker {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.woken.store(true, Ordering::Release);
        let on_loop_thread = try_with_core(|core| {
            if core.id != arc_self.runtime_id {
                return false;
            }
            if let (Some(by), true) = (core.current_task.get(), core.tracer.enabled()) {
                core.tracer.emit(
                    core.clock.now(),
                    Event::WokenByTask {
                        task: TaskId(0),
                        by,
                    },
                );
            }
            true
        })
        .unwrap_or(false);
        if !on_loop_thread {
            let _ = arc_self.loop_waker.wake();
        }
    }
}

/// A snapshot of the loop between two turns, for [`Builder::on_turn`](crate::Builder::on_turn)
/// (the `--step` view).
#[derive(Clone, Debug)]
pub struct TurnView {
    /// Turns completed so far.
    pub turn: u64,
    /// The runtime's clock.
    pub now: Duration,
    /// Tasks waiting in the run queue, in order.
    pub run_queue: Vec<TaskId>,
    /// Timers in the wheel: (timer number, deadline, level, slot, task that armed it).
    pub timers: Vec<(u64, Duration, usize, usize, Option<TaskId>)>,
    /// I/O registrations: (token, what, task waiting to read, task waiting to write).
    pub io: Vec<(usize, &'static str, Option<TaskId>, Option<TaskId>)>,
}

impl Core {
    /// Runs the loop until `main` completes. The heart of the crate: each iteration is
    /// one turn as the module docs list it.
    pub(crate) fn run<F: Future>(&self, mut main: Pin<&mut F>) -> F::Output {
        let main_waker = Arc::new(MainWaker {
            woken: AtomicBool::new(true),
            runtime_id: self.id,
            loop_waker: self.scheduler.loop_waker.clone(),
        });
        let started = self.clock.now();
        self.trace(Event::BlockOnStart);
        let mut polls_since_io_check = 0;
        loop {
            // 1. Run: main (if woken), then the tasks queued when the turn began.
            // Load first: a swap is a locked instruction, and most turns main sleeps.
            if main_waker.woken.load(Ordering::Acquire)
                && main_waker.woken.swap(false, Ordering::AcqRel)
            {
                if let Poll::Ready(output) = self.poll_main(main.as_mut(), &main_waker) {
                    // 2. Stop.
                    let elapsed = self.clock.now() - started;
                    self.trace(Event::BlockOnReturn { elapsed });
                    return output;
                }
                polls_since_io_check += 1;
            }
            self.take_remote_wakes();
            let queued_at_start = self.run_queue.borrow().len();
            for _ in 0..queued_at_start {
                // The borrow ends with this statement: polling the task may wake others
                // onto the same queue.
                let Some(task) = self.run_queue.borrow_mut().pop_front() else {
                    break;
                };
                self.poll_task(task);
            }
            polls_since_io_check += queued_at_start as u64;

            // 3. + 4. Park (or only peek at I/O, if tasks are ready).
            let ready = !self.run_queue.borrow().is_empty()
                || self.scheduler.remote_wakes_waiting.load(Ordering::Acquire)
                || main_waker.woken.load(Ordering::Acquire);
            if !ready || polls_since_io_check >= POLLS_BETWEEN_IO_CHECKS {
                self.park(ready);
                polls_since_io_check = 0;
            }
            // 5. Fire due timers.
            self.fire_due_timers();

            Stats::bump(&self.stats.turns);
            self.trace(Event::TurnEnded {
                turn: self.stats.turns.get(),
            });
            self.call_turn_hook();
        }
    }

    fn poll_main<F: Future>(&self, main: Pin<&mut F>, waker: &Arc<MainWaker>) -> Poll<F::Output> {
        let waker = waker_ref(waker);
        let mut cx = Context::from_waker(&waker);
        self.before_poll(TaskId(0));
        let started = self.tracer.enabled().then(std::time::Instant::now);
        let result = main.poll(&mut cx);
        self.after_poll(TaskId(0), started, result.is_pending());
        result
    }

    /// Polls one task from the run queue.
    fn poll_task(&self, task: Arc<Task>) {
        // Clear the flag before polling: a wake that arrives during the poll (from the
        // task itself, or another thread) must queue the task again, not be swallowed.
        task.scheduled.store(false, Ordering::Release);
        if task.woken_remotely.load(Ordering::Acquire)
            && task.woken_remotely.swap(false, Ordering::AcqRel)
        {
            self.trace(Event::WokenByThread { task: task.id });
        }
        let waker = waker_ref(&task);
        let mut cx = Context::from_waker(&waker);
        let mut slot = task.future.lock().unwrap();
        // A finished task can still be in the queue if a wake raced with completion.
        let Some(future) = slot.as_mut() else {
            return;
        };
        self.before_poll(task.id);
        let started = self.tracer.enabled().then(std::time::Instant::now);
        let result = future.as_mut().poll(&mut cx);
        match result {
            Poll::Pending => self.after_poll(task.id, started, true),
            Poll::Ready(outcome) => {
                task.completed.store(true, Ordering::Release);
                // Drop the future now: its sockets close and its timers are cancelled
                // at completion, not whenever the last waker happens to go away.
                *slot = None;
                drop(slot);
                self.after_poll(task.id, started, false);
                match outcome {
                    TaskOutcome::Completed => {
                        Stats::bump(&self.stats.completed);
                        self.trace(Event::Ready { task: task.id });
                    }
                    TaskOutcome::Panicked(message) => {
                        Stats::bump(&self.stats.panicked);
                        self.trace(Event::Panicked {
                            task: task.id,
                            message,
                        });
                    }
                }
            }
        }
    }

    fn before_poll(&self, task: TaskId) {
        self.current_task.set(Some(task));
        Stats::bump(&self.stats.polls);
        if self.tracer.enabled() {
            self.trace(Event::Poll { task });
        }
    }

    /// Bookkeeping after a poll. `started` is the wall-clock start, taken only while
    /// tracing (reading the clock twice per poll is not free).
    fn after_poll(&self, task: TaskId, started: Option<std::time::Instant>, pending: bool) {
        self.current_task.set(None);
        if let Some(started) = started {
            let took = started.elapsed();
            Stats::add_time(&self.stats.busy, took);
            let polls = {
                let mut per_task = self.stats.polls_per_task.borrow_mut();
                let n = per_task.entry(task).or_insert(0);
                *n += 1;
                *n
            };
            if pending && polls > 1 {
                Stats::bump(&self.stats.woken_still_pending);
            }
            if took >= self.slow_poll_threshold {
                self.trace(Event::SlowPoll { task, took });
            }
            if pending {
                self.trace(Event::Pending { task });
            }
            // Ready and Panicked are traced by the caller, after the future is dropped.
            if !pending && task == TaskId(0) {
                self.trace(Event::Ready { task });
            }
        }
    }

    /// Steps 3 and 4: wait in the reactor for I/O, a remote wake or the next deadline.
    /// With `tasks_ready`, only peeks (zero timeout).
    fn park(&self, tasks_ready: bool) {
        let now = self.clock.now();
        let next_deadline = self
            .timers
            .borrow()
            .next_deadline()
            .map(Duration::from_millis);
        let until_deadline = next_deadline.map(|d| d.saturating_sub(now));
        if tasks_ready {
            self.wait_for_io(Some(Duration::ZERO));
            return;
        }
        if self.tracer.enabled() {
            let (timers, sources) = (
                self.timers.borrow().len(),
                self.reactor.borrow().source_count(),
            );
            self.trace(Event::Park {
                timeout: until_deadline,
                timers,
                sources,
            });
        }
        let started = std::time::Instant::now();
        if self.clock.is_virtual() {
            self.park_virtual(next_deadline);
        } else {
            // Quiet: when the poll comes back empty, the one unpark line to print is
            // "deadline reached" (the park's timeout ran out), not "nothing happened".
            let reason = self.wait_for_io_quietly(until_deadline);
            if reason == UnparkReason::Nothing {
                let reason = if until_deadline.is_some() {
                    Stats::bump(&self.stats.unparks_deadline);
                    UnparkReason::Deadline
                } else {
                    // No timeout and no news: a signal interrupted the wait.
                    UnparkReason::Nothing
                };
                self.trace(Event::Unpark { reason });
            }
        }
        Stats::add_time(&self.stats.parked, started.elapsed());
    }

    /// Virtual time's park: nothing is ready, so either the reactor has news now (or
    /// after a short settle), or nothing can happen before the next deadline and the
    /// clock jumps there.
    fn park_virtual(&self, next_deadline: Option<Duration>) {
        if self.wait_for_io(Some(Duration::ZERO)) != UnparkReason::Nothing {
            return;
        }
        if self.reactor.borrow().waiter_count() > 0
            && self.wait_for_io_quietly(Some(VIRTUAL_TIME_IO_SETTLE)) != UnparkReason::Nothing
        {
            return;
        }
        match next_deadline {
            Some(deadline) => {
                self.clock.jump_to(deadline);
                Stats::bump(&self.stats.clock_jumps);
                self.trace(Event::Unpark {
                    reason: UnparkReason::ClockJump,
                });
            }
            // No timer to jump to: only I/O or another thread can move things on.
            None => {
                self.wait_for_io(None);
            }
        }
    }

    /// Polls the reactor once and wakes the tasks it reports. Returns why it returned
    /// (`Nothing` if it found nothing).
    fn wait_for_io(&self, timeout: Option<Duration>) -> UnparkReason {
        let quiet = timeout == Some(Duration::ZERO);
        self.wait_for_io_traced(timeout, quiet)
    }

    /// Like `wait_for_io`, but an empty result leaves no trace line (the settle
    /// poll of virtual time: its "nothing" is followed by the clock jump's line).
    fn wait_for_io_quietly(&self, timeout: Option<Duration>) -> UnparkReason {
        self.wait_for_io_traced(timeout, true)
    }

    fn wait_for_io_traced(
        &self,
        timeout: Option<Duration>,
        quiet_if_nothing: bool,
    ) -> UnparkReason {
        let wakeup = match self.reactor.borrow_mut().wait(timeout) {
            Ok(wakeup) => wakeup,
            // EINTR and friends: treat as "nothing happened", the loop comes back.
            Err(_) => return UnparkReason::Nothing,
        };
        let reason = if !wakeup.ready.is_empty() {
            Stats::bump(&self.stats.unparks_io);
            UnparkReason::Io(wakeup.ready.len())
        } else if wakeup.remote_wake {
            Stats::bump(&self.stats.unparks_remote);
            UnparkReason::RemoteWake
        } else {
            UnparkReason::Nothing
        };
        if !(quiet_if_nothing && reason == UnparkReason::Nothing) {
            self.trace(Event::Unpark {
                reason: reason.clone(),
            });
        }
        // The reactor is released before waking anyone: a wake never runs a task, but
        // keeping borrows short keeps the rule simple.
        for ready in wakeup.ready {
            if self.tracer.enabled() {
                self.trace(Event::IoReady {
                    token: ready.token,
                    readable: ready.readable,
                    writable: ready.writable,
                    woke: ready.waiters.iter().filter_map(|w| w.task).collect(),
                });
            }
            for waiter in ready.waiters {
                waiter.waker.wake();
            }
        }
        reason
    }

    /// Step 5: advance the wheel to now and wake the tasks of expired timers.
    fn fire_due_timers(&self) {
        // An empty wheel has nothing to fire, so the turn need not read the clock (a
        // `clock_gettime` per turn is a tenth of a busy loop's time). Its hand may fall
        // behind meanwhile: `arm_timer` moves it up before the next insert.
        if self.timers.borrow().is_empty() {
            return;
        }
        let now_tick = now_to_tick(self.clock.now());
        let mut fired = Vec::new();
        let mut cascaded = Vec::new();
        {
            let mut timers = self.timers.borrow_mut();
            // Nothing due and the wheel's hand already at this tick: no work at all.
            // Otherwise advance even with nothing due, so the hand follows the clock
            // and new timers are placed relative to the real now.
            let due = timers.next_deadline().is_some_and(|d| d <= now_tick);
            if !due && timers.now() >= now_tick {
                return;
            }
            let tracing = self.tracer.enabled();
            timers.advance(now_tick, |event| match event {
                WheelEvent::Fired { key, value, .. } => fired.push((key.id(), value)),
                WheelEvent::Cascaded { key, from, to, .. } if tracing => {
                    cascaded.push(Event::TimerCascaded {
                        timer: key.id(),
                        from_level: from.level,
                        to_level: to.level,
                        slot: to.slot,
                    })
                }
                WheelEvent::Cascaded { .. } => {}
            });
        }
        for event in cascaded {
            self.trace(event);
        }
        if fired.is_empty() {
            return;
        }
        self.stats
            .timers_fired
            .set(self.stats.timers_fired.get() + fired.len() as u64);
        if self.tracer.enabled() {
            self.trace(Event::TimersFired {
                timers: fired.iter().map(|(id, _)| *id).collect(),
                woke: fired.iter().filter_map(|(_, entry)| entry.task).collect(),
            });
        }
        for (_, entry) in fired {
            entry.waker.wake();
        }
    }

    /// Emits a trace event stamped with the clock, if anyone listens.
    pub(crate) fn trace(&self, event: Event) {
        if self.tracer.enabled() {
            self.tracer.emit(self.clock.now(), event);
        }
    }

    fn call_turn_hook(&self) {
        let mut hook = self.on_turn.borrow_mut();
        let Some(hook) = hook.as_mut() else {
            return;
        };
        let view = self.turn_view();
        hook(&view);
    }

    /// Moves the wakes that came from other threads into the run queue, after the
    /// ones already there.
    fn take_remote_wakes(&self) {
        if !self
            .scheduler
            .remote_wakes_waiting
            .swap(false, Ordering::AcqRel)
        {
            return;
        }
        while let Ok(task) = self.remote_wakes.try_recv() {
            self.run_queue.borrow_mut().push_back(task);
        }
    }

    /// Builds the `--step` view.
    fn turn_view(&self) -> TurnView {
        // Wakes from other threads join the queue now rather than at the next turn's
        // start: the same order, and the view shows every task that will run.
        self.take_remote_wakes();
        let run_queue = self.run_queue.borrow().iter().map(|t| t.id).collect();
        let mut timers: Vec<_> = self
            .timers
            .borrow()
            .iter()
            .map(|(key, deadline, placement, entry)| {
                (
                    key.id(),
                    Duration::from_millis(deadline),
                    placement.level,
                    placement.slot,
                    entry.task,
                )
            })
            .collect();
        timers.sort_by_key(|t| (t.2, t.3, t.0));
        TurnView {
            turn: self.stats.turns.get(),
            now: self.clock.now(),
            run_queue,
            timers,
            io: self.reactor.borrow().registrations(),
        }
    }

    /// Puts a timer in the wheel for `deadline` (time since start) and returns its key.
    pub(crate) fn arm_timer(
        &self,
        deadline: Duration,
        waker: std::task::Waker,
    ) -> crate::time::wheel::TimerKey {
        let task = self.current_task.get();
        let mut timers = self.timers.borrow_mut();
        if timers.is_empty() {
            // The hand stood still while the wheel was empty (`fire_due_timers`): bring
            // it to the clock first, so the timer's level and slot are counted from now.
            // Advancing an empty wheel fires nothing and costs no work.
            timers.advance(now_to_tick(self.clock.now()), |_| {});
        }
        let (key, placement) = timers.insert(
            deadline_to_tick(deadline),
            crate::runtime::TimerEntry { waker, task },
        );
        drop(timers);
        Stats::bump(&self.stats.timers_armed);
        if self.tracer.enabled() {
            self.trace(Event::TimerArmed {
                task,
                timer: key.id(),
                deadline,
                level: placement.level,
                slot: placement.slot,
            });
        }
        key
    }

    /// Removes a timer that has not fired. A key whose timer already fired is ignored.
    pub(crate) fn cancel_timer(&self, key: crate::time::wheel::TimerKey) {
        // Take the entry out, and drop it (its waker) after the wheel is released.
        let removed = self.timers.borrow_mut().cancel(key);
        if removed.is_some() {
            Stats::bump(&self.stats.timers_cancelled);
            self.trace(Event::TimerCancelled { timer: key.id() });
        }
    }
}
