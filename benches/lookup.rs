//! `lookup at scale`: the source post's scenario with thousands of requests at once,
//! on looplab and on tokio, against the same user directory.
//!
//! The post has three requests for 3, 2 and 1 users and an API that takes one second
//! per user. Here: 1,000, 3,000 or 10,000 requests for 1, 2 or 3 users (a third each)
//! and 100 ms per user, against the real user directory (`looplab directory`, a looplab
//! server) over loopback TCP. The ideal wall time is the longest request's own work:
//! 3 × 100 ms = 0.3 s.
//!
//! The clients:
//!
//! - **looplab**: the event-loop client, one looplab task per request
//!   (`lookup::event_loop::run_event_loop`).
//! - **tokio**: the same client on tokio's current-thread runtime ([`tokio_client`]):
//!   one task per request, one connection per request, a request's users looked up one
//!   call after another, the same bytes on the wire.
//! - **threads**: one OS thread per request (`lookup::blocking::run_threads`), at
//!   10,000 requests only.
//!
//! **The floor.** The same requests against a directory with no delay
//! (`--delay 0ms`): the same connects and round trips, nothing to wait for. What is
//! left is the kernel's TCP work plus the runtime's, on two cores shared by the client,
//! the directory and the kernel; the two clients' floors side by side tell the
//! runtime's share from the kernel's.
//!
//! **A fresh directory for every run.** The directory runs in a child process, so that
//! its 10,000 sockets and the client's do not share one file-descriptor limit (20,000
//! here), and every run, timed or not, gets a directory of its own, started before the
//! run and killed after it. One directory for all runs made the runs drift (0.77 s on a
//! first run, 1.4 s later, in the first BENCHMARKS.md): a run leaves its 10,000
//! connections in TIME_WAIT on the client's side for 60 s, a connect to the same
//! address may reuse such a port only once its TIME_WAIT is a second old
//! (`net.ipv4.tcp_tw_reuse = 2`), so the kernel searches the 28,232 ephemeral ports
//! for one that is free for that address, inside `connect`. Against one directory the
//! client's CPU time per 10,000-request run went from 0.44 s on the first run to
//! 0.73-1.16 s on the five after it (tokio's: 0.40 s, then 0.61-0.94 s); with a
//! directory per run it stays at 0.39-0.41 s. A new directory listens on a new port, so every (client port,
//! directory port) pair is new and a connect takes the first port it tries. Waiting for
//! the TIME_WAIT sockets to go instead would cost a minute per run.
//!
//! Each run also reads what the machine counted meanwhile: the kernel's TIME_WAIT
//! sockets, listen-queue overflows and SYN retransmissions (machine-wide), the
//! directory's CPU time, and the machine's busy time, of which what is neither the
//! client's nor the directory's belongs to other programs. A connect that overflows
//! the directory's accept queue (when the directory is starved of CPU) is retried a
//! whole second later; the side report says how many runs that happened to.
//!
//! What is measured:
//!
//! - **criterion** times every client in groups `lookup_{n}_requests` (100 ms per user)
//!   and `lookup_floor_{n}_requests` (no delay): from the moment the requests "arrive"
//!   to the last answer, as the `looplab` command reports it; the runtime's start-up
//!   and the directory's are outside the time.
//! - **alternating rounds** (side report): criterion runs one client's samples, then the
//!   other's. Here each round runs looplab and tokio back to back at every size, first
//!   one then the other, the order swapped every round, so a load that comes and goes
//!   on the shared machine falls on both. The ratios reported are the medians over the
//!   rounds of looplab's time over tokio's in the same round: wall time, and the CPU
//!   time of the client's thread (kernel included), which other programs on the
//!   machine disturb far less. Every run is logged in
//!   `target/tmp/looplab-bench/lookup_runs.csv`.
//! - **memory per request**, in a fresh child process per run: the peak resident set
//!   (`VmHWM`) minus the resident set before the run, divided by the requests; for
//!   threads the kernel's stacks (`KernelStack` in `/proc/meminfo`), which no resident
//!   set shows, are reported beside it.
//!
//! Run: `cargo bench --bench lookup` (two to three minutes on two cores). One client
//! alone, e.g. under `perf`: `LOOPLAB_BENCH_ONLY=looplab:10000:100:5` (client,
//! requests, milliseconds per user, runs; see [`only_main`]). Results and method:
//! `benches/LOOKUP_RESULTS.md`.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::{SideReport, counting, proc_status_kib, side_runs_enabled, thread_cpu_time};
use criterion::{Criterion, SamplingMode};
use looplab::lookup::blocking::run_threads;
use looplab::lookup::event_loop::{EventLoopOptions, Narrator, run_event_loop};
use looplab::lookup::narrative::Lang;

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

