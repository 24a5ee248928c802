//! The command line as clap sees it: commands, flags, the rules between flags, the
//! limits, and the parsers for values clap does not know (durations, request lists,
//! `host:port`).
//!
//! Every rule between flags is declared here, where clap checks it and `--help`
//! shows it: `conflicts_with` for pairs that cannot go together, `default_value_ifs`
//! for `--virtual-time` and `--step` choosing the event-loop mode. The one rule clap
//! cannot declare (a flag that needs one *value* of `--mode`) is checked by
//! [`check_mode_rules`], which answers with a clap error all the same.

use std::io;
use std::iter;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use looplab::export::{FileId, file_id};
use looplab::lookup::narrative::Lang;
use looplab::lookup::report::{Mode, thousands};

/// The most requests one run takes.
pub const MAX_REQUESTS: usize = 100_000;

/// The most users of all requests together. Each lookup is kept as a span (32 bytes)
/// and narrated as a line, so this bounds the run's memory and output.
pub const MAX_USERS: u64 = 1_000_000;

/// The longest duration any flag takes. Longer waits are surely a typo, and it keeps
/// every deadline far from the clock's limits, virtual ones included.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);

#[derive(Parser, Debug)]
#[command(
    name = "looplab",
    version,
    disable_help_subcommand = true,
    about = "How one thread with an event loop does the work of many threads.\n\
             With no command: the post's scenario (3, 2 and 1 users, 1 s per user) in all three modes.",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The end of `looplab --help`: where the scenario's flags are, and the exit statuses.
const AFTER_HELP: &str = "\
The scenario's flags (--mode, --requests, --delay, --json, --svg, ...) belong to
`looplab lookup`: see `looplab lookup --help`.

Exit status:
  0    done. The directory: stopped by Ctrl-C or SIGTERM after every answer in flight
       was sent.
  1    the run failed, with one `error:` line on stderr: nothing listening, a broken
       answer, a timeout, a thread that could not start, an export file or standard
       output that could not be written. The directory: its --grace ran out and
       answers in flight were cut short (or it could not start). Render: the
       recording could not be read (the message names its line), --svg of a
       recording without requests, or a file could not be written.
  2    bad usage: the arguments were refused (the message says why) and nothing ran.
  130  the directory: a second Ctrl-C stopped it at once, answers cut short.
  143  the directory: a second SIGTERM stopped it at once, answers cut short.";

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Find users through the directory: sequentially, with threads, or on the event loop.
    Lookup(LookupArgs),
    /// Run the user directory (the post's external API) until Ctrl-C or SIGTERM.
    Directory(DirectoryArgs),
    /// Draw a recording (looplab's or asyncio's) as a page, a Chrome trace, an SVG, or
    /// turn by turn in the terminal.
    Render(RenderArgs),
    /// List the chapters and the command that runs each one's example.
    Chapters,
    /// Print this help, or the help of a command (`looplab help lookup`).
    Help {
        /// The command to explain.
        #[arg(value_parser = PossibleValuesParser::new(COMMANDS))]
        command: Option<String>,
    },
}

/// The commands `looplab help COMMAND` knows (a test checks they are all of them).
pub const COMMANDS: [&str; 4] = ["lookup", "directory", "render", "chapters"];

const LOOKUP_RULES: &str = "\
Rules between flags:
  --virtual-time and --step work on the event loop only; without --mode they select
    --mode event-loop, and with another --mode they are an error.
  --step cannot go with --json: it prints each turn to stdout and waits for Enter.
  --directory cannot go with --virtual-time (a virtual clock cannot run a server in
    another process) nor with --delay (that directory's delay is its own; looplab asks
    it and prints what it says).

