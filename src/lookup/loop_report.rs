//! The event loop in `looplab lookup --json`: per task and per turn, what the loop did.
//!
//! `--json`'s `"loop"` key answers the questions a script asks of a run: which tasks
//! there were and who spawned them, how often each was polled and when, who woke it
//! (a task, a timer, the reactor, another thread), and for each turn of the loop how
//! many polls it ran, how many timers fired and how its park ended. It is a summary
//! of the same events the page draws, so it can be read two ways:
//!
//! - [`LoopReport::from_recording`] reads any recording (a looplab run's, or
//!   asyncio's) through the [`Model`] every view draws from;
//! - [`LoopReport::from_records`] reads a looplab run's trace records directly, in one
//!   pass that keeps a few numbers per task and per turn. It is what `--json` uses:
//!   at 20,000 connections a run has 400,000 records, which become 680,000 recording
//!   lines and a model of them, several hundred megabytes to build and free for a
//!   summary of a few. The tests hold the two to the same answer.
//!
//! The counting rules are the model's: a turn ends at its `turn` line (or at `stop`,
//! when main is done); a wake by `spawn` is not counted as a wake (creating a task
//! queues it, no one woke it); an unpark with no park before it in the turn is a
//! *peek* (tasks were ready, the loop only looked at the reactor).

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

use super::report::{RunReport, maybe_seconds, seconds};
use crate::export::model::{Model, PollOutcome};
use crate::recording::{By, Recording, Runnable, UnparkReason, Via};
use crate::recording::{nanos, unpark_reason};
use crate::trace::{Event, Record};

/// The runs and, when the event loop's events were recorded, the loop itself (`"loop"`,
/// see [`LoopReport`]): [`to_json`](super::report::to_json)'s document with one more key.
pub fn to_json_with_loop(runs: &[RunReport], event_loop: Option<&LoopReport>) -> String {
    #[derive(Serialize)]
    struct Document<'a> {
        runs: &'a [RunReport],
        #[serde(rename = "loop", skip_serializing_if = "Option::is_none")]
        event_loop: Option<&'a LoopReport>,
    }
    serde_json::to_string(&Document { runs, event_loop })
        .expect("the report holds only strings, numbers and bools")
}

/// The event loop of a run, for `--json`: per task and per turn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoopReport {
    /// Every task, main (task 0) first, by number.
    pub tasks: Vec<TaskReport>,
    /// Every turn of the loop, in order.
    pub turns: Vec<TurnReport>,
}

/// One task of the loop.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskReport {
    /// Its number (`task 3`).
    pub id: u64,
    /// Its name (`spawn_named`), `main` for task 0, empty if it has none.
    pub name: String,
    /// The task that spawned it, if a task did.
    pub parent: Option<u64>,
    /// How many times the loop polled it.
    pub polls: usize,
    /// When its first poll began, and in which turn (from 1); `null` if never polled.
    #[serde(serialize_with = "maybe_seconds")]
    pub first_poll_s: Option<Duration>,
    /// The turn of its first poll.
    pub first_poll_turn: Option<usize>,
    /// When its last poll began.
    #[serde(serialize_with = "maybe_seconds")]
    pub last_poll_s: Option<Duration>,
    /// The turn of its last poll.
    pub last_poll_turn: Option<usize>,
    /// `ready`, `panicked`, or `running` (not finished when the records end).
    pub end: &'static str,
    /// Who woke it, and how often: one entry per waker.
    pub woken_by: Vec<WokenBy>,
}

/// Who woke a task, and how many times.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct WokenBy {
    /// `task` (a task, during its poll: itself for a yield), `timer`, `io` (the
    /// reactor) or `thread` (another OS thread).
    pub by: &'static str,
    /// The waking task's number, for `by: task`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<u64>,
    /// How many wakes.
    pub count: usize,
}

