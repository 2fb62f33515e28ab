//! Why a booking ended as it did: one code from a closed set, and an
//! optional detail for ops (a provider's text, a field, a count) that no
//! layer reads to decide anything and that never reaches a traveller.
//!
//! Each source maps its own vocabulary here once: the flight service's
//! error codes and Stripe's answers in the activities, the activities'
//! failure types in the workflow; the gateway maps codes to public codes
//! and words. Nothing matches on a message's words.
//!
//! Before outcomes were typed, the workflow wrote a free-text `reason`
//! (`"seats_unavailable"`, `"booking_rejected: booking_closed: …"`,
//! `"cancelled by the traveller"`, …). Committed histories and read-model
//! rows still hold those strings: [`Outcome`]'s `Deserialize` reads them
//! ([`Outcome::from_legacy`]), and writes only the typed form.

use serde::{Deserialize, Serialize};

/// What ended a booking (or moved it), as a stable snake_case code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeCode {
    /// The seats were taken, or not enough were left in the cabin.
    SeatsUnavailable,
    /// The flight closed for booking (it departs within the cut-off).
    BookingClosed,
    /// The flight or a seat cannot be booked: a seat that does not exist,
    /// a flight cancelled, departed or unknown.
    BookingRejected,
    /// No `booking_request` of this booking's owner: not started by the
    /// gateway. Nothing was held.
    OwnerUnknown,
    /// The input is outside the gateway's bounds; the detail names the
    /// field. Refused before any step.
    InputOutOfBounds,
    /// The flight service stayed out of reach past the step's budget.
    FlightServiceUnavailable,
    /// Stripe refused to create the payment (amount, currency).
    PaymentRejected,
    /// Stripe stayed out of reach past the step's budget.
    PaymentUnavailable,
    /// The flight service refused to confirm the held seats (cancelled,
    /// departed, past the cut-off, hold gone): the card was released.
    ConfirmationFailed,
    /// Stripe refused the capture: nothing was charged.
    CaptureFailed,
    /// Paid, but no tickets: refunded in full.
    TicketingFailed,
    /// A step failed and what it did cannot be undone automatically.
    NeedsAttention,
    /// The payment window closed before payment.
    PaymentWindowClosed,
    /// Cancelled after the last allowed payment was declined.
    PaymentAttemptsExhausted,
    CancelledByTraveller,
    /// An airline agent (an admin through the gateway) cancelled it.
    CancelledByAgent,
    /// An operator cancelled the workflow in Temporal.
    CancelledByOperator,
    /// The airline cancelled the flight; the detail is the admin's text.
    FlightCancelled,
    /// The flight departed: the booking completed.
    Departed,
}

impl OutcomeCode {
    /// Every code, for tests that check each one is mapped somewhere.
    pub const ALL: [OutcomeCode; 19] = [
        OutcomeCode::SeatsUnavailable,
        OutcomeCode::BookingClosed,
        OutcomeCode::BookingRejected,
        OutcomeCode::OwnerUnknown,
        OutcomeCode::InputOutOfBounds,
        OutcomeCode::FlightServiceUnavailable,
        OutcomeCode::PaymentRejected,
        OutcomeCode::PaymentUnavailable,
        OutcomeCode::ConfirmationFailed,
        OutcomeCode::CaptureFailed,
        OutcomeCode::TicketingFailed,
        OutcomeCode::NeedsAttention,
        OutcomeCode::PaymentWindowClosed,
        OutcomeCode::PaymentAttemptsExhausted,
        OutcomeCode::CancelledByTraveller,
        OutcomeCode::CancelledByAgent,
        OutcomeCode::CancelledByOperator,
        OutcomeCode::FlightCancelled,
        OutcomeCode::Departed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeCode::SeatsUnavailable => "seats_unavailable",
            OutcomeCode::BookingClosed => "booking_closed",
            OutcomeCode::BookingRejected => "booking_rejected",
            OutcomeCode::OwnerUnknown => "owner_unknown",
            OutcomeCode::InputOutOfBounds => "input_out_of_bounds",
            OutcomeCode::FlightServiceUnavailable => "flight_service_unavailable",
            OutcomeCode::PaymentRejected => "payment_rejected",
            OutcomeCode::PaymentUnavailable => "payment_unavailable",
            OutcomeCode::ConfirmationFailed => "confirmation_failed",
            OutcomeCode::CaptureFailed => "capture_failed",
            OutcomeCode::TicketingFailed => "ticketing_failed",
            OutcomeCode::NeedsAttention => "needs_attention",
            OutcomeCode::PaymentWindowClosed => "payment_window_closed",
            OutcomeCode::PaymentAttemptsExhausted => "payment_attempts_exhausted",
            OutcomeCode::CancelledByTraveller => "cancelled_by_traveller",
            OutcomeCode::CancelledByAgent => "cancelled_by_agent",
            OutcomeCode::CancelledByOperator => "cancelled_by_operator",
            OutcomeCode::FlightCancelled => "flight_cancelled",
            OutcomeCode::Departed => "departed",
        }
    }

    /// The outcome with no detail.
    pub fn outcome(self) -> Outcome {
        Outcome {
            code: self,
            detail: None,
        }
    }

    /// The outcome with a detail for ops.
    pub fn with(self, detail: impl Into<String>) -> Outcome {
        Outcome {
            code: self,
            detail: Some(detail.into()),
        }
    }
}

