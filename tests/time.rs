//! Sleeps, timeouts and the two clocks, through the public API.

use std::time::Duration;

use looplab::Runtime;
use looplab::time::{Elapsed, Instant, sleep, sleep_until, timeout};
use looplab::trace::Event;

fn virtual_runtime() -> Runtime {
    Runtime::builder().virtual_time(true).build().unwrap()
}

/// The post's `find_users_async`: one second per user, one user at a time.
async fn find_users(n: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        sleep(Duration::from_secs(1)).await;
    }
    start.elapsed()
}

/// The post's scenario: requests for 3, 2 and 1 users arrive together. Returns each
/// request's finish time (from the start) and the order they finished in.
fn the_posts_three_lookups(rt: &Runtime) -> (Vec<Duration>, Vec<u64>) {
    rt.block_on(async {
        let start = Instant::now();
        let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let handles: Vec<_> = [3, 2, 1]
            .into_iter()
            .map(|n| {
                let order = order.clone();
                looplab::spawn(async move {
                    find_users(n).await;
                    order.lock().unwrap().push(n);
                    start.elapsed()
                })
            })
            .collect();
        let finished: Vec<Duration> = looplab::join_all(handles)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let order = order.lock().unwrap().clone();
        (finished, order)
    })
}

#[test]
fn the_posts_lookups_finish_at_exactly_3_2_1_seconds_of_virtual_time() {
    let wall = std::time::Instant::now();
    let (finished, order) = the_posts_three_lookups(&virtual_runtime());
    assert_eq!(
        finished,
        [3, 2, 1].map(Duration::from_secs).to_vec(),
        "requests in input order"
    );
    assert_eq!(order, vec![1, 2, 3], "shortest first");
    assert!(
        wall.elapsed() < Duration::from_millis(500),
        "{:?}",
        wall.elapsed()
    );
}

#[test]
fn the_posts_lookups_take_about_3_seconds_of_real_time() {
    let rt = Runtime::builder().build().unwrap();
    let wall = std::time::Instant::now();
    let (finished, order) = the_posts_three_lookups(&rt);
    let took = wall.elapsed();
    assert_eq!(order, vec![1, 2, 3]);
    // Never early; generous on lateness (shared, noisy machines).
    assert!(took >= Duration::from_secs(3), "{took:?}");
    assert!(took < Duration::from_millis(3500), "{took:?}");
    for (got, secs) in finished.iter().zip([3, 2, 1]) {
        assert!(*got >= Duration::from_secs(secs), "{got:?}");
        assert!(
            *got < Duration::from_secs(secs) + Duration::from_millis(400),
            "{got:?}"
        );
    }
}

#[test]
fn a_real_sleep_is_never_early() {
    let rt = Runtime::builder().build().unwrap();
    rt.block_on(async {
        for ms in [1, 2, 5, 10, 25] {
            let start = std::time::Instant::now();
            sleep(Duration::from_millis(ms)).await;
            assert!(start.elapsed() >= Duration::from_millis(ms), "{ms} ms");
        }
    });
}

#[test]
fn sleep_zero_completes_without_parking() {
    let recorder = looplab::Recorder::new();
    let rt = Runtime::builder().record(recorder.clone()).build().unwrap();
    rt.block_on(async {
        sleep(Duration::ZERO).await;
        sleep_until(Instant::now()).await;
    });
    let events = recorder.events();
    assert!(
        !events.iter().any(|e| matches!(e, Event::Park { .. })),
        "{events:?}"
    );
    assert!(!events.iter().any(|e| matches!(e, Event::TimerArmed { .. })));
    assert_eq!(rt.stats().polls, 1);
}

#[test]
fn sleep_until_ends_at_the_instant() {
    let rt = virtual_runtime();
    let at = rt.block_on(async {
        let deadline = Instant::now() + Duration::from_millis(1500);
        sleep_until(deadline).await;
        Instant::now() - deadline
    });
    assert_eq!(at, Duration::ZERO);
}

#[test]
fn sub_millisecond_deadlines_round_up_never_early() {
    let rt = virtual_runtime();
    let end = rt.block_on(async {
        sleep(Duration::from_micros(1500)).await;
        Instant::now().since_start()
    });
    assert_eq!(end, Duration::from_millis(2));
}

