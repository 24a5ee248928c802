//! `wake`: two tasks ping-pong a number through two channels, 100,000 round trips.
//!
//! Unlike `yield`, no task wakes itself: each message wakes the *other* task, the way
//! a socket event or a finished job wakes the task waiting for it. One wake costs a
//! trip through the waker (for looplab: futures-task's `ArcWake` to
//! `Task::schedule_on`, a flag and a push on the run queue) and the poll that follows.
//!
//! Both runtimes use the same channel (`futures::channel::mpsc`, which belongs to
//! neither), so the difference is the runtimes' wake-and-poll path alone.
//!
//! Run: `cargo bench --bench wake`.

mod common;

use std::time::Duration;

use common::{looplab_runtime, tokio_runtime};
use criterion::{Criterion, SamplingMode, Throughput};
use futures::StreamExt;
use futures::channel::mpsc;

const ROUND_TRIPS: u64 = 100_000;

/// Two wakes per round trip: ping wakes pong, pong wakes ping.
const WAKES: u64 = 2 * ROUND_TRIPS;

type Pair = (
    (mpsc::UnboundedSender<u64>, mpsc::UnboundedReceiver<u64>),
    (mpsc::UnboundedSender<u64>, mpsc::UnboundedReceiver<u64>),
);

/// The two ends of the game: `ping` sends and waits for the answer, `pong` answers.
fn players() -> (
    impl Future<Output = u64> + Send + 'static,
    impl Future<Output = ()> + Send + 'static,
) {
    let ((to_pong, mut pong_inbox), (to_ping, mut ping_inbox)): Pair =
        (mpsc::unbounded(), mpsc::unbounded());
    let ping = async move {
        let mut n = 0;
        for _ in 0..ROUND_TRIPS {
            to_pong.unbounded_send(n).unwrap();
            n = ping_inbox.next().await.unwrap();
        }
        n
    };
    let pong = async move {
        while let Some(n) = pong_inbox.next().await {
            if to_ping.unbounded_send(n + 1).is_err() {
                break;
            }
        }
    };
    (ping, pong)
}

fn bench_wake(c: &mut Criterion) {
    let looplab = looplab_runtime();
    let tokio = tokio_runtime();

    let mut group = c.benchmark_group("wake");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(WAKES));
    group.bench_function("looplab", |b| {
        b.iter(|| {
            looplab.block_on(async {
                let (ping, pong) = players();
                let pong = looplab::spawn(pong);
                let n = looplab::spawn(ping).await.unwrap();
                pong.await.unwrap();
                assert_eq!(n, ROUND_TRIPS);
            })
        })
    });
    group.bench_function("tokio", |b| {
        b.iter(|| {
            tokio.block_on(async {
                let (ping, pong) = players();
                let pong = tokio::spawn(pong);
                let n = tokio::spawn(ping).await.unwrap();
                pong.await.unwrap();
                assert_eq!(n, ROUND_TRIPS);
            })
        })
    });
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_wake(&mut criterion);
    criterion.final_summary();
}
