//! The trace: exact event sequences of small programs, and the printed form.

use std::time::Duration;

use looplab::trace::{Event, TaskId, UnparkReason};
use looplab::{Recorder, Runtime};

#[test]
fn a_spawn_and_join_produces_this_exact_event_sequence() {
    let recorder = Recorder::new();
    let rt = Runtime::builder()
        .virtual_time(true)
        .record(recorder.clone())
        .build()
        .unwrap();
    rt.block_on(async {
        let handle = looplab::spawn_named("worker", async { 7 });
        assert_eq!(handle.await, Ok(7));
    });
    let main = TaskId(0);
    let worker = TaskId(1);
    assert_eq!(
        recorder.events(),
        vec![
            Event::BlockOnStart,
            Event::Poll { task: main },
            Event::Spawn {
                parent: Some(main),
                task: worker,
                name: "worker".into()
            },
            Event::Pending { task: main },
            Event::Poll { task: worker },
            // The worker finishes and, in doing so, wakes main, which awaits it.
            Event::WokenByTask {
                task: main,
                by: worker
            },
            Event::Ready { task: worker },
            // Main spawned the worker, so the worker ran in main's turn (turn 1).
            Event::TurnEnded { turn: 1 },
            Event::Poll { task: main },
            Event::Ready { task: main },
            Event::BlockOnReturn {
                elapsed: Duration::ZERO
            },
        ]
    );
}

#[test]
fn a_sleep_arms_a_timer_parks_jumps_and_fires() {
    let recorder = Recorder::new();
    let rt = Runtime::builder()
        .virtual_time(true)
        .record(recorder.clone())
        .build()
        .unwrap();
    rt.block_on(async { looplab::time::sleep(Duration::from_secs(1)).await });
    let main = TaskId(0);
    assert_eq!(
        recorder.events(),
        vec![
            Event::BlockOnStart,
            Event::Poll { task: main },
            Event::TimerArmed {
                task: Some(main),
                timer: 1,
                deadline: Duration::from_secs(1),
                level: 1,
                slot: 15
            },
            Event::Pending { task: main },
            Event::Park {
                timeout: Some(Duration::from_secs(1)),
                timers: 1,
                sources: 0
            },
            Event::Unpark {
                reason: UnparkReason::ClockJump
            },
            // Its level-1 slot came due: the timer drops to level 0 on its way out.
            Event::TimerCascaded {
                timer: 1,
                from_level: 1,
                to_level: 0,
                slot: 40
            },
            Event::TimersFired {
                timers: vec![1],
                woke: vec![main]
            },
            Event::TurnEnded { turn: 1 },
            Event::Poll { task: main },
            Event::Ready { task: main },
            Event::BlockOnReturn {
                elapsed: Duration::from_secs(1)
            },
        ]
    );
    let lines = recorder.lines();
    assert_eq!(
        lines[2],
        "  0.000s  task 0 main              timer #1 armed: deadline 1.000s, wheel level 1 slot 15"
    );
    assert_eq!(
        lines[7],
        "  1.000s  timer                    #1 fired -> wake task 0"
    );
}

#[test]
fn a_panic_is_traced_with_its_message() {
    let recorder = Recorder::new();
    let rt = Runtime::builder().record(recorder.clone()).build().unwrap();
    rt.block_on(async {
        let _ = looplab::spawn(async { panic!("boom") }).await;
    });
    assert!(recorder.events().contains(&Event::Panicked {
        task: TaskId(1),
        message: "boom".into()
    }));
    assert!(recorder.lines().iter().any(|l| l.ends_with(
        "task 1                   -> panicked: \"boom\" (its JoinHandle gets the error)"
    )));
}

#[test]
fn notes_are_attributed_to_the_running_task() {
    let recorder = Recorder::new();
    let rt = Runtime::builder().record(recorder.clone()).build().unwrap();
    rt.block_on(async {
        looplab::spawn_named("find_users(1)", async {
            looplab::trace::note("looking up user 1 of 1 ...");
        })
        .await
        .unwrap();
    });
    let lines = recorder.lines();
    assert!(
        lines.contains(
            &"  0.000s  task 1 find_users(1)     \"looking up user 1 of 1 ...\"".to_string()
        ),
        "{lines:#?}"
    );
}

#[test]
fn a_slow_poll_is_reported_with_the_task_and_the_time() {
    let recorder = Recorder::new();
    let rt = Runtime::builder()
        .record(recorder.clone())
        .slow_poll_threshold(Duration::from_millis(20))
        .build()
        .unwrap();
    rt.block_on(async {
        looplab::spawn(async { std::thread::sleep(Duration::from_millis(30)) })
            .await
            .unwrap();
    });
    let slow: Vec<_> = recorder
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::SlowPoll { task, took } => Some((task, took)),
            _ => None,
        })
        .collect();
    assert_eq!(slow.len(), 1, "{slow:?}");
    assert_eq!(slow[0].0, TaskId(1));
    assert!(slow[0].1 >= Duration::from_millis(30));
}

