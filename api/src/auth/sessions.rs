//! The traveller's sessions: each login (a refresh token's family), the
//! device it began on, when it was last refreshed; end one, or all.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::account::revoke_sessions;
use super::extract::AuthUser;
use super::tokens::Principal;
use crate::error::{Error, Result};
use crate::routes::Routes;
use crate::state::AppState;

pub fn routes() -> Routes {
    Routes::new()
        .get("/auth/sessions", list)
        .delete("/auth/sessions/{id}", end)
        .post("/auth/logout-everywhere", logout_everywhere)
}

/// One open session.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct SessionView {
    id: Uuid,
    /// When it signed in.
    started_at: DateTime<Utc>,
    /// When it last refreshed its access token.
    last_used_at: DateTime<Utc>,
    /// The browser or app it signed in with, as it named itself.
    device: Option<String>,
    /// The session of this request.
    #[sqlx(default)]
    current: bool,
}

pub(crate) async fn sessions_of(state: &AppState, user: &Principal) -> Result<Vec<SessionView>> {
    Ok(sqlx::query_as(
        "select family_id as id, min(session_started_at) as started_at,
                max(created_at) as last_used_at, max(user_agent) as device,
                family_id = $2 as current
           from refresh_token
          where user_id = $1
          group by family_id
         having bool_and(revoked_at is null) and max(expires_at) > now()
          order by last_used_at desc
          limit 100",
    )
    .bind(user.user_id)
    .bind(user.session_id)
    .fetch_all(&state.pool)
    .await?)
}

/// The account's open sessions, the most recently used first.
#[utoipa::path(get, path = "/api/v1/auth/sessions", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = [SessionView])))]
async fn list(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
) -> Result<Json<Vec<SessionView>>> {
    Ok(Json(sessions_of(&state, &user).await?))
}

/// End one session: its refresh and access tokens stop working at once.
#[utoipa::path(delete, path = "/api/v1/auth/sessions/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 204), (status = 404, description = "no such session of yours")))]
async fn end(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id = Uuid::parse_str(&id).map_err(|_| Error::NotFound("session"))?;
    let ended = sqlx::query(
        "update refresh_token set revoked_at = now()
          where user_id = $1 and family_id = $2 and revoked_at is null",
    )
    .bind(user.user_id)
    .bind(id)
    .execute(&state.pool)
    .await?
    .rows_affected();
    if ended == 0 {
        return Err(Error::NotFound("session"));
    }
    tracing::info!(user_id = %user.user_id, session = %id, "session ended");
    Ok(StatusCode::NO_CONTENT)
}

/// End every session of the account, this one included.
#[utoipa::path(post, path = "/api/v1/auth/logout-everywhere", tag = "auth", security(("bearer" = [])),
    responses((status = 204)))]
async fn logout_everywhere(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
) -> Result<StatusCode> {
    let mut conn = state.pool.acquire().await?;
    let ended = revoke_sessions(&mut conn, user.user_id, None).await?;
    tracing::info!(user_id = %user.user_id, sessions = ended, "logged out everywhere");
    Ok(StatusCode::NO_CONTENT)
}
