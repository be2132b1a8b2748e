//! The wire format of the swim membership protocol.
//!
//! `swim-wire` encodes and decodes every message of the protocol without I/O,
//! without async and without allocating:
//!
//! - **Decoding borrows.** [`Packet::parse`] validates a received datagram
//!   once (every length, every field, every bound) and hands out views whose
//!   names, metadata and payloads are slices of the receive buffer. After
//!   validation nothing can fail or panic.
//! - **Encoding fills a caller-owned buffer.** [`PacketWriter`] writes a
//!   header, one primary message and as many piggybacked messages as fit a
//!   byte budget, and refuses (without partial writes) what does not fit.
//! - **Versioned.** A decoder accepts a configured range of protocol versions
//!   ([`DecodeOptions`]), skips piggybacked messages of unknown kinds and
//!   ignores fields appended to known messages by newer versions.
//! - **Typed errors.** One [`Error`] says what failed ([`ErrorKind`]), in
//!   which message ([`Kind`]), in which [`Field`] and at which byte offset.
//!
//! The layouts are documented on [`packet`] (header) and [`message`]
//! (messages); golden byte vectors in the tests pin them.
//!
//! ```
//! use swim_wire::*;
//! use std::net::SocketAddr;
//!
//! let addrs: [SocketAddr; 1] = ["10.0.0.7:7946".parse().unwrap()];
//! let mut buf = [0u8; DEFAULT_BUDGET];
//! let mut w = PacketWriter::new(&mut buf, &Header::default(), DEFAULT_BUDGET)?;
//! w.push(&Message::Ping(Ping { seq: 1, source: b"a", target: b"b", target_generation: 1, target_incarnation: 4 }))?;
//! w.push(&Message::Alive(Alive { generation: 1, incarnation: 9, name: b"c", addrs: Addrs::from_slice(&addrs), meta: b"zone=1" }))?;
//! let len = w.finish()?;
//!
//! let packet = Packet::parse(&buf[..len], &DecodeOptions::default())?;
//! for message in packet.piggyback() {
//!     if let Message::Alive(alive) = message {
//!         assert_eq!(alive.name, b"c");
//!         assert_eq!(alive.addrs.first(), Some(addrs[0]));
//!     }
//! }
//! # Ok::<(), swim_wire::Error>(())
//! ```
#![forbid(unsafe_code)]

mod addr;
pub mod crypto;
mod cursor;
mod error;
pub mod frame;
pub mod message;
pub mod packet;
pub mod tags;

pub use addr::{AddrIter, Addrs, MAX_ADDRS};
pub use error::{Error, ErrorKind, Field, Result};
pub use message::{
    Ack, Alive, AppStateChunk, Faulty, Gossip, ITEM_HEADER_LEN, IndirectAck, IndirectPing, JoinRequest, JoinResponse,
    JoinStatus, Kind, Left, MemberRecord, MemberState, Message, Nack, Ping, QueryBody, QueryFilter, QueryResponse,
    StateBody, Suspect, Sync, SyncDiff, SyncDigest, SyncFlags, UserBroadcast, UserMessage,
};
pub use packet::{
    DEFAULT_BUDGET, DEFAULT_MAX_METADATA, DecodeOptions, Header, MAGIC, MAX_GENERATION, MAX_LABEL_LEN, MAX_NAME_LEN,
    MIN_PROTOCOL_VERSION, PADDING_KIND, PROTOCOL_VERSION, Packet, PacketWriter, Piggyback,
};
