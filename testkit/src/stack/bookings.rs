//! The booking helpers of [`Stack`]: a booking's input as the gateway
//! builds it and its owner record, starting, paying and cancelling it, its
//! state, and what it left at Stripe, the SMTP sink, the flight service and
//! the booking database.

use std::time::{Duration, Instant};

use booking_workflows::BookingWorkflow;
use booking_workflows::contract::{
    BookingInput, BookingState, BookingStatus, CancelRequest, Passenger, PaymentRequest,
    SeatSelection, TASK_QUEUE, workflow_id,
};
use serde_json::Value;
use temporalio_client::{WorkflowExecuteUpdateOptions, WorkflowQueryOptions, WorkflowStartOptions};

use super::{GOOD_CARD, Handle, STRIPE_KEY, Stack, TRAVELLER_ID, flights, seats};
use crate::fakes::{card_form, json_answer};

impl Stack {
    pub fn input(&self, flight_id: i64, seats: SeatSelection) -> BookingInput {
        let id = uuid::Uuid::new_v4();
        let passengers = match &seats {
            SeatSelection::Seats(s) => s.len(),
            SeatSelection::Cabin { count, .. } => *count as usize,
        };
        BookingInput {
            booking_id: id.to_string(),
            booking_ref: id.simple().to_string()[..6].parse().unwrap(),
            user_id: TRAVELLER_ID.to_owned(),
            flight_id,
            seats,
            passengers: (0..passengers)
                .map(|i| Passenger {
                    first_name: format!("Ada{i}"),
                    last_name: "Lovelace".to_owned(),
                    date_of_birth: "1990-12-10".to_owned(),
                })
                .collect(),
            contact_email: "ada@example.com".to_owned(),
            contact_phone: None,
            channels: Default::default(),
            payment_window_ms: 60_000,
            reminder_lead_ms: 48 * 3_600_000,
            step_budget_ms: None,
            max_payment_attempts: None,
        }
    }

