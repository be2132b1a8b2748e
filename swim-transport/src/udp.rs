//! UDP for datagrams, TCP on the same port number for streams.

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream, UdpSocket};

use crate::Transport;

/// The default transport: a UDP socket for probes and gossip, and a TCP
/// listener on the same port for syncs.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use swim_transport::{Transport, udp::UdpTransport};
/// let transport = UdpTransport::bind("127.0.0.1:0".parse().unwrap()).await?;
/// println!("listening on {}", transport.local_addr());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct UdpTransport {
    socket: UdpSocket,
    listener: TcpListener,
    local: SocketAddr,
}

impl UdpTransport {
    /// Binds both sockets. With port 0, a port free for both UDP and TCP is
    /// chosen.
    pub async fn bind(addr: SocketAddr) -> io::Result<Self> {
        let attempts = if addr.port() == 0 { 16 } else { 1 };
        let mut last = None;
        for _ in 0..attempts {
            let socket = UdpSocket::bind(addr).await?;
            let local = socket.local_addr()?;
            match TcpListener::bind(local).await {
                Ok(listener) => return Ok(UdpTransport { socket, listener, local }),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::AddrInUse, "no port free for both UDP and TCP")))
    }
}

impl Transport for UdpTransport {
    type Stream = TcpStream;

    fn local_addr(&self) -> SocketAddr {
        self.local
    }

    fn max_datagram_size(&self) -> usize {
        crate::stream::MAX_DATAGRAM
    }

    async fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<()> {
        match self.socket.send_to(data, to).await {
            Ok(_) => Ok(()),
            // ICMP errors from earlier sends surface here; the peer is just unreachable.
            Err(e) if matches!(e.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        loop {
            match self.socket.recv_from(buf).await {
                Ok(received) => return Ok(received),
                // An ICMP "port unreachable" for an earlier send: not a datagram.
                Err(e) if matches!(e.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset) => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn connect(&self, to: SocketAddr) -> impl std::future::Future<Output = io::Result<TcpStream>> + Send + 'static {
        // Not borrowing `self` (see the trait).
        crate::stream::connect(to)
    }

    async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        crate::stream::accept(&self.listener).await
    }
}