#[test]
fn a_real_time_park_that_times_out_is_one_unpark_deadline_reached() {
    let recorder = Recorder::new();
    let rt = Runtime::builder().record(recorder.clone()).build().unwrap();
    rt.block_on(async { looplab::time::sleep(Duration::from_millis(20)).await });
    let events = recorder.events();
    let parks = events
        .iter()
        .filter(|e| matches!(e, Event::Park { .. }))
        .count();
    let unparks: Vec<&UnparkReason> = events
        .iter()
        .filter_map(|e| match e {
            Event::Unpark { reason } => Some(reason),
            _ => None,
        })
        .collect();
    // The poll may come back a little before the timer's tick (the OS rounds the
    // timeout), so the loop can park more than once; but each park ends in exactly one
    // unpark line, and it says why: the deadline, never a "nothing happened" beside it.
    assert!(parks >= 1, "the loop parked for the sleep: {events:?}");
    assert_eq!(unparks.len(), parks, "one unpark per park: {events:?}");
    assert!(
        unparks.iter().all(|r| **r == UnparkReason::Deadline),
        "every park ended at the deadline: {unparks:?}"
    );
}

#[test]
fn busy_time_is_measured_while_recording_and_says_so_when_not() {
    let busy_loop = async {
        let handle = looplab::spawn(async {
            // Real work inside a poll, so the busy time cannot round to zero.
            let started = std::time::Instant::now();
            while started.elapsed() < Duration::from_millis(5) {}
        });
        handle.await.unwrap();
    };

    let recording = Runtime::builder()
        .virtual_time(true)
        .record(Recorder::new())
        .build()
        .unwrap();
    recording.block_on(busy_loop);
    let stats = recording.stats();
    assert!(stats.per_poll_measured);
    assert!(stats.busy >= Duration::from_millis(5), "{stats:?}");
    assert!(stats.to_string().contains("busy polling"), "{stats}");

    let quiet = Runtime::builder().virtual_time(true).build().unwrap();
    quiet.block_on(async {
        looplab::spawn(async {}).await.unwrap();
    });
    let stats = quiet.stats();
    assert!(!stats.per_poll_measured);
    assert_eq!(stats.busy, Duration::ZERO);
    // The report does not print a zero busy time as if it were a measurement.
    assert!(
        stats
            .to_string()
            .contains("busy time is measured only while tracing"),
        "{stats}"
    );
}

/// While tracing, the counters keep polls per task for the first 64 tasks only, and
/// the rest together: a traced run of many tasks does not grow a counter per task.
#[test]
fn per_task_poll_counts_stay_bounded_while_tracing_and_nothing_is_lost() {
    const TASKS: u64 = 1000;
    let rt = Runtime::builder()
        .virtual_time(true)
        .record(Recorder::new())
        .build()
        .unwrap();
    rt.block_on(async {
        let handles: Vec<_> = (0..TASKS)
            .map(|_| looplab::spawn(looplab::time::sleep(Duration::from_millis(1))))
            .collect();
        looplab::join_all(handles).await;
    });
    let stats = rt.stats();
    assert_eq!(stats.polls_per_task.len(), 64);
    let counted: u64 = stats.polls_per_task.values().sum();
    assert_eq!(counted + stats.polls_of_other_tasks, stats.polls);
    // Each task: a first poll that arms its timer (Pending), a second that ends it.
    // Main: a first poll, then one more Pending per wake before the last.
    assert_eq!(stats.polls_per_task[&looplab::task::TaskId(5)], 2);
    let main_polls = stats.polls_per_task[&looplab::task::TaskId(0)];
    assert_eq!(stats.later_polls_pending, main_polls - 2);
    assert!(
        stats.to_string().contains("polls of later tasks"),
        "{stats}"
    );
}

/// A slow poll is measured on the wall clock, so a virtual-time trace leaves it out:
/// otherwise a descheduled poll on a busy machine would change the trace.
#[test]
fn under_virtual_time_no_poll_is_reported_slow() {
    let recorder = Recorder::new();
    let rt = Runtime::builder()
        .virtual_time(true)
        .record(recorder.clone())
        .slow_poll_threshold(Duration::from_millis(20))
        .build()
        .unwrap();
    rt.block_on(async {
        looplab::spawn(async { std::thread::sleep(Duration::from_millis(30)) })
            .await
            .unwrap();
    });
    let events = recorder.events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Poll { task } if *task == TaskId(1)))
    );
    assert!(!events.iter().any(|e| matches!(e, Event::SlowPoll { .. })));
}
