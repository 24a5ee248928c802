//! `spawn`: spawn 100,000 trivial tasks, then join them all.
//!
//! What a task costs when it does nothing: the allocation of the task and its join
//! slot, a place in the run queue, one poll, and handing the output to the
//! `JoinHandle`. Measured as time per task (criterion) and bytes per task (the
//! counting allocator, in a run of its own).
//!
//! Run: `cargo bench --bench spawn`.

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::{SideReport, counting, looplab_runtime, side_runs_enabled, tokio_runtime};
use criterion::{Criterion, SamplingMode, Throughput};

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

const TASKS: usize = 100_000;

/// Spawns `TASKS` tasks, then awaits every handle. With `measure`, returns the peak of
/// live bytes per task while they all exist (the handles' `Vec` is allocated before
/// counting starts, so only the tasks themselves are counted).
async fn spawn_and_join_looplab(measure: bool) -> Option<f64> {
    let mut handles = Vec::with_capacity(TASKS);
    if measure {
        counting::start();
    }
    for i in 0..TASKS {
        handles.push(looplab::spawn(async move { black_box(i) }));
    }
    for handle in handles {
        black_box(handle.await.expect("a trivial task does not panic"));
    }
    measure.then(|| counting::stop().peak_bytes as f64 / TASKS as f64)
}

async fn spawn_and_join_tokio(measure: bool) -> Option<f64> {
    let mut handles = Vec::with_capacity(TASKS);
    if measure {
        counting::start();
    }
    for i in 0..TASKS {
        handles.push(tokio::spawn(async move { black_box(i) }));
    }
    for handle in handles {
        black_box(handle.await.expect("a trivial task does not panic"));
    }
    measure.then(|| counting::stop().peak_bytes as f64 / TASKS as f64)
}

fn bench_spawn(c: &mut Criterion) {
    let looplab = looplab_runtime();
    let tokio = tokio_runtime();

    let mut group = c.benchmark_group("spawn");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(TASKS as u64));
    group.bench_function("looplab", |b| {
        b.iter(|| looplab.block_on(spawn_and_join_looplab(false)))
    });
    group.bench_function("tokio", |b| {
        b.iter(|| tokio.block_on(spawn_and_join_tokio(false)))
    });
    group.finish();
}

/// Bytes per task, five runs each, alternating; the median is reported. Each run
/// gets a new runtime: a used one keeps the capacity of its queues, and its second
/// run would look cheaper than a program's first.
fn side_runs(report: &mut SideReport) {
    if !side_runs_enabled("spawn") {
        return;
    }
    let (mut l, mut t) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        l.push(
            looplab_runtime()
                .block_on(spawn_and_join_looplab(true))
                .unwrap(),
        );
        t.push(
            tokio_runtime()
                .block_on(spawn_and_join_tokio(true))
                .unwrap(),
        );
    }
    report.record("spawn", "looplab", "bytes_per_task", median(&mut l), "B");
    report.record("spawn", "tokio", "bytes_per_task", median(&mut t), "B");
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_spawn(&mut criterion);
    let mut report = SideReport::new("spawn");
    side_runs(&mut report);
    report.save();
    criterion.final_summary();
}
