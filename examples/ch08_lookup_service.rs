//! Chapter 8: the lookup service — the post's scenario, for real, on one thread.
//!
//! ```text
//! cargo run --release --example ch08_lookup_service
//! ```
//!
//! Everything the earlier chapters built, working together. The user directory (the
//! post's external API, `src/lookup/directory.rs`) is an HTTP server on looplab; the
//! client (`src/lookup/event_loop.rs`) asks it for 3, 2 and 1 users, one call per user,
//! one second per call. The requests finish at 1, 2 and 3 seconds, shortest first, on
//! one thread, because three things work together:
//!
//! - **One task per request.** `run_event_loop` spawns `find_users(3)`, `find_users(2)`
//!   and `find_users(1)` as three tasks (the post's `asyncio.create_task`, gathered by
//!   `join_all`). A task that has to wait returns `Pending` and gives the thread to the
//!   next one, so one request's waiting never holds up another's (chapter 5).
//! - **A socket each.** Every task opens its own connection to the directory and keeps
//!   it for all its calls. A task waiting for an answer is a registration in the
//!   reactor (`io: read on token 1 would block`); one `mio::Poll` call waits for all
//!   three sockets at once and wakes whichever task's answer arrived (chapter 7).
//!   Sharing one connection would put the calls in a queue again, as in chapter 1.
//! - **The timer wheel.** On the directory's side, each connection task sleeps its
//!   second with `looplab::time::sleep`: three timers in one wheel slot, and the loop
//!   parks once until the nearest deadline (chapter 6). At 1 s all three fire, the
//!   three answers go out, the three client tasks wake and send their next call. The
//!   request for 1 user is done then; the one for 2 after the next round; the one for
//!   3 after the third.
//!
//! So each request takes its own length: the thread is needed for microseconds per
//! step, and all the waiting overlaps.
//!
//! **Part 1** runs it in virtual time, directory and clients in one runtime, with the
//! trace printed line by line (it is `tests/golden/event_loop_virtual.trace`, and
//! `cargo run --release -- lookup --mode event-loop --virtual-time --trace` prints the
//! same). The clock jumps over the directory's waits, so the times are exact and the run
//! takes milliseconds. Look for the client streams registered as tokens 1 to 3, the
//! three timers armed in `wheel level 1 slot 15`, the `park ... next deadline in 1000
//! ms` and the clock jump, `#1 #2 #3 fired`, the sockets turning readable, and
//! `"> 1 user found"` at 1.000 s, before the others.
//!
//! **Part 2** runs the same client in real time against a directory on its own thread,
//! with the post's full second per user, and reads the runtime's counters: about three
//! seconds parked in the reactor, a millisecond or two busy running tasks. That
//! split is the post's whole point in two numbers.

mod common;

use std::error::Error;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use looplab::lookup::directory::{DirectoryConfig, DirectoryThread};
use looplab::lookup::event_loop::{EventLoopOptions, Narrator, run_event_loop};
use looplab::lookup::narrative::Lang;
use looplab::lookup::report::{RunReport, render_table};
use looplab::lookup::timeline::render_timeline;
use looplab::stats::StatsReport;
use looplab::trace::{Event, TaskId};
use looplab::{Recorder, TraceOutput};

use common::process_status;

/// The post's three requests, in the order they arrive.
const REQUESTS: [u32; 3] = [3, 2, 1];

/// The post's time per user, in both parts: virtual time makes part 1 instant anyway,
/// and part 2 shows the real three seconds.
const DELAY: Duration = Duration::from_secs(1);

/// Part 2 may finish a request this much later than ideal: a loopback round trip and a
/// wake are well under a millisecond, but a busy machine can stall the loop.
const SLACK: Duration = Duration::from_millis(300);

fn main() -> Result<(), Box<dyn Error>> {
    println!("== part 1: the lookup service in virtual time, with the loop's trace ==\n");
    let virtual_run = virtual_time_with_trace()?;

    println!("\n== part 2: the same client in real time, against a directory thread ==\n");
    let real_run = real_time_with_counters()?;

    let runs = [virtual_run.report.clone(), real_run.report.clone()];
    println!("\n{}", render_table(&runs, 80));
    println!("{}", render_timeline(&runs, 80));
    println!("part 1 (virtual time: the directory and the clients, one runtime)");
    println!("{}\n", virtual_run.stats);
    println!("part 2 (real time: the clients only; the directory runs on its own thread)");
    println!("{}", real_run.stats);

    check_and_claim(&virtual_run, &real_run);
    Ok(())
}

