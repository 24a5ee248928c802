//! The simulated network of a virtual-time runtime (`src/sim_net/`, chapter 7): what a
//! program sees of it through `looplab::net`. Each test is one runtime on virtual
//! time; the clock says *when* each thing happened, so "the writer waited for the
//! reader" is an exact timestamp, not a guess about scheduling.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use looplab::net::{TcpListener, TcpStream};
use looplab::time::{Instant, sleep};
use looplab::{Runtime, join_all, spawn};

const SECOND: Duration = Duration::from_secs(1);
/// The per-direction buffer of a simulated stream (`sim_net::BUFFER_SIZE`).
const BUFFER: usize = 64 * 1024;
/// A listener's accept queue (`sim_net::LISTEN_BACKLOG`).
const BACKLOG: usize = 4096;

fn virtual_runtime() -> Runtime {
    Runtime::builder().virtual_time(true).build().unwrap()
}

/// Runs `test` on a new virtual-time runtime and checks nothing was left behind.
fn run<T>(test: impl Future<Output = T>) -> T {
    let rt = virtual_runtime();
    let out = rt.block_on(test);
    assert_eq!(rt.pending_resources(), (0, 0), "a timer or socket was left");
    out
}

/// A listener and one connection to it: (client end, server end).
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

/// Byte `i` of a test pattern that shows a lost, doubled or reordered chunk.
fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

