//! `looplab::net` as a user sees it (chapter 7): an echo server holding 1,000 clients
//! at once on one thread, every byte checked; 4 MiB each way through small buffers
//! (short writes, short reads, every byte in place); a peer's close is a read of 0;
//! a refused connection and a reset one are `io::Error`s with the OS's reason, never
//! panics; what a task waiting in `accept` sees when its listener goes away; and the
//! two misuses found while writing these tests: a socket used in another runtime, and
//! sockets dropped outside `block_on`.
//!
//! Every server binds 127.0.0.1 port 0 and ends by itself; every test runs under a
//! time limit, so a lost wakeup fails the test instead of hanging it.

use std::future::Future;
use std::io::{ErrorKind, Write as _};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::FutureExt as _;
use std::time::Duration;

use looplab::net::{TcpListener, TcpStream};
use looplab::time::{sleep, timeout};
use looplab::trace::Event;
use looplab::{Recorder, Runtime};

/// Generous even for a debug build on a busy machine: a test that needs it has hung.
const BOUND: Duration = Duration::from_secs(20);

/// Runs `future` on a new real-time runtime, failing after [`BOUND`] instead of hanging.
fn run_bounded<F: Future>(rt: &Runtime, future: F) -> F::Output {
    rt.block_on(async {
        timeout(BOUND, future)
            .await
            .expect("the test hung: a wakeup was lost")
    })
}

/// `len` bytes that differ per `seed` and per position, so a byte in the wrong place
/// or from the wrong client shows.
fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Echoes one connection until the client closes its writing half.
async fn echo(mut stream: TcpStream) -> std::io::Result<()> {
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await? {
            0 => return Ok(()),
            n => stream.write_all(&buf[..n]).await?,
        }
    }
}

#[test]
fn an_echo_server_holds_a_thousand_clients_at_once_on_one_thread() {
    const CLIENTS: usize = 1000;
    // All thousand connect in one turn of the loop, before the server's next
    // `accept`: the kernel holds them in the listener's accept queue meanwhile. With
    // std's and mio's backlog of 128 it dropped or reset the surplus;
    // `TcpListener::bind` asks for the system's maximum (`LISTEN_BACKLOG` in
    // src/net.rs), which Linux caps at `net.core.somaxconn` (4,096 by default). On a
    // system with a lower cap the clients connect in waves that fit.
    let wave_size = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|text| text.trim().parse::<usize>().ok())
        .map_or(64, |cap| cap / 2) // half the cap: room for other sockets' connects
        .clamp(1, CLIENTS);
    let rt = Runtime::builder().build().unwrap();
    let test_thread = std::thread::current().id();
    let (checked, open_at_once) = run_bounded(&rt, async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(AtomicUsize::new(0));
        // The server accepts exactly CLIENTS connections, one echo task each, then
        // stops.
        let server = looplab::spawn({
            let (accepted, open) = (accepted.clone(), open.clone());
            async move {
                let mut connections = Vec::new();
                for _ in 0..CLIENTS {
                    let (stream, _) = listener.accept().await.unwrap();
                    accepted.fetch_add(1, Ordering::SeqCst);
                    open.fetch_add(1, Ordering::SeqCst);
                    let open = open.clone();
                    connections.push(looplab::spawn(async move {
                        let result = echo(stream).await;
                        open.fetch_sub(1, Ordering::SeqCst);
                        result
                    }));
                }
                for result in looplab::join_all(connections).await {
                    result.unwrap().unwrap();
                }
            }
        });
        // Each client sends its own bytes: the first half, then (once every client is
        // connected) the second half; it closes its writing half and reads the echo
        // to the end.
        let (go, go_signal) = futures::channel::oneshot::channel::<()>();
        let go_signal = go_signal.shared();
        let mut clients = Vec::new();
        for wave_start in (0..CLIENTS).step_by(wave_size) {
            let wave_end = (wave_start + wave_size).min(CLIENTS);
            for id in wave_start..wave_end {
                let go_signal = go_signal.clone();
                clients.push(looplab::spawn(async move {
                    assert_eq!(std::thread::current().id(), test_thread);
                    let sent = pattern(id as u64, 1000 + id);
                    let (first, second) = sent.split_at(sent.len() / 2);
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    stream.write_all(first).await.unwrap();
                    go_signal.await.unwrap();
                    stream.write_all(second).await.unwrap();
                    stream.shutdown_write().unwrap();
                    let mut echoed = Vec::new();
                    stream.read_to_end(&mut echoed).await.unwrap();
                    assert!(echoed == sent, "client {id}: the echo differs");
                    echoed.len()
                }));
            }
            while accepted.load(Ordering::SeqCst) < wave_end {
                sleep(Duration::from_millis(1)).await;
            }
        }
        // All connected, none finished: a thousand connections open at once.
        let open_at_once = open.load(Ordering::SeqCst);
        go.send(()).unwrap();
        let mut bytes = 0;
        for result in looplab::join_all(clients).await {
            bytes += result.unwrap();
        }
        server.await.unwrap();
        (bytes, open_at_once)
    });
    assert_eq!(open_at_once, CLIENTS);
    let expected: usize = (0..CLIENTS).map(|id| 1000 + id).sum();
    assert_eq!(checked, expected);
    assert_eq!(rt.pending_resources(), (0, 0));
}

