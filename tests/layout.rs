//! The layout is the lesson's table of contents: each file of `src/` belongs to a
//! chapter, and a file may import only files of its own chapter or an earlier one.
//! So reading in chapter order never sends a reader forward, and no group of files
//! knows about each other in a circle. The one exception is the pair
//! `context.rs` <-> `runtime.rs`: the thread-local points at the core, and the core
//! enters the thread-local (tokio has the same pair).
//!
//! The graph is read from the source: every `use crate::...` and `use super::...`
//! (and `crate::x::y` paths written inline) names the file of the module it reaches.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// The chapter each file of the library is read in. A file missing here fails the
/// test: a new file must take its place in the reading order.
const CHAPTER_OF: &[(&str, u32)] = &[
    ("task.rs", 4),
    ("trace/mod.rs", 5),
    ("trace/note.rs", 5),
    // The trace's pictures are read with the trace: they draw its recordings.
    ("export/mod.rs", 5),
    ("export/model.rs", 5),
    ("export/html.rs", 5),
    ("export/chrome_trace.rs", 5),
    ("export/file.rs", 5),
    // A recording is the trace written down, read with it.
    ("recording/mod.rs", 5),
    ("recording/line.rs", 5),
    ("recording/read.rs", 5),
    ("recording/write.rs", 5),
    ("recording/from_trace.rs", 5),
    ("recording/turn_view.rs", 5),
    ("recording/capture.rs", 5),
    ("recording/env.rs", 5),
    ("stats.rs", 5),
    ("task_table.rs", 5),
    ("run_queue.rs", 5),
    ("join.rs", 5),
    ("executor.rs", 5),
    ("context.rs", 5),
    ("time/mod.rs", 6),
    ("time/wheel.rs", 6),
    ("time/clock.rs", 6),
    ("time/instant.rs", 6),
    ("time/timers.rs", 6),
    ("time/sleep.rs", 6),
    ("time/timeout.rs", 6),
    ("reactor/mod.rs", 7),
    ("reactor/registration.rs", 7),
    ("sim_net/mod.rs", 7),
    ("sim_net/socket.rs", 7),
    ("net/real.rs", 7),
    ("net.rs", 7),
    ("park.rs", 7),
    ("runtime.rs", 7),
    ("signal.rs", 8),
    ("lookup/mod.rs", 8),
    ("lookup/http.rs", 8),
    ("lookup/narrative.rs", 8),
    ("lookup/report.rs", 8),
    ("lookup/loop_report.rs", 8),
    ("lookup/timeline.rs", 8),
    ("lookup/directory.rs", 8),
    ("lookup/access_log.rs", 8),
    ("lookup/blocking.rs", 8),
    ("lookup/event_loop.rs", 8),
];

/// The one pair allowed to import each other.
const CONTEXT_PAIR: (&str, &str) = ("context.rs", "runtime.rs");

/// Files that are not a chapter's: the crate root, and the command (`main.rs` and its
/// modules in `cli/`, which use the library from outside).
const NOT_IN_THE_READING_ORDER: &[&str] = &[
    "lib.rs",
    "main.rs",
    "cli/args.rs",
    "cli/lookup.rs",
    "cli/directory.rs",
    "cli/step.rs",
    "cli/render.rs",
];

