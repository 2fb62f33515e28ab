//! [`Bookings`], the booking driver ([`super::Stack::bookings`]): a
//! booking's input as the gateway builds it and its owner record, starting,
//! paying and cancelling it on Temporal, and its state (the `status` query,
//! its search attributes). What it left elsewhere is the observers'
//! ([`super::observers`]).

use std::time::Duration;

use temporalio_client::{
    Client, WorkflowExecuteUpdateOptions, WorkflowQueryOptions, WorkflowStartOptions,
};
use workflows::BookingWorkflow;
use workflows::contract::{
    BookingId, BookingInput, BookingState, BookingStatus, CancelRequest, Passenger,
    PaymentMethodId, PaymentRequest, SeatSelection, TASK_QUEUE, workflow_id,
};

use super::observers::{BookingDb, Stripe};
use super::{GOOD_CARD, Handle, TRAVELLER_ID, seats};

/// Starts bookings straight on Temporal as the gateway would, pays and
/// cancels them, and reads their state.
#[derive(Clone)]
pub struct Bookings {
    pub client: Client,
    db: BookingDb,
    stripe: Stripe,
}

impl Bookings {
    pub(super) fn new(client: Client, db: BookingDb, stripe: Stripe) -> Bookings {
        Bookings { client, db, stripe }
    }

    pub fn input(&self, flight_id: i64, seats: SeatSelection) -> BookingInput {
        let id = uuid::Uuid::new_v4();
        let passengers = match &seats {
            SeatSelection::Seats(s) => s.len(),
            SeatSelection::Cabin { count, .. } => *count as usize,
        };
        BookingInput {
            booking_id: BookingId::from_uuid(id),
            booking_ref: id.simple().to_string()[..6].parse().unwrap(),
            user_id: TRAVELLER_ID.parse().unwrap(),
            flight_id,
            seats,
            passengers: (0..passengers)
                .map(|i| Passenger {
                    first_name: format!("Ada{i}"),
                    last_name: "Lovelace".to_owned(),
                    date_of_birth: "1990-12-10".to_owned(),
                })
                .collect(),
            contact_email: "ada@example.com".parse().unwrap(),
            contact_phone: None,
            channels: Default::default(),
            payment_window_ms: 60_000,
            reminder_lead_ms: 48 * 3_600_000,
            step_budget_ms: None,
            max_payment_attempts: None,
        }
    }

    /// A booking of these seats on `flight_id`, with the default input, started.
    pub async fn start_booking_of(&self, flight_id: i64, seat_list: &[&str]) -> Handle {
        self.start_booking(self.input(flight_id, seats(seat_list)))
            .await
    }

    /// A booking started, once its seats are held and it awaits payment.
    pub async fn held_booking(&self, input: BookingInput) -> (Handle, BookingState) {
        let handle = self.start_booking(input).await;
        let held = self.wait_awaiting_payment(&handle).await;
        (handle, held)
    }

    /// [`Bookings::held_booking`] of these seats, with the default input.
    pub async fn held_booking_of(
        &self,
        flight_id: i64,
        seat_list: &[&str],
    ) -> (Handle, BookingState) {
        self.held_booking(self.input(flight_id, seats(seat_list)))
            .await
    }

    /// [`Bookings::held_booking_of`], paid with [`GOOD_CARD`] and confirmed.
    pub async fn confirmed_booking_of(
        &self,
        flight_id: i64,
        seat_list: &[&str],
    ) -> (Handle, BookingState) {
        let (handle, _) = self.held_booking_of(flight_id, seat_list).await;
        let paid = self.pay(&handle, GOOD_CARD).await;
        assert_eq!(paid.status, BookingStatus::Confirmed, "{paid:#?}");
        (handle, paid)
    }

    /// What the gateway writes before it starts a booking: its owner's
    /// account (the gateway's tables migrated first) and the booking's
    /// `booking_request`. The worker holds seats only for a booking that
    /// has one.
    pub async fn record_owner(&self, input: &BookingInput) {
        kit::config::migrate_shared(
            &self.db.pool,
            sqlx::migrate!("../migrations/gateway"),
            "gateway's tables",
        )
        .await
        .expect("the gateway's migrations");
        sqlx::query(
            "insert into app_user (user_id, email, name, password_hash, role)
             values ($1::uuid, $1 || '@traveller.test', 'Test Traveller', '-', 'customer')
             on conflict do nothing",
        )
        .bind(input.user_id.as_str())
        .execute(&self.db.pool)
        .await
        .expect("the traveller's account");
        let seats = input.passengers.len() as i32;
        sqlx::query(
            "insert into booking_request
                    (user_id, idempotency_key, request_hash, booking_id, booking_ref, seats)
             values ($1::uuid, $2, '', $2::uuid, $3, $4)",
        )
        .bind(input.user_id.as_str())
        .bind(input.booking_id.to_string())
        .bind(input.booking_ref.as_str())
        .bind(seats)
        .execute(&self.db.pool)
        .await
        .expect("the booking's request");
    }

    /// The booking started as the gateway starts it: owner recorded, then
    /// the workflow with its initial search attributes and summary.
    pub async fn start_booking(&self, input: BookingInput) -> Handle {
        self.record_owner(&input).await;
        self.start_unrecorded(input).await
    }

