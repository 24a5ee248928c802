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
//! no time at all (the clock does not move while a task runs). Drawn as they are, the
//! dozens of polls of one instant would be zero-length slices piled on one spot, and
//! their order would be lost. So polls at the same instant get a small **nominal
//! length** ([`NOMINAL_POLL_US`], less if the clock moves on sooner), one after the
//! other in the order they ran, and what happened in a poll is drawn inside it; such
//! a poll says so in its `args` (`"nominal": true`). A poll that took time (real time)
//! keeps its own length. Nothing in the file comes from the wall clock or from hash-map
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

/// How long a poll that took no time on the clock is drawn, in microseconds: long
/// enough to see in Perfetto when zoomed in, short beside a millisecond.
pub const NOMINAL_POLL_US: f64 = 10.0;

/// Where each record is drawn, in microseconds: its clock time, plus, for the
/// records of one instant, the nominal length of each poll that ran before it in that
/// instant (see the module docs). Nothing moves past the next instant's time.
fn drawn_at(records: &[Record]) -> Vec<f64> {
    let mut ts = vec![0.0; records.len()];
    let mut first = 0;
    while first < records.len() {
        let at = records[first].at;
        let end = first + records[first..].partition_point(|r| r.at == at);
        let polls = records[first..end]
            .iter()
            .filter(|r| matches!(r.event, Event::Poll { .. }))
            .count();
        let gap = records
            .get(end)
            .map_or(f64::INFINITY, |next| micros(next.at.saturating_sub(at)));
        let step = NOMINAL_POLL_US.min(gap / (polls as f64 + 1.0));
        let base = micros(at);
        let (mut begun, mut open) = (0.0, false);
        for (index, record) in records.iter().enumerate().take(end).skip(first) {
            ts[index] = match record.event {
                Event::Poll { .. } => {
                    open = true;
                    begun += 1.0;
                    base + (begun - 1.0) * step
                }
                Event::Pending { .. } | Event::Ready { .. } | Event::Panicked { .. } if open => {
                    open = false;
                    base + begun * step
                }
                // Inside a poll: half way through its nominal length.
                _ if open => base + (begun - 0.5) * step,
                _ => base + begun * step,
            };
        }
        first = end;
    }
    ts
}

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
    fn new(ph: &'static str, cat: &'static str, name: String, ts: f64, tid: u64) -> Self {
        TraceEvent {
            name,
            cat,
            ph,
            ts,
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
        let mut event = TraceEvent::new("M", "__metadata", name.to_string(), 0.0, tid);
        event.args = Some(args);
        event
    }

    fn complete(cat: &'static str, name: String, start: f64, end: f64, tid: u64) -> Self {
        let mut event = TraceEvent::new("X", cat, name, start, tid);
        event.dur = Some((end - start).max(0.0));
        event
    }

    fn instant(cat: &'static str, name: String, at: f64, tid: u64) -> Self {
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
    let at = drawn_at(records);
    let mut events = Vec::new();
    metadata(&run, &mut events);
    polls(&run, records, &at, &mut events);
    parks(&run, records, &at, &mut events);
    loop_instants(records, &at, &mut events);
    wakes(&run, &at, &mut events);

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
fn polls(run: &Run, records: &[Record], at: &[f64], events: &mut Vec<TraceEvent>) {
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
        if poll.start == poll.end {
            args["nominal"] = json!(true);
        }
        events.push(
            TraceEvent::complete(
                "poll",
                format!("poll -> {outcome}"),
                at[poll.records.start],
                at[poll.records.end - 1],
                track,
            )
            .with_args(args),
        );
        for (index, record) in records
            .iter()
            .enumerate()
            .take(poll.records.end)
            .skip(poll.records.start)
        {
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
            events.push(TraceEvent::instant(cat, name, at[index], track).with_args(args));
        }
    }
}

/// A complete event per park on the loop's track.
fn parks(run: &Run, records: &[Record], at: &[f64], events: &mut Vec<TraceEvent>) {
    for park in &run.parks {
        // A park ends at its Unpark (a peek is its Unpark); one cut short, at its clock.
        let end = if park.peek {
            at[park.record]
        } else {
            records[park.record..]
                .iter()
                .position(|r| matches!(r.event, Event::Unpark { .. }))
                .map_or(micros(park.end), |i| at[park.record + i])
        };
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
            TraceEvent::complete("park", name, at[park.record], end, LOOP_TID).with_args(args),
        );
    }
}

/// Instants on the loop's track: timers cascading and firing, sockets becoming ready.
fn loop_instants(records: &[Record], at: &[f64], events: &mut Vec<TraceEvent>) {
    for (index, record) in records.iter().enumerate() {
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
                        at[index],
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
        events.push(TraceEvent::instant(cat, name, at[index], LOOP_TID).with_args(args));
    }
}

/// A flow per wake, from a zero-length slice where the wake happened to one where the
/// woken task's next poll began.
fn wakes(run: &Run, at: &[f64], events: &mut Vec<TraceEvent>) {
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
        let woke_at = at[wake.record];
        let mut start = TraceEvent::complete(
            "wake",
            format!("wake {woken}"),
            woke_at,
            woke_at,
            from_track,
        );
        start.bind_id = Some(bind_id);
        start.flow_out = Some(true);
        events.push(start);
        let lands = wake
            .to_poll
            .map_or(woke_at, |p| at[run.polls[p].records.start]);
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
