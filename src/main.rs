//! The `looplab` command: the post's scenario, the user directory, and the chapter list.
//!
//! - `looplab` (so `cargo run --release`): the post's scenario in all three modes, with
//!   a table and a timeline.
//! - `looplab lookup [--mode ...] [--requests 3,2,1|100x1] [--delay 1s] [--virtual-time]
//!   [--trace] [--step] [--json] [--lang ko] [--timeout 5s] [--directory HOST:PORT]
//!   [--svg FILE] [--html FILE] [--chrome-trace FILE]`
//! - `looplab directory [--addr 127.0.0.1:7878] [--delay 1s] [--quiet] [--grace 5s]`
//! - `looplab chapters`, `looplab help [COMMAND]`, `looplab --version`
//!
//! Bad arguments get clap's whole message (what is wrong, what is allowed, the usage)
//! and exit code 2, before anything runs: export files are checked then too. A failed
//! run (nothing listening, a broken answer, a timeout, a file or standard output that
//! cannot be written) prints one `error: ...` line and exits with code 1. A reader
//! that goes away (`looplab | head`) is no failure: the program ends quietly, with 0.
//! `looplab --help` lists the exit statuses, the directory's included.
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
    let cli = Cli::try_parse().unwrap_or_else(|error| refused(args::with_tips(error)));
    let result = match cli.command {
        None => lookup::run(LookupArgs::default()),
        Some(Command::Lookup(lookup_args)) => {
            if let Err(error) = args::check_mode_rules(&lookup_args)
                .and_then(|()| args::check_exports(&lookup_args))
            {
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
            let help = match command {
                None => cli.render_long_help(),
                Some(name) => {
                    cli.build();
                    cli.find_subcommand_mut(&name)
                        .expect("clap only lets known commands through")
                        .render_long_help()
                }
            };
            lookup::write_out(format_args!("{help}"));
            Ok(())
        }
    };
    // What is still buffered goes out now, so a failure to write it is seen.
    lookup::flush_out();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Ends the program on what clap answered instead of arguments: bad usage (exit status
/// 2), or the `--help` and `--version` asked for. Help written to a file or a pipe
/// goes through [`lookup::write_out`], so a full disk is an error there too; clap's
/// own printing would drop it.
fn refused(error: clap::Error) -> ! {
    use clap::error::ErrorKind;
    use std::io::IsTerminal;
    let asked_for = matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    );
    if asked_for && !std::io::stdout().is_terminal() {
        lookup::write_out(format_args!("{}", error.render()));
        lookup::flush_out();
        std::process::exit(0);
    }
    error.exit()
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