async fn read_all(stream: &mut TcpStream, chunk: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; chunk];
    loop {
        match stream.read(&mut buf).await.unwrap() {
            0 => return got,
            n => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn a_megabyte_goes_through_a_full_buffer_and_the_writer_waits_for_the_reader() {
    const SIZE: usize = 1 << 20;
    let written_at_zero = Arc::new(AtomicUsize::new(0));
    let (got, writer_done, reads) = run({
        let written_at_zero = written_at_zero.clone();
        async move {
            let (mut client, mut server) = pair().await;
            let data: Vec<u8> = (0..SIZE).map(pattern).collect();
            let writer = spawn(async move {
                let start = Instant::now();
                let mut sent = 0;
                while sent < data.len() {
                    let n = client.write(&data[sent..]).await.unwrap();
                    if start.elapsed() == Duration::ZERO {
                        written_at_zero.fetch_add(n, Ordering::SeqCst);
                    }
                    sent += n;
                }
                drop(client);
                start.elapsed()
            });
            // The reader starts a second late: until then the buffer is full.
            sleep(SECOND).await;
            let mut got = Vec::new();
            let mut buf = vec![0u8; 100_000];
            let mut reads = 0;
            loop {
                match server.read(&mut buf).await.unwrap() {
                    0 => break,
                    n => {
                        reads += 1;
                        got.extend_from_slice(&buf[..n]);
                    }
                }
            }
            (got, writer.await.unwrap(), reads)
        }
    });
    // Before the reader came, the writer got exactly one buffer's worth in.
    assert_eq!(written_at_zero.load(Ordering::SeqCst), BUFFER);
    assert_eq!(got.len(), SIZE);
    assert!(got.iter().enumerate().all(|(i, &b)| b == pattern(i)));
    assert_eq!(
        writer_done, SECOND,
        "the rest went through once the reader read"
    );
    // The fixed rule: a read takes what is buffered (at most 64 KiB here, less than
    // the 100,000-byte buffer), so 1 MiB is 16 reads, and the end of stream is one more.
    assert_eq!(reads, SIZE / BUFFER);
}

#[test]
fn end_of_stream_comes_after_the_buffered_bytes_and_the_other_half_still_works() {
    let (got, answer, write_after_shutdown) = run(async {
        let (mut client, mut server) = pair().await;
        client.write_all(b"request").await.unwrap();
        client.shutdown_write().unwrap();
        let refused = client.write(b"more").await.unwrap_err().kind();
        // The server reads later, and still gets every byte before the end.
        sleep(SECOND).await;
        let got = read_all(&mut server, 3).await;
        // Half-closed, not closed: the server can still answer.
        server.write_all(b"answer").await.unwrap();
        drop(server);
        (got, read_all(&mut client, 64).await, refused)
    });
    assert_eq!(got, b"request");
    assert_eq!(answer, b"answer");
    assert_eq!(write_after_shutdown, ErrorKind::BrokenPipe);
}

#[test]
fn a_dropped_stream_is_end_of_stream_after_its_bytes_and_a_write_to_it_is_a_broken_pipe() {
    let (got, error) = run(async {
        let (mut client, mut server) = pair().await;
        client.write_all(b"last words").await.unwrap();
        drop(client);
        let got = read_all(&mut server, 4).await;
        let error = server.write_all(b"anyone?").await.unwrap_err();
        (got, error)
    });
    assert_eq!(got, b"last words");
    assert_eq!(error.kind(), ErrorKind::BrokenPipe);
    assert!(error.to_string().contains("peer has closed"), "{error}");
}

#[test]
fn a_reader_that_drops_mid_transfer_wakes_the_blocked_writer_with_a_broken_pipe() {
    let (read, written, error, at) = run(async {
        let (mut client, mut server) = pair().await;
        let start = Instant::now();
        let writer = spawn(async move {
            let data = vec![7u8; 1 << 20];
            let mut sent = 0;
            loop {
                match client.write(&data[sent..]).await {
                    Ok(n) => sent += n,
                    Err(e) => return (sent, e.kind(), start.elapsed()),
                }
            }
        });
        sleep(SECOND).await;
        let mut buf = vec![0u8; 10_000];
        let mut read = 0;
        while read < 100_000 {
            read += server.read(&mut buf).await.unwrap();
        }
        drop(server);
        let (written, error, at) = writer.await.unwrap();
        (read, written, error, at)
    });
    assert!((100_000..1 << 20).contains(&read));
    // The writer filled what the reader made room for, then the drop ended it.
    assert!(
        written > read && written <= read + BUFFER,
        "{written} {read}"
    );
    assert_eq!(error, ErrorKind::BrokenPipe);
    assert_eq!(
        at, SECOND,
        "woken when the reader dropped, not left waiting"
    );
}

#[test]
fn a_writer_that_drops_mid_transfer_leaves_the_reader_its_bytes_then_end_of_stream() {
    let got = run(async {
        let (mut client, mut server) = pair().await;
        client.write_all(&vec![1u8; 50_000]).await.unwrap();
        drop(client);
        read_all(&mut server, 4096).await
    });
    assert_eq!(got, vec![1u8; 50_000]);
}

#[test]
fn a_connect_where_the_runtime_has_no_listener_is_refused_at_once_and_says_why() {
    let (never_bound, after_close) = run(async {
        let start = Instant::now();
        let addr: SocketAddr = "127.0.0.1:7878".parse().unwrap();
        let never_bound = TcpStream::connect(addr).await.unwrap_err();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = listener.local_addr().unwrap();
        drop(listener);
        let after_close = TcpStream::connect(closed).await.unwrap_err();
        assert_eq!(start.elapsed(), Duration::ZERO);
        (never_bound, (closed, after_close))
    });
    assert_eq!(never_bound.kind(), ErrorKind::ConnectionRefused);
    let message = never_bound.to_string();
    assert!(message.contains("127.0.0.1:7878"), "{message}");
    assert!(
        message.contains("a virtual-time runtime reaches only its own listeners"),
        "{message}"
    );
    let (closed, after_close) = after_close;
    assert_eq!(after_close.kind(), ErrorKind::ConnectionRefused);
    assert!(after_close.to_string().contains(&closed.to_string()));
}

#[test]
fn past_a_full_backlog_a_connect_waits_for_accept_and_connections_come_in_connect_order() {
    const EXTRA: usize = 3;
    let connected = Arc::new(AtomicUsize::new(0));
    let (at_zero, accepted_order, connect_times) = run({
        let connected = connected.clone();
        async move {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let start = Instant::now();
            let clients: Vec<_> = (0..BACKLOG + EXTRA)
                .map(|i| {
                    let connected = connected.clone();
                    spawn(async move {
                        let mut stream = TcpStream::connect(addr).await.unwrap();
                        let at = start.elapsed();
                        connected.fetch_add(1, Ordering::SeqCst);
                        stream.write_all(&(i as u32).to_be_bytes()).await.unwrap();
                        // Wait for the server to close, so the stream stays open.
                        assert_eq!(stream.read(&mut [0u8; 1]).await.unwrap(), 0);
                        at
                    })
                })
                .collect();
            // Let every client try: nobody accepts for a second.
            sleep(SECOND).await;
            let at_zero = connected.load(Ordering::SeqCst);
            let mut order = Vec::new();
            for _ in 0..BACKLOG + EXTRA {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut id = [0u8; 4];
                let mut got = 0;
                while got < 4 {
                    got += stream.read(&mut id[got..]).await.unwrap();
                }
                order.push(u32::from_be_bytes(id) as usize);
            }
            let times: Vec<Duration> = join_all(clients)
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect();
            (at_zero, order, times)
        }
    });
    assert_eq!(
        at_zero, BACKLOG,
        "exactly the backlog connected before any accept"
    );
    assert_eq!(accepted_order, (0..BACKLOG + EXTRA).collect::<Vec<_>>());
    assert!(
        connect_times[..BACKLOG]
            .iter()
            .all(|&t| t == Duration::ZERO)
    );
    assert!(
        connect_times[BACKLOG..].iter().all(|&t| t == SECOND),
        "the last {EXTRA} connected when accept made room: {:?}",
        &connect_times[BACKLOG..]
    );
}

#[test]
fn a_connect_that_gives_up_while_waiting_for_room_leaves_the_line() {
    let accepted = run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut streams = Vec::new();
        for _ in 0..BACKLOG {
            streams.push(TcpStream::connect(addr).await.unwrap());
        }
        let gave_up = looplab::time::timeout(SECOND, TcpStream::connect(addr)).await;
        assert!(gave_up.is_err(), "the queue was full");
        let last = spawn(async move { TcpStream::connect(addr).await.unwrap() });
        let mut accepted = 0;
        for _ in 0..=BACKLOG {
            drop(listener.accept().await.unwrap());
            accepted += 1;
        }
        drop(last.await.unwrap());
        drop(streams);
        accepted
    });
    assert_eq!(accepted, BACKLOG + 1);
}

