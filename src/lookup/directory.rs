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
//!   bytes, not messages: a request may arrive in pieces, or several at once), answers
//!   it, and goes back for the next one (keep-alive);
//! - a client may send several requests without waiting (pipelining): every request
//!   already whole in the buffer is answered, in order, and those answers leave with
//!   one write. Accepted sockets have `TCP_NODELAY` on, so that a batch is sent at once
//!   rather than held by Nagle's algorithm until the client's delayed ACK;
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
//! number of sockets. Four limits, each in [`DirectoryConfig`] and each a flag of
//! `looplab directory`, keep what one client can cost bounded:
//!
//! | limit | default | past it |
//! |---|---|---|
//! | request line + headers (`max_request_head`) | 8 KiB | `431`, connection closed |
//! | a head's first byte to its end (`header_timeout`) | 10 s | `408`, connection closed |
//! | idle time between requests, or within a body (`idle_timeout`) | 10 s | closed (`408` within a body) |
//! | open connections (`max_connections`) | 16,384 | new connections get `503` and are closed at once |
//!
//! The header timeout counts from a request's first byte, not from the last one: a
//! client that sends its head a byte at a time, each in time for the idle limit, still
//! has only the header timeout for all of it (as nginx's `client_header_timeout`).
//! Reading a head costs time in proportion to its size: each byte is looked at once
//! however many reads it comes in ([`http::RequestReader`]), so raising
//! `max_request_head` cannot make the loop quadratic.
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
//!   and path, the status and how long the answer took. The lines of a loop turn are
//!   written together ([`access_log`](super::access_log)), and none is lost at exit;
//! - [`Directory::serve_until_drained`] stops cleanly: when its stop future completes
//!   (Ctrl-C or SIGTERM, through [`signal`](crate::signal)) it stops accepting, lets
//!   every answer in flight finish (each then closes its connection), waits at most a
//!   grace period for them, and returns a [`ServeSummary`]: the requests served by
//!   status, and the connections still open (idle ones, closed on exit). Answers still
//!   in flight when the grace runs out, or when [`Directory::serve_until_drained_or`]'s
//!   second future completes (a second Ctrl-C), are told `503 Service Unavailable`
//!   with `Connection: close` instead of a bare close.
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

use super::access_log::AccessLog;
use super::http::{self, DirectoryInfo, RequestParse, RequestReader, Route, StatusCode, User};
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
    /// How long a kept-alive connection may wait for its next request (default 10 s).
    pub idle_timeout: Duration,
    /// How long a request's head may take, from its first byte to its empty line
    /// (default 10 s, as nginx's `client_header_timeout`); past it, `408`.
    pub header_timeout: Duration,
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
            header_timeout: Duration::from_secs(10),
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

