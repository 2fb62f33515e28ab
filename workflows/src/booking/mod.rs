//! The booking workflow: hold → await payment → confirm → notify → remind →
//! stay until departure (docs/workflow.md).
//!
//! Deterministic code only: time comes from the workflow context, waiting
//! from its timers and conditions. Messages (updates and signals) only
//! change state; the main flow acts on them at its own steps, so one that
//! arrives early is kept until its step comes. Every activity runs under a
//! detached cancellation token: a step that has started always finishes,
//! and cancelling the workflow is handled at the waiting points, where the
//! compensations run.
//!
//! The files: this one holds the workflow's state (in named parts: the
//! booking, how the run goes, payments, cancels waiting, the schedule,
//! notifications) and its message handlers; [`steps`] the saga (hold,
//! confirm, stay until departure), [`payment`] the payment window,
//! [`compensations`] its undo and the cancels that ask for it, [`emails`]
//! the mailer and the texter, [`visibility`] the read model and search
//! attributes, [`execution`] how each step runs (local activity or
//! activity, retries, budgets).

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult, WorkflowTermination,
};

use crate::activities::{SendEmail, SendSms};
use crate::bounds::{self, OutOfBounds};
use crate::contract::{
    BookingInput, BookingState, BookingStatus, CancelRequest, FlightCancelled, Inbound,
    PaymentAuthorized, PaymentFailed, PaymentMethodId, PaymentRequest, ScheduleChange,
};
use crate::contract::{OutcomeCode, Refusal};

mod compensations;
mod emails;
mod execution;
mod payment;
mod steps;
mod visibility;

use compensations::Compensation;
use emails::{mailer, send_email, send_sms, texter};
use steps::{needs_attention, saga};
pub use visibility::{initial_search_attributes, start_summary};
use visibility::{snapshot, transition};

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

/// Bookings that start on this version or later and chose SMS get their
/// messages by text too (and by email only if they chose it): the texter
/// beside the saga sends them, apart from the emails. The marker is
/// written only for bookings that chose SMS.
pub const SMS_TEXTS: &str = "sms-texts-1";

/// From this version a booking whose input caps its payment attempts is
/// cancelled (seats released, one email) when its last allowed payment is
/// declined.
pub const PAYMENT_ATTEMPTS_CAPPED: &str = "payment-attempts-capped-1";

/// From this version a payment attempt is one card: a 3-D Secure that
/// fails (Stripe's `payment_intent.payment_failed`, signalled by the
/// gateway) ends its attempt at once (`payment.last_error` set, no
/// `next_action`, the intent voided, a new one for the next card), and a
/// payment with another card while a 3-D Secure is pending voids that
/// attempt and charges exactly the new card on a new intent.
pub const ONE_CARD_PER_ATTEMPT: &str = "one-card-per-attempt-1";

type Ctx = WorkflowContext<BookingWorkflow>;
type MessageError = Box<dyn std::error::Error + Send + Sync>;

#[workflow]
pub struct BookingWorkflow {
    /// The booking as its owner and ops see it (the `status` query).
    booking: BookingState,
    /// Steps to undo, in the order they were done.
    compensations: Vec<Compensation>,
    /// How this run goes: its input's timings and the patches it runs.
    run: Run,
    /// Payment requests and what Stripe's webhooks said of them.
    payments: Payments,
    /// Cancels waiting for the main flow to act on them.
    waiting: Waiting,
    /// The flight's schedule as its changes arrive, and who was told.
    schedule: Schedule,
    /// Emails and texts waiting to go beside the saga.
    notifications: Notifications,
}

/// How this run goes: fixed by its input and its patch markers.
#[derive(Default)]
struct Run {
    payment_window: Duration,
    reminder_lead: Duration,
    /// The input's override of every step's budget.
    step_budget: Option<Duration>,
    /// The input's cap on declined payments.
    max_payment_attempts: Option<u32>,
    /// The input is outside the gateway's bounds: refused before any step.
    out_of_bounds: Option<OutOfBounds>,
    /// Started on [`DEFINED_ENDS`] or later.
    defined_ends: bool,
    /// Started on [`MAILS_APART`] or later.
    mails_apart: bool,
    /// Started on [`FAST_PATH`] or later.
    fast_path: bool,
}

