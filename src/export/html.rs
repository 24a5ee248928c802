//! The run as one self-contained HTML page: task lanes and a turn-by-turn stepper.
//!
//! The page is a single file that loads nothing from the network (no scripts, styles
//! or fonts from elsewhere), so it can be mailed, attached to an issue or opened
//! offline. It holds:
//!
//! - optionally, what the caller passes in: a comparison table and an SVG timeline
//!   ([`HtmlExtras`]);
//! - **the loop, turn by turn**: a diagram of one turn (run -> stop? -> choose timeout
//!   -> park -> fire timers) whose steps light up when they did something in the turn
//!   shown; the state after the turn as `--step` prints it (main's flag, the run
//!   queue, the wheel's hand and its timers by level and slot, the I/O registrations
//!   with their readiness and who waits on them, rebuilt by
//!   [`replay`](super::replay)); and every trace line of the turn, coloured by step.
//!   Previous/next buttons, the ←/→ keys and a slider move between turns, and
//!   `page.html#turn-5` opens the page at turn 5;
//! - **task lanes**: one lane per task and one for the loop. Polls are boxes in the
//!   order the loop ran them, one at a time (that is the point: one thread), with
//!   what they returned and the marks of what they did (timers armed, spawns, I/O
//!   that would block, notes); wakes are arrows from the waker's box to the woken
//!   task's next poll, routed through the gaps between columns and the lines between
//!   lanes so they cross no box; the loop's lane says for every turn how step 4 went:
//!   a park's box gives what ended it and how long it waited ("I/O ×3 · 1,002 ms",
//!   wider the longer), a peek what it found, "no wait" when tasks were ready, and
//!   "stop" where main was done. A legend names every box, arrow and mark. The lanes
//!   scroll with the stepper, so its turn is always in view, and "fit all turns"
//!   scales them to the window.
//!
//! Text is 13 px or more, and every box is as wide as its text, so the page reads on a
//! projector and no label is cut or runs into another (`tests/browser.rs` measures it
//! in a real browser).
//!
//! Empty records (a program whose work ran without a loop, like the `looplab`
//! command's sequential and threads clients) give a page of the caller's parts and a
//! note that there is no loop to show, with no script at all.
//!
//! The lanes put polls side by side in the order they ran rather than on a clock
//! scale: under virtual time every poll takes no time at all, so a clock scale would
//! stack them into four instants. Each turn is labelled with its number and the clock
//! at its start; parks carry the time that passed. (The Chrome trace, [`chrome_trace()`](super::chrome_trace()), is the clock-scale view.)
//!
//! The data goes into the page as one JSON document that a little plain JavaScript
//! (`page.js`, no framework, no build step) draws. A big run does not make a page
//! that grows without bound: past the limits below the page keeps the first turns in
//! full and summarises the rest (their counts stay; their lines and state go), draws
//! the first lanes and gathers the other tasks into one lane, and says so at the top.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

// Text made safe inside HTML content and quoted attributes.
use html_escape::encode_quoted_attribute as escape;
use serde::Serialize;

use super::lanes::{LoopStep, PollOutcome, Run, TaskLane, Turn, Waker};
use super::replay::{LoopState, Replay};
use crate::trace::{Event, Record, TaskId, UnparkReason, secs};

// The limits that keep a page bounded, whatever the run. Their worst case together is
// about 15 MB: 1,500 whole turns of about 3 KB of state, 50,000 lines of at most
// about 300 bytes but usually 80, 40,000 summarised turns of about 150 bytes, and
// 2,500 columns of lanes of about 250 bytes. Typical big runs are far below: 10,000
// requests make a page of a few MB.

/// Turns whose state and trace lines the page keeps in full; later turns keep only
/// their counts.
const DETAILED_TURNS: usize = 1_500;
/// Turns the stepper lists at all; past them only the last turn is listed.
const LISTED_TURNS: usize = 40_000;
/// Trace lines kept per turn (a turn of a big run polls thousands of tasks).
const LINES_PER_TURN: usize = 250;
/// Trace lines kept in all; once spent, turns keep only their counts.
const LINES_IN_ALL: usize = 50_000;
/// Characters kept of one trace line's text (a program's note can be any length).
const LINE_CHARS: usize = 240;
/// Entries kept per list of a turn's state (run queue, timers, I/O registrations).
const STATE_ENTRIES: usize = 20;
/// Tasks that get a lane of their own; the others share the last lane.
const LANES: usize = 40;
/// Columns (polls, parks, timer firings) the lanes draw.
const COLUMNS: usize = 2_500;
/// Wake arrows the lanes draw.
const ARROWS: usize = 5_000;
/// Lines of a poll's tooltip.
const TIP_LINES: usize = 8;

/// What the caller adds to the page. The `looplab` command passes its comparison table
/// and its SVG timeline; a library user may pass neither.
#[derive(Clone, Debug, Default)]
pub struct HtmlExtras {
    /// The page's title (and heading).
    pub title: String,
    /// An HTML fragment (e.g. a `<table>`) shown first, as given.
    pub table_html: Option<String>,
    /// An SVG picture (e.g. the timeline) shown after the table, as given.
    pub timeline_svg: Option<String>,
    /// What the page says in place of the stepper and the lanes when the records are
    /// empty: no loop ran, so there is none to show. `None` says just that; the
    /// `looplab` command says why (its sequential and threads clients block OS threads).
    pub no_loop_note: Option<String>,
}

/// What an empty recording's page says where the loop would be.
const NO_LOOP: &str = "Nothing was recorded: no event loop ran, so there are no turns to step \
                       through and no task lanes to draw.";

const PAGE_CSS: &str = include_str!("page.css");
const PAGE_JS: &str = include_str!("page.js");

