//! CHAPTERS.md and README.md are the newcomer's path: every file they name must exist,
//! every example they tell you to run must be there, and every `looplab` command they
//! show must parse. The exercises keep one numbering in reading order, one statement
//! each (in exercises/README.md, hints apart in exercises/hints/), spec commands that
//! run, and at least three wrong solutions each. Every trace line CHAPTERS.md quotes
//! is one the command above it prints.

use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(name: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every piece of text between backticks, inline or in a code block line.
fn backticked(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        // Odd pieces are inside backticks; a last piece with no closing tick is not.
        let parts: Vec<&str> = line.split('`').collect();
        for i in (1..parts.len().saturating_sub(1)).step_by(2) {
            found.push(parts[i].to_string());
        }
    }
    found
}

/// Lines that are commands: inside backticks, or a line of a shell code block.
fn commands(text: &str) -> Vec<String> {
    let mut found: Vec<String> = backticked(text)
        .into_iter()
        .filter(|s| s.starts_with("cargo "))
        .collect();
    let mut in_shell = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_shell = line.trim() == "```sh";
            continue;
        }
        if in_shell && line.trim_start().starts_with("cargo ") {
            let command = line.split(" #").next().unwrap().trim();
            found.push(command.to_string());
        }
    }
    found
}

fn check_file_mentions(doc: &str) {
    let text = read(doc);
    let mut checked = 0;
    for mention in backticked(&text) {
        let path = mention.split([':', ' ']).next().unwrap();
        let looks_like_file = ["src/", "examples/", "tests/", "benches/", "exercises/"]
            .iter()
            .any(|p| path.starts_with(p))
            || path.ends_with(".md");
        if !looks_like_file || path.contains('*') || path.contains("NN") {
            continue;
        }
        assert!(
            Path::new(ROOT).join(path).exists(),
            "{doc} names `{mention}`, but {path} does not exist"
        );
        checked += 1;
    }
    assert!(checked > 0, "{doc} names no file at all?");
}

#[test]
fn every_file_chapters_md_names_exists() {
    check_file_mentions("CHAPTERS.md");
}

#[test]
fn every_file_readme_names_exists() {
    check_file_mentions("README.md");
}

#[test]
fn every_chapter_from_1_to_10_has_files_to_read_and_an_example_to_run() {
    let text = read("CHAPTERS.md");
    let sections: Vec<&str> = text.split("\n## ").collect();
    for n in 1..=10 {
        let section = sections
            .iter()
            .find(|s| s.starts_with(&format!("{n}. ")))
            .unwrap_or_else(|| panic!("CHAPTERS.md has no chapter {n}"));
        assert!(
            section.contains("Read"),
            "chapter {n} names no files to read"
        );
        let example = format!("--example ch{n:02}_");
        assert!(
            section.contains(&example),
            "chapter {n} has no `cargo run --example ch{n:02}_...`"
        );
        assert!(
            !section.lines().next().unwrap().contains("(coming)"),
            "chapter {n} is still marked (coming)"
        );
    }
}

#[test]
fn every_example_command_names_an_existing_example() {
    for doc in ["CHAPTERS.md", "README.md"] {
        for command in commands(&read(doc)) {
            let words: Vec<&str> = command.split_whitespace().collect();
            if let Some(at) = words.iter().position(|w| *w == "--example") {
                let name = words[at + 1];
                if name.contains("NN") {
                    continue; // a pattern in prose, like chNN_name
                }
                let file = Path::new(ROOT).join("examples").join(format!("{name}.rs"));
                assert!(
                    file.exists(),
                    "{doc}: `{command}` but no {}",
                    file.display()
                );
            }
            if let Some(at) = words.iter().position(|w| *w == "--test") {
                let name = words[at + 1];
                let in_root = Path::new(ROOT).join("tests").join(format!("{name}.rs"));
                let in_exercises = Path::new(ROOT)
                    .join("exercises/tests")
                    .join(format!("{name}.rs"));
                assert!(
                    in_root.exists() || in_exercises.exists(),
                    "{doc}: `{command}` but no test file {name}.rs"
                );
            }
        }
    }
}

