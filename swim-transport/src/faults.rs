//! Fault injection for tests and experiments: a transport wrapper that
//! loses, delays (with jitter, hence reorders) and duplicates the datagrams
//! it sends, and cuts it off from chosen peers (a partition). Streams pass
//! through unchanged, except that none is opened to a peer cut off.
//!
//! Use it where the kernel cannot help: this project's test machines have no
//! `netem` queueing discipline, so latency is injected here, while loss and
//! partitions between network namespaces are made with iptables. The faults
//! can be changed while the member runs through [`FaultControl`].
//!
//! Delayed datagrams are queued for one background task per wrapper; this is
//! a testing tool and allocates per delayed datagram.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::Transport;

/// The faults applied to sent datagrams.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaultConfig {
    /// Probability that a datagram is dropped.
    pub loss: f64,
    /// Delay added to every datagram.
    pub delay: Duration,
    /// Extra delay, uniform in `[0, jitter]`.
    pub jitter: Duration,
    /// Probability that a datagram is sent twice.
    pub duplicate: f64,
}

/// Changes a [`Faults`] wrapper's faults while it runs.
#[derive(Debug, Clone)]
pub struct FaultControl {
    state: Arc<Mutex<State>>,
}

impl FaultControl {
    /// Replaces the faults.
    pub fn set(&self, config: FaultConfig) {
        self.state.lock().config = config;
    }

    /// The faults in force.
    pub fn get(&self) -> FaultConfig {
        self.state.lock().config
    }

    /// Datagrams dropped so far (lost at random, or to or from a peer cut
    /// off).
    pub fn dropped(&self) -> u64 {
        self.state.lock().dropped
    }

    /// Cuts the member off from `peers` (their transport addresses), on
    /// top of any peers cut off already: datagrams to and from them are
    /// dropped and streams to them refused with
    /// [`ConnectionRefused`](io::ErrorKind::ConnectionRefused). Streams
    /// they open are not told apart (their source port is not the peer's
    /// address), so cut both sides off from each other for a clean
    /// partition; [`heal`](Self::heal) ends it.
    ///
    /// ```no_run
    /// # fn demo(a: swim_transport::faults::FaultControl, b: swim_transport::faults::FaultControl,
    /// #         a_addr: std::net::SocketAddr, b_addr: std::net::SocketAddr) {
    /// a.cut_off([b_addr]);
    /// b.cut_off([a_addr]);
    /// // ... later
    /// a.heal();
    /// b.heal();
    /// # }
    /// ```
    pub fn cut_off(&self, peers: impl IntoIterator<Item = SocketAddr>) {
        self.state.lock().cut_off.extend(peers);
    }

    /// Reconnects the member to every peer [`cut_off`](Self::cut_off) cut
    /// it off from.
    pub fn heal(&self) {
        self.state.lock().cut_off.clear();
    }

    /// Whether the member is cut off from `peer`.
    pub fn is_cut_off(&self, peer: SocketAddr) -> bool {
        self.state.lock().cut_off.contains(&peer)
    }
}

#[derive(Debug)]
struct State {
    config: FaultConfig,
    rng: u64,
    dropped: u64,
    cut_off: HashSet<SocketAddr>,
}

impl State {
    fn unit(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }
}

type Delayed = (Instant, Vec<u8>, SocketAddr);
/// A datagram waiting for its time: when, arrival order, where, what.
type Queued = Reverse<(Instant, u64, SocketAddr, Vec<u8>)>;

/// A transport whose sent datagrams suffer [`FaultConfig`]'s faults.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use std::time::Duration;
/// use swim_transport::faults::{FaultConfig, Faults};
/// use swim_transport::udp::UdpTransport;
///
/// let udp = UdpTransport::bind("127.0.0.1:0".parse().unwrap()).await?;
/// let wan = FaultConfig { loss: 0.05, delay: Duration::from_millis(40), jitter: Duration::from_millis(10), duplicate: 0.0 };
/// let (transport, control) = Faults::new(udp, wan, 7);
/// // ... start a member over `transport`; later, heal the link:
/// control.set(FaultConfig::default());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Faults<T> {
    inner: Arc<T>,
    state: Arc<Mutex<State>>,
    delayed: mpsc::UnboundedSender<Delayed>,
    task: JoinHandle<()>,
}

