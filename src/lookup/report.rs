//! What a run of the scenario measured, and the three ways it is shown.
//!
//! The post's claim is a claim about numbers: three requests for 3, 2 and 1 users
//! arrive together; one after another they finish at 3, 5 and 6 seconds, on an event
//! loop at 3, 2 and 1 seconds. Every client (sequential, threads, event loop) records
//! the same things, so the three can be compared line by line:
//!
//! - a [`Span`] per user lookup: when the call started and when its answer arrived,
//!   both measured from the start of the run (the moment the requests "arrive");
//! - per request, its latency: from the start of the run to its last answer. This is
//!   what a user of the service waits, which is why the sequential client's second
//!   request counts the 3 seconds it spent queued behind the first;
//! - per run, the total: from the start until every request is answered.
//!
//! They are shown as a table ([`render_table`]), as one JSON document for scripts and
//! tests ([`to_json`]), and as a timeline ([`render_timeline`]) that draws every lookup
//! as a block on one time axis. The timeline is the post's picture of sequential versus
//! concurrent work, drawn from measurements instead of by hand: sequential blocks form a
//! staircase, event-loop blocks all start at zero.
//!
//! ```text
//!              0s        1s        2s        3s        4s        5s        6s
//! sequential
//!   3 users    [========][========][========]                                  3.00 s
//!   2 users                                  [========][========]              5.00 s
//!   1 user                                                       [========]    6.00 s
//! event-loop (one thread)
//!   3 users    [========][========][========]                                  3.00 s
//!   2 users    [========][========]                                            2.00 s
//!   1 user     [========]                                                      1.00 s
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Which client ran: the three ways the post (and chapter 2) finds users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// One thread, requests one after another: the post's `process_sync`.
    Sequential,
    /// One OS thread per request, each blocking on its own calls.
    Threads,
    /// One thread, one looplab task per request: the post's `process_async`.
    EventLoop,
}

impl Mode {
    /// Every mode, in the order they are compared.
    pub const ALL: [Mode; 3] = [Mode::Sequential, Mode::Threads, Mode::EventLoop];

