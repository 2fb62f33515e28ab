//! A traveller's account beyond signing in: the links sent by email (confirm
//! the address, reset a forgotten password, unlock sign-ins that strangers'
//! guesses paused), changing the password, deleting the account and
//! exporting what we hold. Every link is single-use, expires, and is kept
//! only as a SHA-256 hash.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::AuthUser;
use super::mail::AccountMail;
use super::sessions::{SessionView, sessions_of};
use super::tokens::{new_refresh_token, refresh_hash};
use super::{USER_COLUMNS, UserRow, UserView, totp};
use crate::bookings::views::BookingView;
use crate::error::{Error, GatewayError, Result};
use crate::extract::ApiJson;
use crate::routes::Routes;
use crate::state::AppState;
use crate::validate::{Email, email_schema, new_password};

/// How long each link works.
const VERIFY_TTL: Duration = Duration::from_secs(24 * 3600);
const RESET_TTL: Duration = Duration::from_secs(3600);
const UNLOCK_TTL: Duration = Duration::from_secs(3600);

/// What a link is for (the `account_token.purpose` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    VerifyEmail,
    ResetPassword,
    Unlock,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
            Purpose::Unlock => "unlock",
        }
    }
}

/// The links' routes: anyone holding a link may use it (limited per IP).
pub fn link_routes() -> Routes {
    Routes::new()
        .post("/auth/verify-email", verify_email)
        .post("/auth/password-reset", request_reset)
        .post("/auth/password-reset/confirm", confirm_reset)
        .post("/auth/unlock", unlock)
}

/// The signed-in traveller's own account.
pub fn routes() -> Routes {
    Routes::new()
        .post("/auth/verify-email/resend", resend_verification)
        .put("/auth/password", change_password)
        .delete("/auth/me", delete_account)
        .get("/auth/export", export)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// The `token` of the emailed link.
    token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    #[schema(schema_with = reset_email)]
    email: String,
}

fn reset_email() -> utoipa::openapi::Object {
    email_schema().build()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmResetRequest {
    token: String,
    #[schema(value_type = String, min_length = 10, max_length = 128)]
    password: SecretString,
    /// The authenticator code, for an account with two-step sign-in: a
    /// reset link alone does not pass the second factor.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    otp: Option<SecretString>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[schema(value_type = String)]
    current_password: SecretString,
    #[schema(value_type = String, min_length = 10, max_length = 128)]
    new_password: SecretString,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountRequest {
    #[schema(value_type = String)]
    password: SecretString,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    otp: Option<SecretString>,
}

/// Everything the gateway holds about the traveller.
#[derive(Serialize, ToSchema)]
pub struct AccountExport {
    account: UserView,
    sessions: Vec<SessionView>,
    bookings: Vec<BookingView>,
    exported_at: DateTime<Utc>,
}

/// Issues a link for `purpose` (an earlier unused one stops working).
async fn issue(state: &AppState, user_id: Uuid, purpose: Purpose, ttl: Duration) -> Result<String> {
    let mut tx = state.pool.begin().await?;
    let token = issue_in(&mut tx, user_id, purpose, ttl).await?;
    tx.commit().await?;
    Ok(token)
}

async fn issue_in(
    tx: &mut sqlx::PgConnection,
    user_id: Uuid,
    purpose: Purpose,
    ttl: Duration,
) -> Result<String> {
    let token = new_refresh_token();
    sqlx::query(
        "delete from account_token where user_id = $1 and purpose = $2 and used_at is null",
    )
    .bind(user_id)
    .bind(purpose.as_str())
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into account_token (token_hash, user_id, purpose, expires_at)
         values ($1, $2, $3, now() + make_interval(secs => $4))",
    )
    .bind(refresh_hash(&token))
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(ttl.as_secs_f64())
    .execute(&mut *tx)
    .await?;
    Ok(token)
}

/// Uses a link once: the account it was issued to, or 422 `link_invalid`.
async fn consume(tx: &mut sqlx::PgConnection, token: &str, purpose: Purpose) -> Result<Uuid> {
    let user: Option<Uuid> = sqlx::query_scalar(
        "update account_token t set used_at = now()
           from app_user u
          where t.token_hash = $1 and t.purpose = $2 and t.used_at is null
            and t.expires_at > now() and u.user_id = t.user_id and u.deleted_at is null
          returning t.user_id",
    )
    .bind(refresh_hash(token))
    .bind(purpose.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    user.ok_or_else(|| {
        GatewayError::Unprocessable {
            code: "link_invalid",
            message:
                "this link is not valid any more (used, expired or replaced): ask for a new one"
                    .into(),
        }
        .into()
    })
}

/// Emails the link that confirms `email` is the traveller's.
pub async fn send_verification(
    state: &AppState,
    user_id: Uuid,
    email: &str,
    name: &str,
) -> Result<()> {
    let token = issue(state, user_id, Purpose::VerifyEmail, VERIFY_TTL).await?;
    let link = state.mailer.link(&format!("#/verify-email?token={token}"));
    state
        .mailer
        .send(AccountMail::VerifyEmail, email, name, Some(&link))
        .await
}

/// After a refused or throttled sign-in: when the account's sign-ins are
/// being paused, its owner is emailed a link that lets their device in
/// (at most one a lock period). Runs in the background, so the answer's
/// timing says nothing about whether the account exists.
pub async fn offer_unlock(state: &AppState, email: &str) {
    let state = state.clone();
    let email = email.to_owned();
    tokio::spawn(async move {
        if let Err(e) = try_offer_unlock(&state, &email).await {
            tracing::warn!(error = %e, "unlock email not sent");
        }
    });
}

async fn try_offer_unlock(state: &AppState, email: &str) -> Result<()> {
    let mut tx = state.pool.begin().await?;
    // The account row's lock serialises the offers of parallel refusals:
    // one link per lock period.
    let owner: Option<(Uuid, String)> = sqlx::query_as(
        "select u.user_id, u.name from app_user u
          where u.email = $1 and u.deleted_at is null for update",
    )
    .bind(email)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((user_id, name)) = owner else {
        return Ok(());
    };
    let due: bool = sqlx::query_scalar(
        "select exists (select 1 from login_throttle t where t.email = $1 and t.attempts >= $2)
            and not exists (select 1 from account_token a
                             where a.user_id = $3 and a.purpose = 'unlock'
                               and a.used_at is null and a.expires_at > now())",
    )
    .bind(email)
    .bind(super::throttle::FREE_ATTEMPTS)
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?;
    if !due {
        return Ok(());
    }
    let token = issue_in(&mut tx, user_id, Purpose::Unlock, UNLOCK_TTL).await?;
    tx.commit().await?;
    let link = state.mailer.link(&format!("#/unlock?token={token}"));
    tracing::info!(%user_id, "sign-ins paused: unlock link emailed");
    state
        .mailer
        .send(AccountMail::Unlock, email, &name, Some(&link))
        .await
}

/// Confirm the account's address with the emailed link.
#[utoipa::path(post, path = "/api/v1/auth/verify-email", tag = "auth", request_body = LinkRequest,
    responses((status = 204, description = "confirmed (again: still 204)"), (status = 422, description = "link_invalid")))]
