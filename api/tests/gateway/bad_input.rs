//! Malformed, wrong-typed and oversized bodies: 4xx in the error shape,
//! nothing written.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::new_key;
use testkit::gateway::{Gateway, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_wrong_typed_and_oversized_bodies_get_4xx_in_the_error_shape_and_write_nothing() {
    let (gw, flight, ada) = Gateway::start_with_ada("gw-bad-input").await;
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
    // `good` with `value` at `at`, a field as the error names it
    // (`passengers[0].first_name`).
    let with = |at: &str, value: Value| {
        let mut body = good.clone();
        let mut target = &mut body;
        for step in at.split(['.', '[', ']']).filter(|s| !s.is_empty()) {
            target = match step.parse::<usize>() {
                Ok(i) => &mut target[i],
                Err(_) => &mut target[step],
            };
        }
        *target = value;
        body
    };
    // What is wrong, where, and where within that the error points.
    let dob = "passengers[0].date_of_birth";
    let cabin = |cabin: &str, count: u32| json!({"cabin": cabin, "count": count});
    let cases = [
        ("flight_id as text", "flight_id", json!("12"), ""),
        ("negative flight", "flight_id", json!(-3), ""),
        ("no seats", "seats", json!([]), ""),
        ("bad seat", "seats", json!(["1A", "ZZ"]), "[1]"),
        ("same seat twice", "seats", json!(["1A", "1A"]), "[1]"),
        ("unknown cabin", "seats", cabin("cargo", 1), ".cabin"),
        ("zero seats", "seats", cabin("economy", 0), ".count"),
        ("fewer passengers", "passengers", json!([]), ""),
        ("no first name", "passengers[0].first_name", json!("  "), ""),
        ("born tomorrow", dob, json!("2999-01-01"), ""),
        ("not a date", dob, json!("10/12/1990"), ""),
        ("bad email", "contact_email", json!("ada@"), ""),
        ("email as number", "contact_email", json!(42), ""),
        (
            "phone not in E.164",
            "contact_phone",
            json!("07400123456"),
            "",
        ),
        ("a landline", "contact_phone", json!("+442079460000"), ""),
        (
            "phone as number",
            "contact_phone",
            json!(447_400_123_456_u64),
            "",
        ),
        (
            "unknown channel",
            "channels",
            json!(["email", "fax"]),
            "[1]",
        ),
        ("no channel", "channels", json!([]), ""),
        ("unknown field", "discount", json!(100), ""),
    ];
    for (what, at, value, within) in cases {
        let field = format!("{at}{within}");
        let body = with(at, value);
        let (status, reply) = raw("/api/v1/bookings", body.to_string().into_bytes(), true).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {reply}");
        assert!(reply["error"]["message"].is_string(), "{what}: {reply}");
        assert!(
            reply["error"]["field"]
                .as_str()
                .is_some_and(|f| f.contains(&field)),
            "{what}: expected field {field}: {reply}"
        );
    }
    // Texts need a number to go to.
    let body = with("channels", json!(["sms"]));
    let (status, reply) = raw("/api/v1/bookings", body.to_string().into_bytes(), true).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
    assert_eq!(reply["error"]["field"], "contact_phone", "{reply}");
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
