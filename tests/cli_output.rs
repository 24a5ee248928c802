//! The command loses nothing: what happens to its output when stdout fails, to the
//! export files (`--svg`, `--html`, `--chrome-trace`) before, during and after the run,
//! and to runs of many requests. Each test runs the real binary, in a temporary
//! folder of its own.

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_looplab");

/// The message for a failed write to stdout on a full device (`/dev/full`).
const FULL: &str =
    "error: could not write to standard output: No space left on device (os error 28)\n";

/// Runs looplab in `dir` with `args`, stdin empty.
fn looplab_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("the looplab binary runs")
}

/// Runs looplab with stdout on `/dev/full`: every write to it fails with ENOSPC, as
/// on a full disk.
fn looplab_into_a_full_device(args: &[&str]) -> Output {
    let full = File::options().write(true).open("/dev/full").unwrap();
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(full)
        .output()
        .expect("the looplab binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("looplab-cli-output-")
        .tempdir()
        .unwrap()
}

/// The names in `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A quick run: two requests on the virtual clock.
const QUICK: [&str; 6] = [
    "lookup",
    "--virtual-time",
    "--requests",
    "2,1",
    "--delay",
    "5ms",
];

fn quick_with<'a>(more: &[&'a str]) -> Vec<&'a str> {
    QUICK.iter().copied().chain(more.iter().copied()).collect()
}

// ---------------------------------------------------------------------------------
// Standard output
// ---------------------------------------------------------------------------------

#[test]
fn a_full_standard_output_is_exit_1_with_the_os_reason_for_every_kind_of_output() {
    let runs: [Vec<&str>; 7] = [
        // The narrative, the table and the timeline.
        quick_with(&[]),
        quick_with(&["--json"]),
        quick_with(&["--trace"]),
        quick_with(&["--step"]),
        vec!["chapters"],
        vec!["help", "lookup"],
        vec!["--help"],
    ];
    for args in runs {
        let output = looplab_into_a_full_device(&args);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            stderr(&output)
        );
        assert_eq!(stderr(&output), FULL, "{args:?}");
    }
}

#[test]
fn a_full_standard_output_loses_no_export_that_was_asked_for_quietly() {
    // The run fails at its first line, before it writes any file: nothing half done.
    let dir = scratch();
    let svg = dir.path().join("t.svg");
    let output = looplab_into_a_full_device(&quick_with(&["--svg", svg.to_str().unwrap()]));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr(&output), FULL);
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

/// `looplab ... | head -1`: the reader goes away after the first line, and the
/// command ends quietly, with 0.
fn assert_a_reader_that_goes_away_is_no_error(more: &[&[&str]]) {
    for more in more {
        let args = quick_with(more);
        let mut child = Command::new(BIN)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(!first.is_empty(), "{args:?}");
        // The pipe's reading end is closed here.
        let output = child.wait_with_output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            stderr(&output)
        );
        assert_eq!(stderr(&output), "", "{args:?}");
    }
}

#[test]
fn a_reader_that_goes_away_is_still_no_error() {
    assert_a_reader_that_goes_away_is_no_error(&[&[], &["--json"], &["--trace"]]);
}

#[test]
fn a_reader_that_goes_away_from_step_is_still_no_error() {
    assert_a_reader_that_goes_away_is_no_error(&[&["--step"]]);
}

// ---------------------------------------------------------------------------------
// Export files, before the run
// ---------------------------------------------------------------------------------

