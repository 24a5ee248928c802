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
        let mut child = Command::new(env!("CARGO_BIN_EXE_looplab"))
            .args(["directory", "--addr", "127.0.0.1:0", "--delay", delay])
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
