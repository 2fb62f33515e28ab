//! Domain types shared by the airline services.
//!
//! Parse, don't validate: every type here has private fields and a fallible
//! constructor, so raw strings stop at the edge of a service.

mod cabin;
mod codes;
mod money;
mod seat;

pub use cabin::Cabin;
pub use codes::{FlightNumber, IataCode};
pub use money::{Currency, Money};
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
