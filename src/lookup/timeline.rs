//! The timeline: every user lookup of a run as a block on one time axis.
//!
//! It is the post's picture of sequential versus concurrent work, drawn from
//! measurements instead of by hand: sequential blocks form a staircase, event-loop
//! blocks all start at zero.
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
//!
//! **One layout, two drawers.** [`Layout::new`] decides everything about the picture
//! on a grid of character columns: the axis and its ticks, one group of rows per run,
//! one row per request, where each block starts and ends, and the latency at the end
//! of each row. [`Layout::to_text`] prints that grid for a terminal;
//! [`Layout::to_svg`] draws the same grid as a standalone picture for slides, one
//! column a few pixels wide. So the two can never disagree about what the run did.
//!
//! **Any size fits.** However many requests and lookups a run has, the picture fits
//! the width it is given (the terminal's, or 80 columns):
//!
//! - the axis is scaled: a tick is 1, 2 or 5 times a power of ten milliseconds, the
//!   finest whose labels still fit;
//! - lookups that fall on the same columns are drawn as one block (a block counts the
//!   lookups it holds), so 65,536 lookups of a millisecond each make one long block;
//! - past [`MAX_REQUEST_ROWS`] requests, the first ones get a row each and one more
//!   row (`+65,530 more`) draws all the others' lookups together, with the slowest of
//!   their latencies.

use std::fmt::Write as _;
use std::time::Duration;

// Text made safe inside an SVG (XML) element or quoted attribute.
use html_escape::encode_quoted_attribute as escape;

use super::report::{GAP, Mode, RunReport, Span, format_seconds, thousands, users_label};

/// The most request rows in one picture, all runs together; each run gets an equal
/// share. A few dozen rows still read as a picture and fit a screen or a slide.
pub const MAX_REQUEST_ROWS: usize = 36;

/// The narrowest picture drawn: below this the labels alone would not fit, so a
/// narrower terminal gets a picture this wide.
pub const MIN_WIDTH: usize = 60;

/// The digits the table prints a latency with (`2.005 s`): the SVG's too.
const TABLE_DECIMALS: u32 = 3;

/// The most ticks on the axis: more would make the picture a ruler.
const MAX_TICKS: u128 = 10;

/// The narrowest block that stands apart from a block it touches: `[=]`.
const MIN_BLOCK: usize = 3;

/// Row labels start after this indent, under their mode's heading.
const ROW_INDENT: &str = "  ";

/// The picture of one or more runs on one shared time axis, laid out on a grid of
/// character columns; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Layout {
    axis: Axis,
    /// Characters of the widest row label (`3 users`, `+99,964 more`).
    label_width: usize,
    /// Characters of the widest latency (`3.00 s`).
    latency_width: usize,
    /// Characters of the widest latency as the table prints it (`3.000 s`): the SVG's.
    exact_width: usize,
    /// The axis is in seconds (else milliseconds).
    in_seconds: bool,
    groups: Vec<Group>,
}

/// How the SVG picture is framed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SvgOptions {
    /// A title over the picture (empty: "Every user lookup on one time axis").
    pub title: String,
    /// Its shape.
    pub aspect: SvgAspect,
}

/// The SVG picture's shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SvgAspect {
    /// [`SVG_WIDTH`] wide and as tall as its rows need, at most [`SVG_MAX_HEIGHT`].
    #[default]
    Fit,
    /// Exactly a 16:9 slide, [`SVG_WIDTH`] by [`SVG_MAX_HEIGHT`], the rows spread to fill it.
    Slide,
}

/// One run: its heading and its rows.
#[derive(Debug, Clone)]
struct Group {
    mode: Mode,
    heading: String,
    rows: Vec<Row>,
}

/// One request, or the summary of the requests past the row limit.
#[derive(Debug, Clone)]
struct Row {
    label: String,
    /// Blocks in order, never overlapping, within the plot's columns.
    blocks: Vec<Block>,
    latency: String,
    /// The latency with the table's digits (`2.005 s`), for the SVG.
    exact: String,
    /// How many requests a summary row stands for; `None` for a request's own row.
    summarised: Option<usize>,
}

/// A block on the grid: columns `start..end` (at least one), holding `lookups` lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    start: usize,
    end: usize,
    lookups: usize,
}

