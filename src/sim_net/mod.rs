//! The simulated network of a virtual-time runtime (chapters 6 and 7).
//!
//! A virtual clock may jump to the next timer's deadline only when nothing can happen
//! before it. With real sockets that is a question about the kernel: a reply one task
//! wrote may still be on its way to the task that reads it, and only the kernel knows
//! when it lands. No amount of looking makes that answer exact on a busy machine. So a
//! virtual-time runtime does not use the kernel's network at all: every socket that
//! [`looplab::net`](crate::net) creates under it lives here, in memory, owned by the
//! runtime, with no file descriptor. A write puts its bytes in the peer's buffer and
//! wakes the peer's reader at once, in the writing task's poll. Nothing is ever "on its
//! way", so "nothing can happen before the next deadline" is exactly "no task is
//! ready", which the loop already knows (`park.rs`).
//!
//! That is how the systems that test networked code on a virtual clock do it.
//! tokio-rs/turmoil gives each simulated host a socket table and moves packets between
//! hosts in memory; madsim replaces tokio's and std's network with a simulated one;
//! FoundationDB runs a whole cluster in one process on a simulated network it owns,
//! which is what makes its bugs replayable. looplab needs much less than any of them:
//! one runtime, one socket table, no packets. Each stream is two bounded buffers, one
//! per direction.
//!
//! The rules, each a real behaviour kept on purpose:
//!
//! | real TCP | here |
//! |---|---|
//! | a listener's accept queue (`listen(backlog)`) | [`LISTEN_BACKLOG`] connections wait to be accepted; a connect past it waits until `accept` makes room |
//! | connections are accepted in the order they were made | the queue and the connects waiting for room are first in, first out |
//! | connecting to a port nobody listens on: `ECONNREFUSED` | the same, at once, for any address this runtime holds no listener on |
//! | a socket's send and receive buffers | [`BUFFER_SIZE`] bytes per direction: a writer waits while the peer's buffer is full |
//! | a read returns what has arrived, up to its buffer | the same; a write takes what fits; so a large transfer splits into reads by that fixed rule |
//! | `shutdown(Write)` and `close` send a FIN | the peer reads the buffered bytes, then 0 (end of stream) |
//! | writing to a socket whose peer has closed: `EPIPE` | `BrokenPipe` |
//! | ephemeral ports for connects and for `bind(port 0)` | taken from [`EPHEMERAL_PORTS`] in order |
//!
//! What a real kernel does that this network does not (CHAPTERS.md, chapter 7): it
//! reports readiness in its own order and in its own time, it may take part of a write
//! for reasons of its own, and it drops connections past a full accept queue, so the
//! client retries a second later. Here every one of those is fixed by the program.
//!
//! The table's slot numbers are the sockets' **tokens** in the trace, as the reactor's
//! are for real sockets, and the trace labels these sockets `sim`.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use crate::executor::IoView;
use crate::task::TaskId;
use crate::trace::{Event, Tracer};

pub(crate) mod socket;

/// Bytes a stream buffers per direction. Linux sizes a socket's buffers by
/// `net.ipv4.tcp_rmem`/`tcp_wmem` and tunes them as it goes; turmoil's simulated
/// kernel caps them at 64 KiB, and so does this network, so a writer does wait for
/// its reader once the reply is large.
pub(crate) const BUFFER_SIZE: usize = 64 * 1024;

/// A writer waiting for room is woken once this much of the peer's buffer is free,
/// not for every byte its reader takes: a kernel, too, wakes a blocked writer only
/// when a useful amount of room has opened. An empty buffer is always past it, so a
/// reader that drains the buffer always wakes the writer.
const WAKE_WRITER_AT: usize = BUFFER_SIZE / 2;

/// Connections a listener holds before `accept` takes them, mirroring Linux's
/// `net.core.somaxconn` default (4,096 since Linux 5.4), which also caps the larger
/// backlog real listeners ask for (`net/real.rs`).
pub(crate) const LISTEN_BACKLOG: usize = 4096;