/// How many requests arrive at once, in the three sizes measured.
const SIZES: [usize; 3] = [1_000, 3_000, 10_000];
/// The size at which threads and memory are measured too.
const LARGEST: usize = 10_000;
/// The directory's time per user.
const DELAY: Duration = Duration::from_millis(100);
/// The floor's directory: no time per user.
const NO_DELAY: Duration = Duration::ZERO;
/// The longest request's own work: 3 users × 100 ms.
const IDEAL: Duration = Duration::from_millis(300);
/// Rounds of the alternating comparison (each runs both clients at every size, with
/// and without the delay).
const ROUNDS: usize = 10;

/// 1, 2, 3, 1, 2, 3, ...: a third of the requests each.
fn requests(n: usize) -> Vec<u32> {
    (0..n).map(|i| 1 + (i % 3) as u32).collect()
}

// ----- the directory, one per run -----

/// The directory in a child process (`looplab directory --quiet`). Killed when dropped.
struct DirectoryProcess {
    child: Child,
    addr: SocketAddr,
}

impl DirectoryProcess {
    fn start(delay: Duration) -> DirectoryProcess {
        let delay = format!("{}ms", delay.as_millis());
        let mut child = Command::new(env!("CARGO_BIN_EXE_looplab"))
            .args(["directory", "--addr", "127.0.0.1:0", "--delay", &delay])
            // One log line per request on stderr would cost the directory 20,000
            // writes a run, and fill the benchmark's output.
            .arg("--quiet")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start `looplab directory`");
        let mut first_line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first_line)
            .expect("read the directory's first line");
        let addr = first_line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {first_line:?}"));
        DirectoryProcess { child, addr }
    }
}

impl DirectoryProcess {
    /// The CPU time the directory has used so far (its one thread, user and kernel),
    /// from `/proc/PID/schedstat`.
    fn cpu_time(&self) -> Duration {
        let path = format!("/proc/{}/schedstat", self.child.id());
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let nanos = text
            .split_whitespace()
            .next()
            .and_then(|field| field.parse().ok())
            .expect("schedstat starts with the time on CPU in ns");
        Duration::from_nanos(nanos)
    }
}

impl Drop for DirectoryProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ----- the kernel's counters around a run -----

/// The whole machine's CPU time so far, from `/proc/stat`'s first line, in clock ticks
/// (10 ms): `busy` is every CPU's user, system and interrupt time, `steal` the time the
/// hypervisor gave this virtual machine's CPUs to someone else. Other sessions share
/// the machine; busy time that is neither the client's nor the directory's is theirs.
#[derive(Clone, Copy)]
struct MachineCpu {
    busy: Duration,
    steal: Duration,
}

fn machine_cpu() -> MachineCpu {
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("cpu "))
        .expect("/proc/stat starts with the cpu line")
        .split_whitespace()
        .map(|field| field.parse().expect("a number of ticks"))
        .collect();
    // user nice system idle iowait irq softirq steal ...; a tick is 1/100 s (USER_HZ).
    let tick = |ticks: u64| Duration::from_millis(ticks * 10);
    MachineCpu {
        busy: tick(ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6]),
        steal: tick(ticks[7]),
    }
}

