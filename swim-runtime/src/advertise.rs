//! Which address to advertise when the member is bound to an unspecified
//! one (`0.0.0.0` or `::`): a private interface address, as memberlist
//! does, or an error that says how to choose.

use std::net::IpAddr;

/// Says why no address could be advertised, and the fix (the message of
/// [`Error::NoAddressToAdvertise`](crate::Error::NoAddressToAdvertise)).
pub(crate) fn describe(f: &mut std::fmt::Formatter<'_>, bound: IpAddr, found: &[IpAddr]) -> std::fmt::Result {
    let family = if bound.is_ipv6() {
        "IPv6 unique local (fc00::/7)"
    } else {
        "private IPv4 (10/8, 172.16/12, 192.168/16, 100.64/10)"
    };
    write!(f, "bound to {bound} and no {family} interface address was found to advertise")?;
    if found.is_empty() {
        f.write_str(" (no interface address of that family at all)")?;
    } else {
        let found: Vec<String> = found.iter().map(IpAddr::to_string).collect();
        write!(f, " (found {})", found.join(", "))?;
    }
    f.write_str("; call `Builder::advertise` with the address other members reach this one at, or bind that address")
}

/// Whether other members on a private network could reach `ip`: RFC 1918,
/// shared address space (RFC 6598, 100.64/10), IPv6 unique local.
pub(crate) fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private() || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// Picks the address to advertise for a member bound to the unspecified
/// address of `bound`'s family, from the host's interface addresses in
/// the order the system lists them: the first private one of that family.
/// Without one, the error holds the addresses of that family found.
pub(crate) fn choose(bound: IpAddr, interfaces: &[IpAddr]) -> Result<IpAddr, Vec<IpAddr>> {
    let ipv6 = bound.is_ipv6();
    let same_family: Vec<IpAddr> = interfaces
        .iter()
        .copied()
        .filter(|ip| ip.is_ipv6() == ipv6 && !ip.is_loopback() && !ip.is_unspecified())
        .collect();
    same_family.iter().copied().find(|ip| is_private(*ip)).ok_or(same_family)
}

/// The host's interface addresses (none if the system will not say).
pub(crate) fn interface_addresses() -> Vec<IpAddr> {
    match if_addrs::get_if_addrs() {
        Ok(interfaces) => interfaces.into_iter().map(|i| i.ip()).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "could not list the interface addresses");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn the_first_private_address_of_the_bound_family_is_advertised() {
        let any4: IpAddr = "0.0.0.0".parse().unwrap();
        let any6: IpAddr = "::".parse().unwrap();
        let host = ips(&["127.0.0.1", "::1", "203.0.113.7", "2001:db8::1", "192.168.1.20", "10.0.0.5", "fd00::7"]);
        assert_eq!(choose(any4, &host), Ok("192.168.1.20".parse().unwrap()));
        assert_eq!(choose(any6, &host), Ok("fd00::7".parse().unwrap()));
        assert_eq!(choose(any4, &ips(&["100.64.3.4"])), Ok("100.64.3.4".parse().unwrap()));
        assert_eq!(choose(any4, &ips(&["172.31.0.9"])), Ok("172.31.0.9".parse().unwrap()));
    }

    #[test]
    fn without_a_private_address_the_error_names_what_was_found_and_the_fix() {
        let any4: IpAddr = "0.0.0.0".parse().unwrap();
        let found = choose(any4, &ips(&["127.0.0.1", "203.0.113.7", "172.32.0.1", "fd00::1"])).unwrap_err();
        assert_eq!(found, ips(&["203.0.113.7", "172.32.0.1"]));
        let text = crate::Error::NoAddressToAdvertise { bound: any4, found }.to_string();
        assert!(text.contains("bound to 0.0.0.0 and no private IPv4"), "{text}");
        assert!(text.contains("found 203.0.113.7, 172.32.0.1"), "{text}");
        assert!(text.contains("Builder::advertise"), "{text}");
        let any6: IpAddr = "::".parse().unwrap();
        let found = choose(any6, &ips(&["::1", "10.0.0.1"])).unwrap_err();
        let text = crate::Error::NoAddressToAdvertise { bound: any6, found }.to_string();
        assert!(text.contains("no interface address of that family"), "{text}");
    }

    #[test]
    fn private_ranges() {
        for ip in ["10.1.2.3", "172.16.0.1", "192.168.0.1", "100.127.255.255", "fc00::1", "fdff::1"] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "100.128.0.1", "100.63.0.1", "172.32.0.1", "fe80::1", "2001:db8::1", "127.0.0.1"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }
}
