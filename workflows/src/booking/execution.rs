//! How a step runs: a local activity or an activity, its retries and
//! budget, business failures, patch checks and the workflow's clock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use temporalio_common::data_converters::TemporalDeserializable;
use temporalio_common::error::IncomingError;
use temporalio_common::protos::temporal::api::failure::v1::failure::FailureInfo;
use temporalio_common::{ActivityCloseTimeouts, ActivityDefinition, RetryPolicy};
use temporalio_sdk::{
    ActivityExecutionError, ActivityOptions, ApplicationFailure, LocalActivityOptions,
    WorkflowCancellationToken, WorkflowResult,
};

use crate::contract::{Failure, Money};

use super::Ctx;

/// Backoffs longer than this between a local activity's attempts wait on a
/// durable timer, so that an outage does not keep one workflow task open.
pub(super) const LOCAL_BACKOFF_ON_TIMER: Duration = Duration::from_secs(3);

/// How long each step may retry before its failure counts as final
/// ([`DEFINED_ENDS`] bookings). The hold and the PaymentIntent answer a
/// waiting client; money and seats get an hour; the read model and email
/// a day.
#[derive(Clone, Copy)]
pub(super) enum Budget {
    Answer,
    Authorize,
    ConfirmSeats,
    Money,
    Record,
}

impl Budget {
    fn default_duration(self) -> Duration {
        Duration::from_secs(match self {
            Budget::Answer => 20,
            Budget::Authorize => 60,
            Budget::ConfirmSeats => 600,
            Budget::Money => 3_600,
            Budget::Record => 86_400,
        })
    }
}

pub(super) fn now(ctx: &Ctx) -> DateTime<Utc> {
    time_of(ctx.workflow_time())
}

pub(super) fn time_of(t: Option<std::time::SystemTime>) -> DateTime<Utc> {
    t.map(DateTime::<Utc>::from).unwrap_or_default()
}

pub(super) fn chrono_duration(d: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
}

/// The type and message of a business failure (a non-retryable
/// `ApplicationFailure` with one of `contract::Failure`'s type names).
pub(super) fn business_failure(e: &ActivityExecutionError) -> Option<(String, String)> {
    match e.reason() {
        Some(IncomingError::Application(app)) => {
            let kind = app.type_name()?.to_owned();
            Some((kind, app.source_error().to_string()))
        }
        Some(_) => None,
        // A local activity's refusal comes unwrapped: the application
        // failure itself, non-retryable (its timeouts and cancellations
        // come wrapped, as an activity's do).
        None => match &e.failure()?.failure_info {
            Some(FailureInfo::ApplicationFailureInfo(info))
                if info.non_retryable && !info.r#type.is_empty() =>
            {
                Some((info.r#type.clone(), e.failure()?.message.clone()))
            }
            _ => None,
        },
    }
}

/// The booking's total, which the hold set before any payment step. A
/// booking without one is a bug that stops the step loudly (the booking
/// then needs attention), never a PaymentIntent or a refund of 0 EUR.
pub(super) fn booking_total(ctx: &Ctx) -> WorkflowResult<Money> {
    ctx.state(|s| s.booking.total).ok_or_else(|| {
        ApplicationFailure::builder("the booking has no total: no payment step may run")
            .type_name("BookingWithoutTotal".to_owned())
            .non_retryable(true)
            .build()
            .into()
    })
}

pub(super) fn defined_ends(ctx: &Ctx) -> bool {
    ctx.state(|s| s.run.defined_ends)
}

/// Whether the booking runs the code of `patch`: [`FAST_PATH`] bookings run
/// every later patch's code without a marker of its own.
pub(super) fn since(ctx: &Ctx, patch: &str) -> bool {
    ctx.state(|s| s.run.fast_path) || ctx.patched(patch)
}

/// Runs one step: a local activity on the [`FAST_PATH`], else an activity,
/// with the same retries and budget.
pub(super) async fn run_step<AD>(
    ctx: &Ctx,
    activity: AD,
    input: AD::Input,
    summary: impl Into<String>,
    timeout: Duration,
    budget: Budget,
) -> Result<AD::Output, ActivityExecutionError>
where
    AD: ActivityDefinition,
    AD::Output: TemporalDeserializable,
{
    if !ctx.state(|s| s.run.fast_path) {
        let options = step_options(ctx, summary, timeout, budget);
        return ctx.execute_activity(activity, input, options).await;
    }
    let step_budget = ctx.state(|s| s.run.step_budget);
    let budget = step_budget.unwrap_or_else(|| budget.default_duration());
    let options = LocalActivityOptions::builder()
        .retry_policy(retry_policy())
        .schedule_to_close_timeout(budget)
        .start_to_close_timeout(timeout.min(budget))
        .timer_backoff_threshold(LOCAL_BACKOFF_ON_TIMER)
        .cancellation_token(WorkflowCancellationToken::new())
        .summary(summary.into())
        .build();
    ctx.execute_local_activity(activity, input, options).await
}

/// [`options`], and for [`DEFINED_ENDS`] bookings a retry budget
/// (schedule-to-close: the input's `step_budget_ms`, else the step's own).
pub(super) fn step_options(
    ctx: &Ctx,
    summary: impl Into<String>,
    timeout: Duration,
    budget: Budget,
) -> ActivityOptions {
    let (defined_ends, step_budget) = ctx.state(|s| (s.run.defined_ends, s.run.step_budget));
    if !defined_ends {
        return options(ActivityCloseTimeouts::StartToClose(timeout), summary);
    }
    let budget = step_budget.unwrap_or_else(|| budget.default_duration());
    options(
        ActivityCloseTimeouts::ScheduleAndStartToClose {
            schedule_to_close: budget,
            start_to_close: timeout.min(budget),
        },
        summary,
    )
}

/// Every activity: a detached cancellation token (a started step always
/// finishes; compensations run after a workflow cancel), a heartbeat
/// timeout (an attempt lost with its worker costs seconds, not its
/// start-to-close), retries with backoff capped at 10 s, business failures
/// never retried.
pub(super) fn options(
    timeouts: ActivityCloseTimeouts,
    summary: impl Into<String>,
) -> ActivityOptions {
    ActivityOptions::with_close_timeouts(timeouts)
        .heartbeat_timeout(crate::activities::HEARTBEAT_TIMEOUT)
        .cancellation_token(WorkflowCancellationToken::new())
        .retry_policy(retry_policy())
        .summary(summary.into())
        .build()
}

pub(super) fn retry_policy() -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(Duration::from_millis(500))
        .backoff_coefficient(2.0)
        .maximum_interval(Duration::from_secs(10))
        .non_retryable_error_types(Failure::ALL.map(Failure::as_str))
        .build()
}
