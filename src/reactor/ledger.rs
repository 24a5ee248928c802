//! The ledger: what the runtime's own sockets owe each other (chapter 7, for the
//! virtual clock of chapter 6).
//!
//! Under virtual time the clock jumps to the next deadline when nothing else can
//! happen first. Between sockets of the same runtime (the lookup's client and the
//! directory, in one process) something *can* happen that no task shows: bytes one
//! task wrote, on their way through the kernel to the task that will read them. Were
//! the clock to jump over them, a one-second timeout could fire before a reply that
//! was sent in time. The kernel gives no promise of when loopback data arrives (under
//! load it is handed to a kernel thread, `ksoftirqd`, and may lag), so waiting a little
//! while is a guess, not a rule.
//!
//! The runtime can know instead. It wrote those bytes itself, so it keeps accounts:
//!
//! | owed to | what | counted by | owed while |
//! |---|---|---|---|
//! | a stream | bytes | its peer's writes, its own reads, the kernel's receive queue (`FIONREAD`) | written > read + queued |
//! | a stream | end of stream (FIN, or a reset) | its peer's `shutdown_write` or drop | no event has said "closed" yet |
//! | a connecting stream | the end of its handshake | `connect` to one of the runtime's listeners | no event has said "writable" (or failed) yet |
//! | a listener | a connection | `connect`s to its address, minus connections taken out of its queue | the queue holds fewer than are owed |
//!
//! **The rule.** Under virtual time, before the loop reports any I/O (and so before it
//! may jump the clock), the reactor *settles*: as long as anything in this table is
//! owed, it keeps collecting events (zero-timeout `epoll_wait`s, giving the CPU to the
//! kernel in between with `yield_now`) until it has arrived, and takes connections
//! owed to a listener out of the kernel's queue itself (they wait in the listener's
//! own queue for its `accept`). A task's read, connect or accept first waits the same
//! way for what is owed to its own socket. When nothing is owed, everything the
//! runtime's tasks have set in motion has landed, and the events found are exactly
//! those their actions caused: the same on every run, however the kernel schedules
//! its work. They are reported in token order. Only then, if no task is ready, does
//! the clock jump.
//!
//! **Where it stops holding.** A socket whose peer is outside the runtime (a real
//! server, another process) owes nothing the ledger can see: its replies come when
//! the world sends them, and the clock may jump past them. The trace says so when it
//! happens (`Event::JumpPastOutsideSockets`). More limits, all in CHAPTERS.md chapter
//! 7: flow control beyond 16 KiB; a writer blocked on a full buffer whose reader took
//! only part of it (the kernel decides when "writable" comes back); a connect refused
//! or dropped before its handshake; connections past a full accept queue (the kernel
//! sends the SYN again a second later, so the settle waits that second of wall time);
//! a kernel that refuses connections (out of file descriptors): they are owed no
//! more; and wakes from other OS threads, which come when they come.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::Weak;
#[cfg(test)]
use std::time::Duration;

use super::{Direction, IoKey};

/// Bytes owed to a stream are waited for in full up to this many: a receive window
/// is never smaller, so they can all land before the reader reads. Beyond it, flow
/// control makes the sender wait for the reader, and the ledger waits only for this
/// much (a limit: how a large transfer splits into reads is then the kernel's choice).
const LANDS_WHOLE: u64 = 16 * 1024;

/// When the accounts are looked at.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Moment {
    /// Before the loop reports I/O (and maybe jumps the clock).
    Settle,
    /// Before a task's read (or connect) runs.
    BeforeRead,
}

