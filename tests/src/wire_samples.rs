//! Representative packets for the codec's tests and benchmarks.

use std::hint::black_box;
use std::net::SocketAddr;

use swim_wire::{Addrs, Alive, DEFAULT_BUDGET, DecodeOptions, Header, Message, Packet, PacketWriter, Ping, Result};

/// Owned data for a ping carrying `updates` alive updates, each with a
/// `name_len`-byte name, one IPv4 address and `meta_len` bytes of metadata.
#[derive(Debug, Clone)]
pub struct PingWithUpdates {
    names: Vec<Vec<u8>>,
    addrs: Vec<[SocketAddr; 1]>,
    meta: Vec<u8>,
}

impl PingWithUpdates {
    /// The benchmark's packet: 8 updates, 32-byte names, 64-byte metadata.
    pub fn standard() -> Self {
        Self::new(8, 32, 64)
    }

    /// A packet with the given shape.
    pub fn new(updates: usize, name_len: usize, meta_len: usize) -> Self {
        let names = (0..updates)
            .map(|i| {
                let mut name = format!("member-{i:04}-").into_bytes();
                name.resize(name_len, b'x');
                name
            })
            .collect();
        let addrs =
            (0..updates).map(|i| [SocketAddr::from(([10, 0, (i / 256) as u8, (i % 256) as u8], 7946))]).collect();
        PingWithUpdates { names, addrs, meta: vec![b'm'; meta_len] }
    }

    /// How many updates the packet carries.
    pub fn updates(&self) -> usize {
        self.names.len()
    }

    /// Encodes the packet into `buf` (up to the default budget); returns its
    /// length and how many updates fitted.
    pub fn encode(&self, buf: &mut [u8]) -> Result<(usize, usize)> {
        let mut w = PacketWriter::new(buf, &Header::default(), DEFAULT_BUDGET)?;
        w.push(&Message::Ping(Ping {
            seq: 42,
            source: b"prober",
            target: b"target",
            target_generation: 1,
            target_incarnation: 3,
        }))?;
        let mut fitted = 0;
        for (i, (name, addrs)) in self.names.iter().zip(&self.addrs).enumerate() {
            let alive =
                Alive { generation: 1, incarnation: i as u32, name, addrs: Addrs::from_slice(addrs), meta: &self.meta };
            match w.push(&Message::Alive(alive)) {
                Ok(()) => fitted += 1,
                Err(e) if e.is_no_room() => break,
                Err(e) => return Err(e),
            }
        }
        Ok((w.finish()?, fitted))
    }
}

/// Parses a packet and reads every field of every message, as a receiver
/// would; returns how many piggybacked messages it saw.
pub fn decode_and_read(bytes: &[u8], opts: &DecodeOptions) -> Result<usize> {
    let packet = Packet::parse(bytes, opts)?;
    black_box(packet.primary());
    let mut seen = 0;
    for message in packet.piggyback() {
        if let Message::Alive(alive) = message {
            black_box((alive.incarnation, alive.name, alive.meta));
            for addr in alive.addrs.iter() {
                black_box(addr);
            }
        }
        seen += 1;
    }
    Ok(seen)
}
