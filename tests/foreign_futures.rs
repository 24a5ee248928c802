//! looplab runs futures it did not write: the `futures` crate's channels and macros
//! only need a `Waker` that works, from any thread.

use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use futures::{FutureExt, StreamExt};
use looplab::Runtime;
use looplab::time::sleep;

#[test]
fn a_oneshot_sent_from_another_thread_completes_the_task() {
    let value = looplab::block_on(async {
        let (tx, rx) = oneshot::channel();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx.send(42).unwrap();
        });
        looplab::spawn(rx).await.unwrap()
    });
    assert_eq!(value, Ok(42));
}

#[test]
fn futures_join_runs_both_branches_concurrently() {
    let rt = Runtime::builder().virtual_time(true).build().unwrap();
    let (a, b, took) = rt.block_on(async {
        let start = looplab::time::Instant::now();
        let (a, b) = futures::join!(
            async {
                sleep(Duration::from_secs(2)).await;
                "two"
            },
            async {
                sleep(Duration::from_secs(1)).await;
                "one"
            }
        );
        (a, b, start.elapsed())
    });
    assert_eq!((a, b), ("two", "one"));
    assert_eq!(took, Duration::from_secs(2));
}

#[test]
fn futures_select_takes_the_first_and_drops_the_loser() {
    let rt = Runtime::builder().virtual_time(true).build().unwrap();
    let winner = rt.block_on(async {
        let mut slow = Box::pin(sleep(Duration::from_secs(10)).fuse());
        let mut fast = Box::pin(sleep(Duration::from_secs(1)).fuse());
        futures::select! {
            _ = slow => "slow",
            _ = fast => "fast",
        }
    });
    assert_eq!(winner, "fast");
    // Both sleeps were dropped after the select: their timers are gone.
    assert_eq!(rt.pending_resources(), (0, 0));
}

#[test]
fn an_mpsc_stream_fed_from_a_thread_is_read_to_the_end() {
    let items = looplab::block_on(async {
        let (mut tx, rx) = mpsc::channel::<u32>(4);
        std::thread::spawn(move || {
            for i in 0..100 {
                futures::executor::block_on(futures::SinkExt::send(&mut tx, i)).unwrap();
            }
        });
        looplab::spawn(rx.collect::<Vec<u32>>()).await.unwrap()
    });
    assert_eq!(items, (0..100).collect::<Vec<_>>());
}
