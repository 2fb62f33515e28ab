//! The codec endpoint the Temporal Web UI (and `temporal --codec-endpoint
//! <url> --codec-auth "Bearer <JWT>"`) calls to show payloads in plain text
//! to ops: Temporal's codec server protocol, `POST /codec/decode` and
//! `POST /codec/encode` with `{"payloads": [...]}`, for an operator the
//! identity provider signed in ([`crate::operator`]), with CORS for the Web
//! UI's origin. Without a valid bearer token: 401 in the services' error
//! shape; with the provider's keys out of reach: 503 with `Retry-After`.
//! The gateway serves it on its internal listener; the Web UI test serves
//! it alone.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::operator::{OperatorAuth, Operators, Refusal};
use crate::state::CodecState;
use crate::{CodecError, JsonPayloads, Keys, convert_json};

/// The endpoint's settings, as the gateway's configuration holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointConfig {
    pub operators: OperatorAuth,
    /// Origins (the Web UI's) allowed to call it from a browser.
    pub cors_origins: Vec<String>,
}

/// `/codec/decode` and `/codec/encode`.
pub fn router(keys: Keys, config: &EndpointConfig) -> Result<Router, CodecError> {
    let origins = config
        .cors_origins
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
    let operators = Operators::new(&config.operators)?;
    Ok(Router::new()
        .route("/codec/decode", post(decode))
        .route("/codec/encode", post(encode))
        .layer(cors)
        .with_state(CodecState { keys, operators }))
}

async fn decode(state: State<CodecState>, headers: HeaderMap, body: Bytes) -> Response {
    convert(state, headers, body, true).await
}

async fn encode(state: State<CodecState>, headers: HeaderMap, body: Bytes) -> Response {
    convert(state, headers, body, false).await
}

/// The one error shape of the services: `{"error": {"code", "message"}}`.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"error": {"code": code, "message": message}});
    (status, axum::Json(body)).into_response()
}

/// 401 or 503; why a token failed goes to the debug log only.
fn refused(refusal: Refusal) -> Response {
    match refusal {
        Refusal::Unavailable => {
            let mut response = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "identity_provider_unavailable",
                "the operators' identity provider cannot be reached to check the token; try again shortly",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            response
        }
        Refusal::Missing | Refusal::Invalid(_) => {
            if let Refusal::Invalid(why) = refusal {
                tracing::debug!(why, "codec endpoint: token refused");
            }
            let mut response = error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send an operator's access token from the identity provider: Authorization: Bearer <token>",
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"codec\""),
            );
            response
        }
    }
}

async fn convert(
    State(state): State<CodecState>,
    headers: HeaderMap,
    body: Bytes,
    decode: bool,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let operator = match state.operators.admit(authorization).await {
        Ok(operator) => operator,
        Err(refusal) => return refused(refusal),
    };
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
            tracing::info!(
                decode,
                payloads = count,
                operator = operator.subject.as_deref().unwrap_or("-"),
                "codec endpoint used"
            );
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
