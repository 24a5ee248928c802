//! Chapter 4: a waker, built twice — once with `ArcWake`, once by hand with `unsafe`.
//!
//! ```text
//! cargo run --example ch04_wakers
//! ```
//!
//! In chapter 3 we polled again and again because we could not know when a future was
//! worth polling. A real loop polls a task only when something says "poll me again".
//! That something is a [`Waker`]: the future keeps a copy of the one it was polled with
//! (`cx.waker().clone()`), hands it to whatever it waits on (a timer, a socket), and
//! that calls `wake()` when the wait is over. In looplab, `wake` puts the task back in
//! the run queue (`src/task.rs`); here it just prints and counts.
//!
//! A `Waker` is two words: a data pointer and a pointer to a table of four functions
//! (`clone`, `wake`, `wake_by_ref`, `drop`). That is how one `Waker` type can stand for
//! every runtime's idea of "a task". This example builds the same waker, a counter shared
//! through an `Arc`, in two ways:
//!
//! 1. With futures-task's `ArcWake`: implement one method, get a `Waker`, no `unsafe`.
//!    (std has the same thing as `std::task::Wake`.) This is what `src/task.rs` does.
//! 2. With a hand-written `RawWakerVTable`: the four functions, turning the `Arc` into a
//!    raw pointer and back. This is the only `unsafe` code in the whole crate, and every
//!    block says which rule it relies on and what would go wrong without it.
//!
//! Both then go through the same steps (clone, wake_by_ref, drop, a wake from another
//! thread, a future that stores the waker, an event that wakes it) while we print
//! `Arc::strong_count`, the number of owners of the counter. The two columns must match
//! step for step, and each must end at 1: every count a waker took, it gave back.
//! Nothing leaked, nothing freed early.

// An `unsafe fn` body is not one big unsafe block: each unsafe operation inside needs
// its own block, and (clippy) each block its own `// SAFETY:` comment.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use futures_task::ArcWake;

/// What both wakers point at: a name for the printout and a count of wakes. In looplab
/// this is the `Task`, and a wake queues it.
struct WakeCounter {
    name: &'static str,
    wakes: AtomicUsize,
}

impl WakeCounter {
    /// The one thing a wake does, whichever way the waker was built.
    fn woken(&self) {
        let n = self.wakes.fetch_add(1, Ordering::SeqCst) + 1;
        println!("      [{}] wake #{n}: \"poll me again\"", self.name);
    }
}

fn main() {
    let (easy, wakes) = walk_through("ArcWake", waker_from_arc_wake);
    println!();
    let (by_hand, wakes_by_hand) = walk_through("RawWakerVTable", waker_by_hand);

    println!("\n  strong_count after each step      ArcWake  RawWakerVTable");
    for (a, b) in easy.iter().zip(&by_hand) {
        println!("  {:<33} {:>7}  {:>14}", a.0, a.1, b.1);
    }
    assert_eq!(easy, by_hand, "the two wakers must behave the same");
    assert_eq!((wakes, wakes_by_hand), (3, 3));
    println!(
        "\nproved: a waker from ArcWake and one from a hand-written RawWakerVTable went \
         through the same {} steps with the same reference counts, each woke its task \
         {wakes} times, and both ended with strong_count = {}: nothing leaked",
        easy.len(),
        easy.last().unwrap().1
    );
}