/// A stream's accounts.
struct StreamBook {
    /// The socket, to ask the kernel how much has landed (`FIONREAD`).
    socket: Weak<mio::net::TcpStream>,
    local: SocketAddr,
    /// The runtime's socket at the other end, once known.
    peer: Option<IoKey>,
    /// A connecting stream: the listener of this runtime it connects to, until that
    /// listener's queue gives the connection up.
    owed_by: Option<IoKey>,
    /// Bytes this stream wrote, and bytes its peer wrote to it.
    written: u64,
    incoming: u64,
    /// Bytes this stream read.
    read: u64,
    /// This stream shut down its writing half (or was dropped).
    write_shut: bool,
    /// Its peer did: a FIN (or a reset) is on its way here.
    peer_closed: bool,
    /// An event (or a read of 0) said the end of stream has arrived.
    end_arrived: bool,
    /// A connect to one of the runtime's listeners whose handshake has not been
    /// reported yet.
    handshaking: bool,
    /// Whether the peer is outside the runtime: nothing it sends is owed.
    outside: bool,
    /// A write met `WouldBlock` (a full buffer) and no "writable" has come since.
    write_blocked: bool,
}

/// A listener's accounts.
struct ListenerBook {
    socket: Weak<mio::net::TcpListener>,
    addr: SocketAddr,
    /// Connections the runtime's streams made to it that are still in the kernel's
    /// queue or on their way there.
    owed: u32,
    /// Connections the settle took out of the kernel's queue, for `accept`.
    taken: VecDeque<(mio::net::TcpStream, SocketAddr)>,
}

/// What the runtime's own sockets owe each other. See the module docs.
#[derive(Default)]
pub(crate) struct Ledger {
    streams: HashMap<IoKey, StreamBook>,
    listeners: HashMap<IoKey, ListenerBook>,
    /// Streams by local address: an accepted stream finds its connecting peer here.
    stream_at: HashMap<SocketAddr, IoKey>,
    listener_at: HashMap<SocketAddr, IoKey>,
    /// Streams whose accounts changed since they were last found settled: only these
    /// are looked at, so a settle costs what moved, not what exists.
    unsettled: Vec<IoKey>,
}

impl Ledger {
    pub(crate) fn open_listener(
        &mut self,
        key: IoKey,
        socket: Weak<mio::net::TcpListener>,
        addr: SocketAddr,
    ) {
        self.listener_at.insert(addr, key);
        self.listeners.insert(
            key,
            ListenerBook {
                socket,
                addr,
                owed: 0,
                taken: VecDeque::new(),
            },
        );
    }

    /// A stream that `connect` opened from `local` to `target`.
    pub(crate) fn open_connecting(
        &mut self,
        key: IoKey,
        socket: Weak<mio::net::TcpStream>,
        local: SocketAddr,
        target: SocketAddr,
    ) {
        let listener = self.listener_for(target);
        if let Some(listener) = listener {
            self.listeners.get_mut(&listener).expect("found above").owed += 1;
        }
        self.stream_at.insert(local, key);
        self.streams.insert(
            key,
            StreamBook {
                owed_by: listener,
                handshaking: listener.is_some(),
                outside: listener.is_none(),
                ..StreamBook::new(socket, local)
            },
        );
        self.unsettled.push(key);
    }

    /// A stream that `accept` gave out, from `local` to `peer`. If `peer` is a stream
    /// of this runtime the two are paired, and what the connecting side wrote before
    /// is owed to this one. `from_kernel`: `accept` took it from the kernel's queue
    /// itself (not from the settle's), so the listener owes one connection less.
    pub(crate) fn open_accepted(
        &mut self,
        listener: IoKey,
        key: IoKey,
        socket: Weak<mio::net::TcpStream>,
        (local, peer): (SocketAddr, SocketAddr),
        from_kernel: bool,
    ) {
        let connector = self.stream_at.get(&peer).copied();
        let mut book = StreamBook::new(socket, local);
        match connector.and_then(|c| self.streams.get_mut(&c).map(|b| (c, b))) {
            Some((connector, theirs)) => {
                theirs.peer = Some(key);
                theirs.owed_by = None;
                book.peer = Some(connector);
                book.incoming = theirs.written;
                book.peer_closed = theirs.write_shut;
                if from_kernel && let Some(listener) = self.listeners.get_mut(&listener) {
                    listener.owed = listener.owed.saturating_sub(1);
                }
            }
            None => book.outside = true,
        }
        self.stream_at.insert(local, key);
        self.streams.insert(key, book);
        self.unsettled.push(key);
    }

