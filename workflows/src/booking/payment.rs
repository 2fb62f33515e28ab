//! Step 2, the payment window: a PaymentIntent per attempt, the
//! authorization of each card racing the window's timer, 3-D Secure and
//! its webhooks, declines and their cap.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use temporalio_sdk::{CancellableFuture, TimerOptions, TimerResult, WorkflowResult};

use crate::activities::{
    Authorization, AuthorizePayment, BookingActivities, CreatePayment, EmailKind,
};
use crate::contract::{
    Outcome, OutcomeCode, PaymentError, PaymentMethodId, PaymentStatus, payment_errors,
};

use super::compensations::{Compensation, cancellation_pending, operator_cancel, run_compensation};
use super::execution::{
    Budget, booking_total, business_failure, defined_ends, now, run_step, since, step_options,
};
use super::steps::step_failed;
use super::visibility::{record, refresh_departure_attribute};
use super::{Ctx, ONE_CARD_PER_ATTEMPT, PAYMENT_ATTEMPTS_CAPPED, RECORDS_SCHEDULE};

/// How the payment window ended.
pub(super) enum WindowOutcome {
    Authorized,
    Expired,
    Cancelled {
        outcome: Outcome,
        kind: EmailKind,
    },
    /// The booking already reached its end (a payment attempt refused).
    Ended,
}

/// A fresh PaymentIntent for the next attempt (Stripe cannot confirm an
/// intent again after a decline). Returns false when the booking ended
/// because Stripe refused it or stayed out of reach ([`DEFINED_ENDS`]).
pub(super) async fn new_payment_attempt(ctx: &Ctx) -> WorkflowResult<bool> {
    let amount = booking_total(ctx)?;
    let input = ctx.state_mut(|s| {
        s.booking.payment.attempts += 1;
        CreatePayment {
            booking_id: s.booking.booking_id,
            booking_ref: s.booking.booking_ref.clone(),
            attempt: s.booking.payment.attempts,
            amount,
        }
    });
    let attempt = input.attempt;
    let summary = format!(
        "Create PaymentIntent #{attempt} for {} {}",
        input.amount.amount(),
        input.amount.currency()
    );
    let defined_ends = defined_ends(ctx);
    if defined_ends {
        // An intent may exist even if the answer is lost: void it on abort.
        ctx.state_mut(|s| {
            s.compensations
                .push(Compensation::CancelPayment { attempt })
        });
    }
    let created = run_step(
        ctx,
        BookingActivities::create_payment,
        input,
        summary,
        Duration::from_secs(20),
        Budget::Answer,
    )
    .await;
    let created = match created {
        Ok(created) => created,
        Err(e) if defined_ends => {
            let (refused, unavailable) = (
                OutcomeCode::PaymentRejected,
                OutcomeCode::PaymentUnavailable,
            );
            return step_failed(ctx, &e, refused, unavailable).await;
        }
        Err(e) => return Err(e.into()),
    };
    ctx.state_mut(|s| {
        s.booking.payment.status = PaymentStatus::AwaitingPaymentMethod;
        s.booking.payment.payment_intent_id = Some(created.payment_intent_id);
        s.booking.payment.client_secret = Some(created.client_secret);
        if !s.run.defined_ends {
            s.compensations
                .push(Compensation::CancelPayment { attempt });
        }
    });
    Ok(true)
}

