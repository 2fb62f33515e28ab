//! Flights: create (materialising seats from the airplane's seat map), read,
//! update (times, gate, status, fares), delete, and the per-flight seat map.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use domain::{Cabin, IataCode};
pub use flights_api::catalogue::{
    AirplaneRef, AirportRef, CabinView, Fare, FlightDetails, FlightInput, FlightPatch, FlightSeat,
    FlightSeats, FlightStatus,
};
use serde::Deserialize;
use sqlx::types::Json as DbJson;
use sqlx::{PgConnection, PgPool};

use super::delete_by_id;
use super::seat_map::{SeatMap, SeatMapRules};
use crate::error::{Error, Result, ResultExt};
use crate::extract::{ApiJson, Id, ServiceAuth};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/flights/{id}", get(read).patch(update).delete(remove))
        .route("/flights/{id}/seats", get(seats))
        // GET /flights is the search, in `search.rs`.
        .route("/flights", axum::routing::post(create))
}

/// Longest scheduled flight we accept (the longest real one is under 19 h).
const MAX_DURATION_HOURS: i64 = 30;

#[derive(sqlx::FromRow)]
struct DetailsRow {
    id: i64,
    flight_number: String,
    status: String,
    gate: Option<String>,
    departure_time: DateTime<Utc>,
    arrival_time: DateTime<Utc>,
    duration_minutes: i32,
    currency: String,
    version: i64,
    origin_code: String,
    origin_name: String,
    origin_city: String,
    origin_time_zone: String,
    destination_code: String,
    destination_name: String,
    destination_city: String,
    destination_time_zone: String,
    airplane_id: i64,
    airplane_model: String,
    cabins: DbJson<Vec<CabinRow>>,
}

#[derive(Deserialize)]
struct CabinRow {
    cabin: String,
    fare_amount: i64,
    seats_total: i32,
    seats_available: i32,
}

