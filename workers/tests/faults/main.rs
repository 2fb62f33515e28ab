//! The fault matrix: each step of the saga answering with a business
//! refusal, or out of reach for longer than its retry budget, ends the
//! booking in a defined state with its compensations, against the real
//! stack. Stripe's refusals and outages are injected by a relay in front
//! of localstripe (`testkit::stack::stripe_proxy`), the flight service's by the
//! TCP relay in front of it; everything else is real.
//!
//! Every cell checks: the workflow ends (never `Failed` as a workflow),
//! the read model and the `BookingStatus` search attribute agree with the
//! state, no seat stays held by a booking that ended (unless ops must
//! decide), no authorization is left open, nothing is captured without
//! `confirmed`, and no email kind is sent twice.

mod mail;

use std::time::Duration;

use serde_json::Value;
use testkit::stack::stripe_proxy::Action;
use testkit::stack::{GOOD_CARD, Handle, Stack, save_history, seats};
use workflows::contract::{BookingInput, BookingState, BookingStatus, OutcomeCode, PaymentStatus};

/// Every step's retry budget in these tests: long enough for one or two
/// retries, short enough for a test.
const BUDGET_MS: u64 = 3_000;

/// A booking of `seat` with the short budget, started.
async fn book(stack: &Stack, flight: i64, seat: &str) -> (Handle, String) {
    book_with(stack, flight, seat, |_| {}).await
}

/// Like [`book`], once the seat is held and the booking awaits payment.
async fn book_held(stack: &Stack, flight: i64, seat: &str) -> (Handle, String) {
    let (handle, booking_id) = book(stack, flight, seat).await;
    stack.wait_awaiting_payment(&handle).await;
    (handle, booking_id)
}

/// Like [`book`], with the input adjusted first.
async fn book_with(
    stack: &Stack,
    flight: i64,
    seat: &str,
    adjust: impl FnOnce(&mut BookingInput),
) -> (Handle, String) {
    let mut input = stack.input(flight, seats(&[seat]));
    input.step_budget_ms = Some(BUDGET_MS);
    adjust(&mut input);
    let booking_id = input.booking_id.to_string();
    (stack.start_booking(input).await, booking_id)
}

/// A `needs_attention` outcome.
fn needs_attention(state: &BookingState) -> bool {
    state
        .outcome
        .as_ref()
        .is_some_and(|o| o.code == OutcomeCode::NeedsAttention)
}

/// Waits for the booking to end, then checks every promise of a defined
/// end; returns the final state.
async fn assert_ended(
    stack: &Stack,
    handle: &Handle,
    booking_id: &str,
    status: BookingStatus,
) -> BookingState {
    let state = stack
        .wait_for(handle, Duration::from_secs(90), |s| s.status.is_final())
        .await;
    assert_eq!(state.status, status, "{state:#?}");
    // The workflow completed (it did not fail), with this state.
    let result = handle
        .get_result(Default::default())
        .await
        .expect("the workflow completes");
    assert_eq!(result.status, status);

    // The read model and the search attribute agree.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let model = stack.db().read_model(booking_id).await.map(|(s, _)| s);
        if model.as_deref() == Some(status.as_str()) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "read model says {model:?}, the workflow {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        stack.keyword(handle, "BookingStatus").await.as_deref(),
        Some(status.as_str())
    );

    // Stripe: no authorization left open; a capture only when confirmed,
    // and then refunded if the booking did not stay confirmed. (A booking
    // that needs attention keeps what ops must see: each test checks it.)
    for intent in intents(stack).await {
        if status == BookingStatus::NeedsAttention {
            break;
        }
        assert_ne!(
            intent["status"], "requires_capture",
            "an authorization left open: {intent}"
        );
        if intent["status"] == "succeeded" {
            let refunds = stack.stripe().refunds(intent["id"].as_str().unwrap()).await;
            assert!(
                status == BookingStatus::Confirmed || refunds.len() == 1,
                "captured without a confirmed booking: {intent}"
            );
        }
    }

    // One email per kind at most.
    let mut subjects: Vec<String> = stack
        .mail()
        .all()
        .iter()
        .filter_map(|m| {
            m.lines()
                .find(|l| l.starts_with("Subject:"))
                .map(str::to_owned)
        })
        .collect();
    let all = subjects.len();
    subjects.sort();
    subjects.dedup();
    assert_eq!(subjects.len(), all, "an email sent twice: {subjects:?}");
    state
}