fn library_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            library_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// `src/time/sleep.rs` -> `time/sleep.rs`.
fn relative(path: &Path) -> String {
    path.strip_prefix(SRC)
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

/// The module path of a file: `time/sleep.rs` -> ["time", "sleep"]; `time/mod.rs` -> ["time"].
fn module_of(file: &str) -> Vec<String> {
    let mut parts: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// What lib.rs re-exports at the crate root (`crate::spawn`), and the file each comes
/// from: an import through the root is an import of that file.
const ROOT_REEXPORTS: &[(&str, &str)] = &[
    ("JoinAll", "join.rs"),
    ("JoinError", "join.rs"),
    ("JoinHandle", "join.rs"),
    ("join_all", "join.rs"),
    ("Builder", "runtime.rs"),
    ("Runtime", "runtime.rs"),
    ("block_on", "runtime.rs"),
    ("spawn", "runtime.rs"),
    ("spawn_named", "runtime.rs"),
    ("Recorder", "trace/mod.rs"),
    ("TraceOutput", "trace/mod.rs"),
];

/// The file that holds the longest prefix of `path` that is a module.
fn file_of(path: &[String], files: &BTreeSet<String>) -> Option<String> {
    if let [item, ..] = path
        && let Some((_, file)) = ROOT_REEXPORTS.iter().find(|(name, _)| name == item)
    {
        return Some(file.to_string());
    }
    for len in (1..=path.len()).rev() {
        let prefix = path[..len].join("/");
        for candidate in [format!("{prefix}.rs"), format!("{prefix}/mod.rs")] {
            if files.contains(&candidate) {
                return Some(candidate);
            }
        }
    }
    None
}

/// The code of a file without comments and without its `#[cfg(test)]` module (tests
/// may reach anywhere).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every module path a file reaches: `crate::a::b` anywhere in its code, and
/// `super::x` resolved against the file's own module.
fn imports_of(file: &str, text: &str, files: &BTreeSet<String>) -> BTreeSet<String> {
    let code = code_of(text);
    let own_module = module_of(file);
    let mut reached = BTreeSet::new();
    for (prefix, base) in [
        ("crate::", Vec::new()),
        ("super::", {
            let mut parent = own_module.clone();
            // `super` of `time/sleep.rs` is `time`; of `time/mod.rs` it is the crate.
            if file.ends_with("mod.rs") {
                parent.pop();
            }
            parent.pop();
            parent
        }),
    ] {
        let mut rest = code.as_str();
        while let Some(at) = rest.find(prefix) {
            let preceded_by_ident = rest[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            rest = &rest[at + prefix.len()..];
            if preceded_by_ident {
                continue;
            }
            let path_text: String = rest
                .chars()
                .take_while(|c| {
                    c.is_alphanumeric()
                        || *c == '_'
                        || *c == ':'
                        || *c == '{'
                        || *c == '}'
                        || *c == ' '
                        || *c == ','
                        || *c == '\n'
                })
                .collect();
            // `crate::{a, b::c}` reaches a and b::c; `crate::a::{b, c}` reaches a::b, a::c.
            for path in expand(&path_text) {
                let mut full = base.clone();
                full.extend(path);
                if let Some(target) = file_of(&full, files)
                    && target != file
                {
                    reached.insert(target);
                }
            }
        }
    }
    reached
}

/// Splits `a::{b, c::d}` into [a, b], [a, c, d]; stops at the first character that
/// cannot be part of a path.
fn expand(text: &str) -> Vec<Vec<String>> {
    let text = text.trim_start();
    let head: String = text
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
        .collect();
    let segments: Vec<String> = head
        .split("::")
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let after = &text[head.len()..];
    if (head.is_empty() || head.ends_with("::")) && after.starts_with('{') {
        let inner_end = matching_brace(after);
        let inner = &after[1..inner_end];
        let mut all = Vec::new();
        for part in split_top_level(inner) {
            for mut tail in expand(part) {
                let mut path = segments.clone();
                path.append(&mut tail);
                all.push(path);
            }
        }
        return all;
    }
    if segments.is_empty() {
        return Vec::new();
    }
    vec![segments]
}

fn matching_brace(text: &str) -> usize {
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    text.len()
}

fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn import_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut paths = Vec::new();
    library_files(Path::new(SRC), &mut paths);
    let files: BTreeSet<String> = paths.iter().map(|p| relative(p)).collect();
    paths
        .iter()
        .map(|path| {
            let file = relative(path);
            let text = std::fs::read_to_string(path).unwrap();
            let imports = imports_of(&file, &text, &files);
            (file, imports)
        })
        .filter(|(file, _)| !NOT_IN_THE_READING_ORDER.contains(&file.as_str()))
        .collect()
}

/// The strongly connected components of the graph with more than one file: groups
/// of files that all reach each other through imports.
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(file) = stack.pop() {
            for next in graph.get(&file).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|f| (f, reach(f))).collect();
    let mut groups: Vec<BTreeSet<String>> = Vec::new();
    for file in graph.keys() {
        if groups.iter().any(|g| g.contains(file)) {
            continue;
        }
        let group: BTreeSet<String> = graph
            .keys()
            .filter(|other| {
                *other == file
                    || (reachable[file].contains(*other) && reachable[other].contains(file))
            })
            .cloned()
            .collect();
        if group.len() > 1 {
            groups.push(group);
        }
    }
    groups
}

#[test]
fn every_library_file_has_a_chapter() {
    let chapters: BTreeMap<&str, u32> = CHAPTER_OF.iter().copied().collect();
    let missing: Vec<String> = import_graph()
        .into_keys()
        .filter(|file| !chapters.contains_key(file.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "these files have no chapter in tests/layout.rs (and so no place in the reading \
         order of src/lib.rs): {missing:?}"
    );
}

#[test]
fn no_file_imports_a_file_of_a_later_chapter() {
    let chapters: BTreeMap<&str, u32> = CHAPTER_OF.iter().copied().collect();
    let mut forward = Vec::new();
    for (file, imports) in import_graph() {
        let Some(&chapter) = chapters.get(file.as_str()) else {
            continue;
        };
        for target in imports {
            let later = chapters.get(target.as_str()).is_some_and(|&c| c > chapter);
            if later && (file.as_str(), target.as_str()) != CONTEXT_PAIR {
                forward.push(format!(
                    "{file} (chapter {chapter}) imports {target} (chapter {})",
                    chapters[target.as_str()]
                ));
            }
        }
    }
    assert!(
        forward.is_empty(),
        "imports that send a reader forward:\n{}",
        forward.join("\n")
    );
}

#[test]
fn the_only_files_that_import_each_other_are_the_context_and_the_core() {
    let graph = import_graph();
    let groups = circles(&graph);
    let allowed: BTreeSet<String> = [CONTEXT_PAIR.0, CONTEXT_PAIR.1].map(String::from).into();
    let others: Vec<&BTreeSet<String>> = groups.iter().filter(|g| **g != allowed).collect();
    assert!(
        others.is_empty(),
        "files that import each other in a circle (only {allowed:?} may): {others:?}"
    );
    // And the pair really is one: the test would pass vacuously if the graph were
    // read wrongly.
    assert!(
        graph["context.rs"].contains("runtime.rs"),
        "{:?}",
        graph["context.rs"]
    );
    assert!(
        graph["runtime.rs"].contains("context.rs"),
        "{:?}",
        graph["runtime.rs"]
    );
    assert!(
        graph["time/sleep.rs"].contains("time/instant.rs"),
        "{:?}",
        graph["time/sleep.rs"]
    );
    assert!(
        graph["executor.rs"].contains("run_queue.rs"),
        "{:?}",
        graph["executor.rs"]
    );
}

#[test]
fn the_graph_reader_finds_a_circle_when_there_is_one() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a.rs", vec!["b.rs"]),
        ("b.rs", vec!["c.rs"]),
        ("c.rs", vec!["a.rs"]),
        ("d.rs", vec!["a.rs"]),
    ]
    .into_iter()
    .map(|(f, to)| (f.to_string(), to.into_iter().map(String::from).collect()))
    .collect();
    let groups = circles(&graph);
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0], ["a.rs", "b.rs", "c.rs"].map(String::from).into());
    let files: BTreeSet<String> = ["time/mod.rs", "time/sleep.rs", "task.rs"]
        .map(String::from)
        .into();
    let reached = imports_of(
        "time/sleep.rs",
        "use super::sleep;\nuse crate::{task::Task, time::Sleep};\nuse super::{sleep::X};",
        &files,
    );
    assert_eq!(reached, ["task.rs", "time/mod.rs"].map(String::from).into());
    // An item re-exported at the crate root counts as an import of its own file.
    let files: BTreeSet<String> = ["task.rs", "runtime.rs"].map(String::from).into();
    let reached = imports_of("task.rs", "fn f() { crate::spawn(async {}); }", &files);
    assert_eq!(reached, ["runtime.rs"].map(String::from).into());
}

