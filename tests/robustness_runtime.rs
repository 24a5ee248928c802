//! The runtime under faults (issue 7, point 4): a panicking task, a flood of wakes from
//! other threads, a million timers armed and cancelled, a hundred thousand connections.
//! Each test counts what the runtime still holds afterwards, and the count must be what
//! it was before: nothing lost, nothing left behind.
//!
//! The tests run one at a time (see [`serial`]): one of them compares the process's
//! resident memory before and after, which other tests allocating alongside would blur.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use looplab::Runtime;
use looplab::lookup::directory::{Directory, DirectoryConfig, StopSignal};
use looplab::lookup::http::{ResponseParse, parse_response};
use looplab::net::{TcpListener, TcpStream};
use looplab::time::wheel::{TimerKey, TimerWheel, WheelEvent};
use looplab::time::{Sleep, sleep, timeout};

/// Runs the tests of this file one after another.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    // A test that failed while holding the lock poisons it; the others still run.
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A small deterministic generator (xorshift64*), so a failure replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A delay in ms spread over every level of the wheel: 1 ms up to about 2 years.
    fn delay_ms(&mut self) -> u64 {
        let level = self.below(6) as u32;
        1 + self.below(64u64.pow(level + 1))
    }
}

/// Polls `future` once with the current task's waker and reports whether it finished.
async fn poll_once<F: Future + Unpin>(future: &mut F) -> bool {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *future).poll(cx).is_ready())).await
}

#[test]
fn a_task_that_panics_holding_timers_and_sockets_leaves_none_behind() {
    let _serial = serial();
    let rt = Runtime::builder().virtual_time(true).build().unwrap();
    assert_eq!(rt.pending_resources(), (0, 0));
    let during = rt.block_on(async {
        let failing = looplab::spawn(async {
            // Three sockets: a listener, and both ends of a connection to it.
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let mut client = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (_server_side, _) = listener.accept().await.unwrap();
            // Two timers: one armed and held, one the task waits on.
            let mut long = Box::pin(sleep(Duration::from_secs(3600)));
            assert!(!poll_once(&mut long).await);
            let mut short = Box::pin(sleep(Duration::from_millis(10)));
            // Wait for a read that will never come (a waker parked in the reactor) and
            // for the short timer; when the timer fires, panic with all of it held.
            let mut buffer = [0u8; 16];
            let mut read = Box::pin(client.read(&mut buffer));
            std::future::poll_fn(|cx| {
                assert!(read.as_mut().poll(cx).is_pending(), "nothing was sent");
                short.as_mut().poll(cx)
            })
            .await;
            panic!("panicking with 2 timers and 3 sockets");
        });
        // While it waits: its timers and sockets are there.
        sleep(Duration::from_millis(5)).await;
        let during = looplab::time::timers_in_wheel().0;
        let error = failing.await.unwrap_err();
        assert_eq!(
            error.panic_message(),
            "panicking with 2 timers and 3 sockets"
        );
        during
    });
    assert_eq!(during, 2, "the task's two timers were armed");
    assert_eq!(rt.pending_resources(), (0, 0), "(timers, sockets) after");
    assert_eq!(rt.stats().panicked, 1);
}

#[test]
fn many_tasks_panicking_mid_io_leave_the_wheel_and_reactor_clean() {
    let _serial = serial();
    let rt = Runtime::builder().build().unwrap();
    let counts = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let baseline = looplab::time::timers_in_wheel().0;
        // 200 tasks, each with a connection, a pending read and a timer; every other
        // one panics, the rest finish normally.
        let handles: Vec<_> = (0..200u32)
            .map(|i| {
                looplab::spawn(async move {
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    let mut buffer = [0u8; 8];
                    let read = timeout(
                        Duration::from_millis(20 + u64::from(i % 7)),
                        stream.read(&mut buffer),
                    );
                    assert!(read.await.is_err(), "nobody writes to it");
                    if i % 2 == 0 {
                        panic!("task {i}");
                    }
                    i
                })
            })
            .collect();
        // Accept all 200 and keep the server ends open while the tasks run.
        let mut accepted = Vec::new();
        for _ in 0..200 {
            accepted.push(listener.accept().await.unwrap().0);
        }
        let results = looplab::join_all(handles).await;
        let panicked = results.iter().filter(|r| r.is_err()).count();
        drop(accepted);
        drop(listener);
        (baseline, panicked)
    });
    assert_eq!(counts, (0, 100));
    assert_eq!(rt.pending_resources(), (0, 0), "(timers, sockets) after");
    // And the runtime runs new work with a timer and a socket afterwards.
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = looplab::spawn(async move { TcpStream::connect(addr).await.is_ok() });
        let _ = listener.accept().await.unwrap();
        sleep(Duration::from_millis(1)).await;
        assert!(client.await.unwrap());
    });
    assert_eq!(rt.pending_resources(), (0, 0));
}

