//! `timers`: what a timer costs, from the data structure up to a sleep's lateness.
//!
//! - **register + cancel**, 1,000,000 times, on an empty wheel and beside 100,000
//!   live timers. Most timers in a server are `timeout`s that are cancelled because
//!   the work finished first, so this is the common path: create a `sleep`, poll it
//!   once (it goes into the wheel), drop it (it comes out). The wheel's insert and
//!   cancel are O(1), so the two costs should be equal. looplab's wheel belongs to
//!   one thread and is reached through a `RefCell`; tokio's driver may be reached
//!   from any thread, so its wheel sits behind a lock.
//! - **100,000 sleeps** with deadlines spread over 1 to 1,000 ms, each in its own
//!   task: the loop's CPU time for the whole run (criterion), how long after the last
//!   deadline everything was done, and the bytes per waiting task (side report).
//! - **the wheel alone against a `BinaryHeap`** (asyncio's `call_later` keeps a heap):
//!   firing 100,000 timers in order, and 1,000,000 insert + cancel beside 100,000 live
//!   timers, where the heap can only mark a timer cancelled and leave it in place
//!   until a clean-up (as asyncio does).
//! - **sleep lateness**: single sleeps of 1 ms and 10 ms, the time from the deadline
//!   to the task running again. Criterion reports the whole sleep; the side report
//!   has the mean and the maximum lateness. A sleep that ends early fails the run.
//!
//! Run: `cargo bench --bench timers`.

mod common;

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::hint::black_box;
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::Duration;

use common::{
    SideReport, counting, looplab_runtime, mean_and_max_us, side_runs_enabled, thread_cpu_time,
    tokio_runtime,
};
use criterion::{Criterion, SamplingMode, Throughput};
use looplab::time::wheel::{TimerWheel, WheelEvent};

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

/// Timers registered and cancelled per iteration.
const REGISTER_CANCEL: u64 = 1_000_000;

/// Timers kept live beside them in the second case.
const LIVE: u64 = 100_000;

/// Concurrent sleeps in the firing benchmark, and the spread of their deadlines.
const SLEEPS: u64 = 100_000;
const LONGEST_MS: u64 = 1_000;

/// The delay of the `i`th registered-and-cancelled timer: spread over 1 ms to 65 s, in
/// an order unrelated to `i`, so the timers land on levels 0, 1 and 2 of the wheel.
fn short_delay(i: u64) -> Duration {
    Duration::from_millis(1 + (i * 7_919) % 65_536)
}

/// The delay of the `i`th live timer: 1 to 100 s, so none fires during a measurement.
fn long_delay(i: u64) -> Duration {
    Duration::from_millis(1_000 + (i * 7_919) % 99_000)
}

/// The deadline offset of the `i`th of the 100,000 sleeps: 1..=1000 ms, 100 per ms.
fn spread_delay(i: u64) -> Duration {
    Duration::from_millis(1 + (i * 7_919) % LONGEST_MS)
}

// ----- register + cancel -----

/// Registers and cancels `REGISTER_CANCEL` looplab timers, after putting `live` others
/// in the wheel (not timed). Returns the time of the register + cancel part.
async fn register_cancel_looplab(live: u64) -> Duration {
    let mut keep = Vec::with_capacity(live as usize);
    std::future::poll_fn(|cx| {
        for i in 0..live {
            let mut sleep = Box::pin(looplab::time::sleep(long_delay(i)));
            assert!(sleep.as_mut().poll(cx).is_pending());
            keep.push(sleep);
        }
        Poll::Ready(())
    })
    .await;
    std::future::poll_fn(|cx| {
        let started = std::time::Instant::now();
        for i in 0..REGISTER_CANCEL {
            // The first poll puts the timer in the wheel; the drop takes it out.
            let mut sleep = pin!(looplab::time::sleep(short_delay(i)));
            black_box(sleep.as_mut().poll(cx).is_pending());
        }
        Poll::Ready(started.elapsed())
    })
    .await
}

