//! Temporal's frontend reached without the gateway. Without the payload
//! key, as anyone on its network could with the stock `temporal` CLI: every
//! message to a booking and every workflow start is refused by the worker,
//! and the booking carries on as if nothing came. With the key (the
//! tests' client): a booking outside the gateway's bounds, or one the
//! gateway never recorded, holds nothing.

use std::process::Output;
use std::time::Duration;

use temporalio_common::protos::temporal::api::enums::v1::EventType;
use testkit::stack::{GOOD_CARD, Stack, save_history, seats, venv_bin};
use workflows::contract::{BookingStatus, Cabin, OutcomeCode, SeatSelection, workflow_id};

/// The `temporal` CLI on the stack's dev server, without a codec.
fn cli(stack: &Stack, args: &[&str]) -> Output {
    std::process::Command::new(venv_bin("temporal"))
        .args(args)
        .arg("--address")
        .arg(format!("127.0.0.1:{}", stack.temporal_port))
        .output()
        .expect("the temporal CLI runs (scripts/venv.sh)")
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn event_types(handle: &testkit::stack::Handle) -> Vec<EventType> {
    handle
        .fetch_history(Default::default())
        .into_events()
        .await
        .expect("history")
        .iter()
        .map(|e| e.event_type())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_the_key_can_neither_cancel_nor_signal_a_booking() {
    let (stack, flight, before) = Stack::with_small_flight_and_seats("frontend-messages").await;
    let (handle, held) = stack.held_booking_of(flight, &["7A"]).await;
    let id = handle.info().workflow_id.clone();
    let intent = held.payment.payment_intent_id.clone().unwrap();

    // The cancel update with a plain argument, and with none at all (no
    // payload for the codec to refuse: the workflow's input type does).
    for input in [Some(r#"{"reason":"forged"}"#), None] {
        let mut args = vec!["workflow", "update", "execute", "--workflow-id", &id];
        args.extend(["--name", "cancel"]);
        if let Some(input) = input {
            args.extend(["--input", input]);
        }
        let out = cli(&stack, &args);
        assert!(
            !out.status.success(),
            "cancel {input:?} taken: {}",
            said(&out)
        );
    }

    // The signals: the server records them (it cannot read payloads), the
    // workflow ignores every one. The last poses as sealed.
    let authorized = format!(r#"{{"payment_intent_id":"{intent}"}}"#);
    let forged: [(&str, &str, &[&str]); 5] = [
        ("flight_cancelled", r#"{"reason":"forged"}"#, &[]),
        ("payment_authorized", &authorized, &[]),
        ("payment_failed", &authorized, &[]),
        (
            "schedule_changed",
            r#"{"departure_time":"2031-01-01T00:00:00Z","version":99}"#,
            &[],
        ),
        (
            "flight_cancelled",
            r#""c2VhbGVkPw==""#,
            &[
                "--input-meta",
                "encoding=binary/encrypted",
                "--input-meta",
                "encryption-key-id=test-2026",
            ],
        ),
    ];
    for (name, input, meta) in forged {
        let mut args = vec!["workflow", "signal", "--workflow-id", &id, "--name", name];
        args.extend(["--input", input]);
        args.extend(meta);
        let out = cli(&stack, &args);
        assert!(out.status.success(), "signal {name}: {}", said(&out));
    }

    // Once the worker has had them (a query is answered after them), the
    // booking is as it was.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let now = stack.status(&handle).await;
    assert_eq!(now.status, BookingStatus::AwaitingPayment, "{now:#?}");
    assert_eq!(now.flight, held.flight);
    assert_eq!(now.payment, held.payment);
    assert_eq!(now.outcome, None);
    assert_eq!(stack.flights.seats_available(flight).await, before - 1);
    assert_eq!(
        stack.stripe().intent(&intent).await["status"],
        "requires_payment_method"
    );
    let events = event_types(&handle).await;
    let signals = events
        .iter()
        .filter(|e| **e == EventType::WorkflowExecutionSignaled)
        .count();
    assert_eq!(signals, 5, "{events:?}");
    for never in [
        EventType::WorkflowTaskFailed,
        EventType::WorkflowExecutionUpdateAccepted,
    ] {
        assert!(!events.contains(&never), "{never:?} in {events:?}");
    }
    let log = std::fs::read_to_string(stack.worker_log(1)).unwrap();
    assert!(log.contains("payload refused"), "{log}");

    // And it was not wedged: the traveller pays, it confirms.
    let paid = stack.pay(&handle, GOOD_CARD).await;
    assert_eq!(paid.status, BookingStatus::Confirmed, "{paid:#?}");
    save_history(&handle, "forged_messages_ignored").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_started_without_the_key_runs_no_step() {
    let (stack, flight, before) = Stack::with_small_flight_and_seats("frontend-start").await;
    let input = stack.input(flight, seats(&["8A", "8B"]));
    let booking_id = input.booking_id.to_string();
    let id = workflow_id(&booking_id);
    let json = serde_json::to_string(&input).unwrap();
    let out = cli(
        &stack,
        &[
            "workflow",
            "start",
            "--type",
            "BookingWorkflow",
            "--task-queue",
            "bookings",
            "--workflow-id",
            &id,
            "--input",
            &json,
        ],
    );
    assert!(out.status.success(), "{}", said(&out));
    let handle = stack.handle(&id);

    // Its first task fails (the worker cannot read the input), again and
    // again, and nothing else happens.
    testkit::poll_until(
        "the worker never refused the start",
        Duration::from_secs(30),
        Duration::from_millis(200),
        async || match event_types(&handle).await {
            events if events.contains(&EventType::WorkflowTaskFailed) => Ok(()),
            events => Err(format!("{events:?}")),
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let events = event_types(&handle).await;
    for never in [
        EventType::MarkerRecorded,
        EventType::ActivityTaskScheduled,
        EventType::TimerStarted,
        EventType::WorkflowExecutionCompleted,
    ] {
        assert!(!events.contains(&never), "{never:?} in {events:?}");
    }
    assert_eq!(stack.flights.seats_available(flight).await, before);
    assert_eq!(stack.flights.hold_status(&booking_id).await.0, 404);
    assert_eq!(stack.db().read_model(&booking_id).await, None);
    handle
        .terminate(Default::default())
        .await
        .expect("terminated");
}

/// Nothing of `booking_id` at the flight service or at Stripe, and the
/// flight's seats all there.
async fn nothing_held(stack: &Stack, flight: i64, before: i64, booking_id: &str) {
    assert_eq!(stack.flights.seats_available(flight).await, before);
    assert_eq!(stack.flights.hold_status(booking_id).await.0, 404);
    let intents = stack.stripe().get("/v1/payment_intents").await;
    let ours = intents["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["metadata"]["booking_id"] == booking_id)
        .count();
    assert_eq!(ours, 0, "a PaymentIntent for {booking_id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nine_seats_held_for_thirty_days_are_refused_before_any_step() {
    let (stack, flight, before) = Stack::with_small_flight_and_seats("out-of-bounds").await;
    let mut input = stack.input(
        flight,
        SeatSelection::Cabin {
            cabin: Cabin::Economy,
            count: 9,
        },
    );
    input.payment_window_ms = 30 * 24 * 3_600_000;
    let booking_id = input.booking_id.to_string();
    // Even with its owner recorded: the bounds come first.
    let handle = stack.start_booking(input).await;
    let refused = stack.wait_status(&handle, BookingStatus::Failed).await;
    assert_eq!(
        refused.outcome,
        Some(OutcomeCode::InputOutOfBounds.with("payment_window_ms"))
    );
    assert!(refused.seats.is_empty() && refused.payment_due_at.is_none());
    nothing_held(&stack, flight, before, &booking_id).await;
    // Not one command before the refusal: no marker (patch or local
    // activity), no activity, no timer; not even a read model row.
    let events = event_types(&handle).await;
    for never in [
        EventType::MarkerRecorded,
        EventType::ActivityTaskScheduled,
        EventType::TimerStarted,
    ] {
        assert!(!events.contains(&never), "{never:?} in {events:?}");
    }
    assert!(events.contains(&EventType::WorkflowExecutionCompleted));
    assert_eq!(stack.db().read_model(&booking_id).await, None);
    assert_eq!(
        stack.keyword(&handle, "BookingStatus").await.as_deref(),
        Some("failed")
    );
    save_history(&handle, "input_out_of_bounds").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_the_gateway_never_recorded_holds_nothing() {
    let (stack, flight, before) = Stack::with_small_flight_and_seats("no-owner").await;
    // In bounds, but no booking_request at all.
    let stray = stack.input(flight, seats(&["9A"]));
    let stray_id = stray.booking_id.to_string();
    let stray = stack.start_unrecorded(stray).await;
    // A booking_request, but another user's.
    let mut other = stack.input(flight, seats(&["9B"]));
    let other_id = other.booking_id.to_string();
    stack.record_owner(&other).await;
    other.user_id = workflows::contract::UserId::from_uuid(uuid::Uuid::new_v4());
    let other = stack.start_unrecorded(other).await;

    for (handle, booking_id) in [(&stray, &stray_id), (&other, &other_id)] {
        let refused = stack.wait_status(handle, BookingStatus::Failed).await;
        assert_eq!(
            refused.outcome.map(|o| o.code),
            Some(OutcomeCode::OwnerUnknown)
        );
        assert!(refused.seats.is_empty() && refused.total.is_none());
        assert_eq!(refused.payment.payment_intent_id, None);
        // The read model says so too (the record step runs as for any
        // refused hold), and no email went.
        let (status, _) = stack.db().read_model(booking_id).await.expect("read model");
        assert_eq!(status, "failed");
    }
    for booking_id in [&stray_id, &other_id] {
        nothing_held(&stack, flight, before, booking_id).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        stack.mail().all().is_empty(),
        "no email for a refused booking"
    );
    save_history(&stray, "owner_unknown").await;
}