impl Layout {
    /// Lays out `runs` on one shared axis, to fit `width` columns (at least
    /// [`MIN_WIDTH`]).
    ///
    /// The axis runs from 0 to the longest time measured, rounded up to a whole tick
    /// (unless it is less than 2% of a tick past one: 6.008 s draws a 6-second axis,
    /// not 7): ticks are whole seconds when a run took a second or more, otherwise
    /// milliseconds (e.g. `0ms 50ms 100ms`). A lookup too short to show brackets is
    /// drawn as one `|`; a lookup that would start inside the block before it joins
    /// that block (as does one too narrow to stand apart from a block it touches), so
    /// blocks never overlap and a row never grows past the axis.
    pub fn new(runs: &[RunReport], width: usize) -> Layout {
        let width = width.max(MIN_WIDTH);
        let longest = runs
            .iter()
            .flat_map(|run| {
                let requests = run.requests.iter();
                let lookups = requests.clone().flat_map(|request| &request.lookups);
                std::iter::once(run.total)
                    .chain(requests.map(|request| request.latency))
                    .chain(lookups.map(|span| span.end))
            })
            .max()
            .unwrap_or_default();
        // Runs of a second or more are read in whole seconds, shorter ones in milliseconds.
        let in_seconds = longest.is_zero() || longest >= Duration::from_secs(1);
        let decimals = if in_seconds { 2 } else { 3 };

        // The rows first, as text and spans: their labels decide how wide the plot is.
        let rows_per_run = (MAX_REQUEST_ROWS / runs.len().max(1)).max(2);
        let planned: Vec<Vec<PlannedRow>> = runs
            .iter()
            .map(|run| plan_rows(run, rows_per_run, decimals))
            .collect();
        let all_rows = || planned.iter().flatten();
        let label_width = all_rows().map(|row| row.label.len()).max().unwrap_or(0);
        let latency_width = all_rows().map(|row| row.latency.len()).max().unwrap_or(0);
        let exact_width = all_rows().map(|row| row.exact.len()).max().unwrap_or(0);
        let label_column = ROW_INDENT.len() + label_width + GAP.len();
        let plot_budget = width.saturating_sub(label_column + GAP.len() + latency_width);
        let axis = Axis::choose(longest, in_seconds, plot_budget);

        let groups = runs
            .iter()
            .zip(planned)
            .map(|(run, rows)| Group {
                mode: run.mode,
                heading: run.mode.heading(run.virtual_time),
                rows: rows
                    .into_iter()
                    .map(|row| Row {
                        blocks: axis.blocks(row.spans),
                        label: row.label,
                        latency: row.latency,
                        exact: row.exact,
                        summarised: row.summarised,
                    })
                    .collect(),
            })
            .collect();
        Layout {
            axis,
            label_width,
            latency_width,
            exact_width,
            in_seconds,
            groups,
        }
    }

    /// The column where the plot starts: after the indent, the labels and a gap.
    fn label_column(&self) -> usize {
        ROW_INDENT.len() + self.label_width + GAP.len()
    }

    /// How many columns a row takes: labels, plot, gap, latency.
    fn row_width(&self) -> usize {
        self.label_column() + self.axis.plot_width() + GAP.len() + self.latency_width
    }

    /// The same in the SVG, whose latencies have the table's digits.
    fn svg_row_width(&self) -> usize {
        self.row_width() + self.exact_width.saturating_sub(self.latency_width)
    }

    /// The picture as text: the axis labels, then per run a heading and its rows.
    /// Empty for no runs.
    pub fn to_text(&self) -> String {
        if self.groups.is_empty() {
            return String::new();
        }
        let (label_width, latency_width) = (self.label_width, self.latency_width);
        let plot_width = self.axis.plot_width();
        let mut picture = format!("{:width$}", "", width = self.label_column());
        for (column, label) in self.axis.labels() {
            let at = self.label_column() + column;
            let padding = at.saturating_sub(picture.len());
            picture.push_str(&" ".repeat(padding));
            picture.push_str(&label);
        }
        picture.push('\n');
        for group in &self.groups {
            picture.push_str(&group.heading);
            picture.push('\n');
            for row in &group.rows {
                let blocks = draw_blocks(&row.blocks);
                let (label, latency) = (&row.label, &row.latency);
                let _ = writeln!(
                    picture,
                    "{ROW_INDENT}{label:<label_width$}{GAP}{blocks:<plot_width$}{GAP}{latency:>latency_width$}"
                );
            }
        }
        picture
    }

