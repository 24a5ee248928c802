//! The reactor seen from the public API (chapter 7): readiness wakes exactly the tasks
//! waiting on that socket; readiness is remembered per socket (an event that comes
//! while no task waits is not lost) and kept until a `WouldBlock` (edge-triggered
//! reads go on until the socket is empty); several tasks may wait on one listener;
//! one parked loop is woken by I/O, by a timer and by another thread, all through the
//! same `mio::Poll`; and the trace shows a socket's life: registered, parked on,
//! ready, would-block, deregistered.
//!
//! The races the loop cannot stage on demand (readiness landing between a
//! `WouldBlock` and the storing of the waker; a late event under a reused token) are
//! unit tests at the bottom of `src/reactor/mod.rs`, where the reactor can be driven by
//! hand.

use std::future::Future;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use looplab::net::{TcpListener, TcpStream};
use looplab::time::{Instant, sleep, timeout};
use looplab::trace::{Event, TaskId, UnparkReason};
use looplab::{Recorder, Runtime};

/// Generous for loopback: a test that needs it has hung.
const BOUND: Duration = Duration::from_secs(5);

/// For one step that must not wait forever; shorter than [`BOUND`], so its own
/// message is the one a failure shows.
const STEP: Duration = Duration::from_secs(2);

/// Runs `future` on `rt`, failing the test (instead of hanging it) after [`BOUND`].
fn run_bounded<F: Future>(rt: &Runtime, future: F) -> F::Output {
    rt.block_on(async {
        timeout(BOUND, future)
            .await
            .expect("the test hung: a wakeup was lost")
    })
}

