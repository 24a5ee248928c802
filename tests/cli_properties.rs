//! No input crashes the program (issue 15, point 1), checked with arbitrary input:
//!
//! - the command, run with arbitrary flags and values, always ends with exit code 0
//!   (it ran) or 2 (clap's error on stderr, nothing on stdout): never a panic, an
//!   abort or a signal. Anything that runs a scenario runs it in virtual time.
//! - the report, fed runs of arbitrary sizes and durations, draws a timeline that fits
//!   the width it is given, a table that fits 80 columns, and a well-formed SVG that
//!   fits a 16:9 slide.
//!
//! The case counts are small (each command case starts a process), so this file runs
//! in seconds.

use std::process::{Command, Stdio};
use std::time::Duration;

use looplab::lookup::report::{Mode, RequestReport, RunReport, Span, render_table};
use looplab::lookup::timeline::{Layout, MIN_WIDTH, SVG_MAX_HEIGHT};
use proptest::prelude::*;

/// A value for a flag: usually one of its kind, sometimes anything at all.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        // Request lists small enough to run, and numbers of any size.
        "[1-9][0-9]{0,2}(,[1-9][0-9]{0,2}){0,2}",
        any::<u64>().prop_map(|n| n.to_string()),
        "[0-9]{10,30}",
        // Durations, good and bad.
        "[0-9]{1,4}(ms|s|m|h)",
        "-?[0-9]{0,3}(\\.[0-9]{0,3})?[a-zµ]{0,3}",
        // Modes and languages, good and bad.
        prop::sample::select(vec![
            "all",
            "sequential",
            "threads",
            "event-loop",
            "en",
            "ko"
        ])
        .prop_map(str::to_owned),
        // Anything.
        any::<String>(),
        "\\PC{0,20}",
    ]
}

