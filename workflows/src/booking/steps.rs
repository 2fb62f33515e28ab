//! The saga's steps: hold → await payment → confirm → stay until
//! departure, and how each ends.

use super::*;

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
    if let Some((reason, kind)) = cancellation_pending(ctx) {
        return abort(ctx, BookingStatus::Cancelled, reason, Some(kind)).await;
    }
    if !new_payment_attempt(ctx).await? {
        return Ok(snapshot(ctx));
    }
    let due = now(ctx) + chrono_duration(ctx.state(|s| s.payment_window));
    ctx.state_mut(|s| s.booking.payment_due_at = Some(due));
    let flight = ctx.state(|s| s.booking.flight.clone());
    let flight_attributes = flight.into_iter().flat_map(|f| {
        [
            FLIGHT_NUMBER.value_set(f.flight_number.to_string()),
            departure_attribute(f.departure_time),
        ]
    });
    transition_with(ctx, BookingStatus::AwaitingPayment, None, flight_attributes);
    ctx.state_mut(|s| s.departure_attribute_version = s.schedule_version);
    record(ctx).await?;

    match await_payment(ctx, due).await? {
        WindowOutcome::Authorized => {}
        WindowOutcome::Expired => {
            let reason = "the payment window closed before payment".to_owned();
            let kind = Some(EmailKind::PaymentExpired);
            return abort(ctx, BookingStatus::Expired, reason, kind).await;
        }
        WindowOutcome::Cancelled { reason, kind } => {
            return abort(ctx, BookingStatus::Cancelled, reason, Some(kind)).await;
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
        booking_id: s.booking.booking_id.clone(),
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
            let reason = reasons::FLIGHTS_UNAVAILABLE.to_owned();
            abort(ctx, BookingStatus::Failed, reason, None).await?;
            return Ok(false);
        }
        Err(e) => {
            let (kind, message) = business_failure(&e).ok_or(e)?;
            let reason = if kind == errors::SEATS_UNAVAILABLE {
                "seats_unavailable".to_owned()
            } else if kind == errors::OWNER_UNKNOWN {
                reasons::OWNER_UNKNOWN.to_owned()
            } else {
                format!("booking_rejected: {message}")
            };
            transition(ctx, BookingStatus::Failed, Some(reason));
            record(ctx).await?;
            return Ok(false);
        }
    };
    ctx.state_mut(|s| {
        let mut flight = held.flight;
        if let Some(change) = s.pending_departure.take() {
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

/// A fresh PaymentIntent for the next attempt (Stripe cannot confirm an
/// intent again after a decline). Returns false when the booking ended
/// because Stripe refused it or stayed out of reach ([`DEFINED_ENDS`]).
pub(super) async fn new_payment_attempt(ctx: &Ctx) -> WorkflowResult<bool> {
    let amount = booking_total(ctx)?;
    let input = ctx.state_mut(|s| {
        s.booking.payment.attempts += 1;
        CreatePayment {
            booking_id: s.booking.booking_id.clone(),
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
            let (refused, unavailable) = (reasons::PAYMENT_REJECTED, reasons::PAYMENT_UNAVAILABLE);
            return step_failed(ctx, &e, refused, unavailable).await;
        }
        Err(e) => return Err(e.into()),
    };
    ctx.state_mut(|s| {
        s.booking.payment.status = PaymentStatus::AwaitingPaymentMethod;
        s.booking.payment.payment_intent_id = Some(created.payment_intent_id);
        s.booking.payment.client_secret = Some(created.client_secret);
        if !s.defined_ends {
            s.compensations
                .push(Compensation::CancelPayment { attempt });
        }
    });
    Ok(true)
}

/// Step 2: waits for a payment, a cancel, or the end of the window.
pub(super) async fn await_payment(ctx: &Ctx, due: DateTime<Utc>) -> WorkflowResult<WindowOutcome> {
    let window = (due - now(ctx)).to_std().unwrap_or_default();
    let timer = Box::pin(
        ctx.timer(
            TimerOptions::builder(window)
                .summary(format!("Payment window closes at {}", due.to_rfc3339()))
                .build(),
        ),
    );
    let mut timer = timer;
    loop {
        if let Some((reason, kind)) = cancellation_pending(ctx) {
            timer.cancel();
            return Ok(WindowOutcome::Cancelled { reason, kind });
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
                .unwrap_or_else(|| reasons::AUTHENTICATION_FAILED.to_owned());
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
        if let Some((ticket, method)) = ctx.state_mut(|s| s.payment_requests.pop_front()) {
            let another_card = ctx.state(|s| {
                s.booking.payment.next_action.is_some()
                    && s.attempt_method.as_ref() != Some(&method)
            });
            if another_card && ctx.patched(ONE_CARD_PER_ATTEMPT) {
                // The first card's 3-D Secure is pending (or failed, its
                // webhook not here yet): void that attempt, so that the
                // card given now is the one charged, on an intent of its own.
                ctx.state_mut(|s| s.booking.payment.next_action = None);
                end_attempt(ctx).await?;
                if !new_payment_attempt(ctx).await? {
                    return Ok(WindowOutcome::Ended);
                }
            }
            ctx.state_mut(|s| s.attempt_method = Some(method.clone()));
            let input = ctx.state(|s| AuthorizePayment {
                booking_id: s.booking.booking_id.clone(),
                attempt: s.booking.payment.attempts,
                payment_method: method,
            });
            let summary = format!("Authorize payment attempt #{}", input.attempt);
            let defined_ends = defined_ends(ctx);
            // An activity, also on the fast path: it races the window's
            // timer, which a local activity's workflow task would not see.
            let options = step_options(ctx, summary, Duration::from_secs(30), Budget::Authorize);
            let authorization =
                ctx.execute_activity(BookingActivities::authorize_payment, input, options);
            let outcome = if defined_ends {
                // The window still runs: if it closes first, the abort voids
                // the authorization (the void waits for it to finish) and
                // releases the seats.
                let mut authorization = Box::pin(authorization).fuse();
                temporalio_sdk::workflows::select! {
                    outcome = authorization => outcome,
                    fired = timer.as_mut() => {
                        return Ok(match fired {
                            TimerResult::Fired => WindowOutcome::Expired,
                            TimerResult::Cancelled => operator_cancel(),
                        });
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
                    if defined_ends && let Some((reason, kind)) = cancellation_pending(ctx) {
                        return Ok(WindowOutcome::Cancelled { reason, kind });
                    }
                    return Ok(WindowOutcome::Authorized);
                }
                Ok(Authorization::Declined(decline)) => decline,
                // The card needs 3-D Secure: the client runs it with
                // Stripe.js; the webhook (or another submit_payment) tells
                // us when Stripe authorized it. The window still runs.
                Ok(Authorization::RequiresAction(action)) => {
                    ctx.state_mut(|s| {
                        s.booking.payment.next_action = Some(action);
                        s.booking.payment.last_error = None;
                        s.payments_answered = s.payments_answered.max(ticket);
                    });
                    record(ctx).await?;
                    continue;
                }
                Err(e) => match business_failure(&e) {
                    Some((code, message)) => PaymentError { code, message },
                    // Stripe out of reach past the budget: this attempt is
                    // over, the traveller may try again.
                    None if defined_ends => PaymentError {
                        code: reasons::PAYMENT_UNAVAILABLE.to_owned(),
                        message: "the payment could not be processed; please try again".to_owned(),
                    },
                    None => return Err(e.into()),
                },
            };
            if let Some(outcome) = attempt_failed(ctx, decline, Some(ticket)).await? {
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
    let counted = failure.code != reasons::PAYMENT_UNAVAILABLE;
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
        ctx.state_mut(|s| s.payments_answered = s.payments_answered.max(ticket));
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

/// Step 3. Returns false when the booking ended (could not confirm).
pub(super) async fn confirm(ctx: &Ctx) -> WorkflowResult<bool> {
    transition(ctx, BookingStatus::Confirming, None);
    record(ctx).await?;
    let (booking_id, attempt, passengers) = ctx.state(|s| {
        (
            s.booking.booking_id.clone(),
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
        booking_id.clone(),
        "Confirm held seats as sold",
        Duration::from_secs(15),
        Budget::ConfirmSeats,
    )
    .await;
    let refused = "seats could not be confirmed";
    match confirmed {
        Ok(()) => {}
        // Refused (flight cancelled, departed, past the cut-off, hold gone)
        // or out of reach: nothing was captured; void and release.
        Err(e) if defined_ends => {
            return step_failed(ctx, &e, refused, reasons::FLIGHTS_UNAVAILABLE).await;
        }
        Err(e) => return confirmation_refused(ctx, e, refused).await,
    }
    sell_seats_in_compensations(ctx);

    let captured = run_step(
        ctx,
        BookingActivities::capture_payment,
        PaymentRef {
            booking_id: booking_id.clone(),
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
        return confirmation_refused(ctx, e, "payment could not be captured").await;
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
            let reason = "tickets could not be issued".to_owned();
            refund_and_release(ctx).await?;
            transition(ctx, BookingStatus::Failed, Some(reason));
            answer_all_payments(ctx);
            record(ctx).await?;
            return Ok(false);
        }
        Err(e) => return Err(e.into()),
    };
    ctx.state_mut(|s| {
        s.booking.ticket_numbers = tickets;
        // The confirmation email carries the departure as it is now.
        s.schedule_version_notified = s.schedule_version;
    });
    transition(ctx, BookingStatus::Confirmed, None);
    answer_all_payments(ctx);
    record(ctx).await?;
    email(ctx, EmailKind::Confirmation, "confirmation".to_owned()).await?;
    Ok(true)
}

/// A step that ended for good ([`DEFINED_ENDS`]): refused (the reason is
/// `refused: <its message>`) or out of reach past its budget (the reason is
/// `unavailable`). Undo what was done, end `failed`.
pub(super) async fn step_failed(
    ctx: &Ctx,
    e: &ActivityExecutionError,
    refused: &str,
    unavailable: &str,
) -> WorkflowResult<bool> {
    let reason = match business_failure(e) {
        Some((_, message)) => format!("{refused}: {message}"),
        None => unavailable.to_owned(),
    };
    abort(ctx, BookingStatus::Failed, reason, None)
        .await
        .map(|_| false)
}

/// A confirmation step refused for good: undo what was done, end `failed`.
pub(super) async fn confirmation_refused(
    ctx: &Ctx,
    e: ActivityExecutionError,
    what: &str,
) -> WorkflowResult<bool> {
    let (_, message) = business_failure(&e).ok_or(e)?;
    let reason = format!("{what}: {message}");
    abort(ctx, BookingStatus::Failed, reason, None)
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
                s.reminder_lead,
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
            transition(ctx, BookingStatus::Completed, Some("departed".to_owned()));
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
                    let (reason, kind) = operator_cancel_reason();
                    return cancel_confirmed(ctx, reason, kind).await;
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
                    let (reason, kind) = operator_cancel_reason();
                    return cancel_confirmed(ctx, reason, kind).await;
                }
                if let Some((reason, kind)) = cancellation_pending(ctx) {
                    return cancel_confirmed(ctx, reason, kind).await;
                }
                let (version, flight) = ctx.state_mut(|s| {
                    s.schedule_version_notified = s.schedule_version;
                    (s.schedule_version, s.booking.flight.clone())
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
    reason: String,
    kind: EmailKind,
) -> WorkflowResult<BookingState> {
    refund_and_release(ctx).await?;
    transition(ctx, BookingStatus::Cancelled, Some(reason));
    answer_all_payments(ctx);
    record(ctx).await?;
    email(ctx, kind, kind.as_str().to_owned()).await?;
    Ok(snapshot(ctx))
}

/// A step failed past its budget and what it did cannot be undone
/// automatically: record `needs_attention` (search attribute and read
/// model) for ops, and end. The runbook is in docs/ops.md.
pub(super) async fn needs_attention(ctx: &Ctx, failure: String) -> WorkflowResult<BookingState> {
    let mut reason = format!("{}: {failure}", reasons::NEEDS_ATTENTION);
    reason.truncate(reason.floor_char_boundary(500));
    transition(ctx, BookingStatus::NeedsAttention, Some(reason));
    answer_all_payments(ctx);
    // The read model may be what failed: the search attribute has it anyway.
    let _ = record(ctx).await;
    Ok(snapshot(ctx))
}

pub(super) fn webhook_authorized(ctx: &Ctx) -> bool {
    ctx.state(|s| s.current_intent_authorized())
}

/// A cancel the flow has to act on: the airline's first, then the traveller's.
pub(super) fn cancellation_pending(ctx: &Ctx) -> Option<(String, EmailKind)> {
    if ctx.cancellation_token().is_cancelled() {
        return Some(operator_cancel_reason());
    }
    ctx.state(|s| {
        if let Some(reason) = &s.flight_cancelled {
            Some((reason.clone(), EmailKind::FlightCancelled))
        } else {
            s.cancel_requested
                .as_ref()
                .map(|reason| (reason.clone(), EmailKind::Cancellation))
        }
    })
}

pub(super) fn operator_cancel_reason() -> (String, EmailKind) {
    (
        "the workflow was cancelled by an operator".to_owned(),
        EmailKind::Cancellation,
    )
}

pub(super) fn operator_cancel() -> WindowOutcome {
    let (reason, kind) = operator_cancel_reason();
    WindowOutcome::Cancelled { reason, kind }
}

pub(super) fn answer_all_payments(ctx: &Ctx) {
    ctx.state_mut(|s| {
        s.payment_requests.clear();
        s.payments_answered = s.payment_tickets;
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
        s.declines += 1;
        (s.declines, s.max_payment_attempts)
    });
    // The marker only where the new path is taken, so that bookings which
    // never reach their cap keep the history they always had.
    if declines < cap? || !ctx.patched(PAYMENT_ATTEMPTS_CAPPED) {
        return None;
    }
    // The declined intent was voided just before: nothing is left to pay.
    ctx.state_mut(|s| s.booking.payment.status = PaymentStatus::Cancelled);
    let reason = format!(
        "{}: {declines} payments declined",
        reasons::PAYMENT_ATTEMPTS_EXHAUSTED
    );
    Some(WindowOutcome::Cancelled {
        reason,
        kind: EmailKind::Cancellation,
    })
}
