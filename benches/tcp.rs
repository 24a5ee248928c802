//! `tcp`: 100 connections, each doing 1,000 request/response round trips of 32 bytes
//! over loopback, clients and echo server in one runtime on one thread.
//!
//! Every round trip is four syscalls (client write, server read, server write, client
//! read), readiness reported by `epoll`, and two task wakes. The runtime's part is
//! everything between the syscalls: turning events into wakes, the run queue, polls.
//! Criterion's throughput line reads directly as round trips per second.
//!
//! Run: `cargo bench --bench tcp`.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{looplab_runtime, tokio_runtime};
use criterion::{Criterion, SamplingMode, Throughput};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONNECTIONS: usize = 100;
const ROUND_TRIPS: usize = 1_000;
const MESSAGE: [u8; 32] = *b"0123456789abcdef0123456789abcdef";

mod on_looplab {
    use super::*;
    use looplab::net::{TcpListener, TcpStream};

    /// Reads exactly `buf.len()` bytes; `false` if the peer closed first.
    async fn read_full(stream: &mut TcpStream, buf: &mut [u8]) -> bool {
        let mut filled = 0;
        while filled < buf.len() {
            match stream.read(&mut buf[filled..]).await.unwrap() {
                0 => return false,
                n => filled += n,
            }
        }
        true
    }

    async fn echo(mut stream: TcpStream) {
        let mut buf = [0u8; 32];
        while read_full(&mut stream, &mut buf).await {
            stream.write_all(&buf).await.unwrap();
        }
    }

    async fn client(addr: SocketAddr) {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let mut buf = [0u8; 32];
        for _ in 0..ROUND_TRIPS {
            stream.write_all(&MESSAGE).await.unwrap();
            assert!(read_full(&mut stream, &mut buf).await);
        }
    }

    pub async fn run() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = looplab::spawn(async move {
            let mut echoes = Vec::with_capacity(CONNECTIONS);
            for _ in 0..CONNECTIONS {
                let (stream, _) = listener.accept().await.unwrap();
                stream.set_nodelay(true).unwrap();
                echoes.push(looplab::spawn(echo(stream)));
            }
            for echo in echoes {
                echo.await.unwrap();
            }
        });
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|_| looplab::spawn(client(addr)))
            .collect();
        for client in clients {
            client.await.unwrap();
        }
        server.await.unwrap();
    }
}

mod on_tokio {
    use super::*;
    use tokio::net::{TcpListener, TcpStream};

    /// The same loop as looplab's (`read` until full), rather than `read_exact`, so
    /// both runtimes make the same calls.
    async fn read_full(stream: &mut TcpStream, buf: &mut [u8]) -> bool {
        let mut filled = 0;
        while filled < buf.len() {
            match stream.read(&mut buf[filled..]).await.unwrap() {
                0 => return false,
                n => filled += n,
            }
        }
        true
    }

    async fn echo(mut stream: TcpStream) {
        let mut buf = [0u8; 32];
        while read_full(&mut stream, &mut buf).await {
            stream.write_all(&buf).await.unwrap();
        }
    }

    async fn client(addr: SocketAddr) {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let mut buf = [0u8; 32];
        for _ in 0..ROUND_TRIPS {
            stream.write_all(&MESSAGE).await.unwrap();
            assert!(read_full(&mut stream, &mut buf).await);
        }
    }

    pub async fn run() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let mut echoes = Vec::with_capacity(CONNECTIONS);
            for _ in 0..CONNECTIONS {
                let (stream, _) = listener.accept().await.unwrap();
                stream.set_nodelay(true).unwrap();
                echoes.push(tokio::spawn(echo(stream)));
            }
            for echo in echoes {
                echo.await.unwrap();
            }
        });
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|_| tokio::spawn(client(addr)))
            .collect();
        for client in clients {
            client.await.unwrap();
        }
        server.await.unwrap();
    }
}

fn bench_tcp(c: &mut Criterion) {
    let looplab = looplab_runtime();
    let tokio = tokio_runtime();

    let mut group = c.benchmark_group("tcp_100x1000_round_trips");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements((CONNECTIONS * ROUND_TRIPS) as u64));
    group.bench_function("looplab", |b| {
        b.iter(|| looplab.block_on(on_looplab::run()))
    });
    group.bench_function("tokio", |b| b.iter(|| tokio.block_on(on_tokio::run())));
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_tcp(&mut criterion);
    criterion.final_summary();
}