#[test]
fn one_file_under_two_spellings_is_refused_before_the_run() {
    let dir = scratch();
    let here = dir.path();
    let absolute = here.join("x.out");
    fs::create_dir(here.join("sub")).unwrap();
    let spellings: [(&str, &str); 3] = [
        ("x.out", absolute.to_str().unwrap()),
        ("x.out", "./x.out"),
        ("x.out", "sub/../x.out"),
    ];
    for (first, second) in spellings {
        let output = looplab_in(here, &quick_with(&["--svg", first, "--html", second]));
        assert_eq!(output.status.code(), Some(2), "{first} {second}");
        let err = stderr(&output);
        assert!(
            err.starts_with(&format!(
                "error: --svg {first} and --html {second} are one file"
            )),
            "{err}"
        );
        assert!(err.contains("Usage: looplab lookup"), "{err}");
        assert_eq!(stdout(&output), "", "nothing ran");
        assert_eq!(entries(here), ["sub"]);
    }
    // A symbolic link to it and a second hard link, when the file exists.
    fs::write(&absolute, "kept").unwrap();
    symlink("x.out", here.join("soft.out")).unwrap();
    fs::hard_link(&absolute, here.join("hard.out")).unwrap();
    for other in ["soft.out", "hard.out"] {
        let output = looplab_in(
            here,
            &quick_with(&["--svg", "x.out", "--chrome-trace", other]),
        );
        assert_eq!(
            output.status.code(),
            Some(2),
            "{other}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("are one file"),
            "{}",
            stderr(&output)
        );
        assert_eq!(fs::read_to_string(&absolute).unwrap(), "kept");
    }
    // A link to a file not made yet is that file too.
    symlink("later.out", here.join("to-later.out")).unwrap();
    let output = looplab_in(
        here,
        &quick_with(&["--html", "to-later.out", "--svg", "later.out"]),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    // Two files of one name in two folders are two files.
    let output = looplab_in(
        here,
        &quick_with(&["--svg", "new.out", "--html", "sub/new.out"]),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        fs::read_to_string(here.join("new.out"))
            .unwrap()
            .starts_with("<svg")
    );
    assert!(
        fs::read_to_string(here.join("sub/new.out"))
            .unwrap()
            .starts_with("<!DOCTYPE html>")
    );
}

#[test]
fn a_folder_that_is_not_there_is_refused_before_a_long_run() {
    let dir = scratch();
    // Two requests of one user, one after another: 2 s if it ran.
    let started = Instant::now();
    let output = looplab_in(
        dir.path(),
        &[
            "lookup",
            "--mode",
            "sequential",
            "--requests",
            "1,1",
            "--svg",
            "nodir/x.svg",
        ],
    );
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "error: could not write nodir/x.svg: No such file or directory (os error 2)\n"
    );
    assert_eq!(stdout(&output), "", "no heading: nothing ran");
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn a_folder_that_cannot_be_written_is_refused_before_the_run_and_nothing_is_written() {
    let dir = scratch();
    // A file where the folder should be: no one can write in it, root included (the
    // tests run as root in CI, where a folder's mode bits do not stop a write).
    fs::write(dir.path().join("plain"), "a file").unwrap();
    let output = looplab_in(
        dir.path(),
        &quick_with(&["--svg", "ok.svg", "--html", "plain/page.html"]),
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "error: could not write plain/page.html: Not a directory (os error 20)\n"
    );
    assert_eq!(stdout(&output), "");
    assert_eq!(
        entries(dir.path()),
        ["plain"],
        "ok.svg not written: nothing ran"
    );
}

// ---------------------------------------------------------------------------------
// Export files, written
// ---------------------------------------------------------------------------------

#[test]
fn an_export_whose_name_is_250_characters_is_written() {
    let dir = scratch();
    let name = format!("{}.svg", "n".repeat(246));
    assert_eq!(name.len(), 250);
    let output = looplab_in(dir.path(), &quick_with(&["--svg", &name]));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        fs::read_to_string(dir.path().join(&name))
            .unwrap()
            .starts_with("<svg")
    );
    assert_eq!(entries(dir.path()), [name], "no temporary file left");
}

#[test]
fn a_symbolic_link_is_written_through_and_its_target_keeps_its_mode() {
    let dir = scratch();
    let real = dir.path().join("real.svg");
    fs::write(&real, "old").unwrap();
    fs::set_permissions(&real, fs::Permissions::from_mode(0o600)).unwrap();
    symlink("real.svg", dir.path().join("link.svg")).unwrap();
    let output = looplab_in(dir.path(), &quick_with(&["--svg", "link.svg"]));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(fs::read_to_string(&real).unwrap().starts_with("<svg"));
    let mode = fs::metadata(&real).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600, "{mode:o}");
    let link = fs::symlink_metadata(dir.path().join("link.svg")).unwrap();
    assert!(link.file_type().is_symlink(), "the link stays a link");
    assert_eq!(entries(dir.path()), ["link.svg", "real.svg"]);
}

