//! Chapter 6: timers — one wheel for every sleep, instead of a thread per sleep.
//!
//! ```text
//! cargo run --release --example ch06_timers
//! ```
//!
//! (Debug builds work too; part 2's thread-per-timer run is just slower to start its
//! threads.)
//!
//! **Part 1: the post's three lookups, on the wheel, under virtual time.** Three tasks
//! look up 3, 2 and 1 users; each lookup is a one-second `looplab::time::sleep`. In the
//! trace, look for:
//!
//! - `timer #1 armed: deadline 1.000s, wheel level 1 slot 15`: the sleep's first poll put
//!   a timer in the wheel and returned `Pending`. A 1000 ms deadline is 15 × 64 + 40 ms,
//!   so it goes to level 1 (64 ms slots), slot 15; it moves to level 0 slot 40 when its
//!   slot's time comes (the `cascades` line).
//! - `park: run queue empty, 3 timers, 0 sockets; next deadline in 1000 ms`: no task can
//!   run, so the loop would sleep in the reactor until the nearest deadline. That is the
//!   only "waiting" in the program, and it is one wait for all three timers.
//! - `unpark: nothing to do: clock jumps to the next deadline`: virtual time. Nothing
//!   could happen before 1.000 s, so the clock is set there instead of waiting a second.
//! - `#1 #2 #3 fired -> wake task 1, task 2, task 3`: the timers came due, and each woke
//!   the task that armed it. The next polls start the next lookups.
//!
//! The lookups end at exactly 1.000, 2.000 and 3.000 s, shortest first, and the whole
//! part takes a millisecond or so of wall time.
//!
//! **Part 2: 10,000 concurrent one-second sleeps, real time, done two ways.**
//!
//! (a) **looplab's wheel**: 10,000 tasks each `sleep(1 s)`. Every timer is an entry
//!     in one data structure; the loop parks once until the nearest deadline.
//! (b) **A thread per timer**: the approach of the async book's `TimerFuture` (and
//!     mini-tokio's `Delay`), written here from scratch as [`ThreadTimer`]: its first
//!     poll starts an OS thread that sleeps, sets a shared flag and wakes the stored
//!     waker. It runs on the same looplab loop; only the timer differs.
//!
//! For each the example prints the wall time, the OS threads the process gained while
//! the sleeps waited, and how much the process's peak memory (resident set, `VmHWM` in
//! `/proc/self/status`) grew. The wheel runs first, and the peak is reset between the
//! two (writing `5` to `/proc/self/clear_refs`), so the threads' peak cannot hide the
//! wheel's. Memory and thread counts come from `/proc`, so they are Linux only; elsewhere
//! the example says so and prints the times alone. If the OS refuses some of the 10,000
//! threads, the example reports how many it got and goes on.
//!
//! The last line is the claim, with the numbers measured on your machine.

mod common;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::ThreadId;
use std::time::Duration;

use looplab::time::{Instant, sleep};
use looplab::trace::{Event, TaskId};
use looplab::{Recorder, Runtime, TraceOutput};

use common::{mb, process_status, thousands};

/// The post's three requests: how many users each one looks up.
const REQUESTS: [u32; 3] = [3, 2, 1];
/// The external API's time per user, in the post.
const PER_USER: Duration = Duration::from_secs(1);

/// Part 2: how many sleeps, and how long each.
const SLEEPS: usize = 10_000;
/// Long enough that every thread of part 2 (b) is still sleeping when the last one
/// starts: starting 10,000 threads takes the loop a good fraction of a second.
const SLEEP_FOR: Duration = Duration::from_secs(1);

