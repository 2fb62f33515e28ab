//! Stripe's test cards through the API, as Stripe's testing table
//! documents them (https://docs.stripe.com/testing): each decline by its
//! reason, 3-D Secure required, authenticated, failed, or declined after
//! it; and a new card after a 3-D Secure that did not go through is a new
//! attempt charging exactly that card.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{new_key, wait_booking};
use testkit::gateway::{GOOD_CARD, Gateway, Session};

/// A booking of one economy seat, held.
async fn held(gw: &Gateway, who: &Session, flight: i64) -> (String, Value) {
    let r = gw
        .book(who, &new_key(), Gateway::economy_body(flight, 1))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    (r.body["booking_id"].as_str().unwrap().to_owned(), r.body)
}

/// The 3-D Secure the traveller does with Stripe.js, straight at
/// localstripe: `success` or not. Returns the intent as Stripe answers.
async fn authenticate(gw: &Gateway, booking: &Value, success: bool) -> Value {
    let action = &booking["payment"]["next_action"];
    assert_eq!(action["type"], "use_stripe_sdk", "{booking}");
    let secret = action["client_secret"].as_str().unwrap();
    let intent = booking["payment"]["payment_intent_id"].as_str().unwrap();
    let success = if success { "true" } else { "false" };
    gw.stack
        .stripe()
        .post(
            &format!("/v1/payment_intents/{intent}/_authenticate"),
            &[("client_secret", secret), ("success", success)],
        )
        .await
}

