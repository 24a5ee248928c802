//! `looplab render FILE`: draw a recording, looplab's or asyncio's.
//!
//! A recording (docs/recording.md) is read whole first: a file that is not one, cut
//! short, or of a version this looplab does not know is refused with one `error:`
//! line that names the file and the line, and nothing is written. Then every file
//! asked for is drawn from the one model of the run (`looplab::export`), exactly as
//! `looplab lookup` draws it when it writes them directly: `lookup --record run.jsonl
//! --html a.html` and `render run.jsonl --html b.html` give the same bytes, because
//! both go through [`page`] here.
//!
//! The page of a `looplab lookup` recording also has the comparison table and the
//! timeline, drawn from its `lookup_run` lines (the requests each mode measured);
//! `--svg` is that timeline alone, so only such a recording has one.

use std::io;
use std::path::Path;
use std::time::Duration;

use clap::ValueEnum;
use looplab::export::{HtmlExtras, Model, check_writable, chrome_trace, html, write_each};
use looplab::lookup::report::{Mode, RequestReport, RunReport, Span, render_table_html};
use looplab::lookup::timeline::{Layout, SvgAspect, SvgOptions};
use looplab::recording::{Clock, Kind, Recording};

use crate::args::{RenderArgs, SvgAspectArg};
use crate::step;

/// The SVG's layout width, in the timeline's character columns: wider than a terminal,
/// so a slide gets finer blocks.
pub const SVG_COLUMNS: usize = 100;

/// The page's table width, in the text table's characters.
const HTML_TABLE_COLUMNS: usize = 160;

pub fn run(args: RenderArgs) -> io::Result<()> {
    for (_, path) in args.exports.flags() {
        check_writable(path)?;
    }
    let recording = read(&args.recording)?;
    let runs =
        runs_of(&recording).map_err(|e| invalid(format!("{}: {e}", args.recording.display())))?;
    if args.exports.svg.is_some() && runs.is_empty() {
        return Err(invalid(format!(
            "{}: this recording holds no requests (it is {}), so it has no timeline to draw \
             as --svg; a `looplab lookup --record FILE` recording has one. --html and \
             --chrome-trace draw any recording",
            args.recording.display(),
            what_made(&recording)
        )));
    }
    let aspect = args.exports.svg_aspect;
    if args.step {
        print_steps(&recording);
    } else if args.exports.flags().is_empty() {
        say!("{}", summary(&args.recording, &recording));
    }
    let mut files = Vec::new();
    if let Some(path) = &args.exports.html {
        files.push((path.as_path(), page(&recording, &runs, aspect)));
    }
    if let Some(path) = &args.exports.chrome_trace {
        files.push((path.as_path(), chrome_trace(&recording)));
    }
    if let Some(path) = &args.exports.svg {
        files.push((path.as_path(), svg(&recording, &runs, aspect)));
    }
    write_each(files)
}

