//! Who a request comes from, for throttling and the audit log.
//!
//! A client connected directly is its socket's address. Behind a reverse
//! proxy every request arrives from the proxy, so all visitors would share
//! one address (and one sign-in throttle). Only when the peer is one of the
//! `--trusted-proxy` ranges is `X-Forwarded-For` read, from its right end,
//! skipping the trusted hops, as nginx's `real_ip_recursive` and Rails'
//! `remote_ip` do: what a client writes into the header itself sits left
//! of what the proxy appended, and is never believed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

/// An address or a network (`10.0.0.0/8`, `192.0.2.7`, `fd00::/8`) whose
/// requests are a proxy's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyRange {
    network: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for ProxyRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().map_err(|_| {
            format!(
                "{text:?} is not an IP address or network (e.g. 10.0.0.0/8, 192.0.2.7, fd00::/8)"
            )
        })?;
        let most = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => most,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|prefix| *prefix <= most)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {most}"))?,
        };
        Ok(ProxyRange { network, prefix })
    }
}

impl ProxyRange {
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        match (self.network, address) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                same_prefix(&network.octets(), &address.octets(), self.prefix)
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                same_prefix(&network.octets(), &address.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn same_prefix(left: &[u8], right: &[u8], bits: u8) -> bool {
    let whole = usize::from(bits / 8);
    let rest = bits % 8;
    if left[..whole] != right[..whole] {
        return false;
    }
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        left[whole] & mask == right[whole] & mask
    }
}

/// IPv4 mapped into IPv6 (a dual-stack socket's view) as plain IPv4.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// The client's address, found by [`resolve_layer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// The client behind `peer`: the right-most `X-Forwarded-For` entry that is
/// not a trusted proxy, when `peer` is one; else `peer` itself. An entry
/// that is not an address ends the walk at the last hop believed.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[ProxyRange]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |address: IpAddr| trusted.iter().any(|range| range.contains(address));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        let Ok(address) = hop.parse::<IpAddr>().map(canonical) else {
            break;
        };
        client = address;
        if !is_trusted(address) {
            break;
        }
    }
    client
}

/// Puts the [`ClientAddress`] into every request.
pub async fn resolve_layer(
    trusted: Arc<[ProxyRange]>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        let client = resolve(peer.ip(), request.headers(), &trusted);
        request.extensions_mut().insert(ClientAddress(client));
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ranges(texts: &[&str]) -> Vec<ProxyRange> {
        texts.iter().map(|text| text.parse().unwrap()).collect()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_parse_and_match_by_prefix() {
        let private = ranges(&["10.0.0.0/8", "192.0.2.7", "fd00::/8", "172.16.0.0/12"]);
        assert!(private[0].contains(ip("10.200.3.4")));
        assert!(!private[0].contains(ip("11.0.0.1")));
        assert!(private[1].contains(ip("192.0.2.7")));
        assert!(!private[1].contains(ip("192.0.2.8")));
        assert!(private[2].contains(ip("fd12:3456::1")));
        assert!(!private[2].contains(ip("fe80::1")));
        assert!(private[3].contains(ip("172.31.255.1")));
        assert!(!private[3].contains(ip("172.32.0.1")));
        // A dual-stack socket reports IPv4 clients mapped into IPv6.
        assert!(private[0].contains(ip("::ffff:10.1.2.3")));
        for bad in [
            "10.0.0.0/33",
            "fd00::/129",
            "proxy.example",
            "10.0.0.0/x",
            "",
        ] {
            assert!(bad.parse::<ProxyRange>().is_err(), "{bad}");
        }
    }

    #[test]
    fn without_a_trusted_proxy_the_header_is_never_believed() {
        let headers = forwarded(&["203.0.113.5"]);
        assert_eq!(
            resolve(ip("198.51.100.9"), &headers, &[]),
            ip("198.51.100.9")
        );
        let trusted = ranges(&["10.0.0.0/8"]);
        assert_eq!(
            resolve(ip("198.51.100.9"), &headers, &trusted),
            ip("198.51.100.9")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_hop_is_the_client() {
        let trusted = ranges(&["10.0.0.0/8"]);
        // The client wrote a fake first entry; the proxies appended the rest.
        let headers = forwarded(&["1.2.3.4, 203.0.113.5", "10.0.0.7"]);
        assert_eq!(
            resolve(ip("10.0.0.2"), &headers, &trusted),
            ip("203.0.113.5")
        );
        // No header: the proxy itself.
        assert_eq!(
            resolve(ip("10.0.0.2"), &HeaderMap::new(), &trusted),
            ip("10.0.0.2")
        );
        // Junk stops the walk at the last hop believed.
        let junk = forwarded(&["203.0.113.5, not-an-address, 10.0.0.9"]);
        assert_eq!(resolve(ip("10.0.0.2"), &junk, &trusted), ip("10.0.0.9"));
        // Every hop a proxy: the left-most.
        let all = forwarded(&["10.1.1.1, 10.2.2.2"]);
        assert_eq!(resolve(ip("10.0.0.2"), &all, &trusted), ip("10.1.1.1"));
    }
}