#[test]
fn timeout_returns_the_value_when_the_future_is_in_time() {
    let rt = virtual_runtime();
    let out = rt.block_on(async {
        timeout(Duration::from_secs(2), async {
            sleep(Duration::from_secs(1)).await;
            "answer"
        })
        .await
    });
    assert_eq!(out, Ok("answer"));
    // The timeout's own timer was cancelled, not left to fire.
    assert_eq!(rt.pending_resources(), (0, 0));
    assert_eq!(rt.stats().timers_cancelled, 1);
}

#[test]
fn timeout_gives_elapsed_at_exactly_the_deadline() {
    let rt = virtual_runtime();
    let (out, at) = rt.block_on(async {
        let out = timeout(Duration::from_secs(1), sleep(Duration::from_secs(5))).await;
        (out, Instant::now().since_start())
    });
    let err: Elapsed = out.unwrap_err();
    assert_eq!(err.to_string(), "timed out after 1s");
    assert_eq!(at, Duration::from_secs(1));
    assert_eq!(rt.pending_resources(), (0, 0));
}

#[test]
fn dropping_100_000_sleeps_leaves_the_wheel_empty() {
    let rt = virtual_runtime();
    rt.block_on(async {
        let mut sleeps: Vec<_> = (0..100_000u64)
            .map(|i| Box::pin(sleep(Duration::from_millis(1 + i % 5_000))))
            .collect();
        // Poll each once so every one of them arms a timer.
        std::future::poll_fn(|cx| {
            for s in sleeps.iter_mut() {
                assert!(s.as_mut().poll(cx).is_pending());
            }
            std::task::Poll::Ready(())
        })
        .await;
        let (armed, _) = looplab::time::timers_in_wheel();
        assert_eq!(armed, 100_000);
        drop(sleeps);
        assert_eq!(looplab::time::timers_in_wheel().0, 0);
    });
    assert_eq!(rt.pending_resources(), (0, 0));
    assert_eq!(rt.stats().timers_cancelled, 100_000);
}

#[test]
fn many_concurrent_sleeps_each_end_at_their_own_deadline() {
    let rt = virtual_runtime();
    let ends = rt.block_on(async {
        let handles: Vec<_> = (1..=1000u64)
            .map(|ms| {
                looplab::spawn(async move {
                    sleep(Duration::from_millis(ms * 37)).await;
                    (ms * 37, Instant::now().since_start())
                })
            })
            .collect();
        looplab::join_all(handles).await
    });
    for end in ends {
        let (asked, got) = end.unwrap();
        assert_eq!(got, Duration::from_millis(asked));
    }
}

#[test]
fn instant_now_outside_a_runtime_panics_naming_block_on() {
    let err = std::panic::catch_unwind(Instant::now).unwrap_err();
    let message = looplab::join::panic_message_of(&*err);
    assert!(message.contains("block_on"), "{message}");
}

#[test]
fn a_sleep_polled_in_another_runtime_fails_its_task_not_the_other_runtimes_timers() {
    // A sleep armed in runtime A names a slot of A's wheel. Polled in runtime B, that
    // key would find one of B's own timers; it must fail its task with a clear message
    // instead, and B's timers must go on as if nothing happened.
    let a = Runtime::builder().virtual_time(true).build().unwrap();
    let mut armed_in_a = None;
    a.block_on(async {
        let mut sleep = Box::pin(looplab::time::sleep(Duration::from_secs(60)));
        // One poll arms its timer in A's wheel.
        let _ = futures::poll!(sleep.as_mut());
        armed_in_a = Some(sleep);
    });
    let from_a = armed_in_a.unwrap();
    let b = Runtime::builder().virtual_time(true).build().unwrap();
    let (error, b_slept) = b.block_on(async move {
        let own = looplab::spawn(async {
            let started = looplab::time::Instant::now();
            looplab::time::sleep(Duration::from_secs(1)).await;
            started.elapsed()
        });
        let foreign = looplab::spawn(from_a);
        (foreign.await.unwrap_err(), own.await.unwrap())
    });
    assert!(
        error.panic_message().contains("another runtime"),
        "{error:?}"
    );
    assert_eq!(b_slept, Duration::from_secs(1));
}