/// Step 2: waits for a payment, a cancel, or the end of the window.
pub(super) async fn await_payment(ctx: &Ctx, due: DateTime<Utc>) -> WorkflowResult<WindowOutcome> {
    let window = (due - now(ctx)).to_std().unwrap_or_default();
    let mut timer = Box::pin(
        ctx.timer(
            TimerOptions::builder(window)
                .summary(format!("Payment window closes at {}", due.to_rfc3339()))
                .build(),
        ),
    );
    loop {
        if let Some((outcome, kind)) = cancellation_pending(ctx) {
            timer.cancel();
            return Ok(WindowOutcome::Cancelled { outcome, kind });
        }
        if refresh_departure_attribute(ctx) && since(ctx, RECORDS_SCHEDULE) {
            record(ctx).await?;
        }
        if webhook_authorized(ctx) {
            timer.cancel();
            ctx.state_mut(|s| {
                s.booking.payment.status = PaymentStatus::Authorized;
                s.booking.payment.next_action = None;
            });
            return Ok(WindowOutcome::Authorized);
        }
        if let Some(failure) = ctx.state_mut(|s| s.take_current_failure())
            && ctx.patched(ONE_CARD_PER_ATTEMPT)
        {
            // The bank did not authenticate the card: this attempt is over.
            let code = failure
                .code
                .unwrap_or_else(|| payment_errors::AUTHENTICATION_FAILED.to_owned());
            let failed = PaymentError {
                message: "the bank did not authenticate the payment (3-D Secure)".to_owned(),
                code,
            };
            if let Some(outcome) = attempt_failed(ctx, failed, None).await? {
                timer.cancel();
                return Ok(outcome);
            }
            continue;
        }
        if let Some((ticket, method)) = ctx.state_mut(|s| s.payments.requests.pop_front()) {
            if let Some(outcome) = pay(ctx, ticket, method, &mut timer).await? {
                return Ok(outcome);
            }
            continue;
        }
        temporalio_sdk::workflows::select! {
            fired = timer.as_mut() => {
                return Ok(match fired {
                    TimerResult::Fired => WindowOutcome::Expired,
                    TimerResult::Cancelled => operator_cancel(),
                });
            }
            woken = ctx.wait_condition(|s| s.has_payment_work() || s.departure_attribute_stale()) => {
                if woken.is_err() {
                    timer.cancel();
                    return Ok(operator_cancel());
                }
            }
        }
    }
}
/// Pays request `ticket` with `method`: authorizes it on the current
/// attempt's intent (a new attempt when another card's 3-D Secure is
/// pending), racing the window's `timer`. Returns how the window ends, or
/// `None` while it stays open (declined, or 3-D Secure to do).
async fn pay<T: CancellableFuture<Output = TimerResult>>(
    ctx: &Ctx,
    ticket: u32,
    method: PaymentMethodId,
    timer: &mut std::pin::Pin<Box<T>>,
) -> WorkflowResult<Option<WindowOutcome>> {
    let another_card = ctx.state(|s| {
        s.booking.payment.next_action.is_some()
            && s.payments.attempt_method.as_ref() != Some(&method)
    });
    if another_card && ctx.patched(ONE_CARD_PER_ATTEMPT) {
        // The first card's 3-D Secure is pending (or failed, its
        // webhook not here yet): void that attempt, so that the
        // card given now is the one charged, on an intent of its own.
        ctx.state_mut(|s| s.booking.payment.next_action = None);
        end_attempt(ctx).await?;
        if !new_payment_attempt(ctx).await? {
            return Ok(Some(WindowOutcome::Ended));
        }
    }
    ctx.state_mut(|s| s.payments.attempt_method = Some(method.clone()));
    let input = ctx.state(|s| AuthorizePayment {
        booking_id: s.booking.booking_id,
        attempt: s.booking.payment.attempts,
        payment_method: method,
    });
    let summary = format!("Authorize payment attempt #{}", input.attempt);
    let defined_ends = defined_ends(ctx);
    // An activity, also on the fast path: it races the window's
    // timer, which a local activity's workflow task would not see.
    let options = step_options(ctx, summary, Duration::from_secs(30), Budget::Authorize);
    let authorization = ctx.execute_activity(BookingActivities::authorize_payment, input, options);
    let outcome = if defined_ends {
        // The window still runs: if it closes first, the abort voids
        // the authorization (the void waits for it to finish) and
        // releases the seats.
        let mut authorization = Box::pin(authorization).fuse();
        temporalio_sdk::workflows::select! {
            outcome = authorization => outcome,
            fired = timer.as_mut() => {
                return Ok(Some(match fired {
                    TimerResult::Fired => WindowOutcome::Expired,
                    TimerResult::Cancelled => operator_cancel(),
                }));
            }
        }
    } else {
        authorization.await
    };
    let decline = match outcome {
        Ok(Authorization::Authorized) => {
            timer.cancel();
            ctx.state_mut(|s| {
                s.booking.payment.status = PaymentStatus::Authorized;
                s.booking.payment.last_error = None;
                s.booking.payment.next_action = None;
            });
            // A cancel accepted during the authorization wins: the
            // abort voids it, nothing is captured.
            if defined_ends && let Some((outcome, kind)) = cancellation_pending(ctx) {
                return Ok(Some(WindowOutcome::Cancelled { outcome, kind }));
            }
            return Ok(Some(WindowOutcome::Authorized));
        }
        Ok(Authorization::Declined(decline)) => decline,
        // The card needs 3-D Secure: the client runs it with
        // Stripe.js; the webhook (or another submit_payment) tells
        // us when Stripe authorized it. The window still runs.
        Ok(Authorization::RequiresAction(action)) => {
            ctx.state_mut(|s| {
                s.booking.payment.next_action = Some(action);
                s.booking.payment.last_error = None;
                s.payments.answered = s.payments.answered.max(ticket);
            });
            record(ctx).await?;
            return Ok(None);
        }
        Err(e) => match business_failure(&e) {
            Some((code, message)) => PaymentError { code, message },
            // Stripe out of reach past the budget: this attempt is
            // over, the traveller may try again.
            None if defined_ends => PaymentError {
                code: payment_errors::UNAVAILABLE.to_owned(),
                message: "the payment could not be processed; please try again".to_owned(),
            },
            None => return Err(e.into()),
        },
    };
    attempt_failed(ctx, decline, Some(ticket)).await
}