    /// The runtime's listener that a connect to `target` reaches, if any: one bound
    /// to that address, or to the unspecified address of its family on that port.
    fn listener_for(&self, target: SocketAddr) -> Option<IoKey> {
        if let Some(&key) = self.listener_at.get(&target) {
            return Some(key);
        }
        let any: std::net::IpAddr = match target {
            SocketAddr::V4(_) => std::net::Ipv4Addr::UNSPECIFIED.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
        };
        self.listener_at
            .get(&SocketAddr::new(any, target.port()))
            .copied()
    }

    pub(crate) fn wrote(&mut self, key: IoKey, bytes: usize) {
        let Some(book) = self.streams.get_mut(&key) else {
            return;
        };
        book.written += bytes as u64;
        if let Some(peer) = book.peer
            && let Some(theirs) = self.streams.get_mut(&peer)
        {
            theirs.incoming += bytes as u64;
            self.unsettled.push(peer);
        }
    }

    pub(crate) fn read(&mut self, key: IoKey, bytes: usize) {
        let Some(book) = self.streams.get_mut(&key) else {
            return;
        };
        book.read += bytes as u64;
        if bytes == 0 {
            book.end_arrived = true;
        }
        // Its peer may be a blocked writer that this read drained.
        if let Some(peer) = book.peer {
            self.unsettled.push(peer);
        }
    }

    /// `key` shut down its writing half: its peer is owed an end of stream.
    pub(crate) fn shut_write(&mut self, key: IoKey) {
        let Some(book) = self.streams.get_mut(&key) else {
            return;
        };
        book.write_shut = true;
        if let Some(peer) = book.peer
            && let Some(theirs) = self.streams.get_mut(&peer)
        {
            theirs.peer_closed = true;
            self.unsettled.push(peer);
        }
    }

    /// What an event reported for `key`.
    pub(crate) fn saw_event(&mut self, key: IoKey, writable: bool, closed: bool, error: bool) {
        let Some(book) = self.streams.get_mut(&key) else {
            return;
        };
        if closed || error {
            book.end_arrived = true;
        }
        if writable {
            book.write_blocked = false;
        }
        if book.handshaking && (writable || error) {
            book.handshaking = false;
            // A failed handshake leaves nothing in the listener's queue.
            if error && let Some(listener) = book.owed_by.take() {
                self.owed_one_less(listener);
            }
        }
    }

    /// A socket left the reactor: a stream's peer is owed an end of stream; a
    /// listener's taken connections close with it.
    pub(crate) fn forget(&mut self, key: IoKey) {
        if let Some(book) = self.streams.remove(&key) {
            self.stream_at.remove(&book.local);
            if let Some(peer) = book.peer
                && let Some(theirs) = self.streams.get_mut(&peer)
            {
                theirs.peer = None;
                theirs.peer_closed = true;
                self.unsettled.push(peer);
            }
            // Dropped while its handshake was under way: the connection may never
            // reach the listener's queue, so it is owed no more.
            if book.handshaking
                && let Some(listener) = book.owed_by
            {
                self.owed_one_less(listener);
            }
        }
        if let Some(listener) = self.listeners.remove(&key) {
            self.listener_at.remove(&listener.addr);
            for (&stream, book) in &mut self.streams {
                if book.owed_by == Some(key) {
                    // Its connection goes with the listener: the kernel resets it.
                    book.owed_by = None;
                    book.peer_closed = true;
                    self.unsettled.push(stream);
                }
            }
        }
    }

