//! The flight-change fan-out: when an admin changes a flight's departure or
//! cancels it, the change is applied and every live booking on that flight
//! gets the matching signal.
//!
//! A workflow rather than a loop in the request, so that a crash half-way
//! loses nothing. Its first step applies the admin's change at the flight
//! service (once per change key, however often it is retried), so no crash
//! can leave a change applied and untold; then the list of bookings is read
//! once (an activity asks the flight service which bookings hold seats on
//! the flight: it knows a hold the moment it is made, before the read model
//! does) and every signal is a command in this workflow's history. Each
//! schedule change carries the flight's version, so a booking told of two
//! changes out of order keeps the newer one.
//! Its id is derived from the change key, so a repeated admin request
//! starts no second fan-out.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use temporalio_common::{ActivityCloseTimeouts, RetryPolicy};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityOptions, SignalWorkflowOptions, WorkflowContext, WorkflowContextView, WorkflowResult,
};

use crate::BookingWorkflow;
use crate::activities::{ApplyFlightChange, BookingActivities, FlightChangeAnswer};
use crate::contract::{FlightCancelled, ScheduleChange, workflow_id};

/// The workflow type name ops see in the Web UI.
pub const FANOUT_WORKFLOW_TYPE: &str = "FlightChangeFanout";

/// How long the first step waits out an unreachable flight service before
/// the fan-out gives up (and tells the admin to send the change again).
const APPLY_BUDGET: Duration = Duration::from_secs(600);

