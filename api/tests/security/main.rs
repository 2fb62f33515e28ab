//! The gateway's defences over real HTTP, with its real dependencies: who
//! becomes admin, and what a client cannot get around.

mod logins;
mod payloads;

use reqwest::StatusCode;
use serde_json::json;
use testkit::gateway::{
    ADMIN_EMAIL, ADMIN_PASSWORD, DECLINED_CARD, GOOD_CARD, Gateway, binary_command,
};
use testkit::stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_registered_with_the_admin_address_is_never_promoted() {
    let gw = Gateway::start("admin-takeover").await;
    // Someone registers the address the next deploy will name as admin.
    let squatter = "next-admin@airline.test";
    let session = gw.signup(squatter).await;

    let refused = gw
        .build_another(|c| {
            c.auth.admin = Some((squatter.into(), "the-deployed-password".to_owned().into()))
        })
        .await;
    let message = refused
        .err()
        .expect("the gateway refuses to start")
        .to_string();
    assert!(
        message.contains("ADMIN_EMAIL") && message.contains(squatter),
        "{message}"
    );
    let admins =
        format!("select count(*) from app_user where email = '{squatter}' and role = 'admin'");
    assert_eq!(gw.rows(&admins).await, 0, "not promoted");
    // The squatter's token still carries no admin role.
    let r = gw
        .patch("/api/v1/flights/1", &session.access, json!({"gate": "B12"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    // The next start with the existing admin leaves it as it is: its
    // password does not follow a changed ADMIN_PASSWORD.
    gw.build_another(|c| {
        c.auth.admin = Some((
            ADMIN_EMAIL.into(),
            "a-changed-password-456".to_owned().into(),
        ))
    })
    .await
    .expect("an existing admin starts fine");
    gw.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let accounts = format!("select count(*) from app_user where email = '{ADMIN_EMAIL}'");
    assert_eq!(gw.rows(&accounts).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn travellers_read_stable_codes_and_our_words_never_the_providers() {
    use stack::stripe_proxy::Action;
    let (gw, flight, ada) = Gateway::start_with_ada("no-leaks").await;

    // Stripe refuses the PaymentIntent with its own words and an id.
    let provider_text = "Amount must be no more than $999,999.99 (req_9Zx)";
    gw.stack.stripe_proxy.on(
        "POST",
        "/v1/payment_intents",
        "/payment_intents",
        Action::refusal(provider_text),
    );
    let body = Gateway::booking_body(flight, json!(["5A"]), 1);
    let r = gw.book(&ada, "leak-check-1", body).await;
    assert_eq!(r.error_code(), "payment_rejected", "{}", r.body);
    gw.stack.stripe_proxy.clear();
    // The failed booking as its owner lists it: our code and words only.
    let list = loop {
        let list = gw.get("/api/v1/bookings", &ada.access).await;
        if list.body["items"][0]["status"] == "failed" {
            break list;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let failed = &list.body["items"][0];
    assert_eq!(failed["reason_code"], "payment_rejected");
    assert_eq!(
        failed["reason"],
        "the payment could not be set up; nothing was charged"
    );
    let text = list.body.to_string();
    for leak in ["999,999", "req_9Zx", "Stripe", "PaymentIntent"] {
        assert!(!text.contains(leak), "{leak} leaked: {text}");
    }
    let last = failed["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["reason_code"], "payment_rejected");

    // A declined card: the decline's stable code and our sentence.
    let body = Gateway::booking_body(flight, json!(["5B"]), 1);
    let r = gw.book(&ada, "leak-check-2", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["booking_id"].as_str().unwrap().to_owned();
    let declined = gw.pay(&ada, &id, DECLINED_CARD).await;
    assert_eq!(
        declined.body["status"], "awaiting_payment",
        "{}",
        declined.body
    );
    assert_eq!(
        declined.body["payment"]["last_error"],
        json!({"code": "card_declined", "message": "the card was declined; please try another card"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_can_neither_hoard_seats_nor_test_cards_without_end() {
    let gw = Gateway::start_with("fair-use", |c| {
        c.bookings.max_live_bookings = 2;
        c.bookings.max_held_seats = 3;
        c.bookings.max_payment_attempts = 2;
    })
    .await;
    let flight = gw.flight().await;
    let before = gw.stack.flights.seats_available(flight).await;
    let ada = gw.signup("ada@example.com").await;
    let book = |key: &'static str, seats: serde_json::Value| {
        let n = seats.as_array().unwrap().len();
        gw.book(&ada, key, Gateway::booking_body(flight, seats, n))
    };

    // Two bookings, three seats: the caps are reached ...
    let first = book("hoard-1", json!(["7A", "7B"])).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let second = book("hoard-2", json!(["7C"])).await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.body);
    // ... a third is refused, and holds nothing ...
    let third = book("hoard-3", json!(["8A"])).await;
    assert_eq!(third.status, StatusCode::CONFLICT, "{}", third.body);
    assert_eq!(third.error_code(), "too_many_holds");
    assert_eq!(gw.stack.flights.seats_available(flight).await, before - 3);
    // ... while a retry of a booking already made still gets its answer.
    let retried = book("hoard-1", json!(["7A", "7B"])).await;
    assert_eq!(retried.status, StatusCode::CREATED, "{}", retried.body);
    assert_eq!(retried.body["booking_id"], first.body["booking_id"]);
    // Cancelling one makes room again.
    let second_id = second.body["booking_id"].as_str().unwrap();
    let cancelled = gw.cancel(&ada, second_id).await;
    assert_eq!(cancelled.body["status"], "cancelled", "{}", cancelled.body);
    let fourth = book("hoard-4", json!(["8A"])).await;
    assert_eq!(fourth.status, StatusCode::CREATED, "{}", fourth.body);

    // Card testing: the second declined card is the last; the booking is
    // cancelled, its seats go back, and the traveller gets one email.
    let id = first.body["booking_id"].as_str().unwrap().to_owned();
    let reference = first.body["booking_ref"].as_str().unwrap().to_owned();
    let declined = gw.pay(&ada, &id, DECLINED_CARD).await;
    assert_eq!(declined.status, StatusCode::OK, "{}", declined.body);
    assert_eq!(declined.body["status"], "awaiting_payment");
    let last = gw.pay(&ada, &id, DECLINED_CARD).await;
    assert_eq!(last.status, StatusCode::CONFLICT, "{}", last.body);
    assert_eq!(last.error_code(), "payment_attempts_exhausted");
    let view = loop {
        let view = gw.get(&format!("/api/v1/bookings/{id}"), &ada.access).await;
        if view.body["status"] != "awaiting_payment" {
            break view;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(view.body["status"], "cancelled", "{}", view.body);
    assert_eq!(view.body["reason_code"], "payment_attempts_exhausted");
    let again = gw.pay(&ada, &id, GOOD_CARD).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert_eq!(
        gw.stack.flights.seats_available(flight).await,
        before - 1,
        "only 8A is held"
    );
    let subject = format!("Your booking {reference} is cancelled");
    assert_eq!(gw.stack.mail().wait(&subject, 1).await.len(), 1);
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(gw.stack.mail().about(&subject).len(), 1, "one email");
}

/// `method path` sent byte for byte (an HTTP client would normalise `..`
/// and `\` before sending): the answer's status.
async fn raw_status(base: &str, method: &str, path: &str, token: &str, body: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalogue_proxy_forwards_no_traversal_to_the_flight_service() {
    let (gw, flight, ada) = Gateway::start_with_ada("catalogue-traversal").await;
    let admin = gw.admin().await;
    let booking = uuid::Uuid::new_v4();
    // Every spelling of "up one level" and of a separator, raw, encoded,
    // double-encoded and mixed, towards the flight service's metrics and
    // its holds.
    let reads = [
        "/api/v1/flights/..\\..\\..\\metrics",
        "/api/v1/flights/%2e%2e%5c%2e%2e%5c%2e%2e%5cmetrics",
        "/api/v1/flights/%2E%2E%2F%2E%2E%2F%2E%2E%2Fmetrics",
        "/api/v1/flights/..%5c..%5c..%5cmetrics",
        "/api/v1/flights/.%2e\\%2e.\\..%5cmetrics",
        "/api/v1/flights/%252e%252e%255cmetrics",
        "/api/v1/cities/..%2F..%2Fmetrics",
        "/api/v1/flights/1\\..\\..\\..\\metrics",
        &format!("/api/v1/flights/{flight}%2F..%2F..%2F..%2Fmetrics"),
        "/api/v1/airports/..;/..;/metrics",
    ];
    for path in reads {
        let status = raw_status(&gw.base, "GET", path, &ada.access, "").await;
        assert!(status == 404 || status == 400, "{path} answered {status}");
    }
    let writes = [
        format!("/api/v1/cities/..\\holds\\{booking}"),
        format!("/api/v1/cities/..%5cholds%5c{booking}"),
        format!("/api/v1/cities/%2e%2e%2fholds%2f{booking}"),
        format!("/api/v1/airports/..\\..\\api\\v1\\holds\\{booking}"),
    ];
    let hold = json!({"flight_id": flight, "seats": ["1A"]}).to_string();
    for path in &writes {
        let status = raw_status(&gw.base, "PUT", path, &admin.access, &hold).await;
        assert!(
            status == 404 || status == 400 || status == 422,
            "{path} answered {status}"
        );
    }
    // Nothing was held behind the gateway's back.
    let held: i64 = sqlx::query_scalar("select count(*) from seat where status <> 'available'")
        .fetch_one(&gw.stack.flights.pool)
        .await
        .unwrap();
    assert_eq!(held, 0);
    // The routes themselves still work.
    let r = gw
        .get(&format!("/api/v1/flights/{flight}"), &ada.access)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// The gateway's binary with every setting it needs, none of them a
/// published development value, and `AIRLINE_ENV` unset (production).
fn gateway_command() -> std::process::Command {
    binary_command(env!("CARGO_BIN_EXE_api"))
}

#[test]
fn every_published_dev_secret_stops_the_gateway_outside_development() {
    let published = [
        ("JWT_SECRET", "dev-only-jwt-secret-change-me-0123456789"),
        ("JWT_SECRET", "dev-jwt-secret-at-least-32-characters-long"),
        ("FLIGHTS_SERVICE_TOKEN", "dev-flights-service-token"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_local_dev"),
        ("ADMIN_PASSWORD", "admin-password-dev"),
        (
            codec::KEYS_VAR,
            "dev-1=ZGV2LW9ubHktcGF5bG9hZC1rZXktY2hhbmdlLW1lISE=",
        ),
    ];
    for (name, value) in published {
        let mut cmd = gateway_command();
        cmd.env(name, value).env("ADMIN_EMAIL", "ops@airline.test");
        if name != "ADMIN_PASSWORD" {
            cmd.env("ADMIN_PASSWORD", "an-admin-password-of-our-own-42");
        }
        let out = cmd.output().expect("the gateway runs");
        testkit::process::assert_refused_published(&out, name, value);
        // The same value is the local stack's: accepted in development
        // (the start then fails further on, at the database).
        let out = gateway_command()
            .env(name, value)
            .env("AIRLINE_ENV", "development")
            .env("ADMIN_EMAIL", "ops@airline.test")
            .env(
                "ADMIN_PASSWORD",
                if name == "ADMIN_PASSWORD" {
                    value
                } else {
                    "an-admin-password-of-our-own-42"
                },
            )
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("development values"),
            "{name} in development: {stderr}"
        );
    }
    // Switching address confirmation off is for development only.
    let out = gateway_command()
        .env("BOOKING_REQUIRES_VERIFIED_EMAIL", "false")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("BOOKING_REQUIRES_VERIFIED_EMAIL=false is for development only"),
        "{stderr}"
    );
}