    /// The workflow started with no `booking_request` written first (not
    /// the gateway's doing).
    pub async fn start_unrecorded(&self, input: BookingInput) -> Handle {
        let id = workflow_id(input.booking_id);
        let attributes = workflows::initial_search_attributes(&input);
        let summary = workflows::start_summary(&input);
        self.client
            .start_workflow(
                BookingWorkflow::run,
                input,
                WorkflowStartOptions::new(TASK_QUEUE, id.clone())
                    .search_attributes(attributes)
                    .static_summary(summary)
                    .build(),
            )
            .await
            .expect("workflow starts");
        self.handle(&id)
    }

    /// Started the way the Temporal CLI would: without the initial search
    /// attributes, which the workflow then sets itself.
    pub async fn start_booking_bare(&self, input: BookingInput) -> Handle {
        self.record_owner(&input).await;
        let id = workflow_id(input.booking_id);
        self.client
            .start_workflow(
                BookingWorkflow::run,
                input,
                WorkflowStartOptions::new(TASK_QUEUE, id.clone()).build(),
            )
            .await
            .expect("workflow starts");
        self.handle(&id)
    }

    /// A keyword search attribute as the server has it now.
    pub async fn keyword(&self, handle: &Handle, name: &'static str) -> Option<String> {
        let description = handle.describe(Default::default()).await.expect("describe");
        description.search_attributes().get(
            &temporalio_common::search_attributes::SearchAttributeKey::<String>::keyword(name),
        )
    }

    /// The `DepartureTime` search attribute as the server has it now, in
    /// seconds since the epoch.
    pub async fn departure_attribute(&self, handle: &Handle) -> Option<i64> {
        let description = handle.describe(Default::default()).await.expect("describe");
        description
            .search_attributes()
            .get(&temporalio_common::search_attributes::SearchAttributeKey::<
                temporalio_common::search_attributes::Timestamp,
            >::datetime("DepartureTime"))
            .map(|t| t.seconds())
    }

    pub fn handle(&self, workflow_id: &str) -> Handle {
        self.client
            .get_workflow_handle::<BookingWorkflow>(workflow_id)
    }

    pub async fn status(&self, handle: &Handle) -> BookingState {
        self.status_now(handle).await.expect("status query")
    }

    /// The `status` query's answer, or why there was none.
    async fn status_now(&self, handle: &Handle) -> Result<BookingState, String> {
        handle
            .query(BookingWorkflow::status, (), WorkflowQueryOptions::default())
            .await
            .map_err(|e| e.to_string())
    }

    /// Polls the `status` query until `done` holds (or panics after `within`).
    pub async fn wait_for(
        &self,
        handle: &Handle,
        within: Duration,
        done: impl Fn(&BookingState) -> bool,
    ) -> BookingState {
        let every = Duration::from_millis(100);
        crate::poll_until(
            "the booking never got there",
            within,
            every,
            async || match self.status_now(handle).await {
                Ok(state) if done(&state) => Ok(state),
                Ok(state) => Err(format!("{state:#?}")),
                Err(e) => Err(format!("the status query failed: {e}")),
            },
        )
        .await
    }

    pub async fn wait_status(&self, handle: &Handle, status: BookingStatus) -> BookingState {
        self.wait_for(handle, Duration::from_secs(60), |s| s.status == status)
            .await
    }

    /// Waits until the seats are held and the booking awaits its payment.
    pub async fn wait_awaiting_payment(&self, handle: &Handle) -> BookingState {
        self.wait_status(handle, BookingStatus::AwaitingPayment)
            .await
    }

    pub async fn pay(&self, handle: &Handle, card: &str) -> BookingState {
        self.pay_in_background(handle, card)
            .await
            .await
            .unwrap()
            .expect("submit_payment update")
    }

    /// `submit_payment` on a task of its own, for tests that act while the
    /// payment is being processed.
    pub async fn pay_in_background(
        &self,
        handle: &Handle,
        card: &str,
    ) -> tokio::task::JoinHandle<Result<BookingState, String>> {
        self.pay_as_update_in_background(handle, card, None).await
    }

    /// Like [`Bookings::pay_in_background`], under this update id (as the
    /// gateway derives it from the client's `Idempotency-Key`).
    pub async fn pay_as_update_in_background(
        &self,
        handle: &Handle,
        card: &str,
        update_id: Option<&str>,
    ) -> tokio::task::JoinHandle<Result<BookingState, String>> {
        let payment_method = self.stripe.payment_method(card).await;
        let payment_method = PaymentMethodId::parse(&payment_method).expect("a payment method");
        let handle = self.handle(&handle.info().workflow_id);
        let mut options = WorkflowExecuteUpdateOptions::default();
        options.update_id = update_id.map(str::to_owned);
        tokio::spawn(async move {
            handle
                .execute_update(
                    BookingWorkflow::submit_payment,
                    PaymentRequest { payment_method },
                    options,
                )
                .await
                .map_err(|e| e.to_string())
        })
    }

    pub async fn cancel(&self, handle: &Handle) -> BookingState {
        handle
            .execute_update(
                BookingWorkflow::cancel,
                CancelRequest::default(),
                WorkflowExecuteUpdateOptions::default(),
            )
            .await
            .expect("cancel update")
    }
}
