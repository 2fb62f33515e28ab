//! Builds the gateway: database pool, Temporal client, flight service
//! client, router with its limits and middleware, listener.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use kit::http::{self, Server, Service};
use kit::telemetry;
use secrecy::SecretString;
use sqlx::PgPool;
use temporalio_client::Client;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::password::Passwords;
use crate::auth::tokens::Tokens;
use crate::config::Config;
use crate::limits::{ClientIp, UserOrIp};
use crate::routes::Routes;
pub use crate::state::AppState;
use crate::{auth, bookings, catalogue, health, limits, openapi, webhook};

/// The booking database's migrations (shared with the worker, which runs
/// the same set).
/// The gateway's tables in the booking database (`migrations/gateway`):
/// accounts, sessions, booking requests, the login throttle, Stripe events.
/// The booking records beside them are the worker's (`worker migrate`).
pub fn migrations() -> sqlx::migrate::Migrator {
    sqlx::migrate!("../migrations/gateway")
}

/// Assembles the gateway ([`Service`]: the public listener, the internal
/// one with `/metrics` and the codec endpoint on `API_METRICS_ADDR`, and
/// the pool).
pub struct Application;

/// Connects to Temporal with the standard `TEMPORAL_*` variables
/// (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS and API key options).
/// Payloads are encrypted with `keys` (`PAYLOAD_ENCRYPTION_KEYS`).
pub async fn temporal_client(keys: codec::Keys) -> anyhow::Result<Client> {
    kit::temporal::connect(keys).await
}

pub async fn connect(config: &Config) -> anyhow::Result<PgPool> {
    kit::config::pg_pool(&config.database_url, config.db_max_connections)
        .await
        .context("connecting to the booking database")
}

/// Creates the booking database when missing and applies the gateway's
/// migrations; needs only `BOOKING_DATABASE_URL`.
pub async fn migrate(url: &SecretString) -> anyhow::Result<()> {
    kit::config::ensure_database(url, "booking database").await?;
    let pool = kit::config::pg_pool(url, 2)
        .await
        .context("connecting to the booking database")?;
    kit::config::migrate_shared(&pool, migrations(), "gateway's tables").await?;
    pool.close().await;
    Ok(())
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Service> {
        let pool = connect(&config).await?;
        let temporal = temporal_client(config.payload_keys.clone()).await?;
        Self::build_with(config, pool, temporal).await
    }

    pub async fn build_with(
        config: Config,
        pool: PgPool,
        temporal: Client,
    ) -> anyhow::Result<Service> {
        telemetry::metrics_handle();
        let listener = TcpListener::bind((config.host, config.port)).await?;
        let internal = TcpListener::bind(config.metrics_addr)
            .await
            .with_context(|| format!("API_METRICS_ADDR {}", config.metrics_addr))?;
        let flights = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(config.request_timeout)
            .pool_max_idle_per_host(64)
            .build()?;
        let state = AppState {
            pool: pool.clone(),
            tokens: Arc::new(Tokens::new(&config.auth)),
            passwords: Passwords::new(&config.auth)?,
            devices: crate::auth::device::Devices::new(
                secrecy::ExposeSecret::expose_secret(&config.auth.jwt_secret).as_bytes(),
            ),
            mailer: crate::auth::mail::Mailer::new(
                &config.accounts.smtp,
                &config.accounts.public_url,
            )?,
            sealer: crate::auth::totp::Sealer::new(
                secrecy::ExposeSecret::expose_secret(&config.auth.jwt_secret).as_bytes(),
            ),
            config: Arc::new(config),
            temporal,
            flights,
        };
        auth::ensure_admin(&state).await?;
        let mut internal_router = health::internal_router();
        let config = &state.config;
        // The Web UI's and the CLI's codec endpoint, when configured.
        if let Some(endpoint) = &config.codec {
            let codec = codec::http::router(config.payload_keys.clone(), endpoint)?;
            internal_router = internal_router.merge(codec);
        }
        Ok(
            Service::new("gateway", Server::new(listener, router(state)?), pool)
                .with_internal(Server::new(internal, internal_router)),
        )
    }
}

/// Every public route: the API under `/api/v1`, its sign-in routes limited
/// per client address (`per_ip`), the rest per user, the webhook and the
/// document unlimited; then liveness and readiness.
fn routes(
    per_ip: impl FnOnce(Router<AppState>) -> Router<AppState>,
    per_user: impl FnOnce(Router<AppState>) -> Router<AppState>,
) -> Routes {
    let api = auth::routes()
        .map_router(per_ip)
        .merge(
            auth::me_routes()
                .merge(catalogue::routes())
                .merge(bookings::routes())
                .map_router(per_user),
        )
        .post("/webhooks/stripe", webhook::stripe)
        .get("/openapi.json", openapi::document);
    Routes::nest("/api/v1", api).merge(health::routes())
}

/// The (method, path) of every public route, as routed.
pub fn route_table() -> Vec<(Method, String)> {
    routes(|r| r, |r| r).table().to_vec()
}

pub fn router(state: AppState) -> anyhow::Result<Router> {
    let config = state.config.clone();
    let ip = ClientIp::new(&config.limits.trusted_proxies);
    let per_ip = limits::layer(
        ip.clone(),
        config.limits.auth_period,
        config.limits.auth_burst,
    );
    let per_user = limits::layer(
        UserOrIp {
            tokens: state.tokens.clone(),
            ip,
        },
        config.limits.api_period,
        config.limits.api_burst,
    );
    let mut router = http::inner(
        routes(|r| r.layer(per_ip), |r| r.layer(per_user)).into_router(),
        config.body_limit_bytes,
        config.request_timeout,
    );
    if !config.cors_origins.is_empty() {
        let origins = config
            .cors_origins
            .iter()
            .map(|o| HeaderValue::from_str(o).with_context(|| format!("CORS origin {o:?}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([
                    Method::GET,
                    Method::POST,
                    Method::PUT,
                    Method::PATCH,
                    Method::DELETE,
                ])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    HeaderName::from_static("idempotency-key"),
                ])
                .expose_headers([
                    HeaderName::from_static(http::REQUEST_ID),
                    header::RETRY_AFTER,
                ])
                .max_age(Duration::from_secs(600)),
        );
    }
    let mut router = router.merge(crate::web::router(&config.web)?);
    if config.accounts.hsts() {
        // Served over TLS (APP_PUBLIC_URL is https): browsers must never
        // come back over plain HTTP.
        router = router.layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ));
    }
    Ok(http::outer(router).with_state(state))
}

#[cfg(test)]
mod tests {
    /// The gateway's and the worker's migrations share one database and one
    /// `_sqlx_migrations` table: a version may be used by one owner only, or
    /// the second owner's start fails ("previously applied but modified").
    #[test]
    fn migration_versions_are_unique_across_the_owners_of_the_booking_database() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
        let mut seen = std::collections::HashMap::new();
        for owner in ["gateway", "booking"] {
            for entry in std::fs::read_dir(root.join(owner)).unwrap() {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                let version = name.split('_').next().unwrap().to_owned();
                if let Some(other) = seen.insert(version.clone(), owner) {
                    panic!("version {version} is both {other}'s and {owner}'s ({name})");
                }
            }
        }
    }
}
