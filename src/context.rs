//! The current runtime: which loop runs on this thread (chapter 5).
//!
//! `looplab::spawn(...)`, `sleep(...)` and `TcpStream::connect(...)` are called
//! without a runtime in hand, yet each needs one: its run queue, its timer wheel, its
//! reactor. They find it here. While [`Runtime::block_on`](crate::Runtime::block_on)
//! runs, a thread-local points at the runtime's core, and these functions look at the
//! thread they are called on (tokio's `runtime::context`, asyncio's
//! `get_running_loop`).
//!
//! - Outside a runtime they panic with a message that names `block_on`.
//! - `block_on` inside a running loop panics too: the inner call would block the
//!   thread, and with it the outer loop and every task on it. (asyncio raises
//!   "asyncio.run() cannot be called from a running event loop" for the same reason.)
//!
//! This file and `runtime.rs` (the core it points to) are the one pair of files that
//! import each other: the core enters the context, and the context hands out the
//! core. No part the core owns looks here, so data still flows one way.

use std::cell::RefCell;
use std::rc::Rc;

use crate::runtime::Core;

thread_local! {
    /// The runtime whose loop is running on this thread, if any.
    static CURRENT: RefCell<Option<Rc<Core>>> = const { RefCell::new(None) };
}

/// Runs `f` with the current runtime's core, or returns `None` outside a runtime.
pub(crate) fn try_with_core<R>(f: impl FnOnce(&Core) -> R) -> Option<R> {
    // `try_with`: during thread exit the thread-local may already be gone (a waker
    // dropped late); that is "no runtime", not a crash.
    CURRENT
        .try_with(|current| current.borrow().as_ref().map(|core| f(core)))
        .ok()
        .flatten()
}

/// Runs `f` with the current runtime's core.
///
/// # Panics
/// Outside a runtime, with a message naming `what` and pointing to `block_on`.
pub(crate) fn with_core<R>(what: &str, f: impl FnOnce(&Core) -> R) -> R {
    CURRENT.with(|current| match current.borrow().as_ref() {
        Some(core) => f(core),
        None => panic!(
            "{what} was called outside a looplab runtime. It needs a running event loop: \
             run your async code inside `looplab::block_on(async {{ ... }})` \
             (or `Runtime::builder().build()?.block_on(...)`)."
        ),
    })
}

/// Marks this thread as running `core`'s loop until dropped (also on panic).
pub(crate) struct Entered(());

impl Entered {
    pub(crate) fn enter(core: Rc<Core>) -> Entered {
        CURRENT.with(|current| {
            let mut current = current.borrow_mut();
            assert!(
                current.is_none(),
                "block_on was called inside a running looplab event loop. That would block \
                 the loop's only thread, and every task on it, until the inner future is \
                 done. Inside async code, `.await` the future instead (or `spawn` it)."
            );
            *current = Some(core);
        });
        Entered(())
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        // Take the core out first and drop it after the borrow ends: dropping it could
        // run destructors that look at CURRENT.
        let core = CURRENT.with(|current| current.borrow_mut().take());
        drop(core);
    }
}
