//! A transport written outside `swim-transport`, as a user's own crate
//! would: datagrams over UDP, and streams over TCP on the *next* port (as a
//! deployment with separate firewall rules for the two might want).

use std::io;
use std::net::SocketAddr;

use swim_transport::Transport;
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// UDP on `port`, TCP on `port + 1`.
#[derive(Debug)]
pub struct TwoPortTransport {
    udp: UdpSocket,
    tcp: TcpListener,
    local: SocketAddr,
}

impl TwoPortTransport {
    /// Binds UDP at `addr` and TCP one port above (port 0 picks a pair).
    pub async fn bind(addr: SocketAddr) -> io::Result<Self> {
        for _ in 0..32 {
            let udp = UdpSocket::bind(addr).await?;
            let local = udp.local_addr()?;
            let Some(next) = local.port().checked_add(1) else { continue };
            if let Ok(tcp) = TcpListener::bind(SocketAddr::new(local.ip(), next)).await {
                return Ok(TwoPortTransport { udp, tcp, local });
            }
            if addr.port() != 0 {
                break;
            }
        }
        Err(io::Error::new(io::ErrorKind::AddrInUse, "no free pair of ports"))
    }
}

fn stream_addr(peer: SocketAddr) -> SocketAddr {
    SocketAddr::new(peer.ip(), peer.port().wrapping_add(1))
}

impl Transport for TwoPortTransport {
    type Stream = TcpStream;

    fn local_addr(&self) -> SocketAddr {
        self.local
    }

    fn max_datagram_size(&self) -> usize {
        1200
    }

    async fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<()> {
        self.udp.send_to(data, to).await.map(drop)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.udp.recv_from(buf).await
    }

    fn connect(&self, to: SocketAddr) -> impl std::future::Future<Output = io::Result<TcpStream>> + Send + 'static {
        TcpStream::connect(stream_addr(to))
    }

    async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, from) = self.tcp.accept().await?;
        // Report the peer by its datagram address, one port below.
        Ok((stream, SocketAddr::new(from.ip(), from.port().wrapping_sub(1))))
    }
}

/// Wraps a transport and keeps a copy of every datagram it sends, as an
/// eavesdropper would (for replay tests).
#[derive(Debug)]
pub struct Recording<T> {
    inner: T,
    sent: Capture,
}

/// The datagrams a [`Recording`] transport sent (destination, bytes),
/// shared with the test.
pub type Capture = std::sync::Arc<parking_lot::Mutex<Vec<(SocketAddr, Vec<u8>)>>>;

impl<T> Recording<T> {
    /// Wraps `inner`; returns the wrapper and its capture.
    pub fn new(inner: T) -> (Self, Capture) {
        let sent = Capture::default();
        (Recording { inner, sent: sent.clone() }, sent)
    }
}

impl<T: Transport> Transport for Recording<T> {
    type Stream = T::Stream;

    fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr()
    }

    fn max_datagram_size(&self) -> usize {
        self.inner.max_datagram_size()
    }

    async fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<()> {
        self.sent.lock().push((to, data.to_vec()));
        self.inner.send_to(data, to).await
    }

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.recv_from(buf).await
    }

    fn connect(&self, to: SocketAddr) -> impl std::future::Future<Output = io::Result<T::Stream>> + Send + 'static {
        self.inner.connect(to)
    }

    async fn accept(&self) -> io::Result<(T::Stream, SocketAddr)> {
        self.inner.accept().await
    }
}
