//! `tasks`: what holding many tasks at once costs, the shape of a server with many
//! connections.
//!
//! - `spawn_fresh_200k`: build a runtime, spawn 200,000 trivial tasks holding every
//!   handle, join them all, drop the runtime: the whole of a small program, as a user
//!   writes it, so the runtime's first allocations (its run queue growing, its task
//!   table) are in the measurement.
//! - bytes per waiting task (side report): 100,000 tasks that each wait on a 60 s
//!   sleep, every handle held, counted by the counting allocator once all of them
//!   wait. The runtime is then dropped, which cancels them.
//!
//! Run: `cargo bench --bench tasks`.

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::{SideReport, counting, looplab_runtime, side_runs_enabled, tokio_runtime};
use criterion::{Criterion, SamplingMode, Throughput};

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

const HELD: usize = 200_000;
const WAITING: usize = 100_000;

fn spawn_fresh_looplab() {
    let runtime = looplab_runtime();
    runtime.block_on(async {
        let handles: Vec<_> = (0..HELD)
            .map(|i| looplab::spawn(async move { black_box(i) }))
            .collect();
        for handle in handles {
            black_box(handle.await.expect("a trivial task does not panic"));
        }
    });
}

fn spawn_fresh_tokio() {
    let runtime = tokio_runtime();
    runtime.block_on(async {
        let handles: Vec<_> = (0..HELD)
            .map(|i| tokio::spawn(async move { black_box(i) }))
            .collect();
        for handle in handles {
            black_box(handle.await.expect("a trivial task does not panic"));
        }
    });
}

fn bench_spawn_fresh(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_fresh_200k");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(HELD as u64));
    group.bench_function("looplab", |b| b.iter(spawn_fresh_looplab));
    group.bench_function("tokio", |b| b.iter(spawn_fresh_tokio));
    group.finish();
}

/// Peak live bytes per task while `WAITING` tasks each wait on a 60 s sleep.
fn waiting_bytes_looplab() -> f64 {
    let runtime = looplab_runtime();
    runtime.block_on(async {
        let mut handles = Vec::with_capacity(WAITING);
        counting::start();
        for _ in 0..WAITING {
            handles.push(looplab::spawn(looplab::time::sleep(Duration::from_secs(
                60,
            ))));
        }
        // Main's own short sleep lets the loop poll every task once: each arms its
        // timer and waits.
        looplab::time::sleep(Duration::from_millis(1)).await;
        let bytes = counting::stop().peak_bytes as f64 / WAITING as f64;
        assert_eq!(looplab::time::timers_in_wheel().0, WAITING);
        black_box(&handles);
        bytes
    })
}

fn waiting_bytes_tokio() -> f64 {
    let runtime = tokio_runtime();
    runtime.block_on(async {
        let mut handles = Vec::with_capacity(WAITING);
        counting::start();
        for _ in 0..WAITING {
            handles.push(tokio::spawn(tokio::time::sleep(Duration::from_secs(60))));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        let bytes = counting::stop().peak_bytes as f64 / WAITING as f64;
        black_box(&handles);
        bytes
    })
}

/// Five runs each, alternating; the median is reported. Each run builds its own
/// runtime, as a program would.
fn side_runs(report: &mut SideReport) {
    if !side_runs_enabled("waiting") {
        return;
    }
    let (mut l, mut t) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        l.push(waiting_bytes_looplab());
        t.push(waiting_bytes_tokio());
    }
    report.record("waiting", "looplab", "bytes_per_task", median(&mut l), "B");
    report.record("waiting", "tokio", "bytes_per_task", median(&mut t), "B");
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_spawn_fresh(&mut criterion);
    let mut report = SideReport::new("tasks");
    side_runs(&mut report);
    report.save();
    criterion.final_summary();
}
