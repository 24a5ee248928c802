//! `yield`: two tasks hand the turn back and forth 1,000,000 times; beside them, two
//! OS threads hand a message back and forth over a channel.
//!
//! A task switch on an event loop is a function return and a function call: the task
//! returns `Pending` (its state already saved in its future), the loop takes the next
//! task from the run queue and polls it. A thread switch goes through the kernel: the
//! thread blocks on the channel, the scheduler saves its registers, picks the other
//! thread and restores it (on two cores, the other thread is woken on the other core,
//! through a futex, which costs the same order of magnitude). This is the source post's
//! "context switch", measured.
//!
//! Run: `cargo bench --bench yield_now`.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::yield_now::yield_now;
use common::{looplab_runtime, tokio_runtime};
use criterion::{Criterion, SamplingMode, Throughput};

/// Task switches per iteration: each of the two tasks yields half of them.
const SWITCHES: u64 = 1_000_000;

/// Thread switches per iteration: fewer, since each costs microseconds.
const THREAD_SWITCHES: u64 = 100_000;

async fn yield_loop_looplab() {
    for _ in 0..SWITCHES / 2 {
        yield_now().await;
    }
}

async fn yield_loop_tokio() {
    for _ in 0..SWITCHES / 2 {
        tokio::task::yield_now().await;
    }
}

/// Two threads pass a counter back and forth; every pass blocks one thread and wakes
/// the other, so each pass is one thread switch.
fn thread_ping_pong() {
    let (to_pong, from_ping) = mpsc::channel::<u64>();
    let (to_ping, from_pong) = mpsc::channel::<u64>();
    let pong = std::thread::spawn(move || {
        for n in from_ping {
            if to_ping.send(n + 1).is_err() {
                break;
            }
        }
    });
    let mut n = 0;
    for _ in 0..THREAD_SWITCHES / 2 {
        to_pong.send(n).unwrap();
        n = from_pong.recv().unwrap();
    }
    assert_eq!(n, THREAD_SWITCHES / 2);
    drop(to_pong);
    pong.join().unwrap();
}

fn bench_yield(c: &mut Criterion) {
    let looplab = looplab_runtime();
    let tokio = tokio_runtime();

    let mut group = c.benchmark_group("yield");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(SWITCHES));
    group.bench_function("looplab", |b| {
        b.iter(|| {
            looplab.block_on(async {
                let a = looplab::spawn(yield_loop_looplab());
                let b = looplab::spawn(yield_loop_looplab());
                a.await.unwrap();
                b.await.unwrap();
            })
        })
    });
    group.bench_function("tokio", |b| {
        b.iter(|| {
            tokio.block_on(async {
                let a = tokio::spawn(yield_loop_tokio());
                let b = tokio::spawn(yield_loop_tokio());
                a.await.unwrap();
                b.await.unwrap();
            })
        })
    });
    group.throughput(Throughput::Elements(THREAD_SWITCHES));
    group.bench_function("os_threads", |b| b.iter(thread_ping_pong));
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_yield(&mut criterion);
    criterion.final_summary();
}
