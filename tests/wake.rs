//! Wakers: a task is queued once however often it is woken, a finished task's future
//! is dropped at once, waking a finished task is harmless, and a wake from another
//! thread reaches a parked loop.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use looplab::trace::Event;
use looplab::{Recorder, Runtime};

/// Wakes itself `wakes` times during its first poll, then is ready on the second.
struct WakeManyTimes {
    wakes: usize,
    polls: Arc<AtomicUsize>,
}

impl Future for WakeManyTimes {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.polls.fetch_add(1, Ordering::SeqCst) == 0 {
            for _ in 0..self.wakes {
                cx.waker().wake_by_ref();
            }
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }
}

#[test]
fn a_task_woken_many_times_before_its_poll_is_polled_once() {
    let polls = Arc::new(AtomicUsize::new(0));
    let rt = Runtime::builder().build().unwrap();
    let p = polls.clone();
    rt.block_on(async move {
        looplab::spawn(WakeManyTimes {
            wakes: 10,
            polls: p,
        })
        .await
        .unwrap();
    });
    // One poll that woke it ten times, then exactly one more poll.
    assert_eq!(polls.load(Ordering::SeqCst), 2);
}

#[test]
fn wakes_from_another_task_while_queued_do_not_queue_twice() {
    // Task 2 grabs task 1's waker, then wakes it 5 times in one poll.
    let polls = Arc::new(AtomicUsize::new(0));
    let stash: Arc<Mutex<Option<Waker>>> = Arc::default();
    let rt = Runtime::builder().build().unwrap();
    let (p, s) = (polls.clone(), stash.clone());
    rt.block_on(async move {
        let first = looplab::spawn(std::future::poll_fn(move |cx| {
            let n = p.fetch_add(1, Ordering::SeqCst);
            if n == 0 {
                *s.lock().unwrap() = Some(cx.waker().clone());
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        }));
        let s2 = stash.clone();
        let second = looplab::spawn(async move {
            let waker = s2.lock().unwrap().take().expect("task 1 ran first");
            for _ in 0..5 {
                waker.wake_by_ref();
            }
        });
        second.await.unwrap();
        first.await.unwrap();
    });
    assert_eq!(polls.load(Ordering::SeqCst), 2);
}

/// Counts how many times it was dropped.
struct DropCounter(Arc<AtomicUsize>);
impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_finished_tasks_future_is_dropped_at_completion() {
    let drops = Arc::new(AtomicUsize::new(0));
    let stash: Arc<Mutex<Option<Waker>>> = Arc::default();
    let rt = Runtime::builder().build().unwrap();
    let (d, s) = (drops.clone(), stash.clone());
    rt.block_on(async move {
        let guard = DropCounter(d.clone());
        let handle = looplab::spawn(async move {
            // Keep a waker of this very task alive after it finishes.
            std::future::poll_fn(|cx| {
                *s.lock().unwrap() = Some(cx.waker().clone());
                Poll::Ready(())
            })
            .await;
            let _owned_by_this_task = &guard;
            7
        });
        assert_eq!(handle.await.unwrap(), 7);
        // The task is done; a waker for it still exists, yet its future (and the
        // guard it owned) is gone already.
        assert_eq!(d.load(Ordering::SeqCst), 1);
    });
    assert!(stash.lock().unwrap().is_some());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn waking_a_finished_task_is_harmless() {
    let stash: Arc<Mutex<Option<Waker>>> = Arc::default();
    let rt = Runtime::builder().build().unwrap();
    let s = stash.clone();
    let out = rt.block_on(async move {
        looplab::spawn(std::future::poll_fn(move |cx| {
            *s.lock().unwrap() = Some(cx.waker().clone());
            Poll::Ready(1)
        }))
        .await
        .unwrap();
        let waker = stash.lock().unwrap().take().unwrap();
        waker.wake_by_ref();
        waker.wake();
        // The loop goes on normally afterwards.
        looplab::spawn(async { 2 }).await.unwrap()
    });
    assert_eq!(out, 2);
    assert_eq!(rt.stats().completed, 2);
}

#[test]
fn a_wake_from_another_thread_reaches_a_parked_loop() {
    let recorder = Recorder::new();
    let rt = Runtime::builder().record(recorder.clone()).build().unwrap();
    let started = std::time::Instant::now();
    rt.block_on(async {
        let stash: Arc<Mutex<(bool, Option<Waker>)>> = Arc::default();
        let s = stash.clone();
        let task = looplab::spawn(std::future::poll_fn(move |cx| {
            let mut state = s.lock().unwrap();
            if state.0 {
                return Poll::Ready(());
            }
            state.1 = Some(cx.waker().clone());
            Poll::Pending
        }));
        // No timer and no socket: the loop parks with no timeout. Only the mio waker
        // can get it out.
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            let waker = {
                let mut state = stash.lock().unwrap();
                state.0 = true;
                state.1.take().unwrap()
            };
            waker.wake();
        });
        task.await.unwrap();
    });
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(50), "took {took:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let events = recorder.events();
    assert!(events.contains(&Event::Park {
        timeout: None,
        timers: 0,
        sources: 0
    }));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::WokenByThread { task } if task.0 == 1))
    );
    assert!(rt.stats().unparks_remote >= 1);
}

#[test]
fn spawning_outside_a_runtime_panics_naming_block_on() {
    let result = std::panic::catch_unwind(|| {
        drop(looplab::spawn(async {}));
    });
    let message = looplab::join::panic_message_of(&*result.unwrap_err());
    assert!(message.contains("outside a looplab runtime"), "{message}");
    assert!(message.contains("block_on"), "{message}");
}

#[test]
fn block_on_inside_a_running_loop_panics_with_advice() {
    let result = std::panic::catch_unwind(|| {
        looplab::block_on(async {
            looplab::block_on(async {});
        })
    });
    let message = looplab::join::panic_message_of(&*result.unwrap_err());
    assert!(
        message.contains("inside a running looplab event loop"),
        "{message}"
    );
    assert!(message.contains(".await"), "{message}");
}

#[test]
fn dropping_the_runtime_frees_a_task_awaiting_another_that_still_waits() {
    // Task `sleeper` waits an hour; task `joiner` awaits the sleeper's handle and holds
    // `owned`. The runtime is dropped with both unfinished: both futures must go with
    // it, so `owned` is back to one owner (ours). The joiner's waker sits in the
    // sleeper's join slot: kept there, it would form a cycle of `Arc`s (joiner ->
    // handle -> slot -> waker -> joiner) that nothing frees.
    let owned = Arc::new(());
    let rt = Runtime::builder().virtual_time(true).build().unwrap();
    rt.block_on({
        let owned = owned.clone();
        async move {
            let sleeper = looplab::spawn(looplab::time::sleep(Duration::from_secs(3600)));
            looplab::spawn(async move {
                let _owned = owned;
                let _ = sleeper.await;
            });
            // Let both tasks run once and start waiting, then return.
            looplab::time::sleep(Duration::from_millis(1)).await;
        }
    });
    assert_eq!(Arc::strong_count(&owned), 2, "the joiner still waits");
    drop(rt);
    assert_eq!(
        Arc::strong_count(&owned),
        1,
        "the joiner's future outlived its runtime"
    );
}
