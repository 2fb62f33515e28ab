//! The booking workflow's contract: task queue, workflow id, input, the
//! state the `status` query returns, and the names ops see. Shared by the
//! worker, the activities, the gateway and the tests.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The domain's types, carried through the contract as themselves: their
/// JSON is the plain string (or `{amount, currency}`) the histories hold,
/// and a value that does not parse never reaches a step.
pub use domain::{
    BookingId, BookingRef, Cabin, Currency, EmailAddress, FlightNumber, IataCode, Money, Outcome,
    OutcomeCode, PaymentMethodId, PhoneNumber, SeatNumber, UserId,
};

/// Every signal's input: `Valid`, or `Refused` when its payload was not
/// sealed with our key (or is not the signal's type); see [`crate::inbound`].
pub use crate::inbound::Inbound;

/// The task queue every booking workflow and activity runs on.
pub const TASK_QUEUE: &str = "bookings";

/// The workflow type name, as it appears in the Web UI and in every
/// history: it must never change for deployed bookings.
pub const WORKFLOW_TYPE: &str = "BookingWorkflow";

/// `booking-<booking id>`.
pub fn workflow_id(booking_id: impl fmt::Display) -> String {
    format!("booking-{booking_id}")
}

/// Search attributes (registered on the server; never personal data).
pub mod search_attributes {
    pub const BOOKING_STATUS: &str = "BookingStatus";
    pub const FLIGHT_NUMBER: &str = "FlightNumber";
    pub const DEPARTURE_TIME: &str = "DepartureTime";
    pub const USER_ID: &str = "UserId";
    pub const BOOKING_REF: &str = "BookingRef";
}

/// What to hold: explicit seat numbers, or a number of seats in a cabin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SeatSelection {
    Seats(Vec<SeatNumber>),
    Cabin { cabin: Cabin, count: u8 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Passenger {
    pub first_name: String,
    pub last_name: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
}

/// The workflow's input. Values are already validated by whoever starts it
/// (the gateway); the two durations are inputs so tests can shorten them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingInput {
    /// A UUID.
    pub booking_id: BookingId,
    /// The short reference travellers quote, e.g. `K7Q2ZP`.
    pub booking_ref: BookingRef,
    pub user_id: UserId,
    pub flight_id: i64,
    pub seats: SeatSelection,
    pub passengers: Vec<Passenger>,
    pub contact_email: EmailAddress,
    /// A mobile number in E.164 form (`+447400123456`), validated by the
    /// gateway; personal data, so only ever in encrypted payloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_phone: Option<PhoneNumber>,
    /// How the traveller wants to hear from us.
    #[serde(default, skip_serializing_if = "Channels::is_default")]
    pub channels: Channels,
    /// How long the traveller has to pay, in milliseconds.
    pub payment_window_ms: u64,
    /// How long before departure the check-in reminder goes out, in ms.
    pub reminder_lead_ms: u64,
    /// How long every step may retry before its failure counts as final,
    /// in ms; absent, each step has its own budget (tests shorten it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_budget_ms: Option<u64>,
    /// Declined payments after which the booking is cancelled and its seats
    /// released (card testing, or a traveller stuck); absent: no cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_payment_attempts: Option<u32>,
}

/// The channels a traveller chose for the booking's messages: email (the
/// default, and the only one before SMS) and SMS (to `contact_phone`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channels {
    pub email: bool,
    pub sms: bool,
}

impl Default for Channels {
    fn default() -> Self {
        Channels {
            email: true,
            sms: false,
        }
    }
}

impl Channels {
    pub fn is_default(&self) -> bool {
        *self == Channels::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    Holding,
    AwaitingPayment,
    Confirming,
    Confirmed,
    Expired,
    Cancelled,
    Failed,
    Completed,
    /// A step failed past its retries and what it did cannot be undone
    /// automatically (a refund Stripe refuses, seats that will not
    /// release): ops take over (docs/ops.md, "Bookings that need attention").
    NeedsAttention,
}

impl BookingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BookingStatus::Holding => "holding",
            BookingStatus::AwaitingPayment => "awaiting_payment",
            BookingStatus::Confirming => "confirming",
            BookingStatus::Confirmed => "confirmed",
            BookingStatus::Expired => "expired",
            BookingStatus::Cancelled => "cancelled",
            BookingStatus::Failed => "failed",
            BookingStatus::Completed => "completed",
            BookingStatus::NeedsAttention => "needs_attention",
        }
    }

    /// No further transition can happen.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            BookingStatus::Expired
                | BookingStatus::Cancelled
                | BookingStatus::Failed
                | BookingStatus::Completed
                | BookingStatus::NeedsAttention
        )
    }
}

