//! Chapter 1: one request after another, and the latencies add up.
//!
//! ```text
//! cargo run --example ch01_sequential
//! ```
//!
//! The post's starting point. Three requests arrive together, for 3, 2 and 1 users, and
//! the external API answers one user per call, slowly. The post's `find_users_sync`
//! looks the users up one call at a time and `process_sync` runs the three requests one
//! after another, so the second request waits for the whole first one and the third
//! for both: they finish at 3, 5 and 6 seconds.
//!
//! Here the API is real: the user directory (`src/lookup/directory.rs`), an HTTP server
//! on its own thread, and the client is `run_sequential` (`src/lookup/blocking.rs`),
//! plain blocking `std::net` with no runtime at all. The directory takes 250 ms per user
//! instead of the post's second, so the run takes 1.5 s instead of 6; every number
//! below is in units of that delay. (`cargo run --release` runs the post's full second.)
//!
//! What to look for:
//!
//! - the narrative: `1 of 3, 2 of 3, 3 of 3`, then `1 of 2`, ... never interleaved, and
//!   each line 250 ms after the one before it: the thread waits on the socket in between;
//! - the table: the latencies are 3, 5 and 6 × the delay, because each request's wait
//!   includes everything queued before it;
//! - the timeline: a staircase. No two blocks overlap in time, so the total is the sum
//!   of all six lookups.

use std::error::Error;
use std::time::{Duration, Instant};

use looplab::lookup::blocking::run_sequential;
use looplab::lookup::directory::{DirectoryConfig, DirectoryThread};
use looplab::lookup::narrative::Lang;
use looplab::lookup::report::render_table;
use looplab::lookup::timeline::render_timeline;

/// The directory's time per user: short enough to keep the example quick, long enough
/// that scheduling noise (a millisecond or two) does not blur the picture.
const DELAY: Duration = Duration::from_millis(250);

/// The post's three requests, in the order they arrive.
const REQUESTS: [u32; 3] = [3, 2, 1];

/// A request's latency may exceed its ideal by this much before the example calls the
/// run wrong: each call is a loopback round trip plus a timer, usually well under a
/// millisecond, but a busy machine can stall a thread for a while.
const SLACK: Duration = Duration::from_millis(300);

fn main() -> Result<(), Box<dyn Error>> {
    let directory = DirectoryThread::start(
        "127.0.0.1:0".parse()?,
        DirectoryConfig {
            delay: DELAY,
            ..DirectoryConfig::default()
        },
    )?;
    println!(
        "the user directory listens on http://{} and takes {} ms per user (the post's 1 s, shortened)",
        directory.addr(),
        DELAY.as_millis()
    );
    println!("requests for 3, 2 and 1 users arrive together; they are served one after another\n");

    // The narrative lines with the time since the run began: the gap between two lines
    // is the time the thread spent blocked in `read`, doing nothing else.
    let started = Instant::now();
    let mut print_line = |line: String| {
        println!("{:>7.3}s  {line}", started.elapsed().as_secs_f64());
    };
    let run = run_sequential(
        directory.addr(),
        &REQUESTS,
        Some(Duration::from_secs(5)),
        Lang::En,
        &mut print_line,
    )?;

    println!("\n{}", render_table(std::slice::from_ref(&run), 80));
    println!("{}", render_timeline(std::slice::from_ref(&run), 80));

    // What the chapter claims, checked before it is printed.
    let latencies: Vec<Duration> = run.requests.iter().map(|r| r.latency).collect();
    let ideal = [3, 5, 6].map(|units| DELAY * units);
    for (measured, ideal) in latencies.iter().zip(ideal) {
        // Never early: the directory's timer cannot fire before its deadline.
        assert!(
            ideal <= *measured && *measured <= ideal + SLACK,
            "a latency of {measured:?}, expected {ideal:?} (up to {SLACK:?} more)"
        );
    }
    // Each request starts only once the one before it is done: nothing overlaps.
    for pair in run.requests.windows(2) {
        assert!(pair[0].latency <= pair[1].lookups[0].start);
    }
    // The total is the sum of every request's own work: 3 + 2 + 1 lookups.
    let users: u32 = REQUESTS.iter().sum();
    assert!(run.total >= DELAY * users && run.total <= DELAY * users + SLACK);

    let in_delays = |d: Duration| d.as_secs_f64() / DELAY.as_secs_f64();
    println!(
        "proved: one after another, the latencies add up: {:.2}, {:.2} and {:.2} × the delay \
         ({} ms, {} ms, {} ms), and the total {} ms ≥ {} lookups × {} ms: the sum of all the waiting",
        in_delays(latencies[0]),
        in_delays(latencies[1]),
        in_delays(latencies[2]),
        latencies[0].as_millis(),
        latencies[1].as_millis(),
        latencies[2].as_millis(),
        run.total.as_millis(),
        users,
        DELAY.as_millis(),
    );
    Ok(())
}
