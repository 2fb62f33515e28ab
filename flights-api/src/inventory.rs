//! The seat inventory's requests and answers (`/api/v1/holds/...` and
//! `/api/v1/flights/{id}/holds`, service token only): what the booking
//! activities send and read, and what the flight service parses and
//! answers.

use std::fmt;

use chrono::{DateTime, Utc};
use domain::{Cabin, Money, SeatNumber};
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

/// `PUT /api/v1/holds/{booking_id}`: the seats to hold on a flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    pub flight_id: i64,
    pub seats: SeatRequest,
}

/// Explicit seats (`["12A", "12B"]`), or a number of seats in a cabin
/// (`{"cabin": "economy", "count": 2}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum SeatRequest {
    Seats(Vec<SeatNumber>),
    Cabin { cabin: Cabin, count: u8 },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CabinRequest {
    cabin: Cabin,
    count: u8,
}

/// A list or an object, each element or field parsed in place, so that an
/// error names it (`seats[2]`, `seats.count`).
impl<'de> Deserialize<'de> for SeatRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Seats;

        impl<'de> Visitor<'de> for Seats {
            type Value = SeatRequest;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"a list of seat numbers or {"cabin", "count"}"#)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SeatRequest, A::Error> {
                let mut seats = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(16));
                while let Some(seat) = seq.next_element::<SeatNumber>()? {
                    seats.push(seat);
                }
                Ok(SeatRequest::Seats(seats))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SeatRequest, A::Error> {
                let c = CabinRequest::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(SeatRequest::Cabin {
                    cabin: c.cabin,
                    count: c.count,
                })
            }
        }

        d.deserialize_any(Seats)
    }
}

/// A hold, as every inventory call answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldView {
    pub booking_id: Uuid,
    pub flight_id: i64,
    /// `held`, `confirmed` or `released`.
    pub status: String,
    pub seats: Vec<HeldSeat>,
    /// The price locked when the seats were held.
    pub total: Money,
    pub held_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub released_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldSeat {
    pub seat_number: SeatNumber,
    pub cabin: Cabin,
    pub fare: Money,
}

/// `POST /api/v1/holds/{booking_id}/release` (the body is optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    /// Set when a confirmed booking is cancelled (refund path).
    #[serde(default)]
    pub cancellation: bool,
}

/// `GET /api/v1/flights/{id}/holds`: whom a schedule change or a
/// cancellation of the flight concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveHolds {
    pub flight_id: i64,
    /// Bookings with seats held or sold on the flight, oldest first.
    pub booking_ids: Vec<Uuid>,
}

/// The inventory's refusals, as the `code` of its error answers (409):
/// the inventory functions' SQLSTATEs map to these once, in the flight
/// service, and the booking activities read them back as this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The hold's idempotency key was used for another request.
    IdempotencyConflict,
    FlightCancelled,
    FlightDeparted,
    /// The seats are taken, or not enough are left in the cabin.
    SeatsUnavailable,
    /// The flight has closed for booking (within the cut-off).
    BookingClosed,
    HoldConfirmed,
    HoldReleased,
    /// Any code this side does not know (validation, not found, …).
    #[serde(other)]
    Other,
}

impl Refusal {
    const KNOWN: [Refusal; 7] = [
        Refusal::IdempotencyConflict,
        Refusal::FlightCancelled,
        Refusal::FlightDeparted,
        Refusal::SeatsUnavailable,
        Refusal::BookingClosed,
        Refusal::HoldConfirmed,
        Refusal::HoldReleased,
    ];

    /// The refusal an error answer's `code` names.
    pub fn of(code: &str) -> Refusal {
        Refusal::KNOWN
            .into_iter()
            .find(|r| r.as_str() == code)
            .unwrap_or(Refusal::Other)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::IdempotencyConflict => "idempotency_conflict",
            Refusal::FlightCancelled => "flight_cancelled",
            Refusal::FlightDeparted => "flight_departed",
            Refusal::SeatsUnavailable => "seats_unavailable",
            Refusal::BookingClosed => "booking_closed",
            Refusal::HoldConfirmed => "hold_confirmed",
            Refusal::HoldReleased => "hold_released",
            Refusal::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_codes_are_their_serde_names() {
        for refusal in Refusal::KNOWN {
            let json = serde_json::to_value(refusal).unwrap();
            assert_eq!(json, refusal.as_str());
            assert_eq!(Refusal::of(refusal.as_str()), refusal);
        }
        assert_eq!(Refusal::of("validation_failed"), Refusal::Other);
        let unknown: Refusal = serde_json::from_str(r#""validation_failed""#).unwrap();
        assert_eq!(unknown, Refusal::Other);
    }

    #[test]
    fn a_hold_request_reads_both_shapes_and_writes_them_back() {
        for body in [
            r#"{"flight_id":7,"seats":["12A","12B"]}"#,
            r#"{"flight_id":7,"seats":{"cabin":"economy","count":2}}"#,
        ] {
            let request: HoldRequest = serde_json::from_str(body).unwrap();
            assert_eq!(serde_json::to_string(&request).unwrap(), body);
        }
    }

    #[test]
    fn errors_name_the_element_or_the_field() {
        let error = |body: &str| {
            let mut d = serde_json::Deserializer::from_str(body);
            serde_path_to_error::deserialize::<_, HoldRequest>(&mut d)
                .unwrap_err()
                .path()
                .to_string()
        };
        assert_eq!(error(r#"{"flight_id":7,"seats":["12A","x"]}"#), "seats[1]");
        assert_eq!(
            error(r#"{"flight_id":7,"seats":{"cabin":"economy","count":-1}}"#),
            "seats.count"
        );
        assert_eq!(
            error(r#"{"flight_id":7,"seats":{"cabin":"attic","count":1}}"#),
            "seats.cabin"
        );
    }
}
