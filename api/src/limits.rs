//! Rate limits (tower_governor): per client IP on the auth endpoints, per
//! user (per IP when anonymous) everywhere else. Over the limit: 429 in
//! the error shape, with `Retry-After`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use axum::response::IntoResponse;
use governor::middleware::NoOpMiddleware;
use tower_governor::GovernorLayer;
use tower_governor::errors::GovernorError;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::{KeyExtractor, PeerIpKeyExtractor, SmartIpKeyExtractor};

use crate::auth::tokens::Tokens;
use crate::error::{Error, error_response};

/// The client's IP: the peer's, or the proxy's forwarded one when trusted.
#[derive(Clone, Copy)]
pub struct ClientIp {
    pub trust_forwarded: bool,
}

impl KeyExtractor for ClientIp {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<IpAddr, GovernorError> {
        if self.trust_forwarded {
            SmartIpKeyExtractor.extract(req)
        } else {
            PeerIpKeyExtractor.extract(req)
        }
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
        GovernorError::TooManyRequests { wait_time, .. } => Error::TooManyRequests {
            retry_after: Duration::from_secs(wait_time),
        }
        .into_response(),
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
