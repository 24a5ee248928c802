//! The user directory over real sockets: users, 4xx answers, keep-alive, and clients
//! that meet a dead address.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use looplab::lookup::directory::{DirectoryConfig, DirectoryThread};
use looplab::lookup::event_loop::{EventLoopOptions, Narrator, run_event_loop};
use looplab::lookup::http::{ResponseParse, parse_response};
use looplab::lookup::narrative::Lang;

fn start(delay_ms: u64) -> DirectoryThread {
    DirectoryThread::start(
        "127.0.0.1:0".parse().unwrap(),
        DirectoryConfig::with_delay(Duration::from_millis(delay_ms)),
    )
    .unwrap()
}

/// Sends raw bytes on a connection and reads one whole answer.
fn exchange(stream: &mut TcpStream, request: &[u8]) -> (u16, String) {
    stream.write_all(request).unwrap();
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match parse_response(&buffer) {
            ResponseParse::Complete { status, body, .. } => {
                return (status, String::from_utf8(body).unwrap());
            }
            ResponseParse::Invalid(why) => panic!("invalid answer: {why}"),
            ResponseParse::Partial => {
                let n = stream.read(&mut chunk).unwrap();
                assert!(n > 0, "closed before a whole answer");
                buffer.extend_from_slice(&chunk[..n]);
            }
        }
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

#[test]
fn a_user_is_answered_after_the_delay_as_json() {
    let directory = start(100);
    let mut stream = connect(directory.addr());
    let started = Instant::now();
    let (status, body) = exchange(&mut stream, b"GET /users/7 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(status, 200);
    let user: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(user["id"], 7);
    assert!(user["name"].is_string());
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let directory = start(1);
    let mut stream = connect(directory.addr());
    for id in 1..=5 {
        let request = format!("GET /users/{id} HTTP/1.1\r\nHost: x\r\n\r\n");
        let (status, body) = exchange(&mut stream, request.as_bytes());
        assert_eq!(status, 200);
        assert!(body.contains(&format!("\"id\":{id}")), "{body}");
    }
}

#[test]
fn errors_get_a_4xx_with_a_reason_and_the_server_keeps_serving() {
    let directory = start(1);
    let cases: [(&[u8], u16, &str); 4] = [
        (
            b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n",
            404,
            "no such path",
        ),
        (
            b"POST /users/7 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
            405,
            "use GET",
        ),
        (b"GET /users/abc HTTP/1.1\r\nHost: x\r\n\r\n", 400, "abc"),
        (b"\x01\x02 garbage\r\n\r\n", 400, "malformed request"),
    ];
    for (request, status, reason) in cases {
        let mut stream = connect(directory.addr());
        let (got, body) = exchange(&mut stream, request);
        assert_eq!(got, status, "{body}");
        assert!(body.contains(reason), "{status}: {body}");
        // And a good request right after still works.
        let mut stream = connect(directory.addr());
        let (ok, _) = exchange(&mut stream, b"GET /users/1 HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(ok, 200);
    }
}

#[test]
fn many_connections_are_served_at_once_on_one_thread() {
    let directory = start(200);
    let addr = directory.addr();
    let started = Instant::now();
    let clients: Vec<_> = (0..50)
        .map(|id| {
            std::thread::spawn(move || {
                let mut stream = connect(addr);
                let request = format!("GET /users/{id} HTTP/1.1\r\nHost: x\r\n\r\n");
                exchange(&mut stream, request.as_bytes()).0
            })
        })
        .collect();
    for client in clients {
        assert_eq!(client.join().unwrap(), 200);
    }
    // 50 lookups of 200 ms each overlapped: far less than 50 x 200 ms.
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "{took:?}");
}

fn dead_address() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
    // The listener is dropped here: nothing listens on that port any more.
}

#[test]
fn the_event_loop_client_reports_a_refused_connection_as_an_error() {
    let addr = dead_address();
    let options = EventLoopOptions {
        requests: vec![1],
        delay: Duration::from_millis(1),
        virtual_time: false,
        call_timeout: None,
        lang: Lang::En,
        trace: looplab::TraceOutput::Off,
        recorder: None,
    };
    let quiet: Narrator = Arc::new(|_, _| {});
    let Err(err) = run_event_loop(Some(addr), &options, quiet, |b| b) else {
        panic!("a dead address must be an error");
    };
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

#[test]
fn the_blocking_clients_report_a_refused_connection_as_an_error() {
    let addr = dead_address();
    let mut quiet = |_| {};
    let err = looplab::lookup::blocking::run_sequential(addr, &[1], None, Lang::En, &mut quiet)
        .unwrap_err();
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    let err =
        looplab::lookup::blocking::run_threads(addr, &[1], None, Lang::En, &mut quiet).unwrap_err();
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

#[test]
fn one_stop_signal_stops_every_task_waiting_on_it() {
    // The lookup exercise stops a directory and its own server with one signal; a
    // signal that kept a single waker would leave one of them waiting for ever.
    let runtime = looplab::Runtime::builder()
        .virtual_time(true)
        .build()
        .unwrap();
    let stopped = runtime.block_on(async {
        let stop = looplab::lookup::directory::StopSignal::new();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let stop = stop.clone();
                looplab::spawn(async move { stop.fired().await })
            })
            .collect();
        // Let every waiter park on the signal before it fires.
        looplab::time::sleep(std::time::Duration::from_millis(1)).await;
        stop.fire();
        looplab::time::timeout(
            std::time::Duration::from_secs(1),
            looplab::join_all(waiters),
        )
        .await
        .map(|results| results.len())
    });
    assert_eq!(stopped, Ok(3), "every waiter is woken by one fire");
}

/// Sends raw bytes on a new connection with `Connection: close` semantics and reads
/// everything the server sends until it closes.
fn raw_exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = connect(addr);
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    answer
}

