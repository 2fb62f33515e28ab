//! Liveness and readiness (the booking
//! database and Temporal) on the public port; the metrics on an internal
//! listener of their own (`API_METRICS_ADDR`), never on the public port.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use temporalio_client::errors::WorkflowInteractionError;
use utoipa::ToSchema;
use workflows::BookingWorkflow;

use crate::error::Error;
use crate::routes::Routes;
use crate::state::AppState;
use kit::health::Liveness;

pub fn routes() -> Routes {
    Routes::new()
        .get("/healthz", healthz)
        .get("/readyz", readyz)
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`.
    status: &'static str,
    /// `ok`: the booking database answers.
    database: &'static str,
    /// `ok`: Temporal serves the namespace.
    temporal: &'static str,
}

/// Alive: the process answers (the liveness probe).
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, body = Liveness)))]
async fn healthz() -> Json<Liveness> {
    kit::health::healthz().await
}

/// The internal listener's routes: `/metrics`, and `/healthz` for probes
/// that only reach that port.
pub fn internal_router() -> Router {
    Router::new()
        .route("/metrics", get(kit::health::metrics))
        .route("/healthz", get(kit::health::healthz))
}

/// Ready when the booking database and Temporal both answer (the
/// readiness probe).
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Readiness),
              (status = 503, description = "unavailable: the database or Temporal does not answer")))]
async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, Error> {
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
        Ok(_) | Err(WorkflowInteractionError::NotFound(_)) => Ok(Json(Readiness {
            status: "ready",
            database: "ok",
            temporal: "ok",
        })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: Temporal unreachable");
            Err(Error::Unavailable)
        }
    }
}
