//! Ctrl-C and SIGTERM as events of the loop (chapter 7's reactor, put to one more use).
//!
//! A Unix signal interrupts a thread wherever it is, and a signal handler may do
//! almost nothing safely: no locks, no allocation, certainly not poll a future. The
//! classic answer is the **self-pipe trick**: the handler only writes a byte into a
//! pipe, and the program learns of the signal by reading the pipe's other end, like
//! any other input. `signal-hook` installs such a handler, and `signal-hook-mio` hands
//! the pipe's read end over as a `mio` source.
//!
//! So here a signal is readiness on a file descriptor, exactly like a socket's: the
//! source is registered with the runtime's reactor, the task that awaits
//! [`shutdown()`] waits the same way a task waits to read (the same edge-triggered
//! rules, the same waker), and the loop, parked in `epoll_wait`, wakes when the
//! signal's byte arrives. No thread waits for signals, and nothing but the loop
//! touches the server's state.
//!
//! ```no_run
//! looplab::block_on(async {
//!     let shutdown = looplab::signal::shutdown()?;
//!     // ... spawn a server ...
//!     let signal = shutdown.await?;
//!     eprintln!("{signal}: stopping");
//!     Ok::<(), std::io::Error>(())
//! })
//! .unwrap();
//! ```
//!
//! tokio's `tokio::signal::ctrl_c()` is built the same way: a handler that writes to
//! a pipe, and the pipe on the reactor.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use mio::Interest;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use crate::reactor::Direction;
use crate::reactor::registration::Registration;

/// A signal that asks the program to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT: Ctrl-C in the terminal.
    Interrupt,
    /// SIGTERM: `kill PID`, or a service manager stopping the program.
    Terminate,
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        })
    }
}

/// Starts catching SIGINT and SIGTERM on the current runtime, and returns the future
/// that completes with the first of them to arrive. [`Shutdown::next`] waits for the
/// ones after it (a second Ctrl-C: "stop now").
///
/// From this call on, those signals no longer end the process: it is up to the
/// program to stop when the future completes. Once the [`Shutdown`] is dropped the
/// handlers stay installed but the signals are ignored, so call this only in a program
/// that means to handle them.
///
/// # Panics
/// Outside a runtime: the signals' pipe must be registered with a running loop.
pub fn shutdown() -> io::Result<Shutdown> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    // `assume_ready`: a signal that came between the handler's install and the
    // registration has already written its byte, and there will be no new edge for it.
    let registration = Registration::new("signals", &mut signals, Interest::READABLE, true)?;
    Ok(Shutdown {
        signals,
        registration,
        arrived: VecDeque::new(),
    })
}

/// The future returned by [`shutdown()`]: completes with the signal that arrived.
#[must_use = "a Shutdown does nothing until it is awaited"]
pub struct Shutdown {
    signals: Signals,
    registration: Registration,
    /// Signals read from the pipe and not handed out yet: one wake may bring both a
    /// SIGINT and a SIGTERM.
    arrived: VecDeque<Signal>,
}

impl Shutdown {
    /// Waits for the next signal. The first call returns the one awaiting the
    /// `Shutdown` would; each later call, the one after it. The same signal sent twice
    /// before the loop looks counts once: the pipe tells which signals came, not how
    /// often.
    pub async fn next(&mut self) -> io::Result<Signal> {
        std::future::poll_fn(|cx| self.poll_next(cx)).await
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Signal>> {
        if let Some(signal) = self.arrived.pop_front() {
            return Poll::Ready(Ok(signal));
        }
        let Shutdown {
            signals,
            registration,
            arrived,
        } = self;
        // `pending()` empties the pipe and lists the signals that came. None means the
        // byte we were woken for is gone already: wait for the next edge, as a read of
        // an empty socket would.
        registration.poll_io(cx, Direction::Read, "signal", || {
            arrived.extend(signals.pending().map(|number| match number {
                SIGINT => Signal::Interrupt,
                _ => Signal::Terminate,
            }));
            arrived
                .pop_front()
                .ok_or_else(|| io::ErrorKind::WouldBlock.into())
        })
    }
}

impl Future for Shutdown {
    type Output = io::Result<Signal>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.poll_next(cx)
    }
}

impl Signal {
    /// The exit status of a process that a second signal stopped at once: 128 plus the
    /// signal's number, as a shell reports a process the signal killed (130, 143).
    pub fn exit_status(self) -> i32 {
        128 + match self {
            Signal::Interrupt => SIGINT,
            Signal::Terminate => SIGTERM,
        }
    }
}

impl Drop for Shutdown {
    fn drop(&mut self) {
        self.registration.deregister(&mut self.signals);
    }
}
