//! The booking workflow: hold → await payment → confirm → notify → remind →
//! stay until departure (DESIGN.md, "The booking workflow").
//!
//! Deterministic code only: time comes from the workflow context, waiting
//! from its timers and conditions. Messages (updates and signals) only
//! change state; the main flow acts on them at its own steps, so one that
//! arrives early is kept until its step comes. Every activity runs under a
//! detached cancellation token: a step that has started always finishes,
//! and cancelling the workflow is handled at the waiting points, where the
//! compensations run.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use temporalio_common::ActivityCloseTimeouts;
use temporalio_common::ActivityDefinition;
use temporalio_common::RetryPolicy;
use temporalio_common::data_converters::TemporalDeserializable;
use temporalio_common::error::IncomingError;
use temporalio_common::protos::temporal::api::failure::v1::failure::FailureInfo;
use temporalio_common::search_attributes::{
    SearchAttributeKey, SearchAttributeUpdate, SearchAttributes, Timestamp,
};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityExecutionError, ActivityOptions, ApplicationFailure, CancellableFuture,
    LocalActivityOptions, SyncWorkflowContext, TimerOptions, TimerResult,
    WorkflowCancellationToken, WorkflowContext, WorkflowContextView, WorkflowResult,
    WorkflowTermination,
};

use crate::activities::{
    Authorization, AuthorizePayment, BookingActivities, CreatePayment, EmailFailed, EmailFailure,
    EmailKind, HoldSeats, IssueTickets, PaymentRef, RefundPayment, ReleaseSeats, SendEmail,
};
use crate::contract::{
    BookingInput, BookingState, BookingStatus, CancelRequest, FlightCancelled, PaymentAuthorized,
    PaymentError, PaymentRequest, PaymentStatus, ScheduleChange, SeatSelection, Transition, errors,
    reasons, search_attributes as sa,
};

const STATUS: SearchAttributeKey<String> = SearchAttributeKey::keyword(sa::BOOKING_STATUS);
const FLIGHT_NUMBER: SearchAttributeKey<String> = SearchAttributeKey::keyword(sa::FLIGHT_NUMBER);
const DEPARTURE: SearchAttributeKey<Timestamp> = SearchAttributeKey::datetime(sa::DEPARTURE_TIME);
const USER_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword(sa::USER_ID);
const BOOKING_REF: SearchAttributeKey<String> = SearchAttributeKey::keyword(sa::BOOKING_REF);

/// Bookings that start on this version or later end every step in a
/// defined state (`patched`; older histories keep their old path): every
/// step retries within a budget, every refusal and every exhausted budget
/// runs the compensations, and what cannot be undone automatically ends in
/// `needs_attention` for ops, never in a failed workflow.
pub const DEFINED_ENDS: &str = "defined-ends-1";

/// Bookings that start on this version or later send their emails apart
/// from the saga ([`mailer`]): an SMTP outage never holds back a refund, a
/// release or a timer.
pub const MAILS_APART: &str = "mails-apart-1";

/// From this version the mailer records an email it gave up on (refused
/// for good, or SMTP out of reach past its budget) for ops: the booking
/// database's `email_failure` and `booking_emails_failed_total`.
pub const EMAILS_RECORDED: &str = "emails-recorded-1";

/// From this version a departure that moves while the booking awaits
/// payment is recorded in the read model at once (the gateway reads
/// bookings from there, not by querying the workflow).
pub const RECORDS_SCHEDULE: &str = "records-schedule-1";

/// Bookings that start on this version or later run their short steps
/// (the records, the hold, the PaymentIntent, the confirmation, the
/// capture, the tickets) as local activities in the workflow task that
/// needs them: a marker event each, no task-queue round trip and no
/// workflow task of their own. The create is answered from the first
/// workflow task; a payment from the task its authorization's result
/// starts. The authorization (it races the payment window's timer, which a
/// workflow task running a local activity would not see), the
/// compensations and the emails stay activities. Implies [`DEFINED_ENDS`]
/// and [`MAILS_APART`] (one marker instead of three), and the later
/// patches of their paths.
pub const FAST_PATH: &str = "fast-path-1";

/// Backoffs longer than this between a local activity's attempts wait on a
/// durable timer, so that an outage does not keep one workflow task open.
const LOCAL_BACKOFF_ON_TIMER: Duration = Duration::from_secs(3);

