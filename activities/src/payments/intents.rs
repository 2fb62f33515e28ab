//! A payment attempt's PaymentIntent: created with manual capture,
//! authorized with the traveller's payment method (3-D Secure included),
//! then captured on confirmation or cancelled.

use std::collections::HashMap;

use sqlx::{Postgres, Transaction};
use stripe::{StripeError, StripeRequest};
use stripe_client_core::{RequestBuilder, StripeMethod};
use stripe_core::PaymentIntentCaptureMethod;
use stripe_core::payment_intent::{
    CancelPaymentIntent, CapturePaymentIntent, ConfirmPaymentIntent, CreatePaymentIntent,
    CreatePaymentIntentAutomaticPaymentMethods,
    CreatePaymentIntentAutomaticPaymentMethodsAllowRedirects, UpdatePaymentIntent,
};
use stripe_types::Currency;
use uuid::Uuid;
use workflows::activities::{
    Authorization, AuthorizePayment, CreatePayment, PaymentCreated, PaymentRef,
};
use workflows::contract::Failure;

use super::answers::{Intent, Outcome, decline, payment_error, stripe_failure};
use super::attempts::{AttemptStatus, commit_status, existing_intent, lock_attempt, set_status};
use super::{AUTHORIZATIONS, MAX_AMOUNT, Payments, parse_ref};
use crate::error::{StepError, StepResult};

impl Payments {
    /// A PaymentIntent with manual capture for this attempt; a retry returns
    /// the same intent.
    #[tracing::instrument(skip_all, fields(booking_id = %input.booking_id, attempt = input.attempt))]
    pub async fn create(&self, input: &CreatePayment) -> StepResult<PaymentCreated> {
        let (booking, attempt) = parse_ref(input.booking_id, input.attempt)?;
        let (amount, currency) = (&input.amount.amount(), input.amount.currency());
        let currency = currency.as_str();
        let Ok(stripe_currency) = currency.to_lowercase().parse::<Currency>();
        // Stripe's limits: a positive amount up to eight digits, in a
        // currency it knows. Anything else it would refuse on every retry.
        if !(1..=MAX_AMOUNT).contains(amount) || matches!(stripe_currency, Currency::Unknown(_)) {
            return Err(StepError::business(
                Failure::PaymentRejected,
                format!("cannot charge {amount} {currency}"),
            ));
        }

        let mut tx = self.db.begin().await?;
        sqlx::query(
            "insert into payment_attempt (booking_id, attempt, amount, currency) \
             values ($1, $2, $3, $4) on conflict (booking_id, attempt) do nothing",
        )
        .bind(booking)
        .bind(attempt)
        .bind(amount)
        .bind(currency)
        .execute(&mut *tx)
        .await?;
        let row = lock_attempt(&mut tx, booking, attempt)
            .await?
            .ok_or_else(|| StepError::transient("the payment attempt row vanished"))?;
        if row.amount != *amount || row.currency != currency {
            return Err(StepError::business(
                Failure::PaymentRejected,
                format!(
                    "payment attempt {attempt} already exists for {} {}",
                    row.amount, row.currency
                ),
            ));
        }
        if let (Some(payment_intent_id), Some(client_secret)) =
            (row.payment_intent_id, row.client_secret)
        {
            tx.commit().await?;
            return Ok(PaymentCreated {
                payment_intent_id,
                client_secret,
            });
        }

        let metadata = HashMap::from([
            ("booking_id".to_owned(), input.booking_id.to_string()),
            ("booking_ref".to_owned(), input.booking_ref.to_string()),
            ("attempt".to_owned(), attempt.to_string()),
        ]);
        // No redirect-based methods: Stripe then lets the server confirm
        // without a `return_url` (its default, automatic payment methods
        // with redirects allowed, refuses such a confirm). Cards that need
        // 3-D Secure still can, through Stripe.js with the client secret.
        let mut automatic = CreatePaymentIntentAutomaticPaymentMethods::new(true);
        automatic.allow_redirects =
            Some(CreatePaymentIntentAutomaticPaymentMethodsAllowRedirects::Never);
        let request = CreatePaymentIntent::new(*amount, stripe_currency)
            .capture_method(PaymentIntentCaptureMethod::Manual)
            .automatic_payment_methods(automatic)
            .metadata(metadata);
        let intent: Intent = self
            .send_step(&request, booking, "intent", attempt)
            .await
            .map_err(|e| stripe_failure("create the PaymentIntent", &e))?;
        let client_secret = intent.client_secret.ok_or_else(|| {
            StepError::transient("Stripe returned a PaymentIntent without a client secret")
        })?;

        sqlx::query(
            "update payment_attempt set payment_intent_id = $3, client_secret = $4, \
             status = 'created', updated_at = now() where booking_id = $1 and attempt = $2",
        )
        .bind(booking)
        .bind(attempt)
        .bind(&intent.id)
        .bind(&client_secret)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(payment_intent = %intent.id, "PaymentIntent created");
        Ok(PaymentCreated {
            payment_intent_id: intent.id,
            client_secret,
        })
    }

