//! Chapter 3: a future is a value that does nothing until someone polls it.
//!
//! ```text
//! cargo run --example ch03_futures_by_hand
//! ```
//!
//! In the post, `do_async()` does not run `do_async`: it returns
//! `<coroutine object do_async at 0x...>`, and only `await` (or `asyncio.run`) makes the
//! body go. Rust is the same, and this example shows it without any runtime at all:
//!
//! 1. Calling an `async fn` builds a future: a small value holding the arguments and a
//!    "where am I" number. Not one line of the body runs until the first `poll`.
//! 2. The post's `find_users(3)` written by hand as a state machine, the way the compiler
//!    writes an `async fn` for us: an enum of states, and a `poll` that moves from one
//!    to the next as far as it can and returns `Pending` where it has to wait.
//! 3. The same `find_users(3)` as an `async fn`. Polled by the same hand, it needs the same
//!    number of polls: `async fn` is that state machine, written by the compiler.
//!
//! We are the event loop here. We poll by hand, move a fake clock by hand, and give the
//! futures a waker that does nothing (`futures_task::noop_waker_ref`): nobody needs to be
//! told "poll me again", because we poll again anyway. Chapter 4 is about real wakers.

use std::cell::Cell;
use std::future::Future;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll};

use futures_task::noop_waker_ref;

fn main() {
    println!("== 1. calling an async fn builds a value; polling runs it ==\n");
    let body_runs_when_called = calling_is_not_running();

    println!("\n== 2. find_users(3) as a hand-written state machine ==\n");
    let clock = FakeClock::default();
    let by_hand = FindUsers::new(3, clock.clone());
    let hand_size = std::mem::size_of_val(&by_hand);
    println!("FindUsers::new(3) is a value of {hand_size} bytes, state {by_hand:?}");
    let (hand_polls, hand_users) = poll_until_ready(by_hand, &clock, |f| Some(format!("{f:?}")));

    println!("\n== 3. the same thing as an async fn ==\n");
    let clock = FakeClock::default();
    let by_compiler = find_users(3, clock.clone());
    let compiler_size = std::mem::size_of_val(&by_compiler);
    println!("find_users(3, ..) returned a future of {compiler_size} bytes; nothing printed yet");
    // Bigger than FindUsers: the compiler's state also keeps what lives across the
    // `.await` that the hand-written one did without (the `for` loop's range, the
    // `ApiAnswer` being awaited). Its state cannot be printed: the enum has no name.
    let (async_polls, async_users) = poll_until_ready(by_compiler, &clock, |_| None);

    // What the example claims, checked before it is printed.
    assert_eq!(body_runs_when_called, 0);
    assert_eq!(hand_users, ["user 1", "user 2", "user 3"]);
    assert_eq!(async_users, hand_users);
    assert_eq!(hand_polls, async_polls);
    println!(
        "\nproved: calling do_async() ran its body {body_runs_when_called} times (one poll ran \
         it); find_users(3) by hand ({hand_size} bytes) and as an async fn ({compiler_size} \
         bytes) both took {hand_polls} polls over {} fake seconds to find {} users",
        clock.now(),
        hand_users.len()
    );
}

// ---------------------------------------------------------------------------------------
// 1. Calling is not running.
// ---------------------------------------------------------------------------------------

thread_local! {
    /// How many times `do_async`'s body has started, so `main` can check, not just print.
    static DO_ASYNC_BODY_RUNS: Cell<u32> = const { Cell::new(0) };
}

/// The post's `async def do_async()`, with a print inside so we can see when it runs.
async fn do_async(who: &str) -> usize {
    DO_ASYNC_BODY_RUNS.set(DO_ASYNC_BODY_RUNS.get() + 1);
    println!("    (inside do_async({who:?}): the body is running now)");
    who.len()
}

/// Returns how many times the body had run right after the call (the claim: 0).
fn calling_is_not_running() -> u32 {
    println!("before calling do_async(\"ada\")");
    let future = do_async("ada");
    let runs_after_call = DO_ASYNC_BODY_RUNS.get();
    println!("after calling do_async(\"ada\"): the body has run {runs_after_call} times");
    // A future that has not started holds its arguments (a &str here: pointer + length)
    // and a number saying which state it is in. Nothing else exists yet.
    println!(
        "the call returned a value of {} bytes, like Python's <coroutine object do_async>",
        std::mem::size_of_val(&future)
    );

    // `poll` takes `Pin<&mut Self>`: once polled, an async fn's state may point into
    // itself, so it must not move again. `pin!` pins it on this stack frame.
    let mut future = pin!(future);
    let mut cx = Context::from_waker(noop_waker_ref());
    println!("polling it once ...");
    let result = future.as_mut().poll(&mut cx);
    println!("poll -> {result:?}");
    assert_eq!(result, Poll::Ready(3));
    assert_eq!(DO_ASYNC_BODY_RUNS.get(), 1);

    // Dropping a future that was never polled: its body never runs. Python warns
    // "coroutine 'do_async' was never awaited"; rustc warns at compile time that
    // futures "do nothing unless you `.await` or poll them".
    drop(do_async("never polled"));
    println!(
        "a second do_async(..) dropped without a poll: body runs still {}",
        DO_ASYNC_BODY_RUNS.get()
    );
    assert_eq!(DO_ASYNC_BODY_RUNS.get(), 1);
    runs_after_call
}

// ---------------------------------------------------------------------------------------
// The world the next two futures wait on: an external API that answers one second after
// it is asked, on a clock that only `poll_until_ready` moves.
// ---------------------------------------------------------------------------------------

