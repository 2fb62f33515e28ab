//! The codec endpoint decodes every booking's personal data, so only for an
//! operator: a bearer token from the operators' identity provider (a
//! stand-in serving its JWKS on loopback, `testkit::operator`),
//! checked for its key, algorithm, issuer, audience and expiry. And the
//! gateway refuses to start with an endpoint nobody signs in to, outside
//! development.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use codec::{JsonPayload, JsonPayloads};
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::gateway::{Gateway, binary_command};
use testkit::operator::{self, KID, SigningKey};
use testkit::stack;

/// A payload sealed with the tests' keys, as a history holds it.
fn sealed_body() -> Value {
    let keys = codec::Keys::parse(stack::PAYLOAD_KEYS).unwrap();
    let plain = JsonPayloads {
        payloads: vec![JsonPayload {
            metadata: HashMap::from([("encoding".into(), B64.encode("json/plain"))]),
            data: B64.encode("\"Ada Lovelace\""),
        }],
    };
    serde_json::to_value(codec::convert_json(&keys, plain, false).unwrap()).unwrap()
}

/// `POST /codec/<what>` with this `Authorization`: status and body.
async fn call(gw: &Gateway, what: &str, authorization: Option<String>) -> (StatusCode, Value) {
    let mut request = gw
        .http
        .post(format!("{}/codec/{what}", gw.metrics_base))
        .json(&sealed_body());
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    if status == StatusCode::UNAUTHORIZED {
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"codec\""
        );
    }
    (status, response.json().await.unwrap())
}

fn bearer(token: String) -> Option<String> {
    Some(format!("Bearer {token}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_codec_endpoint_decodes_only_for_an_operators_token() {
    let gw = Gateway::start("codec-operators").await;
    let valid = operator::claims();
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = valid.clone();
        change(&mut claims);
        claims
    };
    let now = valid["iat"].as_u64().unwrap();
    let refused = [
        ("no credential", None),
        ("not a bearer token", Some("Basic b3BzOm9wcw==".to_owned())),
        ("not a JWT", bearer("not-a-jwt".into())),
        (
            "signed by another key",
            bearer(operator::sign(&valid, KID, SigningKey::Stranger)),
        ),
        (
            "expired",
            bearer(operator::sign(
                &with(&|c| {
                    c["iat"] = json!(now - 900);
                    c["exp"] = json!(now - 120);
                }),
                KID,
                SigningKey::Operators,
            )),
        ),
        (
            "for another audience",
            bearer(operator::sign(
                &with(&|c| c["aud"] = json!("another-service")),
                KID,
                SigningKey::Operators,
            )),
        ),
        (
            "from another issuer",
            bearer(operator::sign(
                &with(&|c| c["iss"] = json!("https://elsewhere.example/")),
                KID,
                SigningKey::Operators,
            )),
        ),
        (
            "without an expiry",
            bearer(operator::sign(
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("exp");
                }),
                KID,
                SigningKey::Operators,
            )),
        ),
        (
            "HMAC under the provider's key id",
            bearer(operator::sign_hmac(&valid, KID, b"anything-at-all")),
        ),
        (
            "under a key id nobody published",
            bearer(operator::sign(&valid, "nobody-1", SigningKey::Stranger)),
        ),
    ];
    for (what, authorization) in refused {
        let (status, body) = call(&gw, "decode", authorization).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
        assert_eq!(body["error"]["code"], "unauthorized", "{what}");
        assert!(!body.to_string().contains(&B64.encode("\"Ada Lovelace\"")));
    }
    let (status, _) = call(&gw, "encode", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "encode without a token");

    // The operator's token decodes.
    let (status, body) = call(&gw, "decode", bearer(gw.operators.token())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["payloads"][0]["data"], B64.encode("\"Ada Lovelace\""));

    // The provider rotates: a token under its new key id is checked
    // against the key set fetched again.
    let fetched = gw.operators.fetches();
    gw.operators.publish("operators-2", SigningKey::Stranger);
    let rotated = operator::sign(&valid, "operators-2", SigningKey::Stranger);
    let (status, body) = call(&gw, "decode", bearer(rotated)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        gw.operators.fetches() > fetched,
        "the key set was not fetched again"
    );
}

/// The gateway's binary, outside development unless told, with every
/// secret its own ([`binary_command`]): what it says as it refuses to start.
fn gateway(env: &[(&str, &str)]) -> String {
    let out = binary_command(env!("CARGO_BIN_EXE_api"))
        .envs(env.iter().copied())
        .output()
        .expect("the gateway runs");
    assert!(!out.status.success(), "the gateway started: {env:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_codec_endpoint_nobody_signs_in_to_stops_the_gateway_outside_development() {
    let ui = ("CODEC_CORS_ORIGINS", "http://127.0.0.1:8233");
    let stderr = gateway(&[ui]);
    assert!(
        stderr.contains("outside development it needs the operators' identity provider")
            && stderr.contains("CODEC_JWKS_URL"),
        "{stderr}"
    );
    // In development, on loopback, it runs without sign-in (the start then
    // fails at the database); anywhere else it does not.
    let dev = ("AIRLINE_ENV", "development");
    let stderr = gateway(&[ui, dev]);
    assert!(!stderr.contains("CODEC"), "{stderr}");
    let stderr = gateway(&[ui, dev, ("API_METRICS_ADDR", "0.0.0.0:0")]);
    assert!(stderr.contains("loopback only"), "{stderr}");
    // The provider's settings come together, its keys over TLS.
    let stderr = gateway(&[("CODEC_JWKS_URL", "https://idp.example/jwks")]);
    assert!(stderr.contains("together"), "{stderr}");
    let provider = [
        ("CODEC_JWKS_URL", "http://idp.example/jwks"),
        ("CODEC_ISSUER", "https://idp.example/"),
        ("CODEC_AUDIENCE", "temporal-codec"),
    ];
    assert!(gateway(&provider).contains("https://"));
    // The published path token is gone for good.
    let stderr = gateway(&[("CODEC_ENDPOINT_TOKEN", "dev-only-codec-endpoint-token-0123")]);
    assert!(stderr.contains("CODEC_ENDPOINT_TOKEN is gone"), "{stderr}");
    assert!(!stderr.contains("dev-only-codec"), "{stderr}");
}
