//! The payment attempts ledger (`payment_attempt`): one row per attempt,
//! locked around each Stripe call so that a duplicate execution waits,
//! then finds the result instead of calling Stripe again.

use sqlx::{Postgres, Transaction};
use uuid::Uuid;
use workflows::contract::Failure;

use crate::error::{StepError, StepResult};

/// `payment_attempt.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AttemptStatus {
    Creating,
    Created,
    Authorized,
    Declined,
    Captured,
    Cancelled,
}

impl AttemptStatus {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            AttemptStatus::Creating => "creating",
            AttemptStatus::Created => "created",
            AttemptStatus::Authorized => "authorized",
            AttemptStatus::Declined => "declined",
            AttemptStatus::Captured => "captured",
            AttemptStatus::Cancelled => "cancelled",
        }
    }

    pub(super) fn parse(s: &str) -> Option<Self> {
        [
            AttemptStatus::Creating,
            AttemptStatus::Created,
            AttemptStatus::Authorized,
            AttemptStatus::Declined,
            AttemptStatus::Captured,
            AttemptStatus::Cancelled,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AttemptRow {
    pub(super) payment_intent_id: Option<String>,
    pub(super) client_secret: Option<String>,
    pub(super) amount: i64,
    pub(super) currency: String,
    pub(super) status: String,
    pub(super) decline_code: Option<String>,
}

impl AttemptRow {
    pub(super) fn status(&self) -> StepResult<AttemptStatus> {
        AttemptStatus::parse(&self.status).ok_or_else(|| {
            StepError::transient(format!("unknown payment attempt status {:?}", self.status))
        })
    }
}

/// The attempt's row, locked until the transaction ends.
pub(super) async fn lock_attempt(
    tx: &mut Transaction<'_, Postgres>,
    booking: Uuid,
    attempt: i32,
) -> sqlx::Result<Option<AttemptRow>> {
    sqlx::query_as(
        "select payment_intent_id, client_secret, amount, currency, status, decline_code \
         from payment_attempt where booking_id = $1 and attempt = $2 for update",
    )
    .bind(booking)
    .bind(attempt)
    .fetch_optional(&mut **tx)
    .await
}

/// The attempt's locked row and its intent; a step that needs an intent
/// cannot run before `create`.
pub(super) async fn existing_intent(
    tx: &mut Transaction<'_, Postgres>,
    booking: Uuid,
    attempt: i32,
) -> StepResult<(AttemptRow, String)> {
    let row = lock_attempt(tx, booking, attempt).await?;
    match row {
        Some(row) => match row.payment_intent_id.clone() {
            Some(intent_id) => Ok((row, intent_id)),
            None => Err(no_intent(attempt)),
        },
        None => Err(no_intent(attempt)),
    }
}

pub(super) fn no_intent(attempt: i32) -> StepError {
    StepError::business(
        Failure::PaymentRejected,
        format!("payment attempt {attempt} has no PaymentIntent"),
    )
}

/// The attempt's status, recorded as the step's last write: the step's
/// transaction commits.
pub(super) async fn commit_status(
    mut tx: Transaction<'_, Postgres>,
    booking: Uuid,
    attempt: i32,
    status: AttemptStatus,
) -> sqlx::Result<()> {
    set_status(&mut tx, booking, attempt, status, None).await?;
    tx.commit().await
}

pub(super) async fn set_status(
    tx: &mut Transaction<'_, Postgres>,
    booking: Uuid,
    attempt: i32,
    status: AttemptStatus,
    decline_code: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "update payment_attempt set status = $3, decline_code = $4, updated_at = now() \
         where booking_id = $1 and attempt = $2",
    )
    .bind(booking)
    .bind(attempt)
    .bind(status.as_str())
    .bind(decline_code)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
