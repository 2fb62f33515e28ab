//! Builds the service: database pool, router, middleware, listener.

use std::sync::Arc;

use axum::Router;
use kit::http::{self, Server, Service};
use kit::telemetry;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::catalogue::directory::Directory;
use crate::config::Config;
pub use crate::state::AppState;
use crate::{catalogue, health, inventory, schema, search};

/// Assembles the flight service ([`Service`]: its listener and pool).
pub struct Application;

pub async fn connect(config: &Config) -> anyhow::Result<PgPool> {
    kit::config::pg_pool(&config.database_url, config.db_max_connections).await
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Service> {
        let pool = connect(&config).await?;
        Self::build_with_pool(config, pool).await
    }

    pub async fn build_with_pool(config: Config, pool: PgPool) -> anyhow::Result<Service> {
        telemetry::metrics_handle(); // install the recorder before the first request
        let listener = TcpListener::bind((config.host, config.port)).await?;
        // The inventory functions as this release defines them, on every start.
        schema::apply_functions(&pool).await?;
        let airports = Directory::load(&pool).await?;
        airports.spawn_refresher(pool.clone(), config.directory_refresh);
        let state = AppState {
            pool: pool.clone(),
            config: Arc::new(config),
            airports,
        };
        Ok(Service::new(
            "flight service",
            Server::new(listener, router(state)),
            pool,
        ))
    }
}

pub fn router(state: AppState) -> Router {
    let api = catalogue::router()
        .merge(search::router())
        .merge(inventory::router());
    let api = http::inner(
        Router::new().nest("/api/v1", api),
        state.config.body_limit_bytes,
        state.config.request_timeout,
    );
    http::outer(api).merge(health::router()).with_state(state)
}
