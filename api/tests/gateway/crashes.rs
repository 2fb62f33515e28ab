//! What a client is told while the worker crashes: a payment retried with
//! its `Idempotency-Key` gets 200 or 503 (with `Retry-After`), never a
//! final-sounding 409 or a 500, until it confirms, and is captured once.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::new_key;
use testkit::gateway::{GOOD_CARD, Gateway};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_retried_with_its_key_while_the_worker_is_killed_gets_only_200_or_503() {
    let (mut gw, flight, ada) = Gateway::start_with_ada("gw-crash-pay").await;
    let r = gw
        .book(&ada, &new_key(), Gateway::economy_body(flight, 1))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["booking_id"].as_str().unwrap().to_owned();
    let method = gw.stack.stripe().payment_method(GOOD_CARD).await;

    // The client: one key, retried on 503 until it has a final answer.
    let url = format!("{}/api/v1/bookings/{id}/payment", gw.base);
    let (http, token, key) = (gw.http.clone(), ada.access.clone(), new_key());
    let client = tokio::spawn(async move {
        let mut answers: Vec<(StatusCode, Value)> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(150);
        while Instant::now() < deadline {
            let sent = http
                .post(&url)
                .bearer_auth(&token)
                .header("idempotency-key", &key)
                .json(&json!({"payment_method": method}))
                .timeout(Duration::from_secs(40))
                .send()
                .await;
            let Ok(r) = sent else {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            let status = r.status();
            let retry_after = r.headers().contains_key("retry-after");
            let body: Value = r.json().await.unwrap_or(Value::Null);
            if status == StatusCode::SERVICE_UNAVAILABLE {
                assert!(retry_after, "a 503 without Retry-After: {body}");
            }
            answers.push((status, body.clone()));
            if status != StatusCode::SERVICE_UNAVAILABLE {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        answers
    });

    // The worker dies under the payment, again and again, then stays up.
    for pause in [100, 700, 400] {
        tokio::time::sleep(Duration::from_millis(pause)).await;
        gw.stack.kill_worker();
        tokio::time::sleep(Duration::from_millis(800)).await;
        gw.stack.start_worker().await;
    }
    let answers = client.await.unwrap();
    for (status, body) in &answers {
        assert!(
            *status == StatusCode::OK || *status == StatusCode::SERVICE_UNAVAILABLE,
            "{status}: {body}"
        );
    }
    let (status, last) = answers.last().expect("an answer");
    assert_eq!(*status, StatusCode::OK, "{last}");
    assert_eq!(last["status"], "confirmed", "{last}");
    let captured = gw
        .rows("select count(*) from payment_attempt where status = 'captured'")
        .await;
    assert_eq!(captured, 1);
    eprintln!(
        "answers: {:?}",
        answers.iter().map(|(s, _)| s.as_u16()).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_errors_that_may_pass_are_503_and_the_rest_are_500() {
    let gw = Gateway::start("gw-db-errors").await;
    let pool = &gw.stack.db().pool;
    // The server's own SQLSTATEs, raised for real.
    let raised = |code: &'static str| async move {
        let sql = format!("do $$ begin raise exception 'test' using errcode = '{code}'; end $$");
        sqlx::query(&sql).execute(pool).await.unwrap_err()
    };
    let status = |e: sqlx::Error| {
        use axum::response::IntoResponse;
        kit::error::Error::from(e).into_response().status()
    };
    for code in [
        "40001", "40P01", "55P03", "57P01", "57P03", "53300", "08006",
    ] {
        assert_eq!(
            status(raised(code).await),
            StatusCode::SERVICE_UNAVAILABLE,
            "{code}"
        );
    }
    for code in ["23505", "22P02", "42601"] {
        assert_eq!(
            status(raised(code).await),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{code}"
        );
    }
    // A connection the server ends: the next use of it is an I/O error.
    let mut conn = pool.acquire().await.unwrap();
    let pid: i32 = sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    sqlx::query("select pg_terminate_backend($1)")
        .bind(pid)
        .execute(pool)
        .await
        .unwrap();
    let lost = sqlx::query("select 1")
        .execute(&mut *conn)
        .await
        .unwrap_err();
    assert_eq!(status(lost), StatusCode::SERVICE_UNAVAILABLE);
}
