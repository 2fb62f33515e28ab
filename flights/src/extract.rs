//! The service token, checked in constant time. The other extractors are
//! the service kit's.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
pub use kit::extract::{ApiJson, Id, Page, Params, from_value, parse_json};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use crate::error::Error;
use crate::state::AppState;

/// Proof that the caller presented the service token (writes and inventory).
pub struct ServiceAuth;

impl FromRequestParts<AppState> for ServiceAuth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let expected = state.config.service_token.expose_secret().as_bytes();
        match presented {
            Some(token) if bool::from(token.as_bytes().ct_eq(expected)) => Ok(ServiceAuth),
            Some(_) => {
                tracing::debug!("service token mismatch");
                Err(Error::Unauthorized)
            }
            None => {
                tracing::debug!("no bearer service token");
                Err(Error::Unauthorized)
            }
        }
    }
}