fn main() {
    println!("== part 1: the post's three lookups on the timer wheel (virtual time) ==\n");
    let part1 = three_lookups();

    println!(
        "\n== part 2: {} concurrent sleeps of {SLEEP_FOR:?}, real time ==\n",
        thousands(SLEEPS)
    );
    let wheel = measure("looplab's wheel", || {
        ten_thousand_sleeps(|| async { sleep(SLEEP_FOR).await })
    });
    let threads = measure("thread per timer", || {
        ten_thousand_sleeps(|| async {
            // A thread the OS refused is counted by the timer; this sleep then simply
            // did not wait.
            let _refused = ThreadTimer::new(SLEEP_FOR).await;
        })
    });
    print_table(&wheel, &threads);
    check_and_claim(&part1, &wheel, &threads);
}

// ---------------------------------------------------------------------------------
// Part 1
// ---------------------------------------------------------------------------------

/// What part 1 measured.
struct Lookups {
    /// When each request finished (virtual time), in request order.
    finished: Vec<Duration>,
    /// Whether every lookup ran on the thread that called `block_on`.
    one_thread: bool,
    /// The order in which the tasks completed, by request size.
    completion_order: Vec<u32>,
    timers_armed: u64,
    parks: usize,
    clock_jumps: u64,
    wall: Duration,
}

/// The post's `find_users`: one call to the external API per user, one second each.
/// The sleep stands in for the API; chapter 8 puts a real server behind it.
async fn find_users(users: u32) -> (Duration, ThreadId) {
    for user in 1..=users {
        looplab::trace::note(format!("looking up user {user} of {users} ..."));
        sleep(PER_USER).await;
    }
    let plural = if users == 1 { "" } else { "s" };
    looplab::trace::note(format!("all {users} user{plural} found"));
    (Instant::now().since_start(), std::thread::current().id())
}

fn three_lookups() -> Lookups {
    let recorder = Recorder::new();
    let runtime = Runtime::builder()
        .virtual_time(true)
        .trace(TraceOutput::Stdout)
        .record(recorder.clone())
        .build()
        .expect("a runtime (mio::Poll)");
    let wall = std::time::Instant::now();
    let finished = runtime.block_on(async {
        let handles: Vec<_> = REQUESTS
            .iter()
            .map(|&users| looplab::spawn_named(format!("find_users({users})"), find_users(users)))
            .collect();
        let results = looplab::join_all(handles).await;
        results
            .into_iter()
            .map(|r| r.expect("a lookup task panicked"))
            .collect::<Vec<_>>()
    });
    let wall = wall.elapsed();
    let main_thread = std::thread::current().id();
    let one_thread = finished.iter().all(|(_, thread)| *thread == main_thread);
    let finished = finished.into_iter().map(|(at, _)| at).collect();

    // Task n was spawned for REQUESTS[n - 1]; the recording says in which order they
    // finished.
    let events = recorder.events();
    let completion_order = events
        .iter()
        .filter_map(|event| match event {
            Event::Ready { task: TaskId(n) } if *n > 0 => Some(REQUESTS[*n as usize - 1]),
            _ => None,
        })
        .collect();
    let parks = events
        .iter()
        .filter(|event| matches!(event, Event::Park { .. }))
        .count();
    let stats = runtime.stats();
    Lookups {
        finished,
        one_thread,
        completion_order,
        timers_armed: stats.timers_armed,
        parks,
        clock_jumps: stats.clock_jumps,
        wall,
    }
}

// ---------------------------------------------------------------------------------
// Part 2 (b): a timer that costs a thread, written from scratch
// ---------------------------------------------------------------------------------

/// A sleep that owns an OS thread: the shape of the async book's `TimerFuture`.
///
/// It is a correct future (it wakes its task exactly when the time is up, and no wake
/// is lost), and it needs no runtime support at all, which is why tutorials start with
/// it. Its cost is the thread: a kernel task, a stack (2 MiB of address space by
/// default in Rust, of which the pages it touches stay resident) and a context switch
/// to sleep and another to wake, for every single timer.
struct ThreadTimer {
    duration: Duration,
    /// Shared with the thread once it is started (on the first poll).
    shared: Option<Arc<Mutex<TimerState>>>,
}

/// What the timer thread and the future both see. One lock guards both fields, so
/// "is it done?" and "whom to wake" can never disagree.
struct TimerState {
    done: bool,
    waker: Option<Waker>,
}

