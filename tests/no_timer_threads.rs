//! The loop parks in the reactor until the nearest deadline: 10,000 sleeps start no
//! thread. (One test in this file, so no other test's threads are counted.)

use std::time::Duration;

fn threads_of_this_process() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Threads:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn ten_thousand_sleeps_start_no_thread() {
    let Some(before) = threads_of_this_process() else {
        eprintln!("skipped: /proc/self/status is not available on this OS");
        return;
    };
    let during = looplab::block_on(async {
        let handles: Vec<_> = (0..10_000u64)
            .map(|i| {
                looplab::spawn(async move {
                    looplab::time::sleep(Duration::from_millis(20 + i % 30)).await
                })
            })
            .collect();
        // Every sleep is armed once the tasks have run one turn.
        looplab::time::sleep(Duration::from_millis(5)).await;
        let during = threads_of_this_process().unwrap();
        looplab::join_all(handles).await;
        during
    });
    assert_eq!(
        during, before,
        "threads before: {before}, with 10,000 sleeps: {during}"
    );
}