    fn owed_one_less(&mut self, listener: IoKey) {
        if let Some(book) = self.listeners.get_mut(&listener) {
            book.owed = book.owed.saturating_sub(1);
        }
    }

    /// Takes the connections owed to each listener out of the kernel's queue, into
    /// the listener's own, and returns the listeners that got some (their `accept`
    /// must be told).
    pub(crate) fn take_owed_connections(&mut self) -> Vec<IoKey> {
        let mut got = Vec::new();
        for (&key, book) in &mut self.listeners {
            let Some(socket) = book.socket.upgrade() else {
                continue;
            };
            let before = book.taken.len();
            while book.owed > 0 {
                match socket.accept() {
                    Ok(connection) => {
                        // A connection from outside the runtime is taken too (it is
                        // in the way), but it was not one of those owed.
                        if self.stream_at.contains_key(&connection.1) {
                            book.owed -= 1;
                        }
                        book.taken.push_back(connection);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    // Not there yet: wait.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    // The kernel will not hand connections over (out of file
                    // descriptors, say): waiting for them would never end. They are
                    // owed no more; the listener's task meets the error itself.
                    Err(_) => {
                        book.owed = 0;
                        break;
                    }
                }
            }
            if book.taken.len() > before {
                got.push(key);
            }
        }
        got.sort_by_key(|key| key.number());
        got
    }

    /// A connection the settle took for `listener`, oldest first.
    pub(crate) fn take_accepted(
        &mut self,
        listener: IoKey,
    ) -> Option<(mio::net::TcpStream, SocketAddr)> {
        self.listeners.get_mut(&listener)?.taken.pop_front()
    }

    /// Whether anything is still owed (see the module docs' table). Streams found
    /// settled leave the list of those to look at.
    pub(crate) fn anything_owed(&mut self) -> bool {
        if self.listeners.values().any(|l| l.owed > 0) {
            return true;
        }
        while let Some(&key) = self.unsettled.last() {
            let owed = self.stream_owed(key, Moment::Settle);
            if owed {
                return true;
            }
            self.unsettled.pop();
        }
        false
    }

    /// Before an operation on `key` in `direction`: whether it must wait for
    /// something owed to land first. A listener's owed connections are taken out of
    /// the kernel's queue meanwhile.
    pub(crate) fn owed_before_op(&mut self, key: IoKey, direction: Direction) -> bool {
        if self.listeners.contains_key(&key) {
            self.take_owed_connections();
            return self.listeners.get(&key).is_some_and(|l| l.owed > 0);
        }
        match direction {
            // A connect waits for its handshake; a write for nothing.
            Direction::Write => {
                self.streams.get(&key).is_some_and(|book| book.handshaking)
                    && self.stream_owed(key, Moment::BeforeRead)
            }
            Direction::Read => self.stream_owed(key, Moment::BeforeRead),
        }
    }

    /// Whether `key` is owed something that has not landed, its peer's side of the
    /// accounts included.
    fn stream_owed(&mut self, key: IoKey, moment: Moment) -> bool {
        let drained_by_peer = self.drained_by_peer(key);
        let Some(book) = self.streams.get_mut(&key) else {
            return false;
        };
        if book.owed(moment) {
            return true;
        }
        // A writer that met a full buffer gets "writable" back once its peer has read
        // everything it wrote: that event is owed too. (Read only in part, the kernel
        // decides when: a limit, see the module docs.)
        book.write_blocked && drained_by_peer
    }

    /// Whether `key`'s peer (of this runtime) has read every byte `key` wrote.
    fn drained_by_peer(&self, key: IoKey) -> bool {
        let Some(book) = self.streams.get(&key) else {
            return false;
        };
        match book.peer.and_then(|peer| self.streams.get(&peer)) {
            Some(peer) => peer.read >= book.written,
            None => false,
        }
    }

    /// An operation on `key` met `WouldBlock`: a blocked writer is owed "writable"
    /// once its peer drains what it wrote.
    pub(crate) fn would_block(&mut self, key: IoKey, direction: Direction) {
        if direction == Direction::Write
            && let Some(book) = self.streams.get_mut(&key)
            && !book.handshaking
        {
            book.write_blocked = true;
            self.unsettled.push(key);
        }
    }

    /// The streams with a peer outside the runtime (their tokens): virtual time cannot
    /// see what they are owed.
    pub(crate) fn outside_streams(&self) -> Vec<IoKey> {
        let mut outside: Vec<IoKey> = self
            .streams
            .iter()
            .filter(|(_, book)| book.outside)
            .map(|(&key, _)| key)
            .collect();
        outside.sort_by_key(|key| key.number());
        outside
    }
}

impl StreamBook {
    fn new(socket: Weak<mio::net::TcpStream>, local: SocketAddr) -> StreamBook {
        StreamBook {
            socket,
            local,
            peer: None,
            owed_by: None,
            written: 0,
            incoming: 0,
            read: 0,
            write_shut: false,
            peer_closed: false,
            end_arrived: false,
            handshaking: false,
            outside: false,
            write_blocked: false,
        }
    }

