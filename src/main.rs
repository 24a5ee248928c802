//! The `looplab` command: the post's scenario, the user directory, and the chapter list.
//!
//! - `looplab` (so `cargo run --release`): the post's scenario in all three modes, with
//!   a table and a timeline.
//! - `looplab lookup [--mode ...] [--requests 3,2,1] [--delay 1s] [--virtual-time]
//!   [--trace] [--step] [--json] [--lang ko] [--timeout 5s]`
//! - `looplab directory [--addr 127.0.0.1:7878] [--delay 1s]`
//! - `looplab chapters`
//!
//! Bad arguments print one line and exit with code 2; a failed run (nothing listening,
//! a broken answer, a timeout) prints one line and exits with code 1.

use std::io::{self, BufRead, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use looplab::TraceOutput;
use looplab::executor::TurnView;
use looplab::lookup::blocking::{run_sequential, run_threads};
use looplab::lookup::directory::{Directory, DirectoryConfig, DirectoryThread};
use looplab::lookup::event_loop::{EventLoopOptions, Narrator, run_event_loop};
use looplab::lookup::narrative::Lang;
use looplab::lookup::report::{RunReport, render_table, render_timeline, to_json};

#[derive(Parser)]
#[command(
    name = "looplab",
    about = "How one thread with an event loop does the work of many threads.\n\
             With no command: the post's scenario (3, 2 and 1 users, 1 s per user) in all three modes."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Find users through the directory: sequentially, with threads, or on the event loop.
    Lookup(LookupArgs),
    /// Run the user directory (the post's external API) until interrupted.
    Directory {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:7878")]
        addr: SocketAddr,
        /// Time each user lookup takes (e.g. 1s, 250ms).
        #[arg(long, default_value = "1s", value_parser = parse_duration, allow_hyphen_values = true)]
        delay: Duration,
        /// Largest request line plus headers, in bytes; larger gets 431.
        #[arg(long, default_value_t = looplab::lookup::http::MAX_REQUEST_HEAD)]
        max_request_head: usize,
        /// Close a connection that sends no (complete) request for this long; 408 if one had started.
        #[arg(long, default_value = "10s", value_parser = parse_duration, allow_hyphen_values = true)]
        idle_timeout: Duration,
        /// Most connections served at once; more get 503 and are closed.
        #[arg(long, default_value_t = 16_384)]
        max_connections: usize,
    },
    /// List the chapters and the command that runs each one's example.
    Chapters,
}

#[derive(clap::Args, Clone)]
struct LookupArgs {
    /// Which client(s) to run.
    #[arg(long, value_enum, default_value_t = ModeArg::All)]
    mode: ModeArg,
    /// Users per request, comma-separated; the requests arrive together.
    #[arg(long, default_value = "3,2,1", value_parser = parse_requests)]
    requests: Requests,
    /// Time the directory takes per user (e.g. 1s, 100ms).
    #[arg(long, default_value = "1s", value_parser = parse_duration, allow_hyphen_values = true)]
    delay: Duration,
    /// Run the event-loop mode in virtual time, directory included (exact, instant).
    #[arg(long)]
    virtual_time: bool,
    /// Print the event loop's trace, then its counters.
    #[arg(long)]
    trace: bool,
    /// Pause after each turn of the loop and show its state; Enter goes on.
    #[arg(long)]
    step: bool,
    /// Print exactly one JSON document on stdout instead of the narrative and table.
    #[arg(long)]
    json: bool,
    /// Language of the narrative lines: en, or ko for the post's own wording.
    #[arg(long, default_value = "en")]
    lang: Lang,
    /// Use the directory already running at this address instead of starting one.
    #[arg(long)]
    directory: Option<SocketAddr>,
    /// Give up on a lookup call that takes longer than this (e.g. 5s).
    #[arg(long, value_parser = parse_duration, allow_hyphen_values = true)]
    timeout: Option<Duration>,
}