impl fmt::Display for BookingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlightInfo {
    pub flight_id: i64,
    pub flight_number: FlightNumber,
    pub origin: IataCode,
    pub destination: IataCode,
    pub departure_time: DateTime<Utc>,
    /// Absent in bookings held before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_time: Option<DateTime<Utc>>,
    /// IANA zones of the airports, for times in the traveller's emails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_time_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_time_zone: Option<String>,
    /// The flight's version when it was read (bumped by every change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldSeat {
    pub seat_number: SeatNumber,
    pub cabin: Cabin,
    pub fare: Money,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// No PaymentIntent yet.
    None,
    /// An intent exists and waits for a payment method.
    AwaitingPaymentMethod,
    /// Authorized (funds held), not captured yet.
    Authorized,
    Captured,
    /// The authorization was cancelled; nothing was charged.
    Cancelled,
    Refunded,
}

/// Why a payment attempt failed, as the traveller should read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentError {
    pub code: String,
    pub message: String,
}

/// What the client must do before the payment can go on: Stripe.js's
/// `handleNextAction` (3-D Secure) with the intent's client secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextAction {
    /// Stripe's `next_action.type`, e.g. `use_stripe_sdk`.
    #[serde(rename = "type")]
    pub kind: String,
    pub client_secret: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundInfo {
    pub refund_id: String,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentState {
    pub status: PaymentStatus,
    /// Attempts so far; each has its own PaymentIntent.
    pub attempts: u32,
    pub payment_intent_id: Option<String>,
    pub client_secret: Option<String>,
    pub last_error: Option<PaymentError>,
    pub refund: Option<RefundInfo>,
    /// Set while the card awaits the traveller's authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_action: Option<NextAction>,
}

/// One entry of the booking's history of transitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub status: BookingStatus,
    pub at: DateTime<Utc>,
    /// Why, for the transitions that end a booking (`reason` in states
    /// written before outcomes were typed).
    #[serde(default, alias = "reason", skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

/// The whole state of a booking: what the `status` query returns and what
/// the read model stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingState {
    pub booking_id: BookingId,
    pub booking_ref: BookingRef,
    pub user_id: UserId,
    pub status: BookingStatus,
    pub flight_id: i64,
    pub flight: Option<FlightInfo>,
    /// What was asked for; `seats` is what was held.
    pub requested_seats: SeatSelection,
    pub seats: Vec<HeldSeat>,
    /// As the booker named them, one per seat.
    pub passengers: Vec<Passenger>,
    /// How the traveller hears from us: by email, by text, or both.
    #[serde(default, skip_serializing_if = "Channels::is_default")]
    pub channels: Channels,
    pub contact_email: EmailAddress,
    /// Where texts go, when the traveller gave a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_phone: Option<PhoneNumber>,
    /// The locked price of the held seats, once held.
    pub total: Option<Money>,
    pub payment: PaymentState,
    pub payment_due_at: Option<DateTime<Utc>>,
    pub ticket_numbers: Vec<String>,
    /// Why the booking failed, expired, was cancelled or completed
    /// (`reason` in states written before outcomes were typed).
    #[serde(default, alias = "reason", skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    pub reminder_sent: bool,
    pub history: Vec<Transition>,
    /// Bumped each time the state is written to the read model, which keeps
    /// only the highest revision (a late retry never goes back in time).
    #[serde(default)]
    pub revision: u32,
}