type Ctx = WorkflowContext<BookingWorkflow>;
type MessageError = Box<dyn std::error::Error + Send + Sync>;

/// A step to undo, registered when the step succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Compensation {
    /// Put the seats back; `cancellation` once they were sold.
    ReleaseSeats { cancellation: bool },
    /// Cancel the PaymentIntent of this attempt (nothing captured).
    CancelPayment { attempt: u32 },
}

/// How the payment window ended.
enum WindowOutcome {
    Authorized,
    Expired,
    Cancelled {
        reason: String,
        kind: EmailKind,
    },
    /// The booking already reached its end (a payment attempt refused).
    Ended,
}

/// How long each step may retry before its failure counts as final
/// ([`DEFINED_ENDS`] bookings). The hold and the PaymentIntent answer a
/// waiting client; money and seats get an hour; the read model and email
/// a day.
#[derive(Clone, Copy)]
enum Budget {
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

#[workflow]
pub struct BookingWorkflow {
    booking: BookingState,
    payment_window: Duration,
    reminder_lead: Duration,
    compensations: Vec<Compensation>,
    /// `submit_payment` requests not yet processed, with their ticket.
    payment_requests: VecDeque<(u32, String)>,
    payment_tickets: u32,
    /// Every request with a ticket up to this one has its answer.
    payments_answered: u32,
    /// PaymentIntents the webhook reported as authorized.
    authorized_intents: Vec<String>,
    cancel_requested: Option<String>,
    flight_cancelled: Option<String>,
    /// A departure change that arrived before the hold knew the flight.
    pending_departure: Option<ScheduleChange>,
    schedule_version: u32,
    /// The schedule version the traveller has been told about.
    schedule_version_notified: u32,
    /// The schedule version `DepartureTime` shows.
    departure_attribute_version: u32,
    /// Started on [`DEFINED_ENDS`] or later.
    defined_ends: bool,
    /// The input's override of every step's budget.
    step_budget: Option<Duration>,
    /// Started on [`MAILS_APART`] or later.
    mails_apart: bool,
    /// Emails the saga asked for, not sent yet ([`MAILS_APART`]).
    mail_queue: VecDeque<SendEmail>,
    /// Started on [`FAST_PATH`] or later.
    fast_path: bool,
    /// The saga has reached its end; the mailer finishes the queue.
    saga_done: bool,
}

#[workflow_methods]
impl BookingWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: BookingInput) -> Self {
        let payment_window = Duration::from_millis(input.payment_window_ms);
        let reminder_lead = Duration::from_millis(input.reminder_lead_ms);
        let step_budget = input.step_budget_ms.map(Duration::from_millis);
        Self {
            booking: BookingState::new(input),
            payment_window,
            reminder_lead,
            compensations: Vec::new(),
            payment_requests: VecDeque::new(),
            payment_tickets: 0,
            payments_answered: 0,
            authorized_intents: Vec::new(),
            cancel_requested: None,
            flight_cancelled: None,
            pending_departure: None,
            schedule_version: 0,
            schedule_version_notified: 0,
            departure_attribute_version: 0,
            defined_ends: false,
            step_budget,
            mails_apart: false,
            mail_queue: VecDeque::new(),
            fast_path: false,
            saga_done: false,
        }
    }

    #[run(name = crate::contract::WORKFLOW_TYPE)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<BookingState> {
        let fast_path = ctx.patched(FAST_PATH);
        let defined_ends = fast_path || ctx.patched(DEFINED_ENDS);
        let mails_apart = fast_path || (defined_ends && ctx.patched(MAILS_APART));
        ctx.state_mut(|s| {
            s.defined_ends = defined_ends;
            s.mails_apart = mails_apart;
            s.fast_path = fast_path;
        });
        let ctx: &Ctx = ctx;
        let saga = async {
            let result = match saga(ctx).await {
                // A step with no defined undo failed past its budget.
                Err(WorkflowTermination::Failed(failure)) if defined_ends => {
                    needs_attention(ctx, failure.to_string()).await
                }
                other => other,
            };
            ctx.state_mut(|s| s.saga_done = true);
            result
        };
        if !mails_apart {
            return saga.await;
        }
        let (result, ()) = temporalio_sdk::workflows::join!(saga, mailer(ctx));
        // What the mailer left (it stops waiting once the workflow is
        // cancelled) goes out before the workflow closes.
        while let Some(mail) = ctx.state_mut(|s| s.mail_queue.pop_front()) {
            send_email(ctx, mail).await;
        }
        result
    }

    /// The whole state of the booking.
    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> BookingState {
        self.booking.clone()
    }

    /// Answers once the hold is decided: `awaiting_payment` with the seats,
    /// the locked price and the PaymentIntent's client secret, or `failed`
    /// (`seats_unavailable`). With update-with-start this is "hold my seats
    /// and tell me the price" in one round trip.
    #[update]
    pub async fn wait_for_hold(ctx: &mut WorkflowContext<Self>, _input: ()) -> BookingState {
        let _ = ctx
            .wait_condition(|s| s.booking.status != BookingStatus::Holding)
            .await;
        snapshot(ctx)
    }

    #[update_validator(submit_payment)]
    fn validate_submit_payment(
        &self,
        _ctx: &WorkflowContextView,
        request: &PaymentRequest,
    ) -> Result<(), MessageError> {
        if request.payment_method.trim().is_empty() {
            return Err("payment_method must not be empty".into());
        }
        match self.booking.status {
            BookingStatus::Holding | BookingStatus::AwaitingPayment => {}
            other => return Err(format!("the booking is {other}; it takes no payment").into()),
        }
        // One payment at a time: a second one while the first is still
        // unanswered is refused (a rejection writes nothing to the history).
        // A client retrying the same call sends the same update id, which
        // Temporal attaches to the update already running.
        if self.payment_tickets > self.payments_answered {
            return Err(format!(
                "{}: a payment for this booking is being processed",
                reasons::PAYMENT_IN_PROGRESS
            )
            .into());
        }
        Ok(())
    }

    /// Pay with a payment method: answers once the payment is authorized
    /// and the booking confirmed, or declined (still awaiting payment, with
    /// the reason in `payment.last_error`).
    #[update]
    pub async fn submit_payment(
        ctx: &mut WorkflowContext<Self>,
        request: PaymentRequest,
    ) -> BookingState {
        let ticket = ctx.state_mut(|s| {
            s.payment_tickets += 1;
            let ticket = s.payment_tickets;
            s.payment_requests
                .push_back((ticket, request.payment_method));
            ticket
        });
        // Cancelling the workflow answers with the state as it is.
        let _ = ctx
            .wait_condition(move |s| s.payments_answered >= ticket)
            .await;
        snapshot(ctx)
    }

    #[update_validator(cancel)]
    fn validate_cancel(
        &self,
        _ctx: &WorkflowContextView,
        _request: &CancelRequest,
    ) -> Result<(), MessageError> {
        match self.booking.status {
            status @ (BookingStatus::Expired
            | BookingStatus::Failed
            | BookingStatus::Completed
            | BookingStatus::NeedsAttention) => {
                Err(format!("the booking is {status}; it can no longer be cancelled").into())
            }
            // Capture and confirmation take seconds: cancelling then would
            // capture and refund at once. The client retries shortly.
            BookingStatus::Confirming if self.defined_ends => Err(format!(
                "{}: the booking is being confirmed; try again in a few seconds",
                reasons::CONFIRMING
            )
            .into()),
            _ => Ok(()),
        }
    }

    /// Cancel the booking: before payment the seats are released and the
    /// authorization voided; after confirmation the payment is refunded and
    /// the seats released. Answers with the final state.
    #[update]
    pub async fn cancel(ctx: &mut WorkflowContext<Self>, request: CancelRequest) -> BookingState {
        ctx.state_mut(|s| {
            if s.cancel_requested.is_none() && !s.booking.status.is_final() {
                let reason = request
                    .reason
                    .unwrap_or_else(|| "cancelled by the traveller".to_owned());
                s.cancel_requested = Some(reason);
            }
        });
        let _ = ctx.wait_condition(|s| s.booking.status.is_final()).await;
        snapshot(ctx)
    }

    /// From the gateway's verified Stripe webhook
    /// (`payment_intent.amount_capturable_updated`).
    #[signal]
    pub fn payment_authorized(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        event: PaymentAuthorized,
    ) {
        if !self.authorized_intents.contains(&event.payment_intent_id) {
            self.authorized_intents.push(event.payment_intent_id);
        }
    }

    /// The flight's departure moved.
    #[signal]
    pub fn schedule_changed(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        change: ScheduleChange,
    ) {
        // Versioned changes apply in order: an older one is late news.
        let known = match &self.booking.flight {
            Some(flight) => flight.version,
            None => self.pending_departure.as_ref().and_then(|p| p.version),
        };
        if let (Some(version), Some(known)) = (change.version, known)
            && version <= known
        {
            return;
        }
        match &mut self.booking.flight {
            Some(flight) if flight.departure_time == change.departure_time => {
                flight.version = change.version.or(flight.version);
                return;
            }
            Some(flight) => {
                // The flight keeps its length: the arrival moves with it.
                if let Some(arrival) = &mut flight.arrival_time {
                    *arrival += change.departure_time - flight.departure_time;
                }
                flight.departure_time = change.departure_time;
                flight.version = change.version.or(flight.version);
            }
            None => self.pending_departure = Some(change),
        }
        self.schedule_version += 1;
    }

    /// The airline cancelled the flight: full refund and an apology.
    #[signal]
    pub fn flight_cancelled(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        event: FlightCancelled,
    ) {
        if self.flight_cancelled.is_none() {
            self.flight_cancelled = Some(
                event
                    .reason
                    .unwrap_or_else(|| "the airline cancelled the flight".to_owned()),
            );
        }
    }
}

