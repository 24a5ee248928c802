//! `JoinHandle` and `join_all`: results come back, in input order.

use std::time::Duration;

use looplab::Runtime;
use looplab::time::{Instant, sleep};

#[test]
fn join_all_returns_results_in_input_order_not_finish_order() {
    let rt = Runtime::builder().virtual_time(true).build().unwrap();
    let (results, finish_order) = rt.block_on(async {
        let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let handles: Vec<_> = [3u64, 1, 2]
            .into_iter()
            .map(|secs| {
                let order = order.clone();
                looplab::spawn(async move {
                    sleep(Duration::from_secs(secs)).await;
                    order.lock().unwrap().push(secs);
                    secs * 10
                })
            })
            .collect();
        let results = looplab::join_all(handles).await;
        let finish_order = order.lock().unwrap().clone();
        (results, finish_order)
    });
    assert_eq!(results, vec![Ok(30), Ok(10), Ok(20)]);
    assert_eq!(finish_order, vec![1, 2, 3]);
}

#[test]
fn join_all_of_plain_futures_runs_them_concurrently() {
    let rt = Runtime::builder().virtual_time(true).build().unwrap();
    let took = rt.block_on(async {
        let start = Instant::now();
        let out = looplab::join_all((1..=3).map(|n| async move {
            sleep(Duration::from_secs(n)).await;
            n
        }))
        .await;
        assert_eq!(out, vec![1, 2, 3]);
        start.elapsed()
    });
    assert_eq!(took, Duration::from_secs(3));
}

#[test]
fn join_all_of_nothing_is_ready_at_once() {
    let out: Vec<u8> = looplab::block_on(looplab::join_all(Vec::<std::future::Ready<u8>>::new()));
    assert!(out.is_empty());
}

#[test]
fn a_handle_awaited_long_after_its_task_finished_still_gets_the_value() {
    let rt = Runtime::builder().virtual_time(true).build().unwrap();
    let out = rt.block_on(async {
        let handle = looplab::spawn(async { "early" });
        sleep(Duration::from_secs(10)).await;
        assert!(handle.is_finished());
        handle.await
    });
    assert_eq!(out, Ok("early"));
}

#[test]
fn spawned_tasks_start_at_the_next_turn_not_inside_spawn() {
    let rt = Runtime::builder().build().unwrap();
    rt.block_on(async {
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let f = flag.clone();
        let handle = looplab::spawn(async move {
            f.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        assert!(!flag.load(std::sync::atomic::Ordering::SeqCst));
        handle.await.unwrap();
        assert!(flag.load(std::sync::atomic::Ordering::SeqCst));
    });
}

// The first block_on returns a JoinHandle on purpose: it is awaited by the second.
#[allow(clippy::async_yields_async)]
#[test]
fn unfinished_tasks_wait_for_the_next_block_on_of_the_same_runtime() {
    let rt = Runtime::builder().virtual_time(true).build().unwrap();
    let handle = rt.block_on(async {
        looplab::spawn(async {
            sleep(Duration::from_secs(5)).await;
            "later"
        })
    });
    assert_eq!(rt.block_on(handle), Ok("later"));
}
