//! Writing a recording: the header, then one JSON object a line.
//!
//! The bytes are fixed by the types in [`line`](super::line): fields in declaration
//! order, every field written (`null` for an absent value), times in integer
//! nanoseconds, no spaces, `\n` after every line including the last. So a
//! deterministic run (virtual time) writes the same file every time, and a file read
//! and written again is the same bytes.

use std::io::{self, Write};

use super::line::{Header, Line};
use super::read::Recording;

/// Writes a recording line by line, as the run goes.
pub struct Writer<W: Write> {
    out: W,
}

impl<W: Write> Writer<W> {
    /// Starts a recording on `out` with its header.
    pub fn new(mut out: W, header: &Header) -> io::Result<Writer<W>> {
        write_json(&mut out, header)?;
        Ok(Writer { out })
    }

    /// Appends one line.
    pub fn line(&mut self, line: &Line) -> io::Result<()> {
        write_json(&mut self.out, line)
    }

    /// Flushes and hands back the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

fn write_json<T: serde::Serialize>(out: &mut impl Write, value: &T) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

impl Recording {
    /// The whole recording as JSON Lines.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut writer = Writer::new(Vec::new(), &self.header).expect("a Vec takes every write");
        for line in &self.lines {
            writer.line(line).expect("a Vec takes every write");
        }
        writer.finish().expect("a Vec takes every write")
    }

    /// Writes the whole recording to `out`.
    pub fn write_to(&self, out: impl Write) -> io::Result<()> {
        let mut writer = Writer::new(out, &self.header)?;
        for line in &self.lines {
            writer.line(line)?;
        }
        writer.finish().map(drop)
    }
}
