//! Two-step sign-in with an authenticator app (TOTP, RFC 6238: 6 digits,
//! 30 s, SHA-1, as every app reads it; `totp-rs`). The secret is kept
//! sealed with AES-256-GCM under a key derived from `JWT_SECRET`; each code
//! works once; ten one-time recovery codes stand in for a lost phone.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hmac::{Hmac, Mac};
use rand::RngCore;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use totp_rs::{Builder, Totp};
use utoipa::ToSchema;
use uuid::Uuid;

use super::account::{check_password, notify};
use super::extract::AuthUser;
use super::mail::AccountMail;
use crate::error::{Error, GatewayError, Result};
use crate::extract::ApiJson;
use crate::routes::Routes;
use crate::state::AppState;

/// The name authenticator apps show above the code.
const ISSUER: &str = "Skyway Air";
const RECOVERY_CODES: usize = 10;

pub fn routes() -> Routes {
    Routes::new()
        .post("/auth/totp", begin)
        .post("/auth/totp/confirm", confirm)
        .post("/auth/totp/disable", disable)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    #[schema(value_type = String)]
    password: SecretString,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// The app's current 6-digit code.
    #[schema(value_type = String, example = "123456")]
    code: SecretString,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableRequest {
    #[schema(value_type = String)]
    password: SecretString,
    /// A current code, or a recovery code.
    #[schema(value_type = String)]
    code: SecretString,
}

/// What the authenticator app needs: scan or open `otpauth_url`, or type
/// `secret`.
#[derive(Serialize, ToSchema)]
pub struct Enrolment {
    /// Base32, for typing into the app.
    secret: String,
    otpauth_url: String,
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Each signs in once instead of a code; shown only now.
    recovery_codes: Vec<String>,
}

/// Seals and opens TOTP secrets with a key derived from `JWT_SECRET`.
#[derive(Clone)]
pub struct Sealer(std::sync::Arc<LessSafeKey>);

impl Sealer {
    pub fn new(jwt_secret: &[u8]) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(jwt_secret).expect("any key length");
        mac.update(b"airline totp secret sealing key v1");
        let key = mac.finalize().into_bytes();
        let key = UnboundKey::new(&AES_256_GCM, &key).expect("a 32-byte key");
        Sealer(std::sync::Arc::new(LessSafeKey::new(key)))
    }

    fn seal(&self, user_id: Uuid, secret: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut data = secret.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(user_id.as_bytes()),
                &mut data,
            )
            .expect("sealing a short secret");
        [nonce.as_slice(), &data].concat()
    }

    fn open(&self, user_id: Uuid, sealed: &[u8]) -> Option<Vec<u8>> {
        let (nonce, data) = sealed.split_at_checked(NONCE_LEN)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = data.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(user_id.as_bytes()), &mut data)
            .ok()?;
        Some(plain.to_vec())
    }
}

fn totp(secret: Vec<u8>, account: &str) -> Result<Totp> {
    Builder::new()
        .with_secret(secret)
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .map_err(|e| Error::Internal(anyhow::anyhow!("TOTP: {e:?}")))
}

/// The account's secret, when it has one (enrolling or enabled).
async fn secret_of(state: &AppState, user_id: Uuid, enabled: bool) -> Result<Option<Vec<u8>>> {
    let sealed: Option<Option<Vec<u8>>> = sqlx::query_scalar(
        "select totp_secret from app_user
          where user_id = $1 and (totp_enabled_at is not null) = $2",
    )
    .bind(user_id)
    .bind(enabled)
    .fetch_optional(&state.pool)
    .await?;
    Ok(sealed
        .flatten()
        .and_then(|s| state.sealer.open(user_id, &s)))
}

/// Whether `code` is the account's current authenticator code (not used
/// before) or one of its unused recovery codes; using it spends it.
pub async fn check(state: &AppState, user_id: Uuid, code: &SecretString) -> Result<bool> {
    let code: String = code
        .expose_secret()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        let Some(secret) = secret_of(state, user_id, true).await? else {
            return Ok(false);
        };
        let Some(step) = totp(secret, "")?.check_current(&code) else {
            return Ok(false);
        };
        // A code signs in once: a step at or before the last used is refused.
        let fresh = sqlx::query(
            "update app_user set totp_last_step = $2
              where user_id = $1 and (totp_last_step is null or totp_last_step < $2)",
        )
        .bind(user_id)
        .bind(i64::try_from(step).unwrap_or(i64::MAX))
        .execute(&state.pool)
        .await?
        .rows_affected();
        return Ok(fresh == 1);
    }
    let spent = sqlx::query(
        "update recovery_code set used_at = now()
          where user_id = $1 and code_hash = $2 and used_at is null",
    )
    .bind(user_id)
    .bind(Sha256::digest(code.as_bytes()).to_vec())
    .execute(&state.pool)
    .await?
    .rows_affected();
    Ok(spent == 1)
}

/// Start enrolling an authenticator app (the password again, first).
#[utoipa::path(post, path = "/api/v1/auth/totp", tag = "auth", request_body = PasswordRequest,
    security(("bearer" = [])),
    responses((status = 200, body = Enrolment), (status = 401, description = "wrong password"),
              (status = 409, description = "two_factor_enabled")))]
