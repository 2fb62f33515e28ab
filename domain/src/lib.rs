//! Domain types shared by the airline services.
//!
//! Parse, don't validate: every type here has private fields and a fallible
//! constructor, so raw strings stop at the edge of a service.

/// `as_str`, `Display` and a `Deserialize` that goes through `parse`, for a
/// newtype around a normalised `String`.
macro_rules! string_newtype {
    ($ty:ident) => {
        impl $ty {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $ty {
            type Err = ParseError;

            fn from_str(raw: &str) -> Result<Self, ParseError> {
                Self::parse(raw)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = <String as serde::Deserialize>::deserialize(d)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

mod cabin;
mod codes;
mod ids;
mod money;
mod outcome;
#[cfg(feature = "openapi")]
mod schema;
mod seat;

pub use cabin::Cabin;
pub use codes::{BookingRef, FlightNumber, IataCode};
pub use ids::{BookingId, EmailAddress, PaymentMethodId, PhoneNumber, UserId};
pub use money::{Currency, Money};
pub use outcome::{MAX_DETAIL, Outcome, OutcomeCode};
pub use seat::SeatNumber;

/// Why a value could not be parsed; the message is safe to show a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub(crate) String);

impl ParseError {
    pub fn message(&self) -> &str {
        &self.0
    }
}
