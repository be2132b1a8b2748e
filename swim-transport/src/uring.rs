//! UDP on io_uring (Linux, feature `io-uring`): the datagrams go through a
//! ring driven by `tokio-uring` on a thread of the transport's own, TCP
//! streams for syncs as in [`UdpTransport`](crate::udp::UdpTransport).
//!
//! `tokio-uring` runs its own single-threaded runtime, whose sockets cannot
//! leave it, so the member's task and the ring thread meet through two
//! bounded queues: datagrams to send (a full queue drops the datagram, as a
//! full socket buffer would) and datagrams received. Buffers go round
//! between them and are reused.
//!
//! Whether it pays is measured, not assumed: `cargo xtask bench udp
//! --transport uring` against the default (see `docs/results/` and the
//! README's benchmark table).

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::Transport;
use crate::stream::MAX_DATAGRAM;

/// Receive buffers: a little more than the largest datagram, so that the
/// member still sees a longer one as too long (cut short, as a UDP socket
/// cuts it into the member's buffer), while a flood queues at most `QUEUE`
/// buffers of this size.
const RECV_BUFFER: usize = 2048;
/// Datagrams queued each way.
const QUEUE: usize = 1024;
/// Buffers kept for reuse.
const SPARE: usize = 256;

/// Buffers waiting to be reused.
#[derive(Debug, Default)]
struct Spare(Mutex<Vec<Vec<u8>>>);

impl Spare {
    fn take(&self, size: usize) -> Vec<u8> {
        let mut buf = self.0.lock().pop().unwrap_or_default();
        buf.clear();
        buf.resize(size, 0);
        buf
    }

    fn give(&self, buf: Vec<u8>) {
        let mut spare = self.0.lock();
        if spare.len() < SPARE {
            spare.push(buf);
        }
    }
}

/// UDP through io_uring, TCP for streams (see the module's documentation).
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use swim_transport::{Transport, uring::UringUdpTransport};
/// let transport = UringUdpTransport::bind("127.0.0.1:0".parse().unwrap()).await?;
/// println!("listening on {}", transport.local_addr());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct UringUdpTransport {
    local: SocketAddr,
    listener: TcpListener,
    outgoing: mpsc::Sender<(Vec<u8>, SocketAddr)>,
    incoming: tokio::sync::Mutex<mpsc::Receiver<(Vec<u8>, usize, SocketAddr)>>,
    spare: Arc<Spare>,
    dropped: Arc<AtomicU64>,
}

impl UringUdpTransport {
    /// Binds the UDP socket and the TCP listener (with port 0, a port free
    /// for both) and starts the ring's thread. Fails with the kernel's
    /// reason where io_uring is not available (an old kernel, a container
    /// that forbids it, `kernel.io_uring_disabled`).
    pub async fn bind(addr: SocketAddr) -> io::Result<Self> {
        // Ask the kernel first, for a clear error rather than a panic in
        // the ring's thread.
        io_uring::IoUring::new(4).map_err(|e| io::Error::new(e.kind(), format!("io_uring is not available: {e}")))?;
        let attempts = if addr.port() == 0 { 16 } else { 1 };
        let mut last = None;
        for _ in 0..attempts {
            let socket = std::net::UdpSocket::bind(addr)?;
            let local = socket.local_addr()?;
            match TcpListener::bind(local).await {
                Ok(listener) => return Self::start(socket, local, listener),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::AddrInUse, "no port free for both UDP and TCP")))
    }

    fn start(socket: std::net::UdpSocket, local: SocketAddr, listener: TcpListener) -> io::Result<Self> {
        let (outgoing, to_send) = mpsc::channel(QUEUE);
        let (received, incoming) = mpsc::channel(QUEUE);
        let spare = Arc::new(Spare::default());
        let dropped = Arc::new(AtomicU64::new(0));
        let ring = Ring { socket, to_send, received, spare: Arc::clone(&spare), dropped: Arc::clone(&dropped) };
        std::thread::Builder::new().name(format!("swim-uring-{}", local.port())).spawn(move || ring.run())?;
        Ok(UringUdpTransport { local, listener, outgoing, incoming: tokio::sync::Mutex::new(incoming), spare, dropped })
    }

    /// Datagrams dropped: the send queue full, or the receive queue full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The ring's thread: what it owns.