async fn register_cancel_tokio(live: u64) -> Duration {
    let mut keep = Vec::with_capacity(live as usize);
    std::future::poll_fn(|cx| {
        for i in 0..live {
            let mut sleep = Box::pin(tokio::time::sleep(long_delay(i)));
            assert!(sleep.as_mut().poll(cx).is_pending());
            keep.push(sleep);
        }
        Poll::Ready(())
    })
    .await;
    std::future::poll_fn(|cx| {
        let started = std::time::Instant::now();
        for i in 0..REGISTER_CANCEL {
            let mut sleep = pin!(tokio::time::sleep(short_delay(i)));
            black_box(sleep.as_mut().poll(cx).is_pending());
        }
        Poll::Ready(started.elapsed())
    })
    .await
}

fn bench_register_cancel(c: &mut Criterion) {
    let looplab = looplab_runtime();
    let tokio = tokio_runtime();
    for (name, live) in [("empty", 0), ("100k_live", LIVE)] {
        let mut group = c.benchmark_group(format!("timer_register_cancel_{name}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .sampling_mode(SamplingMode::Flat)
            .throughput(Throughput::Elements(REGISTER_CANCEL));
        group.bench_function("looplab", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| looplab.block_on(register_cancel_looplab(live)))
                    .sum()
            })
        });
        group.bench_function("tokio", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| tokio.block_on(register_cancel_tokio(live)))
                    .sum()
            })
        });
        group.finish();
    }
}

// ----- 100,000 sleeps -----

/// What one run of 100,000 sleeps measured besides its CPU time.
struct SleepsRun {
    /// From the latest deadline to the moment every task had been joined.
    past_longest: Duration,
    /// Peak live bytes per task while all were waiting (only when measuring memory).
    bytes_per_task: Option<f64>,
}

async fn sleeps_looplab(measure_memory: bool) -> SleepsRun {
    use looplab::time::Instant;
    let mut handles = Vec::with_capacity(SLEEPS as usize);
    let start = Instant::now();
    if measure_memory {
        counting::start();
    }
    for i in 0..SLEEPS {
        let deadline = start + spread_delay(i);
        handles.push(looplab::spawn(looplab::time::sleep_until(deadline)));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let done = Instant::now();
    SleepsRun {
        past_longest: done - (start + Duration::from_millis(LONGEST_MS)),
        bytes_per_task: measure_memory.then(|| counting::stop().peak_bytes as f64 / SLEEPS as f64),
    }
}

async fn sleeps_tokio(measure_memory: bool) -> SleepsRun {
    use tokio::time::Instant;
    let mut handles = Vec::with_capacity(SLEEPS as usize);
    let start = Instant::now();
    if measure_memory {
        counting::start();
    }
    for i in 0..SLEEPS {
        let deadline = start + spread_delay(i);
        handles.push(tokio::spawn(tokio::time::sleep_until(deadline)));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let done = Instant::now();
    SleepsRun {
        past_longest: done - (start + Duration::from_millis(LONGEST_MS)),
        bytes_per_task: measure_memory.then(|| counting::stop().peak_bytes as f64 / SLEEPS as f64),
    }
}

/// Runs `iters` rounds of `run` and returns the thread's CPU time for them, keeping
/// each round's time past the longest deadline in `past`.
fn cpu_of_sleeps(
    iters: u64,
    past: &RefCell<Vec<Duration>>,
    mut run: impl FnMut() -> SleepsRun,
) -> Duration {
    let before = thread_cpu_time();
    for _ in 0..iters {
        let result = run();
        past.borrow_mut().push(result.past_longest);
    }
    thread_cpu_time() - before
}

fn bench_sleeps(c: &mut Criterion, report: &mut SideReport) {
    let looplab = looplab_runtime();
    let tokio = tokio_runtime();
    let past_looplab = RefCell::new(Vec::new());
    let past_tokio = RefCell::new(Vec::new());

    // Criterion's "time" here is the CPU time of the loop's thread: the wall time
    // is the 1 s of the longest sleep, whatever the runtime.
    let mut group = c.benchmark_group("sleeps_100k_cpu");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(8))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(SLEEPS));
    group.bench_function("looplab", |b| {
        b.iter_custom(|iters| {
            cpu_of_sleeps(iters, &past_looplab, || {
                looplab.block_on(sleeps_looplab(false))
            })
        })
    });
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            cpu_of_sleeps(iters, &past_tokio, || tokio.block_on(sleeps_tokio(false)))
        })
    });
    group.finish();

    if !side_runs_enabled("sleeps_100k") {
        return;
    }
    for (function, past) in [("looplab", past_looplab), ("tokio", past_tokio)] {
        let (mean, max) = mean_and_max_us(&past.borrow());
        report.record("sleeps_100k_cpu", function, "past_longest_mean", mean, "us");
        report.record("sleeps_100k_cpu", function, "past_longest_max", max, "us");
    }
    // Memory: a new runtime per run (a used wheel or queue keeps its capacity), three
    // runs each, alternating; the median is reported.
    let (mut l, mut t) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        l.push(
            looplab_runtime()
                .block_on(sleeps_looplab(true))
                .bytes_per_task
                .unwrap(),
        );
        t.push(
            tokio_runtime()
                .block_on(sleeps_tokio(true))
                .bytes_per_task
                .unwrap(),
        );
    }
    report.record(
        "sleeps_100k_cpu",
        "looplab",
        "bytes_per_task",
        median(&mut l),
        "B",
    );
    report.record(
        "sleeps_100k_cpu",
        "tokio",
        "bytes_per_task",
        median(&mut t),
        "B",
    );
}

