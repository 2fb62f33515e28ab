//! Airplanes and their seat maps. A flight copies the map into its own seats
//! when it is created, so changing a map only affects later flights.

pub use flights_api::catalogue::{Airplane, AirplaneInput};
use sqlx::types::Json as DbJson;

use super::seat_map::{SeatMap, SeatMapRules};
use super::{Paged, Resource, clean_name, delete_by_id, fetch_by_id, fetch_page};
use crate::error::{Error, Result};
use crate::extract::{Page, Params};
use crate::state::AppState;

fn validate(input: AirplaneInput) -> Result<(String, SeatMap)> {
    let model = clean_name("model", &input.model, 100)?;
    input.seat_map.validate("seat_map")?;
    Ok((model, input.seat_map))
}

const COLUMNS: &str = "airplane_id as id, model, seat_map, seat_count, created_at, updated_at";

impl Resource for Airplane {
    type Input = AirplaneInput;

    async fn list(state: &AppState, _: &Params, page: Page) -> Result<Paged<Airplane>> {
        let sql = format!(
            "select {COLUMNS}, count(*) over () as total from airplane
         order by model, airplane_id limit $1 offset $2"
        );
        fetch_page(sqlx::query_as(&sql), page, &state.pool).await
    }

    async fn create(state: &AppState, input: AirplaneInput) -> Result<Airplane> {
        let (model, map) = validate(input)?;
        let count = map.seat_count() as i32;
        let plane = sqlx::query_as::<_, Airplane>(&format!(
            "insert into airplane (model, seat_map, seat_count) values ($1, $2, $3) returning {COLUMNS}"
        ))
        .bind(model)
        .bind(DbJson(map))
        .bind(count)
        .fetch_one(&state.pool)
        .await?;
        Ok(plane)
    }

    async fn read(state: &AppState, id: i64) -> Result<Airplane> {
        let sql = format!("select {COLUMNS} from airplane where airplane_id = $1");
        fetch_by_id(&state.pool, &sql, id, "airplane").await
    }

    async fn replace(state: &AppState, id: i64, input: AirplaneInput) -> Result<Airplane> {
        let (model, map) = validate(input)?;
        let count = map.seat_count() as i32;
        sqlx::query_as::<_, Airplane>(&format!(
            "update airplane set model = $2, seat_map = $3, seat_count = $4, updated_at = now()
         where airplane_id = $1 returning {COLUMNS}"
        ))
        .bind(id)
        .bind(model)
        .bind(DbJson(map))
        .bind(count)
        .fetch_optional(&state.pool)
        .await?
        .ok_or(Error::NotFound("airplane"))
    }

    async fn remove(state: &AppState, id: i64) -> Result<()> {
        let in_use = "flights still use this airplane";
        delete_by_id(&state.pool, "airplane", id, &["flight_airplane_fk"], in_use).await
    }
}