impl BookingState {
    /// A booking as it starts: `holding`, nothing held or paid yet, no
    /// history (the workflow records the first transition).
    pub fn new(input: BookingInput) -> Self {
        BookingState {
            booking_id: input.booking_id,
            booking_ref: input.booking_ref,
            user_id: input.user_id,
            status: BookingStatus::Holding,
            flight_id: input.flight_id,
            flight: None,
            requested_seats: input.seats,
            seats: Vec::new(),
            passengers: input.passengers,
            contact_email: input.contact_email,
            contact_phone: input.contact_phone,
            channels: input.channels,
            total: None,
            payment: PaymentState {
                status: PaymentStatus::None,
                attempts: 0,
                payment_intent_id: None,
                client_secret: None,
                last_error: None,
                refund: None,
                next_action: None,
            },
            payment_due_at: None,
            ticket_numbers: Vec::new(),
            outcome: None,
            reminder_sent: false,
            history: Vec::new(),
            revision: 0,
        }
    }
}

/// `submit_payment`: a Stripe payment method id (`pm_card_visa`, `pm_...`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRequest {
    pub payment_method: PaymentMethodId,
}

/// `payment_authorized`: sent by the gateway for a verified
/// `payment_intent.amount_capturable_updated` webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentAuthorized {
    pub payment_intent_id: String,
}

/// `payment_failed`: sent by the gateway for a verified
/// `payment_intent.payment_failed` webhook (a 3-D Secure the traveller
/// failed or abandoned, or a card declined after it). `code` is Stripe's
/// `last_payment_error` decline code, else its code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentFailed {
    pub payment_intent_id: String,
    #[serde(default)]
    pub code: Option<String>,
}

/// `cancel`: who asked. Only [`OutcomeCode::CancelledByTraveller`] and
/// [`OutcomeCode::CancelledByAgent`] are taken (the traveller's is the
/// default); a history written before outcomes were typed holds the
/// sentence (`reason`), which reads as the code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelRequest {
    #[serde(default, alias = "reason", skip_serializing_if = "Option::is_none")]
    pub by: Option<Outcome>,
}

impl CancelRequest {
    /// A cancel by the traveller, or by an airline agent.
    pub fn by(agent: bool) -> Self {
        let code = if agent {
            OutcomeCode::CancelledByAgent
        } else {
            OutcomeCode::CancelledByTraveller
        };
        CancelRequest {
            by: Some(code.outcome()),
        }
    }

    /// The outcome the cancel records: the asker's, if it is one a cancel
    /// can have.
    pub fn outcome(&self) -> Outcome {
        match &self.by {
            Some(o) if o.code == OutcomeCode::CancelledByAgent => OutcomeCode::CancelledByAgent,
            _ => OutcomeCode::CancelledByTraveller,
        }
        .outcome()
    }
}

/// `schedule_changed`: the flight's new departure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleChange {
    pub departure_time: DateTime<Utc>,
    /// The flight's version with this departure: a change older than the
    /// one the booking knows is ignored (signals can arrive out of order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

/// `flight_cancelled`: the airline cancelled the flight.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlightCancelled {
    pub reason: Option<String>,
}

/// Why an update's validator refused it: a stable code, then `: ` and our
/// words. The gateway reads the code ([`Refusal::of`]), never the words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A cancel while the booking is being confirmed (seconds): retry.
    Confirming,
    /// A payment while another is being processed (a retry with the same
    /// update id attaches to that one instead).
    PaymentInProgress,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Confirming => "booking_confirming",
            Refusal::PaymentInProgress => "payment_in_progress",
        }
    }

    /// The rejection message: the code, then the words.
    pub fn message(self, words: &str) -> String {
        format!("{}: {words}", self.as_str())
    }

    /// The refusal a rejection message starts with, if it is one.
    pub fn of(message: &str) -> Option<Refusal> {
        let code = message.split_once(':').map_or(message, |(code, _)| code);
        [Refusal::Confirming, Refusal::PaymentInProgress]
            .into_iter()
            .find(|r| r.as_str() == code)
    }
}