async fn verify_email(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LinkRequest>,
) -> Result<StatusCode> {
    let mut tx = state.pool.begin().await?;
    let user_id = consume(&mut tx, &req.token, Purpose::VerifyEmail).await?;
    sqlx::query("update app_user set email_verified_at = coalesce(email_verified_at, now()) where user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(%user_id, "email address confirmed");
    Ok(StatusCode::NO_CONTENT)
}

/// Email the confirmation link again.
#[utoipa::path(post, path = "/api/v1/auth/verify-email/resend", tag = "auth", security(("bearer" = [])),
    responses((status = 202, description = "sent"), (status = 409, description = "already_verified"),
              (status = 503, description = "the mail server is out of reach: retry")))]
async fn resend_verification(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
) -> Result<StatusCode> {
    let row = user_row(&state, user.user_id).await?;
    if row.email_verified {
        return Err(Error::conflict(
            "already_verified",
            "this address is already confirmed",
        ));
    }
    send_verification(&state, row.user_id, &row.email, &row.name).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Ask for a password-reset link. Always 202, whether or not an account
/// has the address (the answer tells nothing).
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth", request_body = ResetRequest,
    responses((status = 202, description = "if an account has this address, a link was emailed"),
              (status = 422, description = "not an email address")))]
async fn request_reset(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ResetRequest>,
) -> Result<StatusCode> {
    let email = Email::parse("email", &req.email)?;
    let state2 = state.clone();
    tokio::spawn(async move {
        let owner: std::result::Result<Option<(Uuid, String)>, sqlx::Error> = sqlx::query_as(
            "select user_id, name from app_user where email = $1 and deleted_at is null",
        )
        .bind(email.as_str())
        .fetch_optional(&state2.pool)
        .await;
        let Ok(Some((user_id, name))) = owner else {
            return;
        };
        let sent = async {
            let token = issue(&state2, user_id, Purpose::ResetPassword, RESET_TTL).await?;
            let link = state2
                .mailer
                .link(&format!("#/reset-password?token={token}"));
            state2
                .mailer
                .send(
                    AccountMail::ResetPassword,
                    email.as_str(),
                    &name,
                    Some(&link),
                )
                .await
        };
        if let Err(e) = sent.await {
            tracing::warn!(error = %e, %user_id, "password reset email not sent");
        }
    });
    Ok(StatusCode::ACCEPTED)
}

