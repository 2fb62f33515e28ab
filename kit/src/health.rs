//! Liveness and the Prometheus scrape, the same for every service; each
//! service's readiness checks its own dependencies.

use axum::Json;
use axum::response::IntoResponse;
use serde::Serialize;

use crate::telemetry::metrics_handle;

#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Liveness {
    /// `ok`.
    status: &'static str,
}

/// Alive: the process answers.
pub async fn healthz() -> Json<Liveness> {
    Json(Liveness { status: "ok" })
}

pub async fn metrics() -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4")],
        metrics_handle().render(),
    )
}
