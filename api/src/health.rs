//! Liveness and metrics (the flight service's handlers), and readiness:
//! the booking database and Temporal.

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
        .route("/metrics", get(flights::health::metrics))
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