    /// Whether this stream is owed something that has not arrived. At a settle, the
    /// end of stream counts until an event has reported it (its event must be among
    /// those collected); before a read, only once every byte before it was read (the
    /// read would return data first anyway).
    fn owed(&mut self, moment: Moment) -> bool {
        let Some(socket) = self.socket.upgrade() else {
            return false;
        };
        if self.handshaking {
            match socket.peer_addr() {
                Ok(_) => self.handshaking = false,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return true,
                // Refused or reset: no handshake to wait for.
                Err(_) => self.handshaking = false,
            }
        }
        let unread = self.incoming.saturating_sub(self.read);
        if unread > 0 {
            // Bytes were written to it that it has not read: have they landed in its
            // receive queue? All of them, up to what TCP's flow control lets through
            // before the reader reads (`LANDS_WHOLE`). (If the kernel will not say, do
            // not wait for what cannot be counted.)
            let queued = rustix::io::ioctl_fionread(&*socket).unwrap_or(unread);
            if queued < unread.min(LANDS_WHOLE) {
                return true;
            }
        }
        if self.peer_closed && !self.end_arrived {
            if unread > 0 && moment == Moment::BeforeRead {
                return false;
            }
            // With nothing queued, a peek tells whether the end has landed.
            if unread == 0 {
                match socket.peek(&mut [0u8; 1]) {
                    Ok(0) => self.end_arrived = true,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                    // Data after the end was announced, or an error: it has landed.
                    _ => self.end_arrived = true,
                }
                return false;
            }
            // Queued data hides the end behind it: only its event can tell.
            return true;
        }
        false
    }
}

/// Each case of the rule, staged by hand: the books say something was sent, and the
/// kernel has not carried it yet (because the test has not really sent it). While it
/// is owed the clock may not jump; once it lands, it may.
#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use super::*;

    fn key(index: u32) -> IoKey {
        IoKey {
            index,
            generation: 0,
        }
    }

    /// A listener and a connected pair of streams, booked as the runtime books them:
    /// `a` (key 1) connected to the listener (key 0), `b` (key 2) accepted from it.
    struct Staged {
        ledger: Ledger,
        listener: Arc<mio::net::TcpListener>,
        a: Arc<mio::net::TcpStream>,
        _b: Arc<mio::net::TcpStream>,
    }