/// Signals sent at once; each batch is one workflow task.
const BATCH: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FlightChange {
    ScheduleChanged {
        departure_time: DateTime<Utc>,
        /// The flight's version with this departure.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<i64>,
    },
    Cancelled {
        reason: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlightChangeInput {
    pub flight_id: i64,
    /// A change the gateway had already applied (fan-outs started before
    /// the fan-out applied changes itself; kept for their histories).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<FlightChange>,
    /// The admin's PATCH, applied by the first step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<serde_json::Value>,
    /// The change's key: the admin's `Idempotency-Key`, else a fresh one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl FlightChangeInput {
    /// A change for the fan-out to apply, under `key`.
    pub fn apply(flight_id: i64, patch: serde_json::Value, key: String) -> Self {
        FlightChangeInput {
            flight_id,
            change: None,
            patch: Some(patch),
            key: Some(key),
        }
    }

    /// One fan-out per flight and change key: `flight-<id>-change-<key>`
    /// (older ones: `flight-<id>-cancelled`, or
    /// `flight-<id>-departure-<unix seconds>`).
    pub fn workflow_id(&self) -> String {
        if let Some(key) = &self.key {
            return format!("flight-{}-change-{key}", self.flight_id);
        }
        match &self.change {
            Some(FlightChange::Cancelled { .. }) => {
                format!("flight-{}-cancelled", self.flight_id)
            }
            Some(FlightChange::ScheduleChanged { departure_time, .. }) => format!(
                "flight-{}-departure-{}",
                self.flight_id,
                departure_time.timestamp()
            ),
            None => format!("flight-{}-change", self.flight_id),
        }
    }

    /// The line the Web UI shows for the fan-out (`static_summary`).
    pub fn summary(&self) -> String {
        if let Some(patch) = &self.patch {
            return match change_in(patch) {
                Some(ChangeKind::Cancelled) => format!(
                    "Flight {} cancelled: refund or release its bookings",
                    self.flight_id
                ),
                _ => format!(
                    "Flight {} changed: apply it, then tell its bookings",
                    self.flight_id
                ),
            };
        }
        match &self.change {
            Some(FlightChange::Cancelled { .. }) => format!(
                "Flight {} cancelled: refund or release its bookings",
                self.flight_id
            ),
            Some(FlightChange::ScheduleChanged { departure_time, .. }) => format!(
                "Flight {} now departs {}: tell its bookings",
                self.flight_id,
                departure_time.to_rfc3339()
            ),
            None => format!("Flight {} changed", self.flight_id),
        }
    }
}

/// What a PATCH means for the flight's bookings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Cancelled,
    Departure,
}

/// The bookings must hear of a PATCH that cancels the flight or moves its
/// departure; a gate or a fare needs no fan-out.
pub fn change_in(patch: &serde_json::Value) -> Option<ChangeKind> {
    if patch.get("status").and_then(|s| s.as_str()) == Some("cancelled") {
        Some(ChangeKind::Cancelled)
    } else if patch.get("departure_time").is_some() {
        Some(ChangeKind::Departure)
    } else {
        None
    }
}

/// The change to tell the bookings, from the applied PATCH and the flight
/// the flight service answered with (its departure and version).
fn told_change(patch: &serde_json::Value, flight: &serde_json::Value) -> Option<FlightChange> {
    match change_in(patch)? {
        ChangeKind::Cancelled => Some(FlightChange::Cancelled { reason: None }),
        ChangeKind::Departure => {
            let departure_time = flight
                .get("departure_time")
                .cloned()
                .and_then(|v| serde_json::from_value(v).ok())?;
            Some(FlightChange::ScheduleChanged {
                departure_time,
                version: flight.get("version").and_then(serde_json::Value::as_i64),
            })
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FanoutResult {
    /// Live bookings found on the flight.
    pub bookings: u32,
    pub signalled: u32,
    /// Bookings that had closed in the meantime.
    pub skipped: u32,
    /// The flight service's answer to the change (fan-outs that apply it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<FlightChangeAnswer>,
}

#[workflow]
pub struct FlightChangeFanout {
    input: FlightChangeInput,
}

#[workflow_methods]
impl FlightChangeFanout {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: FlightChangeInput) -> Self {
        Self { input }
    }

    #[run(name = FANOUT_WORKFLOW_TYPE)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<FanoutResult> {
        let input = ctx.state(|s| s.input.clone());
        let mut result = FanoutResult::default();
        let change = match (&input.patch, &input.key, &input.change) {
            (Some(patch), Some(key), _) => {
                let mut options =
                    step_options(format!("Apply the change to flight {}", input.flight_id));
                options.close_timeouts = ActivityCloseTimeouts::ScheduleAndStartToClose {
                    schedule_to_close: APPLY_BUDGET,
                    start_to_close: Duration::from_secs(30),
                };
                let answer = ctx
                    .execute_activity(
                        BookingActivities::apply_flight_change,
                        ApplyFlightChange {
                            flight_id: input.flight_id,
                            patch: patch.clone(),
                            key: key.clone(),
                        },
                        options,
                    )
                    .await
                    .unwrap_or_else(|_| unreachable_answer());
                let change = answer
                    .applied()
                    .then(|| told_change(patch, &answer.body))
                    .flatten();
                result.answer = Some(answer);
                match change {
                    Some(change) => change,
                    // Refused, or nothing the bookings must hear of.
                    None => return Ok(result),
                }
            }
            (_, _, Some(change)) => change.clone(),
            _ => return Ok(result),
        };
        let options = step_options(format!("Find live bookings on flight {}", input.flight_id));
        let bookings = ctx
            .execute_activity(
                BookingActivities::live_bookings_on_flight,
                input.flight_id,
                options,
            )
            .await?;
        result.bookings = u32::try_from(bookings.len()).unwrap_or(u32::MAX);
        for batch in bookings.chunks(BATCH) {
            let signals = batch.iter().map(|booking_id| {
                let target = ctx.external_workflow(workflow_id(booking_id), None);
                let options = SignalWorkflowOptions::builder()
                    .summary(format!("Tell booking {booking_id}"))
                    .build();
                let change = change.clone();
                async move {
                    match change {
                        FlightChange::ScheduleChanged {
                            departure_time,
                            version,
                        } => {
                            target
                                .signal(
                                    BookingWorkflow::schedule_changed,
                                    ScheduleChange {
                                        departure_time,
                                        version,
                                    }
                                    .into(),
                                    options,
                                )
                                .await
                        }
                        FlightChange::Cancelled { reason } => {
                            target
                                .signal(
                                    BookingWorkflow::flight_cancelled,
                                    FlightCancelled { reason }.into(),
                                    options,
                                )
                                .await
                        }
                    }
                }
            });
            for outcome in join_all(signals).await {
                match outcome {
                    Ok(()) => result.signalled += 1,
                    Err(_) => result.skipped += 1,
                }
            }
        }
        Ok(result)
    }
}

/// The answer when the flight service stayed out of reach past
/// [`APPLY_BUDGET`]: the same key sent again applies it at most once.
fn unreachable_answer() -> FlightChangeAnswer {
    FlightChangeAnswer {
        status: 503,
        body: serde_json::json!({"error": {
            "code": "unavailable",
            "message": "the flight service could not be reached; send the change again with the same Idempotency-Key",
        }}),
    }
}

/// Retries with backoff capped at 10 s; a fan-out waits out an outage of
/// the flight service (its change is not told until it is applied).
fn step_options(summary: String) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30))
        .heartbeat_timeout(crate::activities::HEARTBEAT_TIMEOUT)
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(500))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(10))
                .build(),
        )
        .summary(summary)
        .build()
}