Limits: at most 100,000 requests and 1,000,000 users in all; durations at most 1h.
    Many requests fit in one argument with COUNTxUSERS: --requests 20000x1 is 20,000
    one-user requests, and --requests 3,2,1,100x1 is 103 requests.
    With --virtual-time, --delay and --timeout are whole milliseconds (the timer
    wheel's resolution).

Exit status: 0 done, 1 the run failed (one `error:` line says why), 2 bad usage
    (nothing ran).";

#[derive(clap::Args, Clone, Debug)]
#[command(after_help = LOOKUP_RULES)]
pub struct LookupArgs {
    /// Which client(s) to run.
    #[arg(
        long,
        value_name = "MODE",
        value_parser = modes_parser(),
        default_value = "all",
        default_value_ifs = [("virtual_time", "true", "event-loop"), ("step", "true", "event-loop")],
    )]
    pub mode: Modes,
    /// Users per request, comma-separated; the requests arrive together. COUNTxUSERS
    /// is COUNT requests of USERS users each: 3,2,1 or 20000x1 or 3,2,1,100x1.
    #[arg(long, value_name = "USERS,...", default_value = "3,2,1", value_parser = parse_requests)]
    pub requests: Requests,
    /// Time the directory takes per user (e.g. 1s, 100ms).
    #[arg(long, default_value = "1s", value_parser = parse_duration, allow_hyphen_values = true, conflicts_with = "directory")]
    pub delay: Duration,
    /// Run the event loop on a virtual clock, directory included: exact times, no
    /// waiting. Selects --mode event-loop.
    #[arg(long, conflicts_with = "directory")]
    pub virtual_time: bool,
    /// Print the event loop's trace, then its counters.
    #[arg(long)]
    pub trace: bool,
    /// Pause after each turn of the loop and show its state; Enter goes on. Selects
    /// --mode event-loop.
    #[arg(long, conflicts_with = "json")]
    pub step: bool,
    /// Print exactly one JSON document on stdout instead of the narrative and table
    /// (with progress on stderr when it is a terminal).
    #[arg(long)]
    pub json: bool,
    /// Language of the narrative lines: en, or ko for the post's own wording.
    #[arg(long, value_enum, default_value_t = Lang::En)]
    pub lang: Lang,
    /// Use the directory already running at HOST:PORT instead of starting one.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_host_port)]
    pub directory: Option<HostPort>,
    /// Give up on a lookup call that takes longer than this (e.g. 5s).
    #[arg(long, value_parser = parse_positive_duration, allow_hyphen_values = true)]
    pub timeout: Option<Duration>,
    #[command(flatten)]
    pub exports: ExportArgs,
}

impl Default for LookupArgs {
    /// `looplab` with no command: `looplab lookup` with every default.
    fn default() -> LookupArgs {
        LookupArgs::try_parse_from_defaults()
    }
}

impl LookupArgs {
    fn try_parse_from_defaults() -> LookupArgs {
        #[derive(Parser)]
        struct Defaults {
            #[command(flatten)]
            args: LookupArgs,
        }
        Defaults::parse_from(["looplab"]).args
    }
}

/// Files drawn from the run. Each is written whole or not at all
/// (`looplab::export::write_atomically`). A new export is one field here and
/// one line in `requested`.
#[derive(clap::Args, Clone, Debug, Default)]
#[command(next_help_heading = "Pictures of the run (each works with every --mode)")]
pub struct ExportArgs {
    /// Write the timeline as an SVG picture (fits a 16:9 slide) to FILE.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// The SVG's shape: `fit` (as tall as its rows need) or `16:9` (exactly a slide).
    #[arg(long, value_name = "ASPECT", default_value = "fit")]
    pub svg_aspect: SvgAspectArg,
    /// Write one self-contained page to FILE, to open in a browser: the table and the
    /// timeline, then the event-loop run's task lanes and a turn-by-turn stepper (the
    /// sequential and threads modes have no loop to show, and the page says so).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the event-loop run as a Chrome trace (Trace Event Format JSON) to FILE:
    /// open it in https://ui.perfetto.dev or chrome://tracing. With --mode sequential or
    /// threads no loop runs: the file is a valid trace with no events in it.
    #[arg(long, value_name = "FILE")]
    pub chrome_trace: Option<PathBuf>,
    /// Write the run as a recording (JSON Lines, docs/recording.md) to FILE: the
    /// event-loop run's every event and its state after each turn, and every mode's
    /// requests. `looplab render FILE` draws it later, the same bytes as --html,
    /// --chrome-trace and --svg give now.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
}

