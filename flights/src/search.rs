//! Flight search: `GET /api/v1/flights`.
//!
//! The SQL is assembled from the filters actually given, so each combination
//! gets its own prepared statement and a plan that uses the route index.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use domain::{Cabin, IataCode};
pub use flights_api::catalogue::SearchResult;
use sqlx::{Postgres, QueryBuilder};

use crate::catalogue::directory::AirportInfo;
use crate::catalogue::flights::{AirportRef, Fare};
use crate::catalogue::{Paged, paged};
use crate::error::{Error, Result};
use crate::extract::{Page, Params};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/flights", get(search))
}

const MAX_TRAVELLERS: i32 = 9;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Price,
    DepartureTime,
    Duration,
}

impl SortKey {
    fn column(self) -> &'static str {
        match self {
            SortKey::Price => "fc.fare_amount",
            SortKey::DepartureTime => "f.departure_time",
            SortKey::Duration => "f.duration_minutes",
        }
    }
}

#[derive(Debug)]
struct Criteria {
    from: Option<IataCode>,
    to: Option<IataCode>,
    /// Airport ids of `from` and `to`, resolved through the directory.
    from_id: Option<i64>,
    to_id: Option<i64>,
    date: Option<NaiveDate>,
    travellers: i32,
    min_price: Option<i64>,
    max_price: Option<i64>,
    departs_after: Option<NaiveTime>,
    departs_before: Option<NaiveTime>,
    cabin: Option<Cabin>,
    sort: Vec<(SortKey, bool)>,
    page: Page,
}

fn parse_time(raw: &str) -> std::result::Result<NaiveTime, String> {
    NaiveTime::parse_from_str(raw, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(raw, "%H:%M:%S"))
        .map_err(|_| format!("'{raw}' is not a time of day (HH:MM)"))
}

fn parse_sort(raw: &str) -> std::result::Result<Vec<(SortKey, bool)>, String> {
    let mut keys: Vec<(SortKey, bool)> = Vec::new();
    for part in raw.split(',').map(str::trim) {
        let (name, desc) = match part.strip_prefix('-') {
            Some(n) => (n, true),
            None => (part, false),
        };
        let key = match name {
            "price" => SortKey::Price,
            "departure_time" => SortKey::DepartureTime,
            "duration" => SortKey::Duration,
            other => {
                return Err(format!(
                    "unknown sort key '{other}' (use price, departure_time, duration, each optionally prefixed with -)"
                ));
            }
        };
        if keys.iter().any(|(k, _)| *k == key) {
            return Err(format!("sort key '{name}' given twice"));
        }
        keys.push((key, desc));
    }
    Ok(keys)
}

impl Criteria {
    fn from_params(p: &Params) -> Result<Self> {
        let from = p.parse_with("from", IataCode::parse)?;
        let to = p.parse_with("to", IataCode::parse)?;
        if from.is_some() && from == to {
            return Err(Error::invalid_param("to", "must differ from 'from'"));
        }
        let date = p.parse_with("date", |raw| {
            NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .map_err(|_| format!("'{raw}' is not a date (YYYY-MM-DD)"))
        })?;
        let travellers = p
            .parse::<i32>("travellers", "a number of travellers")?
            .unwrap_or(1);
        if !(1..=MAX_TRAVELLERS).contains(&travellers) {
            return Err(Error::invalid_param(
                "travellers",
                format!("must be between 1 and {MAX_TRAVELLERS}"),
            ));
        }
        let min_price = p.parse::<i64>("min_price", "an amount in minor units")?;
        let max_price = p.parse::<i64>("max_price", "an amount in minor units")?;
        for (name, v) in [("min_price", min_price), ("max_price", max_price)] {
            if v.is_some_and(|v| v < 0) {
                return Err(Error::invalid_param(name, "must not be negative"));
            }
        }
        if let (Some(lo), Some(hi)) = (min_price, max_price)
            && lo > hi
        {
            return Err(Error::invalid_param(
                "max_price",
                "must not be below min_price",
            ));
        }
        let departs_after = p.parse_with("departs_after", parse_time)?;
        let departs_before = p.parse_with("departs_before", parse_time)?;
        if let (Some(a), Some(b)) = (departs_after, departs_before)
            && a > b
        {
            return Err(Error::invalid_param(
                "departs_before",
                "must not be before departs_after",
            ));
        }
        let cabin = p.parse_with("cabin", |raw| raw.parse::<Cabin>())?;
        let sort = p
            .parse_with("sort", parse_sort)?
            .unwrap_or_else(|| vec![(SortKey::DepartureTime, false)]);
        let page = Page::from_params(p, 20)?;
        Ok(Criteria {
            from,
            to,
            from_id: None,
            to_id: None,
            date,
            travellers,
            min_price,
            max_price,
            departs_after,
            departs_before,
            cabin,
            sort,
            page,
        })
    }

