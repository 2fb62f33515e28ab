//! Flight search: `GET /api/v1/flights`.
//!
//! The SQL is assembled from the filters actually given, so each combination
//! gets its own prepared statement and a plan that uses the route index.

use airline_domain::{Cabin, IataCode};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Serialize;
use sqlx::{Postgres, QueryBuilder};

use crate::app::AppState;
use crate::catalogue::Paged;
use crate::catalogue::flights::{AirportRef, Fare};
use crate::error::{Error, Result};
use crate::extract::{Page, Params};

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

#[derive(Debug, Clone)]
struct Criteria {
    from: Option<IataCode>,
    to: Option<IataCode>,
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

    fn query(&self) -> QueryBuilder<'_, Postgres> {
        let mut q = QueryBuilder::new(
            "select f.flight_id, f.flight_number, f.status, f.departure_time, f.arrival_time,
                    f.duration_minutes, f.currency,
                    o.iata_code as origin_code, o.name as origin_name, oc.name as origin_city,
                    d.iata_code as destination_code, d.name as destination_name,
                    dc.name as destination_city,
                    fc.fare_amount, fc.seats_available, count(*) over () as total
               from flight f
               join airport o on o.airport_id = f.origin_airport_id
               join airport d on d.airport_id = f.destination_airport_id
               join city oc on oc.city_id = o.city_id
               join city dc on dc.city_id = d.city_id
               join lateral (
                   select min(c.fare_amount) filter (where c.seats_available >= ",
        );
        q.push_bind(self.travellers);
        q.push(
            ") as fare_amount, sum(c.seats_available)::int as seats_available
                   from flight_cabin c where c.flight_id = f.flight_id",
        );
        if let Some(cabin) = self.cabin {
            q.push(" and c.cabin = ").push_bind(cabin.as_str());
        }
        q.push(
            ") fc on fc.fare_amount is not null
              where f.status <> 'cancelled' and f.departure_time > now()",
        );
        if let Some(from) = &self.from {
            q.push(" and o.iata_code = ").push_bind(from.as_str());
        }
        if let Some(to) = &self.to {
            q.push(" and d.iata_code = ").push_bind(to.as_str());
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
    origin_code: String,
    origin_name: String,
    origin_city: String,
    destination_code: String,
    destination_name: String,
    destination_city: String,
    fare_amount: i64,
    seats_available: i32,
    total: i64,
}

#[derive(Serialize)]
struct Item {
    id: i64,
    flight_number: String,
    origin: AirportRef,
    destination: AirportRef,
    departure_time: DateTime<Utc>,
    arrival_time: DateTime<Utc>,
    duration_minutes: i32,
    fare: Fare,
    seats_available: i32,
    status: String,
}

impl From<Row> for Item {
    fn from(r: Row) -> Self {
        Item {
            id: r.flight_id,
            flight_number: r.flight_number,
            origin: AirportRef {
                code: r.origin_code,
                name: r.origin_name,
                city: r.origin_city,
            },
            destination: AirportRef {
                code: r.destination_code,
                name: r.destination_name,
                city: r.destination_city,
            },
            departure_time: r.departure_time,
            arrival_time: r.arrival_time,
            duration_minutes: r.duration_minutes,
            fare: Fare {
                amount: r.fare_amount,
                currency: r.currency,
            },
            seats_available: r.seats_available,
            status: r.status,
        }
    }
}

async fn search(State(state): State<AppState>, params: Params) -> Result<Json<Paged<Item>>> {
    let criteria = Criteria::from_params(&params)?;
    let rows: Vec<Row> = criteria
        .query()
        .build_query_as()
        .fetch_all(&state.pool)
        .await?;
    if rows.is_empty() {
        // Only an empty answer pays for telling "no flights" from "no such airport".
        for (name, code) in [("from", &criteria.from), ("to", &criteria.to)] {
            if let Some(code) = code {
                let known: bool = sqlx::query_scalar(
                    "select exists (select 1 from airport where iata_code = $1)",
                )
                .bind(code.as_str())
                .fetch_one(&state.pool)
                .await?;
                if !known {
                    return Err(Error::invalid_param(
                        name,
                        format!("unknown airport '{code}'"),
                    ));
                }
            }
        }
    }
    let total = match rows.first() {
        Some(r) => r.total,
        // Past the last page: count with a one-row probe of the first page.
        None if criteria.page.page > 1 => {
            let mut probe = criteria.clone();
            probe.page = Page {
                page: 1,
                per_page: 1,
            };
            let first: Option<Row> = probe
                .query()
                .build_query_as()
                .fetch_optional(&state.pool)
                .await?;
            first.map_or(0, |r| r.total)
        }
        None => 0,
    };
    let items = rows.into_iter().map(Item::from).collect();
    Ok(Json(Paged::new(items, criteria.page, total)))
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