/// What a run left behind for the checks.
struct Observed {
    report: RunReport,
    stats: StatsReport,
    /// Request sizes in the order their tasks finished.
    completion_order: Vec<u32>,
    /// Sockets the client tasks registered with the reactor.
    client_sockets: usize,
    /// Narrative lines spoken on a thread other than the one that called the run.
    lines_off_thread: usize,
    /// The most OS threads the process had while a task was speaking.
    most_threads: Option<u64>,
}

fn virtual_time_with_trace() -> Result<Observed, Box<dyn Error>> {
    let recorder = Recorder::new();
    let options = EventLoopOptions {
        requests: REQUESTS.to_vec(),
        delay: DELAY,
        virtual_time: true,
        call_timeout: None,
        lang: Lang::En,
        trace: TraceOutput::Stdout,
        recorder: Some(recorder.clone()),
    };
    // The trace already shows every narrative line (as a note from its task), so the
    // narrator only watches which thread speaks, and keeps the closing total.
    let watcher = ThreadWatcher::new();
    let last_line = Arc::new(Mutex::new(String::new()));
    let narrate: Narrator = {
        let (watcher, last_line) = (watcher.clone(), last_line.clone());
        Arc::new(move |_at, line: String| {
            watcher.saw_a_line();
            *last_line.lock().unwrap() = line;
        })
    };
    let (report, stats) = run_event_loop(None, &options, narrate, |builder| builder)?;
    println!("\n{}", last_line.lock().unwrap());
    Ok(observe(report, stats, &recorder, &watcher))
}

fn real_time_with_counters() -> Result<Observed, Box<dyn Error>> {
    let directory =
        DirectoryThread::start("127.0.0.1:0".parse()?, DirectoryConfig::with_delay(DELAY))?;
    println!(
        "the user directory listens on http://{} (its own thread and runtime), {} s per user\n",
        directory.addr(),
        DELAY.as_secs()
    );
    // Not printed, but recording turns on the loop's timing of each poll, which the
    // "busy" counter needs (see `after_poll` in src/executor.rs).
    let recorder = Recorder::new();
    let options = EventLoopOptions {
        requests: REQUESTS.to_vec(),
        delay: DELAY,
        virtual_time: false,
        call_timeout: None,
        lang: Lang::En,
        trace: TraceOutput::Off,
        recorder: Some(recorder.clone()),
    };
    let watcher = ThreadWatcher::new();
    let narrate: Narrator = {
        let watcher = watcher.clone();
        Arc::new(move |at: Duration, line: String| {
            watcher.saw_a_line();
            println!("{:>7.3}s  {line}", at.as_secs_f64());
        })
    };
    let (report, stats) = run_event_loop(Some(directory.addr()), &options, narrate, |b| b)?;
    Ok(observe(report, stats, &recorder, &watcher))
}

fn observe(
    report: RunReport,
    stats: StatsReport,
    recorder: &Recorder,
    watcher: &ThreadWatcher,
) -> Observed {
    let events = recorder.events();
    // Which task looks up how many users: the names given at spawn, "find_users(3)".
    let users_of = |task: &TaskId| {
        events.iter().find_map(|event| match event {
            Event::Spawn { task: t, name, .. } if t == task => name
                .strip_prefix("find_users(")?
                .strip_suffix(')')?
                .parse::<u32>()
                .ok(),
            _ => None,
        })
    };
    let completion_order = events
        .iter()
        .filter_map(|event| match event {
            Event::Ready { task } => users_of(task),
            _ => None,
        })
        .collect();
    let client_sockets = events
        .iter()
        .filter(
            // A real connect registers a "client stream"; under virtual time it is a
            // "sim client" on the runtime's simulated network.
            |event| matches!(event, Event::IoRegistered { what, .. } if *what == "client stream" || *what == "sim client"),
        )
        .count();
    Observed {
        report,
        stats,
        completion_order,
        client_sockets,
        lines_off_thread: watcher.off_thread.load(Ordering::SeqCst),
        most_threads: match watcher.most_threads.load(Ordering::SeqCst) {
            0 => None,
            n => Some(n),
        },
    }
}

