//! Every field of every write replaced by values of the wrong type or out of
//! range, and every search parameter given garbage: never a 5xx; a refusal
//! is a 4xx in the one error shape and writes nothing. (Some garbage is valid
//! for some fields, a city called "12é" say, and is accepted.)

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{TestApp, economy_seats, utc_in_days};

fn garbage() -> Vec<Value> {
    vec![
        Value::Null,
        json!(0),
        json!(-1),
        json!(1e300),
        json!(i64::MAX),
        json!(""),
        json!("x".repeat(5000)),
        json!("\u{0000}"),
        json!("12é"),
        json!([]),
        json!([1, "a"]),
        json!({}),
        json!({"cabin": []}),
        json!(true),
    ]
}

/// Each variant of `valid`: one field replaced by each garbage value, or removed.
fn variants(valid: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for key in valid.as_object().unwrap().keys() {
        for g in garbage() {
            let mut v = valid.clone();
            v[key] = g;
            out.push(v);
        }
        let mut v = valid.clone();
        v.as_object_mut().unwrap().remove(key);
        out.push(v);
    }
    out
}

const TABLES: [&str; 5] = ["city", "airport", "airplane", "flight", "seat_hold"];

async fn counts(app: &TestApp) -> Vec<i64> {
    let mut v = Vec::new();
    for t in TABLES {
        v.push(app.count(&format!("select count(*) from {t}")).await);
    }
    v
}

/// Sends the write; a refusal must be a 4xx with the error shape and must
/// leave every table as it was. Returns whether it was refused.
async fn send_checked(app: &TestApp, method: Method, path: &str, body: Value) -> bool {
    let before = counts(app).await;
    let r = app.send(method, path, body.clone()).await;
    assert!(
        r.status.is_success() || r.status.is_client_error(),
        "{path} {body}: {} {}",
        r.status,
        r.body
    );
    if r.status.is_client_error() {
        r.error_code();
        assert_eq!(
            before,
            counts(app).await,
            "refused {path} {body} wrote something"
        );
        true
    } else {
        false
    }
}

#[tokio::test]
async fn garbage_in_any_field_of_any_write_is_a_4xx_and_writes_nothing() {
    let app = TestApp::spawn().await;
    app.two_airports().await;
    let plane = app.airplane(3).await;
    let flight = app.flight_at(plane, "ZZ1", &utc_in_days(5, 9, 0), 60).await;
    let london = app.get("/api/v1/cities?q=London").await.body["items"][0]["id"].clone();

    let writes = [
        (
            Method::POST,
            "/api/v1/cities".to_owned(),
            json!({"name": "Oslo", "country_code": "NO"}),
        ),
        (
            Method::POST,
            "/api/v1/airports".to_owned(),
            json!({"iata_code": "LCY", "name": "City", "city_id": london, "time_zone": "Europe/London"}),
        ),
        (
            Method::POST,
            "/api/v1/airplanes".to_owned(),
            json!({"model": "X", "seat_map": {"sections": [{"cabin": "economy", "from_row": 1, "to_row": 2, "seat_letters": "AB"}]}}),
        ),
        (
            Method::POST,
            "/api/v1/flights".to_owned(),
            json!({"flight_number": "ZZ2", "airplane_id": plane, "origin": "LHR", "destination": "CDG",
                   "departure_time": utc_in_days(6, 9, 0), "arrival_time": utc_in_days(6, 10, 0),
                   "currency": "EUR", "fares": {"economy": 1000, "business": 2000}}),
        ),
        (
            Method::PUT,
            format!("/api/v1/holds/{}", uuid::Uuid::new_v4()),
            economy_seats(flight, 1),
        ),
    ];
    let mut refused = 0;
    for (method, path, valid) in &writes {
        for body in variants(valid) {
            refused += usize::from(send_checked(&app, method.clone(), path, body).await);
        }
    }
    assert!(refused > 250, "only {refused} refusals");
    // PATCH and release take optional fields: garbage in each is refused.
    for key in ["departure_time", "arrival_time", "gate", "status", "fares"] {
        for g in garbage() {
            if g.is_null() {
                continue; // null leaves a field as it is (and clears the gate)
            }
            let path = format!("/api/v1/flights/{flight}");
            let refused = send_checked(&app, Method::PATCH, &path, json!({key: g.clone()})).await;
            // Only no-ops are acceptable among these: an empty gate (cleared)
            // and an empty set of fare changes.
            let no_op = (key == "gate" && g == json!("")) || (key == "fares" && g == json!({}));
            assert!(refused || no_op, "{key}: {g}");
        }
    }
    for g in garbage() {
        let path = format!("/api/v1/holds/{}/release", uuid::Uuid::new_v4());
        assert!(send_checked(&app, Method::POST, &path, json!({"cancellation": g})).await);
    }
    let r = app.get(&format!("/api/v1/flights/{flight}")).await;
    assert_eq!(r.body["status"], "scheduled");
    assert_eq!(r.body["gate"], Value::Null);
}

#[tokio::test]
async fn garbage_in_any_search_parameter_is_a_400_naming_it() {
    let app = TestApp::spawn().await;
    app.two_airports().await;
    let junk = [
        "%00",
        "-1",
        "99999999999999999999",
        "abc",
        "%E2%82%AC",
        "1e3",
        "x,y",
        "-",
        ",,",
    ];
    for param in [
        "from",
        "to",
        "date",
        "travellers",
        "min_price",
        "max_price",
        "departs_after",
        "departs_before",
        "cabin",
        "sort",
        "page",
        "per_page",
    ] {
        for value in junk {
            let r = app.get(&format!("/api/v1/flights?{param}={value}")).await;
            assert!(
                r.status == StatusCode::BAD_REQUEST || r.status == StatusCode::OK,
                "{param}={value}: {} {}",
                r.status,
                r.body
            );
            if r.status == StatusCode::BAD_REQUEST {
                assert_eq!(r.error_field(), Some(param), "{param}={value}: {}", r.body);
            }
        }
    }
    for path in [
        "/api/v1/flights/0",
        "/api/v1/flights/-5/seats",
        "/api/v1/flights/99999999999999999999",
        "/api/v1/cities/%00",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        r.error_code();
    }
}