pub async fn details(pool: &PgPool, id: i64) -> Result<FlightDetails> {
    let r = sqlx::query_as::<_, DetailsRow>(
        "select f.flight_id as id, f.flight_number, f.status, f.gate, f.departure_time,
                f.arrival_time, f.duration_minutes, f.currency, f.version,
                o.iata_code as origin_code, o.name as origin_name, oc.name as origin_city,
                o.time_zone as origin_time_zone,
                d.iata_code as destination_code, d.name as destination_name,
                dc.name as destination_city, d.time_zone as destination_time_zone,
                p.airplane_id, p.model as airplane_model,
                (select coalesce(jsonb_agg(jsonb_build_object(
                        'cabin', fc.cabin, 'fare_amount', fc.fare_amount,
                        'seats_total', fc.seats_total, 'seats_available', fc.seats_available)
                        order by fc.fare_amount), '[]')
                   from flight_cabin fc where fc.flight_id = f.flight_id) as cabins
           from flight f
           join airport o on o.airport_id = f.origin_airport_id
           join city oc on oc.city_id = o.city_id
           join airport d on d.airport_id = f.destination_airport_id
           join city dc on dc.city_id = d.city_id
           join airplane p on p.airplane_id = f.airplane_id
          where f.flight_id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or(Error::NotFound("flight"))?;
    let cabins: Vec<CabinView> = r
        .cabins
        .0
        .into_iter()
        .map(|c| CabinView {
            cabin: c.cabin,
            fare: Fare {
                amount: c.fare_amount,
                currency: r.currency.clone(),
            },
            seats_total: c.seats_total,
            seats_available: c.seats_available,
        })
        .collect();
    Ok(FlightDetails {
        id: r.id,
        flight_number: r.flight_number,
        status: r.status,
        gate: r.gate,
        origin: AirportRef {
            code: r.origin_code,
            name: r.origin_name,
            city: r.origin_city,
            time_zone: Some(r.origin_time_zone),
        },
        destination: AirportRef {
            code: r.destination_code,
            name: r.destination_name,
            city: r.destination_city,
            time_zone: Some(r.destination_time_zone),
        },
        departure_time: r.departure_time,
        arrival_time: r.arrival_time,
        duration_minutes: r.duration_minutes,
        airplane: AirplaneRef {
            id: r.airplane_id,
            model: r.airplane_model,
        },
        seats_available: cabins.iter().map(|c| c.seats_available).sum(),
        cabins,
        version: r.version,
    })
}

async fn read(State(state): State<AppState>, Id(id): Id) -> Result<Json<FlightDetails>> {
    details(&state.pool, id).await.map(Json)
}

fn duplicate_departure() -> Error {
    Error::conflict(
        "already_exists",
        "a flight with this number already departs at that time",
    )
}

fn check_times(dep: DateTime<Utc>, arr: DateTime<Utc>) -> Result<()> {
    if arr <= dep {
        return Err(Error::validation(
            "arrival_time",
            "must be after departure_time",
        ));
    }
    if arr - dep > Duration::hours(MAX_DURATION_HOURS) {
        return Err(Error::validation(
            "arrival_time",
            format!("a flight may last at most {MAX_DURATION_HOURS} hours"),
        ));
    }
    Ok(())
}

fn check_gate(gate: Option<String>) -> Result<Option<String>> {
    let gate = gate
        .map(|g| g.trim().to_ascii_uppercase())
        .filter(|g| !g.is_empty());
    if let Some(g) = &gate
        && (g.len() > 10 || !g.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return Err(Error::validation(
            "gate",
            "must be 1 to 10 letters or digits",
        ));
    }
    Ok(gate)
}

/// Parses cabin names and checks amounts, naming `fares.<cabin>` on error.
fn check_fares(fares: BTreeMap<String, i64>) -> Result<BTreeMap<Cabin, i64>> {
    let mut out = BTreeMap::new();
    for (name, amount) in fares {
        let cabin: Cabin = name.parse().map_err(|e: domain::ParseError| {
            Error::validation(format!("fares.{name}"), e.to_string())
        })?;
        if !(0..=100_000_000).contains(&amount) {
            return Err(Error::validation(
                format!("fares.{cabin}"),
                "must be between 0 and 100000000 minor units",
            ));
        }
        out.insert(cabin, amount);
    }
    Ok(out)
}

/// Creates a flight and its seats in one transaction. Used by the API and
/// by `seed`; the caller owns the transaction.
pub async fn insert_flight(
    conn: &mut PgConnection,
    input: FlightInput,
    now: DateTime<Utc>,
) -> Result<i64> {
    if input.departure_time <= now {
        return Err(Error::validation("departure_time", "must be in the future"));
    }
    check_times(input.departure_time, input.arrival_time)?;
    let fares = check_fares(input.fares)?;
    let gate = check_gate(input.gate)?;
    if input.origin == input.destination {
        return Err(Error::validation("destination", "must differ from origin"));
    }
    let airports: Vec<(i64, String, String)> = sqlx::query_as(
        "select airport_id, iata_code, time_zone from airport where iata_code = any($1)",
    )
    .bind([input.origin.as_str(), input.destination.as_str()])
    .fetch_all(&mut *conn)
    .await?;
    let find = |code: &IataCode, field: &'static str| {
        airports
            .iter()
            .find(|a| a.1 == code.as_str())
            .cloned()
            .ok_or_else(|| Error::validation(field, format!("unknown airport '{code}'")))
    };
    let origin = find(&input.origin, "origin")?;
    let destination = find(&input.destination, "destination")?;
    let seat_map: DbJson<SeatMap> =
        sqlx::query_scalar("select seat_map from airplane where airplane_id = $1")
            .bind(input.airplane_id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| Error::validation("airplane_id", "unknown airplane"))?;
    let seat_map = seat_map.0;
    let cabins = seat_map.cabins();
    for cabin in &cabins {
        if !fares.contains_key(cabin) {
            return Err(Error::validation(
                format!("fares.{cabin}"),
                "the airplane has this cabin, so it needs a fare",
            ));
        }
    }
    if let Some(extra) = fares.keys().find(|c| !cabins.contains(c)) {
        return Err(Error::validation(
            format!("fares.{extra}"),
            "the airplane has no such cabin",
        ));
    }
    let flight_id: i64 = sqlx::query_scalar(
        "insert into flight (flight_number, airplane_id, origin_airport_id, destination_airport_id,
                             departure_time, arrival_time, departure_local, currency, gate)
         values ($1, $2, $3, $4, $5, $6, $5 at time zone $7, $8, $9)
         returning flight_id",
    )
    .bind(input.flight_number.as_str())
    .bind(input.airplane_id)
    .bind(origin.0)
    .bind(destination.0)
    .bind(input.departure_time)
    .bind(input.arrival_time)
    .bind(&origin.2)
    .bind(input.currency.as_str())
    .bind(gate)
    .fetch_one(&mut *conn)
    .await
    .on_constraint("flight_number_departure_unique", duplicate_departure)?;

    let mut rows = CabinsAndSeats::default();
    rows.add(flight_id, &seat_map, |cabin| fares[&cabin]);
    rows.insert(&mut *conn).await?;
    Ok(flight_id)
}