/// Codes of a payment attempt's `last_error` that are ours, not one of
/// Stripe's decline codes.
pub mod payment_errors {
    /// Stripe stayed out of reach past the step's budget: the attempt is
    /// over, the traveller may try again.
    pub const UNAVAILABLE: &str = "payment_unavailable";
    /// The traveller's bank did not authenticate the payment (3-D Secure
    /// failed or was abandoned): Stripe's own code.
    pub const AUTHENTICATION_FAILED: &str = "payment_intent_authentication_failure";
}

/// The activities' business failures: the type names of their
/// non-retryable `ApplicationFailure`s (histories hold these names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// The seats are taken, or not enough are left in the cabin.
    SeatsUnavailable,
    /// The flight cannot be booked (cancelled, departed, unknown, bad seat).
    BookingRejected,
    /// The flight has closed for booking (within the cut-off). Bookings
    /// held before this type existed were refused as `BookingRejected`.
    BookingClosed,
    /// The card was declined or needs an action we cannot take.
    CardDeclined,
    /// The hold is gone or in a state that forbids the step.
    HoldConflict,
    /// Stripe refused the request for a reason retrying cannot fix.
    PaymentRejected,
    /// The mail server or the address refused the email for good.
    EmailRejected,
    /// The SMS gateway refused a text for good (a number it cannot reach).
    SmsRejected,
    /// The booking has no owner record (`booking_request`) for its user:
    /// the gateway never started it.
    OwnerUnknown,
}

impl Failure {
    pub const ALL: [Failure; 9] = [
        Failure::SeatsUnavailable,
        Failure::BookingRejected,
        Failure::BookingClosed,
        Failure::CardDeclined,
        Failure::HoldConflict,
        Failure::PaymentRejected,
        Failure::EmailRejected,
        Failure::SmsRejected,
        Failure::OwnerUnknown,
    ];

    /// The type name, as the failure carries it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Failure::SeatsUnavailable => "SeatsUnavailable",
            Failure::BookingRejected => "BookingRejected",
            Failure::BookingClosed => "BookingClosed",
            Failure::CardDeclined => "CardDeclined",
            Failure::HoldConflict => "HoldConflict",
            Failure::PaymentRejected => "PaymentRejected",
            Failure::EmailRejected => "EmailRejected",
            Failure::SmsRejected => "SmsRejected",
            Failure::OwnerUnknown => "BookingOwnerUnknown",
        }
    }

    /// The failure a type name names, if it is one of ours.
    pub fn of(type_name: &str) -> Option<Failure> {
        Failure::ALL.into_iter().find(|f| f.as_str() == type_name)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A booking's timings, as every process that starts bookings reads them
/// (the gateway, the booking benchmark): `PAYMENT_WINDOW` (default 5m,
/// from 1s to 1h) and `REMINDER_LEAD` (default 48h, at most 30 days): the
/// bounds the workflow holds every booking to ([`crate::bounds`]), so a
/// process configured beyond them does not start. Parsed here only; `lookup`
/// gives a setting's value (the environment, in the services), so this
/// crate reads nothing itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookingTimings {
    pub payment_window: std::time::Duration,
    pub reminder_lead: std::time::Duration,
}

impl BookingTimings {
    pub fn parse(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let duration = |name: &str, default: std::time::Duration| match lookup(name) {
            Some(v) => humantime::parse_duration(v.trim())
                .map_err(|_| format!("{name}={v:?} must be a duration such as 10s")),
            None => Ok(default),
        };
        let timings = BookingTimings {
            payment_window: duration("PAYMENT_WINDOW", std::time::Duration::from_secs(5 * 60))?,
            reminder_lead: duration("REMINDER_LEAD", std::time::Duration::from_secs(48 * 3600))?,
        };
        use crate::bounds::{MAX_PAYMENT_WINDOW, MAX_REMINDER_LEAD, MIN_PAYMENT_WINDOW};
        if !(MIN_PAYMENT_WINDOW..=MAX_PAYMENT_WINDOW).contains(&timings.payment_window) {
            return Err(
                "PAYMENT_WINDOW must be from 1s to 1h (the workflow refuses others)".into(),
            );
        }
        if timings.reminder_lead > MAX_REMINDER_LEAD {
            return Err("REMINDER_LEAD must be at most 30 days (the workflow refuses more)".into());
        }
        Ok(timings)
    }
}
