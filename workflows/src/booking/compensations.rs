//! Undoing what a booking did: releases, voids and refunds, run in reverse
//! when a booking ends before (or after) confirmation.

use super::*;

/// Refunds the captured payment in full and releases the sold seats. A
/// refund Stripe refuses or that stays out of reach past its budget is an
/// error: the booking then needs attention ([`DEFINED_ENDS`]).
pub(super) async fn refund_and_release(ctx: &Ctx) -> WorkflowResult<()> {
    let amount = booking_total(ctx)?;
    let input = ctx.state(|s| RefundPayment {
        booking_id: s.booking.booking_id.clone(),
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
    reason: String,
    email_kind: Option<EmailKind>,
) -> WorkflowResult<BookingState> {
    let compensations = ctx.state_mut(|s| std::mem::take(&mut s.compensations));
    for compensation in compensations.into_iter().rev() {
        if let Compensation::CancelPayment { .. } = compensation {
            ctx.state_mut(|s| s.booking.payment.status = PaymentStatus::Cancelled);
        }
        run_compensation(ctx, compensation).await?;
    }
    transition(ctx, status, Some(reason));
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
    let booking_id = ctx.state(|s| s.booking.booking_id.clone());
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
