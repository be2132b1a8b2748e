//! Queries: a request gossiped to the cluster like a broadcast (a
//! [`Query`](super::Kind::Query) item is a [`UserBroadcast`](super::UserBroadcast)
//! whose payload is a [`QueryBody`]), and the answers that come straight
//! back to the asker ([`QueryResponse`]).
//!
//! A query body:
//!
//! | bytes | field |
//! |---|---|
//! | 1 | flags: `0x01` the asker wants acknowledgements |
//! | 1 | relay factor: members each answer is also sent through |
//! | 4 | timeout in milliseconds, as the asker set it |
//! | 4 | the asker's id for this query |
//! | addr | where answers go |
//! | name | the query's name |
//! | 1 + names | names filter: count, then names (empty: any member) |
//! | 1 + tags | tags filter: count, then a key (name) and a value (blob) each (all must match) |
//! | blob | payload |
//!
//! ```
//! use swim_wire::{QueryBody, QueryFilter};
//! let filter = QueryFilter::encode(&[&b"cache-1"[..]], &[("role", "cache")]).unwrap();
//! let body = QueryBody {
//!     want_ack: true, relay: 1, timeout_ms: 5_000, id: 7,
//!     asker: "10.0.0.1:7946".parse().unwrap(),
//!     name: b"who-serves", filter: &filter, payload: b"shard=7",
//! };
//! let mut buf = [0u8; 256];
//! let len = body.encode(&mut buf).unwrap();
//! let back = QueryBody::parse(&buf[..len]).unwrap();
//! assert_eq!(back, body);
//! let f = QueryFilter::parse(back.filter).unwrap();
//! assert!(f.matches(b"cache-1", |k| (k == "role").then_some("cache")));
//! assert!(!f.matches(b"cache-2", |k| (k == "role").then_some("cache")));
//! ```

use std::net::SocketAddr;

use super::{Body, ByteStr, Field, Reader, Step, Writer, blob_len, fmt, name_len};
use crate::addr::{addr_len, read_addr, write_addr};
use crate::error::{ErrorKind, Result};
use crate::message::Kind;
use crate::packet::DecodeOptions;

/// The body of a query (the payload of its broadcast).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct QueryBody<'a> {
    /// The asker wants every member that gets it to acknowledge it.
    pub want_ack: bool,
    /// Members each answer is also sent through (0 to 5).
    pub relay: u8,
    /// The timeout the asker set, in milliseconds.
    pub timeout_ms: u32,
    /// The asker's id for this query (answers carry it).
    pub id: u32,
    /// Where answers go.
    pub asker: SocketAddr,
    /// The query's name.
    pub name: &'a [u8],
    /// The encoded [`QueryFilter`].
    pub filter: &'a [u8],
    /// The application payload.
    pub payload: &'a [u8],
}

impl fmt::Debug for QueryBody<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryBody")
            .field("want_ack", &self.want_ack)
            .field("relay", &self.relay)
            .field("timeout_ms", &self.timeout_ms)
            .field("id", &self.id)
            .field("asker", &self.asker)
            .field("name", &ByteStr(self.name))
            .field("filter", &ByteStr(self.filter))
            .field("payload", &ByteStr(self.payload))
            .finish()
    }
}

impl<'a> QueryBody<'a> {
    /// Bytes it takes.
    pub fn encoded_len(&self) -> usize {
        1 + 1 + 4 + 4 + addr_len(&self.asker) + name_len(self.name) + self.filter.len() + blob_len(self.payload)
    }

