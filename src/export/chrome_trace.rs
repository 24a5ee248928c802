//! The run as a Chrome trace: Trace Event Format JSON for Perfetto and chrome://tracing.
//!
//! The Trace Event Format is the JSON that Chrome's own tracing writes, and the one
//! most trace viewers read: open <https://ui.perfetto.dev> and drop the file in, or
//! load it in `chrome://tracing`. Its model is threads with slices on them; here each
//! **task is a thread** (a track of its own, named like the trace names it), and the
//! loop itself gets one more, the `loop` track:
//!
//! | what the loop did | in the trace |
//! |---|---|
//! | a poll | a complete event (`"ph":"X"`, category `poll`) on the task's track, as long as the poll took |
//! | a park | a complete event (category `park`) on the `loop` track, named after what ended it |
//! | a wake | a flow arrow from the waker to the woken task's next poll |
//! | a timer armed, cascaded, fired, cancelled | an instant event (`"ph":"i"`, category `timer`) |
//! | a socket ready, an operation that would block, a spawn | instant events (categories `io`, `task`) |
//!
//! A flow (an arrow) joins two slices. One poll can wake several tasks and be woken by
//! several, so each wake gets two zero-length slices of its own (category `wake`): one
//! on the waker's track when it woke, one on the woken task's track when its next poll
//! began, bound by the same `bind_id` (flow events, version 2: `flow_out` and
//! `flow_in`). Timers and sockets wake from the `loop` track.
//!
//! Timestamps are microseconds on the **runtime's clock**. Under virtual time that is
//! the virtual timeline: parks last exactly as long as the clock jumped, and polls take
//! no time at all (the clock does not move while a task runs), so every poll is a
//! zero-length slice. Nothing in the file comes from the wall clock or from hash-map
//! order, so a virtual-time run gives the same bytes every time.

use serde::Serialize;
use serde_json::{Value, json};
use std::time::Duration;

use super::lanes::{PollOutcome, Run, TaskLane, Waker, task_label};
use crate::trace::{Event, Record, TaskId};

/// The one process in the trace: the runtime.
const PID: u32 = 1;
/// The loop's own track.
const LOOP_TID: u64 = 1;

/// A task's track: after the loop's, in task order.
fn tid(task: TaskId) -> u64 {
    task.0 + 2
}

/// One event of the Trace Event Format. Fields that are `None` are left out.
#[derive(Serialize)]
struct TraceEvent {
    name: String,
    cat: &'static str,
    ph: &'static str,
    ts: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    dur: Option<f64>,
    pid: u32,
    tid: u64,
    /// Scope of an instant event: `t`, this thread only.
    #[serde(skip_serializing_if = "Option::is_none")]
    s: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bind_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flow_in: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flow_out: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<Value>,
}

impl TraceEvent {
    fn new(ph: &'static str, cat: &'static str, name: String, at: Duration, tid: u64) -> Self {
        TraceEvent {
            name,
            cat,
            ph,
            ts: micros(at),
            dur: None,
            pid: PID,
            tid,
            s: None,
            bind_id: None,
            flow_in: None,
            flow_out: None,
            args: None,
        }
    }

    fn metadata(name: &str, tid: u64, args: Value) -> Self {
        let mut event = TraceEvent::new("M", "__metadata", name.to_string(), Duration::ZERO, tid);
        event.args = Some(args);
        event
    }

    fn complete(cat: &'static str, name: String, start: Duration, end: Duration, tid: u64) -> Self {
        let mut event = TraceEvent::new("X", cat, name, start, tid);
        event.dur = Some(micros(end.saturating_sub(start)));
        event
    }

    fn instant(cat: &'static str, name: String, at: Duration, tid: u64) -> Self {
        let mut event = TraceEvent::new("i", cat, name, at, tid);
        event.s = Some("t");
        event
    }

    fn with_args(mut self, args: Value) -> Self {
        self.args = Some(args);
        self
    }
}