/// One argument: a flag with a value of its kind, a flag with any value, a bare flag,
/// or a stray word. Values of the right kind come often, so that many cases run.
fn argument() -> impl Strategy<Value = Vec<String>> {
    let with_value = prop::sample::select(vec!["--mode", "--requests", "--delay", "--lang"]);
    let bare = prop::sample::select(vec!["--json", "--trace", "--step", "--virtual-time", "-h"]);
    let pair = |flag: &'static str| move |value: String| vec![flag.to_owned(), value];
    prop_oneof![
        3 => "[1-9][0-9]{0,2}(,[1-9][0-9]{0,2}){0,3}".prop_map(pair("--requests")),
        2 => "[0-9]{1,3}(ms|s|m)".prop_map(pair("--delay")),
        1 => prop::sample::select(vec!["event-loop", "all", "threads"])
            .prop_map(|mode| vec!["--mode".to_owned(), mode.to_owned()]),
        1 => prop::sample::select(vec!["en", "ko"])
            .prop_map(|lang| vec!["--lang".to_owned(), lang.to_owned()]),
        2 => bare.prop_map(|flag| vec![flag.to_owned()]),
        2 => (with_value.clone(), value()).prop_map(|(flag, value)| vec![flag.to_owned(), value]),
        1 => (with_value, value()).prop_map(|(flag, value)| vec![format!("{flag}={value}")]),
        1 => value().prop_map(|word| vec![word]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_arguments_end_in_exit_0_or_2(
        command in prop_oneof![
            4 => Just("lookup"),
            1 => prop::sample::select(vec!["directory", "chapters", "help", "nonsense"]),
        ],
        arguments in prop::collection::vec(argument(), 0..4),
    ) {
        let mut args: Vec<String> = vec![command.to_owned()];
        args.extend(arguments.into_iter().flatten());
        // Whatever runs a scenario runs it on the virtual clock: exact and instant.
        // `directory` would serve until stopped, so it is only asked for help.
        match command {
            "lookup" => args.push("--virtual-time".to_owned()),
            "directory" => args.push("--help".to_owned()),
            _ => {}
        }
        // Arguments the OS cannot pass (a NUL byte) are not the program's input.
        prop_assume!(args.iter().all(|a| !a.contains('\0')));
        let output = Command::new(env!("CARGO_BIN_EXE_looplab"))
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let code = output.status.code();
        prop_assert!(
            code == Some(0) || code == Some(2),
            "{args:?} ended with {:?}: {stderr}", output.status
        );
        // A panic prints "panicked at"; the runtime counters of `--trace` say "0 panicked".
        prop_assert!(!stderr.contains("panicked at"), "{args:?}: {stderr}");
        if code == Some(2) {
            prop_assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
            prop_assert!(output.stdout.is_empty(), "{args:?}");
        }
        let asked_for_help = args.iter().any(|a| a == "-h" || a == "--help");
        if code == Some(0) && args.iter().any(|a| a == "--json") && !asked_for_help {
            let stdout = String::from_utf8_lossy(&output.stdout);
            let json: Result<serde_json::Value, _> = serde_json::from_str(stdout.trim());
            prop_assert!(json.is_ok(), "{args:?}: stdout is one JSON document: {stdout}");
        }
    }
}

/// A run of `requests` requests whose lookups have the given lengths and gaps.
fn run_of(
    mode: Mode,
    virtual_time: bool,
    requests: Vec<(u32, Vec<(Duration, Duration)>)>,
) -> RunReport {
    let requests: Vec<RequestReport> = requests
        .into_iter()
        .map(|(users, steps)| {
            let mut at = Duration::ZERO;
            let lookups: Vec<Span> = steps
                .into_iter()
                .map(|(gap, length)| {
                    let start = at + gap;
                    at = start + length;
                    Span { start, end: at }
                })
                .collect();
            RequestReport {
                users,
                start: Duration::ZERO,
                latency: at,
                lookups,
            }
        })
        .collect();
    let total = requests.iter().map(|r| r.latency).max().unwrap_or_default();
    RunReport {
        mode,
        virtual_time,
        total,
        delay: None,
        requests,
    }
}

/// Durations from nothing to the longest a run can take (a million users of an hour).
fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0u64..2_000).prop_map(Duration::from_micros),
        (0u64..5_000).prop_map(Duration::from_millis),
        (0u64..3_600_000_000).prop_map(Duration::from_secs),
    ]
}

fn run() -> impl Strategy<Value = RunReport> {
    let request = (
        1u32..=1_000_000,
        prop::collection::vec((duration(), duration()), 0..8),
    );
    (
        prop::sample::select(Mode::ALL.to_vec()),
        any::<bool>(),
        prop::collection::vec(request, 0..60),
    )
        .prop_map(|(mode, virtual_time, requests)| run_of(mode, virtual_time, requests))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_report_fits_its_width_at_any_size(
        runs in prop::collection::vec(run(), 1..4),
        width in 0usize..240,
        many in 0usize..3_000,
    ) {
        // Some cases get thousands of requests, past every row and column limit.
        let mut runs = runs;
        if let Some(first) = runs.first().cloned() {
            let more = first.requests.first().cloned();
            runs[0].requests.extend(std::iter::repeat_n(more, many).flatten());
        }
        let layout = Layout::new(&runs, width);
        let text = layout.to_text();
        let widest = width.max(MIN_WIDTH);
        for line in text.lines() {
            prop_assert!(line.chars().count() <= widest, "{width}: {line:?}");
        }
        prop_assert!(text.lines().count() <= 1 + runs.len() * 37, "{}", text.lines().count());
        for line in render_table(&runs, 80).lines() {
            prop_assert!(line.chars().count() <= 80, "{line:?}");
        }
        let svg = layout.to_svg();
        let document = roxmltree::Document::parse(&svg);
        prop_assert!(document.is_ok(), "{:?}", document.err());
        let document = document.unwrap();
        let height: f64 = document.root_element().attribute("height").unwrap().parse().unwrap();
        prop_assert!(height <= SVG_MAX_HEIGHT, "{height}");
    }
}
