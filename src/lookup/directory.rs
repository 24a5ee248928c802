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
//! ## Run as a service
//!
//! `looplab directory` runs it the way people run servers:
//!
//! - with [`DirectoryConfig::log_requests`], one line per answer on stderr: when
//!   (seconds since the server started, on the runtime's clock), the peer, the method
//!   and path, the status and how long the answer took;
//! - [`Directory::serve_until_drained`] stops cleanly: when its stop future completes
//!   (Ctrl-C or SIGTERM, through [`signal`](crate::signal)) it stops accepting, lets
//!   every answer in flight finish (each then closes its connection), waits at most a
//!   grace period for them, and returns a [`ServeSummary`]: the requests served by
//!   status, and the connections still open (idle ones, closed on exit).
//!
//! Try it: `cargo run --release -- directory --addr localhost:7878`, then
//! `curl -i http://localhost:7878/users/7` (or `curl http://localhost:7878/` for what
//! the server says about itself).

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use super::http::{self, DirectoryInfo, RequestParse, Route, User};
use crate::net::{TcpListener, TcpStream};
use crate::time::{Instant, sleep, timeout};

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
    /// Write one line per answer to stderr (default off: a library should not print).
    pub log_requests: bool,
}

impl Default for DirectoryConfig {
    fn default() -> DirectoryConfig {
        DirectoryConfig {
            delay: Duration::from_secs(1),
            max_request_head: http::MAX_REQUEST_HEAD,
            idle_timeout: Duration::from_secs(10),
            max_connections: 16_384,
            log_requests: false,
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

/// What the server's tasks share: the counts a summary and `GET /` report, and whether
/// the server is stopping. Everything is behind atomics or a lock because tasks are
/// `Send` (their wakers may cross threads), not because two threads touch it.
struct ServerState {
    open_connections: Arc<AtomicUsize>,
    /// Set once the stop future has completed: answers from then on close their
    /// connection, so a client is not left on a connection about to go away.
    stopping: AtomicBool,
    /// User lookups waiting out their delay right now.
    lookups_in_flight: AtomicUsize,
    /// Requests read whole and not yet answered, and the task waiting for that count
    /// to reach zero (the drain at shutdown).
    answers_in_flight: Mutex<(usize, Option<Waker>)>,
    /// Answers sent, by status.
    served: Mutex<BTreeMap<u16, u64>>,
    /// When the server started, on the runtime's clock: log lines count from here.
    started: Instant,
}

/// An answer being worked on: counted from the moment its request is whole until the
/// guard is dropped (answered, or its connection failed, or its task was dropped).
struct AnswerInFlight(Arc<ServerState>);

impl Drop for AnswerInFlight {
    fn drop(&mut self) {
        let waiter = {
            let mut in_flight = self.0.answers_in_flight.lock().unwrap();
            in_flight.0 -= 1;
            if in_flight.0 == 0 {
                in_flight.1.take()
            } else {
                None
            }
        };
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }
}

impl ServerState {
    fn answer_started(self: &Arc<Self>) -> AnswerInFlight {
        self.answers_in_flight.lock().unwrap().0 += 1;
        AnswerInFlight(self.clone())
    }

    /// Completes once no answer is in flight.
    async fn all_answered(&self) {
        std::future::poll_fn(|cx| {
            let mut in_flight = self.answers_in_flight.lock().unwrap();
            if in_flight.0 == 0 {
                return Poll::Ready(());
            }
            in_flight.1 = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// Counts an answer sent and, if asked to, logs it:
    /// `   12.345s  127.0.0.1:50312  GET /users/7  200  1.001s`.
    fn answered(
        &self,
        config: &DirectoryConfig,
        peer: SocketAddr,
        request: Option<&http::Request>,
        status: u16,
        took: Duration,
    ) {
        *self.served.lock().unwrap().entry(status).or_default() += 1;
        if config.log_requests {
            let (method, path) =
                request.map_or(("-", "-"), |r| (r.method.as_str(), r.path.as_str()));
            let at = self.started.elapsed().as_secs_f64();
            let took = took.as_secs_f64();
            // A closed stderr must not stop the server: the error is dropped.
            let _ = writeln!(
                io::stderr(),
                "{at:>10.3}s  {peer}  {method} {path}  {status}  {took:.3}s"
            );
        }
    }

    fn summary(&self, answers_cut_short: usize) -> ServeSummary {
        ServeSummary {
            by_status: self.served.lock().unwrap().clone(),
            open_connections: self.open_connections.load(Ordering::Relaxed),
            answers_cut_short,
        }
    }
}

/// What a server did, as it stops: the answers it sent by status, the connections
/// still open (idle keep-alive ones; they close when the program ends), and the
/// answers still in flight when the grace period ran out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeSummary {
    /// Answers sent, by status code.
    pub by_status: BTreeMap<u16, u64>,
    /// Connections open when the server stopped.
    pub open_connections: usize,
    /// Answers still being worked on when the grace period ended (0 after a clean stop).
    pub answers_cut_short: usize,
}

impl fmt::Display for ServeSummary {
    /// `served 7 requests (200: 5, 404: 2); 1 connection still open`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total: u64 = self.by_status.values().sum();
        let plural = |n: u64, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        write!(f, "served {}", plural(total, "request"))?;
        if !self.by_status.is_empty() {
            let counts: Vec<String> = self
                .by_status
                .iter()
                .map(|(status, count)| format!("{status}: {count}"))
                .collect();
            write!(f, " ({})", counts.join(", "))?;
        }
        let open = plural(self.open_connections as u64, "connection");
        write!(f, "; {open} still open")?;
        if self.answers_cut_short > 0 {
            let cut = plural(self.answers_cut_short as u64, "answer");
            write!(f, "; {cut} cut short by the grace period")?;
        }
        Ok(())
    }
}

/// A bound directory server, ready to [`serve`](Directory::serve).
pub struct Directory {
    listener: TcpListener,
    config: Arc<DirectoryConfig>,
    state: Arc<ServerState>,
}

impl Directory {
    /// Binds the server's socket (inside a runtime). Use port 0 for any free port and
    /// read it back with [`local_addr`](Directory::local_addr). A host name is
    /// resolved and its addresses tried in turn.
    pub fn bind(
        addr: impl std::net::ToSocketAddrs,
        config: DirectoryConfig,
    ) -> io::Result<Directory> {
        Ok(Directory {
            listener: TcpListener::bind(addr)?,
            config: Arc::new(config),
            state: Arc::new(ServerState {
                open_connections: Arc::new(AtomicUsize::new(0)),
                stopping: AtomicBool::new(false),
                lookups_in_flight: AtomicUsize::new(0),
                answers_in_flight: Mutex::new((0, None)),
                served: Mutex::new(BTreeMap::new()),
                started: Instant::now(),
            }),
        })
    }

    /// How many connections are open right now (shared with the server's tasks).
    pub fn open_connections(&self) -> Arc<AtomicUsize> {
        self.state.open_connections.clone()
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until `stop` completes, one task per connection. Connection
    /// tasks already running finish their current request on their own.
    pub async fn serve_until(self, stop: impl Future<Output = ()>) {
        self.accept_until(stop).await;
    }

    /// Accepts connections until `stop` completes, then stops the way a service
    /// should: it stops accepting (the listener closes), waits for the answers in
    /// flight to be sent (each then closes its connection) for at most `grace`, and
    /// returns what it served.
    pub async fn serve_until_drained(
        self,
        stop: impl Future<Output = ()>,
        grace: Duration,
    ) -> ServeSummary {
        let state = self.state.clone();
        self.accept_until(stop).await;
        let drained = timeout(grace, state.all_answered()).await;
        let cut_short = match drained {
            Ok(()) => 0,
            Err(_) => state.answers_in_flight.lock().unwrap().0,
        };
        state.summary(cut_short)
    }

    /// The accept loop; returns (dropping the listener) once `stop` completes.
    async fn accept_until(self, stop: impl Future<Output = ()>) {
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
                None => {
                    self.state.stopping.store(true, Ordering::Relaxed);
                    return;
                }
                Some(Ok((mut stream, peer))) => {
                    accepted += 1;
                    let open = self.state.open_connections.fetch_add(1, Ordering::Relaxed);
                    let guard = ConnectionGuard(self.state.open_connections.clone());
                    let config = self.config.clone();
                    let state = self.state.clone();
                    if open >= config.max_connections {
                        // Over the limit: answer at once and close, in a task of its own
                        // so a slow client cannot hold up the accept loop.
                        crate::spawn(async move {
                            let answer =
                                http::Rejection::busy(config.max_connections).response_bytes(false);
                            if stream.write_all(&answer).await.is_ok() {
                                state.answered(&config, peer, None, 503, Duration::ZERO);
                            }
                            drop(guard);
                        });
                        continue;
                    }
                    crate::spawn_named(format!("connection {accepted}"), async move {
                        // A connection's I/O error (reset, closed) ends that connection
                        // only; there is nobody to report it to but the trace.
                        if let Err(e) = serve_connection(stream, peer, &config, &state).await {
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
/// to close, or the server is stopping.
async fn serve_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    config: &DirectoryConfig,
    state: &Arc<ServerState>,
) -> io::Result<()> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    // Whether the request being read was told `100 Continue` already.
    let mut continued = false;
    loop {
        match http::parse_request_limited(&buffer, config.max_request_head) {
            RequestParse::Complete { request, consumed } => {
                buffer.drain(..consumed);
                continued = false;
                let received = Instant::now();
                let in_flight = state.answer_started();
                let route = http::route(&request);
                if let Route::User(_) = route {
                    // The slow external API: this task waits, the loop does not.
                    state.lookups_in_flight.fetch_add(1, Ordering::Relaxed);
                    sleep(config.delay).await;
                    state.lookups_in_flight.fetch_sub(1, Ordering::Relaxed);
                }
                // Decided after the wait: a stop that came meanwhile closes the
                // connection once this answer is out.
                let keep_alive = request.keep_alive && !state.stopping();
                let (status, mut answer) = match route {
                    Route::User(id) => (200, User::for_id(id).response_bytes(keep_alive)),
                    Route::About => {
                        let lookups = state.lookups_in_flight.load(Ordering::Relaxed);
                        let info = DirectoryInfo::new(config.delay, lookups);
                        (200, info.response_bytes(keep_alive))
                    }
                    Route::Reject(rejection) => {
                        (rejection.status, rejection.response_bytes(keep_alive))
                    }
                };
                if !request.wants_body() {
                    http::strip_body(&mut answer);
                }
                stream.write_all(&answer).await?;
                state.answered(config, peer, Some(&request), status, received.elapsed());
                drop(in_flight);
                if !keep_alive {
                    return Ok(());
                }
            }
            RequestParse::Partial => {
                // A client waiting for our go before it sends a body gets an answer
                // now: the final one if the request would be refused anyway.
                if !continued
                    && let Some(head) = http::awaiting_continue(&buffer, config.max_request_head)
                {
                    if let Route::Reject(rejection) = http::route(&head) {
                        let answer = rejection.response_bytes(false);
                        stream.write_all(&answer).await?;
                        state.answered(config, peer, Some(&head), rejection.status, Duration::ZERO);
                        return Ok(());
                    }
                    stream.write_all(http::CONTINUE).await?;
                    continued = true;
                }
                let n = match timeout(config.idle_timeout, stream.read(&mut chunk)).await {
                    Ok(read) => read?,
                    // Nothing for too long. A client that started a request and
                    // stalled is told so; an idle kept-alive connection just closes.
                    Err(_) => {
                        if !buffer.is_empty() {
                            let answer = http::Rejection::timed_out(config.idle_timeout)
                                .response_bytes(false);
                            stream.write_all(&answer).await?;
                            state.answered(config, peer, None, 408, config.idle_timeout);
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
                state.answered(config, peer, None, 400, Duration::ZERO);
                return Ok(());
            }
            RequestParse::TooLarge(reason) => {
                let answer = http::Rejection::too_large(&reason).response_bytes(false);
                stream.write_all(&answer).await?;
                state.answered(config, peer, None, 431, Duration::ZERO);
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
