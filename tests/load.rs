//! Load (issue 7, point 6): ten thousand concurrent idle keep-alive connections to one
//! directory on one thread, then a request on each; none is lost.
//!
//! Every connection costs a file descriptor at each end. Both ends in this process
//! would need 20,000 descriptors plus the runtime's, more than a common hard limit
//! (this project's CI machines allow 20,000), and raising the soft limit needs
//! `setrlimit`, which safe std does not offer. So the big test runs the directory as
//! the `looplab directory` command in a child process: each process then needs 10,000
//! and a few, and the child is exactly what a user runs, on its one thread. If even
//! that is over the soft limit, the test says so and skips (`ulimit -n 65536` raises
//! it). A smaller version with both ends in this process always runs, sized to the
//! limit, and looks into the server's own connection count.
//!
//! The clients are plain blocking `std::net` sockets with read timeouts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use looplab::Runtime;
use looplab::lookup::directory::{Directory, DirectoryConfig, StopSignal};
use looplab::lookup::http::{ResponseParse, parse_response, parse_user};

/// Descriptors kept spare beyond one per connection: stdio, the runtime's epoll and
/// waker, the listener, the test harness's own, with room to spare.
const SPARE_FDS: u64 = 200;

/// The two tests open thousands of connections each: run one at a time, so neither
/// slows the other's connects down to the point of timing out.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The soft and hard limits on open files, from /proc/self/limits (Linux).
fn open_file_limits() -> Option<(u64, u64)> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut numbers = line["Max open files".len()..].split_whitespace();
    let parse = |word: Option<&str>| match word? {
        "unlimited" => Some(u64::MAX),
        n => n.parse().ok(),
    };
    Some((parse(numbers.next())?, parse(numbers.next())?))
}

/// One field of /proc/PID/status, e.g. `VmRSS` (in KiB) or `Threads`.
fn status_field(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn open_fds(pid: &str) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// Opens `n` connections one after another, sending nothing: they sit idle.
fn connect_all(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|i| {
            let stream = TcpStream::connect(addr)
                .unwrap_or_else(|e| panic!("connection {i} of {n} failed: {e}"));
            stream
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            stream.set_nodelay(true).unwrap();
            stream
        })
        .collect()
}

/// Sends `GET /users/{first_id + i}` on connection `i` of every connection at once,
/// then reads every answer. Returns how many were a `200` with the right user.
fn request_on_each(streams: &mut [TcpStream], first_id: u64) -> usize {
    for (i, stream) in streams.iter_mut().enumerate() {
        let request = format!(
            "GET /users/{} HTTP/1.1\r\nHost: load\r\n\r\n",
            first_id + i as u64
        );
        stream.write_all(request.as_bytes()).unwrap();
    }
    let mut served = 0;
    let mut chunk = [0u8; 1024];
    for (i, stream) in streams.iter_mut().enumerate() {
        let mut buffer = Vec::new();
        loop {
            match parse_response(&buffer) {
                ResponseParse::Complete { status, body, .. } => {
                    let user = parse_user(&body).ok();
                    if status == 200 && user.is_some_and(|u| u.id == first_id + i as u64) {
                        served += 1;
                    } else {
                        eprintln!(
                            "connection {i}: {status} {:?}",
                            String::from_utf8_lossy(&body)
                        );
                    }
                    break;
                }
                ResponseParse::Invalid(why) => panic!("connection {i}: invalid answer: {why}"),
                ResponseParse::Partial => match stream.read(&mut chunk) {
                    Ok(0) => panic!("connection {i}: closed before answering"),
                    Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                    Err(e) => panic!("connection {i}: no answer: {e}"),
                },
            }
        }
    }
    served
}

/// The `looplab directory` command in a child process; killed when dropped.
struct DirectoryProcess {
    child: Child,
    addr: SocketAddr,
    /// Kept open: the command's stdout, read past its first line.
    _stdout: BufReader<ChildStdout>,
}

