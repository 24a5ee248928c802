//! WRONG: rounds a deadline to the nearest tick: 1.5 ms is fine, but 1.3 ms goes to tick 1 and fires early.
//!
//! A drop-in for `src/start/ex07_bug_early_timer.rs`; checked by `tests/wrong_solutions.rs`.

use std::time::Duration;

/// The wheel's resolution: one slot per millisecond.
pub const TICK: Duration = Duration::from_millis(1);

/// How many slots the wheel has: one turn covers 64 ticks.
const SLOTS: u64 = 64;

/// A hashed timing wheel: timers carry a value `T` (a runtime stores a waker there),
/// and [`advance`](TimerWheel::advance) hands back the ones that have come due.
pub struct TimerWheel<T> {
    /// `slots[s]` holds the timers whose tick is `s` modulo 64, of any turn.
    slots: Vec<Vec<Timer<T>>>,
    /// Timers whose tick had already passed when they were inserted: the next
    /// `advance` fires them, whatever time it is told.
    due: Vec<Timer<T>>,
    /// The last tick `advance` has processed: every timer on a tick up to this one has
    /// fired, and a slot is only visited again when a later tick comes.
    elapsed: u64,
    /// How many timers wait in `slots` and `due`.
    len: usize,
}

/// One timer: its deadline as given, the tick it fires on, and its value.
struct Timer<T> {
    deadline: Duration,
    tick: u64,
    value: T,
}

impl<T> TimerWheel<T> {
    /// An empty wheel; its time starts at zero.
    pub fn new() -> TimerWheel<T> {
        TimerWheel {
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
            due: Vec::new(),
            elapsed: 0,
            len: 0,
        }
    }

    /// Adds a timer that must fire at `deadline` (time since the wheel was made) or
    /// later. A deadline already passed fires at the next [`advance`](Self::advance).
    pub fn insert(&mut self, deadline: Duration, value: T) {
        let tick = deadline_to_tick(deadline);
        let timer = Timer {
            deadline,
            tick,
            value,
        };
        if tick <= self.elapsed {
            self.due.push(timer);
        } else {
            self.slots[(tick % SLOTS) as usize].push(timer);
        }
        self.len += 1;
    }

    /// Moves the wheel's time to `now` and returns the timers that fire, as
    /// `(deadline, value)`, in no particular order. `now` never goes back: a `now`
    /// earlier than a previous one fires only the timers already due.
    pub fn advance(&mut self, now: Duration) -> Vec<(Duration, T)> {
        let target = now_to_tick(now);
        let mut fired: Vec<Timer<T>> = std::mem::take(&mut self.due);
        if target > self.elapsed {
            // The ticks elapsed+1 ..= target, one slot each; after one turn the slots
            // repeat, so a jump of more than 64 ticks visits each slot once.
            let steps = (target - self.elapsed).min(SLOTS);
            for step in 1..=steps {
                let slot = &mut self.slots[((self.elapsed + step) % SLOTS) as usize];
                // A slot holds later turns' timers too: only passed ticks fire.
                fired.extend(slot.extract_if(.., |timer| timer.tick <= target));
            }
            self.elapsed = target;
        }
        self.len -= fired.len();
        fired
            .into_iter()
            .map(|timer| (timer.deadline, timer.value))
            .collect()
    }

    /// How many timers have not fired yet.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether every timer has fired.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<T> Default for TimerWheel<T> {
    fn default() -> Self {
        TimerWheel::new()
    }
}

/// The tick a timer due at `deadline` fires on.
fn deadline_to_tick(deadline: Duration) -> u64 {
    // Round *up*. Tick `t` fires once `now` reaches `t` ms (`now_to_tick` rounds down),
    // so a deadline must get the first tick at or after it: 1.5 ms goes to tick 2 and
    // fires at 2 ms, half a tick late, which a timer is allowed to be. Rounded down it
    // would go to tick 1 and fire at 1 ms, early, which no timer may ever be. A
    // deadline on a whole tick keeps that tick: `div_ceil`, not "down, plus one", or
    // every 1 ms timer would fire a whole tick late.
    ((deadline.as_nanos() + TICK.as_nanos() / 2) / TICK.as_nanos()) as u64
}

/// The last tick that has fully passed at `now`: tick `t` has passed once `now` is at
/// least `t` ticks.
fn now_to_tick(now: Duration) -> u64 {
    (now.as_nanos() / TICK.as_nanos()) as u64
}