    /// Confirm the attempt's intent with the traveller's payment method. A
    /// decline is an answer (`Declined`), recorded, and given again on retry.
    #[tracing::instrument(skip_all, fields(booking_id = %input.booking_id, attempt = input.attempt))]
    pub async fn authorize(&self, input: &AuthorizePayment) -> StepResult<Authorization> {
        let (booking, attempt) = parse_ref(input.booking_id, input.attempt)?;
        let mut tx = self.db.begin().await?;
        let (row, intent_id) = existing_intent(&mut tx, booking, attempt).await?;
        match row.status()? {
            AttemptStatus::Authorized | AttemptStatus::Captured => {
                return Ok(Authorization::Authorized);
            }
            AttemptStatus::Declined => {
                let code = row
                    .decline_code
                    .unwrap_or_else(|| "card_declined".to_owned());
                return Ok(Authorization::Declined(payment_error(code, None)));
            }
            AttemptStatus::Cancelled => {
                return Err(StepError::business(
                    Failure::PaymentRejected,
                    format!("payment attempt {attempt} was cancelled"),
                ));
            }
            AttemptStatus::Creating | AttemptStatus::Created => {}
        }

        // Confirm straight away. A run whose answer was lost may have
        // confirmed it already: Stripe then refuses to confirm again, and
        // the intent's own state is the answer.
        let outcome = match self
            .attach_and_confirm(booking, attempt, input, &intent_id)
            .await
        {
            Ok(outcome) => outcome,
            Err(refused) => match self.retrieve(&intent_id).await {
                Ok(intent) if !matches!(Outcome::of(&intent), Outcome::Open) => {
                    Outcome::of(&intent)
                }
                _ => return Err(refused),
            },
        };
        let authorization = match outcome {
            Outcome::Authorized => {
                set_status(&mut tx, booking, attempt, AttemptStatus::Authorized, None).await?;
                Authorization::Authorized
            }
            Outcome::Captured => {
                set_status(&mut tx, booking, attempt, AttemptStatus::Captured, None).await?;
                Authorization::Authorized
            }
            Outcome::Declined(decline) => {
                let code = Some(decline.code.as_str());
                set_status(&mut tx, booking, attempt, AttemptStatus::Declined, code).await?;
                Authorization::Declined(decline)
            }
            Outcome::Cancelled => {
                commit_status(tx, booking, attempt, AttemptStatus::Cancelled).await?;
                return Err(StepError::business(
                    Failure::PaymentRejected,
                    format!("PaymentIntent {intent_id} was cancelled"),
                ));
            }
            Outcome::RequiresAction(action) => {
                // Nothing to record: the intent stays ours to void, and a
                // retry reads the same state from Stripe.
                tracing::info!(payment_intent = %intent_id, "payment needs authentication");
                Authorization::RequiresAction(action)
            }
            Outcome::Open => {
                return Err(StepError::transient(format!(
                    "PaymentIntent {intent_id} is still unconfirmed after confirm"
                )));
            }
            Outcome::Pending(status) => {
                return Err(StepError::transient(format!(
                    "PaymentIntent {intent_id} is {status}"
                )));
            }
        };
        tx.commit().await?;
        // Counted once per attempt: a retry returns the recorded answer above.
        let result = match &authorization {
            Authorization::Authorized => {
                tracing::info!(payment_intent = %intent_id, "payment authorized");
                "authorized"
            }
            Authorization::Declined(d) => {
                tracing::info!(payment_intent = %intent_id, code = %d.code, "payment declined");
                "declined"
            }
            Authorization::RequiresAction(_) => "requires_action",
        };
        metrics::counter!(AUTHORIZATIONS, "result" => result).increment(1);
        Ok(authorization)
    }