/// The ports handed out for `bind` to port 0 and for the local end of a connect:
/// Linux's default `net.ipv4.ip_local_port_range`.
pub(crate) const EPHEMERAL_PORTS: std::ops::RangeInclusive<u16> = 32768..=60999;

/// A waiting task's waker, and for the trace, which task it is.
struct Waiter {
    waker: Waker,
    task: Option<TaskId>,
}

fn waiter(waker: &Waker, task: Option<TaskId>) -> Option<Waiter> {
    Some(Waiter {
        waker: waker.clone(),
        task,
    })
}

/// What a stream end is connected to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Peer {
    /// A connect waiting for room in this listener's queue.
    Waiting { listener: usize },
    /// The other end of the connection.
    Connected(usize),
    /// The other end has closed.
    Gone,
    /// The listener closed before this connect got into its queue.
    Refused,
}

/// One end of a connection. Each end owns the bytes coming *to* it; a write goes into
/// the peer's `incoming`.
struct StreamEnd {
    what: &'static str,
    /// The connecting end: its local address is its own, taken from the ephemeral
    /// ports (an accepted end shares its listener's).
    client: bool,
    local: SocketAddr,
    peer_addr: SocketAddr,
    peer: Peer,
    incoming: VecDeque<u8>,
    /// The peer will write no more: after `incoming`, a read returns 0.
    end_of_stream: bool,
    /// This end shut its writing half: its writes fail.
    write_shut: bool,
    nodelay: bool,
    /// The task waiting for bytes (or end of stream) in `incoming`, or for its connect.
    reader: Option<Waiter>,
    /// The task waiting for room in the peer's `incoming`.
    writer: Option<Waiter>,
}

struct Listener {
    addr: SocketAddr,
    /// Server ends of connections made and not yet accepted, oldest first.
    queue: VecDeque<usize>,
    /// Client ends whose connect waits for room in `queue`, oldest first.
    waiting: VecDeque<usize>,
    /// Tasks waiting in `accept` (several tasks may share a listener).
    acceptors: Vec<Waiter>,
}

enum Socket {
    Listener(Listener),
    Stream(StreamEnd),
}

/// The socket table and the addresses in use.
#[derive(Default)]
struct Network {
    /// Slots, indexed by token; a freed slot goes to the next socket.
    slots: Vec<Option<Socket>>,
    free: Vec<usize>,
    live: usize,
    listeners: HashMap<SocketAddr, usize>,
    /// Addresses bound by a listener or by a connect's local end.
    taken: HashSet<SocketAddr>,
    /// The next ephemeral port to try.
    next_port: u16,
}

/// Wakers to wake once the table is no longer borrowed: a wake never runs a task,
/// but dropping a waker may drop a task, whose sockets then close themselves here.
type Wakes = Vec<Waiter>;

/// Wakes the tasks an operation found waiting, in the order it found them.
fn wake(wakes: Wakes) {
    for waiter in wakes {
        waiter.waker.wake();
    }
}

fn refused(addr: SocketAddr) -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionRefused,
        format!(
            "connect to {addr}: connection refused: no listener there on this runtime's \
             simulated network (a virtual-time runtime reaches only its own listeners)"
        ),
    )
}

fn broken_pipe() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "write on a simulated stream whose peer has closed (or whose writing half is shut)",
    )
}

fn not_a(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a simulated {what} (the socket is closed)"),
    )
}

