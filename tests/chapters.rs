//! CHAPTERS.md and README.md are the newcomer's path: every file they name must exist,
//! every example they tell you to run must be there, and every `looplab` command they
//! show must parse.

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
        .collect();
    names.sort();
    assert!(
        names.len() >= 12,
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
