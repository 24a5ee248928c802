//! `looplab directory` stops the way a service should (issue 15, point 6): on SIGTERM
//! or Ctrl-C (SIGINT) it stops accepting, finishes every answer in flight, prints a
//! summary and exits 0. The signals reach its loop through the reactor
//! (`looplab::signal`), so these tests send real signals to a real process.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use looplab::lookup::http::{ResponseParse, parse_response};

/// A `looplab directory` child process and the address it printed.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(delay: &str) -> Server {
        Server::start_with(&["--delay", delay])
    }

    fn start_with(flags: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_looplab"))
            .args(["directory", "--addr", "127.0.0.1:0"])
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the looplab binary runs");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let addr = first
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("first line was {first:?}"))
            .to_owned();
        Server { child, addr }
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    }

    /// How many user lookups the server is answering now, as it says at `GET /`.
    fn lookups_in_flight(&self) -> u64 {
        let mut stream = self.connect();
        let (status, body) = read_answer(
            &mut stream,
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(status, 200);
        let info: serde_json::Value = serde_json::from_slice(&body).unwrap();
        info["lookups_in_flight"].as_u64().unwrap()
    }

    fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("the kill command runs");
        assert!(sent.success());
    }

    /// Waits until the server has taken the first signal: its listener is closed.
    fn wait_until_not_accepting(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(&self.addr).is_ok() {
            assert!(
                Instant::now() < deadline,
                "still accepting after the signal"
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits for the process to exit, killing it (and failing) after 15 s.
    fn wait(mut self) -> (ExitStatus, String) {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(15) {
                self.child.kill().unwrap();
                panic!("the directory did not stop within 15 s of the signal");
            }
            thread::sleep(Duration::from_millis(10));
        };
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        (status, stderr)
    }
}

/// Sends `request` and reads one whole answer: its status and body.
fn read_answer(stream: &mut TcpStream, request: &[u8]) -> (u16, Vec<u8>) {
    stream.write_all(request).unwrap();
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match parse_response(&buffer) {
            ResponseParse::Complete { status, body, .. } => return (status, body),
            ResponseParse::Invalid(why) => panic!("invalid answer: {why}"),
            ResponseParse::Partial => {
                let n = stream.read(&mut chunk).expect("the answer arrives");
                assert!(n > 0, "the server closed before a whole answer: {buffer:?}");
                buffer.extend_from_slice(&chunk[..n]);
            }
        }
    }
}