/// One receiving task's mailbox: how many wakes were sent to it, and its waker.
#[derive(Default)]
struct Mailbox {
    sent: AtomicU64,
    waker: Mutex<Option<Waker>>,
}

#[test]
fn a_million_wakes_from_four_threads_onto_a_thousand_tasks_lose_none() {
    const TASKS: usize = 1_000;
    const THREADS: usize = 4;
    const WAKES: usize = 1_000_000;
    const PER_TASK_PER_THREAD: usize = WAKES / TASKS / THREADS;
    const PER_TASK: u64 = (PER_TASK_PER_THREAD * THREADS) as u64;
    let _serial = serial();

    let mailboxes: Arc<Vec<Mailbox>> = Arc::new((0..TASKS).map(|_| Mailbox::default()).collect());
    let rt = Runtime::builder().build().unwrap();
    let started = Instant::now();
    let (polls, delivered) = rt.block_on(async {
        // Each task finishes only once it has seen all PER_TASK wakes counted in its
        // mailbox. The waker is stored *before* the count is read, and a thread counts
        // *before* it wakes, so a wake can only be missed if the runtime loses it; and
        // then the task never finishes and the watchdog below fails the test.
        let tasks: Vec<_> = (0..TASKS)
            .map(|i| {
                let mailboxes = mailboxes.clone();
                looplab::spawn(async move {
                    let mailbox = &mailboxes[i];
                    let mut polls = 0u64;
                    std::future::poll_fn(|cx| {
                        polls += 1;
                        *mailbox.waker.lock().unwrap() = Some(cx.waker().clone());
                        if mailbox.sent.load(Ordering::SeqCst) == PER_TASK {
                            Poll::Ready(())
                        } else {
                            Poll::Pending
                        }
                    })
                    .await;
                    polls
                })
            })
            .collect();
        // Let every task be polled once, so its waker is in its mailbox.
        sleep(Duration::from_millis(1)).await;

        let delivered = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let mailboxes = mailboxes.clone();
                let delivered = delivered.clone();
                std::thread::spawn(move || {
                    let mut woke = 0;
                    for round in 0..PER_TASK_PER_THREAD {
                        for k in 0..TASKS {
                            // Threads walk the tasks in different orders.
                            let mailbox = &mailboxes[(k * (2 * t + 1) + round) % TASKS];
                            mailbox.sent.fetch_add(1, Ordering::SeqCst);
                            let waker = mailbox.waker.lock().unwrap().clone();
                            if let Some(waker) = waker {
                                waker.wake();
                                woke += 1;
                            }
                        }
                    }
                    delivered.fetch_add(woke, Ordering::Relaxed);
                })
            })
            .collect();

        let all = looplab::join_all(tasks);
        let Ok(results) = timeout(Duration::from_secs(60), all).await else {
            let unfinished: Vec<(usize, u64)> = (mailboxes.iter().enumerate())
                .map(|(i, m)| (i, m.sent.load(Ordering::SeqCst)))
                .take(10)
                .collect();
            panic!("tasks still waiting after 60 s: a wake was lost (first few: {unfinished:?})");
        };
        for thread in threads {
            thread.join().unwrap();
        }
        let polls: Vec<u64> = results.into_iter().map(Result::unwrap).collect();
        (polls, delivered.load(Ordering::Relaxed))
    });
    let took = started.elapsed();
    for (i, mailbox) in mailboxes.iter().enumerate() {
        assert_eq!(mailbox.sent.load(Ordering::SeqCst), PER_TASK, "task {i}");
    }
    // A task woken many times between two polls is polled once, so it is polled at
    // most once per wake, plus its first poll.
    let total_polls: u64 = polls.iter().sum();
    assert!(polls.iter().all(|&p| (1..=PER_TASK + 1).contains(&p)));
    assert_eq!(rt.stats().completed, TASKS as u64);
    assert_eq!(rt.pending_resources(), (0, 0));
    println!(
        "wakes: {WAKES} counted, {delivered} wake() calls from {THREADS} threads onto {TASKS} tasks, \
         {total_polls} polls, all {TASKS} tasks done in {took:.2?}"
    );
}

