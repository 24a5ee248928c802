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
    // Under virtual time the clock does not move while a task runs.
    assert!(polls.iter().all(|p| p["dur"] == 0.0));
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
    // parks add up to the run's three seconds (in microseconds).
    let parked: f64 = parks.iter().map(|p| p["dur"].as_f64().unwrap()).sum();
    assert_eq!(parked, 3_000_000.0);
    let last = events
        .iter()
        .filter_map(|e| e["ts"].as_f64())
        .fold(0.0, f64::max);
    assert_eq!(last, 3_000_000.0);
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
    assert_eq!(unpolled, [(3, 3_000_000.0)], "task 1's track, at 3 s");
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

    // Turn 1, as `--step` shows it: main and the four tasks it spawned ran; the three
    // requests connected on the simulated network (a listener and three pairs of
    // stream ends), which woke the directory, the one task queued for turn 2.
    let first = &turns[0]["detail"];
    assert_eq!(first["queue"], serde_json::json!(["task 1 directory"]));
    let io = first["io"].as_array().unwrap();
    assert_eq!(io.len(), 7);
    assert_eq!(io[0][1], "sim listener");
    assert_eq!(io[1][1], "sim client");
    assert_eq!(io[2][1], "sim stream");
    assert_eq!(first["lines"][0][2], "block_on: start");
    // Turn 3 polled the three connections, which armed their timers; then nothing was
    // ready: it parked, the clock jumped to 1 s and the three timers fired. After it
    // the wheel is empty and the three connections are queued.
    let third = &turns[2]["detail"];
    assert_eq!(turns[2]["steps"], "aiaaa");
    assert_eq!(third["notes"][3], "virtual clock jumps to 1.000s");
    assert_eq!(third["timers"], serde_json::json!([]));
    assert_eq!(third["queue"].as_array().unwrap().len(), 3);
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
