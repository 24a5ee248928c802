//! Virtual time with sockets (chapters 6 and 7): a client and a server in one runtime
//! under `Runtime::builder().virtual_time(true)`, on its simulated network, talk as
//! they would in real time, and the clock does not jump past bytes in flight. A
//! server that sleeps one virtual second before answering is answered at exactly
//! 1.000 s, even with the client's own timeout pending further on: the clock jumps
//! only when no socket has news, so it stops at the server's deadline and the reply
//! arrives before the client's, even a reply too large for the sockets' buffers.
//! The sleeps cost no wall time.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use looplab::net::{TcpListener, TcpStream};
use looplab::time::{Instant, sleep, timeout};
use looplab::trace::{Event, UnparkReason};
use looplab::{Recorder, Runtime};

/// The client's patience on the virtual clock. If the loop jumped the clock while a
/// reply was on its way, the next deadline it would reach is this one, and the test
/// would see `Elapsed` instead of the reply.
const PATIENCE: Duration = Duration::from_secs(10);

/// Runs `future` under virtual time; returns its output and the wall time it took.
fn run_virtual<F: Future>(future: F) -> (F::Output, Duration) {
    run_virtual_recorded(&Recorder::new(), future)
}

/// [`run_virtual`], keeping the trace in `recorder`.
fn run_virtual_recorded<F: Future>(recorder: &Recorder, future: F) -> (F::Output, Duration) {
    let rt = Runtime::builder()
        .virtual_time(true)
        .record(recorder.clone())
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let output = rt.block_on(future);
    let wall = started.elapsed();
    assert_eq!(rt.pending_resources(), (0, 0), "a timer or socket was left");
    (output, wall)
}

/// Reads exactly `buf.len()` bytes.
async fn read_exact(stream: &mut TcpStream, buf: &mut [u8]) {
    let mut got = 0;
    while got < buf.len() {
        match stream.read(&mut buf[got..]).await.unwrap() {
            0 => panic!("closed after {got} of {} bytes", buf.len()),
            n => got += n,
        }
    }
}

/// A server for `connections` connections: each request is one byte `n`; the answer,
/// `n` seconds (of the runtime's clock) later, is `reply_len` bytes of `n`.
fn spawn_slow_server(
    connections: usize,
    reply_len: usize,
) -> (SocketAddr, looplab::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = looplab::spawn(async move {
        let mut handlers = Vec::new();
        for _ in 0..connections {
            let (mut stream, _) = listener.accept().await.unwrap();
            handlers.push(looplab::spawn(async move {
                let mut request = [0u8; 1];
                loop {
                    match stream.read(&mut request).await.unwrap() {
                        0 => return,
                        _ => {
                            sleep(Duration::from_secs(request[0].into())).await;
                            stream
                                .write_all(&vec![request[0]; reply_len])
                                .await
                                .unwrap();
                        }
                    }
                }
            }));
        }
        for handler in looplab::join_all(handlers).await {
            handler.unwrap();
        }
    });
    (addr, server)
}

#[test]
fn a_reply_after_a_one_second_virtual_sleep_comes_at_exactly_one_second() {
    let (elapsed, wall) = run_virtual(async {
        let (addr, server) = spawn_slow_server(1, 5);
        let start = Instant::now();
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(&[1]).await.unwrap();
        let mut reply = [0u8; 5];
        timeout(PATIENCE, read_exact(&mut client, &mut reply))
            .await
            .expect("the clock jumped past the reply");
        let elapsed = start.elapsed();
        assert_eq!(reply, [1; 5]);
        drop(client);
        server.await.unwrap();
        elapsed
    });
    assert_eq!(elapsed, Duration::from_secs(1));
    assert!(
        wall < Duration::from_millis(500),
        "took {wall:?} of wall time"
    );
}

