//! Pictures of a run, drawn from its recording: an HTML page, a Chrome trace, and the
//! state turn by turn.
//!
//! **What this module reads is the recording**, and only the recording: the lines
//! of [`recording`](crate::recording) (`docs/recording.md`), whoever wrote them:
//! looplab's runtime, through [`recording::Capture`](crate::recording::Capture) or
//! `looplab lookup --record`; Python's asyncio, through `python/asyncio_record.py`;
//! or a file read back by `looplab render`. Nothing here imports the executor, the
//! runtime or the trace's in-memory records, and the runtime does not import this
//! module: a run is drawn the same whether it was drawn as it ended
//! (`LOOPLAB_HTML`, `lookup --html`) or a year later from its file.
//!
//! **Drawing is one pipeline**: recording -> [`Model`] -> view. [`Model::new`] reads
//! the lines once and builds the run as every view needs it: one lane per task, the
//! polls in order with what they returned, the wakes with who woke whom and which poll
//! each led to, the parks with what ended them, and the turns with the state the loop
//! recorded at their end. The views only read the model:
//!
//! - [`html()`]: one self-contained page with **task lanes** (one lane per task, the
//!   polls in the order the loop ran them, wakes as arrows from waker to woken, parks
//!   labelled with what ended them) and a **turn stepper** (for every turn of the loop,
//!   the state `--step` showed and the lines of the turn, with a diagram of the
//!   turn's five steps that lights up the ones that did something);
//! - [`chrome_trace()`]: Trace Event Format JSON, for [Perfetto](https://ui.perfetto.dev)
//!   and `chrome://tracing`: a track per task, polls and parks on the recording's
//!   clock, wakes as flow arrows;
//! - `looplab render --step` prints each turn's lines and state in the terminal from
//!   the same model.
//!
//! ```
//! use std::time::Duration;
//! use looplab::recording::{Capture, Clock};
//! use looplab::Runtime;
//!
//! let capture = Capture::new();
//! let rt = Runtime::builder().virtual_time(true).capture(capture.clone()).build().unwrap();
//! rt.block_on(async {
//!     let a = looplab::spawn_named("a", looplab::time::sleep(Duration::from_secs(1)));
//!     a.await.unwrap();
//! });
//! let recording = capture.recording(Clock::Virtual, "one sleep");
//! let page = looplab::export::html(&recording, &looplab::export::HtmlExtras::default());
//! assert!(page.contains("task 1 a"));
//! let trace: serde_json::Value =
//!     serde_json::from_str(&looplab::export::chrome_trace(&recording)).unwrap();
//! assert!(trace["traceEvents"].is_array());
//! ```
//!
//! Under virtual time every output is the same bytes on every run.
//!
//! | part | file |
//! |---|---|
//! | the run as every view reads it, built in one pass | [`model`] |
//! | the HTML page (and its `page.css`, `page.js`) | [`mod@html`] |
//! | the Chrome trace | [`mod@chrome_trace`] |
//! | files written whole or not at all, checked before a run | `file.rs` |

pub mod chrome_trace;
mod file;
pub mod html;
pub mod model;

pub use chrome_trace::chrome_trace;
pub use file::{FileId, check_writable, file_id, write_atomically, write_each};
pub use html::{HtmlExtras, html};
pub use model::Model;