impl<T> Drop for Faults<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<T: Transport> Faults<T> {
    /// Wraps `inner`; `seed` makes the drawn faults repeatable.
    pub fn new(inner: T, config: FaultConfig, seed: u64) -> (Self, FaultControl) {
        let inner = Arc::new(inner);
        let state = Arc::new(Mutex::new(State { config, rng: seed | 1, dropped: 0, cut_off: HashSet::new() }));
        let (delayed, queue) = mpsc::unbounded_channel();
        let task = tokio::spawn(deliver_later(Arc::clone(&inner), queue));
        let control = FaultControl { state: Arc::clone(&state) };
        (Faults { inner, state, delayed, task }, control)
    }
}

/// Sends delayed datagrams when their time comes.
async fn deliver_later<T: Transport>(inner: Arc<T>, mut queue: mpsc::UnboundedReceiver<Delayed>) {
    let mut pending: BinaryHeap<Queued> = BinaryHeap::new();
    let mut order = 0u64;
    loop {
        let next = pending.peek().map(|Reverse((at, ..))| *at);
        tokio::select! {
            received = queue.recv() => match received {
                Some((at, data, to)) => {
                    order += 1;
                    pending.push(Reverse((at, order, to, data)));
                }
                None => return,
            },
            () = async { if let Some(at) = next { tokio::time::sleep_until(at).await } }, if next.is_some() => {
                while let Some(Reverse((at, ..))) = pending.peek() {
                    if *at > Instant::now() {
                        break;
                    }
                    if let Some(Reverse((_, _, to, data))) = pending.pop() {
                        let _ = inner.send_to(&data, to).await;
                    }
                }
            }
        }
    }
}

impl<T: Transport> Transport for Faults<T> {
    type Stream = T::Stream;

    fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr()
    }

    fn max_datagram_size(&self) -> usize {
        self.inner.max_datagram_size()
    }

    fn vouches_for_peers(&self) -> bool {
        self.inner.vouches_for_peers()
    }

    fn proves_names(&self) -> bool {
        self.inner.proves_names()
    }

    fn peer_is(&self, peer: SocketAddr, name: &[u8]) -> bool {
        self.inner.peer_is(peer, name)
    }

    async fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<()> {
        let mut sends = [None, None];
        {
            let mut state = self.state.lock();
            let config = state.config;
            if state.cut_off.contains(&to) || state.unit() < config.loss {
                state.dropped += 1;
                return Ok(());
            }
            let copies = if state.unit() < config.duplicate { 2 } else { 1 };
            for send in sends.iter_mut().take(copies) {
                *send = Some(config.delay + config.jitter.mul_f64(state.unit()));
            }
        }
        for delay in sends.into_iter().flatten() {
            if delay.is_zero() {
                self.inner.send_to(data, to).await?;
            } else {
                let _ = self.delayed.send((Instant::now() + delay, data.to_vec(), to));
            }
        }
        Ok(())
    }

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        loop {
            let (len, from) = self.inner.recv_from(buf).await?;
            let mut state = self.state.lock();
            if !state.cut_off.contains(&from) {
                return Ok((len, from));
            }
            state.dropped += 1;
        }
    }

    fn connect(&self, to: SocketAddr) -> impl std::future::Future<Output = io::Result<T::Stream>> + Send + 'static {
        let refused = self.state.lock().cut_off.contains(&to);
        let connecting = (!refused).then(|| self.inner.connect(to));
        async move {
            match connecting {
                Some(connecting) => connecting.await,
                None => {
                    Err(io::Error::new(io::ErrorKind::ConnectionRefused, format!("{to} is cut off by fault injection")))
                }
            }
        }
    }

    async fn accept(&self) -> io::Result<(T::Stream, SocketAddr)> {
        self.inner.accept().await
    }
}