async fn begin(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<PasswordRequest>,
) -> Result<axum::response::Response> {
    let row = check_password(&state, user.user_id, &req.password).await?;
    if row.two_factor {
        return Err(Error::conflict(
            "two_factor_enabled",
            "two-step sign-in is already on",
        ));
    }
    let mut secret = vec![0u8; 20];
    rand::rng().fill_bytes(&mut secret);
    let sealed = state.sealer.seal(user.user_id, &secret);
    sqlx::query("update app_user set totp_secret = $2, totp_last_step = null where user_id = $1")
        .bind(user.user_id)
        .bind(sealed)
        .execute(&state.pool)
        .await?;
    let totp = totp(secret, &row.email)?;
    let body = Enrolment {
        secret: totp.secret().to_base32(),
        otpauth_url: totp
            .to_url()
            .map_err(|e| Error::Internal(anyhow::anyhow!("{e:?}")))?,
    };
    Ok(super::no_store(StatusCode::OK, Json(body)))
}

/// Turn two-step sign-in on with the app's first code; answers the
/// recovery codes, once.
#[utoipa::path(post, path = "/api/v1/auth/totp/confirm", tag = "auth", request_body = CodeRequest,
    security(("bearer" = [])),
    responses((status = 200, body = RecoveryCodes), (status = 409, description = "not_enrolling: start with POST /auth/totp"),
              (status = 422, description = "wrong_code")))]
async fn confirm(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CodeRequest>,
) -> Result<axum::response::Response> {
    let Some(secret) = secret_of(&state, user.user_id, false).await? else {
        return Err(Error::conflict(
            "not_enrolling",
            "start with POST /auth/totp",
        ));
    };
    let code: String = req
        .code
        .expose_secret()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let Some(step) = totp(secret, "")?.check_current(&code) else {
        return Err(GatewayError::Unprocessable {
            code: "wrong_code",
            message:
                "that code is not the app's current one: check the phone's clock and try the next"
                    .into(),
        }
        .into());
    };
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
    let mut tx = state.pool.begin().await?;
    sqlx::query(
        "update app_user set totp_enabled_at = now(), totp_last_step = $2 where user_id = $1",
    )
    .bind(user.user_id)
    .bind(i64::try_from(step).unwrap_or(i64::MAX))
    .execute(&mut *tx)
    .await?;
    sqlx::query("delete from recovery_code where user_id = $1")
        .bind(user.user_id)
        .execute(&mut *tx)
        .await?;
    for code in &codes {
        let plain: String = code.chars().filter(|c| *c != '-').collect();
        sqlx::query("insert into recovery_code (user_id, code_hash) values ($1, $2)")
            .bind(user.user_id)
            .bind(Sha256::digest(plain.as_bytes()).to_vec())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    tracing::info!(user_id = %user.user_id, "two-step sign-in turned on");
    let row = super::account::user_row(&state, user.user_id).await?;
    notify(&state, AccountMail::TwoFactorChanged, &row).await;
    Ok(super::no_store(
        StatusCode::OK,
        Json(RecoveryCodes {
            recovery_codes: codes,
        }),
    ))
}

/// Turn two-step sign-in off (the password and a code).
#[utoipa::path(post, path = "/api/v1/auth/totp/disable", tag = "auth", request_body = DisableRequest,
    security(("bearer" = [])),
    responses((status = 204), (status = 401, description = "wrong password or code")))]
async fn disable(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<DisableRequest>,
) -> Result<StatusCode> {
    let row = check_password(&state, user.user_id, &req.password).await?;
    if !row.two_factor {
        return Ok(StatusCode::NO_CONTENT);
    }
    if !check(&state, user.user_id, &req.code).await? {
        return Err(GatewayError::InvalidCredentials.into());
    }
    let mut tx = state.pool.begin().await?;
    sqlx::query(
        "update app_user set totp_secret = null, totp_enabled_at = null, totp_last_step = null
          where user_id = $1",
    )
    .bind(user.user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("delete from recovery_code where user_id = $1")
        .bind(user.user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.user_id, "two-step sign-in turned off");
    notify(&state, AccountMail::TwoFactorChanged, &row).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `xxxx-xxxx-xx`: 10 characters of a-z and 2-9 (no 0/o, 1/l), ~50 bits.
fn recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 10];
    rand::rng().fill_bytes(&mut bytes);
    let chars: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!("{}-{}-{}", &chars[..4], &chars[4..8], &chars[8..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_for_its_account_and_key() {
        let sealer = Sealer::new(b"one-key-of-at-least-32-characters-long");
        let user = Uuid::new_v4();
        let sealed = sealer.seal(user, b"twenty-byte-secret!!");
        assert_eq!(sealer.open(user, &sealed).unwrap(), b"twenty-byte-secret!!");
        assert!(sealer.open(Uuid::new_v4(), &sealed).is_none());
        let other = Sealer::new(b"another-key-of-at-least-32-characters");
        assert!(other.open(user, &sealed).is_none());
    }

    #[test]
    fn recovery_codes_are_readable_and_distinct() {
        let a = recovery_code();
        assert_eq!(a.len(), 12);
        assert_ne!(a, recovery_code());
    }
}
