//! The gateway's configuration, from the environment (the README's table).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use anyhow::{Context, bail};
use kit::config::{Environment, duration, parse, refuse_published_secret, var};
use secrecy::{ExposeSecret, SecretString};
use workflows::contract::BookingTimings;

#[derive(Debug, Clone)]
pub struct Config {
    pub host: IpAddr,
    /// 0 picks a free port (tests).
    pub port: u16,
    /// The internal listener: `/metrics` (never on the public port).
    pub metrics_addr: std::net::SocketAddr,
    pub database_url: SecretString,
    pub db_max_connections: u32,
    pub request_timeout: Duration,
    pub body_limit_bytes: usize,
    /// Origins allowed by CORS; empty: no CORS headers at all.
    pub cors_origins: Vec<String>,
    pub flights_url: String,
    pub flights_token: SecretString,
    pub auth: AuthConfig,
    pub limits: LimitConfig,
    pub bookings: BookingConfig,
    pub stripe_webhook_secret: SecretString,
    /// Temporal payload encryption (`PAYLOAD_ENCRYPTION_KEYS`).
    pub payload_keys: codec::Keys,
    /// The codec endpoint the Temporal Web UI and the CLI decode payloads
    /// through (`/codec/decode` on the internal listener), for operators
    /// with the identity provider's token (`CODEC_*`); `None`: no endpoint.
    pub codec: Option<codec::http::EndpointConfig>,
    /// The web app's Stripe.js and publishable key.
    pub web: crate::web::WebConfig,
    /// Account emails and who may book.
    pub accounts: AccountConfig,
    /// `AIRLINE_ENV`: outside development the published dev secrets and
    /// the development-only settings are refused.
    pub environment: Environment,
}

#[derive(Debug, Clone)]
pub struct AccountConfig {
    /// Where the account emails go out (the worker's SMTP settings).
    pub smtp: kit::mail::SmtpConfig,
    /// The web app's public address, for the links in account emails and,
    /// when it is `https://`, HSTS on every answer (`APP_PUBLIC_URL`).
    pub public_url: String,
    /// Only accounts with a confirmed address may hold seats
    /// (`BOOKING_REQUIRES_VERIFIED_EMAIL`; `false` only in development).
    pub require_verified_email: bool,
}

