//! Chapter 2: a thread per request — the event loop's timings, at a thread's price.
//!
//! ```text
//! cargo run --release --example ch02_threads
//! ```
//!
//! The first fix for chapter 1's 3, 5 and 6 seconds: give each request its own OS
//! thread. The three threads start together and each blocks on its own socket, so the
//! waiting overlaps and the requests finish at 3, 2 and 1 × the delay, the same
//! timings the event loop gets in chapter 8. The post's point is what this costs, and
//! the example measures it in three parts.
//!
//! **Part 1: the threaded client** (`run_threads` in `src/lookup/blocking.rs`) against
//! the user directory, at 250 ms per user as in chapter 1. Look for the narrative lines
//! of the three requests interleaving (`1 of 3`, `1 of 2`, `1 of 1` all at 0.000 s),
//! the table's 3/2/1, and the timeline's blocks stacked in the same columns instead of
//! chapter 1's staircase. The process had three more OS threads while they waited.
//!
//! **Part 2: sharing.** Threads that share state need it to be thread-safe. Eight
//! threads each add one to a shared counter 100,000 times, done four ways:
//!
//! - `load`, then `store(seen + 1)` on an `AtomicU64`. Safe Rust allows it (each step
//!   is atomic, so there is no *data race*, which Rust forbids), but the two steps
//!   together are a *race condition*: another thread can store between them, and its
//!   update is overwritten. A `yield_now` between the steps makes that likely on every
//!   machine; how many updates are lost differs from run to run, and the example
//!   prints what it saw.
//! - `fetch_add(1)`: the read and the write as one indivisible step. Exact.
//! - a `Mutex<u64>`: a lock around the read and the write. Exact.
//! - **the event loop's way**: eight looplab tasks on one thread add to a plain
//!   `Cell<u64>` (no atomic, no lock) and yield to each other after every addition.
//!   Exact, because a task can only be interrupted at an `.await`, and there is none
//!   between its read and its write. The last row moves the `.await` in between, and the
//!   loop loses updates too: always the same number, at a line you can point to.
//!
//! **Part 3: waiting.** 1,000 threads parked (a thread blocked on a socket waits the
//! same way) against 1,000 looplab tasks asleep on the timer wheel: the OS threads the
//! process gained, the resident memory it grew by (each thread keeps the stack pages it
//! touched), and the address space it reserved (a 2 MiB stack per thread, by default).
//! These come from `/proc/self/status`, so they are Linux only; elsewhere the example
//! says so.
//!
//! The last lines are the claims, with the numbers measured on your machine.

mod common;

use std::cell::Cell;
use std::error::Error;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use looplab::Runtime;
use looplab::lookup::blocking::run_threads;
use looplab::lookup::directory::{DirectoryConfig, DirectoryThread};
use looplab::lookup::narrative::Lang;
use looplab::lookup::report::{RunReport, render_table};
use looplab::lookup::timeline::render_timeline;

use common::yield_now::yield_now;
use common::{mb, process_status, thousands};

/// The directory's time per user: chapter 1's, so the two runs compare directly.
const DELAY: Duration = Duration::from_millis(250);

/// The post's three requests, in the order they arrive.
const REQUESTS: [u32; 3] = [3, 2, 1];

/// How much later than ideal a request may finish before the example calls the run
/// wrong: a loopback round trip is well under a millisecond, but a busy machine can
/// keep a thread waiting for the CPU.
const SLACK: Duration = Duration::from_millis(300);

/// Part 2: threads (or tasks) sharing one counter, and how often each adds one.
const WORKERS: u64 = 8;
const INCREMENTS: u64 = 100_000;

/// Part 3: how many threads, and how many tasks, wait at once.
const WAITERS: usize = 1_000;

