//! `--step`: the loop one turn at a time, on an 80-column screen.
//!
//! After each turn the loop calls the hook built here. It prints the turn's summary
//! first (what ran, how step 4 went), then the state the next turn starts from (main,
//! the run queue, the wheel and its timers, the sockets with their readiness and who
//! waits), then the turn's own trace lines, wrapped to the screen. Then it waits for
//! Enter. The trace is not printed as it happens: the hook reads it from a recorder,
//! so each line appears once, in its turn.

use std::fmt::Write as _;
use std::io::{self, BufRead, IsTerminal, Write};

use looplab::Recorder;
use looplab::executor::{IoView, ParkReport, TimerView, TurnView};
use looplab::trace::{Event, UnparkReason};

/// The screen's width: the view never prints a longer line.
const WIDTH: usize = 80;

/// Where the "what" column of a trace line starts (`trace/mod.rs` aligns it there): a
/// wrapped line continues under it.
const WHAT_COLUMN: usize = 35;

/// The `--step` hook: prints each turn from `recorder` and waits for Enter. At the end
/// of input it stops asking and lets the run finish.
pub fn stepper(recorder: Recorder) -> impl FnMut(&TurnView) {
    let mut shown = 0;
    let mut interactive = true;
    move |view: &TurnView| {
        let (records, lines) = recorder.since(shown);
        shown += records.len();
        let events: Vec<Event> = records.into_iter().map(|r| r.event).collect();
        let mut out = io::stdout().lock();
        let _ = write!(out, "{}", render_turn(view, &events, &lines));
        if !interactive {
            return;
        }
        let _ = write!(out, "[Enter: next turn] ");
        // Piped input is not a person at a keyboard: end the prompt's line, or the
        // next turn's first line would be glued to it.
        if !io::stdin().is_terminal() {
            let _ = writeln!(out);
        }
        let _ = out.flush();
        drop(out);
        let mut line = String::new();
        if matches!(io::stdin().lock().read_line(&mut line), Ok(0) | Err(_)) {
            interactive = false;
            println!("(end of input: running to the end)");
        }
    }
}

/// The lines recorded after the last turn ended: the turn in which main returns,
/// which stops at step 2 and so never reaches the hook.
pub fn last_turn(recorder: &Recorder) -> String {
    let records = recorder.records();
    let after_last_turn = records
        .iter()
        .rposition(|r| matches!(r.event, Event::TurnEnded { .. }))
        .map_or(0, |i| i + 1);
    let (_, lines) = recorder.since(after_last_turn);
    let mut text = String::from("--- last turn: main returns, the loop stops ---\n");
    for line in lines {
        text += &wrap(&line);
    }
    text
}

/// One turn: summary, state, then the trace lines.
pub fn render_turn(view: &TurnView, events: &[Event], lines: &[String]) -> String {
    let polls = events
        .iter()
        .filter(|e| matches!(e, Event::Poll { .. }))
        .count();
    let mut text = String::new();
    let head = format!(
        "--- turn {} at {:.3}s: {} poll{}, {} ",
        view.turn,
        view.now.as_secs_f64(),
        polls,
        if polls == 1 { "" } else { "s" },
        describe_park(&view.park)
    );
    let _ = writeln!(text, "{}", fill(&head, '-'));
    let main = if view.main_woken {
        "woken: polled first next turn"
    } else {
        "waiting"
    };
    let _ = writeln!(text, "main       {main}");
    let queue: Vec<String> = view.run_queue.iter().map(|t| t.to_string()).collect();
    let queue = if queue.is_empty() {
        "(empty)".to_string()
    } else {
        queue.join(", ")
    };
    text += &wrap_field("run queue", &queue);
    text += &describe_timers(view.wheel_tick, &view.timers);
    text += &describe_io(&view.io);
    if !lines.is_empty() {
        let _ = writeln!(text, "{}", fill("trace of this turn ", '.'));
        for line in lines {
            text += &wrap(line);
        }
    }
    text
}