impl Default for LookupArgs {
    fn default() -> LookupArgs {
        LookupArgs {
            mode: ModeArg::All,
            requests: Requests(vec![3, 2, 1]),
            delay: Duration::from_secs(1),
            virtual_time: false,
            trace: false,
            step: false,
            json: false,
            lang: Lang::En,
            directory: None,
            timeout: None,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ModeArg {
    All,
    Sequential,
    Threads,
    EventLoop,
}

#[derive(Clone, Debug)]
struct Requests(Vec<u32>);

/// `3,2,1` -> [3, 2, 1]; each request needs at least one user.
fn parse_requests(text: &str) -> Result<Requests, String> {
    let mut users = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let n: u32 = part
            .parse()
            .map_err(|_| format!("{part:?} is not a number of users (expected e.g. 3,2,1)"))?;
        if n == 0 {
            return Err("each request needs at least 1 user".into());
        }
        users.push(n);
    }
    Ok(Requests(users))
}

/// `1s`, `1.5s`, `250ms`, `2m`. Negative or unitless values are refused.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => text.split_at(at),
        None => return Err(format!("{text:?} needs a unit: ms, s or m (e.g. 1s)")),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 1s, 250ms)"))?;
    if value < 0.0 || !value.is_finite() {
        return Err(format!("{text:?}: a duration cannot be negative"));
    }
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (use ms, s or m)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // One line: clap's first line says what was wrong; the usage is in --help.
            let rendered = e.render().to_string();
            let first = rendered.lines().next().unwrap_or("error: bad arguments");
            eprintln!("{first} (see looplab --help)");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        None => lookup(LookupArgs::default()),
        Some(Command::Lookup(args)) => lookup(args),
        Some(Command::Directory {
            addr,
            delay,
            max_request_head,
            idle_timeout,
            max_connections,
        }) => directory(
            addr,
            DirectoryConfig {
                delay,
                max_request_head,
                idle_timeout,
                max_connections,
            },
        ),
        Some(Command::Chapters) => {
            print!("{}", chapters());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Run(e)) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Why the command failed: bad arguments (exit 2) or a failed run (exit 1).
enum Failure {
    Usage(String),
    Run(io::Error),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Run(e)
    }
}

fn lookup(args: LookupArgs) -> Result<(), Failure> {
    let event_loop_only = args.mode == ModeArg::EventLoop;
    if args.virtual_time && !event_loop_only {
        return Err(Failure::Usage(
            "--virtual-time needs --mode event-loop: the sequential and threads clients block \
             real OS threads, and a virtual clock cannot skip a blocked thread's wait"
                .into(),
        ));
    }
    if args.step && !event_loop_only {
        return Err(Failure::Usage(
            "--step needs --mode event-loop: only the event loop has turns to step through".into(),
        ));
    }
    if args.virtual_time && args.directory.is_some() {
        return Err(Failure::Usage(
            "--virtual-time and --directory do not go together: under virtual time the \
             directory runs inside the client's own runtime"
                .into(),
        ));
    }
    if args.step && args.json {
        return Err(Failure::Usage(
            "--step and --json do not go together".into(),
        ));
    }
    let requests = args.requests.0.clone();
    let show = !args.json;
    // A directory on its own runtime and thread, for every real-time client. Under
    // virtual time the event-loop run starts its own, inside its runtime.
    let directory = if args.virtual_time || args.directory.is_some() {
        None
    } else {
        Some(DirectoryThread::start(
            "127.0.0.1:0".parse().expect("a valid address"),
            DirectoryConfig::with_delay(args.delay),
        )?)
    };
    let modes: &[ModeArg] = match args.mode {
        ModeArg::All => &[ModeArg::Sequential, ModeArg::Threads, ModeArg::EventLoop],
        ref one => std::slice::from_ref(one),
    };
    let mut runs: Vec<RunReport> = Vec::new();
    for mode in modes {
        if show {
            println!(
                "{}",
                heading(*mode, &requests, args.delay, args.virtual_time)
            );
        }
        let started = std::time::Instant::now();
        let mut narrate = |line: String| {
            if show {
                println!("{:>8.3}s  {line}", started.elapsed().as_secs_f64());
            }
        };
        let addr = args
            .directory
            .or_else(|| directory.as_ref().map(DirectoryThread::addr));
        let run = match mode {
            ModeArg::Sequential => run_sequential(
                addr.unwrap(),
                &requests,
                args.timeout,
                args.lang,
                &mut narrate,
            )?,
            ModeArg::Threads => run_threads(
                addr.unwrap(),
                &requests,
                args.timeout,
                args.lang,
                &mut narrate,
            )?,
            ModeArg::EventLoop => run_event_loop_mode(&args, addr)?,
            ModeArg::All => unreachable!("expanded above"),
        };
        if show {
            println!();
        }
        runs.push(run);
    }
    if args.json {
        println!("{}", to_json(&runs));
    } else {
        println!("{}", render_table(&runs));
        println!("{}", render_timeline(&runs, 80));
    }
    Ok(())
}

