//! WRONG: `copy` writes each chunk with one `write` and counts it all: the bytes a short write did not take are lost.
//!
//! A drop-in for `src/start/ex08_async_io_traits.rs`; checked by `tests/wrong_solutions.rs`.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::io;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use looplab::net::TcpStream;

/// A source of bytes that may have to wait for them.
///
/// The methods return `impl Future + Send` rather than being `async fn`s so that the
/// trait can promise `Send`: a generic function over `AsyncRead` can then be spawned.
/// Implementations may still write `async fn read(...)`.
///
/// tokio's `AsyncRead` (and futures' `AsyncRead`) is built differently, on a *poll*
/// method: `poll_read(self: Pin<&mut Self>, cx, buf) -> Poll<io::Result<()>>`. That
/// makes it usable as `dyn AsyncRead` and lets wrappers (TLS, compression) be plain
/// structs with no future stored inside; the price is writing state machines by hand.
/// Here the async-fn shape is enough, and it reuses `TcpStream`'s async methods as
/// they are.
pub trait AsyncRead {
    /// Reads at least one byte into `buf`, waiting until there is one, and returns how
    /// many. **0 means the end of the stream** (or an empty `buf`).
    fn read(&mut self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> + Send;
}

/// A sink of bytes that may have to wait for room.
pub trait AsyncWrite {
    /// Writes some of `buf` (at least one byte, unless `buf` is empty), waiting for room
    /// if there is none, and returns how many bytes it took.
    fn write(&mut self, buf: &[u8]) -> impl Future<Output = io::Result<usize>> + Send;

    /// Says "no more bytes": the reader at the other end will read 0 once it has read
    /// everything before.
    fn shutdown(&mut self) -> impl Future<Output = io::Result<()>> + Send;
}

impl AsyncRead for TcpStream {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Path syntax picks the inherent method, not this trait's (which would recurse).
        TcpStream::read(self, buf).await
    }
}

impl AsyncWrite for TcpStream {
    async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        TcpStream::write(self, buf).await
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        // Closing a half is one syscall that never waits.
        self.shutdown_write()
    }
}

/// Writes all of `buf`, as many `write`s as it takes (tokio's `AsyncWriteExt::write_all`).
pub async fn write_all<W: AsyncWrite>(writer: &mut W, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match writer.write(buf).await? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => buf = &buf[n..],
        }
    }
    Ok(())
}

/// Reads until the end of the stream, appending to `out`; returns how many bytes.
pub async fn read_to_end<R: AsyncRead>(reader: &mut R, out: &mut Vec<u8>) -> io::Result<usize> {
    let mut chunk = [0u8; 8 * 1024];
    let mut total = 0;
    loop {
        match reader.read(&mut chunk).await? {
            0 => return Ok(total),
            n => {
                out.extend_from_slice(&chunk[..n]);
                total += n;
            }
        }
    }
}

/// Copies everything `reader` gives into `writer` until the end of the stream, and
/// returns how many bytes (tokio's `tokio::io::copy`). Does not shut `writer` down.
///
/// One buffer, reused: at most 8 KiB is in flight, whatever the size of the stream.
/// When the writer is slow, `write` waits, so `copy` stops reading: that is
/// **backpressure**, and it is why a fast sender cannot fill a slow receiver's memory.
pub async fn copy<R: AsyncRead, W: AsyncWrite>(reader: &mut R, writer: &mut W) -> io::Result<u64> {
    let mut buf = [0u8; 8 * 1024];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        writer.write(&buf[..n]).await?;
        total += n as u64;
    }
}

/// A one-way in-memory pipe holding at most `capacity` bytes: what the writer writes,
/// the reader reads (tokio: `tokio::io::simplex`; a socket pair without the kernel).
///
/// # Panics
/// If `capacity` is zero.
pub fn pipe(capacity: usize) -> (PipeWriter, PipeReader) {
    assert!(
        capacity > 0,
        "a pipe of capacity 0 could never carry a byte"
    );
    let shared = Arc::new(Mutex::new(PipeState {
        buffer: VecDeque::with_capacity(capacity),
        capacity,
        writer_closed: false,
        reader_closed: false,
        reader_waker: None,
        writer_waker: None,
    }));
    (
        PipeWriter {
            shared: shared.clone(),
        },
        PipeReader { shared },
    )
}

/// Both ends of a pipe share this. Each side leaves its waker when it has to wait,
/// and the other side wakes it when it changes what that side waits for.
struct PipeState {
    buffer: VecDeque<u8>,
    capacity: usize,
    /// The writer shut down or was dropped: once the buffer is empty, reads give 0.
    writer_closed: bool,
    /// The reader was dropped: writes fail with `BrokenPipe`.
    reader_closed: bool,
    /// The reader waits for bytes (or the end).
    reader_waker: Option<Waker>,
    /// The writer waits for room.
    writer_waker: Option<Waker>,
}

/// Keeps `slot` holding the waker of `waker`'s task, cloning only if it changed.
fn remember(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(w) if w.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

/// The reading end of a [`pipe`].
pub struct PipeReader {
    shared: Arc<Mutex<PipeState>>,
}

/// The writing end of a [`pipe`].
pub struct PipeWriter {
    shared: Arc<Mutex<PipeState>>,
}

impl AsyncRead for PipeReader {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| {
            let mut state = self.shared.lock().unwrap();
            if buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
            if state.buffer.is_empty() {
                if state.writer_closed {
                    return Poll::Ready(Ok(0));
                }
                remember(&mut state.reader_waker, cx.waker());
                return Poll::Pending;
            }
            let n = buf.len().min(state.buffer.len());
            for (to, from) in buf.iter_mut().zip(state.buffer.drain(..n)) {
                *to = from;
            }
            // There is room now: the writer may be waiting for exactly that.
            let writer = state.writer_waker.take();
            drop(state);
            if let Some(waker) = writer {
                waker.wake();
            }
            Poll::Ready(Ok(n))
        })
        .await
    }
}

impl AsyncWrite for PipeWriter {
    async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| {
            let mut state = self.shared.lock().unwrap();
            if state.reader_closed {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the pipe's reader is gone",
                )));
            }
            if state.writer_closed {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "write after shutdown",
                )));
            }
            if buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
            let room = state.capacity - state.buffer.len();
            if room == 0 {
                remember(&mut state.writer_waker, cx.waker());
                return Poll::Pending;
            }
            let n = buf.len().min(room);
            state.buffer.extend(&buf[..n]);
            let reader = state.reader_waker.take();
            drop(state);
            if let Some(waker) = reader {
                waker.wake();
            }
            Poll::Ready(Ok(n))
        })
        .await
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        close_writer(&self.shared);
        Ok(())
    }
}

/// Marks the writing side closed and wakes a waiting reader (it will read 0).
fn close_writer(shared: &Mutex<PipeState>) {
    let reader = {
        let mut state = shared.lock().unwrap();
        state.writer_closed = true;
        state.reader_waker.take()
    };
    if let Some(waker) = reader {
        waker.wake();
    }
}

impl Drop for PipeWriter {
    fn drop(&mut self) {
        close_writer(&self.shared);
    }
}

impl Drop for PipeReader {
    fn drop(&mut self) {
        let writer = {
            let mut state = self.shared.lock().unwrap();
            state.reader_closed = true;
            state.writer_waker.take()
        };
        if let Some(waker) = writer {
            waker.wake();
        }
    }
}