impl ThreadTimer {
    fn new(duration: Duration) -> ThreadTimer {
        ThreadTimer {
            duration,
            shared: None,
        }
    }
}

impl Future for ThreadTimer {
    /// `Err` if the OS refused the thread (out of memory or over a thread limit).
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(shared) = &self.shared {
            let mut state = shared.lock().unwrap();
            if state.done {
                return Poll::Ready(Ok(()));
            }
            // Polled again before the time is up: keep the newest waker, since the
            // task may have moved on to another one.
            if !state
                .waker
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
            {
                state.waker = Some(cx.waker().clone());
            }
            return Poll::Pending;
        }

        // First poll. The waker is stored *before* the thread starts, so even a thread
        // that finishes at once finds someone to wake.
        let shared = Arc::new(Mutex::new(TimerState {
            done: false,
            waker: Some(cx.waker().clone()),
        }));
        let for_thread = shared.clone();
        let duration = self.duration;
        THREAD_TIMERS.starting();
        let spawn_began = std::time::Instant::now();
        let started = std::thread::Builder::new().spawn(move || {
            std::thread::sleep(duration);
            let waker = {
                let mut state = for_thread.lock().unwrap();
                state.done = true;
                state.waker.take()
            };
            // Wake after unlocking: the woken task may be polled on the loop thread at
            // once and would otherwise wait for this lock.
            if let Some(waker) = waker {
                waker.wake();
            }
            THREAD_TIMERS.finished();
        });
        // This runs on the loop's one thread: while the OS sets up a thread, no other
        // task can run.
        THREAD_TIMERS.spent_starting(spawn_began.elapsed());
        match started {
            Ok(_detached) => {
                self.shared = Some(shared);
                Poll::Pending
            }
            Err(e) => {
                THREAD_TIMERS.refused(&e);
                Poll::Ready(Err(e))
            }
        }
    }
}

/// Counts of the timer threads: how many were started, how many were alive at once,
/// and how many the OS refused.
struct ThreadCounts {
    started: AtomicUsize,
    alive: AtomicUsize,
    most_alive: AtomicUsize,
    refused: AtomicUsize,
    first_refusal: Mutex<Option<String>>,
    /// Wall time the loop thread spent inside `spawn`, in microseconds.
    starting_micros: AtomicU64,
}

static THREAD_TIMERS: ThreadCounts = ThreadCounts {
    started: AtomicUsize::new(0),
    alive: AtomicUsize::new(0),
    most_alive: AtomicUsize::new(0),
    refused: AtomicUsize::new(0),
    first_refusal: Mutex::new(None),
    starting_micros: AtomicU64::new(0),
};

impl ThreadCounts {
    fn starting(&self) {
        self.started.fetch_add(1, Ordering::SeqCst);
        let alive = self.alive.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_alive.fetch_max(alive, Ordering::SeqCst);
    }

    fn spent_starting(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.starting_micros.fetch_add(micros, Ordering::SeqCst);
    }

    fn finished(&self) {
        self.alive.fetch_sub(1, Ordering::SeqCst);
    }

    /// Undoes `starting` for a thread that never ran.
    fn refused(&self, error: &io::Error) {
        self.started.fetch_sub(1, Ordering::SeqCst);
        self.alive.fetch_sub(1, Ordering::SeqCst);
        self.refused.fetch_add(1, Ordering::SeqCst);
        self.first_refusal
            .lock()
            .unwrap()
            .get_or_insert_with(|| error.to_string());
    }
}

// ---------------------------------------------------------------------------------
// Part 2: running and measuring
// ---------------------------------------------------------------------------------

/// What one way of doing the 10,000 sleeps cost.
struct Cost {
    name: &'static str,
    wall: Duration,
    /// OS threads the process had beyond its starting count, right after every sleep
    /// had been polled once (so every timer was armed or its thread started).
    extra_threads: Option<usize>,
    /// Growth of the peak resident set over the resident set at the start, in KiB.
    peak_growth_kib: Option<u64>,
}

