//! The bounds of a booking's input, held by the gateway when it builds one
//! and by the workflow before it issues any command: a booking started on
//! Temporal by anything but the gateway (with the payload key, or through a
//! bug) holds nothing it could not have held through the API. Pure and
//! deterministic: it reads the input, the workflow id and the start time
//! only. The gateway's own checks are stricter in places (a real mailbox
//! syntax, a mobile number in its country's plan); these are the shapes
//! those checks guarantee, so every booking the gateway starts is in
//! bounds, and so is every committed history's.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use crate::contract::{BookingInput, SeatSelection, workflow_id};

/// Seats (and so passengers) per booking.
pub const MAX_SEATS: usize = 9;
/// The payment window (`PAYMENT_WINDOW`): the time seats stay held unpaid.
pub const MIN_PAYMENT_WINDOW: Duration = Duration::from_secs(1);
pub const MAX_PAYMENT_WINDOW: Duration = Duration::from_secs(3600);
/// How long before departure the check-in reminder goes (`REMINDER_LEAD`).
pub const MAX_REMINDER_LEAD: Duration = Duration::from_secs(30 * 24 * 3600);
/// Declined payments before the booking is cancelled (`PAYMENT_MAX_ATTEMPTS`).
pub const MAX_PAYMENT_ATTEMPTS: u32 = 20;
/// A step's retry budget, when the input overrides it (tests).
pub const MAX_STEP_BUDGET: Duration = Duration::from_secs(3600);
/// A passenger's first or last name, in characters.
pub const MAX_NAME_CHARS: usize = 60;

/// The first part of the input found out of bounds: the booking is refused
/// (`failed`, reason `input_out_of_bounds: <field>`), nothing held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutOfBounds {
    /// The workflow id is not `booking-<booking_id>`. (The ids, the email
    /// address and the phone number are the domain's types: an input with
    /// one that does not parse does not even decode, and its workflow runs
    /// no step.)
    WorkflowId,
    FlightId,
    Seats,
    Passengers,
    PassengerName,
    DateOfBirth,
    Channels,
    PaymentWindow,
    ReminderLead,
    StepBudget,
    PaymentAttempts,
}

impl OutOfBounds {
    /// The input field (or `workflow_id`) it is about.
    pub fn field(self) -> &'static str {
        match self {
            OutOfBounds::WorkflowId => "workflow_id",
            OutOfBounds::FlightId => "flight_id",
            OutOfBounds::Seats => "seats",
            OutOfBounds::Passengers => "passengers",
            OutOfBounds::PassengerName => "passengers.name",
            OutOfBounds::DateOfBirth => "passengers.date_of_birth",
            OutOfBounds::Channels => "channels",
            OutOfBounds::PaymentWindow => "payment_window_ms",
            OutOfBounds::ReminderLead => "reminder_lead_ms",
            OutOfBounds::StepBudget => "step_budget_ms",
            OutOfBounds::PaymentAttempts => "max_payment_attempts",
        }
    }
}

/// Checks `input` of the workflow `workflow` started at `started` (the
/// start event's time; `None` skips the checks against it).
pub fn check(
    input: &BookingInput,
    workflow: &str,
    started: Option<DateTime<Utc>>,
) -> Result<(), OutOfBounds> {
    use OutOfBounds as O;
    ensure(workflow == workflow_id(input.booking_id), O::WorkflowId)?;
    ensure(input.flight_id > 0, O::FlightId)?;
    let seats = match &input.seats {
        SeatSelection::Seats(list) => {
            let distinct = list.iter().enumerate().all(|(i, s)| !list[..i].contains(s));
            ensure(distinct, O::Seats)?;
            list.len()
        }
        SeatSelection::Cabin { count, .. } => usize::from(*count),
    };
    ensure((1..=MAX_SEATS).contains(&seats), O::Seats)?;
    ensure(input.passengers.len() == seats, O::Passengers)?;
    let today = started.map(|t| t.date_naive());
    for p in &input.passengers {
        let named = is_text(&p.first_name, MAX_NAME_CHARS) && is_text(&p.last_name, MAX_NAME_CHARS);
        ensure(named, O::PassengerName)?;
        ensure(is_birth_date(&p.date_of_birth, today), O::DateOfBirth)?;
    }
    let phone = input.contact_phone.as_ref();
    let channels = input.channels;
    ensure(
        (channels.email || channels.sms) && (!channels.sms || phone.is_some()),
        O::Channels,
    )?;
    let window = Duration::from_millis(input.payment_window_ms);
    ensure(
        (MIN_PAYMENT_WINDOW..=MAX_PAYMENT_WINDOW).contains(&window),
        O::PaymentWindow,
    )?;
    let lead = Duration::from_millis(input.reminder_lead_ms);
    ensure(lead <= MAX_REMINDER_LEAD, O::ReminderLead)?;
    let budget = input.step_budget_ms.map(Duration::from_millis);
    ensure(
        budget.is_none_or(|b| !b.is_zero() && b <= MAX_STEP_BUDGET),
        O::StepBudget,
    )?;
    let attempts = input.max_payment_attempts;
    ensure(
        attempts.is_none_or(|n| (1..=MAX_PAYMENT_ATTEMPTS).contains(&n)),
        O::PaymentAttempts,
    )
}

