//! Rate limits (tower_governor): per client IP on the auth endpoints, per
//! user (per IP when anonymous) everywhere else. Over the limit: 429 in
//! the error shape, with `Retry-After`. These live in each replica's
//! memory; failed logins are also throttled per account in PostgreSQL
//! (`auth::throttle`), which every replica shares.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode};
use axum::response::IntoResponse;
use governor::middleware::NoOpMiddleware;
use ipnet::IpNet;
use tower_governor::GovernorLayer;
use tower_governor::errors::GovernorError;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;

use crate::auth::tokens::Tokens;
use crate::error::{Error, GatewayError, error_response};

/// The client's IP: the socket peer's, unless the peer is a trusted proxy;
/// then the right-most address of `X-Forwarded-For` that is not a trusted
/// proxy (each proxy appends the address it saw, so everything left of
/// that is whatever the client chose to write).
#[derive(Clone)]
pub struct ClientIp {
    trusted: Arc<[IpNet]>,
}

impl ClientIp {
    pub fn new(trusted_proxies: &[IpNet]) -> Self {
        Self {
            trusted: trusted_proxies.into(),
        }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request that came from `peer`.
    pub fn of(&self, peer: IpAddr, headers: &axum::http::HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.is_trusted(client) {
            return client;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.into_iter().rev() {
            // Not an address: not written by a trusted proxy. The last
            // trusted hop is the most we know.
            let Ok(ip) = hop.parse::<IpAddr>() else {
                return client;
            };
            client = ip.to_canonical();
            if !self.is_trusted(client) {
                return client;
            }
        }
        client
    }
}

impl ClientIp {
    /// The client's network of a request: [`network`] of [`ClientIp::of`].
    pub fn network_of<T>(&self, req: &Request<T>) -> Option<IpAddr> {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())?;
        Some(network(self.of(peer, req.headers())))
    }
}

/// What one client controls: an IPv4 address, or an IPv6 /64 (the
/// smallest block a household or a server is given; every address in it
/// is the same client's for the limits, or an attacker would have 2^64
/// buckets).
pub fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(std::net::Ipv6Addr::from(prefix))
        }
    }
}

impl KeyExtractor for ClientIp {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<IpAddr, GovernorError> {
        self.network_of(req)
            .ok_or(GovernorError::UnableToExtractKey)
    }
}

/// The user of a valid bearer token, else the client IP.
#[derive(Clone)]
pub struct UserOrIp {
    pub tokens: Arc<Tokens>,
    pub ip: ClientIp,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Caller {
    User(uuid::Uuid),
    Ip(IpAddr),
}

impl KeyExtractor for UserOrIp {
    type Key = Caller;

    fn extract<T>(&self, req: &Request<T>) -> Result<Caller, GovernorError> {
        let token = req
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim());
        match token.and_then(|t| self.tokens.verify_access(t)) {
            Some(principal) => Ok(Caller::User(principal.user_id)),
            None => self.ip.extract(req).map(Caller::Ip),
        }
    }
}

pub type Limit<K> = GovernorLayer<K, NoOpMiddleware<governor::clock::QuantaInstant>, Body>;

/// A limit of one request per `period`, in bursts of `burst`.
pub fn layer<K>(key: K, period: Duration, burst: u32) -> Limit<K>
where
    K: KeyExtractor + Send + Sync + 'static,
    K::Key: Send + Sync + 'static,
{
    let config = GovernorConfigBuilder::default()
        .period(period)
        .burst_size(burst)
        .key_extractor(key)
        .finish()
        .expect("period and burst are checked non-zero at start");
    let limiter = config.limiter().clone();
    // Forget idle keys now and then, so memory stays flat.
    std::thread::Builder::new()
        .name("rate-limit-gc".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(60));
                limiter.retain_recent();
            }
        })
        .expect("spawning the rate-limit cleaner");
    GovernorLayer::new(Arc::new(config)).error_handler(rejection)
}

fn rejection(e: GovernorError) -> Response<Body> {
    match e {
        GovernorError::TooManyRequests { wait_time, .. } => {
            Error::from(GatewayError::TooManyRequests {
                retry_after: Duration::from_secs(wait_time),
            })
            .into_response()
        }
        GovernorError::UnableToExtractKey => error_response(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the client address could not be determined".into(),
        ),
        GovernorError::Other { code, msg, .. } => {
            error_response(code, "rate_limited", msg.unwrap_or_default())
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", v.parse().unwrap());
        }
        headers
    }

    #[test]
    fn an_ipv6_client_is_its_64_and_an_ipv4_client_its_address() {
        let a = network(ip("2001:db8:1:2:aaaa::1"));
        let b = network(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        assert_eq!(a, b);
        assert_eq!(a, ip("2001:db8:1:2::"));
        assert_ne!(a, network(ip("2001:db8:1:3::1")));
        assert_eq!(network(ip("198.51.100.7")), ip("198.51.100.7"));
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let ips = ClientIp::new(&["10.0.0.0/8".parse().unwrap()]);
        let headers = forwarded(&["1.2.3.4"]);
        assert_eq!(ips.of(ip("203.0.113.9"), &headers), ip("203.0.113.9"));
        let none = ClientIp::new(&[]);
        assert_eq!(none.of(ip("127.0.0.1"), &headers), ip("127.0.0.1"));
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_hop_is_the_client() {
        let ips = ClientIp::new(&["10.0.0.0/8".parse().unwrap()]);
        let peer = ip("10.1.0.5");
        // The client wrote "6.6.6.6"; the first proxy appended what it saw.
        let headers = forwarded(&["6.6.6.6, 198.51.100.7", "10.2.0.1"]);
        assert_eq!(ips.of(peer, &headers), ip("198.51.100.7"));
        // Only trusted hops: the left-most of them.
        assert_eq!(ips.of(peer, &forwarded(&["10.3.0.1"])), ip("10.3.0.1"));
        assert_eq!(ips.of(peer, &HeaderMap::new()), peer);
        // Garbage is not a proxy's: the last trusted hop is the key.
        assert_eq!(
            ips.of(peer, &forwarded(&["junk, 10.2.0.1"])),
            ip("10.2.0.1")
        );
        // IPv4-mapped IPv6 peers count as their IPv4 address.
        assert_eq!(ips.of(ip("::ffff:10.1.0.5"), &headers), ip("198.51.100.7"));
    }
}
