//! Tokens: expired, tampered, unsigned, other keys and algorithms; refresh
//! rotation and reuse.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use testkit::gateway::{ADMIN_EMAIL, Gateway, JWT_SECRET, PASSWORD};

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
    // The session the login began: a token names it and dies with it.
    let payload = ada.access.split('.').nth(1).unwrap();
    let payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let sid = payload["sid"].as_str().unwrap().to_owned();
    let claims = |exp: i64, roles: Value| json!({"sub": ada.user_id, "sid": sid, "roles": roles, "iss": "airline-api", "iat": now - 10, "exp": exp});
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
    // Signed with the secret, but for a session that never was, or none.
    let mut no_session = claims(now + 600, json!(["customer"]));
    no_session["sid"] = json!(uuid::Uuid::new_v4());
    let no_session = jwt(&hs256, &no_session, Some(JWT_SECRET));
    let mut sessionless = claims(now + 600, json!(["customer"]));
    sessionless.as_object_mut().unwrap().remove("sid");
    let sessionless = jwt(&hs256, &sessionless, Some(JWT_SECRET));
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
        ("another session", no_session.as_str()),
        ("no session", sessionless.as_str()),
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
        let r = gw.try_login(email, password).await;
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