#[test]
fn every_looplab_command_shown_parses() {
    let mut checked = 0;
    for doc in ["CHAPTERS.md", "README.md"] {
        for command in commands(&read(doc)) {
            let Some((_, args)) = command.split_once(" -- ") else {
                continue;
            };
            if command.contains("--example") || command.contains("--test") {
                continue;
            }
            // `--help` after the arguments: clap checks everything before it, then
            // prints help instead of running.
            let mut words: Vec<&str> = args.split_whitespace().collect();
            words.push("--help");
            let output = Command::new(env!("CARGO_BIN_EXE_looplab"))
                .args(&words)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{doc}: `{command}` does not parse: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 3, "only {checked} looplab commands found");
}

/// The section of CHAPTERS.md for chapter `n`, up to the next `## ` heading.
fn chapter(text: &str, n: u32) -> &str {
    let start = text
        .find(&format!("\n## {n}. "))
        .unwrap_or_else(|| panic!("CHAPTERS.md has no chapter {n}"));
    let rest = &text[start + 1..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn every_chapter_names_the_same_idea_in_asyncio_and_tokio_and_lists_its_exercises() {
    let text = read("CHAPTERS.md");
    for n in 1..=10 {
        let section = chapter(&text, n);
        assert!(
            section.contains("asyncio") || section.contains("Python"),
            "chapter {n} gives no asyncio (Python) name for its idea"
        );
        assert!(section.contains("tokio"), "chapter {n} gives no tokio name");
        assert!(
            section.contains("Exercises for this chapter"),
            "chapter {n} has no exercises part"
        );
    }
}

#[test]
fn every_exercise_has_a_statement_with_its_spec_command_under_a_chapter() {
    let text = read("CHAPTERS.md");
    let dir = Path::new(ROOT).join("exercises/tests");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".rs").map(str::to_string)
        })
        .filter(|name| is_spec_test(name))
        .collect();
    names.sort();
    assert!(
        names.len() >= 14,
        "only {} spec tests: {names:?}",
        names.len()
    );
    for name in &names {
        let command = format!("cargo test -p looplab-exercises --features start --test {name}`");
        let statement = format!("**{name}**");
        let in_chapter = (1..=10).any(|n| {
            let section = chapter(&text, n);
            section.contains(&statement) && section.contains(&command)
        });
        assert!(
            in_chapter,
            "no chapter of CHAPTERS.md has the statement of {name} with `{command}"
        );
    }
}

#[test]
fn the_asyncio_names_are_concrete() {
    let text = read("CHAPTERS.md");
    // The four correspondences a Python reader needs, each where its idea is built.
    for (n, name) in [
        (5, "call_soon"),
        (5, "_run_once"),
        (6, "call_later"),
        (7, "select(timeout)"),
    ] {
        assert!(
            chapter(&text, n).contains(name),
            "chapter {n} does not name asyncio's `{name}`"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The exercises: one numbering in reading order, one statement each, runnable commands.
// ---------------------------------------------------------------------------------------

/// Whether a file of `exercises/tests` is an exercise's spec (`exNN_name.rs`), not a
/// check across exercises such as `determinism.rs`.
fn is_spec_test(name: &str) -> bool {
    let bytes = name.as_bytes();
    name.starts_with("ex")
        && bytes.len() > 5
        && bytes[2..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'_'
}

/// The exercises, from their spec tests' file names, sorted: `ex01_...`, `ex02_...`.
fn exercise_names() -> Vec<String> {
    let dir = Path::new(ROOT).join("exercises/tests");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".rs").map(str::to_string)
        })
        .filter(|name| is_spec_test(name))
        .collect();
    names.sort();
    names
}

/// The number of an exercise name, `ex07_bug_early_timer` -> 7.
fn exercise_number(name: &str) -> u32 {
    name.strip_prefix("ex")
        .and_then(|rest| rest.get(..2))
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("`{name}` is not named exNN_what"))
}

