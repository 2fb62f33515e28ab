//! Bookings: ownership, idempotent creation, refusals, 3-D Secure, bad
//! input.

use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{THREE_D_SECURE_CARD, new_key, wait_booking, wait_get};
use testkit::gateway::{GOOD_CARD, Gateway};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_user_can_neither_see_pay_nor_cancel_my_booking() {
    let (gw, flight, ada) = Gateway::start_with_ada("gw-owners").await;
    let eve = gw.signup("eve@example.com").await;
    let created = gw
        .book(&ada, &new_key(), Gateway::economy_body(flight, 1))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["booking_id"].as_str().unwrap().to_owned();

    let seen = gw.get(&format!("/api/v1/bookings/{id}"), &eve.access).await;
    assert_eq!(seen.status, StatusCode::NOT_FOUND);
    assert_eq!(seen.error_code(), "not_found");
    let paid = gw.pay(&eve, &id, GOOD_CARD).await;
    assert_eq!(paid.status, StatusCode::NOT_FOUND);
    let cancelled = gw.cancel(&eve, &id).await;
    assert_eq!(cancelled.status, StatusCode::NOT_FOUND);
    // The same answer as for a booking that does not exist at all.
    let unknown = gw
        .get(
            &format!("/api/v1/bookings/{}", uuid::Uuid::new_v4()),
            &eve.access,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body, seen.body);

    // Ada's booking is untouched; Eve's list is empty.
    let mine = wait_booking(&gw, &ada, &id, |b| b["status"] == "awaiting_payment").await;
    // Eve's payment attempt never reached it: no attempt, still payable.
    assert_eq!(mine["payment"]["status"], "awaiting_payment_method");
    assert!(mine["payment"]["last_error"].is_null());
    assert!(mine["payment"]["client_secret"].is_string());
    let list = gw.get("/api/v1/bookings", &eve.access).await;
    assert_eq!(list.body["items"], json!([]));

    // An admin sees it, and finds it by flight and status.
    let admin = gw.admin().await;
    assert_eq!(
        gw.get(&format!("/api/v1/bookings/{id}"), &admin.access)
            .await
            .status,
        StatusCode::OK
    );
    let path = format!("/api/v1/admin/bookings?flight_id={flight}&status=awaiting_payment");
    let one = |b: &Value| b["items"].as_array().unwrap().len() == 1;
    let found = wait_get(&gw, &admin.access, &path, Duration::from_secs(30), one).await;
    assert_eq!(found["items"][0]["booking_id"], id);
    let bad = gw
        .get("/api/v1/admin/bookings?status=lost", &admin.access)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.error_field(), Some("status"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_creates_with_one_key_make_one_booking() {
    let (gw, flight, ada) = Gateway::start_with_ada("gw-idempotency").await;
    let before = gw.stack.flights.seats_available(flight).await;
    let key = new_key();
    let body = Gateway::economy_body(flight, 2);
    let replies = join_all((0..20).map(|_| gw.book(&ada, &key, body.clone()))).await;
    let mut ids: Vec<&str> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            r.body["booking_id"].as_str().unwrap()
        })
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(gw.rows("select count(*) from booking_request").await, 1);
    assert_eq!(gw.stack.flights.seats_available(flight).await, before - 2);
    let seats: Vec<&Value> = replies.iter().map(|r| &r.body["seats"]).collect();
    assert!(
        seats.windows(2).all(|w| w[0] == w[1]),
        "every reply names the same seats"
    );

    // The same key for a different request is refused, not replayed.
    let other = Gateway::economy_body(flight, 1);
    let r = gw.book(&ada, &key, other).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.error_code(), "idempotency_key_reused");

    // Another user's identical key is another booking.
    let grace = gw.signup("grace@example.com").await;
    let theirs = gw.book(&grace, &key, body.clone()).await;
    assert_eq!(theirs.status, StatusCode::CREATED);
    assert_ne!(theirs.body["booking_id"], ids[0]);

    // Taken seats: 409 seats_unavailable, and the key stays bound to it.
    let taken = replies[0].body["seats"][0]["seat_number"].as_str().unwrap();
    let clash = Gateway::booking_body(flight, json!([taken]), 1);
    let clash_key = new_key();
    let r = gw.book(&grace, &clash_key, clash.clone()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.error_code(), "seats_unavailable");
    let r = gw.book(&grace, &clash_key, clash).await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "a retry reads the same failed booking"
    );

    // No key at all.
    let r = gw.post("/api/v1/bookings", Some(&ada.access), body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "idempotency_key_required");
    assert_eq!(r.error_field(), Some("Idempotency-Key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_stripe_refuses_answers_422_and_a_cancel_while_confirming_409() {
    use testkit::stack::stripe_proxy::Action;
    let (gw, flight, ada) = Gateway::start_with_ada("gw-refusals").await;
    let before = gw.stack.flights.seats_available(flight).await;

    // Stripe refuses the PaymentIntent: a stable 4xx, never a 500, and the
    // seat is free again.
    gw.stack.stripe_proxy.on(
        "POST",
        "/v1/payment_intents",
        "/payment_intents",
        Action::refusal("Amount must be no more than $999,999.99"),
    );
    let body = Gateway::booking_body(flight, json!(["3A"]), 1);
    let r = gw.book(&ada, &new_key(), body.clone()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.error_code(), "payment_rejected");
    assert!(
        !r.body.to_string().contains("999,999"),
        "provider text leaked: {}",
        r.body
    );
    assert_eq!(gw.stack.flights.seats_available(flight).await, before);
    gw.stack.stripe_proxy.clear();

    // Paid while the flight service is away: `confirming`. A cancel then
    // is refused with a code the client retries on.
    let r = gw.book(&ada, &new_key(), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["booking_id"].as_str().unwrap().to_owned();
    gw.stack.proxy.set_up(false);
    let method = gw.stack.stripe().payment_method(GOOD_CARD).await;
    let pay_path = format!("/api/v1/bookings/{id}/payment");
    let pay = gw.post(
        &pay_path,
        Some(&ada.access),
        json!({"payment_method": method}),
    );
    let cancel = async {
        wait_booking(&gw, &ada, &id, |b| b["status"] == "confirming").await;
        let r = gw.cancel(&ada, &id).await;
        gw.stack.proxy.set_up(true);
        r
    };
    let (paid, refused) = tokio::join!(pay, cancel);
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(refused.error_code(), "booking_confirming");
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.body);
    assert_eq!(paid.body["status"], "confirmed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_needing_3d_secure_is_authenticated_at_stripe_and_the_webhook_confirms_it() {
    let (gw, flight, ada) = Gateway::start_with_ada("gw-3ds").await;
    gw.deliver_stripe_events().await;
    let body = Gateway::booking_body(flight, json!(["4C"]), 1);
    let r = gw.book(&ada, &new_key(), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["booking_id"].as_str().unwrap().to_owned();

    // The card needs 3-D Secure: still awaiting payment, with what
    // Stripe.js needs to run it.
    let r = gw.pay(&ada, &id, THREE_D_SECURE_CARD).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "awaiting_payment", "{}", r.body);
    let action = &r.body["payment"]["next_action"];
    assert_eq!(action["type"], "use_stripe_sdk", "{}", r.body);
    let secret = action["client_secret"].as_str().unwrap().to_owned();
    assert!(r.body["payment"]["last_error"].is_null());

    // The traveller authenticates with Stripe (Stripe.js against
    // localstripe); Stripe's webhook confirms the booking.
    let intent = r.body["payment"]["payment_intent_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let authenticated = gw
        .stack
        .stripe()
        .post(
            &format!("/v1/payment_intents/{intent}/_authenticate"),
            &[("client_secret", &secret), ("success", "true")],
        )
        .await;
    assert_eq!(
        authenticated["status"], "requires_capture",
        "{authenticated}"
    );
    let done = wait_booking(&gw, &ada, &id, |b| b["status"] == "confirmed").await;
    assert_eq!(done["payment"]["status"], "captured");
    assert!(done["payment"]["next_action"].is_null());
    assert_eq!(gw.rows("select count(*) from stripe_event").await, 1);
    let handle = gw.stack.handle(&workflows::contract::workflow_id(&id));
    gw.stack
        .save_history(&handle, "three_d_secure_then_webhook")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traveller_who_gives_a_mobile_number_gets_the_confirmation_by_text_too() {
    let (gw, ada, r) = Gateway::start_texting("gw-sms", "3A").await;
    assert_eq!(r.body["contact_phone"], "+447400123456");
    assert_eq!(r.body["channels"], json!(["email", "sms"]));
    let id = r.body["booking_id"].as_str().unwrap().to_owned();
    let paid = gw.pay(&ada, &id, GOOD_CARD).await;
    assert_eq!(paid.body["status"], "confirmed", "{}", paid.body);

    let texts = gw.stack.texts().wait(1).await;
    assert_eq!(texts[0].to, "+447400123456");
    let reference = paid.body["booking_ref"].as_str().unwrap();
    assert!(texts[0].gsm_text().contains(reference), "{texts:?}");
    assert_eq!(gw.stack.mail().wait("is confirmed", 1).await.len(), 1);
    let got = gw.get(&format!("/api/v1/bookings/{id}"), &ada.access).await;
    assert_eq!(
        got.body["channels"],
        json!(["email", "sms"]),
        "{}",
        got.body
    );
    assert_eq!(got.body["contact_phone"], "+447400123456");
}