/// One turn of the loop.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TurnReport {
    /// Its number, from 1.
    pub turn: usize,
    /// The clock at its first and last event.
    #[serde(serialize_with = "seconds")]
    pub start_s: Duration,
    /// The clock at its last event.
    #[serde(serialize_with = "seconds")]
    pub end_s: Duration,
    /// Tasks polled in it.
    pub polls: usize,
    /// Timers that fired in it.
    pub timers_fired: usize,
    /// Main was done: the loop stopped in this turn's step 2, before any park.
    pub stopped: bool,
    /// Its park (step 4), or `null` when it did not park (tasks were ready, or it stopped).
    pub park: Option<ParkReport>,
}

/// One park (or a zero-timeout peek) of the loop.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParkReport {
    /// `park` (the loop waited), or `peek` (tasks were ready: a zero-timeout look at
    /// the reactor, which had news).
    pub kind: &'static str,
    /// How long it was willing to wait, in milliseconds; `null`: until something happens.
    pub timeout_ms: Option<f64>,
    /// How long it waited, in milliseconds (to the microsecond): what the clock moved.
    pub waited_ms: f64,
    /// What ended it: `deadline`, `clock_jump` (virtual time), `io`, `remote_wake`,
    /// `nothing` (an interrupted wait), or `null` if the records end in it.
    pub ended_by: Option<&'static str>,
    /// For `ended_by: io`: how many I/O events it brought.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub io_events: Option<usize>,
    /// Timers in the wheel and sockets registered when it parked (0 for a peek: the
    /// trace does not say).
    pub timers: usize,
    /// Sockets registered when it parked.
    pub sockets: usize,
}

impl LoopReport {
    /// The loop's tasks and turns, from a recording (through the [`Model`] the page and
    /// the Chrome trace draw).
    pub fn from_recording(recording: &Recording) -> LoopReport {
        let run = Model::new(recording);
        let mut woken = WakeTally::default();
        for wake in &run.wakes {
            if let Runnable::Task(task) = wake.who {
                woken.add(task, &wake.by, wake.via);
            }
        }
        let mut woken = woken.sorted();
        let tasks = run
            .tasks
            .iter()
            .map(|lane| {
                let first = lane.polls.first().map(|&p| &run.polls[p]);
                let last = lane.polls.last().map(|&p| &run.polls[p]);
                TaskReport {
                    id: lane.id,
                    name: lane.name.clone(),
                    parent: match lane.parent {
                        Some(Runnable::Task(task)) => Some(task),
                        _ => None,
                    },
                    polls: lane.polls.len(),
                    first_poll_s: first.map(|p| Duration::from_nanos(p.start)),
                    first_poll_turn: first.map(|p| p.turn + 1),
                    last_poll_s: last.map(|p| Duration::from_nanos(p.start)),
                    last_poll_turn: last.map(|p| p.turn + 1),
                    end: match lane.ended {
                        Some(PollOutcome::Ready) => "ready",
                        Some(PollOutcome::Panicked(_)) => "panicked",
                        _ => "running",
                    },
                    woken_by: woken.of(lane.id),
                }
            })
            .collect();
        let turns = run
            .turns
            .iter()
            .enumerate()
            .map(|(index, turn)| TurnReport {
                turn: index + 1,
                start_s: Duration::from_nanos(turn.start),
                end_s: Duration::from_nanos(turn.end),
                polls: turn.polls.len(),
                timers_fired: turn.fired.len(),
                stopped: turn.stopped,
                park: turn.park.map(|p| {
                    let park = &run.parks[p];
                    ParkReport::new(&ParkSeen {
                        peek: park.peek,
                        start: park.start,
                        end: park.end,
                        timeout: park.timeout,
                        ended_by: park.ended_by,
                        timers: park.timers,
                        sources: park.sources,
                    })
                }),
            })
            .collect();
        LoopReport { tasks, turns }
    }