fn main() -> Result<(), Box<dyn Error>> {
    println!("== part 1: one OS thread per request ==\n");
    let (run, extra_threads_while_waiting) = threads_client()?;

    println!(
        "\n== part 2: sharing one counter: {WORKERS} workers × {} increments ==\n",
        thousands(INCREMENTS)
    );
    let counts = count_four_ways();

    println!(
        "\n== part 3: what waiting costs: {} parked threads, {} sleeping tasks ==\n",
        thousands(WAITERS as u64),
        thousands(WAITERS as u64)
    );
    // Tasks first: freed thread stacks stay cached in the process, and could hide
    // the tasks' smaller growth.
    let tasks = measure(|| sleeping_tasks(WAITERS));
    let threads = measure(|| parked_threads(WAITERS));
    print_weights(&threads, &tasks);

    check_and_claim(&run, extra_threads_while_waiting, &counts, &threads, &tasks);
    Ok(())
}

// ---------------------------------------------------------------------------------
// Part 1
// ---------------------------------------------------------------------------------

/// Runs the threads client against a directory of its own. Returns the run and the
/// most OS threads the process had beyond its starting count while the requests waited.
fn threads_client() -> Result<(RunReport, Option<u64>), Box<dyn Error>> {
    let directory =
        DirectoryThread::start("127.0.0.1:0".parse()?, DirectoryConfig::with_delay(DELAY))?;
    println!(
        "the user directory listens on http://{} and takes {} ms per user (the post's 1 s, shortened)",
        directory.addr(),
        DELAY.as_millis()
    );
    println!("requests for 3, 2 and 1 users arrive together; each gets its own thread\n");

    // Counted with the directory's thread already running, so only the client's
    // threads show up as extra.
    let threads_before = process_status("Threads:");
    let mut most_threads = threads_before;
    let started = Instant::now();
    // `run_threads` hands every line to this closure on the calling thread, as the
    // worker threads send them: the order they arrive in is how the threads interleave.
    let mut print_line = |line: String| {
        println!("{:>7.3}s  {line}", started.elapsed().as_secs_f64());
        most_threads = most_threads.max(process_status("Threads:"));
    };
    let run = run_threads(
        directory.addr(),
        &REQUESTS,
        Some(Duration::from_secs(5)),
        Lang::En,
        &mut print_line,
    )?;
    let extra = match (threads_before, most_threads) {
        (Some(before), Some(most)) => Some(most - before),
        _ => None,
    };

    println!("\n{}", render_table(std::slice::from_ref(&run), 80));
    println!("{}", render_timeline(std::slice::from_ref(&run), 80));
    match extra {
        Some(n) => println!("OS threads the process gained while the requests waited: {n}"),
        None => println!("OS threads: not measured (/proc/self/status is Linux only)"),
    }
    Ok((run, extra))
}

// ---------------------------------------------------------------------------------
// Part 2
// ---------------------------------------------------------------------------------

/// What each way of counting ended with, in the order printed.
struct Counts {
    split_on_threads: u64,
    fetch_add: u64,
    mutex: u64,
    cell_on_the_loop: u64,
    split_on_the_loop: u64,
}

fn count_four_ways() -> Counts {
    let counts = Counts {
        split_on_threads: split_load_store_on_threads(),
        fetch_add: fetch_add_on_threads(),
        mutex: mutex_on_threads(),
        cell_on_the_loop: cell_on_the_loop(false),
        split_on_the_loop: cell_on_the_loop(true),
    };
    let expected = WORKERS * INCREMENTS;
    let rows = [
        (
            "threads: load, then store(seen + 1)",
            counts.split_on_threads,
        ),
        ("threads: fetch_add(1)", counts.fetch_add),
        ("threads: Mutex<u64>", counts.mutex),
        ("one thread, 8 tasks: Cell<u64>", counts.cell_on_the_loop),
        (
            "one thread, 8 tasks: .await inside",
            counts.split_on_the_loop,
        ),
    ];
    println!("  {:<38} {:>9} {:>9}", "", "final", "lost");
    for (way, count) in rows {
        println!(
            "  {way:<38} {:>9} {:>9}",
            thousands(count),
            thousands(expected - count)
        );
    }
    println!(
        "\n  load-then-store on threads lost {} of {} updates this run (the number changes \
         from run to run):\n  \
         between a thread's load and its store, others stored, and the store wrote over them.\n  \
         The loop's Cell needs no lock: only one task runs at a time, and a task is\n  \
         interrupted only at an .await. With an .await between get and set, every task\n  \
         overwrites the others each turn: exactly one task's {} survive, every run.",
        thousands(expected - counts.split_on_threads),
        thousands(expected),
        thousands(INCREMENTS)
    );
    counts
}