#[test]
fn head_gets_the_get_answers_head_and_no_body() {
    let directory = start(1);
    let get = raw_exchange(
        directory.addr(),
        b"GET /users/7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let head = raw_exchange(
        directory.addr(),
        b"HEAD /users/7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let head_text = String::from_utf8(head.clone()).unwrap();
    assert!(head_text.starts_with("HTTP/1.1 200 OK\r\n"), "{head_text}");
    assert!(head_text.ends_with("\r\n\r\n"), "no body: {head_text:?}");
    // The same head as GET's, Content-Length of the body it would have sent included.
    assert_eq!(&get[..head.len()], &head[..]);
    assert!(get.len() > head.len());
    // On a kept-alive connection the next request lines up after a body-less answer.
    let mut stream = connect(directory.addr());
    stream
        .write_all(b"HEAD /users/1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    while !answer.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "closed early");
        answer.extend_from_slice(&chunk[..n]);
    }
    let (status, body) = exchange(&mut stream, b"GET /users/2 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, 200);
    assert!(body.contains("\"id\":2"), "{body}");
}

#[test]
fn an_absolute_form_target_is_served_like_its_path() {
    let directory = start(1);
    let request = format!(
        "GET http://{0}/users/7 HTTP/1.1\r\nHost: {0}\r\n\r\n",
        directory.addr()
    );
    let mut stream = connect(directory.addr());
    let (status, body) = exchange(&mut stream, request.as_bytes());
    assert_eq!(status, 200);
    assert!(body.contains("\"id\":7"), "{body}");
}

#[test]
fn expect_100_continue_gets_a_refusal_at_once_or_the_go_ahead() {
    let directory = start(1);
    // Refused anyway (POST): the final status at once, not after the body or a timeout.
    let started = Instant::now();
    let refused = raw_exchange(
        directory.addr(),
        b"POST /users/7 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    let refused = String::from_utf8(refused).unwrap();
    assert!(refused.starts_with("HTTP/1.1 405 "), "{refused}");
    assert!(refused.contains("Connection: close\r\n"), "{refused}");
    // curl waits a second for a 100 before sending anyway; the answer comes well before.
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );

    // Served: `100 Continue`, then, once the body is in, the answer.
    let mut stream = connect(directory.addr());
    stream
        .write_all(b"GET /users/3 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        .unwrap();
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    let (status, body) = exchange(&mut stream, b"abc");
    assert_eq!(status, 200);
    assert!(body.contains("\"id\":3"), "{body}");
}

#[test]
fn get_slash_says_the_delay_and_the_lookups_in_flight() {
    let directory = start(300);
    let addr = directory.addr();
    let busy = std::thread::spawn(move || {
        let mut stream = connect(addr);
        exchange(&mut stream, b"GET /users/1 HTTP/1.1\r\nHost: x\r\n\r\n").0
    });
    // Bounded: the lookup is in flight within a few hundred ms on any machine.
    let deadline = Instant::now() + Duration::from_secs(5);
    let info = loop {
        let mut stream = connect(addr);
        let (status, body) = exchange(&mut stream, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(status, 200);
        let info: serde_json::Value = serde_json::from_str(&body).unwrap();
        if info["lookups_in_flight"] == 1 || Instant::now() > deadline {
            break info;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(info["service"], "looplab directory");
    assert_eq!(info["delay_s"], 0.3);
    assert_eq!(info["lookups_in_flight"], 1);
    assert_eq!(busy.join().unwrap(), 200);
}

/// The socket option `TCP_NODELAY` of the server's own end of `client`'s connection,
/// read from that very socket: the test process holds the server (a thread of it), so
/// it finds, among its own descriptors, the socket whose addresses are the client's
/// reversed, and asks the kernel for a copy of it (`pidfd_getfd`; a copy shares the
/// socket, and so its options).
fn servers_nodelay(client: &TcpStream) -> bool {
    let (ours, theirs) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
    let me = rustix::process::pidfd_open(
        rustix::process::getpid(),
        rustix::process::PidfdFlags::empty(),
    )
    .unwrap();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap() {
        let Ok(number) = entry.unwrap().file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(copy) =
            rustix::process::pidfd_getfd(&me, number, rustix::process::PidfdGetfdFlags::empty())
        else {
            continue; // closed meanwhile
        };
        let socket = socket2::SockRef::from(&copy);
        let addr = |a: std::io::Result<socket2::SockAddr>| a.ok().and_then(|a| a.as_socket());
        if addr(socket.local_addr()) == Some(theirs) && addr(socket.peer_addr()) == Some(ours) {
            return socket.tcp_nodelay().unwrap();
        }
    }
    panic!("no socket of this process is the server's end of {ours} -> {theirs}");
}

/// A directory on its own thread whose runtime records its trace, so that the test can
/// count the server's reads and writes.
fn start_recorded(delay_ms: u64) -> (SocketAddr, looplab::Recorder, impl FnOnce()) {
    let recorder = looplab::Recorder::new();
    let stop = looplab::lookup::directory::StopSignal::new();
    let (bound_tx, bound_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn({
        let (recorder, stop) = (recorder.clone(), stop.clone());
        move || {
            let runtime = looplab::Runtime::builder()
                .record(recorder)
                .build()
                .unwrap();
            runtime.block_on(async move {
                let config = DirectoryConfig::with_delay(Duration::from_millis(delay_ms));
                let directory =
                    looplab::lookup::directory::Directory::bind("127.0.0.1:0", config).unwrap();
                bound_tx.send(directory.local_addr().unwrap()).unwrap();
                directory.serve_until(stop.fired()).await;
            });
        }
    });
    let addr = bound_rx.recv().unwrap();
    let stop_and_join = move || {
        stop.fire();
        thread.join().unwrap();
    };
    (addr, recorder, stop_and_join)
}

/// The server's successful reads (with bytes) and writes, from its trace.
fn reads_and_writes(recorder: &looplab::Recorder) -> (usize, usize) {
    let mut counts = (0, 0);
    for event in recorder.events() {
        if let looplab::trace::Event::IoDone { op, bytes, .. } = event {
            match op {
                "read" if bytes > 0 => counts.0 += 1,
                "write" => counts.1 += 1,
                _ => {}
            }
        }
    }
    counts
}

#[test]
fn pipelined_requests_are_answered_in_order_together_with_nodelay_on() {
    const PIPELINED: u64 = 16;
    let (addr, recorder, stop) = start_recorded(0);
    let mut stream = connect(addr);
    // Sixteen requests in one write: users, the description and a 404, mixed, so that
    // an answer in the wrong place shows.
    let mut requests = Vec::new();
    let mut expected = Vec::new();
    for n in 1..=PIPELINED {
        let (path, status) = match n % 4 {
            0 => ("/".to_owned(), 200),
            1 => (format!("/nope/{n}"), 404),
            _ => (format!("/users/{n}"), 200),
        };
        requests.extend_from_slice(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        expected.push((status, path));
    }
    stream.write_all(&requests).unwrap();
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut answers = Vec::new();
    while answers.len() < expected.len() {
        match looplab::lookup::http::take_answer(&mut buffer).unwrap() {
            Some(answer) => answers.push(answer),
            None => {
                let n = stream.read(&mut chunk).unwrap();
                assert!(n > 0, "closed after {} answers", answers.len());
                buffer.extend_from_slice(&chunk[..n]);
            }
        }
    }
    for ((status, body), (expected_status, path)) in answers.iter().zip(&expected) {
        let body = String::from_utf8_lossy(body);
        assert_eq!(status, expected_status, "{path}: {body}");
        if let Some(id) = path.strip_prefix("/users/") {
            assert!(body.contains(&format!("\"id\":{id},")), "{path}: {body}");
        } else if path == "/" {
            assert!(body.contains("looplab directory"), "{path}: {body}");
        } else {
            assert!(body.contains(path.as_str()), "{path}: {body}");
        }
    }
    assert!(
        servers_nodelay(&stream),
        "the accepted socket keeps Nagle's algorithm"
    );
    drop(stream);
    stop();
    // Every read's whole requests answered with one write: as many writes as reads
    // (the sixteen requests may arrive in more than one read), not one per answer.
    let (reads, writes) = reads_and_writes(&recorder);
    assert!(
        reads >= 1 && writes == reads,
        "{reads} reads, {writes} writes"
    );
}

#[test]
fn an_answer_that_waits_sends_the_ready_ones_before_it_first() {
    let server = start(300);
    let mut stream = connect(server.addr());
    let started = Instant::now();
    // A 404 that is ready at once, then a user that takes 300 ms.
    stream
        .write_all(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /users/3 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (status, _) = exchange(&mut stream, b"");
    let first = started.elapsed();
    assert_eq!(status, 404);
    assert!(
        first < Duration::from_millis(250),
        "the 404 waited {first:?}"
    );
    let (status, body) = exchange(&mut stream, b"");
    assert_eq!(status, 200, "{body}");
    assert!(started.elapsed() >= Duration::from_millis(300));
}
