//! What Temporal holds of a booking: ciphertext only, which the codec
//! endpoint decodes for an operator (the Web UI and the CLI).

use reqwest::StatusCode;
use serde_json::json;
use testkit::gateway::{CODEC_UI_ORIGIN, GOOD_CARD, Gateway};
use testkit::stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporal_holds_only_ciphertext_and_the_codec_endpoint_decodes_it() {
    // A traveller who gives a phone number: it is personal data too.
    let (gw, ada, r) = Gateway::start_texting("encrypted-payloads", "6A").await;
    let id = r.body["booking_id"].as_str().unwrap().to_owned();
    let paid = gw.pay(&ada, &id, GOOD_CARD).await;
    assert_eq!(paid.body["status"], "confirmed", "{}", paid.body);
    // The text went (so its activity's input is in the history too), and
    // the worker never logged the number.
    assert_eq!(gw.stack.texts().wait(1).await[0].to, "+447400123456");
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
    let out = std::process::Command::new(stack::venv_bin("temporal"))
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
    let parsed: serde_json::Value = serde_json::from_str(&history).unwrap();
    // Nor hidden in a payload (the CLI's JSON carries payload bytes in
    // base64): every payload's bytes, decoded, as a reader would.
    let mut opened = Vec::new();
    payload_bytes(&parsed, &mut opened);
    assert!(opened.len() > 5, "{} payloads", opened.len());
    for secret in personal {
        assert!(
            !history.contains(secret),
            "{secret} in plain text in the history"
        );
        for bytes in &opened {
            let text = String::from_utf8_lossy(bytes);
            assert!(!text.contains(secret), "{secret} readable in a payload");
        }
    }
    let input = parsed["events"][0]["workflowExecutionStartedEventAttributes"]["input"].clone();
    let payloads = input["payloads"].clone();
    assert_eq!(
        payloads[0]["metadata"]["encoding"],
        encoded(codec::ENCODING),
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
        .header("origin", CODEC_UI_ORIGIN)
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
        CODEC_UI_ORIGIN
    );
    let decoded: serde_json::Value = gw
        .http
        .post(format!("{codec}/decode"))
        .header("origin", CODEC_UI_ORIGIN)
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
        let mut cmd = std::process::Command::new(stack::venv_bin("temporal"));
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

/// The bytes of every payload under `node` (`{metadata, data}`, base64).
fn payload_bytes(node: &serde_json::Value, out: &mut Vec<Vec<u8>>) {
    use base64::Engine;
    match node {
        serde_json::Value::Object(map) => {
            if let (Some(_), Some(serde_json::Value::String(data))) =
                (map.get("metadata"), map.get("data"))
            {
                let bytes = base64::engine::general_purpose::STANDARD.decode(data);
                out.push(bytes.expect("payload data is base64"));
                return;
            }
            map.values().for_each(|v| payload_bytes(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| payload_bytes(v, out)),
        _ => {}
    }
}