#[test]
fn a_million_sleeps_armed_and_cancelled_at_random_leave_an_empty_wheel() {
    const TIMERS: u64 = 1_000_000;
    /// At most this many sleeps alive at once.
    const LIVE: usize = 20_000;
    let _serial = serial();
    let rt = Runtime::builder().virtual_time(true).build().unwrap();
    let started = Instant::now();
    let (armed, most_in_wheel) = rt.block_on(async {
        let mut rng = Rng(0x5EED_0001);
        let mut live: Vec<Pin<Box<Sleep>>> = Vec::with_capacity(LIVE);
        let mut armed = 0u64;
        let mut most_in_wheel = 0;
        while armed < TIMERS {
            // A batch of random inserts and cancels inside one poll of this task...
            std::future::poll_fn(|cx| {
                for _ in 0..1_000 {
                    // A few more inserts than cancels: the wheel fills up to LIVE and stays there.
                    let insert = live.is_empty() || (live.len() < LIVE && rng.below(16) < 9);
                    if insert && armed < TIMERS {
                        let mut sleep = Box::pin(sleep(Duration::from_millis(rng.delay_ms())));
                        assert!(sleep.as_mut().poll(cx).is_pending());
                        live.push(sleep);
                        armed += 1;
                    } else if !live.is_empty() {
                        // Dropping a Sleep cancels its timer.
                        let victim = rng.below(live.len() as u64) as usize;
                        drop(live.swap_remove(victim));
                    }
                }
                Poll::Ready(())
            })
            .await;
            most_in_wheel = most_in_wheel.max(looplab::time::timers_in_wheel().0);
            // ...then let virtual time move on a little: the wheel advances, cascades,
            // and fires what is due (those sleeps are then just dropped later).
            sleep(Duration::from_millis(1 + rng.below(100))).await;
        }
        drop(live);
        (armed, most_in_wheel)
    });
    let took = started.elapsed();
    assert_eq!(armed, TIMERS);
    assert_eq!(rt.pending_resources(), (0, 0), "(timers, sockets) after");
    let stats = rt.stats();
    assert_eq!(
        stats.timers_armed,
        stats.timers_cancelled + stats.timers_fired,
        "{stats}"
    );
    println!(
        "sleeps: {armed} armed through Sleep, at most {most_in_wheel} in the wheel at once, \
         {} cancelled, {} fired, wheel empty after, {took:.2?}",
        stats.timers_cancelled, stats.timers_fired
    );
}

#[test]
fn a_million_wheel_timers_inserted_and_cancelled_at_random_leave_it_empty() {
    const TIMERS: usize = 1_000_000;
    const LIVE: usize = 50_000;
    #[derive(Clone, Copy, PartialEq, Debug)]
    enum State {
        Pending,
        Cancelled,
        Fired,
    }
    let _serial = serial();
    let started = Instant::now();
    let mut wheel: TimerWheel<usize> = TimerWheel::new();
    let mut rng = Rng(0x5EED_0002);
    // Per timer (by insertion number): its deadline and what became of it.
    let mut deadline = Vec::with_capacity(TIMERS);
    let mut state = Vec::with_capacity(TIMERS);
    let mut live: Vec<(TimerKey, usize)> = Vec::with_capacity(LIVE);
    let mut fired = 0usize;
    while deadline.len() < TIMERS {
        match rng.below(64) {
            // Mostly inserts and cancels (a few more inserts, so the wheel fills up to
            // LIVE); now and then time moves on.
            0 => {
                let now = wheel.now() + rng.below(1_000);
                wheel.advance(now, |event| {
                    if let WheelEvent::Fired {
                        deadline: when,
                        value,
                        ..
                    } = event
                    {
                        assert!(when <= now, "fired early");
                        assert_eq!(when, deadline[value]);
                        assert_eq!(state[value], State::Pending, "fired twice or after cancel");
                        state[value] = State::Fired;
                        fired += 1;
                    }
                });
            }
            1..=33 if live.len() < LIVE => {
                let n = deadline.len();
                let when = wheel.now() + rng.delay_ms();
                let (key, _) = wheel.insert(when, n);
                deadline.push(when);
                state.push(State::Pending);
                live.push((key, n));
            }
            _ if !live.is_empty() => {
                let (key, n) = live.swap_remove(rng.below(live.len() as u64) as usize);
                match wheel.cancel(key) {
                    Some(value) => {
                        assert_eq!(value, n);
                        assert_eq!(state[n], State::Pending);
                        state[n] = State::Cancelled;
                    }
                    // Already fired: the key is stale and cancel changes nothing.
                    None => assert_eq!(state[n], State::Fired),
                }
            }
            _ => {}
        }
    }
    for (key, n) in live.drain(..) {
        if wheel.cancel(key).is_some() {
            state[n] = State::Cancelled;
        }
    }
    assert!(wheel.is_empty());
    assert_eq!(wheel.len(), 0);
    assert_eq!(wheel.next_deadline(), None);
    assert!(wheel.occupied_slots().is_empty());
    assert!(!state.contains(&State::Pending));
    let cancelled = state.iter().filter(|&&s| s == State::Cancelled).count();
    assert_eq!(cancelled + fired, TIMERS);
    println!(
        "wheel: {TIMERS} timers inserted, {cancelled} cancelled, {fired} fired, empty after, {:.2?}",
        started.elapsed()
    );
}