impl std::fmt::Display for OutcomeCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A code and an optional detail. JSON: `{"code": "…", "detail": "…"}`;
/// a legacy string is read too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub code: OutcomeCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The longest detail kept (a provider's error can be long).
pub const MAX_DETAIL: usize = 500;

impl Outcome {
    /// The detail, cut to [`MAX_DETAIL`] bytes at a character boundary.
    pub fn truncated(mut self) -> Self {
        if let Some(detail) = &mut self.detail {
            detail.truncate(detail.floor_char_boundary(MAX_DETAIL));
        }
        self
    }

    /// Reads a reason as the workflow wrote it before outcomes were typed.
    /// Every string it wrote started with a code or was one of a few fixed
    /// sentences; the only free text was the admin's reason for cancelling
    /// a flight, which is what any other string is.
    pub fn from_legacy(raw: &str) -> Outcome {
        let (head, rest) = match raw.split_once(':') {
            Some((head, rest)) => (head.trim(), Some(rest.trim().to_owned())),
            None => (raw.trim(), None),
        };
        let code = match head {
            "seats_unavailable" => OutcomeCode::SeatsUnavailable,
            "booking_rejected" => {
                let closed = rest
                    .as_deref()
                    .is_some_and(|r| r == "booking_closed" || r.starts_with("booking_closed:"));
                return match rest {
                    Some(r) if closed => OutcomeCode::BookingClosed.with(r),
                    Some(r) => OutcomeCode::BookingRejected.with(r),
                    None => OutcomeCode::BookingRejected.outcome(),
                };
            }
            "booking_owner_unknown" => OutcomeCode::OwnerUnknown,
            "input_out_of_bounds" => OutcomeCode::InputOutOfBounds,
            "flight_service_unavailable" => OutcomeCode::FlightServiceUnavailable,
            "payment_rejected" => OutcomeCode::PaymentRejected,
            "payment_unavailable" => OutcomeCode::PaymentUnavailable,
            "seats could not be confirmed" => OutcomeCode::ConfirmationFailed,
            "payment could not be captured" => OutcomeCode::CaptureFailed,
            "tickets could not be issued" => OutcomeCode::TicketingFailed,
            "needs_attention" => OutcomeCode::NeedsAttention,
            "the payment window closed before payment" => OutcomeCode::PaymentWindowClosed,
            "payment_attempts_exhausted" => OutcomeCode::PaymentAttemptsExhausted,
            "cancelled by the traveller" => OutcomeCode::CancelledByTraveller,
            "cancelled by an agent" => OutcomeCode::CancelledByAgent,
            "the workflow was cancelled by an operator" => OutcomeCode::CancelledByOperator,
            "departed" => OutcomeCode::Departed,
            _ => return OutcomeCode::FlightCancelled.with(raw),
        };
        Outcome { code, detail: rest }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.detail {
            Some(detail) => write!(f, "{}: {detail}", self.code),
            None => write!(f, "{}", self.code),
        }
    }
}

