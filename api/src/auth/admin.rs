//! The first admin, from `ADMIN_EMAIL` / `ADMIN_PASSWORD`.

use uuid::Uuid;

use crate::state::AppState;
use crate::validate::Email;

/// Creates the admin from `ADMIN_EMAIL` / `ADMIN_PASSWORD` when no account
/// has that address; leaves an existing admin as it is (its password too);
/// refuses to start when a traveller's account has the address, which
/// anyone could have registered (sign-up does not verify addresses).
pub async fn ensure_admin(state: &AppState) -> anyhow::Result<()> {
    let Some((email, password)) = state.config.auth.admin.clone() else {
        return Ok(());
    };
    let email =
        Email::parse("ADMIN_EMAIL", &email).map_err(|e| anyhow::anyhow!("ADMIN_EMAIL: {e}"))?;
    let existing: Option<String> = sqlx::query_scalar("select role from app_user where email = $1")
        .bind(email.as_str())
        .fetch_optional(&state.pool)
        .await?;
    match existing.as_deref() {
        Some("admin") => {
            tracing::info!("admin account ready");
            return Ok(());
        }
        // Someone signed up with the address first: promoting that account
        // would hand the airline to whoever registered it.
        Some(_) => anyhow::bail!(
            "ADMIN_EMAIL {email} belongs to an existing traveller account; the gateway \
             will not promote it. Set ADMIN_EMAIL to an address no account uses \
             (docs/ops.md, \"The admin account\")",
            email = email.as_str()
        ),
        None => {}
    }
    let hash = state.passwords.hash(password).await?;
    // A concurrent sign-up (or another replica) may take the address
    // between the read and this insert: only an insert creates the admin.
    let created = sqlx::query(
        "insert into app_user (user_id, email, name, password_hash, role)
         values ($1, $2, 'Administrator', $3, 'admin')
         on conflict (email) do nothing",
    )
    .bind(Uuid::new_v4())
    .bind(email.as_str())
    .bind(&hash)
    .execute(&state.pool)
    .await?
    .rows_affected();
    if created == 0 {
        // Lost the race: whoever won decides (an admin replica, or a
        // traveller, which the next start refuses).
        return Box::pin(ensure_admin(state)).await;
    }
    tracing::info!("admin account created");
    Ok(())
}
