//! The post's scenario on the event loop, under virtual time, must print exactly the
//! trace in `tests/golden/event_loop_virtual.trace`, line by line.
//!
//! When a deliberate change alters the trace, regenerate the file and review the diff:
//!
//! ```text
//! LOOPLAB_BLESS=1 cargo test --test golden_trace
//! git diff tests/golden/
//! ```

use std::sync::Arc;
use std::time::Duration;

use looplab::lookup::event_loop::{EventLoopOptions, Narrator, run_event_loop};
use looplab::lookup::narrative::Lang;
use looplab::{Recorder, TraceOutput};

const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/golden/event_loop_virtual.trace"
);

fn scenario_trace() -> Vec<String> {
    let recorder = Recorder::new();
    let options = EventLoopOptions {
        requests: vec![3, 2, 1],
        delay: Duration::from_secs(1),
        virtual_time: true,
        call_timeout: None,
        lang: Lang::En,
        trace: TraceOutput::Off,
        recorder: Some(recorder.clone()),
    };
    let quiet: Narrator = Arc::new(|_, _| {});
    let (report, _) = run_event_loop(None, &options, quiet, |b| b).expect("the scenario runs");
    assert_eq!(report.total, Duration::from_secs(3));
    recorder.lines()
}

#[test]
fn the_event_loop_scenario_prints_the_golden_trace() {
    let actual = scenario_trace();
    if std::env::var_os("LOOPLAB_BLESS").is_some() {
        std::fs::write(GOLDEN, actual.join("\n") + "\n").unwrap();
        eprintln!("wrote {GOLDEN}");
        return;
    }
    let expected = std::fs::read_to_string(GOLDEN).expect("the golden file exists");
    let expected: Vec<&str> = expected.lines().collect();
    for (i, (got, want)) in actual.iter().zip(&expected).enumerate() {
        assert_eq!(
            got,
            want,
            "line {} differs (regenerate with LOOPLAB_BLESS=1 if the change is meant)",
            i + 1
        );
    }
    assert_eq!(actual.len(), expected.len(), "number of lines");
}

#[test]
fn the_trace_is_the_same_on_every_run() {
    assert_eq!(scenario_trace(), scenario_trace());
}