impl Network {
    fn insert(&mut self, socket: Socket) -> usize {
        self.live += 1;
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(socket);
                slot
            }
            None => {
                self.slots.push(Some(socket));
                self.slots.len() - 1
            }
        }
    }

    fn remove(&mut self, slot: usize) -> Option<Socket> {
        let socket = self.slots.get_mut(slot)?.take()?;
        self.free.push(slot);
        self.live -= 1;
        Some(socket)
    }

    fn stream(&mut self, slot: usize) -> io::Result<&mut StreamEnd> {
        match self.slots.get_mut(slot) {
            Some(Some(Socket::Stream(stream))) => Ok(stream),
            _ => Err(not_a("stream")),
        }
    }

    fn listener(&mut self, slot: usize) -> io::Result<&mut Listener> {
        match self.slots.get_mut(slot) {
            Some(Some(Socket::Listener(listener))) => Ok(listener),
            _ => Err(not_a("listener")),
        }
    }

    /// The next free ephemeral port on `ip`.
    fn ephemeral(&mut self, ip: IpAddr) -> io::Result<SocketAddr> {
        let (first, last) = (*EPHEMERAL_PORTS.start(), *EPHEMERAL_PORTS.end());
        for _ in EPHEMERAL_PORTS {
            if !EPHEMERAL_PORTS.contains(&self.next_port) {
                self.next_port = first;
            }
            let addr = SocketAddr::new(ip, self.next_port);
            self.next_port = if self.next_port == last {
                first
            } else {
                self.next_port + 1
            };
            if !self.taken.contains(&addr) {
                return Ok(addr);
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!("no free port on {ip} in this runtime's simulated network"),
        ))
    }

    fn bind(&mut self, addr: SocketAddr) -> io::Result<usize> {
        let addr = if addr.port() == 0 {
            self.ephemeral(addr.ip())?
        } else {
            let any = SocketAddr::new(unspecified_like(addr.ip()), addr.port());
            if self.taken.contains(&addr) || self.taken.contains(&any) {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{addr} is in use on this runtime's simulated network"),
                ));
            }
            addr
        };
        self.taken.insert(addr);
        let slot = self.insert(Socket::Listener(Listener {
            addr,
            queue: VecDeque::new(),
            waiting: VecDeque::new(),
            acceptors: Vec::new(),
        }));
        self.listeners.insert(addr, slot);
        Ok(slot)
    }

    /// The listener a connect to `addr` reaches: bound to it, or to its port on the
    /// unspecified address (`0.0.0.0`), as a real listener there would take it.
    fn listener_at(&self, addr: SocketAddr) -> Option<usize> {
        let any = SocketAddr::new(unspecified_like(addr.ip()), addr.port());
        self.listeners
            .get(&addr)
            .or_else(|| self.listeners.get(&any))
            .copied()
    }

    /// A new client end for a connect to `addr`: connected at once if the listener's
    /// queue has room and no earlier connect waits, else waiting in line. Returns the
    /// client's slot and, if it connected, the server end's.
    fn connect(
        &mut self,
        addr: SocketAddr,
        wakes: &mut Wakes,
    ) -> io::Result<(usize, Option<usize>)> {
        let listener_slot = self.listener_at(addr).ok_or_else(|| refused(addr))?;
        let local_ip = if addr.ip().is_unspecified() {
            loopback_like(addr.ip())
        } else {
            addr.ip()
        };
        let local = self.ephemeral(local_ip)?;
        self.taken.insert(local);
        let client = self.insert(Socket::Stream(StreamEnd {
            what: "sim client",
            client: true,
            local,
            peer_addr: addr,
            peer: Peer::Waiting {
                listener: listener_slot,
            },
            incoming: VecDeque::new(),
            end_of_stream: false,
            write_shut: false,
            nodelay: false,
            reader: None,
            writer: None,
        }));
        let listener = self.listener(listener_slot).expect("found above");
        if listener.queue.len() < LISTEN_BACKLOG && listener.waiting.is_empty() {
            let server = self.establish(listener_slot, client, wakes);
            Ok((client, Some(server)))
        } else {
            listener.waiting.push_back(client);
            Ok((client, None))
        }
    }

    /// Makes the connection of `client` to the listener: a server end in the queue,
    /// and every task waiting in `accept` woken.
    fn establish(&mut self, listener_slot: usize, client: usize, wakes: &mut Wakes) -> usize {
        let (client_local, server_local) = {
            let stream = self.stream(client).expect("a waiting client");
            (stream.local, stream.peer_addr)
        };
        let server = self.insert(Socket::Stream(StreamEnd {
            what: "sim stream",
            client: false,
            local: server_local,
            peer_addr: client_local,
            peer: Peer::Connected(client),
            incoming: VecDeque::new(),
            end_of_stream: false,
            write_shut: false,
            nodelay: false,
            reader: None,
            writer: None,
        }));
        let stream = self.stream(client).expect("a waiting client");
        stream.peer = Peer::Connected(server);
        wakes.extend(stream.reader.take());
        let listener = self.listener(listener_slot).expect("a live listener");
        listener.queue.push_back(server);
        wakes.append(&mut listener.acceptors);
        server
    }

    /// Takes the oldest connection out of the listener's queue, and lets the oldest
    /// waiting connect into the room it leaves.
    /// Returns the accepted server end and, if a waiting connect got in, its new
    /// server end.
    fn accept(
        &mut self,
        slot: usize,
        wakes: &mut Wakes,
    ) -> io::Result<Option<(usize, Option<usize>)>> {
        let listener = self.listener(slot)?;
        let Some(server) = listener.queue.pop_front() else {
            return Ok(None);
        };
        let admitted = listener.waiting.pop_front();
        let admitted = admitted.map(|client| self.establish(slot, client, wakes));
        Ok(Some((server, admitted)))
    }

    /// Closes a listener: connections not yet accepted close, connects waiting for
    /// room are refused, and the address is free again.
    fn close_listener(&mut self, listener: Listener, wakes: &mut Wakes) -> Vec<usize> {
        self.listeners.remove(&listener.addr);
        self.taken.remove(&listener.addr);
        for client in listener.waiting {
            if let Ok(stream) = self.stream(client) {
                stream.peer = Peer::Refused;
                wakes.extend(stream.reader.take());
            }
        }
        wakes.extend(listener.acceptors);
        let mut closed = Vec::new();
        for server in listener.queue {
            if let Some(Socket::Stream(stream)) = self.remove(server) {
                self.close_stream(stream, wakes);
                closed.push(server);
            }
        }
        closed
    }

    /// Closes a stream end: the peer reads what is buffered, then end of stream, and
    /// its writes fail from now on.
    fn close_stream(&mut self, stream: StreamEnd, wakes: &mut Wakes) {
        if stream.client {
            self.taken.remove(&stream.local);
        }
        if let Peer::Connected(peer) = stream.peer
            && let Ok(peer) = self.stream(peer)
        {
            peer.peer = Peer::Gone;
            peer.end_of_stream = true;
            wakes.extend(peer.reader.take());
            wakes.extend(peer.writer.take());
        }
        wakes.extend(stream.reader);
        wakes.extend(stream.writer);
    }
}

