//! Chapter 9: pitfalls — three ways to lose the event loop's advantage.
//!
//! ```text
//! cargo run --release --example ch09_pitfalls
//! ```
//!
//! An event loop does the work of many threads only while every task gives the thread
//! back whenever it has to wait. Nothing forces a task to; the loop just trusts it. This
//! example breaks that trust three ways and shows what each costs, in real time.
//!
//! **(a) Blocking inside a task.** The post's warning: `time.sleep` inside async code
//! blocks the whole loop, `asyncio.sleep` does not. Here the post's three lookups (3, 2
//! and 1 users, 200 ms per user) run twice on looplab: once with
//! `looplab::time::sleep(..).await`, which arms a timer and returns `Pending`, and once
//! with `std::thread::sleep(..)`, which keeps the thread. The second run has no `.await`
//! at all, so each task runs to its end in a single poll while the others wait in the
//! run queue: the latencies are 3, 5 and 6 × the delay again, chapter 1's sequential
//! numbers, on an event loop. Any blocking call does the same: a `std::net` read, a
//! `Mutex` held by another thread, a file read on a slow disk, a DNS lookup.
//! The loop notices: a poll longer than `Builder::slow_poll_threshold` (100 ms by
//! default) is reported as a `SlowPoll` event,
//! `task 1 find_users(3)  WARNING: one poll held the loop for 600 ms; nothing else ran
//! meanwhile`. The loop times its polls only while the trace is printed or recorded,
//! as asyncio warns about slow callbacks only in debug mode.
//!
//! **(b) Calling an `async fn` without `.await`.** The call builds the future and
//! returns it; the body has not started (chapter 3). Dropped on the spot, it never
//! will: the `println!` inside never happens. rustc says so at compile time:
//!
//! ```text
//! warning: unused implementer of `Future` that must be used
//!   = note: futures do nothing unless you `.await` or poll them
//! ```
//!
//! That warning is `unused_must_use`, so this file has to
//! `#[allow(unused_must_use)]` the mistake to build cleanly. (`let _ = send(..);`
//! silences rustc but not clippy: its `let_underscore_future` lint says the same.)
//! Python only notices at run time, when the coroutine object is garbage collected:
//! `RuntimeWarning: coroutine 'send_welcome_email' was never awaited`. The fixes:
//! `.await` it, or `looplab::spawn` it so the loop runs it as a task of its own.
//!
//! **(c) CPU-bound work starves the others.** A task that computes for 300 ms without an
//! `.await` is a blocking call too: for those 300 ms no other task runs and no timer is
//! served. A task asleep for 50 ms beside it wakes about 250 ms late. The fix is to cut
//! the work into chunks and yield between them (`yield_now`, exercise 2, shared by the
//! examples in `examples/common/yield_now.rs`): the loop then fires the timer between two
//! chunks, and the sleeper wakes at most two chunks late (the chunk running when the
//! deadline passes, and the next one: the worker queued itself again before the timer
//! fired). The work itself takes no longer. (Or move the work to another thread:
//! exercise 13's `spawn_blocking`.)
//!
//! Each part ends with a `proved:` line, with the numbers measured on your machine.

mod common;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::yield_now::yield_now;
use looplab::time::{Instant, sleep, sleep_until};
use looplab::trace::Event;
use looplab::{Recorder, Runtime, TraceOutput};

/// The post's three requests, in the order they arrive.
const REQUESTS: [u32; 3] = [3, 2, 1];

/// Part (a): the time per user lookup (the post's second, shortened).
const PER_USER: Duration = Duration::from_millis(200);

/// A finish this much past the ideal still counts as on time: each lookup is one timer
/// or one `thread::sleep`, late by a millisecond or so, but a busy machine can stall
/// the thread for longer.
const SLACK: Duration = Duration::from_millis(150);

