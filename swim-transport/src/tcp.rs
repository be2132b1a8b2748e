//! TCP only: probes and gossip as framed messages over a small pool of
//! persistent TCP connections, syncs over TCP streams, all on one port. For
//! networks that block UDP.
//!
//! Every connection starts with a preamble: `swim`, a version byte, and a
//! kind. A *datagram* connection (`D`, then the sender's listening port)
//! carries frames one way, each a big-endian `u16` length and that many
//! bytes; a *stream* connection (`S`) is handed to [`accept`](Transport::accept)
//! as it is, for a sync. A frame's sender is the connection's peer IP with
//! the port its preamble gave: the same address a UDP datagram from that
//! member would show, and no way to speak for another host.
//!
//! Sending never waits for the network. Each peer has a writer task with a
//! bounded queue: it connects on the first datagram, writes what is queued,
//! and closes after `idle` without one. A datagram for a full queue, for a
//! peer whose connection failed, or beyond the pool's size, is dropped (the
//! protocol tolerates loss, not stalls), and counted in
//! [`TcpTransport::dropped`]. The pool holds at most `max_peers`
//! connections; a new peer past that closes the one used least recently.
//! Incoming: at most `max_incoming` connections at once, each with 5 s to
//! send its preamble (and to finish a frame it began), closed after `idle`
//! without a frame; a frame longer than the datagram size closes its
//! connection.
//!
//! What a stranger gets: the transport authenticates nothing (the member's
//! keys do, above it), so anyone who reaches the port can open connections.
//! Garbage is cut off at once and silence after `idle`, but a peer that
//! sends a frame more often than that can hold its slots: with all
//! `max_incoming` held, new peers are refused until some close and their
//! datagrams are lost, as under a UDP flood. A frame's sender is the
//! connection's IP with the port its preamble gives, so a stranger can
//! claim another member's address only from that member's host.
//!
//! Frames are copied into a buffer per datagram: this transport allocates
//! where the UDP one does not (the core still allocates nothing).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::Transport;
use crate::stream::MAX_DATAGRAM;

/// How long a connection may take to open, or to send its preamble.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// The first bytes of every connection.
const MAGIC: &[u8; 4] = b"swim";
/// The framing's version.
const VERSION: u8 = 1;
const KIND_DATAGRAMS: u8 = b'D';
const KIND_STREAM: u8 = b'S';

/// How a [`TcpTransport`] sizes its pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpOptions {
    /// Outgoing connections kept at once (one per peer recently sent to).
    pub max_peers: usize,
    /// Datagrams queued per peer while its connection opens or is busy.
    pub queue: usize,
    /// An outgoing connection with nothing to send for this long closes.
    pub idle: Duration,
    /// Incoming connections (datagram and stream) open at once.
    pub max_incoming: usize,
    /// Datagrams received and not yet taken by the member.
    pub inbox: usize,
}

impl Default for TcpOptions {
    /// 256 peers, 64 datagrams each, 60 s idle, 1,024 incoming, 1,024 in
    /// the inbox: a member probes one peer a period and gossips to a few,
    /// so a pool of 256 connections reaches every peer of a large cluster
    /// within minutes without holding a connection to each.
    fn default() -> Self {
        TcpOptions { max_peers: 256, queue: 64, idle: Duration::from_secs(60), max_incoming: 1024, inbox: 1024 }
    }
}

/// A peer's writer: its queue, and when it was last used.
#[derive(Debug)]
struct Peer {
    queue: mpsc::Sender<Bytes>,
    used: Instant,
    /// Tells this writer apart from a later one to the same peer.
    id: u64,
}

#[derive(Debug, Default)]
struct Pool {
    peers: HashMap<SocketAddr, Peer>,
    next_id: u64,
}

/// Probes, gossip and syncs over TCP only (see the module's documentation).
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use swim_transport::{Transport, tcp::{TcpOptions, TcpTransport}};
/// let transport = TcpTransport::bind("127.0.0.1:0".parse().unwrap(), TcpOptions::default()).await?;
/// println!("listening on {}", transport.local_addr());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TcpTransport {
    local: SocketAddr,
    options: TcpOptions,
    pool: Arc<Mutex<Pool>>,
    inbox: tokio::sync::Mutex<mpsc::Receiver<(Bytes, SocketAddr)>>,
    streams: tokio::sync::Mutex<mpsc::Receiver<(TcpStream, SocketAddr)>>,
    dropped: Arc<AtomicU64>,
    listener: JoinHandle<()>,
}

impl Drop for TcpTransport {
    fn drop(&mut self) {
        // Its readers go with it (they live in its JoinSet); the writers end
        // as their queues close with the pool.
        self.listener.abort();
    }
}