/// How long the answers cut short get to say so (`503`) once the grace is over.
const CUT_SHORT_WRITE: Duration = Duration::from_millis(250);

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
    /// Fired when the grace is over: the answers still waiting give up and say `503`.
    cut: Cut,
    /// User lookups waiting out their delay right now.
    lookups_in_flight: AtomicUsize,
    /// Requests read whole and not yet answered, and the task waiting for that count
    /// to reach zero (the drain at shutdown).
    answers_in_flight: Mutex<(usize, Option<Waker>)>,
    /// Answers sent, by status.
    served: Mutex<BTreeMap<u16, u64>>,
    /// The access log, when asked for.
    log: Option<AccessLog>,
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

    fn answers_in_flight(&self) -> usize {
        self.answers_in_flight.lock().unwrap().0
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

    /// Formats the log line of an answer at the end of `lines`, if the log is on:
    /// `    12.345s  127.0.0.1:50312  GET /users/7  200  1.001s`.
    fn log_line(
        &self,
        lines: &mut Vec<u8>,
        peer: SocketAddr,
        request: Option<&http::Request>,
        status: StatusCode,
        took: Duration,
    ) {
        if self.log.is_none() {
            return;
        }
        let (method, path) = request.map_or(("-", "-"), |r| (r.method.as_str(), r.path.as_str()));
        // Whole seconds and milliseconds as integers: cheaper than a float's digits.
        let at = self.started.elapsed();
        // Writing to a Vec<u8> cannot fail.
        let _ = writeln!(
            lines,
            "{:>6}.{:03}s  {peer}  {method} {path}  {}  {}.{:03}s",
            at.as_secs(),
            at.subsec_millis(),
            status.as_u16(),
            took.as_secs(),
            took.subsec_millis()
        );
    }

    /// Counts answers that went out, and hands their log lines to the log.
    fn sent(&self, statuses: &[StatusCode], lines: &[u8]) {
        let mut served = self.served.lock().unwrap();
        for status in statuses {
            *served.entry(status.as_u16()).or_default() += 1;
        }
        drop(served);
        if let Some(log) = &self.log {
            log.lines(lines);
        }
    }

    /// Counts and logs one answer that went out on its own.
    fn answered(
        &self,
        peer: SocketAddr,
        request: Option<&http::Request>,
        status: StatusCode,
        took: Duration,
    ) {
        let mut line = Vec::new();
        self.log_line(&mut line, peer, request, status, took);
        self.sent(&[status], &line);
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
    /// Answers still being worked on when the grace period ended, or a second signal
    /// came (0 after a clean stop). Each was told `503` if its client was reading.
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
            write!(f, "; {cut} cut short (503)")?;
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
        let log = config.log_requests.then(AccessLog::stderr);
        Ok(Directory {
            listener: TcpListener::bind(addr)?,
            config: Arc::new(config),
            state: Arc::new(ServerState {
                open_connections: Arc::new(AtomicUsize::new(0)),
                stopping: AtomicBool::new(false),
                cut: Cut::default(),
                lookups_in_flight: AtomicUsize::new(0),
                answers_in_flight: Mutex::new((0, None)),
                served: Mutex::new(BTreeMap::new()),
                log,
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
        let state = self.state.clone();
        self.accept_until(stop).await;
        if let Some(log) = &state.log {
            log.flush();
        }
    }

    /// Accepts connections until `stop` completes, then stops the way a service
    /// should: it stops accepting (the listener closes), waits for the answers in
    /// flight to be sent (each then closes its connection) for at most `grace`, and
    /// returns what it served. Answers still in flight after the grace are told
    /// `503 Service Unavailable` and closed.
    pub async fn serve_until_drained(
        self,
        stop: impl Future<Output = ()>,
        grace: Duration,
    ) -> ServeSummary {
        self.serve_until_drained_or(stop, grace, std::future::pending())
            .await
    }

    /// [`serve_until_drained`](Directory::serve_until_drained), with one more way to
    /// end the grace: once `stop_now` completes (a second Ctrl-C), the answers still in
    /// flight are cut short at once, as when the grace runs out.
    pub async fn serve_until_drained_or(
        self,
        stop: impl Future<Output = ()>,
        grace: Duration,
        stop_now: impl Future<Output = ()>,
    ) -> ServeSummary {
        let state = self.state.clone();
        self.accept_until(stop).await;
        let drained = unless(timeout(grace, state.all_answered()), stop_now).await;
        let cut_short = match drained {
            Some(Ok(())) => 0,
            Some(Err(_)) | None => {
                let cut_short = state.answers_in_flight();
                // Every answer still waiting says `503` and closes; those whose client
                // does not read get a moment, not more.
                state.cut.fire();
                let _ = timeout(CUT_SHORT_WRITE, state.all_answered()).await;
                cut_short
            }
        };
        if let Some(log) = &state.log {
            log.flush();
        }
        state.summary(cut_short)
    }

    /// The accept loop; returns (dropping the listener) once `stop` completes.
    async fn accept_until(self, stop: impl Future<Output = ()>) {
        if let Some(log) = &self.state.log {
            crate::spawn_named("access log", log.clone().run());
        }
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
                    // Answers are written whole, each batch in one write: Nagle's
                    // algorithm would only hold the next batch back until the client's
                    // delayed ACK (some 40 ms).
                    if let Err(e) = stream.set_nodelay(true) {
                        crate::trace::note(format!("TCP_NODELAY on {peer}: {e}"));
                    }
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
                                let busy = StatusCode::SERVICE_UNAVAILABLE;
                                state.answered(peer, None, busy, Duration::ZERO);
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

/// The end of the grace, which every answer waiting out its delay listens for.
///
/// Unlike a [`StopSignal`], whose waiters stay listed until it fires, a waiter here
/// leaves the list when its wait ends: thousands of answers a second wait on it, and
/// each must cost the same small amount, not add to a list that only grows.
#[derive(Default)]
struct Cut {
    state: Mutex<CutState>,
}

#[derive(Default)]
struct CutState {
    fired: bool,
    /// One slot per waiting answer; freed slots are reused.
    waiting: Vec<Option<Waker>>,
    free: Vec<usize>,
}

impl Cut {
    fn fire(&self) {
        let waiting = {
            let mut state = self.state.lock().unwrap();
            state.fired = true;
            std::mem::take(&mut state.waiting)
        };
        for waker in waiting.into_iter().flatten() {
            waker.wake();
        }
    }

    /// Completes once the grace is over.
    fn wait(&self) -> CutWait<'_> {
        CutWait {
            cut: self,
            slot: None,
        }
    }
}

/// A wait for the [`Cut`]; its slot is given back when it is dropped.
struct CutWait<'a> {
    cut: &'a Cut,
    slot: Option<usize>,
}

impl Future for CutWait<'_> {
    type Output = ();

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        let mut state = self.cut.state.lock().unwrap();
        if state.fired {
            return Poll::Ready(());
        }
        let waker = Some(cx.waker().clone());
        let slot = match self.slot {
            Some(slot) => slot,
            None => match state.free.pop() {
                Some(slot) => slot,
                None => {
                    state.waiting.push(None);
                    state.waiting.len() - 1
                }
            },
        };
        state.waiting[slot] = waker;
        drop(state);
        self.slot = Some(slot);
        Poll::Pending
    }
}

impl Drop for CutWait<'_> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot {
            let mut state = self.cut.state.lock().unwrap();
            if !state.fired {
                state.waiting[slot] = None;
                state.free.push(slot);
            }
        }
    }
}

