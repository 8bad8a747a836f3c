//! Who is calling: the caller a request resolves to (an API key or
//! principal and its plan), or, for unauthenticated traffic, the client's
//! IP address, read from the socket or, behind proxies the server trusts,
//! from the `X-Forwarded-For` or `Forwarded` header they write.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::str::FromStr;
use std::borrow::Cow;

use crate::view::RequestView;

/// A caller: the key its limits are kept under, and its plan's name.
///
/// ```
/// use rebuff::ratelimit::Caller;
/// let caller = Caller::new("key_live_123", "pro");
/// assert_eq!(caller.plan(), "pro");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller<'a> {
    key: Cow<'a, str>,
    plan: Cow<'a, str>,
}

impl<'a> Caller<'a> {
    /// `key` (an API key, a user id: anything stable per caller) on the
    /// plan named `plan`.
    #[must_use]
    pub fn new(key: impl Into<Cow<'a, str>>, plan: impl Into<Cow<'a, str>>) -> Self {
        Caller {
            key: key.into(),
            plan: plan.into(),
        }
    }

    /// The key the caller's limits are kept under.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The plan's name.
    #[must_use]
    pub fn plan(&self) -> &str {
        &self.plan
    }
}

/// A network: an address and a prefix length (`10.0.0.0/8`,
/// `2001:db8::/32`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// Whether `ip` is in the network.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = mask_v4(self.prefix);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask_v6(self.prefix);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            // An IPv6 network holds IPv4 peers as they are mapped into it
            // (`::/0` is every peer of a dual-stack socket).
            (IpAddr::V6(net), IpAddr::V4(ip)) => {
                let mask = mask_v6(self.prefix);
                u128::from(net) & mask == u128::from(ip.to_ipv6_mapped()) & mask
            }
            (IpAddr::V4(_), IpAddr::V6(_)) => false,
        }
    }
}

/// Why a network did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadNetwork(String);

impl fmt::Display for BadNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not an IP address or network (`10.0.0.0/8`)",
            self.0
        )
    }
}

impl std::error::Error for BadNetwork {}

impl FromStr for Network {
    type Err = BadNetwork;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadNetwork(text.to_owned());
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text.trim(), None),
        };
        let addr = addr.parse::<IpAddr>().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(bad)?,
            None => max,
        };
        // `::ffff:10.0.0.0/104` is IPv4's `10.0.0.0/8`, written mapped.
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => (IpAddr::V4(v4), prefix - 96),
                None => (addr, prefix),
            },
            _ => (addr, prefix),
        };
        Ok(Network { addr, prefix })
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:1.2.3.4`) as the IPv4 one.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

fn mask_v4(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    }
}

fn mask_v6(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix.min(128)))
    }
}

/// The header trusted proxies write the client's address into. Only that
/// one is read: a client can send the other one too, and a proxy that does
/// not write it passes it on untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ProxyHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`, as nginx, Envoy, the
    /// cloud load balancers and most other proxies write it (the default). A hop
    /// may carry its port (`203.0.113.7:51234`, `[2001:db8::1]:443`).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=192.0.2.43, for="[2001:db8::17]:4711"`.
    Forwarded,
}

/// The client's address: the socket's peer, or, when the peer is one of
/// the `trusted` proxies, the nearest address in `header` that is not a
/// trusted proxy. A header from a peer not trusted is ignored: anyone can
/// send one.
///
/// The hops are read from the nearest back, and the walk stops at the
/// first that is not a trusted proxy: a hop it cannot read (`unknown`, an
/// obfuscated `_hidden`, garbage) stops it too, and the nearest trusted
/// proxy before it stands for the client, so that no address written
/// further back, where the client may have written it, is believed.
///
/// ```
/// use rebuff::ratelimit::{Network, ProxyHeader, RequestView, client_ip};
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("x-forwarded-for", "6.6.6.6, 203.0.113.7:51234".parse().unwrap());
/// let request = RequestView::new("GET", "/", &headers, Some("10.0.0.1".parse().unwrap()));
/// let trusted: Vec<Network> = vec!["10.0.0.0/8".parse().unwrap()];
/// assert_eq!(
///     client_ip(&request, &trusted, ProxyHeader::XForwardedFor),
///     Some("203.0.113.7".parse().unwrap()),
/// );
/// ```
#[must_use]
pub fn client_ip(
    view: &RequestView<'_>,
    trusted: &[Network],
    header: ProxyHeader,
) -> Option<IpAddr> {
    let peer = canonical(view.peer?);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    // Each hop, nearest last; `None` for one that cannot be read. Each is
    // read on its own: bytes that are not text in a hop the client wrote
    // leave readable the hops the proxies appended to the same line.
    let mut hops: Vec<Option<IpAddr>> = Vec::new();
    match header {
        ProxyHeader::XForwardedFor => view.header_values("x-forwarded-for").for_each(|value| {
            hops.extend(elements(value).map(|hop| hop.and_then(node)));
        }),
        ProxyHeader::Forwarded => view.header_values("forwarded").for_each(|value| {
            for element in unquoted_pieces(value, b',') {
                let Some(element) = element.map(str::trim) else {
                    hops.push(None);
                    continue;
                };
                if element.is_empty() {
                    continue;
                }
                let pairs = unquoted_pieces(element.as_bytes(), b';');
                let node_of = pairs.into_iter().flatten().find_map(|pair| {
                    let (name, value) = pair.split_once('=')?;
                    name.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| node(value.trim()))
                });
                // An element without `for` (a proxy that writes only
                // `proto`, `host`) says nothing of who sent the request to
                // it, so the elements before it cannot be believed: it is
                // a hop that cannot be read.
                hops.push(node_of.flatten());
            }
        }),
    }
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = hop.map(canonical) else { break };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    Some(client)
}

