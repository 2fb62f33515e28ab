//! The activities as the worker registers them: [`Activities`], built by
//! [`Activities::connect`] from the configuration, and each activity a thin
//! wrapper over the module that does the work, under the name and
//! signature declared in `workflows::activities`.

use std::sync::Arc;

use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use workflows::activities::{
    ApplyFlightChange, Authorization, AuthorizePayment, CreatePayment, EmailFailed,
    FlightChangeAnswer, HoldSeats, IssueTickets, PaymentCreated, PaymentRef, RefundPayment,
    ReleaseSeats, SeatsHeld, SendEmail, SendSms, SmsFailed, definitions as defs,
};
use workflows::contract::{BookingId, BookingState, RefundInfo};

use crate::config::{ActivitiesConfig, migrate};
use crate::email::Mailer;
use crate::error::StepResult;
use crate::holds::Holds;
use crate::inventory::Inventory;
use crate::payments::Payments;
use crate::records::Records;
use crate::sms::Texter;

/// Everything the activities talk to.
pub struct Activities {
    pub inventory: Inventory,
    /// The hold: the owner record, then the inventory.
    pub holds: Holds,
    pub payments: Payments,
    pub mailer: Mailer,
    pub texter: Texter,
    pub records: Records,
}

impl Activities {
    /// Connects to the booking database (creating and migrating it when
    /// needed) and builds the clients.
    pub async fn connect(config: &ActivitiesConfig) -> anyhow::Result<Self> {
        let pool = migrate(config).await?;
        let inventory = Inventory::new(&config.inventory)?;
        Ok(Activities {
            holds: Holds::new(inventory.clone(), pool.clone()),
            inventory,
            payments: Payments::new(&config.stripe, pool.clone())?,
            mailer: Mailer::new(&config.smtp, pool.clone())?,
            texter: Texter::new(&config.sms, pool.clone())?,
            records: Records::new(pool),
        })
    }
}

fn done<T>(result: StepResult<T>) -> Result<T, ActivityError> {
    result.map_err(|e| e.into_activity_error())
}

/// How often a running activity tells Temporal it is alive. The workflow
/// gives each activity a heartbeat timeout a few times longer
/// (`workflows::activities::HEARTBEAT_TIMEOUT`): an attempt lost
/// with its worker is retried after that, not after its whole
/// start-to-close, so repeated crashes do not eat a step's retry budget.
/// (A local activity's heartbeat is a no-op: its workflow task is its
/// liveness.)
const HEARTBEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs `work`, heartbeating every [`HEARTBEAT_EVERY`] until it ends.
async fn beating<T>(ctx: &ActivityContext, work: impl std::future::Future<Output = T>) -> T {
    tokio::pin!(work);
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = tick.tick() => {
                if let Err(e) = ctx.record_heartbeat(()).await {
                    tracing::debug!(error = %e, "heartbeat not recorded");
                }
            }
        }
    }
}

/// Writes the `#[activities]` impl from one line per activity:
/// `Definition => method(input: Input) -> Output = service.call(args);`.
/// Each method implements `defs::Definition` (so keeps its registered name)
/// by awaiting `self.service.call(args)` and mapping its error with [`done`].
macro_rules! activity_handlers {
    ($(
        $definition:ident => $method:ident($input:ident: $input_ty:ty) -> $output:ty
            = $service:ident.$call:ident($($arg:expr),* $(,)?);
    )*) => {
        #[activities]
        impl Activities {
            $(
                #[activity(definition = defs::$definition)]
                pub async fn $method(
                    self: Arc<Self>,
                    ctx: ActivityContext,
                    $input: $input_ty,
                ) -> Result<$output, ActivityError> {
                    done(beating(&ctx, self.$service.$call($($arg),*)).await)
                }
            )*
        }
    };
}

activity_handlers! {
    HoldSeats => hold_seats(input: HoldSeats) -> SeatsHeld = holds.hold(&input);
    ConfirmSeats => confirm_seats(booking_id: BookingId) -> () = inventory.confirm(booking_id);
    ReleaseSeats => release_seats(input: ReleaseSeats) -> () = inventory.release(&input);
    CreatePayment => create_payment(input: CreatePayment) -> PaymentCreated
        = payments.create(&input);
    AuthorizePayment => authorize_payment(input: AuthorizePayment) -> Authorization
        = payments.authorize(&input);
    CapturePayment => capture_payment(input: PaymentRef) -> () = payments.capture(&input);
    CancelPayment => cancel_payment(input: PaymentRef) -> () = payments.cancel(&input);
    RefundPayment => refund_payment(input: RefundPayment) -> RefundInfo = payments.refund(&input);
    IssueTickets => issue_tickets(input: IssueTickets) -> Vec<String>
        = records.issue_tickets(input.booking_id, input.passengers);
    RecordBooking => record_booking(booking: BookingState) -> () = records.record(&booking);
    SendEmail => send_email(input: SendEmail) -> () = mailer.send(&input);
    RecordEmailFailed => record_email_failed(input: EmailFailed) -> ()
        = records.email_failed(&input);
    SendSms => send_sms(input: SendSms) -> () = texter.send(&input);
    RecordSmsFailed => record_sms_failed(input: SmsFailed) -> () = texter.failed(&input);
    ApplyFlightChange => apply_flight_change(input: ApplyFlightChange) -> FlightChangeAnswer
        = inventory.apply_change(&input);
    LiveBookingsOnFlight => live_bookings_on_flight(flight_id: i64) -> Vec<String>
        = inventory.live_bookings(flight_id);
}
