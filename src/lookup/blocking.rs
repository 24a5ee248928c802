//! The two clients that block: sequential, and one OS thread per request.
//!
//! These are the "before" pictures of the post, written with plain `std::net` and no
//! looplab runtime at all. Each finds users the way the post's `find_users_sync` does:
//!
//! ```python
//! def find_users_sync(n):
//!     for i in range(1, n + 1):
//!         print(f'{n}명 중 {i}번 째 사용자 조회 중 ...')
//!         time.sleep(1)
//!     print(f'> 총 {n} 명 사용자 동기 조회 완료!')
//! ```
//!
//! except that the one-second `time.sleep` becomes a real call to the user directory,
//! which takes its one second on the other end of a socket. A blocking `read` is
//! `time.sleep` in disguise: the thread can do nothing else until the answer comes.
//!
//! - [`run_sequential`] is the post's `process_sync`: the three requests one after
//!   another on one thread. The second request waits for the whole first one, so the
//!   latencies add up: 3, 5 and 6 seconds.
//! - [`run_threads`] gives every request its own OS thread, all started together. The
//!   waiting overlaps, so the latencies are 3, 2 and 1 seconds, as on the event loop,
//!   but it costs a thread (a stack, a kernel schedulable entity, context switches) per
//!   request, and anything the threads share now needs to be thread-safe. The narration
//!   is the first such thing: see [`run_threads`].
//!
//! Each request uses one kept-alive TCP connection for all its users, as a service
//! would with its API. Every failure (nothing listening, the server closing early, an
//! answer that is not HTTP, a 4xx) comes back as an `io::Error` whose message names the
//! directory's address and the call that failed; nothing here panics on a bad peer.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::http::{self, DirectoryInfo, User};
use super::narrative::{self, Lang, LookupStyle};
use super::report::{Mode, RequestReport, RunReport, Span};

/// The first user id of each request, numbering users across all requests so that no
/// two lookups ask for the same user: requests for 3, 2 and 1 users ask for users
/// 1..=3, 4..=5 and 6.
pub fn first_user_ids(requests: &[u32]) -> Vec<u64> {
    requests
        .iter()
        .scan(1u64, |next_id, &users| {
            let first = *next_id;
            *next_id += u64::from(users);
            Some(first)
        })
        .collect()
}

/// Finds `users` users (ids `first_id`, `first_id + 1`, ...) one call at a time over
/// one connection to the directory at `addr`, blocking the calling thread throughout.
///
/// Times are measured from `run_start`, the moment all requests "arrived", so a request
/// that waited for others before starting reports that wait in its latency. Narrative
/// lines (the post's `print`s) are handed to `narrate` as they happen.
///
/// `timeout` bounds the connect and each whole call (request sent and answer read, as
/// the event-loop client's `looplab::time::timeout` does); `None` waits as long as it
/// takes.
pub fn find_users_blocking(
    addr: SocketAddr,
    first_id: u64,
    users: u32,
    run_start: Instant,
    timeout: Option<Duration>,
    lang: Lang,
    narrate: &mut dyn FnMut(String),
) -> io::Result<RequestReport> {
    let start = run_start.elapsed();
    let mut connection = Connection::open(addr, timeout)?;
    // Grown as the answers come: a capacity of `users` up front would let a huge
    // request ask for gigabytes before its first lookup.
    let mut lookups = Vec::new();
    for i in 1..=users {
        narrate(narrative::looking_up(lang, i, users));
        let id = first_id.checked_add(u64::from(i - 1)).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "user ids run past u64::MAX")
        })?;
        let start = run_start.elapsed();
        connection.get_user(id)?;
        lookups.push(Span {
            start,
            end: run_start.elapsed(),
        });
    }
    narrate(narrative::all_found(lang, LookupStyle::Sync, users));
    Ok(RequestReport {
        users,
        start,
        latency: lookups
            .last()
            .map_or_else(|| run_start.elapsed(), |span| span.end),
        lookups,
    })
}