/// The comma-separated elements of a header's value, trimmed, empty ones
/// left out; `None` for one that is not text.
fn elements(value: &[u8]) -> impl Iterator<Item = Option<&str>> {
    value
        .split(|&b| b == b',')
        .map(|element| core::str::from_utf8(element).ok().map(str::trim))
        .filter(|element| element.is_none_or(|text| !text.is_empty()))
}

/// `value` cut at each `sep` outside a quoted string (RFC 9110: `"`, with
/// `\` escapes inside), as `Forwarded` is read (RFC 7239): a client's
/// `host="a,for=1.2.3.4"` is one value, not a hop. `None` for a piece that
/// is not text, or whose quote does not close (up to the next `sep` after
/// that quote, so that what proxies appended after it is still read).
fn unquoted_pieces(value: &[u8], sep: u8) -> Vec<Option<&str>> {
    let mut pieces = Vec::new();
    let mut rest = value;
    loop {
        let (piece, end) = match piece_end(rest, sep) {
            Ok(end) => (core::str::from_utf8(&rest[..end]).ok(), end),
            Err(quote) => {
                let end = rest[quote..]
                    .iter()
                    .position(|&b| b == sep)
                    .map_or(rest.len(), |at| quote + at);
                (None, end)
            }
        };
        pieces.push(piece);
        match rest.get(end + 1..) {
            Some(after) => rest = after,
            None => return pieces,
        }
    }
}

/// Where the first piece of `value` ends (at a `sep` outside quotes, or at
/// the end), or, `Err`, where a quote opened that does not close.
fn piece_end(value: &[u8], sep: u8) -> Result<usize, usize> {
    let mut open = None;
    let mut escaped = false;
    for (at, &byte) in value.iter().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match (byte, open) {
            (b'\\', Some(_)) => escaped = true,
            (b'"', None) => open = Some(at),
            (b'"', Some(_)) => open = None,
            (byte, None) if byte == sep => return Ok(at),
            _ => {}
        }
    }
    open.map_or(Ok(value.len()), Err)
}

/// A hop's address: `192.0.2.43`, `192.0.2.43:47011`, `2001:db8::17`,
/// `[2001:db8::17]:4711`, each possibly quoted (RFC 7239 nodes).
fn node(value: &str) -> Option<IpAddr> {
    let value = match value.strip_prefix('"') {
        Some(quoted) => quoted.strip_suffix('"')?,
        None => value,
    };
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    let host = match value.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !host.contains(':') => {
            host
        }
        _ => value,
    };
    host.parse().ok()
}

/// The key an address is limited under: IPv4 whole, IPv6 by its first
/// `v6_prefix` bits (a /64 is one subscriber's, usually).
#[must_use]
pub(crate) fn ip_key(ip: IpAddr, v6_prefix: u8) -> IpKey {
    match canonical(ip) {
        IpAddr::V4(v4) => IpKey(IpAddr::V4(v4)),
        IpAddr::V6(v6) => IpKey(IpAddr::V6(Ipv6Addr::from(
            u128::from(v6) & mask_v6(v6_prefix),
        ))),
    }
}

/// An address as a limit key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct IpKey(pub(crate) IpAddr);

impl fmt::Display for IpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ip:{}", self.0)
    }
}

/// A peer the server does not know (axum without `ConnectInfo`): every such
/// request counts as one unknown client.
pub(crate) const UNKNOWN_PEER: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