    /// The picture as a standalone SVG document, for slides and pages, with the
    /// default frame: `to_svg_with(&SvgOptions::default())`.
    pub fn to_svg(&self) -> String {
        self.to_svg_with(&SvgOptions::default())
    }

    /// The picture as a standalone SVG document, for slides and pages.
    ///
    /// It is the text picture's grid drawn in pixels: [`SVG_WIDTH`] wide, at most
    /// [`SVG_MAX_HEIGHT`] high (so it fits a 16:9 slide; [`SvgAspect::Slide`] makes it
    /// exactly one), on a light card with its own background so it reads on white and
    /// on dark pages alike. It stands alone on a slide: a title, a header over the
    /// latency column, a caption under the time axis and a legend of the runs'
    /// colours; its latencies have the table's digits (`2.005 s`). Every label is a
    /// real `<text>`; the structure is there for a script to find:
    /// `<g class="axis">`, one `<g class="mode" data-mode="...">` per run holding one
    /// `<g class="request">` per request (`class="request others"` for a summary row)
    /// with one `<rect class="lookup">` per block, and `<g class="timeline-legend">`. Numbers
    /// are printed with fixed decimals, so the same run gives the same bytes.
    pub fn to_svg_with(&self, options: &SvgOptions) -> String {
        let grid = SvgGrid::new(self, options.aspect);
        let mut svg = String::new();
        let (width, height) = (SVG_WIDTH, grid.height);
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:.0}" viewBox="0 0 {width} {height:.0}" font-family="ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace" font-size="{:.1}">"#,
            grid.font_size
        );
        let title = if options.title.is_empty() {
            "Every user lookup on one time axis"
        } else {
            options.title.as_str()
        };
        let _ = writeln!(svg, "<title>{}</title>", escape(title));
        let _ = writeln!(
            svg,
            r#"<rect class="card" x="0.5" y="0.5" width="{:.1}" height="{:.1}" rx="12" fill="{CARD}" stroke="{CARD_EDGE}"/>"#,
            f64::from(width) - 1.0,
            height - 1.0
        );
        // The title, cut to the card's width (a monospace character is CHAR_ASPECT of
        // its font size wide).
        let title_font = grid.title_font;
        let room = ((f64::from(width) - 2.0 * SVG_MARGIN) / (title_font * CHAR_ASPECT)) as usize;
        let shown: String = if title.chars().count() > room {
            let mut cut: String = title.chars().take(room.saturating_sub(1)).collect();
            cut.push('…');
            cut
        } else {
            title.to_string()
        };
        let _ = writeln!(
            svg,
            r#"<text class="title" x="{:.1}" y="{:.1}" fill="{INK}" font-weight="bold" font-size="{title_font:.1}">{}</text>"#,
            grid.x(0),
            grid.top - grid.line * 0.5,
            escape(&shown)
        );

        // The axis: a label and a faint line down the whole plot for every tick, and
        // the latency column's header on the same line.
        svg.push_str("<g class=\"axis\">\n");
        let (top, bottom) = (grid.line_top(1), grid.line_top(grid.lines));
        for (column, label) in self.axis.labels() {
            let x = grid.x(self.label_column() + column);
            let _ = writeln!(
                svg,
                r#"<line x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="{GRID}" stroke-width="1"/>"#
            );
            let _ = writeln!(
                svg,
                r#"<text x="{x:.1}" y="{:.1}" fill="{MUTED}" text-anchor="middle">{}</text>"#,
                grid.baseline(0),
                escape(&label)
            );
        }
        let _ = writeln!(
            svg,
            r#"<text class="latency-header" x="{:.1}" y="{:.1}" fill="{MUTED}" text-anchor="end" font-weight="bold">latency</text>"#,
            grid.x(self.svg_row_width()),
            grid.baseline(0)
        );
        let plot_middle = grid.x(self.label_column() + self.axis.plot_width() / 2);
        let unit = if self.in_seconds {
            "seconds"
        } else {
            "milliseconds"
        };
        let _ = writeln!(
            svg,
            r#"<text class="axis-caption" x="{plot_middle:.1}" y="{:.1}" fill="{MUTED}" text-anchor="middle">time since the requests were sent ({unit})</text>"#,
            grid.baseline(grid.lines)
        );
        svg.push_str("</g>\n");

        let mut line = 1;
        for group in &self.groups {
            let colour = mode_colour(group.mode);
            let _ = writeln!(
                svg,
                r#"<g class="mode" data-mode="{}">"#,
                group.mode.as_str()
            );
            let _ = writeln!(
                svg,
                r#"<text class="heading" x="{:.1}" y="{:.1}" fill="{INK}" font-weight="bold">{}</text>"#,
                grid.x(0),
                grid.baseline(line),
                escape(&group.heading)
            );
            line += 1;
            for row in &group.rows {
                match row.summarised {
                    None => svg.push_str("<g class=\"request\">\n"),
                    Some(n) => {
                        let _ = writeln!(svg, r#"<g class="request others" data-requests="{n}">"#);
                    }
                }
                let _ = writeln!(
                    svg,
                    r#"<text class="label" x="{:.1}" y="{:.1}" fill="{INK}">{}</text>"#,
                    grid.x(ROW_INDENT.len()),
                    grid.baseline(line),
                    escape(&row.label)
                );
                let (y, h) = (grid.block_top(line), grid.block_height());
                for block in &row.blocks {
                    // A pixel of air on each side, so touching blocks stay two blocks.
                    let x = grid.x(self.label_column() + block.start) + 1.0;
                    let w = ((block.end - block.start) as f64 * grid.column - 2.0).max(1.5);
                    let _ = writeln!(
                        svg,
                        r#"<rect class="lookup" data-lookups="{}" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" rx="2" fill="{colour}"/>"#,
                        block.lookups
                    );
                }
                let _ = writeln!(
                    svg,
                    r#"<text class="latency" x="{:.1}" y="{:.1}" fill="{INK}" text-anchor="end">{}</text>"#,
                    grid.x(self.svg_row_width()),
                    grid.baseline(line),
                    escape(&row.exact)
                );
                svg.push_str("</g>\n");
                line += 1;
            }
            svg.push_str("</g>\n");
        }

        // The legend: each run's colour, and what a block and a row's end mean.
        svg.push_str("<g class=\"timeline-legend\">\n");
        let y = grid.baseline(grid.lines + 1);
        let (swatch, mut column) = (grid.font_size * 0.8, 0usize);
        let mut seen = Vec::new();
        for group in &self.groups {
            if seen.contains(&group.mode) {
                continue;
            }
            seen.push(group.mode);
            let x = grid.x(column);
            let _ = writeln!(
                svg,
                r#"<rect x="{x:.1}" y="{:.1}" width="{swatch:.1}" height="{swatch:.1}" rx="2" fill="{}"/>"#,
                y - swatch,
                mode_colour(group.mode)
            );
            let name = group.mode.as_str();
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{y:.1}" fill="{INK}">{name}</text>"#,
                x + swatch * 1.5
            );
            column += 2 + name.len() + 3;
        }
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" fill="{MUTED}">one block: one user's lookup · a row ends at its request's latency</text>"#,
            grid.x(0),
            grid.baseline(grid.lines + 2)
        );
        svg.push_str("</g>\n");
        svg.push_str("</svg>\n");
        svg
    }
}