fn run_event_loop_mode(args: &LookupArgs, directory: Option<SocketAddr>) -> io::Result<RunReport> {
    let show = !args.json;
    let narrate: Narrator = Arc::new(move |at: Duration, line: String| {
        if show {
            println!("{:>8.3}s  {line}", at.as_secs_f64());
        }
    });
    // With the trace on, the narrative lines are in it already (as notes).
    let narrate = if args.trace {
        Arc::new(|_, _| {}) as Narrator
    } else {
        narrate
    };
    let options = EventLoopOptions {
        requests: args.requests.0.clone(),
        delay: args.delay,
        virtual_time: args.virtual_time,
        call_timeout: args.timeout,
        lang: args.lang,
        trace: match (args.trace || args.step, args.json) {
            (false, _) => TraceOutput::Off,
            (true, false) => TraceOutput::Stdout,
            (true, true) => TraceOutput::Stderr,
        },
        recorder: None,
    };
    let step = args.step;
    let (run, stats) = run_event_loop(directory, &options, narrate, |builder| {
        if step {
            builder.on_turn(stepper())
        } else {
            builder
        }
    })?;
    if args.trace || args.step {
        if args.json {
            eprintln!("{stats}");
        } else {
            println!("{stats}");
        }
    }
    Ok(run)
}

/// The `--step` hook: show the loop's state after a turn and wait for Enter. At the end
/// of input it stops asking and lets the run finish.
fn stepper() -> impl FnMut(&TurnView) {
    let mut interactive = true;
    move |view: &TurnView| {
        if !interactive {
            return;
        }
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{}", describe_turn(view));
        let _ = write!(out, "[Enter: next turn] ");
        let _ = out.flush();
        drop(out);
        let mut line = String::new();
        match io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => {
                interactive = false;
                println!("(end of input: running to the end)");
            }
            Ok(_) => {}
        }
    }
}

fn describe_turn(view: &TurnView) -> String {
    let mut text = format!(
        "--- after turn {} at {:.3}s ---\n",
        view.turn,
        view.now.as_secs_f64()
    );
    let queue: Vec<String> = view.run_queue.iter().map(|t| t.to_string()).collect();
    text += &format!(
        "run queue:  {}\n",
        if queue.is_empty() {
            "(empty)".to_string()
        } else {
            queue.join(", ")
        }
    );
    if view.timers.is_empty() {
        text += "timers:     (none)\n";
    }
    for (i, (timer, deadline, level, slot, task)) in view.timers.iter().enumerate() {
        let label = if i == 0 { "timers:    " } else { "           " };
        let task = task.map(|t| format!(", wakes {t}")).unwrap_or_default();
        text += &format!(
            "{label} level {level} slot {slot:>2}: #{timer} due {:.3}s{task}\n",
            deadline.as_secs_f64()
        );
    }
    if view.io.is_empty() {
        text += "I/O:        (none)";
    }
    for (i, (token, what, reader, writer)) in view.io.iter().enumerate() {
        let label = if i == 0 { "I/O:       " } else { "           " };
        let mut waiting = Vec::new();
        if let Some(t) = reader {
            waiting.push(format!("{t} waits to read"));
        }
        if let Some(t) = writer {
            waiting.push(format!("{t} waits to write"));
        }
        let waiting = if waiting.is_empty() {
            "nobody waiting".into()
        } else {
            waiting.join(", ")
        };
        text += &format!("{label} token {token} {what}: {waiting}");
        if i + 1 < view.io.len() {
            text += "\n";
        }
    }
    text
}