/// The file, read and checked whole; the error names the file and the line.
fn read(path: &Path) -> io::Result<Recording> {
    let bytes = std::fs::read(path)
        .map_err(|e| io::Error::new(e.kind(), format!("could not read {}: {e}", path.display())))?;
    Recording::from_bytes(&bytes).map_err(|e| invalid(format!("{}: {e}", path.display())))
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// "a recording of asyncio (python/seed_async.py)".
fn what_made(recording: &Recording) -> String {
    let source = match recording.header.source {
        looplab::recording::Source::Looplab => "looplab",
        looplab::recording::Source::Asyncio => "asyncio",
    };
    format!(
        "a recording of {source} running {}",
        recording.header.program
    )
}

/// What `render FILE` alone prints: what the recording holds.
fn summary(path: &Path, recording: &Recording) -> String {
    let model = Model::new(recording);
    let clock = match recording.header.clock {
        Clock::Virtual => "virtual time",
        Clock::Real => "wall time",
    };
    let mut text = format!(
        "{}: {}, on {clock}\n  {} lines: {} turns, {} tasks, {} polls, {} wakes, {} parks; the loop ran {}",
        path.display(),
        what_made(recording),
        recording.lines.len(),
        model.turns.len(),
        model.tasks.len(),
        model.polls.len(),
        model.wakes.len(),
        model.parks.len(),
        looplab::export::model::secs(model.duration()),
    );
    if !model.lookup_runs.is_empty() {
        text += &format!("\n  requests of {} lookup runs", model.lookup_runs.len());
    }
    text += "\n  draw it with --html FILE, --chrome-trace FILE";
    if !model.lookup_runs.is_empty() {
        text += ", --svg FILE";
    }
    text += ", or --step";
    text
}

/// The page: for a lookup recording, its table and timeline first, as `looplab lookup
/// --html` writes it; then the loop's stepper and lanes.
pub fn page(recording: &Recording, runs: &[RunReport], aspect: SvgAspectArg) -> String {
    let model = Model::new(recording);
    let title = recording.header.program.clone();
    let (table_html, timeline_svg) = if runs.is_empty() {
        (None, None)
    } else {
        let mut table = render_table_html(runs, HTML_TABLE_COLUMNS);
        if !model.turns.is_empty() && recording.header.clock == Clock::Real {
            // Only under virtual time does the directory run on the recorded loop.
            table.push_str(
                "<p class=\"notice\">The stepper and the lanes below show the event-loop run: \
                 main and one task per request. The directory ran outside that loop (on a thread \
                 of its own, or in another process with --directory); with --virtual-time it \
                 runs on the same loop, and its tasks get lanes too.</p>\n",
            );
        }
        (Some(table), Some(svg(recording, runs, aspect)))
    };
    let no_loop_note = (!runs.is_empty()).then(|| {
        format!(
            "No event loop ran: --mode {} blocks OS threads instead, one call at a time on each, \
             so there are no turns to step through and no task lanes to draw. \
             Run with --mode event-loop (or all) to see the loop.",
            modes_named(runs)
        )
    });
    let extras = HtmlExtras {
        title,
        table_html,
        timeline_svg,
        no_loop_note,
    };
    html(recording, &extras)
}

/// The timeline of the recording's requests, as `looplab lookup --svg` draws it.
pub fn svg(recording: &Recording, runs: &[RunReport], aspect: SvgAspectArg) -> String {
    Layout::new(runs, SVG_COLUMNS).to_svg_with(&SvgOptions {
        title: recording.header.program.clone(),
        aspect: match aspect {
            SvgAspectArg::Fit => SvgAspect::Fit,
            SvgAspectArg::Slide => SvgAspect::Slide,
        },
    })
}

/// `sequential, threads, event-loop`.
fn modes_named(runs: &[RunReport]) -> String {
    let names: Vec<&str> = runs.iter().map(|run| run.mode.as_str()).collect();
    names.join(", ")
}

/// The runs a lookup recording's `lookup_run` lines hold (none for other recordings).
pub fn runs_of(recording: &Recording) -> Result<Vec<RunReport>, String> {
    let ns = Duration::from_nanos;
    let mut runs = Vec::new();
    for (index, line) in recording.lines.iter().enumerate() {
        let Kind::LookupRun {
            mode,
            virtual_time,
            total_ns,
            delay_ns,
            requests,
        } = &line.kind
        else {
            continue;
        };
        let Ok(mode) = Mode::from_str(mode, false) else {
            return Err(format!(
                "line {}: unknown mode {mode:?} in a \"lookup_run\" line (sequential, threads or \
                 event-loop)",
                index + 2
            ));
        };
        let requests = requests
            .iter()
            .map(|request| RequestReport {
                users: u32::try_from(request.users).unwrap_or(u32::MAX),
                latency: ns(request.latency_ns),
                start: ns(request.start_ns),
                lookups: request
                    .lookups
                    .iter()
                    .map(|[start, end]| Span {
                        start: ns(*start),
                        end: ns(*end),
                    })
                    .collect(),
            })
            .collect();
        runs.push(RunReport {
            mode,
            virtual_time: *virtual_time,
            total: ns(*total_ns),
            delay: delay_ns.map(ns),
            requests,
        });
    }
    Ok(runs)
}

/// The runs as `lookup_run` lines, stamped `at_ns`.
pub fn lookup_run_lines(runs: &[RunReport], at_ns: u64) -> Vec<looplab::recording::Line> {
    let ns = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    runs.iter()
        .map(|run| looplab::recording::Line {
            at_ns,
            kind: Kind::LookupRun {
                mode: run.mode.as_str().to_string(),
                virtual_time: run.virtual_time,
                total_ns: ns(run.total),
                delay_ns: run.delay.map(ns),
                requests: run
                    .requests
                    .iter()
                    .map(|request| looplab::recording::LookupRequest {
                        users: u64::from(request.users),
                        start_ns: ns(request.start),
                        latency_ns: ns(request.latency),
                        lookups: request
                            .lookups
                            .iter()
                            .map(|span| [ns(span.start), ns(span.end)])
                            .collect(),
                    })
                    .collect(),
            },
        })
        .collect()
}

/// `--step`: every turn, its lines, then the state the loop recorded after it.
fn print_steps(recording: &Recording) {
    let model = Model::new(recording);
    for (index, turn) in model.turns.iter().enumerate() {
        let lines: Vec<String> = turn
            .lines
            .clone()
            .filter(|&i| model.steps[i].is_some())
            .map(|i| {
                let (who, what) = model.describe(i);
                format!(
                    "{:>7}  {who:<25} {what}",
                    looplab::export::model::secs(model.lines[i].at_ns)
                )
            })
            .collect();
        say_raw!(
            "{}",
            step::render_recorded_turn(&model, index, turn, &lines)
        );
    }
}
