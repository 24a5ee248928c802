//! `looplab directory`: the user directory as a service people run. It says where it
//! listens, logs each request to stderr, and on Ctrl-C or SIGTERM stops accepting,
//! finishes the answers in flight and prints what it served. A second Ctrl-C or
//! SIGTERM stops at once.
//!
//! Exit status: 0 after a clean stop; 1 when the grace ran out with answers in flight
//! (they got `503`); 130 or 143 (128 + SIGINT or SIGTERM) when a second signal stopped
//! it at once.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use looplab::lookup::directory::{Directory, DirectoryConfig, StopSignal};
use looplab::signal::Signal;

use crate::args::DirectoryArgs;

pub fn run(args: DirectoryArgs) -> io::Result<()> {
    let addrs = args.addr.resolve()?;
    let config = DirectoryConfig {
        delay: args.delay,
        max_request_head: args.max_request_head,
        idle_timeout: args.idle_timeout,
        header_timeout: args.header_timeout,
        max_connections: args.max_connections,
        log_requests: !args.quiet,
    };
    let (place, delay, grace) = (args.addr, args.delay, args.grace);
    let status = looplab::block_on(async move {
        // Signals first: from here on Ctrl-C stops the server cleanly instead of
        // killing the process.
        let mut shutdown = looplab::signal::shutdown()?;
        let server = Directory::bind(&addrs[..], config)
            .map_err(|e| io::Error::new(e.kind(), format!("could not listen on {place}: {e}")))?;
        let addr = server.local_addr()?;
        // One write, and its errors ignored: a server whose stdout was closed after it
        // said where it listens (a script that read the first line) keeps serving.
        let banner = format!(
            "listening on http://{addr}\n\
             try: curl -i http://{addr}/users/7   (answers after {delay:?})\n\
             Ctrl-C or SIGTERM stops it; answers in flight finish first (at most {grace:?}); \
             a second one stops at once\n"
        );
        let mut stdout = io::stdout().lock();
        let _ = stdout
            .write_all(banner.as_bytes())
            .and_then(|()| stdout.flush());
        drop(stdout);
        // The first signal starts the graceful stop, a second one ends it: a task of
        // its own waits for both while the server drains.
        let (graceful, at_once) = (StopSignal::new(), StopSignal::new());
        let second: Arc<Mutex<Option<Signal>>> = Arc::default();
        looplab::spawn_named("signals", {
            let (graceful, at_once, second) = (graceful.clone(), at_once.clone(), second.clone());
            async move {
                let first = shutdown.next().await;
                let said = match &first {
                    Ok(signal) => format!(
                        "{signal}: no new connections; finishing the answers in flight \
                         (a second Ctrl-C or SIGTERM stops at once)"
                    ),
                    Err(e) => format!("could not read signals ({e}): stopping"),
                };
                let _ = writeln!(io::stderr(), "{said}");
                graceful.fire();
                if first.is_ok()
                    && let Ok(signal) = shutdown.next().await
                {
                    let _ = writeln!(io::stderr(), "{signal} again: stopping now");
                    *second.lock().unwrap() = Some(signal);
                    at_once.fire();
                }
            }
        });
        let summary = server
            .serve_until_drained_or(graceful.fired(), grace, at_once.fired())
            .await;
        let _ = writeln!(io::stderr(), "{summary}");
        let second = *second.lock().unwrap();
        Ok::<i32, io::Error>(match second {
            Some(signal) => signal.exit_status(),
            None if summary.answers_cut_short > 0 => 1,
            None => 0,
        })
    })?;
    if status != 0 {
        // Not an error line: the summary above says what happened.
        std::process::exit(status);
    }
    Ok(())
}