/// Spawns `SLEEPS` tasks, each awaiting the future `one_sleep` makes, on a real-time
/// runtime, and waits for all of them. Returns the wall time and the thread count seen
/// once every task had been polled once.
fn ten_thousand_sleeps<F, Fut>(one_sleep: F) -> (Duration, Option<usize>)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let runtime = Runtime::builder().build().expect("a runtime (mio::Poll)");
    let started = std::time::Instant::now();
    let threads_while_waiting = runtime.block_on(async {
        let handles: Vec<_> = (0..SLEEPS).map(|_| looplab::spawn(one_sleep())).collect();
        // The tasks run in this same turn, after this poll. One yield lets every one of
        // them reach its sleep before we count threads.
        YieldOnce(false).await;
        let threads = process_status("Threads:");
        for result in looplab::join_all(handles).await {
            result.expect("a sleeping task panicked");
        }
        threads
    });
    (started.elapsed(), threads_while_waiting.map(|t| t as usize))
}

/// Runs one way of sleeping and measures it: wall time, extra threads, peak memory.
fn measure(name: &'static str, run: impl FnOnce() -> (Duration, Option<usize>)) -> Cost {
    let peak_was_reset = reset_peak_memory();
    let threads_before = process_status("Threads:");
    let resident_before = process_status("VmRSS:");
    let (wall, threads_during) = run();
    let peak_after = process_status("VmHWM:");
    let peak_growth_kib = match (resident_before, peak_after) {
        (Some(before), Some(peak)) => Some(peak.saturating_sub(before)),
        _ => None,
    };
    if peak_growth_kib.is_some() && !peak_was_reset {
        println!("  ({name}: the peak could not be reset; it is measured from the process start)");
    }
    let extra_threads = match (threads_before, threads_during) {
        (Some(before), Some(during)) => Some(during.saturating_sub(before as usize)),
        _ => None,
    };
    Cost {
        name,
        wall,
        extra_threads,
        peak_growth_kib,
    }
}

fn print_table(wheel: &Cost, threads: &Cost) {
    println!(
        "  {:<18} {:>10} {:>26} {:>20}",
        "", "wall time", "OS threads while waiting", "peak memory growth"
    );
    for cost in [wheel, threads] {
        let extra = match cost.extra_threads {
            Some(n) => thousands(n),
            None => "n/a".into(),
        };
        let memory = match cost.peak_growth_kib {
            Some(kib) => format!("{:.1} MB", mb(kib)),
            None => "n/a".into(),
        };
        println!(
            "  {:<18} {:>8.3} s {:>26} {:>20}",
            cost.name,
            cost.wall.as_secs_f64(),
            extra,
            memory
        );
    }
    println!(
        "\n  thread per timer: {} threads started, at most {} alive at once, {} refused by the OS",
        thousands(THREAD_TIMERS.started.load(Ordering::SeqCst)),
        thousands(THREAD_TIMERS.most_alive.load(Ordering::SeqCst)),
        thousands(THREAD_TIMERS.refused.load(Ordering::SeqCst)),
    );
    let starting = THREAD_TIMERS.starting_micros.load(Ordering::SeqCst) as f64 / 1e6;
    println!(
        "  the loop's one thread spent {starting:.3} s inside thread spawn: the wall time's \
         extra over {SLEEP_FOR:?}"
    );
    if let (Some(w), Some(t)) = (wheel.peak_growth_kib, threads.peak_growth_kib) {
        let per_sleep = |kib: u64| kib as f64 * 1024.0 / SLEEPS as f64;
        println!(
            "  memory per sleep: {:.0} bytes on the wheel (task, future, timer entry, handle), \
             {:.0} bytes with a thread",
            per_sleep(w),
            per_sleep(t)
        );
    }
    if let Some(reason) = THREAD_TIMERS.first_refusal.lock().unwrap().as_ref() {
        println!("  first refusal: {reason} (those sleeps ended at once, without waiting)");
    }
    if wheel.peak_growth_kib.is_none() || wheel.extra_threads.is_none() {
        println!(
            "  memory and threads: not measured (they come from /proc/self/status, which only \
             Linux has)"
        );
    }
}