/// The cabins and the seats of new flights, each expanded from its
/// airplane's seat map, as the columns of two bulk inserts. The API's
/// [`insert_flight`] adds one flight, `seed` a batch.
#[derive(Default)]
pub struct CabinsAndSeats {
    cabin_flight: Vec<i64>,
    cabin: Vec<&'static str>,
    fare: Vec<i64>,
    total: Vec<i32>,
    seat_flight: Vec<i64>,
    seat_number: Vec<String>,
    seat_row: Vec<i16>,
    seat_cabin: Vec<&'static str>,
}

impl CabinsAndSeats {
    /// Flight `flight_id`'s cabins, each at `fare(cabin)` with all its
    /// seats available, and its seats, from the airplane's `map`.
    pub fn add(&mut self, flight_id: i64, map: &SeatMap, fare: impl Fn(Cabin) -> i64) {
        let seats = map.seats();
        for cabin in map.cabins() {
            self.cabin_flight.push(flight_id);
            self.cabin.push(cabin.as_str());
            self.fare.push(fare(cabin));
            self.total
                .push(seats.iter().filter(|s| s.cabin == cabin).count() as i32);
        }
        for s in seats {
            self.seat_flight.push(flight_id);
            self.seat_number.push(s.seat_number.to_string());
            self.seat_row.push(s.row as i16);
            self.seat_cabin.push(s.cabin.as_str());
        }
    }

    /// Inserts what was added, cabins and seats in one statement (the
    /// seats' foreign key to their cabin is checked at its end); the caller
    /// owns the transaction.
    pub async fn insert(self, conn: &mut PgConnection) -> sqlx::Result<()> {
        sqlx::query(
            "with cabins as (
                 insert into flight_cabin (flight_id, cabin, fare_amount, seats_total, seats_available)
                 select * , t from unnest($1::bigint[], $2::text[], $3::bigint[], $4::int[]) as u(f, c, a, t))
             insert into seat (flight_id, seat_number, seat_row, cabin)
             select * from unnest($5::bigint[], $6::text[], $7::smallint[], $8::text[])",
        )
        .bind(&self.cabin_flight)
        .bind(&self.cabin)
        .bind(&self.fare)
        .bind(&self.total)
        .bind(&self.seat_flight)
        .bind(&self.seat_number)
        .bind(&self.seat_row)
        .bind(&self.seat_cabin)
        .execute(conn)
        .await?;
        Ok(())
    }
}

async fn create(
    _: ServiceAuth,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<FlightInput>,
) -> Result<(StatusCode, Json<FlightDetails>)> {
    let mut tx = state.pool.begin().await?;
    let id = insert_flight(&mut tx, input, Utc::now()).await?;
    tx.commit().await?;
    tracing::info!(flight_id = id, "flight created");
    Ok((StatusCode::CREATED, Json(details(&state.pool, id).await?)))
}

/// The longest `Idempotency-Key` a change may carry.
const MAX_CHANGE_KEY: usize = 200;