/// The resident memory of this process, from /proc/self/status (Linux), in KiB.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One connection's life: connect, one request, the answer, close.
async fn one_connection(addr: std::net::SocketAddr, id: u64) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET /users/{id} HTTP/1.1\r\nHost: x\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        match parse_response(&buffer) {
            ResponseParse::Complete { status, .. } => {
                assert_eq!(status, 200);
                return;
            }
            ResponseParse::Invalid(why) => panic!("{why}"),
            ResponseParse::Partial => {
                let n = stream.read(&mut chunk).await.unwrap();
                assert!(n > 0, "closed before answering");
                buffer.extend_from_slice(&chunk[..n]);
            }
        }
    }
}

#[test]
fn a_hundred_thousand_connections_in_sequence_leak_no_tokens_and_no_memory() {
    // 100,000 as the issue asks in release builds. A debug build runs about ten times
    // slower, so there 20,000: still ten times the warm-up below, enough for a leak of
    // even a few hundred bytes per connection to show in the resident memory.
    let connections: u64 = if cfg!(debug_assertions) {
        20_000
    } else {
        100_000
    };
    const WARM_UP: u64 = 2_000;
    let _serial = serial();
    let rt = Runtime::builder().build().unwrap();
    let started = Instant::now();
    let (baseline, most_open, rss_before, rss_after) = rt.block_on(async {
        let directory =
            Directory::bind("127.0.0.1:0", DirectoryConfig::with_delay(Duration::ZERO)).unwrap();
        let addr = directory.local_addr().unwrap();
        let open = directory.open_connections();
        let stop = StopSignal::new();
        let server = looplab::spawn({
            let stop = stop.clone();
            async move { directory.serve_until(stop.fired()).await }
        });
        sleep(Duration::from_millis(1)).await;
        // The listener, and nothing else.
        let baseline = looplab::time::timers_in_wheel().0;
        let mut most_open = 0;
        let mut rss_before = None;
        for id in 0..connections {
            one_connection(addr, id).await;
            if id == WARM_UP {
                rss_before = rss_kib();
            }
            if id % 64 == 0 {
                most_open = most_open.max(open.load(Ordering::Relaxed));
            }
        }
        // The last connection task ends as soon as it reads the client's close.
        let waiting = Instant::now();
        while open.load(Ordering::Relaxed) > 0 {
            assert!(
                waiting.elapsed() < Duration::from_secs(5),
                "a connection lingers"
            );
            sleep(Duration::from_millis(1)).await;
        }
        let rss_after = rss_kib();
        stop.fire();
        server.await.unwrap();
        (baseline, most_open, rss_before, rss_after)
    });
    let took = started.elapsed();
    assert_eq!(baseline, 0);
    assert!(
        most_open <= 2,
        "{most_open} server connections open at once"
    );
    assert_eq!(rt.pending_resources(), (0, 0), "(timers, sockets) after");
    let stats = rt.stats();
    // One task per connection plus the server, all finished.
    assert_eq!(stats.spawned, connections + 1);
    assert_eq!(stats.completed, connections + 1);
    let (Some(before), Some(after)) = (rss_before, rss_after) else {
        println!("connections: no /proc/self/status here, memory not measured");
        return;
    };
    let growth = after.saturating_sub(before);
    println!(
        "connections: {connections} in sequence in {took:.2?}, at most {most_open} open at the \
         server at once, 0 sockets and 0 timers after; VmRSS {before} KiB after {WARM_UP}, \
         {after} KiB after all ({growth} KiB growth)"
    );
    // Generous: allocator noise is a few hundred KiB; a leak of 1 KiB per connection
    // would be 20 MiB (debug) or 100 MiB (release).
    assert!(growth < 8 * 1024, "VmRSS grew by {growth} KiB");
}
