//! Real sockets: mio's non-blocking TCP on the reactor (chapter 7).
//!
//! Each operation is a future that tries the syscall and, on `WouldBlock`, leaves its
//! task's waker with the reactor and returns `Pending`; the loop wakes the task when
//! `epoll` says the socket is ready, and the task tries again. The rules that make
//! this correct with edge-triggered readiness live in the reactor
//! ([`poll_io`](crate::reactor::registration)); this file only says which syscall
//! each operation is.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;

use mio::Interest;
use mio::unix::SourceFd;

use crate::reactor::Direction;
use crate::reactor::registration::Registration;

/// How many connections the kernel may hold for a listener before `accept` takes them.
/// std and mio listen with 128: a burst of more connects than that at once (the
/// lookup benchmark opens 10,000) overflows the queue, the kernel drops the excess,
/// and their clients retry a whole second later (TCP's first retransmission). Linux
/// caps the value at `net.core.somaxconn` (4,096 on current kernels), so asking for
/// more simply means "as many as the system allows".
const LISTEN_BACKLOG: i32 = 65_535;

/// A non-blocking listening socket on `addr` with [`LISTEN_BACKLOG`]. Built with
/// socket2, because neither std nor mio lets the backlog be chosen.
fn listening_socket(addr: SocketAddr) -> io::Result<mio::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // As std and mio do on Unix: a restarted server can bind its port again at once,
    // without waiting for the old connections' TIME_WAIT to end.
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(mio::net::TcpListener::from_std(socket.into()))
}

/// A listening socket registered with the reactor.
pub(crate) struct RealListener {
    socket: mio::net::TcpListener,
    registration: Registration,
}

impl RealListener {
    pub(crate) fn bind(addr: SocketAddr) -> io::Result<RealListener> {
        let mut socket = listening_socket(addr)?;
        let registration = Registration::new("listener", &mut socket, Interest::READABLE, true)?;
        Ok(RealListener {
            socket,
            registration,
        })
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    pub(crate) async fn accept(&self) -> io::Result<(RealStream, SocketAddr)> {
        let (socket, peer) = std::future::poll_fn(|cx| {
            self.registration
                .poll_io(cx, Direction::Read, "accept", || self.socket.accept())
        })
        .await?;
        // An accepted socket is connected already: its first read or write is tried
        // straight away.
        Ok((RealStream::registered(socket, "stream", true)?, peer))
    }
}

impl Drop for RealListener {
    fn drop(&mut self) {
        self.registration
            .deregister(&mut SourceFd(&self.socket.as_raw_fd()));
    }
}

/// A TCP connection registered with the reactor.
pub(crate) struct RealStream {
    socket: mio::net::TcpStream,
    registration: Registration,
}

impl RealStream {
    /// Registers `socket`; `ready` says whether its first operation is simply tried.
    fn registered(
        mut socket: mio::net::TcpStream,
        what: &'static str,
        ready: bool,
    ) -> io::Result<RealStream> {
        let registration = Registration::new(
            what,
            &mut socket,
            Interest::READABLE | Interest::WRITABLE,
            ready,
        )?;
        Ok(RealStream {
            socket,
            registration,
        })
    }

    /// A non-blocking connect returns at once with the handshake still under way; the
    /// socket becomes *writable* when it is done, either way. Then the outcome is read
    /// from the socket: `take_error` has the failure (e.g. connection refused), and a
    /// working socket has a peer address.
    pub(crate) async fn connect(addr: SocketAddr) -> io::Result<RealStream> {
        let socket = mio::net::TcpStream::connect(addr)?;
        // Not ready to start with: the first writable event means "handshake done".
        let stream = RealStream::registered(socket, "client stream", false)?;
        std::future::poll_fn(|cx| {
            stream
                .registration
                .poll_io(cx, Direction::Write, "connect", || {
                    if let Some(error) = stream.socket.take_error()? {
                        return Err(error);
                    }
                    match stream.socket.peer_addr() {
                        Ok(_) => Ok(()),
                        // Woken before the handshake finished: wait for the next edge.
                        Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                            Err(io::ErrorKind::WouldBlock.into())
                        }
                        Err(e) => Err(e),
                    }
                })
        })
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("connect to {addr}: {e}")))?;
        Ok(stream)
    }

    pub(crate) async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Self {
            socket,
            registration,
        } = self;
        let capacity = buf.len();
        std::future::poll_fn(|cx| {
            registration.poll_bytes(cx, Direction::Read, capacity, || socket.read(buf))
        })
        .await
    }

    pub(crate) async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Self {
            socket,
            registration,
        } = self;
        std::future::poll_fn(|cx| {
            registration.poll_bytes(cx, Direction::Write, buf.len(), || socket.write(buf))
        })
        .await
    }

    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        self.socket.shutdown(Shutdown::Write)
    }

    pub(crate) fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.socket.peer_addr()
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    pub(crate) fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.socket.set_nodelay(nodelay)
    }

    pub(crate) fn nodelay(&self) -> io::Result<bool> {
        self.socket.nodelay()
    }
}

impl Drop for RealStream {
    fn drop(&mut self) {
        self.registration
            .deregister(&mut SourceFd(&self.socket.as_raw_fd()));
    }
}
