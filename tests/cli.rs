//! The `looplab` command as a user runs it: arguments, exit codes, JSON, --step.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use looplab::lookup::report::RunsJson;

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

#[test]
fn virtual_time_json_reports_exactly_3_2_1_seconds_in_well_under_a_second() {
    let started = Instant::now();
    let output = looplab(&["lookup", "--mode", "event-loop", "--virtual-time", "--json"]);
    let wall = started.elapsed();
    assert!(output.status.success(), "{}", stderr(&output));
    let json: RunsJson =
        serde_json::from_str(stdout(&output).trim()).expect("stdout is exactly one JSON document");
    assert_eq!(json.runs.len(), 1);
    let run = &json.runs[0];
    assert_eq!(run.mode, "event-loop");
    assert!(run.virtual_time);
    assert_eq!(run.total_s, 3.0);
    let latencies: Vec<(u32, f64)> = run
        .requests
        .iter()
        .map(|r| (r.users, r.latency_s))
        .collect();
    // Input order, and the latency of each is its own length: shortest finishes first.
    assert_eq!(latencies, vec![(3, 3.0), (2, 2.0), (1, 1.0)]);
    assert!(wall < Duration::from_secs(2), "took {wall:?} of wall time");
}

#[test]
fn the_event_loop_mode_in_real_time_takes_about_3_seconds() {
    let output = looplab(&["lookup", "--mode", "event-loop", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: RunsJson = serde_json::from_str(stdout(&output).trim()).unwrap();
    let run = &json.runs[0];
    assert!(!run.virtual_time);
    assert!((3.0..3.5).contains(&run.total_s), "total {} s", run.total_s);
    for (request, ideal) in run.requests.iter().zip([3.0, 2.0, 1.0]) {
        assert!(request.latency_s >= ideal, "{request:?}");
        assert!(request.latency_s < ideal + 0.4, "{request:?}");
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

fn assert_usage_error(args: &[&str], expected: &str) {
    let output = looplab(args);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{args:?}: {}",
        stderr(&output)
    );
    let err = stderr(&output);
    assert_eq!(err.trim_end().lines().count(), 1, "one line, got:\n{err}");
    assert!(err.contains(expected), "{args:?}: {err}");
    assert!(stdout(&output).is_empty());
}

#[test]
fn bad_arguments_get_one_line_and_exit_code_2() {
    assert_usage_error(&["lookup", "--requests", "0"], "at least 1 user");
    assert_usage_error(&["lookup", "--requests", "x"], "not a number of users");
    assert_usage_error(&["lookup", "--delay", "-1s"], "negative");
    assert_usage_error(&["lookup", "--mode", "fast"], "fast");
    assert_usage_error(&["lookup", "--lang", "fr"], "fr");
    assert_usage_error(&["nonsense"], "nonsense");
}

#[test]
fn virtual_time_with_a_blocking_mode_is_a_clear_error() {
    assert_usage_error(
        &["lookup", "--virtual-time"],
        "--virtual-time needs --mode event-loop",
    );
    assert_usage_error(
        &["lookup", "--mode", "threads", "--virtual-time"],
        "a virtual clock cannot skip a blocked thread's wait",
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
        "--- after turn 1 at 0.000s ---",
        "--- after turn 4",
        "run queue:",
        "timers:",
        "level 1 slot 15: #1 due 1.000s, wakes task 3",
        "I/O:",
        "token 0 listener: task 1 waits to read",
        "(end of input: running to the end)",
        "runtime counters",
        "event-loop (virtual time)",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // Four turns were shown (three Enters, then the fourth prompt met the end of input).
    assert_eq!(text.matches("[Enter: next turn]").count(), 4, "{text}");
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
    assert!(text.contains("virtual clock jumps"));
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
fn directory_prints_its_address_first_and_serves_users() {
    use std::io::{BufRead, BufReader, Read};
    let mut child = Command::new(env!("CARGO_BIN_EXE_looplab"))
        .args(["directory", "--addr", "127.0.0.1:0", "--delay", "50ms"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
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
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"id\":7"), "{answer}");
}
