//! Chapter 7: the reactor — one `poll` waits for every socket at once.
//!
//! ```text
//! cargo run --example ch07_reactor                     # real sockets on the reactor
//! cargo run --example ch07_reactor -- --virtual-time   # the same program, simulated network
//! ```
//!
//! An echo server and three clients, all in **one runtime on one thread**, with real
//! sockets on 127.0.0.1. The server task accepts three connections and spawns a
//! `conn-k` task for each; every `client-k` connects, thinks until 10 ms after the
//! first client connected (one deadline for all three, so their timers fire in one
//! turn on every run), sends a line, reads it back and closes. Seven tasks, seven sockets, one thread, and the trace
//! shows every step the reactor takes (`src/reactor/mod.rs`, `src/net.rs`).
//!
//! **Readiness, not completion.** A thread that calls `read` on a socket with no data
//! sleeps in the kernel, which is why a thread-per-connection server needs a thread
//! per connection. Here every socket is non-blocking: a read with no data returns
//! `WouldBlock` at once, the task stores its waker with the reactor and returns
//! `Pending`. When no task can run, the loop makes one call, `mio::Poll::poll` (epoll
//! on Linux, kqueue on macOS), that waits for *all* registered sockets and reports
//! which became *ready*: "a read would not block now". The task is woken and does the
//! read itself. That is the readiness model (epoll, kqueue, asyncio's selectors, mio,
//! tokio). The other model is completion (io_uring, Windows IOCP, asyncio's proactor
//! loop): the task hands the kernel a buffer and is told when the read is *done*,
//! which is why completion APIs in Rust want owned buffers.
//!
//! **Edge-triggered, so read until `WouldBlock`.** mio reports a socket when its state
//! *changes* (an edge), not again and again while data waits. In the trace each
//! `conn-k` is woken once for a 20-byte line and reads twice with its 16-byte buffer
//! (16 bytes, then 4) before the third read says `would block`. Had it stopped after
//! the first 16 bytes and waited, no new edge would ever come for the 4 left in the
//! kernel, and client and server would wait for each other forever. For the same
//! reason readiness is kept per socket, not handed to whoever waits: the accepted
//! sockets report `writable` while no task waits to write (the line wakes nobody), and
//! the reactor records it on the socket instead of dropping it, so the echo's first
//! write goes straight through.
//!
//! **The park timeout comes from the timer wheel.** While the clients think, every
//! task is waiting: three for a timer, three for a socket. The loop parks once for all
//! of them, in `poll` with the nearest deadline (10 ms) as the timeout: "wake me for
//! any socket, or when the first timer is due". The `poll` really sleeps those 10 ms,
//! and the unpark line says `deadline reached`.
//!
//! **With `--virtual-time`** the same program runs on the runtime's simulated network
//! (`src/sim_net/`): no file descriptor, no `epoll`, no `would block`. A write lands in
//! the peer's buffer and the writing task wakes the reader itself (`task 2 client-1
//! wakes task 5 conn-1`), so when no task is ready nothing can happen before the next
//! deadline, and the clock jumps there. Compare the two traces: the reactor's lesson
//! is in the first, the virtual clock's in the second.
//!
//! The trace prints a socket's token but not the interest it registered with; it is
//! fixed by the socket's kind: the listener registers `READABLE` (a connection waiting
//! to be accepted makes it readable), every stream `READABLE | WRITABLE`. A client
//! stream starts "not ready" (its handshake is under way), so its first wait, for
//! `connect` and later for the echo, is stored without a `would block` line; an
//! accepted stream starts "ready" and its first read simply tries.

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::thread::ThreadId;
use std::time::Duration;

use looplab::net::{TcpListener, TcpStream};
use looplab::time::{Instant, sleep_until};
use looplab::trace::{Event, UnparkReason, note};
use looplab::{JoinHandle, Recorder, Runtime, TraceOutput};

const CLIENTS: usize = 3;
/// How long the clients wait, from the first connection, before they speak. It gives
/// the trace a moment where all six streams are open and idle and the loop parks until
/// a timer.
const THINK: Duration = Duration::from_millis(10);
/// The echo server's read buffer: smaller than a client's line on purpose, so one
/// readable edge takes two reads (rule 1 of `src/reactor/mod.rs`).
const CONN_BUFFER: usize = 16;