// ---- steps ---------------------------------------------------------------

/// The booking from start to end: hold → await payment → confirm → stay
/// until departure.
async fn saga(ctx: &Ctx) -> WorkflowResult<BookingState> {
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
            FLIGHT_NUMBER.value_set(f.flight_number),
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
async fn hold(ctx: &Ctx) -> WorkflowResult<bool> {
    let input = ctx.state(|s| HoldSeats {
        booking_id: s.booking.booking_id.clone(),
        flight_id: s.booking.flight_id,
        seats: s.booking.requested_seats.clone(),
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
async fn new_payment_attempt(ctx: &Ctx) -> WorkflowResult<bool> {
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
        input.amount.amount, input.amount.currency
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
            let reason = match business_failure(&e) {
                Some((_, message)) => format!("{}: {message}", reasons::PAYMENT_REJECTED),
                None => reasons::PAYMENT_UNAVAILABLE.to_owned(),
            };
            abort(ctx, BookingStatus::Failed, reason, None).await?;
            return Ok(false);
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
async fn await_payment(ctx: &Ctx, due: DateTime<Utc>) -> WorkflowResult<WindowOutcome> {
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
        if let Some((ticket, method)) = ctx.state_mut(|s| s.payment_requests.pop_front()) {
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
            ctx.state_mut(|s| {
                s.booking.payment.last_error = Some(decline);
                s.booking.payment.next_action = None;
            });
            // The declined intent is done with; the next try gets its own.
            let attempt = ctx.state(|s| s.booking.payment.attempts);
            run_compensation(ctx, Compensation::CancelPayment { attempt }).await?;
            ctx.state_mut(|s| {
                s.compensations
                    .retain(|c| *c != Compensation::CancelPayment { attempt })
            });
            if !new_payment_attempt(ctx).await? {
                return Ok(WindowOutcome::Ended);
            }
            ctx.state_mut(|s| s.payments_answered = s.payments_answered.max(ticket));
            record(ctx).await?;
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

/// Step 3. Returns false when the booking ended (could not confirm).
async fn confirm(ctx: &Ctx) -> WorkflowResult<bool> {
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
    match confirmed {
        Ok(()) => {}
        // Refused (flight cancelled, departed, past the cut-off, hold gone)
        // or out of reach: nothing was captured; void and release.
        Err(e) if defined_ends => {
            let reason = match business_failure(&e) {
                Some((_, message)) => format!("seats could not be confirmed: {message}"),
                None => reasons::FLIGHTS_UNAVAILABLE.to_owned(),
            };
            return abort(ctx, BookingStatus::Failed, reason, None)
                .await
                .map(|_| false);
        }
        Err(e) => return confirmation_refused(ctx, e, "seats could not be confirmed").await,
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

/// A confirmation step refused for good: undo what was done, end `failed`.
async fn confirmation_refused(
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
async fn stay_until_departure(ctx: &Ctx) -> WorkflowResult<BookingState> {
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
async fn cancel_confirmed(
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

/// Refunds the captured payment in full and releases the sold seats. A
/// refund Stripe refuses or that stays out of reach past its budget is an
/// error: the booking then needs attention ([`DEFINED_ENDS`]).
async fn refund_and_release(ctx: &Ctx) -> WorkflowResult<()> {
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

/// A step failed past its budget and what it did cannot be undone
/// automatically: record `needs_attention` (search attribute and read
/// model) for ops, and end. The runbook is in docs/ops.md.
async fn needs_attention(ctx: &Ctx, failure: String) -> WorkflowResult<BookingState> {
    let mut reason = format!("{}: {failure}", reasons::NEEDS_ATTENTION);
    reason.truncate(reason.floor_char_boundary(500));
    transition(ctx, BookingStatus::NeedsAttention, Some(reason));
    answer_all_payments(ctx);
    // The read model may be what failed: the search attribute has it anyway.
    let _ = record(ctx).await;
    Ok(snapshot(ctx))
}

/// Every release from now on releases sold seats too.
fn sell_seats_in_compensations(ctx: &Ctx) {
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
async fn abort(
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
async fn run_compensation(ctx: &Ctx, compensation: Compensation) -> WorkflowResult<()> {
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

/// Sends one email: inline before [`MAILS_APART`], else through the
/// mailer's queue (the booking's state as it is now goes with it).
async fn email(ctx: &Ctx, kind: EmailKind, key: String) -> WorkflowResult<()> {
    let booking = snapshot(ctx);
    let mail = SendEmail { kind, key, booking };
    if ctx.state(|s| s.mails_apart) {
        ctx.state_mut(|s| s.mail_queue.push_back(mail));
        return Ok(());
    }
    let summary = format!("Email: {}", kind.as_str());
    let sent = ctx
        .execute_activity(
            BookingActivities::send_email,
            mail,
            step_options(ctx, summary, Duration::from_secs(30), Budget::Record),
        )
        .await;
    match sent {
        Ok(()) => Ok(()),
        // A mailbox that refuses mail for good must not undo the booking;
        // nor may a mail server down for longer than the budget (its
        // failures show in the activity metrics and alerts).
        Err(e) if business_failure(&e).is_some() || defined_ends(ctx) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Sends the saga's emails in order, beside it, until the saga has ended
/// and the queue is empty. Each email retries within its budget (a day),
/// then is dropped: its failures show in the activity metrics and alerts.
/// A cancelled workflow's conditions end at once: the mailer stops, and
/// `run` sends the rest.
async fn mailer(ctx: &Ctx) {
    loop {
        if ctx
            .wait_condition(|s| !s.mail_queue.is_empty() || s.saga_done)
            .await
            .is_err()
        {
            return;
        }
        let Some(mail) = ctx.state_mut(|s| s.mail_queue.pop_front()) else {
            return;
        };
        send_email(ctx, mail).await;
    }
}

async fn send_email(ctx: &Ctx, mail: SendEmail) {
    let summary = format!("Email: {}", mail.kind.as_str());
    let (booking_id, kind, key) = (mail.booking.booking_id.clone(), mail.kind, mail.key.clone());
    let Err(e) = ctx
        .execute_activity(
            BookingActivities::send_email,
            mail,
            step_options(ctx, summary, Duration::from_secs(30), Budget::Record),
        )
        .await
    else {
        return;
    };
    // Refused for good, or out of reach past the budget: the booking goes
    // on without it, and ops learn of it ([`EMAILS_RECORDED`]).
    if !since(ctx, EMAILS_RECORDED) {
        return;
    }
    let cause = if business_failure(&e).is_some() {
        EmailFailure::Rejected
    } else {
        EmailFailure::OutOfBudget
    };
    let failed = EmailFailed {
        booking_id,
        kind,
        key,
        cause,
    };
    let summary = format!("Email {} failed: {}", kind.as_str(), cause.as_str());
    // Its own record failing past a day's budget leaves the log line and
    // the workflow's history as the trace.
    let _ = ctx
        .execute_activity(
            BookingActivities::record_email_failed,
            failed,
            step_options(ctx, summary, Duration::from_secs(15), Budget::Record),
        )
        .await;
}

/// Pushes the state to the read model and the event log.
async fn record(ctx: &Ctx) -> WorkflowResult<()> {
    let booking = ctx.state_mut(|s| {
        s.booking.revision += 1;
        s.booking.clone()
    });
    let summary = format!("Record status {}", booking.status);
    run_step(
        ctx,
        BookingActivities::record_booking,
        booking,
        summary,
        Duration::from_secs(15),
        Budget::Record,
    )
    .await?;
    Ok(())
}

// ---- state helpers ---------------------------------------------------------

/// The search attributes a booking starts with: status `holding`, user and
/// reference. Starters pass them in the start request
/// ([`initial_search_attributes`]), which saves the workflow an upsert.
fn initial_updates(user_id: &str, booking_ref: &str) -> Vec<SearchAttributeUpdate> {
    vec![
        STATUS.value_set(BookingStatus::Holding.as_str().to_owned()),
        USER_ID.value_set(user_id.to_owned()),
        BOOKING_REF.value_set(booking_ref.to_owned()),
    ]
}

/// For the start request of a booking (`WorkflowStartOptions::search_attributes`).
pub fn initial_search_attributes(input: &BookingInput) -> SearchAttributes {
    SearchAttributes::new(initial_updates(&input.user_id, &input.booking_ref))
}

/// The one line the Web UI shows for a booking (`static_summary` of its
/// start request), e.g. `Booking K7Q2ZP: seats 3A, 3B on flight 42; 2
/// passengers; 5 min to pay`. No personal data: ops lists are wide open.
pub fn start_summary(input: &BookingInput) -> String {
    let seats = match &input.seats {
        SeatSelection::Seats(seats) => format!("seats {}", seats.join(", ")),
        SeatSelection::Cabin { cabin, count } => format!("{count} {cabin} seat(s)"),
    };
    let passengers = input.passengers.len();
    format!(
        "Booking {}: {seats} on flight {}; {passengers} passenger{}; {} min to pay",
        input.booking_ref,
        input.flight_id,
        if passengers == 1 { "" } else { "s" },
        input.payment_window_ms.div_ceil(60_000),
    )
}

impl BookingWorkflow {
    fn has_payment_work(&self) -> bool {
        self.cancel_requested.is_some()
            || self.flight_cancelled.is_some()
            || !self.payment_requests.is_empty()
            || self.current_intent_authorized()
    }

    /// The departure moved since the `DepartureTime` search attribute was
    /// last set ([`MAILS_APART`] bookings keep it current before
    /// confirmation too).
    fn departure_attribute_stale(&self) -> bool {
        self.mails_apart && self.schedule_version != self.departure_attribute_version
    }

    fn has_post_confirmation_work(&self) -> bool {
        self.cancel_requested.is_some()
            || self.flight_cancelled.is_some()
            || self.schedule_version != self.schedule_version_notified
    }

    fn current_intent_authorized(&self) -> bool {
        self.booking
            .payment
            .payment_intent_id
            .as_ref()
            .is_some_and(|id| self.authorized_intents.contains(id))
    }
}

/// Sets `DepartureTime` to the departure as it is now, if it moved;
/// returns whether it did.
fn refresh_departure_attribute(ctx: &Ctx) -> bool {
    if !ctx.state(|s| s.departure_attribute_stale()) {
        return false;
    }
    let departure = ctx.state_mut(|s| {
        s.departure_attribute_version = s.schedule_version;
        s.booking.flight.as_ref().map(|f| f.departure_time)
    });
    if let Some(departure) = departure {
        ctx.upsert_search_attributes([departure_attribute(departure)]);
    }
    true
}

fn webhook_authorized(ctx: &Ctx) -> bool {
    ctx.state(|s| s.current_intent_authorized())
}

/// A cancel the flow has to act on: the airline's first, then the traveller's.
fn cancellation_pending(ctx: &Ctx) -> Option<(String, EmailKind)> {
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

fn operator_cancel_reason() -> (String, EmailKind) {
    (
        "the workflow was cancelled by an operator".to_owned(),
        EmailKind::Cancellation,
    )
}

fn operator_cancel() -> WindowOutcome {
    let (reason, kind) = operator_cancel_reason();
    WindowOutcome::Cancelled { reason, kind }
}

fn answer_all_payments(ctx: &Ctx) {
    ctx.state_mut(|s| {
        s.payment_requests.clear();
        s.payments_answered = s.payment_tickets;
    });
}

fn transition(ctx: &Ctx, status: BookingStatus, reason: Option<String>) {
    transition_with(ctx, status, reason, []);
}

/// A transition whose status the starter already put in the search
/// attributes: recorded in the history only.
fn record_transition(ctx: &Ctx, status: BookingStatus, reason: Option<String>) {
    let at = now(ctx);
    ctx.state_mut(|s| {
        s.booking.status = status;
        s.booking.history.push(Transition { status, at, reason });
    });
}

/// Moves to `status`, recording it in the history and, in one upsert with
/// `extra`, in the search attributes.
fn transition_with(
    ctx: &Ctx,
    status: BookingStatus,
    reason: Option<String>,
    extra: impl IntoIterator<Item = SearchAttributeUpdate>,
) {
    let at = now(ctx);
    ctx.state_mut(|s| {
        s.booking.status = status;
        if reason.is_some() {
            s.booking.reason.clone_from(&reason);
        }
        s.booking.history.push(Transition { status, at, reason });
    });
    let mut updates = vec![STATUS.value_set(status.as_str().to_owned())];
    updates.extend(extra);
    ctx.upsert_search_attributes(updates);
}

fn snapshot(ctx: &Ctx) -> BookingState {
    ctx.state(|s| s.booking.clone())
}

fn now(ctx: &Ctx) -> DateTime<Utc> {
    time_of(ctx.workflow_time())
}

fn time_of(t: Option<std::time::SystemTime>) -> DateTime<Utc> {
    t.map(DateTime::<Utc>::from).unwrap_or_default()
}

fn chrono_duration(d: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
}

fn departure_attribute(at: DateTime<Utc>) -> SearchAttributeUpdate {
    DEPARTURE.value_set(Timestamp::new(
        at.timestamp(),
        at.timestamp_subsec_nanos() as i32,
    ))
}

/// The type and message of a business failure (a non-retryable
/// `ApplicationFailure` with one of `contract::errors`' types).
fn business_failure(e: &ActivityExecutionError) -> Option<(String, String)> {
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
fn booking_total(ctx: &Ctx) -> WorkflowResult<crate::contract::Money> {
    ctx.state(|s| s.booking.total.clone()).ok_or_else(|| {
        ApplicationFailure::builder("the booking has no total: no payment step may run")
            .type_name("BookingWithoutTotal".to_owned())
            .non_retryable(true)
            .build()
            .into()
    })
}

fn defined_ends(ctx: &Ctx) -> bool {
    ctx.state(|s| s.defined_ends)
}

/// Whether the booking runs the code of `patch`: [`FAST_PATH`] bookings run
/// every later patch's code without a marker of its own.
fn since(ctx: &Ctx, patch: &str) -> bool {
    ctx.state(|s| s.fast_path) || ctx.patched(patch)
}

/// Runs one step: a local activity on the [`FAST_PATH`], else an activity,
/// with the same retries and budget.
async fn run_step<AD>(
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
    if !ctx.state(|s| s.fast_path) {
        let options = step_options(ctx, summary, timeout, budget);
        return ctx.execute_activity(activity, input, options).await;
    }
    let step_budget = ctx.state(|s| s.step_budget);
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
fn step_options(
    ctx: &Ctx,
    summary: impl Into<String>,
    timeout: Duration,
    budget: Budget,
) -> ActivityOptions {
    let (defined_ends, step_budget) = ctx.state(|s| (s.defined_ends, s.step_budget));
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
/// finishes; compensations run after a workflow cancel), retries with
/// backoff capped at 10 s, business failures never retried.
fn options(timeouts: ActivityCloseTimeouts, summary: impl Into<String>) -> ActivityOptions {
    ActivityOptions::with_close_timeouts(timeouts)
        .cancellation_token(WorkflowCancellationToken::new())
        .retry_policy(retry_policy())
        .summary(summary.into())
        .build()
}

fn retry_policy() -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(Duration::from_millis(500))
        .backoff_coefficient(2.0)
        .maximum_interval(Duration::from_secs(10))
        .non_retryable_error_types([
            errors::SEATS_UNAVAILABLE,
            errors::BOOKING_REJECTED,
            errors::CARD_DECLINED,
            errors::HOLD_CONFLICT,
            errors::PAYMENT_REJECTED,
            errors::EMAIL_REJECTED,
        ])
        .build()
}
