//! The runtime's timers, between the wheel and the loop (chapter 6).
//!
//! The wheel (`wheel.rs`) is a plain data structure: it stores values by deadline and
//! hands them back when its hand passes them. This file is what makes it a *timer*
//! service for tasks (tokio calls this part the time driver):
//!
//! - it owns the runtime's **clock** (`clock.rs`), real or virtual;
//! - **arm**: a `Sleep`'s first poll puts an entry in the wheel, holding the task's
//!   waker, and gets back a key;
//! - **re-poll**: a `Sleep` polled again by another task (it moved) swaps the waker
//!   in its entry, so the right task is woken;
//! - **cancel**: a `Sleep` dropped before its deadline takes its entry out, O(1);
//! - **fire** (the loop's step 5): move the wheel's hand to now and wake the tasks of
//!   every expired entry.
//!
//! The clock is the runtime's (`clock.rs`); only the park (`park.rs`) moves a virtual
//! one.
//!
//! Times are `Duration`s since the runtime started; the wheel counts 1 ms ticks.
//! Deadlines round *up* to a tick and "now" rounds *down*, so a timer may fire up
//! to a tick late, never early.

use std::cell::RefCell;
use std::rc::Rc;
use std::task::Waker;
use std::time::Duration;

use super::clock::{Clock, deadline_to_tick, now_to_tick};
use super::wheel::{TimerKey, TimerWheel, WheelEvent};
use crate::executor::TimerView;
use crate::stats::{Counter, StatsReport};
use crate::task::TaskId;
use crate::trace::{Event, Tracer};

/// What the wheel stores per timer: whom to wake, and (for the trace) which task armed
/// it. Three words: the waker is the only thing a timer needs, and the task's number
/// is kept as a plain `u64` (an `Option<TaskId>` would take a fourth word for its tag).
pub(crate) struct TimerEntry {
    waker: Waker,
    armed_by: u64,
}

/// `armed_by` of a timer armed outside any task's poll.
const NO_TASK: u64 = u64::MAX;

impl TimerEntry {
    fn new(waker: Waker, task: Option<TaskId>) -> TimerEntry {
        TimerEntry {
            waker,
            armed_by: task.map_or(NO_TASK, |task| task.0),
        }
    }

    fn task(&self) -> Option<TaskId> {
        (self.armed_by != NO_TASK).then_some(TaskId(self.armed_by))
    }
}

#[derive(Default)]
struct TimerCounters {
    armed: Counter,
    cancelled: Counter,
    fired: Counter,
}

/// The runtime's clock and timers.
pub(crate) struct Timers {
    clock: Rc<Clock>,
    wheel: RefCell<TimerWheel<TimerEntry>>,
    tracer: Rc<Tracer>,
    counters: TimerCounters,
}

impl Timers {
    pub(crate) fn new(clock: Rc<Clock>, tracer: Rc<Tracer>) -> Timers {
        Timers {
            clock,
            wheel: RefCell::new(TimerWheel::new()),
            tracer,
            counters: TimerCounters::default(),
        }
    }

    /// Time since the runtime started, on its clock.
    pub(crate) fn now(&self) -> Duration {
        self.clock.now()
    }

    /// Puts a timer in the wheel for `deadline` (time since start), to wake `waker`,
    /// and returns its key. `task` is who armed it, for the trace.
    pub(crate) fn arm(&self, deadline: Duration, waker: Waker, task: Option<TaskId>) -> TimerKey {
        let mut wheel = self.wheel.borrow_mut();
        if wheel.is_empty() {
            // The hand stood still while the wheel was empty (`fire_due`): bring it to
            // the clock first, so the timer's level and slot are counted from now.
            // Advancing an empty wheel fires nothing and costs no work.
            wheel.advance(now_to_tick(self.clock.now()), |_| {});
        }
        let (key, placement) =
            wheel.insert(deadline_to_tick(deadline), TimerEntry::new(waker, task));
        drop(wheel);
        self.counters.armed.bump();
        if self.tracer.enabled() {
            self.tracer.emit(Event::TimerArmed {
                task,
                timer: key.id(),
                deadline,
                level: placement.level,
                slot: placement.slot,
            });
        }
        key
    }

    /// A `Sleep` polled again: makes sure its timer wakes `waker` (the sleep may have
    /// moved to another task). Returns `false` if the timer is no longer in the wheel
    /// (it fired), so the caller must arm a new one.
    pub(crate) fn update_waker(&self, key: TimerKey, waker: &Waker, task: Option<TaskId>) -> bool {
        let mut wheel = self.wheel.borrow_mut();
        let Some(entry) = wheel.get_mut(key) else {
            return false;
        };
        if entry.waker.will_wake(waker) {
            return true;
        }
        let old = std::mem::replace(entry, TimerEntry::new(waker.clone(), task));
        // Dropped once the wheel is released: it may be the last reference to a task,
        // whose own sleeps reach for the wheel.
        drop(wheel);
        drop(old);
        true
    }

