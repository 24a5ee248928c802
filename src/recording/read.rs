//! Reading a recording: the header first, then every line checked and typed.
//!
//! A recording comes from anywhere: this crate, the asyncio recorder, a hand edit, a
//! download cut short. So the reader trusts nothing, and when a line is wrong it says
//! which line and what is wrong with it, in words a reader can act on:
//!
//! ```text
//! line 1: version 9 is not supported (this looplab reads version 1)
//! line 17: unknown event kind "pol"
//! line 23: unknown field "tsak" in a "poll" line
//! truncated: line 40 is not complete JSON
//! ```
//!
//! Each line is read twice over: once as plain JSON, which finds the header's
//! version, the line's kind and any field the format does not have (serde would skip
//! those silently, and a typo would become a missing value); then as its typed
//! [`Line`], which finds wrong types and missing fields.

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::line::{FORMAT, Header, Kind, Line, VERSION};

/// A whole recording: its header and its lines, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recording {
    /// The first line.
    pub header: Header,
    /// Every line after it.
    pub lines: Vec<Line>,
}

/// Why a recording could not be read. Its `Display` names the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadError {
    /// The line, counted from 1 (0: the file as a whole).
    pub line: usize,
    /// What is wrong there.
    pub problem: Problem,
}

/// What is wrong with a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The file has no lines at all.
    Empty,
    /// The file is not UTF-8 text.
    NotUtf8,
    /// A line with nothing on it.
    BlankLine,
    /// The last line stops before its JSON does.
    Truncated,
    /// The line is not JSON (serde_json's words).
    NotJson(String),
    /// The line is JSON, but not an object.
    NotAnObject,
    /// The first line is not a header: it has no `"format"`.
    NoHeader,
    /// The header names another format.
    OtherFormat(String),
    /// The header has no `"version"` number.
    NoVersion,
    /// The header's version is not [`VERSION`].
    UnsupportedVersion(u64),
    /// A line after the header has no `"kind"` string.
    NoKind,
    /// A line's kind is not one of [`Kind::NAMES`].
    UnknownKind(String),
    /// A field the format does not have, where (`"state.timers[0]"`, or empty for the
    /// line itself), and the line's kind.
    UnknownField {
        /// The field's name.
        field: String,
        /// The path of the object that holds it.
        within: String,
        /// The line's kind (`"header"` for line 1).
        kind: String,
    },
    /// The line has the right kind but a field is missing or has the wrong type
    /// (serde's words).
    Invalid {
        /// The line's kind.
        kind: String,
        /// What serde found.
        message: String,
    },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = self.line;
        match &self.problem {
            Problem::Empty => write!(f, "the recording is empty: line 1 should be its header"),
            Problem::NotUtf8 => write!(f, "line {line}: not UTF-8 text"),
            Problem::BlankLine => write!(f, "line {line}: blank line"),
            Problem::Truncated => write!(f, "truncated: line {line} is not complete JSON"),
            Problem::NotJson(why) => write!(f, "line {line}: not JSON: {why}"),
            Problem::NotAnObject => write!(f, "line {line}: not a JSON object"),
            Problem::NoHeader => write!(
                f,
                "line {line}: not a recording header (it has no \"format\"); \
                 the first line should be {{\"format\":\"{FORMAT}\",\"version\":{VERSION},...}}"
            ),
            Problem::OtherFormat(name) => write!(
                f,
                "line {line}: format {name:?} is not a looplab recording (expected {FORMAT:?})"
            ),
            Problem::NoVersion => write!(f, "line {line}: the header has no version number"),
            Problem::UnsupportedVersion(v) => write!(
                f,
                "line {line}: version {v} is not supported (this looplab reads version {VERSION})"
            ),
            Problem::NoKind => write!(f, "line {line}: no \"kind\" (every event line names one)"),
            Problem::UnknownKind(kind) => write!(f, "line {line}: unknown event kind {kind:?}"),
            Problem::UnknownField {
                field,
                within,
                kind,
            } => {
                write!(f, "line {line}: unknown field {field:?} in a {kind:?} line")?;
                if !within.is_empty() {
                    write!(f, " (in {within})")?;
                }
                Ok(())
            }
            Problem::Invalid { kind, message } => {
                write!(f, "line {line}: bad {kind:?} line: {message}")
            }
        }
    }
}

impl std::error::Error for ReadError {}

