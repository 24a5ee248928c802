//! Time: the clock, the timer wheel, and the futures that wait on them (chapter 6).
//!
//! The async book's and mini-tokio's timers start an OS thread per sleep, which sleeps
//! and then wakes the task. That works, and it is exactly what an event loop is meant
//! to avoid: ten thousand sleeps would be ten thousand threads. A real loop keeps every
//! timer in **one data structure** and parks in the reactor until the nearest
//! deadline:
//!
//! - [`wheel`]: a hierarchical timing wheel, the data structure (no futures in it).
//! - [`clock`]: the runtime's clock, real or virtual; [`Instant`] is a reading of it.
//! - `timers.rs`: the runtime's timers: arms, cancels and fires them, on the
//!   runtime's clock.
//! - [`sleep`](mod@sleep) and [`timeout`](mod@timeout): the futures a task awaits.
//!
//! | looplab | asyncio | tokio |
//! |---|---|---|
//! | `sleep(d)`, `sleep_until(t)` | `asyncio.sleep` | `tokio::time::sleep` |
//! | `timeout(d, fut)` | `asyncio.wait_for` | `tokio::time::timeout` |
//! | `Instant::now()` | `loop.time()` | `tokio::time::Instant::now` |
//! | the wheel | the `_scheduled` heap of `call_later` | `runtime::time::wheel` |

pub mod clock;
mod instant;
pub mod sleep;
pub mod timeout;
pub(crate) mod timers;
pub mod wheel;

pub use instant::Instant;
pub use sleep::{Sleep, sleep, sleep_until};
pub use timeout::{Elapsed, Timeout, timeout};

/// How many timers the current runtime's wheel holds, and how many of them are due
/// (deadline passed, not yet fired). A window into the wheel for tests and examples.
///
/// # Panics
/// Outside a runtime.
pub fn timers_in_wheel() -> (usize, usize) {
    crate::context::with_core("looplab::time::timers_in_wheel", |core| {
        core.timers().len_and_due()
    })
}
