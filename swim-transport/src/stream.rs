//! What the transports that sync over TCP share: opening and accepting a
//! sync stream, and handing a queued datagram to the caller's buffer.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

/// The largest datagram the UDP, TCP-only and io_uring transports carry
/// (the same for all, so the protocol packs the same): safe under the usual
/// 1500-byte MTU with IPv6 and UDP headers.
pub(crate) const MAX_DATAGRAM: usize = 1400;

/// How long a stream connection may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a TCP stream to `to`, within [`CONNECT_TIMEOUT`], without Nagle's
/// delay (sync frames are written whole).
pub(crate) async fn connect(to: SocketAddr) -> io::Result<TcpStream> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(to))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "stream connect timed out"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Accepts the next TCP stream on `listener`.
pub(crate) async fn accept(listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
    let (stream, peer) = listener.accept().await?;
    stream.set_nodelay(true)?;
    Ok((stream, peer))
}

/// Copies a received datagram into the caller's buffer (cut to its size,
/// as a UDP socket would); returns the length copied.
pub(crate) fn deliver(datagram: &[u8], buf: &mut [u8]) -> usize {
    let n = datagram.len().min(buf.len());
    if let (Some(dst), Some(src)) = (buf.get_mut(..n), datagram.get(..n)) {
        dst.copy_from_slice(src);
    }
    n
}
