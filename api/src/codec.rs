//! The codec endpoint the Temporal Web UI (and `temporal --codec-endpoint`)
//! calls to show bookings' payloads in plain text to ops: Temporal's codec
//! server protocol, `POST …/decode` and `POST …/encode` with
//! `{"payloads": [...]}`. It serves on the internal listener only, under a
//! secret path segment (`/codec/<CODEC_ENDPOINT_TOKEN>`: the Web UI cannot
//! send a header of our choosing), with CORS for the Web UI's origin.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use payload_codec::{JsonPayloads, Keys, convert_json};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::error_response;

#[derive(Clone)]
struct CodecState {
    keys: Keys,
    token: SecretString,
}

/// The routes, when a token is configured.
pub fn router(
    keys: Keys,
    token: Option<SecretString>,
    origins: &[String],
) -> anyhow::Result<Option<Router>> {
    let Some(token) = token else {
        return Ok(None);
    };
    let origins = origins
        .iter()
        .map(|o| HeaderValue::from_str(o).map_err(|_| anyhow::anyhow!("CODEC_CORS_ORIGINS: {o:?}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::HeaderName::from_static("x-namespace"),
        ])
        .allow_credentials(true);
    let router = Router::new()
        .route("/codec/{token}/decode", post(decode))
        .route("/codec/{token}/encode", post(encode))
        .layer(cors)
        .with_state(CodecState { keys, token });
    Ok(Some(router))
}

async fn decode(state: State<CodecState>, token: Path<String>, body: Bytes) -> Response {
    convert(state, token, body, true)
}

async fn encode(state: State<CodecState>, token: Path<String>, body: Bytes) -> Response {
    convert(state, token, body, false)
}

fn convert(
    State(state): State<CodecState>,
    Path(token): Path<String>,
    body: Bytes,
    decode: bool,
) -> Response {
    let expected = state.token.expose_secret().as_bytes();
    if !bool::from(token.as_bytes().ct_eq(expected)) {
        return error_response(StatusCode::NOT_FOUND, "not_found", "route not found".into());
    }
    let Ok(payloads) = serde_json::from_slice::<JsonPayloads>(&body) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the body must be {\"payloads\": [{\"metadata\": {...}, \"data\": \"<base64>\"}]}"
                .into(),
        );
    };
    let count = payloads.payloads.len();
    match convert_json(&state.keys, payloads, decode) {
        Ok(converted) => {
            tracing::info!(decode, payloads = count, "codec endpoint used");
            axum::Json(converted).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "codec endpoint refused payloads");
            error_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                "undecodable",
                "a payload could not be converted (unknown key, or tampered)".into(),
            )
        }
    }
}
