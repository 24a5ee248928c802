//! What a run of the scenario measured, and the ways it is shown.
//!
//! The post's claim is a claim about numbers: three requests for 3, 2 and 1 users
//! arrive together; one after another they finish at 3, 5 and 6 seconds, on an event
//! loop at 3, 2 and 1 seconds. Every client (sequential, threads, event loop) records
//! the same things, so the three can be compared line by line:
//!
//! - a [`Span`] per user lookup: when the call started and when its answer arrived,
//!   both measured from the start of the run (the moment the requests "arrive");
//! - per request, when work on it started and its latency: from the start of the run
//!   to its last answer. This is what a user of the service waits, which is why the
//!   sequential client's second request counts the 3 seconds it spent queued behind
//!   the first;
//! - per run, the total: from the start until every request is answered, and the
//!   directory's delay per user when it is known.
//!
//! They are shown as a table ([`render_table`] for the terminal, [`render_table_html`]
//! for the page of `--html`: one choice of columns, two drawers), as one JSON document
//! for scripts and tests ([`to_json`], the report types' own `Serialize`; with the
//! event loop's tasks and turns, `loop_report.rs`), and as a
//! timeline ([`timeline`](super::timeline)) that draws every lookup as a block on one
//! time axis.

use std::time::Duration;

// The table's text is ours (mode names, numbers), but escaping costs nothing and keeps
// the page whole if that changes.
use html_escape::encode_quoted_attribute as escape_html;
use serde::{Serialize, Serializer};

/// Which client ran: the three ways the post (and chapter 2) finds users.
///
/// The names (`sequential`, `threads`, `event-loop`) are clap's and serde's, derived
/// from the variants: `--mode event-loop` on the command line, `"mode":"event-loop"` in
/// JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
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
    pub(crate) fn heading(self, virtual_time: bool) -> String {
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

/// One user lookup: when its call started and when its answer arrived, both as offsets
/// from the start of the run. In JSON: `{"start_s":1.0,"end_s":2.0}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Span {
    /// When the request for this user was sent.
    #[serde(rename = "start_s", serialize_with = "seconds")]
    pub start: Duration,
    /// When the whole answer had arrived.
    #[serde(rename = "end_s", serialize_with = "seconds")]
    pub end: Duration,
}

/// What one request (find `users` users) measured.
///
/// In JSON: `{"users":3,"latency_s":3.0,"start_s":0.0,"end_s":3.0,"lookups":[...]}`.
/// The request's end is its latency: both count from the start of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestReport {
    /// How many users the request asked for.
    pub users: u32,
    /// From the start of the run to the request's last answer: its end.
    #[serde(flatten, serialize_with = "latency_and_end")]
    pub latency: Duration,
    /// When work on the request began (its connection was opened), from the start of
    /// the run. Zero for the clients that start every request at once; the sequential
    /// client's later requests start when the one before them has finished.
    #[serde(rename = "start_s", serialize_with = "seconds")]
    pub start: Duration,
    /// One span per user, in the order they were looked up.
    pub lookups: Vec<Span>,
}

/// What one run of one mode measured.
///
/// In JSON: `{"mode":"event-loop","virtual_time":false,"total_s":3.003,"delay_s":1.0,
/// "requests":[...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// Which client ran.
    pub mode: Mode,
    /// Whether the times are on looplab's virtual clock (exact, and no wall time spent).
    pub virtual_time: bool,
    /// From the start of the run until every request was answered.
    #[serde(rename = "total_s", serialize_with = "seconds")]
    pub total: Duration,
    /// The directory's delay per user, when the caller knows it: the delay it started
    /// the directory with, or the one a running directory reported about itself.
    /// `None` (JSON `null`) when neither is known.
    #[serde(rename = "delay_s", serialize_with = "maybe_seconds")]
    pub delay: Option<Duration>,
    /// One report per request, in the order the requests were given (not the order
    /// they finished).
    pub requests: Vec<RequestReport>,
}

