//! The payment steps against a real localstripe (started per test on a free
//! port, from the project's venv) and a fresh PostgreSQL database per test.
//! What Stripe holds is checked through localstripe's own API.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use activities::error::StepError;
use activities::payments::{Payments, StripeConfig};
use serde_json::Value;
use support::TestDb;
use testkit::fakes::{card_form, json_answer, python, start_localstripe};
use testkit::process::{Proc, free_port};
use uuid::Uuid;
use workflows::activities::{
    Authorization, AuthorizePayment, CreatePayment, PaymentCreated, PaymentRef, RefundPayment,
};
use workflows::contract::{BookingId, Failure, Money, PaymentMethodId, RefundInfo};

const SECRET: &str = "sk_test_payments";

// ---------------------------------------------------------------- localstripe

/// localstripe on a free loopback port, killed with the value. It runs
/// from the project's venv with an empty store that stays in memory
/// (temporal-dev/localstripe_memory.py).
struct LocalStripe {
    _child: Proc,
    base: String,
    http: reqwest::Client,
    log: PathBuf,
}

impl LocalStripe {
    async fn start() -> LocalStripe {
        let log = std::env::temp_dir().join(format!("localstripe-{}.log", Uuid::new_v4().simple()));
        let (child, port) = start_localstripe(&python("LOCALSTRIPE_PYTHON"), &log).await;
        LocalStripe {
            _child: child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            log,
        }
    }

    async fn get(&self, path: &str) -> Value {
        json_answer(self.request(reqwest::Method::GET, path)).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        json_answer(self.request(reqwest::Method::POST, path).form(form)).await
    }

    /// A request of the test's own to `/v1<path>`.
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/v1{path}", self.base))
            .bearer_auth(SECRET)
    }

    async fn intent_status(&self, intent_id: &str) -> String {
        let intent = self.get(&format!("/payment_intents/{intent_id}")).await;
        intent["status"].as_str().unwrap().to_owned()
    }

    /// How many times the code under test sent `request` (e.g. `POST
    /// /v1/refunds`), from localstripe's access log.
    fn calls(&self, request: &str) -> usize {
        let log = std::fs::read_to_string(&self.log).unwrap();
        log.lines()
            .filter(|l| l.contains(&format!("\"{request} HTTP/")) && l.contains("RustBindings"))
            .count()
    }

    async fn refund_ids(&self, intent_id: &str) -> Vec<String> {
        let list = self
            .get(&format!("/refunds?payment_intent={intent_id}"))
            .await;
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// A card token, as Stripe.js's `createToken` makes in the web app.
    async fn token(&self, number: &str) -> String {
        let token = self.post("/tokens", &card_form(number)[1..]).await;
        token["id"].as_str().unwrap().to_owned()
    }

    /// A card payment method (localstripe knows `pm_card_visa` too).
    async fn card(&self, number: &str) -> String {
        let pm = self.post("/payment_methods", &card_form(number)).await;
        pm["id"].as_str().unwrap().to_owned()
    }
}

impl Drop for LocalStripe {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.log);
    }
}

// ---------------------------------------------------------------- fixture

struct TestApp {
    payments: Payments,
    stripe: LocalStripe,
    db: TestDb,
    booking_id: BookingId,
}

impl TestApp {
    async fn start() -> TestApp {
        let (stripe, db) = tokio::join!(LocalStripe::start(), TestDb::create("payments_test"));
        let config = StripeConfig {
            secret_key: SECRET.into(),
            api_base: Some(stripe.base.clone()),
            timeout: Duration::from_secs(10),
        };
        let payments = Payments::new(&config, db.pool.clone()).unwrap();
        TestApp {
            payments,
            stripe,
            db,
            booking_id: BookingId::new_random(),
        }
    }

    fn create_input(&self, attempt: u32) -> CreatePayment {
        CreatePayment {
            booking_id: self.booking_id,
            booking_ref: "K7Q2ZP".parse().unwrap(),
            attempt,
            amount: eur(45_900),
        }
    }

    async fn create(&self, attempt: u32) -> PaymentCreated {
        self.payments
            .create(&self.create_input(attempt))
            .await
            .unwrap()
    }

    async fn authorize(&self, attempt: u32, payment_method: &str) -> Authorization {
        self.try_authorize(attempt, payment_method).await.unwrap()
    }