    /// The same report, read straight from a looplab run's trace records
    /// ([`Recorder::with_records`](crate::trace::Recorder)), without the recording and
    /// the model in between: what `--json` uses.
    pub fn from_records(records: &[Record]) -> LoopReport {
        let mut pass = RecordPass::default();
        for record in records {
            pass.add(nanos(record.at), &record.event);
        }
        pass.finish()
    }
}

impl ParkReport {
    fn new(park: &ParkSeen) -> ParkReport {
        let waited = park.end.saturating_sub(park.start);
        ParkReport {
            kind: if park.peek { "peek" } else { "park" },
            timeout_ms: park.timeout.map(|t| t as f64 / 1e6),
            waited_ms: (waited as f64 / 1000.0).round() / 1000.0,
            ended_by: park.ended_by.map(|(reason, _)| match reason {
                UnparkReason::Deadline => "deadline",
                UnparkReason::ClockJump => "clock_jump",
                UnparkReason::Io => "io",
                UnparkReason::RemoteWake => "remote_wake",
                UnparkReason::Nothing => "nothing",
            }),
            io_events: match park.ended_by {
                Some((UnparkReason::Io, n)) => Some(n as usize),
                _ => None,
            },
            timers: park.timers as usize,
            sockets: park.sources as usize,
        }
    }
}

/// A park (or peek) as either reader saw it, in the recording's units.
#[derive(Clone, Copy)]
struct ParkSeen {
    peek: bool,
    start: u64,
    end: u64,
    timeout: Option<u64>,
    ended_by: Option<(UnparkReason, u64)>,
    timers: u64,
    sources: u64,
}

