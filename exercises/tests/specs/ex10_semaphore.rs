//! Spec of exercise 10: `Semaphore` and `LimitedClient` (chapter 8).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex10_semaphore
//! ```
//!
//! Add `-- --nocapture` to see the timeline of the limited lookups.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use super::answer::{LimitedClient, Semaphore};
use looplab::lookup::directory::{Directory, DirectoryConfig, StopSignal};
use looplab::lookup::report::{Mode, RequestReport, RunReport, Span};
use looplab::lookup::timeline::render_timeline;
use looplab::time::{Instant, sleep, timeout};

use crate::common::{virtual_runtime, within};

const LIMIT: Duration = Duration::from_secs(60);

pub fn at_most_k_tasks_hold_a_permit_and_they_get_it_in_the_order_they_asked() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    virtual_runtime().block_on(async move {
        let semaphore = Arc::new(Semaphore::new(2));
        assert_eq!(semaphore.available_permits(), 2);
        let start = Instant::now();
        let tasks: Vec<_> = (1..=5)
            .map(|task| {
                let (semaphore, log) = (semaphore.clone(), log2.clone());
                looplab::spawn(async move {
                    let _permit = semaphore.acquire().await;
                    log.lock().unwrap().push((task, start.elapsed()));
                    sleep(Duration::from_secs(1)).await;
                })
            })
            .collect();
        for result in within(
            LIMIT,
            "five tasks sharing two permits",
            looplab::join_all(tasks),
        )
        .await
        {
            result.expect("a task failed");
        }
        assert_eq!(semaphore.available_permits(), 2, "every permit came back");
    });
    let secs = |s| Duration::from_secs(s);
    assert_eq!(
        *log.lock().unwrap(),
        [
            (1, secs(0)),
            (2, secs(0)),
            (3, secs(1)),
            (4, secs(1)),
            (5, secs(2))
        ],
        "(task, when it got its permit)"
    );
}

pub fn a_task_that_asks_later_does_not_overtake_one_that_waits() {
    // One permit. A holds it until 1 s; B asks at 0.5 s and waits. C asks at 1 s, in
    // the same turn as A gives the permit back and before B is polled again: the permit
    // is B's all the same.
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    virtual_runtime().block_on(async move {
        let semaphore = Arc::new(Semaphore::new(1));
        let task = |name: &'static str, asks_at: u64, holds: u64| {
            let (semaphore, log) = (semaphore.clone(), log2.clone());
            looplab::spawn(async move {
                sleep(Duration::from_millis(asks_at)).await;
                let _permit = semaphore.acquire().await;
                log.lock().unwrap().push(name);
                sleep(Duration::from_millis(holds)).await;
            })
        };
        let tasks = [task("A", 0, 1000), task("C", 1000, 10), task("B", 500, 10)];
        for result in within(
            LIMIT,
            "three tasks sharing one permit",
            looplab::join_all(tasks),
        )
        .await
        {
            result.expect("a task failed");
        }
    });
    assert_eq!(
        *log.lock().unwrap(),
        ["A", "B", "C"],
        "who got the permit, in order"
    );
}

pub fn a_waiter_that_gives_up_leaves_no_permit_behind() {
    virtual_runtime().block_on(async {
        let semaphore = Semaphore::new(1);

        // A waiter that times out leaves the queue...
        let held = semaphore.acquire().await;
        assert!(
            timeout(Duration::from_millis(100), semaphore.acquire())
                .await
                .is_err()
        );
        drop(held);
        assert_eq!(
            semaphore.available_permits(),
            1,
            "nobody waits: the permit is free"
        );

        // ...and one that was handed the permit but is dropped before it is polled
        // again must pass the permit on.
        let held = semaphore.acquire().await;
        let mut waiter = Box::pin(semaphore.acquire());
        let first_poll =
            std::future::poll_fn(|cx| Poll::Ready(waiter.as_mut().poll(cx).is_pending())).await;
        assert!(first_poll, "one permit, held: the waiter must wait");
        drop(held); // the permit goes to the waiter...
        drop(waiter); // ...which gives up without ever seeing it
        let again = within(
            Duration::from_secs(10),
            "acquiring the permit a dropped waiter was handed",
            semaphore.acquire(),
        )
        .await;
        drop(again);
        assert_eq!(semaphore.available_permits(), 1);
    });
}

