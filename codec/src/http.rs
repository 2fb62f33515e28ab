//! The codec endpoint the Temporal Web UI (and `temporal --codec-endpoint`)
//! calls to show payloads in plain text to ops: Temporal's codec server
//! protocol, `POST …/decode` and `POST …/encode` with `{"payloads": [...]}`,
//! under a secret path segment (`/codec/<token>`: the Web UI cannot send a
//! header of our choosing), with CORS for the Web UI's origin. The gateway
//! serves it on its internal listener; the Web UI test serves it alone.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use subtle::ConstantTimeEq;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::{CodecError, JsonPayloads, Keys, convert_json};

#[derive(Clone)]
struct CodecState {
    keys: Keys,
    token: std::sync::Arc<str>,
}

/// `/codec/<token>/decode` and `/codec/<token>/encode`.
pub fn router(keys: Keys, token: &str, origins: &[String]) -> Result<Router, CodecError> {
    let origins = origins
        .iter()
        .map(|o| HeaderValue::from_str(o).map_err(|_| CodecError::Config(format!("origin {o:?}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::HeaderName::from_static("x-namespace"),
        ])
        .allow_credentials(true);
    Ok(Router::new()
        .route("/codec/{token}/decode", post(decode))
        .route("/codec/{token}/encode", post(encode))
        .layer(cors)
        .with_state(CodecState {
            keys,
            token: token.into(),
        }))
}

async fn decode(state: State<CodecState>, token: Path<String>, body: Bytes) -> Response {
    convert(state, token, body, true)
}

async fn encode(state: State<CodecState>, token: Path<String>, body: Bytes) -> Response {
    convert(state, token, body, false)
}

/// The one error shape of the services: `{"error": {"code", "message"}}`.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"error": {"code": code, "message": message}});
    (status, axum::Json(body)).into_response()
}

fn convert(
    State(state): State<CodecState>,
    Path(token): Path<String>,
    body: Bytes,
    decode: bool,
) -> Response {
    if !bool::from(token.as_bytes().ct_eq(state.token.as_bytes())) {
        return error(StatusCode::NOT_FOUND, "not_found", "route not found");
    }
    let Ok(payloads) = serde_json::from_slice::<JsonPayloads>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the body must be {\"payloads\": [{\"metadata\": {...}, \"data\": \"<base64>\"}]}",
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
            error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "undecodable",
                "a payload could not be converted (unknown key, or tampered)",
            )
        }
    }
}
