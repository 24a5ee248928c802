//! The three lookup clients against a broken directory (issue 7, point 5), through the
//! `looplab` command as a user runs it: nothing listening, a server that hangs up in
//! the middle of its answer, one that answers with something that is not HTTP, and one
//! that never answers. Each must end the command with one `error: ...` line on stderr
//! and exit code 1, never a panic and never a hang.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use looplab::lookup::http::User;

const MODES: [&str; 3] = ["sequential", "threads", "event-loop"];

/// How the fake directory misbehaves once it has read a request.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Sends the head and half the body of a `200`, then closes.
    ClosesMidAnswer,
    /// Sends bytes that are not a valid HTTP answer, then waits for the client to go.
    Malformed,
    /// Sends nothing and waits for the client to go.
    Silent,
    /// Sends a correct answer one byte every 30 ms (over 3 s in all), so no single
    /// read waits long but the call as a whole does.
    Trickles,
}

/// A fake directory on its own thread: accepts connections, reads a request on each,
/// then misbehaves as told. Stops when dropped.
struct FakeDirectory {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl FakeDirectory {
    fn start(fault: Fault) -> FakeDirectory {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = thread::spawn(move || {
            let started = Instant::now();
            let mut handlers = Vec::new();
            // Bounded: a test that forgets to stop it still ends.
            while !stopping.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(30) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        handlers.push(thread::spawn(move || misbehave(stream, fault)))
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
            for handler in handlers {
                let _ = handler.join();
            }
        });
        FakeDirectory {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeDirectory {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn misbehave(mut stream: TcpStream, fault: Fault) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Read one request head (the clients send no body).
    let mut request = Vec::new();
    let mut chunk = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
    }
    match fault {
        Fault::ClosesMidAnswer => {
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"id\":1,",
            );
            // Dropping the stream closes it, 30 bytes short of the promised body.
        }
        Fault::Trickles => {
            for byte in User::for_id(1).response_bytes(true) {
                if stream.write_all(&[byte]).is_err() {
                    return; // the client gave up
                }
                thread::sleep(Duration::from_millis(30));
            }
        }
        Fault::Malformed | Fault::Silent => {
            if let Fault::Malformed = fault {
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: twelve\r\n\r\n{\"id\":1}");
            }
            // Hold the connection until the client gives up and closes it.
            while let Ok(n) = stream.read(&mut chunk) {
                if n == 0 {
                    break;
                }
            }
        }
    }
}

/// What one run of the command showed.
struct Run {
    status: ExitStatus,
    stderr: String,
    took: Duration,
}

/// Runs `looplab lookup` against `addr` with one request of one user, killing it if it
/// takes more than 20 s (a hang fails the test instead of stalling it).
fn lookup(addr: SocketAddr, mode: &str, timeout: &str) -> Run {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_looplab"))
        .args(["lookup", "--directory", &addr.to_string()])
        .args(["--mode", mode, "--requests", "1", "--timeout", timeout])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the looplab binary runs");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("looplab lookup --mode {mode} against {addr} hung for 20 s");
        }
        thread::sleep(Duration::from_millis(5));
    };
    let took = started.elapsed();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    Run {
        status,
        stderr,
        took,
    }
}

/// One `error: ...` line mentioning one of `expected`, exit code 1, no panic.
fn assert_one_line_error(run: &Run, mode: &str, expected: &[&str]) -> String {
    let context = format!("--mode {mode}, stderr:\n{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "a panic: {context}");
    assert_eq!(run.status.code(), Some(1), "exit status: {context}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {context}");
    let line = lines[0];
    assert!(line.starts_with("error: "), "{context}");
    let lower = line.to_lowercase();
    assert!(
        expected.iter().any(|word| lower.contains(word)),
        "expected one of {expected:?}: {context}"
    );
    line.to_owned()
}

#[test]
fn a_refused_connection_is_one_error_line_in_every_mode() {
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    for mode in MODES {
        let run = lookup(addr, mode, "2s");
        let line = assert_one_line_error(&run, mode, &["refused"]);
        assert!(
            line.contains(&addr.to_string()),
            "names the address: {line}"
        );
        println!("refused, {mode:>10}, {:>6.0?}: {line}", run.took);
    }
}

#[test]
fn a_server_closing_mid_answer_is_one_error_line_in_every_mode() {
    for mode in MODES {
        let fake = FakeDirectory::start(Fault::ClosesMidAnswer);
        let run = lookup(fake.addr, mode, "2s");
        let line = assert_one_line_error(&run, mode, &["middle", "closed"]);
        println!("closes mid-answer, {mode:>10}, {:>6.0?}: {line}", run.took);
    }
}

#[test]
fn a_malformed_answer_is_one_error_line_in_every_mode() {
    for mode in MODES {
        let fake = FakeDirectory::start(Fault::Malformed);
        let run = lookup(fake.addr, mode, "2s");
        let line = assert_one_line_error(&run, mode, &["malformed"]);
        println!("malformed answer, {mode:>10}, {:>6.0?}: {line}", run.took);
    }
}

#[test]
fn a_lookup_past_the_timeout_is_one_error_line_in_every_mode() {
    let limit = Duration::from_millis(300);
    for mode in MODES {
        let fake = FakeDirectory::start(Fault::Silent);
        let run = lookup(fake.addr, mode, "300ms");
        let line = assert_one_line_error(&run, mode, &["timed out", "timeout"]);
        assert!(run.took >= limit, "gave up after {:?}", run.took);
        // Process start-up included; a client that ignored --timeout would take 20 s.
        assert!(
            run.took < limit + Duration::from_secs(3),
            "gave up only after {:?}",
            run.took
        );
        println!("silent server, {mode:>10}, {:>6.0?}: {line}", run.took);
    }
}

#[test]
fn a_lookup_answered_too_slowly_byte_by_byte_is_past_the_timeout_too() {
    // `--timeout` is "give up on a lookup call that takes longer than this": the whole
    // call, not each read. A directory that keeps sending one byte every 30 ms never
    // lets a single read wait 300 ms, yet the call takes over 3 s. The three modes
    // run side by side, so a client that does not give up costs 3 s, not 10.
    let limit = Duration::from_millis(300);
    let runs: Vec<(&str, Run)> = thread::scope(|scope| {
        let running: Vec<_> = MODES
            .map(|mode| {
                scope.spawn(move || {
                    let fake = FakeDirectory::start(Fault::Trickles);
                    (mode, lookup(fake.addr, mode, "300ms"))
                })
            })
            .into_iter()
            .collect();
        running.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for (mode, run) in &runs {
        println!(
            "trickling server, {mode:>10}, {:>6.0?}, exit {:?}: {}",
            run.took,
            run.status.code(),
            run.stderr.trim()
        );
    }
    for (mode, run) in &runs {
        assert_one_line_error(run, mode, &["timed out", "timeout"]);
        assert!(
            run.took < limit + Duration::from_secs(2),
            "--mode {mode} gave up only after {:?}",
            run.took
        );
    }
}