/// The records as one self-contained HTML page (see the module docs).
pub fn html(records: &[Record], extras: &HtmlExtras) -> String {
    let data = page_data(records);
    let json = serde_json::to_string(&data).expect("the page data is plain data");
    // Inside <script>, "</script" would end the element early and "<!--" would change
    // how the browser reads it. A '<' can only stand inside a JSON string, where
    // "\u003c" means the same.
    let json = json.replace('<', "\\u003c");
    let title = if extras.title.is_empty() {
        "looplab: the loop, turn by turn"
    } else {
        extras.title.as_str()
    };
    let mut page = String::with_capacity(json.len() + 64 * 1024);
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // An empty icon: without one a browser asks the server (or the disk) for favicon.ico.
    page.push_str("<link rel=\"icon\" href=\"data:,\">\n");
    let _ = writeln!(page, "<title>{}</title>", escape(title));
    let _ = writeln!(page, "<style>\n{PAGE_CSS}</style>\n</head>\n<body>");
    let _ = writeln!(page, "<header><h1>{}</h1>", escape(title));
    page.push_str(
        "<p id=\"summary\" class=\"summary\"></p><p id=\"running\" class=\"summary\" hidden></p><p id=\"limits\" class=\"notice\" hidden></p>",
    );
    page.push_str("<pre id=\"errors\" class=\"errors\" hidden></pre></header>\n");
    if extras.table_html.is_some() || extras.timeline_svg.is_some() {
        page.push_str("<section id=\"run\"><h2>The run</h2>\n");
        if let Some(table) = &extras.table_html {
            let _ = writeln!(page, "<div class=\"extra-table\">{table}</div>");
        }
        if let Some(svg) = &extras.timeline_svg {
            let _ = writeln!(page, "<div class=\"extra-timeline\">{svg}</div>");
        }
        page.push_str("</section>\n");
    }
    if records.is_empty() {
        // No loop to draw: no stepper, no lanes, and no script to draw them.
        let note = extras.no_loop_note.as_deref().unwrap_or(NO_LOOP);
        let _ = writeln!(
            page,
            "<section id=\"no-loop\"><h2>The loop</h2>\n<p class=\"notice\">{}</p>\n</section>\n</body>\n</html>",
            escape(note)
        );
        return page;
    }
    page.push_str(STEPPER_HTML);
    page.push_str(LANES_HTML);
    page.push_str("<pre id=\"selftest\" hidden></pre>\n");
    page.push_str("<script type=\"application/json\" id=\"looplab-data\">");
    page.push_str(&json);
    page.push_str("</script>\n");
    let _ = writeln!(page, "<script>\n{PAGE_JS}</script>\n</body>\n</html>");
    page
}

/// The stepper: buttons, the loop diagram, the state and the lines. `page.js` fills it.
const STEPPER_HTML: &str = r##"<section id="stepper">
<h2>The loop, turn by turn</h2>
<div class="controls">
<button id="prev" type="button" title="previous turn (←)">◀ previous</button>
<span id="turn-title" class="turn-title"></span>
<button id="next" type="button" title="next turn (→)">next ▶</button>
<input id="turn-slider" type="range" min="1" max="1" value="1" aria-label="turn">
<a id="to-lanes" href="#lanes">show in the lanes ↓</a>
</div>
<div class="stepper-body">
<div class="diagram-box">
<svg id="diagram" viewBox="0 0 350 260" role="img" aria-label="one turn of the loop">
<defs><marker id="d-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="d-arrowhead"/></marker></defs>
<path class="d-edge" d="M165,50 L165,66" marker-end="url(#d-arrow)"/>
<path class="d-edge" d="M165,100 L165,116" marker-end="url(#d-arrow)"/>
<path class="d-edge" d="M165,150 L165,166" marker-end="url(#d-arrow)"/>
<path class="d-edge" d="M165,200 L165,216" marker-end="url(#d-arrow)"/>
<path class="d-edge" d="M90,233 L30,233 L30,33 L88,33" marker-end="url(#d-arrow)"/>
<path class="d-edge d-exit" d="M240,83 L290,83" marker-end="url(#d-arrow)"/>
<text x="293" y="72" class="d-small">yes:</text><text x="293" y="98" class="d-small">return</text>
<text x="8" y="140" class="d-small" transform="rotate(-90 14 140)">next turn</text>
<g class="d-step" data-step="0"><rect x="90" y="16" width="150" height="34" rx="8"/><text x="165" y="38">1 · run</text></g>
<g class="d-step" data-step="1"><rect x="90" y="66" width="150" height="34" rx="8"/><text x="165" y="88">2 · stop?</text></g>
<g class="d-step" data-step="2"><rect x="90" y="116" width="150" height="34" rx="8"/><text x="165" y="138">3 · choose timeout</text></g>
<g class="d-step" data-step="3"><rect x="90" y="166" width="150" height="34" rx="8"/><text x="165" y="188">4 · park</text></g>
<g class="d-step" data-step="4"><rect x="90" y="216" width="150" height="34" rx="8"/><text x="165" y="238">5 · fire timers</text></g>
</svg>
<ol id="step-notes" class="step-notes"></ol>
</div>
<div class="state-box">
<h3 id="state-title">After the turn</h3>
<div id="state"></div>
</div>
<div class="lines-box">
<h3>Trace lines of the turn</h3>
<div id="lines" class="lines"></div>
</div>
</div>
</section>
"##;

