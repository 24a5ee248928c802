//! `looplab lookup` (and `looplab` alone): run the scenario in each mode asked for,
//! then show what it measured: the narrative as it happens, a table, a timeline that
//! fits the terminal, JSON, and the files asked for (`--svg`, `--html`,
//! `--chrome-trace`, `--record`).
//!
//! The page, the Chrome trace and `--record` draw the event loop's own events, so when
//! any is asked for the event-loop run is captured (its events and its state after
//! every turn) into the one capture `--step` reads too, and every file is drawn from
//! the run's recording exactly as `looplab render` draws it (`render.rs`). The
//! sequential and threads clients run no loop: their recording holds only their
//! requests, their page is the table and the timeline and a note that says so, and
//! their Chrome trace is a valid trace with no events (a line on stderr says so,
//! beside the file's name).
//!
//! Nothing asked for is lost in silence: each file is checked before the run (so a
//! long run is not wasted on a folder that is not there), each is tried after it even
//! when another failed, and a failed write to stdout ends the command with exit
//! status 1 ([`write_out`]).

use std::io::{self, IsTerminal};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use looplab::export::{check_writable, chrome_trace, write_each};
use looplab::lookup::blocking::{describe_directory, run_sequential, run_threads};
use looplab::lookup::directory::{DirectoryConfig, DirectoryThread};
use looplab::lookup::event_loop::{EventLoopOptions, Narrator, run_event_loop};
use looplab::lookup::loop_report::{LoopReport, to_json_with_loop};
use looplab::lookup::report::{Mode, RunReport, render_table};
use looplab::lookup::timeline::Layout;
use looplab::recording::{Capture, Clock, Recording};
use looplab::{Recorder, TraceOutput};

use crate::args::{Export, LookupArgs};
use crate::{render, step};

