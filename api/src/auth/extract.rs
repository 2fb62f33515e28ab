//! `AuthUser` and `Admin`: the caller, taken from the bearer token only.
//! A failed check is 401 (403 for a customer on an admin route); the reason
//! goes to the debug log.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::auth::tokens::Principal;
use crate::error::{Error, GatewayError};

pub struct AuthUser(pub Principal);

/// An authenticated caller with the `admin` role.
pub struct Admin(pub Principal);

pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(AuthUser(principal.clone()));
        }
        let Some(token) = bearer(parts) else {
            tracing::debug!("no bearer token");
            return Err(Error::Unauthorized);
        };
        let principal = state
            .tokens
            .verify_access(token)
            .ok_or(Error::Unauthorized)?;
        parts.extensions.insert(principal.clone());
        Ok(AuthUser(principal))
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let AuthUser(principal) = AuthUser::from_request_parts(parts, state).await?;
        if principal.is_admin() {
            Ok(Admin(principal))
        } else {
            Err(GatewayError::Forbidden.into())
        }
    }
}