/// `looplab render`: draw a recording.
#[derive(clap::Args, Clone, Debug)]
#[command(after_help = RENDER_AFTER_HELP)]
pub struct RenderArgs {
    /// The recording: from `looplab lookup --record`, `LOOPLAB_RECORD=FILE` or
    /// `python3 python/asyncio_record.py --out FILE`.
    #[arg(value_name = "FILE")]
    pub recording: PathBuf,
    /// Print each turn in the terminal: its lines, then the state the loop recorded
    /// after it (as `looplab lookup --step` does, without waiting for Enter).
    #[arg(long)]
    pub step: bool,
    #[command(flatten)]
    pub exports: RenderExports,
}

const RENDER_AFTER_HELP: &str = "\
With no flag, render prints what the recording holds (its loop, turns, tasks).

Exit status: 0 done, 1 the recording could not be read (the message names its line)
    or a file could not be written, or --svg was asked of a recording without
    requests; 2 bad usage (nothing was read).";

/// What `looplab render` draws, each into its own file.
#[derive(clap::Args, Clone, Debug, Default)]
#[command(next_help_heading = "Pictures of the recording")]
pub struct RenderExports {
    /// Write the page (task lanes and the turn stepper) to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the Chrome trace (Trace Event Format JSON, for Perfetto) to FILE.
    #[arg(long, value_name = "FILE")]
    pub chrome_trace: Option<PathBuf>,
    /// Write the requests' timeline as SVG to FILE: only a recording that holds
    /// requests has one (`looplab lookup --record`).
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// The SVG's shape: `fit` or `16:9`, as `looplab lookup --svg-aspect`.
    #[arg(long, value_name = "ASPECT", default_value = "fit")]
    pub svg_aspect: SvgAspectArg,
}

impl RenderExports {
    /// Every file asked for, with the flag that asked for it.
    pub fn flags(&self) -> Vec<(&'static str, &PathBuf)> {
        let flags = [
            ("--html", &self.html),
            ("--chrome-trace", &self.chrome_trace),
            ("--svg", &self.svg),
        ];
        flags
            .into_iter()
            .filter_map(|(flag, path)| Some((flag, path.as_ref()?)))
            .collect()
    }
}

/// `--svg-aspect`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SvgAspectArg {
    /// As tall as the rows need (at most a 16:9 slide's height).
    #[default]
    Fit,
    /// Exactly a 16:9 slide.
    #[value(name = "16:9")]
    Slide,
}

/// What an export is drawn from.
pub enum Export {
    /// The timeline as SVG.
    Svg,
    /// The page: table, timeline, and the loop's records.
    Html,
    /// The loop's records as a Chrome trace.
    ChromeTrace,
    /// The recording itself.
    Record,
}

impl ExportArgs {
    /// Every file asked for, and what goes in it, in the order the flags are listed.
    pub fn requested(&self) -> Vec<(&PathBuf, Export)> {
        let mut files = Vec::new();
        if let Some(path) = &self.svg {
            files.push((path, Export::Svg));
        }
        if let Some(path) = &self.html {
            files.push((path, Export::Html));
        }
        if let Some(path) = &self.chrome_trace {
            files.push((path, Export::ChromeTrace));
        }
        if let Some(path) = &self.record {
            files.push((path, Export::Record));
        }
        files
    }

    /// Every file asked for, with the flag that asked for it.
    pub fn flags(&self) -> Vec<(&'static str, &PathBuf)> {
        let flags = [
            ("--svg", &self.svg),
            ("--html", &self.html),
            ("--chrome-trace", &self.chrome_trace),
            ("--record", &self.record),
        ];
        flags
            .into_iter()
            .filter_map(|(flag, path)| Some((flag, path.as_ref()?)))
            .collect()
    }

    /// Whether an export draws the event loop's own events, so its run must record them.
    pub fn need_the_loops_records(&self) -> bool {
        self.html.is_some() || self.chrome_trace.is_some() || self.record.is_some()
    }
}

