//! The gateway's defences over real HTTP, with its real dependencies: who
//! becomes admin, and what a client cannot get around.

mod support;

use reqwest::StatusCode;
use serde_json::json;
use support::{ADMIN_EMAIL, ADMIN_PASSWORD, Gateway};

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

/// POSTs `body` to `base` + `path` from this process (peer 127.0.0.1) with
/// extra headers: the status, the error code and `Retry-After`.
async fn post_raw(
    http: &reqwest::Client,
    url: String,
    body: serde_json::Value,
    headers: &[(&str, &str)],
) -> (StatusCode, String, Option<u64>) {
    let mut req = http.post(url).json(&body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (status, code, retry_after)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_throttled_per_account_across_replicas() {
    let gw = Gateway::start("login-throttle").await;
    let replica = gw.serve_another(|_| {}).await;
    let email = "guessed@airline.test";
    gw.signup(email).await;
    let login = |base: &str, password: &str| {
        post_raw(
            &gw.http,
            format!("{base}/api/v1/auth/login"),
            json!({"email": email, "password": password}),
            &[],
        )
    };

    // Five wrong guesses on one replica go through (each one a 401) ...
    for _ in 0..5 {
        let (status, code, _) = login(&gw.base, "wrong password 1").await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNAUTHORIZED, "invalid_credentials")
        );
    }
    // ... then the other replica refuses the next one, even the right
    // password, with the time to wait.
    let (status, code, retry_after) = login(&replica, support::PASSWORD).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "login_throttled")
    );
    assert_eq!(retry_after, Some(1));
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    // The sixth guess waits twice as long afterwards.
    let (status, _, _) = login(&replica, "wrong password 2").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, code, retry_after) = login(&gw.base, "wrong password 3").await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "login_throttled")
    );
    assert_eq!(retry_after, Some(2));
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    // The owner gets in, and that clears the count.
    let (status, _, _) = login(&replica, support::PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let throttled =
        format!("select count(*) from login_throttle where email = '{email}' and scope <> '*'");
    assert_eq!(gw.rows(&throttled).await, 0);
    let (status, _, _) = login(&gw.base, "wrong password 4").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Parallel guesses queue on the account: no more than the free ones
    // reach the password check before the lock.
    gw.login(email, support::PASSWORD).await;
    let guesses = (0..12).map(|_| login(&gw.base, "parallel guess"));
    let answers = futures::future::join_all(guesses).await;
    let checked = answers
        .iter()
        .filter(|(status, _, _)| *status == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(checked, 5, "{answers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_address_counts_only_when_a_trusted_proxy_wrote_it() {
    let burst = 3;
    let limited = |trusted: &str| {
        let trusted = api::config::parse_proxies(trusted).unwrap();
        move |c: &mut api::config::Config| {
            c.limits.auth_period = std::time::Duration::from_secs(600);
            c.limits.auth_burst = burst;
            c.limits.trusted_proxies = trusted;
        }
    };
    let gw = Gateway::start_with("forwarded-for", limited("")).await;
    // A refresh with an unknown token: cheap, and limited per client IP.
    let refresh = |base: String, forwarded: String| {
        let http = gw.http.clone();
        async move {
            post_raw(
                &http,
                format!("{base}/api/v1/auth/refresh"),
                json!({"refresh_token": "not-a-token"}),
                &[("x-forwarded-for", forwarded.as_str())],
            )
            .await
        }
    };

    // No trusted proxy: a client rotating X-Forwarded-For stays one client.
    for i in 0..burst {
        let (status, _, _) = refresh(gw.base.clone(), format!("203.0.113.{i}")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, code, retry_after) = refresh(gw.base.clone(), "203.0.113.99".into()).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    assert!(retry_after.is_some());

    // Behind a trusted proxy (this process, 127.0.0.1) the client is the
    // right-most untrusted hop: rotating what the client wrote to its left
    // does not escape the limit either ...
    let proxied = gw.serve_another(limited("127.0.0.1/32")).await;
    for i in 0..burst {
        let forwarded = format!("198.18.0.{i}, 198.51.100.7");
        let (status, _, _) = refresh(proxied.clone(), forwarded).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, code, _) = refresh(proxied.clone(), "198.18.0.50, 198.51.100.7".into()).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    // ... while another client behind the proxy has its own allowance.
    let (status, _, _) = refresh(proxied.clone(), "198.51.100.8".into()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn travellers_read_stable_codes_and_our_words_never_the_providers() {
    use support::stack::stripe_proxy::Action;
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
    let declined = gw.pay(&ada, &id, support::DECLINED_CARD).await;
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
async fn a_session_ends_at_its_maximum_age_and_late_reuse_revokes_it() {
    use std::time::{Duration, Instant};
    let gw = Gateway::start_with("sessions", |c| {
        c.auth.refresh_reuse_grace = Duration::from_secs(1);
        c.auth.session_max_age = Duration::from_secs(4);
    })
    .await;
    gw.signup("ada@example.com").await;
    let refresh = |token: String| {
        let http = gw.http.clone();
        let url = format!("{}/api/v1/auth/refresh", gw.base);
        async move {
            let r = http
                .post(url)
                .json(&json!({"refresh_token": token}))
                .send()
                .await
                .unwrap();
            let status = r.status();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            (status, body["refresh_token"].as_str().map(str::to_owned))
        }
    };

    // Past the grace period, a used token is reuse: the family goes.
    let session = gw.login("ada@example.com", support::PASSWORD).await;
    let (status, next) = refresh(session.refresh.clone()).await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    assert_eq!(refresh(session.refresh).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(next.unwrap()).await.0, StatusCode::UNAUTHORIZED);

    // Refreshing keeps a session alive only up to its maximum age, counted
    // from the login.
    let login = Instant::now();
    let session = gw.login("ada@example.com", support::PASSWORD).await;
    let mut token = session.refresh;
    while login.elapsed() < Duration::from_millis(3_000) {
        let (status, next) = refresh(token).await;
        assert_eq!(status, StatusCode::OK);
        token = next.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(
        Duration::from_secs(4).saturating_sub(login.elapsed()) + Duration::from_millis(300),
    )
    .await;
    assert_eq!(
        refresh(token).await.0,
        StatusCode::UNAUTHORIZED,
        "the session outlived its maximum age"
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
    let before = gw.stack.seats_available(flight).await;
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
    assert_eq!(gw.stack.seats_available(flight).await, before - 3);
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
    let declined = gw.pay(&ada, &id, support::DECLINED_CARD).await;
    assert_eq!(declined.status, StatusCode::OK, "{}", declined.body);
    assert_eq!(declined.body["status"], "awaiting_payment");
    let last = gw.pay(&ada, &id, support::DECLINED_CARD).await;
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
    let again = gw.pay(&ada, &id, support::GOOD_CARD).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert_eq!(
        gw.stack.seats_available(flight).await,
        before - 1,
        "only 8A is held"
    );
    let subject = format!("Your booking {reference} is cancelled");
    assert_eq!(gw.stack.wait_mails(&subject, 1).await.len(), 1);
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(gw.stack.mails_about(&subject).len(), 1, "one email");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporal_holds_only_ciphertext_and_the_codec_endpoint_decodes_it() {
    // A traveller who gives a phone number: it is personal data too.
    let (gw, ada, r) = Gateway::start_texting("encrypted-payloads", "6A").await;
    let id = r.body["booking_id"].as_str().unwrap().to_owned();
    let paid = gw.pay(&ada, &id, support::GOOD_CARD).await;
    assert_eq!(paid.body["status"], "confirmed", "{}", paid.body);
    // The text went (so its activity's input is in the history too), and
    // the worker never logged the number.
    assert_eq!(gw.stack.wait_texts(1).await[0].to, "+447400123456");
    for log in std::fs::read_dir(&gw.stack.logs).unwrap() {
        let path = log.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("worker")
        {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                !text.contains("7400123456"),
                "the number in {}",
                path.display()
            );
        }
    }

    // The history as anyone with Temporal access reads it: the plain CLI.
    let out = std::process::Command::new(support::stack::venv_bin("temporal"))
        .args(["workflow", "show", "--output", "json", "--workflow-id"])
        .arg(format!("booking-{id}"))
        .arg("--address")
        .arg(format!("127.0.0.1:{}", gw.stack.temporal_port))
        .output()
        .expect("temporal workflow show");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let history = String::from_utf8(out.stdout).unwrap();
    let personal = ["Lovelace", "1990-12-10", "ada@example.com", "7400123456"];
    let encoded = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    for secret in personal {
        assert!(
            !history.contains(secret),
            "{secret} in plain text in the history"
        );
        // Nor hidden in a plain base64 payload (the CLI's JSON carries
        // payload bytes in base64): look for its encoding at each offset.
        for pad in ["", "x", "xx"] {
            let probe = encoded(&format!("{pad}{secret}"));
            let core = &probe[probe.len() / 3..probe.len() * 2 / 3];
            assert!(!history.contains(core), "{secret} readable in a payload");
        }
    }
    let parsed: serde_json::Value = serde_json::from_str(&history).unwrap();
    let input = parsed["events"][0]["workflowExecutionStartedEventAttributes"]["input"].clone();
    let payloads = input["payloads"].clone();
    assert_eq!(
        payloads[0]["metadata"]["encoding"],
        encoded(payload_codec::ENCODING),
        "{input}"
    );
    // Search attributes stay plain (and hold no personal data).
    let attributes =
        parsed["events"][0]["workflowExecutionStartedEventAttributes"]["searchAttributes"]
            .to_string();
    assert!(attributes.contains("BookingRef"), "{attributes}");

    // The codec endpoint, as the Web UI behind OIDC sign-in calls it: CORS
    // for the UI's origin, the operator's access token as a bearer token,
    // and the input in plain text (api/tests/codec.rs: who else is refused).
    let codec = format!("{}/codec", gw.metrics_base);
    let operator = gw.operators.token();
    let preflight = gw
        .http
        .request(reqwest::Method::OPTIONS, format!("{codec}/decode"))
        .header("origin", support::CODEC_UI_ORIGIN)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,x-namespace",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        support::CODEC_UI_ORIGIN
    );
    let decoded: serde_json::Value = gw
        .http
        .post(format!("{codec}/decode"))
        .header("origin", support::CODEC_UI_ORIGIN)
        .header("x-namespace", "default")
        .bearer_auth(&operator)
        .json(&json!({"payloads": payloads}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let data = decoded["payloads"][0]["data"].as_str().unwrap();
    let plain = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap()
    };
    let plain = String::from_utf8(plain).unwrap();
    assert!(
        plain.contains("Lovelace") && plain.contains("ada@example.com"),
        "{plain}"
    );
    // The command docs/ops.md documents: the CLI decodes through the same
    // endpoint with the operator's token (it posts `{}` for an empty
    // payload set, which must not fail the whole history).
    let show = |auth: Option<&str>| {
        let mut cmd = std::process::Command::new(support::stack::venv_bin("temporal"));
        cmd.args(["workflow", "show", "--output", "json", "--workflow-id"])
            .arg(format!("booking-{id}"))
            .arg("--address")
            .arg(format!("127.0.0.1:{}", gw.stack.temporal_port))
            .arg("--codec-endpoint")
            .arg(&codec);
        if let Some(auth) = auth {
            cmd.arg("--codec-auth").arg(auth);
        }
        cmd.output()
            .expect("temporal workflow show --codec-endpoint")
    };
    // Without the token the endpoint decodes nothing for the CLI.
    let refused = show(None);
    let refused = String::from_utf8_lossy(&refused.stdout).into_owned()
        + &String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.contains("Lovelace"), "decoded without a token");
    let out = show(Some(&format!("Bearer {operator}")));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = String::from_utf8(out.stdout).unwrap();
    let decoded_history: serde_json::Value = serde_json::from_str(&shown).unwrap();
    let started = &decoded_history["events"][0]["workflowExecutionStartedEventAttributes"];
    let payload = &started["input"]["payloads"][0];
    assert_eq!(
        payload["metadata"]["encoding"],
        encoded("json/plain"),
        "{payload}"
    );
    let input = {
        use base64::Engine;
        let data = payload["data"].as_str().unwrap();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap(),
        )
        .unwrap()
    };
    assert!(
        input.contains("Lovelace") && input.contains("ada@example.com"),
        "the CLI decoded the input: {input}"
    );
    // And the CLI's own empty set.
    let empty = gw
        .http
        .post(format!("{codec}/decode"))
        .bearer_auth(&operator)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), StatusCode::OK);
    assert_eq!(
        empty.json::<serde_json::Value>().await.unwrap(),
        json!({"payloads": []})
    );
    // Not on the public port, even with the token.
    let public = gw
        .http
        .post(format!("{}/codec/decode", gw.base))
        .bearer_auth(&operator)
        .json(&json!({"payloads": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_guessing_cannot_lock_the_owner_out() {
    // Behind a proxy that says who the client is.
    let gw = Gateway::start_with("login-lockout", |c| {
        c.limits.trusted_proxies = api::config::parse_proxies("127.0.0.0/8").unwrap();
    })
    .await;
    let email = "owner@airline.test";
    gw.signup(email).await;
    let login = |from: String, password: &'static str, cookie: Option<String>| {
        let http = gw.http.clone();
        let url = format!("{}/api/v1/auth/login", gw.base);
        async move {
            let mut req = http
                .post(url)
                .header("x-forwarded-for", from)
                .json(&json!({"email": email, "password": password}));
            if let Some(cookie) = cookie {
                req = req.header("cookie", cookie);
            }
            let r = req.send().await.unwrap();
            let cookie = r
                .headers()
                .get("set-cookie")
                .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
            (r.status(), cookie)
        }
    };
    // The attack as reported: paced guesses from rotating addresses.
    for n in 1..=11 {
        let (status, _) = login(format!("203.0.113.{n}"), "wrong guess", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "guess {n}");
    }
    // And a burst from one network, which locks that network only.
    for _ in 0..5 {
        login("198.51.100.7".into(), "wrong guess", None).await;
    }
    let (status, _) = login("198.51.100.7".into(), support::PASSWORD, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // The owner, from their own network, gets in, and keeps a device cookie.
    let (status, cookie) = login("192.0.2.10".into(), support::PASSWORD, None).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = cookie.expect("a device cookie");
    assert!(cookie.starts_with("airline_device="), "{cookie}");
    // Guesses spread over many networks meet the address-wide bar...
    let mut refused = 0;
    for n in 1..=60 {
        let (status, _) = login(format!("203.0.114.{n}"), "wrong guess", None).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert!(refused > 0, "the address-wide bar never held");
    // ... which holds a new device on a new network too, but not the
    // owner's device that logged in before: the correct password goes in.
    let (status, _) = login("192.0.2.99".into(), support::PASSWORD, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, _) = login("192.0.2.99".into(), support::PASSWORD, Some(cookie.clone())).await;
    assert_eq!(status, StatusCode::OK);
    // A forged or another account's cookie does not.
    let forged = "airline_device=AAAAAAAAAAAAAAAAAAAAAA.AAAA".to_owned();
    let (status, _) = login("192.0.2.99".into(), support::PASSWORD, Some(forged)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

/// The gateway's binary with every setting it needs, none of them a
/// published development value, and `AIRLINE_ENV` unset (production).
fn gateway_command() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_api"));
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("JWT_SECRET", support::JWT_SECRET)
        .env("FLIGHTS_SERVICE_TOKEN", support::FLIGHTS_TOKEN)
        .env("STRIPE_WEBHOOK_SECRET", support::WEBHOOK_SECRET)
        .env(payload_codec::KEYS_VAR, support::stack::PAYLOAD_KEYS)
        // Never reached: the configuration is refused first.
        .env("BOOKING_DATABASE_URL", "postgres://127.0.0.1:9/none")
        .env("API_PORT", "0")
        .env("API_METRICS_ADDR", "127.0.0.1:0");
    cmd
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
            payload_codec::KEYS_VAR,
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
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: started");
        assert!(
            stderr.contains(&format!("{name} is one of the development values")),
            "{name}: {stderr}"
        );
        assert!(
            !stderr.contains(value),
            "{name}: the value leaked: {stderr}"
        );
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
