//! The flight-change fan-out: when an admin changes a flight's departure or
//! cancels it, every live booking on that flight gets the matching signal.
//!
//! A workflow rather than a loop in the request, so that a crash half-way
//! loses nothing: the list of bookings is read once (an activity asks the
//! flight service which bookings hold seats on the flight: it knows a hold
//! the moment it is made, before the read model does) and every signal is
//! a command in this workflow's history.
//! Its id is derived from the change, so a repeated admin request starts
//! no second fan-out.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use temporalio_common::RetryPolicy;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityOptions, SignalWorkflowOptions, WorkflowContext, WorkflowContextView, WorkflowResult,
};

use crate::BookingWorkflow;
use crate::activities::BookingActivities;
use crate::contract::{FlightCancelled, ScheduleChange, workflow_id};

/// The workflow type name ops see in the Web UI.
pub const FANOUT_WORKFLOW_TYPE: &str = "FlightChangeFanout";

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
    pub change: FlightChange,
}

impl FlightChangeInput {
    /// One fan-out per flight and change: `flight-<id>-cancelled`, or
    /// `flight-<id>-departure-<unix seconds>`.
    pub fn workflow_id(&self) -> String {
        match &self.change {
            FlightChange::Cancelled { .. } => format!("flight-{}-cancelled", self.flight_id),
            FlightChange::ScheduleChanged { departure_time, .. } => format!(
                "flight-{}-departure-{}",
                self.flight_id,
                departure_time.timestamp()
            ),
        }
    }

    /// The line the Web UI shows for the fan-out (`static_summary`).
    pub fn summary(&self) -> String {
        match &self.change {
            FlightChange::Cancelled { .. } => format!(
                "Flight {} cancelled: refund or release its bookings",
                self.flight_id
            ),
            FlightChange::ScheduleChanged { departure_time, .. } => format!(
                "Flight {} now departs {}: tell its bookings",
                self.flight_id,
                departure_time.to_rfc3339()
            ),
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
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30))
            .retry_policy(
                RetryPolicy::builder()
                    .initial_interval(Duration::from_millis(500))
                    .backoff_coefficient(2.0)
                    .maximum_interval(Duration::from_secs(10))
                    .build(),
            )
            .summary(format!("Find live bookings on flight {}", input.flight_id))
            .build();
        let bookings = ctx
            .execute_activity(
                BookingActivities::live_bookings_on_flight,
                input.flight_id,
                options,
            )
            .await?;
        let mut result = FanoutResult {
            bookings: u32::try_from(bookings.len()).unwrap_or(u32::MAX),
            ..FanoutResult::default()
        };
        for batch in bookings.chunks(BATCH) {
            let signals = batch.iter().map(|booking_id| {
                let target = ctx.external_workflow(workflow_id(booking_id), None);
                let options = SignalWorkflowOptions::builder()
                    .summary(format!("Tell booking {booking_id}"))
                    .build();
                let change = input.change.clone();
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
                                    },
                                    options,
                                )
                                .await
                        }
                        FlightChange::Cancelled { reason } => {
                            target
                                .signal(
                                    BookingWorkflow::flight_cancelled,
                                    FlightCancelled { reason },
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