    /// The page of matching flights, or (`count`) how many match in all.
    fn query(&self, count: bool) -> QueryBuilder<'_, Postgres> {
        let by_price = self.min_price.is_some() || self.max_price.is_some();
        let mut q;
        if count && !by_price {
            // Counting needs no fares: "has a cabin with room" is enough,
            // and several times cheaper than the per-flight aggregate.
            q = QueryBuilder::new(
                "select count(*) from flight f
                  where exists (select 1 from flight_cabin c where c.flight_id = f.flight_id
                                   and c.seats_available >= ",
            );
            q.push_bind(self.travellers);
            if let Some(cabin) = self.cabin {
                q.push(" and c.cabin = ").push_bind(cabin.as_str());
            }
            q.push(")");
        } else {
            q = QueryBuilder::new(if count {
                "select count(*) from flight f join lateral (
                   select min(c.fare_amount) filter (where c.seats_available >= "
            } else {
                "select f.flight_id, f.flight_number, f.status, f.departure_time, f.arrival_time,
                    f.duration_minutes, f.currency, f.origin_airport_id, f.destination_airport_id,
                    fc.fare_amount, fc.seats_available
               from flight f
               join lateral (
                   select min(c.fare_amount) filter (where c.seats_available >= "
            });
            q.push_bind(self.travellers);
            q.push(
                ") as fare_amount, sum(c.seats_available)::int as seats_available
                   from flight_cabin c where c.flight_id = f.flight_id",
            );
            if let Some(cabin) = self.cabin {
                q.push(" and c.cabin = ").push_bind(cabin.as_str());
            }
            q.push(") fc on fc.fare_amount is not null where true");
        }
        q.push(" and f.status <> 'cancelled' and f.departure_time > now()");
        if let Some(id) = self.from_id {
            q.push(" and f.origin_airport_id = ").push_bind(id);
        }
        if let Some(id) = self.to_id {
            q.push(" and f.destination_airport_id = ").push_bind(id);
        }
        if let Some(date) = self.date {
            let start = date.and_time(NaiveTime::MIN);
            q.push(" and f.departure_local >= ").push_bind(start);
            q.push(" and f.departure_local < ")
                .push_bind(start + chrono::Duration::days(1));
        }
        if let Some(t) = self.departs_after {
            q.push(" and f.departure_local::time >= ").push_bind(t);
        }
        if let Some(t) = self.departs_before {
            q.push(" and f.departure_local::time <= ").push_bind(t);
        }
        if let Some(v) = self.min_price {
            q.push(" and fc.fare_amount >= ").push_bind(v);
        }
        if let Some(v) = self.max_price {
            q.push(" and fc.fare_amount <= ").push_bind(v);
        }
        if count {
            return q;
        }
        q.push(" order by ");
        for (key, desc) in &self.sort {
            q.push(key.column())
                .push(if *desc { " desc, " } else { " asc, " });
        }
        q.push("f.flight_id limit ").push_bind(self.page.limit());
        q.push(" offset ").push_bind(self.page.offset());
        q
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    flight_id: i64,
    flight_number: String,
    status: String,
    departure_time: DateTime<Utc>,
    arrival_time: DateTime<Utc>,
    duration_minutes: i32,
    currency: String,
    origin_airport_id: i64,
    destination_airport_id: i64,
    fare_amount: i64,
    seats_available: i32,
}

fn airport_ref(a: &AirportInfo) -> AirportRef {
    AirportRef {
        code: a.code.clone(),
        name: a.name.clone(),
        city: a.city.clone(),
        time_zone: Some(a.time_zone.clone()),
    }
}

/// The airport id of a code, from the directory; a code the directory does
/// not know yet (created through another instance) is looked up once.
async fn resolve(state: &AppState, field: &'static str, code: &IataCode) -> Result<i64> {
    if let Some(a) = state.airports.by_code(code.as_str()) {
        return Ok(a.id);
    }
    let id: Option<i64> = sqlx::query_scalar("select airport_id from airport where iata_code = $1")
        .bind(code.as_str())
        .fetch_optional(&state.pool)
        .await?;
    match id {
        Some(id) => {
            state.airports.refresh(&state.pool).await?;
            Ok(id)
        }
        None => Err(Error::invalid_param(
            field,
            format!("unknown airport '{code}'"),
        )),
    }
}

async fn airport(state: &AppState, id: i64) -> Result<AirportRef> {
    if let Some(a) = state.airports.by_id(id) {
        return Ok(airport_ref(&a));
    }
    state.airports.refresh(&state.pool).await?;
    state
        .airports
        .by_id(id)
        .map(|a| airport_ref(&a))
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("airport {id} of a flight is missing")))
}

async fn search(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<Paged<SearchResult>>> {
    let mut criteria = Criteria::from_params(&params)?;
    if let Some(code) = &criteria.from {
        criteria.from_id = Some(resolve(&state, "from", code).await?);
    }
    if let Some(code) = &criteria.to {
        criteria.to_id = Some(resolve(&state, "to", code).await?);
    }
    let rows: Vec<Row> = criteria
        .query(false)
        .build_query_as()
        .fetch_all(&state.pool)
        .await?;
    // A page that is not full ends the list, so it tells the total; only a
    // full page or an empty page past the first needs counting.
    let page = criteria.page;
    let total = if (rows.len() as i64) < page.limit() && (!rows.is_empty() || page.page == 1) {
        page.offset() + rows.len() as i64
    } else {
        criteria
            .query(true)
            .build_query_scalar::<i64>()
            .fetch_one(&state.pool)
            .await?
    };
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        items.push(SearchResult {
            id: r.flight_id,
            flight_number: r.flight_number,
            origin: airport(&state, r.origin_airport_id).await?,
            destination: airport(&state, r.destination_airport_id).await?,
            departure_time: r.departure_time,
            arrival_time: r.arrival_time,
            duration_minutes: r.duration_minutes,
            fare: Fare {
                amount: r.fare_amount,
                currency: r.currency,
            },
            seats_available: r.seats_available,
            status: r.status,
        });
    }
    Ok(Json(paged(items, criteria.page, total)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_accepts_descending_and_lists() {
        let keys = parse_sort("price,-departure_time").unwrap();
        assert_eq!(
            keys,
            [(SortKey::Price, false), (SortKey::DepartureTime, true)]
        );
    }

    #[test]
    fn sort_rejects_unknown_and_repeated_keys() {
        assert!(parse_sort("name").is_err());
        assert!(parse_sort("price,-price").is_err());
        assert!(parse_sort("").is_err());
    }
}
