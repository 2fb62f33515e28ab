//! The activities' signatures, so the workflow can call them without
//! depending on their I/O crates. `activities` implements each one
//! under the same name (`#[activity(definition = ...)]`).
//!
//! The `unimplemented!()` bodies are not stubs: the SDK's
//! `#[activity_definitions]` requires exactly that body for a declaration,
//! and it is never called (the worker registers the implementations).

#![allow(clippy::unimplemented, unused_variables)]

use serde::{Deserialize, Serialize};
use temporalio_macros::activity_definitions;
use temporalio_sdk::activities::ActivityError;

use crate::contract::{
    BookingId, BookingRef, BookingState, FlightInfo, HeldSeat, Money, NextAction, PaymentError,
    PaymentMethodId, RefundInfo, SeatSelection, UserId,
};

/// Every activity's heartbeat timeout: the activities heartbeat every
/// second while they run (the worker's `handlers`), so an attempt lost
/// with its worker is retried after this, not after its start-to-close.
/// Changing it changes no history's shape (only the activity's id and type
/// are replayed).
pub const HEARTBEAT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldSeats {
    pub booking_id: BookingId,
    pub flight_id: i64,
    pub seats: SeatSelection,
    /// The booking's owner, whose `booking_request` the hold must find
    /// (absent in holds scheduled before it was sent: the booking's
    /// request is looked up by its id only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatsHeld {
    pub flight: FlightInfo,
    pub seats: Vec<HeldSeat>,
    pub total: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseSeats {
    pub booking_id: BookingId,
    /// Release seats that were already sold (a cancelled booking).
    pub cancellation: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatePayment {
    pub booking_id: BookingId,
    pub booking_ref: BookingRef,
    /// 1 for the first attempt; each attempt has its own PaymentIntent.
    pub attempt: u32,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentCreated {
    pub payment_intent_id: String,
    pub client_secret: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizePayment {
    pub booking_id: BookingId,
    pub attempt: u32,
    pub payment_method: PaymentMethodId,
}

/// The answer of an authorization: a decline is an answer, not an error,
/// because the traveller may try again; so is a card that needs the
/// traveller to authenticate (3-D Secure) before Stripe authorizes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Authorization {
    Authorized,
    Declined(PaymentError),
    RequiresAction(NextAction),
}

/// Identifies a payment attempt (its PaymentIntent is in our records).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRef {
    pub booking_id: BookingId,
    pub attempt: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundPayment {
    pub booking_id: BookingId,
    pub attempt: u32,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueTickets {
    pub booking_id: BookingId,
    pub passengers: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailKind {
    Confirmation,
    PaymentExpired,
    Cancellation,
    FlightCancelled,
    ScheduleChange,
    CheckInReminder,
}

impl EmailKind {
    /// Every kind, in the order a booking may send them.
    pub const ALL: [EmailKind; 6] = [
        EmailKind::Confirmation,
        EmailKind::PaymentExpired,
        EmailKind::Cancellation,
        EmailKind::FlightCancelled,
        EmailKind::ScheduleChange,
        EmailKind::CheckInReminder,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EmailKind::Confirmation => "confirmation",
            EmailKind::PaymentExpired => "payment_expired",
            EmailKind::Cancellation => "cancellation",
            EmailKind::FlightCancelled => "flight_cancelled",
            EmailKind::ScheduleChange => "schedule_change",
            EmailKind::CheckInReminder => "check_in_reminder",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendEmail {
    pub kind: EmailKind,
    /// Unique per booking: the kind, plus a sequence for repeatable kinds.
    pub key: String,
    pub booking: BookingState,
}

/// Why the mailer gave up on an email.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailFailure {
    /// The mail server refused it for good (a bad mailbox).
    Rejected,
    /// The mail server stayed out of reach past the email's budget.
    OutOfBudget,
}

impl EmailFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailFailure::Rejected => "rejected",
            EmailFailure::OutOfBudget => "out_of_budget",
        }
    }
}

/// An email the mailer gave up on, for ops (booking database).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailFailed {
    pub booking_id: BookingId,
    pub kind: EmailKind,
    pub key: String,
    pub cause: EmailFailure,
}

/// One text message: the same kinds as the emails, to the booking's
/// `contact_phone` ([`crate::contract::Channels`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendSms {
    pub kind: EmailKind,
    /// Unique per booking: the kind, plus a sequence for repeatable kinds.
    pub key: String,
    pub booking: BookingState,
}

/// A text the worker gave up on: Kannel out of reach past its budget
/// (a refusal is recorded by `send_sms` itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsFailed {
    pub booking_id: BookingId,
    pub kind: EmailKind,
    pub key: String,
}

