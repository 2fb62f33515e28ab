//! Accounts: sign up, log in (with a second factor when enrolled), refresh
//! (rotating), log out, me; the emailed links, password changes, deletion
//! and export are `account`'s, sessions `sessions`', two-factor `totp`'s.

pub mod account;
mod admin;
pub mod device;
pub mod extract;
pub mod mail;
pub mod password;
pub mod sessions;
pub mod throttle;
pub mod tokens;
pub mod totp;

pub use admin::ensure_admin;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{Error, GatewayError, Result, ResultExt};
use crate::extract::ApiJson;
use crate::routes::Routes;
use crate::state::AppState;
use crate::validate::{Email, email_schema, new_password, text};
use extract::AuthUser;
use tokens::{Role, new_refresh_token, refresh_hash};

/// The routes under `/auth` (rate-limited per client IP by the caller).
pub fn routes() -> Routes {
    Routes::new()
        .post("/auth/signup", signup)
        .post("/auth/login", login)
        .post("/auth/refresh", refresh)
        .post("/auth/logout", logout)
        .merge(account::link_routes())
}

/// The signed-in traveller's own account, limited per user like the rest
/// of the API.
pub fn me_routes() -> Routes {
    Routes::new()
        .get("/auth/me", me)
        .merge(account::routes())
        .merge(sessions::routes())
        .merge(totp::routes())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    #[schema(schema_with = signup_email)]
    email: String,
    #[schema(value_type = String, min_length = 10, max_length = 128)]
    password: SecretString,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"
    )]
    name: String,
}

/// An email address (any case; the account keeps it lower case).
fn signup_email() -> utoipa::openapi::Object {
    email_schema()
        .description(Some(
            "An email address (any case; the account keeps it lower case).",
        ))
        .build()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    email: String,
    #[schema(value_type = String)]
    password: SecretString,
    /// The 6-digit code of the authenticator app, or one of the recovery
    /// codes, for an account with two-step sign-in (without it such an
    /// account answers 401 `otp_required`).
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "123456")]
    otp: Option<SecretString>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct UserView {
    id: Uuid,
    email: String,
    name: String,
    roles: Vec<Role>,
    /// Whether the address is confirmed (needed to book).
    email_verified: bool,
    /// Whether sign-in asks for an authenticator code.
    two_factor: bool,
    created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenPair {
    access_token: String,
    refresh_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u64,
}

#[derive(Serialize, ToSchema)]
pub struct SignupResponse {
    user: UserView,
    #[serde(flatten)]
    tokens: TokenPair,
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub role: String,
    pub email_verified: bool,
    pub two_factor: bool,
    pub created_at: DateTime<Utc>,
}

/// The columns of a [`UserRow`].
pub(crate) const USER_COLUMNS: &str = "user_id, email, name, role, \
    email_verified_at is not null as email_verified, \
    totp_enabled_at is not null as two_factor, created_at";

impl UserRow {
    fn roles(&self) -> Vec<Role> {
        Role::parse(&self.role).into_iter().collect()
    }

    pub(crate) fn view(self) -> UserView {
        UserView {
            roles: self.roles(),
            id: self.user_id,
            email: self.email,
            name: self.name,
            email_verified: self.email_verified,
            two_factor: self.two_factor,
            created_at: self.created_at,
        }
    }
}

/// Create a customer account and log it in.
#[utoipa::path(post, path = "/api/v1/auth/signup", tag = "auth", request_body = SignupRequest,
    responses((status = 201, body = SignupResponse, description = "signed in; a link to confirm the address is emailed (booking needs it)"),
              (status = 409, description = "email_taken"),
              (status = 422, description = "invalid field (a password zxcvbn estimates guessable is refused with its advice)"),
              (status = 429, description = "rate limited")))]
async fn signup(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    ApiJson(req): ApiJson<SignupRequest>,
) -> Result<axum::response::Response> {
    let email = Email::parse("email", &req.email)?;
    let name = text("name", &req.name, 100)?;
    let password = new_password("password", &req.password, &[email.as_str(), &name])?;
    let hash = state.passwords.hash(password).await?;
    let user: UserRow = sqlx::query_as(&format!(
        "insert into app_user (user_id, email, name, password_hash, role)
         values ($1, $2, $3, $4, 'customer')
         returning {USER_COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(email.as_str())
    .bind(&name)
    .bind(&hash)
    .fetch_one(&state.pool)
    .await
    .on_constraint("app_user_email_unique", || {
        Error::conflict("email_taken", "an account with this email already exists")
    })?;
    tracing::info!(user_id = %user.user_id, "account created");
    // The account exists either way: a lost email is sent again on request.
    if let Err(e) = account::send_verification(&state, user.user_id, &user.email, &user.name).await
    {
        tracing::warn!(error = %e, user_id = %user.user_id, "verification email not sent");
    }
    let tokens = start_session(&state, user.user_id, user.roles(), &headers).await?;
    Ok(no_store(
        StatusCode::CREATED,
        Json(SignupResponse {
            user: user.view(),
            tokens,
        }),
    ))
}

/// A token-bearing answer: never kept by a browser or proxy cache.
pub(crate) fn no_store(
    status: StatusCode,
    body: impl axum::response::IntoResponse,
) -> axum::response::Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

/// Exchange email and password for an access and a refresh token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenPair), (status = 401, description = "invalid_credentials, or otp_required: the password is right and the account asks for its authenticator code (send `otp`)"),
              (status = 429, description = "rate_limited (per client IP, IPv6 per /64) or login_throttled (too many failed logins for the account from this network, or from all networks together; a device that logged in to the account before, by its `airline_device` cookie, is let through)")))]
