//! Chapter 5: the executor — a run queue, and a loop that polls whatever is in it.
//!
//! ```text
//! cargo run --example ch05_executor
//! ```
//!
//! Chapter 4 ended with a waker that says "poll me again". An executor is what listens:
//! a **run queue** of tasks that are ready, and a loop that takes a task out, polls it
//! once, and moves on. A task that returns `Pending` is not in the queue any more; it
//! comes back only when its waker puts it back. That is the whole trick of "one thread
//! doing the work of many": a task that has to wait gives the thread back, and the next
//! ready task gets it.
//!
//! Two stages, side by side (the small one is kept on purpose):
//!
//! 1. A **minimal executor**, one screen of code written right here: a crossbeam channel
//!    as the run queue, a task whose `ArcWake` sends it into that channel, a
//!    `scheduled` flag so a task is queued at most once, and a loop that receives and
//!    polls until every task is done.
//! 2. The **same three tasks on looplab's runtime** (`src/executor.rs`), under virtual
//!    time, with its trace printed line by line. The runtime adds what the minimal one
//!    lacks: `block_on` with a main future, `JoinHandle`s, timers, I/O, and a trace.
//!
//! Each task does three steps and yields between them with `yield_now` (exercise 2,
//! whose answer the examples share in `examples/common/yield_now.rs`): "I could go on,
//! but let the others have a turn". So the tasks take turns: task 1 step 1, task 2 step 1, task 3 step 1,
//! task 1 step 2, ... In asyncio the same thing is `await asyncio.sleep(0)`, and in
//! tokio `tokio::task::yield_now().await`.

mod common;

use std::cell::RefCell;
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Context;
use std::thread::ThreadId;

use common::yield_now::yield_now;
use crossbeam_channel::Sender;
use futures_task::{ArcWake, waker_ref};
use looplab::trace::{Event, TaskId};
use looplab::{Recorder, Runtime, TraceOutput};

const TASKS: u32 = 3;
const STEPS: u32 = 3;

/// One step of one task: (task, step).
type Step = (u32, u32);

fn main() {
    println!("== stage 1: a minimal executor, written in this file ==\n");
    let mini_steps = run_on_minimal_executor();

    println!("\n== stage 2: the same tasks on looplab's runtime (virtual time, trace on) ==\n");
    let (looplab_steps, turns) = run_on_looplab();

    // The order both executors ran the steps in must be turn by turn.
    let expected: Vec<Step> = (1..=STEPS)
        .flat_map(|step| (1..=TASKS).map(move |task| (task, step)))
        .collect();
    assert_eq!(mini_steps, expected, "the minimal executor's order");
    assert_eq!(looplab_steps, expected, "looplab's order");
    println!(
        "\nproved: {TASKS} tasks × {STEPS} steps interleaved on one thread in {turns} turns \
         (both executors ran the {} steps in the same order: task 1, 2, 3, then again)",
        expected.len()
    );
}

