//! `note`: the program's own lines in the trace (every chapter).
//!
//! The runtime reports what *it* does; a program can add what *it* means, such as
//! the post's "looking up user 1 of 3 ...", and the line lands between the loop's
//! own lines, attributed to the task being polled. It finds the runtime through the
//! thread-local (`context.rs`), which is why it lives apart from the tracer.

use super::Event;
use crate::context;

/// Writes a note into the trace of the runtime running on this thread, attributed to
/// the task being polled. Does nothing when tracing is off or outside a runtime, so
/// library code can narrate freely.
pub fn note(text: impl Into<String>) {
    context::try_with_core(|core| {
        let tracer = core.tracer();
        if tracer.enabled() {
            tracer.emit(Event::Note {
                task: core.executor().current_task(),
                text: text.into(),
            });
        }
    });
}
