//! `lookup at scale`: the source post's scenario, 10,000 requests at once.
//!
//! The post has three requests for 3, 2 and 1 users and an API that takes one second
//! per user. Here: 10,000 requests for 1, 2 or 3 users (a third each) and 100 ms per
//! user, against the real user directory (`looplab directory`, a looplab server) over
//! TCP. The ideal wall time is the longest request's own work: 3 × 100 ms = 0.3 s.
//!
//! - **event loop**: one looplab task per request, all on one thread
//!   (`lookup::event_loop::run_event_loop`).
//! - **threads**: one OS thread per request (`lookup::blocking::run_threads`).
//!
//! The directory runs in a child process, so that its 10,000 sockets and the
//! clients' 10,000 do not share one file-descriptor limit (20,000 here), and so that
//! it is the same server for both clients. Criterion times the runs (from the moment
//! the requests "arrive" to the last answer, as the `looplab` command reports it).
//! Memory per request is measured in a fresh child process per run: the peak
//! resident set (`VmHWM`) minus the resident set before the run, divided by the
//! requests; for threads the kernel's stacks (`KernelStack` in `/proc/meminfo`),
//! which no resident set shows, are reported beside it.
//!
//! Run: `cargo bench --bench lookup`.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::{SideReport, counting, proc_status_kib, side_runs_enabled};
use criterion::{Criterion, SamplingMode};
use looplab::lookup::blocking::run_threads;
use looplab::lookup::event_loop::{EventLoopOptions, Narrator, run_event_loop};
use looplab::lookup::narrative::Lang;

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

const REQUESTS: usize = 10_000;
const DELAY: Duration = Duration::from_millis(100);
/// The longest request's own work: 3 users × 100 ms.
const IDEAL: Duration = Duration::from_millis(300);

/// 1, 2, 3, 1, 2, 3, ...: a third of the requests each.
fn requests(n: usize) -> Vec<u32> {
    (0..n).map(|i| 1 + (i % 3) as u32).collect()
}

/// The directory in a child process (`looplab directory`). Killed when dropped.
struct DirectoryProcess {
    child: Child,
    addr: SocketAddr,
}

impl DirectoryProcess {
    fn start() -> DirectoryProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_looplab"))
            .args(["directory", "--addr", "127.0.0.1:0", "--delay", "100ms"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start `looplab directory`");
        let mut first_line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first_line)
            .expect("read the directory's first line");
        let addr = first_line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {first_line:?}"));
        DirectoryProcess { child, addr }
    }
}