/// The requests one after another on the calling thread: the post's `process_sync`.
///
/// Stops at the first request that fails and returns its error.
pub fn run_sequential(
    addr: SocketAddr,
    requests: &[u32],
    timeout: Option<Duration>,
    lang: Lang,
    narrate: &mut dyn FnMut(String),
) -> io::Result<RunReport> {
    let run_start = Instant::now();
    let mut reports = Vec::with_capacity(requests.len());
    for (&users, first_id) in requests.iter().zip(first_user_ids(requests)) {
        reports.push(find_users_blocking(
            addr, first_id, users, run_start, timeout, lang, narrate,
        )?);
    }
    let total = run_start.elapsed();
    narrate(narrative::total_time(lang, Mode::Sequential, total));
    Ok(RunReport {
        mode: Mode::Sequential,
        virtual_time: false,
        total,
        delay: None,
        requests: reports,
    })
}

/// One OS thread per request, all started together, each finding its users with
/// blocking calls.
///
/// Narration: the threads do not print. Each sends its lines, whole, over a channel,
/// and the calling thread hands them to `narrate` in the order they arrive. So lines
/// never tear into each other, `narrate` needs no lock and need not be `Send`, and the
/// order shows how the threads' lookups interleave. (Printing from every thread would
/// also keep lines whole, since `println!` locks stdout per call, but then `narrate`
/// would have to be shared between threads: exactly the thread-safety cost the post
/// warns about.)
///
/// Every request runs to the end even if another fails; the first failure in request
/// order is returned.
pub fn run_threads(
    addr: SocketAddr,
    requests: &[u32],
    timeout: Option<Duration>,
    lang: Lang,
    narrate: &mut dyn FnMut(String),
) -> io::Result<RunReport> {
    let run_start = Instant::now();
    let results = thread::scope(|scope| {
        let (line_sender, lines) = mpsc::channel::<String>();
        // The OS's limits (threads, memory for stacks) are where this mode runs out
        // first. At the first thread that cannot start, stop starting more: each further
        // attempt would take memory the process no longer has, and the threads already
        // running still need some to finish. The message is built after they are joined.
        let mut threads = Vec::with_capacity(requests.len());
        let mut could_not_start = None;
        for (index, (&users, first_id)) in requests.iter().zip(first_user_ids(requests)).enumerate()
        {
            let line_sender = line_sender.clone();
            let started = thread::Builder::new()
                .name(format!("find_users({users})"))
                .spawn_scoped(scope, move || {
                    // A send fails only if the receiver is gone, and it lives
                    // until every thread has finished.
                    let mut send_line = |line| {
                        let _ = line_sender.send(line);
                    };
                    find_users_blocking(
                        addr,
                        first_id,
                        users,
                        run_start,
                        timeout,
                        lang,
                        &mut send_line,
                    )
                });
            match started {
                Ok(thread) => threads.push(thread),
                Err(e) => {
                    could_not_start = Some((index, users, e));
                    break;
                }
            }
        }
        // Drop the original sender so the channel closes once the last thread is done.
        drop(line_sender);
        for line in lines {
            narrate(line);
        }
        let reports: Vec<io::Result<RequestReport>> = threads
            .into_iter()
            .map(|thread| match thread.join() {
                Ok(report) => report,
                // find_users_blocking does not panic on anything a peer sends; if it
                // panics anyway, that is a bug worth its original message.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect();
        if let Some((index, users, e)) = could_not_start {
            return Err(io::Error::new(
                e.kind(),
                format!(
                    "the thread for request {} of {} ({users} user{}) could not start: {e}. \
                     The OS limits how many threads a process has and the memory for their \
                     stacks: give fewer requests, or --mode event-loop, which needs no \
                     thread per request",
                    index + 1,
                    requests.len(),
                    if users == 1 { "" } else { "s" }
                ),
            ));
        }
        Ok(reports)
    });
    let total = run_start.elapsed();
    let reports = results?.into_iter().collect::<io::Result<Vec<_>>>()?;
    narrate(narrative::total_time(lang, Mode::Threads, total));
    Ok(RunReport {
        mode: Mode::Threads,
        virtual_time: false,
        total,
        delay: None,
        requests: reports,
    })
}

/// Asks the directory at `addr` to describe itself (`GET /`): its delay per user and
/// how many lookups it is answering. A server that is not a looplab directory (or an
/// older one) answers something else, which is an error of kind `InvalidData` or
/// `Other` here. `timeout` bounds the connect and the call, as for a lookup.
pub fn describe_directory(
    addr: SocketAddr,
    timeout: Option<Duration>,
) -> io::Result<DirectoryInfo> {
    let mut connection = Connection::open(addr, timeout)?;
    let call = "GET /";
    let (status, body) = connection.call(call, &http::about_request(&connection.host))?;
    http::info_from_answer(status, &body).map_err(|bad| connection.bad_answer(call, bad))
}

/// One kept-alive connection to the directory, and the bytes read but not yet used.
struct Connection {
    addr: SocketAddr,
    /// The `Host` header value, formatted once.
    host: String,
    stream: TcpStream,
    timeout: Option<Duration>,
    /// Bytes past the end of the last answer. The directory sends nothing unasked, but
    /// keeping them is what makes a read that straddles two answers safe.
    unread: Vec<u8>,
}

impl Connection {
    fn open(addr: SocketAddr, timeout: Option<Duration>) -> io::Result<Self> {
        let connected = match timeout {
            Some(timeout) => TcpStream::connect_timeout(&addr, timeout),
            None => TcpStream::connect(addr),
        };
        let stream = connected.map_err(|error| with_context(addr, "could not connect", error))?;
        let configured = stream
            .set_read_timeout(timeout)
            .and_then(|()| stream.set_write_timeout(timeout))
            // A request is one small write answered before the next is sent; without
            // this, Nagle's algorithm may hold a write back waiting for an ACK.
            .and_then(|()| stream.set_nodelay(true));
        configured.map_err(|error| with_context(addr, "could not set up the connection", error))?;
        Ok(Self {
            addr,
            host: addr.to_string(),
            stream,
            timeout,
            unread: Vec::new(),
        })
    }

    /// One round trip: `GET /users/{id}`, then block until the whole answer is here.
    fn get_user(&mut self, id: u64) -> io::Result<User> {
        let call = format!("GET /users/{id}");
        let (status, body) = self.call(&call, &http::user_request(id, &self.host))?;
        http::user_from_answer(id, status, &body).map_err(|bad| self.bad_answer(&call, bad))
    }

    /// Sends `request` and blocks until its whole answer is in: its status and body.
    fn call(&mut self, call: &str, request: &[u8]) -> io::Result<(u16, Vec<u8>)> {
        // The timeout is for the whole call, not for each read: a server that sends
        // one byte every few milliseconds never lets a single read time out, so every
        // read is given only what is left of the call's time.
        let deadline = self.timeout.map(|timeout| Instant::now() + timeout);
        self.stream
            .write_all(request)
            .map_err(|error| self.explain(call, "sending the request", error))?;
        let mut chunk = [0u8; 1024];
        loop {
            // The same rules as the event-loop client's: only how bytes arrive differs.
            match http::take_answer(&mut self.unread) {
                Ok(Some(answer)) => return Ok(answer),
                Ok(None) => {}
                Err(bad) => return Err(self.bad_answer(call, bad)),
            }
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                // `set_read_timeout(Some(ZERO))` is an error, so a call with no time
                // left fails here, as the read would have.
                if left.is_zero() {
                    let error = io::Error::from(io::ErrorKind::TimedOut);
                    return Err(self.explain(call, "waiting for the answer", error));
                }
                self.stream
                    .set_read_timeout(Some(left))
                    .map_err(|error| self.explain(call, "waiting for the answer", error))?;
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(self.bad_answer(call, http::closed_before_answer(&self.unread)));
                }
                Ok(read) => self.unread.extend_from_slice(&chunk[..read]),
                // A signal arrived during the read; nothing was lost, so read again.
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(self.explain(call, "waiting for the answer", error)),
            }
        }
    }

    /// `127.0.0.1:7878: GET /users/4: the answer is user 5 instead`.
    fn bad_answer(&self, call: &str, bad: http::BadAnswer) -> io::Error {
        bad.into_io_error(&format!("{}: {call}", self.addr))
    }

    /// Wraps an I/O error from the socket, spelling out a timeout (which std reports
    /// as `WouldBlock` on Unix and `TimedOut` on Windows).
    fn explain(&self, call: &str, doing: &str, error: io::Error) -> io::Error {
        match (error.kind(), self.timeout) {
            (io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut, Some(timeout)) => {
                let what = format!("timed out after {timeout:?} {doing}");
                self.error(io::ErrorKind::TimedOut, call, &what)
            }
            (kind, _) => self.error(kind, call, &format!("{doing}: {error}")),
        }
    }

    /// `127.0.0.1:7878: GET /users/4: <what went wrong>`.
    fn error(&self, kind: io::ErrorKind, call: &str, what: &str) -> io::Error {
        io::Error::new(kind, format!("{}: {call}: {what}", self.addr))
    }
}