impl DirectoryProcess {
    fn start(delay: &str) -> DirectoryProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_looplab"))
            // The connections are meant to sit idle: the default idle timeout (10 s)
            // would rightly close them if opening 10,000 took that long on a busy machine.
            // `--quiet`: 20,000 log lines on stderr would only flood the test's output.
            .args(["directory", "--addr", "127.0.0.1:0", "--delay", delay])
            .args(["--idle-timeout", "300s", "--quiet"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the looplab binary runs");
        let mut first_line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut first_line).unwrap();
        let addr = first_line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {first_line:?}"))
            .parse()
            .unwrap();
        DirectoryProcess {
            child,
            addr,
            _stdout: stdout,
        }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

impl Drop for DirectoryProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn ten_thousand_idle_keep_alive_connections_on_one_thread_are_all_served() {
    let _one_at_a_time = serial();
    const CONNECTIONS: usize = 10_000;
    let needed = CONNECTIONS as u64 + SPARE_FDS;
    match open_file_limits() {
        None => {
            println!("skipped: no /proc/self/limits here to check the open-file limit");
            return;
        }
        Some((soft, hard)) if soft < needed => {
            println!(
                "skipped: {CONNECTIONS} connections need about {needed} open files in this \
                 process and as many in the directory's, but the soft limit (ulimit -n) is \
                 {soft} (hard limit {hard}); raise it, e.g. `ulimit -n 65536`, and run again"
            );
            return;
        }
        Some(_) => {}
    }
    let directory = DirectoryProcess::start("1ms");
    let pid = directory.pid();
    let rss_idle_server = status_field(&pid, "VmRSS");

    let started = Instant::now();
    let mut streams = connect_all(directory.addr, CONNECTIONS);
    let connected = started.elapsed();
    // The directory holds every one of them at once: a descriptor each.
    let waiting = Instant::now();
    while open_fds(&pid).unwrap_or(0) < CONNECTIONS {
        assert!(
            waiting.elapsed() < Duration::from_secs(20),
            "the directory holds only {:?} descriptors",
            open_fds(&pid)
        );
        thread::sleep(Duration::from_millis(10));
    }
    let server_fds = open_fds(&pid).unwrap();
    let rss_held = status_field(&pid, "VmRSS");
    // Idle for a moment, all of them.
    thread::sleep(Duration::from_millis(200));

    let requested = Instant::now();
    let first = request_on_each(&mut streams, 1);
    let first_round = requested.elapsed();
    // Kept alive: the same connections serve a second round.
    let requested = Instant::now();
    let second = request_on_each(&mut streams, 1 + CONNECTIONS as u64);
    let second_round = requested.elapsed();
    let threads = status_field(&pid, "Threads");
    let rss_after = status_field(&pid, "VmRSS");

    println!(
        "load: {CONNECTIONS} connections opened in {connected:.2?}; the directory (pid {pid}, \
         {threads:?} thread) held {server_fds} descriptors; round 1: {first} answered 200 in \
         {first_round:.2?}; round 2 on the same connections: {second} in {second_round:.2?}; \
         directory VmRSS KiB: {rss_idle_server:?} at start, {rss_held:?} holding them all, \
         {rss_after:?} after both rounds"
    );
    assert_eq!(first, CONNECTIONS, "answers lost in round 1");
    assert_eq!(second, CONNECTIONS, "answers lost in round 2");
    if let Some(threads) = threads {
        assert_eq!(threads, 1, "the directory runs on one thread");
    }
}

/// A directory on its own thread and runtime, with its connection count visible.
struct Server {
    addr: SocketAddr,
    open: Arc<AtomicUsize>,
    stop: StopSignal,
    thread: Option<thread::JoinHandle<(usize, usize)>>,
}

impl Server {
    fn start(config: DirectoryConfig) -> Server {
        let stop = StopSignal::new();
        let stop_in_thread = stop.clone();
        let (bound_tx, bound_rx) = std::sync::mpsc::channel();
        let thread = thread::spawn(move || {
            let runtime = Runtime::builder().build().unwrap();
            runtime.block_on(async move {
                let directory = Directory::bind("127.0.0.1:0", config).unwrap();
                let addr = directory.local_addr().unwrap();
                bound_tx.send((addr, directory.open_connections())).unwrap();
                directory.serve_until(stop_in_thread.fired()).await;
            });
            runtime.pending_resources()
        });
        let (addr, open) = bound_rx.recv().unwrap();
        Server {
            addr,
            open,
            stop,
            thread: Some(thread),
        }
    }

    fn wait_for_open(&self, n: usize) {
        let started = Instant::now();
        while self.open.load(Ordering::Relaxed) != n {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the server holds {} connections, expected {n}",
                self.open.load(Ordering::Relaxed)
            );
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.fire();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn idle_keep_alive_connections_with_both_ends_in_this_process_are_all_served() {
    let _one_at_a_time = serial();
    // 1,000, or fewer if the open-file limit is low: both ends are in this process.
    let soft = open_file_limits().map_or(1024, |(soft, _)| soft);
    let connections = 1_000.min((soft.saturating_sub(SPARE_FDS) / 2) as usize);
    if connections < 100 {
        println!("skipped: the open-file soft limit is {soft}; raise it with `ulimit -n 4096`");
        return;
    }
    let mut server = Server::start(DirectoryConfig {
        idle_timeout: Duration::from_secs(300),
        ..DirectoryConfig::with_delay(Duration::from_millis(1))
    });
    let started = Instant::now();
    let mut streams = connect_all(server.addr, connections);
    server.wait_for_open(connections);
    let connected = started.elapsed();
    thread::sleep(Duration::from_millis(100));
    // Still all there after idling.
    assert_eq!(server.open.load(Ordering::Relaxed), connections);
    let requested = Instant::now();
    let served = request_on_each(&mut streams, 1);
    let took = requested.elapsed();
    assert_eq!(served, connections, "answers lost");
    assert_eq!(server.open.load(Ordering::Relaxed), connections);
    drop(streams);
    server.wait_for_open(0);
    server.stop.fire();
    let left = server.thread.take().unwrap().join().unwrap();
    assert_eq!(
        left,
        (0, 0),
        "(timers, sockets) left in the server's runtime"
    );
    println!(
        "load in process: {connections} idle connections held at once (opened in \
         {connected:.2?}), {served} answered 200 in {took:.2?}, 0 timers and 0 sockets left"
    );
}