/// An admin's change of a flight, applied by the fan-out's first step
/// (flight service), once per `key` however often it is retried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyFlightChange {
    pub flight_id: i64,
    /// The PATCH body, as the admin sent it.
    pub patch: serde_json::Value,
    pub key: String,
}

/// The flight service's answer to a change: the flight (2xx), or its
/// refusal (4xx, in the one error shape), passed back to the admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlightChangeAnswer {
    pub status: u16,
    pub body: serde_json::Value,
}

impl FlightChangeAnswer {
    pub fn applied(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

pub struct BookingActivities;

#[activity_definitions]
impl BookingActivities {
    /// Hold the seats and lock the price (flight service).
    #[activity(name = "hold_seats")]
    pub fn hold_seats(input: HoldSeats) -> Result<SeatsHeld, ActivityError> {
        unimplemented!()
    }

    /// Held → sold (flight service).
    #[activity(name = "confirm_seats")]
    pub fn confirm_seats(booking_id: BookingId) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Put the seats back (flight service); a no-op when nothing is held.
    #[activity(name = "release_seats")]
    pub fn release_seats(input: ReleaseSeats) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// A PaymentIntent with manual capture for this attempt (Stripe).
    #[activity(name = "create_payment")]
    pub fn create_payment(input: CreatePayment) -> Result<PaymentCreated, ActivityError> {
        unimplemented!()
    }

    /// Confirm the attempt's intent with a payment method (Stripe).
    #[activity(name = "authorize_payment")]
    pub fn authorize_payment(input: AuthorizePayment) -> Result<Authorization, ActivityError> {
        unimplemented!()
    }

    /// Capture the authorized amount (Stripe).
    #[activity(name = "capture_payment")]
    pub fn capture_payment(input: PaymentRef) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Cancel the attempt's intent if it exists and is not captured (Stripe).
    #[activity(name = "cancel_payment")]
    pub fn cancel_payment(input: PaymentRef) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Refund a captured payment, once per booking (Stripe).
    #[activity(name = "refund_payment")]
    pub fn refund_payment(input: RefundPayment) -> Result<RefundInfo, ActivityError> {
        unimplemented!()
    }

    /// E-ticket numbers, one per passenger, issued once (booking database).
    #[activity(name = "issue_tickets")]
    pub fn issue_tickets(input: IssueTickets) -> Result<Vec<String>, ActivityError> {
        unimplemented!()
    }

    /// Upsert the read model and append new transitions (booking database).
    #[activity(name = "record_booking")]
    pub fn record_booking(booking: BookingState) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Send one email, at most once per booking and key (SMTP).
    #[activity(name = "send_email")]
    pub fn send_email(input: SendEmail) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Record an email the mailer gave up on, once per booking and key
    /// (booking database; counted in `booking_emails_failed_total`).
    #[activity(name = "record_email_failed")]
    pub fn record_email_failed(input: EmailFailed) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Send one text, at most once per booking and key (Kannel).
    #[activity(name = "send_sms")]
    pub fn send_sms(input: SendSms) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Record a text given up past its budget, once per booking and key
    /// (booking database; `booking_sms_total{status="out_of_budget"}`).
    #[activity(name = "record_sms_failed")]
    pub fn record_sms_failed(input: SmsFailed) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Apply an admin's change to a flight, once per key (flight service);
    /// a refusal is an answer, not an error.
    #[activity(name = "apply_flight_change")]
    pub fn apply_flight_change(
        input: ApplyFlightChange,
    ) -> Result<FlightChangeAnswer, ActivityError> {
        unimplemented!()
    }

    /// The ids of the bookings holding seats on a flight (flight service),
    /// for the flight-change fan-out.
    #[activity(name = "live_bookings_on_flight")]
    pub fn live_bookings_on_flight(flight_id: i64) -> Result<Vec<String>, ActivityError> {
        unimplemented!()
    }
}

/// The activities' definition types, for `#[activity(definition = ...)]`
/// in the implementing crate.
pub mod definitions {
    pub use super::booking_activities::*;
}