impl TcpTransport {
    /// Listens on `addr` (port 0: one the system chooses).
    pub async fn bind(addr: SocketAddr, options: TcpOptions) -> io::Result<Self> {
        if options.max_peers == 0 || options.queue == 0 || options.max_incoming == 0 || options.inbox == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "TcpOptions: every size must be at least 1"));
        }
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let (inbox_tx, inbox) = mpsc::channel(options.inbox);
        let (streams_tx, streams) = mpsc::channel(64);
        let dropped = Arc::new(AtomicU64::new(0));
        let incoming = Arc::new(Semaphore::new(options.max_incoming));
        let inbound =
            Inbound { inbox: inbox_tx, streams: streams_tx, dropped: Arc::clone(&dropped), idle: options.idle };
        let task = tokio::spawn(listen(listener, inbound, incoming));
        Ok(TcpTransport {
            local,
            options,
            pool: Arc::new(Mutex::new(Pool::default())),
            inbox: tokio::sync::Mutex::new(inbox),
            streams: tokio::sync::Mutex::new(streams),
            dropped,
            listener: task,
        })
    }

    /// Datagrams dropped so far: queues full, connections failed, pool
    /// overflow, inbox full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Outgoing connections in the pool now.
    pub fn peers(&self) -> usize {
        self.pool.lock().peers.len()
    }

    /// Queues `frame` for `to`, starting its writer if it has none.
    fn queue(&self, frame: Bytes, to: SocketAddr) {
        let mut pool = self.pool.lock();
        let now = Instant::now();
        let mut frame = frame;
        if let Some(peer) = pool.peers.get_mut(&to) {
            peer.used = now;
            match peer.queue.try_send(frame) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                // Its writer ended (idle, or its connection failed): a new one.
                Err(mpsc::error::TrySendError::Closed(f)) => {
                    frame = f;
                    pool.peers.remove(&to);
                }
            }
        }
        if pool.peers.len() >= self.options.max_peers {
            let oldest = pool.peers.iter().min_by_key(|(_, p)| p.used).map(|(addr, _)| *addr);
            if let Some(addr) = oldest {
                // Dropping its queue ends its writer once it has written it.
                pool.peers.remove(&addr);
            }
        }
        let (queue, rx) = mpsc::channel(self.options.queue);
        // A new channel has room for one (queue ≥ 1).
        let _ = queue.try_send(frame);
        pool.next_id += 1;
        let id = pool.next_id;
        pool.peers.insert(to, Peer { queue, used: now, id });
        let writer = Writer {
            to,
            port: self.local.port(),
            idle: self.options.idle,
            pool: Arc::downgrade(&self.pool),
            id,
            dropped: Arc::clone(&self.dropped),
        };
        tokio::spawn(writer.run(rx));
    }
}

/// Where incoming connections deliver, shared by every reader.
#[derive(Clone)]
struct Inbound {
    inbox: mpsc::Sender<(Bytes, SocketAddr)>,
    streams: mpsc::Sender<(TcpStream, SocketAddr)>,
    dropped: Arc<AtomicU64>,
    /// A datagram connection silent this long is closed.
    idle: Duration,
}

/// Reads exactly `buf.len()` bytes within `limit`.
async fn read_within<R: AsyncReadExt + Unpin>(stream: &mut R, buf: &mut [u8], limit: Duration) -> io::Result<()> {
    tokio::time::timeout(limit, stream.read_exact(buf))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the peer fell silent"))?
        .map(|_| ())
}

/// Accepts connections and reads their preambles.
async fn listen(listener: TcpListener, inbound: Inbound, incoming: Arc<Semaphore>) {
    let mut readers = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else {
                    // Out of file descriptors, most likely: give the
                    // connections closing a moment rather than spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                // Past the limit, the connection is closed at once.
                let Ok(permit) = Arc::clone(&incoming).try_acquire_owned() else { continue };
                let inbound = inbound.clone();
                readers.spawn(async move {
                    let _permit = permit;
                    let _ = serve(stream, peer, inbound).await;
                });
            }
            Some(_) = readers.join_next(), if !readers.is_empty() => {}
        }
    }
}

