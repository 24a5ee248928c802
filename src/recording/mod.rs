//! Recordings: a run of the loop saved as a file, to be drawn later or elsewhere.
//!
//! The trace ([`trace`](crate::trace)) lives in memory and dies with the process. A
//! recording is the same run written down: a JSON Lines file whose first line says
//! what it is (`{"format":"looplab-recording","version":1,...}`, with the clock and
//! the loop that made it), then one line per thing the loop did, in order:
//!
//! ```text
//! {"format":"looplab-recording","version":1,"source":"looplab","clock":"virtual",...}
//! {"at_ns":0,"kind":"start","task":0,"name":"main"}
//! {"at_ns":0,"kind":"spawn","task":1,"parent":{"task":0},"name":"find_users(3)"}
//! {"at_ns":0,"kind":"poll","who":{"task":1}}
//! {"at_ns":0,"kind":"timer_armed","timer":1,"who":{"task":1},"deadline_ns":1000000000,...}
//! {"at_ns":0,"kind":"poll_end","who":{"task":1},"result":"pending","message":null}
//! ```
//!
//! Two loops write it: looplab (from its [`Record`](crate::trace::Record)s, through
//! [`from_records`]) and Python's asyncio (through `python/asyncio_record.py`), so one
//! viewer draws both. `docs/recording.md` documents every line and field, and what
//! the page and the Chrome trace make of them.
//!
//! - [`line`](mod@line): the lines as types; serde derives their JSON, so the bytes are fixed
//!   by the declarations.
//! - [`read`]: [`Recording::parse`] checks the header, the version and every line, and
//!   names the line that is wrong.
//! - [`write`](mod@write): [`Writer`] and [`Recording::to_bytes`].
//! - `from_trace.rs` and `turn_view.rs`: the runtime's records, and its per-turn
//!   `--step` snapshot, as lines; [`Capture`] (`capture.rs`) collects both while a
//!   runtime runs ([`Builder::capture`](crate::Builder::capture)).
//! - `env.rs` ([`EnvRecording`]): `LOOPLAB_RECORD`, `LOOPLAB_HTML` and
//!   `LOOPLAB_CHROME_TRACE`, written when a runtime is dropped. The page and the
//!   trace are drawn from the recording by [`export`](crate::export): this is the one
//!   place that hands a runtime's recording to the exporter, so that the runtime
//!   itself knows nothing of drawing.

pub mod line;
pub mod read;
pub mod write;

mod capture;
mod env;
mod from_trace;
mod turn_view;

