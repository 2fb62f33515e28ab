//! What a traveller reads about a booking that did not go as planned: a
//! stable code and our own words. The workflow keeps the full story for
//! ops (the provider's text, ids, the failed step: in the read model's
//! event log and in Temporal), and none of it leaves the gateway.

use workflows::contract::{BookingStatus, Outcome, OutcomeCode, payment_errors};

/// A stable code and the message for it.
pub type Reason = (&'static str, String);

/// The public side of a booking's outcome (or a transition's): a code and
/// our words for each of the workflow's codes, never its detail (a
/// provider's text, an admin's reason). The match is exhaustive: a new
/// outcome code does not build until it has its public words.
pub fn outcome(status: BookingStatus, outcome: &Outcome) -> Reason {
    if status == BookingStatus::NeedsAttention {
        return needs_attention();
    }
    let (code, message): (&'static str, &str) = match outcome.code {
        OutcomeCode::SeatsUnavailable => (
            "seats_unavailable",
            "the seats were taken by someone else before they could be held; nothing was charged",
        ),
        OutcomeCode::BookingClosed => (
            "booking_closed",
            "booking has closed for this flight: it departs too soon; nothing was charged",
        ),
        OutcomeCode::BookingRejected
        | OutcomeCode::OwnerUnknown
        | OutcomeCode::InputOutOfBounds => (
            "booking_rejected",
            "the flight or a chosen seat cannot be booked (a seat that does not exist, or a flight cancelled, departed or closed for booking); nothing was charged",
        ),
        OutcomeCode::FlightServiceUnavailable => (
            "service_unavailable",
            "the seats could not be held or confirmed in time; nothing was charged",
        ),
        OutcomeCode::PaymentRejected => (
            "payment_rejected",
            "the payment could not be set up; nothing was charged",
        ),
        OutcomeCode::PaymentUnavailable => (
            "payment_unavailable",
            "the payment service did not answer in time; nothing was charged",
        ),
        OutcomeCode::ConfirmationFailed => (
            "confirmation_failed",
            "the seats could not be confirmed; the card was released and nothing was charged",
        ),
        OutcomeCode::CaptureFailed => (
            "payment_failed",
            "the payment could not be completed; nothing was charged",
        ),
        OutcomeCode::TicketingFailed => (
            "ticketing_failed",
            "the tickets could not be issued; the payment was refunded in full",
        ),
        OutcomeCode::NeedsAttention => return needs_attention(),
        OutcomeCode::PaymentWindowClosed => (
            "payment_window_closed",
            "the payment window closed before payment; the seats were released",
        ),
        OutcomeCode::Departed => ("departed", "the flight has departed"),
        OutcomeCode::PaymentAttemptsExhausted => (
            "payment_attempts_exhausted",
            "the booking was cancelled after too many declined payments; the seats were released and nothing was charged",
        ),
        OutcomeCode::CancelledByTraveller => ("cancelled", "you cancelled this booking"),
        OutcomeCode::CancelledByAgent | OutcomeCode::CancelledByOperator => (
            "cancelled_by_airline",
            "the airline cancelled this booking; any payment is refunded in full",
        ),
        OutcomeCode::FlightCancelled => (
            "flight_cancelled",
            "the airline cancelled the flight; any payment is refunded in full",
        ),
    };
    (code, message.to_owned())
}

fn needs_attention() -> Reason {
    (
        "needs_attention",
        "our team is looking into this booking and will contact you".to_owned(),
    )
}

/// Our words for a declined payment, by the code the workflow recorded
/// (Stripe's decline codes are a documented, stable set; anything else is
/// a plain decline).
pub fn payment_error(code: &str) -> Reason {
    let (code, message) = match code {
        "insufficient_funds" => (
            "insufficient_funds",
            "the card has insufficient funds; please try another card",
        ),
        "expired_card" => (
            "expired_card",
            "the card has expired; please try another card",
        ),
        "incorrect_cvc" | "invalid_cvc" => (
            "incorrect_cvc",
            "the card's security code is incorrect; please check it or try another card",
        ),
        "incorrect_number" | "invalid_number" => (
            "incorrect_number",
            "the card number is incorrect; please check it or try another card",
        ),
        "processing_error" => (
            "processing_error",
            "the card could not be processed; please try again",
        ),
        payment_errors::AUTHENTICATION_FAILED => (
            "authentication_failed",
            "your bank did not confirm the payment (3-D Secure) and nothing was charged; please enter the card again or use another one",
        ),
        "authentication_required" => (
            "authentication_required",
            "the card needs authentication that could not be completed; please try again or use another card",
        ),
        "invalid_payment_method" => (
            "invalid_payment_method",
            "this payment method does not exist; please try again",
        ),
        payment_errors::UNAVAILABLE => (
            "payment_unavailable",
            "the payment could not be processed; please try again",
        ),
        _ => (
            "card_declined",
            "the card was declined; please try another card",
        ),
    };
    (code, message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every outcome code that reaches the gateway has a public code of
    /// its own kind: none falls through to a generic one, and none is the
    /// workflow's detail.
    #[test]
    fn every_outcome_code_maps_to_a_public_code() {
        let generic = ["booking_failed", ""];
        for code in OutcomeCode::ALL {
            let detail = "Stripe answered 400 for pi_3Nabc from 10.0.0.7";
            let status = match code {
                OutcomeCode::PaymentWindowClosed => BookingStatus::Expired,
                OutcomeCode::Departed => BookingStatus::Completed,
                OutcomeCode::NeedsAttention => BookingStatus::NeedsAttention,
                OutcomeCode::PaymentAttemptsExhausted
                | OutcomeCode::CancelledByTraveller
                | OutcomeCode::CancelledByAgent
                | OutcomeCode::CancelledByOperator
                | OutcomeCode::FlightCancelled => BookingStatus::Cancelled,
                _ => BookingStatus::Failed,
            };
            let (public, message) = outcome(status, &code.with(detail));
            assert!(!generic.contains(&public), "{code} falls through");
            assert!(!message.contains("pi_") && !message.contains("10.0.0.7"));
        }
        let public = |code: OutcomeCode| outcome(BookingStatus::Failed, &code.outcome()).0;
        assert_eq!(public(OutcomeCode::SeatsUnavailable), "seats_unavailable");
        assert_eq!(public(OutcomeCode::BookingClosed), "booking_closed");
        assert_eq!(
            public(OutcomeCode::ConfirmationFailed),
            "confirmation_failed"
        );
        assert_eq!(
            public(OutcomeCode::CancelledByOperator),
            "cancelled_by_airline"
        );
        // A booking that needs attention says so, whatever came before.
        let attention = outcome(
            BookingStatus::NeedsAttention,
            &OutcomeCode::CaptureFailed.outcome(),
        );
        assert_eq!(attention.0, "needs_attention");
    }

    /// The strings bookings recorded before outcomes were typed keep the
    /// public codes they had.
    #[test]
    fn legacy_reasons_keep_their_public_codes() {
        let read = |status, raw: &str| {
            let legacy: Outcome = serde_json::from_value(serde_json::json!(raw)).unwrap();
            outcome(status, &legacy).0
        };
        let failed = BookingStatus::Failed;
        let cancelled = BookingStatus::Cancelled;
        assert_eq!(read(failed, "seats_unavailable"), "seats_unavailable");
        assert_eq!(
            read(failed, "flight_service_unavailable"),
            "service_unavailable"
        );
        assert_eq!(
            read(failed, "payment_rejected: amount_too_large (pi_3Nabc)"),
            "payment_rejected"
        );
        assert_eq!(
            read(failed, "seats could not be confirmed: hold_released"),
            "confirmation_failed"
        );
        assert_eq!(
            read(failed, "payment could not be captured: x"),
            "payment_failed"
        );
        assert_eq!(
            read(failed, "tickets could not be issued"),
            "ticketing_failed"
        );
        assert_eq!(
            read(
                BookingStatus::Expired,
                "the payment window closed before payment"
            ),
            "payment_window_closed"
        );
        assert_eq!(read(cancelled, "cancelled by the traveller"), "cancelled");
        assert_eq!(
            read(cancelled, "cancelled by an agent"),
            "cancelled_by_airline"
        );
        assert_eq!(
            read(cancelled, "the workflow was cancelled by an operator"),
            "cancelled_by_airline"
        );
        assert_eq!(
            read(cancelled, "volcanic ash over the route"),
            "flight_cancelled"
        );
        assert_eq!(
            read(cancelled, "payment_attempts_exhausted: 3 payments declined"),
            "payment_attempts_exhausted"
        );
        assert_eq!(read(BookingStatus::Completed, "departed"), "departed");
    }

    #[test]
    fn provider_text_never_comes_through() {
        let (code, message) = outcome(
            BookingStatus::Failed,
            &OutcomeCode::PaymentRejected.with("Stripe answered 400 amount_too_large (pi_3Nabc)"),
        );
        assert_eq!(code, "payment_rejected");
        assert!(
            !message.contains("Stripe") && !message.contains("pi_"),
            "{message}"
        );
        let flight = outcome(
            BookingStatus::Cancelled,
            &OutcomeCode::FlightCancelled.with("volcanic ash over the route"),
        );
        assert_eq!(flight.0, "flight_cancelled");
        assert!(!flight.1.contains("ash"));
        assert_eq!(payment_error("do_not_honor").0, "card_declined");
        assert_eq!(payment_error("insufficient_funds").0, "insufficient_funds");
        assert_eq!(payment_error("stolen_card").0, "card_declined");
        assert_eq!(
            payment_error(payment_errors::AUTHENTICATION_FAILED).0,
            "authentication_failed"
        );
    }
}
