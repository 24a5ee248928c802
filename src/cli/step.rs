//! `--step`: the loop one turn at a time, on an 80-column screen.
//!
//! After each turn the loop calls the hook built here. It prints the turn's summary
//! first (what ran, how step 4 went), then the state the next turn starts from (main,
//! the run queue, the wheel and its timers, the sockets with their readiness and who
//! waits), then the turn's own trace lines, wrapped to the screen. Then it waits for
//! Enter. The trace is not printed as it happens: the hook reads it from a recorder,
//! so each line appears once, in its turn.
//!
//! Three things a reader cannot guess from the trace alone are said in words: a turn's
//! header gives the clock when the turn *ended* (and when it began, if its park moved
//! the clock); the `park` row gives the limit the park started with, in the trace's own
//! words ("next deadline in 1000 ms"), and then what ended it; and the last turn says
//! which tasks never finished, and why.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, BufRead, IsTerminal};
use std::time::Duration;

use looplab::Recorder;

use crate::lookup::{flush_out, write_out};
use looplab::executor::{IoView, ParkReport, TimerView, TurnView};
use looplab::trace::{Event, TaskId, UnparkReason};

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
    // The clock when the turn before ended: when this one began.
    let mut turn_began = Duration::ZERO;
    move |view: &TurnView| {
        let (records, lines) = recorder.since(shown);
        let first_turn = shown == 0;
        shown += records.len();
        let events: Vec<Event> = records.into_iter().map(|r| r.event).collect();
        // Through the command's one writer: a reader who went away ends the run quietly,
        // a full disk ends it with an error, as for every other kind of output.
        if first_turn {
            write_out(format_args!("{HOW_TO_READ}"));
        }
        write_out(format_args!(
            "{}",
            render_turn(view, turn_began, &events, &lines)
        ));
        turn_began = view.now;
        if !interactive {
            return;
        }
        write_out(format_args!("[Enter: next turn] "));
        // Piped input is not a person at a keyboard: end the prompt's line, or the
        // next turn's first line would be glued to it.
        if !io::stdin().is_terminal() {
            write_out(format_args!("\n"));
        }
        flush_out();
        let mut line = String::new();
        if matches!(io::stdin().lock().read_line(&mut line), Ok(0) | Err(_)) {
            interactive = false;
            write_out(format_args!("(end of input: running to the end)\n"));
        }
    }
}

/// Printed once, above turn 1: how to read a turn.
const HOW_TO_READ: &str = "\
Each turn: its header (the clock when the turn ended, and when it began if its
park moved the clock; the polls it made), then the state the next turn starts
from, with step 4's park in words, then the turn's trace.
";

/// The lines recorded after the last turn ended: the turn in which main returns,
/// which stops at step 2 and so never reaches the hook. Then what the loop left
/// unfinished, since the counters' "spawned" and "completed" differ by it.
pub fn last_turn(recorder: &Recorder) -> String {
    let records = recorder.records();
    let after_last_turn = records
        .iter()
        .rposition(|r| matches!(r.event, Event::TurnEnded { .. }))
        .map_or(0, |i| i + 1);
    let (last, lines) = recorder.since(after_last_turn);
    let mut text = String::from("--- last turn: main returns, the loop stops ---\n");
    for line in lines {
        text += &wrap(&line);
    }
    let all: Vec<Event> = records.into_iter().map(|r| r.event).collect();
    let last: Vec<Event> = last.into_iter().map(|r| r.event).collect();
    text += &describe_unfinished(&all, &last);
    text
}

/// Why some tasks never complete: `block_on` returns as soon as main does, in the
/// middle of a turn, so a task main woke in its last poll is never polled again, and
/// every task still alive is dropped with the runtime. `all` is the whole run's
/// events, `last` the last turn's.
fn describe_unfinished(all: &[Event], last: &[Event]) -> String {
    let mut alive: BTreeMap<TaskId, String> = BTreeMap::new();
    for event in all {
        match event {
            Event::Spawn { task, name, .. } => {
                alive.insert(*task, label(*task, name));
            }
            Event::Ready { task } | Event::Panicked { task, .. } => {
                alive.remove(task);
            }
            _ => {}
        }
    }
    if alive.is_empty() {
        return String::new();
    }
    let woken_by_main: Vec<String> = last
        .iter()
        .filter_map(|event| match event {
            Event::WokenByTask { task, by } if by.0 == 0 && *task != *by => {
                alive.get(task).cloned()
            }
            _ => None,
        })
        .collect();
    let mut text = String::new();
    if !woken_by_main.is_empty() {
        text += &wrap_at(
            &format!(
                "main's last poll woke {} (its stop signal), but main returned in that same \
                 poll: block_on ends at once, and no task is polled after main.",
                woken_by_main.join(", ")
            ),
            0,
        );
    }
    let names: Vec<&str> = alive.values().map(String::as_str).collect();
    text += &wrap_at(
        &format!(
            "{} never completed: still alive when the loop stopped, {} dropped with the \
             runtime. Hence \"spawned\" and \"completed\" below differ by {}.",
            names.join(", "),
            if names.len() == 1 {
                "it is"
            } else {
                "they are"
            },
            names.len()
        ),
        0,
    );
    text
}