/// What the kernel has counted so far, for the whole machine (other programs'
/// connections count too).
#[derive(Clone, Copy)]
struct TcpCounters {
    /// Sockets in TIME_WAIT now (`/proc/net/sockstat`, `tw`).
    time_wait: u64,
    /// Connections a full accept queue turned away (`TcpExt: ListenOverflows`).
    listen_overflows: u64,
    /// SYNs sent again because no answer came (`TcpExt: TCPSynRetrans`): each costs
    /// its connect a second.
    syn_retransmits: u64,
}

fn tcp_counters() -> TcpCounters {
    let sockstat = std::fs::read_to_string("/proc/net/sockstat").expect("/proc/net/sockstat");
    let time_wait = sockstat
        .lines()
        .find_map(|line| line.strip_prefix("TCP:"))
        .and_then(|fields| {
            let fields: Vec<&str> = fields.split_whitespace().collect();
            let at = fields.iter().position(|&name| name == "tw")?;
            fields.get(at + 1)?.parse().ok()
        })
        .expect("the tw count in /proc/net/sockstat");
    // `/proc/net/netstat` is pairs of lines: `TcpExt: Name Name ...`, `TcpExt: 1 2 ...`.
    let netstat = std::fs::read_to_string("/proc/net/netstat").expect("/proc/net/netstat");
    let lines: Vec<&str> = netstat.lines().collect();
    let tcp_ext = |name: &str| -> u64 {
        lines
            .chunks(2)
            .filter(|pair| pair.len() == 2 && pair[0].starts_with("TcpExt:"))
            .find_map(|pair| {
                let at = pair[0].split_whitespace().position(|n| n == name)?;
                pair[1].split_whitespace().nth(at)?.parse().ok()
            })
            .unwrap_or_else(|| panic!("TcpExt {name} in /proc/net/netstat"))
    };
    TcpCounters {
        time_wait,
        listen_overflows: tcp_ext("ListenOverflows"),
        syn_retransmits: tcp_ext("TCPSynRetrans"),
    }
}

// ----- the clients -----

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Client {
    Looplab,
    Tokio,
    Threads,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::Looplab => "looplab",
            Client::Tokio => "tokio",
            Client::Threads => "threads",
        }
    }

    fn from_name(name: &str) -> Client {
        [Client::Looplab, Client::Tokio, Client::Threads]
            .into_iter()
            .find(|client| client.name() == name)
            .unwrap_or_else(|| panic!("no client named {name}"))
    }

    /// One run of `n` requests against the directory at `addr`; returns its wall time
    /// (requests in to last answer).
    fn run(self, addr: SocketAddr, n: usize) -> Duration {
        match self {
            Client::Looplab => {
                let options = EventLoopOptions {
                    requests: requests(n),
                    delay: DELAY,
                    virtual_time: false,
                    call_timeout: None,
                    lang: Lang::En,
                    trace: looplab::TraceOutput::Off,
                    recorder: None,
                };
                let quiet: Narrator = Arc::new(|_, _| {});
                let (report, _stats) = run_event_loop(Some(addr), &options, quiet, |b| b)
                    .expect("the looplab run failed");
                report.total
            }
            Client::Tokio => tokio_client::run(addr, &requests(n)).expect("the tokio run failed"),
            Client::Threads => {
                run_threads(addr, &requests(n), None, Lang::En, &mut |_| {})
                    .expect("the threads run failed")
                    .total
            }
        }
    }
}

/// The event-loop client of `src/lookup/event_loop.rs`, written for tokio.
///
/// The same program, step for step: one task per request, one connection per
/// request, the users of a request looked up one call at a time over it. The request
/// bytes come from `http::user_request`, the answers are read through the same 1 KiB
/// chunk and cut and checked by `http::take_answer` and `http::user_from_answer`, and
/// each lookup builds its narrative line, its error contexts and its span as
/// looplab's does. Only the runtime differs: `tokio::net::TcpStream`, `tokio::spawn`,
/// `tokio::time`, and `futures::future::join_all`, the join DESIGN.md names as
/// `looplab::join_all`'s peer.
mod tokio_client {
    use std::future::Future;
    use std::io;
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Duration;

