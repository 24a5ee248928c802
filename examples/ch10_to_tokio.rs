//! Chapter 10: the same program on looplab and on tokio.
//!
//! Everything looplab built has a counterpart in tokio, and the names line up:
//! `block_on`, `spawn`, `JoinHandle`, `time::sleep`, `time::timeout`, `net::TcpStream`.
//! This example runs the post's three lookups (3, 2 and 1 users, 200 ms per user here)
//! written once against each runtime, in real time, and prints the finish times side
//! by side: the two loops make the same schedule. Then it does the same with both
//! runtimes paused (looplab's virtual time, tokio's `start_paused`), where both report
//! exact times.
//!
//! Run: `cargo run --example ch10_to_tokio` (tokio is a dev-dependency: this example is
//! the only place, besides the benchmarks, that uses it).

use std::time::Duration;

const DELAY: Duration = Duration::from_millis(200);
const REQUESTS: [u32; 3] = [3, 2, 1];

/// The post's `find_users_async` on looplab.
async fn find_users_looplab(users: u32) -> Duration {
    let start = looplab::time::Instant::now();
    for _ in 0..users {
        looplab::time::sleep(DELAY).await;
    }
    start.elapsed()
}

/// The same function on tokio: only the paths differ.
async fn find_users_tokio(users: u32) -> Duration {
    let start = tokio::time::Instant::now();
    for _ in 0..users {
        tokio::time::sleep(DELAY).await;
    }
    start.elapsed()
}

fn on_looplab(virtual_time: bool) -> Vec<Duration> {
    let runtime = looplab::Runtime::builder()
        .virtual_time(virtual_time)
        .build()
        .expect("a looplab runtime");
    runtime.block_on(async {
        let handles: Vec<_> = REQUESTS
            .iter()
            .map(|&n| looplab::spawn(find_users_looplab(n)))
            .collect();
        looplab::join_all(handles)
            .await
            .into_iter()
            .map(|r| r.expect("no task panics"))
            .collect()
    })
}

fn on_tokio(paused: bool) -> Vec<Duration> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(paused)
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let handles: Vec<_> = REQUESTS
            .iter()
            .map(|&n| tokio::spawn(find_users_tokio(n)))
            .collect();
        let mut finished = Vec::new();
        for handle in handles {
            finished.push(handle.await.expect("no task panics"));
        }
        finished
    })
}

fn print_side_by_side(title: &str, looplab: &[Duration], tokio: &[Duration]) {
    println!("{title}");
    println!("  request    looplab      tokio");
    for ((users, a), b) in REQUESTS.iter().zip(looplab).zip(tokio) {
        let label = if *users == 1 { "1 user " } else { "users" };
        let label = if *users == 1 {
            label.to_string()
        } else {
            format!("{users} {label}")
        };
        println!(
            "  {label}  {:>8.3} s  {:>8.3} s",
            a.as_secs_f64(),
            b.as_secs_f64()
        );
    }
    println!();
}

fn main() {
    println!("The post's three lookups, {DELAY:?} per user, written once for each runtime.\n");

    let looplab_real = on_looplab(false);
    let tokio_real = on_tokio(false);
    print_side_by_side("real time (one thread each)", &looplab_real, &tokio_real);

    let looplab_virtual = on_looplab(true);
    let tokio_paused = on_tokio(true);
    print_side_by_side(
        "virtual time (looplab) / paused time (tokio)",
        &looplab_virtual,
        &tokio_paused,
    );

    // Both loops make the same schedule: each request takes its own length, not the sum.
    for (i, &users) in REQUESTS.iter().enumerate() {
        let ideal = DELAY * users;
        assert_eq!(looplab_virtual[i], ideal);
        assert_eq!(tokio_paused[i], ideal);
        for real in [looplab_real[i], tokio_real[i]] {
            assert!(real >= ideal && real < ideal + Duration::from_millis(150));
        }
    }
    println!(
        "proved: the same async code gives the same schedule on looplab and tokio: \
         {:.3}/{:.3}/{:.3} s against tokio's {:.3}/{:.3}/{:.3} s in real time, \
         and exactly {:?}/{:?}/{:?} on both clocks that skip waiting",
        looplab_real[0].as_secs_f64(),
        looplab_real[1].as_secs_f64(),
        looplab_real[2].as_secs_f64(),
        tokio_real[0].as_secs_f64(),
        tokio_real[1].as_secs_f64(),
        tokio_real[2].as_secs_f64(),
        looplab_virtual[0],
        looplab_virtual[1],
        looplab_virtual[2],
    );
}
