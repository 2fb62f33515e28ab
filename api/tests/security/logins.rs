//! Signing in: the login throttle per account and per network, the
//! forwarded address only from a trusted proxy, sessions' maximum age and
//! refresh-token reuse.

use reqwest::StatusCode;
use serde_json::json;
use testkit::gateway::{Gateway, PASSWORD};

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
    let (status, code, retry_after) = login(&replica, PASSWORD).await;
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
    let (status, _, _) = login(&replica, PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let throttled =
        format!("select count(*) from login_throttle where email = '{email}' and scope <> '*'");
    assert_eq!(gw.rows(&throttled).await, 0);
    let (status, _, _) = login(&gw.base, "wrong password 4").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Parallel guesses queue on the account: no more than the free ones
    // reach the password check before the lock.
    gw.login(email, PASSWORD).await;
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
    let session = gw.login("ada@example.com", PASSWORD).await;
    let (status, next) = refresh(session.refresh.clone()).await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    assert_eq!(refresh(session.refresh).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(next.unwrap()).await.0, StatusCode::UNAUTHORIZED);

    // Refreshing keeps a session alive only up to its maximum age, counted
    // from the login.
    let login = Instant::now();
    let session = gw.login("ada@example.com", PASSWORD).await;
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
async fn strangers_guessing_cannot_lock_the_owner_out() {
    // Behind a proxy that says who the client is.
    let gw = Gateway::start_with("login-lockout", |c| {
        c.limits.trusted_proxies = api::config::parse_proxies("127.0.0.0/8").unwrap();
    })
    .await;
    let email = "owner@airline.test";
    gw.signup(email).await;
    let login = async |from: String, password: &str, cookie: Option<String>| {
        let mut headers = vec![("x-forwarded-for", from.as_str())];
        headers.extend(cookie.as_deref().map(|c| ("cookie", c)));
        let r = gw.login_raw(email, password, &headers).await;
        let cookie = r
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
        (r.status(), cookie)
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
    let (status, _) = login("198.51.100.7".into(), PASSWORD, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // The owner, from their own network, gets in, and keeps a device cookie.
    let (status, cookie) = login("192.0.2.10".into(), PASSWORD, None).await;
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
    let (status, _) = login("192.0.2.99".into(), PASSWORD, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, _) = login("192.0.2.99".into(), PASSWORD, Some(cookie.clone())).await;
    assert_eq!(status, StatusCode::OK);
    // A forged or another account's cookie does not.
    let forged = "airline_device=AAAAAAAAAAAAAAAAAAAAAA.AAAA".to_owned();
    let (status, _) = login("192.0.2.99".into(), PASSWORD, Some(forged)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}
