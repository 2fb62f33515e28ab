//! Liveness (the flight service's handler) and readiness (the booking
//! database and Temporal) on the public port; the metrics on an internal
//! listener of their own (`API_METRICS_ADDR`), never on the public port.

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use booking_workflows::BookingWorkflow;
use temporalio_client::errors::WorkflowInteractionError;

use crate::app::AppState;
use crate::error::Error;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(flights::health::healthz))
        .route("/readyz", get(readyz))
}

/// The internal listener's routes: `/metrics`, and `/healthz` for probes
/// that only reach that port.
pub fn internal_router() -> Router {
    Router::new()
        .route("/metrics", get(flights::health::metrics))
        .route("/healthz", get(flights::health::healthz))
}

/// Ready when the booking database and Temporal both answer.
async fn readyz(State(state): State<AppState>) -> Result<impl IntoResponse, Error> {
    if let Err(e) = sqlx::query_scalar::<_, i32>("select 1")
        .fetch_one(&state.pool)
        .await
    {
        tracing::warn!(error = %e, "readiness: database unreachable");
        return Err(Error::Unavailable);
    }
    // Describing a workflow that does not exist is a cheap round trip that
    // needs the namespace to be served: "not found" means Temporal is up.
    let probe = state
        .temporal
        .get_workflow_handle::<BookingWorkflow>("readiness-probe")
        .describe(Default::default())
        .await;
    match probe {
        Ok(_) | Err(WorkflowInteractionError::NotFound(_)) => Ok(axum::Json(
            serde_json::json!({"status": "ready", "database": "ok", "temporal": "ok"}),
        )),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: Temporal unreachable");
            Err(Error::Unavailable)
        }
    }
}
