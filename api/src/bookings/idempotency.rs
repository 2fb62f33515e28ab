//! The idempotency store (`booking_request`): one booking per user and
//! key, a unique reference, and the caps on live holds.

use domain::BookingRef;
use rand::Rng;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::validation::ValidBooking;
use crate::auth::tokens::Principal;
use crate::error::{Error, GatewayError, Result};
use crate::state::AppState;

pub(super) fn request_hash(request: &ValidBooking) -> Vec<u8> {
    let canonical = serde_json::to_vec(request).unwrap_or_default();
    Sha256::digest(&canonical).to_vec()
}

/// Records the key, allocating the booking id and a unique reference; or
/// finds the booking an earlier request with this key started. A new
/// booking must fit the user's caps on live holds (bookings and seats
/// awaiting payment). One user's creates go one at a time (an advisory
/// lock on the user), so concurrent ones neither race for the key nor
/// slip past the caps together.
pub(super) async fn claim_key(
    state: &AppState,
    user: &Principal,
    key: &str,
    hash: &[u8],
    seats: usize,
) -> Result<(Uuid, BookingRef, bool)> {
    for _ in 0..8 {
        let mut tx = state.pool.begin().await?;
        sqlx::query("select pg_advisory_xact_lock(hashtextextended($1, 2026))")
            .bind(user.user_id.to_string())
            .execute(&mut *tx)
            .await?;
        let existing: Option<(Uuid, String, Vec<u8>)> = sqlx::query_as(
            "select booking_id, booking_ref, request_hash from booking_request
              where user_id = $1 and idempotency_key = $2",
        )
        .bind(user.user_id)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((id, reference, stored_hash)) = existing {
            if stored_hash != hash {
                return Err(GatewayError::Unprocessable {
                    code: "idempotency_key_reused",
                    message: "this Idempotency-Key was used for a different booking request".into(),
                }
                .into());
            }
            let reference = BookingRef::parse(&reference)
                .map_err(|e| anyhow::anyhow!("stored booking reference: {e}"))?;
            return Ok((id, reference, true));
        }
        check_live_holds(&mut tx, state, user, seats).await?;
        let booking_id = Uuid::new_v4();
        let booking_ref = new_reference();
        let inserted = sqlx::query(
            "insert into booking_request
                    (user_id, idempotency_key, request_hash, booking_id, booking_ref, seats)
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(user.user_id)
        .bind(key)
        .bind(hash)
        .bind(booking_id)
        .bind(booking_ref.as_str())
        .bind(i32::try_from(seats).unwrap_or(i32::MAX))
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {
                tx.commit().await?;
                return Ok((booking_id, booking_ref, false));
            }
            Err(sqlx::Error::Database(db))
                if db.constraint() == Some("booking_request_ref_unique") =>
            {
                continue; // that reference is taken: draw another
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Internal(anyhow::anyhow!(
        "no free booking reference after 8 draws"
    )))
}

/// Refuses a new booking past the user's caps: bookings holding seats or
/// awaiting payment (a request not in the read model yet counts as
/// holding), and the seats they hold. Anything older than the payment
/// window (and a minute) is over, whatever the read model says.
pub(super) async fn check_live_holds(
    tx: &mut sqlx::PgConnection,
    state: &AppState,
    user: &Principal,
    seats: usize,
) -> Result<()> {
    let config = &state.config.bookings;
    let horizon = config.payment_window + std::time::Duration::from_secs(60);
    let (live, held): (i64, i64) = sqlx::query_as(
        "select count(*), coalesce(sum(r.seats), 0)::bigint
           from booking_request r
           left join booking b on b.booking_id = r.booking_id
          where r.user_id = $1
            and r.created_at > now() - make_interval(secs => $2)
            and coalesce(b.status, 'holding') in ('holding', 'awaiting_payment')",
    )
    .bind(user.user_id)
    .bind(horizon.as_secs_f64())
    .fetch_one(&mut *tx)
    .await?;
    let seats = i64::try_from(seats).unwrap_or(i64::MAX);
    if live >= i64::from(config.max_live_bookings)
        || held + seats > i64::from(config.max_held_seats)
    {
        return Err(Error::conflict(
            "too_many_holds",
            format!(
                "you have {live} booking(s) with {held} seat(s) awaiting payment; at most {} \
                 bookings and {} seats may await payment at once: pay for or cancel one first",
                config.max_live_bookings, config.max_held_seats
            ),
        ));
    }
    Ok(())
}

/// Six characters from an alphabet without look-alikes (no 0/O, 1/I/L):
/// 30^6 ≈ 729 million references.
pub(super) fn new_reference() -> BookingRef {
    let mut rng = rand::rng();
    BookingRef::from_indexes(|n| rng.random_range(0..n))
}