/// The three steps every task does, yielding between them. `say` reports a step.
async fn three_steps(task: u32, say: impl Fn(u32, u32)) {
    for step in 1..=STEPS {
        say(task, step);
        if step < STEPS {
            yield_now().await;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Stage 1: the minimal executor.
// ---------------------------------------------------------------------------------------

type BoxedFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A future plus the way back into the run queue.
struct MiniTask {
    id: usize,
    /// `None` once finished. A `Mutex` only because a waker must be `Sync`.
    future: Mutex<Option<BoxedFuture>>,
    /// In the queue already: further wakes add nothing until the task is polled.
    scheduled: AtomicBool,
    run_queue: Sender<Arc<MiniTask>>,
}

impl ArcWake for MiniTask {
    fn wake_by_ref(task: &Arc<Self>) {
        if !task.scheduled.swap(true, Ordering::AcqRel) {
            task.run_queue.send(task.clone()).unwrap();
        }
    }
}

/// Runs every future as a task on this thread until all are done.
fn mini_block_on(futures: Vec<BoxedFuture>) {
    let (sender, run_queue) = crossbeam_channel::unbounded();
    let mut unfinished = futures.len();
    for (i, future) in futures.into_iter().enumerate() {
        let task = Arc::new(MiniTask {
            id: i + 1,
            future: Mutex::new(Some(future)),
            scheduled: AtomicBool::new(false),
            run_queue: sender.clone(),
        });
        ArcWake::wake_by_ref(&task); // a new task is ready to run
    }
    while unfinished > 0 {
        // Only tasks wake tasks here, so a task is always queued while any is left.
        // (A real loop would park in the reactor when the queue is empty: chapter 7.)
        let task = run_queue.recv().unwrap();
        // Cleared before the poll, so a wake during the poll queues the task again.
        task.scheduled.store(false, Ordering::Release);
        let waker = waker_ref(&task);
        let mut slot = task.future.lock().unwrap();
        let Some(future) = slot.as_mut() else {
            continue;
        };
        println!("poll task {}", task.id);
        if future
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_ready()
        {
            println!("  -> Ready");
            *slot = None;
            unfinished -= 1;
        } else {
            println!("  -> Pending");
        }
    }
}

fn run_on_minimal_executor() -> Vec<Step> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let futures = (1..=TASKS)
        .map(|task| {
            let log = log.clone();
            let say = move |task, step| {
                println!("     task {task}: step {step} of {STEPS}");
                log.lock().unwrap().push((task, step));
            };
            Box::pin(three_steps(task, say)) as BoxedFuture
        })
        .collect();
    mini_block_on(futures);
    log.lock().unwrap().clone()
}

// ---------------------------------------------------------------------------------------
// Stage 2: looplab's runtime.
// ---------------------------------------------------------------------------------------

/// Runs the tasks on looplab with the trace on stdout. Returns the steps in the order
/// the recorder saw them, and how many turns of the loop ran steps.
fn run_on_looplab() -> (Vec<Step>, usize) {
    let recorder = Recorder::new();
    // After each turn the loop calls this hook. It marks where the turn ended in the
    // recording (so the steps can be grouped by turn below) and prints a rule under the
    // turn's lines, with the tasks that are queued for the next one.
    let turn_ends = Rc::new(RefCell::new(Vec::new()));
    let hook = {
        let (recorder, turn_ends) = (recorder.clone(), turn_ends.clone());
        move |view: &looplab::executor::TurnView| {
            let records = recorder.records();
            let mut turn_ends = turn_ends.borrow_mut();
            let this_turn = &records[turn_ends.last().copied().unwrap_or(0)..];
            turn_ends.push(records.len());
            let mut queued: Vec<String> = view.run_queue.iter().map(|t| t.to_string()).collect();
            // `block_on`'s own future is not in the run queue (it is not a spawned task),
            // but when it was woken it is polled first in the next turn: show it too.
            let main_woken = this_turn.iter().any(|r| {
                matches!(
                    r.event,
                    Event::WokenByTask {
                        task: TaskId(0),
                        ..
                    }
                )
            });
            if main_woken {
                queued.insert(0, "task 0 main".to_string());
            }
            println!(
                "--------- end of turn {}; ready for the next turn: [{}]",
                view.turn,
                queued.join(", ")
            );
        }
    };
    let runtime = Runtime::builder()
        .virtual_time(true)
        .trace(TraceOutput::Stdout)
        .record(recorder.clone())
        .on_turn(hook)
        .build()
        .expect("a runtime");

    // Which OS threads ran a step: the claim is "one thread".
    let threads = Arc::new(Mutex::new(HashSet::<ThreadId>::new()));
    println!("{:>8}  {:<24} what", "time", "who");
    let said = threads.clone();
    runtime.block_on(async move {
        let handles: Vec<_> = (1..=TASKS)
            .map(|task| {
                let said = said.clone();
                let say = move |_task, step| {
                    said.lock().unwrap().insert(std::thread::current().id());
                    looplab::trace::note(format!("step {step} of {STEPS}"));
                };
                looplab::spawn_named("three_steps", three_steps(task, say))
            })
            .collect();
        for result in looplab::join_all(handles).await {
            result.expect("no task panics");
        }
    });
    let threads = threads.lock().unwrap();
    assert_eq!(*threads, HashSet::from([std::thread::current().id()]));

    // Read the steps back from the recording, turn by turn.
    let records = recorder.records();
    let mut turn_ends = turn_ends.borrow().clone();
    turn_ends.push(records.len()); // the last turn: main returned, no hook ran
    let mut steps = Vec::new();
    let mut turns_with_steps = 0;
    let mut start = 0;
    for (turn, &end) in turn_ends.iter().enumerate() {
        let in_turn: Vec<Step> = records[start..end]
            .iter()
            .filter_map(|record| match &record.event {
                Event::Note {
                    task: Some(TaskId(task)),
                    text,
                } => Some((*task as u32, step_number(text))),
                _ => None,
            })
            .collect();
        start = end;
        if in_turn.is_empty() {
            continue;
        }
        // One turn polls each ready task once: every task's step k, in task order.
        turns_with_steps += 1;
        let expected: Vec<Step> = (1..=TASKS).map(|task| (task, turn as u32 + 1)).collect();
        assert_eq!(in_turn, expected, "turn {}", turn + 1);
        steps.extend(in_turn);
    }
    (steps, turns_with_steps)
}

/// "step 2 of 3" -> 2.
fn step_number(note: &str) -> u32 {
    let number = note
        .strip_prefix("step ")
        .and_then(|rest| rest.split(' ').next());
    number.and_then(|n| n.parse().ok()).expect("a step note")
}