#[test]
fn four_mib_each_way_go_through_small_buffers_byte_for_byte() {
    const SIZE: usize = 4 << 20;
    let recorder = Recorder::new();
    let rt = Runtime::builder().record(recorder.clone()).build().unwrap();
    let (first_write, reads) = run_bounded(&rt, async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // The server takes it all in through a 777-byte buffer, checking as it goes,
        // then sends it all back.
        let server = looplab::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            // Not reading for a while: the client's writes fill the kernel's buffers.
            sleep(Duration::from_millis(30)).await;
            let expected = pattern(4, SIZE);
            let mut received = 0;
            let mut buf = [0u8; 777];
            loop {
                let n = stream.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                assert!(
                    buf[..n] == expected[received..received + n],
                    "byte {received}.. differs"
                );
                received += n;
            }
            assert_eq!(received, SIZE);
            stream.write_all(&expected).await.unwrap();
        });

        let payload = pattern(4, SIZE);
        let mut client = TcpStream::connect(addr).await.unwrap();
        // One `write` takes what fits in the kernel's buffer, far less than 4 MiB.
        let first_write = client.write(&payload).await.unwrap();
        client.write_all(&payload[first_write..]).await.unwrap();
        client.shutdown_write().unwrap();
        let mut echoed = Vec::with_capacity(SIZE);
        let mut buf = [0u8; 1000];
        let mut reads = 0;
        loop {
            let n = client.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            reads += 1;
            echoed.extend_from_slice(&buf[..n]);
        }
        assert_eq!(echoed.len(), SIZE);
        assert!(echoed == payload, "the echo differs");
        server.await.unwrap();
        (first_write, reads)
    });
    assert!(
        first_write > 0 && first_write < SIZE,
        "first write took {first_write}"
    );
    assert!(reads >= SIZE / 1000, "{reads} reads");
    // Writing waited for the socket at least once (a full send buffer).
    let events = recorder.events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::IoWouldBlock { op: "write", .. })),
        "no write ever had to wait"
    );
    assert_eq!(rt.pending_resources(), (0, 0));
}

#[test]
fn a_read_returns_zero_once_the_peer_has_closed() {
    let rt = Runtime::builder().build().unwrap();
    run_bounded(&rt, async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = looplab::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            stream.write_all(b"bye").await.unwrap();
            // Dropped here: the connection closes.
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        server.await.unwrap();
        let mut everything = Vec::new();
        assert_eq!(client.read_to_end(&mut everything).await.unwrap(), 3);
        assert_eq!(everything, b"bye");
        // End of stream is not an error, and it stays: every later read is 0 too.
        let mut buf = [0u8; 8];
        assert_eq!(client.read(&mut buf).await.unwrap(), 0);
        assert_eq!(client.read(&mut buf).await.unwrap(), 0);
    });
}

