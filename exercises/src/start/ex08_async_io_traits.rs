//! Exercise 8 (chapter 7): `AsyncRead`/`AsyncWrite` traits, two implementations (TCP
//! and an in-memory pipe) and one generic `copy`.
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex08_async_io_traits
//! ```
//!
//! The statement: `exercises/README.md`, "ex08_async_io_traits".
//! Hints, when you are stuck: `exercises/hints/ex08.md`.
//!
//! Read `src/net.rs` (the methods the TCP implementation forwards to) and the module
//! doc of `src/reactor/mod.rs` first.
// The starting point declares fields that only your code will read: delete this line
// once the exercise is done.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};
use std::task::Waker;

use looplab::net::TcpStream;

/// A source of bytes that may have to wait for them.
///
/// The methods return `impl Future + Send` rather than being `async fn`s so that the
/// trait can promise `Send`: a generic function over `AsyncRead` can then be spawned.
/// Implementations may still write `async fn read(...)`.
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
    async fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        todo!("ex08: yours to write")
    }
}

impl AsyncWrite for TcpStream {
    async fn write(&mut self, _buf: &[u8]) -> io::Result<usize> {
        todo!("ex08: yours to write")
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        todo!("ex08: yours to write")
    }
}

/// Writes all of `buf`, as many `write`s as it takes.
pub async fn write_all<W: AsyncWrite>(_writer: &mut W, _buf: &[u8]) -> io::Result<()> {
    todo!("ex08: yours to write")
}

/// Reads until the end of the stream, appending to `out`; returns how many bytes.
pub async fn read_to_end<R: AsyncRead>(_reader: &mut R, _out: &mut Vec<u8>) -> io::Result<usize> {
    todo!("ex08: yours to write")
}

/// Copies everything `reader` gives into `writer` until the end of the stream, and
/// returns how many bytes. Does not shut `writer` down.
pub async fn copy<R: AsyncRead, W: AsyncWrite>(
    _reader: &mut R,
    _writer: &mut W,
) -> io::Result<u64> {
    todo!("ex08: yours to write")
}

/// A one-way in-memory pipe holding at most `capacity` bytes: what the writer writes,
/// the reader reads.
///
/// # Panics
/// If `capacity` is zero.
pub fn pipe(_capacity: usize) -> (PipeWriter, PipeReader) {
    todo!("ex08: yours to write")
}

/// Both ends of a pipe share this (a suggestion; change it as you like).
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

/// The reading end of a [`pipe`].
pub struct PipeReader {
    shared: Arc<Mutex<PipeState>>,
}

/// The writing end of a [`pipe`].
pub struct PipeWriter {
    shared: Arc<Mutex<PipeState>>,
}

impl AsyncRead for PipeReader {
    async fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        todo!("ex08: yours to write")
    }
}

impl AsyncWrite for PipeWriter {
    async fn write(&mut self, _buf: &[u8]) -> io::Result<usize> {
        todo!("ex08: yours to write")
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        todo!("ex08: yours to write")
    }
}

impl Drop for PipeWriter {
    fn drop(&mut self) {
        // ex08: yours to write.
    }
}

impl Drop for PipeReader {
    fn drop(&mut self) {
        // ex08: yours to write.
    }
}