/// `127.0.0.1:7878: could not connect: Connection refused (os error 111)`.
fn with_context(addr: SocketAddr, doing: &str, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{addr}: {doing}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookup::http::{RequestParse, Route, parse_request, route};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    /// The delay of the fake directory: long enough to dwarf scheduling noise, short
    /// enough to keep the tests quick.
    const DELAY: Duration = Duration::from_millis(50);

    /// How much later than ideal a call may end: generous, since tests run in parallel
    /// on machines that may be busy.
    const SLACK_PER_CALL: Duration = Duration::from_millis(40);

    /// A stand-in for the directory: one thread per connection answers each
    /// `GET /users/{id}` after `delay`. It stops by itself once `connections`
    /// connections have come and gone. Returns its address, the ids it served (in the
    /// order served) and its thread.
    fn fake_directory(
        delay: Duration,
        connections: usize,
    ) -> (SocketAddr, Arc<Mutex<Vec<u64>>>, thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let served = Arc::new(Mutex::new(Vec::new()));
        let served_by_server = Arc::clone(&served);
        let server = thread::spawn(move || {
            let connection_threads: Vec<_> = (0..connections)
                .map(|_| {
                    let (stream, _) = listener.accept().unwrap();
                    let served = Arc::clone(&served_by_server);
                    thread::spawn(move || serve_connection(stream, delay, &served))
                })
                .collect();
            for thread in connection_threads {
                thread.join().unwrap();
            }
        });
        (addr, served, server)
    }

    fn serve_connection(mut stream: TcpStream, delay: Duration, served: &Mutex<Vec<u64>>) {
        let mut unread = Vec::new();
        let mut chunk = [0u8; 1024];
        loop {
            match parse_request(&unread) {
                RequestParse::Complete { request, consumed } => {
                    unread.drain(..consumed);
                    let answer = match route(&request) {
                        Route::User(id) => {
                            thread::sleep(delay);
                            served.lock().unwrap().push(id);
                            User::for_id(id).response_bytes(request.keep_alive)
                        }
                        Route::About => {
                            DirectoryInfo::new(delay, 0).response_bytes(request.keep_alive)
                        }
                        Route::Reject(rejection) => rejection.response_bytes(request.keep_alive),
                    };
                    if stream.write_all(&answer).is_err() || !request.keep_alive {
                        return;
                    }
                    continue;
                }
                RequestParse::Invalid(_) | RequestParse::TooLarge(_) => return,
                RequestParse::Partial => {}
            }
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(read) => unread.extend_from_slice(&chunk[..read]),
            }
        }
    }

    /// A peer that reads one request, then sends `answer` and closes after `linger`.
    fn canned_server(
        answer: &'static [u8],
        linger: Duration,
    ) -> (SocketAddr, thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut chunk = [0u8; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(read) => request.extend_from_slice(&chunk[..read]),
                }
            }
            let _ = stream.write_all(answer);
            thread::sleep(linger);
        });
        (addr, server)
    }

    /// The error from asking the server at `addr` for one user.
    fn one_lookup_error(addr: SocketAddr, timeout: Option<Duration>) -> io::Error {
        find_users_blocking(addr, 1, 1, Instant::now(), timeout, Lang::En, &mut |_| {})
            .expect_err("the lookup should fail")
    }

    fn assert_within(what: &str, measured: Duration, ideal: Duration, calls: u32) {
        let latest = ideal + SLACK_PER_CALL * calls;
        assert!(
            ideal <= measured && measured <= latest,
            "{what}: measured {measured:?}, expected between {ideal:?} and {latest:?}"
        );
    }

    /// Within a request, lookups come one after another and each takes the delay.
    fn assert_lookups_in_order(report: &RequestReport) {
        assert_eq!(report.lookups.len(), report.users as usize);
        for span in &report.lookups {
            assert!(
                span.end - span.start >= DELAY,
                "{span:?} is shorter than {DELAY:?}"
            );
        }
        for pair in report.lookups.windows(2) {
            assert!(pair[0].end <= pair[1].start, "{pair:?} overlap");
        }
        assert_eq!(report.latency, report.lookups.last().unwrap().end);
    }

    #[test]
    fn user_ids_are_numbered_across_requests() {
        assert_eq!(first_user_ids(&[3, 2, 1]), vec![1, 4, 6]);
        assert_eq!(first_user_ids(&[]), Vec::<u64>::new());
    }

    #[test]
    fn sequential_latencies_add_up() {
        let (addr, served, server) = fake_directory(DELAY, 3);
        let mut lines = Vec::new();
        let run = run_sequential(
            addr,
            &[3, 2, 1],
            Some(Duration::from_secs(5)),
            Lang::En,
            &mut |line| lines.push(line),
        )
        .unwrap();
        server.join().unwrap();

        assert_eq!(run.mode, Mode::Sequential);
        assert_eq!(
            run.requests.iter().map(|r| r.users).collect::<Vec<_>>(),
            [3, 2, 1]
        );
        assert_within("request for 3", run.requests[0].latency, DELAY * 3, 3);
        assert_within("request for 2", run.requests[1].latency, DELAY * 5, 5);
        assert_within("request for 1", run.requests[2].latency, DELAY * 6, 6);
        assert_within("total", run.total, DELAY * 6, 6);
        for report in &run.requests {
            assert_lookups_in_order(report);
        }
        // Each request starts only when the one before it has finished.
        for pair in run.requests.windows(2) {
            assert!(pair[0].latency <= pair[1].lookups[0].start);
        }
        assert_eq!(*served.lock().unwrap(), [1, 2, 3, 4, 5, 6]);
        assert_eq!(
            lines[..lines.len() - 1],
            [
                "looking up user 1 of 3 ...",
                "looking up user 2 of 3 ...",
                "looking up user 3 of 3 ...",
                "> all 3 users found",
                "looking up user 1 of 2 ...",
                "looking up user 2 of 2 ...",
                "> all 2 users found",
                "looking up user 1 of 1 ...",
                "> 1 user found",
            ]
        );
        assert!(
            lines
                .last()
                .unwrap()
                .starts_with(">>> sequential total time: 0.3")
        );
    }

    #[test]
    fn threads_overlap_their_waiting() {
        let (addr, served, server) = fake_directory(DELAY, 3);
        let mut lines = Vec::new();
        let run = run_threads(addr, &[3, 2, 1], None, Lang::Ko, &mut |line| {
            lines.push(line)
        })
        .unwrap();
        server.join().unwrap();

        assert_eq!(run.mode, Mode::Threads);
        assert_eq!(
            run.requests.iter().map(|r| r.users).collect::<Vec<_>>(),
            [3, 2, 1]
        );
        assert_within("request for 3", run.requests[0].latency, DELAY * 3, 3);
        assert_within("request for 2", run.requests[1].latency, DELAY * 2, 2);
        assert_within("request for 1", run.requests[2].latency, DELAY, 1);
        assert_within("total", run.total, DELAY * 3, 3);
        for report in &run.requests {
            assert_lookups_in_order(report);
        }
        let mut served = served.lock().unwrap().clone();
        served.sort_unstable();
        assert_eq!(served, [1, 2, 3, 4, 5, 6]);

        // Lines arrive whole, and each request's lines keep their own order.
        assert_eq!(lines.len(), 6 + 3 + 1);
        let of_request = |n: &str| -> Vec<&String> {
            lines
                .iter()
                .filter(|line| line.starts_with(n) || line.contains(&format!("총 {n} 명")))
                .collect()
        };
        assert_eq!(
            of_request("3"),
            [
                "3명 중 1번 째 사용자 조회 중 ...",
                "3명 중 2번 째 사용자 조회 중 ...",
                "3명 중 3번 째 사용자 조회 중 ...",
                "> 총 3 명 사용자 동기 조회 완료!",
            ]
        );
        assert_eq!(
            of_request("1"),
            [
                "1명 중 1번 째 사용자 조회 중 ...",
                "> 총 1 명 사용자 동기 조회 완료!"
            ]
        );
        assert!(
            lines
                .last()
                .unwrap()
                .starts_with(">>> 멀티 쓰레드 처리 총 소요 시간: 0.1")
        );
    }

    #[test]
    fn the_directory_describes_its_delay() {
        let (addr, served, server) = fake_directory(DELAY, 1);
        let info = describe_directory(addr, Some(Duration::from_secs(5))).unwrap();
        server.join().unwrap();
        assert_eq!(info.delay(), DELAY);
        assert!(served.lock().unwrap().is_empty(), "no user was looked up");
    }

    #[test]
    fn a_refused_connection_is_an_error_that_names_the_address() {
        let addr = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        for run in [run_sequential, run_threads] {
            let error = run(addr, &[3, 2, 1], None, Lang::En, &mut |_| {}).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
            let message = error.to_string();
            assert!(
                message.starts_with(&format!("{addr}: could not connect: ")),
                "{message}"
            );
        }
    }

    #[test]
    fn a_4xx_answer_is_an_error_with_the_servers_reason() {
        let (addr, server) = canned_server(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 20\r\n\r\nno such path: /users",
            Duration::ZERO,
        );
        let error = one_lookup_error(addr, None);
        server.join().unwrap();
        assert_eq!(
            error.to_string(),
            format!("{addr}: GET /users/1: the server answered 404: no such path: /users")
        );
    }

    #[test]
    fn a_server_closing_before_answering_is_an_error() {
        let (addr, server) = canned_server(b"", Duration::ZERO);
        let error = one_lookup_error(addr, None);
        server.join().unwrap();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(
            error.to_string(),
            format!("{addr}: GET /users/1: the server closed the connection without answering")
        );
    }

    #[test]
    fn a_server_closing_mid_answer_is_an_error() {
        let (addr, server) = canned_server(
            b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n{\"id\":1,",
            Duration::ZERO,
        );
        let error = one_lookup_error(addr, None);
        server.join().unwrap();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        assert!(
            error.to_string().contains("in the middle of its answer"),
            "{error}"
        );
    }

    #[test]
    fn a_malformed_answer_is_an_error() {
        let (addr, server) = canned_server(b"SSH-2.0-OpenSSH_9.6\r\n\r\n", Duration::ZERO);
        let error = one_lookup_error(addr, None);
        server.join().unwrap();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("{addr}: GET /users/1: the answer is malformed: ")),
            "{message}"
        );
    }

    #[test]
    fn a_200_that_is_not_the_user_asked_for_is_an_error() {
        let (addr, server) = canned_server(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            Duration::ZERO,
        );
        let error = one_lookup_error(addr, None);
        server.join().unwrap();
        assert!(
            error.to_string().contains("the answer is not a user"),
            "{error}"
        );

        let (addr, server) = canned_server(
            b"HTTP/1.1 200 OK\r\nContent-Length: 25\r\n\r\n{\"id\":2,\"name\":\"Min-jun\"}",
            Duration::ZERO,
        );
        let error = one_lookup_error(addr, None);
        server.join().unwrap();
        assert!(
            error.to_string().ends_with("the answer is user 2 instead"),
            "{error}"
        );
    }

    #[test]
    fn a_silent_server_times_out() {
        let timeout = Duration::from_millis(100);
        let (addr, server) = canned_server(b"", Duration::from_millis(500));
        let started = Instant::now();
        let error = one_lookup_error(addr, Some(timeout));
        assert!(
            started.elapsed() < Duration::from_millis(450),
            "gave up after {:?}",
            started.elapsed()
        );
        server.join().unwrap();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(
            error.to_string(),
            format!("{addr}: GET /users/1: timed out after 100ms waiting for the answer")
        );
    }
}
