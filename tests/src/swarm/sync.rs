//! The emulated side of sync exchanges with the real member: answering
//! the ones it opens (its join's, full, and delta ones) and opening delta
//! ones with it, at the wire level.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use swim_protocol::State;
use swim_protocol::digest::{bucket_of, buckets_for, record_hash, salted};
use swim_wire::crypto::ReceiverTag;
use swim_wire::{Addrs, Alive, MemberRecord, MemberState, Message, SyncDiff, SyncDigest, SyncFlags, frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use super::plan::Plan;
use super::worker::{Rec, Worker};

/// Largest frame taken from the real member.
const MAX_FRAME: usize = 1 << 20;

/// What one received frame said.
#[derive(Debug, Default)]
struct Frame {
    flags: u8,
    /// Digest values (key, buckets, first bucket, values).
    digest: Vec<(u64, u32, u32, Vec<u32>)>,
    /// Diff runs (first bucket, bits).
    diff: Vec<(u32, Vec<u8>)>,
}

async fn read_frame(stream: &mut TcpStream) -> Result<Vec<u8>, String> {
    let mut prefix = [0u8; frame::PREFIX_LEN];
    stream.read_exact(&mut prefix).await.map_err(|e| format!("read: {e}"))?;
    let len = frame::read_prefix(prefix, MAX_FRAME).map_err(|e| e.to_string())?;
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await.map_err(|e| format!("read: {e}"))?;
    Ok(body)
}

async fn write_frames(stream: &mut TcpStream, frames: &[Vec<u8>]) -> Result<usize, String> {
    let mut bytes = 0;
    for f in frames {
        stream.write_all(f).await.map_err(|e| format!("write: {e}"))?;
        bytes += f.len();
    }
    Ok(bytes)
}

impl Worker {
    /// Opens and reads a sync frame for emulated member `me`, expecting
    /// chunk `chunk`; takes in the real member's record of itself.
    fn take_frame(&mut self, me: &ReceiverTag, data: &mut [u8], chunk: u32) -> Result<Frame, String> {
        self.counters.bytes_in += (data.len() + frame::PREFIX_LEN) as u64;
        let len = data.len();
        let (plain, _) = self.codec.open(data, len, me).map_err(|e| format!("open: {e}"))?;
        let packet = self.codec.parse(&data[..plain]).map_err(|e| format!("parse: {e}"))?;
        let Message::Sync(sync) = packet.primary() else { return Err("not a sync frame".into()) };
        if sync.chunk != chunk {
            return Err(format!("chunk {} where {chunk} was due", sync.chunk));
        }
        let mut out = Frame { flags: sync.flags.0, ..Frame::default() };
        for m in packet.piggyback() {
            match m {
                Message::MemberRecord(r) => {
                    self.counters.records_in += 1;
                    if r.state == MemberState::Alive {
                        self.learn_real(&r.member);
                    }
                }
                Message::SyncDigest(d) => {
                    let values = (0..d.count()).filter_map(|k| d.value(k)).collect();
                    out.digest.push((d.key, d.buckets, d.first, values));
                }
                Message::SyncDiff(d) => out.diff.push((d.first, d.bits.to_vec())),
                Message::Alive(a) => self.learn_real(&a),
                _ => {}
            }
        }
        Ok(out)
    }

    /// Each bucket's sum over the view.
    fn bucket_sums(&self, buckets: u32) -> Vec<u64> {
        let mut sums = vec![0u64; buckets as usize];
        for r in self.view.iter().flatten() {
            sums[bucket_of(r.key, buckets) as usize] ^= record_hash(r.key, r.generation, r.incarnation, r.state);
        }
        sums
    }

    /// Sealed frames of `items` from emulated member `from` to the real
    /// member.
    fn frames_of(&mut self, from: usize, flags: u8, chunk: u32, items: &[Message<'_>]) -> Result<Vec<Vec<u8>>, String> {
        let tag = self.real_tag;
        let total = self.view.iter().flatten().count() as u32;
        let source = Plan::name(from);
        let codec = self.codec.clone();
        let frames = self
            .own_parts(from)
            .and_then(|(nonces, _)| codec.frames(nonces, Some(&tag), flags, &source, total, chunk, items));
        let frames = frames.ok_or("the frames do not encode")?;
        self.counters.bytes_out += frames.iter().map(|f| f.len() as u64).sum::<u64>();
        Ok(frames)
    }

    /// Records of the view, of the buckets in `differ` (all if `None`).
    fn records_frames(
        &mut self,
        from: usize,
        flags: u8,
        chunk: u32,
        head: Vec<Message<'_>>,
        differ: Option<(u32, &[bool])>,
    ) -> Result<Vec<Vec<u8>>, String> {
        let view = std::mem::take(&mut self.view);
        let addrs: Vec<[SocketAddr; 1]> =
            view.iter().map(|r| [r.as_ref().map_or(self.plan.addr(0), |r| r.addr)]).collect();
        let mut items = head;
        for (r, addr) in view.iter().zip(&addrs) {
            let Some(r) = r else { continue };
            if let Some((buckets, differ)) = differ
                && !differ[bucket_of(r.key, buckets) as usize]
            {
                continue;
            }
            items.push(record(r, addr));
        }
        let frames = self.frames_of(from, flags, chunk, &items);
        drop(items);
        self.view = view;
        frames
    }
}

fn record<'a>(r: &'a Rec, addr: &'a [SocketAddr; 1]) -> Message<'a> {
    let by = if matches!(r.state, State::Suspect | State::Faulty) { r.by.as_slice() } else { &[] };
    Message::MemberRecord(MemberRecord {
        state: r.state.to_wire(),
        member: Alive {
            generation: r.generation,
            incarnation: r.incarnation,
            name: &r.name,
            addrs: Addrs::from_slice(addr),
            meta: &r.meta,
        },
        by,
    })
}

/// The real member opened a sync with emulated member `me`: takes its
/// frames, answers, and (a delta sync) takes its records.
pub async fn respond(worker: Rc<RefCell<Worker>>, me: usize, mut stream: TcpStream) {
    let result = respond_inner(&worker, me, &mut stream).await;
    let mut w = worker.borrow_mut();
    match result {
        Ok(()) => w.counters.syncs_in += 1,
        Err(_) => w.counters.syncs_failed += 1,
    }
}

async fn respond_inner(worker: &Rc<RefCell<Worker>>, me: usize, stream: &mut TcpStream) -> Result<(), String> {
    let tag = ReceiverTag::of(&Plan::name(me));
    let mut chunk_in = 0;
    let mut flags = 0;
    let mut digest: Option<(u64, u32, Vec<u32>)> = None;
    loop {
        let mut data = read_frame(stream).await?;
        let f = worker.borrow_mut().take_frame(&tag, &mut data, chunk_in)?;
        if chunk_in == 0 {
            flags = f.flags;
        }
        chunk_in += 1;
        for (key, buckets, first, values) in f.digest {
            let d = digest.get_or_insert_with(|| (key, buckets, Vec::new()));
            if d.0 != key || d.1 != buckets || first as usize != d.2.len() {
                return Err("a digest run out of order".into());
            }
            d.2.extend(values);
        }
        if SyncFlags(f.flags).contains(SyncFlags::LAST) {
            break;
        }
    }
    let join = SyncFlags(flags).contains(SyncFlags::JOIN);
    let delta = SyncFlags(flags).contains(SyncFlags::DELTA);
    let frames = {
        let mut w = worker.borrow_mut();
        if let (true, Some((key, buckets, theirs))) = (delta, digest) {
            let sums = w.bucket_sums(buckets);
            let differ: Vec<bool> =
                (0..buckets as usize).map(|b| theirs.get(b) != Some(&salted(sums[b], key))).collect();
            w.counters.buckets_differ += differ.iter().filter(|&&d| d).count() as u64;
            let mut bits = vec![0u8; (buckets as usize).div_ceil(8)];
            for (b, _) in differ.iter().enumerate().filter(|(_, d)| **d) {
                bits[b / 8] |= 1 << (b % 8);
            }
            let head = vec![Message::SyncDiff(SyncDiff { buckets, first: 0, bits: &bits })];
            let flags = SyncFlags::REPLY | SyncFlags::DELTA;
            w.records_frames(me, flags, 0, head, Some((buckets, &differ)))?
        } else {
            let flags = SyncFlags::REPLY | if join { SyncFlags::JOIN } else { 0 };
            w.records_frames(me, flags, 0, Vec::new(), None)?
        }
    };
    write_frames(stream, &frames).await?;
    if delta {
        // The third leg: the opener's records of those buckets.
        loop {
            let mut data = read_frame(stream).await?;
            let f = worker.borrow_mut().take_frame(&tag, &mut data, chunk_in)?;
            chunk_in += 1;
            if SyncFlags(f.flags).contains(SyncFlags::LAST) {
                break;
            }
        }
    }
    Ok(())
}

/// Emulated member `from` opens a delta sync with the real member.
pub async fn open(worker: Rc<RefCell<Worker>>, from: usize) {
    let result = open_inner(&worker, from).await;
    let mut w = worker.borrow_mut();
    w.sync_ended();
    match result {
        Ok(()) => w.counters.syncs_out += 1,
        Err(_) => w.counters.syncs_failed += 1,
    }
}

async fn open_inner(worker: &Rc<RefCell<Worker>>, from: usize) -> Result<(), String> {
    let real = worker.borrow().plan.real;
    let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket.bind(SocketAddr::new(worker.borrow().plan.addr(from).ip(), 0)).map_err(|e| e.to_string())?;
    let mut stream = socket.connect(real).await.map_err(|e| format!("connect: {e}"))?;
    let tag = ReceiverTag::of(&Plan::name(from));
    let key = worker.borrow_mut().random_key();
    // The digest.
    let (frames, buckets) = {
        let mut w = worker.borrow_mut();
        let count = w.view.iter().flatten().count();
        let buckets = buckets_for(count);
        let values: Vec<u8> = w.bucket_sums(buckets).iter().flat_map(|&s| salted(s, key).to_be_bytes()).collect();
        let head = [Message::SyncDigest(SyncDigest { key, buckets, first: 0, values: &values })];
        (w.frames_of(from, SyncFlags::DELTA, 0, &head)?, buckets)
    };
    let chunk_out = frames.len() as u32;
    write_frames(&mut stream, &frames).await?;
    // The reply: which buckets differ, and the real member's records of them.
    let mut differ = vec![false; buckets as usize];
    let mut chunk_in = 0;
    loop {
        let mut data = read_frame(&mut stream).await?;
        let f = worker.borrow_mut().take_frame(&tag, &mut data, chunk_in)?;
        chunk_in += 1;
        for (first, bits) in f.diff {
            for (k, byte) in bits.iter().enumerate() {
                for bit in 0..8 {
                    let b = first as usize + 8 * k + bit;
                    if byte & (1 << bit) != 0 && b < differ.len() {
                        differ[b] = true;
                    }
                }
            }
        }
        if SyncFlags(f.flags).contains(SyncFlags::LAST) {
            break;
        }
    }
    // Ours of the same buckets.
    let frames = {
        let mut w = worker.borrow_mut();
        w.counters.buckets_differ += differ.iter().filter(|&&d| d).count() as u64;
        w.records_frames(from, SyncFlags::DELTA, chunk_out, Vec::new(), Some((buckets, &differ)))?
    };
    write_frames(&mut stream, &frames).await?;
    stream.shutdown().await.map_err(|e| e.to_string())?;
    Ok(())
}
