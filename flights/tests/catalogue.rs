//! The catalogue over HTTP: create/read/update/delete, seat materialisation,
//! prefix lookup, and how bad input is refused.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::json;
use support::{TestApp, patch_flight, utc_in_days};

#[tokio::test]
async fn creating_a_flight_materialises_its_seats_from_the_seat_map() {
    let app = TestApp::spawn().await;
    app.two_airports().await;
    let plane = app.airplane(10).await; // 2*2 business + 10*3 economy
    let id = app
        .flight_at(plane, "ZZ100", &utc_in_days(5, 9, 0), 75)
        .await;

    let seats = app.get(&format!("/api/v1/flights/{id}/seats")).await;
    assert_eq!(seats.status, StatusCode::OK);
    let list = seats.body["seats"].as_array().unwrap();
    assert_eq!(list.len(), 34);
    assert_eq!(list[0]["seat_number"], "1A");
    assert_eq!(list[0]["cabin"], "business");
    assert_eq!(list[0]["fare"], json!({"amount": 40000, "currency": "EUR"}));
    assert_eq!(list[4]["seat_number"], "3A");
    assert_eq!(list[4]["cabin"], "economy");
    assert!(list.iter().all(|s| s["status"] == "available"));

    let details = app.get(&format!("/api/v1/flights/{id}")).await;
    assert_eq!(details.body["seats_available"], 34);
    assert_eq!(details.body["duration_minutes"], 75);
    assert_eq!(details.body["origin"]["city"], "London");
    assert_eq!(details.body["cabins"][0]["cabin"], "economy");
    assert_eq!(details.body["cabins"][0]["seats_total"], 30);
}

#[tokio::test]
async fn writes_need_the_service_token() {
    let app = TestApp::spawn().await;
    let body = json!({"name": "Oslo", "country_code": "NO"});
    for token in [None, Some("not-the-token-at-all")] {
        let r = app
            .call(Method::POST, "/api/v1/cities", Some(body.clone()), token)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "token {token:?}");
        assert_eq!(r.error_code(), "unauthorized", "token {token:?}");
    }
    assert_eq!(app.count("select count(*) from city").await, 0);
    // Reads are open.
    assert_eq!(app.get("/api/v1/cities").await.status, StatusCode::OK);
}

#[tokio::test]
async fn airports_are_found_by_code_name_or_city_prefix() {
    let app = TestApp::spawn().await;
    app.two_airports().await;
    let by_code = app.get("/api/v1/airports?q=lh").await;
    assert_eq!(by_code.body["total"], 1);
    assert_eq!(by_code.body["items"][0]["iata_code"], "LHR");
    let by_city = app.get("/api/v1/airports?q=par").await;
    assert_eq!(by_city.body["items"][0]["iata_code"], "CDG");
    assert_eq!(by_city.body["items"][0]["city"]["name"], "Paris");
    let cities = app.get("/api/v1/cities?q=LON").await;
    assert_eq!(cities.body["total"], 1);
    // LIKE wildcards are literal; control characters are refused.
    assert_eq!(app.get("/api/v1/airports?q=%25").await.body["total"], 0);
    let r = app.get("/api/v1/cities?q=a%00b").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_field(), Some("q"));
    // Unknown time zones and cities are named.
    let london: i64 = app.get("/api/v1/cities?q=lon").await.body["items"][0]["id"]
        .as_i64()
        .unwrap();
    for (body, field) in [
        (
            json!({"iata_code": "LCY", "name": "City", "city_id": london, "time_zone": "Mars/Olympus"}),
            "time_zone",
        ),
        (
            json!({"iata_code": "LCY", "name": "City", "city_id": 99999, "time_zone": "Europe/London"}),
            "city_id",
        ),
        (
            json!({"iata_code": "LC1", "name": "City", "city_id": london, "time_zone": "Europe/London"}),
            "iata_code",
        ),
        (
            json!({"iata_code": "LCY", "name": "", "city_id": london, "time_zone": "Europe/London"}),
            "name",
        ),
    ] {
        let r = app.send(Method::POST, "/api/v1/airports", body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(r.error_field(), Some(field), "{}", r.body);
    }
    let r = app
        .send(Method::POST, "/api/v1/airports", json!({"iata_code": "lhr", "name": "Again", "city_id": london, "time_zone": "Europe/London"}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.error_code(), "already_exists");
}

#[tokio::test]
async fn flight_creation_names_the_offending_field() {
    let app = TestApp::spawn().await;
    app.two_airports().await;
    let plane = app.airplane(5).await;
    let good = json!({
        "flight_number": "ZZ1", "airplane_id": plane, "origin": "LHR", "destination": "CDG",
        "departure_time": utc_in_days(3, 8, 0), "arrival_time": utc_in_days(3, 9, 15),
        "currency": "EUR", "fares": {"economy": 9900, "business": 30000}
    });
    // Each is refused as invalid, naming its field.
    let cases = [
        ("origin", json!({"origin": "XXX"})),
        ("origin", json!({"origin": "LH1"})),
        ("destination", json!({"destination": "LHR"})),
        (
            "arrival_time",
            json!({"arrival_time": utc_in_days(3, 7, 0)}),
        ),
        (
            "departure_time",
            json!({"departure_time": utc_in_days(-3, 8, 0), "arrival_time": utc_in_days(-3, 9, 0)}),
        ),
        ("airplane_id", json!({"airplane_id": 999})),
        ("airplane_id", json!({"airplane_id": "one"})),
        ("fares.business", json!({"fares": {"economy": 9900}})),
        (
            "fares.first",
            json!({"fares": {"economy": 1, "business": 2, "first": 3}}),
        ),
        (
            "fares.economy",
            json!({"fares": {"economy": -1, "business": 2}}),
        ),
        ("fares.steerage", json!({"fares": {"steerage": 1}})),
        ("flight_number", json!({"flight_number": "123456"})),
        ("currency", json!({"currency": "EURO"})),
        ("gate", json!({"gate": "A-12/B"})),
        ("surprise", json!({"surprise": 1})),
    ];
    for (field, patch) in cases {
        let mut body = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = app.flight(body).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {}",
            r.body
        );
        assert_eq!(r.error_code(), "validation_failed");
        let named = r.error_field().unwrap_or("");
        assert!(
            named.starts_with(field)
                || r.body["error"]["message"].as_str().unwrap().contains(field),
            "{field}: {}",
            r.body
        );
    }
    // Nothing was partially written by any of them.
    assert_eq!(app.count("select count(*) from flight").await, 0);
    assert_eq!(app.count("select count(*) from seat").await, 0);
    assert_eq!(app.flight(good.clone()).await.status, StatusCode::CREATED);
    let dup = app.flight(good).await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.error_code(), "already_exists");
    assert_eq!(app.count("select count(*) from flight").await, 1);
}

