//! `AuthUser` and `Admin`: the caller, taken from the bearer token, whose
//! session must still be open and whose account must still exist (one
//! indexed query: logging out everywhere, a password reset, a refresh
//! token's theft detected or the account's deletion end its access tokens
//! at once, not when they expire). A failed check is 401 (403 for a
//! customer on an admin route); the reason goes to the debug log.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::auth::tokens::Principal;
use crate::error::{Error, GatewayError};
use crate::state::AppState;

pub struct AuthUser(pub Principal);

/// Whether the caller's address is confirmed (read with the session check).
#[derive(Debug, Clone, Copy)]
pub struct Verified(pub bool);

/// An authenticated caller whose email address is confirmed: who may hold
/// seats. Otherwise 403 `email_not_verified`.
pub struct VerifiedUser(pub Principal);

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
        let verified: Option<bool> = sqlx::query_scalar(
            "select u.email_verified_at is not null
               from app_user u
              where u.user_id = $1 and u.deleted_at is null
                and exists (select 1 from refresh_token r
                             where r.family_id = $2 and r.user_id = $1)
                and not exists (select 1 from refresh_token r
                                 where r.family_id = $2 and r.revoked_at is not null)",
        )
        .bind(principal.user_id)
        .bind(principal.session_id)
        .fetch_optional(&state.pool)
        .await?;
        let Some(verified) = verified else {
            tracing::debug!(user_id = %principal.user_id, "session ended or account deleted");
            return Err(Error::Unauthorized);
        };
        parts.extensions.insert(Verified(verified));
        parts.extensions.insert(principal.clone());
        Ok(AuthUser(principal))
    }
}

impl FromRequestParts<AppState> for VerifiedUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let AuthUser(principal) = AuthUser::from_request_parts(parts, state).await?;
        let verified = parts.extensions.get::<Verified>().is_some_and(|v| v.0);
        if verified || !state.config.accounts.require_verified_email {
            Ok(VerifiedUser(principal))
        } else {
            Err(GatewayError::EmailNotVerified.into())
        }
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