/// Part (c): how long the sleeper sleeps, how much computing the other task does, and
/// how big the pieces of the fixed version are.
const NAP: Duration = Duration::from_millis(50);
const CPU_WORK: Duration = Duration::from_millis(300);
const CHUNK: Duration = Duration::from_millis(5);

fn main() {
    println!("== (a) std::thread::sleep inside a task blocks the whole loop ==\n");
    blocking_inside_a_task();

    println!("\n== (b) an async fn called without .await does nothing ==\n");
    forgotten_await();

    println!("\n== (c) a task that computes without yielding starves the others ==\n");
    cpu_bound_starvation();
}

// ---------------------------------------------------------------------------------
// (a) Blocking inside a task
// ---------------------------------------------------------------------------------

/// The post's `find_users_async`: the loop runs other tasks while this one sleeps.
async fn find_users_awaiting(users: u32, run_start: Instant) -> Duration {
    for user in 1..=users {
        looplab::trace::note(format!("looking up user {user} of {users} ..."));
        sleep(PER_USER).await;
    }
    run_start.elapsed()
}

/// The same with `time.sleep` in place of `asyncio.sleep`: it compiles, it is still an
/// `async fn`, and it never gives the thread back.
async fn find_users_blocking(users: u32, run_start: Instant) -> Duration {
    for user in 1..=users {
        looplab::trace::note(format!("looking up user {user} of {users} ..."));
        std::thread::sleep(PER_USER);
    }
    run_start.elapsed()
}

/// The three requests on a fresh real-time runtime. Returns each request's latency and
/// the slow-poll warnings the loop raised.
fn three_lookups<Fut>(
    find_users: fn(u32, Instant) -> Fut,
    trace: TraceOutput,
) -> (Vec<Duration>, Vec<String>)
where
    Fut: Future<Output = Duration> + Send + 'static,
{
    // Recording turns on the loop's timing of each poll, which the warning needs.
    let recorder = Recorder::new();
    let runtime = Runtime::builder()
        .trace(trace)
        .record(recorder.clone())
        .build()
        .expect("a runtime (mio::Poll)");
    let latencies = runtime.block_on(async move {
        let run_start = Instant::now();
        let handles: Vec<_> = REQUESTS
            .iter()
            .map(|&users| {
                looplab::spawn_named(format!("find_users({users})"), find_users(users, run_start))
            })
            .collect();
        looplab::join_all(handles)
            .await
            .into_iter()
            .map(|latency| latency.expect("a lookup task panicked"))
            .collect()
    });
    (latencies, slow_poll_lines(&recorder))
}

/// The trace lines of the slow-poll warnings in a recording.
fn slow_poll_lines(recorder: &Recorder) -> Vec<String> {
    recorder
        .events()
        .iter()
        .zip(recorder.lines())
        .filter(|(event, _)| matches!(event, Event::SlowPoll { .. }))
        .map(|(_, line)| line)
        .collect()
}