pub use capture::Capture;
pub use env::{CHROME_TRACE_VAR, EnvRecording, HTML_VAR, RECORD_VAR};
pub use from_trace::{from_records, from_records_with_turns, looplab_header};
pub(crate) use from_trace::{nanos, unpark_reason};
pub use line::{
    By, Clock, FORMAT, Header, IoKeys, IoState, Kind, Line, LookupRequest, ParkOutcome, Place,
    PollResult, Runnable, Source, TimerLayout, TimerState, TurnState, UnparkReason, VERSION, Via,
};
pub use read::{Problem, ReadError, Recording};
pub use turn_view::turn_state;
pub use write::Writer;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::trace::{Event, Record, TaskId};

    /// A line of every kind, with every kind of value in its fields.
    fn one_of_each() -> Vec<Line> {
        let task = Runnable::Task(1);
        let callback = Runnable::Callback("Transport._read_ready".into());
        let state = TurnState {
            main_woken: true,
            run_queue: vec![task.clone(), callback.clone()],
            park: ParkOutcome::Waited {
                waited_ns: 3,
                ended_by: UnparkReason::Io,
                events: 2,
            },
            wheel_tick: None,
            timers: vec![TimerState {
                timer: 4,
                deadline_ns: 1_000_000_000,
                place: Place::Heap(0),
                who: Some(task.clone()),
                callback: Some("_set_result_unless_cancelled".into()),
            }],
            io: vec![IoState {
                key: 7,
                what: "stream".into(),
                interest: "read".into(),
                readable: true,
                writable: false,
                readers: vec![callback.clone()],
                writers: vec![],
            }],
        };
        let kinds = vec![
            Kind::Start {
                task: 0,
                name: "main".into(),
            },
            Kind::Spawn {
                task: 1,
                parent: Some(Runnable::Task(0)),
                name: "find_users(3)".into(),
            },
            Kind::Poll { who: task.clone() },
            Kind::PollEnd {
                who: task.clone(),
                result: PollResult::Panicked,
                message: Some("boom \"quoted\"\n조회".into()),
            },
            Kind::Wake {
                who: task.clone(),
                by: By::Thread,
                via: Via::CallSoonThreadsafe,
            },
            Kind::Wake {
                who: callback.clone(),
                by: By::Io(7),
                via: Via::Selector,
            },
            Kind::Wake {
                who: Runnable::Task(0),
                by: By::Outside,
                via: Via::Spawn,
            },
            Kind::Note {
                who: None,
                text: "3명 중 1번 째 사용자 조회 중 ...".into(),
            },
            Kind::Park {
                timeout_ns: None,
                timers: 3,
                sources: 0,
            },
            Kind::Unpark {
                reason: UnparkReason::ClockJump,
                events: 0,
            },
            Kind::TimerArmed {
                timer: 4,
                who: Some(task.clone()),
                deadline_ns: 1_000_000_000,
                place: Place::Wheel { level: 1, slot: 15 },
                callback: None,
            },
            Kind::TimerCascaded {
                timer: 4,
                from_level: 1,
                to_level: 0,
                slot: 8,
            },
            Kind::TimerFired { timer: 4 },
            Kind::TimerCancelled { timer: 5 },
            Kind::IoRegistered {
                key: 7,
                who: Some(callback.clone()),
                what: "stream".into(),
                interest: "read+write".into(),
            },
            Kind::IoModified {
                key: 7,
                interest: "read".into(),
            },
            Kind::IoReady {
                key: 7,
                readable: true,
                writable: false,
            },
            Kind::IoWouldBlock {
                key: 7,
                who: Some(task.clone()),
                op: "read".into(),
            },
            Kind::IoWait {
                key: 7,
                who: None,
                op: "accept".into(),
            },
            Kind::IoDone {
                key: 7,
                who: Some(task.clone()),
                op: "write".into(),
                bytes: 42,
            },
            Kind::IoDeregistered { key: 7 },
            Kind::SlowPoll {
                who: task.clone(),
                took_ns: 12_000_000,
            },
            Kind::LookupRun {
                mode: "event-loop".into(),
                virtual_time: true,
                total_ns: 3_000_000_000,
                delay_ns: Some(1_000_000_000),
                requests: vec![LookupRequest {
                    users: 1,
                    start_ns: 0,
                    latency_ns: 1_000_000_000,
                    lookups: vec![[0, 1_000_000_000]],
                }],
            },
            Kind::Turn {
                turn: 1,
                state: Some(state),
            },
            Kind::Stop {
                elapsed_ns: 3_000_000_000,
            },
        ];
        kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| Line {
                at_ns: i as u64 * 1_000_000,
                kind,
            })
            .collect()
    }

    fn header() -> Header {
        Header {
            format: FORMAT.into(),
            version: VERSION,
            source: Source::Asyncio,
            clock: Clock::Virtual,
            timers: TimerLayout::Heap,
            io_keys: IoKeys::Fd,
            program: "python/seed_async.py".into(),
        }
    }

    #[test]
    fn every_kind_round_trips_to_the_same_lines_and_the_same_bytes() {
        let recording = Recording {
            header: header(),
            lines: one_of_each(),
        };
        let bytes = recording.to_bytes();
        let again = Recording::from_bytes(&bytes).unwrap();
        assert_eq!(again, recording);
        assert_eq!(again.to_bytes(), bytes);
        // Every kind of the enum is in the sample, so the list of names is complete.
        let kinds: std::collections::BTreeSet<String> = bytes
            .split(|&b| b == b'\n')
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice::<serde_json::Value>(l).unwrap()["kind"].to_string())
            .map(|k| k.trim_matches('"').to_string())
            .collect();
        let names: std::collections::BTreeSet<String> =
            Kind::NAMES.iter().map(|s| s.to_string()).collect();
        assert_eq!(kinds, names);
    }

    #[test]
    fn the_bytes_are_fixed_field_order_integer_nanoseconds_and_nulls_written() {
        let lines = one_of_each();
        let recording = Recording {
            header: header(),
            lines: vec![lines[1].clone(), lines[3].clone(), lines[10].clone()],
        };
        let text = String::from_utf8(recording.to_bytes()).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"{"format":"looplab-recording","version":1,"source":"asyncio","clock":"virtual","timers":"heap","io_keys":"fd","program":"python/seed_async.py"}"#,
                "\n",
                r#"{"at_ns":1000000,"kind":"spawn","task":1,"parent":{"task":0},"name":"find_users(3)"}"#,
                "\n",
                r#"{"at_ns":3000000,"kind":"poll_end","who":{"task":1},"result":"panicked","message":"boom \"quoted\"\n조회"}"#,
                "\n",
                r#"{"at_ns":10000000,"kind":"timer_armed","timer":4,"who":{"task":1},"deadline_ns":1000000000,"place":{"wheel":{"level":1,"slot":15}},"callback":null}"#,
                "\n",
            )
        );
    }

    #[test]
    fn a_writer_streams_the_same_bytes_as_the_whole_recording() {
        let recording = Recording {
            header: header(),
            lines: one_of_each(),
        };
        let mut writer = Writer::new(Vec::new(), &recording.header).unwrap();
        for line in &recording.lines {
            writer.line(line).unwrap();
        }
        assert_eq!(writer.finish().unwrap(), recording.to_bytes());
    }

    fn at(ms: u64, event: Event) -> Record {
        Record {
            at: Duration::from_millis(ms),
            event,
        }
    }

    #[test]
    fn records_convert_with_each_wake_on_its_own_line() {
        let records = [
            at(0, Event::BlockOnStart),
            at(
                0,
                Event::TimerArmed {
                    task: Some(TaskId(2)),
                    timer: 1,
                    deadline: Duration::from_secs(1),
                    level: 1,
                    slot: 15,
                },
            ),
            at(
                0,
                Event::TimerArmed {
                    task: None,
                    timer: 2,
                    deadline: Duration::from_secs(1),
                    level: 1,
                    slot: 15,
                },
            ),
            at(
                1000,
                Event::TimersFired {
                    timers: vec![1, 2],
                    woke: vec![TaskId(2)],
                },
            ),
            at(
                1000,
                Event::IoReady {
                    token: 5,
                    readable: true,
                    writable: false,
                    woke: vec![TaskId(3), TaskId(4)],
                },
            ),
            at(1000, Event::TurnEnded { turn: 1 }),
        ];
        let recording = from_records(&records, Clock::Virtual, "test");
        assert_eq!(recording.header.source, Source::Looplab);
        let kinds: Vec<Kind> = recording.lines.into_iter().map(|l| l.kind).collect();
        assert_eq!(
            kinds[3..],
            [
                Kind::TimerFired { timer: 1 },
                Kind::TimerFired { timer: 2 },
                Kind::Wake {
                    who: Runnable::Task(2),
                    by: By::Timer(1),
                    via: Via::Waker
                },
                Kind::IoReady {
                    key: 5,
                    readable: true,
                    writable: false
                },
                Kind::Wake {
                    who: Runnable::Task(3),
                    by: By::Io(5),
                    via: Via::Waker
                },
                Kind::Wake {
                    who: Runnable::Task(4),
                    by: By::Io(5),
                    via: Via::Waker
                },
                Kind::Turn {
                    turn: 1,
                    state: None
                },
            ]
        );
    }

    #[test]
    fn a_spawn_is_followed_by_the_wake_that_queues_the_new_task() {
        let records = [
            at(
                0,
                Event::Spawn {
                    parent: Some(TaskId(0)),
                    task: TaskId(1),
                    name: "find_users(3)".into(),
                },
            ),
            at(
                0,
                Event::Spawn {
                    parent: None,
                    task: TaskId(2),
                    name: String::new(),
                },
            ),
        ];
        let kinds: Vec<Kind> = from_records(&records, Clock::Real, "test")
            .lines
            .into_iter()
            .map(|l| l.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                Kind::Spawn {
                    task: 1,
                    parent: Some(Runnable::Task(0)),
                    name: "find_users(3)".into()
                },
                Kind::Wake {
                    who: Runnable::Task(1),
                    by: By::Task(0),
                    via: Via::Spawn
                },
                Kind::Spawn {
                    task: 2,
                    parent: None,
                    name: String::new()
                },
                Kind::Wake {
                    who: Runnable::Task(2),
                    by: By::Outside,
                    via: Via::Spawn
                },
            ]
        );
    }

    /// The post's scenario on looplab under virtual time, recorded with its turns.
    fn seed_on_looplab() -> Recording {
        use std::cell::RefCell;
        use std::rc::Rc;

        let recorder = crate::Recorder::new();
        let states = Rc::new(RefCell::new(Vec::new()));
        let hook_states = states.clone();
        let rt = crate::Runtime::builder()
            .virtual_time(true)
            .record(recorder.clone())
            .on_turn(move |view| hook_states.borrow_mut().push((view.turn, turn_state(view))))
            .build()
            .unwrap();
        rt.block_on(async {
            let tasks = [3u64, 2, 1].map(|n| {
                crate::spawn_named(format!("find_users({n})"), async move {
                    for _ in 0..n {
                        crate::time::sleep(Duration::from_secs(1)).await;
                    }
                })
            });
            crate::join_all(tasks).await
        });
        let states = states.borrow();
        from_records_with_turns(&recorder.records(), Clock::Virtual, "seed", |turn| {
            states
                .iter()
                .find(|(t, _)| *t == turn)
                .map(|(_, s)| s.clone())
        })
    }

    #[test]
    fn a_looplab_run_records_its_turns_and_reads_back_the_same() {
        let recording = seed_on_looplab();
        let bytes = recording.to_bytes();
        assert_eq!(Recording::from_bytes(&bytes).unwrap(), recording);
        assert_eq!(
            seed_on_looplab().to_bytes(),
            bytes,
            "virtual time: same bytes"
        );
        // The three tasks end at 1, 2 and 3 s of virtual time, shortest first.
        let ends: Vec<(u64, u64)> = recording
            .lines
            .iter()
            .filter_map(|l| match &l.kind {
                Kind::PollEnd {
                    who: Runnable::Task(t),
                    result: PollResult::Ready,
                    ..
                } if *t != 0 => Some((*t, l.at_ns)),
                _ => None,
            })
            .collect();
        assert_eq!(
            ends,
            [(3, 1_000_000_000), (2, 2_000_000_000), (1, 3_000_000_000)]
        );
        // Every turn line carries the state. Turn 1 polls main and the three tasks,
        // jumps to 1 s and fires their timers: all three wait in the run queue. Turn 2
        // polls them; the one for 1 user ends and wakes main; the other two re-arm.
        let states: Vec<&TurnState> = recording
            .lines
            .iter()
            .filter_map(|l| match &l.kind {
                Kind::Turn { state, .. } => state.as_ref(),
                _ => None,
            })
            .collect();
        assert_eq!(states.len(), 6);
        assert_eq!(
            states[0].run_queue,
            (1..=3).map(Runnable::Task).collect::<Vec<_>>()
        );
        assert_eq!(
            states[0].park,
            ParkOutcome::Jumped {
                from_ns: 0,
                to_ns: 1_000_000_000
            }
        );
        assert!(states[0].timers.is_empty());
        assert!(states[1].main_woken && states[1].run_queue.is_empty());
        let rearmed: Vec<(Option<Runnable>, u64)> = states[1]
            .timers
            .iter()
            .map(|t| (t.who.clone(), t.deadline_ns))
            .collect();
        assert_eq!(
            rearmed,
            [
                (Some(Runnable::Task(1)), 2_000_000_000),
                (Some(Runnable::Task(2)), 2_000_000_000)
            ]
        );
        assert_eq!(states[1].wheel_tick, Some(1000));
        assert!(
            recording
                .lines
                .iter()
                .all(|l| !matches!(l.kind, Kind::Turn { state: None, .. }))
        );
    }

    #[test]
    fn a_looplab_run_with_sockets_records_who_waits_and_what_each_source_watches() {
        use std::cell::RefCell;
        use std::rc::Rc;

        let recorder = crate::Recorder::new();
        let states = Rc::new(RefCell::new(Vec::new()));
        let hook_states = states.clone();
        let rt = crate::Runtime::builder()
            .virtual_time(true)
            .record(recorder.clone())
            .on_turn(move |view| hook_states.borrow_mut().push((view.turn, turn_state(view))))
            .build()
            .unwrap();
        let echoed = rt.block_on(async {
            let listener = crate::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            // Under virtual time the sockets are simulated, and a write wakes its
            // reader within the same turn: each side pauses 1 ms before it writes, so
            // that a turn ends with the other side waiting to read.
            let server = crate::spawn_named("server", async move {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 5];
                let n = stream.read(&mut buf).await.unwrap();
                crate::time::sleep(std::time::Duration::from_millis(1)).await;
                stream.write_all(&buf[..n]).await.unwrap();
            });
            let mut client = crate::net::TcpStream::connect(addr).await.unwrap();
            crate::time::sleep(std::time::Duration::from_millis(1)).await;
            client.write_all(b"hello").await.unwrap();
            let mut reply = Vec::new();
            client.read_to_end(&mut reply).await.unwrap();
            server.await.unwrap();
            reply
        });
        assert_eq!(echoed, b"hello");
        let states = states.borrow();
        let recording = from_records_with_turns(&recorder.records(), Clock::Virtual, "echo", |t| {
            states.iter().find(|(n, _)| *n == t).map(|(_, s)| s.clone())
        });
        assert_eq!(
            Recording::from_bytes(&recording.to_bytes()).unwrap(),
            recording
        );
        let registered: std::collections::HashMap<u64, String> = recording
            .lines
            .iter()
            .filter_map(|l| match &l.kind {
                Kind::IoRegistered { key, interest, .. } => Some((*key, interest.clone())),
                _ => None,
            })
            .collect();
        assert!(!registered.is_empty());
        let sources: Vec<&IoState> = recording
            .lines
            .iter()
            .filter_map(|l| match &l.kind {
                Kind::Turn { state: Some(s), .. } => Some(s.io.iter()),
                _ => None,
            })
            .flatten()
            .collect();
        // Every source in a turn's state carries the interest it was registered with.
        assert!(!sources.is_empty());
        for source in &sources {
            assert_eq!(
                Some(&source.interest),
                registered.get(&source.key),
                "{source:?}"
            );
        }
        // Between turns the server (task 1) waited to read its end, and main its own
        // end for the echo.
        let waits = |what: &str, task: u64| {
            sources
                .iter()
                .any(|s| s.what == what && s.readers == [Runnable::Task(task)])
        };
        assert!(waits("sim stream", 1), "{sources:?}");
        assert!(waits("sim client", 0), "{sources:?}");
    }
}
