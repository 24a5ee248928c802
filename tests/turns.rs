//! Which turn of the loop a task runs in (`run_queue.rs`, rule 4): a task that main
//! spawns or wakes runs in main's own turn, right after main; a task that another task
//! spawns or wakes, or that wakes itself, runs in the next turn.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use looplab::trace::{Event, TaskId};
use looplab::{Recorder, Runtime};

/// Runs `main` under virtual time and returns, for each poll of a spawned task, the
/// task and the turn it ran in (turns counted from 1, as `TurnEnded` counts them).
fn polls_by_turn(main: impl std::future::Future<Output = ()>) -> Vec<(TaskId, u64)> {
    let recorder = Recorder::new();
    let rt = Runtime::builder()
        .virtual_time(true)
        .record(recorder.clone())
        .build()
        .unwrap();
    rt.block_on(main);
    let mut turn = 1;
    let mut polls = Vec::new();
    for event in recorder.events() {
        match event {
            Event::TurnEnded { turn: ended } => turn = ended + 1,
            Event::Poll { task } if task != TaskId(0) => polls.push((task, turn)),
            _ => {}
        }
    }
    polls
}

#[test]
fn a_task_main_spawns_runs_in_mains_turn() {
    let polls = polls_by_turn(async {
        looplab::spawn(async {}).await.unwrap();
    });
    assert_eq!(polls, [(TaskId(1), 1)]);
}

#[test]
fn a_task_another_task_spawns_runs_in_the_next_turn() {
    let polls = polls_by_turn(async {
        // The outer task hands back the inner task's handle, for main to await.
        let outer = looplab::spawn(async {
            let inner = looplab::spawn(async {});
            Some(inner)
        });
        let inner = outer.await.unwrap().unwrap();
        inner.await.unwrap();
    });
    assert_eq!(polls, [(TaskId(1), 1), (TaskId(2), 2)]);
}

/// A future that is `Pending` on its first poll and leaves its waker where the test
/// can reach it.
fn parked_until_woken(
    slot: Arc<Mutex<Option<std::task::Waker>>>,
) -> impl std::future::Future<Output = ()> {
    let mut first = true;
    std::future::poll_fn(move |cx| {
        if first {
            first = false;
            *slot.lock().unwrap() = Some(cx.waker().clone());
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
}

#[test]
fn a_task_main_wakes_runs_in_mains_turn_and_one_a_task_wakes_in_the_next() {
    let woken_by_main = Arc::new(Mutex::new(None));
    let woken_by_task = Arc::new(Mutex::new(None));
    let polls = polls_by_turn({
        let (by_main, by_task) = (woken_by_main.clone(), woken_by_task.clone());
        async move {
            let a = looplab::spawn(parked_until_woken(by_main.clone())); // task 1
            let b = looplab::spawn(parked_until_woken(by_task.clone())); // task 2
            // Turn 1 polls both; let a timer end turn 1 so main runs again in turn 2.
            looplab::time::sleep(Duration::from_millis(1)).await;
            by_main.lock().unwrap().take().unwrap().wake();
            let waker = by_task.lock().unwrap().take().unwrap();
            // Task 3 wakes task 2 from inside its own poll.
            let waker_task = looplab::spawn(async move { waker.wake() });
            a.await.unwrap();
            waker_task.await.unwrap();
            b.await.unwrap();
        }
    });
    let turn_of = |task: u64, nth: usize| {
        polls
            .iter()
            .filter(|(t, _)| *t == TaskId(task))
            .nth(nth)
            .map(|(_, turn)| *turn)
            .unwrap()
    };
    // In the turn after the timer fired, main woke task 1 and spawned task 3: both
    // run in that same turn.
    let mains_second_turn = turn_of(1, 1);
    assert_eq!(mains_second_turn, 2);
    assert_eq!(turn_of(3, 0), mains_second_turn);
    // Task 2 was woken by task 3 during that turn: it waits for the next one.
    assert_eq!(turn_of(2, 1), mains_second_turn + 1);
}