/// Watches, from inside the narrator, which OS thread the tasks run on and how many
/// threads the process has at that moment.
#[derive(Clone)]
struct ThreadWatcher {
    home: std::thread::ThreadId,
    off_thread: Arc<AtomicUsize>,
    /// 0 until measured (and for ever where there is no /proc).
    most_threads: Arc<AtomicU64>,
}

impl ThreadWatcher {
    fn new() -> ThreadWatcher {
        ThreadWatcher {
            home: std::thread::current().id(),
            off_thread: Arc::new(AtomicUsize::new(0)),
            most_threads: Arc::new(AtomicU64::new(0)),
        }
    }

    fn saw_a_line(&self) {
        if std::thread::current().id() != self.home {
            self.off_thread.fetch_add(1, Ordering::SeqCst);
        }
        if let Some(threads) = process_status("Threads:") {
            self.most_threads.fetch_max(threads, Ordering::SeqCst);
        }
    }
}

fn check_and_claim(virtual_run: &Observed, real_run: &Observed) {
    let ideal: Vec<Duration> = REQUESTS.iter().map(|&users| DELAY * users).collect();

    // Part 1: exact times, shortest first, everything on the calling thread.
    let latencies: Vec<Duration> = virtual_run
        .report
        .requests
        .iter()
        .map(|r| r.latency)
        .collect();
    assert_eq!(
        latencies, ideal,
        "each request takes its own length, exactly"
    );
    assert_eq!(virtual_run.report.total, DELAY * 3);
    assert_eq!(virtual_run.completion_order, [1, 2, 3], "shortest first");
    assert_eq!(
        virtual_run.client_sockets,
        REQUESTS.len(),
        "a socket per request"
    );
    assert_eq!(
        virtual_run.lines_off_thread, 0,
        "a task ran off the loop's thread"
    );
    if let Some(threads) = virtual_run.most_threads {
        assert_eq!(threads, 1, "the whole service ran on one OS thread");
    }
    let lookups: u64 = REQUESTS.iter().map(|&users| u64::from(users)).sum();
    assert_eq!(
        virtual_run.stats.timers_fired, lookups,
        "a timer per lookup"
    );

    // Part 2: the same shape in real time, and the loop mostly parked.
    for (request, ideal) in real_run.report.requests.iter().zip(&ideal) {
        assert!(
            *ideal <= request.latency && request.latency <= *ideal + SLACK,
            "a latency of {:?}, expected {ideal:?} (up to {SLACK:?} more)",
            request.latency
        );
    }
    assert_eq!(real_run.completion_order, [1, 2, 3], "shortest first");
    assert_eq!(
        real_run.lines_off_thread, 0,
        "a task ran off the loop's thread"
    );
    assert_eq!(
        real_run.stats.timers_armed, 0,
        "the client waits on sockets only"
    );
    assert!(
        real_run.stats.busy * 10 < real_run.stats.parked,
        "the loop was busy for {:?} and parked for {:?}",
        real_run.stats.busy,
        real_run.stats.parked
    );

    let seconds = |latencies: &[Duration]| {
        let text: Vec<String> = latencies
            .iter()
            .rev()
            .map(|d| format!("{:.3}", d.as_secs_f64()))
            .collect();
        text.join(", ")
    };
    let real_latencies: Vec<Duration> =
        real_run.report.requests.iter().map(|r| r.latency).collect();
    let one_thread = match virtual_run.most_threads {
        Some(n) => format!("{n} OS thread in the process"),
        None => "one thread".into(),
    };
    println!(
        "\nproved (part 1): one task per request, a socket each ({} client sockets) and {} \
         one-second timers in the wheel: 1, 2 and 3 users found at {} s of virtual time, \
         shortest first, with {one_thread}, directory included",
        virtual_run.client_sockets,
        virtual_run.stats.timers_fired,
        seconds(&latencies),
    );
    println!(
        "proved (part 2): in real time the same at {} s; the loop's thread was parked for \
         {:.3} s and busy for {:.3} ms: {} polls in {} turns did all the work",
        seconds(&real_latencies),
        real_run.stats.parked.as_secs_f64(),
        real_run.stats.busy.as_secs_f64() * 1000.0,
        real_run.stats.polls,
        real_run.stats.turns,
    );
}