#[derive(clap::Args, Clone, Debug)]
#[command(
    after_help = "Stopping: the first Ctrl-C (SIGINT) or SIGTERM stops accepting and lets the \
                        answers in flight finish, for at most --grace; answers still in flight then \
                        get 503 and the exit status is 1. A second Ctrl-C or SIGTERM stops at once: \
                        answers in flight get 503, the summary is printed, and the exit status is \
                        130 (SIGINT) or 143 (SIGTERM). A clean stop exits 0."
)]
pub struct DirectoryArgs {
    /// Address to listen on: HOST:PORT, names allowed (localhost:7878); port 0 for any.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:7878", value_parser = parse_host_port)]
    pub addr: HostPort,
    /// Time each user lookup takes (e.g. 1s, 250ms).
    #[arg(long, default_value = "1s", value_parser = parse_duration, allow_hyphen_values = true)]
    pub delay: Duration,
    /// Largest request line plus headers, in bytes; larger gets 431.
    #[arg(long, default_value_t = looplab::lookup::http::MAX_REQUEST_HEAD, value_parser = parse_at_least_one)]
    pub max_request_head: usize,
    /// Close a kept-alive connection that sends no request for this long (and a body stalled this long: 408).
    #[arg(long, default_value = "10s", value_parser = parse_positive_duration, allow_hyphen_values = true)]
    pub idle_timeout: Duration,
    /// Answer 408 and close when a request's head takes longer than this from its first byte.
    #[arg(long, default_value = "10s", value_parser = parse_positive_duration, allow_hyphen_values = true)]
    pub header_timeout: Duration,
    /// Most connections served at once; more get 503 and are closed.
    #[arg(long, default_value_t = 16_384, value_parser = parse_at_least_one)]
    pub max_connections: usize,
    /// On Ctrl-C or SIGTERM, wait at most this long for the answers in flight (then 503).
    #[arg(long, default_value = "5s", value_parser = parse_duration, allow_hyphen_values = true)]
    pub grace: Duration,
    /// Do not log each request to stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Which modes `--mode` runs: all three, or one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Modes {
    /// `--mode all`: sequential, threads and event loop, one after another.
    All,
    /// One mode.
    Only(Mode),
}

impl Modes {
    /// The modes to run, in order.
    pub fn list(self) -> Vec<Mode> {
        match self {
            Modes::All => Mode::ALL.to_vec(),
            Modes::Only(mode) => vec![mode],
        }
    }
}

/// `--mode`'s values: `all`, then [`Mode`]'s own (from its `ValueEnum`), so clap lists
/// and suggests them all.
fn modes_parser() -> impl TypedValueParser<Value = Modes> {
    let all = PossibleValue::new("all").help("The three, one after another");
    let modes = Mode::value_variants()
        .iter()
        .filter_map(ValueEnum::to_possible_value);
    PossibleValuesParser::new(iter::once(all).chain(modes))
        .map(|name| Mode::from_str(&name, false).map_or(Modes::All, Modes::Only))
}

/// The rules clap cannot declare, as clap errors with the lookup command's usage (exit
/// status 2): `--virtual-time` and `--step` need the event-loop mode (given alone
/// they select it, by `default_value_ifs`), and a virtual clock's durations are whole
/// milliseconds.
pub fn check_mode_rules(args: &LookupArgs) -> Result<(), clap::Error> {
    let message = if args.mode == Modes::Only(Mode::EventLoop) {
        None
    } else if args.virtual_time {
        Some(
            "--virtual-time needs --mode event-loop (or no --mode): the sequential and threads \
             clients block real OS threads, and a virtual clock cannot skip a blocked thread's wait",
        )
    } else if args.step {
        Some(
            "--step needs --mode event-loop (or no --mode): only the event loop has turns to step \
             through",
        )
    } else {
        None
    };
    if let Some(message) = message {
        return Err(lookup_error(ErrorKind::ArgumentConflict, message));
    }
    if args.virtual_time {
        let durations = [("--delay", Some(args.delay)), ("--timeout", args.timeout)];
        for (flag, duration) in durations {
            if let Some(message) = duration.and_then(|d| not_whole_milliseconds(flag, d)) {
                return Err(lookup_error(ErrorKind::ValueValidation, &message));
            }
        }
    }
    Ok(())
}

