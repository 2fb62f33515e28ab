//! The seat inventory API used by the booking activities: hold, confirm and
//! release seats for a booking. All three are idempotent by booking id and
//! require the service token. The work happens in one database function
//! call each (see `migrations/flights/functions/inventory.sql`).

use std::time::Duration;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use domain::{Currency, Money, SeatNumber};
pub use flights_api::inventory::{
    HeldSeat, HoldRequest, HoldView, LiveHolds, Refusal, ReleaseRequest, SeatRequest,
};
use serde::Deserialize;
use serde_json::Value;
use sqlx::postgres::types::PgInterval;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::extract::{ApiJson, ServiceAuth};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/holds/{booking_id}", get(read).put(hold))
        .route("/holds/{booking_id}/confirm", post(confirm))
        .route("/holds/{booking_id}/release", post(release))
        .route("/flights/{id}/holds", get(live_holds))
}

/// The bookings holding seats on a flight: whom a schedule change or a
/// cancellation concerns (the gateway's fan-out asks).
async fn live_holds(
    _: ServiceAuth,
    State(state): State<AppState>,
    crate::extract::Id(flight_id): crate::extract::Id,
) -> Result<Json<LiveHolds>> {
    let booking_ids = sqlx::query_scalar(
        "select booking_id from seat_hold
          where flight_id = $1 and status in ('held', 'confirmed')
          order by created_at, booking_id",
    )
    .bind(flight_id)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(LiveHolds {
        flight_id,
        booking_ids,
    }))
}

/// Most seats one booking may hold.
pub const MAX_SEATS_PER_BOOKING: usize = 9;
/// Calls that lost a race (IV005, IV008, deadlock) are retried this often.
const ATTEMPTS: u32 = 8;

/// The booking id in the path: a UUID, else 404.
struct BookingId(Uuid);

impl<S: Send + Sync> FromRequestParts<S> for BookingId {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| Error::NotFound("hold"))?;
        Uuid::parse_str(&raw)
            .map(BookingId)
            .map_err(|_| Error::invalid_param("booking_id", format!("'{raw}' is not a UUID")))
    }
}

/// The request's rules beyond its shape; seats in order, so that a retry
/// listing them in another order is the same request.
fn check(mut req: HoldRequest) -> Result<HoldRequest> {
    if req.flight_id <= 0 {
        return Err(Error::validation("flight_id", "unknown flight"));
    }
    let max = MAX_SEATS_PER_BOOKING;
    match &mut req.seats {
        SeatRequest::Seats(seats) => {
            if seats.is_empty() || seats.len() > max {
                return Err(Error::validation(
                    "seats",
                    format!("must list 1 to {max} seats"),
                ));
            }
            for (i, seat) in seats.iter().enumerate() {
                if seats[..i].contains(seat) {
                    return Err(Error::validation(
                        format!("seats[{i}]"),
                        format!("{seat} is listed twice"),
                    ));
                }
            }
            seats.sort();
        }
        SeatRequest::Cabin { count, .. } => {
            if *count < 1 || usize::from(*count) > max {
                return Err(Error::validation(
                    "seats.count",
                    format!("must be between 1 and {max}"),
                ));
            }
        }
    }
    Ok(req)
}

/// The normalised request, stored with the hold to recognise a retry.
fn fingerprint(req: &HoldRequest) -> Value {
    match &req.seats {
        SeatRequest::Seats(s) => serde_json::json!({"flight_id": req.flight_id, "seats": s}),
        SeatRequest::Cabin { cabin, count } => serde_json::json!({
            "flight_id": req.flight_id, "cabin": cabin, "count": count
        }),
    }
}

/// A hold as the database function returns it.
#[derive(Deserialize)]
struct DbHold {
    booking_id: Uuid,
    flight_id: i64,
    status: String,
    total_amount: i64,
    currency: String,
    created_at: DateTime<Utc>,
    confirmed_at: Option<DateTime<Utc>>,
    released_at: Option<DateTime<Utc>>,
    seats: Vec<DbSeat>,
}

#[derive(Deserialize)]
struct DbSeat {
    seat_number: String,
    cabin: String,
    fare_amount: i64,
}