fn micros(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1000.0
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The records as Trace Event Format JSON: one object, `{"traceEvents": [...]}`, one
/// event per line.
pub fn chrome_trace(records: &[Record]) -> String {
    let run = Run::from_records(records);
    let mut events = Vec::new();
    metadata(&run, &mut events);
    polls(&run, records, &mut events);
    parks(&run, &mut events);
    loop_instants(records, &mut events);
    wakes(&run, &mut events);

    let mut out = String::from("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            out.push_str(",\n");
        }
        out.push_str(&serde_json::to_string(event).expect("a trace event is plain data"));
    }
    out.push_str("\n],\"otherData\":{\"producer\":\"looplab\",\"clock\":\"the runtime's clock (virtual under virtual time)\"}}\n");
    out
}

/// Names the process and every track, and orders the tracks: the loop, then the tasks.
fn metadata(run: &Run, events: &mut Vec<TraceEvent>) {
    events.push(TraceEvent::metadata(
        "process_name",
        LOOP_TID,
        json!({"name": "looplab runtime"}),
    ));
    events.push(TraceEvent::metadata(
        "thread_name",
        LOOP_TID,
        json!({"name": "loop"}),
    ));
    events.push(TraceEvent::metadata(
        "thread_sort_index",
        LOOP_TID,
        json!({"sort_index": 0}),
    ));
    for lane in &run.tasks {
        events.push(TraceEvent::metadata(
            "thread_name",
            tid(lane.id),
            json!({"name": lane.label()}),
        ));
        events.push(TraceEvent::metadata(
            "thread_sort_index",
            tid(lane.id),
            json!({"sort_index": lane.id.0 + 1}),
        ));
    }
}

