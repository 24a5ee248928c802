//! The `looplab` command as a user runs it: arguments and clap's messages, exit codes,
//! JSON, --step, the pictures it writes, and a directory given by name.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn looplab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_looplab"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the looplab binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The latencies of one run of a `--json` document, in input order.
fn latencies(run: &Value) -> Vec<(u64, f64)> {
    run["requests"]
        .as_array()
        .expect("requests is a list")
        .iter()
        .map(|r| {
            (
                r["users"].as_u64().unwrap(),
                r["latency_s"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn virtual_time_json_reports_exactly_3_2_1_seconds_in_well_under_a_second() {
    let started = Instant::now();
    let output = looplab(&["lookup", "--mode", "event-loop", "--virtual-time", "--json"]);
    let wall = started.elapsed();
    assert!(output.status.success(), "{}", stderr(&output));
    let json: Value =
        serde_json::from_str(stdout(&output).trim()).expect("stdout is exactly one JSON document");
    assert_eq!(json["runs"].as_array().unwrap().len(), 1);
    let run = &json["runs"][0];
    assert_eq!(run["mode"], "event-loop");
    assert_eq!(run["virtual_time"], true);
    assert_eq!(run["total_s"], 3.0);
    assert_eq!(run["delay_s"], 1.0);
    // Input order, and the latency of each is its own length: shortest finishes first.
    assert_eq!(latencies(run), vec![(3, 3.0), (2, 2.0), (1, 1.0)]);
    assert!(wall < Duration::from_secs(2), "took {wall:?} of wall time");
    // With no terminal on stderr, no progress lines either.
    assert!(stderr(&output).is_empty(), "{}", stderr(&output));
}

#[test]
fn json_carries_the_spans_of_every_request_and_lookup() {
    let output = looplab(&["lookup", "--virtual-time", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    let requests = json["runs"][0]["requests"].as_array().unwrap();
    for request in requests {
        assert_eq!(request["start_s"], 0.0, "{request}");
        assert_eq!(request["end_s"], request["latency_s"], "{request}");
        let lookups = request["lookups"].as_array().unwrap();
        assert_eq!(lookups.len() as u64, request["users"].as_u64().unwrap());
        // One second each, back to back, on the virtual clock.
        for (i, lookup) in lookups.iter().enumerate() {
            assert_eq!(lookup["start_s"], i as f64, "{lookup}");
            assert_eq!(lookup["end_s"], (i + 1) as f64, "{lookup}");
        }
    }
}

#[test]
fn the_event_loop_mode_in_real_time_takes_about_3_seconds() {
    let output = looplab(&["lookup", "--mode", "event-loop", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    let run = &json["runs"][0];
    assert_eq!(run["virtual_time"], false);
    let total = run["total_s"].as_f64().unwrap();
    assert!((3.0..3.5).contains(&total), "total {total} s");
    for ((_, latency), ideal) in latencies(run).into_iter().zip([3.0, 2.0, 1.0]) {
        assert!(latency >= ideal, "{latency} for {ideal}");
        assert!(latency < ideal + 0.4, "{latency} for {ideal}");
    }
}

#[test]
fn a_short_run_of_all_modes_prints_narrative_table_and_timeline() {
    let output = looplab(&["lookup", "--delay", "50ms"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for expected in [
        "== sequential",
        "== threads",
        "== event-loop",
        "looking up user 1 of 3 ...",
        "> all 3 users found",
        "> 1 user found",
        "mode ",
        "sequential ",
        "threads ",
        "event-loop ",
        "[",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn korean_narrative_uses_the_posts_wording() {
    let output = looplab(&[
        "lookup",
        "--mode",
        "event-loop",
        "--virtual-time",
        "--lang",
        "ko",
    ]);
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(text.contains("3명 중 1번 째 사용자 조회 중 ..."), "{text}");
    assert!(
        text.contains("> 총 3 명 사용자 비동기 조회 완료!"),
        "{text}"
    );
}

/// Exit code 2, nothing on stdout, and clap's message on stderr: an `error:` line that
/// contains `expected`, then (where clap gives them) the allowed values, tips and usage.
fn assert_usage_error(args: &[&str], expected: &str) -> String {
    let output = looplab(args);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{args:?}: {}",
        stderr(&output)
    );
    let err = stderr(&output);
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    assert!(err.contains(expected), "{args:?}: {err}");
    assert!(err.contains("--help"), "{args:?} points to the help: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(stdout(&output).is_empty());
    err
}

#[test]
fn bad_arguments_get_claps_whole_message_and_exit_code_2() {
    assert_usage_error(&["lookup", "--requests", "0"], "at least 1 user");
    assert_usage_error(&["lookup", "--requests", "x"], "not a number of users");
    assert_usage_error(&["lookup", "--delay", "-1s"], "negative");
    assert_usage_error(&["lookup", "--lang", "fr"], "[possible values: en, ko]");
    assert_usage_error(&["nonsense"], "nonsense");
    let mode = assert_usage_error(&["lookup", "--mode", "fast"], "'fast'");
    assert!(
        mode.contains("[possible values: all, sequential, threads, event-loop]"),
        "{mode}"
    );
    let typo = assert_usage_error(&["lookup", "--jsn"], "--jsn");
    assert!(
        typo.contains("a similar argument exists: '--json'"),
        "{typo}"
    );
    assert!(typo.contains("Usage: looplab lookup"), "{typo}");
}

#[test]
fn too_large_numbers_are_refused_with_the_limit_not_a_crash() {
    assert_usage_error(
        &["lookup", "--requests", "4294967296"],
        "4294967296 users in one request is too large (at most 1,000,000 users in all)",
    );
    assert_usage_error(&["lookup", "--requests", "65536,999999"], "too large");
    // (Past 100,000 requests the list is longer than a command line may be: the
    // parser's own tests check that limit.)
    assert_usage_error(&["lookup", "--delay", "2h"], "too large (at most 1h)");
    assert_usage_error(&["lookup", "--timeout", "0s"], "must be more than 0");
    assert_usage_error(&["directory", "--max-connections", "0"], "at least 1");
    assert_usage_error(&["directory", "--addr", "localhost:70000"], "0 to 65535");
    let help = stdout(&looplab(&["lookup", "--help"]));
    assert!(
        help.contains("at most 100,000 requests and 1,000,000 users in all"),
        "{help}"
    );
}

#[test]
fn a_lookup_flag_before_the_command_gets_a_tip_that_names_its_command() {
    let err = assert_usage_error(&["--json"], "unexpected argument '--json'");
    assert!(
        err.contains("tip: --json is a flag of `looplab lookup`: try `looplab lookup --json`"),
        "{err}"
    );
    let err = assert_usage_error(&["--mode=threads"], "--mode");
    assert!(err.contains("try `looplab lookup --mode <MODE>`"), "{err}");
    let help = stdout(&looplab(&["--help"]));
    assert!(help.contains("see `looplab lookup --help`"), "{help}");
}

#[test]
fn version_and_help_work_every_way_they_are_asked() {
    for args in [&["--version"][..], &["-V"]] {
        let output = looplab(args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        assert_eq!(
            stdout(&output).trim(),
            format!("looplab {}", env!("CARGO_PKG_VERSION"))
        );
    }
    let lookup = looplab(&["help", "lookup"]);
    assert!(lookup.status.success());
    assert!(
        stdout(&lookup).contains("Usage: looplab lookup"),
        "{}",
        stdout(&lookup)
    );
    assert!(stdout(&lookup).contains("Rules between flags"));
    assert_eq!(stdout(&lookup), stdout(&looplab(&["lookup", "--help"])));
    let help_of_help = looplab(&["help", "--help"]);
    assert!(help_of_help.status.success(), "{}", stderr(&help_of_help));
    assert!(stdout(&help_of_help).contains("Usage: looplab help [COMMAND]"));
    assert!(looplab(&["help"]).status.success());
    assert_usage_error(
        &["help", "nope"],
        "[possible values: lookup, directory, render, chapters]",
    );
}

#[test]
fn virtual_time_and_step_alone_select_the_event_loop() {
    let output = looplab(&["lookup", "--virtual-time", "--requests", "2"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("== event-loop"), "{text}");
    assert!(!text.contains("== sequential"), "{text}");
    let help = stdout(&looplab(&["lookup", "--help"]));
    assert!(help.contains("Selects --mode event-loop"), "{help}");
}

#[test]
fn virtual_time_or_step_with_a_blocking_mode_is_a_clear_error() {
    assert_usage_error(
        &["lookup", "--mode", "threads", "--virtual-time"],
        "a virtual clock cannot skip a blocked thread's wait",
    );
    assert_usage_error(
        &["lookup", "--mode", "all", "--step"],
        "--step needs --mode event-loop",
    );
}

#[test]
fn flags_that_cannot_go_together_are_refused_by_clap() {
    assert_usage_error(
        &["lookup", "--step", "--json"],
        "the argument '--step' cannot be used with '--json'",
    );
    assert_usage_error(
        &["lookup", "--virtual-time", "--directory", "127.0.0.1:1"],
        "cannot be used with",
    );
    assert_usage_error(
        &["lookup", "--delay", "1s", "--directory", "127.0.0.1:1"],
        "cannot be used with",
    );
}

#[test]
fn step_shows_each_turn_and_runs_to_the_end_when_input_ends() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_looplab"))
        .args([
            "lookup",
            "--mode",
            "event-loop",
            "--virtual-time",
            "--step",
            "--requests",
            "1",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Three presses of Enter, then the end of input.
    child.stdin.take().unwrap().write_all(b"\n\n\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for expected in [
        "--- turn 1 at 0.000s: 3 polls",
        "--- turn 4 at",
        "run queue  ",
        "wheel      hand at tick",
        "L2 slot  2  #2 due 11.000s for task 3",
        "I/O        token what          ready  who waits",
        "sim listener  - -  task 1 reads",
        "(end of input: running to the end)",
        "--- last turn: main returns, the loop stops",
        "runtime counters",
        "event-loop (virtual time)",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // Four turns were shown (three Enters, then the fourth prompt met the end of input).
    assert_eq!(text.matches("[Enter: next turn]").count(), 4, "{text}");
}

/// What a learner missed in the old view: main's wakes, how each park went, the
/// sockets' readiness, one line per narrative, and a screen 80 columns wide.
#[test]
fn step_shows_main_the_park_and_readiness_on_an_80_column_screen() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_looplab"))
        .args(["lookup", "--step", "--virtual-time"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&[b'\n'; 100])
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let too_wide: Vec<&str> = text.lines().filter(|l| l.chars().count() > 80).collect();
    assert!(
        too_wide.is_empty(),
        "lines wider than 80 columns: {too_wide:#?}"
    );
    assert!(
        text.contains("main       woken: polled first next turn"),
        "{text}"
    );
    assert!(text.contains("main       waiting"), "{text}");
    assert!(text.contains("clock jumped 0.000s -> 1.000s"), "{text}");
    assert!(text.contains("no park (tasks ready)"), "{text}");
    // A socket that is writable with nobody waiting says so.
    assert!(text.contains(" - w  nobody"), "{text}");
    // Each narrative line once: in the trace, as a note.
    assert_eq!(
        text.matches("looking up user 1 of 3 ...").count(),
        1,
        "{text}"
    );
    // Piped input: each prompt ends its line.
    assert!(!text.contains("[Enter: next turn] ---"), "{text}");
    assert!(text.contains("[Enter: next turn] \n"), "{text}");
}

#[test]
fn trace_ends_with_the_runtime_counters() {
    let output = looplab(&[
        "lookup",
        "--mode",
        "event-loop",
        "--virtual-time",
        "--trace",
    ]);
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(
        text.contains("timer #1 armed: deadline 1.000s, wheel level 1 slot 15"),
        "{text}"
    );
    assert!(text.contains("runtime counters"));
    assert!(
        text.contains("timers      12 armed, 5 cancelled, 6 fired"),
        "{text}"
    );
    assert!(text.contains("clock jumps"));
}

#[test]
fn chapters_lists_every_chapter_with_its_example() {
    let output = looplab(&["chapters"]);
    assert!(output.status.success());
    let text = stdout(&output);
    for n in 1..=10 {
        assert!(text.contains(&format!("{n:>2}. ")), "chapter {n} in {text}");
    }
    assert!(text.contains("cargo run --example ch05_executor"));
}

#[test]
fn directory_prints_its_address_first_serves_users_and_logs_each_request() {
    use std::io::{BufRead, BufReader, Read};
    let mut child = Command::new(env!("CARGO_BIN_EXE_looplab"))
        .args(["directory", "--addr", "127.0.0.1:0", "--delay", "50ms"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    lines.read_line(&mut first).unwrap();
    let addr = first
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("first line was {first:?}"))
        .to_string();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /users/7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    // Stopped as a user stops it, with SIGTERM: the access log is written in batches,
    // once per loop turn, and a graceful stop writes what is left; SIGKILL would lose
    // a line not yet written.
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    assert!(child.wait().unwrap().success());
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"id\":7"), "{answer}");
    // `   0.051s  127.0.0.1:50312  GET /users/7  200  0.050s`: when, who, what, status, how long.
    let line = log.lines().next().unwrap_or_default();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.len(), 6, "{log}");
    assert!(words[0].ends_with('s'), "{line}");
    assert_eq!(
        words[1]
            .parse::<std::net::SocketAddr>()
            .map(|a| a.ip().is_loopback()),
        Ok(true),
        "{line}"
    );
    assert_eq!(&words[2..5], ["GET", "/users/7", "200"], "{line}");
    let took: f64 = words[5].trim_end_matches('s').parse().unwrap();
    assert!(took >= 0.05, "{line}");
}

/// A fresh, empty directory for one test's files.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// How many elements named `name` carry `class` among their classes.
fn count(svg: &roxmltree::Document<'_>, name: &str, class: &str) -> usize {
    svg.descendants()
        .filter(|node| node.has_tag_name(name))
        .filter(|node| {
            node.attribute("class")
                .is_some_and(|c| c.split(' ').any(|word| word == class))
        })
        .count()
}

#[test]
fn svg_of_the_default_scenario_has_a_group_per_mode_a_row_per_request_a_block_per_lookup() {
    let dir = scratch("svg-default");
    let path = dir.join("timeline.svg");
    // The post's scenario, with 20 ms per user instead of a second.
    let output = looplab(&["lookup", "--delay", "20ms", "--svg", path.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = std::fs::read_to_string(&path).unwrap();
    let svg = roxmltree::Document::parse(&text).expect("the SVG is well-formed XML");
    assert_eq!(svg.root_element().tag_name().name(), "svg");
    let modes: Vec<&str> = svg
        .descendants()
        .filter(|node| node.has_tag_name("g") && node.attribute("class") == Some("mode"))
        .filter_map(|node| node.attribute("data-mode"))
        .collect();
    assert_eq!(modes, ["sequential", "threads", "event-loop"]);
    assert_eq!(
        count(&svg, "g", "request"),
        9,
        "3 requests in each of 3 modes"
    );
    assert_eq!(
        count(&svg, "rect", "lookup"),
        18,
        "3 + 2 + 1 lookups in each mode"
    );
    assert_eq!(count(&svg, "text", "latency"), 9);
    // The table and timeline still go to stdout.
    assert!(stdout(&output).contains("event-loop (one thread)"));
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "no temporary file left"
    );
}

#[test]
fn svg_under_virtual_time_is_the_same_bytes_on_every_run() {
    let dir = scratch("svg-virtual");
    let svg = |name: &str| {
        let path = dir.join(name);
        let output = looplab(&[
            "lookup",
            "--virtual-time",
            "--json",
            "--svg",
            path.to_str().unwrap(),
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
        // --json keeps stdout one JSON document.
        serde_json::from_str::<Value>(stdout(&output).trim()).expect("one JSON document");
        std::fs::read(path).unwrap()
    };
    let first = svg("a.svg");
    assert_eq!(first, svg("b.svg"));
    let text = String::from_utf8(first).unwrap();
    let svg = roxmltree::Document::parse(&text).unwrap();
    assert_eq!(count(&svg, "g", "mode"), 1);
    assert_eq!(count(&svg, "rect", "lookup"), 6);
}

#[test]
fn svg_works_with_each_blocking_mode_too() {
    let dir = scratch("svg-modes");
    for mode in ["sequential", "threads"] {
        let path = dir.join(format!("{mode}.svg"));
        let output = looplab(&[
            "lookup",
            "--mode",
            mode,
            "--requests",
            "2,1",
            "--delay",
            "10ms",
            "--svg",
            path.to_str().unwrap(),
        ]);
        assert!(output.status.success(), "{mode}: {}", stderr(&output));
        let text = std::fs::read_to_string(&path).unwrap();
        let svg = roxmltree::Document::parse(&text).unwrap();
        assert_eq!(count(&svg, "g", "request"), 2, "{mode}");
        assert_eq!(count(&svg, "rect", "lookup"), 3, "{mode}");
    }
}

#[test]
fn an_svg_that_cannot_be_written_is_exit_1_naming_the_path_and_leaves_no_file() {
    let dir = scratch("svg-unwritable");
    let missing = dir.join("no-such-dir").join("t.svg");
    // A directory where the file should go: it can be neither replaced nor half-written.
    let taken = dir.join("taken.svg");
    std::fs::create_dir(&taken).unwrap();
    for path in [&missing, &taken] {
        let path_text = path.to_str().unwrap();
        let output = looplab(&["lookup", "--virtual-time", "--svg", path_text]);
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        let err = stderr(&output);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!("error: could not write {path_text}: ")),
            "{err}"
        );
    }
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        ["taken.svg"],
        "nothing but the directory that was there"
    );
    assert_eq!(std::fs::read_dir(&taken).unwrap().count(), 0);
}

/// The part of `page` from `open` to the first `close` after it, both included.
fn fragment<'a>(page: &'a str, open: &str, close: &str) -> &'a str {
    let start = page
        .find(open)
        .unwrap_or_else(|| panic!("the page has no {open:?}"));
    let end = start + page[start..].find(close).expect("the fragment ends") + close.len();
    &page[start..end]
}

/// The modes in the page's comparison table, row by row, read by parsing the table.
fn page_table_modes(page: &str) -> Vec<String> {
    let table = fragment(page, "<table class=\"runs\">", "</table>");
    let table = roxmltree::Document::parse(table).expect("the table is well-formed");
    assert_eq!(
        count(&table, "td", "total"),
        table
            .descendants()
            .filter(|n| n.has_tag_name("tr") && n.attribute("data-mode").is_some())
            .count(),
        "a total per row"
    );
    table
        .descendants()
        .filter_map(|node| node.attribute("data-mode"))
        .map(str::to_owned)
        .collect()
}

/// The modes in the page's timeline, read by parsing its SVG.
fn page_timeline_modes(page: &str) -> Vec<String> {
    let timeline = fragment(page, "<div class=\"extra-timeline\"><svg", "</svg>");
    let svg = roxmltree::Document::parse(&timeline["<div class=\"extra-timeline\">".len()..])
        .expect("the timeline is well-formed SVG");
    svg.descendants()
        .filter(|node| node.has_tag_name("g") && node.attribute("class") == Some("mode"))
        .filter_map(|node| node.attribute("data-mode"))
        .map(str::to_owned)
        .collect()
}

/// The data the page's script draws the loop from, if the page has a loop.
fn page_loop_data(page: &str) -> Option<Value> {
    let open = "<script type=\"application/json\" id=\"looplab-data\">";
    let start = page.find(open)? + open.len();
    let end = start + page[start..].find("</script>").unwrap();
    Some(serde_json::from_str(&page[start..end]).expect("the page's data is JSON"))
}

/// The Chrome trace's events, by parsing it.
fn trace_events(path: &std::path::Path) -> Vec<Value> {
    let trace: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .expect("the Chrome trace is JSON");
    trace["traceEvents"]
        .as_array()
        .expect("traceEvents")
        .clone()
}

/// `text` without what the wall clock decides even under virtual time: the counters'
/// wall time, and how long `--step` says a park waited.
fn without_wall_times(text: &str) -> String {
    text.lines()
        .filter(|line| !line.trim_start().starts_with("wall time"))
        .map(|line| match line.find("waited ") {
            Some(at) => {
                let rest = &line[at + "waited ".len()..];
                let after = rest.find(" ms").map_or("", |end| &rest[end..]);
                format!("{}waited _{after}", &line[..at])
            }
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_mode_writes_the_page_and_the_chrome_trace_beside_the_svg() {
    let dir = scratch("pictures-every-mode");
    let cases: [(&str, &[&str]); 4] = [
        ("sequential", &["sequential"]),
        ("threads", &["threads"]),
        ("event-loop", &["event-loop"]),
        ("all", &["sequential", "threads", "event-loop"]),
    ];
    for (mode, modes) in cases {
        let (svg, page, trace) = (
            dir.join(format!("{mode}.svg")),
            dir.join(format!("{mode}.html")),
            dir.join(format!("{mode}.json")),
        );
        let output = looplab(&[
            "lookup",
            "--mode",
            mode,
            "--requests",
            "2,1",
            "--delay",
            "10ms",
            "--svg",
            svg.to_str().unwrap(),
            "--html",
            page.to_str().unwrap(),
            "--chrome-trace",
            trace.to_str().unwrap(),
        ]);
        assert!(output.status.success(), "{mode}: {}", stderr(&output));
        // The table still goes to stdout.
        assert!(stdout(&output).contains("mode   "), "{mode}");

        let svg = std::fs::read_to_string(&svg).unwrap();
        let svg = roxmltree::Document::parse(&svg).expect("the SVG is well-formed");
        assert_eq!(count(&svg, "g", "mode"), modes.len(), "{mode}");

        let page = std::fs::read_to_string(&page).unwrap();
        assert!(page.starts_with("<!DOCTYPE html>"), "{mode}");
        assert!(page.trim_end().ends_with("</html>"), "{mode}");
        assert_eq!(page_table_modes(&page), modes, "{mode}: the table");
        assert_eq!(page_timeline_modes(&page), modes, "{mode}: the timeline");
        let tracks: Vec<String> = trace_events(&trace)
            .iter()
            .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
            .map(|e| e["args"]["name"].as_str().unwrap().to_owned())
            .collect();
        let polls = trace_events(&trace)
            .iter()
            .filter(|e| e["ph"] == "X" && e["cat"] == "poll")
            .count();
        if modes.contains(&"event-loop") {
            // Main and the two requests (the directory runs on a thread of its own).
            let data = page_loop_data(&page).expect("the loop's data");
            assert_eq!(data["tasks"], 3, "{mode}");
            assert!(data["turns"].as_array().unwrap().len() >= 3, "{mode}");
            assert!(page.contains("id=\"stepper\"") && page.contains("id=\"lanes\""));
            assert!(
                page.contains("The directory ran outside that loop"),
                "{mode}"
            );
            assert_eq!(
                tracks,
                [
                    "loop",
                    "task 0 main",
                    "task 1 find_users(2)",
                    "task 2 find_users(1)"
                ],
                "{mode}"
            );
            assert!(polls >= 6, "{mode}: {polls} polls");
            assert!(!stderr(&output).contains("no events"), "{mode}");
        } else {
            assert!(page_loop_data(&page).is_none(), "{mode}");
            assert!(!page.contains("<script"), "{mode}: nothing to draw");
            assert!(
                page.contains(&format!(
                    "No event loop ran: --mode {mode} blocks OS threads"
                )),
                "{mode}"
            );
            // A valid trace with nothing in it but the loop's empty track.
            assert_eq!(tracks, ["loop"], "{mode}");
            assert_eq!(polls, 0, "{mode}");
            assert!(
                trace_events(&trace).iter().all(|e| e["ph"] == "M"),
                "{mode}"
            );
            let err = stderr(&output);
            assert!(
                err.contains(&format!(
                    "note: {}: no event loop ran (--mode {mode}), so this Chrome trace has no events",
                    trace.display()
                )),
                "{mode}: {err}"
            );
        }
    }
    // Twelve files and no temporary one.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 12);
    let help = stdout(&looplab(&["lookup", "--help"]));
    for flag in ["--html <FILE>", "--chrome-trace <FILE>", "ui.perfetto.dev"] {
        assert!(help.contains(flag), "{flag} in:\n{help}");
    }
    assert!(
        help.contains("threads no loop runs: the file is a valid trace with no events"),
        "{help}"
    );
}

#[test]
fn under_virtual_time_each_picture_is_the_same_bytes_and_stdout_is_as_without_them() {
    let dir = scratch("pictures-virtual");
    let run = |name: &str, extra: &[&str]| {
        let files: Vec<std::path::PathBuf> = ["svg", "html", "json"]
            .iter()
            .map(|ext| dir.join(format!("{name}.{ext}")))
            .collect();
        let mut args = vec![
            "lookup".to_owned(),
            "--virtual-time".to_owned(),
            "--svg".to_owned(),
            files[0].display().to_string(),
            "--html".to_owned(),
            files[1].display().to_string(),
            "--chrome-trace".to_owned(),
            files[2].display().to_string(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = looplab(&args);
        assert!(output.status.success(), "{}", stderr(&output));
        let bytes: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
        (output, bytes)
    };
    for (name, extra) in [
        ("plain", &[][..]),
        ("json", &["--json"][..]),
        ("trace", &["--trace"][..]),
        ("json-trace", &["--json", "--trace"][..]),
    ] {
        let (first, first_files) = run(&format!("{name}-a"), extra);
        let (second, second_files) = run(&format!("{name}-b"), extra);
        for (ext, (a, b)) in ["svg", "html", "json"]
            .iter()
            .zip(first_files.iter().zip(&second_files))
        {
            assert!(a == b, "{name}: the {ext} differs between two runs");
        }
        assert_eq!(
            without_wall_times(&stdout(&first)),
            without_wall_times(&stdout(&second)),
            "{name}"
        );
        // The same flags without the pictures print the same stdout and stderr.
        let mut without = vec!["lookup", "--virtual-time"];
        without.extend(extra);
        let plain = looplab(&without);
        assert_eq!(
            without_wall_times(&stdout(&first)),
            without_wall_times(&stdout(&plain)),
            "{name}: stdout"
        );
        assert_eq!(
            without_wall_times(&stderr(&first)),
            without_wall_times(&stderr(&plain)),
            "{name}: stderr"
        );
        if extra.contains(&"--json") {
            serde_json::from_str::<Value>(stdout(&first).trim()).expect("one JSON document");
        }
    }
    // The page holds the table and the timeline, and the loop with the directory's tasks.
    let page = std::fs::read_to_string(dir.join("plain-a.html")).unwrap();
    assert_eq!(page_table_modes(&page), ["event-loop"]);
    assert_eq!(page_timeline_modes(&page), ["event-loop"]);
    assert!(
        page.contains("<td class=\"total\">3.000 s</td>"),
        "exact times"
    );
    let data = page_loop_data(&page).unwrap();
    assert_eq!(
        data["tasks"], 8,
        "main, the directory, 3 connections, 3 requests"
    );
    assert!(!page.contains("The directory ran outside that loop"));
}

#[test]
fn step_and_the_page_share_one_recording() {
    let dir = scratch("pictures-step");
    let page = dir.join("step.html");
    let step = |extra: &[&str]| {
        let mut args = vec!["lookup", "--virtual-time", "--step", "--requests", "2,1"];
        args.extend(extra);
        // stdin is empty: the stepper shows every turn without waiting.
        looplab(&args)
    };
    let with_page = step(&["--html", page.to_str().unwrap()]);
    assert!(with_page.status.success(), "{}", stderr(&with_page));
    let alone = step(&[]);
    assert_eq!(
        without_wall_times(&stdout(&with_page)),
        without_wall_times(&stdout(&alone)),
        "--step prints as before"
    );
    let shown = stdout(&with_page).matches("\n--- turn ").count()
        + usize::from(stdout(&with_page).starts_with("--- turn "));
    let data = page_loop_data(&std::fs::read_to_string(&page).unwrap()).unwrap();
    // Every turn --step showed, and the last one (main returns), which it shows apart.
    assert!(shown >= 3, "{}", stdout(&with_page));
    assert_eq!(data["turns"].as_array().unwrap().len(), shown + 1);
    assert_eq!(data["completed_turns"], shown);
}

#[test]
fn a_page_or_trace_that_cannot_be_written_is_exit_1_naming_the_path_and_leaves_no_file() {
    let dir = scratch("pictures-unwritable");
    let taken = dir.join("taken");
    std::fs::create_dir(&taken).unwrap();
    for (flag, mode) in [
        ("--html", "event-loop"),
        ("--chrome-trace", "event-loop"),
        ("--html", "sequential"),
        ("--chrome-trace", "threads"),
    ] {
        for path in [dir.join("no-such-dir").join("x"), taken.clone()] {
            let path_text = path.to_str().unwrap();
            let output = looplab(&[
                "lookup",
                "--mode",
                mode,
                "--requests",
                "1",
                "--delay",
                "1ms",
                flag,
                path_text,
            ]);
            assert_eq!(output.status.code(), Some(1), "{flag} {mode}");
            let err = stderr(&output);
            let error = err
                .lines()
                .find(|line| line.starts_with("error: "))
                .unwrap_or_else(|| panic!("{flag} {mode}: no error line in {err}"));
            assert!(
                error.starts_with(&format!("error: could not write {path_text}: ")),
                "{flag} {mode}: {err}"
            );
        }
    }
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["taken"], "nothing but the directory that was there");
    assert_eq!(std::fs::read_dir(&taken).unwrap().count(), 0);
}

#[test]
fn json_progress_goes_to_stderr_when_it_is_a_terminal() {
    // `script` runs the command on a pseudo-terminal: stderr is a terminal there, and
    // stdout is sent to a file.
    if Command::new("script").arg("--version").output().is_err() {
        println!("skipped: no `script` command (util-linux) to give stderr a terminal");
        return;
    }
    let dir = scratch("progress");
    let out = dir.join("out.json");
    let command = format!(
        "'{}' lookup --virtual-time --json > '{}'",
        env!("CARGO_BIN_EXE_looplab"),
        out.display()
    );
    let output = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let terminal = stdout(&output);
    assert!(
        terminal.contains("event-loop: done in 3.000 s (1 of 1)"),
        "{terminal:?}"
    );
    let json = std::fs::read_to_string(out).unwrap();
    let value: Value = serde_json::from_str(json.trim()).expect("stdout is one JSON document");
    assert_eq!(value["runs"][0]["total_s"], 3.0);
}

/// Starts `looplab directory` with `args` and returns it with the address it printed.
fn start_directory(args: &[&str]) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_looplab"))
        .arg("directory")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("first line was {first:?}"))
        .to_string();
    (child, addr)
}

#[test]
fn a_directory_given_by_name_is_asked_its_delay_and_the_header_says_what_it_said() {
    let (mut server, addr) =
        start_directory(&["--addr", "localhost:0", "--delay", "50ms", "--quiet"]);
    let port = addr.rsplit_once(':').unwrap().1;
    let place = format!("localhost:{port}");
    let output = looplab(&[
        "lookup",
        "--mode",
        "event-loop",
        "--requests",
        "2,1",
        "--directory",
        &place,
    ]);
    let json = looplab(&[
        "lookup",
        "--mode",
        "sequential",
        "--requests",
        "1",
        "--directory",
        &place,
        "--json",
    ]);
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains(&format!(
            "the directory at {place} says it takes 50ms per user"
        )),
        "{text}"
    );
    assert!(!text.contains("takes 1s per user"), "{text}");
    let value: Value = serde_json::from_str(stdout(&json).trim()).unwrap();
    assert_eq!(value["runs"][0]["delay_s"], 0.05);
}

#[test]
fn a_port_in_use_is_an_error_that_names_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = looplab(&["directory", "--addr", &addr]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.starts_with(&format!("error: could not listen on {addr}: ")),
        "{err}"
    );
    assert!(err.to_lowercase().contains("in use"), "{err}");
}

/// `looplab ... | head -1`: the reader goes away early. The command ends quietly,
/// without a panic.
#[test]
fn a_reader_that_goes_away_ends_the_command_quietly() {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_looplab"))
        .args(["lookup", "--virtual-time", "--requests", "2000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("== event-loop"), "{first}");
    // The pipe's reading end is closed here.
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
}

#[test]
fn one_path_for_two_exports_is_refused_before_the_run() {
    let dir = std::env::temp_dir().join(format!("looplab-two-exports-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("both");
    let path = path.to_str().unwrap();
    let output = looplab(&["lookup", "--virtual-time", "--svg", path, "--html", path]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("are one file"),
        "{}",
        stderr(&output)
    );
    assert!(!std::path::Path::new(path).exists());
    std::fs::remove_dir_all(&dir).ok();
}