    /// The name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Sequential => "sequential",
            Mode::Threads => "threads",
            Mode::EventLoop => "event-loop",
        }
    }

    /// The timeline's heading for this mode: its name and how many threads it uses.
    fn heading(self, virtual_time: bool) -> String {
        let threads = match self {
            Mode::Sequential => None,
            Mode::Threads => Some("one per request"),
            Mode::EventLoop => Some("one thread"),
        };
        match (threads, virtual_time) {
            (None, false) => self.as_str().to_owned(),
            (None, true) => format!("{} (virtual time)", self.as_str()),
            (Some(threads), false) => format!("{} ({threads})", self.as_str()),
            (Some(threads), true) => format!("{} ({threads}, virtual time)", self.as_str()),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A mode name that is not one of [`Mode::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMode(pub String);

impl fmt::Display for UnknownMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown mode {:?}, expected sequential, threads or event-loop",
            self.0
        )
    }
}

impl std::error::Error for UnknownMode {}

impl FromStr for Mode {
    type Err = UnknownMode;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Mode::ALL
            .into_iter()
            .find(|mode| mode.as_str() == text)
            .ok_or_else(|| UnknownMode(text.to_owned()))
    }
}

/// One user lookup: when its call started and when its answer arrived, both as offsets
/// from the start of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// When the request for this user was sent.
    pub start: Duration,
    /// When the whole answer had arrived.
    pub end: Duration,
}

/// What one request (find `users` users) measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestReport {
    /// How many users the request asked for.
    pub users: u32,
    /// From the start of the run to the request's last answer.
    pub latency: Duration,
    /// One span per user, in the order they were looked up.
    pub lookups: Vec<Span>,
}

/// What one run of one mode measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// Which client ran.
    pub mode: Mode,
    /// Whether the times are on looplab's virtual clock (exact, and no wall time spent).
    pub virtual_time: bool,
    /// From the start of the run until every request was answered.
    pub total: Duration,
    /// One report per request, in the order the requests were given (not the order
    /// they finished).
    pub requests: Vec<RequestReport>,
}

/// The `--json` document: `{"runs":[...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunsJson {
    /// One entry per run, in the order they ran.
    pub runs: Vec<RunJson>,
}

/// One run in the `--json` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunJson {
    /// [`Mode::as_str`].
    pub mode: String,
    /// [`RunReport::virtual_time`].
    pub virtual_time: bool,
    /// [`RunReport::total`] in seconds, rounded to milliseconds.
    pub total_s: f64,
    /// One entry per request, in input order.
    pub requests: Vec<RequestJson>,
}

/// One request in the `--json` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestJson {
    /// [`RequestReport::users`].
    pub users: u32,
    /// [`RequestReport::latency`] in seconds, rounded to milliseconds.
    pub latency_s: f64,
}

/// The runs as one JSON document, e.g.
/// `{"runs":[{"mode":"event-loop","virtual_time":false,"total_s":3.003,"requests":[{"users":3,"latency_s":3.002}]}]}`.
///
/// Seconds are rounded to the millisecond: finer digits are noise on a real clock, and
/// under virtual time they are exactly zero anyway. Spans are left out; the document
/// answers "how long did each request wait".
pub fn to_json(runs: &[RunReport]) -> String {
    let document = RunsJson {
        runs: runs
            .iter()
            .map(|run| RunJson {
                mode: run.mode.as_str().to_owned(),
                virtual_time: run.virtual_time,
                total_s: seconds_to_the_millisecond(run.total),
                requests: run
                    .requests
                    .iter()
                    .map(|request| RequestJson {
                        users: request.users,
                        latency_s: seconds_to_the_millisecond(request.latency),
                    })
                    .collect(),
            })
            .collect(),
    };
    serde_json::to_string(&document).expect("the report holds only strings, numbers and bools")
}

/// Rounds in whole milliseconds first, so 3.0025 s becomes exactly the float closest
/// to 3.003 and serde_json prints `3.003`, not `3.0029999999999997`.
fn seconds_to_the_millisecond(duration: Duration) -> f64 {
    millis_rounded(duration) as f64 / 1000.0
}

fn millis_rounded(duration: Duration) -> u128 {
    (duration.as_nanos() + 500_000) / 1_000_000
}

/// Seconds as text with two or three decimals and a unit, e.g. `3.00 s`, `0.303 s`.
/// Integer arithmetic, so the rounding is the same on every machine.
fn format_seconds(duration: Duration, decimals: u32) -> String {
    let scale = 10u128.pow(decimals);
    let units = (duration.as_nanos() * scale + 500_000_000) / 1_000_000_000;
    format!(
        "{}.{:0width$} s",
        units / scale,
        units % scale,
        width = decimals as usize
    )
}

/// `1 user`, `3 users`.
fn users_label(users: u32) -> String {
    match users {
        1 => "1 user".to_owned(),
        n => format!("{n} users"),
    }
}

/// The table prints milliseconds: the gap between the ideal 3 s and a measured 3.003 s is
/// the runtime's own overhead, and worth seeing.
const TABLE_DECIMALS: u32 = 3;

/// Space between columns of the table and between a timeline's labels and its plot.
const GAP: &str = "    ";

/// A table with one row per run: the latency of each request and the total.
///
/// ```text
/// mode          3 users    2 users     1 user      total
/// sequential    3.000 s    5.000 s    6.000 s    6.000 s
/// event-loop    3.000 s    2.000 s    1.000 s    3.000 s
/// ```
///
/// The runs are expected to share one list of requests (the command runs the same
/// requests in every mode); the column headings come from the run with the most
/// requests, and a run with fewer leaves its extra cells blank.
pub fn render_table(runs: &[RunReport]) -> String {
    let Some(widest) = runs.iter().max_by_key(|run| run.requests.len()) else {
        return String::new();
    };
    let mut header = vec!["mode".to_owned()];
    header.extend(
        widest
            .requests
            .iter()
            .map(|request| users_label(request.users)),
    );
    header.push("total".to_owned());

    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|run| {
            let mode = if run.virtual_time {
                format!("{} (virtual time)", run.mode.as_str())
            } else {
                run.mode.as_str().to_owned()
            };
            let mut row = vec![mode];
            row.extend((0..widest.requests.len()).map(|column| {
                run.requests
                    .get(column)
                    .map(|request| format_seconds(request.latency, TABLE_DECIMALS))
                    .unwrap_or_default()
            }));
            row.push(format_seconds(run.total, TABLE_DECIMALS));
            row
        })
        .collect();

    let widths: Vec<usize> = (0..header.len())
        .map(|column| {
            std::iter::once(&header)
                .chain(&rows)
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();

    let mut table = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (column, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if column == 0 {
                // The mode names read from the left; the numbers line up on the right.
                line.push_str(&format!("{cell:<width$}"));
            } else {
                line.push_str(GAP);
                line.push_str(&format!("{cell:>width$}"));
            }
        }
        table.push_str(&line);
        table.push('\n');
    }
    table
}

/// The most ticks on the axis: more would make the picture a ruler.
const MAX_TICKS: u128 = 10;

/// Row labels start after this indent, under their mode's heading.
const ROW_INDENT: &str = "  ";

/// The timeline: an axis, then per run a heading and one row per request, each user
/// lookup drawn as a `[====]` block where its span lies on the axis, and the request's
/// latency at the end of the row.
///
/// `width` is the number of terminal columns to fill (80 is a safe choice; 83 gives the
/// picture above, 10 columns per second, for a 6-second run). The picture is wider than
/// `width` only when the tick labels would not fit otherwise.
///
/// Every run shares one scale, so rows can be compared by eye. The axis runs from 0 to
/// the longest time measured, rounded up to a whole tick (unless it is less than 2% of
/// a tick past one: 6.008 s draws a 6-second axis, not 7): ticks are whole seconds when
/// a run took a second or more, otherwise milliseconds (e.g. `0ms 50ms 100ms`). A
/// lookup too short to show brackets is drawn as one `|`, and a block that would start
/// inside the previous one (rounding, or a run of very short lookups) is moved right
/// to where the previous one ends, so blocks never overlap.
pub fn render_timeline(runs: &[RunReport], width: usize) -> String {
    if runs.is_empty() {
        return String::new();
    }
    let requests = || runs.iter().flat_map(|run| &run.requests);
    let longest = runs
        .iter()
        .map(|run| run.total)
        .chain(requests().map(|request| request.latency))
        .chain(
            requests()
                .flat_map(|request| &request.lookups)
                .map(|span| span.end),
        )
        .max()
        .unwrap_or_default();

    let label_width = requests()
        .map(|request| users_label(request.users).chars().count())
        .max()
        .unwrap_or(0);
    let label_column = ROW_INDENT.len() + label_width + GAP.len();

    // Runs of a second or more are read in whole seconds, shorter ones in milliseconds.
    let in_seconds = longest.is_zero() || longest >= Duration::from_secs(1);
    let decimals = if in_seconds { 2 } else { 3 };
    let latencies: Vec<String> = requests()
        .map(|request| format_seconds(request.latency, decimals))
        .collect();
    let latency_width = latencies.iter().map(String::len).max().unwrap_or(0);

    let plot_budget = width.saturating_sub(label_column + GAP.len() + latency_width);
    let axis = Axis::choose(longest, in_seconds, plot_budget);

    let rows: Vec<(String, String, String)> = requests()
        .zip(latencies)
        .map(|(request, latency)| {
            (
                users_label(request.users),
                axis.draw_lookups(&request.lookups),
                latency,
            )
        })
        .collect();
    // A row pushed past the axis by too-short lookups widens the plot for every row,
    // so the latencies stay in one column.
    let plot_width = rows
        .iter()
        .map(|(_, blocks, _)| blocks.len())
        .max()
        .unwrap_or(0)
        .max(axis.plot_width());

    let mut picture = format!("{:label_column$}{}\n", "", axis.labels_line());
    let mut rows = rows.into_iter();
    for run in runs {
        picture.push_str(&run.mode.heading(run.virtual_time));
        picture.push('\n');
        for (label, blocks, latency) in rows.by_ref().take(run.requests.len()) {
            picture.push_str(&format!(
                "{ROW_INDENT}{label:<label_width$}{GAP}{blocks:<plot_width$}{GAP}{latency:>latency_width$}\n"
            ));
        }
    }
    picture
}

/// Tick lengths people read easily: 1, 2 and 5 times a power of ten milliseconds.
fn nice_ticks() -> impl Iterator<Item = Duration> {
    (0u32..).map_while(|step| {
        let power = 10u64.checked_pow(step / 3)?;
        let millis = power.checked_mul([1, 2, 5][step as usize % 3])?;
        Some(Duration::from_millis(millis))
    })
}

/// The timeline's time axis: how long a tick is, how many there are, and how many
/// columns each tick takes.
struct Axis {
    tick: Duration,
    ticks: u128,
    columns_per_tick: usize,
    /// Labels in seconds (`3s`) or, for a run shorter than a second, milliseconds (`150ms`).
    in_seconds: bool,
}

impl Axis {
    /// Picks the finest tick that still leaves room for its labels within `plot_budget`
    /// columns, from the 1-2-5 series (1 ms, 2 ms, 5 ms, 10 ms, ..., 1 s, 2 s, 5 s, ...).
    fn choose(longest: Duration, in_seconds: bool, plot_budget: usize) -> Self {
        // An empty run still gets an axis to stand on: one second.
        let longest = if longest.is_zero() {
            Duration::from_secs(1)
        } else {
            longest
        };
        let shortest_tick = if in_seconds {
            Duration::from_secs(1)
        } else {
            Duration::ZERO
        };
        // A run that ends a hair past a whole tick (6.008 s: scheduling noise) is drawn
        // up to that tick rather than given a whole empty tick more; its last block may
        // then end a column past the axis.
        let ticks_of = |tick: Duration| {
            let overshoot_allowed = tick.as_nanos() / 50;
            let ticks = longest
                .as_nanos()
                .saturating_sub(overshoot_allowed)
                .div_ceil(tick.as_nanos());
            ticks.max(1)
        };
        // Each tick needs room for its widest label (the last one) and two spaces.
        let room_per_tick =
            |tick: Duration| Self::tick_label(tick, ticks_of(tick), in_seconds).len() + 2;
        let tick = nice_ticks()
            .filter(|&tick| tick >= shortest_tick)
            .find(|&tick| {
                let ticks = ticks_of(tick);
                let fits = ticks as usize * room_per_tick(tick) <= plot_budget;
                ticks == 1 || (ticks <= MAX_TICKS && fits)
            })
            // Only a run of millions of years gets past the end of the series.
            .unwrap_or(longest);
        let ticks = ticks_of(tick);
        Self {
            tick,
            ticks,
            in_seconds,
            // Labels get their room even when `width` is too small to give it.
            columns_per_tick: (plot_budget / ticks as usize).max(room_per_tick(tick)),
        }
    }

    /// The label of tick number `index`: `3s`, or `150ms` on a sub-second axis.
    fn tick_label(tick: Duration, index: u128, in_seconds: bool) -> String {
        let at = tick.as_millis() * index;
        if in_seconds {
            format!("{}s", at / 1000)
        } else {
            format!("{at}ms")
        }
    }

    fn plot_width(&self) -> usize {
        self.ticks as usize * self.columns_per_tick
    }

    /// `0s        1s        2s`: each label starts at its tick's column.
    fn labels_line(&self) -> String {
        let mut line = String::new();
        for index in 0..=self.ticks {
            let column = index as usize * self.columns_per_tick;
            line.push_str(&" ".repeat(column - line.len()));
            line.push_str(&Self::tick_label(self.tick, index, self.in_seconds));
        }
        line
    }

    /// The column where time `at` falls, rounded to the nearest column.
    fn column(&self, at: Duration) -> usize {
        let columns_per_tick = self.columns_per_tick as u128;
        let tick = self.tick.as_nanos();
        ((at.as_nanos() * columns_per_tick + tick / 2) / tick) as usize
    }

    /// One request's row of blocks: `[====]` per lookup, spaces between.
    fn draw_lookups(&self, lookups: &[Span]) -> String {
        let mut row = String::new();
        for span in lookups {
            let start = self.column(span.start).max(row.len());
            let end = self.column(span.end).max(start + 1);
            row.push_str(&" ".repeat(start - row.len()));
            match end - start {
                1 => row.push('|'),
                width => {
                    row.push('[');
                    row.push_str(&"=".repeat(width - 2));
                    row.push(']');
                }
            }
        }
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expected picture, one string per line, so leading spaces stay visible.
    fn lines(rows: &[&str]) -> String {
        rows.iter().map(|row| format!("{row}\n")).collect()
    }

    fn seconds(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// A request whose lookups took these (start, end) seconds; latency is the last end.
    fn request(spans: &[(f64, f64)]) -> RequestReport {
        let lookups: Vec<Span> = spans
            .iter()
            .map(|&(start, end)| Span {
                start: seconds(start),
                end: seconds(end),
            })
            .collect();
        RequestReport {
            users: lookups.len() as u32,
            latency: lookups.last().map_or(Duration::ZERO, |span| span.end),
            lookups,
        }
    }

    /// The post's ideal numbers: 3, 2 and 1 users at one second each.
    fn the_posts_runs() -> Vec<RunReport> {
        vec![
            RunReport {
                mode: Mode::Sequential,
                virtual_time: false,
                total: seconds(6.0),
                requests: vec![
                    request(&[(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]),
                    request(&[(3.0, 4.0), (4.0, 5.0)]),
                    request(&[(5.0, 6.0)]),
                ],
            },
            RunReport {
                mode: Mode::EventLoop,
                virtual_time: false,
                total: seconds(3.0),
                requests: vec![
                    request(&[(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]),
                    request(&[(0.0, 1.0), (1.0, 2.0)]),
                    request(&[(0.0, 1.0)]),
                ],
            },
        ]
    }

    #[test]
    fn mode_names_round_trip() {
        for mode in Mode::ALL {
            assert_eq!(mode.as_str().parse(), Ok(mode));
        }
        assert_eq!(Mode::EventLoop.to_string(), "event-loop");
    }

    #[test]
    fn an_unknown_mode_lists_the_choices() {
        let error = "eventloop".parse::<Mode>().unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"unknown mode "eventloop", expected sequential, threads or event-loop"#
        );
    }

    #[test]
    fn json_has_the_documented_shape_and_exact_numbers() {
        let run = RunReport {
            mode: Mode::EventLoop,
            virtual_time: false,
            total: Duration::from_micros(3_002_600),
            requests: vec![
                RequestReport {
                    users: 3,
                    latency: Duration::from_micros(3_002_400),
                    lookups: vec![],
                },
                RequestReport {
                    users: 1,
                    latency: Duration::from_millis(1001),
                    lookups: vec![],
                },
            ],
        };
        let json = to_json(&[run]);
        assert_eq!(
            json,
            r#"{"runs":[{"mode":"event-loop","virtual_time":false,"total_s":3.003,"requests":[{"users":3,"latency_s":3.002},{"users":1,"latency_s":1.001}]}]}"#
        );
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["runs"][0]["total_s"].as_f64(), Some(3.003));
        assert_eq!(
            value["runs"][0]["requests"][1]["latency_s"].as_f64(),
            Some(1.001)
        );
        assert_eq!(value["runs"][0]["requests"][0]["users"].as_u64(), Some(3));
    }

    #[test]
    fn json_of_the_posts_runs_round_trips() {
        let json = to_json(&the_posts_runs());
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let expected = serde_json::json!({"runs": [
            {"mode": "sequential", "virtual_time": false, "total_s": 6.0, "requests": [
                {"users": 3, "latency_s": 3.0},
                {"users": 2, "latency_s": 5.0},
                {"users": 1, "latency_s": 6.0},
            ]},
            {"mode": "event-loop", "virtual_time": false, "total_s": 3.0, "requests": [
                {"users": 3, "latency_s": 3.0},
                {"users": 2, "latency_s": 2.0},
                {"users": 1, "latency_s": 1.0},
            ]},
        ]});
        assert_eq!(value, expected);
        let typed: RunsJson = serde_json::from_str(&json).unwrap();
        assert_eq!(typed.runs[1].requests[2].latency_s, 1.0);
        assert_eq!(to_json(&[]), r#"{"runs":[]}"#);
    }

    #[test]
    fn the_table_of_the_posts_numbers() {
        let expected = lines(&[
            "mode          3 users    2 users     1 user      total",
            "sequential    3.000 s    5.000 s    6.000 s    6.000 s",
            "event-loop    3.000 s    2.000 s    1.000 s    3.000 s",
        ]);
        assert_eq!(render_table(&the_posts_runs()), expected);
    }

    #[test]
    fn the_table_marks_virtual_time_and_shows_milliseconds() {
        let mut run = the_posts_runs().remove(1);
        run.virtual_time = true;
        run.requests.truncate(1);
        run.requests[0].latency = Duration::from_micros(3_002_600);
        run.total = Duration::from_micros(3_002_600);
        let expected = lines(&[
            "mode                         3 users      total",
            "event-loop (virtual time)    3.003 s    3.003 s",
        ]);
        assert_eq!(render_table(&[run]), expected);
        assert_eq!(render_table(&[]), "");
    }

    #[test]
    fn the_timeline_of_the_posts_numbers_is_the_design_picture() {
        let expected = lines(&[
            "             0s        1s        2s        3s        4s        5s        6s",
            "sequential",
            "  3 users    [========][========][========]                                  3.00 s",
            "  2 users                                  [========][========]              5.00 s",
            "  1 user                                                       [========]    6.00 s",
            "event-loop (one thread)",
            "  3 users    [========][========][========]                                  3.00 s",
            "  2 users    [========][========]                                            2.00 s",
            "  1 user     [========]                                                      1.00 s",
        ]);
        assert_eq!(render_timeline(&the_posts_runs(), 83), expected);
    }

    #[test]
    fn the_timeline_fits_80_columns() {
        let expected = lines(&[
            "             0s       1s       2s       3s       4s       5s       6s",
            "sequential",
            "  3 users    [=======][=======][=======]                               3.00 s",
            "  2 users                               [=======][=======]             5.00 s",
            "  1 user                                                  [=======]    6.00 s",
            "event-loop (one thread)",
            "  3 users    [=======][=======][=======]                               3.00 s",
            "  2 users    [=======][=======]                                        2.00 s",
            "  1 user     [=======]                                                 1.00 s",
        ]);
        let picture = render_timeline(&the_posts_runs(), 80);
        assert_eq!(picture, expected);
        assert!(picture.lines().all(|line| line.chars().count() <= 80));
    }

    #[test]
    fn a_measured_run_draws_the_same_blocks_as_the_ideal_one() {
        let run = RunReport {
            mode: Mode::Threads,
            virtual_time: false,
            total: seconds(3.004),
            requests: vec![
                request(&[(0.0, 1.002), (1.002, 2.003), (2.003, 3.004)]),
                request(&[(0.0, 1.001), (1.001, 2.002)]),
            ],
        };
        let expected = lines(&[
            "             0s        1s        2s        3s",
            "threads (one per request)",
            "  3 users    [========][========][========]    3.00 s",
            "  2 users    [========][========]              2.00 s",
        ]);
        // 3.004 s is noise past 3 s: the axis stops at 3 s, not 4 s.
        assert_eq!(render_timeline(&[run], 53), expected);
    }

    #[test]
    fn a_sub_second_run_gets_a_millisecond_axis() {
        // Ten requests, each up to three lookups of 100 ms, on an event loop.
        let requests = (0..10)
            .map(|k| {
                let users = k % 3 + 1;
                let spans: Vec<(f64, f64)> = (0..users)
                    .map(|i| (0.1 * i as f64, 0.1 * (i + 1) as f64))
                    .collect();
                request(&spans)
            })
            .collect();
        let run = RunReport {
            mode: Mode::EventLoop,
            virtual_time: true,
            total: seconds(0.3),
            requests,
        };
        let picture = render_timeline(&[run], 80);
        let mut lines = picture.lines();
        assert_eq!(
            lines.next(),
            Some("             0ms      50ms     100ms    150ms    200ms    250ms    300ms")
        );
        assert_eq!(lines.next(), Some("event-loop (one thread, virtual time)"));
        assert_eq!(
            lines.next(),
            Some("  1 user     [================]                                        0.100 s")
        );
        assert_eq!(
            lines.next(),
            Some("  2 users    [================][================]                      0.200 s")
        );
        assert_eq!(lines.count(), 8);
    }

    #[test]
    fn a_lookup_too_short_for_brackets_still_shows_and_blocks_never_overlap() {
        let run = RunReport {
            mode: Mode::Sequential,
            virtual_time: false,
            total: seconds(6.0),
            requests: vec![
                request(&[(0.0, 0.001), (0.001, 0.002), (0.002, 0.003)]),
                request(&[(0.0, 1.0), (1.04, 2.0), (5.99, 6.0)]),
            ],
        };
        let picture = render_timeline(&[run], 83);
        let rows: Vec<&str> = picture.lines().skip(2).collect();
        assert_eq!(
            rows[0],
            "  3 users    |||                                                              0.00 s"
        );
        assert_eq!(
            rows[1],
            "  3 users    [========][========]                                        |    6.00 s"
        );
    }

    #[test]
    fn an_empty_report_draws_nothing() {
        assert_eq!(render_timeline(&[], 80), "");
        let run = RunReport {
            mode: Mode::Sequential,
            virtual_time: false,
            total: Duration::ZERO,
            requests: vec![],
        };
        assert_eq!(
            render_timeline(&[run], 80),
            lines(&[&format!("      0s{:68}1s", ""), "sequential"])
        );
    }
}