impl<'de> Deserialize<'de> for Outcome {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Typed {
                code: OutcomeCode,
                #[serde(default)]
                detail: Option<String>,
            },
            Legacy(String),
        }
        Ok(match Wire::deserialize(d)? {
            Wire::Typed { code, detail } => Outcome { code, detail },
            Wire::Legacy(raw) => Outcome::from_legacy(&raw),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_their_serde_names() {
        let json = serde_json::to_value(OutcomeCode::ALL).unwrap();
        let names = OutcomeCode::ALL.map(OutcomeCode::as_str);
        assert_eq!(json, serde_json::json!(names));
        let outcome = OutcomeCode::BookingClosed.with("closes 2h before departure");
        let json = serde_json::to_string(&outcome).unwrap();
        assert_eq!(
            json,
            r#"{"code":"booking_closed","detail":"closes 2h before departure"}"#
        );
        assert_eq!(serde_json::from_str::<Outcome>(&json).unwrap(), outcome);
    }

    /// Every string the workflow wrote before outcomes were typed.
    #[test]
    fn legacy_reasons_read_as_their_codes() {
        use OutcomeCode as C;
        let cases = [
            ("seats_unavailable", C::SeatsUnavailable, None),
            (
                "booking_rejected: booking_closed: flight 7 closed for booking at 10:00",
                C::BookingClosed,
                Some("booking_closed: flight 7 closed for booking at 10:00"),
            ),
            (
                "booking_rejected: no_such_seat: 99Z",
                C::BookingRejected,
                Some("no_such_seat: 99Z"),
            ),
            ("booking_owner_unknown", C::OwnerUnknown, None),
            (
                "input_out_of_bounds: seats",
                C::InputOutOfBounds,
                Some("seats"),
            ),
            (
                "flight_service_unavailable",
                C::FlightServiceUnavailable,
                None,
            ),
            (
                "payment_rejected: amount_too_large",
                C::PaymentRejected,
                Some("amount_too_large"),
            ),
            ("payment_unavailable", C::PaymentUnavailable, None),
            (
                "seats could not be confirmed: hold_released: gone",
                C::ConfirmationFailed,
                Some("hold_released: gone"),
            ),
            ("seats could not be confirmed", C::ConfirmationFailed, None),
            (
                "payment could not be captured: expired",
                C::CaptureFailed,
                Some("expired"),
            ),
            ("tickets could not be issued", C::TicketingFailed, None),
            (
                "needs_attention: activity task failed",
                C::NeedsAttention,
                Some("activity task failed"),
            ),
            (
                "the payment window closed before payment",
                C::PaymentWindowClosed,
                None,
            ),
            (
                "payment_attempts_exhausted: 3 payments declined",
                C::PaymentAttemptsExhausted,
                Some("3 payments declined"),
            ),
            ("cancelled by the traveller", C::CancelledByTraveller, None),
            ("cancelled by an agent", C::CancelledByAgent, None),
            (
                "the workflow was cancelled by an operator",
                C::CancelledByOperator,
                None,
            ),
            ("departed", C::Departed, None),
            (
                "volcanic ash over the route",
                C::FlightCancelled,
                Some("volcanic ash over the route"),
            ),
        ];
        for (raw, code, detail) in cases {
            let read: Outcome = serde_json::from_value(serde_json::json!(raw)).unwrap();
            assert_eq!(read.code, code, "{raw}");
            assert_eq!(read.detail.as_deref(), detail, "{raw}");
        }
    }

    #[test]
    fn a_long_detail_is_cut_at_a_character() {
        let long = "é".repeat(400);
        let outcome = OutcomeCode::NeedsAttention.with(long).truncated();
        assert!(outcome.detail.unwrap().len() <= MAX_DETAIL);
    }
}