fn blocking_inside_a_task() {
    println!(
        "with looplab::time::sleep({} ms).await per user: no trace, just the times below\n",
        PER_USER.as_millis()
    );
    let (awaiting, awaiting_warnings) = three_lookups(find_users_awaiting, TraceOutput::Off);

    println!(
        "with std::thread::sleep({} ms) per user, the loop's trace:\n",
        PER_USER.as_millis()
    );
    let (blocking, blocking_warnings) = three_lookups(find_users_blocking, TraceOutput::Stdout);

    println!(
        "\n  {:<24} {:>9} {:>9} {:>9}   slow-poll warnings",
        "", "3 users", "2 users", "1 user"
    );
    for (how, latencies, warnings) in [
        ("sleep(..).await", &awaiting, &awaiting_warnings),
        ("std::thread::sleep(..)", &blocking, &blocking_warnings),
    ] {
        let cells: Vec<String> = latencies
            .iter()
            .map(|d| format!("{:.3} s", d.as_secs_f64()))
            .collect();
        println!(
            "  {how:<24} {:>9} {:>9} {:>9}   {}",
            cells[0],
            cells[1],
            cells[2],
            warnings.len()
        );
    }

    // Awaiting: each request takes its own length (3, 2, 1 × the delay).
    for (latency, users) in awaiting.iter().zip(REQUESTS) {
        assert_on_time(*latency, PER_USER * users);
    }
    assert!(awaiting_warnings.is_empty(), "{awaiting_warnings:?}");
    // Blocking: each request waits for the ones polled before it (3, 5, 6 × the delay).
    for (latency, units) in blocking.iter().zip([3, 5, 6]) {
        assert_on_time(*latency, PER_USER * units);
    }
    assert_eq!(
        blocking_warnings.len(),
        REQUESTS.len(),
        "a warning per task"
    );

    let in_delays = |latencies: &[Duration]| {
        let units: Vec<String> = latencies
            .iter()
            .map(|d| format!("{:.2}", d.as_secs_f64() / PER_USER.as_secs_f64()))
            .collect();
        units.join(", ")
    };
    println!(
        "\nproved (a): with sleep(..).await the requests took {} × the delay; with \
         std::thread::sleep the same tasks on the same loop took {}: sequential again, and \
         the loop warned {} times, naming each task",
        in_delays(&awaiting),
        in_delays(&blocking),
        blocking_warnings.len()
    );
}

fn assert_on_time(latency: Duration, ideal: Duration) {
    assert!(
        ideal <= latency && latency <= ideal + SLACK,
        "a latency of {latency:?}, expected {ideal:?} (up to {SLACK:?} more)"
    );
}

// ---------------------------------------------------------------------------------
// (b) The forgotten .await
// ---------------------------------------------------------------------------------

static EMAILS_SENT: AtomicUsize = AtomicUsize::new(0);

async fn send_welcome_email(user: u32) {
    println!("    (inside send_welcome_email({user}): the body runs, the email goes out)");
    EMAILS_SENT.fetch_add(1, Ordering::SeqCst);
}

fn forgotten_await() {
    let sent = || EMAILS_SENT.load(Ordering::SeqCst);
    let runtime = Runtime::builder().build().expect("a runtime (mio::Poll)");
    let counts = runtime.block_on(async {
        println!("  send_welcome_email(1);             <- no .await");
        // The mistake this part is about; rustc's warning is the lesson (see the doc).
        #[allow(unused_must_use)]
        {
            send_welcome_email(1);
        }
        let forgotten = sent();
        println!("  emails sent: {forgotten}\n");

        println!("  send_welcome_email(2).await;");
        send_welcome_email(2).await;
        let awaited = sent();
        println!("  emails sent: {awaited}\n");

        println!("  looplab::spawn(send_welcome_email(3));   <- a task of its own");
        let _detached = looplab::spawn(send_welcome_email(3));
        println!("  emails sent right after spawn: {}", sent());
        // A spawned task starts at the loop's next turn; this lets the turn come.
        yield_now().await;
        let spawned = sent();
        println!("  emails sent once main yielded: {spawned}");
        (forgotten, awaited, spawned)
    });

    assert_eq!(counts, (0, 1, 2), "(without .await, .await, spawn)");
    println!(
        "\nproved (b): send_welcome_email(1) without .await sent {} emails (its body never \
         ran); with .await the count went to {}; spawned, to {} once the loop had a turn",
        counts.0, counts.1, counts.2
    );
}

// ---------------------------------------------------------------------------------
// (c) CPU-bound work
// ---------------------------------------------------------------------------------

/// What one run of part (c) measured.
struct Starvation {
    /// How long after its deadline the sleeper was polled.
    lateness: Duration,
    /// How long the computing task took from start to end.
    work_took: Duration,
    /// Its slow-poll warnings, as trace lines.
    warnings: Vec<String>,
}