impl AccountConfig {
    /// `Strict-Transport-Security` is sent when the web app is served over
    /// TLS (the gateway sits behind a TLS-terminating proxy).
    pub fn hsts(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// HMAC key of the access tokens (HS256, the only algorithm accepted).
    pub jwt_secret: SecretString,
    pub issuer: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// A session (a refresh token's family) ends this long after its login,
    /// however often it is refreshed.
    pub session_max_age: Duration,
    /// How long a just-used refresh token still works once more (two tabs
    /// refreshing at the same moment).
    pub refresh_reuse_grace: Duration,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Hashes computed at once (each holds `argon2_memory_kib`).
    pub argon2_max_concurrent: usize,
    /// The first admin, created (or promoted) at start.
    pub admin: Option<(String, SecretString)>,
}

#[derive(Debug, Clone)]
pub struct LimitConfig {
    /// Per client IP on /auth: one request per `auth_period`, bursts of `auth_burst`.
    pub auth_period: Duration,
    pub auth_burst: u32,
    /// Per user (per IP when anonymous) everywhere else.
    pub api_period: Duration,
    pub api_burst: u32,
    /// Proxies whose `X-Forwarded-For` is believed: a request from one of
    /// them is keyed on the right-most address of that header that is not
    /// a trusted proxy; any other request on its peer address.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

#[derive(Debug, Clone)]
pub struct BookingConfig {
    pub payment_window: Duration,
    /// Declined payments after which a booking is cancelled.
    pub max_payment_attempts: u32,
    /// Bookings (and seats) one user may hold awaiting payment at once.
    pub max_live_bookings: u32,
    pub max_held_seats: u32,
    pub reminder_lead: Duration,
    pub task_queue: String,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let timings = BookingTimings::parse(var).map_err(anyhow::Error::msg)?;
        let environment = Environment::from_env()?;
        let jwt_secret = var("JWT_SECRET").context("set JWT_SECRET (at least 32 characters)")?;
        if jwt_secret.len() < 32 {
            bail!("JWT_SECRET must be at least 32 characters");
        }
        let flights_token = var("FLIGHTS_SERVICE_TOKEN")
            .context("set FLIGHTS_SERVICE_TOKEN (the flight service's bearer token)")?;
        let admin = match (var("ADMIN_EMAIL"), var("ADMIN_PASSWORD")) {
            (Some(email), Some(password)) => Some((email, password.into())),
            (None, None) => None,
            _ => bail!("set both ADMIN_EMAIL and ADMIN_PASSWORD, or neither"),
        };
        let config = Config {
            host: parse("API_HOST", IpAddr::V4(Ipv4Addr::LOCALHOST))?,
            port: parse("API_PORT", 8080)?,
            metrics_addr: parse("API_METRICS_ADDR", ([127, 0, 0, 1], 9465).into())?,
            database_url: Self::database_url_from_env()?,
            db_max_connections: parse("API_DB_MAX_CONNECTIONS", 16)?,
            request_timeout: duration("API_REQUEST_TIMEOUT", Duration::from_secs(15))?,
            body_limit_bytes: parse("API_BODY_LIMIT_BYTES", 64 * 1024)?,
            cors_origins: list("CORS_ALLOWED_ORIGINS"),
            flights_url: var("FLIGHTS_URL")
                .unwrap_or_else(|| "http://127.0.0.1:8081".into())
                .trim_end_matches('/')
                .to_owned(),
            flights_token: flights_token.into(),
            auth: AuthConfig {
                jwt_secret: jwt_secret.into(),
                issuer: var("JWT_ISSUER").unwrap_or_else(|| "airline-api".into()),
                access_ttl: duration("ACCESS_TOKEN_TTL", Duration::from_secs(15 * 60))?,
                refresh_ttl: duration("REFRESH_TOKEN_TTL", Duration::from_secs(30 * 24 * 3600))?,
                session_max_age: duration("SESSION_MAX_AGE", Duration::from_secs(90 * 24 * 3600))?,
                refresh_reuse_grace: duration("REFRESH_REUSE_GRACE", Duration::from_secs(10))?,
                // One of OWASP's equivalent argon2id settings (m=7 MiB,
                // t=5, p=1): the least memory per hash.
                argon2_memory_kib: parse("ARGON2_MEMORY_KIB", 7 * 1024)?,
                argon2_iterations: parse("ARGON2_ITERATIONS", 5)?,
                argon2_parallelism: parse("ARGON2_PARALLELISM", 1)?,
                argon2_max_concurrent: parse(
                    "ARGON2_MAX_CONCURRENT",
                    std::thread::available_parallelism().map_or(2, usize::from),
                )?,
                admin,
            },
            limits: LimitConfig {
                auth_period: duration("AUTH_RATE_LIMIT_PERIOD", Duration::from_secs(6))?,
                auth_burst: parse("AUTH_RATE_LIMIT_BURST", 10)?,
                api_period: duration("API_RATE_LIMIT_PERIOD", Duration::from_millis(50))?,
                api_burst: parse("API_RATE_LIMIT_BURST", 60)?,
                trusted_proxies: trusted_proxies()?,
            },
            bookings: BookingConfig {
                payment_window: timings.payment_window,
                max_payment_attempts: parse("PAYMENT_MAX_ATTEMPTS", 5)?,
                max_live_bookings: parse("BOOKING_MAX_LIVE_PER_USER", 3)?,
                max_held_seats: parse("BOOKING_MAX_HELD_SEATS_PER_USER", 9)?,
                reminder_lead: timings.reminder_lead,
                task_queue: var("TEMPORAL_TASK_QUEUE")
                    .unwrap_or_else(|| workflows::contract::TASK_QUEUE.into()),
            },
            payload_keys: codec::Keys::from_env()?,
            codec: codec_endpoint(environment)?,
            web: crate::web::WebConfig::from_env()?,
            accounts: AccountConfig {
                smtp: kit::mail::SmtpConfig::from_env()?,
                public_url: var("APP_PUBLIC_URL")
                    .unwrap_or_else(|| {
                        format!(
                            "http://127.0.0.1:{}",
                            var("API_PORT").as_deref().unwrap_or("8080")
                        )
                    })
                    .trim_end_matches('/')
                    .to_owned(),
                require_verified_email: parse("BOOKING_REQUIRES_VERIFIED_EMAIL", true)?,
            },
            environment,
            stripe_webhook_secret: var("STRIPE_WEBHOOK_SECRET")
                .context("set STRIPE_WEBHOOK_SECRET (whsec_...) to verify Stripe's webhooks")?
                .into(),
        };
        // The workflow refuses a booking outside these bounds (its own
        // check of its input, workflows/src/bounds.rs).
        if !(1..=20).contains(&config.bookings.max_payment_attempts) {
            bail!("PAYMENT_MAX_ATTEMPTS must be 1 to 20");
        }
        if config.limits.auth_burst == 0 || config.limits.api_burst == 0 {
            bail!("rate-limit bursts must be at least 1");
        }
        if config.limits.auth_period.is_zero() || config.limits.api_period.is_zero() {
            bail!("rate-limit periods must be longer than zero");
        }
        if config.flights_token.expose_secret().is_empty() {
            bail!("FLIGHTS_SERVICE_TOKEN must not be empty");
        }
        config.refuse_development_values()?;
        config.refuse_unauthenticated_codec()?;
        Ok(config)
    }

