//! `POST /api/v1/webhooks/stripe`: the signature is checked on the raw body
//! (async-stripe's webhook support, 5-minute tolerance), each event is
//! processed once by its id, and an authorized PaymentIntent becomes the
//! booking workflow's `payment_authorized` signal.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use bytes::Bytes;
use secrecy::ExposeSecret;
use serde::Serialize;
use stripe_webhook::{EventObject, Webhook, WebhookError};
use temporalio_client::errors::WorkflowInteractionError;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::bookings::workflow::signal_payment_authorized;
use crate::error::{Error, Result};

/// The one event type the bookings act on.
const AUTHORIZED: &str = "payment_intent.amount_capturable_updated";

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
    let (event_id, event_type, intent) = match Webhook::construct_event(payload, signature, secret)
    {
        Ok(event) => {
            let intent = match event.data.object {
                EventObject::PaymentIntentAmountCapturableUpdated(pi) => Some((
                    pi.id.to_string(),
                    pi.metadata.get("booking_id").map(|s| s.to_string()),
                )),
                _ => None,
            };
            (event.id.to_string(), event.type_.to_string(), intent)
        }
        Err(WebhookError::BadParse(why)) => {
            // Signed by Stripe but not a shape we read: fine for the event
            // types we ignore, an error for the one we act on.
            let envelope: serde_json::Value = serde_json::from_str(payload)
                .map_err(|_| Error::bad_request("invalid_payload", "the event is not JSON"))?;
            let event_type = envelope["type"].as_str().unwrap_or_default().to_owned();
            let event_id = envelope["id"].as_str().unwrap_or_default().to_owned();
            if event_type == AUTHORIZED || event_id.is_empty() {
                tracing::warn!(%event_id, %event_type, %why, "unreadable Stripe event");
                return Err(Error::bad_request(
                    "invalid_payload",
                    format!("unreadable event: {why}"),
                ));
            }
            (event_id, event_type, None)
        }
        Err(e) => {
            tracing::info!(error = %e, "Stripe webhook refused");
            return Err(Error::BadRequest {
                code: "invalid_signature",
                field: Some("Stripe-Signature".into()),
                message: "the signature does not match the body, or is older than 5 minutes".into(),
            });
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
    let outcome = match intent {
        None => "ignored",
        Some((intent_id, None)) => {
            tracing::warn!(%event_id, %intent_id, "PaymentIntent without a booking_id: ignored");
            "ignored"
        }
        Some((intent_id, Some(booking_id))) => {
            match signal_payment_authorized(&state, &booking_id, intent_id).await {
                Ok(()) => {
                    tracing::info!(%event_id, %booking_id, "payment_authorized signalled");
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
    };
    tx.commit().await?;
    Ok(Json(WebhookAnswer {
        received: true,
        outcome,
    }))
}
