//! Undoing what a booking did: releases, voids and refunds, run in reverse
//! when a booking ends before (or after) confirmation.

use std::time::Duration;

use temporalio_sdk::WorkflowResult;

use crate::activities::{BookingActivities, EmailKind, PaymentRef, RefundPayment, ReleaseSeats};
use crate::contract::{BookingState, BookingStatus, Outcome, OutcomeCode, PaymentStatus};

use super::Ctx;
use super::emails::email;
use super::execution::{Budget, booking_total, business_failure, defined_ends, step_options};
use super::payment::{WindowOutcome, answer_all_payments};
use super::visibility::{record, snapshot, transition};

/// A step to undo, registered when the step succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Compensation {
    /// Put the seats back; `cancellation` once they were sold.
    ReleaseSeats { cancellation: bool },
    /// Cancel the PaymentIntent of this attempt (nothing captured).
    CancelPayment { attempt: u32 },
}

/// Refunds the captured payment in full and releases the sold seats. A
/// refund Stripe refuses or that stays out of reach past its budget is an
/// error: the booking then needs attention ([`DEFINED_ENDS`]).
pub(super) async fn refund_and_release(ctx: &Ctx) -> WorkflowResult<()> {
    let amount = booking_total(ctx)?;
    let input = ctx.state(|s| RefundPayment {
        booking_id: s.booking.booking_id,
        attempt: s.booking.payment.attempts,
        amount,
    });
    let refund = ctx
        .execute_activity(
            BookingActivities::refund_payment,
            input,
            step_options(
                ctx,
                "Refund the payment in full",
                Duration::from_secs(30),
                Budget::Money,
            ),
        )
        .await?;
    ctx.state_mut(|s| {
        s.booking.payment.status = PaymentStatus::Refunded;
        s.booking.payment.refund = Some(refund);
    });
    run_compensation(ctx, Compensation::ReleaseSeats { cancellation: true }).await
}

/// Every release from now on releases sold seats too.
pub(super) fn sell_seats_in_compensations(ctx: &Ctx) {
    ctx.state_mut(|s| {
        for c in &mut s.compensations {
            if let Compensation::ReleaseSeats { cancellation } = c {
                *cancellation = true;
            }
        }
    });
}

/// Ends the booking before confirmation: runs the compensations in reverse,
/// records the final status and sends its email.
pub(super) async fn abort(
    ctx: &Ctx,
    status: BookingStatus,
    outcome: Outcome,
    email_kind: Option<EmailKind>,
) -> WorkflowResult<BookingState> {
    let compensations = ctx.state_mut(|s| std::mem::take(&mut s.compensations));
    for compensation in compensations.into_iter().rev() {
        if let Compensation::CancelPayment { .. } = compensation {
            ctx.state_mut(|s| s.booking.payment.status = PaymentStatus::Cancelled);
        }
        run_compensation(ctx, compensation).await?;
    }
    transition(ctx, status, Some(outcome));
    answer_all_payments(ctx);
    record(ctx).await?;
    if let Some(kind) = email_kind {
        email(ctx, kind, kind.as_str().to_owned()).await?;
    }
    Ok(snapshot(ctx))
}

/// Runs one compensation. A refused void means there is nothing left to
/// void. Before [`DEFINED_ENDS`] a refused release meant the same and
/// failures were retried without end; since, a release refused or out of
/// reach past its budget is an error (the booking needs attention): seats
/// must never stay held by a booking that ended.
pub(super) async fn run_compensation(ctx: &Ctx, compensation: Compensation) -> WorkflowResult<()> {
    let booking_id = ctx.state(|s| s.booking.booking_id);
    let is_release = matches!(compensation, Compensation::ReleaseSeats { .. });
    let undone = match compensation {
        Compensation::ReleaseSeats { cancellation } => {
            ctx.execute_activity(
                BookingActivities::release_seats,
                ReleaseSeats {
                    booking_id,
                    cancellation,
                },
                step_options(
                    ctx,
                    "Release the seats",
                    Duration::from_secs(15),
                    Budget::Money,
                ),
            )
            .await
        }
        Compensation::CancelPayment { attempt } => {
            ctx.execute_activity(
                BookingActivities::cancel_payment,
                PaymentRef {
                    booking_id,
                    attempt,
                },
                step_options(
                    ctx,
                    format!("Cancel PaymentIntent #{attempt}"),
                    Duration::from_secs(30),
                    Budget::Money,
                ),
            )
            .await
        }
    };
    match undone {
        Ok(()) => Ok(()),
        Err(e) if is_release && defined_ends(ctx) => Err(e.into()),
        Err(e) if business_failure(&e).is_some() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// A cancel the flow has to act on: the airline's first, then the traveller's.
pub(super) fn cancellation_pending(ctx: &Ctx) -> Option<(Outcome, EmailKind)> {
    if ctx.cancellation_token().is_cancelled() {
        return Some(operator_cancel_reason());
    }
    ctx.state(|s| {
        if let Some(reason) = &s.waiting.flight_cancelled {
            let outcome = OutcomeCode::FlightCancelled
                .with(reason.clone())
                .truncated();
            Some((outcome, EmailKind::FlightCancelled))
        } else {
            s.waiting
                .cancel
                .as_ref()
                .map(|request| (request.outcome(), EmailKind::Cancellation))
        }
    })
}

pub(super) fn operator_cancel_reason() -> (Outcome, EmailKind) {
    (
        OutcomeCode::CancelledByOperator.outcome(),
        EmailKind::Cancellation,
    )
}

pub(super) fn operator_cancel() -> WindowOutcome {
    let (outcome, kind) = operator_cancel_reason();
    WindowOutcome::Cancelled { outcome, kind }
}
