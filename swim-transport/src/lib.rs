//! Transports for the swim membership protocol.
//!
//! The protocol needs two things from a network: unreliable datagrams (probes
//! and gossip) and, now and then, a reliable byte stream to one peer (sync
//! and join exchanges). [`Transport`] is that contract; this crate provides:
//!
//! - [`udp::UdpTransport`]: UDP datagrams, with a TCP listener on the same
//!   port for streams. The default.
//! - `quic::QuicTransport` (feature `quic`, on by default): QUIC (quinn)
//!   with mutual TLS (rustls): probes as QUIC datagrams, syncs as
//!   bidirectional streams, and only members holding a certificate signed
//!   by the cluster's CA get in (module `tls`).
//! - `memory::MemoryNetwork` (feature `test-util`): an in-process network
//!   for tests.
//! - `faults::Faults` (feature `test-util`): a wrapper that loses, delays
//!   and duplicates datagrams, for tests and experiments.
//!
//! Without the `quic` feature the crate builds none of quinn, rustls or
//! rcgen.
//!
//! A user with another network (a mesh, a relay, a simulator) implements
//! [`Transport`] in their own crate and hands it to the `swim` builder.
#![forbid(unsafe_code)]

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite};

#[cfg(feature = "test-util")]
pub mod faults;
#[cfg(feature = "test-util")]
pub mod memory;
#[cfg(feature = "quic")]
pub mod quic;
mod stream;
pub mod tcp;
#[cfg(feature = "quic")]
pub mod tls;
pub mod udp;
#[cfg(all(feature = "io-uring", target_os = "linux"))]
pub mod uring;

/// A network the protocol runs over.
///
/// Datagrams may be lost, duplicated or reordered (the protocol copes);
/// streams must be reliable and ordered. Addresses are whatever the
/// transport uses to name peers; members advertise theirs and the protocol
/// passes them back to [`send_to`](Transport::send_to) and
/// [`connect`](Transport::connect).
///
/// The runtime calls [`recv_from`](Transport::recv_from) and
/// [`accept`](Transport::accept) inside `tokio::select!`, so both must be
/// cancel-safe: dropping the future before it completes must not lose a
/// datagram or a stream.
///
/// A transport of your own, here one that wraps another and counts the
/// datagrams it sends:
///
/// ```
/// use std::io;
/// use std::net::SocketAddr;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use swim_transport::Transport;
///
/// struct Counting<T> {
///     inner: T,
///     sent: AtomicU64,
/// }
///
/// impl<T: Transport> Transport for Counting<T> {
///     type Stream = T::Stream;
///     fn local_addr(&self) -> SocketAddr {
///         self.inner.local_addr()
///     }
///     fn max_datagram_size(&self) -> usize {
///         self.inner.max_datagram_size()
///     }
///     async fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<()> {
///         self.sent.fetch_add(1, Ordering::Relaxed);
///         self.inner.send_to(data, to).await
///     }
///     async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
///         self.inner.recv_from(buf).await
///     }
///     fn connect(&self, to: SocketAddr) -> impl Future<Output = io::Result<T::Stream>> + Send + 'static {
///         self.inner.connect(to)
///     }
///     async fn accept(&self) -> io::Result<(T::Stream, SocketAddr)> {
///         self.inner.accept().await
///     }
/// }
/// ```
pub trait Transport: Send + Sync + 'static {
    /// A reliable, ordered byte stream to one peer.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// The address peers reach this transport at.
    fn local_addr(&self) -> SocketAddr;

    /// The largest datagram this transport carries.
    fn max_datagram_size(&self) -> usize;

    /// Whether the transport itself vouches for every peer it delivers
    /// from: mutual TLS (QUIC), or an in-process network nothing outside
    /// can reach. The runtime then does not insist on encryption keys for
    /// members on non-loopback addresses. The default, `false`, is right
    /// for anything a datagram from the network can reach.
    fn vouches_for_peers(&self) -> bool {
        false
    }

    /// Whether the transport proves each peer's member name (QUIC: every
    /// certificate names its member). The runtime then checks the name
    /// every datagram and sync frame gives for its sender with
    /// [`peer_is`](Transport::peer_is), and members move to another address
    /// only on their own word (`security.names_proven`).
    fn proves_names(&self) -> bool {
        false
    }

    /// Whether the peer at `peer` (a datagram's sender, a stream's other
    /// end) proved it is the member named `name`. Asked only when
    /// [`proves_names`](Transport::proves_names) is true.
    fn peer_is(&self, peer: SocketAddr, name: &[u8]) -> bool {
        let _ = (peer, name);
        true
    }

    /// Sends one datagram (best effort: an unreachable peer is not an error).
    fn send_to(&self, data: &[u8], to: SocketAddr) -> impl Future<Output = io::Result<()>> + Send;

    /// Receives one datagram into `buf`; returns its length and sender.
    /// Must be cancel-safe.
    fn recv_from(&self, buf: &mut [u8]) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + Send;

    /// Opens a stream to `to`. The future must not borrow the transport (it
    /// runs beside the protocol loop).
    fn connect(&self, to: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send + 'static;

    /// Waits for a peer to open a stream; returns it and the peer's address.
    /// Must be cancel-safe.
    fn accept(&self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send;
}
