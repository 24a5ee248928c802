//! The runtime's clock: real or virtual (chapter 6).
//!
//! Every runtime reads time through one `Clock`, owned by its timers
//! (`timers.rs`); [`Instant`](super::Instant) is a reading of it: the time since the
//! runtime started. Two kinds of clock:
//!
//! - **Real**: wall time (`std::time::Instant`). Sleeping one second takes one second.
//! - **Virtual**: a number that only the loop moves. When no task is ready and the
//!   reactor has nothing to report, there is nothing the program could do until the
//!   next timer, so the loop sets the clock straight to that deadline instead of
//!   waiting for it. A program made of sleeps then runs in microseconds and every
//!   timestamp is exact (a 1 s sleep ends at 1.000 s, not 1.0012 s), which is what
//!   makes traces diffable and timing tests fast.
//!
//! Virtual time is honest only because the loop moves the clock *when nothing else can
//! happen*: if a task were ready, jumping would reorder events. A virtual-time
//! runtime's sockets are simulated in memory (`sim_net/`), so no byte is ever in
//! flight where the loop cannot see it; the park (`park.rs`) is the one place that
//! moves this clock. tokio has a paused clock too (`time::pause()`), which advances
//! whenever its runtime is idle, real sockets or not; asyncio leaves it to test
//! libraries that swap `loop.time()`.

use std::cell::Cell;
use std::time::Duration;

/// The runtime's source of time.
pub(crate) enum Clock {
    Real { start: std::time::Instant },
    Virtual { now: Cell<Duration> },
}

impl Clock {
    pub(crate) fn real() -> Clock {
        Clock::Real {
            start: std::time::Instant::now(),
        }
    }

    pub(crate) fn virtual_() -> Clock {
        Clock::Virtual {
            now: Cell::new(Duration::ZERO),
        }
    }

    pub(crate) fn is_virtual(&self) -> bool {
        matches!(self, Clock::Virtual { .. })
    }

    /// Time since the runtime started.
    pub(crate) fn now(&self) -> Duration {
        match self {
            Clock::Real { start } => start.elapsed(),
            Clock::Virtual { now } => now.get(),
        }
    }

    /// Moves virtual time forward to `to`. Never backwards; a no-op on a real clock.
    pub(crate) fn advance_to(&self, to: Duration) {
        if let Clock::Virtual { now } = self
            && to > now.get()
        {
            now.set(to);
        }
    }
}

/// Converts a deadline to wheel ticks (1 ms), rounding **up**: a timer may fire late by
/// less than a tick, never early.
pub(crate) fn deadline_to_tick(deadline: Duration) -> u64 {
    let nanos = deadline.as_nanos();
    let tick = nanos.div_ceil(1_000_000);
    u64::try_from(tick).unwrap_or(u64::MAX)
}

/// The wheel tick that has fully passed at `now` (rounding down).
pub(crate) fn now_to_tick(now: Duration) -> u64 {
    u64::try_from(now.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_and_now_rounds_down() {
        assert_eq!(deadline_to_tick(Duration::from_millis(1000)), 1000);
        assert_eq!(deadline_to_tick(Duration::from_micros(1_000_001)), 1001);
        assert_eq!(now_to_tick(Duration::from_micros(1_000_999)), 1000);
    }

    #[test]
    fn virtual_clock_only_moves_forward() {
        let clock = Clock::virtual_();
        clock.advance_to(Duration::from_secs(2));
        clock.advance_to(Duration::from_secs(1));
        assert_eq!(clock.now(), Duration::from_secs(2));
    }
}
