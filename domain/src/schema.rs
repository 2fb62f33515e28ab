//! OpenAPI schemas (feature `openapi`): each type as it travels in JSON,
//! with the constraints its parser enforces. The patterns give the
//! canonical form; parsing also accepts surrounding spaces and lower case.

use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::{BookingRef, Cabin, Currency, FlightNumber, IataCode, Money, SeatNumber};

fn string(description: &str, pattern: &str, example: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .description(Some(description))
        .pattern(Some(pattern))
        .examples([example])
        .into()
}

macro_rules! string_schema {
    ($ty:ident, $description:literal, $pattern:literal, $example:literal) => {
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                string($description, $pattern, $example)
            }
        }

        impl ToSchema for $ty {}
    };
}

string_schema!(
    IataCode,
    "IATA airport code: three letters",
    "^[A-Za-z]{3}$",
    "LHR"
);
string_schema!(
    FlightNumber,
    "Flight number: a two-character airline designator (at least one letter) and 1 to 4 digits",
    "^([A-Za-z][A-Za-z0-9]|[0-9][A-Za-z])[0-9]{1,4}$",
    "BA117"
);
string_schema!(
    BookingRef,
    "Booking reference: 5 to 10 letters and digits",
    "^[A-Za-z0-9]{5,10}$",
    "K7Q2ZP"
);
string_schema!(
    SeatNumber,
    "Seat number: a row (1 to 999) and a seat letter",
    "^[1-9][0-9]{0,2}[A-Za-z]$",
    "12A"
);
string_schema!(Currency, "ISO 4217 currency code", "^[A-Za-z]{3}$", "EUR");

impl PartialSchema for Cabin {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .enum_values(Some(Cabin::ALL.iter().map(|c| c.as_str())))
            .into()
    }
}

impl ToSchema for Cabin {}

impl PartialSchema for Money {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::Object))
            .property(
                "amount",
                ObjectBuilder::new()
                    .schema_type(SchemaType::new(Type::Integer))
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Int64,
                    )))
                    .minimum(Some(0))
                    .description(Some("minor units (cents)")),
            )
            .required("amount")
            .property("currency", Currency::schema())
            .required("currency")
            .into()
    }
}

impl ToSchema for Money {}
