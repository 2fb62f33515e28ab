//! Builds the service: database pool, router, middleware, listener.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode};
use axum::response::IntoResponse;
use secrecy::ExposeSecret;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::catalogue::directory::Directory;
use crate::config::Config;
use crate::error::Error;
use crate::{catalogue, health, inventory, search, telemetry};

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<Config>,
    pub airports: Arc<Directory>,
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    pool: PgPool,
}

pub fn connect_options(url: &secrecy::SecretString) -> anyhow::Result<PgConnectOptions> {
    Ok(url.expose_secret().parse::<PgConnectOptions>()?)
}

pub async fn connect(config: &Config) -> anyhow::Result<PgPool> {
    let pool = PgPoolOptions::new()
        .max_connections(config.db_max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(3))
        // A ping per acquire is a round trip per query; a broken connection
        // fails its query and is dropped instead.
        .test_before_acquire(false)
        .connect_with(connect_options(&config.database_url)?)
        .await?;
    Ok(pool)
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = connect(&config).await?;
        Self::build_with_pool(config, pool).await
    }

    pub async fn build_with_pool(config: Config, pool: PgPool) -> anyhow::Result<Self> {
        telemetry::metrics_handle(); // install the recorder before the first request
        let listener = TcpListener::bind((config.host, config.port)).await?;
        let airports = Directory::load(&pool).await?;
        airports.spawn_refresher(pool.clone(), config.directory_refresh);
        let state = AppState {
            pool: pool.clone(),
            config: Arc::new(config),
            airports,
        };
        Ok(Self {
            listener,
            router: router(state),
            pool,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(addr = ?self.listener.local_addr().ok(), "flight service listening");
        let result = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await;
        self.pool.close().await;
        result
    }
}

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let api = catalogue::router()
        .merge(search::router())
        .merge(inventory::router());
    Router::new()
        .nest("/api/v1", api)
        .fallback(|| async { Error::NotFound("route") })
        .method_not_allowed_fallback(|| async {
            (
                StatusCode::METHOD_NOT_ALLOWED,
                axum::Json(serde_json::json!({"error": {
                    "code": "method_not_allowed",
                    "message": "method not allowed on this route"
                }})),
            )
                .into_response()
        })
        .layer(DefaultBodyLimit::max(state.config.body_limit_bytes))
        .layer(axum::middleware::from_fn(telemetry::track_metrics))
        .layer(axum::middleware::from_fn_with_state(
            state.config.request_timeout,
            telemetry::time_limit,
        ))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(telemetry::make_span))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .merge(health::router())
        .with_state(state)
}
