//! Pictures on request: `LOOPLAB_HTML=run.html` and `LOOPLAB_CHROME_TRACE=run.json`.
//!
//! Any program on looplab can be looked at as a page without changing a line of it:
//!
//! ```text
//! LOOPLAB_HTML=ch05.html cargo run --example ch05_executor
//! LOOPLAB_CHROME_TRACE=ch05.json cargo run --example ch05_executor
//! ```
//!
//! The runtime asks [`EnvExport::from_env`] when it is built. If either variable is
//! set, it records the run into [`EnvExport::recorder`] and, when the run is over,
//! calls [`EnvExport::write_or_report`]. Each file is written whole or not at all: to a
//! temporary file beside it first, then renamed over the name asked for, so a reader
//! never sees half a page and a failed write leaves no partial file. A file that
//! cannot be written is reported on stderr with its path, beside those that were
//! written; the program itself goes on (a picture of a run is not worth failing the
//! run for).
//!
//! A program may build more than one runtime: chapter 8's example runs the scenario in
//! virtual time, then again in real time against a directory on a thread of its own
//! (three runtimes in all). Each gets its own files, in the order they were built:
//! the first under the names given (`ch08.html`), the next ones numbered
//! (`ch08-2.html`, `ch08-3.html`), and each numbered one says on stderr where it went.

use std::ffi::OsString;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{HtmlExtras, chrome_trace, html, write_each};
use crate::trace::Recorder;

/// The variable that asks for the HTML page, and the file to write it to.
pub const HTML_VAR: &str = "LOOPLAB_HTML";
/// The variable that asks for the Chrome trace, and the file to write it to.
pub const CHROME_TRACE_VAR: &str = "LOOPLAB_CHROME_TRACE";

/// How many runtimes of this process have found a variable set: the count numbers
/// their files.
static RUNTIMES_ASKED: AtomicUsize = AtomicUsize::new(0);

/// The files a run was asked to write through the environment, and the recorder that
/// collects what goes into them.
#[derive(Clone)]
pub struct EnvExport {
    recorder: Recorder,
    html: Option<PathBuf>,
    chrome_trace: Option<PathBuf>,
    title: String,
    /// Which runtime of the program this is, from 1: past the first, the files are
    /// numbered and a line on stderr says where they went.
    nth: usize,
}

impl EnvExport {
    /// Reads [`HTML_VAR`] and [`CHROME_TRACE_VAR`]; `None` when neither is set (or both
    /// are empty), which is the usual case and costs nothing more.
    ///
    /// Each call that finds a variable set counts as one more runtime of this program:
    /// the second and later get numbered files (`run-2.html`).
    pub fn from_env() -> Option<EnvExport> {
        let export = EnvExport::from_lookup(|name| std::env::var_os(name))?;
        let nth = RUNTIMES_ASKED.fetch_add(1, Ordering::Relaxed) + 1;
        Some(export.numbered(nth))
    }

    /// Like [`from_env`](EnvExport::from_env), with the variables looked up by `lookup`
    /// (tests pass a map instead of changing the process's environment).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Option<EnvExport> {
        let path = |name: &str| lookup(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let (html, chrome_trace) = (path(HTML_VAR), path(CHROME_TRACE_VAR));
        if html.is_none() && chrome_trace.is_none() {
            return None;
        }
        Some(EnvExport {
            recorder: Recorder::new(),
            html,
            chrome_trace,
            title: default_title(),
            nth: 1,
        })
    }

    /// The files of the `nth` runtime of a program (from 1): the first keeps the names
    /// asked for; a later one adds its number before the extension, `run.html` ->
    /// `run-2.html`, so no runtime's page overwrites another's.
    fn numbered(mut self, nth: usize) -> EnvExport {
        if nth > 1 {
            self.html = self.html.map(|path| with_number(&path, nth));
            self.chrome_trace = self.chrome_trace.map(|path| with_number(&path, nth));
            self.title = format!("{}, runtime {nth}", self.title);
        }
        self.nth = nth;
        self
    }

    /// Records into `recorder` instead of a new one (for a runtime that records
    /// already: one recorder serves both).
    pub fn with_recorder(mut self, recorder: Recorder) -> EnvExport {
        self.recorder = recorder;
        self
    }

    /// The page's title (default: "looplab: " and the program's name).
    pub fn with_title(mut self, title: impl Into<String>) -> EnvExport {
        self.title = title.into();
        self
    }

    /// The recorder to hand to [`Builder::record`](crate::Builder::record).
    pub fn recorder(&self) -> Recorder {
        self.recorder.clone()
    }

    /// Where the HTML page goes, if it was asked for.
    pub fn html_path(&self) -> Option<&Path> {
        self.html.as_deref()
    }

    /// Where the Chrome trace goes, if it was asked for.
    pub fn chrome_trace_path(&self) -> Option<&Path> {
        self.chrome_trace.as_deref()
    }

