//! The HTTP stack every service puts around its routes: answers for
//! unknown routes and methods in the error shape, the body limit, metrics
//! and the time limit inside; request ids and the request span outside
//! (a service adds its own layers, CORS for one, between the two);
//! [`Server`], which serves a router with graceful shutdown; and
//! [`Service`], a service's listeners and database pool, stopped in order.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::error::{Error, render};
use crate::telemetry;

pub const REQUEST_ID: &str = "x-request-id";

/// 404 and 405 in the error shape, the body limit, per-route metrics and
/// the time limit (503 `timeout`).
pub fn inner<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    body_limit_bytes: usize,
    request_timeout: Duration,
) -> Router<S> {
    router
        .fallback(|| async { Error::NotFound("route") })
        .method_not_allowed_fallback(|| async {
            render(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                None,
                "method not allowed on this route".into(),
            )
        })
        .layer(DefaultBodyLimit::max(body_limit_bytes))
        .layer(axum::middleware::from_fn(telemetry::track_metrics))
        .layer(axum::middleware::from_fn_with_state(
            request_timeout,
            telemetry::time_limit,
        ))
}

/// An `x-request-id` on every request (the caller's, or a new UUID) and
/// its answer, and a span per request that carries it.
pub fn outer<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    let request_id = HeaderName::from_static(REQUEST_ID);
    router
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(telemetry::make_span))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// A bound listener and the router it serves: serving runs until the
/// shutdown future resolves, then lets the requests in flight finish.
/// Handlers can read the peer's address (`ConnectInfo<SocketAddr>`).
pub struct Server {
    listener: TcpListener,
    router: Router,
}

impl Server {
    pub fn new(listener: TcpListener, router: Router) -> Self {
        Server { listener, router }
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// The bound port (0 only if the socket cannot say).
    pub fn port(&self) -> u16 {
        self.local_addr().map_or(0, |a| a.port())
    }

    pub async fn serve_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }
}

/// What a service's `Application::build` assembles: its public listener,
/// an optional internal one (`/metrics` and other ops endpoints) and its
/// database pool. [`Service::run_until`] stops them in that order: the
/// public port drains its requests first, the internal one stays up
/// (metrics scrapable) until then, and the pool closes last.
pub struct Service {
    name: &'static str,
    public: Server,
    internal: Option<Server>,
    pool: PgPool,
}

impl Service {
    pub fn new(name: &'static str, public: Server, pool: PgPool) -> Self {
        Service {
            name,
            public,
            internal: None,
            pool,
        }
    }

    /// Adds the internal listener.
    pub fn with_internal(mut self, internal: Server) -> Self {
        self.internal = Some(internal);
        self
    }

    /// The public listener's port.
    pub fn port(&self) -> u16 {
        self.public.port()
    }

    /// The internal listener's port (0 when there is none).
    pub fn metrics_port(&self) -> u16 {
        self.internal.as_ref().map_or(0, Server::port)
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(
            service = self.name,
            addr = ?self.public.local_addr(),
            internal = ?self.internal.as_ref().and_then(Server::local_addr),
            "listening"
        );
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let internal = self.internal.map(|server| {
            tokio::spawn(server.serve_until(async move {
                let _ = stopped.wait_for(|s| *s).await;
            }))
        });
        let result = self.public.serve_until(shutdown).await;
        let _ = stop.send(true);
        if let Some(internal) = internal {
            let _ = internal.await;
        }
        self.pool.close().await;
        result
    }
}