    use looplab::lookup::blocking::first_user_ids;
    use looplab::lookup::event_loop::Narrator;
    use looplab::lookup::http;
    use looplab::lookup::narrative::{self, Lang, LookupStyle};
    use looplab::lookup::report::{RequestReport, Span};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::time::{Instant, timeout};

    /// Runs every request as its own task on a new tokio runtime and waits for all;
    /// returns the time from the requests' arrival to the last answer.
    pub fn run(addr: SocketAddr, requests: &[u32]) -> io::Result<Duration> {
        let runtime = super::common::tokio_runtime();
        let narrate: Narrator = Arc::new(|_, _| {});
        runtime.block_on(async {
            let run_start = Instant::now();
            let handles: Vec<_> = requests
                .iter()
                .zip(first_user_ids(requests))
                .map(|(&users, first_id)| {
                    let narrate = narrate.clone();
                    tokio::spawn(find_users(addr, first_id, users, run_start, None, narrate))
                })
                .collect();
            let results = futures::future::join_all(handles).await;
            let total = run_start.elapsed();
            for result in results {
                result.map_err(io::Error::other)??;
            }
            Ok(total)
        })
    }

    /// `event_loop::within`: bounds a call by `limit`, if there is one.
    async fn within<T>(
        limit: Option<Duration>,
        what: &str,
        call: impl Future<Output = io::Result<T>>,
    ) -> io::Result<T> {
        let Some(limit) = limit else {
            return call.await;
        };
        match timeout(limit, call).await {
            Ok(result) => result,
            Err(elapsed) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{what}: {elapsed}"),
            )),
        }
    }

    /// `event_loop::find_users`: finds `users` users one call at a time, awaiting each.
    async fn find_users(
        addr: SocketAddr,
        first_id: u64,
        users: u32,
        run_start: Instant,
        call_timeout: Option<Duration>,
        narrate: Narrator,
    ) -> io::Result<RequestReport> {
        let start = run_start.elapsed();
        let mut connection = within(
            call_timeout,
            &format!("{addr}: connecting"),
            DirectoryConnection::open(addr),
        )
        .await?;
        let mut lookups = Vec::new();
        for i in 1..=users {
            narrate(
                run_start.elapsed(),
                narrative::looking_up(Lang::En, i, users),
            );
            let id = first_id.checked_add(u64::from(i - 1)).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "user ids run past u64::MAX")
            })?;
            let start = run_start.elapsed();
            within(
                call_timeout,
                &format!("{addr}: GET /users/{id}"),
                connection.get_user(id),
            )
            .await?;
            lookups.push(Span {
                start,
                end: run_start.elapsed(),
            });
        }
        let line = narrative::all_found(Lang::En, LookupStyle::Async, users);
        narrate(run_start.elapsed(), line);
        Ok(RequestReport {
            users,
            start,
            latency: lookups.last().map_or(Duration::ZERO, |span| span.end),
            lookups,
        })
    }

    /// `event_loop::DirectoryConnection`: a connection and the bytes read but not
    /// used yet.
    struct DirectoryConnection {
        stream: TcpStream,
        addr: SocketAddr,
        host: String,
        buffer: Vec<u8>,
    }

    impl DirectoryConnection {
        async fn open(addr: SocketAddr) -> io::Result<DirectoryConnection> {
            let stream = TcpStream::connect(addr)
                .await
                .map_err(|e| io::Error::new(e.kind(), format!("{addr}: could not connect: {e}")))?;
            Ok(DirectoryConnection {
                stream,
                addr,
                host: addr.to_string(),
                buffer: Vec::new(),
            })
        }

        /// One call: `GET /users/{id}`, then read until a whole answer is in.
        async fn get_user(&mut self, id: u64) -> io::Result<http::User> {
            let call = format!("GET /users/{id}");
            let addr = self.addr;
            let context = || format!("{addr}: {call}");
            let failed = |what: &str, e: io::Error| {
                io::Error::new(e.kind(), format!("{}: {what}: {e}", context()))
            };
            self.stream
                .write_all(&http::user_request(id, &self.host))
                .await
                .map_err(|e| failed("sending the request", e))?;
            let mut chunk = [0u8; 1024];
            let (status, body) = loop {
                match http::take_answer(&mut self.buffer) {
                    Ok(Some(answer)) => break answer,
                    Ok(None) => {}
                    Err(bad) => return Err(bad.into_io_error(&context())),
                }
                let n = self
                    .stream
                    .read(&mut chunk)
                    .await
                    .map_err(|e| failed("waiting for the answer", e))?;
                if n == 0 {
                    return Err(http::closed_before_answer(&self.buffer).into_io_error(&context()));
                }
                self.buffer.extend_from_slice(&chunk[..n]);
            };
            http::user_from_answer(id, status, &body).map_err(|bad| bad.into_io_error(&context()))
        }
    }
}