fn heading(mode: ModeArg, requests: &[u32], delay: Duration, virtual_time: bool) -> String {
    let what = match mode {
        ModeArg::Sequential => "sequential: blocking std::net, one request after another",
        ModeArg::Threads => "threads: blocking std::net, one OS thread per request",
        ModeArg::EventLoop if virtual_time => {
            "event-loop: one looplab task per request, one thread, virtual time"
        }
        ModeArg::EventLoop => "event-loop: one looplab task per request, one thread",
        ModeArg::All => "all",
    };
    let list: Vec<String> = requests.iter().map(u32::to_string).collect();
    format!(
        "== {what}\n   requests for {} users arrive together; the directory takes {:?} per user",
        list.join(", "),
        delay
    )
}

fn directory(addr: SocketAddr, config: DirectoryConfig) -> Result<(), Failure> {
    if config.max_connections == 0 || config.max_request_head == 0 {
        return Err(Failure::Usage(
            "--max-connections and --max-request-head must be at least 1".into(),
        ));
    }
    let delay = config.delay;
    looplab::block_on(async move {
        let server = Directory::bind(addr, config)?;
        let addr = server.local_addr()?;
        // One write, and its errors ignored: a server whose stdout was closed after it
        // said where it listens (a script that read the first line) keeps serving.
        let banner = format!(
            "listening on http://{addr}\ntry: curl -i http://{addr}/users/7   (answers after {delay:?})\n"
        );
        let mut stdout = io::stdout().lock();
        let _ = stdout
            .write_all(banner.as_bytes())
            .and_then(|()| stdout.flush());
        drop(stdout);
        server.serve().await;
        Ok::<(), io::Error>(())
    })?;
    Ok(())
}

/// The chapter list, with the command that runs each chapter's example.
fn chapters() -> String {
    let chapters: [(u32, &str, &str); 10] = [
        (
            1,
            "sequential: the post's find_users_sync",
            "ch01_sequential",
        ),
        (
            2,
            "threads: one OS thread per request, and its costs",
            "ch02_threads",
        ),
        (
            3,
            "futures by hand: an async fn does nothing until polled",
            "ch03_futures_by_hand",
        ),
        (
            4,
            "wakers: ArcWake and a hand-written RawWakerVTable",
            "ch04_wakers",
        ),
        (
            5,
            "the executor: a run queue and one turn of the loop",
            "ch05_executor",
        ),
        (
            6,
            "time: a hierarchical timer wheel, virtual time",
            "ch06_timers",
        ),
        (7, "I/O: the mio reactor and async TCP", "ch07_reactor"),
        (
            8,
            "the lookup service on the event loop",
            "ch08_lookup_service",
        ),
        (
            9,
            "pitfalls: blocking the loop, forgetting .await",
            "ch09_pitfalls",
        ),
        (10, "from looplab to tokio and asyncio", "ch10_to_tokio"),
    ];
    let mut text = String::from("looplab chapters (read CHAPTERS.md alongside):\n");
    for (n, title, example) in chapters {
        text += &format!("  {n:>2}. {title:<58} cargo run --example {example}\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_refuse_the_rest() {
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("-1s").unwrap_err().contains("negative"));
        assert!(parse_duration("5").unwrap_err().contains("unit"));
        assert!(parse_duration("5h").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn requests_parse_and_refuse_zero_and_words() {
        assert_eq!(parse_requests("3,2,1").unwrap().0, vec![3, 2, 1]);
        assert!(parse_requests("0").unwrap_err().contains("at least 1"));
        assert!(parse_requests("x").unwrap_err().contains("not a number"));
    }
}
