//! `migrate` and `seed`: the demo catalogue (idempotent), or a large random
//! one for benchmarks. Flights are inserted in batches with their cabins and
//! seats expanded from the airplane's seat map, as the API does.

use std::collections::HashMap;
use std::sync::LazyLock;

use anyhow::Context;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use domain::Cabin;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secrecy::{ExposeSecret, SecretString};
use sqlx::migrate::MigrateDatabase;
use sqlx::{ConnectOptions, PgConnection, PgPool, Postgres};

use crate::catalogue::flights::CabinsAndSeats;
use crate::catalogue::seat_map::{SeatMap, SeatMapRules, from_sections};

/// Creates the database when missing, then applies the migrations and the
/// inventory functions ([`crate::schema`]).
pub async fn migrate(url: &SecretString) -> anyhow::Result<()> {
    let url = url.expose_secret();
    if !Postgres::database_exists(url).await.unwrap_or(false) {
        Postgres::create_database(url)
            .await
            .context("creating the flight database")?;
        tracing::info!("created the flight database");
    }
    let pool = PgPool::connect(url).await?;
    crate::schema::migrate(&pool).await?;
    tracing::info!("flight database migrated");
    pool.close().await;
    Ok(())
}

struct AirportSeed {
    code: &'static str,
    name: &'static str,
    city: &'static str,
    country: &'static str,
    tz: &'static str,
    lat: f64,
    lon: f64,
}

/// The demo airports, from `flights/data/airports.csv` (built in).
static AIRPORTS: LazyLock<Vec<AirportSeed>> = LazyLock::new(|| {
    include_str!("../data/airports.csv")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1) // the header
        .enumerate()
        .map(|(i, line)| {
            let f: Vec<&'static str> = line.split(',').collect();
            let number = |v: &str| {
                v.parse::<f64>()
                    .unwrap_or_else(|_| panic!("airports.csv line {}: {v:?}", i + 1))
            };
            match f.as_slice() {
                &[code, name, city, country, tz, lat, lon] => AirportSeed {
                    code,
                    name,
                    city,
                    country,
                    tz,
                    lat: number(lat),
                    lon: number(lon),
                },
                _ => panic!("airports.csv line {}: 7 fields expected", i + 1),
            }
        })
        .collect()
});

/// Hubs get a route to every other airport.
const HUBS: &[&str] = &["LHR", "JFK", "DXB", "SIN"];

fn currency_of(country: &str) -> &'static str {
    match country {
        "GB" => "GBP",
        "US" => "USD",
        "CA" => "CAD",
        "CH" => "CHF",
        "DK" => "DKK",
        "MX" => "MXN",
        "BR" => "BRL",
        "AE" => "AED",
        "IN" => "INR",
        "SG" => "SGD",
        "HK" => "HKD",
        "JP" => "JPY",
        "AU" => "AUD",
        "ZA" => "ZAR",
        _ => "EUR",
    }
}

/// A seat map's sections: cabin, first row, last row, seat letters.
type Sections = &'static [(Cabin, u16, u16, &'static str)];

/// The demo airplanes: model, seat map, long-haul?
const AIRPLANES: &[(&str, Sections, bool)] = {
    use Cabin::{Business, Economy, First, PremiumEconomy};
    &[
        (
            "Embraer E195-E2",
            &[(Business, 1, 3, "ACD"), (Economy, 4, 32, "ACDF")],
            false,
        ),
        (
            "Airbus A320neo",
            &[(Business, 1, 3, "ACDF"), (Economy, 4, 30, "ABCDEF")],
            false,
        ),
        (
            "Boeing 787-9",
            &[
                (Business, 1, 8, "ADGK"),
                (PremiumEconomy, 10, 14, "ACDEFHK"),
                (Economy, 20, 45, "ABCDEFGHK"),
            ],
            true,
        ),
        (
            "Airbus A350-1000",
            &[
                (First, 1, 2, "AK"),
                (Business, 3, 12, "ADGK"),
                (PremiumEconomy, 14, 18, "ACDEFHK"),
                (Economy, 20, 50, "ABCDEFGHK"),
            ],
            true,
        ),
    ]
};

/// (model, seat map, long-haul?)
fn airplanes() -> Vec<(&'static str, SeatMap, bool)> {
    AIRPLANES
        .iter()
        .map(|&(model, sections, long)| (model, from_sections(sections), long))
        .collect()
}

fn distance_km(a: &AirportSeed, b: &AirportSeed) -> f64 {
    let (la1, lo1, la2, lo2) = (
        a.lat.to_radians(),
        a.lon.to_radians(),
        b.lat.to_radians(),
        b.lon.to_radians(),
    );
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

/// A route flown by the demo airline.
struct Route<'a> {
    from: &'a AirportSeed,
    to: &'a AirportSeed,
    minutes: i64,
    base_fare: i64,
}

