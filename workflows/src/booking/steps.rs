//! The saga's steps: hold → await payment → confirm → stay until
//! departure, and how each ends.

use std::time::Duration;

use temporalio_sdk::{
    ActivityExecutionError, CancellableFuture, TimerOptions, TimerResult, WorkflowResult,
};

use crate::activities::{BookingActivities, EmailKind, HoldSeats, IssueTickets, PaymentRef};
use crate::contract::{BookingState, BookingStatus, Failure, Outcome, OutcomeCode, PaymentStatus};

use super::Ctx;
use super::compensations::{
    Compensation, abort, cancellation_pending, operator_cancel_reason, refund_and_release,
    sell_seats_in_compensations,
};
use super::emails::email;
use super::execution::{Budget, business_failure, chrono_duration, defined_ends, now, run_step};
use super::payment::{WindowOutcome, answer_all_payments, await_payment, new_payment_attempt};
use super::visibility::{
    FLIGHT_NUMBER, departure_attribute, initial_updates, record, record_transition, snapshot,
    transition, transition_with,
};

/// The booking from start to end: hold → await payment → confirm → stay
/// until departure.
pub(super) async fn saga(ctx: &Ctx) -> WorkflowResult<BookingState> {
    // A starter that followed the contract set these already
    // (`initial_search_attributes`): no visibility write is needed then.
    let present = ctx.search_attributes();
    let missing: Vec<_> = ctx
        .state(|s| initial_updates(&s.booking.user_id, &s.booking.booking_ref))
        .into_iter()
        .filter(|update| !present.keys().any(|k| k == update.name()))
        .collect();
    if !missing.is_empty() {
        ctx.upsert_search_attributes(missing);
    }
    record_transition(ctx, BookingStatus::Holding, None);
    record(ctx).await?;

    if !hold(ctx).await? {
        return Ok(snapshot(ctx));
    }
    if let Some((outcome, kind)) = cancellation_pending(ctx) {
        return abort(ctx, BookingStatus::Cancelled, outcome, Some(kind)).await;
    }
    if !new_payment_attempt(ctx).await? {
        return Ok(snapshot(ctx));
    }
    let due = now(ctx) + chrono_duration(ctx.state(|s| s.run.payment_window));
    ctx.state_mut(|s| s.booking.payment_due_at = Some(due));
    let flight = ctx.state(|s| s.booking.flight.clone());
    let flight_attributes = flight.into_iter().flat_map(|f| {
        [
            FLIGHT_NUMBER.value_set(f.flight_number.to_string()),
            departure_attribute(f.departure_time),
        ]
    });
    transition_with(ctx, BookingStatus::AwaitingPayment, None, flight_attributes);
    ctx.state_mut(|s| s.schedule.attribute_version = s.schedule.version);
    record(ctx).await?;

    match await_payment(ctx, due).await? {
        WindowOutcome::Authorized => {}
        WindowOutcome::Expired => {
            let outcome = OutcomeCode::PaymentWindowClosed.outcome();
            let kind = Some(EmailKind::PaymentExpired);
            return abort(ctx, BookingStatus::Expired, outcome, kind).await;
        }
        WindowOutcome::Cancelled { outcome, kind } => {
            return abort(ctx, BookingStatus::Cancelled, outcome, Some(kind)).await;
        }
        WindowOutcome::Ended => return Ok(snapshot(ctx)),
    }
    if !confirm(ctx).await? {
        return Ok(snapshot(ctx));
    }
    stay_until_departure(ctx).await
}

