//! Failed logins, in PostgreSQL so that every replica sees them (the
//! per-IP limit lives in each replica's memory and an attacker can spread
//! guesses over addresses).
//!
//! Two counts per account address: one per client network (an IPv4
//! address, an IPv6 /64), and one for the address alone at a much higher
//! bar. Every attempt counts until it succeeds, and is counted *before* the
//! password is checked: guesses sent in parallel queue on the rows and
//! cannot all slip in before the first failure is written. Past each
//! count's free attempts every attempt locks the next one out for a delay
//! that doubles, up to [`MAX_DELAY`]. So a stranger guessing from their own
//! networks locks out only those networks, not the owner's; one spreading
//! guesses over many networks meets the global bar. A device that logged
//! in to the account before (its signed cookie, `auth::device`) is let
//! through both locks: the owner's correct password still works. A
//! success clears its network's count; the global count, and any count an
//! hour untouched, fades (rows older than that are deleted).

use std::net::IpAddr;
use std::time::Duration;

use sqlx::PgPool;

use crate::error::{GatewayError, Result};

/// Attempts from one network that never wait (a traveller mistyping).
pub const FREE_ATTEMPTS: i32 = 5;
/// Attempts on one address from all networks together that never wait.
pub const GLOBAL_FREE_ATTEMPTS: i32 = 50;
/// The longest wait between attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// The scope of the address-wide count.
const GLOBAL: &str = "*";

/// The lock the `attempts`-th attempt in a row sets for the next one, when
/// `free` attempts never wait.
pub fn delay_after(attempts: i32, free: i32) -> Duration {
    if attempts < free {
        return Duration::ZERO;
    }
    let doublings = u32::try_from(attempts - free).unwrap_or(0).min(20);
    Duration::from_secs(1u64 << doublings).min(MAX_DELAY)
}

/// Counts an attempt on `email` from `network`, or refuses it with the
/// time left while either count is locked (the password is then not even
/// checked), unless the request comes from a `known_device`.
pub async fn attempt(
    pool: &PgPool,
    email: &str,
    network: IpAddr,
    known_device: bool,
) -> Result<()> {
    let network = network.to_string();
    // The clock is read with `clock_timestamp()`, never `now()`: `now()` is
    // the transaction's start, and an attempt that began before another
    // but queued behind it on the row would see that one's "no wait"
    // (`locked_until` = its start) as a wait still to come.
    let mut tx = pool.begin().await?;
    let mut wait = Duration::ZERO;
    let mut counts = Vec::with_capacity(2);
    // Always the network's row first, then the address's: one order, no
    // deadlock between attempts from two networks.
    for (scope, free) in [
        (network.as_str(), FREE_ATTEMPTS),
        (GLOBAL, GLOBAL_FREE_ATTEMPTS),
    ] {
        let (attempts, wait_ms): (i32, f64) = sqlx::query_as(
            "insert into login_throttle as t (email, scope, attempts, locked_until)
                  values ($1, $2, 0, clock_timestamp())
             on conflict (email, scope) do update set email = excluded.email
             returning case when t.updated_at < clock_timestamp() - interval '1 hour' then 0
                            else t.attempts end,
                       greatest(extract(epoch from t.locked_until - clock_timestamp()) * 1000,
                                0)::float8",
        )
        .bind(email)
        .bind(scope)
        .fetch_one(&mut *tx)
        .await?;
        wait = wait.max(Duration::from_millis(wait_ms.ceil() as u64));
        counts.push((scope, attempts.saturating_add(1), free));
    }
    if !wait.is_zero() && !known_device {
        tx.rollback().await?;
        return Err(GatewayError::LoginThrottled { retry_after: wait }.into());
    }
    for (scope, attempts, free) in counts {
        sqlx::query(
            "update login_throttle
                set attempts = $3,
                    locked_until = clock_timestamp() + make_interval(secs => $4),
                    updated_at = clock_timestamp()
              where email = $1 and scope = $2",
        )
        .bind(email)
        .bind(scope)
        .bind(attempts)
        .bind(delay_after(attempts, free).as_secs_f64())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A successful login clears the count of its network, and drops every
/// count an hour untouched (so the table does not keep a row for every
/// address ever tried).
pub async fn succeeded(pool: &PgPool, email: &str, network: IpAddr) -> Result<()> {
    sqlx::query(
        "delete from login_throttle
          where (email = $1 and scope = $2) or updated_at < now() - interval '1 hour'",
    )
    .bind(email)
    .bind(network.to_string())
    .execute(pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_after_the_free_attempts_up_to_the_cap() {
        let delays: Vec<u64> = (1..=9)
            .map(|n| delay_after(n, FREE_ATTEMPTS).as_secs())
            .collect();
        assert_eq!(delays, [0, 0, 0, 0, 1, 2, 4, 8, 16]);
        assert_eq!(delay_after(40, FREE_ATTEMPTS), MAX_DELAY);
        assert_eq!(delay_after(i32::MAX, FREE_ATTEMPTS), MAX_DELAY);
        assert_eq!(delay_after(49, GLOBAL_FREE_ATTEMPTS), Duration::ZERO);
        assert_eq!(delay_after(51, GLOBAL_FREE_ATTEMPTS).as_secs(), 2);
    }
}
