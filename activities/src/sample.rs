//! The sample booking of the notification tests, shared by the unit tests
//! of the templates (`src/email/render.rs`, `src/sms/text.rs`) and the
//! tests of sending (`tests/email.rs`, `tests/sms.rs`, through the
//! `sample` feature, which only this crate's own tests turn on).

use chrono::{DateTime, TimeZone, Utc};
use workflows::contract::{
    BookingState, BookingStatus, Cabin, Currency, FlightInfo, HeldSeat, Money, Passenger,
    PaymentState, PaymentStatus, SeatSelection,
};

pub fn departure() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 8, 30, 0).unwrap()
}

pub fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::parse("EUR").unwrap()).unwrap()
}

/// Confirmed, paid, two passengers on SK123 LIS→BER.
pub fn booking(booking_id: &str) -> BookingState {
    BookingState {
        booking_id: booking_id.parse().expect("a booking id (UUID)"),
        booking_ref: "K7Q2ZP".parse().unwrap(),
        user_id: "user-1".parse().unwrap(),
        status: BookingStatus::Confirmed,
        flight_id: 42,
        flight: Some(FlightInfo {
            flight_id: 42,
            flight_number: "SK123".parse().unwrap(),
            origin: "LIS".parse().unwrap(),
            destination: "BER".parse().unwrap(),
            departure_time: departure(),
            arrival_time: Some(departure() + chrono::TimeDelta::minutes(210)),
            origin_time_zone: Some("Europe/Lisbon".into()),
            destination_time_zone: Some("Europe/Berlin".into()),
            version: Some(1),
        }),
        requested_seats: SeatSelection::Seats(vec!["12A".parse().unwrap(), "12B".parse().unwrap()]),
        seats: vec![
            HeldSeat {
                seat_number: "12A".parse().unwrap(),
                cabin: Cabin::Economy,
                fare: eur(6_150),
            },
            HeldSeat {
                seat_number: "12B".parse().unwrap(),
                cabin: Cabin::Economy,
                fare: eur(6_195),
            },
        ],
        passengers: vec![
            Passenger {
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
                date_of_birth: "1815-12-10".into(),
            },
            Passenger {
                first_name: "Charles".into(),
                last_name: "Babbage".into(),
                date_of_birth: "1791-12-26".into(),
            },
        ],
        contact_email: "ada@example.com".parse().unwrap(),
        contact_phone: None,
        channels: Default::default(),
        total: Some(eur(12_345)),
        payment: PaymentState {
            status: PaymentStatus::Captured,
            attempts: 1,
            payment_intent_id: Some("pi_1".into()),
            client_secret: None,
            last_error: None,
            refund: None,
            next_action: None,
        },
        payment_due_at: None,
        ticket_numbers: vec!["1000000001".into(), "1000000002".into()],
        outcome: None,
        reminder_sent: false,
        history: vec![],
        revision: 0,
    }
}