    /// Outside development: none of the secrets this repository publishes,
    /// and no development-only setting.
    pub fn refuse_development_values(&self) -> anyhow::Result<()> {
        let env = self.environment;
        refuse_published_secret(env, "JWT_SECRET", &self.auth.jwt_secret)?;
        refuse_published_secret(env, "FLIGHTS_SERVICE_TOKEN", &self.flights_token)?;
        refuse_published_secret(env, "STRIPE_WEBHOOK_SECRET", &self.stripe_webhook_secret)?;
        if let Some((_, password)) = &self.auth.admin {
            refuse_published_secret(env, "ADMIN_PASSWORD", password)?;
        }
        if let Some(keys) = var(codec::KEYS_VAR) {
            refuse_published_secret(env, codec::KEYS_VAR, &keys.into())?;
        }
        if env != Environment::Development && !self.accounts.require_verified_email {
            bail!(
                "BOOKING_REQUIRES_VERIFIED_EMAIL=false is for development only (AIRLINE_ENV=development)"
            );
        }
        Ok(())
    }

    /// A codec endpoint without the identity provider only in development
    /// and on a loopback listener: the dev Web UI has no sign-in, and the
    /// dev payload key is published anyway (docs/ops.md).
    pub fn refuse_unauthenticated_codec(&self) -> anyhow::Result<()> {
        use codec::operator::OperatorAuth;
        let Some(codec) = &self.codec else {
            return Ok(());
        };
        if codec.operators != OperatorAuth::Unauthenticated {
            return Ok(());
        }
        if self.environment != Environment::Development {
            bail!(
                "the codec endpoint (CODEC_CORS_ORIGINS is set) decodes every booking's personal \
                 data: outside development it needs the operators' identity provider, \
                 CODEC_JWKS_URL, CODEC_ISSUER and CODEC_AUDIENCE"
            );
        }
        if !self.metrics_addr.ip().is_loopback() {
            bail!(
                "a codec endpoint without CODEC_JWKS_URL is served on loopback only: \
                 API_METRICS_ADDR {} is not",
                self.metrics_addr
            );
        }
        tracing::warn!("codec endpoint without operator sign-in (development, loopback)");
        Ok(())
    }

