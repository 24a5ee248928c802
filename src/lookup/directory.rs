//! The user directory: the post's "external API", an HTTP/1.1 server on looplab.
//!
//! The post's application keeps no user data; it asks an external API, which takes one
//! second per user and answers one user per call. This is that API, for real:
//! `GET /users/{id}` answers `200` with `{"id":7,"name":"..."}` after the configured
//! delay. Anything else gets a short 4xx that says why, and the server keeps serving.
//!
//! It is also the first complete program on the runtime, and it shows the shape every
//! async server has:
//!
//! - one task accepts connections and **spawns a task per connection**; a connection
//!   task costs a few hundred bytes, not a thread's stack, so thousands can wait at once;
//! - each connection task reads until a whole request is in its buffer (TCP delivers
//!   bytes, not messages: a request may arrive in pieces, or two at once), answers it,
//!   and goes back for the next one (keep-alive);
//! - the one-second delay is `sleep(delay).await`: while one connection "works", the
//!   loop serves every other one. That is why a single thread can stand in for the
//!   post's slow API under load.
//!
//! Protocol errors are local to their connection: a malformed request gets `400` and
//! the connection closes, since the position of the next request cannot be trusted; the
//! accept loop and every other connection go on.
//!
//! ## Limits
//!
//! A server that trusts its clients can be made to hold any amount of memory or any
//! number of sockets. Three limits, each in [`DirectoryConfig`] and each a flag of
//! `looplab directory`, keep what one client can cost bounded:
//!
//! | limit | default | past it |
//! |---|---|---|
//! | request line + headers (`max_request_head`) | 8 KiB | `431`, connection closed |
//! | idle time waiting for a request (`idle_timeout`) | 10 s | `408` if a request had started, then closed |
//! | open connections (`max_connections`) | 16,384 | new connections get `503` and are closed at once |
//!
//! So a connection's memory is its task, its socket and a buffer of at most the head
//! limit plus one read (a request body, at most 64 KiB, is skipped as it is parsed).
//! Past the connection limit the server keeps accepting (and closing), so the kernel's
//! backlog never fills and the server never stops accepting for good; if accepting
//! fails (out of file descriptors), it pauses 10 ms and tries again.
//!
//! Try it: `cargo run --release -- directory --addr 127.0.0.1:7878`, then
//! `curl -i http://127.0.0.1:7878/users/7`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use super::http::{self, RequestParse, Route, User};
use crate::net::{TcpListener, TcpStream};
use crate::time::{sleep, timeout};

/// How the directory behaves. `DirectoryConfig { delay, ..Default::default() }` keeps
/// the default limits.
#[derive(Clone, Debug)]
pub struct DirectoryConfig {
    /// How long each user lookup takes: the post's one second.
    pub delay: Duration,
    /// The largest request line plus headers accepted (default 8 KiB); larger gets `431`.
    pub max_request_head: usize,
    /// How long a connection may wait for (the rest of) a request (default 10 s).
    pub idle_timeout: Duration,
    /// The most connections served at once (default 16,384); more get `503`.
    pub max_connections: usize,
}

impl Default for DirectoryConfig {
    fn default() -> DirectoryConfig {
        DirectoryConfig {
            delay: Duration::from_secs(1),
            max_request_head: http::MAX_REQUEST_HEAD,
            idle_timeout: Duration::from_secs(10),
            max_connections: 16_384,
        }
    }
}

impl DirectoryConfig {
    /// The default limits with the given delay per user.
    pub fn with_delay(delay: Duration) -> DirectoryConfig {
        DirectoryConfig {
            delay,
            ..DirectoryConfig::default()
        }
    }
}