fn describe_park(park: &ParkReport) -> String {
    match park {
        ParkReport::Skipped => "no park (tasks ready)".to_string(),
        ParkReport::Peeked { events: 0 } => "peeked at I/O: nothing".to_string(),
        ParkReport::Peeked { events } => format!("peeked at I/O: {events} events"),
        ParkReport::Waited { waited, ended_by } => {
            let why = match ended_by {
                UnparkReason::Deadline => "deadline".to_string(),
                UnparkReason::Io(n) => format!("{n} I/O"),
                UnparkReason::RemoteWake => "other thread".to_string(),
                UnparkReason::ClockJump => "jump".to_string(),
                UnparkReason::Nothing => "signal".to_string(),
            };
            format!("waited {:.1} ms: {why}", waited.as_secs_f64() * 1000.0)
        }
        ParkReport::Jumped { from, to } => format!(
            "clock jumped {:.3}s -> {:.3}s",
            from.as_secs_f64(),
            to.as_secs_f64()
        ),
    }
}

fn describe_timers(wheel_tick: u64, timers: &[TimerView]) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "wheel      hand at tick {wheel_tick}; {} timer{}",
        timers.len(),
        if timers.len() == 1 { "" } else { "s" }
    );
    for timer in timers {
        let task = timer.task.map(|t| format!(" for {t}")).unwrap_or_default();
        let _ = writeln!(
            text,
            "  L{} slot {:>2}  #{} due {:.3}s{task}",
            timer.level,
            timer.slot,
            timer.timer,
            timer.deadline.as_secs_f64()
        );
    }
    text
}

fn describe_io(io: &[IoView]) -> String {
    let mut text = String::new();
    if io.is_empty() {
        let _ = writeln!(text, "I/O        (no sockets)");
        return text;
    }
    let _ = writeln!(text, "I/O        token what          ready  who waits");
    for source in io {
        let ready = match (source.readable, source.writable) {
            (true, true) => "r w",
            (true, false) => "r -",
            (false, true) => "- w",
            (false, false) => "- -",
        };
        let mut waiting = Vec::new();
        if let Some(t) = source.reader {
            waiting.push(format!("{t} reads"));
        }
        if let Some(t) = source.writer {
            waiting.push(format!("{t} writes"));
        }
        let waiting = if waiting.is_empty() {
            "nobody".to_string()
        } else {
            waiting.join(", ")
        };
        let row = format!(
            "  {:>5} {:<13} {ready}  {waiting}",
            source.token, source.what
        );
        text += &wrap_at(&row, 28);
    }
    text
}

/// `label     value`, the value wrapped under itself.
fn wrap_field(label: &str, value: &str) -> String {
    wrap_at(&format!("{label:<10} {value}"), 11)
}

/// A trace line, its "what" column wrapped under itself.
fn wrap(line: &str) -> String {
    wrap_at(line, WHAT_COLUMN)
}

/// Breaks `line` at spaces so no piece is wider than [`WIDTH`]; continuation lines are
/// indented by `indent`. A word longer than a line is cut.
fn wrap_at(line: &str, indent: usize) -> String {
    let mut text = String::new();
    let mut rest = line.trim_end();
    let mut first = true;
    loop {
        let room = if first { WIDTH } else { WIDTH - indent };
        if rest.chars().count() <= room {
            if !first {
                text.push_str(&" ".repeat(indent));
            }
            text.push_str(rest);
            text.push('\n');
            return text;
        }
        let cut: usize = rest
            .char_indices()
            .nth(room)
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let at = rest[..cut]
            .rfind(' ')
            .filter(|&i| i > if first { indent } else { 0 })
            .unwrap_or(cut);
        if !first {
            text.push_str(&" ".repeat(indent));
        }
        text.push_str(rest[..at].trim_end());
        text.push('\n');
        rest = rest[at..].trim_start();
        first = false;
    }
}

/// `head` padded with `fill` to the screen's width.
fn fill(head: &str, fill: char) -> String {
    let used = head.chars().count();
    if used >= WIDTH {
        return head.chars().take(WIDTH).collect();
    }
    let mut line = head.to_string();
    line.extend(std::iter::repeat_n(fill, WIDTH - used));
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_wrap_under_their_column_and_never_pass_80() {
        let line = format!(
            "{:<35}{}",
            "  1.000s  loop",
            "park: run queue empty, 3 timers, 4 sockets; next deadline in 1000 ms, and more words to wrap"
        );
        let wrapped = wrap(&line);
        for piece in wrapped.lines() {
            assert!(piece.chars().count() <= WIDTH, "{piece:?}");
        }
        assert!(
            wrapped
                .lines()
                .nth(1)
                .unwrap()
                .starts_with(&" ".repeat(WHAT_COLUMN))
        );
        assert_eq!(
            wrapped.split_whitespace().collect::<Vec<_>>(),
            line.split_whitespace().collect::<Vec<_>>()
        );
    }
}
