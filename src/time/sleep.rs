//! `sleep`: a future that is ready once the clock passes a deadline (chapter 6).
//!
//! The first poll puts a timer in the runtime's wheel, holding the task's waker, and
//! returns `Pending`: the task gives the thread back. When the loop's clock passes the
//! deadline the wheel hands the waker back, the loop wakes the task, and the next poll
//! sees the deadline passed and returns `Ready`.
//!
//! Three details matter:
//!
//! - A deadline already passed (including `sleep(Duration::ZERO)`) is ready on the
//!   first poll, without touching the wheel or parking.
//! - If the task moves on and polls with a different waker, the timer's waker is
//!   replaced: waking an old waker would wake the wrong task.
//! - **Dropping a `Sleep` cancels its timer** (O(1) in the wheel). A `timeout` that
//!   wins a race, or a `select!` that picks the other branch, leaves no dead entry
//!   behind.
//!
//! This is why `std::thread::sleep` (Python's `time.sleep`) blocks the whole loop and
//! `looplab::time::sleep` (`asyncio.sleep`) does not (chapter 9): the first keeps the
//! one thread for itself; `sleep(..).await` returns it to the loop until the deadline.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::instant::Instant;
use super::wheel::TimerKey;
use crate::context;

/// Waits until `duration` has passed on the runtime's clock (asyncio's
/// `asyncio.sleep`).
///
/// # Panics
/// Outside a runtime: the deadline is read from the runtime's clock. Run the code
/// inside `looplab::block_on`.
pub fn sleep(duration: Duration) -> Sleep {
    let now = Instant::now();
    sleep_until(now + duration)
}

/// Waits until the runtime's clock reaches `deadline`.
///
/// # Panics
/// Outside a runtime.
pub fn sleep_until(deadline: Instant) -> Sleep {
    let runtime_id = context::with_core("looplab::time::sleep_until", |core| core.id());
    Sleep {
        deadline,
        timer: None,
        runtime_id,
    }
}

/// The future returned by [`sleep`] and [`sleep_until`].
#[derive(Debug)]
#[must_use = "a Sleep does nothing until it is awaited"]
pub struct Sleep {
    deadline: Instant,
    /// The timer in the wheel, once the first poll armed it.
    timer: Option<TimerKey>,
    /// The runtime whose wheel holds the timer.
    runtime_id: u64,
}

impl Sleep {
    /// When this sleep ends.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // `Sleep` holds no self-references, so it is `Unpin` and can be used directly.
        let this = self.get_mut();
        context::with_core("polling a looplab Sleep", |core| {
            // The deadline and the timer belong to the runtime the sleep was made in:
            // another runtime's clock started at another moment, and the timer key
            // would name a slot in the wrong wheel (some other task's timer).
            assert!(
                core.id() == this.runtime_id,
                "a looplab Sleep was polled in another runtime than the one it was made \
                 in. Create the sleep inside the runtime that awaits it."
            );
            let time = core.timers();
            if time.now() >= this.deadline.since_start() {
                // Done. If the timer has not fired (the task was polled for another
                // reason at the right moment), take it out now.
                if let Some(key) = this.timer.take() {
                    time.cancel(key);
                }
                return Poll::Ready(());
            }
            let task = core.executor().current_task();
            // Polled again while the timer waits: keep it, with this poll's waker. A
            // timer that fired before the clock reached the deadline cannot happen
            // (ticks round up); arming again is the safe answer anyway.
            let still_armed = this
                .timer
                .is_some_and(|key| time.update_waker(key, cx.waker(), task));
            if !still_armed {
                this.timer = Some(time.arm(this.deadline.since_start(), cx.waker().clone(), task));
            }
            Poll::Pending
        })
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        let Some(key) = self.timer.take() else {
            return;
        };
        // Outside its runtime (the runtime is being dropped, or the Sleep moved to
        // another thread) there is no wheel to clean up.
        context::try_with_core(|core| {
            if core.id() == self.runtime_id {
                core.timers().cancel(key);
            }
        });
    }
}