/// Counts open connections; the count goes down when a connection's guard is dropped,
/// however its task ends (finished, failed, or dropped with the runtime).
struct ConnectionGuard(Arc<AtomicUsize>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A bound directory server, ready to [`serve`](Directory::serve).
pub struct Directory {
    listener: TcpListener,
    config: Arc<DirectoryConfig>,
    open_connections: Arc<AtomicUsize>,
}

impl Directory {
    /// Binds the server's socket (inside a runtime). Use port 0 for any free port and
    /// read it back with [`local_addr`](Directory::local_addr).
    pub fn bind(
        addr: impl std::net::ToSocketAddrs,
        config: DirectoryConfig,
    ) -> io::Result<Directory> {
        Ok(Directory {
            listener: TcpListener::bind(addr)?,
            config: Arc::new(config),
            open_connections: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// How many connections are open right now (shared with the server's tasks).
    pub fn open_connections(&self) -> Arc<AtomicUsize> {
        self.open_connections.clone()
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until `stop` completes, one task per connection. Connection
    /// tasks already running finish their current request on their own.
    pub async fn serve_until(self, stop: impl Future<Output = ()>) {
        let mut stop = pin!(stop);
        // Connections are named by arrival order, not by the client's port, so that a
        // trace under virtual time is the same on every run.
        let mut accepted: u64 = 0;
        loop {
            let mut accept = pin!(self.listener.accept());
            // Wait for whichever comes first: the stop signal or a new connection.
            let next = std::future::poll_fn(|cx| {
                if stop.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                accept.as_mut().poll(cx).map(Some)
            })
            .await;
            match next {
                None => return,
                Some(Ok((mut stream, peer))) => {
                    accepted += 1;
                    let open = self.open_connections.fetch_add(1, Ordering::Relaxed);
                    let guard = ConnectionGuard(self.open_connections.clone());
                    let config = self.config.clone();
                    if open >= config.max_connections {
                        // Over the limit: answer at once and close, in a task of its own
                        // so a slow client cannot hold up the accept loop.
                        crate::spawn(async move {
                            let answer =
                                http::Rejection::busy(config.max_connections).response_bytes(false);
                            let _ = stream.write_all(&answer).await;
                            drop(guard);
                        });
                        continue;
                    }
                    crate::spawn_named(format!("connection {accepted}"), async move {
                        // A connection's I/O error (reset, closed) ends that connection
                        // only; there is nobody to report it to but the trace.
                        if let Err(e) = serve_connection(stream, &config).await {
                            crate::trace::note(format!("connection from {peer} ended: {e}"));
                        }
                        drop(guard);
                    });
                }
                // Accepting can fail for one connection (it was reset before we took
                // it) or for a while (out of file descriptors). Neither stops the
                // server; a short pause keeps the second case from spinning.
                Some(Err(e)) => {
                    crate::trace::note(format!("accept failed: {e}"));
                    sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }

    /// Accepts connections forever.
    pub async fn serve(self) {
        self.serve_until(std::future::pending()).await
    }
}

/// Serves one connection: requests in, answers out, until the client closes or asks
/// to close.
async fn serve_connection(mut stream: TcpStream, config: &DirectoryConfig) -> io::Result<()> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        match http::parse_request_limited(&buffer, config.max_request_head) {
            RequestParse::Complete { request, consumed } => {
                buffer.drain(..consumed);
                let answer = match http::route(&request) {
                    Route::User(id) => {
                        // The slow external API: this task waits, the loop does not.
                        sleep(config.delay).await;
                        User::for_id(id).response_bytes(request.keep_alive)
                    }
                    Route::Reject(rejection) => rejection.response_bytes(request.keep_alive),
                };
                stream.write_all(&answer).await?;
                if !request.keep_alive {
                    return Ok(());
                }
            }
            RequestParse::Partial => {
                let n = match timeout(config.idle_timeout, stream.read(&mut chunk)).await {
                    Ok(read) => read?,
                    // Nothing for too long. A client that started a request and
                    // stalled is told so; an idle kept-alive connection just closes.
                    Err(_) => {
                        if !buffer.is_empty() {
                            let answer = http::Rejection::timed_out(config.idle_timeout)
                                .response_bytes(false);
                            stream.write_all(&answer).await?;
                        }
                        return Ok(());
                    }
                };
                if n == 0 {
                    // The client closed. Between requests that is the normal end of
                    // a kept-alive connection; in the middle of one there is no one
                    // left to answer.
                    return Ok(());
                }
                buffer.extend_from_slice(&chunk[..n]);
            }
            RequestParse::Invalid(reason) => {
                let answer = http::Rejection::malformed(&reason).response_bytes(false);
                stream.write_all(&answer).await?;
                return Ok(());
            }
            RequestParse::TooLarge(reason) => {
                let answer = http::Rejection::too_large(&reason).response_bytes(false);
                stream.write_all(&answer).await?;
                return Ok(());
            }
        }
    }
}

/// A one-time signal another thread can fire to stop a server: a tiny hand-written
/// future, woken across threads like any other. Clones share the signal, so one
/// `fire` can stop several servers: every task waiting on it is woken.
#[derive(Clone, Default)]
pub struct StopSignal {
    state: Arc<Mutex<StopState>>,
}

#[derive(Default)]
struct StopState {
    fired: bool,
    /// One waker per waiting task. A single slot would be a lost wakeup as soon as
    /// two tasks wait: the second waker would overwrite the first.
    waiting: Vec<Waker>,
}

impl StopSignal {
    /// A signal not fired yet.
    pub fn new() -> StopSignal {
        StopSignal::default()
    }

    /// Fires the signal and wakes every task waiting on it, from any thread.
    pub fn fire(&self) {
        let waiting = {
            let mut state = self.state.lock().unwrap();
            state.fired = true;
            std::mem::take(&mut state.waiting)
        };
        // Woken outside the lock: a wake may run code that takes it again.
        for waker in waiting {
            waker.wake();
        }
    }

    /// Completes once the signal has been fired.
    pub async fn fired(&self) {
        std::future::poll_fn(|cx| {
            let mut state = self.state.lock().unwrap();
            if state.fired {
                return Poll::Ready(());
            }
            // Polled again by the same task: keep one waker for it, the newest.
            match state.waiting.iter_mut().find(|w| w.will_wake(cx.waker())) {
                Some(waker) => waker.clone_from(cx.waker()),
                None => state.waiting.push(cx.waker().clone()),
            }
            Poll::Pending
        })
        .await
    }
}

/// A directory running on its own looplab runtime in its own OS thread: the "external
/// API" the blocking clients and the real-time event-loop client talk to. Stops (and
/// joins its thread) when dropped.
pub struct DirectoryThread {
    addr: SocketAddr,
    stop: StopSignal,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DirectoryThread {
    /// Binds `addr` and starts serving on a new thread. Returns once the socket is
    /// bound, so clients can connect at once.
    pub fn start(addr: SocketAddr, config: DirectoryConfig) -> io::Result<DirectoryThread> {
        let stop = StopSignal::new();
        let (bound_tx, bound_rx) = std::sync::mpsc::channel();
        let stop_in_thread = stop.clone();
        let thread = std::thread::Builder::new()
            .name("directory".into())
            .spawn(move || {
                let runtime = match crate::Runtime::builder().build() {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = bound_tx.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match Directory::bind(addr, config) {
                        Ok(directory) => {
                            let _ = bound_tx.send(directory.local_addr());
                            directory.serve_until(stop_in_thread.fired()).await;
                        }
                        Err(e) => {
                            let _ = bound_tx.send(Err(e));
                        }
                    }
                });
            })?;
        let addr = bound_rx.recv().map_err(|_| {
            io::Error::other("the directory thread stopped before binding its socket")
        })??;
        Ok(DirectoryThread {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// Where the directory listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for DirectoryThread {
    fn drop(&mut self) {
        self.stop.fire();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