/// The runs as one JSON document, e.g. (spans left out)
/// `{"runs":[{"mode":"event-loop","virtual_time":false,"total_s":3.003,"delay_s":1.0,"requests":[{"users":3,"latency_s":3.002,...}]}]}`.
///
/// Seconds are rounded to the millisecond: finer digits are noise on a real clock, and
/// under virtual time they are exactly zero anyway.
pub fn to_json(runs: &[RunReport]) -> String {
    #[derive(Serialize)]
    struct Document<'a> {
        runs: &'a [RunReport],
    }
    serde_json::to_string(&Document { runs })
        .expect("the report holds only strings, numbers and bools")
}

/// Serialises a duration as seconds, rounded to the millisecond.
pub(super) fn seconds<S: Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(seconds_to_the_millisecond(*duration))
}

/// [`seconds`], or `null` for `None`.
pub(super) fn maybe_seconds<S: Serializer>(
    duration: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => seconds(duration, serializer),
        None => serializer.serialize_none(),
    }
}

/// A request's latency is also its end: one field of [`RequestReport`], two keys in
/// JSON (`latency_s`, the number the table shows, and `end_s`, beside `start_s`).
fn latency_and_end<S: Serializer>(latency: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let seconds = seconds_to_the_millisecond(*latency);
    let mut map = serializer.serialize_map(Some(2))?;
    map.serialize_entry("latency_s", &seconds)?;
    map.serialize_entry("end_s", &seconds)?;
    map.end()
}

/// Rounds in whole milliseconds first, so 3.0025 s becomes exactly the float closest
/// to 3.003 and serde_json prints `3.003`, not `3.0029999999999997`.
fn seconds_to_the_millisecond(duration: Duration) -> f64 {
    let millis = (duration.as_nanos() + 500_000) / 1_000_000;
    millis as f64 / 1000.0
}