/// The last four digits of the card an intent was paid with.
async fn paid_with(gw: &Gateway, intent: &str) -> String {
    let intent = gw.stack.stripe().intent(intent).await;
    let method = intent["payment_method"].as_str().expect("a payment method");
    let method = gw
        .stack
        .stripe()
        .get(&format!("/v1/payment_methods/{method}"))
        .await;
    method["card"]["last4"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_declining_test_card_is_declined_for_its_documented_reason() {
    let (gw, flight, ada) = Gateway::start_with_ada("gw-cards-declined").await;
    // Stripe's table: the card, and the code the traveller is told.
    let cards = [
        ("4000000000000002", "card_declined"),      // generic_decline
        ("4000000000009995", "insufficient_funds"), // insufficient_funds
        ("4000000000009987", "card_declined"),      // lost_card
        ("4000000000009979", "card_declined"),      // stolen_card
        ("4000000000000069", "expired_card"),
        ("4000000000000127", "incorrect_cvc"),
        ("4000000000000119", "processing_error"),
        ("4000000000000341", "card_declined"), // attaches, then declined
        ("4100000000000019", "card_declined"), // fraudulent
    ];
    for (card, code) in cards {
        let (id, _) = held(&gw, &ada, flight).await;
        let r = gw.pay(&ada, &id, card).await;
        assert_eq!(r.status, StatusCode::OK, "{card}: {}", r.body);
        assert_eq!(r.body["status"], "awaiting_payment", "{card}: {}", r.body);
        let error = &r.body["payment"]["last_error"];
        assert_eq!(error["code"], code, "{card}: {}", r.body);
        assert!(r.body["payment"]["next_action"].is_null(), "{card}");
        // The traveller may try again: a good card goes through.
        let r = gw.pay(&ada, &id, GOOD_CARD).await;
        assert_eq!(
            r.body["status"], "confirmed",
            "{card} then 4242: {}",
            r.body
        );
    }
    // Nothing captured but the good cards: one capture per booking.
    let captured = gw
        .rows("select count(*) from payment_attempt where status = 'captured'")
        .await;
    assert_eq!(captured, cards.len() as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_number_stripe_refuses_is_refused_before_any_payment() {
    let gw = Gateway::start("gw-cards-number").await;
    // Stripe.js refuses 4242 4242 4242 4241 when it makes the token: the
    // booking never sees it.
    let refused = gw
        .http
        .post(format!("{}/v1/tokens", gw.stack.stripe().url))
        .basic_auth(testkit::stack::STRIPE_KEY, Some(""))
        .form(&[
            ("card[number]", "4242424242424241"),
            ("card[exp_month]", "12"),
            ("card[exp_year]", "2030"),
            ("card[cvc]", "123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 402);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["type"], "card_error", "{body}");
    assert_eq!(body["error"]["code"], "incorrect_number", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_d_secure_cards_authenticate_fail_or_decline_as_stripe_documents() {
    let (gw, flight, ada) = Gateway::start_with_ada("gw-cards-3ds").await;
    gw.deliver_stripe_events().await;

    // Required, then authenticated: the webhook confirms.
    for card in ["4000002500003155", "4000002760003184", "4000000000003220"] {
        let (id, _) = held(&gw, &ada, flight).await;
        let r = gw.pay(&ada, &id, card).await;
        assert_eq!(r.body["status"], "awaiting_payment", "{card}: {}", r.body);
        let intent = authenticate(&gw, &r.body, true).await;
        assert_eq!(intent["status"], "requires_capture", "{card}: {intent}");
        let done = wait_booking(&gw, &ada, &id, |b| b["status"] == "confirmed").await;
        assert_eq!(done["payment"]["status"], "captured", "{card}");
    }
    // Supported but not required: authorized at once.
    let (id, _) = held(&gw, &ada, flight).await;
    let r = gw.pay(&ada, &id, "4000000000003055").await;
    assert_eq!(r.body["status"], "confirmed", "{}", r.body);

    // Authenticated, then declined by the bank: told, the traveller may
    // pay with another card.
    for (card, code) in [
        ("4000008400001629", "card_declined"),
        ("4000008260003178", "insufficient_funds"),
    ] {
        let (id, _) = held(&gw, &ada, flight).await;
        let r = gw.pay(&ada, &id, card).await;
        assert_eq!(r.body["status"], "awaiting_payment", "{card}: {}", r.body);
        let intent = authenticate(&gw, &r.body, true).await;
        assert_eq!(
            intent["status"], "requires_payment_method",
            "{card}: {intent}"
        );
        let told = wait_booking(&gw, &ada, &id, |b| !b["payment"]["last_error"].is_null()).await;
        assert_eq!(
            told["payment"]["last_error"]["code"], code,
            "{card}: {told}"
        );
        assert!(told["payment"]["next_action"].is_null(), "{told}");
        let r = gw.pay(&ada, &id, GOOD_CARD).await;
        assert_eq!(
            r.body["status"], "confirmed",
            "{card} then 4242: {}",
            r.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failed_3d_secure_the_next_card_is_the_one_charged() {
    let (gw, flight, ada) = Gateway::start_with_ada("gw-cards-3ds-failed").await;
    gw.deliver_stripe_events().await;
    let (id, _) = held(&gw, &ada, flight).await;
    let r = gw.pay(&ada, &id, "4000002500003155").await;
    let first = r.body["payment"]["payment_intent_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let intent = authenticate(&gw, &r.body, false).await;
    assert_eq!(intent["status"], "requires_payment_method", "{intent}");

    // Stripe's payment_failed webhook: the booking says why, asks for
    // nothing more of the first card, and has a fresh intent.
    let told = wait_booking(&gw, &ada, &id, |b| !b["payment"]["last_error"].is_null()).await;
    assert_eq!(told["status"], "awaiting_payment", "{told}");
    assert_eq!(
        told["payment"]["last_error"]["code"], "authentication_failed",
        "{told}"
    );
    assert!(told["payment"]["next_action"].is_null(), "{told}");
    assert_ne!(told["payment"]["payment_intent_id"], json!(first));
    assert_eq!(gw.stack.stripe().intent(&first).await["status"], "canceled");

    // The next card is charged, on its own intent.
    let r = gw.pay(&ada, &id, GOOD_CARD).await;
    assert_eq!(r.body["status"], "confirmed", "{}", r.body);
    let second = r.body["payment"]["payment_intent_id"].as_str().unwrap();
    assert_eq!(paid_with(&gw, second).await, "4242");
    let handle = gw.stack.handle(&workflows::contract::workflow_id(&id));
    gw.stack
        .save_history(&handle, "three_d_secure_failed_then_another_card")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_card_while_3d_secure_is_pending_is_a_new_attempt() {
    let (gw, flight, ada) = Gateway::start_with_ada("gw-cards-3ds-abandoned").await;
    let (id, _) = held(&gw, &ada, flight).await;
    let r = gw.pay(&ada, &id, "4000002500003155").await;
    assert!(!r.body["payment"]["next_action"].is_null(), "{}", r.body);
    let first = r.body["payment"]["payment_intent_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The traveller never finishes the bank's check and gives another
    // card: that card is charged, the first intent voided.
    let r = gw.pay(&ada, &id, GOOD_CARD).await;
    assert_eq!(r.body["status"], "confirmed", "{}", r.body);
    let paid = r.body["payment"]["payment_intent_id"].as_str().unwrap();
    assert_ne!(paid, first);
    assert_eq!(paid_with(&gw, paid).await, "4242");
    assert_eq!(gw.stack.stripe().intent(&first).await["status"], "canceled");
    let handle = gw.stack.handle(&workflows::contract::workflow_id(&id));
    gw.stack
        .save_history(&handle, "three_d_secure_abandoned_for_another_card")
        .await;
}