/// The database's strings into the contract's types; the database only
/// ever holds valid ones, so a failure is internal.
fn view(h: DbHold) -> Result<HoldView> {
    let currency = Currency::parse(&h.currency).map_err(|e| anyhow::anyhow!("{e}"))?;
    let money = |amount| Money::new(amount, currency).map_err(|e| anyhow::anyhow!("{e}"));
    let seats = h
        .seats
        .into_iter()
        .map(|s| {
            Ok(HeldSeat {
                seat_number: SeatNumber::parse(&s.seat_number)
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
                cabin: s.cabin.parse().map_err(|e| anyhow::anyhow!("{e}"))?,
                fare: money(s.fare_amount)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(HoldView {
        booking_id: h.booking_id,
        flight_id: h.flight_id,
        status: h.status,
        seats,
        total: money(h.total_amount)?,
        held_at: h.created_at,
        confirmed_at: h.confirmed_at,
        released_at: h.released_at,
    })
}

/// Maps the inventory functions' SQLSTATEs to API errors; `None` means
/// "lost a race, call again".
fn classify(e: sqlx::Error) -> Option<Error> {
    let sqlx::Error::Database(db) = &e else {
        return Some(e.into());
    };
    let msg = db.message().to_owned();
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    Some(match code.as_str() {
        "IV005" | "IV008" | "40P01" | "40001" => return None,
        "IV001" => Error::conflict(Refusal::IdempotencyConflict.as_str(), msg),
        "IV002" => Error::validation("flight_id", "unknown flight"),
        "IV003" => Error::conflict(Refusal::FlightCancelled.as_str(), msg),
        "IV004" => Error::conflict(Refusal::FlightDeparted.as_str(), msg),
        "IV006" => Error::validation("seats", format!("no such seat on this flight: {msg}")),
        "IV007" => Error::conflict(
            Refusal::SeatsUnavailable.as_str(),
            format!("seats unavailable: {msg}"),
        ),
        "IV010" => Error::NotFound("hold"),
        "IV011" => Error::conflict(Refusal::HoldConfirmed.as_str(), msg),
        "IV012" => Error::conflict(Refusal::HoldReleased.as_str(), msg),
        "IV013" => Error::conflict(Refusal::BookingClosed.as_str(), msg),
        _ => e.into(),
    })
}

/// Runs one inventory call, retrying the races it can lose; `contended`
/// is the answer when it lost them all.
async fn call<T: serde::de::DeserializeOwned + Send + Unpin + 'static>(
    state: &AppState,
    contended: fn() -> Error,
    op: impl Fn() -> sqlx::query::QueryScalar<
        'static,
        sqlx::Postgres,
        sqlx::types::Json<T>,
        sqlx::postgres::PgArguments,
    >,
) -> Result<T> {
    let mut delay = Duration::from_millis(1);
    for attempt in 1..=ATTEMPTS {
        match op().fetch_one(&state.pool).await {
            Ok(v) => return Ok(v.0),
            Err(e) => match classify(e) {
                Some(err) => return Err(err),
                None if attempt < ATTEMPTS => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_millis(50));
                }
                None => {}
            },
        }
    }
    Err(contended())
}

/// A hold that lost every race: the seats are being taken by others.
fn seats_in_demand() -> Error {
    Error::conflict(
        Refusal::SeatsUnavailable.as_str(),
        "seats are in high demand right now; try again",
    )
}

/// A confirm or release that lost every race has not happened yet; it is
/// not refused: 503, and the caller retries. (A 409 here was once read as
/// "nothing to release", and the seats stayed held.)
fn busy() -> Error {
    Error::Unavailable
}

/// The cut-off as the inventory functions take it.
fn cutoff(state: &AppState) -> PgInterval {
    PgInterval::try_from(state.config.booking_cutoff).unwrap_or(PgInterval {
        months: 0,
        days: 0,
        microseconds: i64::MAX,
    })
}

#[derive(Deserialize)]
struct HoldOutcome {
    created: bool,
    hold: DbHold,
}

#[tracing::instrument(skip_all, fields(booking_id = %booking_id))]
async fn hold(
    _: ServiceAuth,
    State(state): State<AppState>,
    BookingId(booking_id): BookingId,
    ApiJson(req): ApiJson<HoldRequest>,
) -> Result<(StatusCode, Json<HoldView>)> {
    let req = check(req)?;
    let fingerprint = fingerprint(&req);
    let (numbers, cabin, count) = match &req.seats {
        SeatRequest::Seats(s) => (
            Some(s.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>()),
            None,
            None,
        ),
        SeatRequest::Cabin { cabin, count } => {
            (None, Some(cabin.as_str()), Some(i32::from(*count)))
        }
    };
    let cutoff = cutoff(&state);
    let outcome: HoldOutcome = call(&state, seats_in_demand, || {
        sqlx::query_scalar("select inventory_hold($1, $2, $3, $4, $5, $6, $7)")
            .bind(booking_id)
            .bind(req.flight_id)
            .bind(numbers.clone())
            .bind(cabin)
            .bind(count)
            .bind(fingerprint.clone())
            .bind(cutoff)
    })
    .await?;
    if outcome.hold.status == "released" {
        return Err(Error::conflict(
            "hold_released",
            "this booking's hold was already released",
        ));
    }
    let status = if outcome.created {
        tracing::info!(
            flight_id = req.flight_id,
            seats = outcome.hold.seats.len(),
            "seats held"
        );
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view(outcome.hold)?)))
}

async fn read(
    _: ServiceAuth,
    State(state): State<AppState>,
    BookingId(booking_id): BookingId,
) -> Result<Json<HoldView>> {
    let hold: Option<sqlx::types::Json<DbHold>> =
        sqlx::query_scalar("select inventory_hold_json(h) from seat_hold h where booking_id = $1")
            .bind(booking_id)
            .fetch_optional(&state.pool)
            .await?;
    let hold = hold.ok_or(Error::NotFound("hold"))?;
    Ok(Json(view(hold.0)?))
}

#[tracing::instrument(skip_all, fields(booking_id = %booking_id))]
async fn confirm(
    _: ServiceAuth,
    State(state): State<AppState>,
    BookingId(booking_id): BookingId,
) -> Result<Json<HoldView>> {
    let cutoff = cutoff(&state);
    let hold: DbHold = call(&state, busy, || {
        sqlx::query_scalar("select inventory_confirm($1, $2)")
            .bind(booking_id)
            .bind(cutoff)
    })
    .await?;
    tracing::info!("hold confirmed");
    Ok(Json(view(hold)?))
}

#[tracing::instrument(skip_all, fields(booking_id = %booking_id))]
async fn release(
    _: ServiceAuth,
    State(state): State<AppState>,
    BookingId(booking_id): BookingId,
    body: Bytes,
) -> Result<Json<HoldView>> {
    // The body is optional: empty means a plain release.
    let cancellation = if body.iter().all(u8::is_ascii_whitespace) {
        false
    } else {
        crate::extract::parse_json::<ReleaseRequest>(&body)?.cancellation
    };
    let hold: DbHold = call(&state, busy, || {
        sqlx::query_scalar("select inventory_release($1, $2)")
            .bind(booking_id)
            .bind(cancellation)
    })
    .await?;
    tracing::info!(cancellation, "hold released");
    Ok(Json(view(hold)?))
}
