//! A panicking task fails its own `JoinHandle`, not the loop.

use std::time::Duration;

use looplab::Runtime;
use looplab::time::sleep;

#[test]
fn a_panic_becomes_a_join_error_with_the_message() {
    let rt = Runtime::builder().virtual_time(true).build().unwrap();
    let (err, other) = rt.block_on(async {
        let other = looplab::spawn(async {
            sleep(Duration::from_millis(10)).await;
            "still here"
        });
        let failing = looplab::spawn(async {
            sleep(Duration::from_millis(5)).await;
            panic!("user 7 not found");
        });
        let err: looplab::JoinError = failing.await.unwrap_err();
        (err, other.await.unwrap())
    });
    assert!(err.is_panic());
    assert_eq!(err.panic_message(), "user 7 not found");
    assert_eq!(err.to_string(), "task 2 panicked: user 7 not found");
    assert_eq!(other, "still here");
    assert_eq!(rt.stats().panicked, 1);
}

#[test]
fn a_formatted_panic_message_is_kept() {
    let err = looplab::block_on(async {
        looplab::spawn(async {
            let id = 42;
            panic!("lookup of {id} failed");
        })
        .await
        .unwrap_err()
    });
    assert_eq!(err.panic_message(), "lookup of 42 failed");
}

#[test]
fn the_loop_keeps_running_after_many_panics() {
    let rt = Runtime::builder().virtual_time(true).build().unwrap();
    let results = rt.block_on(async {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                looplab::spawn(async move {
                    sleep(Duration::from_millis(i)).await;
                    if i % 2 == 0 {
                        panic!("even {i}");
                    }
                    i
                })
            })
            .collect();
        looplab::join_all(handles).await
    });
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(v) => assert_eq!(v as usize, i),
            Err(e) => {
                assert_eq!(i % 2, 0);
                assert_eq!(e.panic_message(), format!("even {i}"));
            }
        }
    }
    // And the same runtime still runs new work.
    assert_eq!(
        rt.block_on(async { looplab::spawn(async { 5 }).await }),
        Ok(5)
    );
}

#[test]
fn a_panicking_task_leaves_no_timer_behind() {
    let rt = Runtime::builder().virtual_time(true).build().unwrap();
    rt.block_on(async {
        let failing = looplab::spawn(async {
            // Arms a timer, then panics on its next poll while another sleep is armed.
            let long = sleep(Duration::from_secs(3600));
            sleep(Duration::from_millis(1)).await;
            let _keep = &long;
            panic!("with a timer armed");
        });
        assert!(failing.await.is_err());
    });
    assert_eq!(rt.pending_resources(), (0, 0));
}

#[test]
fn a_detached_task_keeps_running_after_its_handle_is_dropped() {
    let rt = Runtime::builder().virtual_time(true).build().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    rt.block_on(async move {
        drop(looplab::spawn(async move {
            sleep(Duration::from_millis(50)).await;
            tx.send("finished anyway").unwrap();
        }));
        sleep(Duration::from_millis(100)).await;
    });
    assert_eq!(rx.try_recv(), Ok("finished anyway"));
}

#[test]
fn a_panic_in_the_block_on_future_itself_propagates() {
    let result = std::panic::catch_unwind(|| {
        looplab::block_on(async {
            panic!("main failed");
        })
    });
    assert!(result.is_err());
    // The thread is usable for a new runtime afterwards.
    assert_eq!(looplab::block_on(async { 1 }), 1);
}
