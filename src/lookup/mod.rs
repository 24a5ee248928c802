//! The post's scenario (chapters 1, 2 and 8): the user-directory API and the three
//! clients that use it.
//!
//! - [`directory`]: the "external API", an HTTP/1.1 server on looplab that takes one
//!   second per user and answers one user per call.
//! - [`blocking`]: the sequential client and the thread-per-request client, on plain
//!   blocking `std::net` (chapters 1 and 2).
//! - [`event_loop`]: the event-loop client, one looplab task per request (chapter 8).
//! - [`http`]: the little HTTP both sides speak (parsing by `httparse`).
//! - [`access_log`]: the directory's log, one line per answer, written in batches.
//! - [`report`]: what a run measured, as a table and as JSON.
//! - [`timeline`]: every lookup as a block on one time axis, as text and as SVG.
//! - [`narrative`]: the lines the post prints, in English and in its own Korean.
//!
//! Nothing in the runtime depends on this module; it is a program *on* the runtime.

pub mod access_log;
pub mod blocking;
pub mod directory;
pub mod event_loop;
pub mod http;
pub mod loop_report;
pub mod narrative;
pub mod report;
pub mod timeline;