/// `println!` for the command's output, except that a failed write is not a panic:
/// see [`write_out`].
macro_rules! say {
    () => {
        $crate::lookup::write_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::lookup::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!`, the same way.
macro_rules! say_raw {
    ($($arg:tt)*) => {
        $crate::lookup::write_out(format_args!($($arg)*))
    };
}

/// Writes to stdout. A reader who went away (`looplab | head`, a closed pipe) ends the
/// program quietly with success: it has what it wanted. Any other failure (a full
/// disk, `> /dev/full`) ends it with an error that names standard output and the
/// OS's reason, and exit status 1: output that was asked for and lost is a failed run.
pub fn write_out(text: std::fmt::Arguments) {
    use std::io::Write as _;
    if let Err(e) = io::stdout().lock().write_fmt(text) {
        stdout_failed(e);
    }
}

/// Sends what stdout still buffers (a last line without its newline), with
/// [`write_out`]'s rules for a failure.
pub fn flush_out() {
    use std::io::Write as _;
    if let Err(e) = io::stdout().lock().flush() {
        stdout_failed(e);
    }
}

fn stdout_failed(error: io::Error) -> ! {
    if error.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: could not write to standard output: {error}");
    std::process::exit(1);
}

/// The longest a `GET /` to a directory given by `--directory` may take when no
/// `--timeout` is given: the description is a nicety, not worth a hang.
const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the requests go, and what is known of its delay per user.
struct Target {
    /// The address to use; `None` when the event loop starts its own directory
    /// (virtual time).
    addr: Option<SocketAddr>,
    /// What the headings say about the directory.
    about: String,
    /// The delay per user, when known: ours, or what the directory said.
    delay: Option<Duration>,
    /// Our own directory, stopped when this is dropped.
    _own: Option<DirectoryThread>,
}

pub fn run(args: LookupArgs) -> io::Result<()> {
    // Before anything runs: a long run is not to be wasted on a file it cannot write.
    for (_, path) in args.exports.flags() {
        check_writable(path)?;
    }
    let requests = args.requests.0.clone();
    let show = !args.json;
    let target = target(&args)?;
    let modes = args.mode.list();
    // One capture for everything that reads the loop's events: `--step`, `--json`'s
    // "loop", the recording, and the page and the Chrome trace drawn from it. `--json`
    // alone reads tasks and parks, not the state after each turn.
    let capture = if args.step || args.exports.need_the_loops_records() {
        Some(Capture::new())
    } else {
        args.json.then(Capture::records_only)
    };
    let mut runs: Vec<RunReport> = Vec::new();
    for (done, &mode) in modes.iter().enumerate() {
        if show {
            say!(
                "{}",
                heading(mode, &requests, &target.about, args.virtual_time)
            );
        }
        let started = std::time::Instant::now();
        let mut narrate = |line: String| {
            if show {
                say!("{:>8.3}s  {line}", started.elapsed().as_secs_f64());
            }
        };
        let blocking_addr = || {
            target
                .addr
                .expect("a real-time run has a directory address")
        };
        let mut run = match mode {
            Mode::Sequential => run_sequential(
                blocking_addr(),
                &requests,
                args.timeout,
                args.lang,
                &mut narrate,
            )?,
            Mode::Threads => run_threads(
                blocking_addr(),
                &requests,
                args.timeout,
                args.lang,
                &mut narrate,
            )?,
            Mode::EventLoop => run_event_loop_mode(&args, target.addr, capture.clone())?,
        };
        run.delay = target.delay;
        if show {
            say!();
        } else if io::stderr().is_terminal() {
            // stdout is one JSON document at the end; a person watching gets progress.
            eprintln!(
                "{}: done in {:.3} s ({} of {})",
                mode.as_str(),
                run.total.as_secs_f64(),
                done + 1,
                modes.len()
            );
        }
        runs.push(run);
    }
    if args.json {
        // The loop's summary straight from its records: building the recording and its
        // model first would cost more than the run itself at 20,000 connections.
        let event_loop = capture
            .as_ref()
            .map(|capture| capture.recorder().with_records(LoopReport::from_records))
            .filter(|report| !report.turns.is_empty());
        say!("{}", to_json_with_loop(&runs, event_loop.as_ref()));
    } else {
        let width = terminal_width();
        say!("{}", render_table(&runs, width));
        say_raw!("{}", Layout::new(&runs, width).to_text());
    }
    let exports = args.exports.requested();
    if exports.is_empty() {
        return Ok(());
    }
    // The run as a recording: the event loop's lines (none when no loop ran), then
    // every mode's requests. Every file is drawn from it, as `looplab render` draws it.
    let clock = if args.virtual_time {
        Clock::Virtual
    } else {
        Clock::Real
    };
    let title = page_title(&args, &modes);
    let mut recording = match &capture {
        Some(capture) => capture.recording(clock, &title),
        None => Recording {
            header: looplab::recording::looplab_header(clock, &title),
            lines: Vec::new(),
        },
    };
    let no_loop = recording.lines.is_empty();
    let at_ns = recording.lines.last().map_or(0, |line| line.at_ns);
    recording
        .lines
        .extend(render::lookup_run_lines(&runs, at_ns));
    let aspect = args.exports.svg_aspect;
    // Every file is tried, even after one fails, and the error lists those written.
    write_each(exports.into_iter().map(|(path, export)| {
        let text = match export {
            Export::Svg => render::svg(&recording, &runs, aspect),
            Export::Html => render::page(&recording, &runs, aspect),
            Export::Record => {
                String::from_utf8(recording.to_bytes()).expect("serde_json writes UTF-8")
            }
            Export::ChromeTrace => {
                if no_loop {
                    eprintln!(
                        "note: {}: no event loop ran (--mode {}), so this Chrome trace has \
                         no events; --mode event-loop or all has one",
                        path.display(),
                        modes_named(&modes)
                    );
                }
                chrome_trace(&recording)
            }
        };
        (path.as_path(), text)
    }))
}

/// `looplab lookup: 3, 2 and 1 users, 1s per user; sequential, threads, event-loop`:
/// only what the arguments say, so a virtual-time page is the same bytes every run.
fn page_title(args: &LookupArgs, modes: &[Mode]) -> String {
    let requests = &args.requests.0;
    let users = if requests.len() <= 10 {
        let list: Vec<String> = requests.iter().map(u32::to_string).collect();
        match list.split_last() {
            Some((last, rest)) if !rest.is_empty() => {
                format!("{} and {last} users", rest.join(", "))
            }
            _ if requests == &[1] => "1 user".to_owned(),
            _ => format!("{} users", list.join("")),
        }
    } else {
        let users: u64 = requests.iter().map(|&n| u64::from(n)).sum();
        format!("{} requests, {users} users in all", requests.len())
    };
    let delay = match &args.directory {
        Some(place) => format!("the directory at {place}"),
        None => format!("{:?} per user", args.delay),
    };
    let time = if args.virtual_time {
        " (virtual time)"
    } else {
        ""
    };
    format!(
        "looplab lookup: {users}, {delay}; {}{time}",
        modes_named(modes)
    )
}

/// `sequential, threads, event-loop`.
fn modes_named(modes: &[Mode]) -> String {
    let names: Vec<&str> = modes.iter().map(|mode| mode.as_str()).collect();
    names.join(", ")
}

/// How wide the timeline and table may be: the terminal's width, or 80 columns when
/// stdout is not a terminal (a file, a pipe, a test).
fn terminal_width() -> usize {
    let stdout = io::stdout();
    if !stdout.is_terminal() {
        return 80;
    }
    terminal_size::terminal_size_of(&stdout)
        .map_or(80, |(terminal_size::Width(w), _)| usize::from(w))
}

/// Starts our own directory for a real-time run, or finds the one given by
/// `--directory` and asks it about itself.
fn target(args: &LookupArgs) -> io::Result<Target> {
    if let Some(place) = &args.directory {
        let addrs = place.resolve()?;
        let limit = Some(
            args.timeout
                .unwrap_or(DESCRIBE_TIMEOUT)
                .min(DESCRIBE_TIMEOUT),
        );
        // The first address that answers is the one used; when none does, the first
        // is, and the clients report why it failed.
        let mut first_reachable = None;
        for &addr in &addrs {
            match describe_directory(addr, limit) {
                Ok(info) => {
                    let delay = info.delay();
                    return Ok(Target {
                        addr: Some(addr),
                        about: format!("the directory at {place} says it takes {delay:?} per user"),
                        delay: Some(delay),
                        _own: None,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                Err(_) => {
                    first_reachable.get_or_insert(addr);
                }
            }
        }
        return Ok(Target {
            addr: Some(first_reachable.unwrap_or(addrs[0])),
            about: format!(
                "the directory at {place} did not say how long it takes per user (see the latencies)"
            ),
            delay: None,
            _own: None,
        });
    }
    let about = format!("the directory takes {:?} per user", args.delay);
    if args.virtual_time {
        // The event loop starts its own directory inside its runtime.
        return Ok(Target {
            addr: None,
            about,
            delay: Some(args.delay),
            _own: None,
        });
    }
    let own = DirectoryThread::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        DirectoryConfig::with_delay(args.delay),
    )
    .map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("could not start the directory on 127.0.0.1: {e}"),
        )
    })?;
    Ok(Target {
        addr: Some(own.addr()),
        about,
        delay: Some(args.delay),
        _own: Some(own),
    })
}

/// The event-loop run. `capture`, when given, captures its events and its state after
/// every turn: for `--step`, which prints them a turn at a time, and for the recording
/// and the exports drawn from it.
fn run_event_loop_mode(
    args: &LookupArgs,
    directory: Option<SocketAddr>,
    capture: Option<Capture>,
) -> io::Result<RunReport> {
    let show = !args.json;
    let narrate: Narrator = Arc::new(move |at: Duration, line: String| {
        if show {
            say!("{:>8.3}s  {line}", at.as_secs_f64());
        }
    });
    // With the trace on (or `--step`, which shows it turn by turn), the narrative lines
    // are in it already, as notes: print them once.
    let narrate = if args.trace || args.step {
        Arc::new(|_, _| {}) as Narrator
    } else {
        narrate
    };
    // `--step` prints the trace itself, a turn at a time, from the recorder.
    let recorder: Option<Recorder> = capture.as_ref().map(Capture::recorder);
    let step_recorder = recorder.clone().filter(|_| args.step);
    let options = EventLoopOptions {
        requests: args.requests.0.clone(),
        delay: args.delay,
        virtual_time: args.virtual_time,
        call_timeout: args.timeout,
        lang: args.lang,
        trace: match (args.trace && !args.step, args.json) {
            (false, _) => TraceOutput::Off,
            (true, false) => TraceOutput::Stdout,
            (true, true) => TraceOutput::Stderr,
        },
        recorder,
    };
    let (run, stats) = run_event_loop(directory, &options, narrate, |builder| {
        let builder = match capture {
            Some(capture) => builder.capture(capture),
            None => builder,
        };
        match step_recorder.clone() {
            Some(recorder) => builder.on_turn(step::stepper(recorder)),
            None => builder,
        }
    })?;
    if let Some(recorder) = &step_recorder {
        say_raw!("{}", step::last_turn(recorder));
    }
    if args.trace || args.step {
        if args.json {
            eprintln!("{stats}");
        } else {
            say!("{stats}");
        }
    }
    Ok(run)
}

/// `== event-loop: ...` and what arrives: the requests (summed up past ten) and what
/// is known of the directory.
fn heading(mode: Mode, requests: &[u32], about: &str, virtual_time: bool) -> String {
    let what = match mode {
        Mode::Sequential => "sequential: blocking std::net, one request after another",
        Mode::Threads => "threads: blocking std::net, one OS thread per request",
        Mode::EventLoop if virtual_time => {
            "event-loop: one looplab task per request, one thread, virtual time"
        }
        Mode::EventLoop => "event-loop: one looplab task per request, one thread",
    };
    let arriving = if let [users] = requests {
        let plural = if *users == 1 { "" } else { "s" };
        format!("one request for {users} user{plural}")
    } else if requests.len() <= 10 {
        let list: Vec<String> = requests.iter().map(u32::to_string).collect();
        format!("requests for {} users arrive together", list.join(", "))
    } else {
        let users: u64 = requests.iter().map(|&n| u64::from(n)).sum();
        format!(
            "{} requests for {users} users in all arrive together",
            requests.len()
        )
    };
    // Two lines when one would pass the 80 columns of a terminal.
    if arriving.len() + about.len() + 5 > 80 {
        format!("== {what}\n   {arriving};\n   {about}")
    } else {
        format!("== {what}\n   {arriving}; {about}")
    }
}
