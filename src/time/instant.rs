//! `Instant`: a reading of the runtime's clock (chapter 6).
//!
//! `std::time::Instant` reads the wall clock; looplab's reads the clock of the
//! runtime running on this thread, which may be virtual (`clock.rs`). Code that
//! measures with it measures what the loop saw, so a program timed under virtual time
//! reports exact, repeatable durations.

use std::ops::{Add, AddAssign, Sub};
use std::time::Duration;

use crate::context;

/// A point in time on the running runtime's clock (virtual-aware): the time since that
/// runtime started.
///
/// Like `std::time::Instant`, but it follows virtual time when the runtime uses it.
/// Instants of different runtimes are not comparable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(Duration);

impl Instant {
    /// The runtime's clock now.
    ///
    /// # Panics
    /// Outside a runtime: there is no runtime clock to read. Run the code inside
    /// `looplab::block_on(...)`.
    pub fn now() -> Instant {
        Instant(context::with_core("looplab::time::Instant::now", |core| {
            core.timers().now()
        }))
    }

    /// Time since this instant, on the runtime's clock.
    pub fn elapsed(&self) -> Duration {
        Instant::now().duration_since(*self)
    }

    /// Time from `earlier` to `self`; zero if `earlier` is later.
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    /// The time since the runtime started, as a `Duration` (what the trace prints).
    pub fn since_start(&self) -> Duration {
        self.0
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0 + rhs)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        self.0 += rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.duration_since(rhs)
    }
}