// ----- timed runs, each against a fresh directory -----

/// One run against a directory of its own, and what the kernel counted meanwhile.
struct Run {
    wall: Duration,
    /// The CPU time of the thread that ran the client (user and kernel), runtime
    /// start-up and shutdown included. Meaningful for looplab and tokio, which do all
    /// their work on the thread that calls `block_on`; not for threads.
    cpu: Duration,
    /// The directory's CPU time during the run.
    directory_cpu: Duration,
    /// The whole machine's busy CPU time during the run (10 ms ticks): the client's,
    /// the directory's, the kernel's interrupts and other sessions'.
    machine_busy: Duration,
    /// CPU time the hypervisor took away from this machine during the run.
    steal: Duration,
    time_wait_before: u64,
    listen_overflows: u64,
    syn_retransmits: u64,
}

/// One run against a directory of its own: how every run is timed.
fn fresh_run(client: Client, n: usize, delay: Duration) -> Run {
    let directory = DirectoryProcess::start(delay);
    run_against(&directory, client, n)
    // `directory` is killed here.
}

/// One run against `directory`, with what the kernel and the machine counted meanwhile.
fn run_against(directory: &DirectoryProcess, client: Client, n: usize) -> Run {
    let before = tcp_counters();
    let machine_before = machine_cpu();
    let directory_before = directory.cpu_time();
    let cpu_before = thread_cpu_time();
    let wall = client.run(directory.addr, n);
    let cpu = thread_cpu_time() - cpu_before;
    let directory_cpu = directory.cpu_time() - directory_before;
    let machine_after = machine_cpu();
    let after = tcp_counters();
    Run {
        wall,
        cpu,
        directory_cpu,
        machine_busy: machine_after.busy - machine_before.busy,
        steal: machine_after.steal - machine_before.steal,
        time_wait_before: before.time_wait,
        listen_overflows: after.listen_overflows - before.listen_overflows,
        syn_retransmits: after.syn_retransmits - before.syn_retransmits,
    }
}

fn group_name(n: usize, delay: Duration) -> String {
    if delay.is_zero() {
        format!("lookup_floor_{n}_requests")
    } else {
        format!("lookup_{n}_requests")
    }
}

/// Criterion's groups: each client's samples one after the other, every run against
/// its own directory.
fn criterion_groups(c: &mut Criterion) {
    for delay in [DELAY, NO_DELAY] {
        for n in SIZES {
            let mut clients = vec![Client::Looplab, Client::Tokio];
            if n == LARGEST && !delay.is_zero() {
                clients.push(Client::Threads);
            }
            let mut group = c.benchmark_group(group_name(n, delay));
            group
                .sample_size(10)
                .warm_up_time(Duration::from_millis(200))
                .measurement_time(Duration::from_secs(1))
                .sampling_mode(SamplingMode::Flat);
            for client in clients {
                group.bench_function(client.name(), |b| {
                    b.iter_custom(|iters| {
                        (0..iters).map(|_| fresh_run(client, n, delay).wall).sum()
                    })
                });
            }
            group.finish();
        }
    }
}

/// Every run of one client in one group, across the rounds.
#[derive(Default)]
struct Runs {
    walls: Vec<Duration>,
    cpus: Vec<Duration>,
    directory_cpus: Vec<Duration>,
    /// The machine's busy time that was neither the client's nor the directory's.
    rest_of_machine: Vec<Duration>,
    time_wait_before: Vec<u64>,
    runs_with_overflows: usize,
    runs_with_syn_retransmits: usize,
}