/// The exporter reads recordings only: its files import each other and the
/// recording's lines and reader, nothing of the executor, the runtime or the trace.
const EXPORT_MAY_IMPORT: &[&str] = &["recording/line.rs", "recording/read.rs"];

/// The one file that hands a runtime's recording to the exporter (`LOOPLAB_HTML`),
/// and the loop's report for `--json`, which can read a recording through the model.
const IMPORTS_THE_EXPORTER: &[&str] = &["recording/env.rs", "lookup/loop_report.rs"];

#[test]
fn the_exporter_reads_recordings_only_and_the_runtime_does_not_import_it() {
    let graph = import_graph();
    let mut wrong = Vec::new();
    for (file, imports) in &graph {
        let from_export = file.starts_with("export/");
        for target in imports {
            let to_export = target.starts_with("export/");
            if from_export && !to_export && !EXPORT_MAY_IMPORT.contains(&target.as_str()) {
                wrong.push(format!(
                    "{file} imports {target}: export/ reads recordings only"
                ));
            }
            if !from_export && to_export && !IMPORTS_THE_EXPORTER.contains(&file.as_str()) {
                wrong.push(format!("{file} imports the exporter ({target})"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Not vacuous: the rule sees the imports it allows.
    assert!(
        graph["export/html.rs"].contains("export/model.rs")
            && graph["export/model.rs"].contains("recording/line.rs"),
        "{:?}",
        graph["export/model.rs"]
    );
    assert!(
        graph["recording/env.rs"]
            .iter()
            .any(|t| t.starts_with("export/"))
    );
    assert!(
        graph["runtime.rs"].contains("recording/mod.rs"),
        "{:?}",
        graph["runtime.rs"]
    );
}
