//! A simulated socket's handle: its token, and the runtime whose network holds it
//! (chapter 7).
//!
//! `net.rs`'s `TcpListener` and `TcpStream` hold one of these under a virtual-time
//! runtime, where a real socket holds its mio socket and its reactor registration.
//! Each operation finds the runtime through the thread-local (`context.rs`), as a
//! registration does, and refuses a runtime that is not its own: a token means
//! nothing in another runtime's table. The network itself (`mod.rs`) never looks at
//! the thread-local, so the runtime can own it without a circle of imports.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use super::SimNet;
use crate::context;
use crate::runtime::Core;
use crate::task::TaskId;

/// A token in one runtime's simulated network.
#[derive(Debug)]
pub(crate) struct SimSocket {
    token: usize,
    runtime_id: u64,
    /// Its own address and its peer's (a listener has none): they never change, so
    /// they are read without the network.
    local: SocketAddr,
    peer: Option<SocketAddr>,
    /// The network's list of tokens dropped out of its reach.
    released: Arc<Mutex<Vec<usize>>>,
}

/// Runs `op` with the network of the runtime running on this thread, if it is the
/// socket's own runtime.
fn on_own_network<R>(
    runtime_id: u64,
    op_name: &str,
    op: impl FnOnce(&SimNet, &Core) -> io::Result<R>,
) -> io::Result<R> {
    context::with_core(op_name, |core| match core.sim_net() {
        Some(net) if core.id() == runtime_id => op(net, core),
        _ => Err(io::Error::other(format!(
            "{op_name} on a socket of another looplab runtime: a socket belongs to the \
             runtime it was created in; use it inside that runtime's block_on"
        ))),
    })
}

impl SimSocket {
    /// Whether the runtime on this thread simulates its network (virtual time).
    ///
    /// # Panics
    /// Outside a runtime, naming `op_name`.
    pub(crate) fn simulated_here(op_name: &str) -> bool {
        context::with_core(op_name, |core| core.sim_net().is_some())
    }

    fn new(core: &Core, net: &SimNet, token: usize) -> io::Result<SimSocket> {
        Ok(SimSocket {
            token,
            runtime_id: core.id(),
            local: net.local_addr(token)?,
            peer: net.peer_addr(token).ok(),
            released: net.released_list(),
        })
    }

    /// `TcpListener::bind` on the simulated network.
    pub(crate) fn bind(addr: SocketAddr) -> io::Result<SimSocket> {
        context::with_core("TcpListener::bind", |core| {
            let net = core.sim_net().expect("checked by simulated_here");
            let token = net.bind(addr, core.executor().current_task())?;
            SimSocket::new(core, net, token)
        })
    }

    /// `TcpStream::connect`: refused at once, or connected once the listener's queue
    /// has room for it.
    pub(crate) async fn connect(addr: SocketAddr) -> io::Result<SimSocket> {
        let socket = context::with_core("TcpStream::connect", |core| {
            let net = core.sim_net().expect("checked by simulated_here");
            let token = net.connect(addr, core.executor().current_task())?;
            SimSocket::new(core, net, token)
        })?;
        // Dropped before it connects (a timeout), `socket` closes and leaves the line.
        poll_fn(|cx| {
            socket.poll("connect", |net, task, token| {
                net.poll_connect(token, cx.waker(), task)
            })
        })
        .await?;
        Ok(socket)
    }

    /// One poll of an operation on this socket, with the task being polled.
    fn poll<R>(
        &self,
        op_name: &str,
        op: impl FnOnce(&SimNet, Option<TaskId>, usize) -> Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        match on_own_network(self.runtime_id, op_name, |net, core| {
            Ok(op(net, core.executor().current_task(), self.token))
        }) {
            Ok(poll) => poll,
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// `TcpListener::accept`.
    pub(crate) async fn accept(&self) -> io::Result<(SimSocket, SocketAddr)> {
        let (token, peer) = poll_fn(|cx| {
            self.poll("accept", |net, task, token| {
                net.poll_accept(token, cx.waker(), task)
            })
        })
        .await?;
        let stream = on_own_network(self.runtime_id, "accept", |net, core| {
            SimSocket::new(core, net, token)
        })?;
        Ok((stream, peer))
    }

    /// `TcpStream::read`.
    pub(crate) async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| {
            self.poll("read", |net, task, token| {
                net.poll_read(token, buf, cx.waker(), task)
            })
        })
        .await
    }

    /// `TcpStream::write`.
    pub(crate) async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| {
            self.poll("write", |net, task, token| {
                net.poll_write(token, buf, cx.waker(), task)
            })
        })
        .await
    }

    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        on_own_network(self.runtime_id, "shutdown_write", |net, _| {
            net.shutdown_write(self.token)
        })
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    pub(crate) fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.peer.ok_or_else(|| io::ErrorKind::NotConnected.into())
    }

    pub(crate) fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        on_own_network(self.runtime_id, "set_nodelay", |net, _| {
            net.set_nodelay(self.token, nodelay)
        })
    }

    pub(crate) fn nodelay(&self) -> io::Result<bool> {
        on_own_network(self.runtime_id, "nodelay", |net, _| net.nodelay(self.token))
    }
}

impl Drop for SimSocket {
    fn drop(&mut self) {
        let closed = context::try_with_core(|core| match core.sim_net() {
            Some(net) if core.id() == self.runtime_id => {
                net.close(self.token);
                true
            }
            _ => false,
        });
        if closed != Some(true) {
            // Not on the thread running our runtime's loop: leave the token for the
            // network to close at its next park.
            self.released.lock().unwrap().push(self.token);
        }
    }
}
