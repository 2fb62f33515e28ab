//! Configuration from the environment (see the README's table).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use anyhow::{Context, bail};
use kit::config::{Environment, refuse_published_secret};
pub use kit::config::{duration, parse, var};
use secrecy::SecretString;

#[derive(Debug, Clone)]
pub struct Config {
    pub host: IpAddr,
    /// 0 picks a free port (tests).
    pub port: u16,
    pub database_url: SecretString,
    pub db_max_connections: u32,
    pub service_token: SecretString,
    pub request_timeout: Duration,
    pub body_limit_bytes: usize,
    /// How often the in-memory airport directory is reloaded.
    pub directory_refresh: Duration,
    /// No hold and no confirmation once a flight departs within this.
    pub booking_cutoff: Duration,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let database_url = Self::database_url_from_env()?;
        let service_token = var("FLIGHTS_SERVICE_TOKEN")
            .context("set FLIGHTS_SERVICE_TOKEN (bearer token for writes and inventory)")?;
        if service_token.len() < 16 {
            bail!("FLIGHTS_SERVICE_TOKEN must be at least 16 characters");
        }
        let service_token: SecretString = service_token.into();
        // Outside development (`AIRLINE_ENV`), not the token this
        // repository publishes for the local stack.
        refuse_published_secret(
            Environment::from_env()?,
            "FLIGHTS_SERVICE_TOKEN",
            &service_token,
        )?;
        Ok(Config {
            host: parse("FLIGHTS_HOST", IpAddr::V4(Ipv4Addr::LOCALHOST))?,
            port: parse("FLIGHTS_PORT", 8081)?,
            database_url,
            db_max_connections: parse("FLIGHTS_DB_MAX_CONNECTIONS", 16)?,
            service_token,
            request_timeout: duration("FLIGHTS_REQUEST_TIMEOUT", Duration::from_secs(10))?,
            body_limit_bytes: parse("FLIGHTS_BODY_LIMIT_BYTES", 64 * 1024)?,
            directory_refresh: duration("FLIGHTS_DIRECTORY_REFRESH", Duration::from_secs(10))?,
            booking_cutoff: duration("FLIGHTS_BOOKING_CUTOFF", Duration::from_secs(45 * 60))?,
        })
    }

    /// Database URL only: for `migrate` and `seed`, which serve nothing.
    pub fn database_url_from_env() -> anyhow::Result<SecretString> {
        var("FLIGHTS_DATABASE_URL")
            .or_else(|| var("DATABASE_URL"))
            .map(Into::into)
            .context("set FLIGHTS_DATABASE_URL (or DATABASE_URL) to the flight database")
    }
}