pub fn a_waiter_moved_to_another_task_wakes_the_task_that_polled_it_last() {
    // The waiter is polled once by main (queued with main's waker), then moved into a
    // new task that awaits it. The release must wake that task, not main.
    virtual_runtime().block_on(async {
        // 'static, so that a waiter borrowing it can move into a spawned task.
        let semaphore: &'static Semaphore = Box::leak(Box::new(Semaphore::new(1)));
        let held = semaphore.acquire().await;
        let mut waiter = Box::pin(semaphore.acquire());
        let queued =
            std::future::poll_fn(|cx| Poll::Ready(waiter.as_mut().poll(cx).is_pending())).await;
        assert!(queued, "one permit, held: the waiter must wait");
        let moved = looplab::spawn(async move {
            drop(within(Duration::from_secs(10), "the moved waiter", waiter).await);
            Instant::now().since_start()
        });
        sleep(Duration::from_secs(1)).await;
        drop(held);
        let got_it_at = within(LIMIT, "the task holding the moved waiter", moved)
            .await
            .expect("the task failed");
        // The time limit, when it fires, polls the waiter once more and would find the
        // permit: only the time shows whether the release woke the right task.
        assert_eq!(
            got_it_at,
            Duration::from_secs(1),
            "the permit was released at 1 s, but the task awaiting the moved waiter got \
             it only when its time limit polled it: the release woke the task that \
             polled the waiter first (main), not the one awaiting it now"
        );
    });
}

/// Runs `requests` lookups of one user each through one `LimitedClient` allowing
/// `max_calls` calls at once, against a directory taking `delay` per user, all in one
/// runtime under virtual time. Returns what each request measured.
fn limited_lookups(requests: usize, max_calls: usize, delay: Duration) -> RunReport {
    virtual_runtime().block_on(async move {
        let server = Directory::bind("127.0.0.1:0", DirectoryConfig::with_delay(delay)).unwrap();
        let directory = server.local_addr().unwrap();
        let stop = StopSignal::new();
        let serving = {
            let stop = stop.clone();
            looplab::spawn(async move { server.serve_until(stop.fired()).await })
        };
        let client = LimitedClient::new(directory, max_calls);
        let start = Instant::now();
        let tasks: Vec<_> = (1..=requests as u64)
            .map(|id| {
                let client = client.clone();
                looplab::spawn(async move {
                    let user = client.get_user(id).await.expect("the lookup failed");
                    assert_eq!(user.id, id);
                    start.elapsed()
                })
            })
            .collect();
        let ends = within(LIMIT, "the limited lookups", looplab::join_all(tasks)).await;
        stop.fire();
        serving.await.unwrap();
        let requests: Vec<RequestReport> = ends
            .into_iter()
            .map(|end| {
                let end = end.expect("a lookup task failed");
                RequestReport {
                    users: 1,
                    start: Duration::ZERO,
                    latency: end,
                    lookups: vec![Span {
                        start: end.saturating_sub(delay),
                        end,
                    }],
                }
            })
            .collect();
        RunReport {
            mode: Mode::EventLoop,
            virtual_time: true,
            total: start.elapsed(),
            delay: Some(delay),
            requests,
        }
    })
}

pub fn six_lookups_through_a_client_limited_to_two_calls_finish_in_pairs() {
    let wall = std::time::Instant::now();
    let run = limited_lookups(6, 2, Duration::from_secs(1));
    println!("six lookups of one user, at most 2 calls at once:\n");
    println!("{}", render_timeline(std::slice::from_ref(&run), 60));
    let latencies: Vec<u64> = run.requests.iter().map(|r| r.latency.as_secs()).collect();
    let exact = run.requests.iter().all(|r| r.latency.subsec_nanos() == 0);
    assert_eq!(
        latencies,
        [1, 1, 2, 2, 3, 3],
        "latency of each request, in seconds"
    );
    assert!(
        exact,
        "virtual time: whole seconds, exactly ({:?})",
        run.requests
    );
    assert!(
        wall.elapsed() < Duration::from_secs(5),
        "virtual time costs no wall time"
    );
}

pub fn with_a_limit_of_six_the_six_lookups_all_overlap() {
    let run = limited_lookups(6, 6, Duration::from_secs(1));
    let latencies: Vec<Duration> = run.requests.iter().map(|r| r.latency).collect();
    assert_eq!(latencies, [Duration::from_secs(1); 6]);
}

/// The tests above, listed once for the two kinds of target that run them: the
/// exercise's own spec target makes each a `#[test]` (`with_tests!(as_tests)`), and
/// `wrong_solutions.rs`, which has no test harness, a table it calls in turn
/// (`with_tests!(as_table)`). Both macros are in `common/mod.rs`.
macro_rules! with_tests {
    ($then:ident) => {
        $then! {
            at_most_k_tasks_hold_a_permit_and_they_get_it_in_the_order_they_asked,
            a_task_that_asks_later_does_not_overtake_one_that_waits,
            a_waiter_that_gives_up_leaves_no_permit_behind,
            a_waiter_moved_to_another_task_wakes_the_task_that_polled_it_last,
            six_lookups_through_a_client_limited_to_two_calls_finish_in_pairs,
            with_a_limit_of_six_the_six_lookups_all_overlap,
        }
    };
}
pub(crate) use with_tests;
