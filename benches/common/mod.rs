//! What every benchmark binary shares: the two runtimes under test, a counting
//! allocator for "bytes per task", the thread's CPU time, and the side report.
//!
//! Criterion measures time. Some of what `BENCHMARKS.md` reports is not a time per
//! iteration (bytes per task, how late a sleep ended, the wall time of a run against
//! its ideal), so each binary also writes those numbers to a small JSON file in
//! `target/tmp/looplab-bench/` (the *side report*), and `benches/summarize.py` puts
//! both into one table.

// Each benchmark binary compiles this module and uses a different part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

/// A looplab runtime as a user would build one: real time, no trace.
pub fn looplab_runtime() -> looplab::Runtime {
    looplab::Runtime::builder()
        .build()
        .expect("a looplab runtime (mio::Poll)")
}

/// The runtime a user would pick instead: tokio's current-thread scheduler with its
/// timer and I/O drivers (`enable_all`), so both runtimes carry the same machinery.
pub fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio current-thread runtime")
}

/// `yield_now`, the examples' copy (`examples/common/yield_now.rs`): one definition
/// for the examples and the benchmarks. looplab has none of its own, since building it
/// is an exercise; tokio's is `tokio::task::yield_now`.
#[path = "../../examples/common/yield_now.rs"]
pub mod yield_now;

/// CPU time this thread has used so far, in nanoseconds, from
/// `/proc/thread-self/schedstat` (its first field). Both runtimes do all their work on
/// the thread that calls `block_on`, so this is the runtime's CPU time.
pub fn thread_cpu_time() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")
        .expect("/proc/thread-self/schedstat (Linux with schedstats)");
    let nanos: u64 = text
        .split_whitespace()
        .next()
        .and_then(|field| field.parse().ok())
        .expect("schedstat starts with the time on CPU in ns");
    Duration::from_nanos(nanos)
}

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`, ...).
pub fn proc_status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// Counts the bytes the program asks the allocator for, while switched on.
///
/// The bytes counted are the sizes requested (`Layout::size`), not what malloc
/// rounds them up to, and not memory taken by other means (thread stacks are
/// `mmap`ed by the C library; kernel socket buffers are kernel memory).
/// Switched off, the only cost is one relaxed load per allocation, so the timing
/// runs are not slowed by the counting; memory is measured in runs of its own.
pub mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};

    /// Put `#[global_allocator] static ALLOC: Counting = Counting;` in a binary.
    pub struct Counting;

    static ON: AtomicBool = AtomicBool::new(false);
    /// Bytes allocated minus bytes freed since `start` (negative if more memory from
    /// before `start` was freed than allocated since).
    static LIVE: AtomicI64 = AtomicI64::new(0);
    static PEAK: AtomicI64 = AtomicI64::new(0);
    static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

    fn record(delta: i64, new_allocation: bool) {
        if !ON.load(Relaxed) {
            return;
        }
        let live = LIVE.fetch_add(delta, Relaxed) + delta;
        if delta > 0 {
            PEAK.fetch_max(live, Relaxed);
        }
        if new_allocation {
            ALLOCATIONS.fetch_add(1, Relaxed);
        }
    }

    // SAFETY (all four methods): each forwards its arguments unchanged to the system
    // allocator, so the caller's contract with `GlobalAlloc` passes through intact;
    // the counting touches only atomics and never allocates.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let ptr = unsafe { System.alloc(layout) };
            if !ptr.is_null() {
                record(layout.size() as i64, true);
            }
            ptr
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            let ptr = unsafe { System.alloc_zeroed(layout) };
            if !ptr.is_null() {
                record(layout.size() as i64, true);
            }
            ptr
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { System.dealloc(ptr, layout) };
            record(-(layout.size() as i64), false);
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let new = unsafe { System.realloc(ptr, layout, new_size) };
            if !new.is_null() {
                record(new_size as i64 - layout.size() as i64, false);
            }
            new
        }
    }

    /// What a counting window saw.
    #[derive(Clone, Copy, Debug)]
    pub struct Usage {
        /// The most bytes live at once, above the level at `start`.
        pub peak_bytes: i64,
        /// Allocations made (reallocations not counted).
        pub allocations: u64,
    }

    /// Starts counting from zero.
    pub fn start() {
        LIVE.store(0, Relaxed);
        PEAK.store(0, Relaxed);
        ALLOCATIONS.store(0, Relaxed);
        ON.store(true, Relaxed);
    }

    /// Stops counting and returns what was seen since `start`.
    pub fn stop() -> Usage {
        ON.store(false, Relaxed);
        Usage {
            peak_bytes: PEAK.load(Relaxed),
            allocations: ALLOCATIONS.load(Relaxed),
        }
    }
}

/// The numbers criterion does not keep (memory, lateness, wall time against an ideal),
/// written as one JSON file per benchmark binary for `benches/summarize.py`.
pub struct SideReport {
    bench: &'static str,
    rows: Vec<serde_json::Value>,
}

impl SideReport {
    pub fn new(bench: &'static str) -> SideReport {
        SideReport {
            bench,
            rows: Vec::new(),
        }
    }

    /// Records one number, and prints it so a reader of `cargo bench` sees it too.
    pub fn record(&mut self, group: &str, function: &str, metric: &str, value: f64, unit: &str) {
        println!("{group}/{function}: {metric} = {value:.3} {unit}");
        self.rows.push(serde_json::json!({
            "group": group,
            "function": function,
            "metric": metric,
            "value": value,
            "unit": unit,
        }));
    }

    /// Writes `target/tmp/looplab-bench/<bench>.json` (if anything was recorded).
    pub fn save(&self) {
        if self.rows.is_empty() {
            return;
        }
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("looplab-bench");
        std::fs::create_dir_all(&dir).expect("create the side report's directory");
        let path = dir.join(format!("{}.json", self.bench));
        let text = serde_json::to_string_pretty(&self.rows).expect("JSON");
        std::fs::write(&path, text).expect("write the side report");
        println!("side report: {}", path.display());
    }
}

/// Whether to run the side measurements named `name`: only under `cargo bench` (which
/// passes `--bench`), not in criterion's `--profile-time` or `--list` modes, and only
/// if `name` matches the benchmark filter given on the command line, if any.
pub fn side_runs_enabled(name: &str) -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        return false; // `cargo test --benches`: criterion runs each routine once, so do we
    }
    if args
        .iter()
        .any(|a| a.starts_with("--profile-time") || a == "--list")
    {
        return false;
    }
    // Criterion's filter is its one positional argument; skip the values of the
    // options that take one.
    const TAKES_VALUE: &[&str] = &[
        "--save-baseline",
        "-s",
        "--baseline",
        "-b",
        "--baseline-lenient",
        "--load-baseline",
        "--sample-size",
        "--warm-up-time",
        "--measurement-time",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--plotting-backend",
        "--output-format",
        "--color",
        "-c",
        "--format",
        "--logfile",
        "--skip",
    ];
    let mut filter = None;
    let mut skip_next = false;
    for arg in &args {
        if skip_next {
            skip_next = false;
        } else if TAKES_VALUE.contains(&arg.as_str()) {
            skip_next = true;
        } else if !arg.starts_with('-') {
            filter = Some(arg.as_str());
        }
    }
    filter.is_none_or(|f| name.contains(f))
}

/// Mean and maximum of a list of durations, in microseconds.
pub fn mean_and_max_us(values: &[Duration]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().map(Duration::as_secs_f64).sum::<f64>() / n;
    let max = values.iter().map(Duration::as_secs_f64).fold(0.0, f64::max);
    (mean * 1e6, max * 1e6)
}