/// The payment requests (`submit_payment`) and Stripe's webhooks.
#[derive(Default)]
struct Payments {
    /// Requests not yet processed, with their ticket.
    requests: VecDeque<(u32, PaymentMethodId)>,
    tickets: u32,
    /// Every request with a ticket up to this one has its answer.
    answered: u32,
    /// PaymentIntents the webhook reported as authorized.
    authorized_intents: Vec<String>,
    /// PaymentIntents the webhook reported as failed, with Stripe's code,
    /// not acted on yet.
    failed_intents: Vec<PaymentFailed>,
    /// The payment method the current attempt was given.
    attempt_method: Option<PaymentMethodId>,
    /// Payments the card's bank (or Stripe) declined so far.
    declines: u32,
}

/// Cancels the main flow acts on at its next waiting point.
#[derive(Default)]
struct Waiting {
    /// The traveller's or an agent's (`cancel`).
    cancel: Option<CancelRequest>,
    /// The airline's (`flight_cancelled`), with the admin's reason.
    flight_cancelled: Option<String>,
}

/// The departure as schedule changes arrive, and where it has been shown.
#[derive(Default)]
struct Schedule {
    /// A departure change that arrived before the hold knew the flight.
    pending_departure: Option<ScheduleChange>,
    /// Changes applied so far.
    version: u32,
    /// The version the traveller has been told about.
    notified: u32,
    /// The version the `DepartureTime` search attribute shows.
    attribute_version: u32,
}

/// The traveller's messages: where they go and those not sent yet.
struct Notifications {
    /// By email (always, unless a [`SMS_TEXTS`] booking chose SMS only).
    emails: bool,
    /// By text ([`SMS_TEXTS`]).
    texts: bool,
    /// Emails the saga asked for, not sent yet ([`MAILS_APART`]).
    mail_queue: VecDeque<SendEmail>,
    /// Texts the saga asked for, not sent yet ([`SMS_TEXTS`]).
    sms_queue: VecDeque<SendSms>,
    /// The saga has reached its end; the mailer finishes the queue.
    saga_done: bool,
}

#[workflow_methods]
impl BookingWorkflow {
    #[init]
    pub fn new(ctx: &WorkflowContextView, input: BookingInput) -> Self {
        let started = ctx.start_time().map(DateTime::<Utc>::from);
        let out_of_bounds = bounds::check(&input, ctx.workflow_id(), started).err();
        let payment_window = Duration::from_millis(input.payment_window_ms);
        let reminder_lead = Duration::from_millis(input.reminder_lead_ms);
        let step_budget = input.step_budget_ms.map(Duration::from_millis);
        let max_payment_attempts = input.max_payment_attempts;
        Self {
            booking: BookingState::new(input),
            compensations: Vec::new(),
            run: Run {
                payment_window,
                reminder_lead,
                step_budget,
                max_payment_attempts,
                out_of_bounds,
                ..Run::default()
            },
            payments: Payments::default(),
            waiting: Waiting::default(),
            schedule: Schedule::default(),
            notifications: Notifications {
                emails: true,
                texts: false,
                mail_queue: VecDeque::new(),
                sms_queue: VecDeque::new(),
                saga_done: false,
            },
        }
    }