/// The folder of one export goes away while the run runs (the check before it
/// passed): the other export is still written, and the message names both.
#[test]
fn an_export_that_fails_after_the_run_is_named_beside_those_written() {
    let dir = scratch();
    fs::create_dir(dir.path().join("gone")).unwrap();
    let mut child = Command::new(BIN)
        .args([
            "lookup",
            "--mode",
            "sequential",
            "--requests",
            "1",
            "--delay",
            "1s",
            "--svg",
            "ok.svg",
            "--html",
            "gone/page.html",
            "--chrome-trace",
            "trace.json",
        ])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut heading = String::new();
    out.read_line(&mut heading).unwrap();
    // The heading comes after the checks and a second before the end of the run.
    assert!(heading.starts_with("== sequential"), "{heading}");
    fs::remove_dir(dir.path().join("gone")).unwrap();
    std::io::copy(&mut out, &mut std::io::sink()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    let error = err
        .lines()
        .find(|line| line.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line in {err}"));
    assert_eq!(
        error,
        "error: could not write gone/page.html: No such file or directory (os error 2); \
         written: ok.svg, trace.json"
    );
    assert_eq!(entries(dir.path()), ["ok.svg", "trace.json"]);
}

// ---------------------------------------------------------------------------------
// Messages that say what to do
// ---------------------------------------------------------------------------------

#[test]
fn a_url_given_as_an_address_says_to_give_host_port() {
    let dir = scratch();
    for args in [
        ["directory", "--addr", "http://127.0.0.1:8080"],
        ["lookup", "--directory", "http://127.0.0.1:8080"],
    ] {
        let output = looplab_in(dir.path(), &args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let err = stderr(&output);
        assert!(
            err.contains("give HOST:PORT, not a URL (here: 127.0.0.1:8080)"),
            "{err}"
        );
        assert!(!err.contains("brackets"), "{err}");
    }
}

/// Threads mode under a 300 MB address-space limit (`ulimit -v`): 1,000 threads
/// cannot all start, and the one that could not is named.
///
/// Where the address space runs out decides what fails. With default 2 MiB stacks it
/// may be a running thread's small allocation rather than the next thread's stack,
/// and Rust aborts on a failed allocation (glibc's per-thread malloc arenas each
/// reserve 64 MiB, and std maps a signal stack per thread). So the test makes the
/// stack the first thing to fail: 100 MB stacks (`RUST_MIN_STACK`, which std's threads
/// honour) and one malloc arena leave tens of MB for everything else once a stack
/// does not fit. Without them the message is the same whenever the start is what
/// fails, which is most runs.
#[test]
fn a_thread_that_cannot_start_is_named_with_the_reason() {
    let output = Command::new("sh")
        .args([
            "-c",
            "ulimit -v 300000 && MALLOC_ARENA_MAX=1 RUST_MIN_STACK=100000000 exec \"$0\" \"$@\"",
            BIN,
            "lookup",
            "--mode",
            "threads",
            "--requests",
            "1000x1",
            "--delay",
            "10ms",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    let rest = err
        .strip_prefix("error: the thread for request ")
        .unwrap_or_else(|| panic!("{err}"));
    let (n, rest) = rest.split_once(' ').unwrap();
    let n: usize = n.parse().unwrap();
    assert!((1..=1000).contains(&n), "{err}");
    assert!(
        rest.starts_with("of 1000 (1 user) could not start: "),
        "{err}"
    );
    assert!(err.contains("(os error "), "the OS's reason: {err}");
    assert!(
        err.ends_with(
            "give fewer requests, or --mode event-loop, which needs no thread per request\n"
        ),
        "what to do: {err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_delay_the_virtual_clock_cannot_keep_is_refused_with_the_reason() {
    let dir = scratch();
    for flag in ["--delay", "--timeout"] {
        let output = looplab_in(
            dir.path(),
            &[
                "lookup",
                "--virtual-time",
                "--requests",
                "1",
                flag,
                "1.0005s",
            ],
        );
        assert_eq!(output.status.code(), Some(2), "{flag}");
        let err = stderr(&output);
        assert!(
            err.starts_with(&format!(
                "error: {flag} 1.0005s cannot be kept exactly with --virtual-time"
            )),
            "{err}"
        );
        assert!(err.contains("resolution is 1 ms"), "{err}");
        assert!(err.contains("give 1000ms or 1001ms"), "{err}");
    }
    // A fraction of a second that is whole milliseconds is kept exactly.
    let output = looplab_in(
        dir.path(),
        &[
            "lookup",
            "--virtual-time",
            "--requests",
            "2",
            "--delay",
            "1.5s",
            "--json",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(json["runs"][0]["total_s"], 3.0);
}

// ---------------------------------------------------------------------------------
// Many requests
// ---------------------------------------------------------------------------------

#[test]
fn requests_take_a_count_form_mixed_with_plain_numbers() {
    let dir = scratch();
    let output = looplab_in(
        dir.path(),
        &[
            "lookup",
            "--virtual-time",
            "--requests",
            "3,2,1,100x1",
            "--delay",
            "10ms",
            "--json",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    let users: Vec<u64> = json["runs"][0]["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["users"].as_u64().unwrap())
        .collect();
    assert_eq!(users, [vec![3, 2, 1], vec![1; 100]].concat());
    assert_eq!(json["runs"][0]["total_s"], 0.03);
}

#[test]
fn twenty_thousand_requests_fit_in_one_short_argument_within_the_limits() {
    let dir = scratch();
    // Accepted: the run would be long, so the export's missing folder stops it, and
    // says so, only after the requests were read.
    let output = looplab_in(
        dir.path(),
        &["lookup", "--requests", "20000x1", "--svg", "nodir/x.svg"],
    );
    assert_eq!(
        stderr(&output),
        "error: could not write nodir/x.svg: No such file or directory (os error 2)\n"
    );
    for (requests, limit) in [
        ("100001x1", "too many requests (at most 100,000)"),
        ("99999x1,2x1", "too many requests (at most 100,000)"),
        (
            "1000x1001",
            "1,001,000 users, too many (at most 1,000,000 users in all)",
        ),
        ("0x3", "a count of requests is at least 1"),
    ] {
        let output = looplab_in(dir.path(), &["lookup", "--requests", requests]);
        assert_eq!(output.status.code(), Some(2), "{requests}");
        assert!(
            stderr(&output).contains(limit),
            "{requests}: {}",
            stderr(&output)
        );
    }
    let help = looplab_in(dir.path(), &["lookup", "--help"]);
    assert!(
        stdout(&help).contains("--requests 20000x1"),
        "{}",
        stdout(&help)
    );
}

// ---------------------------------------------------------------------------------
// Exit statuses
// ---------------------------------------------------------------------------------

#[test]
fn the_exit_statuses_are_documented_in_the_help_and_the_readme() {
    let help = stdout(&looplab_in(Path::new("."), &["--help"]));
    let statuses = help
        .split_once("Exit status:")
        .unwrap_or_else(|| panic!("no exit statuses in:\n{help}"))
        .1;
    for (status, meaning) in [
        ("0", "done"),
        ("1", "the run failed"),
        ("2", "bad usage"),
        ("130", "the directory: a second Ctrl-C"),
        ("143", "the directory: a second SIGTERM"),
    ] {
        let line = format!("\n  {status:<5}{meaning}");
        assert!(statuses.contains(&line), "{line:?} in:\n{statuses}");
    }
    let readme = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let table = readme
        .split_once("### Exit statuses")
        .expect("README has a section on exit statuses")
        .1;
    for (status, meaning) in [
        ("0", "done"),
        ("1", "the run failed"),
        ("2", "bad usage"),
        ("130", "a second Ctrl-C"),
        ("143", "a second SIGTERM"),
    ] {
        let row = table
            .lines()
            .find(|line| line.starts_with(&format!("| {status} |")))
            .unwrap_or_else(|| panic!("no row for {status} in README"));
        assert!(row.contains(meaning), "{row}");
    }
}