/// Whole seconds since the start. Shared (`Rc`) between the futures that read it and the
/// hand-written loop that moves it.
#[derive(Clone, Default)]
struct FakeClock(Rc<Cell<u32>>);

impl FakeClock {
    fn now(&self) -> u32 {
        self.0.get()
    }

    fn tick(&self) {
        self.0.set(self.0.get() + 1);
    }
}

/// What the API answers for `user`.
fn user_name(user: u32) -> String {
    format!("user {user}")
}

// ---------------------------------------------------------------------------------------
// 2. The state machine, by hand.
// ---------------------------------------------------------------------------------------

/// `find_users(n)` from the post, as an explicit state machine: ask the API for user 1,
/// wait for the answer, ask for user 2, ... and finally return every name.
struct FindUsers {
    wanted: u32,
    clock: FakeClock,
    state: FindState,
}

/// Where a `FindUsers` is. An `async fn` has the same thing, hidden: one variant per
/// `.await` it can stop at, holding the local variables alive across that `.await`.
#[derive(Debug)]
enum FindState {
    /// Built, never polled: nothing asked yet (the "coroutine object" state).
    NotStarted,
    /// Asked the API for `user`; its answer comes at second `answer_at`.
    Waiting {
        user: u32,
        answer_at: u32,
        found: Vec<String>,
    },
    /// Returned `Ready`. Polling again is a bug in the caller, so it panics.
    Done,
}

impl FindUsers {
    fn new(wanted: u32, clock: FakeClock) -> FindUsers {
        FindUsers {
            wanted,
            clock,
            state: FindState::NotStarted,
        }
    }

    /// Asks the API for `user`: the answer is due a second from now.
    fn ask(&self, user: u32, found: Vec<String>) -> FindState {
        println!("    looking up user {user} of {} ...", self.wanted);
        FindState::Waiting {
            user,
            answer_at: self.clock.now() + 1,
            found,
        }
    }
}

impl std::fmt::Debug for FindUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.state)
    }
}

impl Future for FindUsers {
    type Output = Vec<String>;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Vec<String>> {
        // FindUsers holds no pointers into itself, so it is `Unpin` and the pin can be
        // looked through. (A compiler-made future is not, which is why `pin!` exists.)
        let this = &mut *self;
        // Go as far as possible in one poll: a state that can move on at once does.
        loop {
            // Take the state out so its fields can be moved into the next one.
            this.state = match std::mem::replace(&mut this.state, FindState::Done) {
                FindState::NotStarted => this.ask(1, Vec::new()),
                // The answer is not here yet: put the state back and give the thread up.
                FindState::Waiting {
                    user,
                    answer_at,
                    found,
                } if this.clock.now() < answer_at => {
                    this.state = FindState::Waiting {
                        user,
                        answer_at,
                        found,
                    };
                    return Poll::Pending;
                }
                FindState::Waiting {
                    user, mut found, ..
                } => {
                    found.push(user_name(user));
                    if user == this.wanted {
                        println!("    > all {} users found", this.wanted);
                        return Poll::Ready(found);
                    }
                    this.ask(user + 1, found)
                }
                FindState::Done => panic!("FindUsers polled after it returned Ready"),
            };
        }
    }
}

// ---------------------------------------------------------------------------------------
// 3. The same, written as an async fn: the compiler builds the enum above for us.
// ---------------------------------------------------------------------------------------

/// The post's `find_users_async(n)`, word for word in spirit.
async fn find_users(wanted: u32, clock: FakeClock) -> Vec<String> {
    let mut found = Vec::new();
    for user in 1..=wanted {
        println!("    looking up user {user} of {wanted} ...");
        ApiAnswer {
            clock: clock.clone(),
            at: clock.now() + 1,
        }
        .await;
        found.push(user_name(user));
    }
    println!("    > all {wanted} users found");
    found
}

/// A leaf future: the thing an `async fn` finally waits on. Ready once the clock reaches
/// `at`. (In the real runtime this is `time::sleep`, and it arms a timer instead.)
struct ApiAnswer {
    clock: FakeClock,
    at: u32,
}

impl Future for ApiAnswer {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.clock.now() >= self.at {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

// ---------------------------------------------------------------------------------------
// The loop, by hand.
// ---------------------------------------------------------------------------------------

/// Polls `future` until it is ready, moving the fake clock one second after each
/// `Pending`. Returns how many polls it took, and the output.
///
/// Once, right at the start, it polls twice in a row without moving the clock: a poll
/// too early is harmless, the future just says `Pending` again. Knowing *when* a poll is
/// worth making is what wakers are for (chapter 4).
/// `show_state` describes the future after a `Pending`, where it can.
fn poll_until_ready<F: Future>(
    future: F,
    clock: &FakeClock,
    show_state: fn(&F) -> Option<String>,
) -> (u32, F::Output) {
    let mut future = pin!(future);
    // A waker that does nothing: this loop does not wait to be told, it just polls.
    let mut cx = Context::from_waker(noop_waker_ref());
    let mut polls = 0;
    loop {
        polls += 1;
        println!("t={}s  poll #{polls}", clock.now());
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => {
                println!("t={}s  poll #{polls} -> Ready", clock.now());
                return (polls, output);
            }
            Poll::Pending => {
                let state = show_state(future.as_ref().get_ref())
                    .map(|s| format!("   state: {s}"))
                    .unwrap_or_default();
                println!("t={}s  poll #{polls} -> Pending{state}", clock.now());
            }
        }
        if polls == 1 {
            println!("       (polling again at once: nothing changed, so ...)");
            continue;
        }
        clock.tick();
        println!("       (one second passes; the API's answer arrives)");
    }
}