/// Every word that looks like an exercise name (`exNN_...` or the old `bugNN_...`), in
/// the order it appears.
fn exercise_mentions(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    for (i, _) in text.match_indices(['e', 'b']) {
        if i > 0 && is_word(bytes[i - 1]) {
            continue;
        }
        let rest = &text[i..];
        let prefix = if rest.starts_with("ex") {
            2
        } else if rest.starts_with("bug") {
            3
        } else {
            continue;
        };
        let digits = &rest.as_bytes()[prefix..];
        if digits.len() < 3
            || !digits[0].is_ascii_digit()
            || !digits[1].is_ascii_digit()
            || digits[2] != b'_'
        {
            continue;
        }
        let end = rest.bytes().position(|b| !is_word(b)).unwrap_or(rest.len());
        found.push(rest[..end].to_string());
    }
    found
}

/// The exercise entries of CHAPTERS.md (`- **exNN_name**`), chapter by chapter, in order.
fn exercises_by_chapter(text: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for n in 1..=10 {
        for line in chapter(text, n).lines() {
            if let Some(rest) = line.strip_prefix("- **ex") {
                let name = rest.split("**").next().unwrap();
                found.push((n, format!("ex{name}")));
            }
        }
    }
    found
}

#[test]
fn exercises_are_numbered_in_reading_order_with_one_numbering_everywhere() {
    let names = exercise_names();
    assert!(
        names.len() >= 14,
        "only {} spec tests: {names:?}",
        names.len()
    );
    for (i, name) in names.iter().enumerate() {
        assert_eq!(
            exercise_number(name),
            i as u32 + 1,
            "the exercises are not numbered 1, 2, 3, ... without gaps: {names:?}"
        );
    }

    // The reading order: chapter by chapter, as CHAPTERS.md lists them.
    let chapters = read("CHAPTERS.md");
    let in_reading_order: Vec<String> = exercises_by_chapter(&chapters)
        .into_iter()
        .map(|(_, name)| name)
        .collect();
    assert_eq!(
        in_reading_order, names,
        "CHAPTERS.md must list every exercise once, under its chapter, numbered in the \
         order a reader meets them"
    );
    assert!(
        chapters.contains("start with ex01"),
        "CHAPTERS.md should say which exercise to do first (\"start with ex01\")"
    );

    // exercises/README.md: the table and the statements, in the same order.
    let readme = read("exercises/README.md");
    let headings: Vec<String> = readme
        .lines()
        .filter_map(|line| line.strip_prefix("### "))
        .map(str::to_string)
        .collect();
    assert_eq!(
        headings, names,
        "exercises/README.md's statements are not in the numbering's order"
    );
    let table: Vec<String> = readme
        .lines()
        .filter_map(|line| line.strip_prefix("| [`"))
        .map(|rest| rest.split('`').next().unwrap().to_string())
        .collect();
    assert_eq!(
        table, names,
        "exercises/README.md's table is not in the numbering's order"
    );

    // The same names in both trees, declared in both module lists.
    for tree in ["start", "solutions"] {
        let dir = Path::new(ROOT).join("exercises/src").join(tree);
        let module_list = read(&format!("exercises/src/{tree}/mod.rs"));
        for name in &names {
            assert!(
                dir.join(format!("{name}.rs")).exists(),
                "exercises/src/{tree}/{name}.rs is missing"
            );
            assert!(
                module_list.contains(&format!("pub mod {name};")),
                "exercises/src/{tree}/mod.rs does not declare {name}"
            );
        }
        let files = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(
            files,
            names.len() + 1,
            "exercises/src/{tree} holds a file that is not an exercise (or mod.rs)"
        );
    }

    // No other name for an exercise anywhere a reader looks.
    for doc in ["CHAPTERS.md", "README.md", "exercises/README.md"] {
        for mention in exercise_mentions(&read(doc)) {
            assert!(
                names.contains(&mention),
                "{doc} names `{mention}`, which is not an exercise (they are {names:?})"
            );
        }
    }
}

