//! The exports of a run (issue 13, points 3 to 5), checked by parsing them: the Chrome
//! trace of the post's scenario has the tracks and events the run had, both exports
//! are the same bytes on every virtual-time run, and a run of many turns gives a page
//! that summarises instead of growing without bound. (The page in a real browser is
//! tests/browser.rs.)

mod scenario;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use looplab::export::{HtmlExtras, chrome_trace, html};
use looplab::trace::{Event, Record};
use looplab::{Recorder, Runtime};
use serde_json::Value;

fn count(records: &[Record], what: impl Fn(&Event) -> bool) -> usize {
    records.iter().filter(|r| what(&r.event)).count()
}

fn trace_events(records: &[Record]) -> Vec<Value> {
    let json: Value = serde_json::from_str(&chrome_trace(records)).expect("the trace is JSON");
    json["traceEvents"].as_array().expect("traceEvents").clone()
}

fn of_phase<'a>(events: &'a [Value], ph: &str, cat: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["ph"] == ph && e["cat"] == cat)
        .collect()
}

/// The data the page's script draws: the JSON inside it.
fn page_data(page: &str) -> Value {
    let open = "<script type=\"application/json\" id=\"looplab-data\">";
    let start = page.find(open).expect("the page has its data") + open.len();
    let end = start + page[start..].find("</script>").unwrap();
    serde_json::from_str(&page[start..end]).expect("the data is JSON")
}