    /// Writes it into `buf`; returns the length.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf, 0, usize::MAX);
        let step = (|| {
            w.u8(u8::from(self.want_ack), Field::MessageFlags)?;
            w.u8(self.relay, Field::MessageFlags)?;
            w.u32(self.timeout_ms, Field::TimeToLive)?;
            w.u32(self.id, Field::Seq)?;
            write_addr(&mut w, &self.asker, Field::TargetAddress)?;
            w.name(self.name, Field::Name)?;
            w.bytes(self.filter, Field::Payload)?;
            w.blob(self.payload, Field::Payload)
        })();
        w.finish(step)?;
        Ok(w.pos())
    }

    /// Validates and reads a body (its filter is checked too).
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, 0, Some(Kind::Query));
        let step = (|| {
            let flags = r.u8(Field::MessageFlags)?;
            let relay = r.u8(Field::MessageFlags)?;
            let timeout_ms = r.u32(Field::TimeToLive)?;
            let id = r.u32(Field::Seq)?;
            let asker = read_addr(&mut r, Field::TargetAddress)?;
            let name = r.name(Field::Name)?;
            let rest = r.peek_rest();
            let Some(filter_len) = QueryFilter::measure(rest) else {
                let offset = r.offset();
                return Err(r.fail_at(ErrorKind::BadValue(0), Field::Payload, offset));
            };
            let filter = r.bytes(filter_len, Field::Payload)?;
            let payload = r.blob(Field::Payload, usize::from(u16::MAX))?;
            Ok(QueryBody { want_ack: flags & 1 == 1, relay, timeout_ms, id, asker, name, filter, payload })
        })();
        r.finish(step)
    }
}

/// Which members a query is for: any of the names (if any are given), and
/// all of the tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryFilter<'a> {
    names: &'a [u8],
    name_count: u8,
    tags: &'a [u8],
    tag_count: u8,
}

impl<'a> QueryFilter<'a> {
    /// Encodes a filter (at most 255 names and 255 tags).
    pub fn encode(names: &[&[u8]], tags: &[(&str, &str)]) -> Result<Vec<u8>> {
        let too_many = |n: usize| u8::try_from(n).map_err(|_| too_large(n));
        let mut out = vec![too_many(names.len())?];
        for name in names {
            let len = crate::cursor::check_name(name).map_err(|kind| crate::Error::new(kind, None, Field::Name, 0))?;
            out.push(len);
            out.extend_from_slice(name);
        }
        out.push(too_many(tags.len())?);
        for (key, value) in tags {
            let len = crate::cursor::check_name(key.as_bytes())
                .map_err(|kind| crate::Error::new(kind, None, Field::Name, 0))?;
            out.push(len);
            out.extend_from_slice(key.as_bytes());
            let value_len = u16::try_from(value.len()).map_err(|_| too_large(value.len()))?;
            out.extend_from_slice(&value_len.to_be_bytes());
            out.extend_from_slice(value.as_bytes());
        }
        Ok(out)
    }

    /// Length of the filter at the start of `bytes`, if well formed.
    fn measure(bytes: &[u8]) -> Option<usize> {
        QueryFilter::split(bytes).map(|(f, _)| f)
    }

    /// Reads a filter (the whole of `bytes`).
    pub fn parse(bytes: &'a [u8]) -> Option<Self> {
        let (len, filter) = QueryFilter::split(bytes)?;
        (len == bytes.len()).then_some(filter)
    }

