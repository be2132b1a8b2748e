//! An in-process network for tests: datagrams through bounded channels
//! (dropped when a queue is full, like UDP), streams as in-memory pipes.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::io::DuplexStream;
use tokio::sync::mpsc;

use crate::Transport;

/// Datagrams queued per endpoint before new ones are dropped.
const QUEUE: usize = 1024;
/// Bytes buffered in each direction of a stream.
const PIPE: usize = 256 * 1024;

type Datagram = (Vec<u8>, SocketAddr);

#[derive(Debug)]
struct Endpoint {
    datagrams: mpsc::Sender<Datagram>,
    streams: mpsc::Sender<(DuplexStream, SocketAddr)>,
}

/// A network that endpoints bind to by address.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
/// use swim_transport::{Transport, memory::MemoryNetwork};
/// let net = MemoryNetwork::new();
/// let a = net.bind("10.0.0.1:1".parse().unwrap())?;
/// let b = net.bind("10.0.0.2:1".parse().unwrap())?;
/// a.send_to(b"hi", b.local_addr()).await?;
/// let mut buf = [0u8; 16];
/// let (len, from) = b.recv_from(&mut buf).await?;
/// assert_eq!((&buf[..len], from), (&b"hi"[..], a.local_addr()));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryNetwork {
    endpoints: Arc<Mutex<HashMap<SocketAddr, Endpoint>>>,
}

impl MemoryNetwork {
    /// An empty network.
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds an endpoint at `addr` (refused if it is taken).
    pub fn bind(&self, addr: SocketAddr) -> io::Result<MemoryTransport> {
        let mut endpoints = self.endpoints.lock();
        if endpoints.contains_key(&addr) {
            return Err(io::Error::new(io::ErrorKind::AddrInUse, format!("{addr} is taken")));
        }
        let (datagrams, datagram_rx) = mpsc::channel(QUEUE);
        let (streams, stream_rx) = mpsc::channel(16);
        endpoints.insert(addr, Endpoint { datagrams, streams });
        Ok(MemoryTransport {
            network: self.clone(),
            local: addr,
            datagrams: tokio::sync::Mutex::new(datagram_rx),
            streams: tokio::sync::Mutex::new(stream_rx),
        })
    }
}

/// One endpoint of a [`MemoryNetwork`]; unbinds when dropped.
#[derive(Debug)]
pub struct MemoryTransport {
    network: MemoryNetwork,
    local: SocketAddr,
    datagrams: tokio::sync::Mutex<mpsc::Receiver<Datagram>>,
    streams: tokio::sync::Mutex<mpsc::Receiver<(DuplexStream, SocketAddr)>>,
}

impl Drop for MemoryTransport {
    fn drop(&mut self) {
        self.network.endpoints.lock().remove(&self.local);
    }
}

impl Transport for MemoryTransport {
    type Stream = DuplexStream;

    fn local_addr(&self) -> SocketAddr {
        self.local
    }

    fn max_datagram_size(&self) -> usize {
        1400
    }

    /// Only endpoints of the same in-process network can send to it.
    fn vouches_for_peers(&self) -> bool {
        true
    }

    async fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<()> {
        let sender = self.network.endpoints.lock().get(&to).map(|e| e.datagrams.clone());
        if let Some(sender) = sender {
            // A full queue drops the datagram, as a busy UDP socket would.
            let _ = sender.try_send((data.to_vec(), self.local));
        }
        Ok(())
    }

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let mut rx = self.datagrams.lock().await;
        let (data, from) = rx.recv().await.ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "unbound"))?;
        let len = data.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..len), data.get(..len)) {
            dst.copy_from_slice(src);
        }
        Ok((len, from))
    }

    fn connect(&self, to: SocketAddr) -> impl std::future::Future<Output = io::Result<DuplexStream>> + Send + 'static {
        let target = self.network.endpoints.lock().get(&to).map(|e| e.streams.clone());
        let local = self.local;
        async move {
            let target = target.ok_or_else(|| io::Error::new(io::ErrorKind::ConnectionRefused, "nobody there"))?;
            let (mine, theirs) = tokio::io::duplex(PIPE);
            target.send((theirs, local)).await.map_err(|_| io::Error::new(io::ErrorKind::ConnectionRefused, "gone"))?;
            Ok(mine)
        }
    }

    async fn accept(&self) -> io::Result<(DuplexStream, SocketAddr)> {
        let mut rx = self.streams.lock().await;
        rx.recv().await.ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "unbound"))
    }
}
