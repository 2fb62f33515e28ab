//! `worker`: runs the booking workflow and its activities on task queue
//! `bookings`. Configuration from the environment (the README's table;
//! the Temporal connection from the standard `TEMPORAL_*` variables),
//! Temporal's Prometheus metrics on `WORKER_METRICS_ADDR` (default
//! 0.0.0.0:9464); `/healthz`, `/readyz` and the booking metrics on
//! `WORKER_HTTP_ADDR` (default 0.0.0.0:8082, see `http`); graceful drain on
//! SIGTERM / Ctrl-C. `worker migrate` only creates and
//! migrates the booking database, then exits; `worker history ID FILE`
//! saves a workflow's history in the form the replay test reads.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use activities::config::{ActivitiesConfig, duration, parse, var};
use activities::handlers::Activities;
use anyhow::Context;
use kit::config::Environment;
use kit::telemetry;
use temporalio_client::Client;
use temporalio_common::telemetry::{
    PrometheusExporterOptions, TelemetryOptions, start_prometheus_metric_exporter,
};
use temporalio_sdk::runtime::RuntimeOptions;
use temporalio_sdk::runtime::worker_tuner::{FixedSizeSlotSupplier, TunerHolder};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};
use workflows::{BookingWorkflow, FlightChangeFanout};

mod http;

struct WorkerConfig {
    task_queue: String,
    metrics_addr: SocketAddr,
    http_addr: SocketAddr,
    stuck_after: http::StuckAfter,
    max_concurrent_workflow_tasks: usize,
    max_concurrent_activities: usize,
    max_cached_workflows: usize,
    shutdown_grace: Duration,
}

impl WorkerConfig {
    fn from_env() -> anyhow::Result<Self> {
        Ok(WorkerConfig {
            task_queue: var("TEMPORAL_TASK_QUEUE")
                .unwrap_or_else(|| workflows::contract::TASK_QUEUE.into()),
            metrics_addr: parse("WORKER_METRICS_ADDR", ([0, 0, 0, 0], 9464).into())?,
            http_addr: parse("WORKER_HTTP_ADDR", ([0, 0, 0, 0], 8082).into())?,
            stuck_after: http::StuckAfter {
                payment_grace: duration("STUCK_PAYMENT_GRACE", Duration::from_secs(120))?,
                confirming: duration("STUCK_CONFIRMING_AFTER", Duration::from_secs(300))?,
            },
            max_concurrent_workflow_tasks: parse("WORKER_MAX_CONCURRENT_WORKFLOW_TASKS", 100)?,
            max_concurrent_activities: parse("WORKER_MAX_CONCURRENT_ACTIVITIES", 100)?,
            max_cached_workflows: parse("WORKER_MAX_CACHED_WORKFLOWS", 200)?,
            shutdown_grace: duration("WORKER_SHUTDOWN_GRACE", Duration::from_secs(30))?,
        })
    }
}

/// The payload keys (`PAYLOAD_ENCRYPTION_KEYS`), read before anything
/// connects: outside development (`AIRLINE_ENV`), not a published one.
fn payload_keys() -> anyhow::Result<codec::Keys> {
    kit::temporal::payload_keys(Environment::from_env()?)
}

/// A client from the standard `TEMPORAL_*` variables, its payloads (and
/// so the worker's) encrypted with `keys`.
async fn connect_client(keys: codec::Keys) -> anyhow::Result<Client> {
    kit::temporal::connect(keys).await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init_logging("info,temporalio_sdk_core=warn,sqlx=warn");
    match std::env::args().nth(1).as_deref() {
        None | Some("run") => {}
        Some("migrate") => {
            activities::config::migrate(&ActivitiesConfig::from_env()?).await?;
            tracing::info!("booking database migrated");
            return Ok(());
        }
        Some("history") => {
            let mut args = std::env::args().skip(2);
            let (Some(workflow_id), Some(file)) = (args.next(), args.next()) else {
                anyhow::bail!("use `worker history <workflow id> <file.json>`");
            };
            let json = connect_client(payload_keys()?)
                .await?
                .get_workflow_handle::<BookingWorkflow>(&workflow_id)
                .fetch_history(Default::default())
                .to_json()
                .await
                .with_context(|| format!("fetching the history of {workflow_id}"))?;
            std::fs::write(&file, json).with_context(|| format!("writing {file}"))?;
            tracing::info!(%workflow_id, %file, "history saved for the replay test");
            return Ok(());
        }
        Some(other) => {
            anyhow::bail!("unknown command {other:?}: use `worker [run|migrate|history ID FILE]`")
        }
    }
    let config = WorkerConfig::from_env()?;
    let activities_config = ActivitiesConfig::from_env()?;
    let keys = payload_keys()?;
    let activities = Activities::connect(&activities_config).await?;

    // Up first, so liveness answers while the rest connects; ready later.
    let probe = http::Probe::new(
        activities.records.clone(),
        activities.texter.clone(),
        config.stuck_after,
    )?;
    activities::records::register_email_failures();
    activities::sms::register_metrics();
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let http_server = http::serve(config.http_addr, probe.clone(), async {
        let _ = http_stopped.await;
    })
    .await?;

    let metrics = start_prometheus_metric_exporter(
        PrometheusExporterOptions::builder()
            .socket_addr(config.metrics_addr)
            // Prometheus' conventions: seconds, and the unit in the name
            // (temporal_activity_schedule_to_start_latency_seconds_bucket).
            .use_seconds_for_durations(true)
            .unit_suffix(true)
            .build(),
    )
    .with_context(|| format!("serving metrics on {}", config.metrics_addr))?;
    let telemetry = TelemetryOptions::builder()
        .metrics(metrics.meter.clone() as Arc<_>)
        .build();
    let runtime = Runtime::from_current_tokio(
        RuntimeOptions::builder()
            .telemetry_options(telemetry)
            .build()
            .map_err(|e| anyhow::anyhow!("runtime options: {e}"))?,
    )?;

    let client = connect_client(keys).await?;

    let tuner = TunerHolder::builder()
        .workflow_task_slot_supplier(FixedSizeSlotSupplier::new(
            config.max_concurrent_workflow_tasks,
        ))
        .activity_task_slot_supplier(FixedSizeSlotSupplier::new(config.max_concurrent_activities))
        .local_activity_task_slot_supplier(FixedSizeSlotSupplier::new(
            config.max_concurrent_activities,
        ))
        .nexus_task_slot_supplier(FixedSizeSlotSupplier::new(1))
        .build();
    let options = WorkerOptions::new(config.task_queue.clone())
        .register_workflow::<BookingWorkflow>()?
        .register_workflow::<FlightChangeFanout>()?
        .register_activities(activities)
        .tuner(tuner)
        .max_cached_workflows(config.max_cached_workflows)
        .graceful_shutdown_period(config.shutdown_grace)
        .build();
    let mut worker = Worker::new(&runtime, client, options)?;

    let shutdown = worker.shutdown_handle();
    let draining = probe.clone();
    let grace = config.shutdown_grace;
    tokio::spawn(async move {
        telemetry::shutdown_signal().await;
        draining.set_ready(false);
        tracing::info!(
            ?grace,
            "shutdown requested: no new tasks; draining running ones"
        );
        shutdown();
    });
    probe.set_ready(true);
    tracing::info!(
        task_queue = %config.task_queue,
        metrics = %metrics.bound_addr,
        "worker started"
    );
    let result = worker.run().await;
    let _ = stop_http.send(());
    let _ = http_server.await;
    result?;
    tracing::info!("worker stopped");
    Ok(())
}