impl Runs {
    fn push(&mut self, run: &Run) {
        self.walls.push(run.wall);
        self.cpus.push(run.cpu);
        self.directory_cpus.push(run.directory_cpu);
        self.rest_of_machine.push(
            run.machine_busy
                .saturating_sub(run.cpu)
                .saturating_sub(run.directory_cpu),
        );
        self.time_wait_before.push(run.time_wait_before);
        self.runs_with_overflows += usize::from(run.listen_overflows > 0);
        self.runs_with_syn_retransmits += usize::from(run.syn_retransmits > 0);
    }
}

fn median<T: Copy + PartialOrd>(values: &[T]) -> T {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).expect("comparable"));
    sorted[sorted.len() / 2]
}

/// looplab and tokio back to back, round after round, the order swapped each round.
/// Every run is also written to `target/tmp/looplab-bench/lookup_runs.csv`, in the
/// order it ran, so a trend over the runs (a drift) would show.
fn alternating_rounds(report: &mut SideReport) {
    let mut cases = Vec::new();
    for delay in [DELAY, NO_DELAY] {
        for n in SIZES {
            cases.push((n, delay));
        }
    }
    let mut runs: Vec<[Runs; 2]> = cases.iter().map(|_| Default::default()).collect();
    let mut log = String::from(
        "round,group,client,wall_ms,client_cpu_ms,directory_cpu_ms,machine_busy_ms,\
         steal_ms,time_wait_before,listen_overflows,syn_retransmits\n",
    );
    for round in 0..ROUNDS {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for (case, &(n, delay)) in cases.iter().enumerate() {
            for side in order {
                let client = [Client::Looplab, Client::Tokio][side];
                let run = fresh_run(client, n, delay);
                log += &format!(
                    "{round},{},{},{:.3},{:.3},{:.3},{:.0},{:.0},{},{},{}\n",
                    group_name(n, delay),
                    client.name(),
                    ms(run.wall),
                    ms(run.cpu),
                    ms(run.directory_cpu),
                    ms(run.machine_busy),
                    ms(run.steal),
                    run.time_wait_before,
                    run.listen_overflows,
                    run.syn_retransmits
                );
                runs[case][side].push(&run);
            }
        }
    }
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("looplab-bench");
    std::fs::create_dir_all(&dir).expect("create the side report's directory");
    std::fs::write(dir.join("lookup_runs.csv"), log).expect("write the run log");
    for (&(n, delay), [looplab, tokio]) in cases.iter().zip(&runs) {
        let group = format!("{}_alternating", group_name(n, delay));
        for (client, runs) in [("looplab", looplab), ("tokio", tokio)] {
            report.record(&group, client, "wall_median", ms(median(&runs.walls)), "ms");
            report.record(&group, client, "cpu_median", ms(median(&runs.cpus)), "ms");
            let directory_cpu = median(&runs.directory_cpus);
            report.record(
                &group,
                client,
                "directory_cpu_median",
                ms(directory_cpu),
                "ms",
            );
            let rest = median(&runs.rest_of_machine);
            report.record(&group, client, "rest_of_machine_cpu_median", ms(rest), "ms");
            let (min, max) = (runs.walls.iter().min(), runs.walls.iter().max());
            report.record(&group, client, "wall_min", ms(*min.unwrap()), "ms");
            report.record(&group, client, "wall_max", ms(*max.unwrap()), "ms");
            report.record(&group, client, "runs", runs.walls.len() as f64, "");
            report.record(
                &group,
                client,
                "runs_with_listen_overflows",
                runs.runs_with_overflows as f64,
                "",
            );
            report.record(
                &group,
                client,
                "runs_with_syn_retransmits",
                runs.runs_with_syn_retransmits as f64,
                "",
            );
            report.record(
                &group,
                client,
                "time_wait_before_median",
                median(&runs.time_wait_before) as f64,
                "",
            );
            if !delay.is_zero() {
                let within = runs
                    .walls
                    .iter()
                    .filter(|w| w.as_secs_f64() <= IDEAL.as_secs_f64() * 1.05)
                    .count();
                report.record(
                    &group,
                    client,
                    "runs_within_5pct_of_ideal",
                    within as f64,
                    "",
                );
            }
        }
        let ratios = |ours: &[Duration], theirs: &[Duration]| -> Vec<f64> {
            ours.iter()
                .zip(theirs)
                .map(|(l, t)| l.as_secs_f64() / t.as_secs_f64())
                .collect()
        };
        for (what, ratios) in [
            ("wall", ratios(&looplab.walls, &tokio.walls)),
            ("cpu", ratios(&looplab.cpus, &tokio.cpus)),
        ] {
            let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
            let max = ratios.iter().copied().fold(0.0, f64::max);
            let function = "looplab/tokio";
            report.record(
                &group,
                function,
                &format!("{what}_ratio_median"),
                median(&ratios),
                "",
            );
            report.record(&group, function, &format!("{what}_ratio_min"), min, "");
            report.record(&group, function, &format!("{what}_ratio_max"), max, "");
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

// ----- memory, in child processes -----

/// What a child process measured for one run.
#[derive(serde::Serialize, serde::Deserialize)]
struct ChildResult {
    wall_ms: f64,
    rss_before_kib: u64,
    rss_peak_kib: u64,
    heap_peak_bytes: i64,
    kernel_stack_increase_kib: u64,
    threads_peak: u64,
}

/// `/proc/meminfo`'s `KernelStack` (KiB), for the whole machine.
fn kernel_stack_kib() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").expect("/proc/meminfo");
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("KernelStack:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .expect("KernelStack in /proc/meminfo")
}

/// In the child: one run of `client`, then its measurements as JSON on stdout.
fn child_main(client: Client) {
    let addr: SocketAddr = std::env::var("LOOPLAB_BENCH_ADDR")
        .unwrap()
        .parse()
        .unwrap();
    let n: usize = std::env::var("LOOPLAB_BENCH_REQUESTS")
        .unwrap()
        .parse()
        .unwrap();
    // A sampler thread keeps the peaks of what `VmHWM` does not cover: the machine's
    // kernel stacks and this process's thread count.
    let stop = Arc::new(AtomicBool::new(false));
    let kernel_stack_peak = Arc::new(AtomicU64::new(0));
    let threads_peak = Arc::new(AtomicU64::new(0));
    let kernel_stack_before = kernel_stack_kib();
    let sampler = {
        let (stop, ks, th) = (
            stop.clone(),
            kernel_stack_peak.clone(),
            threads_peak.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                ks.fetch_max(kernel_stack_kib(), Ordering::Relaxed);
                th.fetch_max(proc_status_kib("Threads"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let rss_before_kib = proc_status_kib("VmRSS");
    counting::start();
    let wall = client.run(addr, n);
    let heap = counting::stop();
    let rss_peak_kib = proc_status_kib("VmHWM");
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let result = ChildResult {
        wall_ms: ms(wall),
        rss_before_kib,
        rss_peak_kib,
        heap_peak_bytes: heap.peak_bytes,
        kernel_stack_increase_kib: kernel_stack_peak
            .load(Ordering::Relaxed)
            .saturating_sub(kernel_stack_before),
        threads_peak: threads_peak.load(Ordering::Relaxed),
    };
    println!("{}", serde_json::to_string(&result).unwrap());
}

/// One run of `client` in a child process of its own, against a fresh directory.
fn run_child(client: Client, n: usize) -> ChildResult {
    let directory = DirectoryProcess::start(DELAY);
    let output = Command::new(std::env::current_exe().unwrap())
        .env("LOOPLAB_BENCH_CHILD", client.name())
        .env("LOOPLAB_BENCH_ADDR", directory.addr.to_string())
        .env("LOOPLAB_BENCH_REQUESTS", n.to_string())
        .stderr(Stdio::inherit())
        .output()
        .expect("run a measuring child process");
    assert!(
        output.status.success(),
        "the {} child failed",
        client.name()
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let last = text.lines().last().expect("the child's JSON line");
    serde_json::from_str(last).expect("the child's JSON")
}

/// Memory per request, three fresh processes per client, alternating; the run with
/// the median resident-set increase is reported.
fn memory_runs(report: &mut SideReport) {
    let group = format!("lookup_{LARGEST}_requests_memory");
    let mut runs: [(Client, Vec<ChildResult>); 3] = [
        (Client::Looplab, vec![]),
        (Client::Tokio, vec![]),
        (Client::Threads, vec![]),
    ];
    for _ in 0..3 {
        for (client, results) in runs.iter_mut() {
            results.push(run_child(*client, LARGEST));
        }
    }
    for (client, mut results) in runs {
        let client = client.name();
        results.sort_by_key(|r| r.rss_peak_kib - r.rss_before_kib);
        let r = &results[1];
        let per_request = |kib: u64| kib as f64 * 1024.0 / LARGEST as f64;
        report.record(&group, client, "child_wall", r.wall_ms, "ms");
        report.record(
            &group,
            client,
            "rss_per_request",
            per_request(r.rss_peak_kib - r.rss_before_kib),
            "B",
        );
        report.record(
            &group,
            client,
            "heap_per_request",
            r.heap_peak_bytes as f64 / LARGEST as f64,
            "B",
        );
        report.record(
            &group,
            client,
            "kernel_stack_per_request",
            per_request(r.kernel_stack_increase_kib),
            "B",
        );
        report.record(&group, client, "threads_peak", r.threads_peak as f64, "");
    }
}

/// `LOOPLAB_BENCH_ONLY=CLIENT:REQUESTS:DELAY_MS[:RUNS[:one-directory]]`, e.g.
/// `looplab:10000:100:5`: only these runs, each against a fresh directory, with what
/// each measured, for `perf stat` or `perf record` on one client. With
/// `one-directory`, all runs go to one directory, as they did before each run got its
/// own: that shows the drift (see the module's doc and `benches/LOOKUP_RESULTS.md`).
fn only_main(spec: &str) {
    let usage = "LOOPLAB_BENCH_ONLY is CLIENT:REQUESTS:DELAY_MS[:RUNS[:one-directory]]";
    let parts: Vec<&str> = spec.split(':').collect();
    let (client, n, delay) = match parts[..] {
        [client, n, delay, ..] => (client, n, delay),
        _ => panic!("{usage}, not {spec}"),
    };
    let runs: usize = parts.get(3).map_or(1, |runs| runs.parse().expect(usage));
    let one_directory = match parts.get(4) {
        None => false,
        Some(&"one-directory") => true,
        Some(_) => panic!("{usage}, not {spec}"),
    };
    let client = Client::from_name(client);
    let n: usize = n.parse().expect(usage);
    let delay = Duration::from_millis(delay.parse().expect(usage));
    let shared = one_directory.then(|| DirectoryProcess::start(delay));
    for _ in 0..runs {
        let run = match &shared {
            Some(directory) => run_against(directory, client, n),
            None => fresh_run(client, n, delay),
        };
        println!(
            "{} {n} requests, {delay:?} per user: wall {:.1} ms, client cpu {:.1} ms, \
             directory cpu {:.1} ms, machine busy {:.0} ms; TIME_WAIT before {}, \
             listen overflows {}, SYN retransmits {}",
            client.name(),
            ms(run.wall),
            ms(run.cpu),
            ms(run.directory_cpu),
            ms(run.machine_busy),
            run.time_wait_before,
            run.listen_overflows,
            run.syn_retransmits,
        );
    }
}

fn main() {
    if let Ok(client) = std::env::var("LOOPLAB_BENCH_CHILD") {
        child_main(Client::from_name(&client));
        return;
    }
    if let Ok(spec) = std::env::var("LOOPLAB_BENCH_ONLY") {
        only_main(&spec);
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    criterion_groups(&mut criterion);
    if side_runs_enabled("lookup") {
        let mut report = SideReport::new("lookup");
        alternating_rounds(&mut report);
        memory_runs(&mut report);
        report.save();
    }
    criterion.final_summary();
}