/// Waits for `work`, unless `cut` completes first (then `None`).
async fn unless<F: Future>(work: F, cut: impl Future<Output = ()>) -> Option<F::Output> {
    let (mut work, mut cut) = (pin!(work), pin!(cut));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        cut.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// A connection's answers not written yet, in the order of their requests, with
/// their statuses and log lines: an answer is counted and logged once it is written.
#[derive(Default)]
struct Outbox {
    bytes: Vec<u8>,
    statuses: Vec<StatusCode>,
    lines: Vec<u8>,
}

impl Outbox {
    /// Adds an answer after those already waiting.
    fn push(
        &mut self,
        state: &ServerState,
        answer: &[u8],
        (peer, request): (SocketAddr, Option<&http::Request>),
        status: StatusCode,
        took: Duration,
    ) {
        self.bytes.extend_from_slice(answer);
        self.statuses.push(status);
        state.log_line(&mut self.lines, peer, request, status, took);
    }

    /// Writes every answer waiting, with one write (more only if the socket's buffer
    /// is full), then counts and logs them.
    async fn send(&mut self, stream: &mut TcpStream, state: &ServerState) -> io::Result<()> {
        if self.bytes.is_empty() {
            return Ok(());
        }
        stream.write_all(&self.bytes).await?;
        state.sent(&self.statuses, &self.lines);
        self.bytes.clear();
        self.statuses.clear();
        self.lines.clear();
        Ok(())
    }
}

/// The room a connection's buffer makes for one read: as much as it holds already
/// (so a large head grows it as a `Vec` grows), at least a typical request head, and
/// at most 64 KiB (the room is zeroed before each read).
fn read_room(filled: usize) -> usize {
    filled.clamp(1024, 64 * 1024)
}

/// Serves one connection: requests in, answers out, until the client closes or asks
/// to close, or the server is stopping.
///
/// A client may send several requests without waiting for the answers (pipelining).
/// Every request already whole in the buffer is answered before the connection reads
/// again, and those answers go out together, in order, with one write: one system
/// call and one TCP segment instead of one per answer. An answer that must wait out
/// the delay first sends the ones ready before it.
async fn serve_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    config: &DirectoryConfig,
    state: &Arc<ServerState>,
) -> io::Result<()> {
    let mut buffer = Vec::with_capacity(1024);
    // Where the bytes not yet answered start in `buffer`.
    let mut start = 0;
    let mut reader = RequestReader::new(config.max_request_head);
    let mut out = Outbox::default();
    // Whether the request being read was told `100 Continue` already.
    let mut continued = false;
    // When the first byte of the request being read arrived (its head's deadline
    // counts from there), and when the last read came.
    let mut head_started: Option<Instant> = None;
    let mut last_read = Instant::now();
    loop {
        match reader.parse(&buffer[start..]) {
            RequestParse::Complete { request, consumed } => {
                start += consumed;
                continued = false;
                // The next request's first bytes, if any, came with the last read.
                head_started = (start < buffer.len()).then_some(last_read);
                let received = Instant::now();
                let in_flight = state.answer_started();
                let route = http::route(&request);
                if let Route::User(_) = route
                    && !config.delay.is_zero()
                {
                    // The slow external API: this task waits, the loop does not. The
                    // answers ready before this one do not wait with it.
                    out.send(&mut stream, state).await?;
                    state.lookups_in_flight.fetch_add(1, Ordering::Relaxed);
                    let waited = unless(sleep(config.delay), state.cut.wait()).await;
                    state.lookups_in_flight.fetch_sub(1, Ordering::Relaxed);
                    if waited.is_none() {
                        // The grace is over: say so rather than close without a word.
                        let stopping = http::Rejection::stopping();
                        let answer = stopping.response_bytes(false);
                        let took = received.elapsed();
                        out.push(
                            state,
                            &answer,
                            (peer, Some(&request)),
                            stopping.status,
                            took,
                        );
                        return out.send(&mut stream, state).await;
                    }
                }
                // Decided after the wait: a stop that came meanwhile closes the
                // connection once this answer is out.
                let keep_alive = request.keep_alive && !state.stopping();
                let (status, mut answer) = match route {
                    Route::User(id) => {
                        (StatusCode::OK, User::for_id(id).response_bytes(keep_alive))
                    }
                    Route::About => {
                        let lookups = state.lookups_in_flight.load(Ordering::Relaxed);
                        let info = DirectoryInfo::new(config.delay, lookups);
                        (StatusCode::OK, info.response_bytes(keep_alive))
                    }
                    Route::Reject(rejection) => {
                        (rejection.status, rejection.response_bytes(keep_alive))
                    }
                };
                if !request.wants_body() {
                    http::strip_body(&mut answer);
                }
                let took = received.elapsed();
                out.push(state, &answer, (peer, Some(&request)), status, took);
                drop(in_flight);
                if !keep_alive {
                    return out.send(&mut stream, state).await;
                }
            }
            RequestParse::Partial => {
                // Everything whole is answered; what is left is the start of the next
                // request, moved to the front.
                buffer.drain(..start);
                start = 0;
                // A client waiting for our go before it sends a body gets an answer
                // now: the final one if the request would be refused anyway.
                if !continued && let Some(head) = reader.awaiting_continue(&buffer) {
                    if let Route::Reject(rejection) = http::route(head) {
                        let answer = rejection.response_bytes(false);
                        let status = rejection.status;
                        out.push(state, &answer, (peer, Some(head)), status, Duration::ZERO);
                        return out.send(&mut stream, state).await;
                    }
                    // An interim answer: not counted, not logged.
                    out.bytes.extend_from_slice(http::CONTINUE);
                    continued = true;
                }
                out.send(&mut stream, state).await?;
                // Between requests the wait is the keep-alive limit; within a head,
                // the head's own deadline, however the bytes trickle in; within a
                // body, the keep-alive limit for each read.
                let (wait, limit) = match head_started {
                    Some(first_byte) if !reader.head_is_read() => {
                        let left = config.header_timeout.saturating_sub(first_byte.elapsed());
                        (left, config.header_timeout)
                    }
                    _ => (config.idle_timeout, config.idle_timeout),
                };
                // Read straight into the buffer's free room, so the bytes are not
                // copied again and the task holds no read buffer of its own: a task's
                // state is boxed for its whole life, and a fixed array there would
                // cost every idle connection its size.
                let filled = buffer.len();
                buffer.resize(filled + read_room(filled), 0);
                let read = timeout(wait, stream.read(&mut buffer[filled..])).await;
                let read_n = match &read {
                    Ok(Ok(n)) => *n,
                    _ => 0,
                };
                buffer.truncate(filled + read_n);
                let n = match read {
                    Ok(read) => read?,
                    // Nothing for too long. A client that started a request and
                    // stalled is told so; an idle kept-alive connection just closes.
                    Err(_) => {
                        if !buffer.is_empty() {
                            let timed_out = http::Rejection::timed_out(limit);
                            let answer = timed_out.response_bytes(false);
                            out.push(state, &answer, (peer, None), timed_out.status, limit);
                            return out.send(&mut stream, state).await;
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
                last_read = Instant::now();
                if filled == 0 {
                    head_started = Some(last_read);
                }
            }
            RequestParse::Invalid(reason) => {
                let malformed = http::Rejection::malformed(&reason);
                let answer = malformed.response_bytes(false);
                out.push(
                    state,
                    &answer,
                    (peer, None),
                    malformed.status,
                    Duration::ZERO,
                );
                return out.send(&mut stream, state).await;
            }
            RequestParse::TooLarge(reason) => {
                let too_large = http::Rejection::too_large(&reason);
                let answer = too_large.response_bytes(false);
                out.push(
                    state,
                    &answer,
                    (peer, None),
                    too_large.status,
                    Duration::ZERO,
                );
                return out.send(&mut stream, state).await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Context;

    #[test]
    fn a_wait_for_the_cut_gives_its_slot_back_and_the_cut_wakes_those_still_waiting() {
        let cut = Cut::default();
        let woken = Arc::new(AtomicUsize::new(0));
        let waker = futures_task::waker(Arc::new(CountWakes(woken.clone())));
        let mut cx = Context::from_waker(&waker);
        // A thousand answers that waited and were done: the list stays one slot long.
        for _ in 0..1000 {
            let mut wait = pin!(cut.wait());
            assert!(wait.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(cut.state.lock().unwrap().waiting.len(), 1);
        let mut still = pin!(cut.wait());
        assert!(still.as_mut().poll(&mut cx).is_pending());
        cut.fire();
        assert_eq!(
            woken.load(Ordering::Relaxed),
            1,
            "only the one still waiting"
        );
        assert!(still.as_mut().poll(&mut cx).is_ready());
    }

    struct CountWakes(Arc<AtomicUsize>);

    impl futures_task::ArcWake for CountWakes {
        fn wake_by_ref(arc_self: &Arc<Self>) {
            arc_self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}
