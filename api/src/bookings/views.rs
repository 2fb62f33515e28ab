//! The bookings API's public shapes: requests as travellers send them and
//! the booking as they see it (never the workflow's internal state).

use chrono::{DateTime, NaiveDate, Utc};
use domain::{Cabin, SeatNumber};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use workflows::contract::{self as c, BookingState, BookingStatus, PaymentStatus};

use crate::bookings::public;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBooking {
    #[schema(minimum = 1)]
    pub flight_id: i64,
    pub seats: SeatsRequest,
    /// One per seat, in the seats' order.
    #[schema(min_items = 1, max_items = 9)]
    pub passengers: Vec<PassengerRequest>,
    /// Where the confirmation, reminders and changes go.
    #[schema(
        max_length = 254,
        pattern = r"^[A-Za-z0-9_%+-]{1,30}(\.[A-Za-z0-9_%+-]{1,16}){0,2}@([A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?\.){1,3}[A-Za-z]{2,10}$",
        example = "ada@example.com"
    )]
    pub contact_email: String,
    /// A mobile number in E.164 form, for text messages (`channels`).
    #[schema(pattern = r"^\+[1-9][0-9]{6,14}$", example = "+447400123456")]
    #[serde(default)]
    pub contact_phone: Option<String>,
    /// How to send the booking's messages: `email`, `sms` (needs
    /// `contact_phone`), or both. Default: both when `contact_phone` is
    /// given, else `email`.
    #[schema(value_type = Option<Vec<ChannelName>>, min_items = 1, max_items = 2, example = json!(["email", "sms"]))]
    #[serde(default)]
    pub channels: Option<Vec<String>>,
}

/// A channel for the booking's messages.
#[derive(ToSchema)]
#[schema(as = Channel)]
#[allow(dead_code)] // the schema of `CreateBooking.channels`' items
pub enum ChannelName {
    #[schema(rename = "email")]
    Email,
    #[schema(rename = "sms")]
    Sms,
}

/// Explicit seat numbers, or a number of seats in a cabin.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SeatsRequest {
    /// These seats, each listed once.
    #[schema(value_type = SeatList)]
    Seats(Vec<String>),
    /// Any free seats of a cabin, next to each other where possible.
    Cabin {
        #[schema(value_type = Cabin)]
        cabin: String,
        #[schema(minimum = 1, maximum = 9)]
        count: u8,
    },
}

/// The schema of an explicit seat list: 1 to 9 seat numbers, none twice.
pub struct SeatList;

impl utoipa::PartialSchema for SeatList {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        utoipa::openapi::schema::ArrayBuilder::new()
            .items(SeatNumber::schema())
            .min_items(Some(1))
            .max_items(Some(super::MAX_SEATS))
            .unique_items(true)
            .examples([json!(["12A", "12B"])])
            .into()
    }
}

impl ToSchema for SeatList {}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PassengerRequest {
    #[schema(
        min_length = 1,
        max_length = 60,
        pattern = r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"
    )]
    pub first_name: String,
    #[schema(
        min_length = 1,
        max_length = 60,
        pattern = r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"
    )]
    pub last_name: String,
    /// `YYYY-MM-DD`, from 1900-01-01 to today.
    #[schema(format = Date, example = "1990-12-10")]
    pub date_of_birth: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    /// A Stripe payment method id, e.g. `pm_card_visa`, or a card token
    /// from Stripe.js's `createToken` (`tok_…`, single-use), as the web
    /// app sends.
    #[schema(
        pattern = "^(pm_[A-Za-z0-9_]{0,252}|tok_[A-Za-z0-9_]{0,251})$",
        example = "pm_card_visa"
    )]
    pub payment_method: String,
}

#[derive(Serialize, ToSchema)]
pub struct MoneyView {
    /// Minor units (cents).
    pub amount: i64,
    pub currency: String,
}

