//! The flight service's test support lives in `testkit`
//! (`flight_service`): the service on a random port against a fresh
//! database cloned from a migrated template. Here: what several of this
//! crate's tests build or read (each test binary uses some of it).
#![allow(dead_code)]

use serde_json::{Value, json};
pub use testkit::flight_service::*;

/// A hold request for `seats` of `flight`: seat numbers, or a cabin and a
/// count.
pub fn hold_request(flight: i64, seats: Value) -> Value {
    json!({"flight_id": flight, "seats": seats})
}

/// A hold request for `count` economy seats of `flight`.
pub fn economy_seats(flight: i64, count: u32) -> Value {
    hold_request(flight, json!({"cabin": "economy", "count": count}))
}

/// The string `field` of each object in the array `body[list]`.
pub fn strings(body: &Value, list: &str, field: &str) -> Vec<String> {
    body[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[field].as_str().unwrap().to_owned())
        .collect()
}

/// How many of `replies` created something.
pub fn created(replies: &[Reply]) -> usize {
    replies
        .iter()
        .filter(|r| r.status == reqwest::StatusCode::CREATED)
        .count()
}

/// Changes `flight`: `PATCH /api/v1/flights/{flight}` with the service token.
pub async fn patch_flight(app: &TestApp, flight: i64, body: Value) -> Reply {
    app.send(
        reqwest::Method::PATCH,
        &format!("/api/v1/flights/{flight}"),
        body,
    )
    .await
}

/// A GET with the service token.
pub async fn service_get(app: &TestApp, path: &str) -> Reply {
    app.call(reqwest::Method::GET, path, None, Some(TOKEN))
        .await
}
