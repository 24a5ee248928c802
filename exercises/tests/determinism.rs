//! The exercises that run over sockets under virtual time (8, 10 and 11) give the same
//! trace on every run, however busy the machine is: a virtual-time runtime's sockets
//! are simulated in its own memory (`src/sim_net/`), so nothing is ever in flight where
//! the loop cannot see it. Each scenario runs 20 times in a row while other threads
//! burn every core; every trace must equal the first, line for line.
//!
//! ```text
//! cargo test -p looplab-exercises --test determinism
//! ```
//!
//! (Against the reference solutions only: with `--features start` the exercises do not
//! work yet, so neither do these runs.)

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use looplab::lookup::directory::{Directory, DirectoryConfig, StopSignal};
use looplab::net::{TcpListener, TcpStream};
use looplab::{Recorder, Runtime};
use looplab_exercises::under_test::ex08_async_io_traits::{read_to_end, write_all};
use looplab_exercises::under_test::ex10_semaphore::LimitedClient;
use looplab_exercises::under_test::ex11_lookup_web_server::LookupServer;

const RUNS: usize = 20;

#[path = "../../tests/burners/mod.rs"]
mod burners;

use burners::Burners;

/// Runs `scenario` on a recording virtual-time runtime and returns its trace.
fn trace_of<F: std::future::Future<Output = ()>>(scenario: impl FnOnce() -> F) -> Vec<String> {
    let recorder = Recorder::new();
    let runtime = Runtime::builder()
        .virtual_time(true)
        .record(recorder.clone())
        .build()
        .unwrap();
    runtime.block_on(async {
        looplab::time::timeout(Duration::from_secs(600), scenario())
            .await
            .expect("the scenario finishes");
    });
    recorder.lines()
}

/// Runs the scenario `RUNS` times with every core busy; each trace must be the first.
fn assert_the_same_every_time<F: std::future::Future<Output = ()>>(
    name: &str,
    scenario: impl Fn() -> F,
) {
    let _burners = Burners::on_every_core();
    let first = trace_of(&scenario);
    assert!(first.len() > 20, "{name}: a trace of {} lines", first.len());
    for run in 2..=RUNS {
        let trace = trace_of(&scenario);
        if let Some(at) = trace.iter().zip(&first).position(|(a, b)| a != b) {
            panic!(
                "{name}, run {run}: line {} differs from run 1:\n  run {run}: {}\n  run 1: {}",
                at + 1,
                trace[at],
                first[at]
            );
        }
        assert_eq!(
            trace.len(),
            first.len(),
            "{name}, run {run}: another length"
        );
    }
}

/// A directory (1 s per user) in the current runtime, until `stop` fires.
fn start_directory(stop: &StopSignal) -> SocketAddr {
    let server = Directory::bind(
        "127.0.0.1:0",
        DirectoryConfig::with_delay(Duration::from_secs(1)),
    )
    .unwrap();
    let addr = server.local_addr().unwrap();
    let stop = stop.clone();
    looplab::spawn(async move { server.serve_until(stop.fired()).await });
    addr
}

#[test]
fn exercise_8_an_echo_through_the_async_io_traits_traces_the_same_every_run() {
    assert_the_same_every_time("ex08", || async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = looplab::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            read_to_end(&mut stream, &mut got).await.unwrap();
            write_all(&mut stream, &got).await.unwrap();
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        let message = vec![7u8; 8 * 1024];
        write_all(&mut client, &message).await.unwrap();
        client.shutdown_write().unwrap();
        let mut echo = Vec::new();
        read_to_end(&mut client, &mut echo).await.unwrap();
        assert_eq!(echo, message);
        server.await.unwrap();
    });
}

#[test]
fn exercise_10_six_lookups_through_a_limit_of_two_trace_the_same_every_run() {
    assert_the_same_every_time("ex10", || async {
        let stop = StopSignal::new();
        let directory = start_directory(&stop);
        let client = Arc::new(LimitedClient::new(directory, 2));
        let lookups: Vec<_> = (1..=6)
            .map(|id| {
                let client = client.clone();
                looplab::spawn(async move { client.get_user(id).await.unwrap() })
            })
            .collect();
        for lookup in looplab::join_all(lookups).await {
            lookup.unwrap();
        }
        stop.fire();
    });
}

#[test]
fn exercise_11_three_requests_to_the_lookup_server_trace_the_same_every_run() {
    assert_the_same_every_time("ex11", || async {
        let stop = StopSignal::new();
        let directory = start_directory(&stop);
        let server = LookupServer::bind("127.0.0.1:0", directory).unwrap();
        let addr = server.local_addr().unwrap();
        let serving = {
            let stop = stop.clone();
            looplab::spawn(async move { server.serve_until(stop.fired()).await })
        };
        let clients: Vec<_> = [3u32, 2, 1]
            .into_iter()
            .map(|users| {
                looplab::spawn(async move {
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    let request = format!(
                        "GET /lookup?users={users} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                    );
                    stream.write_all(request.as_bytes()).await.unwrap();
                    let mut answer = Vec::new();
                    stream.read_to_end(&mut answer).await.unwrap();
                    assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
                })
            })
            .collect();
        for client in looplab::join_all(clients).await {
            client.unwrap();
        }
        stop.fire();
        serving.await.unwrap();
    });
}