    /// Set the payment method on the intent (localstripe's confirm takes
    /// none), then confirm it.
    async fn attach_and_confirm(
        &self,
        booking: Uuid,
        attempt: i32,
        input: &AuthorizePayment,
        intent_id: &str,
    ) -> StepResult<Outcome> {
        let method = if input.payment_method.is_token() {
            match self
                .card_from_token(booking, attempt, input.payment_method.as_str())
                .await
            {
                Ok(method) => method,
                Err(outcome) => return outcome,
            }
        } else {
            input.payment_method.to_string()
        };
        let attach = UpdatePaymentIntent::new(intent_id).payment_method(&method);
        let attached: Result<Intent, _> = self.send_step(&attach, booking, "attach", attempt).await;
        if let Err(e) = attached {
            return match decline(&e, false) {
                Some(d) => Ok(Outcome::Declined(d)),
                None => Err(stripe_failure("set the payment method", &e)),
            };
        }
        let confirm = ConfirmPaymentIntent::new(intent_id);
        match self
            .send_step::<Intent>(&confirm, booking, "confirm", attempt)
            .await
        {
            Ok(intent) => Ok(Outcome::of(&intent)),
            Err(e) => match decline(&e, true) {
                Some(d) => Ok(Outcome::Declined(d)),
                None => Err(stripe_failure("confirm the PaymentIntent", &e)),
            },
        }
    }

    /// A card token (Stripe.js's `createToken`, as the web app sends) made
    /// into a PaymentMethod, as Stripe documents it (`card[token]`). Once
    /// per attempt: a token is single-use, and a retry with the same
    /// idempotency key gets the first answer. A token Stripe refuses (spent,
    /// unknown, a card it declines) is a decline the traveller can retry
    /// with another card.
    async fn card_from_token(
        &self,
        booking: Uuid,
        attempt: i32,
        token: &str,
    ) -> Result<String, StepResult<Outcome>> {
        let request = CardFromToken {
            kind: "card",
            card: TokenRef { token },
        };
        match self
            .send_step::<MethodId>(&request, booking, "payment-method", attempt)
            .await
        {
            Ok(method) => Ok(method.id),
            Err(e) => Err(match decline(&e, false) {
                Some(d) => Ok(Outcome::Declined(d)),
                None => match &e {
                    StripeError::Stripe(_, 400 | 404) => Ok(Outcome::Declined(payment_error(
                        "invalid_payment_method".to_owned(),
                        None,
                    ))),
                    _ => Err(stripe_failure("use the card token", &e)),
                },
            }),
        }
    }

    /// Capture the attempt's authorization. Done once: a retry, or an intent
    /// Stripe already shows as captured, is a success.
    #[tracing::instrument(skip_all, fields(booking_id = %input.booking_id, attempt = input.attempt))]
    pub async fn capture(&self, input: &PaymentRef) -> StepResult<()> {
        let (booking, attempt) = parse_ref(input.booking_id, input.attempt)?;
        let mut tx = self.db.begin().await?;
        let (row, intent_id) = existing_intent(&mut tx, booking, attempt).await?;
        match row.status()? {
            AttemptStatus::Captured => return Ok(()),
            AttemptStatus::Cancelled => {
                return Err(StepError::business(
                    Failure::PaymentRejected,
                    format!("payment attempt {attempt} was cancelled; nothing to capture"),
                ));
            }
            // A webhook may have reported an authorization this step never
            // saw: Stripe decides.
            _ => {}
        }

        let outcome = self
            .settle(tx, Settle::Capture, (booking, attempt), &intent_id)
            .await?;
        match outcome {
            Outcome::Captured => {
                tracing::info!(payment_intent = %intent_id, "payment captured");
                Ok(())
            }
            Outcome::Cancelled => Err(StepError::business(
                Failure::PaymentRejected,
                format!("PaymentIntent {intent_id} was cancelled; nothing to capture"),
            )),
            Outcome::Pending(status) => Err(StepError::transient(format!(
                "PaymentIntent {intent_id} is {status} after capture"
            ))),
            Outcome::Authorized
            | Outcome::Open
            | Outcome::Declined(_)
            | Outcome::RequiresAction(_) => Err(StepError::business(
                Failure::PaymentRejected,
                format!("PaymentIntent {intent_id} is not authorized; nothing to capture"),
            )),
        }
    }