fn unspecified_like(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

fn loopback_like(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    }
}

/// A virtual-time runtime's network: the socket table behind a `RefCell` (borrowed
/// only inside each call, never while a task runs), the trace, and the list where
/// sockets dropped away from the runtime leave their tokens.
pub(crate) struct SimNet {
    network: RefCell<Network>,
    tracer: Rc<Tracer>,
    released: Arc<Mutex<Vec<usize>>>,
}

impl SimNet {
    pub(crate) fn new(tracer: Rc<Tracer>) -> SimNet {
        SimNet {
            network: RefCell::new(Network {
                next_port: *EPHEMERAL_PORTS.start(),
                ..Network::default()
            }),
            tracer,
            released: Arc::default(),
        }
    }

    /// Runs `op` on the table and hands back the tasks it found to wake. The caller
    /// traces what happened, then wakes them ([`wake`]), so the trace says "wrote 72
    /// bytes" before "wakes task 5".
    fn with<R>(&self, op: impl FnOnce(&mut Network, &mut Wakes) -> R) -> (R, Wakes) {
        let mut wakes = Wakes::new();
        let result = op(&mut self.network.borrow_mut(), &mut wakes);
        (result, wakes)
    }

    fn registered(
        &self,
        task: Option<TaskId>,
        token: usize,
        what: &'static str,
        interest: &'static str,
    ) {
        if self.tracer.enabled() {
            self.tracer.emit(Event::IoRegistered {
                task,
                token,
                what,
                interest,
            });
        }
    }

