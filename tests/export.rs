//! The exports of a run (issue 13, points 3 to 5), checked by parsing them: the Chrome
//! trace of the post's scenario has the tracks and events the run had, both exports
//! are the same bytes on every virtual-time run, and a run of many turns gives a page
//! that summarises instead of growing without bound. (The page in a real browser is
//! tests/browser.rs.)

mod scenario;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use looplab::export::{HtmlExtras, chrome_trace, html};
use looplab::recording::{Capture, Clock, Recording};
use looplab::trace::{Event, Record};
use looplab::{Recorder, Runtime};
use serde_json::Value;

fn count(records: &[Record], what: impl Fn(&Event) -> bool) -> usize {
    records.iter().filter(|r| what(&r.event)).count()
}

/// The post's scenario: its records (to count what the trace should hold) and its
/// recording (what is drawn).
fn scenario() -> (Vec<Record>, Recording) {
    let capture = scenario::captured_default_scenario();
    (
        capture.recorder().records(),
        capture.recording(Clock::Virtual, "the post's scenario"),
    )
}

fn trace_events(recording: &Recording) -> Vec<Value> {
    let json: Value = serde_json::from_str(&chrome_trace(recording)).expect("the trace is JSON");
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
    let (records, recording) = scenario();
    let events = trace_events(&recording);
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
    let (records, recording) = scenario();
    let events = trace_events(&recording);
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
    let polled_at_zero = records
        .iter()
        .filter(|r| r.at.is_zero() && matches!(r.event, Event::Poll { .. }))
        .count();
    assert!(polled_at_zero > 1, "{polled_at_zero}");
    assert_eq!(at_zero, polled_at_zero, "the polls at 0 s, drawn apart");
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
    let (records, recording) = scenario();
    let events = trace_events(&recording);
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

    // Each arrow lands where the woken task's next poll begins, on its track. Two
    // wakes of the last instant no poll followed, because block_on returned in that
    // turn: main tells the directory (task 1) to stop, and find_users(3), done, drops
    // its stream, which on the simulated network wakes connection 1 (task 5) at once
    // with the end of stream. They land on those tasks' tracks when they happened.
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
    let mut tracks: Vec<u64> = unpolled.iter().map(|(track, _)| *track).collect();
    tracks.sort();
    assert_eq!(tracks, [3, 7], "task 1's and task 5's tracks: {unpolled:?}");
    assert!(
        unpolled
            .iter()
            .all(|(_, at)| (3_000_000.0..3_001_000.0).contains(at)),
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
    let (records, recording) = scenario();
    let events = trace_events(&recording);
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
    let (first, second) = (scenario::default_recording(), scenario::default_recording());
    assert_eq!(chrome_trace(&first), chrome_trace(&second));
    let extras = HtmlExtras::default();
    assert_eq!(html(&first, &extras), html(&second, &extras));
}

#[test]
fn the_page_has_a_lane_per_task_and_a_turn_per_turn_of_the_loop() {
    let (records, recording) = scenario();
    let data = page_data(&html(&recording, &HtmlExtras::default()));
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
fn many_turns(turns: u32) -> (Vec<Record>, Recording) {
    let capture = Capture::new();
    let rt = Runtime::builder()
        .virtual_time(true)
        .capture(capture.clone())
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
    (
        capture.recorder().records(),
        capture.recording(Clock::Virtual, "ticker"),
    )
}

#[test]
fn a_run_of_many_turns_is_summarised_and_its_page_stays_bounded() {
    let (records, recording) = many_turns(20_000);
    let turns_in_run = count(&records, |e| matches!(e, Event::TurnEnded { .. })) + 1;
    assert!(turns_in_run > 20_000);
    let page = html(&recording, &HtmlExtras::default());
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
    let recording = looplab::recording::from_records(&recorder.records(), Clock::Virtual, "bad");
    let data = page_data(&html(&recording, &HtmlExtras::default()));
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

/// What the page's stepper shows after each turn is what `--step` showed: the state
/// the runtime handed its `on_turn` hook, recorded on the turn's line and drawn from
/// there, turn by turn: main's flag, the run queue, the wheel's hand and its timers,
/// and each socket's readiness.
#[test]
fn the_pages_state_is_the_runtimes_own_view_after_every_turn() {
    use looplab::lookup::event_loop::{EventLoopOptions, Narrator, run_event_loop};
    use looplab::lookup::narrative::Lang;
    use std::sync::{Arc, Mutex};

    type View = (bool, Vec<String>, u64, Vec<String>, Vec<(u64, String)>);
    let views: Arc<Mutex<Vec<View>>> = Arc::default();
    let capture = Capture::new();
    let options = EventLoopOptions {
        requests: vec![3, 2, 1],
        delay: Duration::from_secs(1),
        virtual_time: true,
        call_timeout: None,
        lang: Lang::En,
        trace: looplab::TraceOutput::Off,
        recorder: Some(capture.recorder()),
    };
    let quiet: Narrator = std::sync::Arc::new(|_, _| {});
    let seen = views.clone();
    let recorder = capture.recorder();
    run_event_loop(None, &options, quiet, |b| {
        b.capture(capture.clone()).on_turn(move |view| {
            let names = recorder.records();
            let label = |task: looplab::trace::TaskId| {
                let name = names.iter().find_map(|r| match &r.event {
                    Event::Spawn { task: t, name, .. } if *t == task => Some(name.clone()),
                    _ => None,
                });
                match name {
                    Some(name) => format!("{task} {name}"),
                    None => format!("{task} main"),
                }
            };
            let ready = |r: bool, w: bool| {
                format!(
                    "{} {}",
                    if r { "r" } else { "-" },
                    if w { "w" } else { "-" }
                )
            };
            seen.lock().unwrap().push((
                view.main_woken,
                view.run_queue.iter().map(|t| label(*t)).collect(),
                view.wheel_tick,
                view.timers
                    .iter()
                    .map(|t| format!("#{}", t.timer))
                    .collect(),
                view.io
                    .iter()
                    .map(|io| (io.token as u64, ready(io.readable, io.writable)))
                    .collect(),
            ));
        })
    })
    .unwrap();
    let recording = capture.recording(Clock::Virtual, "the post's scenario");
    let data = page_data(&html(&recording, &HtmlExtras::default()));
    let views = views.lock().unwrap();
    let turns: Vec<&Value> = data["turns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["completed"] == true)
        .collect();
    assert_eq!(turns.len(), views.len());
    let mut hands = std::collections::BTreeSet::new();
    for (n, (turn, view)) in turns.iter().zip(views.iter()).enumerate() {
        let d = &turn["detail"];
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect()
        };
        let shown: View = (
            d["main_woken"].as_bool().unwrap(),
            strings(&d["queue"]),
            d["hand"].as_u64().unwrap(),
            d["timers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t[2].as_str().unwrap().to_string())
                .collect(),
            d["io"]
                .as_array()
                .unwrap()
                .iter()
                .map(|io| (io[0].as_u64().unwrap(), io[3].as_str().unwrap().to_string()))
                .collect(),
        );
        assert_eq!(&shown, view, "after turn {}", n + 1);
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
    // find_users(1) is done first, in turn 5. On the simulated network a socket's wake
    // comes straight from the peer that wrote, so it is woken by its connection (task
    // 7) alone; main is woken by the three finished requests; the connections by their
    // timers and their clients.
    let one = &tasks[4];
    assert_eq!(
        (&one["end"], &one["last_poll_turn"], &one["last_poll_s"]),
        (&Value::from("ready"), &Value::from(5), &Value::from(1.0))
    );
    assert!(
        one["woken_by"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["by"] == "task" && w["task"] == 7),
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
    // Turn 3: the loop waits for the connections' one-second timers; the virtual
    // clock jumps there.
    let park = &turns[2]["park"];
    assert_eq!(park["kind"], "park");
    assert_eq!(park["ended_by"], "clock_jump");
    assert_eq!(park["waited_ms"], 1000.0);
    assert_eq!(park["timeout_ms"], 1000.0);
    // No park ever waits for I/O: on the simulated network a write wakes its reader
    // at once, so the loop parks only to let the clock jump to a timer.
    assert!(turns[0]["park"].is_null(), "{}", turns[0]);
    assert!(
        turns
            .iter()
            .all(|turn| turn["park"].is_null() || turn["park"]["ended_by"] == "clock_jump"),
        "{turns:?}"
    );
    let last = turns.last().unwrap();
    assert_eq!(
        (&last["stopped"], &last["park"]),
        (&Value::from(true), &Value::Null)
    );
}

/// A fresh directory for one test's files.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("looplab-render-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn looplab(args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_looplab"))
        .args(args)
        .output()
        .expect("the looplab binary runs")
}

/// `looplab lookup --record` writes the run as a recording; `looplab render` draws it
/// as exactly the page, Chrome trace and SVG that `lookup` wrote directly; and the
/// recording is the same bytes on every virtual-time run.
#[test]
fn a_lookup_drawn_from_its_recording_is_the_same_bytes_as_drawn_directly() {
    let dir = scratch("identity");
    let path = |name: &str| dir.join(name);
    let direct = looplab(&[
        "lookup".as_ref(),
        "--virtual-time".as_ref(),
        "--record".as_ref(),
        path("run.jsonl").as_os_str(),
        "--html".as_ref(),
        path("direct.html").as_os_str(),
        "--chrome-trace".as_ref(),
        path("direct.json").as_os_str(),
        "--svg".as_ref(),
        path("direct.svg").as_os_str(),
    ]);
    assert!(
        direct.status.success(),
        "{}",
        String::from_utf8_lossy(&direct.stderr)
    );
    let rendered = looplab(&[
        "render".as_ref(),
        path("run.jsonl").as_os_str(),
        "--html".as_ref(),
        path("rendered.html").as_os_str(),
        "--chrome-trace".as_ref(),
        path("rendered.json").as_os_str(),
        "--svg".as_ref(),
        path("rendered.svg").as_os_str(),
    ]);
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let read = |name: &str| std::fs::read(path(name)).unwrap();
    for (a, b) in [
        ("direct.html", "rendered.html"),
        ("direct.json", "rendered.json"),
        ("direct.svg", "rendered.svg"),
    ] {
        assert!(read(a) == read(b), "{a} and {b} differ");
    }
    // Not empty pictures: the page has the table, the timeline and every turn.
    let page = String::from_utf8(read("rendered.html")).unwrap();
    assert!(page.contains("<table class=\"runs\">"));
    let data = page_data(&page);
    assert_eq!(
        data["turns"].as_array().unwrap().len(),
        scenario::default_recording()
            .lines
            .iter()
            .filter(|l| matches!(l.kind, looplab::recording::Kind::Turn { .. }))
            .count()
            + 1
    );
    // The recording itself: every turn with the loop's state, the requests after the
    // loop, and the same bytes again on a second run.
    let recording = Recording::from_bytes(&read("run.jsonl")).unwrap();
    assert!(
        recording
            .lines
            .iter()
            .all(|l| !matches!(l.kind, looplab::recording::Kind::Turn { state: None, .. }))
    );
    assert!(matches!(
        recording.lines.last().unwrap().kind,
        looplab::recording::Kind::LookupRun { .. }
    ));
    let again = looplab(&[
        "lookup".as_ref(),
        "--virtual-time".as_ref(),
        "--record".as_ref(),
        path("again.jsonl").as_os_str(),
    ]);
    assert!(again.status.success());
    assert!(
        read("run.jsonl") == read("again.jsonl"),
        "virtual time: the same recording every run"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `LOOPLAB_RECORD` records any program on looplab, here the `looplab` command run
/// without its own flag: the same recording `--record` writes, but for the requests.
#[test]
fn the_environment_records_any_program_the_same_as_record() {
    let dir = scratch("env-record");
    let (by_env, by_flag) = (dir.join("env.jsonl"), dir.join("flag.jsonl"));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_looplab"))
        .args(["lookup", "--virtual-time", "--json"])
        .env("LOOPLAB_RECORD", &by_env)
        .output()
        .unwrap();
    assert!(output.status.success());
    let output = looplab(&[
        "lookup".as_ref(),
        "--virtual-time".as_ref(),
        "--json".as_ref(),
        "--record".as_ref(),
        by_flag.as_os_str(),
    ]);
    assert!(output.status.success());
    let env = Recording::from_bytes(&std::fs::read(&by_env).unwrap()).unwrap();
    let flag = Recording::from_bytes(&std::fs::read(&by_flag).unwrap()).unwrap();
    let loop_lines = |r: &Recording| -> Vec<looplab::recording::Line> {
        r.lines
            .iter()
            .filter(|l| !matches!(l.kind, looplab::recording::Kind::LookupRun { .. }))
            .cloned()
            .collect()
    };
    assert_eq!(loop_lines(&env), loop_lines(&flag));
    assert!(loop_lines(&env).len() > 100);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A malformed, truncated or unknown-version recording gets one `error:` line from
/// `looplab render` naming the file and the line, exit status 1, and no file written.
#[test]
fn render_refuses_a_bad_recording_naming_its_line() {
    let dir = scratch("bad");
    let good = String::from_utf8(scenario::default_recording().to_bytes()).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    let cut = &good[..good.len() - 20];
    let cases: Vec<(&str, String, String)> = vec![
        (
            "truncated",
            cut.to_string(),
            format!("truncated: line {} is not complete JSON", lines.len()),
        ),
        (
            "unknown-version",
            good.replacen("\"version\":1", "\"version\":9", 1),
            "line 1: version 9 is not supported (this looplab reads version 1)".to_string(),
        ),
        (
            "malformed",
            {
                let mut bad: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
                bad[4] = bad[4].replacen("\"kind\":\"", "\"kind\":\"x", 1);
                bad.join("\n") + "\n"
            },
            "line 5: unknown event kind \"x".to_string(),
        ),
        (
            "not-json",
            format!("{}\n{{\"at_ns\":0,\n{}\n", lines[0], lines[1]),
            "line 2: not JSON".to_string(),
        ),
    ];
    for (name, text, expected) in cases {
        let file = dir.join(format!("{name}.jsonl"));
        std::fs::write(&file, text).unwrap();
        let page = dir.join(format!("{name}.html"));
        let output = looplab(&[
            "render".as_ref(),
            file.as_os_str(),
            "--html".as_ref(),
            page.as_os_str(),
        ]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{name}: {stderr}");
        assert!(
            stderr.starts_with(&format!("error: {}: ", file.display()))
                && stderr.contains(&expected),
            "{name}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{name}: one line: {stderr}");
        assert!(!page.exists(), "{name}: nothing written");
    }
    // A recording without requests has no timeline: --svg says so, exit status 1.
    let file = dir.join("no-requests.jsonl");
    std::fs::write(&file, &good).unwrap();
    let svg = dir.join("x.svg");
    let output = looplab(&[
        "render".as_ref(),
        file.as_os_str(),
        "--svg".as_ref(),
        svg.as_os_str(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("holds no requests"), "{stderr}");
    assert!(!svg.exists());
    // A file that is not there, and a missing argument (bad usage: 2).
    let output = looplab(&["render".as_ref(), dir.join("nothing.jsonl").as_os_str()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("could not read"));
    assert_eq!(looplab(&["render".as_ref()]).status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `looplab render FILE --step` prints every turn of a recording as `--step` does:
/// a heading per turn, then the state the loop recorded after it, then its lines.
#[test]
fn render_step_prints_each_turn_with_its_recorded_state() {
    let dir = scratch("step");
    let file = dir.join("run.jsonl");
    std::fs::write(&file, scenario::default_recording().to_bytes()).unwrap();
    let output = looplab(&["render".as_ref(), file.as_os_str(), "--step".as_ref()]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let turns = scenario::default_recording()
        .lines
        .iter()
        .filter(|l| matches!(l.kind, looplab::recording::Kind::Turn { .. }))
        .count();
    let headings: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("--- turn "))
        .collect();
    assert_eq!(headings.len(), turns + 1, "{text}");
    assert!(
        headings
            .last()
            .unwrap()
            .contains("main returns, the loop stops")
    );
    // The turn in which the clock jumps to 1 s says so, and its state has the three
    // connections queued and the wheel's hand at the millisecond reached.
    let jump = text
        .split("--- turn ")
        .find(|t| t.contains("clock jumped 0.000s -> 1.000s"))
        .unwrap_or_else(|| panic!("no jump to 1 s: {text}"));
    assert!(jump.contains("wheel      hand at tick 1000"), "{jump}");
    assert!(jump.contains("run queue  task 5 connection 1"), "{jump}");
    assert!(text.lines().all(|l| l.chars().count() <= 80));
    let _ = std::fs::remove_dir_all(&dir);
}
