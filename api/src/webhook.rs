//! `POST /api/v1/webhooks/stripe`: the signature is checked on the raw body
//! (async-stripe's webhook support, 5-minute tolerance), each event is
//! processed once by its id; an authorized PaymentIntent becomes the
//! booking workflow's `payment_authorized` signal, a failed one (a 3-D
//! Secure not authenticated) its `payment_failed` signal.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use bytes::Bytes;
use secrecy::ExposeSecret;
use serde::Serialize;
use stripe_webhook::{EventObject, Webhook, WebhookError};
use temporalio_client::errors::WorkflowInteractionError;
use utoipa::ToSchema;

use crate::bookings::workflow::{signal_payment_authorized, signal_payment_failed};
use crate::error::{Error, Result};
use crate::state::AppState;
use workflows::contract::PaymentFailed;

/// The event that authorizes a booking's payment.
const AUTHORIZED: &str = "payment_intent.amount_capturable_updated";
/// The event that tells a payment failed (a 3-D Secure not authenticated).
const FAILED: &str = "payment_intent.payment_failed";

/// What an event asks of a booking.
enum Act {
    Authorized {
        intent_id: String,
        booking: Option<String>,
    },
    Failed {
        intent_id: String,
        booking: Option<String>,
        code: Option<String>,
    },
}

impl Act {
    fn booking(&self) -> Option<&str> {
        match self {
            Act::Authorized { booking, .. } | Act::Failed { booking, .. } => booking.as_deref(),
        }
    }

    fn intent_id(&self) -> &str {
        match self {
            Act::Authorized { intent_id, .. } | Act::Failed { intent_id, .. } => intent_id,
        }
    }
}

/// A `payment_intent.payment_failed` event's intent, booking and code
/// (Stripe's `last_payment_error`: its decline code, else its code).
fn failed(event_type: &str, envelope: &serde_json::Value) -> Option<Act> {
    if event_type != FAILED {
        return None;
    }
    let intent = &envelope["data"]["object"];
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let error = &intent["last_payment_error"];
    Some(Act::Failed {
        intent_id: text(&intent["id"])?,
        booking: text(&intent["metadata"]["booking_id"]),
        code: text(&error["decline_code"]).or_else(|| text(&error["code"])),
    })
}

#[derive(Serialize, ToSchema)]
pub struct WebhookAnswer {
    received: bool,
    /// `signalled`, `duplicate`, `ignored` or `booking_closed`.
    outcome: &'static str,
}

/// Receive a Stripe event.
#[utoipa::path(post, path = "/api/v1/webhooks/stripe", tag = "webhooks",
    params(("Stripe-Signature" = String, Header)),
    request_body(content = String, description = "the event, exactly as Stripe sent it", content_type = "application/json"),
    responses((status = 200, body = WebhookAnswer), (status = 400, description = "bad or stale signature, or an unreadable event")))]
pub async fn stripe(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WebhookAnswer>> {
    let payload = std::str::from_utf8(&body)
        .map_err(|_| Error::bad_request("invalid_payload", "the body is not UTF-8"))?;
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Error::BadRequest {
            code: "invalid_signature",
            field: Some("Stripe-Signature".into()),
            message: "the Stripe-Signature header is missing".into(),
        })?;
    let secret = state.config.stripe_webhook_secret.expose_secret();
    let verified = match Webhook::construct_event(payload, signature, secret) {
        Ok(event) => {
            let intent = match event.data.object {
                EventObject::PaymentIntentAmountCapturableUpdated(pi) => Some((
                    pi.id.to_string(),
                    pi.metadata.get("booking_id").map(|s| s.to_string()),
                )),
                _ => None,
            };
            Ok((event.id.to_string(), event.type_.to_string(), intent))
        }
        Err(WebhookError::BadParse(why)) => Err(why),
        Err(e) => {
            tracing::info!(error = %e, "Stripe webhook refused");
            return Err(Error::BadRequest {
                code: "invalid_signature",
                field: Some("Stripe-Signature".into()),
                message: "the signature does not match the body, or is older than 5 minutes".into(),
            });
        }
    };
    // Signed by Stripe: the envelope gives what async-stripe's types may not
    // read (an event type we ignore, or localstripe's leaner objects).
    let envelope: serde_json::Value = serde_json::from_str(payload)
        .map_err(|_| Error::bad_request("invalid_payload", "the event is not JSON"))?;
    let (event_id, event_type, act) = match verified {
        Ok((event_id, event_type, intent)) => {
            let act = match intent {
                Some((intent_id, booking)) => Some(Act::Authorized { intent_id, booking }),
                None => failed(&event_type, &envelope),
            };
            (event_id, event_type, act)
        }
        Err(why) => {
            let event_type = envelope["type"].as_str().unwrap_or_default().to_owned();
            let event_id = envelope["id"].as_str().unwrap_or_default().to_owned();
            if event_type == AUTHORIZED || event_id.is_empty() {
                tracing::warn!(%event_id, %event_type, %why, "unreadable Stripe event");
                return Err(Error::bad_request(
                    "invalid_payload",
                    format!("unreadable event: {why}"),
                ));
            }
            let act = failed(&event_type, &envelope);
            (event_id, event_type, act)
        }
    };

    // The event's row is held until the signal is sent: a concurrent
    // delivery of the same event waits, then sees it done; a failed signal
    // rolls back, and Stripe's retry tries again.
    let mut tx = state.pool.begin().await?;
    let fresh = sqlx::query(
        "insert into stripe_event (event_id, event_type) values ($1, $2)
         on conflict (event_id) do nothing",
    )
    .bind(&event_id)
    .bind(&event_type)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        tracing::info!(%event_id, "Stripe event already processed");
        return Ok(Json(WebhookAnswer {
            received: true,
            outcome: "duplicate",
        }));
    }
    let outcome = match act {
        None => "ignored",
        Some(act) => match act.booking() {
            None => {
                tracing::warn!(%event_id, intent_id = act.intent_id(), "PaymentIntent without a booking_id: ignored");
                "ignored"
            }
            Some(booking_id) => {
                let sent = match &act {
                    Act::Authorized { intent_id, .. } => {
                        signal_payment_authorized(&state, booking_id, intent_id.clone()).await
                    }
                    Act::Failed {
                        intent_id, code, ..
                    } => {
                        let failure = PaymentFailed {
                            payment_intent_id: intent_id.clone(),
                            code: code.clone(),
                        };
                        signal_payment_failed(&state, booking_id, failure).await
                    }
                };
                match sent {
                    Ok(()) => {
                        tracing::info!(%event_id, %booking_id, %event_type, "booking signalled");
                        "signalled"
                    }
                    Err(WorkflowInteractionError::NotFound(_)) => {
                        tracing::info!(%event_id, %booking_id, "booking closed; event dropped");
                        "booking_closed"
                    }
                    Err(e) => {
                        tracing::warn!(%event_id, %booking_id, error = %e, "signal failed");
                        return Err(Error::Unavailable);
                    }
                }
            }
        },
    };
    tx.commit().await?;
    Ok(Json(WebhookAnswer {
        received: true,
        outcome,
    }))
}
