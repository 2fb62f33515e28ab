//! The gateway over real HTTP, with its real dependencies: Temporal dev
//! server, the worker, the flight service, localstripe, SMTP, PostgreSQL.

mod support;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use booking_workflows::FlightChangeFanout;
use booking_workflows::fanout::{FanoutResult, FlightChangeInput};
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use stripe_webhook::Webhook;
use support::{ADMIN_EMAIL, GOOD_CARD, Gateway, JWT_SECRET, PASSWORD, Session, WEBHOOK_SECRET};

/// localstripe's card that needs 3-D Secure.
const THREE_D_SECURE_CARD: &str = "4000002500003155";

/// Polls `GET /bookings/{id}` until `done` holds.
async fn wait_booking(
    gw: &Gateway,
    who: &Session,
    id: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = gw.get(&format!("/api/v1/bookings/{id}"), &who.access).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        if done(&r.body) {
            return r.body;
        }
        assert!(
            Instant::now() < deadline,
            "booking never got there: {}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_rows(gw: &Gateway, sql: &str, want: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while gw.rows(sql).await != want {
        assert!(Instant::now() < deadline, "never {want} rows: {sql}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The result of a finished flight-change fan-out, and the summary the Web
/// UI shows for it.
async fn finished_fanout(gw: &Gateway, workflow_id: &str) -> (FanoutResult, String) {
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

fn new_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traveller_signs_up_searches_books_pays_and_is_confirmed_through_the_gateway_alone() {
    let gw = Gateway::start("gw-happy").await;
    let flight = gw.flight().await;
    let ada = gw.signup("Ada@Example.com").await;

    // Search and seat map, forwarded to the flight service.
    let date = support::utc_in_days(9, 10, 0)[..10].to_owned();
    let found = gw
        .get(
            &format!("/api/v1/flights?from=LHR&to=CDG&date={date}&travellers=2"),
            &ada.access,
        )
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    assert!(
        found.body.to_string().contains(&format!("\"id\":{flight}")),
        "{}",
        found.body
    );
    let seats = gw
        .get(&format!("/api/v1/flights/{flight}/seats"), &ada.access)
        .await;
    assert_eq!(seats.status, StatusCode::OK, "{}", seats.body);

    // Book two economy seats: one round trip to held seats and a price.
    let key = new_key();
    let created = gw
        .book(
            &ada,
            &key,
            Gateway::booking_body(flight, json!({"cabin": "economy", "count": 2}), 2),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let b = &created.body;
    assert_eq!(b["status"], "awaiting_payment");
    assert_eq!(b["booking_ref"].as_str().unwrap().len(), 6);
    assert_eq!(b["seats"].as_array().unwrap().len(), 2);
    assert_eq!(b["total"], json!({"amount": 20000, "currency": "EUR"}));
    assert!(
        b["payment"]["payment_intent_id"]
            .as_str()
            .unwrap()
            .starts_with("pi_")
    );
    assert!(b["payment"]["client_secret"].is_string());
    assert!(b["payment_due_at"].is_string());
    let id = b["booking_id"].as_str().unwrap().to_owned();

    // Pay: confirmed, with a ticket per passenger. The call retried with
    // its Idempotency-Key gets the same payment's answer, not a second one.
    let method = gw.stack.payment_method(GOOD_CARD).await;
    let pay_key = new_key();
    let pay_path = format!("/api/v1/bookings/{id}/payment");
    let pay_headers = [("idempotency-key", pay_key.as_str())];
    let pay_once = || {
        gw.request(
            Method::POST,
            &pay_path,
            Some(&ada.access),
            Some(json!({"payment_method": method})),
            &pay_headers,
        )
    };
    let paid = pay_once().await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.body);
    let retried = pay_once().await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    assert_eq!(retried.body, paid.body);
    assert_eq!(paid.body["status"], "confirmed", "{}", paid.body);
    assert_eq!(paid.body["ticket_numbers"].as_array().unwrap().len(), 2);
    assert_eq!(paid.body["payment"]["status"], "captured");
    assert!(paid.body["payment"]["client_secret"].is_null());

    // Read back from the read model (recorded just after the answer), and
    // in my list.
    let read = wait_booking(&gw, &ada, &id, |b| b["status"] == "confirmed").await;
    assert_eq!(read["ticket_numbers"], paid.body["ticket_numbers"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mine = gw.get("/api/v1/bookings", &ada.access).await;
        assert_eq!(mine.status, StatusCode::OK, "{}", mine.body);
        if mine.body["items"][0]["status"] == "confirmed" {
            assert_eq!(mine.body["items"].as_array().unwrap().len(), 1);
            break;
        }
        assert!(Instant::now() < deadline, "{}", mine.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The same key again: the same booking, as it is now; nothing new held.
    let body = Gateway::booking_body(flight, json!({"cabin": "economy", "count": 2}), 2);
    let replay = gw.book(&ada, &key, body).await;
    assert_eq!(replay.status, StatusCode::CREATED, "{}", replay.body);
    assert_eq!(replay.body["booking_id"], id.as_str());
    assert_eq!(replay.body["status"], "confirmed");
    assert_eq!(gw.rows("select count(*) from booking_request").await, 1);

    // Paying again is a conflict with the booking's state.
    let again = gw.pay(&ada, &id, GOOD_CARD).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert_eq!(again.error_code(), "invalid_state");

    // Cancel after confirmation: refunded; the retried cancel (same key)
    // gets the same answer, and the payment is refunded once.
    let cancel_key = new_key();
    let cancel_path = format!("/api/v1/bookings/{id}/cancel");
    let cancel_headers = [("idempotency-key", cancel_key.as_str())];
    let cancel_once = || {
        gw.request(
            Method::POST,
            &cancel_path,
            Some(&ada.access),
            Some(json!({})),
            &cancel_headers,
        )
    };
    let cancelled = cancel_once().await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    let retried = cancel_once().await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    assert_eq!(retried.body, cancelled.body);
    let intent = paid.body["payment"]["payment_intent_id"].as_str().unwrap();
    assert_eq!(gw.stack.refunds(intent).await.len(), 1);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(
        cancelled.body["payment"]["refund"]["amount"]["amount"],
        20000
    );

    // The operational endpoints.
    let spec = gw.get("/api/v1/openapi.json", &ada.access).await;
    assert!(spec.body["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/v1/bookings",
        "/api/v1/auth/login",
        "/api/v1/webhooks/stripe",
    ] {
        assert!(
            spec.body["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert_eq!(gw.get("/healthz", "").await.status, StatusCode::OK);
    let ready = gw.get("/readyz", "").await;
    assert_eq!(
        ready.body,
        json!({"status": "ready", "database": "ok", "temporal": "ok"})
    );
    // Metrics are on the internal listener only.
    let metrics = gw
        .http
        .get(format!("{}/metrics", gw.metrics_base))
        .send()
        .await
        .unwrap();
    let text = metrics.text().await.unwrap();
    assert!(text.contains("route=\"/api/v1/bookings\""), "{text}");
    let public = gw.get("/metrics", "").await;
    assert_eq!(public.status, StatusCode::NOT_FOUND, "{}", public.body);

    // CORS: the configured origin may call from a browser, another may not.
    for (origin, allowed) in [
        ("https://app.airline.test", true),
        ("https://evil.test", false),
    ] {
        let preflight = gw
            .http
            .request(Method::OPTIONS, format!("{}/api/v1/bookings", gw.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,idempotency-key",
            )
            .send()
            .await
            .unwrap();
        let header = preflight.headers().get("access-control-allow-origin");
        assert_eq!(header.is_some_and(|h| h == origin), allowed, "{origin}");
    }
}

fn jwt(header: &Value, claims: &Value, secret: Option<&str>) -> String {
    use hmac::{Hmac, Mac};
    let head = URL_SAFE_NO_PAD.encode(header.to_string());
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{head}.{body}");
    let signature = match secret {
        Some(secret) => {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            mac.update(signing_input.as_bytes());
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        }
        None => String::new(),
    };
    format!("{signing_input}.{signature}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tampered_and_unsigned_tokens_are_rejected_and_refresh_tokens_rotate() {
    let gw = Gateway::start("gw-tokens").await;
    let ada = gw.signup("ada@example.com").await;
    let me = gw.get("/api/v1/auth/me", &ada.access).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], "ada@example.com");
    assert_eq!(me.body["roles"], json!(["customer"]));

    let now = chrono::Utc::now().timestamp();
    let claims = |exp: i64, roles: Value| json!({"sub": ada.user_id, "roles": roles, "iss": "airline-api", "iat": now - 10, "exp": exp});
    let hs256 = json!({"alg": "HS256", "typ": "JWT"});
    // Our own signature, to show the forged ones fail for their flaw only.
    let good = jwt(
        &hs256,
        &claims(now + 600, json!(["customer"])),
        Some(JWT_SECRET),
    );
    assert_eq!(
        gw.get("/api/v1/auth/me", &good).await.status,
        StatusCode::OK
    );

    let expired = jwt(
        &hs256,
        &claims(now - 60, json!(["customer"])),
        Some(JWT_SECRET),
    );
    let mut tampered_parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    tampered_parts[1] = URL_SAFE_NO_PAD.encode(claims(now + 600, json!(["admin"])).to_string());
    let tampered = tampered_parts.join(".");
    let unsigned = jwt(
        &json!({"alg": "none", "typ": "JWT"}),
        &claims(now + 600, json!(["admin"])),
        None,
    );
    let other_key = jwt(
        &hs256,
        &claims(now + 600, json!(["admin"])),
        Some("not-the-secret-not-the-secret-123"),
    );
    let other_alg = jwt(
        &json!({"alg": "HS512", "typ": "JWT"}),
        &claims(now + 600, json!(["admin"])),
        Some(JWT_SECRET),
    );
    for (what, token) in [
        ("expired", expired.as_str()),
        ("tampered", tampered.as_str()),
        ("alg none", unsigned.as_str()),
        ("another key", other_key.as_str()),
        ("another algorithm", other_alg.as_str()),
        ("garbage", "abc.def.ghi"),
    ] {
        let r = gw.get("/api/v1/auth/me", token).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.body);
        assert_eq!(r.error_code(), "unauthorized", "{what}");
        let admin = gw.get("/api/v1/admin/bookings", token).await;
        assert_eq!(
            admin.status,
            StatusCode::UNAUTHORIZED,
            "{what} on an admin route"
        );
    }
    // A customer's valid token on an admin route.
    let r = gw.get("/api/v1/admin/bookings", &ada.access).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.error_code(), "forbidden");

    // Wrong password and unknown account answer the same.
    for (email, password) in [
        ("ada@example.com", "wrong password!!"),
        ("nobody@example.com", PASSWORD),
    ] {
        let r = gw
            .post(
                "/api/v1/auth/login",
                None,
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.error_code(), "invalid_credentials");
    }

    // Rotation: each refresh token works once and yields the next.
    let refresh = |token: &str| {
        gw.post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": token}),
        )
    };
    let r1 = refresh(&ada.refresh).await;
    assert_eq!(r1.status, StatusCode::OK, "{}", r1.body);
    let second = r1.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, ada.refresh);
    let r2 = refresh(&second).await;
    assert_eq!(r2.status, StatusCode::OK);
    let third = r2.body["refresh_token"].as_str().unwrap().to_owned();
    // Two tabs refreshing at once: a just-used token works once more
    // within the grace period (REFRESH_REUSE_GRACE) ...
    let again = refresh(&ada.refresh).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    // ... and never a third time: that is reuse, and the whole family is
    // revoked.
    assert_eq!(refresh(&ada.refresh).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&third).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        gw.rows(&format!(
            "select count(*) from refresh_token where user_id = '{}' and revoked_at is null",
            ada.user_id
        ))
        .await,
        0
    );

    // A fresh login is a new family; logout revokes it.
    let session = gw.login("ada@example.com", PASSWORD).await;
    let out = gw
        .post(
            "/api/v1/auth/logout",
            Some(&session.access),
            json!({"refresh_token": session.refresh}),
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        refresh(&session.refresh).await.status,
        StatusCode::UNAUTHORIZED
    );

    // The first admin came from ADMIN_EMAIL / ADMIN_PASSWORD.
    let admin = gw.admin().await;
    let me = gw.get("/api/v1/auth/me", &admin.access).await;
    assert_eq!(me.body["email"], ADMIN_EMAIL);
    assert_eq!(me.body["roles"], json!(["admin"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_limit_answers_429_with_retry_after_per_ip_on_auth_and_per_user_elsewhere() {
    let gw = Gateway::start_with("gw-limits", |c| {
        c.limits.auth_burst = 3;
        c.limits.auth_period = Duration::from_secs(60);
        c.limits.api_burst = 5;
        c.limits.api_period = Duration::from_secs(60);
    })
    .await;
    let ada = gw.signup("ada@example.com").await; // 1 of 3
    let grace = gw.signup("grace@example.com").await; // 2 of 3
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_user_can_neither_see_pay_nor_cancel_my_booking() {
    let gw = Gateway::start("gw-owners").await;
    let flight = gw.flight().await;
    let ada = gw.signup("ada@example.com").await;
    let eve = gw.signup("eve@example.com").await;
    let created = gw
        .book(
            &ada,
            &new_key(),
            Gateway::booking_body(flight, json!({"cabin": "economy", "count": 1}), 1),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["booking_id"].as_str().unwrap().to_owned();

    let seen = gw.get(&format!("/api/v1/bookings/{id}"), &eve.access).await;
    assert_eq!(seen.status, StatusCode::NOT_FOUND);
    assert_eq!(seen.error_code(), "not_found");
    let paid = gw.pay(&eve, &id, GOOD_CARD).await;
    assert_eq!(paid.status, StatusCode::NOT_FOUND);
    let cancelled = gw
        .post(
            &format!("/api/v1/bookings/{id}/cancel"),
            Some(&eve.access),
            json!({}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::NOT_FOUND);
    // The same answer as for a booking that does not exist at all.
    let unknown = gw
        .get(
            &format!("/api/v1/bookings/{}", uuid::Uuid::new_v4()),
            &eve.access,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body, seen.body);

    // Ada's booking is untouched; Eve's list is empty.
    let mine = wait_booking(&gw, &ada, &id, |b| b["status"] == "awaiting_payment").await;
    // Eve's payment attempt never reached it: no attempt, still payable.
    assert_eq!(mine["payment"]["status"], "awaiting_payment_method");
    assert!(mine["payment"]["last_error"].is_null());
    assert!(mine["payment"]["client_secret"].is_string());
    let list = gw.get("/api/v1/bookings", &eve.access).await;
    assert_eq!(list.body["items"], json!([]));

    // An admin sees it, and finds it by flight and status.
    let admin = gw.admin().await;
    assert_eq!(
        gw.get(&format!("/api/v1/bookings/{id}"), &admin.access)
            .await
            .status,
        StatusCode::OK
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = gw
            .get(
                &format!("/api/v1/admin/bookings?flight_id={flight}&status=awaiting_payment"),
                &admin.access,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        if r.body["items"].as_array().unwrap().len() == 1 {
            assert_eq!(r.body["items"][0]["booking_id"], id);
            break;
        }
        assert!(Instant::now() < deadline, "{}", r.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let bad = gw
        .get("/api/v1/admin/bookings?status=lost", &admin.access)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.error_field(), Some("status"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_creates_with_one_key_make_one_booking() {
    let gw = Gateway::start("gw-idempotency").await;
    let flight = gw.flight().await;
    let before = gw.stack.seats_available(flight).await;
    let ada = gw.signup("ada@example.com").await;
    let key = new_key();
    let body = Gateway::booking_body(flight, json!({"cabin": "economy", "count": 2}), 2);
    let replies = join_all((0..20).map(|_| gw.book(&ada, &key, body.clone()))).await;
    let mut ids: Vec<&str> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            r.body["booking_id"].as_str().unwrap()
        })
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(gw.rows("select count(*) from booking_request").await, 1);
    assert_eq!(gw.stack.seats_available(flight).await, before - 2);
    let seats: Vec<&Value> = replies.iter().map(|r| &r.body["seats"]).collect();
    assert!(
        seats.windows(2).all(|w| w[0] == w[1]),
        "every reply names the same seats"
    );

    // The same key for a different request is refused, not replayed.
    let other = Gateway::booking_body(flight, json!({"cabin": "economy", "count": 1}), 1);
    let r = gw.book(&ada, &key, other).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.error_code(), "idempotency_key_reused");

    // Another user's identical key is another booking.
    let grace = gw.signup("grace@example.com").await;
    let theirs = gw.book(&grace, &key, body.clone()).await;
    assert_eq!(theirs.status, StatusCode::CREATED);
    assert_ne!(theirs.body["booking_id"], ids[0]);

    // Taken seats: 409 seats_unavailable, and the key stays bound to it.
    let taken = replies[0].body["seats"][0]["seat_number"].as_str().unwrap();
    let clash = Gateway::booking_body(flight, json!([taken]), 1);
    let clash_key = new_key();
    let r = gw.book(&grace, &clash_key, clash.clone()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.error_code(), "seats_unavailable");
    let r = gw.book(&grace, &clash_key, clash).await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "a retry reads the same failed booking"
    );

    // No key at all.
    let r = gw
        .request(
            Method::POST,
            "/api/v1/bookings",
            Some(&ada.access),
            Some(body),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "idempotency_key_required");
    assert_eq!(r.error_field(), Some("Idempotency-Key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_stripe_refuses_answers_422_and_a_cancel_while_confirming_409() {
    use support::stack::stripe_proxy::Action;
    let gw = Gateway::start("gw-refusals").await;
    let flight = gw.flight().await;
    let before = gw.stack.seats_available(flight).await;
    let ada = gw.signup("ada@example.com").await;

    // Stripe refuses the PaymentIntent: a stable 4xx, never a 500, and the
    // seat is free again.
    gw.stack.stripe_proxy.on(
        "POST",
        "/v1/payment_intents",
        "/payment_intents",
        Action::refusal("Amount must be no more than $999,999.99"),
    );
    let body = Gateway::booking_body(flight, json!(["3A"]), 1);
    let r = gw.book(&ada, &new_key(), body.clone()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.error_code(), "payment_rejected");
    assert!(
        !r.body.to_string().contains("999,999"),
        "provider text leaked: {}",
        r.body
    );
    assert_eq!(gw.stack.seats_available(flight).await, before);
    gw.stack.stripe_proxy.clear();

    // Paid while the flight service is away: `confirming`. A cancel then
    // is refused with a code the client retries on.
    let r = gw.book(&ada, &new_key(), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["booking_id"].as_str().unwrap().to_owned();
    gw.stack.proxy.set_up(false);
    let method = gw.stack.payment_method(GOOD_CARD).await;
    let pay_path = format!("/api/v1/bookings/{id}/payment");
    let pay = gw.post(
        &pay_path,
        Some(&ada.access),
        json!({"payment_method": method}),
    );
    let cancel = async {
        wait_booking(&gw, &ada, &id, |b| b["status"] == "confirming").await;
        let r = gw
            .post(
                &format!("/api/v1/bookings/{id}/cancel"),
                Some(&ada.access),
                json!({}),
            )
            .await;
        gw.stack.proxy.set_up(true);
        r
    };
    let (paid, refused) = tokio::join!(pay, cancel);
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(refused.error_code(), "booking_confirming");
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.body);
    assert_eq!(paid.body["status"], "confirmed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_needing_3d_secure_is_authenticated_at_stripe_and_the_webhook_confirms_it() {
    let gw = Gateway::start("gw-3ds").await;
    // As `make dev` does: localstripe delivers its events to the gateway.
    let registered = gw
        .http
        .post(format!("{}/_config/webhooks/gateway", gw.stack.stripe_url))
        .form(&[
            ("url", format!("{}/api/v1/webhooks/stripe", gw.base)),
            ("secret", WEBHOOK_SECRET.to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert!(registered.status().is_success());
    let flight = gw.flight().await;
    let ada = gw.signup("ada@example.com").await;
    let r = gw
        .book(
            &ada,
            &new_key(),
            Gateway::booking_body(flight, json!(["4C"]), 1),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["booking_id"].as_str().unwrap().to_owned();

    // The card needs 3-D Secure: still awaiting payment, with what
    // Stripe.js needs to run it.
    let r = gw.pay(&ada, &id, THREE_D_SECURE_CARD).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "awaiting_payment", "{}", r.body);
    let action = &r.body["payment"]["next_action"];
    assert_eq!(action["type"], "use_stripe_sdk", "{}", r.body);
    let secret = action["client_secret"].as_str().unwrap().to_owned();
    assert!(r.body["payment"]["last_error"].is_null());

    // The traveller authenticates with Stripe (Stripe.js against
    // localstripe); Stripe's webhook confirms the booking.
    let intent = r.body["payment"]["payment_intent_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let authenticated = gw
        .stack
        .stripe_post(
            &format!("/v1/payment_intents/{intent}/_authenticate"),
            &[("client_secret", &secret), ("success", "true")],
        )
        .await;
    assert_eq!(
        authenticated["status"], "requires_capture",
        "{authenticated}"
    );
    let done = wait_booking(&gw, &ada, &id, |b| b["status"] == "confirmed").await;
    assert_eq!(done["payment"]["status"], "captured");
    assert!(done["payment"]["next_action"].is_null());
    assert_eq!(gw.rows("select count(*) from stripe_event").await, 1);
    let handle = gw
        .stack
        .handle(&booking_workflows::contract::workflow_id(&id));
    gw.stack
        .save_history(&handle, "three_d_secure_then_webhook")
        .await;
}

/// A `payment_intent.amount_capturable_updated` event as Stripe sends it.
fn capturable_event(event_id: &str, intent: &Value, booking_id: &str) -> String {
    json!({
        "id": event_id, "object": "event", "api_version": "2025-03-31.basil",
        "created": chrono::Utc::now().timestamp(), "livemode": false, "pending_webhooks": 1,
        "type": "payment_intent.amount_capturable_updated",
        "data": {"object": {
            "id": intent["id"], "object": "payment_intent",
            "amount": intent["amount"], "amount_capturable": intent["amount"], "amount_received": 0,
            "capture_method": "manual", "confirmation_method": "automatic",
            "created": chrono::Utc::now().timestamp(), "currency": "eur", "livemode": false,
            "metadata": {"booking_id": booking_id}, "payment_method_types": ["card"],
            "status": "requires_capture"
        }}
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_webhook_checks_the_signature_and_signals_each_event_once() {
    let gw = Gateway::start("gw-webhook").await;
    let flight = gw.flight().await;
    let ada = gw.signup("ada@example.com").await;
    let created = gw
        .book(
            &ada,
            &new_key(),
            Gateway::booking_body(flight, json!({"cabin": "economy", "count": 1}), 1),
        )
        .await;
    let id = created.body["booking_id"].as_str().unwrap().to_owned();
    let intent_id = created.body["payment"]["payment_intent_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The traveller's browser confirms the intent with Stripe directly.
    let pm = gw.stack.payment_method(GOOD_CARD).await;
    gw.stack
        .stripe_post(
            &format!("/v1/payment_intents/{intent_id}"),
            &[("payment_method", &pm)],
        )
        .await;
    let intent = gw
        .stack
        .stripe_post(&format!("/v1/payment_intents/{intent_id}/confirm"), &[])
        .await;
    assert_eq!(intent["status"], "requires_capture", "{intent}");

    let post = |payload: String, signature: Option<String>| {
        let mut req = gw
            .http
            .post(format!("{}/api/v1/webhooks/stripe", gw.base))
            .header("content-type", "application/json")
            .body(payload);
        if let Some(s) = signature {
            req = req.header("stripe-signature", s);
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let payload = capturable_event("evt_gw_1", &intent, &id);

    // Refused: no signature, another secret, a stale one, a changed body.
    let (s, b) = post(payload.clone(), None).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_signature"))
    );
    let wrong = Webhook::generate_test_header(&payload, "whsec_someone_else", None);
    assert_eq!(
        post(payload.clone(), Some(wrong)).await.0,
        StatusCode::BAD_REQUEST
    );
    let stale = Webhook::generate_test_header(
        &payload,
        WEBHOOK_SECRET,
        Some(chrono::Utc::now().timestamp() - 600),
    );
    assert_eq!(
        post(payload.clone(), Some(stale)).await.0,
        StatusCode::BAD_REQUEST
    );
    let signature = Webhook::generate_test_header(&payload, WEBHOOK_SECRET, None);
    let changed = payload.replace("requires_capture", "succeeded");
    assert_eq!(
        post(changed, Some(signature.clone())).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(gw.rows("select count(*) from stripe_event").await, 0);
    wait_booking(&gw, &ada, &id, |b| b["status"] == "awaiting_payment").await;

    // Good: the booking is signalled and confirms.
    let (s, b) = post(payload.clone(), Some(signature.clone())).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["outcome"], "signalled");
    let done = wait_booking(&gw, &ada, &id, |b| b["status"] == "confirmed").await;
    assert_eq!(done["payment"]["status"], "captured");

    // Replayed: acknowledged, not processed again.
    let (s, b) = post(
        payload.clone(),
        Some(Webhook::generate_test_header(
            &payload,
            WEBHOOK_SECRET,
            None,
        )),
    )
    .await;
    assert_eq!(
        (s, b["outcome"].as_str()),
        (StatusCode::OK, Some("duplicate"))
    );
    assert_eq!(gw.rows("select count(*) from stripe_event").await, 1);

    // An event type the bookings do not use: 200, ignored.
    let other = json!({"id": "evt_gw_2", "object": "event", "type": "customer.created",
        "created": 1, "livemode": false, "pending_webhooks": 1,
        "data": {"object": {"id": "cus_1", "object": "customer"}}})
    .to_string();
    let (s, b) = post(
        other.clone(),
        Some(Webhook::generate_test_header(&other, WEBHOOK_SECRET, None)),
    )
    .await;
    assert_eq!(
        (s, b["outcome"].as_str()),
        (StatusCode::OK, Some("ignored")),
        "{b}"
    );

    // One charge in all.
    let intent = gw.stack.intent(&intent_id).await;
    assert_eq!(intent["status"], "succeeded", "{intent}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_wrong_typed_and_oversized_bodies_get_4xx_in_the_error_shape_and_write_nothing() {
    let gw = Gateway::start("gw-bad-input").await;
    let flight = gw.flight().await;
    let ada = gw.signup("ada@example.com").await;
    let users_before = gw.rows("select count(*) from app_user").await;
    let raw = |path: &str, body: Vec<u8>, key: bool| {
        let mut req = gw
            .http
            .post(format!("{}{path}", gw.base))
            .bearer_auth(&ada.access)
            .header("content-type", "application/json")
            .body(body);
        if key {
            req = req.header("idempotency-key", new_key());
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let good = Gateway::booking_body(flight, json!(["1A"]), 1);
    let with = |path: &str, value: Value| {
        let mut body = good.clone();
        let mut target = &mut body;
        let parts: Vec<&str> = path.split('.').collect();
        for p in &parts[..parts.len() - 1] {
            target = match p.parse::<usize>() {
                Ok(i) => &mut target[i],
                Err(_) => &mut target[*p],
            };
        }
        target[parts[parts.len() - 1]] = value;
        body
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "flight_id as text",
            with("flight_id", json!("12")),
            "flight_id",
        ),
        ("negative flight", with("flight_id", json!(-3)), "flight_id"),
        ("no seats", with("seats", json!([])), "seats"),
        ("bad seat", with("seats", json!(["1A", "ZZ"])), "seats[1]"),
        (
            "same seat twice",
            with("seats", json!(["1A", "1A"])),
            "seats[1]",
        ),
        (
            "unknown cabin",
            with("seats", json!({"cabin": "cargo", "count": 1})),
            "seats.cabin",
        ),
        (
            "zero seats",
            with("seats", json!({"cabin": "economy", "count": 0})),
            "seats.count",
        ),
        (
            "fewer passengers",
            with("passengers", json!([])),
            "passengers",
        ),
        (
            "no first name",
            with("passengers.0.first_name", json!("  ")),
            "passengers[0].first_name",
        ),
        (
            "born tomorrow",
            with("passengers.0.date_of_birth", json!("2999-01-01")),
            "passengers[0].date_of_birth",
        ),
        (
            "not a date",
            with("passengers.0.date_of_birth", json!("10/12/1990")),
            "passengers[0].date_of_birth",
        ),
        (
            "bad email",
            with("contact_email", json!("ada@")),
            "contact_email",
        ),
        (
            "email as number",
            with("contact_email", json!(42)),
            "contact_email",
        ),
        ("unknown field", with("discount", json!(100)), "discount"),
    ];
    for (what, body, field) in cases {
        let (status, reply) = raw("/api/v1/bookings", body.to_string().into_bytes(), true).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {reply}");
        assert!(reply["error"]["message"].is_string(), "{what}: {reply}");
        assert!(
            reply["error"]["field"]
                .as_str()
                .is_some_and(|f| f.contains(field)),
            "{what}: expected field {field}: {reply}"
        );
    }
    let (status, reply) = raw("/api/v1/bookings", b"{\"flight_id\": ".to_vec(), true).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert_eq!(reply["error"]["code"], "malformed_json");
    let huge = json!({"flight_id": flight, "seats": ["1A"], "contact_email": "a@b.co",
        "passengers": [{"first_name": "x".repeat(20_000), "last_name": "y", "date_of_birth": "1990-01-01"}]});
    let (status, reply) = raw("/api/v1/bookings", huge.to_string().into_bytes(), true).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{reply}");
    assert_eq!(reply["error"]["code"], "payload_too_large");

    // Accounts: each field named.
    for (body, field) in [
        (
            json!({"email": "nope", "password": PASSWORD, "name": "A"}),
            "email",
        ),
        (
            json!({"email": "b@example.com", "password": "short", "name": "A"}),
            "password",
        ),
        (
            json!({"email": "b@example.com", "password": PASSWORD, "name": ""}),
            "name",
        ),
        (
            json!({"email": "b@example.com", "password": 12, "name": "A"}),
            "password",
        ),
        (json!({"email": "b@example.com", "name": "A"}), "password"),
    ] {
        let r = gw.post("/api/v1/auth/signup", None, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert_eq!(r.error_field(), Some(field), "{body}");
    }
    let dup = gw
        .post(
            "/api/v1/auth/signup",
            None,
            json!({"email": "ADA@example.com", "password": PASSWORD, "name": "A"}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.error_code(), "email_taken");
    let pay = gw
        .post(
            &format!("/api/v1/bookings/{}/payment", uuid::Uuid::new_v4()),
            Some(&ada.access),
            json!({"payment_method": "4242 4242"}),
        )
        .await;
    assert_eq!(pay.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(pay.error_field(), Some("payment_method"));
    let route = gw.get("/api/v1/nothing-here", &ada.access).await;
    assert_eq!(route.status, StatusCode::NOT_FOUND);
    assert_eq!(route.error_code(), "not_found");

    // Nothing was written by any refusal.
    assert_eq!(gw.rows("select count(*) from booking_request").await, 0);
    assert_eq!(gw.rows("select count(*) from app_user").await, users_before);
    assert_eq!(gw.rows("select count(*) from booking").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_flight_changes_reach_every_live_booking_on_the_flight() {
    let gw = Gateway::start("gw-fanout").await;
    let flight = gw.flight().await;
    let admin = gw.admin().await;
    let ada = gw.signup("ada@example.com").await;
    let grace = gw.signup("grace@example.com").await;
    let body = Gateway::booking_body(flight, json!({"cabin": "economy", "count": 1}), 1);
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
    let version_before = gw.get(&path, &admin.access).await.body["version"]
        .as_i64()
        .unwrap();
    let later = support::utc_in_days(9, 13, 30);
    let change = json!({"departure_time": later, "arrival_time": support::utc_in_days(9, 14, 40)});
    let moved_key = new_key();
    for _ in 0..2 {
        let r = gw
            .request(
                Method::PATCH,
                &path,
                Some(&admin.access),
                Some(change.clone()),
                &[("idempotency-key", moved_key.as_str())],
            )
            .await;
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
        let handle = gw
            .stack
            .handle(&booking_workflows::contract::workflow_id(id));
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
            json!({"departure_time": later, "arrival_time": support::utc_in_days(9, 12, 0)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body["error"]["code"].is_string(), "{}", r.body);

    // Cancelled: the paid booking is refunded, the unpaid one released.
    let cancel_key = new_key();
    let cancel = json!({"status": "cancelled"});
    let r = gw
        .request(
            Method::PATCH,
            &path,
            Some(&admin.access),
            Some(cancel.clone()),
            &[("idempotency-key", cancel_key.as_str())],
        )
        .await;
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
    let handle = gw
        .stack
        .client
        .get_workflow_handle::<FlightChangeFanout>(&moved_id);
    gw.stack
        .save_history(&handle, "fanout_schedule_changed")
        .await;
    let handle = gw
        .stack
        .client
        .get_workflow_handle::<FlightChangeFanout>(&cancelled_id);
    gw.stack
        .save_history(&handle, "fanout_flight_cancelled")
        .await;
    // Sent again: the same fan-out, nothing doubled.
    let r = gw
        .patch(&path, &admin.access, json!({"status": "cancelled"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let intent = a.body["payment"]["payment_intent_id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(gw.stack.refunds(intent).await.len(), 1);
}

/// The Prometheus page of `url`, saved as `dir/name.txt`.
async fn scrape(gw: &Gateway, url: &str, dir: &std::path::Path, name: &str) -> String {
    let page = gw.stack.get_text(url).await;
    std::fs::write(dir.join(format!("{name}.txt")), &page).unwrap();
    page
}

fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

/// Every service exports what the Grafana dashboard and the alert rules
/// in deploy/observability query: a booking whose hold is retried (the
/// flight service briefly unreachable), a declined card, then a good one;
/// then the pages of the gateway (with the in-process flight service), the
/// worker's booking metrics and its Temporal metrics go to
/// `deploy/validate.py metrics`, which fails on any name no one exports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_export_every_metric_the_dashboard_and_alerts_use() {
    let gw = Gateway::start("gw-metrics").await;
    gw.stack.wait_worker_ready().await;
    let flight = gw.flight().await;
    let ada = gw.signup("ada@metrics.test").await;

    // The first hold attempt fails: the flight service is "down" for 1.5 s.
    gw.stack.proxy.set_up(false);
    let body = Gateway::booking_body(flight, json!({"cabin": "economy", "count": 1}), 1);
    let key = new_key();
    let (created, ()) = tokio::join!(gw.book(&ada, &key, body), async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        gw.stack.proxy.set_up(true);
    });
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["booking_id"].as_str().unwrap().to_owned();

    // Stripe "down" for the first authorization: the activity fails and
    // is retried (an activity's failure, which the alerts count).
    gw.stack.stripe_proxy.on(
        "POST",
        "/v1/payment_intents/",
        "/confirm",
        support::stack::stripe_proxy::Action::outage(),
    );
    let (declined, ()) = tokio::join!(gw.pay(&ada, &id, support::DECLINED_CARD), async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        gw.stack.stripe_proxy.clear();
    });
    assert_eq!(
        declined.body["status"], "awaiting_payment",
        "{}",
        declined.body
    );
    let paid = gw.pay(&ada, &id, GOOD_CARD).await;
    assert_eq!(paid.body["status"], "confirmed", "{}", paid.body);

    let dir = gw.stack.logs.join("metrics");
    std::fs::create_dir_all(&dir).unwrap();
    let worker = format!("http://127.0.0.1:{}/metrics", gw.stack.worker_http_port);
    let temporal = format!("http://127.0.0.1:{}/metrics", gw.stack.worker_metrics_port);
    // The read model is written just after the answer: wait for the count.
    let deadline = Instant::now() + Duration::from_secs(30);
    let bookings = loop {
        let page = scrape(&gw, &worker, &dir, "worker").await;
        if sample(&page, "booking_transitions_total{status=\"confirmed\"}") == Some(1.0) {
            break page;
        }
        assert!(
            Instant::now() < deadline,
            "no confirmed transition counted:\n{page}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for (series, want) in [
        (
            "booking_transitions_total{status=\"awaiting_payment\"}",
            1.0,
        ),
        (
            "booking_payment_authorizations_total{result=\"declined\"}",
            1.0,
        ),
        (
            "booking_payment_authorizations_total{result=\"authorized\"}",
            1.0,
        ),
        ("booking_stuck{reason=\"payment_window_passed\"}", 0.0),
        ("booking_stuck{reason=\"confirming_too_long\"}", 0.0),
        ("booking_stuck{reason=\"needs_attention\"}", 0.0),
    ] {
        assert_eq!(
            sample(&bookings, series),
            Some(want),
            "{series}:\n{bookings}"
        );
    }
    let temporal_page = scrape(&gw, &temporal, &dir, "worker-temporal").await;
    assert!(
        temporal_page
            .lines()
            .any(|l| l.starts_with("temporal_activity_execution_failed{")
                && l.contains("activity_type=\"authorize_payment\"")),
        "the failed authorization attempt is not counted:\n{temporal_page}"
    );
    // The hold is a local activity on the fast path: counted apart.
    assert!(
        temporal_page.lines().any(
            |l| l.starts_with("temporal_local_activity_execution_failed{")
                && l.contains("activity_type=\"hold_seats\"")
        ),
        "the failed hold attempt is not counted:\n{temporal_page}"
    );
    scrape(&gw, &format!("{}/metrics", gw.metrics_base), &dir, "api").await;

    support::run_python_check("deploy/validate.py", &["metrics".as_ref(), dir.as_os_str()]);
}
