//! Networks, for the allow-list of addresses a cluster admits
//! (`security.allowed_networks`).

use core::fmt;
use core::str::FromStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An IP network: an address and a prefix length, written `10.0.0.0/8` or
/// `fd00::/8` (a bare address is its own /32 or /128). Host bits below the
/// prefix are cleared. An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`)
/// counts as its IPv4 address, both in a network (with a prefix of at least
/// 96) and when tested; so an IPv6 network never holds IPv4 peers, even
/// `::/0`: list the IPv4 networks too (`0.0.0.0/0` for all of them).
///
/// ```
/// use swim_protocol::Network;
/// let lan: Network = "10.1.0.0/16".parse().unwrap();
/// assert!(lan.contains("10.1.200.3".parse().unwrap()));
/// assert!(lan.contains("::ffff:10.1.0.9".parse().unwrap()));
/// assert!(!lan.contains("10.2.0.1".parse().unwrap()));
/// assert_eq!(lan.to_string(), "10.1.0.0/16");
/// assert!("10.0.0.0/33".parse::<Network>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

/// Why a network did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkParseError {
    text: String,
    why: &'static str,
}

impl fmt::Display for NetworkParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "network `{}`: {}", self.text, self.why)
    }
}

impl std::error::Error for NetworkParseError {}

/// An IPv4-mapped IPv6 address as IPv4; others as they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn mask_v4(ip: Ipv4Addr, prefix: u8) -> u32 {
    let bits = u32::from(ip);
    if prefix == 0 { 0 } else { bits & (u32::MAX << (32 - u32::from(prefix))) }
}

fn mask_v6(ip: Ipv6Addr, prefix: u8) -> u128 {
    let bits = u128::from(ip);
    if prefix == 0 { 0 } else { bits & (u128::MAX << (128 - u32::from(prefix))) }
}

impl Network {
    /// The network of `addr` with `prefix` leading bits (at most 32 for
    /// IPv4, 128 for IPv6; `None` beyond).
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Network> {
        let (addr, prefix) = match (canonical(addr), addr) {
            // A mapped address with a prefix within the mapped /96: the
            // IPv4 network it names.
            (IpAddr::V4(v4), IpAddr::V6(_)) if prefix >= 96 => (IpAddr::V4(v4), prefix - 96),
            (_, ip) => (ip, prefix),
        };
        match addr {
            IpAddr::V4(v4) if prefix <= 32 => {
                Some(Network { addr: Ipv4Addr::from(mask_v4(v4, prefix)).into(), prefix })
            }
            IpAddr::V6(v6) if prefix <= 128 => {
                Some(Network { addr: Ipv6Addr::from(mask_v6(v6, prefix)).into(), prefix })
            }
            _ => None,
        }
    }

    /// The network's address (host bits cleared).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => mask_v4(ip, self.prefix) == u32::from(net),
            (IpAddr::V6(net), IpAddr::V6(ip)) => mask_v6(ip, self.prefix) == u128::from(net),
            _ => false,
        }
    }
}

impl FromStr for Network {
    type Err = NetworkParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = |why| NetworkParseError { text: text.to_owned(), why };
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((addr, prefix)) => {
                let digits = !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_digit());
                let prefix = prefix.parse::<u8>().ok().filter(|_| digits);
                (addr, Some(prefix.ok_or_else(|| error("the prefix is not a number up to 128"))?))
            }
            None => (text.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| error("not an IP address"))?;
        let prefix = prefix.unwrap_or(if addr.is_ipv4() { 32 } else { 128 });
        Network::new(addr, prefix).ok_or_else(|| error("the prefix is longer than the address"))
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Network {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Network {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Whether `ip` is allowed by `networks` (every address when it is empty).
pub(crate) fn allowed(networks: &[Network], ip: IpAddr) -> bool {
    networks.is_empty() || networks.iter().any(|n| n.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Network {
        s.parse().unwrap()
    }

    #[test]
    fn prefixes_bound_what_a_network_holds() {
        assert!(net("0.0.0.0/0").contains("203.0.113.9".parse().unwrap()));
        assert!(!net("0.0.0.0/0").contains("::1".parse().unwrap()), "IPv4 networks hold IPv4 only");
        assert!(net("127.0.0.1").contains("127.0.0.1".parse().unwrap()));
        assert!(!net("127.0.0.1").contains("127.0.0.2".parse().unwrap()));
        assert!(net("fd00::/8").contains("fd12:3456::1".parse().unwrap()));
        assert!(!net("fd00::/8").contains("fe80::1".parse().unwrap()));
        assert_eq!(net("10.1.2.3/8").to_string(), "10.0.0.0/8", "host bits cleared");
        assert_eq!(net("::ffff:10.0.0.0/104"), net("10.0.0.0/8"), "a mapped network is its IPv4 one");
        assert_eq!(net("::ffff:0:0/80").to_string(), "::/80", "shorter than the mapped /96: IPv6");
        assert_eq!(net(" 10.0.0.0/8 "), net("10.0.0.0/8"), "surrounding space is ignored");
        assert!(!net("::/0").contains("10.0.0.1".parse().unwrap()), "IPv6 networks hold no IPv4 peers");
    }

    #[test]
    fn malformed_networks_are_refused_with_the_reason() {
        for (text, why) in [
            ("10.0.0.0/33", "longer"),
            ("::/129", "longer"),
            ("10.0.0/8", "not an IP"),
            ("10.0.0.0/x", "number"),
            ("10.0.0.0/+8", "number"),
            ("10.0.0.0 /8", "not an IP"),
        ] {
            let e = text.parse::<Network>().unwrap_err();
            assert!(e.to_string().contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn an_empty_list_allows_everything() {
        assert!(allowed(&[], "198.51.100.1".parse().unwrap()));
        let list = [net("10.0.0.0/8"), net("fd00::/8")];
        assert!(allowed(&list, "10.9.9.9".parse().unwrap()) && allowed(&list, "fd00::5".parse().unwrap()));
        assert!(!allowed(&list, "192.168.1.1".parse().unwrap()));
    }
}
