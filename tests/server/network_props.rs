//! What the server reads off a request's headers, against arbitrary and
//! hostile input: never a panic, and the answers hold whatever the order,
//! case or line breaks the client chose: the negotiation of `Accept`, and
//! the client's address behind proxies.

use std::net::IpAddr;

use proptest::prelude::*;
use rebuff::http::{HeaderMap, HeaderValue};
use rebuff::ratelimit::{Network, ProxyHeader, RequestView, client_ip};
use rebuff::server::negotiate::prefers_problem;

/// Distinct media ranges: no two name the same range with the same
/// parameters, so that no answer may depend on their order.
const RANGES: &[&str] = &[
    "*/*",
    "*/*;charset=utf-8",
    "application/*",
    "application/*;charset=utf-8",
    "application/json",
    "application/json;charset=utf-8",
    "application/problem+json",
    "application/problem+json;charset=utf-8",
    "application/problem+json;version=2",
    "text/html",
    "application/xml",
];

const QUALITIES: &[&str] = &[
    "", ";q=0", ";q=0.001", ";q=0.5", ";q=0.9", ";q=1", ";q=1.000",
];

/// An `Accept` list of distinct ranges, each with a quality, in order.
fn accept_items() -> impl Strategy<Value = Vec<String>> {
    prop::sample::subsequence(RANGES, 0..=RANGES.len())
        .prop_flat_map(|ranges| {
            let n = ranges.len();
            (
                Just(ranges),
                prop::collection::vec(prop::sample::select(QUALITIES), n),
            )
        })
        .prop_map(|(ranges, qualities)| {
            ranges
                .iter()
                .zip(qualities)
                .map(|(range, q)| format!("{range}{q}"))
                .collect::<Vec<_>>()
        })
        .prop_shuffle()
}

fn one_line(items: &[String]) -> bool {
    let value = items.join(", ");
    prefers_problem([value.as_bytes()])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn accept_is_read_whatever_the_order(items in accept_items(), seed in any::<u64>()) {
        let answer = one_line(&items);
        let mut shuffled = items.clone();
        fastrand::Rng::with_seed(seed).shuffle(&mut shuffled);
        prop_assert_eq!(one_line(&shuffled), answer, "{:?} against {:?}", items, shuffled);
    }

    #[test]
    fn accept_is_read_whatever_the_case_and_the_lines(items in accept_items()) {
        let answer = one_line(&items);
        let upper: Vec<String> = items.iter().map(|item| item.to_ascii_uppercase()).collect();
        prop_assert_eq!(one_line(&upper), answer, "{:?} upper-cased", items);
        let lines: Vec<&[u8]> = items.iter().map(|item| item.as_bytes()).collect();
        prop_assert_eq!(prefers_problem(lines), answer, "{:?} one item a line", items);
    }

    /// A client that refuses problem details outright never gets them,
    /// whatever else it sends, unless it names them more precisely.
    #[test]
    fn a_refusal_of_problem_details_holds(items in accept_items()) {
        let mut items: Vec<String> = items
            .into_iter()
            .filter(|item| !item.starts_with("application/problem+json"))
            .collect();
        items.push("application/problem+json;q=0".to_owned());
        prop_assert!(!one_line(&items), "{:?}", items);
    }

    #[test]
    fn accept_never_panics(values in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..4)) {
        let _ = prefers_problem(values.iter().map(Vec::as_slice));
    }

    #[test]
    fn accept_made_of_its_own_syntax_never_panics(value in "[ ,;=\"\\\\qQ*/a-z+.0-9]{0,48}") {
        let _ = prefers_problem([value.as_bytes()]);
    }
}

/// Hops a client or a proxy may write, readable or not.
fn hop() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|b| IpAddr::from(b).to_string()),
        any::<[u16; 8]>().prop_map(|s| IpAddr::from(s).to_string()),
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(b, port)| format!("{}:{port}", IpAddr::from(b))),
        (any::<[u16; 8]>(), any::<u16>())
            .prop_map(|(s, port)| format!("[{}]:{port}", IpAddr::from(s))),
        Just("unknown".to_owned()),
        Just("_hidden".to_owned()),
        "[0-9a-f:.\\[\\]\"=;, ]{0,24}",
    ]
}

fn forwarded_value(hops: &[String], header: ProxyHeader) -> String {
    match header {
        ProxyHeader::XForwardedFor => hops.join(", "),
        _ => hops
            .iter()
            .map(|hop| format!("for=\"{hop}\";proto=https"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The addresses `text` could be read as holding, by any reading.
fn mentions(text: &str, ip: IpAddr) -> bool {
    let canonical = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    text.split(|c: char| !(c.is_ascii_hexdigit() || c == ':' || c == '.'))
        .flat_map(|piece| {
            let trimmed = piece.rsplit_once(':').map_or(piece, |(head, _)| head);
            [piece, trimmed]
        })
        .filter_map(|piece| piece.parse::<IpAddr>().ok())
        .any(|found| canonical(found) == canonical(ip))
}

fn headers_with(name: &'static str, value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
    headers
}

fn proxy_header() -> impl Strategy<Value = ProxyHeader> {
    prop_oneof![
        Just(ProxyHeader::XForwardedFor),
        Just(ProxyHeader::Forwarded)
    ]
}

fn header_name(header: ProxyHeader) -> &'static str {
    match header {
        ProxyHeader::XForwardedFor => "x-forwarded-for",
        _ => "forwarded",
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// A peer that is no trusted proxy is the client, whatever it writes.
    #[test]
    fn an_untrusted_peer_cannot_name_another_client(
        hops in prop::collection::vec(hop(), 0..6),
        header in proxy_header(),
        peer in any::<[u8; 4]>(),
    ) {
        let peer = IpAddr::from(peer);
        let trusted: Vec<Network> = vec!["10.0.0.0/8".parse().unwrap()];
        prop_assume!(!trusted[0].contains(peer));
        let headers = headers_with(header_name(header), &forwarded_value(&hops, header));
        let view = RequestView::new("GET", "/", &headers, Some(peer));
        prop_assert_eq!(client_ip(&view, &trusted, header), Some(peer));
    }

    /// Behind a trusted proxy the client is the proxy itself or an
    /// address the header holds; never one nobody wrote.
    #[test]
    fn behind_a_proxy_the_client_is_someone_named(
        hops in prop::collection::vec(hop(), 0..6),
        header in proxy_header(),
        peer in any::<u8>(),
    ) {
        let peer = IpAddr::from([10, 0, 0, peer]);
        let trusted: Vec<Network> = vec!["10.0.0.0/8".parse().unwrap()];
        let value = forwarded_value(&hops, header);
        let headers = headers_with(header_name(header), &value);
        let view = RequestView::new("GET", "/", &headers, Some(peer));
        let client = client_ip(&view, &trusted, header).expect("a peer is known");
        prop_assert!(client == peer || mentions(&value, client), "{} from {:?}", client, value);
    }
}