    async fn try_authorize(
        &self,
        attempt: u32,
        payment_method: &str,
    ) -> Result<Authorization, StepError> {
        self.payments
            .authorize(&AuthorizePayment {
                booking_id: self.booking_id,
                attempt,
                payment_method: PaymentMethodId::parse(payment_method).unwrap(),
            })
            .await
    }

    fn payment_ref(&self, attempt: u32) -> PaymentRef {
        PaymentRef {
            booking_id: self.booking_id,
            attempt,
        }
    }

    fn refund_input(&self, attempt: u32) -> RefundPayment {
        RefundPayment {
            booking_id: self.booking_id,
            attempt,
            amount: eur(45_900),
        }
    }

    async fn capture(&self, attempt: u32) -> Result<(), StepError> {
        self.payments.capture(&self.payment_ref(attempt)).await
    }

    async fn cancel(&self, attempt: u32) -> Result<(), StepError> {
        self.payments.cancel(&self.payment_ref(attempt)).await
    }

    async fn refund(&self, attempt: u32) -> Result<RefundInfo, StepError> {
        self.payments.refund(&self.refund_input(attempt)).await
    }

    async fn attempt_status(&self, attempt: u32) -> (String, Option<String>) {
        sqlx::query_as(
            "select status, decline_code from payment_attempt \
             where booking_id = $1::uuid and attempt = $2",
        )
        .bind(self.booking_id.to_string())
        .bind(attempt as i32)
        .fetch_one(&self.db.pool)
        .await
        .unwrap()
    }
}

fn eur(amount: i64) -> Money {
    Money::new(amount, "EUR".parse().unwrap()).unwrap()
}

fn assert_rejected<T: std::fmt::Debug>(result: Result<T, StepError>) {
    match result {
        Err(StepError::Business { kind, .. }) => assert_eq!(kind, Failure::PaymentRejected),
        other => panic!("expected a PaymentRejected business failure, got {other:?}"),
    }
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn good_card_is_authorized_captured_and_refunded_once() {
    let app = TestApp::start().await;

    let created = app.create(1).await;
    assert!(created.payment_intent_id.starts_with("pi_"));
    assert!(!created.client_secret.is_empty());
    let intent = app
        .stripe
        .get(&format!("/payment_intents/{}", created.payment_intent_id))
        .await;
    assert_eq!(intent["capture_method"], "manual");
    assert_eq!(intent["amount"], 45_900);
    assert_eq!(intent["currency"], "eur");
    assert_eq!(intent["metadata"]["booking_id"], app.booking_id.to_string());
    assert_eq!(intent["metadata"]["booking_ref"], "K7Q2ZP");
    assert_eq!(intent["metadata"]["attempt"], "1");

    let (a, b) = tokio::join!(
        app.authorize(1, "pm_card_visa"),
        app.authorize(1, "pm_card_visa")
    );
    assert_eq!(
        (a, b),
        (Authorization::Authorized, Authorization::Authorized)
    );
    assert_eq!(
        app.authorize(1, "pm_card_visa").await,
        Authorization::Authorized
    );
    let intent_id = &created.payment_intent_id;
    assert_eq!(
        app.stripe.intent_status(intent_id).await,
        "requires_capture"
    );

    let (a, b) = tokio::join!(app.capture(1), app.capture(1));
    a.unwrap();
    b.unwrap();
    app.capture(1).await.unwrap();
    assert_eq!(app.stripe.intent_status(intent_id).await, "succeeded");
    assert_eq!(app.attempt_status(1).await.0, "captured");

    // Cancelling a captured payment leaves it alone.
    app.cancel(1).await.unwrap();
    assert_eq!(app.stripe.intent_status(intent_id).await, "succeeded");

    let (a, b) = tokio::join!(app.refund(1), app.refund(1));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b);
    assert!(a.refund_id.starts_with("re_"));
    assert_eq!(a.amount, eur(45_900));
    assert_eq!(app.refund(1).await.unwrap(), a);
    assert_eq!(app.stripe.refund_ids(intent_id).await, vec![a.refund_id]);

    // Each step reached Stripe once, duplicates included.
    let stripe = &app.stripe;
    let pi = format!("/v1/payment_intents/{intent_id}");
    assert_eq!(stripe.calls("POST /v1/payment_intents"), 1);
    assert_eq!(stripe.calls(&format!("POST {pi}")), 1);
    assert_eq!(stripe.calls(&format!("POST {pi}/confirm")), 1);
    assert_eq!(stripe.calls(&format!("POST {pi}/capture")), 1);
    assert_eq!(stripe.calls(&format!("POST {pi}/cancel")), 0);
    assert_eq!(stripe.calls("POST /v1/refunds"), 1);
}