    #[run(name = crate::contract::WORKFLOW_TYPE)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<BookingState> {
        // Before any command: input the gateway would never send ends here
        // (no patch marker, no record, no hold); every booking the gateway
        // starts is in bounds, so no history takes this path.
        if let Some(out) = ctx.state(|s| s.run.out_of_bounds) {
            let outcome = OutcomeCode::InputOutOfBounds.with(out.field());
            transition(ctx, BookingStatus::Failed, Some(outcome));
            return Ok(snapshot(ctx));
        }
        let fast_path = ctx.patched(FAST_PATH);
        let defined_ends = fast_path || ctx.patched(DEFINED_ENDS);
        let mails_apart = fast_path || (defined_ends && ctx.patched(MAILS_APART));
        // Only a booking that chose SMS asks (the input never changes, so
        // a replay asks again exactly when the first run did).
        let channels = ctx.state(|s| s.booking.channels);
        let sms_chosen = channels.sms && ctx.state(|s| s.booking.contact_phone.is_some());
        let texts = mails_apart && sms_chosen && ctx.patched(SMS_TEXTS);
        ctx.state_mut(|s| {
            s.run.defined_ends = defined_ends;
            s.run.mails_apart = mails_apart;
            s.run.fast_path = fast_path;
            s.notifications.texts = texts;
            s.notifications.emails = !texts || channels.email;
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
            ctx.state_mut(|s| s.notifications.saga_done = true);
            result
        };
        if !mails_apart {
            return saga.await;
        }
        // The texter returns at once (no command) unless the booking texts.
        let (result, (), ()) = temporalio_sdk::workflows::join!(saga, mailer(ctx), texter(ctx));
        // What the mailer and the texter left (they stop waiting once the
        // workflow is cancelled) goes out before the workflow closes.
        while let Some(mail) = ctx.state_mut(|s| s.notifications.mail_queue.pop_front()) {
            send_email(ctx, mail).await;
        }
        while let Some(sms) = ctx.state_mut(|s| s.notifications.sms_queue.pop_front()) {
            send_sms(ctx, sms).await;
        }
        result
    }

    /// The whole state of the booking.
    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> BookingState {
        self.booking.clone()
    }

    /// Takes any caller with a readable (empty) input; one whose payload
    /// the codec refused is rejected here, before it reaches the history.
    #[update_validator(wait_for_hold)]
    fn validate_wait_for_hold(
        &self,
        _ctx: &WorkflowContextView,
        _input: &(),
    ) -> Result<(), MessageError> {
        Ok(())
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
        _request: &PaymentRequest,
    ) -> Result<(), MessageError> {
        match self.booking.status {
            BookingStatus::Holding | BookingStatus::AwaitingPayment => {}
            other => return Err(format!("the booking is {other}; it takes no payment").into()),
        }
        // One payment at a time: a second one while the first is still
        // unanswered is refused (a rejection writes nothing to the history).
        // A client retrying the same call sends the same update id, which
        // Temporal attaches to the update already running.
        if self.payments.tickets > self.payments.answered {
            let words = "a payment for this booking is being processed";
            return Err(Refusal::PaymentInProgress.message(words).into());
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
            s.payments.tickets += 1;
            let ticket = s.payments.tickets;
            s.payments
                .requests
                .push_back((ticket, request.payment_method));
            ticket
        });
        // Cancelling the workflow answers with the state as it is.
        let _ = ctx
            .wait_condition(move |s| s.payments.answered >= ticket)
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
            BookingStatus::Confirming if self.run.defined_ends => {
                let words = "the booking is being confirmed; try again in a few seconds";
                Err(Refusal::Confirming.message(words).into())
            }
            _ => Ok(()),
        }
    }

    /// Cancel the booking: before payment the seats are released and the
    /// authorization voided; after confirmation the payment is refunded and
    /// the seats released. Answers with the final state.
    #[update]
    pub async fn cancel(ctx: &mut WorkflowContext<Self>, request: CancelRequest) -> BookingState {
        ctx.state_mut(|s| {
            if s.waiting.cancel.is_none() && !s.booking.status.is_final() {
                s.waiting.cancel = Some(request);
            }
        });
        let _ = ctx.wait_condition(|s| s.booking.status.is_final()).await;
        snapshot(ctx)
    }

    /// From the gateway's verified Stripe webhook
    /// (`payment_intent.amount_capturable_updated`). Every signal ignores
    /// an input it could not read ([`Inbound::Refused`]: not sealed with our
    /// key, from a client that reached Temporal without the gateway).
    #[signal]
    pub fn payment_authorized(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        event: Inbound<PaymentAuthorized>,
    ) {
        let Some(event) = event.valid() else { return };
        if !self
            .payments
            .authorized_intents
            .contains(&event.payment_intent_id)
        {
            self.payments
                .authorized_intents
                .push(event.payment_intent_id);
        }
    }

    /// From the gateway's verified Stripe webhook
    /// (`payment_intent.payment_failed`): acted on only for the current
    /// attempt's intent while its 3-D Secure is pending (a decline at
    /// confirm is the authorization's own answer).
    #[signal]
    pub fn payment_failed(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        event: Inbound<PaymentFailed>,
    ) {
        let Some(event) = event.valid() else { return };
        let current = self.booking.payment.payment_intent_id.as_ref();
        if self.booking.payment.next_action.is_some()
            && current == Some(&event.payment_intent_id)
            && !self
                .payments
                .failed_intents
                .iter()
                .any(|f| f.payment_intent_id == event.payment_intent_id)
        {
            self.payments.failed_intents.push(event);
        }
    }

    /// The flight's departure moved.
    #[signal]
    pub fn schedule_changed(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        change: Inbound<ScheduleChange>,
    ) {
        let Some(change) = change.valid() else { return };
        // Versioned changes apply in order: an older one is late news.
        let known = match &self.booking.flight {
            Some(flight) => flight.version,
            None => self
                .schedule
                .pending_departure
                .as_ref()
                .and_then(|p| p.version),
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
            None => self.schedule.pending_departure = Some(change),
        }
        self.schedule.version += 1;
    }

    /// The airline cancelled the flight: full refund and an apology.
    #[signal]
    pub fn flight_cancelled(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        event: Inbound<FlightCancelled>,
    ) {
        let Some(event) = event.valid() else { return };
        if self.waiting.flight_cancelled.is_none() {
            self.waiting.flight_cancelled = Some(
                event
                    .reason
                    .unwrap_or_else(|| "the airline cancelled the flight".to_owned()),
            );
        }
    }
}