    /// Cancel the attempt's intent unless it was captured. No attempt, no
    /// intent, or already cancelled: nothing to do.
    #[tracing::instrument(skip_all, fields(booking_id = %input.booking_id, attempt = input.attempt))]
    pub async fn cancel(&self, input: &PaymentRef) -> StepResult<()> {
        let (booking, attempt) = parse_ref(input.booking_id, input.attempt)?;
        let mut tx = self.db.begin().await?;
        let Some(row) = lock_attempt(&mut tx, booking, attempt).await? else {
            return Ok(());
        };
        let Some(intent_id) = row.payment_intent_id.clone() else {
            return Ok(());
        };
        let outcome = match row.status()? {
            AttemptStatus::Cancelled => return Ok(()),
            AttemptStatus::Captured => Outcome::Captured,
            _ => {
                self.settle(tx, Settle::Cancel, (booking, attempt), &intent_id)
                    .await?
            }
        };
        match outcome {
            Outcome::Cancelled => {
                tracing::info!(payment_intent = %intent_id, "PaymentIntent cancelled");
                Ok(())
            }
            Outcome::Captured => {
                tracing::warn!(payment_intent = %intent_id, "not cancelling a captured payment");
                Ok(())
            }
            _ => Err(StepError::transient(format!(
                "PaymentIntent {intent_id} is not cancelled after cancel"
            ))),
        }
    }

    /// Send the attempt's `step` for its intent `intent_id` and read
    /// the intent's outcome. When Stripe refuses, a run whose answer was
    /// lost may have done the step already: the intent's own outcome is the
    /// answer if the step accepts it, else the refusal is. A captured or
    /// cancelled intent is recorded, and `tx` commits.
    async fn settle(
        &self,
        tx: Transaction<'_, Postgres>,
        step: Settle,
        (booking, attempt): (Uuid, i32),
        intent_id: &str,
    ) -> StepResult<Outcome> {
        let key = step.key();
        let sent = match step {
            Settle::Capture => {
                let capture = CapturePaymentIntent::new(intent_id);
                self.send_step::<Intent>(&capture, booking, key, attempt)
                    .await
            }
            Settle::Cancel => {
                let cancel = CancelPaymentIntent::new(intent_id);
                self.send_step::<Intent>(&cancel, booking, key, attempt)
                    .await
            }
        };
        let outcome = match sent {
            Ok(intent) => Outcome::of(&intent),
            Err(e) => match self.retrieve(intent_id).await {
                Ok(intent) if step.settled(&Outcome::of(&intent)) => Outcome::of(&intent),
                _ => return Err(stripe_failure(step.what(), &e)),
            },
        };
        let status = match outcome {
            Outcome::Captured => AttemptStatus::Captured,
            Outcome::Cancelled => AttemptStatus::Cancelled,
            _ => return Ok(outcome),
        };
        commit_status(tx, booking, attempt, status).await?;
        Ok(outcome)
    }
}

/// The two steps that settle an authorized intent.
#[derive(Debug, Clone, Copy)]
enum Settle {
    Capture,
    Cancel,
}

impl Settle {
    /// The step's name in its idempotency key.
    fn key(self) -> &'static str {
        match self {
            Settle::Capture => "capture",
            Settle::Cancel => "cancel",
        }
    }

    /// What failed, when Stripe refused the step.
    fn what(self) -> &'static str {
        match self {
            Settle::Capture => "capture the payment",
            Settle::Cancel => "cancel the PaymentIntent",
        }
    }

    /// Whether the intent's outcome, read after Stripe refused the step,
    /// is the step's answer.
    fn settled(self, outcome: &Outcome) -> bool {
        match self {
            // Already captured by a run whose answer was lost, or not
            // capturable at all: the intent tells which.
            Settle::Capture => *outcome != Outcome::Authorized,
            // Cancelled or captured by a run whose answer was lost.
            Settle::Cancel => matches!(outcome, Outcome::Cancelled | Outcome::Captured),
        }
    }
}

/// `POST /v1/payment_methods` `type=card&card[token]=…`.
#[derive(serde::Serialize)]
struct CardFromToken<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    card: TokenRef<'a>,
}

#[derive(serde::Serialize)]
struct TokenRef<'a> {
    token: &'a str,
}

/// The id of the PaymentMethod Stripe made.
#[derive(miniserde::Deserialize)]
struct MethodId {
    id: String,
}

impl StripeRequest for CardFromToken<'_> {
    type Output = MethodId;

    fn build(&self) -> RequestBuilder {
        RequestBuilder::new(StripeMethod::Post, "/payment_methods").form(self)
    }
}