/// The timeline of `runs` as text, `width` columns wide: `Layout::new(runs, width).to_text()`.
pub fn render_timeline(runs: &[RunReport], width: usize) -> String {
    Layout::new(runs, width).to_text()
}

/// A row before it is placed on the axis: its text and the spans it draws.
struct PlannedRow<'a> {
    label: String,
    spans: Vec<&'a Span>,
    latency: String,
    exact: String,
    summarised: Option<usize>,
}

/// One row per request while they fit in `rows`, else `rows - 1` rows and one that
/// sums up the rest.
fn plan_rows(run: &RunReport, rows: usize, decimals: u32) -> Vec<PlannedRow<'_>> {
    let shown = if run.requests.len() <= rows {
        run.requests.len()
    } else {
        rows - 1
    };
    let mut planned: Vec<PlannedRow<'_>> = run.requests[..shown]
        .iter()
        .map(|request| PlannedRow {
            label: users_label(request.users),
            spans: request.lookups.iter().collect(),
            latency: format_seconds(request.latency, decimals),
            exact: format_seconds(request.latency, TABLE_DECIMALS),
            summarised: None,
        })
        .collect();
    let rest = &run.requests[shown..];
    if let Some(slowest) = rest.iter().map(|request| request.latency).max() {
        let mut spans: Vec<&Span> = rest.iter().flat_map(|r| &r.lookups).collect();
        // Blocks are built left to right; the rest's lookups come from many requests.
        spans.sort_by_key(|span| (span.start, span.end));
        planned.push(PlannedRow {
            label: format!("+{} more", thousands(rest.len() as u64)),
            spans,
            latency: format_seconds(slowest, decimals),
            exact: format_seconds(slowest, TABLE_DECIMALS),
            summarised: Some(rest.len()),
        });
    }
    planned
}