/// A connected pair on loopback: (client side, server side).
async fn pair(listener: &TcpListener) -> (TcpStream, TcpStream) {
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

/// The token the trace gave the socket that `task` registered as `what`.
fn token_of(events: &[Event], task: TaskId, what: &str) -> usize {
    events
        .iter()
        .find_map(|e| match e {
            Event::IoRegistered {
                task: Some(t),
                token,
                what: w,
                ..
            } if *t == task && *w == what => Some(*token),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{task} registered no {what}"))
}

#[test]
fn readiness_wakes_only_the_task_waiting_on_that_socket() {
    let recorder = Recorder::new();
    let rt = Runtime::builder().record(recorder.clone()).build().unwrap();
    run_bounded(&rt, async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // Three clients, each waiting to read on its own connection.
        let readers: Vec<_> = (0..3u8)
            .map(|i| {
                looplab::spawn(async move {
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    stream.write_all(&[i]).await.unwrap();
                    let mut byte = [0u8; 1];
                    assert_eq!(stream.read(&mut byte).await.unwrap(), 1);
                    byte[0]
                })
            })
            .collect();
        let ids: Vec<TaskId> = readers.iter().map(|h| h.id()).collect();
        // Accept all three; each says who it is.
        let mut servers: Vec<Option<TcpStream>> = vec![None, None, None];
        for _ in 0..3 {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut who = [0u8; 1];
            assert_eq!(stream.read(&mut who).await.unwrap(), 1);
            servers[who[0] as usize] = Some(stream);
        }
        // Let every reader reach its read and park on it.
        sleep(Duration::from_millis(20)).await;
        assert!(readers.iter().all(|h| !h.is_finished()));

        // Data for the middle one only.
        recorder.clear();
        servers[1].as_mut().unwrap().write_all(b"B").await.unwrap();
        let mut readers = readers.into_iter();
        let (first, middle, last) = (
            readers.next().unwrap(),
            readers.next().unwrap(),
            readers.next().unwrap(),
        );
        assert_eq!(middle.await.unwrap(), b'B');
        let events = recorder.events();
        let woken: Vec<TaskId> = events
            .iter()
            .filter_map(|e| match e {
                Event::IoReady { woke, .. } => Some(woke.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(woken, [ids[1]], "readiness woke other tasks: {events:?}");
        for other in [ids[0], ids[2]] {
            assert!(
                !events.contains(&Event::Poll { task: other }),
                "{other} was polled though its socket had nothing"
            );
        }

        // The other two get theirs too, and every socket goes away.
        servers[0].as_mut().unwrap().write_all(b"A").await.unwrap();
        servers[2].as_mut().unwrap().write_all(b"C").await.unwrap();
        assert_eq!(first.await.unwrap(), b'A');
        assert_eq!(last.await.unwrap(), b'C');
    });
    assert_eq!(rt.pending_resources(), (0, 0));
}

#[test]
fn every_task_accepting_on_a_shared_listener_gets_a_connection() {
    // Two tasks wait in `accept` on one listener. A reactor that kept one waker per
    // socket kept only the second task's: the first was never woken again, even with
    // a connection waiting for it.
    let rt = Runtime::builder().build().unwrap();
    run_bounded(&rt, async {
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        let acceptors: Vec<_> = (0..2)
            .map(|_| {
                let listener = listener.clone();
                looplab::spawn(async move {
                    let (mut stream, _) = listener.accept().await.unwrap();
                    let mut byte = [0u8; 1];
                    assert_eq!(stream.read(&mut byte).await.unwrap(), 1);
                    byte[0]
                })
            })
            .collect();
        // Both are parked in accept before anyone connects.
        sleep(Duration::from_millis(10)).await;
        let mut a = TcpStream::connect(addr).await.unwrap();
        a.write_all(b"a").await.unwrap();
        sleep(Duration::from_millis(10)).await;
        let mut b = TcpStream::connect(addr).await.unwrap();
        b.write_all(b"b").await.unwrap();
        let mut got = timeout(STEP, looplab::join_all(acceptors))
            .await
            .expect("an accepting task was never woken")
            .into_iter()
            .map(Result::unwrap)
            .collect::<Vec<_>>();
        got.sort();
        assert_eq!(got, b"ab");
    });
}

#[test]
fn readiness_that_comes_while_no_task_waits_is_kept_for_the_next_read() {
    // Rule 2 of the reactor: an event is remembered per socket, not only handed to a
    // waiting task. The server greets as soon as it accepts; the client is busy
    // elsewhere and has never read, so when the greeting is reported no task waits on
    // the socket. Its first read must find the greeting: that edge has come and gone,
    // and no second one will.
    let rt = Runtime::builder().build().unwrap();
    run_bounded(&rt, async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = looplab::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            stream.write_all(b"hello").await.unwrap();
            stream
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        let mut server_side = server.await.unwrap();
        sleep(Duration::from_millis(30)).await;
        let mut buf = [0u8; 16];
        let n = timeout(STEP, client.read(&mut buf))
            .await
            .expect("the readiness was forgotten: the read waits for an edge that came already")
            .unwrap();
        assert_eq!(&buf[..n], b"hello");

        // The same after a read that gave up: it timed out, the data came meanwhile.
        assert!(
            timeout(Duration::from_millis(10), client.read(&mut buf))
                .await
                .is_err()
        );
        server_side.write_all(b"late").await.unwrap();
        sleep(Duration::from_millis(30)).await;
        let n = timeout(STEP, client.read(&mut buf))
            .await
            .expect("the readiness was forgotten after a cancelled read")
            .unwrap();
        assert_eq!(&buf[..n], b"late");
    });
}

#[test]
fn after_a_read_the_next_one_tries_the_socket_without_waiting_for_an_edge() {
    // Rule 1, edge-triggered: one event may stand for many reads' worth of data. The
    // reader drains 1,000 bytes through a 100-byte buffer after a single write; no new
    // event comes between its reads, so waiting for one after each read would hang.
    let recorder = Recorder::new();
    let rt = Runtime::builder().record(recorder.clone()).build().unwrap();
    run_bounded(&rt, async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (mut client, mut server) = pair(&listener).await;
        let sent: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        server.write_all(&sent).await.unwrap();
        // Let the bytes land and the reactor see them.
        sleep(Duration::from_millis(10)).await;
        let client_token = token_of(&recorder.events(), TaskId(0), "client stream");
        recorder.clear();
        let mut got = Vec::new();
        let mut buf = [0u8; 100];
        while got.len() < sent.len() {
            let n = timeout(STEP, client.read(&mut buf))
                .await
                .expect("a read waited for an edge while data was waiting")
                .unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, sent);
        // Ten reads, and the reactor was never asked to wait for this socket.
        let events = recorder.events();
        assert!(!events.iter().any(|e| matches!(
            e,
            Event::IoWouldBlock { token, .. } | Event::IoReady { token, .. } if *token == client_token
        )));
    });
}

#[test]
fn one_parked_loop_is_woken_by_a_timer_by_another_thread_and_by_io() {
    // One runtime, three ways to end a park, each at its own moment: a timer at
    // 50 ms, a oneshot sent from a std thread at 100 ms (its wake rings the reactor's
    // mio::Waker), a std client's bytes at 150 ms. Each task sees its event, and the
    // trace shows the loop parked in the reactor before each, and why it woke.
    let recorder = Recorder::new();
    let rt = Runtime::builder().record(recorder.clone()).build().unwrap();
    let started = std::time::Instant::now();
    let (timer_at, remote_at, io_at, ids) = run_bounded(&rt, async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let start = Instant::now();

        let timer = looplab::spawn(async move {
            sleep(Duration::from_millis(50)).await;
            start.elapsed()
        });

        let (sender, receiver) = futures::channel::oneshot::channel::<&str>();
        let remote_thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            sender.send("from a thread").unwrap();
        });
        let remote = looplab::spawn(async move {
            assert_eq!(receiver.await.unwrap(), "from a thread");
            start.elapsed()
        });

        let io_thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            let mut client = std::net::TcpStream::connect(addr).unwrap();
            client.write_all(b"io").unwrap();
            client
        });
        let io = looplab::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 2];
            let mut got = 0;
            while got < 2 {
                got += stream.read(&mut buf[got..]).await.unwrap();
            }
            assert_eq!(&buf, b"io");
            start.elapsed()
        });

        let ids = (timer.id(), remote.id(), io.id());
        let results = timeout(STEP, looplab::join_all([timer, remote, io]))
            .await
            .expect("a wake was lost");
        remote_thread.join().unwrap();
        drop(io_thread.join().unwrap());
        let at: Vec<Duration> = results.into_iter().map(Result::unwrap).collect();
        (at[0], at[1], at[2], ids)
    });
    let wall = started.elapsed();

    // Each task saw its event no earlier than it happened, and not much later.
    for (at, due) in [(timer_at, 50), (remote_at, 100), (io_at, 150)] {
        let due = Duration::from_millis(due);
        assert!(
            at >= due && at < due + Duration::from_millis(500),
            "{at:?} for {due:?}"
        );
    }
    assert!(wall < Duration::from_secs(2), "{wall:?}");

    // The loop was parked in the reactor when each came, and knew why it woke.
    let events = recorder.events();
    for reason in [UnparkReason::Deadline, UnparkReason::RemoteWake] {
        assert!(
            events.windows(2).any(|w| matches!(w[0], Event::Park { .. })
                && w[1]
                    == Event::Unpark {
                        reason: reason.clone()
                    }),
            "no park ended by {reason:?}"
        );
    }
    assert!(
        events.windows(2).any(|w| matches!(w[0], Event::Park { .. })
            && matches!(
                w[1],
                Event::Unpark {
                    reason: UnparkReason::Io(_)
                }
            )),
        "no park ended by I/O"
    );
    // And each wake reached its own task.
    let (timer_id, remote_id, io_id) = ids;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::TimersFired { woke, .. } if woke.contains(&timer_id)))
    );
    assert!(events.contains(&Event::WokenByThread { task: remote_id }));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::IoReady { woke, .. } if woke.contains(&io_id)))
    );
}