/// Seconds as text with two or three decimals and a unit, e.g. `3.00 s`, `0.303 s`.
/// Integer arithmetic, so the rounding is the same on every machine.
pub(crate) fn format_seconds(duration: Duration, decimals: u32) -> String {
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
pub(crate) fn users_label(users: u32) -> String {
    match users {
        1 => "1 user".to_owned(),
        n => format!("{n} users"),
    }
}

/// `65536` as `65,536`: counts in labels and messages, read at a glance.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut text = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// The characters a table column needs: its widest cell or its heading.
fn column_width(heading: &str, cells: &[String]) -> usize {
    cells
        .iter()
        .map(|cell| cell.chars().count())
        .fold(heading.chars().count(), usize::max)
}

/// The table prints milliseconds: the gap between the ideal 3 s and a measured 3.003 s is
/// the runtime's own overhead, and worth seeing.
const TABLE_DECIMALS: u32 = 3;

/// Space between columns of the table and between a timeline's labels and its plot.
pub(crate) const GAP: &str = "    ";

/// The comparison table's cells, chosen once and drawn twice: as text for the terminal
/// ([`render_table`]) and as HTML for the page ([`render_table_html`]). One layout
/// means the two cannot disagree about which columns there are.
struct Table {
    /// The first column: each run's mode (and whether it ran on virtual time).
    modes: Vec<String>,
    /// The other columns, each a heading and one cell per run; the last is the total.
    columns: Vec<(String, Vec<String>)>,
}

impl Table {
    /// The columns that fit in `width` characters: one per request while they fit,
    /// then one that shows the slowest of the rest, then the total.
    fn new(runs: &[RunReport], width: usize) -> Option<Table> {
        let widest = runs.iter().max_by_key(|run| run.requests.len())?;
        let modes: Vec<String> = runs
            .iter()
            .map(|run| {
                if run.virtual_time {
                    format!("{} (virtual time)", run.mode.as_str())
                } else {
                    run.mode.as_str().to_owned()
                }
            })
            .collect();
        let latency = |run: &RunReport, column: usize| {
            run.requests
                .get(column)
                .map(|request| format_seconds(request.latency, TABLE_DECIMALS))
                .unwrap_or_default()
        };
        let mode_width = column_width("mode", &modes);
        let totals: Vec<String> = runs
            .iter()
            .map(|run| format_seconds(run.total, TABLE_DECIMALS))
            .collect();
        let total_width = column_width("total", &totals);

        // Columns, each a heading and one cell per run, as long as they fit.
        let mut columns: Vec<(String, Vec<String>)> = Vec::new();
        let mut used = mode_width + GAP.len() + total_width;
        let requests = widest.requests.len();
        for column in 0..requests {
            let heading = users_label(widest.requests[column].users);
            let cells: Vec<String> = runs.iter().map(|run| latency(run, column)).collect();
            let needed = GAP.len() + column_width(&heading, &cells);
            // Room for the "more" column that would follow, unless every column left
            // fits as it is (then no "more" column is needed).
            let all_the_rest: usize = (column..requests)
                .map(|c| {
                    let heading = users_label(widest.requests[c].users);
                    let cells: Vec<String> = runs.iter().map(|run| latency(run, c)).collect();
                    GAP.len() + column_width(&heading, &cells)
                })
                .sum();
            let room_for_more = if column + 1 < requests && used + all_the_rest > width {
                let more = format!(
                    "slowest of {} more",
                    thousands((requests - column - 1) as u64)
                );
                GAP.len() + more.len().max(TABLE_DECIMALS as usize + 4)
            } else {
                0
            };
            if used + needed + room_for_more > width {
                let rest = requests - column;
                let heading = format!("slowest of {} more", thousands(rest as u64));
                let cells = runs
                    .iter()
                    .map(|run| {
                        run.requests
                            .iter()
                            .skip(column)
                            .map(|request| request.latency)
                            .max()
                            .map(|slowest| format_seconds(slowest, TABLE_DECIMALS))
                            .unwrap_or_default()
                    })
                    .collect();
                columns.push((heading, cells));
                break;
            }
            used += needed;
            columns.push((heading, cells));
        }
        columns.push(("total".to_owned(), totals));
        Some(Table { modes, columns })
    }
}

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
///
/// The table fits in `width` columns: when the requests do not, the first ones that
/// fit get a column each and one more column shows the slowest of the rest
/// (`slowest of 99,990 more`).
pub fn render_table(runs: &[RunReport], width: usize) -> String {
    let Some(Table { modes, columns }) = Table::new(runs, width) else {
        return String::new();
    };
    let mode_width = column_width("mode", &modes);
    let widths: Vec<usize> = columns
        .iter()
        .map(|(heading, cells)| column_width(heading, cells))
        .collect();
    let mut table = format!("{:<mode_width$}", "mode");
    for ((heading, _), width) in columns.iter().zip(&widths) {
        table.push_str(&format!("{GAP}{heading:>width$}"));
    }
    table.push('\n');
    for (row, mode) in modes.iter().enumerate() {
        // The mode names read from the left; the numbers line up on the right.
        table.push_str(&format!("{mode:<mode_width$}"));
        for ((_, cells), width) in columns.iter().zip(&widths) {
            table.push_str(&format!("{GAP}{:>width$}", cells[row]));
        }
        table.push('\n');
    }
    table
}

/// The same table as [`render_table`], as an HTML `<table class="runs">` for a page:
/// the same columns for the same `width` (in characters of the text table), a
/// `data-mode` on each row, and the numbers in cells of class `latency` and `total`.
/// Empty when there are no runs.
pub fn render_table_html(runs: &[RunReport], width: usize) -> String {
    let Some(Table { modes, columns }) = Table::new(runs, width) else {
        return String::new();
    };
    let last = columns.len() - 1;
    let class = |column: usize| if column == last { "total" } else { "latency" };
    let mut html = String::from("<table class=\"runs\">\n<thead><tr><th scope=\"col\">mode</th>");
    for (column, (heading, _)) in columns.iter().enumerate() {
        html.push_str(&format!(
            "<th scope=\"col\" class=\"{}\">{}</th>",
            class(column),
            escape_html(heading)
        ));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for (row, (run, mode)) in runs.iter().zip(&modes).enumerate() {
        html.push_str(&format!(
            "<tr data-mode=\"{}\"><th scope=\"row\">{}</th>",
            run.mode.as_str(),
            escape_html(mode)
        ));
        for (column, (_, cells)) in columns.iter().enumerate() {
            html.push_str(&format!(
                "<td class=\"{}\">{}</td>",
                class(column),
                escape_html(&cells[row])
            ));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody>\n</table>\n");
    html
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use clap::ValueEnum;

    /// The expected table or picture, one string per line, so leading spaces stay
    /// visible.
    pub(crate) fn lines(rows: &[&str]) -> String {
        rows.iter().map(|row| format!("{row}\n")).collect()
    }

    pub(crate) fn seconds(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// A request whose lookups took these (start, end) seconds; latency is the last end.
    pub(crate) fn request(spans: &[(f64, f64)]) -> RequestReport {
        let lookups: Vec<Span> = spans
            .iter()
            .map(|&(start, end)| Span {
                start: seconds(start),
                end: seconds(end),
            })
            .collect();
        RequestReport {
            users: lookups.len() as u32,
            start: lookups.first().map_or(Duration::ZERO, |span| span.start),
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
                delay: Some(seconds(1.0)),
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
                delay: Some(seconds(1.0)),
                requests: vec![
                    request(&[(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]),
                    request(&[(0.0, 1.0), (1.0, 2.0)]),
                    request(&[(0.0, 1.0)]),
                ],
            },
        ]
    }

    #[test]
    fn mode_names_are_the_same_for_clap_serde_and_as_str() {
        for mode in Mode::ALL {
            assert_eq!(Mode::from_str(mode.as_str(), false), Ok(mode));
            assert_eq!(
                serde_json::to_string(&mode).unwrap(),
                format!("\"{}\"", mode.as_str())
            );
        }
        assert_eq!(Mode::value_variants(), Mode::ALL);
        assert!(Mode::from_str("eventloop", false).is_err());
    }

    #[test]
    fn json_has_the_documented_shape_and_exact_numbers() {
        let run = RunReport {
            mode: Mode::EventLoop,
            virtual_time: false,
            total: Duration::from_micros(3_002_600),
            delay: None,
            requests: vec![
                RequestReport {
                    users: 3,
                    start: Duration::ZERO,
                    latency: Duration::from_micros(3_002_400),
                    lookups: vec![],
                },
                RequestReport {
                    users: 1,
                    start: Duration::from_micros(200),
                    latency: Duration::from_millis(1001),
                    lookups: vec![Span {
                        start: Duration::from_micros(400),
                        end: Duration::from_millis(1001),
                    }],
                },
            ],
        };
        let json = to_json(&[run]);
        assert_eq!(
            json,
            r#"{"runs":[{"mode":"event-loop","virtual_time":false,"total_s":3.003,"delay_s":null,"requests":[{"users":3,"latency_s":3.002,"end_s":3.002,"start_s":0.0,"lookups":[]},{"users":1,"latency_s":1.001,"end_s":1.001,"start_s":0.0,"lookups":[{"start_s":0.0,"end_s":1.001}]}]}]}"#
        );
    }

    #[test]
    fn json_of_the_posts_runs_keeps_the_old_fields_and_adds_the_spans() {
        let json = to_json(&the_posts_runs());
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let run = &value["runs"][0];
        assert_eq!(run["mode"], "sequential");
        assert_eq!(run["virtual_time"], false);
        assert_eq!(run["total_s"], 6.0);
        assert_eq!(run["delay_s"], 1.0);
        let second = &run["requests"][1];
        assert_eq!(second["users"], 2);
        assert_eq!(second["latency_s"], 5.0);
        assert_eq!(second["start_s"], 3.0);
        assert_eq!(second["end_s"], 5.0);
        assert_eq!(
            second["lookups"],
            serde_json::json!([{"start_s": 3.0, "end_s": 4.0}, {"start_s": 4.0, "end_s": 5.0}])
        );
        let latencies: Vec<f64> = value["runs"][1]["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|request| request["latency_s"].as_f64().unwrap())
            .collect();
        assert_eq!(latencies, [3.0, 2.0, 1.0]);
        assert_eq!(to_json(&[]), r#"{"runs":[]}"#);
    }

    #[test]
    fn the_table_of_the_posts_numbers() {
        let expected = lines(&[
            "mode          3 users    2 users     1 user      total",
            "sequential    3.000 s    5.000 s    6.000 s    6.000 s",
            "event-loop    3.000 s    2.000 s    1.000 s    3.000 s",
        ]);
        assert_eq!(render_table(&the_posts_runs(), 80), expected);
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
        assert_eq!(render_table(&[run], 80), expected);
        assert_eq!(render_table(&[], 80), "");
    }

    #[test]
    fn the_posts_virtual_run_shows_every_request_in_80_columns() {
        let mut run = the_posts_runs().remove(1);
        run.virtual_time = true;
        let table = render_table(&[run], 80);
        assert!(
            table.lines().all(|line| line.chars().count() <= 80),
            "{table}"
        );
        for heading in ["3 users", "2 users", "1 user", "total"] {
            assert!(table.contains(heading), "{heading} missing from\n{table}");
        }
        assert!(!table.contains("more"), "{table}");
    }

    #[test]
    fn a_table_of_many_requests_fits_its_width_and_shows_the_slowest_of_the_rest() {
        let mut run = the_posts_runs().remove(1);
        run.requests = (1..=1000)
            .map(|k| request(&[(0.0, f64::from(k) / 1000.0)]))
            .collect();
        let table = render_table(&[run], 80);
        assert!(
            table.lines().all(|line| line.chars().count() <= 80),
            "{table}"
        );
        let header = table.lines().next().unwrap();
        assert!(header.contains("slowest of 99"), "{header}");
        assert!(table.lines().nth(1).unwrap().contains("1.000 s"), "{table}");
    }

    #[test]
    fn the_html_table_has_the_text_tables_cells() {
        let html = render_table_html(&the_posts_runs(), 80);
        assert!(html.starts_with("<table class=\"runs\">"), "{html}");
        assert_eq!(html.matches("<tr data-mode=").count(), 2);
        assert!(html.contains(
            "<tr data-mode=\"sequential\"><th scope=\"row\">sequential</th>\
             <td class=\"latency\">3.000 s</td><td class=\"latency\">5.000 s</td>\
             <td class=\"latency\">6.000 s</td><td class=\"total\">6.000 s</td></tr>"
        ));
        // The same columns as the text table of the same width, "slowest of" included.
        let mut run = the_posts_runs().remove(1);
        run.requests = (1..=1000)
            .map(|k| request(&[(0.0, f64::from(k) / 1000.0)]))
            .collect();
        let text = render_table(std::slice::from_ref(&run), 80);
        let html = render_table_html(&[run], 80);
        let headings = text
            .lines()
            .next()
            .unwrap()
            .split("    ")
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .count();
        assert_eq!(
            html.matches("<th scope=\"col\"").count(),
            headings,
            "{text}\n{html}"
        );
        assert!(html.contains("slowest of 99"), "{html}");
        assert_eq!(render_table_html(&[], 80), "");
    }

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(65_536), "65,536");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