#[test]
fn each_exercise_has_one_statement_and_its_hints_apart() {
    let names = exercise_names();
    let readme = read("exercises/README.md");
    let chapters = read("CHAPTERS.md");
    for name in &names {
        // The one statement: a section of exercises/README.md.
        let heading = format!("\n### {name}\n");
        assert_eq!(
            readme.matches(&heading).count(),
            1,
            "exercises/README.md should have exactly one statement of {name}"
        );
        let start = readme.find(&heading).unwrap() + heading.len();
        let rest = &readme[start..];
        let section = &rest[..rest.find("\n### ").unwrap_or(rest.len())];
        assert!(
            section.contains("**Goal**"),
            "the statement of {name} has no **Goal**"
        );
        assert!(
            section.contains(" minutes once you have read the chapter"),
            "the statement of {name} does not say how long it should take"
        );
        assert!(
            section.contains("What it takes:"),
            "the statement of {name} does not say what it takes to understand"
        );
        // The hints live apart: a statement read gives nothing away.
        let number = &name[..4];
        for giveaway in ["<details>", "Hint 1", "**Hint"] {
            assert!(
                !section.contains(giveaway),
                "the statement of {name} carries its hints (`{giveaway}`): they belong in \
                 exercises/hints/{number}.md"
            );
        }
        let hints_path = format!("hints/{number}.md");
        assert!(
            section.contains(&format!("]({hints_path})")),
            "the statement of {name} does not link to {hints_path}"
        );
        let hints = read(&format!("exercises/{hints_path}"));
        let count = hints.matches("\n## Hint ").count();
        assert!(count >= 2, "exercises/{hints_path} has {count} hints");
        for k in 1..=count {
            assert!(
                hints.contains(&format!("\n## Hint {k}\n")),
                "exercises/{hints_path}: the hints are not numbered 1 to {count}"
            );
        }

        // CHAPTERS.md: one short entry that links to it, not a second statement.
        let entry_start = chapters
            .find(&format!("- **{name}**"))
            .unwrap_or_else(|| panic!("CHAPTERS.md has no entry for {name}"));
        let entry = &chapters[entry_start..];
        let entry = &entry[..entry
            .find("\n  Spec:")
            .expect("each entry ends with its spec")];
        assert!(
            entry.contains(&format!("(exercises/README.md#{name})")),
            "CHAPTERS.md's entry for {name} does not link to its statement"
        );
        assert!(
            entry.len() <= 400,
            "CHAPTERS.md's entry for {name} is {} characters long: keep the statement in \
             exercises/README.md and only name the exercise here",
            entry.len()
        );

        // The starting point points to the statement and does not carry one of its own.
        let start_file = read(&format!("exercises/src/start/{name}.rs"));
        assert!(
            start_file.contains(&format!("`exercises/README.md`, \"{name}\"")),
            "exercises/src/start/{name}.rs does not point to its statement"
        );
        for giveaway in [
            "**The symptom.**",
            "**Hint",
            "The statement is in `CHAPTERS.md`",
        ] {
            assert!(
                !start_file.contains(giveaway),
                "exercises/src/start/{name}.rs still has `{giveaway}`: the statement and \
                 its hints live in exercises/README.md only"
            );
        }
    }
    assert!(
        !chapters.contains("**Goal**"),
        "CHAPTERS.md carries a statement: statements live in exercises/README.md"
    );
}

/// Every `cargo test -p ...` command on a line of `text`, up to a closing backtick or
/// a ` #` comment.
fn spec_commands(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let mut rest = line;
        while let Some(at) = rest.find("cargo test -p ") {
            let command = &rest[at..];
            let end = command.find(['`', '#']).unwrap_or(command.len());
            found.push(command[..end].trim().to_string());
            rest = &command[end..];
        }
    }
    found
}

