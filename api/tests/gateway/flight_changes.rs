//! Admin flight changes reaching every live booking on the flight.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workflows::FlightChangeFanout;
use workflows::fanout::FlightChangeInput;

use crate::{finished_fanout, new_key, wait_booking, wait_rows};
use testkit::gateway::{GOOD_CARD, Gateway};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_flight_changes_reach_every_live_booking_on_the_flight() {
    let (gw, flight, ada) = Gateway::start_with_ada("gw-fanout").await;
    let admin = gw.admin().await;
    let grace = gw.signup("grace@example.com").await;
    let body = Gateway::economy_body(flight, 1);
    let a = gw.book(&ada, &new_key(), body.clone()).await;
    let g = gw.book(&grace, &new_key(), body).await;
    let a_id = a.body["booking_id"].as_str().unwrap().to_owned();
    let g_id = g.body["booking_id"].as_str().unwrap().to_owned();
    assert_eq!(
        gw.pay(&ada, &a_id, GOOD_CARD).await.body["status"],
        "confirmed"
    );
    wait_rows(&gw, &format!("select count(*) from booking where flight_id = {flight} and status in ('confirmed', 'awaiting_payment')"), 2).await;

    // Customers cannot change flights.
    let path = format!("/api/v1/flights/{flight}");
    let r = gw
        .patch(&path, &ada.access, json!({"status": "cancelled"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // A new departure: both bookings learn it. The admin's retry (same
    // Idempotency-Key) applies it once: the flight's version moves by one.
    // The admin's change, with an Idempotency-Key.
    let admin_patch = async |change: &Value, key: &str| {
        gw.keyed(Method::PATCH, &path, &admin.access, change.clone(), key)
            .await
    };
    let version_before = gw.get(&path, &admin.access).await.body["version"]
        .as_i64()
        .unwrap();
    let later = testkit::gateway::utc_in_days(9, 13, 30);
    let change =
        json!({"departure_time": later, "arrival_time": testkit::gateway::utc_in_days(9, 14, 40)});
    let moved_key = new_key();
    for _ in 0..2 {
        let r = admin_patch(&change, &moved_key).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(
            r.body["version"].as_i64(),
            Some(version_before + 1),
            "{}",
            r.body
        );
    }
    let want = chrono::DateTime::parse_from_rfc3339(&later).unwrap();
    let moved = |b: &Value| {
        b["flight"]["departure_time"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            == Some(want)
    };
    wait_booking(&gw, &ada, &a_id, moved).await;
    wait_booking(&gw, &grace, &g_id, moved).await;
    let moved_id = FlightChangeInput::apply(flight, change, moved_key).workflow_id();
    let (fanout, summary) = finished_fanout(&gw, &moved_id).await;
    assert_eq!(
        (fanout.bookings, fanout.signalled, fanout.skipped),
        (2, 2, 0)
    );
    // Ops filtering by departure find both, the unpaid one included.
    for id in [&a_id, &g_id] {
        let handle = gw.stack.handle(&workflows::contract::workflow_id(id));
        let deadline = Instant::now() + Duration::from_secs(20);
        while gw.stack.departure_attribute(&handle).await != Some(want.timestamp()) {
            assert!(
                Instant::now() < deadline,
                "DepartureTime of {id} never moved"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    assert_eq!(
        summary,
        format!("Flight {flight} changed: apply it, then tell its bookings")
    );

    // A change the flight service refuses reaches no booking, and the
    // admin gets the flight service's refusal.
    let r = gw
        .patch(
            &path,
            &admin.access,
            json!({"departure_time": later, "arrival_time": testkit::gateway::utc_in_days(9, 12, 0)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body["error"]["code"].is_string(), "{}", r.body);

    // Cancelled: the paid booking is refunded, the unpaid one released.
    let cancel_key = new_key();
    let cancel = json!({"status": "cancelled"});
    let r = admin_patch(&cancel, &cancel_key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "cancelled", "{}", r.body);
    let a_done = wait_booking(&gw, &ada, &a_id, |b| b["status"] == "cancelled").await;
    assert_eq!(a_done["payment"]["status"], "refunded");
    wait_booking(&gw, &grace, &g_id, |b| b["status"] == "cancelled").await;
    let cancelled_id = FlightChangeInput::apply(flight, cancel, cancel_key).workflow_id();
    let (fanout, summary) = finished_fanout(&gw, &cancelled_id).await;
    assert_eq!((fanout.bookings, fanout.signalled), (2, 2));
    assert_eq!(
        summary,
        format!("Flight {flight} cancelled: refund or release its bookings")
    );
    for (id, history) in [
        (&moved_id, "fanout_schedule_changed"),
        (&cancelled_id, "fanout_flight_cancelled"),
    ] {
        let handle = gw
            .stack
            .client
            .get_workflow_handle::<FlightChangeFanout>(id);
        gw.stack.save_history(&handle, history).await;
    }
    // Sent again: the same fan-out, nothing doubled.
    let r = gw
        .patch(&path, &admin.access, json!({"status": "cancelled"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let intent = a.body["payment"]["payment_intent_id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(gw.stack.stripe().refunds(intent).await.len(), 1);
}
