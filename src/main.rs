//! The `looplab` command: the post's scenario, the user directory, and the chapter list.
//!
//! - `looplab` (so `cargo run --release`): the post's scenario in all three modes, with
//!   a table and a timeline.
//! - `looplab lookup [--mode ...] [--requests 3,2,1] [--delay 1s] [--virtual-time]
//!   [--trace] [--step] [--json] [--lang ko] [--timeout 5s] [--directory HOST:PORT]
//!   [--svg FILE] [--html FILE] [--chrome-trace FILE]`
//! - `looplab directory [--addr 127.0.0.1:7878] [--delay 1s] [--quiet] [--grace 5s]`
//! - `looplab chapters`, `looplab help [COMMAND]`, `looplab --version`
//!
//! Bad arguments get clap's whole message (what is wrong, what is allowed, the usage)
//! and exit code 2; a failed run (nothing listening, a broken answer, a timeout, a
//! file that cannot be written) prints one `error: ...` line and exits with code 1.
//!
//! The command's parts live beside this file, under `src/cli/`: the arguments and
//! their rules (`args.rs`), the lookup command (`lookup.rs`) and the directory
//! command (`directory.rs`).

#[path = "cli/args.rs"]
mod args;
#[path = "cli/directory.rs"]
mod directory;
#[path = "cli/lookup.rs"]
mod lookup;
#[path = "cli/step.rs"]
mod step;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use args::{Cli, Command, LookupArgs};

fn main() -> ExitCode {
    let cli = Cli::try_parse().unwrap_or_else(|error| args::with_tips(error).exit());
    let result = match cli.command {
        None => lookup::run(LookupArgs::default()),
        Some(Command::Lookup(lookup_args)) => {
            if let Err(error) = args::check_mode_rules(&lookup_args) {
                error.exit();
            }
            lookup::run(lookup_args)
        }
        Some(Command::Directory(directory_args)) => directory::run(directory_args),
        Some(Command::Chapters) => {
            lookup::write_out(format_args!("{}", chapters()));
            Ok(())
        }
        Some(Command::Help { command }) => {
            let mut cli = Cli::command();
            let printed = match command {
                None => cli.print_long_help(),
                Some(name) => {
                    cli.build();
                    cli.find_subcommand_mut(&name)
                        .expect("clap only lets known commands through")
                        .print_long_help()
                }
            };
            // A closed stdout is no reason to fail a help request.
            drop(printed);
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The chapter list, with the command that runs each chapter's example.
fn chapters() -> String {
    let chapters: [(u32, &str, &str); 10] = [
        (
            1,
            "sequential: the post's find_users_sync",
            "ch01_sequential",
        ),
        (
            2,
            "threads: one OS thread per request, and its costs",
            "ch02_threads",
        ),
        (
            3,
            "futures by hand: an async fn does nothing until polled",
            "ch03_futures_by_hand",
        ),
        (
            4,
            "wakers: ArcWake and a hand-written RawWakerVTable",
            "ch04_wakers",
        ),
        (
            5,
            "the executor: a run queue and one turn of the loop",
            "ch05_executor",
        ),
        (
            6,
            "time: a hierarchical timer wheel, virtual time",
            "ch06_timers",
        ),
        (7, "I/O: the mio reactor and async TCP", "ch07_reactor"),
        (
            8,
            "the lookup service on the event loop",
            "ch08_lookup_service",
        ),
        (
            9,
            "pitfalls: blocking the loop, forgetting .await",
            "ch09_pitfalls",
        ),
        (10, "from looplab to tokio and asyncio", "ch10_to_tokio"),
    ];
    let mut text = String::from("looplab chapters (read CHAPTERS.md alongside):\n");
    for (n, title, example) in chapters {
        text += &format!("  {n:>2}. {title:<58} cargo run --example {example}\n");
    }
    text
}
