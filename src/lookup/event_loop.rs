//! The event-loop client: one looplab task per request, on one thread.
//!
//! The post's `find_users_async` with `asyncio.sleep(1)` replaced by a real call to the
//! directory: `connect`, `write_all` and `read` are awaited, so while one request waits
//! for its answer the loop runs the others. Three requests for 3, 2 and 1 users
//! therefore finish at 1, 2 and 3 seconds (shortest first), on one thread, with no lock
//! anywhere in this file.
//!
//! Under virtual time ([`EventLoopOptions::virtual_time`]) the directory runs inside
//! the same runtime, so the whole exchange — sockets included, on the runtime's
//! simulated network — happens on one loop whose clock jumps over the server's
//! one-second waits: the run reports exactly 1.000, 2.000 and 3.000 s, in milliseconds
//! of wall time.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::blocking::first_user_ids;
use super::directory::{Directory, DirectoryConfig, StopSignal};
use super::http;
use super::narrative::{self, Lang, LookupStyle};
use super::report::{Mode, RequestReport, RunReport, Span};
use crate::net::TcpStream;
use crate::time::{Instant, timeout};
use crate::trace::TraceOutput;

/// Receives each narrative line (the post's `print`s) with the time since the run began.
pub type Narrator = Arc<dyn Fn(Duration, String) + Send + Sync>;

/// How to run the event-loop client.
#[derive(Clone)]
pub struct EventLoopOptions {
    /// Users per request, in arrival order.
    pub requests: Vec<u32>,
    /// The directory's delay per user (used when the client starts its own directory).
    pub delay: Duration,
    /// Run in virtual time, with the directory in the same runtime.
    pub virtual_time: bool,
    /// Bound on each whole lookup call (connect or request + answer).
    pub call_timeout: Option<Duration>,
    /// Language of the narrative lines.
    pub lang: Lang,
    /// Where the loop's trace goes.
    pub trace: TraceOutput,
    /// Also record the trace here.
    pub recorder: Option<crate::Recorder>,
}

/// A connection to the directory and the bytes read but not used yet.
struct DirectoryConnection {
    stream: TcpStream,
    addr: SocketAddr,
    /// The `Host` header value, formatted once.
    host: String,
    buffer: Vec<u8>,
}

impl DirectoryConnection {
    async fn open(addr: SocketAddr) -> io::Result<DirectoryConnection> {
        let stream = TcpStream::connect(addr).await.map_err(|e| {
            // The reason alone (`connection refused`): the address is said once, in
            // front, as the blocking clients say it.
            let reason = e.raw_os_error().map_or_else(
                || e.kind().to_string(),
                |code| io::Error::from_raw_os_error(code).to_string(),
            );
            io::Error::new(e.kind(), format!("{addr}: could not connect: {reason}"))
        })?;
        Ok(DirectoryConnection {
            stream,
            addr,
            host: addr.to_string(),
            buffer: Vec::new(),
        })
    }

    /// One call: `GET /users/{id}`, then read until a whole answer is in. The rules
    /// for the answer are the blocking client's ([`http::take_answer`],
    /// [`http::user_from_answer`]); only how the bytes arrive differs: `.await`.
    async fn get_user(&mut self, id: u64) -> io::Result<http::User> {
        let call = format!("GET /users/{id}");
        self.stream
            .write_all(&http::user_request(id, &self.host))
            .await
            .map_err(|e| self.failed(&call, &format!("sending the request: {e}"), e.kind()))?;
        let mut chunk = [0u8; 1024];
        let (status, body) = loop {
            match http::take_answer(&mut self.buffer) {
                Ok(Some(answer)) => break answer,
                Ok(None) => {}
                Err(bad) => return Err(self.bad_answer(&call, bad)),
            }
            let n = self.stream.read(&mut chunk).await.map_err(|e| {
                self.failed(&call, &format!("waiting for the answer: {e}"), e.kind())
            })?;
            if n == 0 {
                return Err(self.bad_answer(&call, http::closed_before_answer(&self.buffer)));
            }
            self.buffer.extend_from_slice(&chunk[..n]);
        };
        http::user_from_answer(id, status, &body).map_err(|bad| self.bad_answer(&call, bad))
    }

    /// `127.0.0.1:7878: GET /users/4: the answer is user 5 instead`.
    fn bad_answer(&self, call: &str, bad: http::BadAnswer) -> io::Error {
        bad.into_io_error(&format!("{}: {call}", self.addr))
    }

    fn failed(&self, call: &str, what: &str, kind: io::ErrorKind) -> io::Error {
        io::Error::new(kind, format!("{}: {call}: {what}", self.addr))
    }
}