// ----- the wheel alone against a binary heap -----

/// Timers in a binary heap, cancelled the way asyncio cancels them: a flag, with the
/// entry left in the heap until it reaches the top, and the heap rebuilt without the
/// cancelled entries once they are more than half of it.
#[derive(Default)]
struct HeapTimers {
    heap: BinaryHeap<Reverse<(u64, usize)>>,
    /// Indexed by timer id.
    cancelled: Vec<bool>,
    cancelled_in_heap: usize,
}

impl HeapTimers {
    fn clear(&mut self) {
        self.heap.clear();
        self.cancelled.clear();
        self.cancelled_in_heap = 0;
    }

    fn insert(&mut self, deadline: u64) -> usize {
        let id = self.cancelled.len();
        self.cancelled.push(false);
        self.heap.push(Reverse((deadline, id)));
        id
    }

    fn cancel(&mut self, id: usize) {
        self.cancelled[id] = true;
        self.cancelled_in_heap += 1;
        if self.cancelled_in_heap * 2 > self.heap.len() {
            let cancelled = &self.cancelled;
            self.heap.retain(|Reverse((_, id))| !cancelled[*id]);
            self.cancelled_in_heap = 0;
        }
    }

    /// Pops every timer due at `now`, in deadline order; returns how many fired.
    fn advance(&mut self, now: u64) -> usize {
        let mut fired = 0;
        while let Some(&Reverse((deadline, id))) = self.heap.peek() {
            if deadline > now {
                break;
            }
            self.heap.pop();
            if self.cancelled[id] {
                self.cancelled_in_heap -= 1;
            } else {
                fired += 1;
            }
        }
        fired
    }
}

fn wheel_fire(wheel: &mut TimerWheel<u64>) -> usize {
    let base = wheel.now();
    for i in 0..SLEEPS {
        wheel.insert(base + spread_delay(i).as_millis() as u64, i);
    }
    let mut fired = 0;
    wheel.advance(base + LONGEST_MS, |event| {
        if let WheelEvent::Fired { .. } = event {
            fired += 1;
        }
    });
    fired
}

fn heap_fire(heap: &mut HeapTimers) -> usize {
    heap.clear();
    for i in 0..SLEEPS {
        heap.insert(spread_delay(i).as_millis() as u64);
    }
    heap.advance(LONGEST_MS)
}

fn wheel_insert_cancel(wheel: &mut TimerWheel<u64>) {
    let base = wheel.now();
    let live: Vec<_> = (0..LIVE)
        .map(|i| wheel.insert(base + long_delay(i).as_millis() as u64, i).0)
        .collect();
    for i in 0..REGISTER_CANCEL {
        let (key, _) = wheel.insert(base + short_delay(i).as_millis() as u64, i);
        black_box(wheel.cancel(key));
    }
    for key in live {
        wheel.cancel(key);
    }
}

fn heap_insert_cancel(heap: &mut HeapTimers) {
    heap.clear();
    for i in 0..LIVE {
        heap.insert(long_delay(i).as_millis() as u64);
    }
    for i in 0..REGISTER_CANCEL {
        let id = heap.insert(short_delay(i).as_millis() as u64);
        heap.cancel(id);
    }
}