    /// The booking database (shared with the worker's activities).
    pub fn database_url_from_env() -> anyhow::Result<SecretString> {
        var("BOOKING_DATABASE_URL")
            .or_else(|| var("DATABASE_URL"))
            .map(Into::into)
            .context("set BOOKING_DATABASE_URL (or DATABASE_URL) to the booking database")
    }
}

/// `API_TRUSTED_PROXIES`: comma-separated CIDRs or addresses.
fn trusted_proxies() -> anyhow::Result<Vec<ipnet::IpNet>> {
    if var("API_TRUST_FORWARDED").is_some() {
        bail!(
            "API_TRUST_FORWARDED is gone: it believed any client's X-Forwarded-For. \
             List the proxies in front of the gateway in API_TRUSTED_PROXIES (CIDRs)"
        );
    }
    parse_proxies(&var("API_TRUSTED_PROXIES").unwrap_or_default()).context("API_TRUSTED_PROXIES")
}

pub fn parse_proxies(raw: &str) -> anyhow::Result<Vec<ipnet::IpNet>> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| anyhow::anyhow!("'{s}' is neither a CIDR (10.0.0.0/8) nor an address"))
        })
        .collect()
}

/// `CODEC_*`: the codec endpoint for operators signed in at the identity
/// provider (`CODEC_JWKS_URL`, `CODEC_ISSUER`, `CODEC_AUDIENCE`, all three;
/// its keys over https outside development), or, with `CODEC_CORS_ORIGINS`
/// alone, without a credential ([`Config::refuse_unauthenticated_codec`]
/// allows that in development only). None of them: no endpoint.
fn codec_endpoint(environment: Environment) -> anyhow::Result<Option<codec::http::EndpointConfig>> {
    use codec::operator::{JwtSettings, MIN_REFETCH, OperatorAuth};
    if var("CODEC_ENDPOINT_TOKEN").is_some() && environment == Environment::Development {
        tracing::warn!("CODEC_ENDPOINT_TOKEN is ignored: the codec endpoint takes no path token");
    } else if var("CODEC_ENDPOINT_TOKEN").is_some() {
        bail!(
            "CODEC_ENDPOINT_TOKEN is gone: the Web UI published it. The codec endpoint now takes \
             the operators' identity provider's tokens: set CODEC_JWKS_URL, CODEC_ISSUER and \
             CODEC_AUDIENCE (docs/ops.md, \"Payload encryption\")"
        );
    }
    let cors_origins = list("CODEC_CORS_ORIGINS");
    let operators = match (
        var("CODEC_JWKS_URL"),
        var("CODEC_ISSUER"),
        var("CODEC_AUDIENCE"),
    ) {
        (None, None, None) if cors_origins.is_empty() => return Ok(None),
        (None, None, None) => OperatorAuth::Unauthenticated,
        (Some(jwks_url), Some(issuer), Some(audience)) => {
            let jwks_url = jwks_url.trim().to_owned();
            let local = jwks_url.starts_with("http://127.0.0.1")
                || jwks_url.starts_with("http://localhost");
            if !jwks_url.starts_with("https://") && !local {
                bail!(
                    "CODEC_JWKS_URL must be an https:// URL (the keys every token is checked with)"
                );
            }
            OperatorAuth::Jwt(JwtSettings {
                jwks_url,
                issuer,
                audience,
                min_refetch: MIN_REFETCH,
            })
        }
        _ => bail!("set CODEC_JWKS_URL, CODEC_ISSUER and CODEC_AUDIENCE together, or none"),
    };
    Ok(Some(codec::http::EndpointConfig {
        operators,
        cors_origins,
    }))
}

/// A comma-separated list; unset: empty.
fn list(name: &str) -> Vec<String> {
    var(name)
        .map(|v| {
            v.split(',')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect()
        })
        .unwrap_or_default()
}
