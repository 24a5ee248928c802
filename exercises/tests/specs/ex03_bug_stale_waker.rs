//! Spec of exercise 3 (a bug hunt): a one-shot channel wakes the waker of the receiver's latest poll
//! (chapter 4).
//!
//! ```text
//! cargo test -p looplab-exercises --features start --test ex03_bug_stale_waker
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::answer::{Canceled, Receiver, channel};
use futures::task::ArcWake;
use looplab::time::{Instant, sleep, timeout};

use crate::common::{ms, virtual_runtime, within};

/// A waker that counts its wakes, so a test can see *which* waker was woken.
struct CountingWaker(AtomicUsize);

impl CountingWaker {
    fn new() -> Arc<CountingWaker> {
        Arc::new(CountingWaker(AtomicUsize::new(0)))
    }

    fn wakes(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl ArcWake for CountingWaker {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls the receiver once, as the task that owns `waker` would.
fn poll_with<T>(rx: &mut Receiver<T>, waker: &Waker) -> Poll<Result<T, Canceled>> {
    Pin::new(rx).poll(&mut Context::from_waker(waker))
}

pub fn send_wakes_the_waker_of_the_latest_poll_not_the_first() {
    let (tx, mut rx) = channel::<u32>();
    let first = CountingWaker::new();
    let second = CountingWaker::new();
    let first_waker = futures::task::waker(first.clone());
    let second_waker = futures::task::waker(second.clone());

    // Polled by one task, then by another: the receiver has moved.
    assert_eq!(poll_with(&mut rx, &first_waker), Poll::Pending);
    assert_eq!(poll_with(&mut rx, &second_waker), Poll::Pending);

    tx.send(7);
    assert_eq!(
        (first.wakes(), second.wakes()),
        (0, 1),
        "send woke (first poll's waker, latest poll's waker) this many times: it must \
         wake the task that polled the receiver last, which is the one awaiting it now"
    );
    assert_eq!(poll_with(&mut rx, &second_waker), Poll::Ready(Ok(7)));
}

pub fn a_receiver_moved_to_another_task_after_a_timeout_still_gets_its_value() {
    let took = virtual_runtime().block_on(async {
        let start = Instant::now();
        let (tx, mut rx) = channel::<&str>();
        // The main task polls the receiver first, and gives up after 10 ms.
        assert!(
            timeout(ms(10), &mut rx).await.is_err(),
            "nothing was sent yet: the timeout must win"
        );
        // Then the receiver moves: it becomes a task of its own (a receiver is a
        // future, so it can be spawned), and the value comes later.
        let waiter = looplab::spawn(rx);
        let sender = looplab::spawn(async move {
            sleep(ms(50)).await;
            tx.send("hello");
        });
        let got = within(
            Duration::from_secs(10),
            "the task awaiting the moved receiver",
            waiter,
        )
        .await;
        assert_eq!(got.expect("the waiting task failed"), Ok("hello"));
        sender.await.expect("the sending task failed");
        start.elapsed()
    });
    assert_eq!(
        took,
        ms(60),
        "the value is sent at 10 + 50 ms and must arrive then"
    );
}

pub fn a_receiver_awaited_by_one_task_gets_its_value() {
    let took = virtual_runtime().block_on(async {
        let start = Instant::now();
        let (tx, rx) = channel::<u64>();
        looplab::spawn(async move {
            sleep(ms(30)).await;
            tx.send(42);
        });
        let got = within(Duration::from_secs(10), "the receiver", rx).await;
        assert_eq!(got, Ok(42));
        start.elapsed()
    });
    assert_eq!(
        took,
        ms(30),
        "the value is sent at 30 ms and must arrive then"
    );
}

pub fn a_sender_dropped_without_sending_ends_the_receiver_with_canceled() {
    let took = virtual_runtime().block_on(async {
        let start = Instant::now();
        let (tx, rx) = channel::<u64>();
        looplab::spawn(async move {
            sleep(ms(30)).await;
            drop(tx);
        });
        let got = within(Duration::from_secs(10), "the receiver", rx).await;
        assert_eq!(got, Err(Canceled));
        start.elapsed()
    });
    // A time limit that fires polls the receiver once more, and that poll would find
    // the sender gone: only the time shows whether the drop itself woke the receiver.
    assert_eq!(
        took,
        ms(30),
        "the sender is dropped at 30 ms, and the receiver must learn it then, not when \
         the time limit polled it again"
    );
}

/// The tests above, listed once for the two kinds of target that run them: the
/// exercise's own spec target makes each a `#[test]` (`with_tests!(as_tests)`), and
/// `wrong_solutions.rs`, which has no test harness, a table it calls in turn
/// (`with_tests!(as_table)`). Both macros are in `common/mod.rs`.
macro_rules! with_tests {
    ($then:ident) => {
        $then! {
            send_wakes_the_waker_of_the_latest_poll_not_the_first,
            a_receiver_moved_to_another_task_after_a_timeout_still_gets_its_value,
            a_receiver_awaited_by_one_task_gets_its_value,
            a_sender_dropped_without_sending_ends_the_receiver_with_canceled,
        }
    };
}
pub(crate) use with_tests;