/// Puts a waker made by `make_waker` through every operation a runtime uses, printing
/// and returning `Arc::strong_count` after each step, and how many wakes arrived.
fn walk_through(
    name: &'static str,
    make_waker: fn(Arc<WakeCounter>) -> Waker,
) -> (Vec<(&'static str, usize)>, usize) {
    println!("== a waker built with {name} ==");
    let counter = Arc::new(WakeCounter {
        name,
        wakes: AtomicUsize::new(0),
    });
    let mut steps = Vec::new();
    let mut step = |what: &'static str, counter: &Arc<WakeCounter>| {
        let count = Arc::strong_count(counter);
        println!("  {what:<33} strong_count = {count}");
        steps.push((what, count));
    };
    step("Arc::new(counter)", &counter);

    // The waker owns one count of the Arc: it keeps the counter alive on its own.
    let waker = make_waker(counter.clone());
    step("waker made", &counter);

    let copy = waker.clone();
    step("waker.clone()", &counter);
    copy.wake_by_ref();
    step("copy.wake_by_ref() (borrows)", &counter);
    drop(copy);
    step("drop(copy)", &counter);

    // A `Waker` is `Send`: a timer thread or another runtime may wake our task. This
    // is why looplab has a channel any thread can send into, beside its run queue.
    let remote = waker.clone();
    std::thread::spawn(move || remote.wake()).join().unwrap();
    step("clone, wake() on another thread", &counter);

    // The real use: a future keeps a clone of its waker where the event will find it,
    // returns Pending, and is polled again only after the event calls wake().
    let event = Event::default();
    let mut future = pin!(WaitForEvent {
        event: event.clone()
    });
    let mut cx = Context::from_waker(&waker);
    let first = future.as_mut().poll(&mut cx);
    println!("      poll -> {first:?} (the future stored a clone of the waker)");
    assert!(first.is_pending());
    step("poll: future keeps a clone", &counter);

    event.fire();
    step("event fires: wake() (consumes)", &counter);
    let second = future.as_mut().poll(&mut cx);
    println!("      poll -> {second:?}");
    assert!(second.is_ready());
    step("poll again", &counter);

    drop(waker);
    step("drop(waker)", &counter);

    assert_eq!(Arc::strong_count(&counter), 1, "a waker leaked its count");
    (steps, counter.wakes.load(Ordering::SeqCst))
}

// ---------------------------------------------------------------------------------------
// A future that waits for an event, and the event. In looplab the event is a timer in
// the wheel or a socket in the reactor; here `walk_through` fires it by hand.
// ---------------------------------------------------------------------------------------

/// The slot where a waiting future leaves its waker, and the flag the event sets.
#[derive(Clone, Default)]
struct Event(Arc<Mutex<EventState>>);

#[derive(Default)]
struct EventState {
    fired: bool,
    waiter: Option<Waker>,
}

impl Event {
    /// The event happens: remember it, and wake whoever waits. `wake()` consumes the
    /// stored waker, so the count it held goes away with it.
    fn fire(&self) {
        let waiter = {
            let mut state = self.0.lock().unwrap();
            state.fired = true;
            state.waiter.take()
        };
        // Wake outside the lock: a wake may run code (here a print; in a runtime, a
        // send to the run queue) that should not run while holding it.
        if let Some(waker) = waiter {
            waker.wake();
        }
    }
}

/// Ready once its event has fired.
struct WaitForEvent {
    event: Event,
}

impl Future for WaitForEvent {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.event.0.lock().unwrap();
        if state.fired {
            return Poll::Ready(());
        }
        // Keep our own copy: the `Context` only lends the waker for this one poll.
        state.waiter = Some(cx.waker().clone());
        Poll::Pending
    }
}

// ---------------------------------------------------------------------------------------
// Way 1: ArcWake. One method; futures-task writes the vtable (with its own unsafe code,
// reviewed once, in that crate).
// ---------------------------------------------------------------------------------------

impl ArcWake for WakeCounter {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.woken();
    }
}

fn waker_from_arc_wake(counter: Arc<WakeCounter>) -> Waker {
    futures_task::waker(counter)
}