async fn login(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: axum::http::HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<axum::response::Response> {
    let client = crate::limits::ClientIp::new(&state.config.limits.trusted_proxies);
    let network = crate::limits::network(client.of(peer.ip(), &headers));
    // A malformed address cannot match an account; it still costs a hash.
    let email = Email::parse("email", &req.email).ok();
    let user: Option<(Uuid, String, String, bool)> = match &email {
        Some(email) => {
            // Counted (or refused) before the password is checked; a device
            // that logged in to this account before gets through the locks.
            let known = state.devices.known(&headers, email.as_str());
            if let Err(e) = throttle::attempt(&state.pool, email.as_str(), network, known).await {
                account::offer_unlock(&state, email.as_str()).await;
                return Err(e);
            }
            sqlx::query_as(
                "select user_id, role, password_hash, totp_enabled_at is not null
                   from app_user where email = $1 and deleted_at is null",
            )
            .bind(email.as_str())
            .fetch_optional(&state.pool)
            .await?
        }
        None => None,
    };
    let (user_id, role, hash, two_factor) = match user {
        Some((id, role, hash, two_factor)) => (Some(id), Some(role), Some(hash), two_factor),
        None => (None, None, None, false),
    };
    let ok = state.passwords.verify_typed(&req.password, hash).await?;
    let (Some(user_id), Some(role), true) = (user_id, role, ok) else {
        tracing::debug!("login refused");
        if let Some(email) = &email {
            account::offer_unlock(&state, email.as_str()).await;
        }
        return Err(GatewayError::InvalidCredentials.into());
    };
    let Some(email) = &email else {
        return Err(GatewayError::InvalidCredentials.into());
    };
    if two_factor {
        // The attempt stays counted until the second factor is right too.
        match &req.otp {
            None => return Err(GatewayError::OtpRequired.into()),
            Some(code) if !totp::check(&state, user_id, code).await? => {
                tracing::debug!(%user_id, "second factor refused");
                return Err(GatewayError::InvalidCredentials.into());
            }
            Some(_) => {}
        }
    }
    throttle::succeeded(&state.pool, email.as_str(), network).await?;
    let roles = Role::parse(&role).into_iter().collect();
    let tokens = start_session(&state, user_id, roles, &headers).await?;
    // Remember the device: its next correct password is let through even
    // while strangers' guesses lock the account's other networks.
    let secure = headers
        .get("x-forwarded-proto")
        .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"));
    let cookie = state.devices.set_cookie(email.as_str(), secure);
    let mut response = no_store(StatusCode::OK, Json(tokens));
    response
        .headers_mut()
        .insert(axum::http::header::SET_COOKIE, cookie);
    Ok(response)
}

/// Exchange a refresh token for a new pair. Each refresh token works once,
/// and once more within `REFRESH_REUSE_GRACE` of its use (two tabs
/// refreshing at the same moment); presenting it again after that revokes
/// every token of its family. No token outlives its session's
/// `SESSION_MAX_AGE`, counted from the login.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, description = "unknown, used, revoked or expired (or the session reached SESSION_MAX_AGE)")))]
async fn refresh(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> Result<axum::response::Response> {
    let mut tx = state.pool.begin().await?;
    let found: Option<RefreshRow> = sqlx::query_as(
        "select family_id, user_id, used_at is not null as used, revoked_at is not null as revoked,
                expires_at <= now() as expired,
                coalesce(used_at > now() - make_interval(secs => $2) and reused_at is null, false)
                    as in_grace,
                session_started_at
           from refresh_token where token_hash = $1 for update",
    )
    .bind(refresh_hash(&req.refresh_token))
    .bind(state.config.auth.refresh_reuse_grace.as_secs_f64())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(RefreshRow {
        family_id,
        user_id,
        used,
        revoked,
        expired,
        in_grace,
        session_started_at,
    }) = found
    else {
        tracing::debug!("unknown refresh token");
        return Err(Error::Unauthorized);
    };
    if used && in_grace && !revoked && !expired {
        // The same session refreshing twice at once: the second one gets a
        // pair of its own, once.
        sqlx::query("update refresh_token set reused_at = now() where token_hash = $1")
            .bind(refresh_hash(&req.refresh_token))
            .execute(&mut *tx)
            .await?;
        tracing::debug!(%user_id, %family_id, "refresh token used again within the grace period");
    } else if used && !revoked {
        sqlx::query(
            "update refresh_token set revoked_at = now()
              where family_id = $1 and revoked_at is null",
        )
        .bind(family_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::warn!(%user_id, %family_id, "refresh token reused: family revoked");
        return Err(Error::Unauthorized);
    }
    if (used && !in_grace) || revoked || expired {
        tracing::debug!(%user_id, "refresh token revoked or expired");
        return Err(Error::Unauthorized);
    }
    if !used {
        sqlx::query("update refresh_token set used_at = now() where token_hash = $1")
            .bind(refresh_hash(&req.refresh_token))
            .execute(&mut *tx)
            .await?;
    }
    let role: Option<String> =
        sqlx::query_scalar("select role from app_user where user_id = $1 and deleted_at is null")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(role) = role else {
        return Err(Error::Unauthorized);
    };
    let session = Session {
        family_id,
        started_at: session_started_at,
    };
    let refresh_token = insert_refresh(&mut tx, &state, user_id, &session, None).await?;
    tx.commit().await?;
    let roles = Role::parse(&role).into_iter().collect();
    let tokens = pair(&state, user_id, family_id, roles, refresh_token)?;
    Ok(no_store(StatusCode::OK, Json(tokens)))
}

/// Revoke the session (the refresh token's family). Access tokens already
/// issued stay valid until they expire.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    security(("bearer" = [])), responses((status = 204), (status = 401)))]
async fn logout(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> Result<StatusCode> {
    sqlx::query(
        "update refresh_token set revoked_at = now()
          where revoked_at is null and user_id = $1
            and family_id = (select family_id from refresh_token where token_hash = $2)",
    )
    .bind(user.user_id)
    .bind(refresh_hash(&req.refresh_token))
    .execute(&state.pool)
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The account of the access token.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401)))]
async fn me(AuthUser(user): AuthUser, State(state): State<AppState>) -> Result<Json<UserView>> {
    let row: Option<UserRow> = sqlx::query_as(&format!(
        "select {USER_COLUMNS} from app_user where user_id = $1 and deleted_at is null"
    ))
    .bind(user.user_id)
    .fetch_optional(&state.pool)
    .await?;
    // A token of a deleted account is no longer anyone's.
    row.map(|r| Json(r.view())).ok_or(Error::Unauthorized)
}

async fn start_session(
    state: &AppState,
    user_id: Uuid,
    roles: Vec<Role>,
    headers: &axum::http::HeaderMap,
) -> Result<TokenPair> {
    let mut tx = state.pool.begin().await?;
    let session = Session {
        family_id: Uuid::new_v4(),
        started_at: Utc::now(),
    };
    // What the traveller's list of sessions names the device by.
    let device = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| {
            ua.chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect::<String>()
        });
    let refresh_token =
        insert_refresh(&mut tx, state, user_id, &session, device.as_deref()).await?;
    tx.commit().await?;
    pair(state, user_id, session.family_id, roles, refresh_token)
}