fn ensure(ok: bool, out: OutOfBounds) -> Result<(), OutOfBounds> {
    if ok { Ok(()) } else { Err(out) }
}

/// Not blank, at most `max` characters, no control characters.
fn is_text(value: &str, max: usize) -> bool {
    !value.trim().is_empty() && value.chars().count() <= max && !value.chars().any(char::is_control)
}

/// `YYYY-MM-DD`, from 1900-01-01 to the start day.
fn is_birth_date(value: &str, today: Option<NaiveDate>) -> bool {
    let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") else {
        return false;
    };
    let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN);
    date >= earliest && today.is_none_or(|today| date <= today)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{BookingId, Cabin, Channels, Passenger};

    fn input() -> BookingInput {
        BookingInput {
            booking_id: BookingId::parse("2f0c7a52-54c4-4b3e-9a51-3c1c1f2b9e10").unwrap(),
            booking_ref: "K7Q2ZP".parse().unwrap(),
            user_id: "7d3f8f5e-0f0e-4a57-a0a4-4b7f1b1d2c3e".parse().unwrap(),
            flight_id: 42,
            seats: SeatSelection::Seats(vec!["3A".parse().unwrap(), "3B".parse().unwrap()]),
            passengers: (0..2)
                .map(|i| Passenger {
                    first_name: format!("Ada{i}"),
                    last_name: "Lovelace".into(),
                    date_of_birth: "1990-12-10".into(),
                })
                .collect(),
            contact_email: "ada@example.com".parse().unwrap(),
            contact_phone: Some("+447400123456".parse().unwrap()),
            channels: Channels {
                email: true,
                sms: true,
            },
            payment_window_ms: 5 * 60_000,
            reminder_lead_ms: 48 * 3_600_000,
            step_budget_ms: None,
            max_payment_attempts: Some(5),
        }
    }

    fn checked(input: &BookingInput) -> Result<(), OutOfBounds> {
        let started = "2026-12-07T12:00:00Z".parse().ok();
        check(input, &workflow_id(input.booking_id), started)
    }

    #[test]
    fn what_the_gateway_builds_is_in_bounds() {
        checked(&input()).unwrap();
        let mut cabin = input();
        cabin.seats = SeatSelection::Cabin {
            cabin: Cabin::Economy,
            count: 2,
        };
        cabin.contact_phone = None;
        cabin.channels = Channels::default();
        cabin.max_payment_attempts = None;
        checked(&cabin).unwrap();
    }

    #[test]
    fn nine_seats_held_for_thirty_days_are_refused_for_the_window() {
        let mut hoard = input();
        hoard.seats = SeatSelection::Cabin {
            cabin: Cabin::Economy,
            count: 9,
        };
        hoard.passengers = vec![input().passengers[0].clone(); 9];
        checked(&hoard).unwrap();
        hoard.payment_window_ms = 30 * 24 * 3_600_000;
        assert_eq!(checked(&hoard), Err(OutOfBounds::PaymentWindow));
    }

    #[test]
    fn each_bound_names_its_field() {
        type Change = fn(&mut BookingInput);
        let cases: [(Change, OutOfBounds); 12] = [
            (|i| i.flight_id = 0, OutOfBounds::FlightId),
            (
                |i| {
                    i.seats = SeatSelection::Cabin {
                        cabin: Cabin::Economy,
                        count: 10,
                    }
                },
                OutOfBounds::Seats,
            ),
            (
                |i| i.seats = SeatSelection::Seats(vec!["3A".parse().unwrap(); 2]),
                OutOfBounds::Seats,
            ),
            (|i| i.passengers.truncate(1), OutOfBounds::Passengers),
            (
                |i| i.passengers[1].last_name = "x".repeat(61),
                OutOfBounds::PassengerName,
            ),
            (
                |i| i.passengers[0].date_of_birth = "2030-01-01".into(),
                OutOfBounds::DateOfBirth,
            ),
            (
                |i| {
                    i.contact_phone = None;
                }, // sms chosen, no number
                OutOfBounds::Channels,
            ),
            (|i| i.payment_window_ms = 999, OutOfBounds::PaymentWindow),
            (
                |i| i.reminder_lead_ms = 31 * 24 * 3_600_000,
                OutOfBounds::ReminderLead,
            ),
            (|i| i.step_budget_ms = Some(0), OutOfBounds::StepBudget),
            (
                |i| i.max_payment_attempts = Some(0),
                OutOfBounds::PaymentAttempts,
            ),
            (
                |i| i.max_payment_attempts = Some(21),
                OutOfBounds::PaymentAttempts,
            ),
        ];
        for (change, expected) in cases {
            let mut changed = input();
            change(&mut changed);
            assert_eq!(checked(&changed), Err(expected), "{}", expected.field());
        }
    }

    #[test]
    fn a_booking_under_another_workflow_id_is_refused() {
        let input = input();
        assert_eq!(
            check(&input, "booking-11111111-2222-3333-4444-555555555555", None),
            Err(OutOfBounds::WorkflowId)
        );
    }
}
