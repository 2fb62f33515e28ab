//! The Stripe webhook: signatures, and each event once.

use reqwest::StatusCode;
use serde_json::{Value, json};
use stripe_webhook::Webhook;

use crate::{new_key, wait_booking};
use testkit::gateway::{GOOD_CARD, Gateway, WEBHOOK_SECRET};

/// A `payment_intent.amount_capturable_updated` event as Stripe sends it.
fn capturable_event(event_id: &str, intent: &Value, booking_id: &str) -> String {
    json!({
        "id": event_id, "object": "event", "api_version": "2025-03-31.basil",
        "created": chrono::Utc::now().timestamp(), "livemode": false, "pending_webhooks": 1,
        "type": "payment_intent.amount_capturable_updated",
        "data": {"object": {
            "id": intent["id"], "object": "payment_intent",
            "amount": intent["amount"], "amount_capturable": intent["amount"], "amount_received": 0,
            "capture_method": "manual", "confirmation_method": "automatic",
            "created": chrono::Utc::now().timestamp(), "currency": "eur", "livemode": false,
            "metadata": {"booking_id": booking_id}, "payment_method_types": ["card"],
            "status": "requires_capture"
        }}
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_webhook_checks_the_signature_and_signals_each_event_once() {
    let (gw, flight, ada) = Gateway::start_with_ada("gw-webhook").await;
    let created = gw
        .book(&ada, &new_key(), Gateway::economy_body(flight, 1))
        .await;
    let id = created.body["booking_id"].as_str().unwrap().to_owned();
    let intent_id = created.body["payment"]["payment_intent_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The traveller's browser confirms the intent with Stripe directly.
    gw.stack.stripe().set_card(&intent_id, GOOD_CARD).await;
    let intent = gw
        .stack
        .stripe()
        .post(&format!("/v1/payment_intents/{intent_id}/confirm"), &[])
        .await;
    assert_eq!(intent["status"], "requires_capture", "{intent}");

    let post = |payload: String, signature: Option<String>| {
        let mut req = gw
            .http
            .post(format!("{}/api/v1/webhooks/stripe", gw.base))
            .header("content-type", "application/json")
            .body(payload);
        if let Some(s) = signature {
            req = req.header("stripe-signature", s);
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let payload = capturable_event("evt_gw_1", &intent, &id);

    // Refused: no signature, another secret, a stale one, a changed body.
    let (s, b) = post(payload.clone(), None).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_signature"))
    );
    let wrong = Webhook::generate_test_header(&payload, "whsec_someone_else", None);
    assert_eq!(
        post(payload.clone(), Some(wrong)).await.0,
        StatusCode::BAD_REQUEST
    );
    let stale = Webhook::generate_test_header(
        &payload,
        WEBHOOK_SECRET,
        Some(chrono::Utc::now().timestamp() - 600),
    );
    assert_eq!(
        post(payload.clone(), Some(stale)).await.0,
        StatusCode::BAD_REQUEST
    );
    let signature = Webhook::generate_test_header(&payload, WEBHOOK_SECRET, None);
    let changed = payload.replace("requires_capture", "succeeded");
    assert_eq!(
        post(changed, Some(signature.clone())).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(gw.rows("select count(*) from stripe_event").await, 0);
    wait_booking(&gw, &ada, &id, |b| b["status"] == "awaiting_payment").await;

    // Good: the booking is signalled and confirms.
    let (s, b) = post(payload.clone(), Some(signature.clone())).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["outcome"], "signalled");
    let done = wait_booking(&gw, &ada, &id, |b| b["status"] == "confirmed").await;
    assert_eq!(done["payment"]["status"], "captured");

    // Replayed: acknowledged, not processed again.
    let (s, b) = post(
        payload.clone(),
        Some(Webhook::generate_test_header(
            &payload,
            WEBHOOK_SECRET,
            None,
        )),
    )
    .await;
    assert_eq!(
        (s, b["outcome"].as_str()),
        (StatusCode::OK, Some("duplicate"))
    );
    assert_eq!(gw.rows("select count(*) from stripe_event").await, 1);

    // An event type the bookings do not use: 200, ignored.
    let other = json!({"id": "evt_gw_2", "object": "event", "type": "customer.created",
        "created": 1, "livemode": false, "pending_webhooks": 1,
        "data": {"object": {"id": "cus_1", "object": "customer"}}})
    .to_string();
    let (s, b) = post(
        other.clone(),
        Some(Webhook::generate_test_header(&other, WEBHOOK_SECRET, None)),
    )
    .await;
    assert_eq!(
        (s, b["outcome"].as_str()),
        (StatusCode::OK, Some("ignored")),
        "{b}"
    );

    // One charge in all.
    let intent = gw.stack.stripe().intent(&intent_id).await;
    assert_eq!(intent["status"], "succeeded", "{intent}");
}