/// Step 1. Returns false when the booking ended (no seats).
pub(super) async fn hold(ctx: &Ctx) -> WorkflowResult<bool> {
    let input = ctx.state(|s| HoldSeats {
        booking_id: s.booking.booking_id,
        flight_id: s.booking.flight_id,
        seats: s.booking.requested_seats.clone(),
        user_id: Some(s.booking.user_id.clone()),
    });
    let summary = format!("Hold seats on flight {}", input.flight_id);
    let held = match run_step(
        ctx,
        BookingActivities::hold_seats,
        input,
        summary,
        Duration::from_secs(15),
        Budget::Answer,
    )
    .await
    {
        Ok(held) => held,
        Err(e) if business_failure(&e).is_none() && defined_ends(ctx) => {
            // A hold may have been made whose answer was lost: release it.
            ctx.state_mut(|s| {
                s.compensations.push(Compensation::ReleaseSeats {
                    cancellation: false,
                })
            });
            let outcome = OutcomeCode::FlightServiceUnavailable.outcome();
            abort(ctx, BookingStatus::Failed, outcome, None).await?;
            return Ok(false);
        }
        Err(e) => {
            let (kind, message) = business_failure(&e).ok_or(e)?;
            let outcome = hold_refused(&kind).with(message).truncated();
            transition(ctx, BookingStatus::Failed, Some(outcome));
            record(ctx).await?;
            return Ok(false);
        }
    };
    ctx.state_mut(|s| {
        let mut flight = held.flight;
        if let Some(change) = s.schedule.pending_departure.take() {
            // Unless the hold read the flight after that change.
            let newer = match (change.version, flight.version) {
                (Some(change), Some(read)) => change > read,
                _ => true,
            };
            if newer {
                if let Some(arrival) = &mut flight.arrival_time {
                    *arrival += change.departure_time - flight.departure_time;
                }
                flight.departure_time = change.departure_time;
                flight.version = change.version.or(flight.version);
            }
        }
        s.booking.flight = Some(flight);
        s.booking.seats = held.seats;
        s.booking.total = Some(held.total);
        s.compensations.push(Compensation::ReleaseSeats {
            cancellation: false,
        });
    });
    Ok(true)
}
/// The outcome of a hold the flight service refused, by the refusal's
/// failure type (`contract::Failure`).
pub(super) fn hold_refused(kind: &str) -> OutcomeCode {
    match Failure::of(kind) {
        Some(Failure::SeatsUnavailable) => OutcomeCode::SeatsUnavailable,
        Some(Failure::BookingClosed) => OutcomeCode::BookingClosed,
        Some(Failure::OwnerUnknown) => OutcomeCode::OwnerUnknown,
        _ => OutcomeCode::BookingRejected,
    }
}

/// Step 3. Returns false when the booking ended (could not confirm).
pub(super) async fn confirm(ctx: &Ctx) -> WorkflowResult<bool> {
    transition(ctx, BookingStatus::Confirming, None);
    record(ctx).await?;
    let (booking_id, attempt, passengers) = ctx.state(|s| {
        (
            s.booking.booking_id,
            s.booking.payment.attempts,
            s.booking.passengers.len() as u32,
        )
    });

    let defined_ends = defined_ends(ctx);
    if defined_ends {
        // A confirm whose answer is lost may have sold the seats: any
        // release from here on must release sold seats too.
        sell_seats_in_compensations(ctx);
    }
    let confirmed = run_step(
        ctx,
        BookingActivities::confirm_seats,
        booking_id,
        "Confirm held seats as sold",
        Duration::from_secs(15),
        Budget::ConfirmSeats,
    )
    .await;
    let refused = OutcomeCode::ConfirmationFailed;
    match confirmed {
        Ok(()) => {}
        // Refused (flight cancelled, departed, past the cut-off, hold gone)
        // or out of reach: nothing was captured; void and release.
        Err(e) if defined_ends => {
            let unavailable = OutcomeCode::FlightServiceUnavailable;
            return step_failed(ctx, &e, refused, unavailable).await;
        }
        Err(e) => return confirmation_refused(ctx, e, refused).await,
    }
    sell_seats_in_compensations(ctx);

    let captured = run_step(
        ctx,
        BookingActivities::capture_payment,
        PaymentRef {
            booking_id,
            attempt,
        },
        format!("Capture payment attempt #{attempt}"),
        Duration::from_secs(30),
        Budget::Money,
    )
    .await;
    if let Err(e) = captured {
        // Refused: nothing captured, undo. Out of reach past the budget:
        // whether it was captured is unknown; ops decide (the error goes
        // up to `needs_attention`).
        return confirmation_refused(ctx, e, OutcomeCode::CaptureFailed).await;
    }
    ctx.state_mut(|s| {
        s.booking.payment.status = PaymentStatus::Captured;
        s.compensations.clear();
    });

    let tickets = run_step(
        ctx,
        BookingActivities::issue_tickets,
        IssueTickets {
            booking_id,
            passengers,
        },
        format!("Issue {passengers} e-ticket(s)"),
        Duration::from_secs(15),
        Budget::Money,
    )
    .await;
    let tickets = match tickets {
        Ok(tickets) => tickets,
        // Paid but no tickets: give the money and the seats back.
        Err(_) if defined_ends => {
            refund_and_release(ctx).await?;
            let outcome = OutcomeCode::TicketingFailed.outcome();
            transition(ctx, BookingStatus::Failed, Some(outcome));
            answer_all_payments(ctx);
            record(ctx).await?;
            return Ok(false);
        }
        Err(e) => return Err(e.into()),
    };
    ctx.state_mut(|s| {
        s.booking.ticket_numbers = tickets;
        // The confirmation email carries the departure as it is now.
        s.schedule.notified = s.schedule.version;
    });
    transition(ctx, BookingStatus::Confirmed, None);
    answer_all_payments(ctx);
    record(ctx).await?;
    email(ctx, EmailKind::Confirmation, "confirmation".to_owned()).await?;
    Ok(true)
}