/// One row of blocks as text: `[====]` per block, `|` for a one-column block.
fn draw_blocks(blocks: &[Block]) -> String {
    let mut row = String::new();
    for block in blocks {
        row.push_str(&" ".repeat(block.start - row.len()));
        match block.end - block.start {
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
#[derive(Debug, Clone)]
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
        // up to that tick rather than given a whole empty tick more; its last block is
        // then cut at the axis's end.
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
                let fits = ticks.saturating_mul(room_per_tick(tick) as u128) <= plot_budget as u128;
                ticks == 1 || (ticks <= MAX_TICKS && fits)
            })
            // Only a run of millions of years gets past the end of the series.
            .unwrap_or(longest);
        let ticks = ticks_of(tick);
        Self {
            tick,
            ticks,
            in_seconds,
            // Labels get their room even when the budget is too small to give it.
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

    /// Every tick's column in the plot and its label: `(0, "0s"), (10, "1s"), ...`.
    fn labels(&self) -> impl Iterator<Item = (usize, String)> + '_ {
        (0..=self.ticks).map(|index| {
            (
                index as usize * self.columns_per_tick,
                Self::tick_label(self.tick, index, self.in_seconds),
            )
        })
    }

    /// The column where time `at` falls, rounded to the nearest column.
    fn column(&self, at: Duration) -> usize {
        let columns_per_tick = self.columns_per_tick as u128;
        let tick = self.tick.as_nanos();
        let column = (at.as_nanos() * columns_per_tick + tick / 2) / tick;
        column.min(self.plot_width() as u128) as usize
    }

    /// The blocks of lookups `spans` (in time order): each lookup covers the columns
    /// from its start to its end, at least one, within the plot. A lookup that starts
    /// inside the block before it joins that block, and so does one that starts where
    /// it ends when either is narrower than [`MIN_BLOCK`].
    fn blocks<'a>(&self, spans: impl IntoIterator<Item = &'a Span>) -> Vec<Block> {
        let last_column = self.plot_width() - 1;
        let mut blocks: Vec<Block> = Vec::new();
        for span in spans {
            let start = self.column(span.start).min(last_column);
            let end = self.column(span.end).max(start + 1);
            match blocks.last_mut() {
                // Inside the block before, or touching it where one of the two is too
                // narrow to show as a block of its own (`|||` reads as noise).
                Some(block)
                    if start < block.end
                        || (start == block.end
                            && (block.end - block.start).min(end - start) < MIN_BLOCK) =>
                {
                    block.end = block.end.max(end);
                    block.lookups += 1;
                }
                _ => blocks.push(Block {
                    start,
                    end,
                    lookups: 1,
                }),
            }
        }
        blocks
    }
}

/// The SVG's width in pixels: a slide's, at 1280x720.
pub const SVG_WIDTH: u32 = 1280;

/// The SVG's greatest height: a 16:9 slide's at [`SVG_WIDTH`]. Rows get thinner rather
/// than the picture taller.
pub const SVG_MAX_HEIGHT: f64 = 720.0;

/// Space around the picture on its card, in pixels.
const SVG_MARGIN: f64 = 32.0;

/// A monospace character is about this wide for each pixel of font size.
const CHAR_ASPECT: f64 = 0.6;

// A light card with dark ink and mid-tone blocks: the card carries its own
// background, so the picture reads the same on a white page and on a dark slide.
const CARD: &str = "#f6f8fa";
const CARD_EDGE: &str = "#8c959f";
const INK: &str = "#1f2328";
const MUTED: &str = "#57606a";
const GRID: &str = "#d0d7de";

/// Each mode's colour: mid-tones that differ in hue and stand out on the light card.
fn mode_colour(mode: Mode) -> &'static str {
    match mode {
        Mode::Sequential => "#c4581c",
        Mode::Threads => "#7d55c7",
        Mode::EventLoop => "#1f883d",
    }
}

