//! The catalogue's requests and answers: cities, airports, airplanes and
//! their seat maps, flights, seat maps of flights, search results, pages.
//! The flight service reads and writes exactly these (with the `sqlx`
//! feature, rows load straight into them); the gateway documents them
//! (feature `openapi`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::{Cabin, Currency, FlightNumber, IataCode};
use serde::{Deserialize, Deserializer, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct City {
    pub id: i64,
    pub name: String,
    pub country_code: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CityInput {
    #[cfg_attr(feature = "openapi", schema(schema_with = printable_name::<100>))]
    pub name: String,
    /// ISO 3166-1 alpha-2.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z]{2}$", example = "FR"))]
    pub country_code: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Airport {
    pub id: i64,
    pub iata_code: String,
    pub name: String,
    pub time_zone: String,
    #[cfg_attr(feature = "sqlx", sqlx(flatten))]
    pub city: CityRef,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CityRef {
    #[serde(rename = "id")]
    pub city_id: i64,
    #[serde(rename = "name")]
    pub city_name: String,
    pub country_code: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AirportInput {
    pub iata_code: IataCode,
    #[cfg_attr(feature = "openapi", schema(schema_with = printable_name::<200>))]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub city_id: i64,
    /// An IANA time zone, such as Europe/Paris.
    #[cfg_attr(feature = "openapi", schema(example = "Europe/Paris"))]
    pub time_zone: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Airplane {
    pub id: i64,
    pub model: String,
    #[cfg_attr(feature = "sqlx", sqlx(json))]
    pub seat_map: SeatMap,
    pub seat_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AirplaneInput {
    #[cfg_attr(feature = "openapi", schema(schema_with = printable_name::<100>))]
    pub model: String,
    pub seat_map: SeatMap,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SeatMap {
    /// Row ranges that do not overlap; 1,000 seats at most in all.
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub sections: Vec<Section>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub cabin: Cabin,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 999))]
    pub from_row: u16,
    /// At least `from_row`.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 999))]
    pub to_row: u16,
    /// Seat letters across the row, e.g. "ABCDEF", none repeated.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[A-Z]{1,12}$", example = "ABCDEF")
    )]
    pub seat_letters: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fare {
    pub amount: i64,
    pub currency: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AirportRef {
    pub code: String,
    pub name: String,
    pub city: String,
    /// IANA zone of the airport, for local times.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CabinView {
    pub cabin: String,
    pub fare: Fare,
    pub seats_total: i32,
    pub seats_available: i32,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlightDetails {
    pub id: i64,
    pub flight_number: String,
    pub status: String,
    pub gate: Option<String>,
    pub origin: AirportRef,
    pub destination: AirportRef,
    pub departure_time: DateTime<Utc>,
    pub arrival_time: DateTime<Utc>,
    pub duration_minutes: i32,
    pub airplane: AirplaneRef,
    pub cabins: Vec<CabinView>,
    pub seats_available: i32,
    /// Bumped by every change of the flight.
    pub version: i64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AirplaneRef {
    pub id: i64,
    pub model: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlightInput {
    pub flight_number: FlightNumber,
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub airplane_id: i64,
    pub origin: IataCode,
    pub destination: IataCode,
    pub departure_time: DateTime<Utc>,
    pub arrival_time: DateTime<Utc>,
    pub currency: Currency,
    /// Fare per cabin in minor units; every cabin of the airplane needs one.
    #[cfg_attr(feature = "openapi", schema(value_type = Fares))]
    pub fares: BTreeMap<String, i64>,
    /// Letters and digits; empty means none.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[A-Za-z0-9]{0,10}$", example = "B12")
    )]
    pub gate: Option<String>,
}

/// The `fares` object's shape, for the OpenAPI document: a fare in minor
/// units for each cabin of the airplane.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Fares {
    #[schema(minimum = 0, maximum = 100_000_000, nullable = false)]
    pub economy: Option<i64>,
    #[schema(minimum = 0, maximum = 100_000_000, nullable = false)]
    pub premium_economy: Option<i64>,
    #[schema(minimum = 0, maximum = 100_000_000, nullable = false)]
    pub business: Option<i64>,
    #[schema(minimum = 0, maximum = 100_000_000, nullable = false)]
    pub first: Option<i64>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlightStatus {
    Scheduled,
    Delayed,
    Cancelled,
}

impl FlightStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FlightStatus::Scheduled => "scheduled",
            FlightStatus::Delayed => "delayed",
            FlightStatus::Cancelled => "cancelled",
        }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlightPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub departure_time: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arrival_time: Option<DateTime<Utc>>,
    /// `null` clears the gate; absent leaves it.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, pattern = "^[A-Za-z0-9]{0,10}$"))]
    pub gate: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<FlightStatus>,
    /// Only the cabins to change.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Fares>))]
    pub fares: Option<BTreeMap<String, i64>>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlightSeats {
    pub flight_id: i64,
    pub seats: Vec<FlightSeat>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlightSeat {
    pub seat_number: String,
    pub cabin: String,
    pub status: String,
    pub fare: Fare,
}

/// One page of a list.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub per_page: u32,
    pub total: i64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchResult {
    pub id: i64,
    pub flight_number: String,
    pub origin: AirportRef,
    pub destination: AirportRef,
    pub departure_time: DateTime<Utc>,
    pub arrival_time: DateTime<Utc>,
    pub duration_minutes: i32,
    pub fare: Fare,
    pub seats_available: i32,
    pub status: String,
}

/// The schema of a name the service trims and then takes when it has 1 to
/// `MAX` characters, none of them a control character.
#[cfg(feature = "openapi")]
fn printable_name<const MAX: usize>() -> utoipa::openapi::Object {
    use utoipa::openapi::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX))
        .pattern(Some(
            r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$",
        ))
        .build()
}

/// Distinguishes an explicit `null` from an absent field.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}