impl BookingWorkflow {
    fn has_payment_work(&self) -> bool {
        self.waiting.cancel.is_some()
            || self.waiting.flight_cancelled.is_some()
            || !self.payments.requests.is_empty()
            || self.current_intent_authorized()
            || self.current_intent_failed()
    }

    /// The current attempt's 3-D Secure failed (the webhook said so).
    fn current_intent_failed(&self) -> bool {
        let current = self.booking.payment.payment_intent_id.as_ref();
        self.booking.payment.next_action.is_some()
            && self
                .payments
                .failed_intents
                .iter()
                .any(|f| Some(&f.payment_intent_id) == current)
    }

    /// Takes the current attempt's failure, if the webhook reported one.
    fn take_current_failure(&mut self) -> Option<PaymentFailed> {
        if !self.current_intent_failed() {
            return None;
        }
        let current = self.booking.payment.payment_intent_id.clone();
        let at = self
            .payments
            .failed_intents
            .iter()
            .position(|f| Some(&f.payment_intent_id) == current.as_ref())?;
        Some(self.payments.failed_intents.remove(at))
    }

    /// The departure moved since the `DepartureTime` search attribute was
    /// last set ([`MAILS_APART`] bookings keep it current before
    /// confirmation too).
    fn departure_attribute_stale(&self) -> bool {
        self.run.mails_apart && self.schedule.version != self.schedule.attribute_version
    }

    fn has_post_confirmation_work(&self) -> bool {
        self.waiting.cancel.is_some()
            || self.waiting.flight_cancelled.is_some()
            || self.schedule.version != self.schedule.notified
    }

    fn current_intent_authorized(&self) -> bool {
        self.booking
            .payment
            .payment_intent_id
            .as_ref()
            .is_some_and(|id| self.payments.authorized_intents.contains(id))
    }
}