/// Every PaymentIntent localstripe holds (each test has its own).
async fn intents(stack: &Stack) -> Vec<Value> {
    stack.stripe().get("/v1/payment_intents").await["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The booking holds no seat, and the flight has as many seats free as
/// `before` it.
async fn assert_seats_freed(stack: &Stack, booking_id: &str, flight: i64, before: i64) {
    assert_no_seat_held(stack, booking_id).await;
    assert_eq!(stack.flights.seats_available(flight).await, before);
}

/// The booking holds no seat at the flight service.
async fn assert_no_seat_held(stack: &Stack, booking_id: &str) {
    let (code, hold) = stack.flights.hold_status(booking_id).await;
    assert!(
        code == 404 || hold["status"] == "released",
        "seats still held: {code} {hold}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_stripe_refuses_to_create_fails_the_booking_and_frees_the_seat() {
    let (stack, flight, before) = Stack::with_small_flight_and_seats("fault-create-refused").await;
    stack.stripe_proxy.on(
        "POST",
        "/v1/payment_intents",
        "/payment_intents",
        Action::refusal("Amount must be no more than $999,999.99"),
    );
    let (handle, booking_id) = book(&stack, flight, "3A").await;
    let state = assert_ended(&stack, &handle, &booking_id, BookingStatus::Failed).await;
    assert!(
        state.outcome.as_ref().unwrap().code == OutcomeCode::PaymentRejected,
        "{state:#?}"
    );
    assert_seats_freed(&stack, &booking_id, flight, before).await;
    save_history(&handle, "payment_create_refused").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_down_past_the_budget_at_create_fails_the_booking_and_frees_the_seat() {
    let (stack, flight) = Stack::with_small_flight("fault-create-down").await;
    stack.stripe_proxy.on(
        "POST",
        "/v1/payment_intents",
        "/payment_intents",
        Action::outage(),
    );
    let (handle, booking_id) = book(&stack, flight, "3B").await;
    let state = assert_ended(&stack, &handle, &booking_id, BookingStatus::Failed).await;
    assert_eq!(
        state.outcome.map(|o| o.code),
        Some(OutcomeCode::PaymentUnavailable)
    );
    assert_no_seat_held(&stack, &booking_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flight_service_down_past_the_budget_at_the_hold_needs_attention_and_holds_nothing() {
    let (stack, flight, before) = Stack::with_small_flight_and_seats("fault-hold-down").await;
    stack.proxy.set_up(false);
    let (handle, booking_id) = book(&stack, flight, "3C").await;
    // Nothing was held, but the release that proves it cannot reach the
    // flight service either: ops are told.
    let state = assert_ended(&stack, &handle, &booking_id, BookingStatus::NeedsAttention).await;
    assert!(needs_attention(&state), "{state:#?}");
    stack.proxy.set_up(true);
    assert_seats_freed(&stack, &booking_id, flight, before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_down_during_an_authorization_lets_the_traveller_try_again() {
    let (stack, flight) = Stack::with_small_flight("fault-authorize-down").await;
    let (handle, booking_id) = book(&stack, flight, "4A").await;
    let held = stack.wait_awaiting_payment(&handle).await;
    let first = held.payment.payment_intent_id.clone().unwrap();
    stack
        .stripe_proxy
        .on_intent_step("/confirm", Action::outage());
    let answer = stack.pay(&handle, GOOD_CARD).await;
    assert_eq!(answer.status, BookingStatus::AwaitingPayment, "{answer:#?}");
    let error = answer.payment.last_error.clone().expect("the reason");
    assert_eq!(error.code, "payment_unavailable");
    assert_eq!(stack.stripe().intent(&first).await["status"], "canceled");

    stack.stripe_proxy.clear();
    let paid = stack.pay(&handle, GOOD_CARD).await;
    assert_eq!(paid.status, BookingStatus::Confirmed, "{paid:#?}");
    assert_eq!(paid.payment.attempts, 2);
    stack.cancel(&handle).await;
    assert_ended(&stack, &handle, &booking_id, BookingStatus::Cancelled).await;
    assert_no_seat_held(&stack, &booking_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_closing_during_an_authorization_voids_it_and_frees_the_seat() {
    let (stack, flight) = Stack::with_small_flight("fault-authorize-window").await;
    let (handle, booking_id) = book_with(&stack, flight, "4B", |input| {
        // Long enough for the void to wait out the late authorization.
        input.step_budget_ms = Some(15_000);
        input.payment_window_ms = 4_000;
    })
    .await;
    stack.wait_awaiting_payment(&handle).await;
    // The card network answers after the window has closed.
    stack
        .stripe_proxy
        .on_intent_step("/confirm", Action::Delay(Duration::from_secs(6)));
    let payer = stack.pay_in_background(&handle, GOOD_CARD).await;
    let state = assert_ended(&stack, &handle, &booking_id, BookingStatus::Expired).await;
    assert_eq!(state.payment.status, PaymentStatus::Cancelled);
    let answer = payer.await.unwrap().expect("the payment is answered");
    assert_eq!(answer.status, BookingStatus::Expired);
    assert_no_seat_held(&stack, &booking_id).await;
    // The late authorization was voided once it finished.
    let intent = state.payment.payment_intent_id.clone().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while stack.stripe().intent(&intent).await["status"] != "canceled" {
        assert!(std::time::Instant::now() < deadline, "left authorized");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_the_flight_service_refuses_to_confirm_void_the_payment_and_free_the_seat() {
    let (stack, flight) = Stack::with_small_flight("fault-confirm-refused").await;
    let (handle, booking_id) = book_held(&stack, flight, "5A").await;
    // The airline cancels the flight; no fan-out runs in this test, so the
    // confirmation itself must refuse it.
    let r = stack
        .flights
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/flights/{flight}"),
            serde_json::json!({"status": "cancelled"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let answer = stack.pay(&handle, GOOD_CARD).await;
    assert_eq!(answer.status, BookingStatus::Failed, "{answer:#?}");
    let state = assert_ended(&stack, &handle, &booking_id, BookingStatus::Failed).await;
    assert_eq!(state.payment.status, PaymentStatus::Cancelled);
    let outcome = state.outcome.unwrap();
    assert_eq!(outcome.code, OutcomeCode::ConfirmationFailed);
    assert!(outcome.detail.unwrap().starts_with("flight_cancelled"));
    assert_no_seat_held(&stack, &booking_id).await;
    save_history(&handle, "confirm_refused").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_stripe_refuses_voids_the_payment_and_frees_the_seat() {
    let (stack, flight, before) = Stack::with_small_flight_and_seats("fault-capture-refused").await;
    let (handle, booking_id) = book_held(&stack, flight, "6A").await;
    stack.stripe_proxy.on_intent_step(
        "/capture",
        Action::refusal("This PaymentIntent could not be captured"),
    );
    let answer = stack.pay(&handle, GOOD_CARD).await;
    assert_eq!(answer.status, BookingStatus::Failed, "{answer:#?}");
    assert_ended(&stack, &handle, &booking_id, BookingStatus::Failed).await;
    assert_seats_freed(&stack, &booking_id, flight, before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_down_past_the_budget_at_capture_needs_attention() {
    let (stack, flight) = Stack::with_small_flight("fault-capture-down").await;
    let (handle, booking_id) = book_held(&stack, flight, "6B").await;
    stack
        .stripe_proxy
        .on_intent_step("/capture", Action::outage());
    let answer = stack.pay(&handle, GOOD_CARD).await;
    assert_eq!(answer.status, BookingStatus::NeedsAttention, "{answer:#?}");
    let state = assert_ended(&stack, &handle, &booking_id, BookingStatus::NeedsAttention).await;
    assert!(needs_attention(&state), "{state:#?}");
    // Whether Stripe captured is unknown to the booking: the seats stay
    // sold and the authorization stays for ops, who see both.
    let (_, hold) = stack.flights.hold_status(&booking_id).await;
    assert_eq!(hold["status"], "confirmed");
    let intent = state.payment.payment_intent_id.clone().unwrap();
    assert_eq!(
        stack.stripe().intent(&intent).await["status"],
        "requires_capture"
    );
    save_history(&handle, "capture_needs_attention").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_stripe_refuses_needs_attention_and_the_seat_stays_sold() {
    let (stack, flight) = Stack::with_small_flight("fault-refund-refused").await;
    let (handle, booking_id) = book_held(&stack, flight, "7A").await;
    let paid = stack.pay(&handle, GOOD_CARD).await;
    assert_eq!(paid.status, BookingStatus::Confirmed);
    stack.stripe_proxy.on(
        "POST",
        "/v1/refunds",
        "/refunds",
        Action::refusal("Charge has been disputed"),
    );
    let answer = stack.cancel(&handle).await;
    assert_eq!(answer.status, BookingStatus::NeedsAttention, "{answer:#?}");
    assert_ended(&stack, &handle, &booking_id, BookingStatus::NeedsAttention).await;
    let (_, hold) = stack.flights.hold_status(&booking_id).await;
    assert_eq!(hold["status"], "confirmed");
    assert!(
        stack.mail().about("cancelled").is_empty(),
        "no cancellation email yet"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flight_service_down_past_the_budget_at_expiry_needs_attention() {
    let (stack, flight) = Stack::with_small_flight("fault-release-down").await;
    let (handle, booking_id) = book_with(&stack, flight, "8A", |input| {
        input.step_budget_ms = Some(BUDGET_MS);
        input.payment_window_ms = 2_000;
    })
    .await;
    stack.wait_awaiting_payment(&handle).await;
    stack.proxy.set_up(false);
    let state = assert_ended(&stack, &handle, &booking_id, BookingStatus::NeedsAttention).await;
    assert!(needs_attention(&state), "{state:#?}");
    stack.proxy.set_up(true);
    // The seat is still held, and ops know it: the state says so.
    let (_, hold) = stack.flights.hold_status(&booking_id).await;
    assert_eq!(hold["status"], "held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_while_confirming_is_refused_and_the_booking_confirms_once() {
    let (stack, flight) = Stack::with_small_flight("fault-cancel-confirming").await;
    let (handle, booking_id) = book_with(&stack, flight, "9A", |input| {
        input.step_budget_ms = Some(60_000);
    })
    .await;
    stack.wait_awaiting_payment(&handle).await;
    // The flight service away for a moment keeps the booking `confirming`.
    stack.proxy.set_up(false);
    let payer = stack.pay_in_background(&handle, GOOD_CARD).await;
    stack.wait_status(&handle, BookingStatus::Confirming).await;
    let refused = handle
        .execute_update(
            workflows::BookingWorkflow::cancel,
            Default::default(),
            Default::default(),
        )
        .await
        .expect_err("a cancel while confirming is refused");
    assert!(
        refused.to_string().contains("booking_confirming"),
        "{refused}"
    );
    stack.proxy.set_up(true);
    let paid = payer.await.unwrap().expect("the payment is answered");
    assert_eq!(paid.status, BookingStatus::Confirmed);
    stack.mail().wait("confirmed", 1).await;

    // The client retries once confirmed: an ordinary cancel.
    let cancelled = stack.cancel(&handle).await;
    assert_eq!(cancelled.status, BookingStatus::Cancelled);
    let state = assert_ended(&stack, &handle, &booking_id, BookingStatus::Cancelled).await;
    let intent = state.payment.payment_intent_id.clone().unwrap();
    let charges = stack.stripe().intent(&intent).await["charges"]["data"]
        .as_array()
        .cloned()
        .unwrap();
    assert_eq!(charges.len(), 1, "one capture");
    assert_eq!(stack.stripe().refunds(&intent).await.len(), 1, "one refund");
    assert_eq!(stack.mail().wait("confirmed", 1).await.len(), 1);
    assert_eq!(stack.mail().wait("cancelled", 1).await.len(), 1);
    assert_no_seat_held(&stack, &booking_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_to_stripe_has_an_idempotency_key_and_no_redirect_methods() {
    let (stack, flight) = Stack::with_small_flight("stripe-contract").await;
    let (handle, _) = book_held(&stack, flight, "10A").await;
    let declined = stack.pay(&handle, testkit::stack::DECLINED_CARD).await;
    assert_eq!(declined.status, BookingStatus::AwaitingPayment);
    let paid = stack.pay(&handle, GOOD_CARD).await;
    assert_eq!(paid.status, BookingStatus::Confirmed);
    stack.cancel(&handle).await;

    let requests = stack.stripe_proxy.requests();
    let posts: Vec<_> = requests.iter().filter(|r| r.method == "POST").collect();
    // create ×2, attach ×2, confirm ×2, cancel (the declined one),
    // capture, refund.
    assert!(posts.len() >= 9, "{posts:#?}");
    for post in &posts {
        let key = post.header("idempotency-key");
        assert!(
            key.is_some_and(|k| !k.is_empty()),
            "no Idempotency-Key on {} {}",
            post.method,
            post.path
        );
    }
    let creates: Vec<_> = posts
        .iter()
        .filter(|r| r.path == "/v1/payment_intents")
        .collect();
    assert_eq!(creates.len(), 2);
    for create in creates {
        let form: Vec<(String, String)> = form_urlencoded(&create.body);
        let has = |k: &str, v: &str| form.iter().any(|(a, b)| a == k && b == v);
        assert!(
            has("automatic_payment_methods[enabled]", "true")
                && has("automatic_payment_methods[allow_redirects]", "never"),
            "a PaymentIntent that Stripe would not let the server confirm: {}",
            create.body
        );
        assert!(has("capture_method", "manual"), "{}", create.body);
    }
    // Keys differ between steps and attempts.
    let mut keys: Vec<_> = posts
        .iter()
        .filter_map(|p| p.header("idempotency-key"))
        .collect();
    let all = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), all, "an idempotency key reused across steps");
}

fn form_urlencoded(body: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}