impl Recording {
    /// Reads a recording from its bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Recording, ReadError> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Recording::parse(text),
            Err(e) => {
                let line = 1 + bytes[..e.valid_up_to()]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count();
                Err(ReadError {
                    line,
                    problem: Problem::NotUtf8,
                })
            }
        }
    }

    /// Reads a recording from its text.
    pub fn parse(text: &str) -> Result<Recording, ReadError> {
        if text.is_empty() {
            return Err(ReadError {
                line: 0,
                problem: Problem::Empty,
            });
        }
        let body = text.strip_suffix('\n').unwrap_or(text);
        let count = body.split('\n').count();
        let mut header = None;
        let mut lines = Vec::with_capacity(count.saturating_sub(1));
        for (index, raw) in body.split('\n').enumerate() {
            let number = index + 1;
            let fail = |problem| ReadError {
                line: number,
                problem,
            };
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            if raw.trim().is_empty() {
                return Err(fail(Problem::BlankLine));
            }
            let value: Value = serde_json::from_str(raw).map_err(|e| {
                // JSON that stops short on the last line is a file cut off mid-write.
                if e.is_eof() && number == count {
                    fail(Problem::Truncated)
                } else {
                    fail(Problem::NotJson(e.to_string()))
                }
            })?;
            let Value::Object(object) = &value else {
                return Err(fail(Problem::NotAnObject));
            };
            if number == 1 {
                header = Some(read_header(object, value.clone()).map_err(fail)?);
                continue;
            }
            let kind = match object.get("kind") {
                Some(Value::String(kind)) => kind.clone(),
                _ => return Err(fail(Problem::NoKind)),
            };
            if !Kind::NAMES.contains(&kind.as_str()) {
                return Err(fail(Problem::UnknownKind(kind)));
            }
            lines.push(typed::<Line>(value, &kind).map_err(fail)?);
        }
        Ok(Recording {
            header: header.expect("a non-empty text has a first line"),
            lines,
        })
    }
}

/// The first line: a header of this format, in a version this crate reads.
fn read_header(object: &serde_json::Map<String, Value>, value: Value) -> Result<Header, Problem> {
    match object.get("format") {
        Some(Value::String(name)) if name == FORMAT => {}
        Some(Value::String(name)) => return Err(Problem::OtherFormat(name.clone())),
        _ => return Err(Problem::NoHeader),
    }
    match object.get("version").and_then(Value::as_u64) {
        Some(VERSION) => {}
        Some(other) => return Err(Problem::UnsupportedVersion(other)),
        None => return Err(Problem::NoVersion),
    }
    typed::<Header>(value, "header")
}

/// `value` as a `T`, with no field that `T` does not have.
fn typed<T: DeserializeOwned + Serialize>(value: Value, kind: &str) -> Result<T, Problem> {
    let parsed: T = T::deserialize(&value).map_err(|e| Problem::Invalid {
        kind: kind.to_string(),
        message: e.to_string(),
    })?;
    // Writing the typed value back gives every field the format has (every field is
    // always written), so a key of the input missing there is one the format lacks.
    let known = serde_json::to_value(&parsed).expect("a recording line always serializes");
    if let Some((field, within)) = unknown_field(&value, &known, String::new()) {
        return Err(Problem::UnknownField {
            field,
            within,
            kind: kind.to_string(),
        });
    }
    Ok(parsed)
}