/// Set a new password with the emailed link: every session ends, the
/// address counts as confirmed, the account's sign-in locks are lifted.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth", request_body = ConfirmResetRequest,
    responses((status = 204), (status = 401, description = "otp_required or invalid_credentials (the second factor)"),
              (status = 422, description = "link_invalid, or the new password is refused")))]
async fn confirm_reset(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ConfirmResetRequest>,
) -> Result<StatusCode> {
    let mut tx = state.pool.begin().await?;
    let user_id = consume(&mut tx, &req.token, Purpose::ResetPassword).await?;
    let row = user_row_in(&mut tx, user_id).await?;
    if row.two_factor {
        let Some(code) = &req.otp else {
            return Err(GatewayError::OtpRequired.into());
        };
        if !totp::check(&state, user_id, code).await? {
            return Err(GatewayError::InvalidCredentials.into());
        }
    }
    let password = new_password("password", &req.password, &[&row.email, &row.name])?;
    let hash = state.passwords.hash(password).await?;
    sqlx::query(
        "update app_user set password_hash = $2, password_changed_at = now(), updated_at = now(),
                email_verified_at = coalesce(email_verified_at, now())
          where user_id = $1",
    )
    .bind(user_id)
    .bind(&hash)
    .execute(&mut *tx)
    .await?;
    revoke_sessions(&mut tx, user_id, None).await?;
    sqlx::query("delete from login_throttle where email = $1")
        .bind(&row.email)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(%user_id, "password reset; every session ended");
    notify(&state, AccountMail::PasswordChanged, &row).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Let this device sign in again after strangers' guesses paused the
/// account's sign-ins: the locks are lifted and the device is remembered.
#[utoipa::path(post, path = "/api/v1/auth/unlock", tag = "auth", request_body = LinkRequest,
    responses((status = 204, description = "unlocked; sets the `airline_device` cookie"), (status = 422, description = "link_invalid")))]
async fn unlock(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    ApiJson(req): ApiJson<LinkRequest>,
) -> Result<Response> {
    let mut tx = state.pool.begin().await?;
    let user_id = consume(&mut tx, &req.token, Purpose::Unlock).await?;
    let row = user_row_in(&mut tx, user_id).await?;
    sqlx::query("delete from login_throttle where email = $1")
        .bind(&row.email)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(%user_id, "sign-ins unlocked by the emailed link");
    let secure = headers
        .get("x-forwarded-proto")
        .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"));
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        axum::http::header::SET_COOKIE,
        state.devices.set_cookie(&row.email, secure),
    );
    Ok(response)
}

/// Change the password, knowing the current one: the other sessions end.
#[utoipa::path(put, path = "/api/v1/auth/password", tag = "auth", request_body = ChangePasswordRequest,
    security(("bearer" = [])),
    responses((status = 204), (status = 401, description = "the current password is wrong"),
              (status = 422, description = "the new password is refused")))]
async fn change_password(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode> {
    let row = check_password(&state, user.user_id, &req.current_password).await?;
    let password = new_password("new_password", &req.new_password, &[&row.email, &row.name])?;
    let hash = state.passwords.hash(password).await?;
    let mut tx = state.pool.begin().await?;
    sqlx::query(
        "update app_user set password_hash = $2, password_changed_at = now(), updated_at = now()
          where user_id = $1",
    )
    .bind(user.user_id)
    .bind(&hash)
    .execute(&mut *tx)
    .await?;
    revoke_sessions(&mut tx, user.user_id, Some(user.session_id)).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.user_id, "password changed; other sessions ended");
    notify(&state, AccountMail::PasswordChanged, &row).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Delete the account: the person is forgotten (address, name, password,
/// second factor, sessions), the bookings stay for accounting under an
/// anonymous account, and the address is free for a new sign-up. Refused
/// while a booking still holds seats or waits for payment.
#[utoipa::path(delete, path = "/api/v1/auth/me", tag = "auth", request_body = DeleteAccountRequest,
    security(("bearer" = [])),
    responses((status = 204), (status = 401, description = "wrong password, or otp_required"),
              (status = 409, description = "booking_in_progress: cancel or finish it first")))]
