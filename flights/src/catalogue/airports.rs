//! Airports: list with code/name/city prefix lookup, create, read, replace,
//! delete. A time-zone change re-derives the local departure of its flights.

use domain::IataCode;
pub use flights_api::catalogue::{Airport, AirportInput, CityRef};

use super::{Paged, Resource, clean_name, delete_by_id, fetch_by_id, fetch_page, prefix_param};
use crate::error::{Error, Result, ResultExt};
use crate::extract::{Page, Params};
use crate::state::AppState;

struct ValidAirport {
    iata_code: IataCode,
    name: String,
    city_id: i64,
    time_zone: chrono_tz::Tz,
}

/// Also checks that the database knows the zone: flights' local times
/// are computed there.
async fn validate(input: AirportInput, state: &AppState) -> Result<ValidAirport> {
    let time_zone: chrono_tz::Tz = input.time_zone.trim().parse().map_err(|_| {
        Error::validation(
            "time_zone",
            format!(
                "'{}' is not an IANA time zone such as Europe/Paris",
                input.time_zone
            ),
        )
    })?;
    let known: bool =
        sqlx::query_scalar("select exists (select 1 from pg_timezone_names where name = $1)")
            .bind(time_zone.name())
            .fetch_one(&state.pool)
            .await?;
    if !known {
        return Err(Error::validation(
            "time_zone",
            format!(
                "'{}' is not a time zone this database knows",
                time_zone.name()
            ),
        ));
    }
    if input.city_id <= 0 {
        return Err(Error::validation("city_id", "unknown city"));
    }
    Ok(ValidAirport {
        iata_code: input.iata_code,
        name: clean_name("name", &input.name, 200)?,
        city_id: input.city_id,
        time_zone,
    })
}

const SELECT: &str = "select a.airport_id as id, a.iata_code, a.name, a.time_zone,
        c.city_id, c.name as city_name, c.country_code, a.created_at, a.updated_at
    from airport a join city c using (city_id)";

async fn fetch(state: &AppState, id: i64) -> Result<Airport> {
    let sql = format!("{SELECT} where a.airport_id = $1");
    fetch_by_id(&state.pool, &sql, id, "airport").await
}

fn unknown_city() -> Error {
    Error::validation("city_id", "unknown city")
}

fn duplicate_code() -> Error {
    Error::conflict("already_exists", "an airport with this IATA code exists")
}

impl Resource for Airport {
    type Input = AirportInput;

    async fn list(state: &AppState, params: &Params, page: Page) -> Result<Paged<Airport>> {
        let q = prefix_param(params)?;
        let sql = format!(
            "select x.*, count(*) over () as total from ({SELECT}
            where $1::text is null or lower(a.iata_code) like $1
               or lower(a.name) like $1 or lower(c.name) like $1) x
         order by (lower(x.iata_code) || '%' = $1) desc, x.iata_code
         limit $2 offset $3"
        );
        fetch_page(sqlx::query_as(&sql).bind(q), page, &state.pool).await
    }

    async fn create(state: &AppState, input: AirportInput) -> Result<Airport> {
        let a = validate(input, state).await?;
        let id: i64 = sqlx::query_scalar(
            "insert into airport (iata_code, name, city_id, time_zone) values ($1, $2, $3, $4)
         returning airport_id",
        )
        .bind(a.iata_code.as_str())
        .bind(&a.name)
        .bind(a.city_id)
        .bind(a.time_zone.name())
        .fetch_one(&state.pool)
        .await
        .on_constraint("airport_iata_code_unique", duplicate_code)
        .on_constraint("airport_city_fk", unknown_city)?;
        state.airports.refresh(&state.pool).await?;
        fetch(state, id).await
    }

    async fn read(state: &AppState, id: i64) -> Result<Airport> {
        fetch(state, id).await
    }

    async fn replace(state: &AppState, id: i64, input: AirportInput) -> Result<Airport> {
        let a = validate(input, state).await?;
        let mut tx = state.pool.begin().await?;
        let updated = sqlx::query(
            "update airport set iata_code = $2, name = $3, city_id = $4, time_zone = $5,
             updated_at = now()
         where airport_id = $1",
        )
        .bind(id)
        .bind(a.iata_code.as_str())
        .bind(&a.name)
        .bind(a.city_id)
        .bind(a.time_zone.name())
        .execute(&mut *tx)
        .await
        .on_constraint("airport_iata_code_unique", duplicate_code)
        .on_constraint("airport_city_fk", unknown_city)?
        .rows_affected();
        if updated == 0 {
            return Err(Error::NotFound("airport"));
        }
        sqlx::query(
            "update flight set departure_local = departure_time at time zone $2
         where origin_airport_id = $1 and departure_local <> departure_time at time zone $2",
        )
        .bind(id)
        .bind(a.time_zone.name())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        state.airports.refresh(&state.pool).await?;
        fetch(state, id).await
    }

    async fn remove(state: &AppState, id: i64) -> Result<()> {
        let references = ["flight_origin_fk", "flight_destination_fk"];
        let in_use = "flights still use this airport";
        delete_by_id(&state.pool, "airport", id, &references, in_use).await?;
        state.airports.refresh(&state.pool).await?;
        Ok(())
    }
}