/// `(package name, features)` of a Cargo.toml, read line by line.
fn package_and_features(manifest: &str) -> (String, Vec<String>) {
    let mut name = None;
    let mut features = Vec::new();
    let mut section = "";
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.starts_with('#') {
            continue;
        }
        match section {
            "[package]" if key == "name" => name = Some(value.trim().trim_matches('"').into()),
            "[features]" => features.push(key.to_string()),
            _ => {}
        }
    }
    (name.expect("a [package] name"), features)
}

#[test]
fn every_spec_command_is_runnable() {
    let names = exercise_names();
    let (package, features) = package_and_features(&read("exercises/Cargo.toml"));
    let mut sources: Vec<String> = ["CHAPTERS.md", "README.md", "exercises/README.md"]
        .map(String::from)
        .to_vec();
    for dir in [
        "exercises/src/start",
        "exercises/src/solutions",
        "exercises/tests",
        "exercises/tests/specs",
    ] {
        for entry in std::fs::read_dir(Path::new(ROOT).join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                sources.push(format!(
                    "{dir}/{}",
                    path.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    let mut checked = 0;
    let mut named = std::collections::BTreeSet::new();
    for source in &sources {
        for command in spec_commands(&read(source)) {
            let words: Vec<&str> = command.split_whitespace().collect();
            let after = |flag: &str| {
                words.iter().position(|w| *w == flag).map(|at| {
                    *words
                        .get(at + 1)
                        .unwrap_or_else(|| panic!("{source}: `{command}` ends at {flag}"))
                })
            };
            assert_eq!(
                after("-p"),
                Some(package.as_str()),
                "{source}: `{command}` names a package that is not the exercises' ({package})"
            );
            if let Some(feature) = after("--features") {
                assert!(
                    features.iter().any(|f| f == feature),
                    "{source}: `{command}` asks for feature `{feature}`, which \
                     exercises/Cargo.toml does not have ({features:?})"
                );
            }
            // Without `--test`: the whole package, every spec test.
            let Some(test) = after("--test") else {
                checked += 1;
                continue;
            };
            assert!(
                names.iter().any(|n| n == test)
                    || Path::new(ROOT)
                        .join(format!("exercises/tests/{test}.rs"))
                        .exists(),
                "{source}: `{command}`, but exercises/tests/{test}.rs does not exist"
            );
            named.insert(test.to_string());
            checked += 1;
        }
    }
    for name in &names {
        assert!(
            named.contains(name),
            "no document gives the spec command of {name}"
        );
    }
    assert!(
        checked >= 3 * names.len(),
        "only {checked} spec commands found"
    );
}

#[test]
fn each_exercise_has_at_least_three_wrong_solutions_that_say_what_is_wrong() {
    for name in exercise_names() {
        let number = &name[..4];
        let dir = Path::new(ROOT).join("exercises/wrong").join(number);
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("exercises/wrong/{number}: {e}"))
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "rs"))
            .collect();
        assert!(
            files.len() >= 3,
            "{name} has {} wrong solutions in exercises/wrong/{number}/: at least three",
            files.len()
        );
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let first = text.lines().next().unwrap_or("");
            assert!(
                first.starts_with("//! WRONG: ") && first.len() > 30,
                "{}: the first line must say what is wrong (`//! WRONG: ...`), not {first:?}",
                file.display()
            );
        }
    }
}

/// One ```text block of CHAPTERS.md that quotes a program's output, and the command
/// that prints it.
struct Excerpt {
    /// The block's first line in CHAPTERS.md, counted from 1.
    line: usize,
    command: String,
    quoted: Vec<String>,
}

/// Blocks that draw rather than quote: they are checked by no command. Each is named by
/// its first line.
const NOT_OUTPUT: &[&str] = &[
    // Chapter 5's drawing of one turn.
    "+--> 1. run ----> 2. stop?",
    // Chapter 6's worked example of a cascade, built for the text: no example prints
    // it (ch06_timers arms its timers at 0 s).
    "1.000s  task 0 main              timer #2 armed: deadline 6.000s",
];

