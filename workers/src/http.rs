//! The worker's own HTTP endpoint (`WORKER_HTTP_ADDR`, default
//! `0.0.0.0:8082`), for Kubernetes and Prometheus:
//!
//! - `/healthz`: the process answers (liveness; also while draining).
//! - `/readyz`: the worker is polling and the booking database answers;
//!   503 once a shutdown has begun.
//! - `/metrics`: the booking metrics: transitions by status (bookings by
//!   outcome), payment authorizations by result, and stuck bookings, counted
//!   from the read model at each scrape.
//! - `/sms/dlr/{token}?id=<message id>&type=<Kannel's %d>`: Kannel's
//!   delivery reports for the booking texts, recorded on the message
//!   (`sms_message`, `sms_event`); the token is `SMS_DLR_TOKEN`.
//!
//! Temporal's own `temporal_*` metrics (task slots, schedule-to-start
//! latency, ...) are served by the SDK on `WORKER_METRICS_ADDR`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use activities::records::Records;
use activities::sms::{Report, Texter};
use anyhow::Context;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;

/// Gauge of bookings that should have moved on, by `reason`.
pub const STUCK: &str = "booking_stuck";

/// When a booking counts as stuck.
#[derive(Debug, Clone, Copy)]
pub struct StuckAfter {
    /// Awaiting payment this long past its due time.
    pub payment_grace: Duration,
    /// Confirming for this long.
    pub confirming: Duration,
}

pub struct Probe {
    ready: AtomicBool,
    records: Records,
    texter: Texter,
    metrics: PrometheusHandle,
    stuck_after: StuckAfter,
}

impl Probe {
    pub fn new(
        records: Records,
        texter: Texter,
        stuck_after: StuckAfter,
    ) -> anyhow::Result<Arc<Self>> {
        Ok(Arc::new(Probe {
            ready: AtomicBool::new(false),
            records,
            texter,
            metrics: kit::telemetry::metrics_handle().clone(),
            stuck_after,
        }))
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }
}

/// Binds `addr` and serves until `stop` resolves.
pub async fn serve(
    addr: SocketAddr,
    probe: Arc<Probe>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding WORKER_HTTP_ADDR {addr}"))?;
    tracing::info!(addr = %listener.local_addr()?, "health and metrics endpoint listening");
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/sms/dlr/{token}", get(delivery_report))
        .with_state(probe);
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!(error = %e, "health endpoint failed");
        }
    }))
}

async fn healthz() -> impl IntoResponse {
    axum::Json(json!({"status": "ok"}))
}

fn unavailable(message: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(json!({"error": {"code": "unavailable", "message": message}})),
    )
        .into_response()
}

async fn readyz(State(probe): State<Arc<Probe>>) -> Response {
    if !probe.ready.load(Ordering::SeqCst) {
        return unavailable("the worker is starting or draining");
    }
    match tokio::time::timeout(Duration::from_secs(2), probe.records.ping()).await {
        Ok(Ok(())) => axum::Json(json!({"status": "ready", "database": "ok"})).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check: booking database unreachable");
            unavailable("the booking database is unreachable")
        }
        Err(_) => unavailable("the booking database did not answer within 2 s"),
    }
}

#[derive(serde::Deserialize)]
struct DeliveryReport {
    id: String,
    #[serde(rename = "type")]
    dlr_type: String,
}

fn refused(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

/// One of Kannel's delivery reports. Kannel retries a report that does not
/// get a 2xx, so only a database failure answers 5xx.
async fn delivery_report(
    State(probe): State<Arc<Probe>>,
    Path(token): Path<String>,
    query: Result<Query<DeliveryReport>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if !probe.texter.dlr_token_matches(&token) {
        return refused(StatusCode::NOT_FOUND, "not_found", "no such endpoint");
    }
    let Ok(Query(report)) = query else {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_report",
            "id and type are required",
        );
    };
    let (Ok(message_id), Ok(dlr_type)) = (
        uuid::Uuid::parse_str(&report.id),
        report.dlr_type.parse::<u32>(),
    ) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_report",
            "id must be a message id and type a delivery report type",
        );
    };
    if activities::sms::dlr_status(dlr_type).is_none() {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_report",
            "unknown delivery report type",
        );
    }
    match probe.texter.report(message_id, dlr_type).await {
        Ok(Report::Recorded(status)) => {
            tracing::info!(%message_id, dlr_type, status, "delivery report recorded");
            axum::Json(json!({"status": status})).into_response()
        }
        Ok(Report::Unknown) => {
            tracing::warn!(%message_id, dlr_type, "delivery report for an unknown message");
            refused(
                StatusCode::NOT_FOUND,
                "unknown_message",
                "no text with this id",
            )
        }
        Err(e) => {
            tracing::error!(%message_id, error = %e, "recording a delivery report failed");
            unavailable("the report could not be recorded; send it again")
        }
    }
}

async fn metrics(State(probe): State<Arc<Probe>>) -> Response {
    let after = probe.stuck_after;
    match tokio::time::timeout(
        Duration::from_secs(5),
        probe.records.stuck(after.payment_grace, after.confirming),
    )
    .await
    {
        Ok(Ok(stuck)) => {
            metrics::gauge!(STUCK, "reason" => "payment_window_passed")
                .set(stuck.payment_window_passed as f64);
            metrics::gauge!(STUCK, "reason" => "confirming_too_long")
                .set(stuck.confirming_too_long as f64);
            metrics::gauge!(STUCK, "reason" => "needs_attention").set(stuck.needs_attention as f64);
        }
        // The last values stay; the failure is visible in the logs.
        Ok(Err(e)) => tracing::warn!(error = %e, "counting stuck bookings failed"),
        Err(_) => tracing::warn!("counting stuck bookings timed out"),
    }
    (
        [("content-type", "text/plain; version=0.0.4")],
        probe.metrics.render(),
    )
        .into_response()
}
