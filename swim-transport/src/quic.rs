//! QUIC with mutual TLS: probes and gossip as QUIC datagrams, syncs as
//! bidirectional streams, and only members presenting a certificate signed by
//! the cluster's CA can connect (see [`crate::tls`]).
//!
//! One endpoint serves and connects. Connections are kept per peer address
//! and reused; sending to a peer without one starts a handshake in the
//! background and queues a few datagrams meanwhile, so a send never waits on
//! a handshake (an unreachable peer must not stall the protocol). QUIC
//! datagrams are unreliable, like UDP, which is what probes need.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::Transport;
use crate::tls::{CLUSTER_SERVER_NAME, MemberIdentity, TlsError};

/// Datagrams received and not yet read before new ones are dropped.
const QUEUE: usize = 1024;
/// Datagrams held for a peer while its connection is being established.
const PENDING: usize = 16;
/// The largest datagram sent (QUIC datagrams must fit one packet; this
/// leaves room for QUIC's own headers under the minimum 1200-byte MTU).
const MAX_DATAGRAM: usize = 1100;

enum Peer {
    Connecting(Vec<Bytes>),
    Connected(quinn::Connection),
}

struct Inner {
    endpoint: quinn::Endpoint,
    local: SocketAddr,
    peers: Mutex<HashMap<SocketAddr, Peer>>,
    datagrams_tx: mpsc::Sender<(Bytes, SocketAddr)>,
    datagrams_rx: tokio::sync::Mutex<mpsc::Receiver<(Bytes, SocketAddr)>>,
    streams_tx: mpsc::Sender<(QuicStream, SocketAddr)>,
    streams_rx: tokio::sync::Mutex<mpsc::Receiver<(QuicStream, SocketAddr)>>,
    refused: std::sync::atomic::AtomicU64,
    /// Handshakes of incoming connections in progress.
    handshaking: std::sync::atomic::AtomicUsize,
    /// Incoming connection attempts seen.
    incoming: std::sync::atomic::AtomicU64,
    /// The member name each connection's certificate was found to carry.
    names: Mutex<HashMap<SocketAddr, (usize, Vec<u8>)>>,
}

/// The QUIC transport.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use swim_transport::{Transport, quic::QuicTransport, tls::ClusterCa};
/// let ca = ClusterCa::generate("prod")?;
/// let transport = QuicTransport::bind("127.0.0.1:0".parse()?, &ca.issue("node-a")?).await?;
/// println!("QUIC on {}", transport.local_addr());
/// # Ok(()) }
/// ```
pub struct QuicTransport {
    inner: Arc<Inner>,
    accept_loop: JoinHandle<()>,
}

impl std::fmt::Debug for QuicTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuicTransport").field("local", &self.inner.local).finish_non_exhaustive()
    }
}

impl Drop for QuicTransport {
    fn drop(&mut self) {
        self.accept_loop.abort();
        self.inner.endpoint.close(0u32.into(), b"shutdown");
    }
}

/// Why a QUIC transport could not start.
#[derive(Debug)]
pub enum QuicError {
    /// The TLS material is unusable.
    Tls(TlsError),
    /// The socket could not be bound.
    Io(io::Error),
}

impl std::fmt::Display for QuicError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QuicError::Tls(e) => write!(f, "TLS: {e}"),
            QuicError::Io(e) => write!(f, "binding the QUIC endpoint: {e}"),
        }
    }
}

impl std::error::Error for QuicError {}

fn transport_config() -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(Duration::from_secs(5)));
    // A dead peer's connection goes away; the next send reconnects.
    t.max_idle_timeout(Some(quinn::IdleTimeout::from(quinn::VarInt::from_u32(30_000))));
    t.datagram_receive_buffer_size(Some(1 << 20));
    Arc::new(t)
}