/// A step that ended for good ([`DEFINED_ENDS`]): refused (the outcome
/// is `refused`, with the refusal's message) or out of reach past its
/// budget (`unavailable`). Undo what was done, end `failed`.
pub(super) async fn step_failed(
    ctx: &Ctx,
    e: &ActivityExecutionError,
    refused: OutcomeCode,
    unavailable: OutcomeCode,
) -> WorkflowResult<bool> {
    let outcome = match business_failure(e) {
        Some((_, message)) => refused.with(message).truncated(),
        None => unavailable.outcome(),
    };
    abort(ctx, BookingStatus::Failed, outcome, None)
        .await
        .map(|_| false)
}

/// A confirmation step refused for good: undo what was done, end `failed`.
pub(super) async fn confirmation_refused(
    ctx: &Ctx,
    e: ActivityExecutionError,
    what: OutcomeCode,
) -> WorkflowResult<bool> {
    let (_, message) = business_failure(&e).ok_or(e)?;
    let outcome = what.with(message).truncated();
    abort(ctx, BookingStatus::Failed, outcome, None)
        .await
        .map(|_| false)
}

/// Steps 4–5: remind before departure, and until then honour cancels,
/// schedule changes and flight cancellations.
pub(super) async fn stay_until_departure(ctx: &Ctx) -> WorkflowResult<BookingState> {
    loop {
        let now = now(ctx);
        let (departure, reminder_sent, lead) = ctx.state(|s| {
            (
                s.booking.flight.as_ref().map(|f| f.departure_time),
                s.booking.reminder_sent,
                s.run.reminder_lead,
            )
        });
        let departure = departure.unwrap_or(now);
        let reminder_at = departure - chrono_duration(lead);
        let remind = !reminder_sent && reminder_at > now;
        let (target, summary) = if remind {
            (reminder_at, "Check-in reminder at")
        } else {
            (departure, "Departure at")
        };
        if target <= now {
            let outcome = OutcomeCode::Departed.outcome();
            transition(ctx, BookingStatus::Completed, Some(outcome));
            record(ctx).await?;
            return Ok(snapshot(ctx));
        }
        let mut timer = Box::pin(
            ctx.timer(
                TimerOptions::builder((target - now).to_std().unwrap_or_default())
                    .summary(format!("{summary} {}", target.to_rfc3339()))
                    .build(),
            ),
        );
        temporalio_sdk::workflows::select! {
            fired = timer.as_mut() => {
                if fired == TimerResult::Cancelled {
                    let (outcome, kind) = operator_cancel_reason();
                    return cancel_confirmed(ctx, outcome, kind).await;
                }
                if remind {
                    email(ctx, EmailKind::CheckInReminder, "check_in_reminder".to_owned()).await?;
                    ctx.state_mut(|s| s.booking.reminder_sent = true);
                    record(ctx).await?;
                }
            }
            woken = ctx.wait_condition(|s| s.has_post_confirmation_work()) => {
                timer.cancel();
                if woken.is_err() {
                    let (outcome, kind) = operator_cancel_reason();
                    return cancel_confirmed(ctx, outcome, kind).await;
                }
                if let Some((outcome, kind)) = cancellation_pending(ctx) {
                    return cancel_confirmed(ctx, outcome, kind).await;
                }
                let (version, flight) = ctx.state_mut(|s| {
                    s.schedule.notified = s.schedule.version;
                    (s.schedule.version, s.booking.flight.clone())
                });
                if let Some(flight) = flight {
                    ctx.upsert_search_attributes([departure_attribute(flight.departure_time)]);
                }
                record(ctx).await?;
                email(ctx, EmailKind::ScheduleChange, format!("schedule_change:{version}")).await?;
            }
        }
    }
}

/// Cancel a confirmed booking: refund, release the sold seats, tell the
/// traveller.
pub(super) async fn cancel_confirmed(
    ctx: &Ctx,
    outcome: Outcome,
    kind: EmailKind,
) -> WorkflowResult<BookingState> {
    refund_and_release(ctx).await?;
    transition(ctx, BookingStatus::Cancelled, Some(outcome));
    answer_all_payments(ctx);
    record(ctx).await?;
    email(ctx, kind, kind.as_str().to_owned()).await?;
    Ok(snapshot(ctx))
}

/// A step failed past its budget and what it did cannot be undone
/// automatically: record `needs_attention` (search attribute and read
/// model) for ops, and end. The runbook is in docs/ops.md.
pub(super) async fn needs_attention(ctx: &Ctx, failure: String) -> WorkflowResult<BookingState> {
    let outcome = OutcomeCode::NeedsAttention.with(failure).truncated();
    transition(ctx, BookingStatus::NeedsAttention, Some(outcome));
    answer_all_payments(ctx);
    // The read model may be what failed: the search attribute has it anyway.
    let _ = record(ctx).await;
    Ok(snapshot(ctx))
}