/// Each thread reads the counter, lets the others run, then writes back what it read
/// plus one: a read-modify-write in two steps.
fn split_load_store_on_threads() -> u64 {
    let counter = AtomicU64::new(0);
    thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| {
                for _ in 0..INCREMENTS {
                    let seen = counter.load(Ordering::SeqCst);
                    // Without this the window is a few nanoseconds wide and the loss
                    // depends on the machine; with it, other threads run inside it.
                    thread::yield_now();
                    // Whatever the others stored since our load is overwritten here.
                    counter.store(seen + 1, Ordering::SeqCst);
                }
            });
        }
    });
    counter.into_inner()
}

fn fetch_add_on_threads() -> u64 {
    let counter = AtomicU64::new(0);
    thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| {
                for _ in 0..INCREMENTS {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    counter.into_inner()
}

fn mutex_on_threads() -> u64 {
    let counter = Mutex::new(0u64);
    thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| {
                for _ in 0..INCREMENTS {
                    *counter.lock().unwrap() += 1;
                }
            });
        }
    });
    counter.into_inner().unwrap()
}

thread_local! {
    /// The loop's counter: a plain `Cell`, which the compiler will not let two threads
    /// share. `looplab::spawn` wants `Send` futures (a waker may travel to any thread),
    /// so the tasks cannot carry an `Rc<Cell>`; but every task runs on the loop's one
    /// thread, so they all see this one thread-local cell. (tokio's `spawn_local` takes
    /// non-`Send` futures for exactly this kind of state.)
    static LOOP_COUNTER: Cell<u64> = const { Cell::new(0) };
}

/// `WORKERS` looplab tasks on this thread, each adding one `INCREMENTS` times and
/// yielding to the others after every addition. With `await_inside`, each task yields
/// between reading the counter and writing it back, like the threads' split above.
fn cell_on_the_loop(await_inside: bool) -> u64 {
    LOOP_COUNTER.set(0);
    let runtime = Runtime::builder().build().expect("a runtime (mio::Poll)");
    let loop_thread = thread::current().id();
    runtime.block_on(async move {
        let handles: Vec<_> = (0..WORKERS)
            .map(|_| {
                looplab::spawn(async move {
                    for _ in 0..INCREMENTS {
                        if await_inside {
                            let seen = LOOP_COUNTER.get();
                            yield_now().await;
                            LOOP_COUNTER.set(seen + 1);
                        } else {
                            // No .await between the read and the write: no other task
                            // can run in between, so nothing can be lost.
                            LOOP_COUNTER.set(LOOP_COUNTER.get() + 1);
                            yield_now().await;
                        }
                    }
                    thread::current().id()
                })
            })
            .collect();
        for ran_on in looplab::join_all(handles).await {
            let ran_on = ran_on.expect("a counting task panicked");
            assert_eq!(ran_on, loop_thread, "a task ran off the loop's thread");
        }
    });
    LOOP_COUNTER.get()
}

// ---------------------------------------------------------------------------------
// Part 3
// ---------------------------------------------------------------------------------

/// What the process looked like while everything waited, against just before.
struct Weight {
    name: &'static str,
    /// Waiters actually started (the OS may refuse threads).
    started: usize,
    extra_threads: Option<u64>,
    resident_growth_kib: Option<u64>,
    address_space_growth_kib: Option<u64>,
}

/// The process's thread count, resident set and address space, in that order.
type Snapshot = (Option<u64>, Option<u64>, Option<u64>);

fn snapshot() -> Snapshot {
    (
        process_status("Threads:"),
        process_status("VmRSS:"),
        process_status("VmSize:"),
    )
}