struct Ring {
    socket: std::net::UdpSocket,
    to_send: mpsc::Receiver<(Vec<u8>, SocketAddr)>,
    received: mpsc::Sender<(Vec<u8>, usize, SocketAddr)>,
    spare: Arc<Spare>,
    dropped: Arc<AtomicU64>,
}

impl Ring {
    /// Runs until the transport is dropped (its send queue closes).
    fn run(self) {
        let Ring { socket, mut to_send, received, spare, dropped } = self;
        tokio_uring::start(async move {
            let socket = Rc::new(tokio_uring::net::UdpSocket::from_std(socket));
            let receiver = Rc::clone(&socket);
            let (spare_in, dropped_in) = (Arc::clone(&spare), Arc::clone(&dropped));
            let receiving = tokio_uring::spawn(async move {
                loop {
                    let buf = spare_in.take(RECV_BUFFER);
                    let (result, buf) = receiver.recv_from(buf).await;
                    match result {
                        Ok((len, from)) => match received.try_send((buf, len, from)) {
                            Ok(()) => {}
                            Err(mpsc::error::TrySendError::Full((buf, ..))) => {
                                dropped_in.fetch_add(1, Ordering::Relaxed);
                                spare_in.give(buf);
                            }
                            Err(mpsc::error::TrySendError::Closed(_)) => return,
                        },
                        // ICMP errors of earlier sends and the like: not datagrams.
                        Err(_) => spare_in.give(buf),
                    }
                }
            });
            while let Some((buf, to)) = to_send.recv().await {
                let (_sent, buf) = socket.send_to(buf, to).await;
                spare.give(buf);
            }
            receiving.abort();
        });
    }
}

impl Transport for UringUdpTransport {
    type Stream = TcpStream;

    fn local_addr(&self) -> SocketAddr {
        self.local
    }

    fn max_datagram_size(&self) -> usize {
        MAX_DATAGRAM
    }

    async fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<()> {
        let mut buf = self.spare.take(0);
        buf.extend_from_slice(data);
        if self.outgoing.try_send((buf, to)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let mut incoming = self.incoming.lock().await;
        let (data, len, from) =
            incoming.recv().await.ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "the ring stopped"))?;
        let n = crate::stream::deliver(data.get(..len).unwrap_or_default(), buf);
        self.spare.give(data);
        Ok((n, from))
    }

    fn connect(&self, to: SocketAddr) -> impl std::future::Future<Output = io::Result<TcpStream>> + Send + 'static {
        // Not borrowing `self` (see the trait).
        crate::stream::connect(to)
    }

    async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        crate::stream::accept(&self.listener).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn datagrams_and_streams_go_through() {
        let bind = || UringUdpTransport::bind("127.0.0.1:0".parse().unwrap());
        let (a, b) = (bind().await.unwrap(), bind().await.unwrap());
        for i in 0..50u8 {
            a.send_to(&[i; 1000], b.local_addr()).await.unwrap();
        }
        let mut buf = [0u8; 2000];
        let mut got = Vec::new();
        while got.len() < 50 {
            let (len, from) =
                tokio::time::timeout(Duration::from_secs(10), b.recv_from(&mut buf)).await.unwrap().unwrap();
            assert_eq!((len, from), (1000, a.local_addr()));
            got.push(buf[0]);
        }
        got.sort_unstable();
        assert_eq!(got, (0..50).collect::<Vec<u8>>(), "every datagram, once (loopback loses none)");
        assert_eq!(a.dropped() + b.dropped(), 0);
        b.send_to(b"back", a.local_addr()).await.unwrap();
        let (len, from) = tokio::time::timeout(Duration::from_secs(10), a.recv_from(&mut buf)).await.unwrap().unwrap();
        assert_eq!((&buf[..len], from), (&b"back"[..], b.local_addr()));

        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut out = a.connect(b.local_addr()).await.unwrap();
        out.write_all(b"sync").await.unwrap();
        let (mut inbound, _) = b.accept().await.unwrap();
        let mut four = [0u8; 4];
        inbound.read_exact(&mut four).await.unwrap();
        assert_eq!(&four, b"sync");
    }
}