#[test]
fn sigterm_lets_every_answer_in_flight_finish_then_exits_0_with_a_summary() {
    const IN_FLIGHT: usize = 5;
    let server = Server::start("500ms");
    // Several requests sent, each on its own kept-alive connection.
    let mut streams: Vec<TcpStream> = (1..=IN_FLIGHT)
        .map(|id| {
            let mut stream = server.connect();
            let request = format!("GET /users/{id} HTTP/1.1\r\nHost: x\r\n\r\n");
            stream.write_all(request.as_bytes()).unwrap();
            stream
        })
        .collect();
    // Signal only once the server has them all in hand: it says so at `GET /`.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.lookups_in_flight() < IN_FLIGHT as u64 {
        assert!(
            Instant::now() < deadline,
            "the lookups never were in flight"
        );
        thread::sleep(Duration::from_millis(5));
    }
    server.signal("TERM");

    for (id, stream) in (1..=IN_FLIGHT).zip(&mut streams) {
        let (status, body) = read_answer(stream, b"");
        assert_eq!(status, 200, "request {id}");
        let user: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(user["id"], id, "request {id}: the whole answer");
        // The server is stopping, so it closes the connection after the answer.
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "nothing after the answer: {rest:?}");
    }
    let addr = server.addr.clone();
    let (status, stderr) = server.wait();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("SIGTERM: no new connections"), "{stderr}");
    let summary = stderr.lines().last().unwrap_or_default();
    assert!(summary.starts_with("served "), "{stderr}");
    assert!(summary.ends_with("; 0 connections still open"), "{summary}");
    // Only 200s, and at least the five lookups (plus the `GET /` questions).
    let served: u64 = summary["served ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(served > IN_FLIGHT as u64, "{summary}");
    assert!(summary.contains(&format!("(200: {served})")), "{summary}");
    // The listener is gone.
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn ctrl_c_on_an_idle_server_exits_0_and_counts_the_idle_connection() {
    let server = Server::start("1ms");
    let mut idle = server.connect();
    let (status, _) = read_answer(&mut idle, b"GET /users/1 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, 200);
    server.signal("INT");
    let (status, stderr) = server.wait();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("SIGINT: no new connections"), "{stderr}");
    // One request logged, one answered, and the kept-alive connection still open.
    assert!(stderr.contains("  GET /users/1  200  "), "{stderr}");
    assert!(
        stderr.ends_with("served 1 request (200: 1); 1 connection still open\n"),
        "{stderr}"
    );
}

/// Sends a request for each of `ids`, each on its own connection, and waits until the
/// server says they are all in flight.
fn lookups_in_flight(server: &Server, ids: std::ops::RangeInclusive<u64>) -> Vec<TcpStream> {
    let count = ids.clone().count() as u64;
    let streams = ids
        .map(|id| {
            let mut stream = server.connect();
            let request = format!("GET /users/{id} HTTP/1.1\r\nHost: x\r\n\r\n");
            stream.write_all(request.as_bytes()).unwrap();
            stream
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.lookups_in_flight() < count {
        assert!(
            Instant::now() < deadline,
            "the lookups never were in flight"
        );
        thread::sleep(Duration::from_millis(5));
    }
    streams
}

/// The whole of what the server sent on `stream`, until it closed.
fn everything(stream: &mut TcpStream) -> String {
    let mut all = Vec::new();
    stream.read_to_end(&mut all).unwrap();
    String::from_utf8_lossy(&all).into_owned()
}

#[test]
fn a_second_signal_stops_at_once_with_503s_and_exit_status_130_or_143() {
    for (signal, status) in [("INT", 130), ("TERM", 143)] {
        // An hour of grace: only the second signal can end it soon.
        let server = Server::start_with(&["--delay", "30s", "--grace", "1h"]);
        let mut streams = lookups_in_flight(&server, 1..=2);
        server.signal(signal);
        server.wait_until_not_accepting();
        let second = Instant::now();
        server.signal(signal);
        let pid = server.child.id();
        let (exit, stderr) = server.wait();
        let took = second.elapsed();
        assert_eq!(exit.code(), Some(status), "SIG{signal}: {stderr}");
        assert!(
            took < Duration::from_secs(2),
            "SIG{signal} {pid}: stopped {took:?} after the second"
        );
        assert!(
            stderr.contains(&format!("SIG{signal} again: stopping now")),
            "{stderr}"
        );
        let summary = stderr.lines().last().unwrap_or_default();
        assert!(
            summary.ends_with("; 2 answers cut short (503)"),
            "{summary}"
        );
        for stream in &mut streams {
            let answer = everything(stream);
            assert!(
                answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
                "{answer}"
            );
            assert!(answer.contains("\r\nConnection: close\r\n"), "{answer}");
        }
        println!("second SIG{signal}: exit {status} after {took:?}");
    }
}

#[test]
fn when_the_grace_runs_out_answers_in_flight_get_503_and_the_exit_status_is_1() {
    let server = Server::start_with(&["--delay", "30s", "--grace", "200ms"]);
    let mut streams = lookups_in_flight(&server, 1..=3);
    let signalled = Instant::now();
    server.signal("TERM");
    let (exit, stderr) = server.wait();
    let took = signalled.elapsed();
    assert_eq!(exit.code(), Some(1), "{stderr}");
    assert!(
        took >= Duration::from_millis(200),
        "stopped after {took:?}, before the grace"
    );
    let summary = stderr.lines().last().unwrap_or_default();
    assert!(
        summary.ends_with("; 3 answers cut short (503)"),
        "{summary}"
    );
    for stream in &mut streams {
        let answer = everything(stream);
        assert!(
            answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{answer}"
        );
        assert!(answer.contains("this answer was cut short"), "{answer}");
    }
}

#[test]
fn every_answer_is_in_the_log_when_sigterm_stops_the_server() {
    const ANSWERED: usize = 300;
    // Answers that are ready at once (404s) and lookups that take 30 s; a grace of
    // 100 ms, so the lookups are cut short and the process exits (status 1) right after
    // logging them: no line may be left in a buffer.
    let server = Server::start_with(&["--delay", "30s", "--grace", "100ms"]);
    let mut streams: Vec<TcpStream> = (0..4).map(|_| server.connect()).collect();
    for burst in 0..ANSWERED / 20 {
        let stream = &mut streams[burst % 4];
        let requests: String = (0..20)
            .map(|n| format!("GET /nope/{} HTTP/1.1\r\nHost: x\r\n\r\n", burst * 20 + n))
            .collect();
        stream.write_all(requests.as_bytes()).unwrap();
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 4096];
        let mut answers = 0;
        while answers < 20 {
            match looplab::lookup::http::take_answer(&mut buffer).unwrap() {
                Some((status, _)) => {
                    assert_eq!(status, 404);
                    answers += 1;
                }
                None => {
                    let n = stream.read(&mut chunk).unwrap();
                    assert!(n > 0, "closed in the middle of a burst");
                    buffer.extend_from_slice(&chunk[..n]);
                }
            }
        }
    }
    let _cut = lookups_in_flight(&server, 1..=4);
    server.signal("TERM");
    let (exit, stderr) = server.wait();
    assert_eq!(exit.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    let count = |what: &str, status: &str| {
        lines
            .iter()
            .filter(|line| line.contains(what) && line.contains(&format!("  {status}  ")))
            .count()
    };
    assert_eq!(count("  GET /nope/", "404"), ANSWERED, "{stderr}");
    assert_eq!(count("  GET /users/", "503"), 4, "{stderr}");
    // Each /nope/N once: no line written twice either.
    for n in [0, 1, ANSWERED / 2, ANSWERED - 1] {
        let line = format!("  GET /nope/{n}  404  ");
        assert_eq!(
            lines.iter().filter(|l| l.contains(&line)).count(),
            1,
            "{line}"
        );
    }
    // The log comes before the summary, which is the last line.
    assert!(lines.last().unwrap().starts_with("served "), "{stderr}");
}

#[test]
fn the_help_says_how_the_directory_stops_and_with_which_exit_status() {
    let help = Command::new(env!("CARGO_BIN_EXE_looplab"))
        .args(["directory", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    for said in [
        "A second Ctrl-C or SIGTERM stops at once",
        "get 503",
        "130 (SIGINT) or 143 (SIGTERM)",
        "exit status is 1",
        "--header-timeout",
    ] {
        assert!(help.contains(said), "no {said:?} in:\n{help}");
    }
}