/// What a client sent, what it got back, and the thread it ran on.
struct Echo {
    sent: Vec<u8>,
    got: Vec<u8>,
    thread: ThreadId,
}

/// Bytes a server connection echoed, and the thread it ran on.
type Conn = io::Result<(usize, ThreadId)>;

fn main() {
    let virtual_time = std::env::args().any(|arg| arg == "--virtual-time");
    let clock = if virtual_time {
        "virtual time, simulated network"
    } else {
        "real time, real sockets"
    };
    println!("== an echo server and {CLIENTS} clients, one runtime, one thread ({clock}) ==\n");
    println!("Look for:");
    println!("  io: ... registered as token N   a socket joins the reactor's table");
    println!("  park: ... N sockets; ...        one wait for every socket; timeout = next timer");
    println!("  unpark: 3 I/O events            one poll answered for three sockets");
    println!("  token N readable -> wake task   which socket, what it can do, whose waker");
    println!("  would block                     the kernel said WouldBlock: now the task waits");
    println!("  token N deregistered            the socket was dropped and left the table\n");

    let recorder = Recorder::new();
    let runtime = Runtime::builder()
        .virtual_time(virtual_time)
        .trace(TraceOutput::Stdout)
        .record(recorder.clone())
        .build()
        .expect("a runtime (mio::Poll)");
    println!("{:>8}  {:<24} what", "time", "who");
    let (echoes, conns) = runtime.block_on(async {
        // Port 0: the OS picks a free port, so the example never collides with
        // anything else on the machine.
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("the listener's address");
        let server = looplab::spawn_named("server", server(listener));
        let speak_at = SpeakAt::default();
        let clients: Vec<_> = (1..=CLIENTS)
            .map(|k| {
                let speak_at = speak_at.clone();
                looplab::spawn_named(format!("client-{k}"), client(k, addr, speak_at))
            })
            .collect();
        let echoes: Vec<Echo> = looplab::join_all(clients)
            .await
            .into_iter()
            .map(|r| r.expect("a client panicked").expect("a client's I/O"))
            .collect();
        let conns = server.await.expect("the server panicked").expect("accept");
        let conns: Vec<(usize, ThreadId)> = looplab::join_all(conns)
            .await
            .into_iter()
            .map(|r| {
                r.expect("a connection panicked")
                    .expect("a connection's I/O")
            })
            .collect();
        (echoes, conns)
    });
    check_and_claim(&runtime, &recorder, &echoes, &conns, virtual_time);
}

/// Accepts `CLIENTS` connections, one `conn-k` task each, then returns: the listener
/// is dropped here, so the trace shows it leave the reactor.
async fn server(listener: TcpListener) -> io::Result<Vec<JoinHandle<Conn>>> {
    let mut conns = Vec::new();
    for k in 1..=CLIENTS {
        let (stream, _peer) = listener.accept().await?;
        note(format!("accepted connection {k}"));
        conns.push(looplab::spawn_named(format!("conn-{k}"), echo(stream)));
    }
    Ok(conns)
}

/// Echoes everything until the client closes.
async fn echo(mut stream: TcpStream) -> Conn {
    // Without it Nagle's algorithm may hold the 4-byte tail back until the 16-byte
    // head is acknowledged: the echo could reach the client in two pieces, some
    // milliseconds apart, and the trace would change from run to run.
    stream.set_nodelay(true)?;
    let mut buf = [0u8; CONN_BUFFER];
    let mut echoed = 0;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            note(format!(
                "read 0 bytes: client closed; {echoed} bytes echoed"
            ));
            return Ok((echoed, std::thread::current().id()));
        }
        note(format!("read {n} bytes, echo them"));
        stream.write_all(&buf[..n]).await?;
        echoed += n;
    }
}

/// The moment every client speaks: `THINK` after the first one connected. One shared
/// deadline, not one `sleep(THINK)` each: on a busy machine the three connects can land
/// in different milliseconds, and three deadlines would then fire in different turns.
/// (`spawn` asks for `Send` futures, hence `Arc` although every task runs on one thread.)
#[derive(Clone, Default)]
struct SpeakAt(Arc<OnceLock<Instant>>);

impl SpeakAt {
    fn get_or_set(&self) -> Instant {
        *self.0.get_or_init(|| Instant::now() + THINK)
    }
}