#[tokio::test]
async fn malformed_bodies_get_a_4xx_in_the_error_shape() {
    let app = TestApp::spawn().await;
    let post_city = |content_type: &'static str, body: Vec<u8>| {
        app.raw(Method::POST, "/api/v1/cities", content_type, body)
    };
    let r = post_city("application/json", b"{\"name\": ".to_vec()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "malformed_json");
    let r = post_city("application/json", b"{} trailing".to_vec()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = post_city("text/plain", b"{}".to_vec()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "unsupported_media_type");
    let r = post_city(
        "application/json",
        b"{\"name\": 5, \"country_code\": \"FR\"}".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_field(), Some("name"));
    let big = format!(
        "{{\"name\": \"{}\", \"country_code\": \"FR\"}}",
        "x".repeat(200_000)
    );
    let r = post_city("application/json", big.into_bytes()).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.error_code(), "payload_too_large");
    let r = app
        .send(
            Method::POST,
            "/api/v1/cities",
            json!({"name": "Oslo", "country_code": "NOR"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_field(), Some("country_code"));
    assert_eq!(app.count("select count(*) from city").await, 0);
    let r = app.get("/api/v1/nowhere").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), "not_found");
    let r = app.get("/api/v1/flights/abc").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.delete("/api/v1/flights").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn seat_maps_are_validated() {
    let app = TestApp::spawn().await;
    let bad_maps = [
        (json!({"sections": []}), "seat_map.sections"),
        (
            json!({"sections": [{"cabin": "economy", "from_row": 0, "to_row": 3, "seat_letters": "AB"}]}),
            "seat_map.sections[0].from_row",
        ),
        (
            json!({"sections": [{"cabin": "economy", "from_row": 5, "to_row": 3, "seat_letters": "AB"}]}),
            "seat_map.sections[0].to_row",
        ),
        (
            json!({"sections": [{"cabin": "economy", "from_row": 1, "to_row": 3, "seat_letters": "AA"}]}),
            "seat_map.sections[0].seat_letters",
        ),
        (
            json!({"sections": [{"cabin": "economy", "from_row": 1, "to_row": 3, "seat_letters": "AB"},
                             {"cabin": "business", "from_row": 3, "to_row": 4, "seat_letters": "AB"}]}),
            "seat_map.sections[1].from_row",
        ),
        (
            json!({"sections": [{"cabin": "lounge", "from_row": 1, "to_row": 3, "seat_letters": "AB"}]}),
            "seat_map.sections[0].cabin",
        ),
    ];
    for (map, field) in bad_maps {
        let r = app
            .send(
                Method::POST,
                "/api/v1/airplanes",
                json!({"model": "X", "seat_map": map}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {}",
            r.body
        );
        assert_eq!(r.error_field(), Some(field), "{}", r.body);
    }
    assert_eq!(app.count("select count(*) from airplane").await, 0);
}

/// A service with the two airports, a five-row airplane, and flight `number`
/// on it leaving in four days at `hh:mm` UTC for an hour: (the service, the
/// airplane, the flight).
async fn app_with_flight(number: &str, hh: u32, mm: u32) -> (TestApp, i64, i64) {
    let app = TestApp::spawn().await;
    app.two_airports().await;
    let plane = app.airplane(5).await;
    let flight = app
        .flight_at(plane, number, &utc_in_days(4, hh, mm), 60)
        .await;
    (app, plane, flight)
}

#[tokio::test]
async fn flights_can_be_rescheduled_delayed_and_cancelled_but_not_reinstated() {
    let (app, _, id) = app_with_flight("ZZ7", 23, 30).await;

    let change = json!({
        "departure_time": utc_in_days(5, 0, 30), "arrival_time": utc_in_days(5, 1, 45),
        "gate": "b12", "status": "delayed"
    });
    let r = patch_flight(&app, id, change).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["gate"], "B12");
    assert_eq!(r.body["status"], "delayed");
    // Every change bumps the version the bookings order changes by.
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.body["duration_minutes"], 75);
    // 00:30 UTC on day 5 is 00:30 in London in winter, 01:30 in summer: the
    // local day moved with it either way.
    let local: String = sqlx::query_scalar("select departure_local::date::text from flight")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(local, support::date_in_days(5));

    let r = patch_flight(&app, id, json!({"arrival_time": utc_in_days(5, 0, 0)})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_field(), Some("arrival_time"));
    let r = patch_flight(&app, id, json!({"gate": null})).await;
    assert_eq!(r.body["gate"], serde_json::Value::Null);
    let r = patch_flight(&app, id, json!({"status": "cancelled"})).await;
    assert_eq!(r.body["status"], "cancelled");
    let r = patch_flight(&app, id, json!({"status": "scheduled"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.error_code(), "flight_cancelled");
    let r = patch_flight(&app, id, json!({"status": "boarding"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_field(), Some("status"));
    let r = patch_flight(&app, 999999, json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// A flight change sent with an `Idempotency-Key` is applied once: the
/// retry answers with the flight as it is, and the version moved by one.
#[tokio::test]
async fn a_change_retried_with_its_key_is_applied_once() {
    let (app, plane, id) = app_with_flight("ZZ8", 10, 0).await;
    let other = app
        .flight_at(plane, "ZZ9", &utc_in_days(4, 12, 0), 60)
        .await;
    let keyed = |flight: i64, key: &str, body: serde_json::Value| {
        app.client
            .patch(format!("{}/api/v1/flights/{flight}", app.base))
            .bearer_auth(support::TOKEN)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let change =
        json!({"departure_time": utc_in_days(4, 11, 0), "arrival_time": utc_in_days(4, 12, 10)});
    for _ in 0..2 {
        let r = keyed(id, "change-1", change.clone()).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["version"], 2, "{body}");
        assert_eq!(body["duration_minutes"], 70, "{body}");
    }
    // A later change under a new key moves on; the first key, sent again,
    // changes nothing back.
    let r = keyed(id, "change-2", json!({"gate": "C3"})).await.unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (body["version"].clone(), body["gate"].clone()),
        (json!(3), json!("C3"))
    );
    let r = keyed(id, "change-1", json!({"gate": null})).await.unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (body["version"].clone(), body["gate"].clone()),
        (json!(3), json!("C3"))
    );
    // A key belongs to one flight.
    let r = keyed(other, "change-1", change).await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = keyed(id, "", json!({"gate": null})).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn referenced_catalogue_entries_cannot_be_deleted() {
    let (app, plane, flight) = app_with_flight("ZZ9", 10, 0).await;
    let lhr: i64 = sqlx::query_scalar("select airport_id from airport where iata_code = 'LHR'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let r = app.delete(&format!("/api/v1/airports/{lhr}")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.error_code(), "in_use");
    let r = app.delete(&format!("/api/v1/airplanes/{plane}")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = app.delete(&format!("/api/v1/flights/{flight}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(app.count("select count(*) from seat").await, 0);
    let r = app.delete(&format!("/api/v1/airplanes/{plane}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.get(&format!("/api/v1/airplanes/{plane}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.body["database"], "ok");
    app.get("/api/v1/cities").await;
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains(
            "http_requests_total{method=\"GET\",route=\"/api/v1/cities\",status=\"200\"}"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn a_request_past_the_time_limit_gets_503_in_the_error_shape() {
    let app =
        TestApp::spawn_with(|c| c.request_timeout = std::time::Duration::from_millis(300)).await;
    // Hold a lock that search must wait for, longer than the limit.
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("lock table flight in access exclusive mode")
        .execute(&mut *tx)
        .await
        .unwrap();
    let r = app.get("/api/v1/flights").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.error_code(), "timeout");
    tx.rollback().await.unwrap();
    assert_eq!(app.get("/api/v1/flights").await.status, StatusCode::OK);
    // Health checks are outside the limit.
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
}
