//! The post's scenario on the event loop, under virtual time, must print exactly the
//! trace in `tests/golden/event_loop_virtual.trace`, line by line.
//!
//! When a deliberate change alters the trace, regenerate the file and review the diff:
//!
//! ```text
//! LOOPLAB_BLESS=1 cargo test --test golden_trace
//! git diff tests/golden/
//! ```

mod scenario;

const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/golden/event_loop_virtual.trace"
);

fn scenario_trace() -> Vec<String> {
    scenario::recorded_default_scenario().lines()
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