/// The first backticked `cargo run ...` in `text`.
fn first_cargo_run(text: &str) -> Option<String> {
    backticked(text)
        .into_iter()
        .find(|piece| piece.starts_with("cargo run "))
}

/// Every ```text block of CHAPTERS.md, with the command it quotes: a `cargo run` in
/// the paragraph just before it, or else its chapter's **Run** (or `- Run:`) command.
fn chapter_excerpts() -> Vec<Excerpt> {
    let text = read("CHAPTERS.md");
    let lines: Vec<&str> = text.lines().collect();
    let mut excerpts = Vec::new();
    let mut run_command: Option<String> = None;
    let mut paragraph = String::new();
    // The paragraph before the current one: a block follows a blank line.
    let mut last_paragraph = String::new();
    let mut at = 0;
    while at < lines.len() {
        let line = lines[at];
        if line.starts_with("## ") {
            run_command = None;
        }
        if line.starts_with("```") {
            let info = line.trim_start_matches('`').trim();
            let end = lines[at + 1..]
                .iter()
                .position(|l| l.starts_with("```"))
                .map(|k| at + 1 + k)
                .expect("a code block is not closed");
            let body = &lines[at + 1..end];
            let first = body.first().map_or("", |l| l.trim());
            let drawn = NOT_OUTPUT.iter().any(|d| first.starts_with(d));
            if info == "text" && !drawn {
                let before = if paragraph.is_empty() {
                    &last_paragraph
                } else {
                    &paragraph
                };
                let command = first_cargo_run(before)
                    .or_else(|| run_command.clone())
                    .unwrap_or_else(|| {
                        panic!(
                            "CHAPTERS.md line {}: an output block with no command before it",
                            at + 1
                        )
                    });
                excerpts.push(Excerpt {
                    line: at + 1,
                    command,
                    quoted: body.iter().map(|l| l.to_string()).collect(),
                });
            }
            paragraph.clear();
            last_paragraph.clear();
            at = end + 1;
            continue;
        }
        if line.trim().is_empty() {
            if !paragraph.is_empty() {
                last_paragraph = std::mem::take(&mut paragraph);
            }
        } else {
            paragraph.push_str(line);
            paragraph.push('\n');
            if line.starts_with("**Run**") || line.trim_start().starts_with("- Run:") {
                // The command may sit on the paragraph's next lines.
                let rest: String = lines[at..]
                    .iter()
                    .take_while(|l| !l.trim().is_empty())
                    .map(|l| format!("{l}\n"))
                    .collect();
                run_command = first_cargo_run(&rest);
            }
        }
        at += 1;
    }
    excerpts
}

/// The program and arguments of a `cargo run [--release] [--example NAME] [-- ARGS]`,
/// run from the binaries this test build already has (debug: the output is the same).
fn program_of(command: &str) -> (std::path::PathBuf, Vec<String>) {
    let words: Vec<&str> = command.split_whitespace().collect();
    let (cargo_part, args) = match words.iter().position(|w| *w == "--") {
        Some(at) => (&words[..at], words[at + 1..].to_vec()),
        None => (&words[..], Vec::new()),
    };
    let args = args.into_iter().map(String::from).collect();
    match cargo_part.iter().position(|w| *w == "--example") {
        Some(at) => {
            let name = cargo_part[at + 1];
            // tests/chapters-<hash> sits in target/<profile>/deps; examples one up.
            let exe = std::env::current_exe().unwrap();
            let profile_dir = exe.parent().unwrap().parent().unwrap();
            let path = profile_dir.join("examples").join(name);
            assert!(
                path.exists(),
                "{} is not built: `cargo test` builds the examples first (or run \
                 `cargo build --examples`)",
                path.display()
            );
            (path, args)
        }
        None => (env!("CARGO_BIN_EXE_looplab").into(), args),
    }
}

