//! Settings from the environment: each service's `Config` reads its own
//! variables with these (an empty value counts as unset), and says which
//! variable is wrong when one is.

use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

pub fn duration(name: &str, default: Duration) -> anyhow::Result<Duration> {
    match var(name) {
        Some(v) => humantime::parse_duration(v.trim())
            .with_context(|| format!("{name}={v:?} must be a duration such as 10s")),
        None => Ok(default),
    }
}

pub fn parse<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        Some(v) => v
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("{name}={v:?} is not valid: {e}")),
        None => Ok(default),
    }
}

/// A PostgreSQL pool as every service uses one: a 3 s wait for a
/// connection (then 503), and no ping per acquire (a round trip per query;
/// a broken connection fails its query and is dropped instead).
pub async fn pg_pool(url: &SecretString, max_connections: u32) -> anyhow::Result<PgPool> {
    let options: PgConnectOptions = url
        .expose_secret()
        .parse()
        .context("the database URL is not a PostgreSQL URL")?;
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(3))
        .test_before_acquire(false)
        .connect_with(options)
        .await?)
}

/// Creates the database at `url` when it does not exist (`what` names it
/// in errors).
pub async fn ensure_database(url: &SecretString, what: &str) -> anyhow::Result<()> {
    use sqlx::migrate::MigrateDatabase;
    let url = url.expose_secret();
    if !sqlx::Postgres::database_exists(url).await.unwrap_or(false) {
        sqlx::Postgres::create_database(url)
            .await
            .with_context(|| format!("creating the {what}"))?;
        tracing::info!("created the {what}");
    }
    Ok(())
}

/// Applies one owner's migrations to a database that another owner's also
/// live in (the booking database: the gateway's tables and the booking
/// records). The two share sqlx's ledger, so each leaves the other's
/// entries alone.
pub async fn migrate_shared(
    pool: &PgPool,
    mut migrations: sqlx::migrate::Migrator,
    what: &str,
) -> anyhow::Result<()> {
    migrations.set_ignore_missing(true);
    migrations
        .run(pool)
        .await
        .with_context(|| format!("migrating the {what}"))
}

/// Where a service runs, from `AIRLINE_ENV`: `development` (the local stack,
/// `scripts/env.sh` sets it) or anything else, production by default, so a
/// deployment that forgets the variable gets the strict checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

impl Environment {
    pub fn from_env() -> anyhow::Result<Self> {
        match var("AIRLINE_ENV").as_deref().map(str::trim) {
            Some("development") => Ok(Environment::Development),
            Some("production") | None => Ok(Environment::Production),
            Some(other) => anyhow::bail!(
                "AIRLINE_ENV={other:?} must be `development` or `production` (the default)"
            ),
        }
    }
}

/// The secrets this repository publishes for the local stack
/// (`scripts/env.sh`, `deploy/overlays/dev`): anyone who read the code
/// knows them, so outside development a service refuses to start with any.
const PUBLISHED_DEV_SECRETS: &[&str] = &[
    "dev-only-jwt-secret-change-me-0123456789",
    "dev-jwt-secret-at-least-32-characters-long",
    "admin-password-dev",
    "dev-only-codec-endpoint-token-0123",
    "dev-only-sms-dlr-token",
    "dev-only-kannel-password",
    "dev-flights-service-token",
    "whsec_local_dev",
    "sk_test_local_dev",
    "ZGV2LW9ubHktcGF5bG9hZC1rZXktY2hhbmdlLW1lISE=",
];

/// Refuses, outside development, a secret whose value (or, for a list such
/// as `PAYLOAD_ENCRYPTION_KEYS`, one of whose parts) is a published
/// development value. The message names the variable, never the value.
pub fn refuse_published_secret(
    environment: Environment,
    name: &str,
    value: &SecretString,
) -> anyhow::Result<()> {
    if environment == Environment::Development {
        return Ok(());
    }
    let value = value.expose_secret();
    let published = PUBLISHED_DEV_SECRETS.iter().any(|dev| {
        value == *dev
            || value.split(',').any(|part| {
                let part = part.trim();
                part == *dev
                    || part
                        .split_once('=')
                        .is_some_and(|(_, key)| key.trim() == *dev)
            })
    });
    if published {
        anyhow::bail!(
            "{name} is one of the development values published in this repository \
             (scripts/env.sh, deploy/overlays/dev); set a secret of your own, or \
             AIRLINE_ENV=development on a local stack"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_dev_secrets_are_refused_outside_development() {
        let dev: SecretString = "dev-only-jwt-secret-change-me-0123456789".into();
        let err = refuse_published_secret(Environment::Production, "JWT_SECRET", &dev)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("JWT_SECRET is one of the development values"),
            "{err}"
        );
        assert!(!err.contains("dev-only-jwt"), "the value leaked: {err}");
        refuse_published_secret(Environment::Development, "JWT_SECRET", &dev).unwrap();
        let own: SecretString = "a-secret-nobody-published-0123456789".into();
        refuse_published_secret(Environment::Production, "JWT_SECRET", &own).unwrap();
    }

    #[test]
    fn a_published_key_among_others_is_refused() {
        let keys: SecretString =
            "prod-2=cHJvZC1rZXktMzItYnl0ZXMtbG9uZy0wMTIzNDU2Nzg=,dev-1=ZGV2LW9ubHktcGF5bG9hZC1rZXktY2hhbmdlLW1lISE="
                .into();
        assert!(
            refuse_published_secret(Environment::Production, "PAYLOAD_ENCRYPTION_KEYS", &keys)
                .is_err()
        );
    }
}
