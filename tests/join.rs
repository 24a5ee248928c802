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

/// A task that awaits its own `JoinHandle` would wait for itself forever; the handle
/// resolves at once to an error that says so, and the task goes on.
#[test]
fn a_task_awaiting_its_own_handle_gets_an_error_instead_of_spinning() {
    use std::sync::{Arc, Mutex};
    let rt = Runtime::builder().virtual_time(true).build().unwrap();
    let slot: Arc<Mutex<Option<looplab::JoinHandle<&'static str>>>> = Arc::default();
    let (tx, rx) = std::sync::mpsc::channel();
    rt.block_on({
        let slot = slot.clone();
        async move {
            let its_slot = slot.clone();
            let handle = looplab::spawn(async move {
                // Wait a turn, so main has put the handle in the slot.
                sleep(Duration::from_millis(1)).await;
                let own = its_slot.lock().unwrap().take().expect("the handle");
                let error = own.await.expect_err("a task cannot finish before itself");
                tx.send(error).unwrap();
                "went on"
            });
            let id = handle.id();
            *slot.lock().unwrap() = Some(handle);
            sleep(Duration::from_secs(1)).await;
            id
        }
    });
    let error = rx.try_recv().expect("the self-await returned");
    assert!(error.is_self_await());
    assert!(!error.is_panic());
    assert_eq!(error.panic_message(), "");
    let message = error.to_string();
    assert!(
        message.contains("awaited its own JoinHandle") && message.contains("task 1"),
        "{message}"
    );
    // No spinning: a handful of turns, not thousands.
    assert!(rt.stats().turns < 10, "{} turns", rt.stats().turns);
}

#[test]
fn a_panic_is_a_panic_and_not_a_self_await() {
    let rt = Runtime::builder().virtual_time(true).build().unwrap();
    let error = rt.block_on(async { looplab::spawn(async { panic!("boom") }).await.unwrap_err() });
    assert!(error.is_panic());
    assert!(!error.is_self_await());
    assert_eq!(error.panic_message(), "boom");
}

/// A handle awaited off the loop: by a plain thread (`futures::executor::block_on`) and
/// by another looplab runtime on another thread. The task finishes on its own loop,
/// which locks the output cell and wakes the waiter there.
#[test]
fn a_handle_awaited_on_another_thread_or_runtime_gets_the_value() {
    let rt = Runtime::builder().build().unwrap();
    let (a, b) = rt.block_on(async {
        let first = looplab::spawn(async {
            sleep(Duration::from_millis(20)).await;
            "plain thread"
        });
        let second = looplab::spawn(async {
            // Woken by itself, mid-poll, fifty times: each wake comes while the
            // loop holds the task out of its slot.
            for _ in 0..50 {
                let mut yielded = false;
                std::future::poll_fn(|cx| {
                    if yielded {
                        return std::task::Poll::Ready(());
                    }
                    yielded = true;
                    cx.waker().wake_by_ref();
                    std::task::Poll::Pending
                })
                .await;
            }
            sleep(Duration::from_millis(30)).await;
            "other runtime"
        });
        let a = std::thread::spawn(move || futures::executor::block_on(first));
        let b = std::thread::spawn(move || looplab::block_on(second));
        // Keep the loop busy until both threads are done.
        while !(a.is_finished() && b.is_finished()) {
            sleep(Duration::from_millis(5)).await;
        }
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(a, Ok("plain thread"));
    assert_eq!(b, Ok("other runtime"));
}

/// A future that is ready at once and panics when it is dropped: the loop drops it
/// right after `Ready`, before it hands the output to the handle.
struct ReadyThenPanicsOnDrop;

impl std::future::Future for ReadyThenPanicsOnDrop {
    type Output = u32;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<u32> {
        std::task::Poll::Ready(7)
    }
}

impl Drop for ReadyThenPanicsOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("drop boom");
        }
    }
}

/// A panic in a finished future's drop is the task's panic: it stays in its task,
/// the loop goes on, and the handle reports it instead of waiting for a future that
/// is gone.
#[test]
fn a_panic_in_a_finished_futures_drop_fails_its_handle_and_not_the_loop() {
    let rt = Runtime::builder().virtual_time(true).build().unwrap();
    // Main returns at its first poll: the task is spawned but not polled yet.
    #[allow(clippy::async_yields_async)] // the handle is the point: awaited below
    let handle = rt.block_on(async { looplab::spawn(ReadyThenPanicsOnDrop) });
    let escaped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async { sleep(Duration::from_millis(1)).await })
    }));
    assert!(escaped.is_ok(), "the drop's panic escaped block_on");
    assert!(
        handle.is_finished(),
        "the future is gone but the task is not finished"
    );
    let joined = rt
        .block_on(async { looplab::time::timeout(Duration::from_secs(1), handle).await })
        .expect("the handle never became ready");
    let error = joined.expect_err("the drop panicked, so the task did");
    assert!(error.is_panic());
    assert_eq!(error.panic_message(), "drop boom");
}