/// Whitespace runs as one space, so that a quote re-wrapped or re-aligned still matches.
fn squeeze(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every number as `#`, and every bar of `=` as one: lines of a real-time run vary in
/// their milliseconds, and so do the bars drawn from them.
fn without_numbers(line: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for c in line.chars() {
        if c == '=' && out.ends_with('=') {
            continue;
        }
        let digit = c.is_ascii_digit() || (in_number && (c == '.' || c == ','));
        if digit {
            if !in_number {
                out.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

/// Runs a quoted command; its stdout and stderr, or why it failed.
fn run_quoted(command: &str) -> Result<String, String> {
    let (program, args) = program_of(command);
    let output = Command::new(&program)
        .args(&args)
        .env_remove("LOOPLAB_HTML")
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

#[test]
fn every_trace_line_chapters_md_quotes_is_in_its_commands_output() {
    let excerpts = chapter_excerpts();
    assert!(
        excerpts.len() >= 10,
        "only {} output blocks",
        excerpts.len()
    );
    let mut commands: Vec<String> = excerpts.iter().map(|e| e.command.clone()).collect();
    commands.sort();
    commands.dedup();
    // The real-time examples sleep more than they compute: run them side by side. One
    // that fails is run again, alone: ch09's checks of lateness are in wall time, and
    // a busy machine can make them miss.
    let outputs: std::collections::HashMap<String, String> = std::thread::scope(|scope| {
        let runs: Vec<_> = commands
            .iter()
            .map(|command| scope.spawn(move || (command.clone(), run_quoted(command))))
            .collect();
        runs.into_iter()
            .map(|run| run.join().unwrap())
            .collect::<Vec<(String, Result<String, String>)>>()
    })
    .into_iter()
    .map(|(command, output)| {
        let output = output.unwrap_or_else(|_| {
            run_quoted(&command).unwrap_or_else(|why| panic!("`{command}` failed twice: {why}"))
        });
        (command, output)
    })
    .collect();
    let mut missing = Vec::new();
    let mut checked = 0;
    for excerpt in &excerpts {
        let printed: Vec<String> = outputs[&excerpt.command].lines().map(squeeze).collect();
        let printed_loosely: Vec<String> = printed.iter().map(|l| without_numbers(l)).collect();
        for (k, quoted) in excerpt.quoted.iter().enumerate() {
            let quoted = squeeze(quoted);
            if quoted.is_empty() || quoted == "..." {
                continue;
            }
            checked += 1;
            // Exact, or with its numbers aside: a real-time run's milliseconds vary.
            let found = printed.iter().any(|l| l.contains(&quoted))
                || printed_loosely
                    .iter()
                    .any(|l| l.contains(&without_numbers(&quoted)));
            if !found {
                missing.push(format!(
                    "CHAPTERS.md line {}: `{}` does not print {quoted:?}",
                    excerpt.line + 1 + k,
                    excerpt.command
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {checked} quoted lines are not what the program prints:\n{}",
        missing.len(),
        missing.join("\n")
    );
}

#[test]
fn chapter_8_s_worksheet_keeps_its_answers_in_a_file_of_their_own() {
    let chapters = read("CHAPTERS.md");
    let questions = chapters
        .find("| turn | the question |")
        .expect("chapter 8's worksheet");
    assert!(
        !chapters.contains("| turn | the answer |"),
        "CHAPTERS.md prints the worksheet's answers under its questions"
    );
    let link = "(docs/ch08_step_answers.md)";
    let linked = chapters.find(link).expect("a link to the answers");
    assert!(
        linked > questions,
        "the answers are linked after the questions"
    );
    let answers = read("docs/ch08_step_answers.md");
    assert!(answers.contains("| turn | the answer |"), "{answers}");
    // Every question has its answer.
    for row in chapters[questions..].lines().skip(2) {
        let Some(turn) = row.strip_prefix("| ").and_then(|r| r.split(' ').next()) else {
            break;
        };
        assert!(
            answers.contains(&format!("\n| {turn} |")),
            "no answer for turn {turn}"
        );
    }
}
