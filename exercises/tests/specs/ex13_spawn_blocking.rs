//! Spec of exercise 13: `BlockingPool::spawn_blocking` (chapter 9).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex13_spawn_blocking
//! ```
//!
//! Real time (a blocked thread cannot be skipped by a virtual clock), so these tests
//! take a few hundred milliseconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::answer::BlockingPool;
use looplab::time::{Instant, sleep};

use crate::common::{ms, real_runtime, watchdog, within};

pub fn blocking_jobs_run_two_at_a_time_on_the_pool_while_the_loop_keeps_ticking() {
    let _watchdog = watchdog(Duration::from_secs(20), "four blocking jobs on two threads");
    let pool = Arc::new(BlockingPool::new(2));
    let running = Arc::new(AtomicUsize::new(0));
    let most_at_once = Arc::new(AtomicUsize::new(0));
    let loop_thread = std::thread::current().id();
    let rt = real_runtime();
    let (results, jobs_took, ticks) = rt.block_on(async {
        // A task that wants the loop every 10 ms, all along.
        let ticker = looplab::spawn(async {
            let mut at = Vec::new();
            for _ in 0..30 {
                sleep(ms(10)).await;
                at.push(Instant::now());
            }
            at
        });
        let start = Instant::now();
        let jobs: Vec<_> = (0..4)
            .map(|i| {
                let (running, most) = (running.clone(), most_at_once.clone());
                pool.spawn_blocking(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    // The post's `time.sleep`: this thread can do nothing else meanwhile.
                    std::thread::sleep(ms(100));
                    running.fetch_sub(1, Ordering::SeqCst);
                    (i, std::thread::current().id())
                })
            })
            .collect();
        let results = within(
            Duration::from_secs(10),
            "the four jobs",
            looplab::join_all(jobs),
        )
        .await;
        let jobs_took = start.elapsed();
        let ticks = within(Duration::from_secs(10), "the ticker", ticker)
            .await
            .unwrap();
        (results, jobs_took, ticks)
    });
    let results: Vec<_> = results
        .into_iter()
        .map(|r| r.expect("a job panicked"))
        .collect();
    assert_eq!(
        results.iter().map(|r| r.0).collect::<Vec<_>>(),
        [0, 1, 2, 3],
        "results in order"
    );
    assert!(
        results.iter().all(|r| r.1 != loop_thread),
        "every job must run on a pool thread, never on the loop's"
    );
    assert_eq!(
        most_at_once.load(Ordering::SeqCst),
        2,
        "two threads: two jobs at a time"
    );
    assert!(
        jobs_took >= ms(195) && jobs_took < ms(450),
        "4 jobs of 100 ms on 2 threads take about 200 ms, not {jobs_took:?}"
    );
    let worst_gap = ticks.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(
        worst_gap < ms(80),
        "the loop was blocked: a 10 ms ticker waited {worst_gap:?} between two ticks"
    );
}

pub fn the_pool_thread_wakes_the_parked_loop_instead_of_the_loop_polling_again_and_again() {
    let _watchdog = watchdog(Duration::from_secs(20), "one blocking job");
    let pool = BlockingPool::new(1);
    let rt = real_runtime();
    let answer = rt.block_on(async {
        let job = pool.spawn_blocking(|| {
            std::thread::sleep(ms(100));
            42
        });
        within(Duration::from_secs(10), "the job", job).await
    });
    assert_eq!(answer, Ok(42));
    let stats = rt.stats();
    assert!(
        stats.polls <= 5,
        "the future was polled {} times in 100 ms: it must sleep until the pool thread \
         wakes it, not ask again and again",
        stats.polls
    );
    assert!(
        stats.unparks_remote >= 1,
        "the loop should be unparked by the pool thread"
    );
}

/// How long a job of no time may take to come back (wall time): a job whose panic
/// kills its thread never does.
const SHORT: Duration = Duration::from_secs(1);

pub fn a_job_that_panics_is_an_error_and_the_pool_goes_on() {
    let _watchdog = watchdog(Duration::from_secs(20), "a panicking job");
    let pool = BlockingPool::new(1);
    real_runtime().block_on(async {
        let failed = pool.spawn_blocking(|| -> u32 { panic!("boom in a blocking job") });
        let failed = within(SHORT, "the panicking job", failed).await;
        let error = failed.expect_err("the job panicked");
        assert!(error.message.contains("boom in a blocking job"), "{error}");
        let next = pool.spawn_blocking(|| 7);
        assert_eq!(within(SHORT, "the next job", next).await, Ok(7));
    });
}

pub fn dropping_the_pool_runs_the_queued_jobs_and_joins_its_threads() {
    let _watchdog = watchdog(Duration::from_secs(20), "dropping the pool");
    let done = Arc::new(AtomicUsize::new(0));
    let pool = BlockingPool::new(2);
    for _ in 0..4 {
        let done = done.clone();
        // Not awaited: a job runs whether or not anyone waits for it.
        drop(pool.spawn_blocking(move || {
            std::thread::sleep(ms(20));
            done.fetch_add(1, Ordering::SeqCst);
        }));
    }
    drop(pool);
    assert_eq!(
        done.load(Ordering::SeqCst),
        4,
        "drop returns after every queued job ran"
    );
}

/// The tests above, listed once for the two kinds of target that run them: the
/// exercise's own spec target makes each a `#[test]` (`with_tests!(as_tests)`), and
/// `wrong_solutions.rs`, which has no test harness, a table it calls in turn
/// (`with_tests!(as_table)`). Both macros are in `common/mod.rs`.
macro_rules! with_tests {
    ($then:ident) => {
        $then! {
            blocking_jobs_run_two_at_a_time_on_the_pool_while_the_loop_keeps_ticking,
            the_pool_thread_wakes_the_parked_loop_instead_of_the_loop_polling_again_and_again,
            a_job_that_panics_is_an_error_and_the_pool_goes_on,
            dropping_the_pool_runs_the_queued_jobs_and_joins_its_threads,
        }
    };
}
pub(crate) use with_tests;