    fn staged() -> Staged {
        let listener = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let listener = Arc::new(listener);
        let std_a = std::net::TcpStream::connect(addr).unwrap();
        let (std_b, _) = loop {
            match listener.accept() {
                Ok((b, peer)) => break (b, peer),
                Err(_) => std::thread::yield_now(),
            }
        };
        std_a.set_nonblocking(true).unwrap();
        let a = Arc::new(mio::net::TcpStream::from_std(std_a));
        let b = Arc::new(std_b);
        let mut ledger = Ledger::default();
        ledger.open_listener(key(0), Arc::downgrade(&listener), addr);
        let a_local = a.local_addr().unwrap();
        ledger.open_connecting(key(1), Arc::downgrade(&a), a_local, addr);
        ledger.open_accepted(
            key(0),
            key(2),
            Arc::downgrade(&b),
            (b.local_addr().unwrap(), a_local),
            true,
        );
        Staged {
            ledger,
            listener,
            a,
            _b: b,
        }
    }

    /// Waits, as the settle does, until nothing is owed.
    fn lands(ledger: &mut Ledger) -> bool {
        let started = std::time::Instant::now();
        loop {
            ledger.take_owed_connections();
            if !ledger.anything_owed() {
                return true;
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "it never landed"
            );
            std::thread::yield_now();
        }
    }

    #[test]
    fn nothing_in_flight_lets_the_clock_jump() {
        let mut staged = staged();
        assert!(
            !staged.ledger.anything_owed(),
            "a quiet connection owes nothing"
        );
        assert_eq!(staged.ledger.listeners[&key(0)].owed, 0);
    }

    #[test]
    fn bytes_in_flight_hold_the_clock_until_they_land() {
        let mut staged = staged();
        // The books say `a` wrote five bytes; the kernel has none of them yet.
        staged.ledger.wrote(key(1), 5);
        assert!(staged.ledger.anything_owed(), "the clock may not jump");
        (&*staged.a).write_all(b"hello").unwrap();
        assert!(lands(&mut staged.ledger));
        // Read by `b`, they are owed no more.
        staged.ledger.read(key(2), 5);
        assert!(!staged.ledger.anything_owed());
    }

    #[test]
    fn an_end_of_stream_in_flight_holds_the_clock_until_it_lands() {
        let mut staged = staged();
        staged.ledger.shut_write(key(1));
        assert!(staged.ledger.anything_owed(), "the clock may not jump");
        staged.a.shutdown(std::net::Shutdown::Write).unwrap();
        assert!(lands(&mut staged.ledger));
    }

    #[test]
    fn a_connection_owed_to_a_listener_holds_the_clock_until_it_is_taken() {
        let mut staged = staged();
        // The books say a stream connects to the listener; it has not, yet.
        let c =
            Arc::new(mio::net::TcpStream::connect(staged.listener.local_addr().unwrap()).unwrap());
        let c_local = c.local_addr().unwrap();
        let addr = staged.listener.local_addr().unwrap();
        // Booked before the kernel is asked: a connect whose handshake is under way.
        staged
            .ledger
            .open_connecting(key(3), Arc::downgrade(&c), c_local, addr);
        assert_eq!(staged.ledger.listeners[&key(0)].owed, 1);
        assert!(staged.ledger.anything_owed(), "the clock may not jump");
        // Settling takes the connection out of the listener's queue, for its `accept`.
        assert!(lands(&mut staged.ledger));
        let (_taken, peer) = staged
            .ledger
            .take_accepted(key(0))
            .expect("taken for accept");
        assert_eq!(peer, c_local);
    }

    #[test]
    fn a_blocked_writer_is_owed_writable_once_its_reader_has_drained_it() {
        let mut staged = staged();
        staged.ledger.wrote(key(1), 3);
        (&*staged.a).write_all(b"abc").unwrap();
        assert!(lands(&mut staged.ledger));
        staged.ledger.would_block(key(1), Direction::Write);
        // Not drained yet: the kernel decides when "writable" comes; no promise.
        assert!(!staged.ledger.anything_owed());
        staged.ledger.read(key(2), 3);
        assert!(staged.ledger.anything_owed(), "writable is owed now");
        staged.ledger.saw_event(key(1), true, false, false);
        assert!(!staged.ledger.anything_owed());
    }
}
