//! `looplab directory`: the user directory as a service people run. It says where it
//! listens, logs each request to stderr, and on Ctrl-C or SIGTERM stops accepting,
//! finishes the answers in flight and prints what it served.

use std::io::{self, Write};

use looplab::lookup::directory::{Directory, DirectoryConfig};

use crate::args::DirectoryArgs;

pub fn run(args: DirectoryArgs) -> io::Result<()> {
    let addrs = args.addr.resolve()?;
    let config = DirectoryConfig {
        delay: args.delay,
        max_request_head: args.max_request_head,
        idle_timeout: args.idle_timeout,
        max_connections: args.max_connections,
        log_requests: !args.quiet,
    };
    let (place, delay, grace) = (args.addr, args.delay, args.grace);
    looplab::block_on(async move {
        // Signals first: from here on Ctrl-C stops the server cleanly instead of
        // killing the process.
        let shutdown = looplab::signal::shutdown()?;
        let server = Directory::bind(&addrs[..], config)
            .map_err(|e| io::Error::new(e.kind(), format!("could not listen on {place}: {e}")))?;
        let addr = server.local_addr()?;
        // One write, and its errors ignored: a server whose stdout was closed after it
        // said where it listens (a script that read the first line) keeps serving.
        let banner = format!(
            "listening on http://{addr}\n\
             try: curl -i http://{addr}/users/7   (answers after {delay:?})\n\
             Ctrl-C or SIGTERM stops it; answers in flight finish first (at most {grace:?})\n"
        );
        let mut stdout = io::stdout().lock();
        let _ = stdout
            .write_all(banner.as_bytes())
            .and_then(|()| stdout.flush());
        drop(stdout);
        let stop = async {
            let said = match shutdown.await {
                Ok(signal) => {
                    format!("{signal}: no new connections; finishing the answers in flight")
                }
                Err(e) => format!("could not read signals ({e}): stopping"),
            };
            let _ = writeln!(io::stderr(), "{said}");
        };
        let summary = server.serve_until_drained(stop, grace).await;
        let _ = writeln!(io::stderr(), "{summary}");
        Ok::<(), io::Error>(())
    })
}