/// Connects, thinks, sends one line, reads until the whole line is back, closes.
async fn client(k: usize, addr: SocketAddr, speak_at: SpeakAt) -> io::Result<Echo> {
    let mut stream = TcpStream::connect(addr).await?;
    note("connected; think 10 ms");
    sleep_until(speak_at.get_or_set()).await;
    let sent = format!("hello from client-{k}\n").into_bytes();
    stream.write_all(&sent).await?;
    note(format!("sent {} bytes; wait for the echo", sent.len()));
    // A read returns what has arrived, which may be less than was sent: loop until
    // every byte is back.
    let mut got = vec![0; sent.len()];
    let mut filled = 0;
    while filled < got.len() {
        match stream.read(&mut got[filled..]).await? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => filled += n,
        }
    }
    note(format!("got all {filled} bytes back; close"));
    Ok(Echo {
        sent,
        got,
        thread: std::thread::current().id(),
    })
}

/// Asserts what the run shows and prints it as the example's claim.
fn check_and_claim(
    runtime: &Runtime,
    recorder: &Recorder,
    echoes: &[Echo],
    conns: &[(usize, ThreadId)],
    virtual_time: bool,
) {
    for echo in echoes {
        assert_eq!(echo.got, echo.sent, "an echo came back different");
    }
    let sent: usize = echoes.iter().map(|e| e.sent.len()).sum();
    let echoed: usize = conns.iter().map(|(n, _)| n).sum();
    assert_eq!(echoed, sent, "the server echoed every byte it was sent");

    let threads: HashSet<ThreadId> = echoes
        .iter()
        .map(|e| e.thread)
        .chain(conns.iter().map(|(_, t)| *t))
        .collect();
    assert_eq!(
        threads,
        HashSet::from([std::thread::current().id()]),
        "one thread"
    );

    let events = recorder.events();
    let count = |pred: fn(&Event) -> bool| events.iter().filter(|e| pred(e)).count();
    let registered = count(|e| matches!(e, Event::IoRegistered { .. }));
    let deregistered = count(|e| matches!(e, Event::IoDeregistered { .. }));
    let would_block = count(|e| matches!(e, Event::IoWouldBlock { .. }));
    let parks = count(|e| matches!(e, Event::Park { .. }));
    let most_sockets = events
        .iter()
        .filter_map(|e| match e {
            Event::Park { sources, .. } => Some(*sources),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let io_unparks: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            Event::Unpark {
                reason: UnparkReason::Io(n),
            } => Some(*n),
            _ => None,
        })
        .collect();
    let woke_nobody = count(|e| matches!(e, Event::IoReady { woke, .. } if woke.is_empty()));
    assert_eq!(
        registered,
        1 + 2 * CLIENTS,
        "the listener and both ends of each connection"
    );
    assert_eq!(deregistered, registered, "every socket left the reactor");
    assert_eq!(
        runtime.pending_resources(),
        (0, 0),
        "no timer or socket left behind"
    );

    let stats = runtime.stats();
    // The counter counts finished turns; the last one stops at step 2, when main is done.
    let turns = stats.turns + 1;
    let lines: Vec<String> = echoes
        .iter()
        .enumerate()
        .map(|(i, e)| format!("client-{} {}/{} bytes", i + 1, e.got.len(), e.sent.len()))
        .collect();
    println!("\nechoed back intact: {}", lines.join(", "));
    if virtual_time {
        assert_eq!(would_block + io_unparks.len(), 0, "no kernel was asked");
        println!(
            "simulated network: {registered} sockets opened and {deregistered} closed, no \
             epoll and no would-block: each write woke its reader from the writer's poll"
        );
    } else {
        println!(
            "reactor: {registered} sockets registered and {deregistered} deregistered, \
             {would_block} would-blocks, {} I/O unparks brought {} readiness events \
             ({woke_nobody} woke no task: readiness kept for later)",
            io_unparks.len(),
            io_unparks.iter().sum::<usize>()
        );
    }
    println!(
        "\nproved: {sent} of {sent} bytes echoed back intact, {CLIENTS} clients and {CLIENTS} \
         server connections on one thread: {} tasks and main, {registered} sockets, {} turns \
         of the loop, {parks} parks (up to {most_sockets} sockets in one), nothing left \
         registered",
        stats.spawned, turns
    );
}