fn routes() -> Vec<Route<'static>> {
    let mut out = Vec::new();
    for a in AIRPORTS.iter() {
        let mut near: Vec<&AirportSeed> = AIRPORTS.iter().filter(|b| b.code != a.code).collect();
        near.sort_by(|x, y| distance_km(a, x).total_cmp(&distance_km(a, y)));
        let mut dests: Vec<&AirportSeed> = near
            .into_iter()
            .filter(|b| b.city != a.city)
            .take(4)
            .collect();
        for hub in HUBS {
            if *hub != a.code
                && let Some(h) = AIRPORTS.iter().find(|x| x.code == *hub)
                && !dests.iter().any(|d| d.code == h.code)
            {
                dests.push(h);
            }
        }
        if HUBS.contains(&a.code) {
            dests = AIRPORTS.iter().filter(|b| b.city != a.city).collect();
        }
        for b in dests {
            let km = distance_km(a, b);
            out.push(Route {
                from: a,
                to: b,
                minutes: (km / 820.0 * 60.0) as i64 + 35,
                base_fare: 4_900 + (km * 9.0) as i64,
            });
        }
    }
    out
}

/// One flight to insert.
pub struct NewFlight {
    pub flight_number: String,
    pub airplane_id: i64,
    pub origin: String,
    pub destination: String,
    pub departure: DateTime<Utc>,
    pub minutes: i64,
    pub currency: String,
    pub fares: HashMap<Cabin, i64>,
}

pub async fn run(url: &SecretString, flights: Option<u32>, days: u32) -> anyhow::Result<()> {
    // Bulk inserts take seconds by design: not worth a warning each.
    let options = url
        .expose_secret()
        .parse::<sqlx::postgres::PgConnectOptions>()?
        .log_slow_statements(log::LevelFilter::Off, std::time::Duration::from_secs(60));
    let pool = PgPool::connect_with(options).await?;
    let mut conn = pool.acquire().await?;
    let planes = seed_base(&mut conn).await?;
    let routes = routes();
    let mut rng = StdRng::seed_from_u64(20_261_121);
    let today = Utc::now().date_naive();
    let mut batch = Vec::new();
    let mut inserted = 0u64;
    let total_wanted = match flights {
        Some(n) => n as usize,
        None => routes.len() * days as usize,
    };
    for i in 0..total_wanted {
        let (route_idx, day) = (i % routes.len(), (i / routes.len()) as i64);
        let route = &routes[route_idx];
        let long = route.minutes > 300;
        let candidates: Vec<&(i64, SeatMap, bool)> =
            planes.iter().filter(|p| p.2 == long).collect();
        let plane = candidates[route_idx % candidates.len()];
        // Demo: one stable departure time per route; bench: varied times.
        let (hour, minute) = match flights {
            None => (
                6 + (route_idx * 7 % 16) as u32,
                (route_idx * 5 % 12) as u32 * 5,
            ),
            Some(_) => (rng.random_range(5..23), rng.random_range(0..12) * 5),
        };
        let date = today + Duration::days(day + 1);
        let departure = local_to_utc(route.from.tz, date, hour, minute)?;
        let fare_scale = match flights {
            None => 100,
            Some(_) => rng.random_range(70..160),
        };
        let economy = route.base_fare * fare_scale / 100;
        let fares = plane
            .1
            .cabins()
            .into_iter()
            .map(|c| {
                let factor = match c {
                    Cabin::Economy => 1,
                    Cabin::PremiumEconomy => 2,
                    Cabin::Business => 4,
                    Cabin::First => 8,
                };
                (c, economy * factor)
            })
            .collect();
        let number = match flights {
            None => format!("SK{}", 100 + route_idx),
            // Unique per route and day, so (number, departure) never repeats.
            Some(_) => format!("S{}{}", (b'A' + (day % 26) as u8) as char, 1000 + route_idx),
        };
        batch.push(NewFlight {
            flight_number: number,
            airplane_id: plane.0,
            origin: route.from.code.to_owned(),
            destination: route.to.code.to_owned(),
            departure,
            minutes: route.minutes,
            currency: currency_of(route.from.country).to_owned(),
            fares,
        });
        if batch.len() == 500 {
            inserted += insert_flights(&mut conn, &planes, std::mem::take(&mut batch)).await?;
        }
    }
    inserted += insert_flights(&mut conn, &planes, batch).await?;
    sqlx::query("analyze").execute(&mut *conn).await?;
    tracing::info!(
        airports = AIRPORTS.len(),
        routes = routes.len(),
        flights_inserted = inserted,
        "seed complete"
    );
    println!(
        "seeded {} airports, {} airplane types, {} routes; {} new flights",
        AIRPORTS.len(),
        planes.len(),
        routes.len(),
        inserted
    );
    Ok(())
}