fn check_and_claim(part1: &Lookups, wheel: &Cost, threads: &Cost) {
    // Part 1: exact virtual times, shortest first, no real waiting.
    let expected: Vec<Duration> = REQUESTS.iter().map(|&u| PER_USER * u).collect();
    assert_eq!(part1.finished, expected, "each lookup ends at users × 1 s");
    assert_eq!(part1.completion_order, [1, 2, 3], "shortest first");
    assert!(part1.one_thread, "a lookup ran on another thread");
    assert!(
        part1.wall < Duration::from_secs(1),
        "virtual time waits for nothing"
    );

    // Part 2: no sleep ends early, and the wheel needs no thread.
    let started = THREAD_TIMERS.started.load(Ordering::SeqCst);
    let refused = THREAD_TIMERS.refused.load(Ordering::SeqCst);
    assert_eq!(started + refused, SLEEPS, "every ThreadTimer was polled");
    assert!(wheel.wall >= SLEEP_FOR, "a sleep ended early");
    assert!(
        threads.wall >= SLEEP_FOR || refused > 0,
        "a thread timer ended early"
    );
    assert!(
        wheel.wall < SLEEP_FOR * 3,
        "the wheel took {:?}",
        wheel.wall
    );
    if let Some(extra) = wheel.extra_threads {
        assert_eq!(extra, 0, "the wheel started threads");
    }
    // Generous: a thread keeps at least a page or two of stack resident, so thousands
    // of them weigh more than thousands of entries in the wheel.
    if let (Some(w), Some(t)) = (wheel.peak_growth_kib, threads.peak_growth_kib)
        && started >= SLEEPS / 2
    {
        assert!(
            t > w,
            "threads grew the peak by {t} KiB, the wheel by {w} KiB"
        );
    }

    let users: Vec<String> = REQUESTS.iter().rev().map(|u| u.to_string()).collect();
    let ends: Vec<String> = part1
        .finished
        .iter()
        .rev()
        .map(|d| format!("{:.3}", d.as_secs_f64()))
        .collect();
    println!(
        "\nproved (part 1): the lookups of {} users ended at {} s of virtual time, shortest \
         first, on one thread: {} timers armed, {} parks, {} clock jumps, {:.1} ms of wall time",
        users.join(", "),
        ends.join(", "),
        part1.timers_armed,
        part1.parks,
        part1.clock_jumps,
        part1.wall.as_secs_f64() * 1000.0
    );
    println!(
        "proved (part 2): {} sleeps of {:?} at once: the wheel with {} and {} in {:.3} s; \
         a thread per timer with {} threads started ({} alive at once) and {} in {:.3} s",
        thousands(SLEEPS),
        SLEEP_FOR,
        threads_phrase(wheel.extra_threads),
        memory_phrase(wheel.peak_growth_kib),
        wheel.wall.as_secs_f64(),
        thousands(started),
        thousands(THREAD_TIMERS.most_alive.load(Ordering::SeqCst)),
        memory_phrase(threads.peak_growth_kib),
        threads.wall.as_secs_f64(),
    );
}

fn threads_phrase(extra: Option<usize>) -> String {
    match extra {
        Some(n) => format!("{} extra threads", thousands(n)),
        None => "(threads not measured)".into(),
    }
}

fn memory_phrase(kib: Option<u64>) -> String {
    match kib {
        Some(kib) => format!("+{:.1} MB peak memory", mb(kib)),
        None => "(memory not measured)".into(),
    }
}

/// Sets the process's peak resident set (`VmHWM`) back to its current size, so the next
/// measurement sees only its own peak. Linux 4.0 and later; returns whether it worked.
fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Returns `Pending` once, after asking to be polled again: the loop runs every other
/// ready task before it comes back here.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
