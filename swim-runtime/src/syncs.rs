//! Sync streams, driven inside the member's task: connecting, writing the
//! frames the core produces, and reassembling the frames it receives (each a
//! 4-byte length and a packet). One [`Syncs::poll_event`] call makes progress
//! on every open stream, so the task needs no extra tasks or channels.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use swim_protocol::SyncId;
use swim_wire::frame;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

type Connecting<S> = Pin<Box<dyn Future<Output = io::Result<S>> + Send>>;

enum Conn<S> {
    Connecting(Connecting<S>),
    Open(S),
}

struct Slot<S> {
    id: SyncId,
    /// The other end's address.
    peer: SocketAddr,
    conn: Conn<S>,
    /// The frame being received.
    frames: frame::Reassembler,
    /// A complete frame waits in `frames` to be taken.
    frame_ready: bool,
    write: Vec<u8>,
    written: usize,
}

/// Progress on a sync stream.
#[derive(Debug)]
pub(crate) enum SyncEvent {
    /// The outgoing stream is connected: frames can be written.
    Connected(SyncId),
    /// A whole frame arrived ([`Syncs::frame`]).
    Frame(SyncId),
    /// Everything queued was written.
    Flushed(SyncId),
    /// The stream failed or closed; it is gone.
    Failed(SyncId, io::Error),
}

pub(crate) struct Syncs<S> {
    slots: Vec<Slot<S>>,
    max_frame: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Syncs<S> {
    pub(crate) fn new(capacity: usize, max_frame: usize) -> Self {
        Syncs { slots: Vec::with_capacity(capacity), max_frame }
    }

    fn slot(&mut self, id: SyncId) -> Option<&mut Slot<S>> {
        self.slots.iter_mut().find(|s| s.id == id)
    }

    fn add(&mut self, id: SyncId, conn: Conn<S>, peer: SocketAddr) {
        self.slots.push(Slot {
            id,
            peer,
            conn,
            frames: frame::Reassembler::new(self.max_frame),
            frame_ready: false,
            write: Vec::new(),
            written: 0,
        });
    }

    /// Tracks an outgoing stream being connected to `peer`.
    pub(crate) fn connecting(
        &mut self,
        id: SyncId,
        connect: impl Future<Output = io::Result<S>> + Send + 'static,
        peer: SocketAddr,
    ) {
        self.add(id, Conn::Connecting(Box::pin(connect)), peer);
    }

    /// Tracks a stream accepted from `peer`.
    pub(crate) fn accepted(&mut self, id: SyncId, stream: S, peer: SocketAddr) {
        self.add(id, Conn::Open(stream), peer);
    }

    /// The other end of `id`.
    pub(crate) fn peer(&self, id: SyncId) -> Option<SocketAddr> {
        self.slots.iter().find(|s| s.id == id).map(|s| s.peer)
    }

    /// Queues bytes (whole frames) for writing.
    pub(crate) fn queue(&mut self, id: SyncId, bytes: &[u8]) {
        if let Some(slot) = self.slot(id) {
            slot.write.extend_from_slice(bytes);
        }
    }

    /// Whether everything queued on `id` was written.
    pub(crate) fn flushed(&self, id: SyncId) -> bool {
        self.slots.iter().find(|s| s.id == id).is_none_or(|s| s.written >= s.write.len())
    }

    /// The frame that arrived on `id` (without its prefix; the node may
    /// open it in place).
    pub(crate) fn frame(&mut self, id: SyncId) -> &mut [u8] {
        self.slots.iter_mut().find(|s| s.id == id && s.frame_ready).and_then(|s| s.frames.frame()).unwrap_or_default()
    }

    /// Lets `id` receive its next frame.
    pub(crate) fn consume_frame(&mut self, id: SyncId) {
        if let Some(slot) = self.slot(id) {
            slot.frame_ready = false;
            slot.frames.consume();
        }
    }

    /// Drops a stream (closing it).
    pub(crate) fn close(&mut self, id: SyncId) {
        self.slots.retain(|s| s.id != id);
    }

    /// The ids of all tracked streams.
    pub(crate) fn ids(&self) -> impl Iterator<Item = SyncId> + '_ {
        self.slots.iter().map(|s| s.id)
    }

    /// Makes progress on every stream; returns the first event.
    pub(crate) fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<SyncEvent> {
        for index in 0..self.slots.len() {
            let Some(slot) = self.slots.get_mut(index) else { continue };
            let event = match poll_slot(slot, cx) {
                Poll::Ready(event) => event,
                Poll::Pending => continue,
            };
            if let SyncEvent::Failed(..) = event {
                self.slots.swap_remove(index);
            }
            return Poll::Ready(event);
        }
        Poll::Pending
    }
}

fn poll_slot<S: AsyncRead + AsyncWrite + Unpin>(slot: &mut Slot<S>, cx: &mut Context<'_>) -> Poll<SyncEvent> {
    let id = slot.id;
    let stream = match &mut slot.conn {
        Conn::Connecting(connect) => {
            return match connect.as_mut().poll(cx) {
                Poll::Ready(Ok(stream)) => {
                    slot.conn = Conn::Open(stream);
                    Poll::Ready(SyncEvent::Connected(id))
                }
                Poll::Ready(Err(e)) => Poll::Ready(SyncEvent::Failed(id, e)),
                Poll::Pending => Poll::Pending,
            };
        }
        Conn::Open(stream) => stream,
    };
    // Write what is queued.
    while slot.written < slot.write.len() {
        let pending = slot.write.get(slot.written..).unwrap_or_default();
        match Pin::new(&mut *stream).poll_write(cx, pending) {
            Poll::Ready(Ok(0)) => return Poll::Ready(SyncEvent::Failed(id, io::ErrorKind::WriteZero.into())),
            Poll::Ready(Ok(n)) => {
                slot.written += n;
                if slot.written >= slot.write.len() {
                    slot.write.clear();
                    slot.written = 0;
                    if let Poll::Ready(Err(e)) = Pin::new(&mut *stream).poll_flush(cx) {
                        return Poll::Ready(SyncEvent::Failed(id, e));
                    }
                    return Poll::Ready(SyncEvent::Flushed(id));
                }
            }
            Poll::Ready(Err(e)) => return Poll::Ready(SyncEvent::Failed(id, e)),
            Poll::Pending => break,
        }
    }
    // Read the next frame, unless one waits to be taken.
    if slot.frame_ready {
        return Poll::Pending;
    }
    loop {
        let space = match slot.frames.space() {
            Ok(space) => space,
            Err(e) => return Poll::Ready(SyncEvent::Failed(id, io::Error::new(io::ErrorKind::InvalidData, e))),
        };
        let mut buf = ReadBuf::new(space);
        match Pin::new(&mut *stream).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                return Poll::Ready(SyncEvent::Failed(id, io::ErrorKind::UnexpectedEof.into()));
            }
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len();
                slot.frames.advance(n);
            }
            Poll::Ready(Err(e)) => return Poll::Ready(SyncEvent::Failed(id, e)),
            Poll::Pending => return Poll::Pending,
        }
        if slot.frames.frame().is_some() {
            slot.frame_ready = true;
            return Poll::Ready(SyncEvent::Frame(id));
        }
    }
}