#[test]
fn the_posts_three_requests_over_real_sockets_end_at_exactly_3_2_and_1_seconds() {
    // The post's scenario with a real server: requests for 3, 2 and 1 users, one user
    // per call, each call answered after one second. On one thread, concurrently:
    // they end at 3, 2 and 1 seconds, and the whole takes 3, not 6.
    let ((ends, total), wall) = run_virtual(async {
        let (addr, server) = spawn_slow_server(3, 16);
        let start = Instant::now();
        let requests: Vec<_> = [3u32, 2, 1]
            .into_iter()
            .map(|users| {
                looplab::spawn(async move {
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    for _ in 0..users {
                        stream.write_all(&[1]).await.unwrap();
                        let mut reply = [0u8; 16];
                        timeout(PATIENCE, read_exact(&mut stream, &mut reply))
                            .await
                            .expect("the clock jumped past a reply");
                        assert_eq!(reply, [1; 16]);
                    }
                    start.elapsed()
                })
            })
            .collect();
        let ends: Vec<Duration> = looplab::join_all(requests)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        server.await.unwrap();
        (ends, start.elapsed())
    });
    let secs = Duration::from_secs;
    assert_eq!(ends, [secs(3), secs(2), secs(1)]);
    assert_eq!(total, secs(3));
    assert!(wall < Duration::from_secs(1), "took {wall:?} of wall time");
}

#[test]
fn a_large_reply_in_flight_is_not_overtaken_by_a_clock_jump() {
    // 16 MiB do not fit in the simulated stream's 64 KiB buffer: the transfer takes
    // rounds of "writer waits, reader drains, writer goes on", while the client's
    // timeout is pending half a second further on. Each round's wake lands in the
    // run queue within the poll that makes room, so the loop never finds "no task
    // ready" in the middle of the transfer, and the clock never jumps there.
    const SIZE: usize = 16 << 20;
    let recorder = Recorder::new();
    let (elapsed, wall) = run_virtual_recorded(&recorder, async {
        let (addr, server) = spawn_slow_server(1, SIZE);
        let start = Instant::now();
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(&[1]).await.unwrap();
        let mut reply = vec![0u8; SIZE];
        timeout(
            Duration::from_millis(1500),
            read_exact(&mut client, &mut reply),
        )
        .await
        .expect("the clock jumped while the reply was in flight");
        let elapsed = start.elapsed();
        assert!(reply.iter().all(|&b| b == 1), "the reply differs");
        drop(client);
        server.await.unwrap();
        elapsed
    });
    assert_eq!(elapsed, Duration::from_secs(1));
    assert!(wall < Duration::from_secs(2), "took {wall:?} of wall time");
    // The situation was really there: the writer had to wait for the reader several
    // times, and the clock jumped once only, to the server's deadline.
    let events = recorder.events();
    let writer_waits = events
        .iter()
        .filter(|e| matches!(e, Event::IoWait { op: "write", .. }))
        .count();
    assert!(writer_waits >= 3, "only {writer_waits} rounds");
    let jumps: Vec<Duration> = recorder
        .records()
        .iter()
        .filter(|r| {
            r.event
                == Event::Unpark {
                    reason: UnparkReason::ClockJump,
                }
        })
        .map(|r| r.at)
        .collect();
    assert_eq!(jumps, [Duration::from_secs(1)]);
}

/// A virtual-time runtime's network is its own: an address where only the real
/// world listens is refused at once, and the message says why.
#[test]
fn a_connect_to_an_address_the_runtime_does_not_hold_is_refused_with_the_reason() {
    // A real listener, in the real world: the simulated network cannot reach it.
    let outside = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = outside.local_addr().unwrap();
    let (error, wall) = run_virtual(async move {
        let start = Instant::now();
        let error = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(start.elapsed(), Duration::ZERO, "a refusal does not wait");
        error
    });
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
    let message = error.to_string();
    assert!(message.contains(&addr.to_string()), "{message}");
    assert!(
        message.contains("a virtual-time runtime reaches only its own listeners"),
        "{message}"
    );
    assert!(wall < Duration::from_secs(1));
    // Nothing reached the real listener.
    outside.set_nonblocking(true).unwrap();
    assert_eq!(
        outside.accept().unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
}