fn local_to_utc(
    tz: &str,
    date: NaiveDate,
    hour: u32,
    minute: u32,
) -> anyhow::Result<DateTime<Utc>> {
    let tz: chrono_tz::Tz = tz.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let t = NaiveTime::from_hms_opt(hour, minute, 0).context("valid time")?;
    let local = tz
        .from_local_datetime(&date.and_time(t))
        .earliest()
        .context("local time skipped by a DST change")?;
    Ok(local.with_timezone(&Utc))
}

/// Cities, airports and airplanes; returns the airplanes (id, map, long-haul).
async fn seed_base(conn: &mut PgConnection) -> anyhow::Result<Vec<(i64, SeatMap, bool)>> {
    for a in AIRPORTS.iter() {
        sqlx::query(
            "insert into city (name, country_code) values ($1, $2)
             on conflict on constraint city_name_country_unique do nothing",
        )
        .bind(a.city)
        .bind(a.country)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "insert into airport (iata_code, name, city_id, time_zone)
             select $1, $2, city_id, $5 from city where name = $3 and country_code = $4
             on conflict on constraint airport_iata_code_unique do nothing",
        )
        .bind(a.code)
        .bind(a.name)
        .bind(a.city)
        .bind(a.country)
        .bind(a.tz)
        .execute(&mut *conn)
        .await?;
    }
    let mut planes = Vec::new();
    for (model, map, long) in airplanes() {
        map.validate("seat_map")
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let existing: Option<i64> = sqlx::query_scalar(
            "select airplane_id from airplane where model = $1 order by airplane_id limit 1",
        )
        .bind(model)
        .fetch_optional(&mut *conn)
        .await?;
        let id = match existing {
            Some(id) => id,
            None => {
                sqlx::query_scalar(
                    "insert into airplane (model, seat_map, seat_count) values ($1, $2, $3)
                     returning airplane_id",
                )
                .bind(model)
                .bind(sqlx::types::Json(&map))
                .bind(map.seat_count() as i32)
                .fetch_one(&mut *conn)
                .await?
            }
        };
        planes.push((id, map, long));
    }
    Ok(planes)
}

/// One column of the batch, for an `unnest` parameter.
fn column<T>(batch: &[NewFlight], value: impl Fn(&NewFlight) -> T) -> Vec<T> {
    batch.iter().map(value).collect()
}

/// Inserts a batch in one transaction; flights already there are skipped.
pub async fn insert_flights(
    conn: &mut PgConnection,
    planes: &[(i64, SeatMap, bool)],
    batch: Vec<NewFlight>,
) -> anyhow::Result<u64> {
    if batch.is_empty() {
        return Ok(0);
    }
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let ids: Vec<(i64, String, DateTime<Utc>, i64)> = sqlx::query_as(
        "insert into flight (flight_number, airplane_id, origin_airport_id, destination_airport_id,
                             departure_time, arrival_time, departure_local, currency)
         select u.num, u.plane, o.airport_id, d.airport_id, u.dep, u.arr,
                u.dep at time zone o.time_zone, u.cur
           from unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::timestamptz[],
                       $6::timestamptz[], $7::text[]) as u(num, plane, org, dst, dep, arr, cur)
           join airport o on o.iata_code = u.org
           join airport d on d.iata_code = u.dst
         on conflict on constraint flight_number_departure_unique do nothing
         returning flight_id, flight_number, departure_time, airplane_id",
    )
    .bind(column(&batch, |f| f.flight_number.clone()))
    .bind(column(&batch, |f| f.airplane_id))
    .bind(column(&batch, |f| f.origin.clone()))
    .bind(column(&batch, |f| f.destination.clone()))
    .bind(column(&batch, |f| f.departure))
    .bind(column(&batch, |f| {
        f.departure + Duration::minutes(f.minutes)
    }))
    .bind(column(&batch, |f| f.currency.clone()))
    .fetch_all(&mut *tx)
    .await?;
    let by_key: HashMap<(&str, DateTime<Utc>), &NewFlight> = batch
        .iter()
        .map(|f| ((f.flight_number.as_str(), f.departure), f))
        .collect();
    let mut rows = CabinsAndSeats::default();
    for (flight_id, number, departure, plane_id) in &ids {
        let f = by_key[&(number.as_str(), *departure)];
        let map = &planes
            .iter()
            .find(|p| p.0 == *plane_id)
            .context("airplane of a seeded flight")?
            .1;
        rows.add(*flight_id, map, |cabin| f.fares[&cabin]);
    }
    rows.insert(&mut tx).await?;
    tx.commit().await?;
    Ok(ids.len() as u64)
}
