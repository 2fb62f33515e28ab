//! The activities as the worker registers them: each one a thin wrapper
//! over the module that does the work, under the name and signature
//! declared in `booking_workflows::activities`.

use std::sync::Arc;

use booking_workflows::activities::{
    ApplyFlightChange, Authorization, AuthorizePayment, CreatePayment, EmailFailed,
    FlightChangeAnswer, HoldSeats, IssueTickets, PaymentCreated, PaymentRef, RefundPayment,
    ReleaseSeats, SeatsHeld, SendEmail, definitions as defs,
};
use booking_workflows::contract::{BookingState, RefundInfo};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use crate::email::Mailer;
use crate::error::StepResult;
use crate::inventory::Inventory;
use crate::payments::Payments;
use crate::records::Records;

/// Everything the activities talk to.
pub struct Activities {
    pub inventory: Inventory,
    pub payments: Payments,
    pub mailer: Mailer,
    pub records: Records,
}

fn done<T>(result: StepResult<T>) -> Result<T, ActivityError> {
    result.map_err(|e| e.into_activity_error())
}

#[activities]
impl Activities {
    #[activity(definition = defs::HoldSeats)]
    pub async fn hold_seats(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: HoldSeats,
    ) -> Result<SeatsHeld, ActivityError> {
        done(self.inventory.hold(&input).await)
    }

    #[activity(definition = defs::ConfirmSeats)]
    pub async fn confirm_seats(
        self: Arc<Self>,
        _ctx: ActivityContext,
        booking_id: String,
    ) -> Result<(), ActivityError> {
        done(self.inventory.confirm(&booking_id).await)
    }

    #[activity(definition = defs::ReleaseSeats)]
    pub async fn release_seats(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: ReleaseSeats,
    ) -> Result<(), ActivityError> {
        done(self.inventory.release(&input).await)
    }

    #[activity(definition = defs::CreatePayment)]
    pub async fn create_payment(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: CreatePayment,
    ) -> Result<PaymentCreated, ActivityError> {
        done(self.payments.create(&input).await)
    }

    #[activity(definition = defs::AuthorizePayment)]
    pub async fn authorize_payment(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: AuthorizePayment,
    ) -> Result<Authorization, ActivityError> {
        done(self.payments.authorize(&input).await)
    }

    #[activity(definition = defs::CapturePayment)]
    pub async fn capture_payment(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: PaymentRef,
    ) -> Result<(), ActivityError> {
        done(self.payments.capture(&input).await)
    }

    #[activity(definition = defs::CancelPayment)]
    pub async fn cancel_payment(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: PaymentRef,
    ) -> Result<(), ActivityError> {
        done(self.payments.cancel(&input).await)
    }

    #[activity(definition = defs::RefundPayment)]
    pub async fn refund_payment(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: RefundPayment,
    ) -> Result<RefundInfo, ActivityError> {
        done(self.payments.refund(&input).await)
    }

    #[activity(definition = defs::IssueTickets)]
    pub async fn issue_tickets(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: IssueTickets,
    ) -> Result<Vec<String>, ActivityError> {
        done(
            self.records
                .issue_tickets(&input.booking_id, input.passengers)
                .await,
        )
    }

    #[activity(definition = defs::RecordBooking)]
    pub async fn record_booking(
        self: Arc<Self>,
        _ctx: ActivityContext,
        booking: BookingState,
    ) -> Result<(), ActivityError> {
        done(self.records.record(&booking).await)
    }

    #[activity(definition = defs::SendEmail)]
    pub async fn send_email(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: SendEmail,
    ) -> Result<(), ActivityError> {
        done(self.mailer.send(&input).await)
    }

    #[activity(definition = defs::RecordEmailFailed)]
    pub async fn record_email_failed(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: EmailFailed,
    ) -> Result<(), ActivityError> {
        done(self.records.email_failed(&input).await)
    }

    #[activity(definition = defs::ApplyFlightChange)]
    pub async fn apply_flight_change(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: ApplyFlightChange,
    ) -> Result<FlightChangeAnswer, ActivityError> {
        done(self.inventory.apply_change(&input).await)
    }

    #[activity(definition = defs::LiveBookingsOnFlight)]
    pub async fn live_bookings_on_flight(
        self: Arc<Self>,
        _ctx: ActivityContext,
        flight_id: i64,
    ) -> Result<Vec<String>, ActivityError> {
        done(self.inventory.live_bookings(flight_id).await)
    }
}
