//! Socket addresses on the wire, and the borrowed list of a member's
//! addresses.
//!
//! One address is a family byte followed by the address:
//!
//! | family | bytes | layout |
//! |---|---|---|
//! | 4 | 7 | `4`, IPv4 (4), port (2) |
//! | 6 | 23 | `6`, IPv6 (16), port (2), scope id (4) |
//!
//! A list is a count byte (1..=[`MAX_ADDRS`]) followed by the addresses.

use core::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::cursor::{Reader, Step, Writer};
use crate::error::{ErrorKind, Field};

/// The most addresses one member may advertise.
pub const MAX_ADDRS: usize = 16;

const FAMILY_V4: u8 = 4;
const FAMILY_V6: u8 = 6;
const V4_LEN: usize = 7;
const V6_LEN: usize = 23;

/// Encoded size of one address.
pub(crate) const fn addr_len(addr: &SocketAddr) -> usize {
    match addr {
        SocketAddr::V4(_) => V4_LEN,
        SocketAddr::V6(_) => V6_LEN,
    }
}

#[inline]
pub(crate) fn read_addr(r: &mut Reader<'_>, field: Field) -> Step<SocketAddr> {
    let at = r.offset();
    match r.u8(field)? {
        FAMILY_V4 => {
            let ip = Ipv4Addr::from(r.array::<4>(field)?);
            let port = r.u16(field)?;
            Ok(SocketAddr::V4(SocketAddrV4::new(ip, port)))
        }
        FAMILY_V6 => {
            let ip = Ipv6Addr::from(r.array::<16>(field)?);
            let port = r.u16(field)?;
            let scope = r.u32(field)?;
            Ok(SocketAddr::V6(SocketAddrV6::new(ip, port, 0, scope)))
        }
        other => Err(r.fail_at(ErrorKind::BadAddressFamily(other), field, at)),
    }
}

/// Checks one address without building it.
#[inline(always)]
fn skip_addr(r: &mut Reader<'_>, field: Field) -> Step<()> {
    let at = r.offset();
    let len = match r.u8(field)? {
        FAMILY_V4 => V4_LEN,
        FAMILY_V6 => V6_LEN,
        other => return Err(r.fail_at(ErrorKind::BadAddressFamily(other), field, at)),
    };
    r.bytes(len - 1, field).map(drop)
}

#[inline(always)]
pub(crate) fn write_addr(w: &mut Writer<'_>, addr: &SocketAddr, field: Field) -> Step<()> {
    match addr {
        SocketAddr::V4(a) => {
            let [a0, a1, a2, a3] = a.ip().octets();
            let [p0, p1] = a.port().to_be_bytes();
            w.bytes(&[FAMILY_V4, a0, a1, a2, a3, p0, p1], field)
        }
        SocketAddr::V6(a) => {
            let mut bytes = [0u8; V6_LEN];
            let (family, rest) = bytes.split_at_mut(1);
            let (ip, rest) = rest.split_at_mut(16);
            let (port, scope) = rest.split_at_mut(2);
            family.copy_from_slice(&[FAMILY_V6]);
            ip.copy_from_slice(&a.ip().octets());
            port.copy_from_slice(&a.port().to_be_bytes());
            scope.copy_from_slice(&a.scope_id().to_be_bytes());
            w.bytes(&bytes, field)
        }
    }
}

/// Canonical form of an address as the wire carries it (the IPv6 flow label
/// is not carried).
pub(crate) fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(a) => SocketAddr::V6(SocketAddrV6::new(*a.ip(), a.port(), 0, a.scope_id())),
        v4 => v4,
    }
}

/// A member's addresses: either borrowed from a received packet or from a
/// slice the caller owns. Equality compares the addresses, whatever the
/// representation.
///
/// ```
/// use std::net::SocketAddr;
/// use swim_wire::Addrs;
/// let addrs: [SocketAddr; 2] = ["10.0.0.1:7946".parse().unwrap(), "[::1]:7946".parse().unwrap()];
/// let list = Addrs::from_slice(&addrs);
/// assert_eq!(list.len(), 2);
/// assert_eq!(list.first(), Some(addrs[0]));
/// assert!(list.iter().eq(addrs.iter().copied()));
/// ```
#[derive(Clone, Copy)]
pub struct Addrs<'a>(Repr<'a>);