/// A complete event per poll, and instants for what the task did inside it.
fn polls(run: &Run, records: &[Record], events: &mut Vec<TraceEvent>) {
    for poll in &run.polls {
        let track = tid(poll.task);
        let outcome = match &poll.outcome {
            PollOutcome::Pending => "Pending",
            PollOutcome::Ready => "Ready",
            PollOutcome::Panicked(_) => "panicked",
            PollOutcome::Unfinished => "unfinished",
        };
        let notes: Vec<&str> = records[poll.records.clone()]
            .iter()
            .filter_map(|r| match &r.event {
                Event::Note { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        let mut args = json!({"turn": poll.turn + 1, "returned": outcome});
        if !notes.is_empty() {
            args["notes"] = json!(notes);
        }
        if let PollOutcome::Panicked(message) = &poll.outcome {
            args["panic"] = json!(message);
        }
        events.push(
            TraceEvent::complete(
                "poll",
                format!("poll -> {outcome}"),
                poll.start,
                poll.end,
                track,
            )
            .with_args(args),
        );
        for record in &records[poll.records.clone()] {
            let (cat, name, args) = match &record.event {
                Event::Spawn { task, name, .. } => (
                    "task",
                    format!("spawn {}", task_label(*task, name)),
                    json!({}),
                ),
                Event::IoWouldBlock { token, op, .. } => (
                    "io",
                    format!("{op} would block (token {token})"),
                    json!({"token": token}),
                ),
                Event::IoRegistered {
                    token,
                    what,
                    interest,
                    ..
                } => (
                    "io",
                    format!("{what} registered (token {token})"),
                    json!({"token": token, "interest": interest}),
                ),
                Event::TimerArmed {
                    timer,
                    deadline,
                    level,
                    slot,
                    ..
                } => (
                    "timer",
                    format!("timer #{timer} armed"),
                    json!({"deadline_s": secs(*deadline), "level": level, "slot": slot}),
                ),
                Event::TimerCancelled { timer } => {
                    ("timer", format!("timer #{timer} cancelled"), json!({}))
                }
                _ => continue,
            };
            events.push(TraceEvent::instant(cat, name, record.at, track).with_args(args));
        }
    }
}

/// A complete event per park on the loop's track.
fn parks(run: &Run, events: &mut Vec<TraceEvent>) {
    for park in &run.parks {
        let ended_by = park.ended_by_words();
        let name = if park.peek {
            format!("peek at I/O -> {ended_by}")
        } else {
            format!("park -> {ended_by}")
        };
        let args = json!({
            "turn": park.turn + 1,
            "timeout_ms": park.timeout.map(|t| t.as_secs_f64() * 1000.0),
            "timers": park.timers,
            "sockets": park.sources,
            "ended_by": ended_by,
        });
        events.push(
            TraceEvent::complete("park", name, park.start, park.end, LOOP_TID).with_args(args),
        );
    }
}

/// Instants on the loop's track: timers cascading and firing, sockets becoming ready.
fn loop_instants(records: &[Record], events: &mut Vec<TraceEvent>) {
    for record in records {
        let (cat, name, args) = match &record.event {
            Event::TimerCascaded {
                timer,
                to_level,
                slot,
                ..
            } => (
                "timer",
                format!("timer #{timer} cascades"),
                json!({"level": to_level, "slot": slot}),
            ),
            Event::TimersFired { timers, .. } => {
                for timer in timers {
                    events.push(TraceEvent::instant(
                        "timer",
                        format!("timer #{timer} fired"),
                        record.at,
                        LOOP_TID,
                    ));
                }
                continue;
            }
            Event::IoReady {
                token,
                readable,
                writable,
                ..
            } => (
                "io",
                format!("token {token} ready"),
                json!({"readable": readable, "writable": writable}),
            ),
            _ => continue,
        };
        events.push(TraceEvent::instant(cat, name, record.at, LOOP_TID).with_args(args));
    }
}

/// A flow per wake, from a zero-length slice where the wake happened to one where the
/// woken task's next poll began.
fn wakes(run: &Run, events: &mut Vec<TraceEvent>) {
    for (id, wake) in run.wakes.iter().enumerate() {
        let bind_id = id as u64 + 1;
        let woken = run
            .task(wake.task)
            .map_or_else(|| wake.task.to_string(), TaskLane::label);
        let (from_track, waker) = match &wake.by {
            Waker::Task(by) => (
                tid(*by),
                run.task(*by)
                    .map_or_else(|| by.to_string(), TaskLane::label),
            ),
            Waker::Timer(timer) => (LOOP_TID, format!("timer #{timer}")),
            Waker::Io(token) => (LOOP_TID, format!("token {token}")),
            Waker::Thread => (LOOP_TID, "another thread".to_string()),
        };
        let mut start = TraceEvent::complete(
            "wake",
            format!("wake {woken}"),
            wake.at,
            wake.at,
            from_track,
        );
        start.bind_id = Some(bind_id);
        start.flow_out = Some(true);
        events.push(start);
        let lands = wake.to_poll.map_or(wake.at, |p| run.polls[p].start);
        let mut end = TraceEvent::complete(
            "wake",
            format!("woken by {waker}"),
            lands,
            lands,
            tid(wake.task),
        );
        end.bind_id = Some(bind_id);
        end.flow_in = Some(true);
        events.push(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_microseconds_with_the_nanoseconds_kept() {
        assert_eq!(micros(Duration::from_nanos(1_500)), 1.5);
        assert_eq!(micros(Duration::from_secs(3)), 3_000_000.0);
    }

    #[test]
    fn an_empty_recording_is_still_a_valid_trace() {
        let json: Value = serde_json::from_str(&chrome_trace(&[])).unwrap();
        assert_eq!(json["traceEvents"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn a_poll_is_a_complete_event_as_long_as_the_poll() {
        let records = [
            Record {
                at: Duration::from_micros(10),
                event: Event::Poll { task: TaskId(0) },
            },
            Record {
                at: Duration::from_micros(35),
                event: Event::Pending { task: TaskId(0) },
            },
        ];
        let json: Value = serde_json::from_str(&chrome_trace(&records)).unwrap();
        let poll = json["traceEvents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["ph"] == "X")
            .unwrap()
            .clone();
        assert_eq!(poll["ts"], 10.0);
        assert_eq!(poll["dur"], 25.0);
        assert_eq!(poll["tid"], 2);
        assert_eq!(poll["name"], "poll -> Pending");
    }
}
