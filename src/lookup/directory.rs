//! The user directory: the post's "external API", an HTTP/1.1 server on looplab.
//!
//! The post's application keeps no user data; it asks an external API, which takes one
//! second per user and answers one user per call. This is that API, for real:
//! `GET /users/{id}` answers `200` with `{"id":7,"name":"..."}` after the configured
//! delay. Anything else gets a short 4xx that says why, and the server keeps serving.
//!
//! It is also the first complete program on the runtime, and it shows the shape every
//! async server has:
//!
//! - one task accepts connections and **spawns a task per connection**; a connection
//!   task costs a few hundred bytes, not a thread's stack, so thousands can wait at once;
//! - each connection task reads until a whole request is in its buffer (TCP delivers
//!   bytes, not messages: a request may arrive in pieces, or two at once), answers it,
//!   and goes back for the next one (keep-alive);
//! - the one-second delay is `sleep(delay).await`: while one connection "works", the
//!   loop serves every other one. That is why a single thread can stand in for the
//!   post's slow API under load.
//!
//! Protocol errors are local to their connection: a malformed request gets `400` and
//! the connection closes, since the position of the next request cannot be trusted; the
//! accept loop and every other connection go on.
//!
//! Try it: `cargo run --release -- directory --addr 127.0.0.1:7878`, then
//! `curl -i http://127.0.0.1:7878/users/7`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use super::http::{self, RequestParse, Route, User};
use crate::net::{TcpListener, TcpStream};
use crate::time::sleep;

/// How the directory behaves.
#[derive(Clone, Debug)]
pub struct DirectoryConfig {
    /// How long each user lookup takes: the post's one second.
    pub delay: Duration,
}

impl Default for DirectoryConfig {
    fn default() -> DirectoryConfig {
        DirectoryConfig {
            delay: Duration::from_secs(1),
        }
    }
}

/// A bound directory server, ready to [`serve`](Directory::serve).
pub struct Directory {
    listener: TcpListener,
    config: Arc<DirectoryConfig>,
}

impl Directory {
    /// Binds the server's socket (inside a runtime). Use port 0 for any free port and
    /// read it back with [`local_addr`](Directory::local_addr).
    pub fn bind(
        addr: impl std::net::ToSocketAddrs,
        config: DirectoryConfig,
    ) -> io::Result<Directory> {
        Ok(Directory {
            listener: TcpListener::bind(addr)?,
            config: Arc::new(config),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until `stop` completes, one task per connection. Connection
    /// tasks already running finish their current request on their own.
    pub async fn serve_until(self, stop: impl Future<Output = ()>) {
        let mut stop = pin!(stop);
        // Connections are named by arrival order, not by the client's port, so that a
        // trace under virtual time is the same on every run.
        let mut accepted: u64 = 0;
        loop {
            let mut accept = pin!(self.listener.accept());
            // Wait for whichever comes first: the stop signal or a new connection.
            let next = std::future::poll_fn(|cx| {
                if stop.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                accept.as_mut().poll(cx).map(Some)
            })
            .await;
            match next {
                None => return,
                Some(Ok((stream, peer))) => {
                    accepted += 1;
                    let config = self.config.clone();
                    crate::spawn_named(format!("connection {accepted}"), async move {
                        // A connection's I/O error (reset, closed) ends that connection
                        // only; there is nobody to report it to but the trace.
                        if let Err(e) = serve_connection(stream, &config).await {
                            crate::trace::note(format!("connection from {peer} ended: {e}"));
                        }
                    });
                }
                // Accepting can fail for one connection (it was reset before we took
                // it) or for a while (out of file descriptors). Neither stops the
                // server; a short pause keeps the second case from spinning.
                Some(Err(e)) => {
                    crate::trace::note(format!("accept failed: {e}"));
                    sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }

    /// Accepts connections forever.
    pub async fn serve(self) {
        self.serve_until(std::future::pending()).await
    }
}

/// Serves one connection: requests in, answers out, until the client closes or asks
/// to close.
async fn serve_connection(mut stream: TcpStream, config: &DirectoryConfig) -> io::Result<()> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        match http::parse_request(&buffer) {
            RequestParse::Complete { request, consumed } => {
                buffer.drain(..consumed);
                let answer = match http::route(&request) {
                    Route::User(id) => {
                        // The slow external API: this task waits, the loop does not.
                        sleep(config.delay).await;
                        User::for_id(id).response_bytes(request.keep_alive)
                    }
                    Route::Reject(rejection) => rejection.response_bytes(request.keep_alive),
                };
                stream.write_all(&answer).await?;
                if !request.keep_alive {
                    return Ok(());
                }
            }
            RequestParse::Partial => {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    // The client closed. Between requests that is the normal end of
                    // a kept-alive connection; in the middle of one there is no one
                    // left to answer.
                    return Ok(());
                }
                buffer.extend_from_slice(&chunk[..n]);
            }
            RequestParse::Invalid(reason) => {
                let answer = http::Rejection::malformed(&reason).response_bytes(false);
                stream.write_all(&answer).await?;
                return Ok(());
            }
        }
    }
}

/// A one-time signal another thread can fire to stop a server: a tiny hand-written
/// future, woken across threads like any other.
#[derive(Clone, Default)]
pub struct StopSignal {
    state: Arc<Mutex<(bool, Option<Waker>)>>,
}

impl StopSignal {
    /// A signal not fired yet.
    pub fn new() -> StopSignal {
        StopSignal::default()
    }

    /// Fires the signal and wakes the task waiting on it, from any thread.
    pub fn fire(&self) {
        let waker = {
            let mut state = self.state.lock().unwrap();
            state.0 = true;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Completes once the signal has been fired.
    pub async fn fired(&self) {
        std::future::poll_fn(|cx| {
            let mut state = self.state.lock().unwrap();
            if state.0 {
                Poll::Ready(())
            } else {
                state.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// A directory running on its own looplab runtime in its own OS thread: the "external
/// API" the blocking clients and the real-time event-loop client talk to. Stops (and
/// joins its thread) when dropped.
pub struct DirectoryThread {
    addr: SocketAddr,
    stop: StopSignal,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DirectoryThread {
    /// Binds `addr` and starts serving on a new thread. Returns once the socket is
    /// bound, so clients can connect at once.
    pub fn start(addr: SocketAddr, config: DirectoryConfig) -> io::Result<DirectoryThread> {
        let stop = StopSignal::new();
        let (bound_tx, bound_rx) = std::sync::mpsc::channel();
        let stop_in_thread = stop.clone();
        let thread = std::thread::Builder::new()
            .name("directory".into())
            .spawn(move || {
                let runtime = match crate::Runtime::builder().build() {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = bound_tx.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match Directory::bind(addr, config) {
                        Ok(directory) => {
                            let _ = bound_tx.send(directory.local_addr());
                            directory.serve_until(stop_in_thread.fired()).await;
                        }
                        Err(e) => {
                            let _ = bound_tx.send(Err(e));
                        }
                    }
                });
            })?;
        let addr = bound_rx.recv().map_err(|_| {
            io::Error::other("the directory thread stopped before binding its socket")
        })??;
        Ok(DirectoryThread {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// Where the directory listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for DirectoryThread {
    fn drop(&mut self) {
        self.stop.fire();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