#[test]
fn the_chrome_trace_has_a_named_track_per_task_and_the_loop() {
    let records = scenario::default_scenario();
    let events = trace_events(&records);
    let names: BTreeMap<u64, String> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| {
            (
                e["tid"].as_u64().unwrap(),
                e["args"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut expected = vec!["loop".to_string(), "task 0 main".to_string()];
    expected.extend(records.iter().filter_map(|r| match &r.event {
        Event::Spawn { task, name, .. } => Some(format!("{task} {name}")),
        _ => None,
    }));
    let got: Vec<String> = names.values().cloned().collect();
    assert_eq!(got, expected, "one track per task, plus the loop's");
    assert_eq!(got.len(), 9);
}

#[test]
fn the_chrome_trace_has_a_complete_event_per_poll_and_park_on_the_virtual_clock() {
    let records = scenario::default_scenario();
    let events = trace_events(&records);
    let polls = of_phase(&events, "X", "poll");
    assert_eq!(
        polls.len(),
        count(&records, |e| matches!(e, Event::Poll { .. }))
    );
    // Under virtual time the clock does not move while a task runs: each poll gets a
    // nominal length instead, marked as such, and the polls of one instant follow one
    // another in the order they ran (the trace lists them in that order), none on top
    // of another.
    assert!(
        polls.iter().all(
            |p| p["dur"] == looplab::export::chrome_trace::NOMINAL_POLL_US
                && p["args"]["nominal"] == true
        ),
        "{:?}",
        polls.first()
    );
    let starts: Vec<f64> = polls.iter().map(|p| p["ts"].as_f64().unwrap()).collect();
    assert!(
        starts
            .windows(2)
            .all(|w| w[1] >= w[0] + looplab::export::chrome_trace::NOMINAL_POLL_US),
        "{starts:?}"
    );
    let at_zero = starts.iter().filter(|&&t| t < 1_000_000.0).count();
    assert!(at_zero >= 10, "{at_zero} polls at 0 s, drawn apart");
    assert!(polls.iter().all(|p| p["tid"].as_u64() != Some(1)));

    let parks = of_phase(&events, "X", "park");
    assert_eq!(
        parks.len(),
        count(&records, |e| matches!(e, Event::Park { .. }))
    );
    assert!(
        parks.iter().all(|p| p["tid"] == 1),
        "parks are on the loop's track"
    );
    // The loop was parked for the whole run but for the polls, which took no time: the
    // parks add up to the run's three seconds (in microseconds), less the polls'
    // nominal lengths.
    let parked: f64 = parks.iter().map(|p| p["dur"].as_f64().unwrap()).sum();
    let nominal = polls.len() as f64 * looplab::export::chrome_trace::NOMINAL_POLL_US;
    assert!(
        parked < 3_000_000.0 && parked >= 3_000_000.0 - nominal,
        "{parked}"
    );
    let last = events
        .iter()
        .filter_map(|e| e["ts"].as_f64())
        .fold(0.0, f64::max);
    assert!(
        (3_000_000.0..3_000_000.0 + nominal).contains(&last),
        "{last}"
    );
}

#[test]
fn the_chrome_trace_has_a_flow_per_wake_from_waker_to_the_woken_poll() {
    let records = scenario::default_scenario();
    let events = trace_events(&records);
    let wakes: usize = records
        .iter()
        .map(|r| match &r.event {
            Event::WokenByTask { .. } | Event::WokenByThread { .. } => 1,
            Event::TimersFired { woke, .. } | Event::IoReady { woke, .. } => woke.len(),
            _ => 0,
        })
        .sum();
    assert!(wakes >= 20, "{wakes}");
    let ids = |direction: &str| -> Vec<u64> {
        events
            .iter()
            .filter(|e| e[direction] == true)
            .map(|e| e["bind_id"].as_u64().unwrap())
            .collect()
    };
    let (starts, ends) = (ids("flow_out"), ids("flow_in"));
    assert_eq!(starts.len(), wakes);
    assert_eq!(ends.len(), wakes);
    let unique: BTreeSet<u64> = starts.iter().copied().collect();
    assert_eq!(unique.len(), wakes, "each wake its own flow");
    assert_eq!(unique, ends.iter().copied().collect(), "every flow ends");

    // Each arrow lands where the woken task's next poll begins, on its track; the one
    // wake that no poll followed (main tells the directory to stop as block_on
    // returns) lands on the directory's track when it happened.
    let polls = of_phase(&events, "X", "poll");
    let mut unpolled = Vec::new();
    for end in events.iter().filter(|e| e["flow_in"] == true) {
        let lands_on_a_poll = polls
            .iter()
            .any(|p| p["tid"] == end["tid"] && p["ts"] == end["ts"]);
        if !lands_on_a_poll {
            unpolled.push((end["tid"].as_u64().unwrap(), end["ts"].as_f64().unwrap()));
        }
    }
    assert_eq!(unpolled.len(), 1, "{unpolled:?}");
    assert_eq!(unpolled[0].0, 3, "task 1's track");
    assert!(
        (3_000_000.0..3_001_000.0).contains(&unpolled[0].1),
        "at 3 s, among that instant's polls: {unpolled:?}"
    );
    // The task wakes start on the waker's track: task 4 (track 6) wakes main.
    let main_woken_by_4 = events
        .iter()
        .any(|e| e["flow_out"] == true && e["tid"] == 6 && e["name"] == "wake task 0 main");
    assert!(main_woken_by_4);
}

#[test]
fn the_chrome_trace_marks_timers_armed_and_fired_as_instants() {
    let records = scenario::default_scenario();
    let events = trace_events(&records);
    let timers = of_phase(&events, "i", "timer");
    let named = |suffix: &str| {
        timers
            .iter()
            .filter(|e| e["name"].as_str().unwrap().ends_with(suffix))
            .count()
    };
    assert_eq!(
        named(" armed"),
        count(&records, |e| matches!(e, Event::TimerArmed { .. }))
    );
    let fired: usize = records
        .iter()
        .map(|r| match &r.event {
            Event::TimersFired { timers, .. } => timers.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(named(" fired"), fired);
    assert_eq!(fired, 6, "three calls at 1 s, two at 2 s, one at 3 s");
    assert!(timers.iter().all(|e| e["s"] == "t"));
}

#[test]
fn under_virtual_time_both_exports_are_the_same_bytes_every_run() {
    let (first, second) = (scenario::default_scenario(), scenario::default_scenario());
    assert_eq!(chrome_trace(&first), chrome_trace(&second));
    let extras = HtmlExtras::default();
    assert_eq!(html(&first, &extras), html(&second, &extras));
}

#[test]
fn the_page_has_a_lane_per_task_and_a_turn_per_turn_of_the_loop() {
    let records = scenario::default_scenario();
    let data = page_data(&html(&records, &HtmlExtras::default()));
    let ended = count(&records, |e| matches!(e, Event::TurnEnded { .. }));
    assert_eq!(data["completed_turns"], ended);
    // The last turn stops the loop in step 2, before it would end.
    let turns = data["turns"].as_array().unwrap();
    assert_eq!(turns.len(), ended + 1);
    assert_eq!(turns.last().unwrap()["stopped"], true);
    assert!(
        turns.iter().all(|t| t.get("detail").is_some()),
        "a small run keeps every turn whole"
    );
    let task_lanes = data["lanes"]["lanes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["task"].is_u64())
        .count();
    assert_eq!(task_lanes, 8);
    assert_eq!(data["limits"], serde_json::json!([]));

    // Turn 1, as `--step` shows it: all four requests and the directory queued, four
    // sockets registered, nobody waiting on them yet; and its trace lines.
    let first = &turns[0]["detail"];
    assert_eq!(
        first["queue"],
        serde_json::json!([
            "task 1 directory",
            "task 2 find_users(3)",
            "task 3 find_users(2)",
            "task 4 find_users(1)"
        ])
    );
    assert_eq!(first["io"].as_array().unwrap().len(), 4);
    assert_eq!(first["lines"][0][2], "block_on: start");
    // Turn 4 had nothing to poll: it parked, the clock jumped to 1 s and the three
    // timers fired. After it the wheel is empty and the three connections are queued.
    let fourth = &turns[3]["detail"];
    assert_eq!(turns[3]["steps"], "iiaaa");
    assert_eq!(fourth["notes"][3], "virtual clock jumps to 1.000s");
    assert_eq!(fourth["timers"], serde_json::json!([]));
    assert_eq!(fourth["queue"].as_array().unwrap().len(), 3);
}

/// One task that sleeps 1 ms `turns` times, under virtual time: a turn per sleep.
fn many_turns(turns: u32) -> Vec<Record> {
    let recorder = Recorder::new();
    let rt = Runtime::builder()
        .virtual_time(true)
        .record(recorder.clone())
        .build()
        .unwrap();
    rt.block_on(async move {
        let ticker = looplab::spawn_named("ticker", async move {
            for _ in 0..turns {
                looplab::time::sleep(Duration::from_millis(1)).await;
            }
        });
        ticker.await.unwrap();
    });
    recorder.records()
}

#[test]
fn a_run_of_many_turns_is_summarised_and_its_page_stays_bounded() {
    let records = many_turns(20_000);
    let turns_in_run = count(&records, |e| matches!(e, Event::TurnEnded { .. })) + 1;
    assert!(turns_in_run > 20_000);
    let page = html(&records, &HtmlExtras::default());
    let data = page_data(&page);
    let turns = data["turns"].as_array().unwrap();
    // Every turn is listed, with its counts; only the first ones keep their lines.
    assert_eq!(turns.len(), turns_in_run);
    let detailed = turns.iter().filter(|t| t.get("detail").is_some()).count();
    assert!((1000..=2001).contains(&detailed), "{detailed}");
    assert!(
        turns.last().unwrap().get("detail").is_some(),
        "the last turn is whole"
    );
    assert!(
        !data["limits"].as_array().unwrap().is_empty(),
        "the page says it summarised"
    );
    // The lanes stop at their limit of columns.
    let cols = data["lanes"]["cols"].as_array().unwrap().len();
    assert!(cols <= 2_500, "{cols}");
    assert!(data["lanes"]["hidden_cols"].as_u64().unwrap() > 0);
    // Bounded: well under the 20 MB of issue 13 for 20,000 turns.
    assert!(page.len() < 8_000_000, "{} bytes", page.len());
}

#[test]
fn tasks_main_and_panics_are_told_apart_in_the_page() {
    let recorder = Recorder::new();
    let rt = Runtime::builder()
        .virtual_time(true)
        .record(recorder.clone())
        .build()
        .unwrap();
    rt.block_on(async {
        let bad = looplab::spawn_named("bad", async { panic!("on purpose") });
        assert!(bad.await.is_err());
    });
    let data = page_data(&html(&recorder.records(), &HtmlExtras::default()));
    let ends: Vec<(&str, &str)> = data["lanes"]["lanes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["label"].as_str().unwrap(), t["end"].as_str().unwrap()))
        .collect();
    assert_eq!(
        ends,
        [
            ("loop", ""),
            ("task 0 main", "ready"),
            ("task 1 bad", "panicked")
        ]
    );
    let polls: Vec<&str> = data["lanes"]["cols"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["k"] == "poll")
        .map(|c| c["l"].as_str().unwrap())
        .collect();
    assert_eq!(polls, ["P", "!", "R"], "main waits, bad panics, main ends");
}

/// `LOOPLAB_HTML` and `LOOPLAB_CHROME_TRACE` make any program on looplab draw its run:
/// here the `looplab` command itself, which knows nothing about them.
#[test]
fn the_environment_makes_any_program_write_its_page_and_trace() {
    let dir = std::env::temp_dir().join(format!("looplab-env-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (page, trace) = (dir.join("run.html"), dir.join("run.json"));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_looplab"))
        .args(["lookup", "--mode", "event-loop", "--virtual-time", "--json"])
        .env("LOOPLAB_HTML", &page)
        .env("LOOPLAB_CHROME_TRACE", &trace)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let page = std::fs::read_to_string(&page).expect("the page was written");
    assert!(
        page.starts_with("<!DOCTYPE html>"),
        "{}",
        &page[..page.len().min(80)]
    );
    let trace: Value = serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    let polls = trace_events_of(&trace)
        .iter()
        .filter(|e| e["ph"] == "X" && e["cat"] == "poll")
        .count();
    assert!(polls > 10, "{polls} polls in the trace");
    std::fs::remove_dir_all(&dir).ok();
}

fn trace_events_of(trace: &Value) -> Vec<Value> {
    match trace {
        Value::Array(events) => events.clone(),
        other => other["traceEvents"].as_array().cloned().unwrap_or_default(),
    }
}

/// What the page's stepper shows after each turn is what `--step` shows: the state
/// replayed from the records equals the runtime's own view of it (`on_turn`), turn
/// by turn: main's flag, the run queue, the wheel's hand and its timers, and each
/// socket's readiness.
#[test]
fn the_replayed_state_is_the_runtimes_own_view_after_every_turn() {
    use looplab::export::lanes::Run;
    use looplab::export::replay::Replay;
    use looplab::lookup::event_loop::{EventLoopOptions, Narrator, run_event_loop};
    use looplab::lookup::narrative::Lang;
    use std::cell::RefCell;
    use std::rc::Rc;

    type View = (
        bool,
        Vec<u64>,
        u64,
        Vec<(u64, usize, usize)>,
        Vec<(usize, bool, bool)>,
    );
    let views: Rc<RefCell<Vec<View>>> = Rc::default();
    let recorder = Recorder::new();
    let options = EventLoopOptions {
        requests: vec![3, 2, 1],
        delay: Duration::from_secs(1),
        virtual_time: true,
        call_timeout: None,
        lang: Lang::En,
        trace: looplab::TraceOutput::Off,
        recorder: Some(recorder.clone()),
    };
    let quiet: Narrator = std::sync::Arc::new(|_, _| {});
    let seen = views.clone();
    run_event_loop(None, &options, quiet, move |b| {
        b.on_turn(move |view| {
            seen.borrow_mut().push((
                view.main_woken,
                view.run_queue.iter().map(|t| t.0).collect(),
                view.wheel_tick,
                view.timers
                    .iter()
                    .map(|t| (t.timer, t.level, t.slot))
                    .collect(),
                view.io
                    .iter()
                    .map(|io| (io.token, io.readable, io.writable))
                    .collect(),
            ));
        })
    })
    .unwrap();
    let records = recorder.records();
    let run = Run::from_records(&records);
    let mut replay = Replay::new(&records);
    let views = views.borrow();
    let completed: Vec<_> = run.turns.iter().filter(|t| t.completed).collect();
    assert_eq!(completed.len(), views.len());
    let mut hands = std::collections::BTreeSet::new();
    for (n, (turn, view)) in completed.iter().zip(views.iter()).enumerate() {
        let state = replay.advance_to(turn.records.end);
        let replayed: View = (
            state.main_woken,
            state.run_queue().map(|t| t.0).collect(),
            state.wheel_tick(),
            state
                .timers_by_slot()
                .iter()
                .map(|t| (t.timer, t.level, t.slot))
                .collect(),
            state
                .io()
                .map(|io| (io.token, io.readable, io.writable))
                .collect(),
        );
        assert_eq!(&replayed, view, "after turn {}", n + 1);
        hands.insert(view.2);
    }
    // Not a run where nothing moves: the hand goes round, sockets change readiness.
    assert!(hands.len() >= 3, "{hands:?}");
}

/// `looplab lookup --json` keeps its fields and gains the loop: per task its number,
/// name, polls, first and last poll and who woke it; per turn its park. The counts
/// are checked against the records of the same (virtual-time, so identical) run.
#[test]
fn json_gains_the_loop_per_task_and_per_turn() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_looplab"))
        .args(["lookup", "--virtual-time", "--json"])
        .output()
        .expect("the looplab binary runs");
    assert!(output.status.success());
    let json: Value = serde_json::from_slice(&output.stdout).expect("one JSON document");
    // The fields that were there stay as they were.
    assert_eq!(json["runs"][0]["mode"], "event-loop");
    assert_eq!(json["runs"][0]["total_s"], 3.0);
    assert_eq!(json["runs"][0]["requests"][2]["latency_s"], 1.0);

    let records = scenario::default_scenario();
    let the_loop = &json["loop"];
    let tasks = the_loop["tasks"].as_array().unwrap();
    let names: Vec<&str> = tasks.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "main",
            "directory",
            "find_users(3)",
            "find_users(2)",
            "find_users(1)",
            "connection 1",
            "connection 2",
            "connection 3"
        ]
    );
    for task in tasks {
        let id = task["id"].as_u64().unwrap();
        let polls = count(
            &records,
            |e| matches!(e, Event::Poll { task } if task.0 == id),
        );
        assert_eq!(task["polls"], polls, "{task}");
    }
    // find_users(1) is done first, in turn 6, woken by its socket each time; main is
    // woken by the three finished requests; the connections by their timers and I/O.
    let one = &tasks[4];
    assert_eq!(
        (&one["end"], &one["last_poll_turn"], &one["last_poll_s"]),
        (&Value::from("ready"), &Value::from(6), &Value::from(1.0))
    );
    assert!(
        one["woken_by"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["by"] == "io"),
        "{one}"
    );
    let main_wakers: Vec<u64> = tasks[0]["woken_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["task"].as_u64().unwrap())
        .collect();
    assert_eq!(main_wakers, [2, 3, 4]);
    assert!(
        tasks[5]["woken_by"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["by"] == "timer")
    );
    assert_eq!(
        tasks[1]["end"], "running",
        "the directory still serves at the end"
    );

    let turns = the_loop["turns"].as_array().unwrap();
    assert_eq!(
        turns.len(),
        count(&records, |e| matches!(e, Event::TurnEnded { .. })) + 1
    );
    // Turn 4: the loop waits for the connections' one-second timers; the virtual
    // clock jumps there.
    let park = &turns[3]["park"];
    assert_eq!(park["kind"], "park");
    assert_eq!(park["ended_by"], "clock_jump");
    assert_eq!(park["waited_ms"], 1000.0);
    assert_eq!(park["timeout_ms"], 1000.0);
    assert_eq!(turns[0]["park"]["ended_by"], "io");
    assert_eq!(turns[0]["park"]["io_events"], 4);
    let last = turns.last().unwrap();
    assert_eq!(
        (&last["stopped"], &last["park"]),
        (&Value::from(true), &Value::Null)
    );
}
