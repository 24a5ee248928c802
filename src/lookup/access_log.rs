//! The directory's access log: one line per answer, written in batches.
//!
//! A server that logs each request pays for the log on every answer. Written naively
//! (`writeln!` on `io::stderr()`, which has no buffer), one line costs one system call
//! per formatted piece, some thirty per line, and the log, not the serving, sets the
//! server's speed. Each line here is formatted once, into memory, and the lines of a
//! whole loop turn go out with one `write`.
//!
//! How, with nothing asked of the runtime:
//!
//! - A line is formatted once, in memory: the directory formats each answer's line
//!   beside the answer, and once the answers are written (so that a line means the
//!   answer went out) hands the lines over with [`AccessLog::lines`]; [`AccessLog::line`]
//!   formats one in place. Either adds to a shared buffer and, if the buffer was empty,
//!   wakes the log's own task. Logging never waits and never writes.
//! - [`AccessLog::run`] is that task. Woken by the first line of a turn, it is queued
//!   behind the tasks already ready in that turn, which add their lines meanwhile; when
//!   it is polled it writes everything gathered with one `write_all` and waits again.
//!   The loop parks only once no task is ready, so a line is written before the loop
//!   next sleeps: never more than a turn late, however quiet the server then gets.
//! - [`AccessLog::flush`] writes what remains, at once. The server's stop path calls
//!   it, so that the last lines come before the summary. And the buffer flushes itself
//!   when dropped: a runtime dropped with its tasks (an early return, a panic that
//!   unwinds out of `block_on`) loses no line either. A request handler that panics
//!   fails only its own task; the lines of other answers are already in the buffer.
//!
//! A write error (stderr closed) drops the batch and keeps serving: a log must not
//! stop the server it describes.

use std::fmt;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

/// A shared access log; clones write to the same place. See the module doc.
#[derive(Clone)]
pub struct AccessLog {
    shared: Arc<Mutex<Batch>>,
}

/// The lines not written yet, where they go, and the log task waiting for them.
struct Batch {
    lines: Vec<u8>,
    /// The buffer written last, kept so that a busy log does not allocate per turn.
    spare: Vec<u8>,
    out: Box<dyn Write + Send>,
    writer: Option<Waker>,
}

impl Batch {
    fn write_out(&mut self) {
        if self.lines.is_empty() {
            return;
        }
        std::mem::swap(&mut self.lines, &mut self.spare);
        let _ = self
            .out
            .write_all(&self.spare)
            .and_then(|()| self.out.flush());
        self.spare.clear();
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.write_out();
    }
}

impl AccessLog {
    /// A log on the process's stderr.
    pub fn stderr() -> AccessLog {
        AccessLog::to(io::stderr())
    }

    /// A log written to `out` (a file, or a buffer in a test).
    pub fn to(out: impl Write + Send + 'static) -> AccessLog {
        AccessLog {
            shared: Arc::new(Mutex::new(Batch {
                lines: Vec::with_capacity(16 * 1024),
                spare: Vec::with_capacity(16 * 1024),
                out: Box::new(out),
                writer: None,
            })),
        }
    }

    /// Adds one line (a newline is added) to the batch, formatted once, in place.
    pub fn line(&self, line: fmt::Arguments<'_>) {
        let waiting = {
            let mut batch = self.shared.lock().unwrap();
            let first = batch.lines.is_empty();
            // Formatting into a Vec<u8> cannot fail.
            let _ = batch.lines.write_fmt(line);
            batch.lines.push(b'\n');
            if first { batch.writer.take() } else { None }
        };
        if let Some(writer) = waiting {
            writer.wake();
        }
    }

    /// Adds whole lines, formatted already (each ending in a newline), to the batch.
    pub fn lines(&self, lines: &[u8]) {
        if lines.is_empty() {
            return;
        }
        let waiting = {
            let mut batch = self.shared.lock().unwrap();
            let first = batch.lines.is_empty();
            batch.lines.extend_from_slice(lines);
            if first { batch.writer.take() } else { None }
        };
        if let Some(writer) = waiting {
            writer.wake();
        }
    }

    /// Writes the lines gathered so far, now.
    pub fn flush(&self) {
        self.shared.lock().unwrap().write_out();
    }

    /// The log's task: writes each batch as one write when woken, until dropped.
    /// Spawn it once per log.
    pub async fn run(self) {
        std::future::poll_fn(|cx| -> Poll<()> {
            let mut batch = self.shared.lock().unwrap();
            batch.write_out();
            match &mut batch.writer {
                Some(waker) => waker.clone_from(cx.waker()),
                None => batch.writer = Some(cx.waker().clone()),
            }
            Poll::Pending
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Write` that counts its calls, shared with the test.
    #[derive(Clone, Default)]
    struct Counted(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Counted {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut seen = self.0.lock().unwrap();
            seen.0.extend_from_slice(buf);
            seen.1 += 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_lines_of_one_turn_go_out_in_one_write_before_the_loop_sleeps() {
        let out = Counted::default();
        let log = AccessLog::to(out.clone());
        crate::Runtime::builder().build().unwrap().block_on(async {
            crate::spawn(log.clone().run());
            // Three tasks that log in the same turn, then one a turn later.
            let handles: Vec<_> = (0..3)
                .map(|n| {
                    let log = log.clone();
                    crate::spawn(async move { log.line(format_args!("line {n}")) })
                })
                .collect();
            crate::join_all(handles).await;
            crate::time::sleep(std::time::Duration::from_millis(1)).await;
            assert_eq!(out.0.lock().unwrap().1, 1, "one write for the turn");
            log.line(format_args!("line 3"));
            crate::time::sleep(std::time::Duration::from_millis(1)).await;
        });
        let (bytes, writes) = out.0.lock().unwrap().clone();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "line 0\nline 1\nline 2\nline 3\n"
        );
        assert_eq!(writes, 2);
    }

    #[test]
    fn a_panicking_request_handler_or_a_panic_out_of_block_on_loses_no_line() {
        let out = Counted::default();
        let log = AccessLog::to(out.clone());
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            crate::Runtime::builder()
                .build()
                .unwrap()
                .block_on(async move {
                    crate::spawn(log.clone().run());
                    let handler = crate::spawn({
                        let log = log.clone();
                        async move {
                            log.line(format_args!("answered, then the handler panicked"));
                            panic!("a handler's bug");
                        }
                    });
                    assert!(handler.await.is_err(), "the panic fails its own handle");
                    // The loop goes on; this line is still in the buffer when the panic
                    // below unwinds out of block_on and drops the runtime with its tasks.
                    log.line(format_args!("the last line"));
                    panic!("out of block_on");
                })
        }));
        assert!(unwound.is_err());
        let text = String::from_utf8(out.0.lock().unwrap().0.clone()).unwrap();
        assert_eq!(text, "answered, then the handler panicked\nthe last line\n");
    }

    #[test]
    fn lines_not_yet_written_are_written_when_the_log_is_dropped() {
        let out = Counted::default();
        let log = AccessLog::to(out.clone());
        log.line(format_args!("{} {}", "last", 1));
        assert_eq!(out.0.lock().unwrap().1, 0, "nothing written before a turn");
        drop(log);
        assert_eq!(out.0.lock().unwrap().0, b"last 1\n");
    }
}