impl QuicTransport {
    /// Binds a QUIC endpoint at `addr` with this member's identity.
    pub async fn bind(addr: SocketAddr, identity: &MemberIdentity) -> Result<Self, QuicError> {
        let server_tls = QuicServerConfig::try_from(identity.server_config().map_err(QuicError::Tls)?)
            .map_err(|e| QuicError::Io(io::Error::other(e.to_string())))?;
        let client_tls = QuicClientConfig::try_from(identity.client_config().map_err(QuicError::Tls)?)
            .map_err(|e| QuicError::Io(io::Error::other(e.to_string())))?;
        let mut server = quinn::ServerConfig::with_crypto(Arc::new(server_tls));
        server.transport_config(transport_config());
        let mut client = quinn::ClientConfig::new(Arc::new(client_tls));
        client.transport_config(transport_config());
        let mut endpoint = quinn::Endpoint::server(server, addr).map_err(QuicError::Io)?;
        endpoint.set_default_client_config(client);
        let local = endpoint.local_addr().map_err(QuicError::Io)?;
        let (datagrams_tx, datagrams_rx) = mpsc::channel(QUEUE);
        let (streams_tx, streams_rx) = mpsc::channel(16);
        let inner = Arc::new(Inner {
            endpoint,
            local,
            peers: Mutex::new(HashMap::new()),
            datagrams_tx,
            datagrams_rx: tokio::sync::Mutex::new(datagrams_rx),
            streams_tx,
            streams_rx: tokio::sync::Mutex::new(streams_rx),
            refused: std::sync::atomic::AtomicU64::new(0),
            handshaking: std::sync::atomic::AtomicUsize::new(0),
            incoming: std::sync::atomic::AtomicU64::new(0),
            names: Mutex::new(HashMap::new()),
        });
        let accept_loop = tokio::spawn(accept_loop(Arc::clone(&inner)));
        Ok(QuicTransport { inner, accept_loop })
    }