impl From<&c::Money> for MoneyView {
    fn from(m: &c::Money) -> Self {
        MoneyView {
            amount: m.amount(),
            currency: m.currency().to_string(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SeatView {
    pub seat_number: String,
    pub cabin: String,
    pub fare: MoneyView,
}

#[derive(Serialize, ToSchema)]
pub struct FlightView {
    pub flight_id: i64,
    pub flight_number: String,
    pub origin: String,
    pub destination: String,
    pub departure_time: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct PassengerView {
    pub first_name: String,
    pub last_name: String,
    pub date_of_birth: String,
}

#[derive(Serialize, ToSchema)]
pub struct PaymentErrorView {
    pub code: String,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct RefundView {
    pub refund_id: String,
    pub amount: MoneyView,
}

#[derive(Serialize, ToSchema)]
pub struct PaymentView {
    /// `none`, `awaiting_payment_method`, `authorized`, `captured`, `cancelled`, `refunded`.
    pub status: String,
    pub payment_intent_id: Option<String>,
    /// For Stripe.js; only while the booking awaits payment.
    pub client_secret: Option<String>,
    /// Why the last attempt failed (a declined card).
    pub last_error: Option<PaymentErrorView>,
    pub refund: Option<RefundView>,
    /// The card needs the traveller to authenticate (3-D Secure): run
    /// Stripe.js's `handleNextAction` with this client secret; the booking
    /// confirms once Stripe authorizes the payment.
    pub next_action: Option<NextActionView>,
}

#[derive(Serialize, ToSchema)]
pub struct NextActionView {
    /// Stripe's `next_action.type`, e.g. `use_stripe_sdk`.
    #[serde(rename = "type")]
    pub kind: String,
    pub client_secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct TransitionView {
    pub status: String,
    pub at: DateTime<Utc>,
    /// See [`BookingView::reason_code`].
    pub reason_code: Option<String>,
    pub reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct BookingView {
    pub booking_id: String,
    pub booking_ref: String,
    /// `holding`, `awaiting_payment`, `confirming`, `confirmed`, `expired`,
    /// `cancelled`, `failed`, `completed`, `needs_attention`.
    pub status: String,
    pub flight_id: i64,
    pub flight: Option<FlightView>,
    pub seats: Vec<SeatView>,
    pub passengers: Vec<PassengerView>,
    pub contact_email: String,
    /// The number texts go to, when the traveller gave one.
    pub contact_phone: Option<String>,
    /// `email`, `sms`: where the booking's messages go.
    pub channels: Vec<String>,
    pub total: Option<MoneyView>,
    pub payment: PaymentView,
    pub payment_due_at: Option<DateTime<Utc>>,
    pub ticket_numbers: Vec<String>,
    /// Why it failed, expired, was cancelled or completed, as a stable
    /// code: `seats_unavailable`, `booking_closed`, `booking_rejected`,
    /// `service_unavailable`, `payment_rejected`, `payment_unavailable`,
    /// `confirmation_failed`, `payment_failed`, `ticketing_failed`,
    /// `needs_attention`, `payment_window_closed`,
    /// `payment_attempts_exhausted`, `departed`, `cancelled`,
    /// `cancelled_by_airline`, `flight_cancelled`.
    pub reason_code: Option<String>,
    /// The same in words for the traveller (never a provider's text).
    pub reason: Option<String>,
    pub history: Vec<TransitionView>,
}

#[derive(Serialize, ToSchema)]
pub struct BookingList {
    pub items: Vec<BookingView>,
    pub page: u32,
    pub per_page: u32,
    pub has_more: bool,
}

fn payment_status(s: PaymentStatus) -> &'static str {
    match s {
        PaymentStatus::None => "none",
        PaymentStatus::AwaitingPaymentMethod => "awaiting_payment_method",
        PaymentStatus::Authorized => "authorized",
        PaymentStatus::Captured => "captured",
        PaymentStatus::Cancelled => "cancelled",
        PaymentStatus::Refunded => "refunded",
    }
}

impl From<BookingState> for BookingView {
    fn from(b: BookingState) -> Self {
        let awaiting = b.status == BookingStatus::AwaitingPayment;
        let reason = b.outcome.as_ref().map(|o| public::outcome(b.status, o));
        BookingView {
            status: b.status.as_str().to_owned(),
            flight_id: b.flight_id,
            flight: b.flight.map(|f| FlightView {
                flight_id: f.flight_id,
                flight_number: f.flight_number.to_string(),
                origin: f.origin.to_string(),
                destination: f.destination.to_string(),
                departure_time: f.departure_time,
            }),
            seats: b
                .seats
                .iter()
                .map(|s| SeatView {
                    seat_number: s.seat_number.to_string(),
                    cabin: s.cabin.to_string(),
                    fare: (&s.fare).into(),
                })
                .collect(),
            passengers: b
                .passengers
                .into_iter()
                .map(|p| PassengerView {
                    first_name: p.first_name,
                    last_name: p.last_name,
                    date_of_birth: p.date_of_birth,
                })
                .collect(),
            contact_email: b.contact_email.to_string(),
            contact_phone: b.contact_phone.map(|p| p.to_string()),
            channels: [(b.channels.email, "email"), (b.channels.sms, "sms")]
                .into_iter()
                .filter(|(on, _)| *on)
                .map(|(_, name)| name.to_owned())
                .collect(),
            total: b.total.as_ref().map(Into::into),
            payment: PaymentView {
                status: payment_status(b.payment.status).to_owned(),
                payment_intent_id: b.payment.payment_intent_id,
                client_secret: b.payment.client_secret.filter(|_| awaiting),
                last_error: b.payment.last_error.map(|e| {
                    let (code, message) = public::payment_error(&e.code);
                    PaymentErrorView {
                        code: code.to_owned(),
                        message,
                    }
                }),
                refund: b.payment.refund.map(|r| RefundView {
                    refund_id: r.refund_id,
                    amount: (&r.amount).into(),
                }),
                next_action: b
                    .payment
                    .next_action
                    .filter(|_| awaiting)
                    .map(|a| NextActionView {
                        kind: a.kind,
                        client_secret: a.client_secret,
                    }),
            },
            payment_due_at: b.payment_due_at.filter(|_| awaiting),
            ticket_numbers: b.ticket_numbers,
            reason_code: reason.as_ref().map(|r| r.0.to_owned()),
            reason: reason.map(|r| r.1),
            history: b
                .history
                .into_iter()
                .map(|t| {
                    let reason = t.outcome.map(|o| public::outcome(t.status, &o));
                    TransitionView {
                        status: t.status.as_str().to_owned(),
                        at: t.at,
                        reason_code: reason.as_ref().map(|r| r.0.to_owned()),
                        reason: reason.map(|r| r.1),
                    }
                })
                .collect(),
            booking_id: b.booking_id.to_string(),
            booking_ref: b.booking_ref.to_string(),
        }
    }
}

/// A date of birth: a real date, not in the future, not before 1900.
pub fn date_of_birth(raw: &str) -> Result<NaiveDate, &'static str> {
    let date = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| "must be a date as YYYY-MM-DD")?;
    let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).ok_or("calendar")?;
    if date < earliest || date > Utc::now().date_naive() {
        return Err("must be a date between 1900-01-01 and today");
    }
    Ok(date)
}