/// Why a virtual clock cannot wait `duration` exactly, if it cannot: its timer wheel
/// counts whole milliseconds, and rounding in silence would change the times the run
/// reports.
fn not_whole_milliseconds(flag: &str, duration: Duration) -> Option<String> {
    if duration.subsec_nanos().is_multiple_of(1_000_000) {
        return None;
    }
    let below = duration.as_millis();
    Some(format!(
        "{flag} {duration:?} cannot be kept exactly with --virtual-time: the virtual clock's \
         timer wheel counts whole milliseconds (its resolution is 1 ms); give {below}ms or {}ms",
        below + 1
    ))
}

/// Refuses two exports into one file under two spellings (`x.svg`, `./x.svg`, its
/// absolute path, a symbolic or a hard link to it): the second would replace the
/// first. A clap error, exit status 2. A path that cannot be resolved is left to the
/// check that it can be written, which names it ([`looplab::export::check_writable`]).
pub fn check_exports(args: &LookupArgs) -> Result<(), clap::Error> {
    let mut seen: Vec<(&str, &PathBuf, FileId)> = Vec::new();
    for (flag, path) in args.exports.flags() {
        let Ok(id) = file_id(path) else {
            continue;
        };
        if let Some((first_flag, first_path, _)) = seen.iter().find(|(_, _, seen)| *seen == id) {
            return Err(lookup_error(
                ErrorKind::ArgumentConflict,
                &format!(
                    "{first_flag} {} and {flag} {} are one file: each export needs a file of \
                     its own, or the second would replace the first",
                    first_path.display(),
                    path.display()
                ),
            ));
        }
        seen.push((flag, path, id));
    }
    Ok(())
}

/// A clap error from the lookup command, so it shows that command's usage.
fn lookup_error(kind: ErrorKind, message: &str) -> clap::Error {
    let mut command = Cli::command();
    command.build();
    let lookup = command
        .find_subcommand_mut("lookup")
        .expect("the lookup command exists");
    lookup.error(kind, message)
}

/// Adds a tip to a clap error when the flag it did not know belongs to another
/// command: `looplab --json` says that `--json` is `looplab lookup`'s.
pub fn with_tips(mut error: clap::Error) -> clap::Error {
    if error.kind() != ErrorKind::UnknownArgument {
        return error;
    }
    let Some(ContextValue::String(argument)) = error.get(ContextKind::InvalidArg).cloned() else {
        return error;
    };
    let flag = argument.split('=').next().unwrap_or(&argument);
    let Some(long) = flag.strip_prefix("--") else {
        return error;
    };
    let command = Cli::command();
    // The first command that has this flag, and how the flag is written there.
    let owner = COMMANDS.iter().find_map(|name| {
        let sub = command.find_subcommand(name)?;
        let arg = sub.get_arguments().find(|a| a.get_long() == Some(long))?;
        let value = arg
            .get_value_names()
            .and_then(|names| names.first())
            .map(|name| format!(" <{name}>"))
            .filter(|_| arg.get_action().takes_values())
            .unwrap_or_default();
        Some((name, format!("--{long}{value}")))
    });
    let Some((owner, usage)) = owner else {
        return error;
    };
    let mut tips = match error.get(ContextKind::Suggested) {
        Some(ContextValue::StyledStrs(tips)) => tips.clone(),
        _ => Vec::new(),
    };
    tips.push(
        format!(
            "--{long} is a flag of `looplab {owner}`: try `looplab {owner} {usage}`, and \
             `looplab {owner} --help` for all of them"
        )
        .into(),
    );
    error.insert(ContextKind::Suggested, ContextValue::StyledStrs(tips));
    error
}

/// The users of each request, as given: `3,2,1` -> `[3, 2, 1]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requests(pub Vec<u32>);

