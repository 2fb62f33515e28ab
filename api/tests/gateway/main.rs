//! The gateway over real HTTP, with its real dependencies: Temporal dev
//! server, the worker, the flight service, localstripe, SMTP, PostgreSQL.
//! One test binary, one module per feature.

mod accounts;
mod auth;
mod bad_input;
mod bookings;
mod cards;
mod crashes;
mod flight_changes;
mod journey;
mod limits;
mod metrics;
mod webhook;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use testkit::gateway::{Gateway, Session};
use workflows::FlightChangeFanout;
use workflows::fanout::FanoutResult;

/// localstripe's card that needs 3-D Secure.
pub const THREE_D_SECURE_CARD: &str = "4000002500003155";

/// Polls `GET /bookings/{id}` until `done` holds.
pub async fn wait_booking(
    gw: &Gateway,
    who: &Session,
    id: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let path = format!("/api/v1/bookings/{id}");
    wait_get(gw, &who.access, &path, Duration::from_secs(60), done).await
}

/// Polls `GET path` as `token` (each answer 200) until `done` holds of the
/// answer, for `patience` at most; returns that answer.
pub async fn wait_get(
    gw: &Gateway,
    token: &str,
    path: &str,
    patience: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let every = Duration::from_millis(200);
    testkit::poll_until("never got there", patience, every, async || {
        let r = gw.get(path, token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        if done(&r.body) {
            Ok(r.body)
        } else {
            Err(r.body)
        }
    })
    .await
}

pub async fn wait_rows(gw: &Gateway, sql: &str, want: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while gw.rows(sql).await != want {
        assert!(Instant::now() < deadline, "never {want} rows: {sql}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The result of a finished flight-change fan-out, and the summary the Web
/// UI shows for it.
pub async fn finished_fanout(gw: &Gateway, workflow_id: &str) -> (FanoutResult, String) {
    let handle = gw
        .stack
        .client
        .get_workflow_handle::<FlightChangeFanout>(workflow_id);
    let result = handle
        .get_result(Default::default())
        .await
        .expect("the fan-out finishes");
    let described = handle.describe(Default::default()).await.unwrap();
    let summary = described.static_summary().unwrap_or_default().to_owned();
    (result, summary)
}

pub fn new_key() -> String {
    uuid::Uuid::new_v4().to_string()
}