/// A sleeper and a computing task side by side. With `in_chunks`, the computing task
/// yields after every `CHUNK` of work.
fn sleeper_beside_cpu_work(in_chunks: bool) -> Starvation {
    let recorder = Recorder::new();
    let runtime = Runtime::builder()
        .record(recorder.clone())
        .build()
        .expect("a runtime (mio::Poll)");
    let (lateness, work_took) = runtime.block_on(async move {
        // Spawned first, so it arms its timer before the computing starts.
        let sleeper = looplab::spawn_named("sleeper", async {
            let deadline = Instant::now() + NAP;
            sleep_until(deadline).await;
            Instant::now().duration_since(deadline)
        });
        let worker = looplab::spawn_named("compute", async move {
            let started = Instant::now();
            if in_chunks {
                let mut done = Duration::ZERO;
                while done < CPU_WORK {
                    burn_cpu(CHUNK);
                    done += CHUNK;
                    yield_now().await;
                }
            } else {
                burn_cpu(CPU_WORK);
            }
            started.elapsed()
        });
        let lateness = sleeper.await.expect("the sleeper panicked");
        let work_took = worker.await.expect("the computing task panicked");
        (lateness, work_took)
    });
    Starvation {
        lateness,
        work_took,
        warnings: slow_poll_lines(&recorder),
    }
}

/// Keeps the CPU busy for `how_long` of wall time without giving the thread back: a
/// stand-in for parsing a big document, hashing, compressing, resizing an image.
fn burn_cpu(how_long: Duration) -> u64 {
    let started = std::time::Instant::now();
    let mut state = 1u64;
    while started.elapsed() < how_long {
        for _ in 0..1_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
        }
        state = std::hint::black_box(state);
    }
    state
}

fn cpu_bound_starvation() {
    let in_one_go = sleeper_beside_cpu_work(false);
    let in_chunks = sleeper_beside_cpu_work(true);

    println!(
        "  a task sleeps {} ms while another computes for {} ms\n",
        NAP.as_millis(),
        CPU_WORK.as_millis()
    );
    println!(
        "  {:<34} {:>19} {:>16}",
        "", "sleeper woke", "computing took"
    );
    for (how, run) in [
        ("computing in one poll", &in_one_go),
        (
            &*format!("in {} ms chunks, yield between", CHUNK.as_millis()),
            &in_chunks,
        ),
    ] {
        println!(
            "  {how:<34} {:>11.1} ms late {:>13.1} ms",
            run.lateness.as_secs_f64() * 1000.0,
            run.work_took.as_secs_f64() * 1000.0
        );
    }
    println!("\n  slow-poll warnings, computing in one poll:");
    for line in &in_one_go.warnings {
        println!("  {line}");
    }
    println!(
        "  slow-poll warnings in chunks: {}",
        in_chunks.warnings.len()
    );

    // In one go the timer cannot be served until the 300 ms poll ends.
    assert!(
        in_one_go.lateness >= CPU_WORK - NAP,
        "{:?}",
        in_one_go.lateness
    );
    assert!(
        in_one_go
            .warnings
            .iter()
            .any(|line| line.contains("compute")),
        "no slow-poll warning for the computing task"
    );
    assert!(in_chunks.lateness < in_one_go.lateness);
    assert!(in_chunks.warnings.is_empty(), "{:?}", in_chunks.warnings);

    println!(
        "\nproved (c): {} ms of computing in one poll woke a {} ms sleeper {:.1} ms late; the \
         same work in {} ms chunks with a yield between woke it {:.1} ms late, and took {:.1} ms \
         instead of {:.1} ms",
        CPU_WORK.as_millis(),
        NAP.as_millis(),
        in_one_go.lateness.as_secs_f64() * 1000.0,
        CHUNK.as_millis(),
        in_chunks.lateness.as_secs_f64() * 1000.0,
        in_chunks.work_took.as_secs_f64() * 1000.0,
        in_one_go.work_took.as_secs_f64() * 1000.0,
    );
}
