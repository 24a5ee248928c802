//! The post's scenario under virtual time, recorded: what the golden trace, the
//! determinism test and the export tests look at.

// Each test file uses only some of these.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use looplab::lookup::event_loop::{EventLoopOptions, Narrator, run_event_loop};
use looplab::lookup::narrative::Lang;
use looplab::recording::{Capture, Clock, Recording};
use looplab::trace::Record;
use looplab::{Recorder, TraceOutput};

/// Runs the default scenario (3, 2 and 1 users, 1 s per user) on the event loop under
/// virtual time, with the directory in the same runtime, and returns its records.
pub fn default_scenario() -> Vec<Record> {
    recorded_default_scenario().records()
}

/// The same run, and the recorder that holds it (for its printed lines too).
pub fn recorded_default_scenario() -> Recorder {
    captured_default_scenario().recorder()
}

/// The same run as a recording, with the loop's state after every turn: what the
/// page, the Chrome trace and `looplab render` draw.
pub fn default_recording() -> Recording {
    captured_default_scenario().recording(Clock::Virtual, "the post's scenario")
}

/// The same run, captured: its records and its state after every turn.
pub fn captured_default_scenario() -> Capture {
    let capture = Capture::new();
    let recorder = capture.recorder();
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
    let (report, _) = run_event_loop(None, &options, quiet, |b| b.capture(capture.clone()))
        .expect("the scenario runs");
    assert_eq!(report.total, Duration::from_secs(3));
    capture
}
