//! The hold step: seats are held only for a booking the gateway recorded
//! before starting its workflow (`booking_request`, the owner record of
//! `api/src/bookings/idempotency.rs`), for the user the booking names; then
//! the flight service holds them. A booking started on Temporal by anyone
//! else is refused as a business answer (`OWNER_UNKNOWN`): the workflow
//! ends `failed` with nothing held, through the path every refused hold
//! takes, so its commands are those of any booking.

use sqlx::PgPool;
use workflows::activities::{HoldSeats, SeatsHeld};
use workflows::contract::{Failure, UserId};

use crate::error::{StepError, StepResult};
use crate::inventory::Inventory;

#[derive(Clone)]
pub struct Holds {
    inventory: Inventory,
    /// The booking database, where the gateway's `booking_request` lives.
    pool: PgPool,
}

impl Holds {
    pub fn new(inventory: Inventory, pool: PgPool) -> Self {
        Holds { inventory, pool }
    }

    /// The owner record first, then the hold (idempotent by booking id).
    pub async fn hold(&self, input: &HoldSeats) -> StepResult<SeatsHeld> {
        self.owner_recorded(input).await?;
        self.inventory.hold(input).await
    }

    /// The gateway's record of the booking, for the user it names (holds
    /// scheduled before the user was sent: for the booking alone). A
    /// database out of reach is transient; no record is the answer.
    async fn owner_recorded(&self, input: &HoldSeats) -> StepResult<()> {
        let booking_id = input.booking_id.uuid();
        let owner: Option<String> =
            sqlx::query_scalar("select user_id::text from booking_request where booking_id = $1")
                .bind(booking_id)
                .fetch_optional(&self.pool)
                .await?;
        match (owner, input.user_id.as_ref().map(UserId::as_str)) {
            (None, _) => Err(StepError::business(
                Failure::OwnerUnknown,
                "no booking request recorded for this booking",
            )),
            (Some(owner), Some(user)) if owner != user => Err(StepError::business(
                Failure::OwnerUnknown,
                "the booking request recorded for this booking is another user's",
            )),
            _ => Ok(()),
        }
    }
}