/// The attempt's payment failed (declined, or its 3-D Secure did not
/// authenticate): say why, void its intent, and open the next attempt,
/// answering the payment request `ticket`. Returns how the window ends
/// when the booking ended instead (the last allowed decline, or no new
/// intent).
pub(super) async fn attempt_failed(
    ctx: &Ctx,
    failure: PaymentError,
    ticket: Option<u32>,
) -> WorkflowResult<Option<WindowOutcome>> {
    // Stripe out of reach is ours, not the card's: it does not count.
    let counted = failure.code != payment_errors::UNAVAILABLE;
    ctx.state_mut(|s| {
        s.booking.payment.last_error = Some(failure);
        s.booking.payment.next_action = None;
    });
    end_attempt(ctx).await?;
    if let Some(outcome) = declines_exhausted(ctx, counted) {
        return Ok(Some(outcome));
    }
    if !new_payment_attempt(ctx).await? {
        return Ok(Some(WindowOutcome::Ended));
    }
    if let Some(ticket) = ticket {
        ctx.state_mut(|s| s.payments.answered = s.payments.answered.max(ticket));
    }
    record(ctx).await?;
    Ok(None)
}

/// The current attempt's intent is done with (declined, failed, or given
/// up for another card): void it; the next try gets its own.
pub(super) async fn end_attempt(ctx: &Ctx) -> WorkflowResult<()> {
    let attempt = ctx.state(|s| s.booking.payment.attempts);
    run_compensation(ctx, Compensation::CancelPayment { attempt }).await?;
    ctx.state_mut(|s| {
        s.compensations
            .retain(|c| *c != Compensation::CancelPayment { attempt })
    });
    Ok(())
}
pub(super) fn webhook_authorized(ctx: &Ctx) -> bool {
    ctx.state(|s| s.current_intent_authorized())
}
pub(super) fn answer_all_payments(ctx: &Ctx) {
    ctx.state_mut(|s| {
        s.payments.requests.clear();
        s.payments.answered = s.payments.tickets;
    });
}
/// Counts a decline; when it was the last the input allows, the window ends
/// as a cancellation ([`PAYMENT_ATTEMPTS_CAPPED`]): the abort releases the
/// seats and sends one email.
pub(super) fn declines_exhausted(ctx: &Ctx, counted: bool) -> Option<WindowOutcome> {
    if !counted {
        return None;
    }
    let (declines, cap) = ctx.state_mut(|s| {
        s.payments.declines += 1;
        (s.payments.declines, s.run.max_payment_attempts)
    });
    // The marker only where the new path is taken, so that bookings which
    // never reach their cap keep the history they always had.
    if declines < cap? || !ctx.patched(PAYMENT_ATTEMPTS_CAPPED) {
        return None;
    }
    // The declined intent was voided just before: nothing is left to pay.
    ctx.state_mut(|s| s.booking.payment.status = PaymentStatus::Cancelled);
    let outcome =
        OutcomeCode::PaymentAttemptsExhausted.with(format!("{declines} payments declined"));
    Some(WindowOutcome::Cancelled {
        outcome,
        kind: EmailKind::Cancellation,
    })
}
