//! The inventory API over HTTP: hold, confirm, release; idempotency, locked
//! prices, all-or-nothing holds, and bad input.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::json;
use support::{TestApp, economy_seats, hold_request, patch_flight, service_get};
use uuid::Uuid;

fn seat_numbers(body: &serde_json::Value) -> Vec<String> {
    support::strings(body, "seats", "seat_number")
}

#[tokio::test]
async fn a_retried_hold_returns_the_same_seats_and_the_locked_price() {
    let (app, flight) = TestApp::with_small_flight().await;
    let booking = Uuid::new_v4();
    let req = economy_seats(flight, 2);

    let first = app.hold(booking, req.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["status"], "held");
    assert_eq!(seat_numbers(&first.body), ["3A", "3B"]);
    assert_eq!(
        first.body["total"],
        json!({"amount": 20000, "currency": "EUR"})
    );

    // The fare goes up; the hold keeps its price, a new hold pays the new one.
    let r = patch_flight(&app, flight, json!({"fares": {"economy": 15000}})).await;
    assert_eq!(r.status, StatusCode::OK);
    let retry = app.hold(booking, req.clone()).await;
    assert_eq!(retry.status, StatusCode::OK);
    assert_eq!(retry.body, first.body);
    let other = app.hold(Uuid::new_v4(), req).await;
    assert_eq!(other.body["total"]["amount"], 30000);
    assert_eq!(seat_numbers(&other.body), ["3C", "4A"]);
    assert_eq!(app.assert_inventory_consistent(flight).await, 30);

    let read = service_get(&app, &format!("/api/v1/holds/{booking}")).await;
    assert_eq!(read.body, first.body);

    // The same booking asking for something else is refused, not re-held.
    let changed = app
        .hold(booking, hold_request(flight, json!(["10A"])))
        .await;
    assert_eq!(changed.status, StatusCode::CONFLICT);
    assert_eq!(changed.error_code(), "idempotency_conflict");
    assert_eq!(app.assert_inventory_consistent(flight).await, 30);
}