/// A woken task, and who woke it: the kind of waker and, for a task, its number.
type WakeKey = (u64, &'static str, Option<u64>);

/// Wakes counted per (woken task, waker).
#[derive(Default)]
struct WakeTally(HashMap<WakeKey, usize>);

impl WakeTally {
    fn add(&mut self, task: u64, by: &By, via: Via) {
        // A spawn queues its task, but no one woke it.
        if via == Via::Spawn {
            return;
        }
        let (by, waker) = match by {
            By::Task(waker) => ("task", Some(*waker)),
            By::Timer(_) => ("timer", None),
            By::Io(_) => ("io", None),
            By::Thread => ("thread", None),
            By::Callback(_) => ("callback", None),
            By::Outside => ("outside", None),
        };
        *self.0.entry((task, by, waker)).or_default() += 1;
    }

    /// The counts sorted by task, then by waker, to be taken task by task.
    fn sorted(self) -> SortedWakes {
        let mut wakes: Vec<_> = self.0.into_iter().collect();
        wakes.sort_unstable();
        SortedWakes(wakes.into_iter().peekable())
    }
}

struct SortedWakes(std::iter::Peekable<std::vec::IntoIter<(WakeKey, usize)>>);

impl SortedWakes {
    /// The wakers of `task`; tasks must be asked for in increasing order.
    fn of(&mut self, task: u64) -> Vec<WokenBy> {
        while self.0.next_if(|((t, ..), _)| *t < task).is_some() {}
        std::iter::from_fn(|| {
            self.0
                .next_if(|((t, ..), _)| *t == task)
                .map(|((_, by, waker), count)| WokenBy {
                    by,
                    task: waker,
                    count,
                })
        })
        .collect()
    }
}

/// What the one pass over the records keeps of a task.
struct TaskSeen {
    name: String,
    parent: Option<u64>,
    polls: usize,
    /// The first and the last poll: when it began, and in which turn (from 0).
    first: Option<(u64, usize)>,
    last: Option<(u64, usize)>,
    end: &'static str,
}

/// The turn in progress.
struct TurnSeen {
    start: u64,
    end: u64,
    polls: usize,
    timers_fired: usize,
    stopped: bool,
    /// Its latest park or peek, and whether that park still waits for its unpark.
    park: Option<(ParkSeen, bool)>,
}

/// The state of [`LoopReport::from_records`]'s pass.
#[derive(Default)]
struct RecordPass {
    tasks: HashMap<u64, TaskSeen>,
    woken: WakeTally,
    /// The task that armed each timer still armed (a timer's wake is that task's).
    armed_by: HashMap<u64, u64>,
    turns: Vec<TurnReport>,
    turn: Option<TurnSeen>,
    /// The task whose poll is in progress.
    polling: Option<u64>,
}

impl RecordPass {
    fn task(&mut self, task: u64) -> &mut TaskSeen {
        self.tasks.entry(task).or_insert_with(|| TaskSeen {
            name: String::new(),
            parent: None,
            polls: 0,
            first: None,
            last: None,
            end: "running",
        })
    }

    fn wake(&mut self, task: u64, by: By) {
        self.task(task);
        self.woken.add(task, &by, Via::Waker);
    }

    fn add(&mut self, at: u64, event: &Event) {
        let turn = self.turn.get_or_insert(TurnSeen {
            start: at,
            end: at,
            polls: 0,
            timers_fired: 0,
            stopped: false,
            park: None,
        });
        turn.end = at;
        match event {
            Event::BlockOnStart => {
                let main = self.task(0);
                if main.name.is_empty() {
                    main.name = "main".to_string();
                }
            }
            Event::Spawn { parent, task, name } => {
                let seen = self.task(task.0);
                seen.name.clone_from(name);
                seen.parent = parent.map(|p| p.0);
            }
            Event::Poll { task } => {
                turn.polls += 1;
                let index = self.turns.len();
                self.polling = Some(task.0);
                let seen = self.task(task.0);
                seen.polls += 1;
                seen.first.get_or_insert((at, index));
                seen.last = Some((at, index));
            }
            Event::Pending { task } | Event::Ready { task } | Event::Panicked { task, .. } => {
                if self.polling.take_if(|polling| *polling == task.0).is_some() {
                    match event {
                        Event::Ready { .. } => self.task(task.0).end = "ready",
                        Event::Panicked { .. } => self.task(task.0).end = "panicked",
                        _ => {}
                    }
                }
            }
            Event::WokenByTask { task, by } => self.wake(task.0, By::Task(by.0)),
            Event::WokenByThread { task } => self.wake(task.0, By::Thread),
            Event::TimerArmed {
                task: Some(task),
                timer,
                ..
            } => {
                self.armed_by.insert(*timer, task.0);
            }
            Event::TimerCancelled { timer } => {
                self.armed_by.remove(timer);
            }
            Event::TimersFired { timers, .. } => {
                turn.timers_fired += timers.len();
                for timer in timers {
                    if let Some(task) = self.armed_by.remove(timer) {
                        self.wake(task, By::Timer(*timer));
                    }
                }
            }
            Event::IoReady { token, woke, .. } => {
                for task in woke {
                    self.wake(task.0, By::Io(*token as u64));
                }
            }
            Event::Park {
                timeout,
                timers,
                sources,
            } => {
                let park = ParkSeen {
                    peek: false,
                    start: at,
                    end: at,
                    timeout: timeout.map(nanos),
                    ended_by: None,
                    timers: *timers as u64,
                    sources: *sources as u64,
                };
                turn.park = Some((park, true));
            }
            Event::Unpark { reason } => {
                let ended_by = Some(unpark_reason(reason));
                match &mut turn.park {
                    Some((park, waiting @ true)) => {
                        park.end = at;
                        park.ended_by = ended_by;
                        *waiting = false;
                    }
                    // No park before it in this turn: tasks were ready and the loop
                    // only peeked at the reactor, which had news.
                    _ => {
                        let peek = ParkSeen {
                            peek: true,
                            start: at,
                            end: at,
                            timeout: Some(0),
                            ended_by,
                            timers: 0,
                            sources: 0,
                        };
                        turn.park = Some((peek, false));
                    }
                }
            }
            Event::BlockOnReturn { .. } => {
                turn.stopped = true;
                self.end_turn();
            }
            Event::TurnEnded { .. } => self.end_turn(),
            Event::TimerArmed { task: None, .. }
            | Event::Note { .. }
            | Event::TimerCascaded { .. }
            | Event::IoRegistered { .. }
            | Event::IoWouldBlock { .. }
            | Event::IoWait { .. }
            | Event::IoDeregistered { .. }
            | Event::IoDone { .. }
            | Event::SlowPoll { .. } => {}
        }
    }

    fn end_turn(&mut self) {
        let Some(turn) = self.turn.take() else {
            return;
        };
        self.turns.push(TurnReport {
            turn: self.turns.len() + 1,
            start_s: Duration::from_nanos(turn.start),
            end_s: Duration::from_nanos(turn.end),
            polls: turn.polls,
            timers_fired: turn.timers_fired,
            stopped: turn.stopped,
            park: turn.park.map(|(park, _)| ParkReport::new(&park)),
        });
    }

    fn finish(mut self) -> LoopReport {
        // Records that end in the middle of a turn end with an unfinished turn.
        self.end_turn();
        let mut ids: Vec<u64> = self.tasks.keys().copied().collect();
        ids.sort_unstable();
        let mut woken = std::mem::take(&mut self.woken).sorted();
        let tasks = ids
            .into_iter()
            .map(|id| {
                let seen = self.tasks.remove(&id).expect("an id of the map");
                TaskReport {
                    id,
                    name: seen.name,
                    parent: seen.parent,
                    polls: seen.polls,
                    first_poll_s: seen.first.map(|(at, _)| Duration::from_nanos(at)),
                    first_poll_turn: seen.first.map(|(_, turn)| turn + 1),
                    last_poll_s: seen.last.map(|(at, _)| Duration::from_nanos(at)),
                    last_poll_turn: seen.last.map(|(_, turn)| turn + 1),
                    end: seen.end,
                    woken_by: woken.of(id),
                }
            })
            .collect();
        LoopReport {
            tasks,
            turns: self.turns,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::recording::{Capture, Clock};
    use crate::runtime::Runtime;

    /// Both readings of what `capture` holds: straight from the records, and through
    /// the recording and its model.
    fn both_ways(capture: &Capture) -> (LoopReport, LoopReport) {
        let direct = capture.recorder().with_records(LoopReport::from_records);
        let through_the_model = LoopReport::from_recording(&capture.recording(Clock::Real, "t"));
        (direct, through_the_model)
    }

    fn captured(virtual_time: bool, program: impl std::future::Future<Output = ()>) -> Capture {
        let capture = Capture::new();
        let runtime = Runtime::builder()
            .virtual_time(virtual_time)
            .capture(capture.clone())
            .build()
            .unwrap();
        runtime.block_on(program);
        capture
    }

    #[test]
    fn the_posts_scenario_reads_the_same_both_ways() {
        let capture = Capture::new();
        let options = crate::lookup::event_loop::EventLoopOptions {
            requests: vec![3, 2, 1],
            delay: Duration::from_secs(1),
            virtual_time: true,
            call_timeout: None,
            lang: Default::default(),
            trace: crate::TraceOutput::Off,
            recorder: None,
        };
        let narrate: crate::lookup::event_loop::Narrator = Arc::new(|_, _| {});
        crate::lookup::event_loop::run_event_loop(None, &options, narrate, |builder| {
            builder.capture(capture.clone())
        })
        .unwrap();
        let (direct, model) = both_ways(&capture);
        assert_eq!(direct, model);
        // Not two empty answers: the scenario's tasks, their wakes by timers and by
        // tasks, and the three clock jumps.
        assert!(direct.tasks.len() >= 8, "{:?}", direct.tasks);
        let jumps = direct
            .turns
            .iter()
            .filter(|t| t.park.as_ref().and_then(|p| p.ended_by) == Some("clock_jump"))
            .count();
        assert_eq!(jumps, 3);
        assert!(
            direct
                .tasks
                .iter()
                .any(|t| t.woken_by.iter().any(|w| w.by == "timer"))
        );
        assert!(
            direct
                .tasks
                .iter()
                .any(|t| t.woken_by.iter().any(|w| w.by == "task"))
        );
    }

    #[test]
    fn panics_cancelled_timers_yields_and_other_threads_read_the_same_both_ways() {
        let capture = captured(true, async {
            let panicking = crate::spawn(async {
                crate::time::sleep(Duration::from_millis(3)).await;
                panic!("boom");
            });
            // A timeout that its future beats: the timer is cancelled, never fired.
            let quick = crate::time::timeout(Duration::from_secs(5), async {
                crate::time::sleep(Duration::from_millis(1)).await;
            });
            quick.await.unwrap();
            assert!(panicking.await.is_err());
            // A task that wakes itself (a yield) three times.
            let yielder = crate::spawn(async {
                let mut yields = 0;
                std::future::poll_fn(|cx| {
                    if yields == 3 {
                        return std::task::Poll::Ready(());
                    }
                    yields += 1;
                    cx.waker().wake_by_ref();
                    std::task::Poll::Pending
                })
                .await
            });
            yielder.await.unwrap();
            // A task woken from another OS thread.
            let (tx, rx) = futures::channel::oneshot::channel::<u8>();
            let thread = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(5));
                tx.send(7).unwrap();
            });
            let waiter = crate::spawn(rx);
            assert_eq!(waiter.await.unwrap().unwrap(), 7);
            thread.join().unwrap();
        });
        let (direct, model) = both_ways(&capture);
        assert_eq!(direct, model);
        let ends: Vec<&str> = direct.tasks.iter().map(|t| t.end).collect();
        assert!(ends.contains(&"panicked"), "{ends:?}");
        assert!(
            direct
                .tasks
                .iter()
                .any(|t| t.woken_by.iter().any(|w| w.by == "thread"))
        );
    }

    #[test]
    fn real_sockets_read_the_same_both_ways() {
        let capture = captured(false, async {
            let listener = crate::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = crate::spawn(async move {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 5];
                let mut got = 0;
                while got < 5 {
                    got += stream.read(&mut buf[got..]).await.unwrap();
                }
                stream.write_all(&buf).await.unwrap();
            });
            let mut client = crate::net::TcpStream::connect(addr).await.unwrap();
            client.write_all(b"hello").await.unwrap();
            let mut back = [0u8; 5];
            let mut got = 0;
            while got < 5 {
                got += client.read(&mut back[got..]).await.unwrap();
            }
            server.await.unwrap();
        });
        let (direct, model) = both_ways(&capture);
        assert_eq!(direct, model);
        assert!(
            direct
                .tasks
                .iter()
                .any(|t| t.woken_by.iter().any(|w| w.by == "io"))
        );
        assert!(
            direct
                .turns
                .iter()
                .any(|t| t.park.as_ref().and_then(|p| p.ended_by) == Some("io"))
        );
    }

    #[test]
    fn records_cut_short_end_in_an_unfinished_turn_both_ways() {
        let capture = captured(true, async {
            let sleeper = crate::spawn(crate::time::sleep(Duration::from_millis(2)));
            sleeper.await.unwrap();
        });
        let records = capture.recorder().records();
        // Cut in the middle of the second turn, and in the middle of a park.
        for keep in [records.len() / 2, records.len() - 2] {
            let kept = &records[..keep];
            let direct = LoopReport::from_records(kept);
            let recording = crate::recording::from_records(kept, Clock::Virtual, "t");
            assert_eq!(
                direct,
                LoopReport::from_recording(&recording),
                "first {keep}"
            );
        }
    }
}