/// `task 5 connection 1`, or `task 5` for a task spawned without a name.
fn label(task: TaskId, name: &str) -> String {
    if name.is_empty() {
        task.to_string()
    } else {
        format!("{task} {name}")
    }
}

/// One turn, which began at `began` on the runtime's clock: summary, state, then the
/// trace lines.
pub fn render_turn(view: &TurnView, began: Duration, events: &[Event], lines: &[String]) -> String {
    let polls = events
        .iter()
        .filter(|e| matches!(e, Event::Poll { .. }))
        .count();
    let mut text = String::new();
    // The view is taken when the turn ends: its clock is the turn's end.
    let began = if began == view.now {
        String::new()
    } else {
        format!(" (began at {:.3}s)", began.as_secs_f64())
    };
    let head = format!(
        "--- turn {} at {:.3}s{began}: {} poll{} ",
        view.turn,
        view.now.as_secs_f64(),
        polls,
        if polls == 1 { "" } else { "s" },
    );
    let _ = writeln!(text, "{}", fill(&head, '-'));
    text += &wrap_field("park", &describe_park(&view.park, park_limit(events)));
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

/// The limit the turn's park started with, in the words of its trace line (`park:
/// ...; next deadline in 1000 ms`), if the turn parked.
fn park_limit(events: &[Event]) -> Option<String> {
    events.iter().rev().find_map(|event| match event {
        Event::Park {
            timeout,
            timers,
            sources,
        } => Some(match timeout {
            Some(t) if t.is_zero() => "a timer is due already".to_string(),
            Some(t) => format!("next deadline in {} ms", t.as_millis()),
            None if *timers == 0 && *sources == 0 => "no timer, no socket".to_string(),
            None => "wait for I/O (no timer armed)".to_string(),
        }),
        _ => None,
    })
}

/// Step 4 in words: the limit the park started with, then what ended it. The trace
/// says the same in two lines, `park: ...` and `unpark: ...`.
fn describe_park(park: &ParkReport, limit: Option<String>) -> String {
    let limit = limit.map(|l| format!("{l}; ")).unwrap_or_default();
    let how = describe_park_end(park);
    match park {
        ParkReport::Skipped | ParkReport::Peeked { .. } => how,
        _ => format!("{limit}{how}"),
    }
}

fn describe_park_end(park: &ParkReport) -> String {
    match park {
        ParkReport::Skipped => "no park (tasks ready)".to_string(),
        ParkReport::Peeked { events: 0 } => {
            "no park (tasks ready), peeked at I/O: nothing".to_string()
        }
        ParkReport::Peeked { events } => {
            format!("no park (tasks ready), peeked at I/O: {events} events")
        }
        ParkReport::Settled { events } => format!(
            "{events} I/O event{} at once, no wait",
            if *events == 1 { "" } else { "s" }
        ),
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

    fn spawn(task: u64, name: &str) -> Event {
        Event::Spawn {
            parent: Some(TaskId(0)),
            task: TaskId(task),
            name: name.to_string(),
        }
    }

    #[test]
    fn the_last_turn_names_the_tasks_that_never_completed_and_main_s_last_wake() {
        let all = [
            spawn(1, "directory"),
            spawn(2, "find_users(1)"),
            spawn(3, "connection 1"),
            Event::Ready { task: TaskId(2) },
        ];
        let last = [Event::WokenByTask {
            task: TaskId(1),
            by: TaskId(0),
        }];
        let text = describe_unfinished(&all, &last).replace('\n', " ");
        assert!(
            text.contains("main's last poll woke task 1 directory"),
            "{text}"
        );
        assert!(
            text.contains("task 1 directory, task 3 connection 1 never completed"),
            "{text}"
        );
        assert!(text.contains("differ by 2"), "{text}");
        assert!(!text.contains("find_users"), "{text}");
        // Every task done: nothing to explain.
        let done = [spawn(2, "find_users(1)"), Event::Ready { task: TaskId(2) }];
        assert_eq!(describe_unfinished(&done, &[]), "");
    }

    #[test]
    fn a_turn_says_when_it_began_if_its_park_moved_the_clock() {
        let view = TurnView {
            turn: 4,
            now: Duration::from_secs(1),
            main_woken: false,
            run_queue: Vec::new(),
            park: ParkReport::Jumped {
                from: Duration::ZERO,
                to: Duration::from_secs(1),
            },
            wheel_tick: 1000,
            timers: Vec::new(),
            io: Vec::new(),
        };
        let park = Event::Park {
            timeout: Some(Duration::from_secs(1)),
            timers: 3,
            sources: 0,
        };
        let text = render_turn(&view, Duration::ZERO, &[park], &[]);
        assert!(
            text.starts_with("--- turn 4 at 1.000s (began at 0.000s): 0 polls"),
            "{text}"
        );
        // The park row says what the trace's park line says, then how it ended.
        assert!(
            text.contains("park       next deadline in 1000 ms; clock jumped 0.000s -> 1.000s"),
            "{text}"
        );
        let same_time = render_turn(&view, Duration::from_secs(1), &[], &[]);
        assert!(
            same_time.starts_with("--- turn 4 at 1.000s: 0 polls"),
            "{same_time}"
        );
    }

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
