//! Pictures of a run: the trace's records as an HTML page and as a Chrome trace.
//!
//! The printed trace tells what the loop did line by line; a run of a few hundred
//! lines is already hard to follow that way. This module draws the same records:
//!
//! - [`html()`]: one self-contained page with **task lanes** (one lane per task, the
//!   polls in the order the loop ran them, wakes as arrows from waker to woken, parks
//!   labelled with what ended them) and a **turn stepper** (for every turn of the loop,
//!   the state `--step` shows and the trace lines of the turn, with a diagram of the
//!   turn's five steps that lights up the ones that did something);
//! - [`chrome_trace()`]: Trace Event Format JSON, for [Perfetto](https://ui.perfetto.dev)
//!   and `chrome://tracing`: a track per task, polls and parks on the runtime's clock,
//!   wakes as flow arrows;
//! - [`EnvExport`]: `LOOPLAB_HTML=run.html` or `LOOPLAB_CHROME_TRACE=run.json` in the
//!   environment makes a program write them, with no change to its code.
//!
//! ```
//! use std::time::Duration;
//! use looplab::{Recorder, Runtime};
//!
//! let recorder = Recorder::new();
//! let rt = Runtime::builder().virtual_time(true).record(recorder.clone()).build().unwrap();
//! rt.block_on(async {
//!     let a = looplab::spawn_named("a", looplab::time::sleep(Duration::from_secs(1)));
//!     a.await.unwrap();
//! });
//! let records = recorder.records();
//! let page = looplab::export::html(&records, &looplab::export::HtmlExtras::default());
//! assert!(page.contains("task 1 a"));
//! let trace: serde_json::Value =
//!     serde_json::from_str(&looplab::export::chrome_trace(&records)).unwrap();
//! assert!(trace["traceEvents"].is_array());
//! ```
//!
//! The renderer sits outside the runtime and depends on nothing but the records: the
//! runtime only records events. Under virtual time both outputs are the same bytes on
//! every run.
//!
//! | part | file |
//! |---|---|
//! | a run rebuilt per task and per turn | [`lanes`] |
//! | the `--step` state replayed from the events | [`replay`] |
//! | the HTML page (and its `page.css`, `page.js`) | [`mod@html`] |
//! | the Chrome trace | [`mod@chrome_trace`] |
//! | files on request through the environment | `env.rs` ([`EnvExport`]) |

pub mod chrome_trace;
mod env;
mod file;
pub mod html;
pub mod lanes;
pub mod replay;

pub use chrome_trace::chrome_trace;
pub use env::{CHROME_TRACE_VAR, EnvExport, HTML_VAR};
pub use file::{FileId, check_writable, file_id, write_atomically, write_each};
pub use html::{HtmlExtras, html};