    /// Handshakes refused so far: peers without a valid certificate, beyond
    /// [`MAX_HANDSHAKES`] at once, or slower than [`HANDSHAKE_TIMEOUT`].
    pub fn refused_handshakes(&self) -> u64 {
        self.inner.refused.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Incoming connection attempts seen so far.
    pub fn incoming_handshakes(&self) -> u64 {
        self.inner.incoming.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Most handshakes in progress at once: beyond, new ones are refused at
/// once (a flood of connection attempts costs a member little memory and no
/// signatures; members retry, and connections last).
pub const MAX_HANDSHAKES: usize = 64;
/// How long an incoming handshake may take: one that stalls gives its place
/// back after this, not after the idle timeout.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Accepts incoming connections; a peer whose certificate the cluster's CA
/// did not sign fails the handshake and is counted, as is an attempt beyond
/// [`MAX_HANDSHAKES`].
async fn accept_loop(inner: Arc<Inner>) {
    use std::sync::atomic::Ordering;
    while let Some(incoming) = inner.endpoint.accept().await {
        inner.incoming.fetch_add(1, Ordering::Relaxed);
        if inner.handshaking.load(Ordering::Relaxed) >= MAX_HANDSHAKES {
            inner.refused.fetch_add(1, Ordering::Relaxed);
            incoming.refuse();
            continue;
        }
        inner.handshaking.fetch_add(1, Ordering::Relaxed);
        let inner = Arc::clone(&inner);
        tokio::spawn(async move {
            let outcome = tokio::time::timeout(HANDSHAKE_TIMEOUT, incoming).await;
            inner.handshaking.fetch_sub(1, Ordering::Relaxed);
            match outcome {
                Ok(Ok(connection)) => register(&inner, connection),
                Ok(Err(e)) => {
                    inner.refused.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(error = %e, "refused a QUIC handshake");
                }
                Err(_) => {
                    inner.refused.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("a QUIC handshake took too long");
                }
            }
        });
    }
}

/// Keeps a connection and starts reading its datagrams and streams.
fn register(inner: &Arc<Inner>, connection: quinn::Connection) {
    let peer = connection.remote_address();
    // A new connection at this address proves its name anew.
    inner.names.lock().remove(&peer);
    let queued = match inner.peers.lock().insert(peer, Peer::Connected(connection.clone())) {
        Some(Peer::Connecting(queued)) => queued,
        _ => Vec::new(),
    };
    for datagram in queued {
        let _ = connection.send_datagram(datagram);
    }
    let reader = Arc::clone(inner);
    let conn = connection.clone();
    tokio::spawn(async move {
        while let Ok(datagram) = conn.read_datagram().await {
            if reader.datagrams_tx.send((datagram, peer)).await.is_err() {
                break;
            }
        }
        forget(&reader, &conn);
    });
    let acceptor = Arc::clone(inner);
    tokio::spawn(async move {
        while let Ok((send, recv)) = connection.accept_bi().await {
            if acceptor.streams_tx.send((QuicStream { send, recv }, peer)).await.is_err() {
                break;
            }
        }
    });
}

/// Drops a closed connection from the table (unless it was replaced).
fn forget(inner: &Inner, connection: &quinn::Connection) {
    let peer = connection.remote_address();
    let mut peers = inner.peers.lock();
    if matches!(peers.get(&peer), Some(Peer::Connected(c)) if c.stable_id() == connection.stable_id()) {
        peers.remove(&peer);
        inner.names.lock().remove(&peer);
    }
}

/// A connection to `to`, established if needed.
async fn connection(inner: &Arc<Inner>, to: SocketAddr) -> io::Result<quinn::Connection> {
    if let Some(Peer::Connected(c)) = inner.peers.lock().get(&to) {
        return Ok(c.clone());
    }
    let connecting = inner.endpoint.connect(to, CLUSTER_SERVER_NAME).map_err(io::Error::other)?;
    let connection = connecting.await.map_err(|e| io::Error::new(io::ErrorKind::ConnectionRefused, e))?;
    register(inner, connection.clone());
    Ok(connection)
}

impl Transport for QuicTransport {
    type Stream = QuicStream;

    fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    fn max_datagram_size(&self) -> usize {
        MAX_DATAGRAM
    }

    /// Every peer presented a certificate of the cluster's CA.
    fn vouches_for_peers(&self) -> bool {
        true
    }

    /// Every certificate names its member.
    fn proves_names(&self) -> bool {
        true
    }

    fn peer_is(&self, peer: SocketAddr, name: &[u8]) -> bool {
        let connection = match self.inner.peers.lock().get(&peer) {
            Some(Peer::Connected(c)) => c.clone(),
            _ => return false,
        };
        let id = connection.stable_id();
        if let Some((proven_id, proven)) = self.inner.names.lock().get(&peer)
            && *proven_id == id
        {
            return proven.as_slice() == name;
        }
        let certs = connection.peer_identity().and_then(|i| i.downcast::<Vec<CertificateDer<'static>>>().ok());
        let Some(cert) = certs.as_deref().and_then(|c| c.first()) else { return false };
        let named = crate::tls::certificate_names(cert, name);
        if named {
            self.inner.names.lock().insert(peer, (id, name.to_vec()));
        }
        named
    }

    async fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<()> {
        let datagram = Bytes::copy_from_slice(data);
        let mut peers = self.inner.peers.lock();
        match peers.get_mut(&to) {
            Some(Peer::Connected(c)) => {
                if c.send_datagram(datagram).is_err() {
                    // Closed: forget it (and the name it proved); the next
                    // send reconnects.
                    peers.remove(&to);
                    self.inner.names.lock().remove(&to);
                }
            }
            Some(Peer::Connecting(queued)) => {
                if queued.len() < PENDING {
                    queued.push(datagram);
                }
            }
            None => {
                peers.insert(to, Peer::Connecting(vec![datagram]));
                drop(peers);
                let inner = Arc::clone(&self.inner);
                tokio::spawn(async move {
                    if let Err(e) = connection(&inner, to).await {
                        tracing::debug!(peer = %to, error = %e, "QUIC connection failed");
                        let mut peers = inner.peers.lock();
                        if matches!(peers.get(&to), Some(Peer::Connecting(_))) {
                            peers.remove(&to);
                        }
                    }
                });
            }
        }
        Ok(())
    }

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let mut rx = self.inner.datagrams_rx.lock().await;
        let (data, from) = rx.recv().await.ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "closed"))?;
        let len = data.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..len), data.get(..len)) {
            dst.copy_from_slice(src);
        }
        Ok((len, from))
    }

    fn connect(&self, to: SocketAddr) -> impl std::future::Future<Output = io::Result<QuicStream>> + Send + 'static {
        let inner = Arc::clone(&self.inner);
        async move {
            let connection = connection(&inner, to).await?;
            let (send, recv) = connection.open_bi().await.map_err(io::Error::other)?;
            Ok(QuicStream { send, recv })
        }
    }

    async fn accept(&self) -> io::Result<(QuicStream, SocketAddr)> {
        let mut rx = self.inner.streams_rx.lock().await;
        rx.recv().await.ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "closed"))
    }
}

/// A bidirectional QUIC stream as one byte stream.
#[derive(Debug)]
pub struct QuicStream {
    send: quinn::SendStream,
    recv: quinn::RecvStream,
}

impl AsyncRead for QuicStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.recv).poll_read(cx, buf)
    }
}

impl AsyncWrite for QuicStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        AsyncWrite::poll_write(Pin::new(&mut self.send), cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        AsyncWrite::poll_flush(Pin::new(&mut self.send), cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        AsyncWrite::poll_shutdown(Pin::new(&mut self.send), cx)
    }
}
