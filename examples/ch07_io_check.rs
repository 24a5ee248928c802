//! Chapter 7, a second look: when does a busy loop ask the reactor?
//!
//! ```text
//! cargo run --example ch07_io_check
//! ```
//!
//! The loop waits for sockets only when it parks, and it parks only when no task is
//! ready. So what happens to a socket that turns readable while some task is always
//! ready? Without a rule, nothing: its reader would wait until the busy task stopped.
//! looplab's rule (`POLLS_BETWEEN_IO_CHECKS` in the executor) is that while tasks are
//! ready, the loop still asks the reactor, with a zero timeout, once it has polled 64
//! tasks since it last asked. tokio's current-thread scheduler does the same every 61
//! polls (`event_interval`); asyncio asks the selector on every turn.
//!
//! The program: a `server` task accepts one connection and waits to read from it; a
//! `client` task connects, then takes 200 steps with a `yield_now` after each, so it
//! is always ready, and at step 2 it writes 5 bytes to the server. The bytes are in the
//! server's socket at once, but the server is woken only at the loop's next I/O check.
//! The trace is recorded and the lines around the check are printed. It runs on real
//! time, with real sockets on the reactor: under virtual time the sockets are
//! simulated (`src/sim_net/`), and a simulated write wakes its reader at once, so there
//! would be nothing for the check to find.

mod common;

use std::io;

use common::yield_now::yield_now;
use looplab::net::{TcpListener, TcpStream};
use looplab::trace::Event;
use looplab::{Recorder, Runtime};

/// The client's steps: it yields after each, so it is ready for all of them.
const STEPS: u32 = 200;

/// The step at which the client writes to the server.
const WRITE_AT: u32 = 2;

fn main() -> io::Result<()> {
    let recorder = Recorder::new();
    let runtime = Runtime::builder()
        .virtual_time(false)
        .record(recorder.clone())
        .build()?;
    let read_at_step = runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let server = looplab::spawn_named("server", async move {
            let (mut stream, _) = listener.accept().await?;
            let mut buffer = [0u8; 16];
            let n = stream.read(&mut buffer).await?;
            looplab::trace::note(format!("read {n} bytes"));
            io::Result::Ok(n)
        });
        let client = looplab::spawn_named("client", async move {
            let mut stream = TcpStream::connect(addr).await?;
            for step in 1..=STEPS {
                looplab::trace::note(format!("step {step}"));
                if step == WRITE_AT {
                    stream.write_all(b"hello").await?;
                    looplab::trace::note("wrote 5 bytes");
                }
                yield_now().await;
            }
            io::Result::Ok(())
        });
        let n = server.await.expect("the server task")?;
        assert_eq!(n, 5);
        client.await.expect("the client task")?;
        io::Result::Ok(())
    });
    read_at_step?;

    // The printed lines, and their records (`TurnEnded` is recorded, never printed).
    let records: Vec<_> = recorder
        .records()
        .into_iter()
        .filter(|r| r.event.is_printed())
        .collect();
    let lines = recorder.lines();
    assert_eq!(records.len(), lines.len());
    let position = |found: &dyn Fn(&Event) -> bool| {
        records
            .iter()
            .position(|r| found(&r.event))
            .expect("the event is in the trace")
    };
    let note =
        |text: &'static str| move |e: &Event| matches!(e, Event::Note { text: t, .. } if t == text);
    let wrote = position(&note("wrote 5 bytes"));
    let read = position(&note("read 5 bytes"));
    // The last park before the write: from there on the client was always ready.
    let last_park = records[..wrote]
        .iter()
        .rposition(|r| matches!(r.event, Event::Park { .. }))
        .expect("the loop parked while the client connected");
    let check = wrote
        + records[wrote..]
            .iter()
            .position(|r| matches!(r.event, Event::Unpark { .. }))
            .expect("the I/O check found the bytes");
    let polls_between = records[last_park..check]
        .iter()
        .filter(|r| matches!(r.event, Event::Poll { .. }))
        .count();
    let client_steps_between = records[wrote..read]
        .iter()
        .filter(|r| matches!(&r.event, Event::Note { text, .. } if text.starts_with("step ")))
        .count();

    // Print from the last park to the client's first yield after its write, then
    // from the client's last poll before the check to the server's read.
    let after_write = wrote
        + records[wrote..]
            .iter()
            .position(|r| matches!(r.event, Event::Pending { .. }))
            .expect("the client yields after its write");
    let before_check = records[..check]
        .iter()
        .rposition(|r| matches!(r.event, Event::Poll { .. }))
        .expect("a poll before the check");
    let turns_elided = records[after_write..before_check]
        .iter()
        .filter(|r| matches!(r.event, Event::Poll { .. }))
        .count();
    println!("from the last park to the server's read (real time, real sockets):\n");
    for line in &lines[last_park..=after_write] {
        println!("{line}");
    }
    println!("  ... the client's next {turns_elided} steps: one poll per turn, no park ...");
    for line in &lines[before_check..=read] {
        println!("{line}");
    }

    assert_eq!(
        polls_between, 64,
        "the loop should ask the reactor after 64 polls without a park"
    );
    println!(
        "\nproved: the 5 bytes were in the server's socket at the client's step {WRITE_AT}, and the \
         server read them {client_steps_between} client steps later: the loop never parked \
         (a task was always ready) and asked the reactor only after {polls_between} polls \
         since its last park"
    );
    Ok(())
}