#[derive(Clone, Copy)]
enum Repr<'a> {
    /// Validated wire bytes: `count` addresses back to back.
    Wire {
        count: u8,
        bytes: &'a [u8],
    },
    Slice(&'a [SocketAddr]),
}

impl<'a> Addrs<'a> {
    /// A list over addresses the caller owns, for encoding.
    pub const fn from_slice(addrs: &'a [SocketAddr]) -> Self {
        Addrs(Repr::Slice(addrs))
    }

    /// How many addresses the list holds.
    pub fn len(&self) -> usize {
        match self.0 {
            Repr::Wire { count, .. } => usize::from(count),
            Repr::Slice(s) => s.len(),
        }
    }

    /// Whether the list is empty (never true for a decoded list).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first (preferred) address.
    pub fn first(&self) -> Option<SocketAddr> {
        self.iter().next()
    }

    /// The addresses, in order.
    pub fn iter(&self) -> AddrIter<'a> {
        AddrIter(match self.0 {
            Repr::Wire { count, bytes } => IterRepr::Wire { left: count, bytes },
            Repr::Slice(s) => IterRepr::Slice(s.iter()),
        })
    }

    #[inline(always)]
    pub(crate) fn encoded_len(&self) -> usize {
        match self.0 {
            Repr::Wire { bytes, .. } => 1 + bytes.len(),
            Repr::Slice(s) => 1 + s.iter().map(addr_len).sum::<usize>(),
        }
    }

    #[inline(always)]
    pub(crate) fn read(r: &mut Reader<'a>, field: Field) -> Step<Self> {
        let at = r.offset();
        let count = r.u8(field)?;
        if count == 0 {
            return Err(r.fail_at(ErrorKind::NoAddresses, field, at));
        }
        if usize::from(count) > MAX_ADDRS {
            return Err(r.fail_at(ErrorKind::TooLarge { len: usize::from(count), limit: MAX_ADDRS }, field, at));
        }
        let span = r.peek_rest();
        for _ in 0..count {
            skip_addr(r, field)?;
        }
        // Keep the validated span itself, so iteration is zero-copy.
        let len = span.len() - r.peek_rest().len();
        Ok(Addrs(Repr::Wire { count, bytes: span.get(..len).unwrap_or_default() }))
    }

    #[inline(always)]
    pub(crate) fn write(&self, w: &mut Writer<'_>, field: Field) -> Step<()> {
        let len = self.len();
        if len == 0 {
            return Err(w.fail(ErrorKind::NoAddresses, field));
        }
        if len > MAX_ADDRS {
            return Err(w.fail(ErrorKind::TooLarge { len, limit: MAX_ADDRS }, field));
        }
        // `len <= MAX_ADDRS`, checked above, so it fits a byte.
        w.u8(u8::try_from(len).unwrap_or(u8::MAX), field)?;
        match self.0 {
            // Already validated wire bytes are copied as they are.
            Repr::Wire { bytes, .. } => w.bytes(bytes, field),
            Repr::Slice(addrs) => addrs.iter().try_for_each(|addr| write_addr(w, addr, field)),
        }
    }
}

impl PartialEq for Addrs<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().map(canonical).eq(other.iter().map(canonical))
    }
}

impl Eq for Addrs<'_> {}

impl fmt::Debug for Addrs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Iterator over an [`Addrs`] list.
#[derive(Clone)]
pub struct AddrIter<'a>(IterRepr<'a>);

#[derive(Clone)]
enum IterRepr<'a> {
    Wire { left: u8, bytes: &'a [u8] },
    Slice(core::slice::Iter<'a, SocketAddr>),
}

impl Iterator for AddrIter<'_> {
    type Item = SocketAddr;

    fn next(&mut self) -> Option<SocketAddr> {
        match &mut self.0 {
            IterRepr::Wire { left, bytes } => {
                if *left == 0 {
                    return None;
                }
                let mut r = Reader::new(bytes, 0, None);
                // The span was validated when the packet was parsed; a failure
                // here is impossible and simply ends the iteration.
                let addr = read_addr(&mut r, Field::Addresses).ok()?;
                *bytes = r.rest();
                *left -= 1;
                Some(addr)
            }
            IterRepr::Slice(it) => it.next().copied(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = match &self.0 {
            IterRepr::Wire { left, .. } => usize::from(*left),
            IterRepr::Slice(it) => it.len(),
        };
        (n, Some(n))
    }
}

impl ExactSizeIterator for AddrIter<'_> {}