async fn delete_account(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<DeleteAccountRequest>,
) -> Result<StatusCode> {
    let row = check_password(&state, user.user_id, &req.password).await?;
    if row.two_factor {
        let Some(code) = &req.otp else {
            return Err(GatewayError::OtpRequired.into());
        };
        if !totp::check(&state, user.user_id, code).await? {
            return Err(GatewayError::InvalidCredentials.into());
        }
    }
    let mut tx = state.pool.begin().await?;
    // Locks the account row: a booking being created now waits, then finds
    // the account gone (its session is revoked below).
    sqlx::query("select 1 from app_user where user_id = $1 for update")
        .bind(user.user_id)
        .execute(&mut *tx)
        .await?;
    let in_progress: i64 = sqlx::query_scalar(
        "select count(*) from booking_request r
           left join booking b on b.booking_id = r.booking_id
          where r.user_id = $1
            and (b.status in ('holding', 'awaiting_payment', 'confirming')
                 -- a booking in its first moments, not recorded yet (one
                 -- whose start failed long ago never will be)
                 or (b.booking_id is null and r.created_at > now() - interval '10 minutes'))",
    )
    .bind(user.user_id)
    .fetch_one(&mut *tx)
    .await?;
    if in_progress > 0 {
        return Err(Error::conflict(
            "booking_in_progress",
            "a booking is still being made: pay for it or cancel it first",
        ));
    }
    sqlx::query(
        "update app_user
            set email = 'deleted-' || user_id || '@deleted.invalid', name = 'Deleted account',
                password_hash = '!', totp_secret = null, totp_enabled_at = null,
                deleted_at = now(), updated_at = now()
          where user_id = $1",
    )
    .bind(user.user_id)
    .execute(&mut *tx)
    .await?;
    revoke_sessions(&mut tx, user.user_id, None).await?;
    for table in ["account_token", "recovery_code"] {
        sqlx::query(&format!("delete from {table} where user_id = $1"))
            .bind(user.user_id)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("delete from login_throttle where email = $1")
        .bind(&row.email)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.user_id, "account deleted");
    notify(&state, AccountMail::AccountDeleted, &row).await;
    Ok(StatusCode::NO_CONTENT)
}

/// What we hold about the traveller: the account, its sessions and its
/// bookings (with the passengers and contact details they carry).
#[utoipa::path(get, path = "/api/v1/auth/export", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = AccountExport, description = "as a download (Content-Disposition: attachment)")))]
async fn export(AuthUser(user): AuthUser, State(state): State<AppState>) -> Result<Response> {
    let account = user_row(&state, user.user_id).await?.view();
    let sessions = sessions_of(&state, &user).await?;
    let bookings = crate::bookings::all_of(&state, user.user_id).await?;
    let body = AccountExport {
        account,
        sessions,
        bookings,
        exported_at: Utc::now(),
    };
    let mut response = super::no_store(StatusCode::OK, Json(body));
    response.headers_mut().insert(
        axum::http::header::CONTENT_DISPOSITION,
        axum::http::HeaderValue::from_static("attachment; filename=\"my-airline-data.json\""),
    );
    Ok(response)
}

/// Ends the account's sessions (all but `keep`): their refresh tokens stop
/// working, and their access tokens with them (`extract::AuthUser`).
pub(crate) async fn revoke_sessions(
    tx: &mut sqlx::PgConnection,
    user_id: Uuid,
    keep: Option<Uuid>,
) -> Result<u64> {
    Ok(sqlx::query(
        "update refresh_token set revoked_at = now()
          where user_id = $1 and revoked_at is null
            and ($2::uuid is null or family_id <> $2)",
    )
    .bind(user_id)
    .bind(keep)
    .execute(tx)
    .await?
    .rows_affected())
}

/// The account, when its password is `password`; 401 otherwise.
pub(crate) async fn check_password(
    state: &AppState,
    user_id: Uuid,
    password: &SecretString,
) -> Result<UserRow> {
    let hash: Option<String> = sqlx::query_scalar(
        "select password_hash from app_user where user_id = $1 and deleted_at is null",
    )
    .bind(user_id)
    .fetch_optional(&state.pool)
    .await?;
    if !state.passwords.verify_typed(password, hash).await? {
        return Err(GatewayError::InvalidCredentials.into());
    }
    user_row(state, user_id).await
}

pub(crate) async fn user_row(state: &AppState, user_id: Uuid) -> Result<UserRow> {
    let mut conn = state.pool.acquire().await?;
    user_row_in(&mut conn, user_id).await
}

async fn user_row_in(conn: &mut sqlx::PgConnection, user_id: Uuid) -> Result<UserRow> {
    sqlx::query_as(&format!(
        "select {USER_COLUMNS} from app_user where user_id = $1 and deleted_at is null"
    ))
    .bind(user_id)
    .fetch_optional(conn)
    .await?
    .ok_or(Error::Unauthorized)
}

/// A security notice; its failure is logged, never the caller's.
pub(crate) async fn notify(state: &AppState, kind: AccountMail, row: &UserRow) {
    if let Err(e) = state.mailer.send(kind, &row.email, &row.name, None).await {
        tracing::warn!(error = %e, user_id = %row.user_id, "account notice not sent");
    }
}