#[test]
fn addresses_nodelay_and_a_port_in_use_behave_as_documented() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        assert_ne!(addr.port(), 0, "port 0 picks a port");
        let taken = TcpListener::bind(addr).unwrap_err();
        assert_eq!(taken.kind(), ErrorKind::AddrInUse);
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, peer) = listener.accept().await.unwrap();
        assert_eq!(client.peer_addr().unwrap(), addr);
        assert_eq!(server.local_addr().unwrap(), addr);
        assert_eq!(peer, client.local_addr().unwrap());
        assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
        assert!(!client.nodelay().unwrap());
        client.set_nodelay(true).unwrap();
        assert!(client.nodelay().unwrap());
    });
}

#[test]
fn a_simulated_socket_used_in_another_runtime_is_an_error_not_a_mixup() {
    let first = virtual_runtime();
    let (mut client, server) = first.block_on(pair());
    let second = virtual_runtime();
    let error = second
        .block_on(async { client.write(b"x").await })
        .unwrap_err();
    assert!(
        error.to_string().contains("another looplab runtime"),
        "{error}"
    );
    drop((client, server));
    // Dropped outside their runtime, the sockets are closed at its next park.
    first.block_on(async { sleep(Duration::from_millis(1)).await });
    assert_eq!(first.pending_resources(), (0, 0));
}

/// The lookup at scale, through the library: 20,000 one-user requests at once, each a
/// connection to the directory in the same runtime. Every one ends at exactly 1.000 s:
/// 4,096 get into the accept queue at once, the rest as the directory accepts, all
/// within the first instant, and no file descriptor is used.
#[test]
fn twenty_thousand_one_user_lookups_all_end_at_exactly_one_second() {
    use looplab::lookup::event_loop::{EventLoopOptions, run_event_loop};
    let options = EventLoopOptions {
        requests: vec![1; 20_000],
        delay: SECOND,
        virtual_time: true,
        call_timeout: None,
        lang: looplab::lookup::narrative::Lang::En,
        trace: looplab::TraceOutput::Off,
        recorder: None,
    };
    let started = std::time::Instant::now();
    let (report, _) = run_event_loop(None, &options, Arc::new(|_, _| {}), |b| b).unwrap();
    let wall = started.elapsed();
    assert_eq!(report.requests.len(), 20_000);
    assert!(
        report.requests.iter().all(|r| r.latency == SECOND),
        "{:?}",
        report.requests.iter().find(|r| r.latency != SECOND)
    );
    assert_eq!(report.total, SECOND);
    assert!(wall < Duration::from_secs(30), "took {wall:?}");
}
