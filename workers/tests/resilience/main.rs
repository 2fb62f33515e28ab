//! What must survive: a worker killed mid-booking, a worker stopped
//! (SIGTERM) mid-activity, the flight service down
//! for a while, activities executed twice, messages from outside (the
//! Stripe webhook, schedule changes, flight cancellations, an operator's
//! cancel).

mod twice;

use std::time::{Duration, Instant};

use activities::config::ActivitiesConfig;
use activities::email::{SmtpConfig, SmtpTls};
use activities::handlers::Activities;
use activities::inventory::InventoryConfig;
use activities::payments::StripeConfig;
use activities::sms::SmsConfig;
use temporalio_client::{WorkflowCancelOptions, WorkflowHistory, WorkflowSignalOptions};
use temporalio_common::protos::temporal::api::enums::v1::EventType;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};
use testkit::stack::{GOOD_CARD, Stack, save_history, seats};
use workflows::BookingWorkflow;
use workflows::activities::{
    Authorization, AuthorizePayment, CreatePayment, EmailKind, HoldSeats, PaymentRef, SendEmail,
};
use workflows::contract::{
    BookingStatus, FlightCancelled, Money, PaymentAuthorized, PaymentStatus, ScheduleChange,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_killed_mid_booking_then_a_new_one_finishes_it() {
    let (mut stack, flight) = Stack::with_small_flight("worker-killed").await;
    let input = stack.input(flight, seats(&["7A"]));
    let booking_id = input.booking_id;
    let (handle, _) = stack.held_booking(input).await;

    // Pay, and kill the worker while the payment is being processed.
    let payer = stack.pay_in_background(&handle, GOOD_CARD).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    stack.kill_worker();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stack.start_worker().await;

    let confirmed = stack
        .wait_for(&handle, Duration::from_secs(90), |s| {
            s.status == BookingStatus::Confirmed
        })
        .await;
    assert_eq!(confirmed.payment.status, PaymentStatus::Captured);
    let intent = stack.stripe().intent_of(&confirmed).await;
    assert_eq!(intent["charges"]["data"].as_array().unwrap().len(), 1);
    let (_, hold) = stack.flights.hold_status(&booking_id).await;
    assert_eq!(hold["status"], "confirmed");
    assert_eq!(stack.mail().wait("confirmed", 1).await.len(), 1);
    if let Ok(Ok(Ok(answer))) = tokio::time::timeout(Duration::from_secs(5), payer).await {
        assert_eq!(answer.status, BookingStatus::Confirmed);
    }
}

/// Kubernetes stops a pod with SIGTERM. The worker stops taking tasks,
/// finishes the activity it is running (the hold, slowed down here to last
/// 2 s), reports it, and exits; the next worker continues the booking at
/// once: the stopped worker told the server its sticky queue is gone, so
/// the next workflow task goes to the shared queue instead of timing out
/// on the sticky one (a `WorkflowTaskTimedOut` event, about 10 s, after a
/// `kill -9`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_worker_finishes_its_activity_and_the_next_continues_without_a_stall() {
    let mut stack = Stack::start_without_worker("worker-drained").await;
    // Production's log format, to check that its lines carry the booking id.
    stack.start_worker_with(&[("LOG_FORMAT", "json")]).await;
    stack.wait_worker_ready().await;
    let flight = stack.flights.small_flight().await;
    // Slow, but within the activities' 3 s FLIGHTS_TIMEOUT of the tests.
    stack.proxy.set_delay(Duration::from_secs(2));
    let opened = stack.proxy.connections();
    let input = stack.input(flight, seats(&["9C"]));
    let booking_id = input.booking_id;
    let handle = stack.start_booking(input).await;

    // The hold is running once its request reaches the slow relay.
    let deadline = Instant::now() + Duration::from_secs(30);
    while stack.proxy.connections() == opened {
        assert!(Instant::now() < deadline, "the hold never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut stopping = stack.terminate_worker();
    let stopped_at = Instant::now();

    // Draining: alive, not ready.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stack.worker_http_status("/readyz").await, 503);
    assert_eq!(stack.worker_http_status("/healthz").await, 200);

    let status = stopping.exited(Duration::from_secs(20)).await;
    let drained_for = stopped_at.elapsed();
    assert!(status.success(), "the worker exited with {status}");
    assert!(
        drained_for >= Duration::from_secs(1),
        "the worker exited after {drained_for:?}, before the 2 s hold could finish"
    );
    let (code, hold) = stack.flights.hold_status(&booking_id).await;
    assert_eq!(code, 200, "{hold}");
    assert_eq!(hold["status"], "held");

    // Its log: one JSON object a line; the hold's line names the booking.
    let log = std::fs::read_to_string(stack.worker_log(1)).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "seats held"
                && l["span"]["booking_id"] == booking_id.to_string()),
        "no \"seats held\" line with booking_id {booking_id}:\n{log}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "shutdown requested: no new tasks; draining running ones"),
        "{log}"
    );

    // The hold completed on its first attempt, reported by the stopped worker.
    let events = handle
        .fetch_history(Default::default())
        .into_events()
        .await
        .unwrap();
    let scheduled: std::collections::HashMap<i64, String> = events
        .iter()
        .filter_map(|e| match &e.attributes {
            Some(Attributes::ActivityTaskScheduledEventAttributes(a)) => {
                Some((e.event_id, a.activity_type.as_ref()?.name.clone()))
            }
            _ => None,
        })
        .collect();
    let mut started: Vec<(String, i32)> = events
        .iter()
        .filter_map(|e| match &e.attributes {
            Some(Attributes::ActivityTaskStartedEventAttributes(a)) => {
                Some((scheduled[&a.scheduled_event_id].clone(), a.attempt))
            }
            _ => None,
        })
        .collect();
    // On the fast path the hold is a local activity: a marker, recorded by
    // the stopped worker when it completed its workflow task.
    started.extend(events.iter().filter_map(|e| match &e.attributes {
        Some(Attributes::MarkerRecordedEventAttributes(m))
            if m.marker_name == "core_local_activity" =>
        {
            let data = m.details.get("data")?.payloads.first()?;
            let data: serde_json::Value = serde_json::from_slice(&data.data).ok()?;
            Some((
                data["activity_type"].as_str()?.to_owned(),
                data["attempt"].as_i64()? as i32,
            ))
        }
        _ => None,
    }));
    assert!(
        started.contains(&("hold_seats".to_owned(), 1)) && started.iter().all(|(_, n)| *n == 1),
        "the hold ran once, nothing was retried: {started:?}"
    );
    assert!(
        events.iter().any(|e| matches!(
            e.event_type(),
            EventType::ActivityTaskCompleted | EventType::MarkerRecorded
        )),
        "the hold's completion is in the history"
    );

    stack.proxy.set_delay(Duration::ZERO);
    stack.start_worker().await;
    let started = Instant::now();
    stack.wait_awaiting_payment(&handle).await;
    let continued_after = started.elapsed();
    let events = handle
        .fetch_history(Default::default())
        .into_events()
        .await
        .unwrap();
    let timed_out: Vec<_> = events
        .iter()
        .filter(|e| e.event_type() == EventType::WorkflowTaskTimedOut)
        .map(|e| e.event_id)
        .collect();
    assert!(
        timed_out.is_empty(),
        "sticky-queue stall: workflow tasks timed out at events {timed_out:?}"
    );
    eprintln!(
        "drained in {drained_for:?}; the next worker had the booking awaiting payment \
         {continued_after:?} after it started"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flight_service_down_during_hold_and_confirm_is_retried() {
    let (stack, flight) = Stack::with_small_flight("flights-down").await;

    // Down before the hold: the booking waits in `holding`.
    stack.proxy.set_up(false);
    let input = stack.input(flight, seats(&["8A"]));
    let booking_id = input.booking_id;
    let handle = stack.start_booking(input).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(stack.status(&handle).await.status, BookingStatus::Holding);
    stack.proxy.set_up(true);
    stack.wait_awaiting_payment(&handle).await;

    // Down before the confirmation: paid, then `confirming` until it is back.
    stack.proxy.set_up(false);
    let payer = stack.pay_in_background(&handle, GOOD_CARD).await;
    stack.wait_status(&handle, BookingStatus::Confirming).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        stack.status(&handle).await.status,
        BookingStatus::Confirming
    );
    stack.proxy.set_up(true);
    let answer = payer.await.unwrap().expect("the payment is answered");
    assert_eq!(answer.status, BookingStatus::Confirmed);
    let (_, hold) = stack.flights.hold_status(&booking_id).await;
    assert_eq!(hold["status"], "confirmed");
    save_history(&handle, "flight_service_outage").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_signal_confirms_a_payment_made_at_stripe() {
    let (stack, flight) = Stack::with_small_flight("webhook").await;
    let (handle, held) = stack.held_booking_of(flight, &["10A"]).await;
    let intent = held.payment.payment_intent_id.clone().unwrap();

    // The traveller's browser confirms the intent with Stripe directly.
    stack.stripe().set_card(&intent, GOOD_CARD).await;
    let confirmed = stack
        .stripe()
        .post(&format!("/v1/payment_intents/{intent}/confirm"), &[])
        .await;
    assert_eq!(confirmed["status"], "requires_capture", "{confirmed}");

    // The gateway turns the verified webhook into this signal.
    handle
        .signal(
            BookingWorkflow::payment_authorized,
            PaymentAuthorized {
                payment_intent_id: intent.clone(),
            }
            .into(),
            WorkflowSignalOptions::default(),
        )
        .await
        .unwrap();
    let done = stack.wait_status(&handle, BookingStatus::Confirmed).await;
    assert_eq!(done.payment.status, PaymentStatus::Captured);
    assert_eq!(stack.stripe().intent(&intent).await["status"], "succeeded");
    save_history(&handle, "webhook_paid").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_change_moves_the_reminder_and_flight_cancellation_refunds() {
    let (stack, flight, before) = Stack::with_small_flight_and_seats("schedule").await;
    let (handle, paid) = stack.confirmed_booking_of(flight, &["11A"]).await;
    let old = paid.flight.as_ref().unwrap().departure_time;

    let new = old + chrono::TimeDelta::hours(3);
    handle
        .signal(
            BookingWorkflow::schedule_changed,
            ScheduleChange {
                departure_time: new,
                version: Some(3),
            }
            .into(),
            WorkflowSignalOptions::default(),
        )
        .await
        .unwrap();
    let moved = stack
        .wait_for(&handle, Duration::from_secs(30), |s| {
            s.flight.as_ref().is_some_and(|f| f.departure_time == new)
        })
        .await;
    assert_eq!(moved.status, BookingStatus::Confirmed);
    assert_eq!(stack.mail().wait("New departure time", 1).await.len(), 1);

    // An older change arriving late (version 2 after 3) changes nothing.
    handle
        .signal(
            BookingWorkflow::schedule_changed,
            ScheduleChange {
                departure_time: new + chrono::TimeDelta::hours(1),
                version: Some(2),
            }
            .into(),
            WorkflowSignalOptions::default(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let kept = stack.status(&handle).await;
    let flight_now = kept.flight.as_ref().unwrap();
    assert_eq!(flight_now.departure_time, new);
    assert_eq!(flight_now.version, Some(3));
    assert_eq!(stack.mail().about("New departure time").len(), 1);

    handle
        .signal(
            BookingWorkflow::flight_cancelled,
            FlightCancelled::default().into(),
            WorkflowSignalOptions::default(),
        )
        .await
        .unwrap();
    let cancelled = stack.wait_status(&handle, BookingStatus::Cancelled).await;
    assert_eq!(cancelled.payment.status, PaymentStatus::Refunded);
    assert_eq!(
        cancelled.payment.refund.as_ref().unwrap().amount.amount(),
        10000
    );
    stack.assert_released_and_mailed(flight, before).await;
    save_history(&handle, "schedule_change_then_flight_cancelled").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_the_workflow_runs_the_compensations() {
    let (stack, flight, before) = Stack::with_small_flight_and_seats("operator-cancel").await;
    let (handle, held) = stack.held_booking_of(flight, &["12A"]).await;

    handle
        .cancel(WorkflowCancelOptions::default())
        .await
        .unwrap();
    let done = stack.wait_status(&handle, BookingStatus::Cancelled).await;
    assert_eq!(done.payment.status, PaymentStatus::Cancelled);
    let intent = stack.stripe().intent_of(&held).await;
    assert_eq!(intent["status"], "canceled");
    assert_eq!(stack.flights.seats_available(flight).await, before);
    assert_eq!(
        stack.keyword(&handle, "BookingStatus").await.as_deref(),
        Some("cancelled")
    );
    save_history(&handle, "operator_cancel").await;
}

/// A cancel that arrives while the seats are still being held (the flight
/// service is unreachable) is kept, and acted on once the hold is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_during_the_hold_is_kept_until_the_hold_is_done() {
    let (stack, flight, before) = Stack::with_small_flight_and_seats("cancel-while-holding").await;
    stack.proxy.set_up(false);
    let handle = stack.start_booking_of(flight, &["6B"]).await;
    stack
        .wait_for(&handle, Duration::from_secs(30), |s| {
            s.status == BookingStatus::Holding && !s.history.is_empty()
        })
        .await;
    let canceller = {
        let handle = stack.handle(&handle.info().workflow_id);
        tokio::spawn(async move {
            handle
                .execute_update(
                    BookingWorkflow::cancel,
                    workflows::contract::CancelRequest::by(false),
                    Default::default(),
                )
                .await
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(stack.status(&handle).await.status, BookingStatus::Holding);
    stack.proxy.set_up(true);
    let done = canceller.await.unwrap().expect("cancel answered");
    assert_eq!(done.status, BookingStatus::Cancelled);
    assert_eq!(
        done.outcome.map(|o| o.code),
        Some(workflows::contract::OutcomeCode::CancelledByTraveller)
    );
    assert_eq!(stack.flights.seats_available(flight).await, before);
    assert_eq!(
        done.payment.attempts, 0,
        "no PaymentIntent for a cancelled booking"
    );
    save_history(&handle, "cancelled_while_holding").await;
}

/// The shape of `shared/incidents/nondeterminism-after-kill.json`, made on
/// purpose: the worker is killed while a payment's authorization runs at
/// the card network; the client's call fails and is retried (the same
/// `Idempotency-Key`, so the same update id), a second client pays with a
/// key of its own, and the status is read, while a new worker picks the
/// booking up. The retry attaches to the first payment, the second is
/// refused (`payment_in_progress`), one update is accepted, the card is
/// charged once, and the history replays against the workflow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_retried_across_a_worker_kill_is_one_payment_and_replays() {
    let (mut stack, flight) = Stack::with_small_flight("payment-retried-kill").await;
    let mut input = stack.input(flight, seats(&["6A"]));
    // Past the killed authorization's 30 s attempt timeout.
    input.payment_window_ms = 180_000;
    let (handle, _) = stack.held_booking(input).await;

    // The card network takes 2 s to answer.
    stack.stripe_proxy.on_intent_step(
        "/confirm",
        testkit::stack::stripe_proxy::Action::Delay(Duration::from_secs(2)),
    );
    let confirms = |stack: &Stack| {
        stack
            .stripe_proxy
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/confirm"))
            .count()
    };
    let first = stack
        .pay_as_update_in_background(&handle, GOOD_CARD, Some("payment:key-1"))
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while confirms(&stack) == 0 {
        assert!(Instant::now() < deadline, "the authorization never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stack.kill_worker();
    first.abort();

    let retry = stack
        .pay_as_update_in_background(&handle, GOOD_CARD, Some("payment:key-1"))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stack.start_worker().await;
    // Read while the new worker catches up, as the traveller's page does.
    let _ = tokio::time::timeout(Duration::from_secs(5), stack.status(&handle)).await;
    let other = stack
        .pay_as_update_in_background(&handle, GOOD_CARD, Some("payment:key-2"))
        .await;
    let other = other.await.unwrap();
    assert!(
        other
            .as_ref()
            .is_err_and(|e| e.contains("payment_in_progress") || e.contains("it takes no payment")),
        "a second payment was accepted: {other:?}"
    );

    let answer = tokio::time::timeout(Duration::from_secs(120), retry)
        .await
        .expect("the retried payment is answered")
        .unwrap()
        .expect("the retried payment attaches to the first");
    assert_eq!(answer.status, BookingStatus::Confirmed, "{answer:#?}");
    assert_eq!(answer.payment.status, PaymentStatus::Captured);
    let intent = stack.stripe().intent_of(&answer).await;
    assert_eq!(intent["charges"]["data"].as_array().unwrap().len(), 1);

    // One payment update in the history, and the history replays.
    let events = handle
        .fetch_history(Default::default())
        .into_events()
        .await
        .unwrap();
    let accepted = events
        .iter()
        .filter(|e| match &e.attributes {
            Some(Attributes::WorkflowExecutionUpdateAcceptedEventAttributes(a)) => a
                .accepted_request
                .as_ref()
                .and_then(|r| r.input.as_ref())
                .is_some_and(|i| i.name == "submit_payment"),
            _ => false,
        })
        .count();
    assert_eq!(accepted, 1, "payment updates accepted");
    let json = handle
        .fetch_history(Default::default())
        .to_json()
        .await
        .unwrap();
    let replayer = WorkflowReplayer::new(
        WorkflowReplayerOptions::new()
            .register_workflow::<BookingWorkflow>()
            .unwrap()
            .data_converter(testkit::stack::test_keys_converter())
            .build(),
    )
    .unwrap();
    replayer
        .replay_workflow(WorkflowHistory::from_json(&json).unwrap())
        .await
        .expect("the history replays");
    save_history(&handle, "payment_retried_across_kill").await;
}
