//! Who the client is when proxies stand in front: its IP address and the
//! origin its browser used, believed from forwarded headers only when the peer
//! is a trusted proxy (`SESAME__HTTP__TRUSTED_PROXIES`).

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::ConnectInfo,
    http::{HeaderMap, HeaderName, header, request::Parts},
};
use sesame_factory::{IpNet, Origin};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// The proxies whose forwarded headers are believed.
#[derive(Debug, Clone, Default)]
pub struct Proxies {
    trusted: Vec<IpNet>,
}

impl Proxies {
    /// Believes peers within `trusted`.
    pub fn new(trusted: Vec<IpNet>) -> Self {
        Self { trusted }
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The socket peer of the request, when the server recorded it.
    pub fn peer(parts: &Parts) -> Option<IpAddr> {
        parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip().to_canonical())
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy;
    /// then the right-most `X-Forwarded-For` hop that is not one (each proxy
    /// appends the address it saw, so hops left of it are the client's own
    /// claims). A hop that is not an address stops the walk at the proxy that
    /// wrote it. A header from an untrusted peer never changes the answer.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        // Hop by hop, as bytes: a client's garbage in its own hop must not
        // discard the hops the proxies appended on the same line.
        let hops: Vec<&[u8]> = headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .flat_map(|value| value.as_bytes().split(|byte| *byte == b','))
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match parse_hop(hop) {
                Some(ip) if self.trusts(ip) => client = ip,
                Some(ip) => return ip,
                None => return client,
            }
        }
        client
    }

    /// The origin the browser used to reach us: `X-Forwarded-Proto` and
    /// `X-Forwarded-Host` when the peer is a trusted proxy, else `scheme` and
    /// the `Host` header. `None` without a usable host.
    pub fn served_origin(&self, peer: Option<IpAddr>, headers: &HeaderMap, scheme: &str) -> Option<Origin> {
        let first = |name: &HeaderName| {
            let value = headers.get(name)?.to_str().ok()?;
            Some(value.split(',').next().unwrap_or(value).trim().to_owned())
        };
        let forwarded = peer.is_some_and(|peer| self.trusts(peer));
        let scheme = forwarded.then(|| first(&X_FORWARDED_PROTO)).flatten().unwrap_or_else(|| scheme.to_owned());
        let host = forwarded.then(|| first(&X_FORWARDED_HOST)).flatten().or_else(|| first(&header::HOST))?;
        Origin::from_parts(&scheme, &host)
    }
}

/// One `X-Forwarded-For` hop: an address, or an address with a port
/// (`192.0.2.1:4711`, `[2001:db8::1]:4711`), as some load balancers write it.
fn parse_hop(hop: &[u8]) -> Option<IpAddr> {
    let hop = std::str::from_utf8(hop).ok()?.trim();
    let ip = hop
        .parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
        .or_else(|| hop.strip_prefix('[')?.strip_suffix(']')?.parse().ok())?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn forwarded_for(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(X_FORWARDED_FOR, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn a_clients_non_ascii_hop_does_not_hide_the_hops_proxies_appended() {
        let proxies = Proxies::new(vec!["127.0.0.1/32".parse().unwrap()]);
        let mut headers = HeaderMap::new();
        headers.insert(X_FORWARDED_FOR, HeaderValue::from_bytes(b"\xff\xfe, 198.51.100.7").unwrap());
        assert_eq!(proxies.client_ip(ip("127.0.0.1"), &headers), ip("198.51.100.7"));
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_headers_say() {
        let proxies = Proxies::default();
        assert_eq!(proxies.client_ip(ip("203.0.113.9"), &forwarded_for(&["1.2.3.4"])), ip("203.0.113.9"));
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_hop_is_the_client() {
        let proxies = Proxies::new(vec!["10.0.0.0/8".parse().unwrap(), "127.0.0.1/32".parse().unwrap()]);
        let peer = ip("127.0.0.1");
        // The client forged the first hop; the proxies appended the rest.
        let headers = forwarded_for(&["6.6.6.6, 198.51.100.7", "10.1.2.3"]);
        assert_eq!(proxies.client_ip(peer, &headers), ip("198.51.100.7"));
        assert_eq!(proxies.client_ip(peer, &HeaderMap::new()), peer, "no header: the proxy itself");
        assert_eq!(proxies.client_ip(peer, &forwarded_for(&["10.9.9.9"])), ip("10.9.9.9"), "all trusted: left-most");
        assert_eq!(proxies.client_ip(peer, &forwarded_for(&["1.1.1.1, garbage, 10.0.0.2"])), ip("10.0.0.2"));
        assert_eq!(proxies.client_ip(peer, &forwarded_for(&["::ffff:198.51.100.7"])), ip("198.51.100.7"));
        assert_eq!(proxies.client_ip(peer, &forwarded_for(&["198.51.100.7:4711"])), ip("198.51.100.7"));
        assert_eq!(proxies.client_ip(peer, &forwarded_for(&["[2001:db8::1]:4711"])), ip("2001:db8::1"));
        assert_eq!(proxies.client_ip(peer, &forwarded_for(&["[2001:db8::1]"])), ip("2001:db8::1"));
        // An untrusted peer's header is ignored.
        assert_eq!(proxies.client_ip(ip("192.0.2.1"), &headers), ip("192.0.2.1"));
    }

    #[test]
    fn the_served_origin_believes_forwarded_headers_only_from_a_trusted_peer() {
        let proxies = Proxies::new(vec!["127.0.0.1/32".parse().unwrap()]);
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("internal:3000"));
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("https"));
        headers.insert(X_FORWARDED_HOST, HeaderValue::from_static("app.example.com"));
        let origin = |peer: &str| proxies.served_origin(Some(ip(peer)), &headers, "http").unwrap();
        assert_eq!(origin("127.0.0.1").as_str(), "https://app.example.com");
        assert_eq!(origin("192.0.2.1").as_str(), "http://internal:3000");
    }
}
