//! Rate limits: per client address on sign-in, per user elsewhere.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use testkit::gateway::{Gateway, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_limit_answers_429_with_retry_after_per_ip_on_auth_and_per_user_elsewhere() {
    let gw = Gateway::start_with("gw-limits", |c| {
        c.limits.auth_burst = 3;
        c.limits.auth_period = Duration::from_secs(60);
        c.limits.api_burst = 5;
        c.limits.api_period = Duration::from_secs(60);
    })
    .await;
    // Unconfirmed: confirming would spend the per-IP budget too.
    let ada = gw.signup_unverified("ada@example.com").await; // 1 of 3
    let grace = gw.signup_unverified("grace@example.com").await; // 2 of 3
    let login = json!({"email": "ada@example.com", "password": PASSWORD});
    assert_eq!(
        gw.post("/api/v1/auth/login", None, login.clone())
            .await
            .status,
        StatusCode::OK
    );
    let over = gw
        .http
        .post(format!("{}/api/v1/auth/login", gw.base))
        .json(&login)
        .send()
        .await
        .unwrap();
    assert_eq!(over.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = over.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let body: Value = over.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");

    // Per user: Ada's 6th call is refused, Grace still gets through.
    for _ in 0..5 {
        assert_eq!(
            gw.get("/api/v1/auth/me", &ada.access).await.status,
            StatusCode::OK
        );
    }
    let r = gw.get("/api/v1/auth/me", &ada.access).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.error_code(), "rate_limited");
    assert_eq!(
        gw.get("/api/v1/auth/me", &grace.access).await.status,
        StatusCode::OK
    );
}
