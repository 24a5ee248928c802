//! Async TCP (chapter 7): [`TcpListener`] and [`TcpStream`].
//!
//! A socket here is one of two kinds, chosen by the runtime it is created in, and
//! the rest of the program cannot tell which:
//!
//! - **real** (`net/real.rs`), on a runtime with a real clock: mio's non-blocking
//!   sockets on the reactor. An operation tries the syscall and, on `WouldBlock`,
//!   leaves its waker with the reactor until `epoll` says the socket is ready.
//! - **simulated** (`sim_net/`), on a virtual-time runtime: in-memory sockets owned
//!   by the runtime, with no file descriptor. A virtual clock can only jump when
//!   nothing can happen before the next deadline, and the kernel cannot promise that
//!   about a byte in flight; the runtime's own network can. `sim_net/mod.rs` says why
//!   and how, and which real behaviours it keeps.
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
//! Errors are `std::io::Error` with the reason (connection refused, reset by peer,
//! broken pipe), never a panic. Binding never waits: it either works or fails at once,
//! so it is a plain function, not a future.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use crate::sim_net::socket::SimSocket;

mod real;

use real::{RealListener, RealStream};

/// A TCP socket listening for connections.
pub struct TcpListener {
    socket: Listener,
}

enum Listener {
    Real(RealListener),
    Sim(SimSocket),
}

impl TcpListener {
    /// Binds to `addr` (e.g. `"127.0.0.1:0"` for any free port) and starts listening.
    /// Under virtual time the address is on the runtime's simulated network.
    ///
    /// # Panics
    /// Outside a runtime: the listener belongs to a running loop.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let simulated = SimSocket::simulated_here("TcpListener::bind");
        let mut last_error = None;
        for addr in addr.to_socket_addrs()? {
            let socket = if simulated {
                SimSocket::bind(addr).map(Listener::Sim)
            } else {
                RealListener::bind(addr).map(Listener::Real)
            };
            match socket {
                Ok(socket) => return Ok(TcpListener { socket }),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no address to bind to")
        }))
    }

    /// The address the listener is bound to (with the real port after binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.socket {
            Listener::Real(socket) => socket.local_addr(),
            Listener::Sim(socket) => socket.local_addr(),
        }
    }

    /// Waits for the next incoming connection; connections come in the order they
    /// were made.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (socket, peer) = match &self.socket {
            Listener::Real(socket) => {
                let (stream, peer) = socket.accept().await?;
                (Stream::Real(stream), peer)
            }
            Listener::Sim(socket) => {
                let (stream, peer) = socket.accept().await?;
                (Stream::Sim(stream), peer)
            }
        };
        Ok((TcpStream { socket }, peer))
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local_addr", &self.local_addr().ok())
            .field("simulated", &matches!(self.socket, Listener::Sim(_)))
            .finish()
    }
}

/// A TCP connection.
pub struct TcpStream {
    socket: Stream,
}

enum Stream {
    Real(RealStream),
    Sim(SimSocket),
}

impl TcpStream {
    /// Opens a connection to `addr`. Under virtual time only the runtime's own
    /// listeners can be reached: any other address is refused at once.
    ///
    /// # Panics
    /// Outside a runtime.
    pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        let socket = if SimSocket::simulated_here("TcpStream::connect") {
            Stream::Sim(SimSocket::connect(addr).await?)
        } else {
            Stream::Real(RealStream::connect(addr).await?)
        };
        Ok(TcpStream { socket })
    }

    /// Reads what is available (at least one byte) into `buf`, waiting if nothing is.
    /// Returns the number of bytes read; **0 means the peer closed the connection**.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.socket {
            Stream::Real(socket) => socket.read(buf).await,
            Stream::Sim(socket) => socket.read(buf).await,
        }
    }

    /// Writes some of `buf`, waiting until the socket can take at least one byte.
    /// Returns how many bytes were written.
    pub async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.socket {
            Stream::Real(socket) => socket.write(buf).await,
            Stream::Sim(socket) => socket.write(buf).await,
        }
    }

    /// Writes all of `buf`, waiting for the socket as often as needed. A large buffer
    /// goes out in several writes: each takes what fits in the send buffer.
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

    /// Closes the writing half: the peer reads 0 (end of stream) after what was sent,
    /// and can still answer. Writing afterwards fails (`BrokenPipe`).
    pub fn shutdown_write(&self) -> io::Result<()> {
        match &self.socket {
            Stream::Real(socket) => socket.shutdown_write(),
            Stream::Sim(socket) => socket.shutdown_write(),
        }
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        match &self.socket {
            Stream::Real(socket) => socket.peer_addr(),
            Stream::Sim(socket) => socket.peer_addr(),
        }
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.socket {
            Stream::Real(socket) => socket.local_addr(),
            Stream::Sim(socket) => socket.local_addr(),
        }
    }

    /// Turns Nagle's algorithm off (`true`): small writes go out at once. A simulated
    /// stream sends every write at once anyway; it keeps the setting for
    /// [`nodelay`](Self::nodelay).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        match &self.socket {
            Stream::Real(socket) => socket.set_nodelay(nodelay),
            Stream::Sim(socket) => socket.set_nodelay(nodelay),
        }
    }

    /// Whether Nagle's algorithm is off (see [`set_nodelay`](Self::set_nodelay)).
    pub fn nodelay(&self) -> io::Result<bool> {
        match &self.socket {
            Stream::Real(socket) => socket.nodelay(),
            Stream::Sim(socket) => socket.nodelay(),
        }
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .field("simulated", &matches!(self.socket, Stream::Sim(_)))
            .finish()
    }
}
