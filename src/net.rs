//! Async TCP on the reactor (chapter 7).
//!
//! [`TcpListener`] and [`TcpStream`] wrap mio's non-blocking sockets. Each operation is
//! a future that tries the syscall and, on `WouldBlock`, leaves its task's waker with
//! the reactor and returns `Pending`; the loop wakes the task when `epoll` says the
//! socket is ready, and the task tries again. The rules that make this correct with
//! edge-triggered readiness are written down in [`reactor`](crate::reactor)'s docs.
//!
//! The API is tokio's, trimmed to what the lookup service needs:
//!
//! | looplab | asyncio | tokio |
//! |---|---|---|
//! | `TcpListener::bind(addr)` | `asyncio.start_server` | `TcpListener::bind` |
//! | `listener.accept().await` | the server's `client_connected_cb` | `accept` |
//! | `TcpStream::connect(addr).await` | `asyncio.open_connection` | `TcpStream::connect` |
//! | `stream.read(&mut buf).await` (0 = peer closed) | `reader.read(n)` | `AsyncReadExt::read` |
//! | `stream.write_all(&buf).await` | `writer.write` + `drain` | `AsyncWriteExt::write_all` |
//!
//! Errors are `std::io::Error` with the OS's reason (connection refused, reset by
//! peer), never a panic. Binding never waits: a few syscalls (socket, bind, listen)
//! that either work or fail at once, so it is a plain function, not a future.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::Arc;

use mio::Interest;
use mio::unix::SourceFd;

use crate::reactor::Direction;
use crate::reactor::registration::Registration;

/// A TCP socket listening for connections, registered with the runtime's reactor.
pub struct TcpListener {
    /// Shared with the reactor's books (`reactor/ledger.rs`), which, under virtual
    /// time, take the runtime's own connections out of its queue.
    socket: Arc<mio::net::TcpListener>,
    registration: Registration,
}

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

impl TcpListener {
    /// Binds to `addr` (e.g. `"127.0.0.1:0"` for any free port) and starts listening.
    ///
    /// # Panics
    /// Outside a runtime: the listener must be registered with a running loop.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let mut last_error = None;
        for addr in addr.to_socket_addrs()? {
            match listening_socket(addr) {
                Ok(mut socket) => {
                    let registration =
                        Registration::new("listener", &mut socket, Interest::READABLE, true)?;
                    let local = socket.local_addr()?;
                    let socket = Arc::new(socket);
                    registration.ledger(|ledger, key| {
                        ledger.open_listener(key, Arc::downgrade(&socket), local)
                    });
                    return Ok(TcpListener {
                        socket,
                        registration,
                    });
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no address to bind to")
        }))
    }

    /// The address the listener is bound to (with the real port after binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Waits for the next incoming connection.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (socket, peer, from_kernel) = std::future::poll_fn(|cx| {
            self.registration
                .poll_io(cx, Direction::Read, "accept", || {
                    // Under virtual time the reactor may have taken connections out of
                    // the kernel's queue for this listener already: those come first.
                    match self.registration.take_accepted() {
                        Some((socket, peer)) => Ok((socket, peer, false)),
                        None => self.socket.accept().map(|(s, p)| (s, p, true)),
                    }
                })
        })
        .await?;
        // An accepted socket is connected already: its first read or write is tried
        // straight away.
        let stream = TcpStream::from_connected(socket, "stream")?;
        let listener = self.registration.key();
        let ends = (stream.socket.local_addr()?, peer);
        stream.registration.ledger(|ledger, key| {
            ledger.open_accepted(
                listener,
                key,
                Arc::downgrade(&stream.socket),
                ends,
                from_kernel,
            )
        });
        Ok((stream, peer))
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        self.registration
            .deregister(&mut SourceFd(&self.socket.as_raw_fd()));
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local_addr", &self.socket.local_addr().ok())
            .finish()
    }
}

/// A TCP connection registered with the runtime's reactor.
pub struct TcpStream {
    /// Shared with the reactor's books (`reactor/ledger.rs`), which, under virtual
    /// time, ask the kernel how much of what is owed to it has landed.
    socket: Arc<mio::net::TcpStream>,
    registration: Registration,
}

impl TcpStream {
    fn from_connected(
        mut socket: mio::net::TcpStream,
        what: &'static str,
    ) -> io::Result<TcpStream> {
        let registration = Registration::new(
            what,
            &mut socket,
            Interest::READABLE | Interest::WRITABLE,
            true,
        )?;
        Ok(TcpStream {
            socket: Arc::new(socket),
            registration,
        })
    }

    /// Opens a connection to `addr`.
    ///
    /// A non-blocking connect returns at once with the handshake still under way; the
    /// socket becomes *writable* when it is done, either way. Then the outcome is read
    /// from the socket: `take_error` has the failure (e.g. connection refused), and a
    /// working socket has a peer address.
    ///
    /// # Panics
    /// Outside a runtime.
    pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        let mut socket = mio::net::TcpStream::connect(addr)?;
        // Not ready to start with: the first writable event means "handshake done".
        let registration = Registration::new(
            "client stream",
            &mut socket,
            Interest::READABLE | Interest::WRITABLE,
            false,
        )?;
        let local = socket.local_addr()?;
        let stream = TcpStream {
            socket: Arc::new(socket),
            registration,
        };
        stream.registration.ledger(|ledger, key| {
            ledger.open_connecting(key, Arc::downgrade(&stream.socket), local, addr)
        });
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

    /// Reads what is available (at least one byte) into `buf`, waiting if nothing is.
    /// Returns the number of bytes read; **0 means the peer closed the connection**.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Self {
            socket,
            registration,
        } = self;
        let capacity = buf.len();
        std::future::poll_fn(|cx| {
            registration.poll_bytes(cx, Direction::Read, capacity, || (&**socket).read(buf))
        })
        .await
    }

    /// Writes some of `buf`, waiting until the socket can take at least one byte.
    /// Returns how many bytes were written.
    pub async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Self {
            socket,
            registration,
        } = self;
        std::future::poll_fn(|cx| {
            registration.poll_bytes(cx, Direction::Write, buf.len(), || (&**socket).write(buf))
        })
        .await
    }

    /// Writes all of `buf`, waiting for the socket as often as needed. A large buffer
    /// goes out in several writes: the kernel takes what fits in its send buffer each
    /// time.
    pub async fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(buf).await? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }

    /// Reads until the peer closes, appending to `out`. Returns the bytes read.
    pub async fn read_to_end(&mut self, out: &mut Vec<u8>) -> io::Result<usize> {
        let mut chunk = [0u8; 4096];
        let mut total = 0;
        loop {
            match self.read(&mut chunk).await? {
                0 => return Ok(total),
                n => {
                    out.extend_from_slice(&chunk[..n]);
                    total += n;
                }
            }
        }
    }

    /// Closes the writing half: the peer reads 0 (end of stream) and can still answer.
    pub fn shutdown_write(&self) -> io::Result<()> {
        self.socket.shutdown(Shutdown::Write)?;
        self.registration
            .ledger(|ledger, key| ledger.shut_write(key));
        Ok(())
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.socket.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Turns Nagle's algorithm off (`true`): small writes go out at once.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.socket.set_nodelay(nodelay)
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        self.registration
            .deregister(&mut SourceFd(&self.socket.as_raw_fd()));
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local_addr", &self.socket.local_addr().ok())
            .field("peer_addr", &self.socket.peer_addr().ok())
            .finish()
    }
}
