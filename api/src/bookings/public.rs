//! What a traveller reads about a booking that did not go as planned: a
//! stable code and our own words. The workflow keeps the full story for
//! ops (the provider's text, ids, the failed step: in the read model's
//! event log and in Temporal), and none of it leaves the gateway.

use booking_workflows::contract::{BookingStatus, reasons};

/// A stable code and the message for it.
pub type Reason = (&'static str, String);

/// The public side of a booking's `reason` (or a transition's), from its
/// status and the workflow's text. Every reason the workflow writes starts
/// with a code or a fixed phrase; anything else gets the status's generic
/// words, never the text itself.
pub fn reason(status: BookingStatus, raw: &str) -> Reason {
    let head = raw.split(':').next().unwrap_or_default().trim();
    let (code, message): (&'static str, &str) = match (status, head) {
        (_, "seats_unavailable") => (
            "seats_unavailable",
            "the seats were taken by someone else before they could be held; nothing was charged",
        ),
        (_, "booking_rejected") => (
            "booking_rejected",
            "the flight or a chosen seat cannot be booked (a seat that does not exist, or a flight cancelled, departed or closed for booking); nothing was charged",
        ),
        (_, reasons::FLIGHTS_UNAVAILABLE) => (
            "service_unavailable",
            "the seats could not be held or confirmed in time; nothing was charged",
        ),
        (_, reasons::PAYMENT_REJECTED) => (
            "payment_rejected",
            "the payment could not be set up; nothing was charged",
        ),
        (_, reasons::PAYMENT_UNAVAILABLE) => (
            "payment_unavailable",
            "the payment service did not answer in time; nothing was charged",
        ),
        (_, "seats could not be confirmed") => (
            "confirmation_failed",
            "the seats could not be confirmed; the card was released and nothing was charged",
        ),
        (_, "payment could not be captured") => (
            "payment_failed",
            "the payment could not be completed; nothing was charged",
        ),
        (_, "tickets could not be issued") => (
            "ticketing_failed",
            "the tickets could not be issued; the payment was refunded in full",
        ),
        (_, reasons::NEEDS_ATTENTION) | (BookingStatus::NeedsAttention, _) => (
            "needs_attention",
            "our team is looking into this booking and will contact you",
        ),
        (BookingStatus::Expired, _) => (
            "payment_window_closed",
            "the payment window closed before payment; the seats were released",
        ),
        (BookingStatus::Completed, _) => ("departed", "the flight has departed"),
        (_, reasons::PAYMENT_ATTEMPTS_EXHAUSTED) => (
            reasons::PAYMENT_ATTEMPTS_EXHAUSTED,
            "the booking was cancelled after too many declined payments; the seats were released and nothing was charged",
        ),
        (BookingStatus::Cancelled, _) => return cancelled(raw),
        (_, _) => ("booking_failed", "the booking could not be completed"),
    };
    (code, message.to_owned())
}

/// Cancellations say who cancelled: the traveller, an airline agent (or
/// ops), or the flight itself was cancelled (whose reason is the admin's
/// free text: not shown).
fn cancelled(raw: &str) -> Reason {
    let (code, message) = match raw {
        "cancelled by the traveller" => ("cancelled", "you cancelled this booking"),
        "cancelled by an agent" | "the workflow was cancelled by an operator" => (
            "cancelled_by_airline",
            "the airline cancelled this booking; any payment is refunded in full",
        ),
        _ => (
            "flight_cancelled",
            "the airline cancelled the flight; any payment is refunded in full",
        ),
    };
    (code, message.to_owned())
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
        reasons::AUTHENTICATION_FAILED => (
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
        reasons::PAYMENT_UNAVAILABLE => (
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

    #[test]
    fn provider_text_never_comes_through() {
        let raw = "payment_rejected: cannot create the PaymentIntent: Stripe answered 400 \
                   invalid_request_error amount_too_large: Amount must be no more than \
                   $999,999.99 (pi_3Nabc)";
        let (code, message) = reason(BookingStatus::Failed, raw);
        assert_eq!(code, "payment_rejected");
        assert!(
            !message.contains("Stripe") && !message.contains("pi_"),
            "{message}"
        );
        let (code, message) = reason(
            BookingStatus::NeedsAttention,
            "needs_attention: activity task failed: connection refused to 10.0.0.7",
        );
        assert_eq!(code, "needs_attention");
        assert!(!message.contains("10.0.0.7"));
        let (code, _) = payment_error("do_not_honor");
        assert_eq!(code, "card_declined");
        assert_eq!(payment_error("insufficient_funds").0, "insufficient_funds");
        assert_eq!(payment_error("stolen_card").0, "card_declined");
        assert_eq!(
            payment_error(reasons::AUTHENTICATION_FAILED).0,
            "authentication_failed"
        );
    }

    #[test]
    fn expiry_and_cancellations_have_their_own_codes() {
        let expired = reason(
            BookingStatus::Expired,
            "the payment window closed before payment",
        );
        assert_eq!(expired.0, "payment_window_closed");
        let by_traveller = reason(BookingStatus::Cancelled, "cancelled by the traveller");
        assert_eq!(by_traveller.0, "cancelled");
        let by_agent = reason(BookingStatus::Cancelled, "cancelled by an agent");
        assert_eq!(by_agent.0, "cancelled_by_airline");
        let flight = reason(BookingStatus::Cancelled, "volcanic ash over the route");
        assert_eq!(flight.0, "flight_cancelled");
        assert!(!flight.1.contains("ash"));
    }
}