    /// Writes every file asked for from what the recorder holds now. Each is tried even
    /// when another failed; the error names each file not written, and why, then the
    /// files that were (`could not write a/run.html: ...; written: run.json`).
    pub fn write(&self) -> io::Result<()> {
        let records = self.recorder.records();
        let mut files = Vec::new();
        if let Some(path) = &self.html {
            let extras = HtmlExtras {
                title: self.title.clone(),
                ..HtmlExtras::default()
            };
            files.push((path.as_path(), html(&records, &extras)));
        }
        if let Some(path) = &self.chrome_trace {
            files.push((path.as_path(), chrome_trace(&records)));
        }
        write_each(files)
    }

    /// [`write`](EnvExport::write), and a line on stderr if it failed. Returns whether
    /// every file was written.
    pub fn write_or_report(&self) -> bool {
        match self.write() {
            Ok(()) => {
                // The first runtime's files are where they were asked for; the later
                // ones' names were made up here, so say them.
                if self.nth > 1 {
                    let files: Vec<String> = [&self.html, &self.chrome_trace]
                        .into_iter()
                        .flatten()
                        .map(|path| path.display().to_string())
                        .collect();
                    let _ = writeln!(
                        io::stderr(),
                        "looplab: runtime {} of this program drawn in {}",
                        self.nth,
                        files.join(" and ")
                    );
                }
                true
            }
            Err(e) => {
                let _ = writeln!(io::stderr(), "looplab: {e}");
                false
            }
        }
    }
}

/// `dir/run.html` -> `dir/run-2.html`; `run` -> `run-2`.
fn with_number(path: &Path, nth: usize) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(extension) => format!("{stem}-{nth}.{}", extension.to_string_lossy()),
        None => format!("{stem}-{nth}"),
    };
    path.with_file_name(name)
}

/// "looplab: ch05_executor", from the program's own name.
fn default_title() -> String {
    let program = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()));
    match program {
        Some(name) => format!("looplab: {name}"),
        None => "looplab".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;
    use crate::Runtime;

    fn lookup(vars: &[(&str, &Path)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_os_str().to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn scratch_dir(test: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("looplab-export-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_later_runtime_of_the_program_gets_numbered_files() {
        let export = EnvExport::from_lookup(lookup(&[
            (HTML_VAR, Path::new("out/ch08.html")),
            (CHROME_TRACE_VAR, Path::new("trace")),
        ]))
        .unwrap();
        let first = export.clone().numbered(1);
        assert_eq!(first.html_path(), Some(Path::new("out/ch08.html")));
        let third = export.numbered(3);
        assert_eq!(third.html_path(), Some(Path::new("out/ch08-3.html")));
        assert_eq!(third.chrome_trace_path(), Some(Path::new("trace-3")));
        assert!(third.title.ends_with(", runtime 3"), "{}", third.title);
    }

    #[test]
    fn nothing_is_asked_for_without_the_variables() {
        assert!(EnvExport::from_lookup(|_| None).is_none());
        assert!(EnvExport::from_lookup(|_| Some(OsString::new())).is_none());
    }

    #[test]
    fn a_run_recorded_through_the_export_writes_both_files() {
        let dir = scratch_dir("both");
        let (page, trace) = (dir.join("run.html"), dir.join("run.json"));
        let export =
            EnvExport::from_lookup(lookup(&[(HTML_VAR, &page), (CHROME_TRACE_VAR, &trace)]))
                .expect("both asked for");
        let runtime = Runtime::builder()
            .virtual_time(true)
            .record(export.recorder())
            .build()
            .unwrap();
        runtime.block_on(async {
            let worker = crate::spawn_named("worker", async {
                crate::time::sleep(Duration::from_millis(5)).await;
            });
            worker.await.unwrap();
        });
        export.write().unwrap();
        let page = std::fs::read_to_string(page).unwrap();
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("task 1 worker"));
        let trace: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(trace).unwrap()).unwrap();
        assert!(trace["traceEvents"].as_array().unwrap().len() > 5);
        // Only the two files: no temporary file is left beside them.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_that_fails_does_not_stop_the_other_and_the_error_names_both() {
        let dir = scratch_dir("one-fails");
        let page = dir.join("no-such-dir").join("run.html");
        let trace = dir.join("run.json");
        let export =
            EnvExport::from_lookup(lookup(&[(HTML_VAR, &page), (CHROME_TRACE_VAR, &trace)]))
                .unwrap();
        let error = export.write().unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "could not write {}: No such file or directory (os error 2); written: {}",
                page.display(),
                trace.display()
            )
        );
        assert!(
            std::fs::read_to_string(&trace)
                .unwrap()
                .contains("traceEvents")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_that_cannot_be_written_is_an_error_naming_it_and_leaves_nothing() {
        let dir = scratch_dir("unwritable");
        let page = dir.join("no-such-dir").join("run.html");
        let export = EnvExport::from_lookup(lookup(&[(HTML_VAR, &page)])).unwrap();
        let error = export.write().unwrap_err();
        assert!(
            error.to_string().contains(&page.display().to_string()),
            "{error}"
        );
        assert!(!export.write_or_report());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
