//! Liveness and metrics (the service kit's), and readiness: the database
//! answers.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::error::Error;
use crate::state::AppState;
use kit::health::{healthz, metrics};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// Ready when the database answers.
async fn readyz(State(state): State<AppState>) -> Result<impl IntoResponse, Error> {
    match sqlx::query_scalar::<_, i32>("select 1")
        .fetch_one(&state.pool)
        .await
    {
        Ok(_) => Ok((
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ready", "database": "ok"})),
        )),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database unreachable");
            Err(Error::Unavailable)
        }
    }
}