/// The first key in `input` that `known` lacks at the same place, and the path to it.
fn unknown_field(input: &Value, known: &Value, path: String) -> Option<(String, String)> {
    match (input, known) {
        (Value::Object(input), Value::Object(known)) => {
            for (key, value) in input {
                let Some(known_value) = known.get(key) else {
                    return Some((key.clone(), path));
                };
                let inner = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if let Some(found) = unknown_field(value, known_value, inner) {
                    return Some(found);
                }
            }
            None
        }
        (Value::Array(input), Value::Array(known)) => input
            .iter()
            .zip(known)
            .enumerate()
            .find_map(|(i, (value, known))| unknown_field(value, known, format!("{path}[{i}]"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"{"format":"looplab-recording","version":1,"source":"asyncio","clock":"virtual","timers":"heap","io_keys":"fd","program":"seed_async.py"}"#;

    fn error_of(text: &str) -> String {
        Recording::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn a_header_and_two_lines_read_as_typed_lines() {
        let text = format!(
            "{HEADER}\n{}\n{}\n",
            r#"{"at_ns":0,"kind":"poll","who":{"task":0}}"#,
            r#"{"at_ns":5,"kind":"wake","who":{"callback":"cb"},"by":{"timer":3},"via":"call_soon"}"#
        );
        let recording = Recording::parse(&text).unwrap();
        assert_eq!(recording.header.program, "seed_async.py");
        assert_eq!(
            recording.lines[1].kind,
            Kind::Wake {
                who: super::super::Runnable::Callback("cb".into()),
                by: super::super::By::Timer(3),
                via: super::super::Via::CallSoon,
            }
        );
        assert_eq!(recording.lines[1].at_ns, 5);
    }

    #[test]
    fn an_unknown_kind_is_named_with_its_line() {
        let mut text = format!("{HEADER}\n");
        for _ in 2..17 {
            text += "{\"at_ns\":0,\"kind\":\"poll\",\"who\":{\"task\":0}}\n";
        }
        text += "{\"at_ns\":0,\"kind\":\"pol\",\"who\":{\"task\":0}}\n";
        assert_eq!(error_of(&text), "line 17: unknown event kind \"pol\"");
    }

    #[test]
    fn an_unknown_version_is_refused_on_line_1() {
        let text = HEADER.replace("\"version\":1", "\"version\":9") + "\n";
        assert_eq!(
            error_of(&text),
            "line 1: version 9 is not supported (this looplab reads version 1)"
        );
    }

    #[test]
    fn a_first_line_that_is_no_header_is_refused() {
        let text = "{\"at_ns\":0,\"kind\":\"poll\",\"who\":{\"task\":0}}\n";
        assert!(error_of(text).starts_with("line 1: not a recording header"));
        let other = HEADER.replace("looplab-recording", "chrome-trace") + "\n";
        assert_eq!(
            error_of(&other),
            "line 1: format \"chrome-trace\" is not a looplab recording (expected \"looplab-recording\")"
        );
        let no_version = HEADER.replace("\"version\":1,", "") + "\n";
        assert_eq!(
            error_of(&no_version),
            "line 1: the header has no version number"
        );
    }

    #[test]
    fn a_cut_last_line_is_reported_as_truncated() {
        let text = format!("{HEADER}\n{{\"at_ns\":0,\"kind\":\"po");
        assert_eq!(error_of(&text), "truncated: line 2 is not complete JSON");
    }

    #[test]
    fn broken_json_inside_the_file_is_not_called_truncated() {
        let text = format!(
            "{HEADER}\n{{\"at_ns\":0,\"kind\"\n{{\"at_ns\":0,\"kind\":\"poll\",\"who\":{{\"task\":0}}}}\n"
        );
        assert!(
            error_of(&text).starts_with("line 2: not JSON: "),
            "{}",
            error_of(&text)
        );
        let garbage = format!("{HEADER}\nhello\n");
        assert!(error_of(&garbage).starts_with("line 2: not JSON: "));
    }

    #[test]
    fn a_misspelt_field_is_named_even_when_nested() {
        let text = format!(
            "{HEADER}\n{{\"at_ns\":0,\"kind\":\"poll\",\"who\":{{\"task\":0}},\"tsak\":1}}\n"
        );
        assert_eq!(
            error_of(&text),
            "line 2: unknown field \"tsak\" in a \"poll\" line"
        );
        let nested = format!(
            "{HEADER}\n{}\n",
            r#"{"at_ns":0,"kind":"turn","turn":1,"state":{"main_woken":false,"run_queue":[],"park":{"how":"skipped"},"wheel_tick":null,"timers":[{"timer":1,"deadline_ns":1,"place":{"heap":0},"who":null,"callback":null,"armed":true}],"io":[]}}"#
        );
        assert_eq!(
            error_of(&nested),
            "line 2: unknown field \"armed\" in a \"turn\" line (in state.timers[0])"
        );
    }

    #[test]
    fn a_missing_or_mistyped_field_is_named() {
        let missing = format!("{HEADER}\n{{\"at_ns\":0,\"kind\":\"poll\"}}\n");
        assert_eq!(
            error_of(&missing),
            "line 2: bad \"poll\" line: missing field `who`"
        );
        let mistyped =
            format!("{HEADER}\n{{\"at_ns\":\"soon\",\"kind\":\"stop\",\"elapsed_ns\":1}}\n");
        assert!(error_of(&mistyped).starts_with("line 2: bad \"stop\" line: invalid type"));
    }

    #[test]
    fn no_kind_blank_lines_arrays_empty_files_and_bad_bytes_are_refused() {
        assert_eq!(
            error_of(&format!("{HEADER}\n{{\"at_ns\":0}}\n")),
            "line 2: no \"kind\" (every event line names one)"
        );
        assert_eq!(error_of(&format!("{HEADER}\n\n")), "line 2: blank line");
        assert_eq!(
            error_of(&format!("{HEADER}\n[1]\n")),
            "line 2: not a JSON object"
        );
        assert_eq!(
            error_of(""),
            "the recording is empty: line 1 should be its header"
        );
        let mut bytes = format!("{HEADER}\n").into_bytes();
        bytes.extend_from_slice(b"{\"at_ns\":0,\xff}\n");
        assert_eq!(
            Recording::from_bytes(&bytes).unwrap_err().to_string(),
            "line 2: not UTF-8 text"
        );
    }
}