/// Runs `wait` (which returns its name, how many waiters it started, and a snapshot
/// taken while they all waited) and compares that snapshot with one from before.
fn measure(wait: impl FnOnce() -> (&'static str, usize, Snapshot)) -> Weight {
    let before = snapshot();
    let (name, started, during) = wait();
    let growth = |before: Option<u64>, during: Option<u64>| Some(during?.saturating_sub(before?));
    Weight {
        name,
        started,
        extra_threads: growth(before.0, during.0),
        resident_growth_kib: growth(before.1, during.1),
        address_space_growth_kib: growth(before.2, during.2),
    }
}

/// `count` OS threads, each parked until released: the state of a thread blocked on a
/// socket, waiting for the kernel to wake it.
fn parked_threads(count: usize) -> (&'static str, usize, Snapshot) {
    let release = AtomicBool::new(false);
    let parked = AtomicUsize::new(0);
    thread::scope(|scope| {
        let mut threads = Vec::with_capacity(count);
        for _ in 0..count {
            let spawned = thread::Builder::new().spawn_scoped(scope, || {
                parked.fetch_add(1, Ordering::SeqCst);
                // `park` may return spuriously; the flag says when to stop for real.
                while !release.load(Ordering::SeqCst) {
                    thread::park();
                }
            });
            match spawned {
                Ok(thread) => threads.push(thread),
                Err(refused) => {
                    println!(
                        "  the OS refused thread {}: {refused}",
                        thousands(threads.len() as u64 + 1)
                    );
                    break;
                }
            }
        }
        while parked.load(Ordering::SeqCst) < threads.len() {
            thread::sleep(Duration::from_millis(1));
        }
        let during = snapshot();
        release.store(true, Ordering::SeqCst);
        for thread in &threads {
            thread.thread().unpark();
        }
        ("parked threads", threads.len(), during)
    })
}

/// `count` looplab tasks, each asleep on the timer wheel for a moment.
fn sleeping_tasks(count: usize) -> (&'static str, usize, Snapshot) {
    let runtime = Runtime::builder().build().expect("a runtime (mio::Poll)");
    let during = runtime.block_on(async {
        let handles: Vec<_> = (0..count)
            .map(|_| looplab::spawn(looplab::time::sleep(Duration::from_millis(50))))
            .collect();
        // The tasks first run after this poll of main; one yield lets every one of
        // them reach its sleep before we look.
        yield_now().await;
        let during = snapshot();
        for result in looplab::join_all(handles).await {
            result.expect("a sleeping task panicked");
        }
        during
    });
    ("sleeping tasks", count, during)
}

fn print_weights(threads: &Weight, tasks: &Weight) {
    println!(
        "  {:<16} {:>8} {:>18} {:>20} {:>22}",
        "", "waiting", "extra OS threads", "resident memory", "address space"
    );
    for weight in [threads, tasks] {
        let or_na = |value: Option<String>| value.unwrap_or_else(|| "n/a".into());
        println!(
            "  {:<16} {:>8} {:>18} {:>20} {:>22}",
            weight.name,
            thousands(weight.started as u64),
            or_na(weight.extra_threads.map(thousands)),
            or_na(
                weight
                    .resident_growth_kib
                    .map(|kib| format!("+{} KiB", thousands(kib)))
            ),
            or_na(
                weight
                    .address_space_growth_kib
                    .map(|kib| format!("+{} KiB", thousands(kib)))
            ),
        );
    }
    let per_waiter =
        |kib: Option<u64>, weight: &Weight| Some(kib? as f64 / weight.started.max(1) as f64);
    if let (Some(thread_kib), Some(thread_space), Some(task_kib)) = (
        per_waiter(threads.resident_growth_kib, threads),
        per_waiter(threads.address_space_growth_kib, threads),
        per_waiter(tasks.resident_growth_kib, tasks),
    ) {
        println!(
            "\n  per waiter: a parked thread {thread_kib:.1} KiB resident and {} KiB of address \
             space (mostly its 2 MiB stack),\n  plus kernel memory VmRSS does not count (a kernel \
             stack, 16 KiB on x86-64); a sleeping task {task_kib:.1} KiB",
            thousands(thread_space.round() as u64)
        );
    }
    if threads.extra_threads.is_none() {
        println!("  (threads and memory come from /proc/self/status, which only Linux has)");
    }
}

// ---------------------------------------------------------------------------------
// The claims
// ---------------------------------------------------------------------------------

fn check_and_claim(
    run: &RunReport,
    extra_threads_while_waiting: Option<u64>,
    counts: &Counts,
    threads: &Weight,
    tasks: &Weight,
) {
    // Part 1: each request takes its own length, as on the event loop.
    let latencies: Vec<Duration> = run.requests.iter().map(|r| r.latency).collect();
    for (measured, users) in latencies.iter().zip(REQUESTS) {
        let ideal = DELAY * users;
        assert!(
            ideal <= *measured && *measured <= ideal + SLACK,
            "a latency of {measured:?}, expected {ideal:?} (up to {SLACK:?} more)"
        );
    }
    // The waiting overlapped: every request's first lookup started at the beginning.
    for request in &run.requests {
        assert!(request.lookups[0].start < SLACK, "a request started late");
    }
    if let Some(extra) = extra_threads_while_waiting {
        assert_eq!(extra, REQUESTS.len() as u64, "one thread per request");
    }

    // Part 2: only the split load/store can lose updates, and the loop's Cell cannot.
    let expected = WORKERS * INCREMENTS;
    assert!(counts.split_on_threads <= expected);
    assert_eq!(counts.fetch_add, expected);
    assert_eq!(counts.mutex, expected);
    assert_eq!(counts.cell_on_the_loop, expected);
    assert_eq!(
        counts.split_on_the_loop, INCREMENTS,
        "with the .await inside, each turn every task writes the same value"
    );

    // Part 3: tasks wait without threads.
    if let Some(extra) = tasks.extra_threads {
        assert_eq!(extra, 0, "sleeping tasks started threads");
    }
    if let Some(extra) = threads.extra_threads {
        assert_eq!(extra, threads.started as u64, "a thread per waiter");
    }

    let in_delays = |d: &Duration| format!("{:.2}", d.as_secs_f64() / DELAY.as_secs_f64());
    let latencies_in_delays: Vec<String> = latencies.iter().map(in_delays).collect();
    let gained = match extra_threads_while_waiting {
        Some(n) => format!("{n} extra OS threads"),
        None => "a thread per request".into(),
    };
    println!(
        "\nproved (part 1): a thread per request finishes 3, 2 and 1 users at {} × the delay \
         ({} ms, {} ms, {} ms), like the event loop, with {gained}",
        latencies_in_delays.join(", "),
        latencies[0].as_millis(),
        latencies[1].as_millis(),
        latencies[2].as_millis(),
    );
    println!(
        "proved (part 2): {WORKERS} threads × {} increments: load-then-store ended at {} \
         (lost {}), fetch_add and Mutex at exactly {}; {WORKERS} tasks on one thread with a \
         plain Cell and no lock: exactly {} (and {} with an .await between get and set)",
        thousands(INCREMENTS),
        thousands(counts.split_on_threads),
        thousands(expected - counts.split_on_threads),
        thousands(expected),
        thousands(counts.cell_on_the_loop),
        thousands(counts.split_on_the_loop),
    );
    let weight_phrase = |weight: &Weight| match (weight.extra_threads, weight.resident_growth_kib) {
        (Some(threads), Some(kib)) => format!(
            "{} OS threads and +{:.1} MB resident",
            thousands(threads),
            mb(kib)
        ),
        _ => "(threads and memory not measured)".into(),
    };
    println!(
        "proved (part 3): {} waiters: as parked threads {}; as sleeping tasks {}",
        thousands(WAITERS as u64),
        weight_phrase(threads),
        weight_phrase(tasks),
    );
}