    fn waits(&self, task: Option<TaskId>, token: usize, op: &'static str) {
        if self.tracer.enabled() {
            self.tracer.emit(Event::IoWait { task, token, op });
        }
    }

    fn done(&self, task: Option<TaskId>, token: usize, op: &'static str, bytes: usize) {
        if self.tracer.enabled() {
            self.tracer.emit(Event::IoDone {
                task,
                token,
                op,
                bytes,
            });
        }
    }

    /// The list a socket dropped away from its runtime leaves its token in.
    pub(crate) fn released_list(&self) -> Arc<Mutex<Vec<usize>>> {
        self.released.clone()
    }

    /// Closes the sockets dropped away from the runtime (a socket returned from
    /// `block_on` and dropped later, or dropped on another thread): their peers see
    /// end of stream. The loop calls it before it decides to jump the clock.
    pub(crate) fn reclaim_released(&self) {
        let released = std::mem::take(&mut *self.released.lock().unwrap());
        for token in released {
            self.close(token);
        }
    }

    /// A listener on `addr` (port 0: the next ephemeral port). Binding never waits.
    pub(crate) fn bind(&self, addr: SocketAddr, task: Option<TaskId>) -> io::Result<usize> {
        let token = self.with(|net, _| net.bind(addr)).0?;
        self.registered(task, token, "sim listener", "read");
        Ok(token)
    }

    /// Starts a connect to `addr`: refused at once if no listener of this runtime is
    /// there; otherwise a client end, connected now or waiting for room in the
    /// listener's queue ([`poll_connect`](Self::poll_connect)).
    pub(crate) fn connect(&self, addr: SocketAddr, task: Option<TaskId>) -> io::Result<usize> {
        let (connected, wakes) = self.with(|net, wakes| net.connect(addr, wakes));
        let (client, server) = connected?;
        self.registered(task, client, "sim client", "read+write");
        if let Some(server) = server {
            self.registered(task, server, "sim stream", "read+write");
        }
        wake(wakes);
        Ok(client)
    }