#[test]
fn after_shutdown_write_the_peer_reads_zero_and_can_still_answer() {
    let rt = Runtime::builder().build().unwrap();
    run_bounded(&rt, async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = looplab::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            stream.read_to_end(&mut request).await.unwrap();
            let answer = format!("got {} bytes", request.len());
            stream.write_all(answer.as_bytes()).await.unwrap();
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(b"question").await.unwrap();
        client.shutdown_write().unwrap();
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer, b"got 8 bytes");
        server.await.unwrap();
    });
}

/// A port on 127.0.0.1 where nothing listens (a listener was there a moment ago).
fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

#[test]
fn connecting_to_a_closed_port_is_connection_refused() {
    let rt = Runtime::builder().build().unwrap();
    let addr = closed_port();
    let err = run_bounded(&rt, async { TcpStream::connect(addr).await.unwrap_err() });
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    // The message says where, and keeps the OS's reason.
    let message = err.to_string();
    assert!(message.contains(&addr.to_string()), "{message}");
    assert!(message.to_lowercase().contains("refused"), "{message}");
    // The half-made socket is gone from the reactor.
    assert_eq!(rt.pending_resources(), (0, 0));
}

#[test]
fn a_peer_that_closes_with_unread_data_resets_the_connection() {
    // Closing a socket with bytes still unread in it makes the OS send a reset
    // (RST) instead of a polite end of stream. The other side's read says so.
    let rt = Runtime::builder().build().unwrap();
    let (read_error, write_error) = run_bounded(&rt, async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        client.write_all(b"never read").await.unwrap();
        let (server_side, _) = listener.accept().await.unwrap();
        // Let the bytes land in the server's socket before it closes unread.
        sleep(Duration::from_millis(20)).await;
        drop(server_side);
        let mut buf = [0u8; 16];
        let read_error = client.read(&mut buf).await.unwrap_err();
        // Writing to a reset connection fails too (and does not kill the process
        // with SIGPIPE).
        let mut write_error = None;
        for _ in 0..100 {
            if let Err(e) = client.write_all(b"anyone?").await {
                write_error = Some(e);
                break;
            }
            sleep(Duration::from_millis(1)).await;
        }
        (
            read_error,
            write_error.expect("writes to a reset peer kept working"),
        )
    });
    assert_eq!(
        read_error.kind(),
        ErrorKind::ConnectionReset,
        "{read_error}"
    );
    assert!(
        matches!(
            write_error.kind(),
            ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
        ),
        "{write_error}"
    );
}

#[test]
fn binding_a_port_in_use_is_an_error_not_a_panic() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let rt = Runtime::builder().build().unwrap();
    let err = rt
        .block_on(async { TcpListener::bind(taken.local_addr().unwrap()) })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
    assert_eq!(rt.pending_resources(), (0, 0));
}

