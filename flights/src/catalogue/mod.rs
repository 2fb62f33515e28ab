//! The catalogue: cities, airports, airplanes and flights (CRUD).

pub mod airplanes;
pub mod airports;
pub mod cities;
pub mod directory;
pub mod flights;
pub mod seat_map;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
pub use flights_api::catalogue::Paged;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::QueryAs;
use sqlx::{FromRow, PgPool, Postgres};

use crate::error::{Error, Result, ResultExt};
use crate::extract::{ApiJson, Id, Page, Params, ServiceAuth};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(routes::<cities::City>("/cities"))
        .merge(routes::<airports::Airport>("/airports"))
        .merge(routes::<airplanes::Airplane>("/airplanes"))
        .merge(flights::router())
}

/// A catalogue resource (city, airport, airplane) and its five routes
/// ([`routes`]): its collection lists and creates, each one is read,
/// replaced and deleted by id. Writes need the service token.
pub trait Resource: Serialize + Sized + Send + 'static {
    /// The body of a create or a replace.
    type Input: DeserializeOwned + Send + 'static;

    /// One `page` of the list (with the `q` lookup of `params`, where the
    /// resource has one).
    fn list(
        state: &AppState,
        params: &Params,
        page: Page,
    ) -> impl Future<Output = Result<Paged<Self>>> + Send;

    /// Validates `input` and creates the resource.
    fn create(state: &AppState, input: Self::Input) -> impl Future<Output = Result<Self>> + Send;

    /// The resource `id`, or `NotFound`.
    fn read(state: &AppState, id: i64) -> impl Future<Output = Result<Self>> + Send;

    /// Validates `input` and writes it over resource `id`, or `NotFound`.
    fn replace(
        state: &AppState,
        id: i64,
        input: Self::Input,
    ) -> impl Future<Output = Result<Self>> + Send;

    /// Deletes resource `id`: `NotFound`, or an `in_use` conflict while
    /// others refer to it.
    fn remove(state: &AppState, id: i64) -> impl Future<Output = Result<()>> + Send;
}

/// `path` (`GET` lists 20 a page, `POST` creates) and `path/{id}` (`GET`,
/// `PUT`, `DELETE`) for resource `R`.
fn routes<R: Resource>(path: &str) -> Router<AppState> {
    Router::new()
        .route(path, get(list::<R>).post(create::<R>))
        .route(
            &format!("{path}/{{id}}"),
            get(read::<R>).put(replace::<R>).delete(remove::<R>),
        )
}

async fn list<R: Resource>(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<Paged<R>>> {
    let page = Page::from_params(&params, 20)?;
    R::list(&state, &params, page).await.map(Json)
}

async fn create<R: Resource>(
    _: ServiceAuth,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<R::Input>,
) -> Result<(StatusCode, Json<R>)> {
    let created = R::create(&state, input).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn read<R: Resource>(State(state): State<AppState>, Id(id): Id) -> Result<Json<R>> {
    R::read(&state, id).await.map(Json)
}

async fn replace<R: Resource>(
    _: ServiceAuth,
    State(state): State<AppState>,
    Id(id): Id,
    ApiJson(input): ApiJson<R::Input>,
) -> Result<Json<R>> {
    R::replace(&state, id, input).await.map(Json)
}

async fn remove<R: Resource>(
    _: ServiceAuth,
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<StatusCode> {
    R::remove(&state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One page of a list.
pub fn paged<T>(items: Vec<T>, page: Page, total: i64) -> Paged<T> {
    Paged {
        items,
        page: page.page,
        per_page: page.per_page,
        total,
    }
}

/// A listed row and the number of rows the list has in all, which the
/// query counts with `count(*) over () as total`.
#[derive(sqlx::FromRow)]
pub struct WithTotal<T> {
    #[sqlx(flatten)]
    item: T,
    total: i64,
}

/// Runs a list query whose last two parameters are the page's limit and
/// offset, and returns that page with the total the query counted.
pub async fn fetch_page<T>(
    query: QueryAs<'_, Postgres, WithTotal<T>, PgArguments>,
    page: Page,
    pool: &PgPool,
) -> Result<Paged<T>>
where
    T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    let rows = query
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(pool)
        .await?;
    let total = rows.first().map_or(0, |r| r.total);
    Ok(paged(
        rows.into_iter().map(|r| r.item).collect(),
        page,
        total,
    ))
}

/// The row `sql` selects by `id` (its `$1`), or `NotFound(what)`.
pub async fn fetch_by_id<T>(pool: &PgPool, sql: &str, id: i64, what: &'static str) -> Result<T>
where
    T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    sqlx::query_as(sql)
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or(Error::NotFound(what))
}

/// Deletes row `id` of `table` (keyed by `<table>_id`): `NotFound(table)`
/// when there is none, an `in_use` conflict saying `in_use` when one of the
/// foreign keys `references` still points at it.
pub async fn delete_by_id(
    pool: &PgPool,
    table: &'static str,
    id: i64,
    references: &[&str],
    in_use: &'static str,
) -> Result<()> {
    let mut result = sqlx::query(&format!("delete from {table} where {table}_id = $1"))
        .bind(id)
        .execute(pool)
        .await
        .map_err(Error::from);
    for name in references {
        result = result.on_constraint(name, || Error::conflict("in_use", in_use));
    }
    if result?.rows_affected() == 0 {
        return Err(Error::NotFound(table));
    }
    Ok(())
}

/// The `q` lookup parameter as a LIKE pattern matching it as a literal prefix.
pub fn prefix_param(params: &crate::extract::Params) -> Result<Option<String>> {
    let Some(q) = params.str("q") else {
        return Ok(None);
    };
    if q.chars().count() > 100 || q.chars().any(char::is_control) {
        return Err(Error::invalid_param(
            "q",
            "must be at most 100 printable characters",
        ));
    }
    Ok(Some(like_prefix(q)))
}

/// Escapes LIKE wildcards so `q` is matched as a literal prefix.
fn like_prefix(q: &str) -> String {
    let mut out = String::with_capacity(q.len() + 1);
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out.to_lowercase()
}

/// A trimmed, non-empty name of bounded length.
pub fn clean_name(field: &'static str, raw: &str, max: usize) -> Result<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > max || name.chars().any(char::is_control) {
        return Err(Error::validation(
            field,
            format!("must be 1 to {max} printable characters"),
        ));
    }
    Ok(name.to_owned())
}