    /// Removes a timer that has not fired. A key whose timer already fired is ignored.
    pub(crate) fn cancel(&self, key: TimerKey) {
        // Take the entry out, and drop it (its waker) after the wheel is released.
        let removed = self.wheel.borrow_mut().cancel(key);
        if removed.is_some() {
            self.counters.cancelled.bump();
            self.tracer.emit(Event::TimerCancelled { timer: key.id() });
        }
    }

    /// The nearest deadline in the wheel, on the runtime's clock.
    pub(crate) fn next_deadline(&self) -> Option<Duration> {
        self.wheel
            .borrow()
            .next_deadline()
            .map(Duration::from_millis)
    }

    /// Step 5: moves the wheel's hand to now and wakes the tasks of expired timers.
    #[inline]
    pub(crate) fn fire_due(&self) {
        // An empty wheel has nothing to fire, so the turn need not read the clock (a
        // `clock_gettime` per turn is a tenth of a busy loop's time). Its hand may fall
        // behind meanwhile: `arm` moves it up before the next insert.
        if !self.wheel.borrow().is_empty() {
            self.fire_due_now();
        }
    }

    /// Step 5 with timers armed: reads the clock and fires what is due.
    fn fire_due_now(&self) {
        let now_tick = now_to_tick(self.clock.now());
        let mut fired = Vec::new();
        let mut cascaded = Vec::new();
        {
            let mut wheel = self.wheel.borrow_mut();
            // Nothing due and the hand already at this tick: no work at all. Otherwise
            // advance even with nothing due, so the hand follows the clock and new
            // timers are placed relative to the real now.
            let due = wheel.next_deadline().is_some_and(|d| d <= now_tick);
            if !due && wheel.now() >= now_tick {
                return;
            }
            let tracing = self.tracer.enabled();
            wheel.advance(now_tick, |event| match event {
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
            self.tracer.emit(event);
        }
        if fired.is_empty() {
            return;
        }
        self.counters.fired.add(fired.len() as u64);
        if self.tracer.enabled() {
            self.tracer.emit(Event::TimersFired {
                timers: fired.iter().map(|(id, _)| *id).collect(),
                woke: fired.iter().filter_map(|(_, entry)| entry.task()).collect(),
            });
        }
        for (_, entry) in fired {
            entry.waker.wake();
        }
    }

    /// Timers in the wheel.
    pub(crate) fn len(&self) -> usize {
        self.wheel.borrow().len()
    }

    /// Timers in the wheel, and how many of them are due (deadline passed, not yet
    /// fired).
    pub(crate) fn len_and_due(&self) -> (usize, usize) {
        let wheel = self.wheel.borrow();
        let now = now_to_tick(self.clock.now());
        let due = wheel
            .iter()
            .filter(|(_, deadline, _, _)| *deadline <= now)
            .count();
        (wheel.len(), due)
    }

    /// Every timer, by level, slot and number: what the `--step` view prints.
    pub(crate) fn timers_view(&self) -> Vec<TimerView> {
        let mut timers: Vec<_> = self
            .wheel
            .borrow()
            .iter()
            .map(|(key, deadline, placement, entry)| TimerView {
                timer: key.id(),
                deadline: Duration::from_millis(deadline),
                level: placement.level,
                slot: placement.slot,
                task: entry.task(),
            })
            .collect();
        timers.sort_by_key(|t| (t.level, t.slot, t.timer));
        timers
    }

    /// The tick the wheel's hand stands at. It follows the clock only while timers
    /// are armed: an empty wheel is not advanced (see `fire_due`).
    pub(crate) fn wheel_tick(&self) -> u64 {
        self.wheel.borrow().now()
    }

    /// Takes every timer out (the runtime is being dropped). The caller drops them
    /// after letting go of the driver: a waker may be the last reference to a task.
    pub(crate) fn take_all(&self) -> TimerWheel<TimerEntry> {
        std::mem::take(&mut *self.wheel.borrow_mut())
    }

    /// Fills in the timer counters.
    pub(crate) fn report_into(&self, report: &mut StatsReport) {
        report.timers_armed = self.counters.armed.get();
        report.timers_cancelled = self.counters.cancelled.get();
        report.timers_fired = self.counters.fired.get();
    }
}
