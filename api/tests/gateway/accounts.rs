//! The account features over HTTP, with the real SMTP sink: confirming the
//! address (and booking only once it is), resetting a forgotten password,
//! changing it, the list of sessions and logging out everywhere, deletion
//! and export, two-step sign-in, the unlock link after strangers' guesses.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::new_key;
use testkit::gateway::{Gateway, PASSWORD, Session};

const NEW_PASSWORD: &str = "lantern ferry orchard 7";

async fn me(gw: &Gateway, token: &str) -> StatusCode {
    gw.get("/api/v1/auth/me", token).await.status
}

async fn login_as(gw: &Gateway, email: &str, password: &str, agent: &str) -> Value {
    let r = gw
        .login_raw(email, password, &[("user-agent", agent)])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

fn access(pair: &Value) -> &str {
    pair["access_token"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booking_needs_a_confirmed_address_and_the_link_works_once() {
    let gw = Gateway::start("accounts-verify").await;
    let flight = gw.flight().await;
    let ada = gw.signup_unverified("ada@example.com").await;
    let me = gw.get("/api/v1/auth/me", &ada.access).await;
    assert_eq!(me.body["email_verified"], false, "{}", me.body);
    let body = Gateway::economy_body(flight, 1);
    let r = gw.book(&ada, &new_key(), body.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "email_not_verified");
    // A second link replaces the first.
    let first = gw
        .stack
        .mail()
        .link_token("Confirm your email address", "ada@example.com")
        .await;
    let r = gw
        .post(
            "/api/v1/auth/verify-email/resend",
            Some(&ada.access),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let r = gw
        .post("/api/v1/auth/verify-email", None, json!({"token": first}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "link_invalid");
    let second = gw
        .stack
        .mail()
        .link_token("Confirm your email address", "ada@example.com")
        .await;
    assert_ne!(first, second);
    let r = gw
        .post("/api/v1/auth/verify-email", None, json!({"token": second}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = gw
        .post("/api/v1/auth/verify-email", None, json!({"token": second}))
        .await;
    assert_eq!(r.body["error"]["code"], "link_invalid", "used once only");
    let r = gw
        .post(
            "/api/v1/auth/verify-email/resend",
            Some(&ada.access),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = gw.book(&ada, &new_key(), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_reset_by_email_ends_every_session() {
    let gw = Gateway::start("accounts-reset").await;
    let ada = gw.signup("ada@example.com").await;
    let laptop = login_as(&gw, "ada@example.com", PASSWORD, "Laptop").await;
    // Unknown addresses get the same answer, and no email.
    let r = gw
        .post(
            "/api/v1/auth/password-reset",
            None,
            json!({"email": "nobody@example.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = gw
        .post(
            "/api/v1/auth/password-reset",
            None,
            json!({"email": "ADA@example.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let token = gw
        .stack
        .mail()
        .link_token("Reset your password", "ada@example.com")
        .await;
    assert!(
        gw.stack
            .mail()
            .all()
            .iter()
            .all(|m| !m.contains("nobody@example.com"))
    );
    // A guessable password is refused, and the link still works after.
    let weak = json!({"token": token, "password": "password123"});
    let r = gw
        .post("/api/v1/auth/password-reset/confirm", None, weak)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["field"], "password");
    let r = gw
        .post(
            "/api/v1/auth/password-reset/confirm",
            None,
            json!({"token": token, "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = gw
        .post(
            "/api/v1/auth/password-reset/confirm",
            None,
            json!({"token": token, "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.body["error"]["code"], "link_invalid");
    // Every session is over: access and refresh tokens alike.
    assert_eq!(me(&gw, &ada.access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&gw, access(&laptop)).await, StatusCode::UNAUTHORIZED);
    let r = gw
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": ada.refresh}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        gw.try_login("ada@example.com", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    gw.login("ada@example.com", NEW_PASSWORD).await;
    gw.stack.mail().wait("Your password was changed", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_and_the_sessions_a_traveller_sees() {
    let gw = Gateway::start("accounts-sessions").await;
    gw.signup("ada@example.com").await;
    let phone = login_as(&gw, "ada@example.com", PASSWORD, "Phone browser").await;
    let laptop = login_as(&gw, "ada@example.com", PASSWORD, "Laptop browser").await;
    let tablet = login_as(&gw, "ada@example.com", PASSWORD, "Tablet").await;
    let r = gw.get("/api/v1/auth/sessions", access(&laptop)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let sessions = r.body.as_array().unwrap();
    assert_eq!(sessions.len(), 4, "{}", r.body);
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["device"], "Laptop browser");
    // End the phone's session from the laptop: its access token dies now.
    let phone_id = sessions
        .iter()
        .find(|s| s["device"] == "Phone browser")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let phone_session = format!("/api/v1/auth/sessions/{phone_id}");
    let r = gw.delete(&phone_session, access(&laptop), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(me(&gw, access(&phone)).await, StatusCode::UNAUTHORIZED);
    let r = gw.delete(&phone_session, access(&laptop), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Change the password: this session stays, the others end.
    let wrong = json!({"current_password": "not my password", "new_password": NEW_PASSWORD});
    let r = gw
        .put("/api/v1/auth/password", access(&laptop), wrong)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let change = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
    let r = gw
        .put("/api/v1/auth/password", access(&laptop), change)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(me(&gw, access(&laptop)).await, StatusCode::OK);
    assert_eq!(me(&gw, access(&tablet)).await, StatusCode::UNAUTHORIZED);
    gw.stack.mail().wait("Your password was changed", 1).await;
    // Log out everywhere: this session too.
    let r = gw
        .post(
            "/api/v1/auth/logout-everywhere",
            Some(access(&laptop)),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(me(&gw, access(&laptop)).await, StatusCode::UNAUTHORIZED);
    let refresh = json!({"refresh_token": laptop["refresh_token"]});
    assert_eq!(
        gw.post("/api/v1/auth/refresh", None, refresh).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_is_forgotten_and_its_tokens_read_nothing() {
    let (gw, flight, ada) = Gateway::start_with_ada("accounts-delete").await;
    let r = gw
        .book(&ada, &new_key(), Gateway::economy_body(flight, 1))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let booking_id = r.body["booking_id"].as_str().unwrap().to_owned();
    // The export holds the account, its sessions and its bookings.
    let export = gw
        .http
        .get(format!("{}/api/v1/auth/export", gw.base))
        .bearer_auth(&ada.access)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), StatusCode::OK);
    assert!(
        export.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let export: Value = export.json().await.unwrap();
    assert_eq!(export["account"]["email"], "ada@example.com");
    assert_eq!(export["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(export["bookings"][0]["booking_id"], booking_id.as_str());
    // Not while a booking waits for payment.
    let delete = |password: &str| json!({"password": password});
    let r = gw
        .delete("/api/v1/auth/me", &ada.access, Some(delete(PASSWORD)))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "booking_in_progress");
    assert_eq!(gw.cancel(&ada, &booking_id).await.status, StatusCode::OK);
    crate::wait_booking(&gw, &ada, &booking_id, |b| b["status"] == "cancelled").await;
    let r = gw
        .delete("/api/v1/auth/me", &ada.access, Some(delete("wrong one")))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = gw
        .delete("/api/v1/auth/me", &ada.access, Some(delete(PASSWORD)))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    gw.stack.mail().wait("Your account was deleted", 1).await;
    // The token of a deleted account reads nothing; the address is free.
    assert_eq!(
        gw.get("/api/v1/bookings", &ada.access).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        gw.try_login("ada@example.com", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        gw.rows(
            "select count(*) from app_user where email = 'ada@example.com' or name = 'Ada Lovelace'"
        )
        .await,
        0
    );
    // The booking stays for accounting, under the anonymous account.
    assert_eq!(
        gw.rows(&format!(
            "select count(*) from booking_request where booking_id = '{booking_id}'"
        ))
        .await,
        1
    );
    let again = gw.signup("ada@example.com").await;
    assert_ne!(again.user_id, ada.user_id);
    let mine = gw.get("/api/v1/bookings", &again.access).await;
    assert_eq!(
        mine.body["items"].as_array().unwrap().len(),
        0,
        "{}",
        mine.body
    );
}

fn code_at(secret: &str, offset_secs: u64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).build().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    totp.generate(now + offset_secs).to_string()
}

async fn login_otp(gw: &Gateway, email: &str, otp: Option<&str>) -> (StatusCode, Value) {
    let mut body = json!({"email": email, "password": PASSWORD});
    if let Some(otp) = otp {
        body["otp"] = json!(otp);
    }
    let r = gw.post("/api/v1/auth/login", None, body).await;
    (r.status, r.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_step_sign_in_with_an_authenticator_app() {
    let gw = Gateway::start("accounts-totp").await;
    let ada: Session = gw.signup("ada@example.com").await;
    let r = gw
        .post(
            "/api/v1/auth/totp",
            Some(&ada.access),
            json!({"password": "wrong"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = gw
        .post(
            "/api/v1/auth/totp",
            Some(&ada.access),
            json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    assert!(
        r.body["otpauth_url"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Skyway%20Air:ada%40example.com?"),
        "{}",
        r.body
    );
    // Kept sealed: a 12-byte nonce, the 20-byte secret, a 16-byte tag.
    assert_eq!(
        gw.rows("select count(*) from app_user where length(totp_secret) = 48")
            .await,
        1
    );
    let r = gw
        .post(
            "/api/v1/auth/totp/confirm",
            Some(&ada.access),
            json!({"code": "000000"}),
        )
        .await;
    assert_eq!(r.body["error"]["code"], "wrong_code", "{}", r.body);
    let r = gw
        .post(
            "/api/v1/auth/totp/confirm",
            Some(&ada.access),
            json!({"code": code_at(&secret, 0)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let recovery: Vec<String> = serde_json::from_value(r.body["recovery_codes"].clone()).unwrap();
    assert_eq!(recovery.len(), 10);
    gw.stack
        .mail()
        .wait("Two-step sign-in was changed", 1)
        .await;
    // The password alone no longer signs in.
    let (status, body) = login_otp(&gw, "ada@example.com", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "otp_required");
    let (status, body) = login_otp(&gw, "ada@example.com", Some("123456")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_credentials"))
    );
    // The next step's code signs in, once.
    let next = code_at(&secret, 30);
    assert_eq!(
        login_otp(&gw, "ada@example.com", Some(&next)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        login_otp(&gw, "ada@example.com", Some(&next)).await.0,
        StatusCode::UNAUTHORIZED,
        "a code works once"
    );
    // A recovery code too, once.
    assert_eq!(
        login_otp(&gw, "ada@example.com", Some(&recovery[0]))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        login_otp(&gw, "ada@example.com", Some(&recovery[0]))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    // A reset link alone does not pass the second factor.
    gw.post(
        "/api/v1/auth/password-reset",
        None,
        json!({"email": "ada@example.com"}),
    )
    .await;
    let token = gw
        .stack
        .mail()
        .link_token("Reset your password", "ada@example.com")
        .await;
    let r = gw
        .post(
            "/api/v1/auth/password-reset/confirm",
            None,
            json!({"token": token, "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.body["error"]["code"], "otp_required", "{}", r.body);
    // Off again, with the password and a recovery code.
    let off = json!({"password": PASSWORD, "code": recovery[1]});
    let r = gw
        .post("/api/v1/auth/totp/disable", Some(&ada.access), off)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(
        login_otp(&gw, "ada@example.com", None).await.0,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_unlocks_their_sign_in_with_the_emailed_link() {
    let gw = Gateway::start_with("accounts-unlock", |c| {
        c.limits.trusted_proxies = api::config::parse_proxies("127.0.0.0/8").unwrap();
    })
    .await;
    let email = "owner@airline.test";
    gw.signup(email).await;
    let login = async |password: &str, cookie: Option<String>| {
        let mut headers = vec![("x-forwarded-for", "198.51.100.7")];
        headers.extend(cookie.as_deref().map(|c| ("cookie", c)));
        gw.login_raw(email, password, &headers).await.status()
    };
    // A stranger on the owner's network (a café's) guesses: it locks.
    for _ in 0..6 {
        login("wrong guess", None).await;
    }
    assert_eq!(
        login(testkit::gateway::PASSWORD, None).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let token = gw
        .stack
        .mail()
        .link_token("Sign-in attempts on your account", email)
        .await;
    assert_eq!(
        gw.stack
            .mail()
            .about("Sign-in attempts on your account")
            .len(),
        1,
        "one link a lock"
    );
    let r = gw
        .http
        .post(format!("{}/api/v1/auth/unlock", gw.base))
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("airline_device="));
    assert_eq!(
        login(testkit::gateway::PASSWORD, Some(cookie)).await,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_answers_are_not_cached_and_tls_is_pinned() {
    let gw = Gateway::start("accounts-headers").await;
    let r = gw
        .http
        .post(format!("{}/api/v1/auth/signup", gw.base))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD, "name": "Ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["cache-control"], "no-store");
    // The test gateway's public address is https: HSTS on every answer.
    assert!(
        r.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
    let r = gw.login_raw("ada@example.com", PASSWORD, &[]).await;
    assert_eq!(r.headers()["cache-control"], "no-store");
    // A body naming a key twice is refused, not read one way or the other.
    let r = gw
        .http
        .post(format!("{}/api/v1/auth/login", gw.base))
        .header("content-type", "application/json")
        .body(r#"{"email":"ada@example.com","email":"eve@example.com","password":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "malformed_json");
}