#[tokio::test]
async fn confirm_and_release_are_idempotent_and_release_after_confirm_needs_a_cancellation() {
    let (app, flight) = TestApp::with_small_flight().await;
    let booking = Uuid::new_v4();
    let r = app
        .hold(booking, hold_request(flight, json!(["1A", "5c"])))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(seat_numbers(&r.body), ["1A", "5C"]);
    assert_eq!(r.body["total"]["amount"], 50000);

    for _ in 0..2 {
        let c = app.confirm(booking).await;
        assert_eq!(c.status, StatusCode::OK, "{}", c.body);
        assert_eq!(c.body["status"], "confirmed");
    }
    let seats = app.get(&format!("/api/v1/flights/{flight}/seats")).await;
    let sold: Vec<&str> = seats.body["seats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "sold")
        .map(|s| s["seat_number"].as_str().unwrap())
        .collect();
    assert_eq!(sold, ["1A", "5C"]);

    let plain = app.release(booking, false).await;
    assert_eq!(plain.status, StatusCode::CONFLICT);
    assert_eq!(plain.error_code(), "hold_confirmed");
    assert_eq!(app.assert_inventory_consistent(flight).await, 32);

    for _ in 0..2 {
        let c = app.release(booking, true).await;
        assert_eq!(c.status, StatusCode::OK, "{}", c.body);
        assert_eq!(c.body["status"], "released");
    }
    assert_eq!(app.assert_inventory_consistent(flight).await, 34);

    // A late retry of the original hold or confirm does not resurrect it.
    let late = app
        .hold(booking, hold_request(flight, json!(["1A", "5C"])))
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert_eq!(late.error_code(), "hold_released");
    let late = app.confirm(booking).await;
    assert_eq!(late.error_code(), "hold_released");
    assert_eq!(app.assert_inventory_consistent(flight).await, 34);

    // Someone else can now have those seats.
    let again = app
        .hold(Uuid::new_v4(), hold_request(flight, json!(["1A"])))
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_hold_is_all_or_nothing() {
    let (app, flight) = TestApp::with_small_flight().await;
    let first = app
        .hold(Uuid::new_v4(), hold_request(flight, json!(["3B"])))
        .await;
    assert_eq!(first.status, StatusCode::CREATED);

    let r = app
        .hold(
            Uuid::new_v4(),
            hold_request(flight, json!(["3A", "3B", "3C"])),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.error_code(), "seats_unavailable");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("3B"));
    let r = app
        .hold(Uuid::new_v4(), hold_request(flight, json!(["3A", "99Z"])))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_field(), Some("seats"));
    assert!(r.body["error"]["message"].as_str().unwrap().contains("99Z"));
    let r = app
        .hold(
            Uuid::new_v4(),
            hold_request(flight, json!({"cabin": "business", "count": 5})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.error_code(), "seats_unavailable");

    // Only the first hold exists; nothing of the failed ones was written.
    assert_eq!(app.count("select count(*) from seat_hold").await, 1);
    assert_eq!(app.assert_inventory_consistent(flight).await, 33);
}

#[tokio::test]
async fn cancelled_departed_and_unknown_flights_cannot_be_held() {
    let (app, flight) = TestApp::with_small_flight().await;

    let r = app.hold(Uuid::new_v4(), economy_seats(987654, 1)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_field(), Some("flight_id"));

    // The flight departed, then (moved back to the future) cancelled.
    for (change, code) in [
        (
            "update flight set departure_time = now() - interval '2 hours', arrival_time = now() - interval '1 hour'",
            "flight_departed",
        ),
        (
            "update flight set status = 'cancelled', departure_time = now() + interval '2 days', arrival_time = now() + interval '3 days'",
            "flight_cancelled",
        ),
    ] {
        sqlx::query(change).execute(&app.pool).await.unwrap();
        let r = app.hold(Uuid::new_v4(), economy_seats(flight, 1)).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{code}");
        assert_eq!(r.error_code(), code);
    }
    assert_eq!(app.count("select count(*) from seat_hold").await, 0);
}

#[tokio::test]
async fn bad_hold_requests_name_the_field_and_write_nothing() {
    let (app, flight) = TestApp::with_small_flight().await;
    for (seats, field) in [
        (json!([]), "seats"),
        (json!("3A"), "seats"),
        (json!([3]), "seats[0]"),
        (json!(["3A", "Q"]), "seats[1]"),
        (json!(["3A", "1é"]), "seats[1]"),
        (json!(["3A", "3a"]), "seats[1]"),
        (
            json!(["1A", "1C", "3A", "3B", "3C", "4A", "4B", "4C", "5A", "5B"]),
            "seats",
        ),
        (json!({"cabin": "economy", "count": 0}), "seats.count"),
        (json!({"cabin": "economy", "count": 10}), "seats.count"),
        (json!({"cabin": "economy", "count": "2"}), "seats.count"),
        (json!({"cabin": "steerage", "count": 1}), "seats.cabin"),
        (json!({"count": 1}), "seats.cabin"),
    ] {
        let r = app
            .hold(Uuid::new_v4(), hold_request(flight, seats.clone()))
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{seats}: {}",
            r.body
        );
        assert_eq!(r.error_field(), Some(field), "{seats}: {}", r.body);
    }
    let r = app
        .send(
            Method::PUT,
            "/api/v1/holds/not-a-uuid",
            hold_request(flight, json!(["3A"])),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_field(), Some("booking_id"));
    let r = app
        .call(
            Method::PUT,
            &format!("/api/v1/holds/{}", Uuid::new_v4()),
            Some(hold_request(flight, json!(["3A"]))),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app.confirm(Uuid::new_v4()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.release(Uuid::new_v4(), false).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .raw(
            Method::POST,
            &format!("/api/v1/holds/{}/release", Uuid::new_v4()),
            "application/json",
            b"{\"cancellation\": \"yes\"}".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_field(), Some("cancellation"));
    assert_eq!(app.count("select count(*) from seat_hold").await, 0);
    assert_eq!(app.assert_inventory_consistent(flight).await, 34);
}

#[tokio::test]
async fn the_live_holds_of_a_flight_are_listed_for_the_service_only() {
    let (app, flight) = TestApp::with_small_flight().await;
    let (held, sold, released) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    for booking in [held, sold, released] {
        let r = app.hold(booking, economy_seats(flight, 1)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    assert_eq!(app.confirm(sold).await.status, StatusCode::OK);
    assert_eq!(app.release(released, false).await.status, StatusCode::OK);

    let path = format!("/api/v1/flights/{flight}/holds");
    let r = service_get(&app, &path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"flight_id": flight, "booking_ids": [held.to_string(), sold.to_string()]})
    );
    let anonymous = app.get(&path).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let unknown = service_get(&app, "/api/v1/flights/999999/holds").await;
    assert_eq!(unknown.body["booking_ids"], json!([]));
}

/// RFC 3339, `minutes` from now.
fn in_minutes(minutes: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::minutes(minutes)).to_rfc3339()
}

#[tokio::test]
async fn no_hold_and_no_confirmation_once_the_flight_departs_within_the_cut_off() {
    let app =
        TestApp::spawn_with(|c| c.booking_cutoff = std::time::Duration::from_secs(45 * 60)).await;
    app.two_airports().await;
    let plane = app.airplane(5).await;

    // Leaving in 30 minutes: too late to book.
    let soon = app.flight_at(plane, "ZZ30", &in_minutes(30), 60).await;
    let r = app
        .hold(Uuid::new_v4(), hold_request(soon, json!(["3A"])))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.error_code(), "booking_closed");

    // Held at 50 minutes; the departure moves up to 40: the payment comes
    // too late to confirm, and the seat is still held for the release.
    let later = app.flight_at(plane, "ZZ50", &in_minutes(50), 60).await;
    let booking = Uuid::new_v4();
    let r = app.hold(booking, hold_request(later, json!(["3A"]))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = patch_flight(
        &app,
        later,
        json!({"departure_time": in_minutes(40), "arrival_time": in_minutes(100)}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app.confirm(booking).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.error_code(), "booking_closed");
    let r = app.release(booking, false).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "released");
    app.assert_inventory_consistent(later).await;
}

#[tokio::test]
async fn a_hold_on_a_flight_cancelled_since_cannot_be_confirmed() {
    let (app, flight) = TestApp::with_small_flight().await;
    let booking = Uuid::new_v4();
    let r = app.hold(booking, hold_request(flight, json!(["3A"]))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = patch_flight(&app, flight, json!({"status": "cancelled"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app.confirm(booking).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.error_code(), "flight_cancelled");
    let r = app.release(booking, false).await;
    assert_eq!(r.body["status"], "released");
    app.assert_inventory_consistent(flight).await;
}

#[tokio::test]
async fn a_hold_racing_the_flights_cancellation_waits_for_it_and_is_refused() {
    let (app, flight) = TestApp::with_small_flight().await;
    // A cancellation being saved: the flight row updated, not committed.
    let mut cancelling = app.pool.begin().await.unwrap();
    sqlx::query("update flight set status = 'cancelled' where flight_id = $1")
        .bind(flight)
        .execute(&mut *cancelling)
        .await
        .unwrap();
    let booking = Uuid::new_v4();
    let hold = {
        let (base, client) = (app.base.clone(), app.client.clone());
        tokio::spawn(async move {
            client
                .put(format!("{base}/api/v1/holds/{booking}"))
                .bearer_auth(support::TOKEN)
                .json(&hold_request(flight, json!(["3A"])))
                .send()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        !hold.is_finished(),
        "the hold did not wait for the cancellation"
    );
    cancelling.commit().await.unwrap();
    let answer = hold.await.unwrap();
    assert_eq!(answer.status(), StatusCode::CONFLICT);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["code"], "flight_cancelled", "{body}");
    // The fan-out's list has nothing it could have missed.
    let r = service_get(&app, &format!("/api/v1/flights/{flight}/holds")).await;
    assert_eq!(r.body["booking_ids"], json!([]), "{}", r.body);
    app.assert_inventory_consistent(flight).await;
}