/// Bounds a call by `limit`, if there is one. A timeout becomes an `io::Error` of kind
/// `TimedOut` through `From<Elapsed>`, and the error names the call.
async fn within<T>(
    limit: Option<Duration>,
    what: &str,
    call: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    let Some(limit) = limit else {
        return call.await;
    };
    match timeout(limit, call).await {
        Ok(result) => result,
        Err(elapsed) => {
            let error = io::Error::from(elapsed);
            Err(io::Error::new(error.kind(), format!("{what}: {error}")))
        }
    }
}

/// Finds `users` users one call at a time, awaiting each: the post's `find_users_async`.
/// Times are measured from `run_start`.
pub async fn find_users(
    addr: SocketAddr,
    first_id: u64,
    users: u32,
    run_start: Instant,
    call_timeout: Option<Duration>,
    lang: Lang,
    narrate: Narrator,
) -> io::Result<RequestReport> {
    let start = run_start.elapsed();
    let mut connection = within(
        call_timeout,
        &format!("{addr}: connecting"),
        DirectoryConnection::open(addr),
    )
    .await?;
    let mut lookups = Vec::new();
    for i in 1..=users {
        let line = narrative::looking_up(lang, i, users);
        crate::trace::note(line.clone());
        narrate(run_start.elapsed(), line);
        let id = first_id.checked_add(u64::from(i - 1)).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "user ids run past u64::MAX")
        })?;
        let start = run_start.elapsed();
        within(
            call_timeout,
            &format!("{addr}: GET /users/{id}"),
            connection.get_user(id),
        )
        .await?;
        lookups.push(Span {
            start,
            end: run_start.elapsed(),
        });
    }
    let line = narrative::all_found(lang, LookupStyle::Async, users);
    crate::trace::note(line.clone());
    narrate(run_start.elapsed(), line);
    Ok(RequestReport {
        users,
        start,
        latency: lookups.last().map_or(Duration::ZERO, |span| span.end),
        lookups,
    })
}

/// Runs every request as its own task on one new looplab runtime and waits for all:
/// the post's `process_async`.
///
/// With `directory: Some(addr)` the requests go to that directory (real time). With
/// `None` the runtime starts its own directory on 127.0.0.1 (any free port) beside the
/// clients, which is how virtual time runs end to end. `build` may adjust the runtime
/// (e.g. add an `on_turn` hook for `--step`).
pub fn run_event_loop(
    directory: Option<SocketAddr>,
    options: &EventLoopOptions,
    narrate: Narrator,
    build: impl FnOnce(crate::Builder) -> crate::Builder,
) -> io::Result<(RunReport, crate::stats::StatsReport)> {
    let mut builder = crate::Runtime::builder()
        .virtual_time(options.virtual_time)
        .trace(options.trace);
    if let Some(recorder) = &options.recorder {
        builder = builder.record(recorder.clone());
    }
    let runtime = build(builder).build()?;
    let report = runtime.block_on(async {
        let stop = StopSignal::new();
        let addr = match directory {
            Some(addr) => addr,
            None => {
                // The runtime's own clients are the directory's only clients: it serves
                // every one of them at once, however many there are.
                let config = DirectoryConfig {
                    max_connections: options
                        .requests
                        .len()
                        .max(DirectoryConfig::default().max_connections),
                    ..DirectoryConfig::with_delay(options.delay)
                };
                let server = Directory::bind("127.0.0.1:0", config)?;
                let addr = server.local_addr()?;
                let stop = stop.clone();
                crate::spawn_named("directory", async move {
                    server.serve_until(stop.fired()).await
                });
                addr
            }
        };
        let run_start = Instant::now();
        let handles: Vec<_> = options
            .requests
            .iter()
            .zip(first_user_ids(&options.requests))
            .map(|(&users, first_id)| {
                let narrate = narrate.clone();
                let (call_timeout, lang) = (options.call_timeout, options.lang);
                crate::spawn_named(
                    format!("find_users({users})"),
                    find_users(
                        addr,
                        first_id,
                        users,
                        run_start,
                        call_timeout,
                        lang,
                        narrate,
                    ),
                )
            })
            .collect();
        let results = crate::join_all(handles).await;
        let total = run_start.elapsed();
        stop.fire();
        let mut requests = Vec::with_capacity(results.len());
        for result in results {
            let report = result.map_err(|e| io::Error::other(e.to_string()))??;
            requests.push(report);
        }
        narrate(
            total,
            narrative::total_time(options.lang, Mode::EventLoop, total),
        );
        Ok::<_, io::Error>(RunReport {
            mode: Mode::EventLoop,
            virtual_time: options.virtual_time,
            total,
            // The delay is known when this run started the directory itself.
            delay: directory.is_none().then_some(options.delay),
            requests,
        })
    })?;
    Ok((report, runtime.stats()))
}