#[test]
fn an_echo_exchange_traces_each_sockets_life_in_the_reactor() {
    let recorder = Recorder::new();
    let rt = Runtime::builder().record(recorder.clone()).build().unwrap();
    let server_id = run_bounded(&rt, async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = looplab::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 64];
            loop {
                match stream.read(&mut buf).await.unwrap() {
                    0 => break,
                    n => stream.write_all(&buf[..n]).await.unwrap(),
                }
            }
        });
        // The server reaches its accept before the client connects.
        sleep(Duration::from_millis(10)).await;
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            got += client.read(&mut buf[got..]).await.unwrap();
        }
        assert_eq!(&buf, b"ping");
        drop(client);
        let id = server.id();
        server.await.unwrap();
        id
    });
    assert_eq!(rt.pending_resources(), (0, 0));

    let events = recorder.events();
    let main = TaskId(0);
    let listener = token_of(&events, main, "listener");
    let client = token_of(&events, main, "client stream");
    let accepted = token_of(&events, server_id, "stream");
    let tokens = [listener, client, accepted];
    assert!(listener != client && client != accepted && listener != accepted);

    let position = |wanted: &dyn Fn(&Event) -> bool, what: &str| {
        events
            .iter()
            .position(wanted)
            .unwrap_or_else(|| panic!("no {what} in {events:#?}"))
    };
    // Waiting: the server in accept (it started before the client connected), then in
    // read (after the echo at the latest, with the client still open). A wait is a
    // `would block` line when the syscall was tried, or a `waits for readiness` line
    // when the socket was known to be empty (a short read emptied it, or a client
    // stream that starts "not ready"): then the syscall is not even tried.
    let would_block = |task: TaskId, token: usize, op: &'static str| {
        position(
            &|e| {
                *e == Event::IoWouldBlock {
                    task: Some(task),
                    token,
                    op,
                } || *e
                    == Event::IoWait {
                        task: Some(task),
                        token,
                        op,
                    }
            },
            op,
        )
    };
    let accept_blocked = would_block(server_id, listener, "accept");
    let server_read_blocked = would_block(server_id, accepted, "read");
    // The loop parked with all three sockets registered.
    position(
        &|e| matches!(e, Event::Park { sources: 3, .. }),
        "park with 3 sources",
    );
    // Readiness, each time waking the task that waited.
    let ready = |token: usize, task: TaskId| {
        position(
            &|e| {
                matches!(e, Event::IoReady { token: t, readable: true, woke, .. }
                if *t == token && woke.contains(&task))
            },
            "readiness",
        )
    };
    assert!(ready(listener, server_id) > accept_blocked);
    assert!(ready(accepted, server_id) > server_read_blocked);
    ready(client, main);
    // Each socket deregistered once, when it was dropped.
    for token in tokens {
        let deregistered: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| **e == Event::IoDeregistered { token })
            .map(|(i, _)| i)
            .collect();
        assert_eq!(deregistered.len(), 1, "token {token}");
        let registered = position(
            &|e| matches!(e, Event::IoRegistered { token: t, .. } if *t == token),
            "registration",
        );
        assert!(registered < deregistered[0]);
    }
    // The printed form names them too.
    let lines = recorder.lines().join("\n");
    for word in [
        "listener registered",
        "client stream registered",
        "would block",
        "3 sockets",
        "readable",
        "deregistered",
    ] {
        assert!(lines.contains(word), "{word:?} not in the trace:\n{lines}");
    }
}
