//! Airplanes and their seat maps. A flight copies the map into its own seats
//! when it is created, so changing a map only affects later flights.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
pub use flights_api::catalogue::{Airplane, AirplaneInput};
use sqlx::types::Json as DbJson;

use super::seat_map::{SeatMap, SeatMapRules};
use super::{Paged, clean_name, delete_by_id, fetch_by_id, fetch_page};
use crate::app::AppState;
use crate::error::{Error, Result};
use crate::extract::{ApiJson, Id, Page, Params, ServiceAuth};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/airplanes", get(list).post(create))
        .route("/airplanes/{id}", get(read).put(replace).delete(remove))
}

fn validate(input: AirplaneInput) -> Result<(String, SeatMap)> {
    let model = clean_name("model", &input.model, 100)?;
    input.seat_map.validate("seat_map")?;
    Ok((model, input.seat_map))
}

const COLUMNS: &str = "airplane_id as id, model, seat_map, seat_count, created_at, updated_at";

async fn list(State(state): State<AppState>, params: Params) -> Result<Json<Paged<Airplane>>> {
    let page = Page::from_params(&params, 20)?;
    let sql = format!(
        "select {COLUMNS}, count(*) over () as total from airplane
         order by model, airplane_id limit $1 offset $2"
    );
    fetch_page(sqlx::query_as(&sql), page, &state.pool)
        .await
        .map(Json)
}

async fn create(
    _: ServiceAuth,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<AirplaneInput>,
) -> Result<(StatusCode, Json<Airplane>)> {
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
    Ok((StatusCode::CREATED, Json(plane)))
}

async fn read(State(state): State<AppState>, Id(id): Id) -> Result<Json<Airplane>> {
    let sql = format!("select {COLUMNS} from airplane where airplane_id = $1");
    fetch_by_id(&state.pool, &sql, id, "airplane")
        .await
        .map(Json)
}

async fn replace(
    _: ServiceAuth,
    State(state): State<AppState>,
    Id(id): Id,
    ApiJson(input): ApiJson<AirplaneInput>,
) -> Result<Json<Airplane>> {
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
    .map(Json)
    .ok_or(Error::NotFound("airplane"))
}

async fn remove(_: ServiceAuth, State(state): State<AppState>, Id(id): Id) -> Result<StatusCode> {
    let in_use = "flights still use this airplane";
    delete_by_id(&state.pool, "airplane", id, &["flight_airplane_fk"], in_use).await?;
    Ok(StatusCode::NO_CONTENT)
}