/// The lanes: `page.js` draws them into the scrolling box.
const LANES_HTML: &str = r##"<section id="lanes">
<h2>Task lanes</h2>
<div class="legend" id="legend">
<div><b>Boxes</b>
<span class="lg-item"><span class="lg lg-pending">P</span>a poll that returned Pending (the task waits for a wake)</span>
<span class="lg-item"><span class="lg lg-ready">R</span>a poll that returned Ready (the task is done)</span>
<span class="lg-item"><span class="lg lg-panic">!</span>a poll that panicked</span>
<span class="lg-item"><span class="lg lg-cut">?</span>a poll the records end in</span>
<span class="lg-item"><span class="lg lg-park">I/O ×3 · 1,002 ms</span>the loop parked: what ended the park, and how long it waited (a longer wait draws a wider box); "jump → 1.000s" is virtual time's clock jump</span>
<span class="lg-item"><span class="lg lg-park">peek · I/O ×2</span>tasks were ready, so the loop only peeked at the reactor, and found news</span>
<span class="lg-item"><span class="lg lg-park lg-muted">no wait</span>tasks were ready: the loop did not park</span>
<span class="lg-item"><span class="lg lg-stop">stop</span>main is done: block_on returns</span>
<span class="lg-item"><svg class="lg-svg" width="40" height="16" aria-hidden="true"><circle cx="8" cy="8" r="6" class="lg-fire"/><text x="18" y="13">×2</text></svg>timers fired (how many)</span>
<span class="lg-item"><svg class="lg-svg" width="40" height="16" aria-hidden="true"><line x1="2" y1="8" x2="38" y2="8" class="lg-life"/></svg>a task's life: it waits between its polls</span>
</div>
<div><b>Arrows</b> (a wake: from the waker to the woken task's next poll)
<span class="lg-item"><svg class="lg-svg" width="44" height="16" aria-hidden="true"><line x1="2" y1="8" x2="34" y2="8" class="lg-arrow-task"/><path d="M34,3 L42,8 L34,13 z" class="lg-head-task"/></svg>purple: a task woke another (a finished task wakes who awaits its JoinHandle)</span>
<span class="lg-item"><svg class="lg-svg" width="44" height="16" aria-hidden="true"><line x1="2" y1="8" x2="34" y2="8" class="lg-arrow-task lg-dashed"/><path d="M34,3 L42,8 L34,13 z" class="lg-head-task"/></svg>purple dashed: a task woke itself (a yield)</span>
<span class="lg-item"><svg class="lg-svg" width="44" height="16" aria-hidden="true"><line x1="2" y1="8" x2="34" y2="8" class="lg-arrow-timer"/><path d="M34,3 L42,8 L34,13 z" class="lg-head-timer"/></svg>pink: a timer fired and woke its task (from the red dot)</span>
<span class="lg-item"><svg class="lg-svg" width="44" height="16" aria-hidden="true"><line x1="2" y1="8" x2="34" y2="8" class="lg-arrow-io"/><path d="M34,3 L42,8 L34,13 z" class="lg-head-io"/></svg>teal: the reactor saw a socket ready and woke the task waiting on it (from the park or peek that saw it)</span>
</div>
<div><b>Marks in a poll</b>
<span class="lg-item"><b class="lg-mark">◷</b>armed a timer</span>
<span class="lg-item"><b class="lg-mark">+</b>spawned a task</span>
<span class="lg-item"><b class="lg-mark">⋯</b>an I/O operation would block: the task waits for its socket</span>
<span class="lg-item"><b class="lg-mark">✎</b>wrote a note (a line of the program's own)</span>
<span class="lg-item"><span class="lg lg-band">turn 3</span>the turn the stepper shows is shaded; click a turn's number to step there</span>
</div>
</div>
<div class="lanes-controls"><button id="fit" type="button" aria-pressed="false">fit all turns</button> <span class="more">The lanes scroll to the stepper's turn. Hover a box for its trace lines.</span></div>
<p id="lanes-note" class="notice" hidden></p>
<div class="lanes-scroll" id="lanes-scroll"><div id="lane-labels" class="lane-labels"></div><div class="lanes-canvas"><svg id="lanes-svg" xmlns="http://www.w3.org/2000/svg"></svg></div></div>
</section>
"##;

/// `text`, cut to [`LINE_CHARS`] characters.
fn clip(mut text: String) -> String {
    if let Some((cut, _)) = text.char_indices().nth(LINE_CHARS) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

// ---------------------------------------------------------------------------------
// The data the page draws. Field names are short: a big run has many of each.
// ---------------------------------------------------------------------------------

#[derive(Serialize)]
struct PageData {
    /// Records in the run.
    records: usize,
    /// The clock at the last record.
    duration: String,
    /// Tasks in the run (main included).
    tasks: usize,
    turns: Vec<TurnData>,
    /// Turns that ran to their end (`TurnEnded`): what `--step` counts.
    completed_turns: usize,
    polls: usize,
    wakes: usize,
    lanes: LanesData,
    /// Tasks still running when the records end (at most [`STATE_ENTRIES`] of them).
    running: Vec<String>,
    /// How many tasks were still running in all.
    running_len: usize,
    /// What the page left out, in words (empty when it kept everything).
    limits: Vec<String>,
}

#[derive(Serialize)]
struct TurnData {
    /// The turn's number, from 1.
    n: usize,
    t0: String,
    t1: String,
    completed: bool,
    stopped: bool,
    /// One letter for each of the five steps: `a`ctive (it did something), `i`dle (it
    /// ran and found nothing to do) or `s`kipped (the turn did not reach it, or had no
    /// need of it).
    steps: String,
    polls: usize,
    queue_len: usize,
    timers_len: usize,
    io_len: usize,
    lines_len: usize,
    /// The lanes' first column of this turn, if it is drawn.
    #[serde(skip_serializing_if = "Option::is_none")]
    col: Option<usize>,
    /// The state and lines, unless the page summarised this turn.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<TurnDetail>,
}

#[derive(Serialize)]
struct TurnDetail {
    /// What each step did, in words.
    notes: Vec<String>,
    queue: Vec<String>,
    main_woken: bool,
    /// The wheel's hand: the tick (millisecond) it stands at.
    hand: u64,
    /// (level, slot, "#1", due, "task 5 connection 1")
    timers: Vec<(usize, usize, String, String, String)>,
    /// (token, what, interest, readiness "r -", who waits)
    io: Vec<(usize, &'static str, &'static str, &'static str, String)>,
    /// (time, who, what, step 1..5)
    lines: Vec<(String, String, String, u8)>,
}

#[derive(Serialize)]
struct LanesData {
    /// Lane 0 is the loop; then one per task; maybe a last one for the other tasks.
    lanes: Vec<LaneData>,
    cols: Vec<Column>,
    /// (from column, to column, kind: "task", "self", "timer", "io")
    arrows: Vec<(usize, usize, &'static str)>,
    /// Tasks drawn together on the last lane.
    hidden_tasks: usize,
    /// Columns left out at the end.
    hidden_cols: usize,
}

#[derive(Serialize)]
struct LaneData {
    label: String,
    /// The task, or `None` for the loop's lane and the lane of the other tasks.
    task: Option<u64>,
    /// How the task ended: "ready", "panicked", "running" (when the records end);
    /// empty for the loop's lane and the other tasks'.
    end: &'static str,
}

#[derive(Serialize)]
struct Column {
    /// "poll", "park", "peek", "fire", "nopark" (a turn that did not park), "stop"
    /// (the turn that stopped the loop) or "others" (polls of tasks without a lane).
    k: &'static str,
    lane: usize,
    /// Turn index (from 0).
    turn: usize,
    /// The clock.
    t: String,
    /// Short label: the outcome of a poll ("P", "R", "!", "?"), the count of others'
    /// polls, what ended a park, the timers fired.
    l: String,
    /// Marks inside a poll: ◷ + ⋯ ✎.
    m: String,
    /// Tooltip.
    tip: String,
    /// A park's wait in milliseconds (its box is wider the longer it waited).
    #[serde(skip_serializing_if = "Option::is_none")]
    d: Option<f64>,
}

fn page_data(records: &[Record]) -> PageData {
    let run = Run::from_records(records);
    let names = task_names(records);
    let lanes = lanes_data(&run, records, &names);
    let mut limits = Vec::new();
    let turns = turns_data(&run, records, &names, &lanes, &mut limits);
    if lanes.hidden_tasks > 0 {
        limits.push(format!(
            "The lanes show the first {} tasks one lane each; the other {} share the last lane.",
            LANES, lanes.hidden_tasks
        ));
    }
    if lanes.hidden_cols > 0 {
        limits.push(format!(
            "The lanes stop after {} polls and parks; {} more are left out (the Chrome trace has them all).",
            lanes.cols.len(),
            lanes.hidden_cols
        ));
    }
    let still_running: Vec<&TaskLane> = run
        .tasks
        .iter()
        .filter(|t| t.ended.is_none() || t.ended == Some(PollOutcome::Unfinished))
        .collect();
    PageData {
        running: still_running
            .iter()
            .take(STATE_ENTRIES)
            .map(|t| t.label())
            .collect(),
        running_len: still_running.len(),
        records: records.len(),
        duration: secs(records.last().map_or(Duration::ZERO, |r| r.at)),
        tasks: run.tasks.len(),
        completed_turns: run.completed_turns(),
        polls: run.polls.len(),
        wakes: run.wakes.len(),
        turns,
        lanes,
        limits,
    }
}

/// Task names as the trace prints them: from the spawns, and "main" for task 0.
fn task_names(records: &[Record]) -> HashMap<TaskId, String> {
    let mut names = HashMap::from([(TaskId(0), "main".to_string())]);
    for record in records {
        if let Event::Spawn { task, name, .. } = &record.event
            && !name.is_empty()
        {
            names.insert(*task, name.clone());
        }
    }
    names
}

fn label(task: TaskId, names: &HashMap<TaskId, String>) -> String {
    match names.get(&task) {
        Some(name) => format!("{task} {name}"),
        None => task.to_string(),
    }
}

fn turns_data(
    run: &Run,
    records: &[Record],
    names: &HashMap<TaskId, String>,
    lanes: &LanesData,
    limits: &mut Vec<String>,
) -> Vec<TurnData> {
    let mut first_col = vec![None; run.turns.len()];
    for (i, col) in lanes.cols.iter().enumerate() {
        first_col[col.turn].get_or_insert(i);
    }
    let mut replay = Replay::new(records);
    let mut lines_left = LINES_IN_ALL;
    let mut summarised = 0;
    let last = run.turns.len().saturating_sub(1);
    let mut turns = Vec::with_capacity(run.turns.len().min(LISTED_TURNS));
    for (index, turn) in run.turns.iter().enumerate() {
        // Past the listed turns only the last one is kept: where the run ends.
        if index + 1 >= LISTED_TURNS && index != last {
            continue;
        }
        let state = replay.advance_to(turn.records.end);
        let lines_len = records[turn.records.clone()]
            .iter()
            .filter(|r| LoopStep::of(&r.event).is_some())
            .count();
        // The turn that stopped the loop is always kept: it is where every run ends.
        let keep = index == last || (index < DETAILED_TURNS && lines_left > 0);
        let steps = step_states(run, turn, records);
        let codes: String = steps.iter().map(|(state, _)| &state[..1]).collect();
        let detail = keep.then(|| {
            let notes = steps.into_iter().map(|(_, note)| note).collect();
            let detail = turn_detail(turn, records, state, names, notes);
            lines_left = lines_left.saturating_sub(detail.lines.len());
            detail
        });
        if detail.is_none() {
            summarised += 1;
        }
        turns.push(TurnData {
            n: index + 1,
            t0: secs(turn.start),
            t1: secs(turn.end),
            completed: turn.completed,
            stopped: turn.stopped,
            steps: codes,
            polls: turn.polls.len(),
            queue_len: state.run_queue().len() + usize::from(state.main_woken),
            timers_len: state.timer_count(),
            io_len: state.io_count(),
            lines_len,
            col: first_col[index],
            detail,
        });
    }
    if run.turns.len() > turns.len() {
        limits.push(format!(
            "The stepper lists the first {} turns and the last; the {} in between are left out.",
            LISTED_TURNS - 1,
            run.turns.len() - turns.len()
        ));
    }
    if summarised > 0 {
        limits.push(format!(
            "The run has {} turns: {} keep their state and trace lines (at most {} lines a turn, {} in all); the other {} show only their counts.",
            run.turns.len(),
            turns.len() - summarised,
            LINES_PER_TURN,
            LINES_IN_ALL,
            summarised
        ));
    }
    turns
}

/// The `--step` view after `turn`, and its trace lines, each list cut at the limits.
fn turn_detail(
    turn: &Turn,
    records: &[Record],
    state: &LoopState,
    names: &HashMap<TaskId, String>,
    notes: Vec<String>,
) -> TurnDetail {
    let queue = state
        .run_queue()
        .take(STATE_ENTRIES)
        .map(|t| label(t, names))
        .collect();
    let timers = state
        .timers_by_slot()
        .into_iter()
        .take(STATE_ENTRIES)
        .map(|t| {
            (
                t.level,
                t.slot,
                format!("#{}", t.timer),
                secs(t.deadline),
                t.task.map_or_else(|| "-".to_string(), |t| label(t, names)),
            )
        })
        .collect();
    let io = state
        .io()
        .take(STATE_ENTRIES)
        .map(|io| {
            let mut waits = Vec::new();
            for t in &io.readers {
                waits.push(format!("{} waits to read", label(*t, names)));
            }
            for t in &io.writers {
                waits.push(format!("{} waits to write", label(*t, names)));
            }
            for t in &io.waiting {
                waits.push(format!("{} waits (read or write)", label(*t, names)));
            }
            let waits = if waits.is_empty() {
                "nobody waiting".to_string()
            } else {
                waits.join(", ")
            };
            (io.token, io.what, io.interest, io.ready(), waits)
        })
        .collect();
    let lines = records[turn.records.clone()]
        .iter()
        .filter_map(|record| {
            let step = LoopStep::of(&record.event)?;
            let (who, what) = record.event.describe(names);
            Some((secs(record.at), clip(who), clip(what), step as u8 + 1))
        })
        .take(LINES_PER_TURN)
        .collect();
    TurnDetail {
        notes,
        queue,
        main_woken: state.main_woken,
        hand: state.wheel_tick(),
        timers,
        io,
        lines,
    }
}

/// What each of the five steps did in `turn`, for the diagram.
fn step_states(run: &Run, turn: &Turn, records: &[Record]) -> [(&'static str, String); 5] {
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let polls = turn.polls.len();
    let run_step = if polls > 0 {
        let tasks = &run.polls[turn.polls.clone()];
        let finished = tasks
            .iter()
            .filter(|p| p.outcome != PollOutcome::Pending)
            .count();
        let mut text = format!("polled {}", plural(polls, "task", "tasks"));
        if finished > 0 {
            let _ = write!(text, "; {finished} finished");
        }
        ("active", text)
    } else {
        ("idle", "no task was ready".to_string())
    };
    let stop = if turn.stopped {
        ("active", "yes: main is done, block_on returns".to_string())
    } else if turn.completed {
        ("idle", "no: main is not done".to_string())
    } else {
        ("skipped", "the records end here".to_string())
    };
    if turn.stopped || (!turn.completed && turn.park.is_none()) {
        let skipped = ("skipped", String::new());
        return [run_step, stop, skipped.clone(), skipped.clone(), skipped];
    }
    let park = turn.park.map(|p| &run.parks[p]);
    let choose = match park {
        Some(p) if !p.peek => match p.timeout {
            Some(t) if t.is_zero() => ("active", "0: a timer is due already".to_string()),
            Some(t) => (
                "active",
                format!("until the next deadline: {} ms", t.as_millis()),
            ),
            None if p.timers == 0 && p.sources == 0 => (
                "active",
                "forever: no timer, no socket (only another thread can wake it)".to_string(),
            ),
            None => ("active", "until I/O: no timer armed".to_string()),
        },
        _ => ("idle", "0: tasks are ready, so no wait".to_string()),
    };
    let park_step = match park {
        Some(p) if p.peek => ("active", format!("peeked at I/O: {}", peek_found(p))),
        Some(p) => {
            let why = match &p.ended_by {
                Some(UnparkReason::ClockJump) => {
                    format!("virtual clock jumps to {}", secs(p.end))
                }
                _ => format!("woken by {}", p.ended_by_words()),
            };
            let waited = p.end.saturating_sub(p.start);
            if waited.is_zero() || matches!(p.ended_by, Some(UnparkReason::ClockJump)) {
                ("active", why)
            } else {
                ("active", format!("{why} after {} ms", waited.as_millis()))
            }
        }
        None => ("skipped", "not parked: tasks are ready".to_string()),
    };
    let fired: Vec<String> = records[turn.records.clone()]
        .iter()
        .filter_map(|r| match &r.event {
            Event::TimersFired { timers, .. } => Some(timers.iter().map(|t| format!("#{t}"))),
            _ => None,
        })
        .flatten()
        .collect();
    let fire = if !fired.is_empty() {
        let shown: Vec<&str> = fired.iter().take(6).map(String::as_str).collect();
        let more = if fired.len() > shown.len() {
            format!(" (+{} more)", fired.len() - shown.len())
        } else {
            String::new()
        };
        ("active", format!("{}{more} fired", shown.join(" ")))
    } else {
        ("idle", "no timer due".to_string())
    };
    [run_step, stop, choose, park_step, fire]
}

// ---------------------------------------------------------------------------------
// The lanes.
// ---------------------------------------------------------------------------------

fn lanes_data(run: &Run, records: &[Record], names: &HashMap<TaskId, String>) -> LanesData {
    let mut lanes = vec![LaneData {
        label: "loop".to_string(),
        task: None,
        end: "",
    }];
    let mut lane_of: HashMap<TaskId, usize> = HashMap::new();
    // Tasks spawned under one name (ch05's three "three_steps") are told apart by
    // their place among the namesakes as well as by their number.
    let mut namesakes: HashMap<&str, (usize, usize)> = HashMap::new();
    for task in run.tasks.iter().take(LANES) {
        namesakes.entry(task.name.as_str()).or_default().1 += 1;
    }
    for task in run.tasks.iter().take(LANES) {
        lane_of.insert(task.id, lanes.len());
        let mut label = task.label();
        if let Some((seen, of)) = namesakes.get_mut(task.name.as_str())
            && *of > 1
            && !task.name.is_empty()
        {
            *seen += 1;
            let _ = write!(label, " ({seen} of {of})");
        }
        lanes.push(LaneData {
            label,
            task: Some(task.id.0),
            end: match task.ended {
                Some(PollOutcome::Ready) => "ready",
                Some(PollOutcome::Panicked(_)) => "panicked",
                _ => "running",
            },
        });
    }
    let hidden_tasks = run.tasks.len().saturating_sub(LANES);
    let others_lane = lanes.len();
    if hidden_tasks > 0 {
        lanes.push(LaneData {
            label: format!("{hidden_tasks} other tasks"),
            task: None,
            end: "",
        });
    }

    let mut cols: Vec<Column> = Vec::new();
    let mut poll_col: HashMap<usize, usize> = HashMap::new();
    let mut park_col: HashMap<usize, usize> = HashMap::new();
    let mut fire_col: HashMap<usize, usize> = HashMap::new();
    let mut total_cols = 0;
    for (index, turn) in run.turns.iter().enumerate() {
        for p in turn.polls.clone() {
            let poll = &run.polls[p];
            match lane_of.get(&poll.task) {
                Some(&lane) => {
                    total_cols += 1;
                    if cols.len() < COLUMNS {
                        poll_col.insert(p, cols.len());
                        cols.push(poll_column(run, p, lane, index, records, names));
                    }
                }
                None => {
                    // Polls of tasks without a lane in a row make one column.
                    let joins = cols
                        .last()
                        .is_some_and(|c| c.k == "others" && c.turn == index);
                    if joins {
                        let last = cols.last_mut().expect("checked");
                        let n: usize = last.l.parse().unwrap_or(1) + 1;
                        last.l = n.to_string();
                        last.tip = format!("{n} polls of tasks without a lane of their own");
                    } else {
                        total_cols += 1;
                        if cols.len() < COLUMNS {
                            cols.push(Column {
                                k: "others",
                                lane: others_lane,
                                turn: index,
                                t: secs(poll.start),
                                l: "1".to_string(),
                                m: String::new(),
                                tip: "1 poll of a task without a lane of its own".to_string(),
                                d: None,
                            });
                        }
                    }
                }
            }
        }
        if let Some(p) = turn.park {
            total_cols += 1;
            if cols.len() < COLUMNS {
                park_col.insert(p, cols.len());
                cols.push(park_column(run, p, index));
            }
        } else {
            total_cols += 1;
            if cols.len() < COLUMNS {
                cols.push(no_park_column(turn, index));
            }
        }
        if turn.timers_fired > 0 {
            total_cols += 1;
            if cols.len() < COLUMNS {
                fire_col.insert(index, cols.len());
                cols.push(fire_column(turn, index, records));
            }
        }
    }

    let turn_of_record = |record: usize| {
        run.turns
            .partition_point(|t| t.records.end <= record)
            .min(run.turns.len().saturating_sub(1))
    };
    let mut arrows = Vec::new();
    for wake in &run.wakes {
        let Some(to) = wake.to_poll.and_then(|p| poll_col.get(&p)) else {
            continue;
        };
        let (from, kind) = match &wake.by {
            Waker::Task(by) => {
                let Some(from) = wake.from_poll.and_then(|p| poll_col.get(&p)) else {
                    continue;
                };
                (*from, if *by == wake.task { "self" } else { "task" })
            }
            Waker::Timer(_) => match fire_col.get(&turn_of_record(wake.record)) {
                Some(from) => (*from, "timer"),
                None => continue,
            },
            Waker::Io(_) => {
                let turn = &run.turns[turn_of_record(wake.record)];
                match turn.park.and_then(|p| park_col.get(&p)) {
                    Some(from) => (*from, "io"),
                    None => continue,
                }
            }
            Waker::Thread => continue,
        };
        if arrows.len() == ARROWS {
            break;
        }
        arrows.push((from, *to, kind));
    }
    LanesData {
        lanes,
        hidden_cols: total_cols - cols.len(),
        cols,
        arrows,
        hidden_tasks,
    }
}

fn poll_column(
    run: &Run,
    p: usize,
    lane: usize,
    turn: usize,
    records: &[Record],
    names: &HashMap<TaskId, String>,
) -> Column {
    let poll = &run.polls[p];
    let task = run
        .task(poll.task)
        .map_or_else(|| poll.task.to_string(), TaskLane::label);
    let (l, returned) = match &poll.outcome {
        PollOutcome::Pending => ("P", "Pending".to_string()),
        PollOutcome::Ready => ("R", "Ready".to_string()),
        PollOutcome::Panicked(message) => ("!", format!("panicked: {message}")),
        PollOutcome::Unfinished => ("?", "(the records end during the poll)".to_string()),
    };
    let mut marks = String::new();
    let mut tip = vec![format!(
        "{task}: poll at {} -> {returned} (turn {})",
        secs(poll.start),
        turn + 1
    )];
    for record in &records[poll.records.clone()] {
        let mark = match &record.event {
            Event::TimerArmed { .. } => '◷',
            Event::Spawn { .. } => '+',
            Event::IoWouldBlock { .. } => '⋯',
            Event::Note { .. } => '✎',
            Event::WokenByTask { .. } | Event::TimerCancelled { .. } => ' ',
            Event::IoRegistered { .. } | Event::IoDeregistered { .. } => ' ',
            _ => continue,
        };
        if mark != ' ' && !marks.contains(mark) {
            marks.push(mark);
        }
        if tip.len() < TIP_LINES {
            tip.push(clip(record.event.describe(names).1));
        } else if tip.len() == TIP_LINES {
            tip.push("...".to_string());
        }
    }
    Column {
        k: "poll",
        lane,
        turn,
        t: secs(poll.start),
        l: l.to_string(),
        m: marks,
        tip: tip.join("\n"),
        d: None,
    }
}

fn park_column(run: &Run, p: usize, turn: usize) -> Column {
    let park = &run.parks[p];
    let ended_by = park.ended_by_words();
    let waited = park.end.saturating_sub(park.start);
    let (k, l, tip) = if park.peek {
        (
            "peek",
            format!("peek · {}", short_reason(park)),
            format!(
                "tasks were ready: a zero-timeout peek at the reactor found {} (turn {})",
                peek_found(park),
                turn + 1
            ),
        )
    } else {
        let limit = match park.timeout {
            Some(t) => format!("at most {}", millis(t)),
            None => "until something happens".to_string(),
        };
        (
            "park",
            format!("{} · {}", short_reason(park), millis(waited)),
            format!(
                "park at {}: {}, {}, wait {limit}; ended by {ended_by} at {} after {} (turn {})",
                secs(park.start),
                counted(park.timers, "timer", "timers"),
                counted(park.sources, "socket", "sockets"),
                secs(park.end),
                millis(waited),
                turn + 1
            ),
        )
    };
    Column {
        k,
        lane: 0,
        turn,
        t: secs(park.end),
        l,
        m: String::new(),
        tip,
        d: Some(waited.as_secs_f64() * 1000.0),
    }
}

/// What ended a park, as short as its box can hold: "I/O ×3", "deadline", "jump".
fn short_reason(park: &super::lanes::Park) -> String {
    match &park.ended_by {
        Some(UnparkReason::ClockJump) => format!("jump → {}", secs(park.end)),
        Some(UnparkReason::Io(n)) => format!("I/O ×{}", grouped(*n as u64)),
        Some(UnparkReason::Deadline) => "deadline".to_string(),
        Some(UnparkReason::RemoteWake) => "remote wake".to_string(),
        Some(UnparkReason::Nothing) => "interrupted".to_string(),
        None => "not traced".to_string(),
    }
}

/// What a peek found: "3 events", "1,024 events", "a remote wake".
fn peek_found(park: &super::lanes::Park) -> String {
    match &park.ended_by {
        Some(UnparkReason::Io(n)) => counted(*n, "I/O event", "I/O events"),
        _ => park.ended_by_words(),
    }
}

/// "1 timer", "3 timers", "1,024 events".
fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", grouped(n as u64), if n == 1 { one } else { many })
}

/// 1002 -> "1,002".
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A wait in milliseconds as a park's box gives it: "1,002 ms", "0.4 ms", "0 ms".
fn millis(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if d.is_zero() {
        "0 ms".to_string()
    } else if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{} ms", grouped(ms.round() as u64))
    }
}

/// The loop's lane in a turn that did not park: tasks were ready, so step 3 chose no
/// wait; or main was done, so step 2 stopped the loop.
fn no_park_column(turn: &Turn, index: usize) -> Column {
    let (k, l, tip) = if turn.stopped {
        (
            "stop",
            "stop".to_string(),
            format!(
                "main is done: step 2 stops the loop and block_on returns (turn {})",
                index + 1
            ),
        )
    } else if turn.completed {
        (
            "nopark",
            "no wait".to_string(),
            format!(
                "tasks were ready: step 3 chose no wait, and step 4 did not park (turn {})",
                index + 1
            ),
        )
    } else {
        (
            "nopark",
            "cut off".to_string(),
            format!("the records end in this turn (turn {})", index + 1),
        )
    };
    Column {
        k,
        lane: 0,
        turn: index,
        t: secs(turn.end),
        l,
        m: String::new(),
        tip,
        d: None,
    }
}

fn fire_column(turn: &Turn, index: usize, records: &[Record]) -> Column {
    let mut timers = Vec::new();
    let mut at = turn.end;
    for record in &records[turn.records.clone()] {
        if let Event::TimersFired { timers: fired, .. } = &record.event {
            at = record.at;
            timers.extend(fired.iter().map(|t| format!("#{t}")));
        }
    }
    Column {
        k: "fire",
        lane: 0,
        turn: index,
        t: secs(at),
        l: format!("×{}", timers.len()),
        m: String::new(),
        d: None,
        tip: format!(
            "timers {} fired at {} (turn {})",
            timers.join(" "),
            secs(at),
            index + 1
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;"
        );
    }

    #[test]
    fn the_data_cannot_close_its_script_element() {
        let text = "<!--<script></script><script>alert(1)</script>";
        let records = vec![Record {
            at: Duration::ZERO,
            event: Event::Note {
                task: None,
                text: text.into(),
            },
        }];
        let page = html(&records, &HtmlExtras::default());
        assert_eq!(
            page.matches("</script>").count(),
            2,
            "only the page's own two"
        );
        assert!(!page.contains("<!--"));
        // And the text comes back whole from the JSON.
        let open = "id=\"looplab-data\">";
        let start = page.find(open).unwrap() + open.len();
        let end = start + page[start..].find("</script>").unwrap();
        let data: serde_json::Value = serde_json::from_str(&page[start..end]).unwrap();
        let line = &data["turns"][0]["detail"]["lines"][0][2];
        assert_eq!(line.as_str().unwrap(), format!("\"{text}\""));
    }

    #[test]
    fn an_empty_recording_gives_the_callers_parts_and_says_there_is_no_loop() {
        let extras = HtmlExtras {
            table_html: Some("<table class=\"runs\"></table>".into()),
            timeline_svg: Some("<svg></svg>".into()),
            ..HtmlExtras::default()
        };
        let page = html(&[], &extras);
        assert!(page.contains("<table class=\"runs\"></table>"));
        assert!(page.contains("<svg></svg>"));
        assert!(page.contains(NO_LOOP));
        assert!(!page.contains("<script"), "nothing to draw, so no script");
        assert!(!page.contains("id=\"stepper\""));
        assert!(page.trim_end().ends_with("</html>"));
        let said = html(
            &[],
            &HtmlExtras {
                no_loop_note: Some("sequential <only>".into()),
                ..HtmlExtras::default()
            },
        );
        assert!(said.contains("sequential &lt;only&gt;") && !said.contains(NO_LOOP));
    }

    fn rec(ms: u64, event: Event) -> Record {
        Record {
            at: Duration::from_millis(ms),
            event,
        }
    }

    /// A poll of `task` that returns Pending, as records.
    fn pending_poll(ms: u64, task: u64) -> [Record; 2] {
        [
            rec(ms, Event::Poll { task: TaskId(task) }),
            rec(ms, Event::Pending { task: TaskId(task) }),
        ]
    }

    #[test]
    fn a_parks_box_gives_what_ended_it_and_how_long_and_its_tip_counts_in_words() {
        let mut records = vec![rec(0, Event::BlockOnStart)];
        records.extend(pending_poll(0, 0));
        records.push(rec(
            0,
            Event::Park {
                timeout: None,
                timers: 1,
                sources: 1,
            },
        ));
        records.push(rec(
            1002,
            Event::Unpark {
                reason: UnparkReason::Io(3),
            },
        ));
        records.push(rec(1002, Event::TurnEnded { turn: 1 }));
        records.extend(pending_poll(1002, 0));
        records.push(rec(
            1002,
            Event::Unpark {
                reason: UnparkReason::Io(1024),
            },
        ));
        records.push(rec(1002, Event::TurnEnded { turn: 2 }));
        let data = page_data(&records);
        let parks: Vec<(&str, &str)> = data
            .lanes
            .cols
            .iter()
            .filter(|c| c.k == "park" || c.k == "peek")
            .map(|c| (c.l.as_str(), c.tip.as_str()))
            .collect();
        assert_eq!(parks[0].0, "I/O ×3 · 1,002 ms");
        assert!(parks[0].1.contains("1 timer, 1 socket,"), "{}", parks[0].1);
        assert_eq!(parks[1].0, "peek · I/O ×1,024");
        let notes = &data.turns[1].detail.as_ref().unwrap().notes;
        assert_eq!(notes[3], "peeked at I/O: 1,024 I/O events");
    }

    #[test]
    fn namesakes_get_lanes_named_apart_and_a_turn_without_a_park_shows_on_the_loops_lane() {
        let mut records = vec![rec(0, Event::BlockOnStart)];
        for task in 1..=3 {
            records.push(rec(
                0,
                Event::Spawn {
                    parent: Some(TaskId(0)),
                    task: TaskId(task),
                    name: "three_steps".into(),
                },
            ));
        }
        for task in 1..=3 {
            records.extend(pending_poll(0, task));
        }
        records.push(rec(0, Event::TurnEnded { turn: 1 }));
        records.push(rec(0, Event::Poll { task: TaskId(0) }));
        records.push(rec(0, Event::Ready { task: TaskId(0) }));
        records.push(rec(
            0,
            Event::BlockOnReturn {
                elapsed: Duration::ZERO,
            },
        ));
        let data = page_data(&records);
        let labels: Vec<&str> = data.lanes.lanes.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "loop",
                "task 0 main",
                "task 1 three_steps (1 of 3)",
                "task 2 three_steps (2 of 3)",
                "task 3 three_steps (3 of 3)"
            ]
        );
        let on_the_loop: Vec<(&str, &str)> = data
            .lanes
            .cols
            .iter()
            .filter(|c| c.lane == 0)
            .map(|c| (c.k, c.l.as_str()))
            .collect();
        assert_eq!(on_the_loop, [("nopark", "no wait"), ("stop", "stop")]);
        assert_eq!(data.running_len, 3, "the three never finished");
    }

    #[test]
    fn the_legend_names_every_arrow_colour_box_and_mark_the_lanes_draw() {
        let legend = &LANES_HTML[LANES_HTML.find("id=\"legend\"").unwrap()..];
        let legend = &legend[..legend.find("lanes-controls").unwrap()];
        // The arrows' kinds (lanes_data) and colours (page.css), each said in words.
        for words in [
            "purple: a task woke another",
            "purple dashed: a task woke itself",
            "pink: a timer fired",
            "teal: the reactor",
        ] {
            assert!(legend.contains(words), "{words}");
        }
        // Every mark poll_column puts in a box, and every kind of box.
        for mark in ['◷', '+', '⋯', '✎'] {
            assert!(
                legend.contains(&format!("<b class=\"lg-mark\">{mark}</b>")),
                "{mark}"
            );
        }
        for kind in [
            "lg-pending",
            "lg-ready",
            "lg-panic",
            "lg-cut",
            "lg-park",
            "lg-stop",
            "lg-fire",
            "lg-life",
        ] {
            assert!(legend.contains(kind), "{kind}");
        }
        assert!(legend.contains("no wait") && legend.contains("peek"));
    }

    #[test]
    fn waits_read_in_milliseconds_with_thousands_grouped() {
        assert_eq!(millis(Duration::ZERO), "0 ms");
        assert_eq!(millis(Duration::from_micros(400)), "0.4 ms");
        assert_eq!(millis(Duration::from_millis(1002)), "1,002 ms");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(counted(1, "timer", "timers"), "1 timer");
        assert_eq!(counted(2, "timer", "timers"), "2 timers");
    }

    #[test]
    fn a_page_loads_nothing_from_elsewhere() {
        let records = [Record {
            at: Duration::ZERO,
            event: Event::Poll { task: TaskId(0) },
        }];
        let page = html(&records, &HtmlExtras::default());
        assert!(page.contains("id=\"stepper\""));
        for reference in [
            "src=\"http",
            "href=\"http",
            "url(http",
            "@import",
            "src=\"//",
        ] {
            assert!(!page.contains(reference), "{reference}");
        }
    }
}