/// A refresh token as `refresh` reads it.
#[derive(sqlx::FromRow)]
struct RefreshRow {
    family_id: Uuid,
    user_id: Uuid,
    used: bool,
    revoked: bool,
    expired: bool,
    /// Used within `REFRESH_REUSE_GRACE`, and not used again since.
    in_grace: bool,
    session_started_at: DateTime<Utc>,
}

/// A refresh token's family: one login, and every rotation since.
struct Session {
    family_id: Uuid,
    started_at: DateTime<Utc>,
}

async fn insert_refresh(
    tx: &mut sqlx::PgConnection,
    state: &AppState,
    user_id: Uuid,
    session: &Session,
    user_agent: Option<&str>,
) -> Result<String> {
    let token = new_refresh_token();
    let ttl = chrono::Duration::from_std(state.tokens.refresh_ttl)
        .map_err(|e| Error::Internal(e.into()))?;
    let max_age = chrono::Duration::from_std(state.config.auth.session_max_age)
        .map_err(|e| Error::Internal(e.into()))?;
    // Idle expiry, but never past the session's end.
    let expires_at = (Utc::now() + ttl).min(session.started_at + max_age);
    sqlx::query(
        "insert into refresh_token
                (refresh_token_id, family_id, user_id, token_hash, expires_at, session_started_at,
                 user_agent)
         values ($1, $2, $3, $4, $5, $6,
                 coalesce($7, (select user_agent from refresh_token where family_id = $2 limit 1)))",
    )
    .bind(Uuid::new_v4())
    .bind(session.family_id)
    .bind(user_id)
    .bind(refresh_hash(&token))
    .bind(expires_at)
    .bind(session.started_at)
    .bind(user_agent)
    .execute(tx)
    .await?;
    Ok(token)
}

fn pair(
    state: &AppState,
    user_id: Uuid,
    session_id: Uuid,
    roles: Vec<Role>,
    refresh_token: String,
) -> Result<TokenPair> {
    Ok(TokenPair {
        access_token: state.tokens.issue_access(user_id, session_id, roles)?,
        refresh_token,
        token_type: "Bearer",
        expires_in: state.tokens.access_ttl.as_secs(),
    })
}