/// Where the text grid falls in pixels: a column's width, a line's height, the font.
struct SvgGrid {
    column: f64,
    line: f64,
    font_size: f64,
    title_font: f64,
    /// Lines of text: the axis labels, each heading and each row. The caption and the
    /// legend take three more below them.
    lines: usize,
    /// Where line 0 begins: below the title.
    top: f64,
    height: f64,
}

impl SvgGrid {
    fn new(layout: &Layout, aspect: SvgAspect) -> SvgGrid {
        let last_label = layout.axis.labels().last().map_or(0, |(column, label)| {
            layout.label_column() + column + label.len()
        });
        let columns = layout.svg_row_width().max(last_label).max(1);
        let column = (f64::from(SVG_WIDTH) - 2.0 * SVG_MARGIN) / columns as f64;
        let lines = 1 + layout
            .groups
            .iter()
            .map(|group| 1 + group.rows.len())
            .sum::<usize>();
        // The title takes two lines' room, the caption one and the legend two.
        let room_lines = lines as f64 + 5.0;
        let font_size = (column / CHAR_ASPECT).min(20.0);
        let fits = (SVG_MAX_HEIGHT - 2.0 * SVG_MARGIN) / room_lines;
        let line = match aspect {
            SvgAspect::Fit => (font_size * 1.6).min(fits),
            // A slide: the rows spread out to fill it, up to twice their natural height.
            SvgAspect::Slide => (font_size * 3.2).min(fits),
        };
        // A line squeezed below its natural height takes a smaller font with it.
        let font_size = font_size.min(line / 1.25);
        let used = 2.0 * SVG_MARGIN + room_lines * line;
        let (height, slack) = match aspect {
            SvgAspect::Fit => (used.ceil(), 0.0),
            SvgAspect::Slide => (SVG_MAX_HEIGHT, (SVG_MAX_HEIGHT - used).max(0.0) / 2.0),
        };
        SvgGrid {
            column,
            line,
            font_size,
            title_font: (font_size * 1.25).min(line * 1.2),
            lines,
            top: SVG_MARGIN + slack + 2.0 * line,
            height,
        }
    }

    fn x(&self, column: usize) -> f64 {
        SVG_MARGIN + column as f64 * self.column
    }

    fn line_top(&self, line: usize) -> f64 {
        self.top + line as f64 * self.line
    }

    fn baseline(&self, line: usize) -> f64 {
        self.line_top(line) + self.line * 0.72
    }

    fn block_top(&self, line: usize) -> f64 {
        self.line_top(line) + self.line * 0.2
    }

