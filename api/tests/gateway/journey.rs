//! The traveller's journey through the gateway alone, and the operational
//! endpoints it exposes.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{new_key, wait_booking, wait_get};
use testkit::gateway::{GOOD_CARD, Gateway, Reply, Session};

/// POSTs `body` to `path` as `who`, then again with the same
/// `Idempotency-Key`: both 200, the retry with the first call's answer,
/// which it returns.
async fn post_and_retry(gw: &Gateway, who: &Session, path: &str, body: Value) -> Reply {
    let key = new_key();
    let first = gw
        .keyed(Method::POST, path, &who.access, body.clone(), &key)
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let retried = gw.keyed(Method::POST, path, &who.access, body, &key).await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    assert_eq!(retried.body, first.body);
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traveller_signs_up_searches_books_pays_and_is_confirmed_through_the_gateway_alone() {
    let gw = Gateway::start("gw-happy").await;
    let flight = gw.flight().await;
    let ada = gw.signup("Ada@Example.com").await;

    // Search and seat map, forwarded to the flight service.
    let date = testkit::gateway::utc_in_days(9, 10, 0)[..10].to_owned();
    let found = gw
        .get(
            &format!("/api/v1/flights?from=LHR&to=CDG&date={date}&travellers=2"),
            &ada.access,
        )
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    assert!(
        found.body.to_string().contains(&format!("\"id\":{flight}")),
        "{}",
        found.body
    );
    let seats = gw
        .get(&format!("/api/v1/flights/{flight}/seats"), &ada.access)
        .await;
    assert_eq!(seats.status, StatusCode::OK, "{}", seats.body);

    // Book two economy seats: one round trip to held seats and a price.
    let key = new_key();
    let created = gw.book(&ada, &key, Gateway::economy_body(flight, 2)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let b = &created.body;
    assert_eq!(b["status"], "awaiting_payment");
    assert_eq!(b["booking_ref"].as_str().unwrap().len(), 6);
    assert_eq!(b["seats"].as_array().unwrap().len(), 2);
    assert_eq!(b["total"], json!({"amount": 20000, "currency": "EUR"}));
    assert!(
        b["payment"]["payment_intent_id"]
            .as_str()
            .unwrap()
            .starts_with("pi_")
    );
    assert!(b["payment"]["client_secret"].is_string());
    assert!(b["payment_due_at"].is_string());
    let id = b["booking_id"].as_str().unwrap().to_owned();

    // Pay: confirmed, with a ticket per passenger. The call retried with
    // its Idempotency-Key gets the same payment's answer, not a second one.
    let method = gw.stack.stripe().payment_method(GOOD_CARD).await;
    let pay_path = format!("/api/v1/bookings/{id}/payment");
    let pay = json!({"payment_method": method});
    let paid = post_and_retry(&gw, &ada, &pay_path, pay).await;
    assert_eq!(paid.body["status"], "confirmed", "{}", paid.body);
    assert_eq!(paid.body["ticket_numbers"].as_array().unwrap().len(), 2);
    assert_eq!(paid.body["payment"]["status"], "captured");
    assert!(paid.body["payment"]["client_secret"].is_null());

    // Read back from the read model (recorded just after the answer), and
    // in my list.
    let read = wait_booking(&gw, &ada, &id, |b| b["status"] == "confirmed").await;
    assert_eq!(read["ticket_numbers"], paid.body["ticket_numbers"]);
    let confirmed = |b: &Value| b["items"][0]["status"] == "confirmed";
    let patience = Duration::from_secs(30);
    let mine = wait_get(&gw, &ada.access, "/api/v1/bookings", patience, confirmed).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);

    // The same key again: the same booking, as it is now; nothing new held.
    let replay = gw.book(&ada, &key, Gateway::economy_body(flight, 2)).await;
    assert_eq!(replay.status, StatusCode::CREATED, "{}", replay.body);
    assert_eq!(replay.body["booking_id"], id.as_str());
    assert_eq!(replay.body["status"], "confirmed");
    assert_eq!(gw.rows("select count(*) from booking_request").await, 1);

    // Paying again is a conflict with the booking's state.
    let again = gw.pay(&ada, &id, GOOD_CARD).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert_eq!(again.error_code(), "invalid_state");

    // Cancel after confirmation: refunded; the retried cancel (same key)
    // gets the same answer, and the payment is refunded once.
    let cancel_path = format!("/api/v1/bookings/{id}/cancel");
    let cancelled = post_and_retry(&gw, &ada, &cancel_path, json!({})).await;
    let intent = paid.body["payment"]["payment_intent_id"].as_str().unwrap();
    assert_eq!(gw.stack.stripe().refunds(intent).await.len(), 1);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(
        cancelled.body["payment"]["refund"]["amount"]["amount"],
        20000
    );

    // The operational endpoints.
    let spec = gw.get("/api/v1/openapi.json", &ada.access).await;
    assert!(spec.body["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/v1/bookings",
        "/api/v1/auth/login",
        "/api/v1/webhooks/stripe",
    ] {
        assert!(
            spec.body["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert_eq!(gw.get("/healthz", "").await.status, StatusCode::OK);
    let ready = gw.get("/readyz", "").await;
    assert_eq!(
        ready.body,
        json!({"status": "ready", "database": "ok", "temporal": "ok"})
    );
    // Metrics are on the internal listener only.
    let text = gw
        .stack
        .get_text(&format!("{}/metrics", gw.metrics_base))
        .await;
    assert!(text.contains("route=\"/api/v1/bookings\""), "{text}");
    let public = gw.get("/metrics", "").await;
    assert_eq!(public.status, StatusCode::NOT_FOUND, "{}", public.body);

    // CORS: the configured origin may call from a browser, another may not.
    for (origin, allowed) in [
        ("https://app.airline.test", true),
        ("https://evil.test", false),
    ] {
        let preflight = gw
            .http
            .request(Method::OPTIONS, format!("{}/api/v1/bookings", gw.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,idempotency-key",
            )
            .send()
            .await
            .unwrap();
        let header = preflight.headers().get("access-control-allow-origin");
        assert_eq!(header.is_some_and(|h| h == origin), allowed, "{origin}");
    }
}