#[test]
fn a_listener_dropped_while_a_task_waits_in_accept() {
    // `accept` borrows its listener, so (as in tokio) the listener cannot go away
    // under a waiting `accept`: dropping the listener means dropping the future that
    // waits in `accept`. What the waiting task sees is whatever ended that wait. Here
    // the task owns the listener inside a timeout: it sees `Elapsed`, not an error
    // from `accept` and not a hang. The listener's token leaves the reactor at once
    // and the port refuses connections from then on.
    let rt = Runtime::builder().build().unwrap();
    run_bounded(&rt, async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let waiter = looplab::spawn(async move {
            timeout(Duration::from_millis(30), async move {
                // The listener is moved in: when the timeout drops this future, the
                // listener goes with it.
                listener.accept().await.map(|_| ())
            })
            .await
        });
        let seen = waiter.await.unwrap();
        assert!(seen.is_err(), "the wait ended with {seen:?}");
        assert_eq!(
            rt.pending_resources().1,
            0,
            "the listener is still registered"
        );
        let err = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    });

    // A shared listener (an `Arc`) stays open while any task still holds it: one
    // owner dropping its handle does not disturb another task waiting in `accept`.
    run_bounded(&rt, async {
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        let waiter = looplab::spawn({
            let listener = listener.clone();
            async move { listener.accept().await.map(|(_, peer)| peer) }
        });
        sleep(Duration::from_millis(10)).await;
        drop(listener);
        let client = TcpStream::connect(addr).await.unwrap();
        let peer = waiter.await.unwrap().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
    });
    assert_eq!(rt.pending_resources(), (0, 0));

    // A task still waiting in `accept` when its runtime is dropped is dropped with
    // it, listener and all: no panic, no hang, and the port is closed afterwards.
    let addr = {
        let rt = Runtime::builder().build().unwrap();
        let addr = rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            looplab::spawn(async move { listener.accept().await.map(|_| ()) });
            sleep(Duration::from_millis(10)).await;
            addr
        });
        assert_eq!(rt.pending_resources(), (0, 1));
        addr
    };
    let err = std::net::TcpStream::connect(addr).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn a_socket_used_inside_another_runtime_is_an_error_not_a_hang() {
    // A socket belongs to the runtime that created it: its readiness arrives in that
    // runtime's `mio::Poll`. Used inside another runtime's `block_on`, its operations
    // fail at once, and they leave that runtime's own sockets alone.
    let home = Runtime::builder().build().unwrap();
    let (listener, mut client, mut server_side) = run_bounded(&home, async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server_side, _) = listener.accept().await.unwrap();
        (listener, client, server_side)
    });
    let other = Runtime::builder().build().unwrap();
    run_bounded(&other, async {
        // The other runtime has a socket of its own in the same slot number.
        let own = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut buf = [0u8; 8];
        let err = client.read(&mut buf).await.unwrap_err();
        assert!(err.to_string().contains("another looplab runtime"), "{err}");
        let err = listener.accept().await.unwrap_err();
        assert!(err.to_string().contains("another looplab runtime"), "{err}");
        // Its own listener still works.
        let addr = own.local_addr().unwrap();
        let _c = TcpStream::connect(addr).await.unwrap();
        own.accept().await.unwrap();
    });
    // Back home, the sockets work.
    run_bounded(&home, async {
        server_side.write_all(b"home").await.unwrap();
        let mut buf = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            got += client.read(&mut buf[got..]).await.unwrap();
        }
        assert_eq!(&buf, b"home");
    });
}

#[test]
fn sockets_dropped_outside_block_on_give_their_slots_back() {
    // A socket dropped where its runtime's loop is not running (after `block_on`
    // returned, or on another thread) cannot reach the reactor's table. It leaves its
    // key behind, and the reactor frees the slot: the count goes back to zero and the
    // slot numbers are used again.
    let recorder = Recorder::new();
    let rt = Runtime::builder().record(recorder.clone()).build().unwrap();
    let (listener, client, server_side) = run_bounded(&rt, async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server_side, _) = listener.accept().await.unwrap();
        (listener, client, server_side)
    });
    assert_eq!(rt.pending_resources(), (0, 3));
    drop(listener);
    std::thread::spawn(move || drop(client)).join().unwrap();
    assert_eq!(rt.pending_resources(), (0, 1));
    drop(server_side);
    assert_eq!(rt.pending_resources(), (0, 0));

    recorder.clear();
    run_bounded(&rt, async {
        // A turn of the loop frees the slots; then new sockets get the old numbers.
        sleep(Duration::from_millis(1)).await;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
    });
    let tokens: Vec<usize> = recorder
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::IoRegistered { token, .. } => Some(*token),
            _ => None,
        })
        .collect();
    let mut sorted = tokens.clone();
    sorted.sort();
    assert!(
        sorted.iter().all(|t| *t < 3),
        "slots not reused: {tokens:?}"
    );
    assert_eq!(rt.pending_resources(), (0, 0));
}

#[test]
fn a_blocking_std_client_talks_to_a_looplab_server() {
    // The reactor serves any TCP peer, not only looplab's own client.
    let rt = Runtime::builder().build().unwrap();
    run_bounded(&rt, async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            use std::io::Read as _;
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            stream.write_all(b"from a thread").unwrap();
            stream.shutdown(std::net::Shutdown::Write).unwrap();
            let mut echoed = Vec::new();
            stream.read_to_end(&mut echoed).unwrap();
            echoed
        });
        let (stream, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, stream.peer_addr().unwrap());
        echo(stream).await.unwrap();
        // Joining a thread blocks the loop; it is done by now (its peer has closed).
        let echoed = client.join().unwrap();
        assert_eq!(echoed, b"from a thread");
    });
}
