//! The booking workflow end to end, against the real stack: Temporal dev
//! server, flight service, localstripe, SMTP sink, PostgreSQL, and the
//! `worker` binary.

use std::time::Duration;

use testkit::stack::{DECLINED_CARD, GOOD_CARD, Stack, flights::utc_in_days, save_history, seats};
use workflows::contract::{BookingStatus, Cabin, OutcomeCode, PaymentStatus, SeatSelection};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_paid_confirmed_then_reminded() {
    let (stack, flight, before) = Stack::with_small_flight_and_seats("happy").await;

    // The flight leaves in ~9 days: a lead of (time to departure - 10 s) puts the
    // reminder about 10 s after the start, after confirmation.
    let mut input = stack.input(flight, seats(&["3A", "3B"]));
    let departure = chrono::DateTime::parse_from_rfc3339(&utc_in_days(9, 10, 0)).unwrap();
    let lead = departure.signed_duration_since(chrono::Utc::now()) - chrono::TimeDelta::seconds(10);
    input.reminder_lead_ms = lead.num_milliseconds() as u64;
    let booking_id = input.booking_id;
    let (handle, held) = stack.held_booking(input).await;
    assert_eq!(held.seats.len(), 2);
    assert_eq!(held.total.as_ref().unwrap().amount(), 20000);
    assert!(held.payment_due_at.is_some());
    assert!(held.payment.client_secret.is_some());
    assert_eq!(stack.flights.seats_available(flight).await, before - 2);

    let paid = stack.pay(&handle, GOOD_CARD).await;
    assert_eq!(paid.status, BookingStatus::Confirmed, "{paid:#?}");
    assert_eq!(paid.payment.status, PaymentStatus::Captured);
    assert_eq!(paid.ticket_numbers.len(), 2);
    assert!(paid.ticket_numbers.iter().all(|t| t.len() == 13));

    // One capture at Stripe, the seats sold at the flight service.
    let intent = stack.stripe().intent_of(&paid).await;
    assert_eq!(intent["status"], "succeeded", "{intent}");
    let charges = intent["charges"]["data"].as_array().unwrap();
    assert_eq!(charges.len(), 1, "one charge: {intent}");
    assert_eq!(charges[0]["captured"], true);
    assert_eq!(charges[0]["amount"], 20000);
    let (code, hold) = stack.flights.hold_status(&booking_id).await;
    assert_eq!((code, hold["status"].as_str()), (200, Some("confirmed")));

    // The confirmation email, with seats and ticket numbers.
    let mails = stack.mail().wait("confirmed", 1).await;
    assert_eq!(mails.len(), 1, "one confirmation email");
    // Times in the airports' local time: LHR departs 10:00 GMT, CDG
    // arrives 70 minutes later, 12:10 CET.
    for needle in [
        "3A",
        "3B",
        &paid.ticket_numbers[0],
        paid.booking_ref.as_str(),
        "10:00 GMT (UTC+00:00)",
        "12:10 CET (UTC+01:00)",
    ] {
        assert!(
            mails[0].contains(needle),
            "{needle} missing from {}",
            mails[0]
        );
    }

    // The check-in reminder a few seconds later, once.
    let reminded = stack
        .wait_for(&handle, Duration::from_secs(30), |s| s.reminder_sent)
        .await;
    assert_eq!(reminded.status, BookingStatus::Confirmed);
    assert_eq!(stack.mail().wait("Check-in reminder", 1).await.len(), 1);

    // Ops can find it in the Web UI.
    assert_eq!(
        stack.keyword(&handle, "BookingStatus").await.as_deref(),
        Some("confirmed")
    );
    assert_eq!(
        stack.keyword(&handle, "FlightNumber").await.as_deref(),
        Some("ZZ10")
    );

    // The read model and the event log follow the workflow.
    let (status, _) = stack
        .db()
        .read_model(&booking_id)
        .await
        .expect("read model row");
    assert_eq!(status, "confirmed");
    assert_eq!(
        stack.db().events(&booking_id).await,
        ["holding", "awaiting_payment", "confirming", "confirmed"]
    );
    save_history(&handle, "confirmed_reminded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_expiry_cancels_the_intent_and_releases_the_seats() {
    let (stack, flight, before) = Stack::with_small_flight_and_seats("expiry").await;
    let mut input = stack.input(
        flight,
        SeatSelection::Cabin {
            cabin: Cabin::Economy,
            count: 2,
        },
    );
    input.payment_window_ms = 2_000;
    let booking_id = input.booking_id;
    let (handle, held) = stack.held_booking(input).await;
    assert_eq!(stack.flights.seats_available(flight).await, before - 2);
    let intent_id = held.payment.payment_intent_id.clone().unwrap();

    let expired = stack.wait_status(&handle, BookingStatus::Expired).await;
    assert_eq!(expired.payment.status, PaymentStatus::Cancelled);
    assert_eq!(
        stack.stripe().intent(&intent_id).await["status"],
        "canceled"
    );
    assert_eq!(stack.flights.seats_available(flight).await, before);
    let (_, hold) = stack.flights.hold_status(&booking_id).await;
    assert_eq!(hold["status"], "released");
    assert_eq!(stack.mail().wait("expired", 1).await.len(), 1);
    // A payment after the window is refused.
    let pm = stack.stripe().payment_method(GOOD_CARD).await;
    let late = handle
        .execute_update(
            workflows::BookingWorkflow::submit_payment,
            workflows::contract::PaymentRequest {
                payment_method: pm.parse().unwrap(),
            },
            Default::default(),
        )
        .await;
    assert!(late.is_err(), "a payment after expiry must be rejected");
    save_history(&handle, "expired").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_card_then_good_card_confirms() {
    let (stack, flight) = Stack::with_small_flight("declined").await;
    let (handle, held) = stack.held_booking_of(flight, &["2A"]).await;
    let first_intent = held.payment.payment_intent_id.clone().unwrap();

    let declined = stack.pay(&handle, DECLINED_CARD).await;
    assert_eq!(declined.status, BookingStatus::AwaitingPayment);
    let error = declined.payment.last_error.clone().expect("decline reason");
    assert!(!error.code.is_empty(), "{error:?}");
    assert_eq!(
        declined.payment.attempts, 2,
        "a fresh intent for the next try"
    );
    assert_ne!(
        declined.payment.payment_intent_id.as_deref(),
        Some(&*first_intent)
    );

    let paid = stack.pay(&handle, GOOD_CARD).await;
    assert_eq!(paid.status, BookingStatus::Confirmed, "{paid:#?}");
    assert_eq!(paid.payment.last_error, None);
    let intent = stack.stripe().intent_of(&paid).await;
    assert_eq!(intent["status"], "succeeded");
    // The declined attempt's intent was cancelled, never charged.
    let first = stack.stripe().intent(&first_intent).await;
    assert_eq!(first["status"], "canceled", "{first}");
    save_history(&handle, "declined_then_paid").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_allowed_decline_cancels_and_releases() {
    let (stack, flight, before) = Stack::with_small_flight_and_seats("declines-capped").await;
    let mut input = stack.input(flight, seats(&["2C"]));
    input.max_payment_attempts = Some(2);
    let reference = input.booking_ref.to_string();
    let (handle, _) = stack.held_booking(input).await;

    let declined = stack.pay(&handle, DECLINED_CARD).await;
    assert_eq!(declined.status, BookingStatus::AwaitingPayment);
    let last = stack.pay(&handle, DECLINED_CARD).await;
    assert_eq!(last.status, BookingStatus::Cancelled, "{last:#?}");
    assert_eq!(
        last.outcome.as_ref().map(|o| o.code),
        Some(OutcomeCode::PaymentAttemptsExhausted),
        "{:?}",
        last.outcome
    );
    assert_eq!(last.payment.status, PaymentStatus::Cancelled);
    assert_eq!(stack.flights.seats_available(flight).await, before);
    let subject = format!("Your booking {reference} is cancelled");
    assert_eq!(stack.mail().wait(&subject, 1).await.len(), 1);
    save_history(&handle, "payment_attempts_capped").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_before_payment_releases_and_charges_nothing() {
    let (stack, flight, before) = Stack::with_small_flight_and_seats("cancel-early").await;
    let (handle, held) = stack.held_booking_of(flight, &["4A"]).await;

    let cancelled = stack.cancel(&handle).await;
    assert_eq!(cancelled.status, BookingStatus::Cancelled);
    assert_eq!(cancelled.payment.refund, None);
    let intent = stack.stripe().intent_of(&held).await;
    assert_eq!(intent["status"], "canceled");
    stack.assert_released_and_mailed(flight, before).await;
    save_history(&handle, "cancelled_before_payment").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_after_confirmation_refunds_once_and_releases() {
    let (stack, flight, before) = Stack::with_small_flight_and_seats("cancel-late").await;
    let (handle, paid) = stack.confirmed_booking_of(flight, &["5A", "5B"]).await;
    let intent_id = paid.payment.payment_intent_id.clone().unwrap();

    // Two cancels at once: one refund.
    let (a, b) = tokio::join!(stack.cancel(&handle), stack.cancel(&handle));
    assert_eq!(a.status, BookingStatus::Cancelled);
    assert_eq!(b.status, BookingStatus::Cancelled);
    let refund = a.payment.refund.clone().expect("refund details");
    assert_eq!(refund.amount.amount(), 20000);
    assert_eq!(a.payment.status, PaymentStatus::Refunded);

    let refunds = stack.stripe().refunds(&intent_id).await;
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    let mail = stack.assert_released_and_mailed(flight, before).await;
    assert!(mail.contains("200.00"), "refund amount in {mail}");
    save_history(&handle, "cancelled_after_confirmation").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_seats_fails_cleanly_without_charge_or_email() {
    let (stack, flight) = Stack::with_small_flight("no-seats").await;
    stack.held_booking_of(flight, &["6A"]).await;

    let input = stack.input(flight, seats(&["6A"]));
    let booking_id = input.booking_id;
    let second = stack.start_booking(input).await;
    let failed = stack.wait_status(&second, BookingStatus::Failed).await;
    assert_eq!(
        failed.outcome.map(|o| o.code),
        Some(OutcomeCode::SeatsUnavailable)
    );
    assert_eq!(failed.payment.attempts, 0);
    assert_eq!(failed.payment.payment_intent_id, None);
    let intents = stack.stripe().get("/v1/payment_intents").await;
    let ours = intents["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["metadata"]["booking_id"] == booking_id.to_string())
        .count();
    assert_eq!(ours, 0, "nothing charged");
    assert_eq!(
        stack.db().read_model(&booking_id).await.unwrap().0,
        "failed"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        stack.mail().all().is_empty(),
        "no email for a booking that never held"
    );
    save_history(&second, "no_seats").await;
}