    /// Whether a connect has got into the listener's queue.
    pub(crate) fn poll_connect(
        &self,
        token: usize,
        waker: &Waker,
        task: Option<TaskId>,
    ) -> Poll<io::Result<()>> {
        let (peer, _) = self.with(|net, _| {
            let stream = net.stream(token)?;
            if let Peer::Waiting { .. } = stream.peer {
                stream.reader = waiter(waker, task);
            }
            Ok::<_, io::Error>((stream.peer, stream.peer_addr))
        });
        match peer {
            Err(e) => Poll::Ready(Err(e)),
            Ok((Peer::Waiting { .. }, _)) => {
                self.waits(task, token, "connect");
                Poll::Pending
            }
            Ok((Peer::Refused, addr)) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("connect to {addr}: the listener closed before it took the connection"),
            ))),
            Ok((Peer::Connected(_) | Peer::Gone, _)) => Poll::Ready(Ok(())),
        }
    }

    /// The oldest connection in the listener's queue: its token and the client's
    /// address.
    pub(crate) fn poll_accept(
        &self,
        token: usize,
        waker: &Waker,
        task: Option<TaskId>,
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        let (accepted, wakes) = self.with(|net, wakes| match net.accept(token, wakes)? {
            Some((server, admitted)) => {
                let peer = net.stream(server).expect("a queued stream").peer_addr;
                Ok(Some((server, peer, admitted)))
            }
            None => {
                let listener = net.listener(token)?;
                if !listener.acceptors.iter().any(|w| w.waker.will_wake(waker)) {
                    listener.acceptors.extend(waiter(waker, task));
                }
                Ok(None)
            }
        });
        match accepted {
            Err(e) => Poll::Ready(Err(e)),
            Ok(None) => {
                self.waits(task, token, "accept");
                Poll::Pending
            }
            Ok(Some((server, peer, admitted))) => {
                if let Some(admitted) = admitted {
                    self.registered(task, admitted, "sim stream", "read+write");
                }
                wake(wakes);
                Poll::Ready(Ok((server, peer)))
            }
        }
    }

    /// Reads what has arrived, up to `buf.len()` bytes; 0 once the peer has closed and
    /// everything it sent is read. Waits if nothing has arrived.
    pub(crate) fn poll_read(
        &self,
        token: usize,
        buf: &mut [u8],
        waker: &Waker,
        task: Option<TaskId>,
    ) -> Poll<io::Result<usize>> {
        let (read, wakes) = self.with(|net, wakes| {
            let stream = net.stream(token)?;
            if stream.incoming.is_empty() && !stream.end_of_stream && !buf.is_empty() {
                stream.reader = waiter(waker, task);
                return Ok(None);
            }
            let n = buf.len().min(stream.incoming.len());
            for (to, from) in buf.iter_mut().zip(stream.incoming.drain(..n)) {
                *to = from;
            }
            let room = BUFFER_SIZE - stream.incoming.len();
            if let (Peer::Connected(peer), true) = (stream.peer, room >= WAKE_WRITER_AT) {
                wakes.extend(net.stream(peer).ok().and_then(|peer| peer.writer.take()));
            }
            Ok::<_, io::Error>(Some(n))
        });
        match read {
            Err(e) => Poll::Ready(Err(e)),
            Ok(None) => {
                self.waits(task, token, "read");
                Poll::Pending
            }
            Ok(Some(n)) => {
                self.done(task, token, "read", n);
                wake(wakes);
                Poll::Ready(Ok(n))
            }
        }
    }

    /// Writes as much of `buf` as fits in the peer's buffer, waking its reader. Waits
    /// while the buffer is full; `BrokenPipe` if the peer has closed.
    pub(crate) fn poll_write(
        &self,
        token: usize,
        buf: &[u8],
        waker: &Waker,
        task: Option<TaskId>,
    ) -> Poll<io::Result<usize>> {
        let (written, wakes) = self.with(|net, wakes| {
            let stream = net.stream(token)?;
            let Peer::Connected(peer) = stream.peer else {
                return Err(broken_pipe());
            };
            if stream.write_shut {
                return Err(broken_pipe());
            }
            let room = BUFFER_SIZE - net.stream(peer)?.incoming.len();
            if room == 0 && !buf.is_empty() {
                net.stream(token)?.writer = waiter(waker, task);
                return Ok(None);
            }
            let n = buf.len().min(room);
            let peer = net.stream(peer)?;
            peer.incoming.extend(&buf[..n]);
            wakes.extend(peer.reader.take());
            Ok(Some(n))
        });
        match written {
            Err(e) => Poll::Ready(Err(e)),
            Ok(None) => {
                self.waits(task, token, "write");
                Poll::Pending
            }
            Ok(Some(n)) => {
                self.done(task, token, "write", n);
                wake(wakes);
                Poll::Ready(Ok(n))
            }
        }
    }

    /// Closes the writing half: the peer reads what is buffered, then end of stream.
    pub(crate) fn shutdown_write(&self, token: usize) -> io::Result<()> {
        let (result, wakes) = self.with(|net, wakes| {
            let stream = net.stream(token)?;
            stream.write_shut = true;
            if let Peer::Connected(peer) = stream.peer {
                let peer = net.stream(peer)?;
                peer.end_of_stream = true;
                wakes.extend(peer.reader.take());
            }
            Ok(())
        });
        wake(wakes);
        result
    }

    /// Closes a socket (its handle was dropped) and frees its token.
    pub(crate) fn close(&self, token: usize) {
        let (closed, wakes) = self.with(|net, wakes| match net.remove(token) {
            Some(Socket::Stream(stream)) => {
                let waiting = match stream.peer {
                    Peer::Waiting { listener } => Some(listener),
                    _ => None,
                };
                net.close_stream(stream, wakes);
                if let Some(listener) = waiting
                    && let Ok(listener) = net.listener(listener)
                {
                    listener.waiting.retain(|&client| client != token);
                }
                vec![token]
            }
            Some(Socket::Listener(listener)) => {
                let mut closed = vec![token];
                closed.extend(net.close_listener(listener, wakes));
                closed
            }
            None => Vec::new(),
        });
        if self.tracer.enabled() {
            for token in closed {
                self.tracer.emit(Event::IoDeregistered { token });
            }
        }
        wake(wakes);
    }

    /// A socket's own address.
    pub(crate) fn local_addr(&self, token: usize) -> io::Result<SocketAddr> {
        let mut net = self.network.borrow_mut();
        match net.slots.get(token) {
            Some(Some(Socket::Listener(listener))) => Ok(listener.addr),
            _ => net.stream(token).map(|stream| stream.local),
        }
    }

    /// The address of a stream's peer.
    pub(crate) fn peer_addr(&self, token: usize) -> io::Result<SocketAddr> {
        self.network
            .borrow_mut()
            .stream(token)
            .map(|stream| stream.peer_addr)
    }

    /// Kept as asked; a simulated stream sends every write at once anyway.
    pub(crate) fn set_nodelay(&self, token: usize, nodelay: bool) -> io::Result<()> {
        self.network.borrow_mut().stream(token)?.nodelay = nodelay;
        Ok(())
    }

    /// Whether `set_nodelay(true)` was asked.
    pub(crate) fn nodelay(&self, token: usize) -> io::Result<bool> {
        Ok(self.network.borrow_mut().stream(token)?.nodelay)
    }

    /// Sockets in the table.
    pub(crate) fn len(&self) -> usize {
        self.network.borrow().live
    }

    /// Every socket with its readiness and the tasks waiting on it: the `--step` view.
    pub(crate) fn sockets(&self) -> Vec<IoView> {
        let net = self.network.borrow();
        let room_at = |slot: usize| match net.slots.get(slot) {
            Some(Some(Socket::Stream(peer))) => peer.incoming.len() < BUFFER_SIZE,
            _ => false,
        };
        net.slots
            .iter()
            .enumerate()
            .filter_map(|(token, socket)| {
                let view = match socket.as_ref()? {
                    Socket::Listener(listener) => IoView {
                        token,
                        what: "sim listener",
                        readable: !listener.queue.is_empty(),
                        writable: false,
                        reader: listener.acceptors.first().and_then(|w| w.task),
                        writer: None,
                        simulated: true,
                    },
                    Socket::Stream(stream) => IoView {
                        token,
                        what: stream.what,
                        readable: !stream.incoming.is_empty() || stream.end_of_stream,
                        writable: match stream.peer {
                            Peer::Connected(peer) => room_at(peer),
                            Peer::Waiting { .. } => false,
                            Peer::Gone | Peer::Refused => true,
                        },
                        reader: stream.reader.as_ref().and_then(|w| w.task),
                        writer: stream.writer.as_ref().and_then(|w| w.task),
                        simulated: true,
                    },
                };
                Some(view)
            })
            .collect()
    }

    /// Empties the table (the runtime is being dropped). The sockets are dropped
    /// after letting go of the table: a waker may be the last reference to a task.
    pub(crate) fn clear(&self) {
        let slots = {
            let mut net = self.network.borrow_mut();
            net.free.clear();
            net.live = 0;
            std::mem::take(&mut net.slots)
        };
        drop(slots);
    }
}