    fn split(bytes: &'a [u8]) -> Option<(usize, Self)> {
        let name_count = *bytes.first()?;
        let mut at = 1;
        for _ in 0..name_count {
            let len = usize::from(*bytes.get(at)?);
            if len == 0 {
                return None;
            }
            at += 1 + len;
        }
        let names = bytes.get(1..at)?;
        let tag_count = *bytes.get(at)?;
        at += 1;
        let tags_start = at;
        for _ in 0..tag_count {
            let key_len = usize::from(*bytes.get(at)?);
            if key_len == 0 {
                return None;
            }
            std::str::from_utf8(bytes.get(at + 1..at + 1 + key_len)?).ok()?;
            at += 1 + key_len;
            let value_len = usize::from(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]));
            std::str::from_utf8(bytes.get(at + 2..at + 2 + value_len)?).ok()?;
            at += 2 + value_len;
        }
        let tags = bytes.get(tags_start..at)?;
        Some((at, QueryFilter { names, name_count, tags, tag_count }))
    }

    /// Whether a member named `name`, whose tag values `tag` gives, is
    /// meant.
    pub fn matches<'t>(&self, name: &[u8], tag: impl Fn(&str) -> Option<&'t str>) -> bool {
        let named = self.name_count == 0 || self.names().any(|n| n == name);
        named && self.tags().all(|(k, v)| tag(k) == Some(v))
    }

    /// The names, if the filter lists any.
    pub fn names(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let mut rest = self.names;
        std::iter::from_fn(move || {
            let (&len, tail) = rest.split_first()?;
            let (name, tail) = tail.split_at_checked(usize::from(len))?;
            rest = tail;
            Some(name)
        })
    }

    /// The tags every member meant must have.
    pub fn tags(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let mut rest = self.tags;
        std::iter::from_fn(move || {
            let (&len, tail) = rest.split_first()?;
            let (key, tail) = tail.split_at_checked(usize::from(len))?;
            let (value_len, tail) = tail.split_first_chunk::<2>()?;
            let (value, tail) = tail.split_at_checked(usize::from(u16::from_be_bytes(*value_len)))?;
            rest = tail;
            Some((std::str::from_utf8(key).ok()?, std::str::from_utf8(value).ok()?))
        })
    }
}

fn too_large(len: usize) -> crate::Error {
    crate::Error::new(ErrorKind::TooLarge { len, limit: 255 }, None, Field::Payload, 0)
}

/// An answer to a query, or an acknowledgement that a member got it, sent
/// straight to the asker (or through a relay, which passes it on).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct QueryResponse<'a> {
    /// The asker's process generation.
    pub generation: u64,
    /// The asker's id for the query.
    pub id: u32,
    /// `ACK` (an acknowledgement, no payload) and `RELAY` (for a relay to
    /// pass on to `asker`).
    pub flags: u8,
    /// The asker.
    pub origin: &'a [u8],
    /// Where the asker takes answers.
    pub asker: SocketAddr,
    /// The member that answers.
    pub responder: &'a [u8],
    /// The answer.
    pub payload: &'a [u8],
}

impl QueryResponse<'_> {
    /// An acknowledgement rather than an answer.
    pub const ACK: u8 = 0x01;
    /// For a relay, to pass on.
    pub const RELAY: u8 = 0x02;
}

impl fmt::Debug for QueryResponse<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryResponse")
            .field("generation", &self.generation)
            .field("id", &self.id)
            .field("flags", &self.flags)
            .field("origin", &ByteStr(self.origin))
            .field("asker", &self.asker)
            .field("responder", &ByteStr(self.responder))
            .field("payload", &ByteStr(self.payload))
            .finish()
    }
}

impl<'a> Body<'a> for QueryResponse<'a> {
    #[inline(always)]
    fn read(r: &mut Reader<'a>, opts: &DecodeOptions) -> Step<Self> {
        Ok(QueryResponse {
            generation: r.generation()?,
            id: r.u32(Field::Seq)?,
            flags: r.u8(Field::MessageFlags)?,
            origin: r.name(Field::Source)?,
            asker: read_addr(r, Field::TargetAddress)?,
            responder: r.name(Field::Name)?,
            payload: r.blob(Field::Payload, opts.max_payload)?,
        })
    }
    #[inline(always)]
    fn len(&self) -> usize {
        8 + 4 + 1 + name_len(self.origin) + addr_len(&self.asker) + name_len(self.responder) + blob_len(self.payload)
    }
    #[inline(always)]
    fn write(&self, w: &mut Writer<'_>) -> Step<()> {
        w.generation(self.generation)?;
        w.u32(self.id, Field::Seq)?;
        w.u8(self.flags, Field::MessageFlags)?;
        w.name(self.origin, Field::Source)?;
        write_addr(w, &self.asker, Field::TargetAddress)?;
        w.name(self.responder, Field::Name)?;
        w.blob(self.payload, Field::Payload)
    }
}
