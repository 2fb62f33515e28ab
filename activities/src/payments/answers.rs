//! Stripe's answers, read into the few fields used here (async-stripe's
//! resource types require fields localstripe leaves out), and what they
//! mean for a booking: an intent's outcome, a decline, a failure.

use stripe::{ApiErrorsType, StripeError};
use workflows::contract::{Failure, NextAction, PaymentError};

use crate::error::StepError;

/// The fields of a PaymentIntent used here.
#[derive(miniserde::Deserialize)]
pub(super) struct Intent {
    pub(super) id: String,
    pub(super) status: String,
    pub(super) client_secret: Option<String>,
    pub(super) last_payment_error: Option<LastPaymentError>,
    pub(super) next_action: Option<IntentNextAction>,
}

#[derive(miniserde::Deserialize)]
pub(super) struct IntentNextAction {
    #[serde(rename = "type")]
    pub(super) kind: String,
}

#[derive(miniserde::Deserialize)]
pub(super) struct LastPaymentError {
    pub(super) code: Option<String>,
    pub(super) decline_code: Option<String>,
    pub(super) message: Option<String>,
}

#[derive(miniserde::Deserialize)]
pub(super) struct Refund {
    pub(super) id: String,
    pub(super) amount: i64,
}

#[derive(miniserde::Deserialize)]
pub(super) struct RefundList {
    pub(super) data: Vec<Refund>,
}

/// What an intent's status means for the attempt.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Waiting for a payment method or a confirmation.
    Open,
    Authorized,
    Captured,
    Declined(PaymentError),
    Cancelled,
    /// The traveller must authenticate (3-D Secure) with Stripe.js.
    RequiresAction(NextAction),
    /// `processing` or a status this code does not know.
    Pending(String),
}

impl Outcome {
    pub(super) fn of(intent: &Intent) -> Self {
        match intent.status.as_str() {
            "requires_capture" => Outcome::Authorized,
            "succeeded" => Outcome::Captured,
            "canceled" => Outcome::Cancelled,
            "requires_action" => match &intent.client_secret {
                Some(secret) => Outcome::RequiresAction(NextAction {
                    kind: intent
                        .next_action
                        .as_ref()
                        .map_or_else(|| "use_stripe_sdk".to_owned(), |a| a.kind.clone()),
                    client_secret: secret.clone(),
                }),
                None => Outcome::Pending("requires_action".to_owned()),
            },
            "requires_payment_method" | "requires_confirmation" => {
                match &intent.last_payment_error {
                    // A confirmation of this intent was declined already.
                    Some(e) => Outcome::Declined(payment_error(
                        e.decline_code
                            .clone()
                            .or_else(|| e.code.clone())
                            .unwrap_or_else(|| "card_declined".to_owned()),
                        e.message.clone(),
                    )),
                    None => Outcome::Open,
                }
            }
            other => Outcome::Pending(other.to_owned()),
        }
    }
}

pub(super) fn payment_error(code: String, message: Option<String>) -> PaymentError {
    let message = message.unwrap_or_else(|| {
        match code.as_str() {
            "authentication_required" => {
                "The card requires authentication (3-D Secure); please use another card."
            }
            "invalid_payment_method" => "This payment method does not exist; please try again.",
            _ => "Your card was declined.",
        }
        .to_owned()
    });
    PaymentError { code, message }
}

/// A card decline (402, or `card_error`), or a payment method Stripe does
/// not know (`resource_missing`; localstripe answers 404 at confirm).
pub(super) fn decline(e: &StripeError, at_confirm: bool) -> Option<PaymentError> {
    let StripeError::Stripe(err, status) = e else {
        return None;
    };
    let code = err.code.as_ref().map(|c| c.as_str().to_owned());
    if *status == 402 || matches!(err.type_, ApiErrorsType::CardError) {
        let code = err.decline_code.clone().or(code);
        return Some(payment_error(
            code.unwrap_or_else(|| "card_declined".to_owned()),
            err.message.clone(),
        ));
    }
    let missing_method = code.as_deref() == Some("resource_missing")
        && err.param.as_deref().is_none_or(|p| p == "payment_method");
    if missing_method || (at_confirm && *status == 404) {
        return Some(payment_error("invalid_payment_method".to_owned(), None));
    }
    None
}

/// A failed Stripe call: transient when retrying may help (network,
/// timeouts, 409, 429, 5xx, unreadable answers), a business failure else.
/// The text names the status, type, code and message only: the whole error
/// can carry the intent's client secret.
pub(super) fn stripe_failure(what: &str, e: &StripeError) -> StepError {
    let (text, retryable) = match e {
        StripeError::Stripe(err, status) => {
            let code = err
                .code
                .as_ref()
                .map(|c| format!(" {}", c.as_str()))
                .unwrap_or_default();
            let message = err.message.as_deref().unwrap_or("no message");
            (
                format!(
                    "Stripe answered {status} {}{code}: {message}",
                    err.type_.as_str()
                ),
                matches!(status, 409 | 429) || *status >= 500,
            )
        }
        StripeError::JSONDeserialize(m) => (format!("unreadable Stripe answer: {m}"), true),
        StripeError::ClientError(m) => (format!("cannot reach Stripe: {m}"), true),
        StripeError::Timeout => ("Stripe did not answer in time".to_owned(), true),
        StripeError::ConfigError(m) => (format!("Stripe client configuration: {m}"), false),
    };
    let text = format!("cannot {what}: {text}");
    if retryable {
        StepError::transient(text)
    } else {
        StepError::business(Failure::PaymentRejected, text)
    }
}

// --- Our records ------------------------------------------------------------
