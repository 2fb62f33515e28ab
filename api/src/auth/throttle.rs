//! Failed logins per account, in PostgreSQL so that every replica sees
//! them (the per-IP limit lives in each replica's memory and an attacker
//! can spread guesses over addresses).
//!
//! Every attempt counts until it succeeds, and is counted *before* the
//! password is checked: guesses sent in parallel queue on the address's
//! row and cannot all slip in before the first failure is written. The
//! first [`FREE_ATTEMPTS`] attempts go through at once; from then on each
//! one locks the address for a delay that doubles, up to [`MAX_DELAY`]. A
//! success clears the count; an hour without attempts does too.

use std::time::Duration;

use sqlx::PgPool;

use crate::error::{GatewayError, Result};

/// Attempts that never wait (a traveller mistyping a few times).
pub const FREE_ATTEMPTS: i32 = 5;
/// The longest wait between attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);

/// The lock the `attempts`-th attempt in a row sets for the next one.
pub fn delay_after(attempts: i32) -> Duration {
    if attempts < FREE_ATTEMPTS {
        return Duration::ZERO;
    }
    let doublings = u32::try_from(attempts - FREE_ATTEMPTS).unwrap_or(0).min(20);
    Duration::from_secs(1u64 << doublings).min(MAX_DELAY)
}

/// Counts an attempt on `email`, or refuses it with the time left when the
/// address is locked (the password is then not even checked).
pub async fn attempt(pool: &PgPool, email: &str) -> Result<()> {
    let mut tx = pool.begin().await?;
    // Creates the row or locks it, so attempts on one address go one by one.
    let (attempts, wait_ms): (i32, f64) = sqlx::query_as(
        "insert into login_throttle as t (email, attempts, locked_until)
              values ($1, 0, now())
         on conflict (email) do update set email = excluded.email
         returning case when t.updated_at < now() - interval '1 hour' then 0
                        else t.attempts end,
                   greatest(extract(epoch from t.locked_until - now()) * 1000, 0)::float8",
    )
    .bind(email)
    .fetch_one(&mut *tx)
    .await?;
    if wait_ms > 0.0 {
        tx.rollback().await?;
        return Err(GatewayError::LoginThrottled {
            retry_after: Duration::from_millis(wait_ms.ceil() as u64),
        }
        .into());
    }
    let attempts = attempts.saturating_add(1);
    let lock = delay_after(attempts);
    sqlx::query(
        "update login_throttle
            set attempts = $2,
                locked_until = now() + make_interval(secs => $3),
                updated_at = now()
          where email = $1",
    )
    .bind(email)
    .bind(attempts)
    .bind(lock.as_secs_f64())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A successful login clears the address's count.
pub async fn succeeded(pool: &PgPool, email: &str) -> Result<()> {
    sqlx::query("delete from login_throttle where email = $1")
        .bind(email)
        .execute(pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_after_the_free_attempts_up_to_the_cap() {
        let delays: Vec<u64> = (1..=9).map(|n| delay_after(n).as_secs()).collect();
        assert_eq!(delays, [0, 0, 0, 0, 1, 2, 4, 8, 16]);
        assert_eq!(delay_after(40), MAX_DELAY);
        assert_eq!(delay_after(i32::MAX), MAX_DELAY);
    }
}