/// `3,2,1` -> `[3, 2, 1]`; `COUNTxUSERS` is COUNT requests of USERS users each, so
/// `2x3,1` -> `[3, 3, 1]` and `20000x1` is 20,000 one-user requests in eight bytes.
/// Each request needs at least one user; at most [`MAX_REQUESTS`] requests and
/// [`MAX_USERS`] users in all.
pub fn parse_requests(text: &str) -> Result<Requests, String> {
    let mut users = Vec::new();
    let mut total: u64 = 0;
    for part in text.split(',') {
        let part = part.trim();
        let (count, each) = match part.split_once(['x', 'X']) {
            Some((count, each)) => (
                whole_number(count.trim(), part)?,
                whole_number(each.trim(), part)?,
            ),
            None => (1, whole_number(part, part)?),
        };
        if count == 0 {
            return Err(format!("{part:?}: a count of requests is at least 1"));
        }
        if count > (MAX_REQUESTS - users.len()) as u64 {
            return Err(format!(
                "too many requests (at most {})",
                thousands(MAX_REQUESTS as u64)
            ));
        }
        if each == 0 {
            return Err("each request needs at least 1 user".into());
        }
        let added = each.saturating_mul(count);
        total = total.saturating_add(added);
        if total > MAX_USERS {
            return Err(if added > MAX_USERS && count == 1 {
                format!(
                    "{part} users in one request is too large (at most {} users in all)",
                    thousands(MAX_USERS)
                )
            } else if added > MAX_USERS {
                format!(
                    "{part} is {} users, too many (at most {} users in all)",
                    thousands(added),
                    thousands(MAX_USERS)
                )
            } else {
                format!(
                    "{} users in all is too large (at most {} users in all)",
                    thousands(total),
                    thousands(MAX_USERS)
                )
            });
        }
        // At most MAX_USERS, so it fits.
        users.extend(iter::repeat_n(each as u32, count as usize));
    }
    Ok(Requests(users))
}

/// One number of a `--requests` list: digits only (no sign, no spaces inside). Past
/// `u64` it is too large anyway, so it saturates and the limits refuse it.
fn whole_number(digits: &str, part: &str) -> Result<u64, String> {
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(format!(
            "{part:?} is not a number of users (expected e.g. 3,2,1, or 100x1 for 100 \
             requests of 1 user)"
        ));
    }
    Ok(digits.parse().unwrap_or(u64::MAX))
}

/// `1s`, `1.5s`, `250ms`, `2m`, `1h`, `1m30s`: what the `humantime` crate reads, at
/// most [`MAX_DURATION`]. A bare number and a negative one get a message that says
/// what to give instead; every duration flag uses these messages.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let example = "e.g. 1s, 250ms, 1.5s";
    if text.starts_with('-') {
        return Err(format!(
            "{text:?}: a duration cannot be negative ({example})"
        ));
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(format!("{text:?} needs a unit: ms, s, m or h ({example})"));
    }
    let duration = humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not a duration: {e} ({example})"))?;
    if duration > MAX_DURATION {
        return Err(format!("{text:?} is too large (at most 1h)"));
    }
    Ok(duration)
}

/// [`parse_duration`], and more than zero: a timeout of nothing would fail every call.
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        Duration::ZERO => Err(format!("{:?} must be more than 0", text.trim())),
        duration => Ok(duration),
    }
}

/// A whole number of at least 1.
fn parse_at_least_one(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) if text.trim().bytes().all(|b| b.is_ascii_digit()) && !text.trim().is_empty() => {
            Err(format!("{text:?} is too large (at most {})", usize::MAX))
        }
        Err(_) => Err(format!("{text:?} is not a whole number")),
    }
}

/// A place on the network as typed: `host:port`, with a name (`localhost:7878`), an
/// IPv4 address or a bracketed IPv6 one (`[::1]:7878`). Only the form is checked when
/// parsing; the name is looked up when it is used ([`HostPort::resolve`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort(String);

impl std::fmt::Display for HostPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl HostPort {
    /// Looks the name up: every address it has, or an error that names it.
    pub fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
        let failed =
            |e: io::Error| io::Error::new(e.kind(), format!("could not resolve {self}: {e}"));
        let addrs: Vec<SocketAddr> = self.0.to_socket_addrs().map_err(failed)?.collect();
        if addrs.is_empty() {
            return Err(failed(io::ErrorKind::NotFound.into()));
        }
        Ok(addrs)
    }
}