/// The web app pays with a card token: Stripe makes it a PaymentMethod
/// once, even when the step runs twice; a spent token for the next attempt
/// is a decline the traveller can retry with another card, not a failure.
#[tokio::test]
async fn a_card_token_becomes_a_payment_method_once() {
    let app = TestApp::start().await;
    app.create(1).await;
    let token = app.stripe.token("4242424242424242").await;
    let (a, b) = tokio::join!(app.authorize(1, &token), app.authorize(1, &token));
    assert_eq!(
        (a, b),
        (Authorization::Authorized, Authorization::Authorized)
    );
    assert_eq!(app.stripe.calls("POST /v1/payment_methods"), 1);

    app.create(2).await;
    let spent = app.authorize(2, &token).await;
    let Authorization::Declined(decline) = spent else {
        panic!("expected a decline, got {spent:?}");
    };
    assert_eq!(decline.code, "invalid_payment_method");

    let three_ds = app.stripe.token("4000002500003155").await;
    app.create(3).await;
    let asked = app.authorize(3, &three_ds).await;
    assert!(
        matches!(asked, Authorization::RequiresAction(_)),
        "{asked:?}"
    );
}

#[tokio::test]
async fn create_twice_concurrently_makes_one_intent() {
    let app = TestApp::start().await;

    let (a, b) = tokio::join!(app.create(1), app.create(1));
    assert_eq!(a, b);
    assert_eq!(app.create(1).await, a);
    let intents = app.stripe.get("/payment_intents").await;
    let ours: Vec<&Value> = intents["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["metadata"]["booking_id"] == app.booking_id.to_string())
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(app.stripe.calls("POST /v1/payment_intents"), 1);

    // The next attempt is a new intent.
    let second = app.create(2).await;
    assert_ne!(second.payment_intent_id, a.payment_intent_id);

    // The same attempt with another amount is a bug, not a new intent.
    let mut other = app.create_input(1);
    other.amount = eur(1);
    assert_rejected(app.payments.create(&other).await);
}

#[tokio::test]
async fn a_create_retried_after_its_answer_was_lost_gets_the_first_intent_again() {
    let app = TestApp::start().await;
    let first = app.create(1).await;
    // Stripe made the intent, but the answer never reached our records
    // (the worker died in between): the row knows no intent.
    sqlx::query(
        "update payment_attempt set payment_intent_id = null, client_secret = null, \
         status = 'creating'",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    // The retry sends the same Idempotency-Key: Stripe answers the first
    // intent again, and no second one exists.
    let again = app.create(1).await;
    assert_eq!(again, first);
    let intents = app.stripe.get("/payment_intents").await;
    let ours = intents["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["metadata"]["booking_id"] == app.booking_id.to_string())
        .count();
    assert_eq!(ours, 1, "no orphan PaymentIntent");
}

#[tokio::test]
async fn declined_card_is_declined_recorded_and_cancelled() {
    let app = TestApp::start().await;
    let created = app.create(1).await;
    let declined_card = app.stripe.card("4000000000000341").await;

    let (a, b) = tokio::join!(
        app.authorize(1, &declined_card),
        app.authorize(1, &declined_card)
    );
    let Authorization::Declined(decline) = a else {
        panic!("expected a decline, got {a:?}");
    };
    // Stripe's decline code (its `code` is card_declined).
    assert_eq!(decline.code, "generic_decline");
    assert!(!decline.message.is_empty());
    let Authorization::Declined(again) = b else {
        panic!("expected a decline, got {b:?}");
    };
    assert_eq!(again.code, "generic_decline");
    assert_eq!(
        app.attempt_status(1).await,
        ("declined".to_owned(), Some("generic_decline".to_owned()))
    );
    // Recorded: a retry answers without confirming again.
    assert!(matches!(
        app.authorize(1, "pm_card_visa").await,
        Authorization::Declined(d) if d.code == "generic_decline"
    ));

    // The declined intent is cancelled, once.
    let (a, b) = tokio::join!(app.cancel(1), app.cancel(1));
    a.unwrap();
    b.unwrap();
    app.cancel(1).await.unwrap();
    assert_eq!(
        app.stripe.intent_status(&created.payment_intent_id).await,
        "canceled"
    );
    assert_eq!(app.attempt_status(1).await.0, "cancelled");
    let pi = format!("/v1/payment_intents/{}", created.payment_intent_id);
    assert_eq!(app.stripe.calls(&format!("POST {pi}/confirm")), 1);
    assert_eq!(app.stripe.calls(&format!("POST {pi}/cancel")), 1);

    // Nothing to capture or refund.
    assert_rejected(app.capture(1).await);
    assert_rejected(app.refund(1).await);
}

#[tokio::test]
async fn card_needing_authentication_asks_for_it_and_unknown_method_is_declined() {
    let app = TestApp::start().await;

    // 3-D Secure: not a decline; the client secret for Stripe.js, and the
    // same answer on a retry, with the intent left for the traveller.
    let created = app.create(1).await;
    let three_ds = app.stripe.card("4000002500003155").await;
    for _ in 0..2 {
        match app.authorize(1, &three_ds).await {
            Authorization::RequiresAction(action) => {
                assert_eq!(action.kind, "use_stripe_sdk");
                assert_eq!(action.client_secret, created.client_secret);
            }
            other => panic!("expected requires_action, got {other:?}"),
        }
    }
    assert_eq!(
        app.stripe.intent_status(&created.payment_intent_id).await,
        "requires_action"
    );

    app.create(2).await;
    assert!(matches!(
        app.authorize(2, "pm_does_not_exist").await,
        Authorization::Declined(d) if d.code == "invalid_payment_method"
    ));
    assert_eq!(
        app.attempt_status(2).await,
        (
            "declined".to_owned(),
            Some("invalid_payment_method".to_owned())
        )
    );
}

#[tokio::test]
async fn capture_finds_a_payment_already_captured_on_stripe() {
    let app = TestApp::start().await;
    let created = app.create(1).await;
    assert_eq!(
        app.authorize(1, "pm_card_visa").await,
        Authorization::Authorized
    );

    // A run that captured but lost the answer before recording it.
    let intent_id = &created.payment_intent_id;
    let captured = app
        .stripe
        .post(&format!("/payment_intents/{intent_id}/capture"), &[])
        .await;
    assert_eq!(captured["status"], "succeeded");

    app.capture(1).await.unwrap();
    assert_eq!(app.attempt_status(1).await.0, "captured");
}

#[tokio::test]
async fn cancel_is_a_no_op_without_an_intent_and_cancels_an_authorization_once() {
    let app = TestApp::start().await;
    app.cancel(1).await.unwrap();

    let created = app.create(1).await;
    assert_eq!(
        app.authorize(1, "pm_card_visa").await,
        Authorization::Authorized
    );
    let (a, b) = tokio::join!(app.cancel(1), app.cancel(1));
    a.unwrap();
    b.unwrap();
    assert_eq!(
        app.stripe.intent_status(&created.payment_intent_id).await,
        "canceled"
    );
    let pi = format!("/v1/payment_intents/{}", created.payment_intent_id);
    assert_eq!(app.stripe.calls(&format!("POST {pi}/cancel")), 1);
    assert_rejected(app.try_authorize(1, "pm_card_visa").await);
    assert_rejected(app.capture(1).await);
}

#[tokio::test]
async fn steps_before_create_are_rejected_and_stripe_down_is_transient() {
    let app = TestApp::start().await;
    assert_rejected(app.try_authorize(1, "pm_card_visa").await);
    assert_rejected(app.capture(1).await);
    assert_rejected(app.refund(1).await);

    let down = Payments::new(
        &StripeConfig {
            secret_key: SECRET.into(),
            api_base: Some(format!("http://127.0.0.1:{}", free_port())),
            timeout: Duration::from_secs(2),
        },
        app.db.pool.clone(),
    )
    .unwrap();
    let result = down.create(&app.create_input(1)).await;
    assert!(
        matches!(result, Err(StepError::Transient(_))),
        "expected a transient failure, got {result:?}"
    );
    // Nothing was recorded: the retry creates the intent.
    let created = app.create(1).await;
    assert!(created.payment_intent_id.starts_with("pi_"));
}