    /// The HTTP status the worker answers a GET of `path` (`/readyz`,
    /// `/healthz`) with.
    pub async fn worker_http_status(&self, path: &str) -> reqwest::StatusCode {
        let url = format!("http://127.0.0.1:{}{path}", self.worker_http_port);
        self.http.get(url).send().await.unwrap().status()
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

    /// [`Stack::held_booking`] of these seats, with the default input.
    pub async fn held_booking_of(
        &self,
        flight_id: i64,
        seat_list: &[&str],
    ) -> (Handle, BookingState) {
        self.held_booking(self.input(flight_id, seats(seat_list)))
            .await
    }

    /// [`Stack::held_booking_of`], paid with [`GOOD_CARD`] and confirmed.
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
        service_kit::config::migrate_shared(
            &self.booking_pool,
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
        .bind(&input.user_id)
        .execute(&self.booking_pool)
        .await
        .expect("the traveller's account");
        let seats = input.passengers.len() as i32;
        sqlx::query(
            "insert into booking_request
                    (user_id, idempotency_key, request_hash, booking_id, booking_ref, seats)
             values ($1::uuid, $2, '', $2::uuid, $3, $4)",
        )
        .bind(&input.user_id)
        .bind(&input.booking_id)
        .bind(input.booking_ref.as_str())
        .bind(seats)
        .execute(&self.booking_pool)
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
        let id = workflow_id(&input.booking_id);
        let attributes = booking_workflows::initial_search_attributes(&input);
        let summary = booking_workflows::start_summary(&input);
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
        let id = workflow_id(&input.booking_id);
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

    /// A localstripe payment method for a card number.
    pub async fn payment_method(&self, card: &str) -> String {
        let body = self
            .stripe_post("/v1/payment_methods", &card_form(card))
            .await;
        body["id"].as_str().expect("payment method id").to_owned()
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

    /// Like [`Stack::pay_in_background`], under this update id (as the
    /// gateway derives it from the client's `Idempotency-Key`).
    pub async fn pay_as_update_in_background(
        &self,
        handle: &Handle,
        card: &str,
        update_id: Option<&str>,
    ) -> tokio::task::JoinHandle<Result<BookingState, String>> {
        let payment_method = self.payment_method(card).await;
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

    /// The body of a GET of `url` (a Prometheus page, say).
    pub async fn get_text(&self, url: &str) -> String {
        self.http
            .get(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn stripe_get(&self, path: &str) -> Value {
        json_answer(self.stripe_request(reqwest::Method::GET, path)).await
    }

    pub async fn stripe_post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        json_answer(self.stripe_request(reqwest::Method::POST, path).form(form)).await
    }

    /// A request of the tests' own to localstripe (not through the relay).
    fn stripe_request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.stripe_url))
            .basic_auth(STRIPE_KEY, Some(""))
    }

    pub async fn intent(&self, id: &str) -> Value {
        self.stripe_get(&format!("/v1/payment_intents/{id}")).await
    }

    /// Refunds localstripe made for a PaymentIntent.
    pub async fn refunds(&self, intent: &str) -> Vec<Value> {
        let body = self
            .stripe_get(&format!("/v1/refunds?payment_intent={intent}"))
            .await;
        body["data"].as_array().cloned().unwrap_or_default()
    }

    /// The messages the SMTP sink received, raw.
    pub fn mails(&self) -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(&self.mail_dir)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect()
    }

    /// Messages whose subject contains `needle`.
    pub fn mails_about(&self, needle: &str) -> Vec<String> {
        self.mails()
            .into_iter()
            .filter(|m| {
                m.lines()
                    .any(|l| l.starts_with("Subject:") && l.contains(needle))
            })
            .collect()
    }

    /// The `token` of the link in the latest message to `to` whose subject
    /// contains `needle` (an account email), waiting up to 30 s for one.
    pub async fn link_token(&self, needle: &str, to: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = self.mails_about(needle).into_iter().rev().find_map(|raw| {
                let message = mail_parser::MessageParser::default().parse(raw.as_bytes())?;
                let addressed = message
                    .to()
                    .and_then(|a| a.first())
                    .and_then(|a| a.address())
                    .is_some_and(|a| a.eq_ignore_ascii_case(to));
                let body = message.body_text(0)?.into_owned();
                let token = body.split("token=").nth(1)?;
                let token: String = token
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
                addressed.then_some(token)
            });
            if let Some(token) = found {
                return token;
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} email with a link reached {to}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `count` messages with `needle` in the subject arrived.
    pub async fn wait_mails(&self, needle: &str, count: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mails = self.mails_about(needle);
            if mails.len() >= count || Instant::now() > deadline {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A cancelled booking let go of its seats (the flight has `before`
    /// available again) and sent one cancellation email; returns that email.
    pub async fn assert_released_and_mailed(&self, flight_id: i64, before: i64) -> String {
        assert_eq!(self.seats_available(flight_id).await, before);
        let mut mails = self.wait_mails("cancelled", 1).await;
        assert_eq!(mails.len(), 1, "one cancellation email");
        mails.remove(0)
    }

    /// The flight service's view of this booking's hold.
    pub async fn hold_status(&self, booking_id: &str) -> (u16, Value) {
        let r = self
            .flights
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/holds/{booking_id}"),
                None,
                Some(flights::TOKEN),
            )
            .await;
        (r.status.as_u16(), r.body)
    }

    pub async fn seats_available(&self, flight_id: i64) -> i64 {
        let r = self
            .flights
            .get(&format!("/api/v1/flights/{flight_id}"))
            .await;
        r.body["seats_available"].as_i64().expect("seats_available")
    }

    /// The read model's row for a booking: (status, version).
    pub async fn read_model(&self, booking_id: &str) -> Option<(String, i32)> {
        sqlx::query_as("select status, version from booking where booking_id = $1::uuid")
            .bind(booking_id)
            .fetch_optional(&self.booking_pool)
            .await
            .unwrap()
    }

    pub async fn events(&self, booking_id: &str) -> Vec<String> {
        sqlx::query_scalar(
            "select status from booking_event where booking_id = $1::uuid order by seq",
        )
        .bind(booking_id)
        .fetch_all(&self.booking_pool)
        .await
        .unwrap()
    }
}