// ---------------------------------------------------------------------------------------
// Way 2: the vtable by hand.
//
// The data pointer is an `Arc<WakeCounter>` turned into a raw pointer by
// `Arc::into_raw`. The rule all four functions keep: **every live `RawWaker` made from
// this vtable owns exactly one strong count of that Arc.** Making a waker takes a count,
// `clone` takes another, `wake` and `drop` each give one back, `wake_by_ref` neither
// takes nor gives. Break the rule one way (give back a count that was not taken) and
// the counter is freed while a waker still points at it: a use-after-free. Break it
// the other way (take a count and never give it back) and the counter leaks; the
// `strong_count = 1` check at the end of `walk_through` is there to catch that.
// ---------------------------------------------------------------------------------------

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone_raw, wake_raw, wake_by_ref_raw, drop_raw);

fn waker_by_hand(counter: Arc<WakeCounter>) -> Waker {
    // The count `counter` owned now belongs to the raw pointer, and so to the waker.
    let data = Arc::into_raw(counter).cast::<()>();
    // SAFETY: `Waker::from_raw` trusts the RawWaker to keep the RawWaker contract, and
    // ours does: `data` owns one strong count (from `into_raw` just above), and every
    // function in VTABLE treats it as exactly that (see the rule above them). The
    // contract also says the functions may be called from any thread, because a `Waker`
    // is `Send + Sync`: that holds because `WakeCounter` is `Sync` (it only has an
    // atomic counter and a `&'static str`) and Arc's counts are atomic. With a
    // `Cell<usize>` counter instead, a wake from another thread would be a data race
    // that the compiler could no longer see.
    unsafe { Waker::from_raw(RawWaker::new(data, &VTABLE)) }
}

/// `waker.clone()`: one more waker, so one more count.
///
/// # Safety
/// `data` must come from a live waker of this vtable (so it owns a count).
unsafe fn clone_raw(data: *const ()) -> RawWaker {
    // SAFETY: `data` came from `Arc::into_raw` for an `Arc<WakeCounter>`, and the waker
    // being cloned still owns its count, so the counter is alive while we add one. The
    // new count belongs to the RawWaker returned below. Forgetting this increment would
    // let two wakers share one count, and the second `drop` would free memory twice.
    unsafe { Arc::increment_strong_count(data.cast::<WakeCounter>()) };
    RawWaker::new(data, &VTABLE)
}

/// `waker.wake()`: consumes the waker, so wake and then give its count back.
///
/// # Safety
/// `data` must come from a live waker of this vtable, which is used up by this call.
unsafe fn wake_raw(data: *const ()) {
    // SAFETY: `data` came from `Arc::into_raw` and owns one count, which `wake` (by
    // value) hands to us; `Arc::from_raw` turns it back into an `Arc` that owns it, and
    // dropping that Arc at the end of this function gives the count back. The waker
    // does not run its `drop` after `wake`, so the count is given back exactly once.
    let counter = unsafe { Arc::from_raw(data.cast::<WakeCounter>()) };
    counter.woken();
}

/// `waker.wake_by_ref()`: the waker stays, so its count stays too.
///
/// # Safety
/// `data` must come from a live waker of this vtable.
unsafe fn wake_by_ref_raw(data: *const ()) {
    // SAFETY: the waker we are called through is alive for this whole call and owns a
    // count, so the `WakeCounter` behind `data` cannot be freed while we borrow it.
    // Only a shared borrow is made: no count is taken or given back. (Building an `Arc`
    // here with `Arc::from_raw` and letting it drop would give back a count we do not
    // own, and the counter would be freed while the waker still points at it.)
    let counter = unsafe { &*data.cast::<WakeCounter>() };
    counter.woken();
}

/// `drop(waker)`: one waker fewer, so one count fewer.
///
/// # Safety
/// `data` must come from a live waker of this vtable, which is gone after this call.
unsafe fn drop_raw(data: *const ()) {
    // SAFETY: `data` came from `Arc::into_raw` and owns one count, which the dropped
    // waker gives up here. If it was the last count, the counter is freed, which is
    // right: no waker points at it any more. Skipping this would leak the counter.
    unsafe { Arc::decrement_strong_count(data.cast::<WakeCounter>()) };
}