    fn block_height(&self) -> f64 {
        self.line * 0.6
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookup::report::RequestReport;
    use crate::lookup::report::tests::{lines, request, seconds};

    fn run(mode: Mode, total: f64, requests: Vec<RequestReport>) -> RunReport {
        RunReport {
            mode,
            virtual_time: false,
            total: seconds(total),
            delay: Some(Duration::from_secs(1)),
            requests,
        }
    }

    /// The post's ideal numbers: 3, 2 and 1 users at one second each.
    fn the_posts_runs() -> Vec<RunReport> {
        vec![
            run(
                Mode::Sequential,
                6.0,
                vec![
                    request(&[(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]),
                    request(&[(3.0, 4.0), (4.0, 5.0)]),
                    request(&[(5.0, 6.0)]),
                ],
            ),
            run(
                Mode::EventLoop,
                3.0,
                vec![
                    request(&[(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]),
                    request(&[(0.0, 1.0), (1.0, 2.0)]),
                    request(&[(0.0, 1.0)]),
                ],
            ),
        ]
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
        let run = run(
            Mode::Threads,
            3.004,
            vec![
                request(&[(0.0, 1.002), (1.002, 2.003), (2.003, 3.004)]),
                request(&[(0.0, 1.001), (1.001, 2.002)]),
            ],
        );
        let expected = lines(&[
            "             0s                  1s                  2s                  3s",
            "threads (one per request)",
            "  3 users    [==================][==================][==================]    3.00 s",
            "  2 users    [==================][==================]                        2.00 s",
        ]);
        // 3.004 s is noise past 3 s: the axis stops at 3 s, not 4 s, and the last
        // block is cut at the axis's end.
        assert_eq!(render_timeline(&[run], 83), expected);
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
        let mut run = run(Mode::EventLoop, 0.3, requests);
        run.virtual_time = true;
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
    fn lookups_too_short_for_a_column_join_into_one_block_within_the_axis() {
        let run = run(
            Mode::Sequential,
            6.0,
            vec![
                request(&[(0.0, 0.001), (0.001, 0.002), (0.002, 0.003)]),
                request(&[(0.0, 1.0), (1.04, 2.0), (5.99, 6.0)]),
            ],
        );
        let layout = Layout::new(&[run], 83);
        let blocks: Vec<Vec<Block>> = layout.groups[0]
            .rows
            .iter()
            .map(|row| row.blocks.clone())
            .collect();
        let block = |start, end, lookups| Block {
            start,
            end,
            lookups,
        };
        assert_eq!(blocks[0], [block(0, 1, 3)]);
        assert_eq!(
            blocks[1],
            [block(0, 10, 1), block(10, 20, 1), block(59, 60, 1)]
        );
        let picture = layout.to_text();
        let rows: Vec<&str> = picture.lines().skip(2).collect();
        assert_eq!(
            rows[0],
            "  3 users    |                                                               0.00 s"
        );
        assert_eq!(
            rows[1],
            "  3 users    [========][========]                                       |    6.00 s"
        );
    }

    #[test]
    fn an_empty_report_draws_nothing() {
        assert_eq!(render_timeline(&[], 80), "");
        let run = run(Mode::Sequential, 0.0, vec![]);
        assert_eq!(
            render_timeline(&[run], 80),
            lines(&[&format!("      0s{:68}1s", ""), "sequential"])
        );
    }

    /// `requests` requests of `users` lookups of `each` on an event loop.
    fn a_big_run(requests: usize, users: u32, each: Duration) -> RunReport {
        let request = |_| {
            let lookups: Vec<Span> = (0..users)
                .map(|i| Span {
                    start: each * i,
                    end: each * (i + 1),
                })
                .collect();
            RequestReport {
                users,
                start: Duration::ZERO,
                latency: each * users,
                lookups,
            }
        };
        RunReport {
            mode: Mode::EventLoop,
            virtual_time: true,
            total: each * users,
            delay: Some(each),
            requests: (0..requests).map(request).collect(),
        }
    }

    #[test]
    fn a_request_of_65536_lookups_fits_80_columns_as_one_block() {
        let run = a_big_run(1, 65_536, Duration::from_millis(1));
        let picture = render_timeline(&[run], 80);
        assert!(
            picture.lines().all(|line| line.chars().count() <= 80),
            "{picture}"
        );
        let row = picture.lines().nth(2).unwrap();
        assert!(row.starts_with("  65536 users    [====="), "{row}");
        assert_eq!(row.matches('[').count(), 1, "one block: {row}");
        assert!(row.ends_with(" 65.54 s"), "{row}");
    }

    #[test]
    fn past_the_row_limit_the_rest_is_one_summary_row() {
        let run = a_big_run(100_000, 2, Duration::from_millis(1));
        let layout = Layout::new(std::slice::from_ref(&run), 80);
        let rows = &layout.groups[0].rows;
        assert_eq!(rows.len(), MAX_REQUEST_ROWS);
        assert_eq!(rows.last().unwrap().label, "+99,965 more");
        assert_eq!(rows.last().unwrap().summarised, Some(99_965));
        let picture = layout.to_text();
        assert_eq!(picture.lines().count(), 2 + MAX_REQUEST_ROWS);
        assert!(picture.lines().all(|line| line.chars().count() <= 80));
        // Three runs share the rows.
        let three = [run.clone(), run.clone(), run];
        let layout = Layout::new(&three, 80);
        assert!(
            layout
                .groups
                .iter()
                .all(|group| group.rows.len() == MAX_REQUEST_ROWS / 3)
        );
    }

    #[test]
    fn a_narrow_terminal_gets_the_narrowest_picture() {
        let picture = render_timeline(&the_posts_runs(), 20);
        assert!(
            picture
                .lines()
                .all(|line| line.chars().count() <= MIN_WIDTH)
        );
        assert!(picture.lines().any(|line| line.chars().count() > 40));
    }

    /// Counts the SVG's elements by name and class.
    fn count(document: &roxmltree::Document<'_>, name: &str, class: &str) -> usize {
        document
            .descendants()
            .filter(|node| {
                node.has_tag_name(name)
                    && node
                        .attribute("class")
                        .is_some_and(|c| c.split(' ').any(|word| word == class))
            })
            .count()
    }

    #[test]
    fn the_svg_of_the_posts_runs_has_a_group_per_mode_a_row_per_request_a_block_per_lookup() {
        let svg = Layout::new(&the_posts_runs(), 100).to_svg();
        let document = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
        let root = document.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2000/svg")
        );
        let width: f64 = root.attribute("width").unwrap().parse().unwrap();
        let height: f64 = root.attribute("height").unwrap().parse().unwrap();
        assert!(width / height >= 16.0 / 9.0, "{width}x{height}");
        assert_eq!(count(&document, "g", "mode"), 2);
        assert_eq!(count(&document, "g", "request"), 6);
        assert_eq!(count(&document, "rect", "lookup"), 12);
        // The labels are text a reader (and a search) can find.
        let texts: Vec<&str> = document
            .descendants()
            .filter(|node| node.has_tag_name("text"))
            .filter_map(|node| node.text())
            .collect();
        for expected in [
            "0s",
            "6s",
            "sequential",
            "event-loop (one thread)",
            "3 users",
            "6.000 s",
            "latency",
            "time since the requests were sent (seconds)",
            "Every user lookup on one time axis",
        ] {
            assert!(texts.contains(&expected), "{expected:?} in {texts:?}");
        }
    }

    #[test]
    fn a_huge_run_makes_an_svg_that_still_fits_a_slide() {
        let run = a_big_run(100_000, 3, Duration::from_millis(7));
        let svg = Layout::new(&[run.clone(), run], 100).to_svg();
        let document = roxmltree::Document::parse(&svg).unwrap();
        let height: f64 = document
            .root_element()
            .attribute("height")
            .unwrap()
            .parse()
            .unwrap();
        assert!(height <= SVG_MAX_HEIGHT, "{height}");
        assert_eq!(count(&document, "g", "others"), 2);
        assert_eq!(count(&document, "g", "request"), MAX_REQUEST_ROWS);
    }

    #[test]
    fn the_svg_gives_latencies_with_the_tables_digits_and_the_text_keeps_its_own() {
        let runs = vec![run(
            Mode::EventLoop,
            2.005,
            vec![request(&[(0.0, 1.0), (1.0, 2.005)])],
        )];
        let layout = Layout::new(&runs, 80);
        // The terminal picture keeps its two decimals.
        assert!(!layout.to_text().contains("2.005"), "{}", layout.to_text());
        let svg = layout.to_svg();
        let document = roxmltree::Document::parse(&svg).unwrap();
        let latencies: Vec<&str> = document
            .descendants()
            .filter(|n| n.attribute("class") == Some("latency"))
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(latencies, ["2.005 s"]);
    }

    #[test]
    fn a_16_9_svg_is_exactly_a_slide_with_its_title_and_legend_inside() {
        let options = SvgOptions {
            title: "3 and 2 & 1 <users>".to_string(),
            aspect: SvgAspect::Slide,
        };
        let svg = Layout::new(&the_posts_runs(), 100).to_svg_with(&options);
        let document = roxmltree::Document::parse(&svg).unwrap();
        let root = document.root_element();
        let size = |name| root.attribute(name).unwrap().parse::<f64>().unwrap();
        assert_eq!((size("width"), size("height")), (1280.0, 720.0));
        let title = document
            .descendants()
            .find(|n| n.attribute("class") == Some("title"))
            .unwrap();
        assert_eq!(title.text(), Some("3 and 2 & 1 <users>"));
        // Everything drawn lies on the card.
        for node in document.descendants().filter(|n| n.has_tag_name("text")) {
            let y: f64 = node.attribute("y").unwrap().parse().unwrap();
            assert!(y > 0.0 && y < 720.0, "{:?} at {y}", node.text());
        }
        let legend = document
            .descendants()
            .find(|n| n.attribute("class") == Some("timeline-legend"))
            .unwrap();
        let words: Vec<&str> = legend.descendants().filter_map(|n| n.text()).collect();
        assert!(
            words.contains(&"sequential") && words.contains(&"event-loop"),
            "{words:?}"
        );
        // Its rows spread out: taller than the default picture's.
        let fit = Layout::new(&the_posts_runs(), 100).to_svg();
        let fit = roxmltree::Document::parse(&fit).unwrap();
        let fit_height: f64 = fit
            .root_element()
            .attribute("height")
            .unwrap()
            .parse()
            .unwrap();
        assert!(fit_height < 720.0, "{fit_height}");
    }

    #[test]
    fn text_in_the_svg_is_escaped() {
        assert_eq!(escape(r#"<a & "b">"#), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