/// One incoming connection: its preamble, then its frames (or the stream
/// handed over whole). A preamble, and a frame once begun, must arrive
/// within [`HANDSHAKE_TIMEOUT`]; a datagram connection with no frame for
/// `idle` is closed, so that silent connections do not hold the incoming
/// slots.
async fn serve(mut stream: TcpStream, peer: SocketAddr, inbound: Inbound) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut head = [0u8; 6];
    read_within(&mut stream, &mut head, HANDSHAKE_TIMEOUT).await?;
    if &head[..4] != MAGIC || head[4] != VERSION {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "not a swim TCP connection"));
    }
    match head[5] {
        KIND_STREAM => {
            // The stream's own bytes follow; the runtime reads them.
            let _ = inbound.streams.send((stream, peer)).await;
            Ok(())
        }
        KIND_DATAGRAMS => {
            let mut port = [0u8; 2];
            read_within(&mut stream, &mut port, HANDSHAKE_TIMEOUT).await?;
            let from = SocketAddr::new(peer.ip(), u16::from_be_bytes(port));
            let mut stream = tokio::io::BufReader::new(stream);
            loop {
                let mut len = [0u8; 2];
                read_within(&mut stream, &mut len, inbound.idle).await?;
                let len = usize::from(u16::from_be_bytes(len));
                if len > MAX_DATAGRAM {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "frame larger than a datagram"));
                }
                let mut frame = BytesMut::zeroed(len);
                read_within(&mut stream, &mut frame, HANDSHAKE_TIMEOUT).await?;
                if inbound.inbox.try_send((frame.freeze(), from)).is_err() {
                    inbound.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        _ => Err(io::Error::new(io::ErrorKind::InvalidData, "unknown connection kind")),
    }
}

/// Writes one peer's queued datagrams over its connection.
struct Writer {
    to: SocketAddr,
    /// This member's listening port, for the preamble.
    port: u16,
    idle: Duration,
    pool: std::sync::Weak<Mutex<Pool>>,
    id: u64,
    dropped: Arc<AtomicU64>,
}

impl Writer {
    async fn run(self, mut queue: mpsc::Receiver<Bytes>) {
        if let Err(_e) = self.write(&mut queue).await {
            // What is still queued is lost with the connection.
            queue.close();
            let mut lost = 0;
            while queue.try_recv().is_ok() {
                lost += 1;
            }
            self.dropped.fetch_add(lost, Ordering::Relaxed);
        }
        if let Some(pool) = self.pool.upgrade() {
            let mut pool = pool.lock();
            if pool.peers.get(&self.to).is_some_and(|p| p.id == self.id) {
                pool.peers.remove(&self.to);
            }
        }
    }

    async fn write(&self, queue: &mut mpsc::Receiver<Bytes>) -> io::Result<()> {
        let mut stream = crate::stream::connect(self.to).await?;
        let mut out = Vec::with_capacity(8 * 1024);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[VERSION, KIND_DATAGRAMS]);
        out.extend_from_slice(&self.port.to_be_bytes());
        loop {
            // Everything queued goes out in one write.
            while let Ok(frame) = queue.try_recv() {
                push_frame(&mut out, &frame);
            }
            if !out.is_empty() {
                stream.write_all(&out).await?;
                out.clear();
            }
            match tokio::time::timeout(self.idle, queue.recv()).await {
                Ok(Some(frame)) => push_frame(&mut out, &frame),
                // Closed (evicted) or idle: done.
                Ok(None) | Err(_) => return Ok(()),
            }
        }
    }
}

