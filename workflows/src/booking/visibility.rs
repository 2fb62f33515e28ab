//! What ops and the gateway see of a booking: its transitions, the read
//! model, the search attributes and the Web UI's summary line.

use std::time::Duration;

use chrono::{DateTime, Utc};
use temporalio_common::search_attributes::{
    SearchAttributeKey, SearchAttributeUpdate, SearchAttributes, Timestamp,
};
use temporalio_sdk::WorkflowResult;

use crate::activities::BookingActivities;
use crate::contract::{
    BookingInput, BookingRef, BookingState, BookingStatus, Outcome, SeatNumber, SeatSelection,
    Transition, UserId, search_attributes as sa,
};

use super::Ctx;
use super::execution::{Budget, now, run_step};

pub(super) const STATUS: SearchAttributeKey<String> =
    SearchAttributeKey::keyword(sa::BOOKING_STATUS);
pub(super) const FLIGHT_NUMBER: SearchAttributeKey<String> =
    SearchAttributeKey::keyword(sa::FLIGHT_NUMBER);
pub(super) const DEPARTURE: SearchAttributeKey<Timestamp> =
    SearchAttributeKey::datetime(sa::DEPARTURE_TIME);
pub(super) const USER_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword(sa::USER_ID);
pub(super) const BOOKING_REF: SearchAttributeKey<String> =
    SearchAttributeKey::keyword(sa::BOOKING_REF);

/// Pushes the state to the read model and the event log.
pub(super) async fn record(ctx: &Ctx) -> WorkflowResult<()> {
    let booking = ctx.state_mut(|s| {
        s.booking.revision += 1;
        s.booking.clone()
    });
    let summary = format!("Record status {}", booking.status);
    run_step(
        ctx,
        BookingActivities::record_booking,
        booking,
        summary,
        Duration::from_secs(15),
        Budget::Record,
    )
    .await?;
    Ok(())
}

/// The search attributes a booking starts with: status `holding`, user and
/// reference. Starters pass them in the start request
/// ([`initial_search_attributes`]), which saves the workflow an upsert.
pub(super) fn initial_updates(
    user_id: &UserId,
    booking_ref: &BookingRef,
) -> Vec<SearchAttributeUpdate> {
    vec![
        STATUS.value_set(BookingStatus::Holding.as_str().to_owned()),
        USER_ID.value_set(user_id.to_string()),
        BOOKING_REF.value_set(booking_ref.to_string()),
    ]
}

/// For the start request of a booking (`WorkflowStartOptions::search_attributes`).
pub fn initial_search_attributes(input: &BookingInput) -> SearchAttributes {
    SearchAttributes::new(initial_updates(&input.user_id, &input.booking_ref))
}

/// The one line the Web UI shows for a booking (`static_summary` of its
/// start request), e.g. `Booking K7Q2ZP: seats 3A, 3B on flight 42; 2
/// passengers; 5 min to pay`. No personal data: ops lists are wide open.
pub fn start_summary(input: &BookingInput) -> String {
    let seats = match &input.seats {
        SeatSelection::Seats(seats) => {
            let seats: Vec<&str> = seats.iter().map(SeatNumber::as_str).collect();
            format!("seats {}", seats.join(", "))
        }
        SeatSelection::Cabin { cabin, count } => format!("{count} {cabin} seat(s)"),
    };
    let passengers = input.passengers.len();
    format!(
        "Booking {}: {seats} on flight {}; {passengers} passenger{}; {} min to pay",
        input.booking_ref,
        input.flight_id,
        if passengers == 1 { "" } else { "s" },
        input.payment_window_ms.div_ceil(60_000),
    )
}

/// Sets `DepartureTime` to the departure as it is now, if it moved;
/// returns whether it did.
pub(super) fn refresh_departure_attribute(ctx: &Ctx) -> bool {
    if !ctx.state(|s| s.departure_attribute_stale()) {
        return false;
    }
    let departure = ctx.state_mut(|s| {
        s.schedule.attribute_version = s.schedule.version;
        s.booking.flight.as_ref().map(|f| f.departure_time)
    });
    if let Some(departure) = departure {
        ctx.upsert_search_attributes([departure_attribute(departure)]);
    }
    true
}

pub(super) fn transition(ctx: &Ctx, status: BookingStatus, outcome: Option<Outcome>) {
    transition_with(ctx, status, outcome, []);
}

/// A transition whose status the starter already put in the search
/// attributes: recorded in the history only.
pub(super) fn record_transition(ctx: &Ctx, status: BookingStatus, outcome: Option<Outcome>) {
    let at = now(ctx);
    ctx.state_mut(|s| {
        s.booking.status = status;
        s.booking.history.push(Transition {
            status,
            at,
            outcome,
        });
    });
}

/// Moves to `status`, recording it in the history and, in one upsert with
/// `extra`, in the search attributes.
pub(super) fn transition_with(
    ctx: &Ctx,
    status: BookingStatus,
    outcome: Option<Outcome>,
    extra: impl IntoIterator<Item = SearchAttributeUpdate>,
) {
    let at = now(ctx);
    ctx.state_mut(|s| {
        s.booking.status = status;
        if outcome.is_some() {
            s.booking.outcome.clone_from(&outcome);
        }
        s.booking.history.push(Transition {
            status,
            at,
            outcome,
        });
    });
    let mut updates = vec![STATUS.value_set(status.as_str().to_owned())];
    updates.extend(extra);
    ctx.upsert_search_attributes(updates);
}

pub(super) fn snapshot(ctx: &Ctx) -> BookingState {
    ctx.state(|s| s.booking.clone())
}

pub(super) fn departure_attribute(at: DateTime<Utc>) -> SearchAttributeUpdate {
    DEPARTURE.value_set(Timestamp::new(
        at.timestamp(),
        at.timestamp_subsec_nanos() as i32,
    ))
}
