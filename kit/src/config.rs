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