/// Changes a flight. With an `Idempotency-Key`, once: a request whose key
/// was applied already answers with the flight as it is now.
async fn update(
    _: ServiceAuth,
    State(state): State<AppState>,
    Id(id): Id,
    headers: axum::http::HeaderMap,
    ApiJson(patch): ApiJson<FlightPatch>,
) -> Result<Json<FlightDetails>> {
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= MAX_CHANGE_KEY)
                .ok_or_else(|| {
                    Error::validation(
                        "Idempotency-Key",
                        format!("must be 1 to {MAX_CHANGE_KEY} visible ASCII characters"),
                    )
                })?
                .to_owned(),
        ),
    };
    let fares = patch.fares.map(check_fares).transpose()?;
    let gate = patch.gate.map(check_gate).transpose()?;
    let mut tx = state.pool.begin().await?;
    let current: Option<(DateTime<Utc>, DateTime<Utc>, String)> = sqlx::query_as(
        "select departure_time, arrival_time, status from flight where flight_id = $1 for update",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let (dep, arr, status) = current.ok_or(Error::NotFound("flight"))?;
    if let Some(key) = &key {
        let applied: Option<i64> =
            sqlx::query_scalar("select flight_id from flight_change where change_key = $1")
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?;
        match applied {
            Some(flight) if flight == id => {
                tx.commit().await?;
                return Ok(Json(details(&state.pool, id).await?));
            }
            Some(_) => {
                return Err(Error::conflict(
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for another flight",
                ));
            }
            None => {}
        }
    }
    if status == "cancelled" && patch.status.is_some_and(|s| s != FlightStatus::Cancelled) {
        return Err(Error::conflict(
            "flight_cancelled",
            "a cancelled flight cannot be reinstated; create a new flight",
        ));
    }
    let new_dep = patch.departure_time.unwrap_or(dep);
    let new_arr = patch.arrival_time.unwrap_or(arr);
    check_times(new_dep, new_arr)?;
    sqlx::query(
        "update flight f set departure_time = $2, arrival_time = $3,
                departure_local = $2 at time zone o.time_zone,
                gate = case when $4 then $5 else f.gate end,
                status = coalesce($6, f.status), updated_at = now(),
                version = f.version + 1
           from airport o
          where f.flight_id = $1 and o.airport_id = f.origin_airport_id",
    )
    .bind(id)
    .bind(new_dep)
    .bind(new_arr)
    .bind(gate.is_some())
    .bind(gate.flatten())
    .bind(patch.status.map(FlightStatus::as_str))
    .execute(&mut *tx)
    .await
    .on_constraint("flight_number_departure_unique", duplicate_departure)?;
    if let Some(fares) = fares {
        for (cabin, amount) in fares {
            let n = sqlx::query(
                "update flight_cabin set fare_amount = $3 where flight_id = $1 and cabin = $2",
            )
            .bind(id)
            .bind(cabin.as_str())
            .bind(amount)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Err(Error::validation(
                    format!("fares.{cabin}"),
                    "the flight has no such cabin",
                ));
            }
        }
    }
    if let Some(key) = &key {
        sqlx::query(
            "insert into flight_change (change_key, flight_id, version)
             select $1, flight_id, version from flight where flight_id = $2",
        )
        .bind(key)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    tracing::info!(flight_id = id, "flight updated");
    Ok(Json(details(&state.pool, id).await?))
}

async fn remove(_: ServiceAuth, State(state): State<AppState>, Id(id): Id) -> Result<StatusCode> {
    let in_use = "the flight has bookings; cancel it (status cancelled) instead";
    delete_by_id(&state.pool, "flight", id, &["seat_hold_flight_fk"], in_use).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn seats(State(state): State<AppState>, Id(id): Id) -> Result<Json<FlightSeats>> {
    let rows: Vec<(String, String, String, i64, String)> = sqlx::query_as(
        "select s.seat_number, s.cabin, s.status, fc.fare_amount, f.currency
           from seat s
           join flight_cabin fc on fc.flight_id = s.flight_id and fc.cabin = s.cabin
           join flight f on f.flight_id = s.flight_id
          where s.flight_id = $1
          order by s.seat_row, s.seat_number",
    )
    .bind(id)
    .fetch_all(&state.pool)
    .await?;
    if rows.is_empty() {
        // A flight always has seats; none means no such flight.
        return Err(Error::NotFound("flight"));
    }
    Ok(Json(FlightSeats {
        flight_id: id,
        seats: rows
            .into_iter()
            .map(
                |(seat_number, cabin, status, amount, currency)| FlightSeat {
                    seat_number,
                    cabin,
                    status,
                    fare: Fare { amount, currency },
                },
            )
            .collect(),
    }))
}