/// `host:port` -> [`HostPort`].
pub fn parse_host_port(text: &str) -> Result<HostPort, String> {
    let text = text.trim();
    let example = "e.g. 127.0.0.1:7878 or localhost:7878";
    if let Some((_scheme, rest)) = text.split_once("://") {
        // What the URL's host and port are, as the HOST:PORT to give instead.
        let place = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let instead = match parse_host_port(place) {
            Ok(_) => format!("here: {place}"),
            Err(_) => example.to_owned(),
        };
        return Err(format!("{text:?}: give HOST:PORT, not a URL ({instead})"));
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(format!("{text:?} is not HOST:PORT ({example})"));
    };
    if host.is_empty() {
        return Err(format!("{text:?} has no host ({example})"));
    }
    if port.parse::<u16>().is_err() {
        return Err(format!(
            "{text:?}: the port must be a number from 0 to 65535"
        ));
    }
    let bracketed = host.starts_with('[') && host.ends_with(']');
    if host.contains(':') && !bracketed {
        return Err(format!(
            "{text:?}: an IPv6 address goes in brackets, e.g. [::1]:7878"
        ));
    }
    if host.contains(|c: char| c.is_whitespace() || c == '/') {
        return Err(format!("{text:?} is not HOST:PORT ({example})"));
    }
    Ok(HostPort(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_refuse_the_rest() {
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration(" 0ms "), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(
            parse_duration("1.0005s"),
            Ok(Duration::from_micros(1_000_500))
        );
        assert!(parse_duration("-1s").unwrap_err().contains("negative"));
        assert!(parse_duration("5").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("1.5").unwrap_err().contains("needs a unit"));
        assert!(
            parse_duration("5q")
                .unwrap_err()
                .contains("unknown time unit")
        );
        assert!(
            parse_duration("61m")
                .unwrap_err()
                .contains("too large (at most 1h)")
        );
        assert!(parse_duration("2d").unwrap_err().contains("too large"));
        assert!(
            parse_duration("1e300s")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(
            parse_duration("99999999999999999999s")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(parse_duration("µs").unwrap_err().contains("not a duration"));
        assert!(parse_duration("").unwrap_err().contains("not a duration"));
        assert!(
            parse_positive_duration("0s")
                .unwrap_err()
                .contains("more than 0")
        );
    }

    #[test]
    fn requests_parse_and_refuse_zero_words_and_too_many() {
        assert_eq!(parse_requests("3,2,1").unwrap().0, vec![3, 2, 1]);
        assert_eq!(parse_requests(" 3 , 1").unwrap().0, vec![3, 1]);
        assert!(parse_requests("0").unwrap_err().contains("at least 1"));
        assert!(parse_requests("x").unwrap_err().contains("not a number"));
        assert!(parse_requests("+3").unwrap_err().contains("not a number"));
        assert!(parse_requests("3,,1").unwrap_err().contains("not a number"));
        let too_large = parse_requests("4294967296").unwrap_err();
        assert_eq!(
            too_large,
            "4294967296 users in one request is too large (at most 1,000,000 users in all)"
        );
        assert!(
            parse_requests("99999999999999999999999")
                .unwrap_err()
                .contains("too large")
        );
        assert!(
            parse_requests("600000,600000")
                .unwrap_err()
                .contains("1,200,000 users in all is too large")
        );
        let many = vec!["1"; MAX_REQUESTS + 1].join(",");
        assert_eq!(
            parse_requests(&many).unwrap_err(),
            "too many requests (at most 100,000)"
        );
        assert_eq!(parse_requests(&many[2..]).unwrap().0.len(), MAX_REQUESTS);
    }

    #[test]
    fn a_count_form_repeats_a_request_within_the_limits() {
        assert_eq!(parse_requests("2x3,1").unwrap().0, vec![3, 3, 1]);
        assert_eq!(
            parse_requests("3,2,1,100x1").unwrap().0,
            [vec![3, 2, 1], vec![1; 100]].concat()
        );
        assert_eq!(parse_requests("20000x1").unwrap().0, vec![1; 20_000]);
        assert_eq!(parse_requests(" 2 X 5 ").unwrap().0, vec![5, 5]);
        assert_eq!(parse_requests("100000x1").unwrap().0.len(), MAX_REQUESTS);
        assert_eq!(
            parse_requests("99999x1,2x1").unwrap_err(),
            "too many requests (at most 100,000)"
        );
        assert_eq!(
            parse_requests("18446744073709551615x1").unwrap_err(),
            "too many requests (at most 100,000)"
        );
        assert_eq!(
            parse_requests("1000x1001").unwrap_err(),
            "1000x1001 is 1,001,000 users, too many (at most 1,000,000 users in all)"
        );
        assert!(
            parse_requests("10x100000,1")
                .unwrap_err()
                .contains("1,000,001 users in all is too large")
        );
        assert!(parse_requests("0x3").unwrap_err().contains("at least 1"));
        assert!(
            parse_requests("3x0")
                .unwrap_err()
                .contains("at least 1 user")
        );
        for bad in ["x3", "3x", "3x2x1", "-3x1", "3x+1"] {
            assert!(
                parse_requests(bad).unwrap_err().contains("is not a number"),
                "{bad}"
            );
        }
    }

    #[test]
    fn host_port_takes_names_and_checks_the_form() {
        for ok in [
            "localhost:7878",
            "127.0.0.1:0",
            "[::1]:7878",
            "example.org:80",
        ] {
            assert_eq!(parse_host_port(ok), Ok(HostPort(ok.to_owned())), "{ok}");
        }
        assert!(
            parse_host_port("7878")
                .unwrap_err()
                .contains("not HOST:PORT")
        );
        assert!(parse_host_port(":7878").unwrap_err().contains("no host"));
        assert!(
            parse_host_port("localhost:99999")
                .unwrap_err()
                .contains("0 to 65535")
        );
        assert!(parse_host_port("::1:80").unwrap_err().contains("brackets"));
        assert_eq!(
            parse_host_port("http://127.0.0.1:8080/users").unwrap_err(),
            "\"http://127.0.0.1:8080/users\": give HOST:PORT, not a URL (here: 127.0.0.1:8080)"
        );
        assert!(
            parse_host_port("https://example.org")
                .unwrap_err()
                .contains("not a URL (e.g. 127.0.0.1:7878")
        );
        let resolved = parse_host_port("localhost:7878")
            .unwrap()
            .resolve()
            .unwrap();
        assert!(
            resolved
                .iter()
                .all(|addr| addr.port() == 7878 && addr.ip().is_loopback())
        );
    }

    #[test]
    fn the_clap_command_is_consistent_and_help_knows_every_command() {
        Cli::command().debug_assert();
        let command = Cli::command();
        let names: Vec<&str> = command
            .get_subcommands()
            .map(|c| c.get_name())
            .filter(|name| *name != "help")
            .collect();
        assert_eq!(names, COMMANDS);
    }

    #[test]
    fn virtual_time_and_step_select_the_event_loop_and_refuse_other_modes() {
        let lookup = |args: &[&str]| {
            let cli = Cli::try_parse_from(["looplab", "lookup"].iter().chain(args))?;
            let Some(Command::Lookup(args)) = cli.command else {
                panic!("a lookup");
            };
            check_mode_rules(&args).map(|()| args)
        };
        assert_eq!(lookup(&[]).unwrap().mode, Modes::All);
        assert_eq!(
            lookup(&["--virtual-time"]).unwrap().mode,
            Modes::Only(Mode::EventLoop)
        );
        assert_eq!(
            lookup(&["--step"]).unwrap().mode,
            Modes::Only(Mode::EventLoop)
        );
        let error = lookup(&["--mode", "threads", "--virtual-time"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ArgumentConflict);
        assert!(
            error.to_string().contains("Usage: looplab lookup"),
            "{error}"
        );
        let conflict = lookup(&["--step", "--json"]).unwrap_err();
        assert_eq!(conflict.kind(), ErrorKind::ArgumentConflict);
        assert_eq!(LookupArgs::default().mode, Modes::All);
        assert_eq!(LookupArgs::default().requests, Requests(vec![3, 2, 1]));
    }
}