/// Says once per process that requests come without their peer's address,
/// so that every anonymous caller shares one limit.
pub(crate) fn warn_unknown_peer() {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    // Read first: the swap's write is paid once, not on every request.
    if !WARNED.load(std::sync::atomic::Ordering::Relaxed)
        && !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed)
    {
        tracing::warn!(
            target: "rebuff::ratelimit",
            "a request came without its peer's address: every caller the resolver does not name \
             shares one limit. On axum, serve the app with \
             `into_make_service_with_connect_info::<SocketAddr>()`"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(headers: &'a http::HeaderMap, peer: &str) -> RequestView<'a> {
        RequestView::new("GET", "/", headers, Some(peer.parse().unwrap()))
    }

    fn nets(list: &[&str]) -> Vec<Network> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn headers_count_only_from_trusted_proxies() {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.7, 10.0.0.2".parse().unwrap());
        let untrusted = view(&headers, "198.51.100.9");
        assert_eq!(
            client_ip(
                &untrusted,
                &nets(&["10.0.0.0/8"]),
                ProxyHeader::XForwardedFor
            ),
            Some("198.51.100.9".parse().unwrap()),
            "a spoofed header from the open internet is ignored"
        );
        let proxied = view(&headers, "10.0.0.1");
        assert_eq!(
            client_ip(&proxied, &nets(&["10.0.0.0/8"]), ProxyHeader::XForwardedFor),
            Some("203.0.113.7".parse().unwrap())
        );
        // A client that forges a hop before the real one is still seen.
        headers.insert(
            "x-forwarded-for",
            "1.2.3.4, 203.0.113.7, 10.0.0.2".parse().unwrap(),
        );
        let forged = view(&headers, "10.0.0.1");
        assert_eq!(
            client_ip(&forged, &nets(&["10.0.0.0/8"]), ProxyHeader::XForwardedFor),
            Some("203.0.113.7".parse().unwrap())
        );
    }

    #[test]
    fn only_the_declared_header_is_read() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "forwarded",
            r#"for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.3"#
                .parse()
                .unwrap(),
        );
        headers.insert("x-forwarded-for", "192.0.2.1".parse().unwrap());
        let v = view(&headers, "10.0.0.1");
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(&v, &trusted, ProxyHeader::Forwarded),
            Some("2001:db8:cafe::17".parse().unwrap())
        );
        // Behind a proxy that writes X-Forwarded-For, a `Forwarded` the
        // client sent is passed on untouched, and not believed.
        assert_eq!(
            client_ip(&v, &trusted, ProxyHeader::XForwardedFor),
            Some("192.0.2.1".parse().unwrap())
        );
    }

    #[test]
    fn ports_are_read_and_unreadable_hops_stop_the_walk() {
        let trusted = nets(&["10.0.0.0/8"]);
        let ip = |headers: &http::HeaderMap, header| {
            client_ip(&view(headers, "10.0.0.1"), &trusted, header).map(|ip| ip.to_string())
        };
        let mut headers = http::HeaderMap::new();
        // A trusted proxy that writes the client's port (a forged hop
        // before it).
        headers.insert(
            "x-forwarded-for",
            "6.6.6.6, 203.0.113.7:51234".parse().unwrap(),
        );
        assert_eq!(
            ip(&headers, ProxyHeader::XForwardedFor).unwrap(),
            "203.0.113.7"
        );
        headers.insert(
            "x-forwarded-for",
            "6.6.6.6, [2001:db8::5]:443, 10.0.0.9".parse().unwrap(),
        );
        assert_eq!(
            ip(&headers, ProxyHeader::XForwardedFor).unwrap(),
            "2001:db8::5"
        );
        // A hop that cannot be read: the client is behind it, and what was
        // written before it is not believed; the proxy that wrote it stands
        // for the client.
        headers.insert(
            "x-forwarded-for",
            "6.6.6.6, garbage, 10.0.0.9".parse().unwrap(),
        );
        assert_eq!(
            ip(&headers, ProxyHeader::XForwardedFor).unwrap(),
            "10.0.0.9"
        );
        headers.insert("x-forwarded-for", "6.6.6.6, unknown".parse().unwrap());
        assert_eq!(
            ip(&headers, ProxyHeader::XForwardedFor).unwrap(),
            "10.0.0.1"
        );
        headers.insert(
            "forwarded",
            "for=6.6.6.6, for=unknown;proto=https".parse().unwrap(),
        );
        assert_eq!(ip(&headers, ProxyHeader::Forwarded).unwrap(), "10.0.0.1");
        headers.insert(
            "forwarded",
            "for=6.6.6.6, for=_hidden, for=10.0.0.4".parse().unwrap(),
        );
        assert_eq!(ip(&headers, ProxyHeader::Forwarded).unwrap(), "10.0.0.4");
        // An element without `for`, the trusted proxy's: what came before
        // it is the client's own word, so the proxy stands for it.
        headers.insert("forwarded", "for=203.0.113.8, proto=https".parse().unwrap());
        assert_eq!(ip(&headers, ProxyHeader::Forwarded).unwrap(), "10.0.0.1");
        // Bytes that are not text in the hop a client wrote: the hops the
        // proxies appended to the same line are still read.
        let forged = |line: &[u8]| http::HeaderValue::from_bytes(line).unwrap();
        headers.insert("x-forwarded-for", forged(b"\xff, 203.0.113.7"));
        assert_eq!(
            ip(&headers, ProxyHeader::XForwardedFor).unwrap(),
            "203.0.113.7"
        );
        headers.insert("forwarded", forged(b"for=\xff, for=203.0.113.9"));
        assert_eq!(ip(&headers, ProxyHeader::Forwarded).unwrap(), "203.0.113.9");
        // Such a hop is unreadable: behind it, the proxy that wrote it.
        headers.insert("x-forwarded-for", forged(b"6.6.6.6, \xff, 10.0.0.9"));
        assert_eq!(
            ip(&headers, ProxyHeader::XForwardedFor).unwrap(),
            "10.0.0.9"
        );
        // `Forwarded` read as RFC 7239 has it: a quoted value is one value,
        // commas and semicolons in it included.
        headers.insert(
            "forwarded",
            r#"for=203.0.113.7;host="x,for=1.2.3.4""#.parse().unwrap(),
        );
        assert_eq!(ip(&headers, ProxyHeader::Forwarded).unwrap(), "203.0.113.7");
        headers.insert(
            "forwarded",
            r#"host="a;for=1.2.3.4";for=203.0.113.8"#.parse().unwrap(),
        );
        assert_eq!(ip(&headers, ProxyHeader::Forwarded).unwrap(), "203.0.113.8");
        headers.insert(
            "forwarded",
            r#"for="203.0.113.10";host="a\"b,c""#.parse().unwrap(),
        );
        assert_eq!(
            ip(&headers, ProxyHeader::Forwarded).unwrap(),
            "203.0.113.10"
        );
        // A quote a client left open does not hide the hop a proxy
        // appended.
        headers.insert(
            "forwarded",
            r#"for="1.2.3.4, for=203.0.113.9"#.parse().unwrap(),
        );
        assert_eq!(ip(&headers, ProxyHeader::Forwarded).unwrap(), "203.0.113.9");
        headers.insert("forwarded", r#"for="203.0.113.11"#.parse().unwrap());
        assert_eq!(ip(&headers, ProxyHeader::Forwarded).unwrap(), "10.0.0.1");
        // Every hop trusted: the farthest.
        headers.insert("x-forwarded-for", "10.0.0.7, 10.0.0.8".parse().unwrap());
        assert_eq!(
            ip(&headers, ProxyHeader::XForwardedFor).unwrap(),
            "10.0.0.7"
        );
    }

    #[test]
    fn networks_and_ipv6_grouping() {
        let net: Network = "2001:db8::/32".parse().unwrap();
        assert!(net.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!net.contains("2001:db9::5".parse().unwrap()));
        let v4: Network = "::ffff:10.1.2.3".parse().unwrap();
        assert!(v4.contains("10.1.2.3".parse().unwrap()));
        // A mapped network is the IPv4 one; an IPv6 network holds IPv4
        // peers as they are mapped into it.
        let mapped: Network = "::ffff:10.0.0.0/104".parse().unwrap();
        assert!(mapped.contains("10.9.8.7".parse().unwrap()));
        assert!(mapped.contains("::ffff:10.9.8.7".parse().unwrap()));
        assert!(!mapped.contains("11.0.0.1".parse().unwrap()));
        let everything: Network = "::/0".parse().unwrap();
        assert!(everything.contains("::ffff:192.0.2.1".parse().unwrap()));
        assert!(everything.contains("2001:db8::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Network>().is_err());
        assert!("nonsense".parse::<Network>().is_err());
        let a = ip_key("2001:db8:1:2:aaaa::1".parse().unwrap(), 64);
        let b = ip_key("2001:db8:1:2:bbbb::9".parse().unwrap(), 64);
        let c = ip_key("2001:db8:1:3::1".parse().unwrap(), 64);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.to_string(), "ip:2001:db8:1:2::");
    }

    #[test]
    fn bearer_tokens() {
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", "Bearer  key_1 ".parse().unwrap());
        assert_eq!(view(&headers, "1.1.1.1").bearer(), Some("key_1"));
        headers.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(view(&headers, "1.1.1.1").bearer(), None);
    }
}