fn bench_structures(c: &mut Criterion) {
    let mut wheel = TimerWheel::new();
    let mut heap = HeapTimers::default();

    let mut group = c.benchmark_group("timer_structure_fire_100k");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(SLEEPS));
    group.bench_function("wheel", |b| {
        b.iter(|| assert_eq!(wheel_fire(&mut wheel), SLEEPS as usize))
    });
    group.bench_function("binary_heap", |b| {
        b.iter(|| assert_eq!(heap_fire(&mut heap), SLEEPS as usize))
    });
    group.finish();

    let mut group = c.benchmark_group("timer_structure_insert_cancel_100k_live");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(REGISTER_CANCEL));
    group.bench_function("wheel", |b| b.iter(|| wheel_insert_cancel(&mut wheel)));
    group.bench_function("binary_heap", |b| b.iter(|| heap_insert_cancel(&mut heap)));
    group.finish();
}

// ----- sleep lateness -----

/// Sleeps `duration` `iters` times in a row; returns the total time, and adds each
/// sleep's lateness (end minus deadline) to `lateness`.
///
/// # Panics
/// If a sleep ends before its deadline. The deadline is taken *before* the sleep is
/// created, so a runtime that wakes exactly at its own deadline never looks early.
fn timed_sleeps<F: Future<Output = ()>>(
    iters: u64,
    duration: Duration,
    lateness: &RefCell<Vec<Duration>>,
    block_on: &mut dyn FnMut(Pin<&mut dyn Future<Output = ()>>),
    sleep: impl Fn(Duration) -> F,
) -> Duration {
    let started = std::time::Instant::now();
    let run = async {
        // Collected locally: a `RefCell` borrow must not be held across an `.await`.
        let mut measured = Vec::with_capacity(iters as usize);
        for _ in 0..iters {
            let deadline = std::time::Instant::now() + duration;
            sleep(duration).await;
            let ended = std::time::Instant::now();
            assert!(
                ended >= deadline,
                "a {duration:?} sleep ended {:?} early",
                deadline - ended
            );
            measured.push(ended - deadline);
        }
        lateness.borrow_mut().extend(measured);
    };
    block_on(pin!(run));
    started.elapsed()
}

fn bench_lateness(c: &mut Criterion, report: &mut SideReport) {
    let looplab = looplab_runtime();
    let tokio = tokio_runtime();
    for (name, duration, measure) in [
        (
            "sleep_1ms",
            Duration::from_millis(1),
            Duration::from_secs(2),
        ),
        (
            "sleep_10ms",
            Duration::from_millis(10),
            Duration::from_secs(3),
        ),
    ] {
        let late_looplab = RefCell::new(Vec::new());
        let late_tokio = RefCell::new(Vec::new());
        let mut group = c.benchmark_group(name);
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(measure);
        group.bench_function("looplab", |b| {
            b.iter_custom(|iters| {
                timed_sleeps(
                    iters,
                    duration,
                    &late_looplab,
                    &mut |f| looplab.block_on(f),
                    looplab::time::sleep,
                )
            })
        });
        group.bench_function("tokio", |b| {
            b.iter_custom(|iters| {
                timed_sleeps(
                    iters,
                    duration,
                    &late_tokio,
                    &mut |f| tokio.block_on(f),
                    tokio::time::sleep,
                )
            })
        });
        group.finish();
        if side_runs_enabled(name) {
            for (function, late) in [("looplab", late_looplab), ("tokio", late_tokio)] {
                let late = late.borrow();
                let (mean, max) = mean_and_max_us(&late);
                report.record(name, function, "lateness_mean", mean, "us");
                report.record(name, function, "lateness_max", max, "us");
                // No "early" count: an early end fails the run (the assert in
                // `timed_sleeps`), so a report exists only if there was none.
                report.record(name, function, "sleeps", late.len() as f64, "");
            }
        }
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let mut report = SideReport::new("timers");
    bench_register_cancel(&mut criterion);
    bench_sleeps(&mut criterion, &mut report);
    bench_structures(&mut criterion);
    bench_lateness(&mut criterion, &mut report);
    report.save();
    criterion.final_summary();
}
