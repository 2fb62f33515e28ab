//! Cities: list with prefix lookup, create, read, replace, delete.

pub use flights_api::catalogue::{City, CityInput};

use super::{Paged, Resource, clean_name, delete_by_id, fetch_by_id, fetch_page, prefix_param};
use crate::error::{Error, Result, ResultExt};
use crate::extract::{Page, Params};
use crate::state::AppState;

struct ValidCity {
    name: String,
    country_code: String,
}

fn validate(input: CityInput) -> Result<ValidCity> {
    let name = clean_name("name", &input.name, 100)?;
    let cc = input.country_code.trim().to_ascii_uppercase();
    if cc.len() != 2 || !cc.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(Error::validation(
            "country_code",
            "must be an ISO 3166-1 alpha-2 code such as FR",
        ));
    }
    Ok(ValidCity {
        name,
        country_code: cc,
    })
}

const COLUMNS: &str = "city_id as id, name, country_code, created_at, updated_at";

fn duplicate_city() -> Error {
    Error::conflict(
        "already_exists",
        "a city with this name exists in that country",
    )
}

impl Resource for City {
    type Input = CityInput;

    async fn list(state: &AppState, params: &Params, page: Page) -> Result<Paged<City>> {
        let q = prefix_param(params)?;
        let sql = format!(
            "select {COLUMNS}, count(*) over () as total from city
         where $1::text is null or lower(name) like $1
         order by name, city_id limit $2 offset $3"
        );
        fetch_page(sqlx::query_as(&sql).bind(q), page, &state.pool).await
    }

    async fn create(state: &AppState, input: CityInput) -> Result<City> {
        let c = validate(input)?;
        sqlx::query_as::<_, City>(&format!(
            "insert into city (name, country_code) values ($1, $2) returning {COLUMNS}"
        ))
        .bind(&c.name)
        .bind(&c.country_code)
        .fetch_one(&state.pool)
        .await
        .on_constraint("city_name_country_unique", duplicate_city)
    }

    async fn read(state: &AppState, id: i64) -> Result<City> {
        let sql = format!("select {COLUMNS} from city where city_id = $1");
        fetch_by_id(&state.pool, &sql, id, "city").await
    }

    async fn replace(state: &AppState, id: i64, input: CityInput) -> Result<City> {
        let c = validate(input)?;
        let city = sqlx::query_as::<_, City>(&format!(
            "update city set name = $2, country_code = $3, updated_at = now()
         where city_id = $1 returning {COLUMNS}"
        ))
        .bind(id)
        .bind(&c.name)
        .bind(&c.country_code)
        .fetch_optional(&state.pool)
        .await
        .on_constraint("city_name_country_unique", duplicate_city)?
        .ok_or(Error::NotFound("city"))?;
        // Search names airports' cities from memory.
        state.airports.refresh(&state.pool).await?;
        Ok(city)
    }

    async fn remove(state: &AppState, id: i64) -> Result<()> {
        let in_use = "the city still has airports";
        delete_by_id(&state.pool, "city", id, &["airport_city_fk"], in_use).await
    }
}