fn push_frame(out: &mut Vec<u8>, frame: &[u8]) {
    // Frames are at most MAX_DATAGRAM (checked in send_to): the length fits.
    let len = u16::try_from(frame.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(frame);
}

impl Transport for TcpTransport {
    type Stream = TcpStream;

    fn local_addr(&self) -> SocketAddr {
        self.local
    }

    fn max_datagram_size(&self) -> usize {
        MAX_DATAGRAM
    }

    async fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<()> {
        if data.len() > MAX_DATAGRAM {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "datagram larger than max_datagram_size"));
        }
        self.queue(Bytes::copy_from_slice(data), to);
        Ok(())
    }

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let mut inbox = self.inbox.lock().await;
        let (frame, from) =
            inbox.recv().await.ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "the listener stopped"))?;
        Ok((crate::stream::deliver(&frame, buf), from))
    }

    // Not an `async fn`: the future must not borrow `self` (see the trait).
    #[allow(clippy::manual_async_fn)]
    fn connect(&self, to: SocketAddr) -> impl std::future::Future<Output = io::Result<TcpStream>> + Send + 'static {
        async move {
            let mut stream = crate::stream::connect(to).await?;
            let mut head = [0u8; 6];
            head[..4].copy_from_slice(MAGIC);
            head[4] = VERSION;
            head[5] = KIND_STREAM;
            stream.write_all(&head).await?;
            Ok(stream)
        }
    }

    async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let mut streams = self.streams.lock().await;
        streams.recv().await.ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "the listener stopped"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_secs(10);

    async fn bind(options: TcpOptions) -> TcpTransport {
        TcpTransport::bind("127.0.0.1:0".parse().unwrap(), options).await.unwrap()
    }

    async fn recv(t: &TcpTransport) -> (Vec<u8>, SocketAddr) {
        let mut buf = [0u8; MAX_DATAGRAM];
        let (len, from) = tokio::time::timeout(LIMIT, t.recv_from(&mut buf)).await.unwrap().unwrap();
        (buf[..len].to_vec(), from)
    }

    #[tokio::test]
    async fn datagrams_arrive_in_order_from_the_senders_listening_address() {
        let (a, b) = (bind(TcpOptions::default()).await, bind(TcpOptions::default()).await);
        // Fewer than a queue's worth while the connection opens.
        for i in 0..60u8 {
            a.send_to(&[i; 300], b.local_addr()).await.unwrap();
        }
        for i in 0..60u8 {
            assert_eq!(recv(&b).await, (vec![i; 300], a.local_addr()));
        }
        // The answer goes back over b's own connection to a.
        b.send_to(b"ack", a.local_addr()).await.unwrap();
        assert_eq!(recv(&a).await, (b"ack".to_vec(), b.local_addr()));
        assert_eq!((a.peers(), b.peers(), a.dropped()), (1, 1, 0));
        let too_big = [0u8; MAX_DATAGRAM + 1];
        assert_eq!(a.send_to(&too_big, b.local_addr()).await.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }

    #[tokio::test]
    async fn streams_share_the_port_and_carry_their_bytes() {
        let (a, b) = (bind(TcpOptions::default()).await, bind(TcpOptions::default()).await);
        let mut out = a.connect(b.local_addr()).await.unwrap();
        out.write_all(b"sync frame").await.unwrap();
        let (mut inbound, _) = tokio::time::timeout(LIMIT, b.accept()).await.unwrap().unwrap();
        let mut got = [0u8; 10];
        inbound.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"sync frame");
    }

    #[tokio::test]
    async fn strangers_oversized_frames_and_idle_peers_are_cut_off() {
        let options = TcpOptions { idle: Duration::from_millis(200), ..TcpOptions::default() };
        let (a, b) = (bind(options).await, bind(options).await);
        // Not a swim connection: closed, and nothing arrives.
        let mut stranger = TcpStream::connect(b.local_addr()).await.unwrap();
        stranger.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        let mut byte = [0u8; 1];
        let closed = tokio::time::timeout(LIMIT, stranger.read(&mut byte)).await.unwrap();
        assert!(matches!(closed, Ok(0) | Err(_)), "the stranger is disconnected");
        // A frame longer than a datagram closes its connection.
        let mut liar = TcpStream::connect(b.local_addr()).await.unwrap();
        liar.write_all(b"swim\x01D\x00\x07").await.unwrap();
        liar.write_all(&u16::MAX.to_be_bytes()).await.unwrap();
        let closed = tokio::time::timeout(LIMIT, liar.read(&mut byte)).await.unwrap();
        assert!(matches!(closed, Ok(0) | Err(_)), "the oversized frame's sender is disconnected");
        // A datagram connection that falls silent gives its slot back.
        let mut silent = TcpStream::connect(b.local_addr()).await.unwrap();
        silent.write_all(b"swim\x01D\x00\x07").await.unwrap();
        let closed = tokio::time::timeout(LIMIT, silent.read(&mut byte)).await.unwrap();
        assert!(matches!(closed, Ok(0) | Err(_)), "the silent peer is disconnected after idle");
        // The real peer still gets through, and its idle connection closes.
        a.send_to(b"hello", b.local_addr()).await.unwrap();
        assert_eq!(recv(&b).await.0, b"hello");
        let deadline = Instant::now() + LIMIT;
        while a.peers() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(a.peers(), 0, "the idle connection closed");
        a.send_to(b"again", b.local_addr()).await.unwrap();
        assert_eq!(recv(&b).await.0, b"again", "and opens again on demand");
    }

    #[tokio::test]
    async fn the_pool_is_bounded_and_sends_to_the_unreachable_drop_without_waiting() {
        let options = TcpOptions { max_peers: 2, queue: 2, ..TcpOptions::default() };
        let a = bind(options).await;
        let peers = [bind(options).await, bind(options).await, bind(options).await];
        for p in &peers {
            a.send_to(b"x", p.local_addr()).await.unwrap();
        }
        assert_eq!(a.peers(), 2, "the least recently used connection made room");
        // A port nobody listens on: the sends return at once and are counted
        // as dropped once the connection is refused.
        let gone = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let started = std::time::Instant::now();
        for _ in 0..10 {
            a.send_to(b"lost", gone).await.unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(1), "sending never waits for the network");
        let deadline = Instant::now() + LIMIT;
        while a.dropped() < 10 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Two fit the queue and were lost with the connection; the rest found
        // it full.
        assert_eq!(a.dropped(), 10);
        assert!(TcpTransport::bind("127.0.0.1:0".parse().unwrap(), TcpOptions { queue: 0, ..options }).await.is_err());
    }
}