impl Drop for DirectoryProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One run of the event-loop client; returns its wall time (requests in to last
/// answer).
fn event_loop_run(addr: SocketAddr, n: usize) -> Duration {
    let options = EventLoopOptions {
        requests: requests(n),
        delay: DELAY,
        virtual_time: false,
        call_timeout: None,
        lang: Lang::En,
        trace: looplab::TraceOutput::Off,
        recorder: None,
    };
    let quiet: Narrator = Arc::new(|_, _| {});
    let (report, _stats) =
        run_event_loop(Some(addr), &options, quiet, |b| b).expect("the event-loop run failed");
    report.total
}

/// One run of the thread-per-request client.
fn threads_run(addr: SocketAddr, n: usize) -> Duration {
    run_threads(addr, &requests(n), None, Lang::En, &mut |_| {})
        .expect("the threads run failed")
        .total
}

fn bench_lookup(c: &mut Criterion, addr: SocketAddr, report: &mut SideReport) {
    let walls_event_loop = std::cell::RefCell::new(Vec::<Duration>::new());
    let walls_threads = std::cell::RefCell::new(Vec::<Duration>::new());
    let mut group = c.benchmark_group("lookup_10000_requests");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4))
        .sampling_mode(SamplingMode::Flat);
    group.bench_function("event_loop", |b| {
        b.iter_custom(|iters| {
            let runs: Vec<_> = (0..iters).map(|_| event_loop_run(addr, REQUESTS)).collect();
            walls_event_loop.borrow_mut().extend(&runs);
            runs.iter().sum()
        })
    });
    group.bench_function("threads", |b| {
        b.iter_custom(|iters| {
            let runs: Vec<_> = (0..iters).map(|_| threads_run(addr, REQUESTS)).collect();
            walls_threads.borrow_mut().extend(&runs);
            runs.iter().sum()
        })
    });
    group.finish();
    if side_runs_enabled("lookup") {
        for (function, walls) in [("event_loop", walls_event_loop), ("threads", walls_threads)] {
            let mut walls = walls.borrow_mut();
            walls.sort();
            let within = walls
                .iter()
                .filter(|w| w.as_secs_f64() <= IDEAL.as_secs_f64() * 1.05)
                .count();
            let group = "lookup_10000_requests";
            report.record(group, function, "wall_min", ms(walls[0]), "ms");
            report.record(
                group,
                function,
                "wall_max",
                ms(walls[walls.len() - 1]),
                "ms",
            );
            report.record(group, function, "runs", walls.len() as f64, "");
            report.record(group, function, "runs_within_5pct", within as f64, "");
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

// ----- memory, in child processes -----

/// What a child process measured for one run.
#[derive(serde::Serialize, serde::Deserialize)]
struct ChildResult {
    wall_ms: f64,
    rss_before_kib: u64,
    rss_peak_kib: u64,
    heap_peak_bytes: i64,
    kernel_stack_increase_kib: u64,
    threads_peak: u64,
}

/// `/proc/meminfo`'s `KernelStack` (KiB), for the whole machine.
fn kernel_stack_kib() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").expect("/proc/meminfo");
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("KernelStack:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .expect("KernelStack in /proc/meminfo")
}

/// In the child: one run of `mode`, then its measurements as JSON on stdout.
fn child_main(mode: &str) {
    let addr: SocketAddr = std::env::var("LOOPLAB_BENCH_ADDR")
        .unwrap()
        .parse()
        .unwrap();
    let n: usize = std::env::var("LOOPLAB_BENCH_REQUESTS")
        .unwrap()
        .parse()
        .unwrap();
    // A sampler thread keeps the peaks of what `VmHWM` does not cover: the machine's
    // kernel stacks and this process's thread count.
    let stop = Arc::new(AtomicBool::new(false));
    let kernel_stack_peak = Arc::new(AtomicU64::new(0));
    let threads_peak = Arc::new(AtomicU64::new(0));
    let kernel_stack_before = kernel_stack_kib();
    let sampler = {
        let (stop, ks, th) = (
            stop.clone(),
            kernel_stack_peak.clone(),
            threads_peak.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                ks.fetch_max(kernel_stack_kib(), Ordering::Relaxed);
                th.fetch_max(proc_status_kib("Threads"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let rss_before_kib = proc_status_kib("VmRSS");
    counting::start();
    let wall = match mode {
        "event_loop" => event_loop_run(addr, n),
        "threads" => threads_run(addr, n),
        other => panic!("unknown child mode {other}"),
    };
    let heap = counting::stop();
    let rss_peak_kib = proc_status_kib("VmHWM");
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let result = ChildResult {
        wall_ms: ms(wall),
        rss_before_kib,
        rss_peak_kib,
        heap_peak_bytes: heap.peak_bytes,
        kernel_stack_increase_kib: kernel_stack_peak
            .load(Ordering::Relaxed)
            .saturating_sub(kernel_stack_before),
        threads_peak: threads_peak.load(Ordering::Relaxed),
    };
    println!("{}", serde_json::to_string(&result).unwrap());
}

fn run_child(mode: &str, addr: SocketAddr, n: usize) -> ChildResult {
    let output = Command::new(std::env::current_exe().unwrap())
        .env("LOOPLAB_BENCH_CHILD", mode)
        .env("LOOPLAB_BENCH_ADDR", addr.to_string())
        .env("LOOPLAB_BENCH_REQUESTS", n.to_string())
        .stderr(Stdio::inherit())
        .output()
        .expect("run a measuring child process");
    assert!(output.status.success(), "the {mode} child failed");
    let text = String::from_utf8_lossy(&output.stdout);
    let last = text.lines().last().expect("the child's JSON line");
    serde_json::from_str(last).expect("the child's JSON")
}

/// Memory per request, three fresh processes per client, alternating; the run with
/// the median resident-set increase is reported.
fn memory_runs(addr: SocketAddr, report: &mut SideReport) {
    if !side_runs_enabled("lookup") {
        return;
    }
    let group = "lookup_10000_requests";
    let mut runs: [(&str, Vec<ChildResult>); 2] = [("event_loop", vec![]), ("threads", vec![])];
    for _ in 0..3 {
        for (mode, results) in runs.iter_mut() {
            results.push(run_child(mode, addr, REQUESTS));
        }
    }
    for (mode, mut results) in runs {
        results.sort_by_key(|r| r.rss_peak_kib - r.rss_before_kib);
        let r = &results[1];
        let per_request = |kib: u64| kib as f64 * 1024.0 / REQUESTS as f64;
        report.record(group, mode, "child_wall", r.wall_ms, "ms");
        report.record(
            group,
            mode,
            "rss_per_request",
            per_request(r.rss_peak_kib - r.rss_before_kib),
            "B",
        );
        report.record(
            group,
            mode,
            "heap_per_request",
            r.heap_peak_bytes as f64 / REQUESTS as f64,
            "B",
        );
        report.record(
            group,
            mode,
            "kernel_stack_per_request",
            per_request(r.kernel_stack_increase_kib),
            "B",
        );
        report.record(group, mode, "threads_peak", r.threads_peak as f64, "");
    }
}

fn main() {
    if let Ok(mode) = std::env::var("LOOPLAB_BENCH_CHILD") {
        child_main(&mode);
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    let directory = DirectoryProcess::start();
    let mut report = SideReport::new("lookup");
    bench_lookup(&mut criterion, directory.addr, &mut report);
    memory_runs(directory.addr, &mut report);
    report.save();
    drop(directory);
    criterion.final_summary();
}
