//! Stripe payments of a booking: one PaymentIntent (manual capture) per
//! payment attempt, authorized with the traveller's payment method, captured
//! on confirmation, cancelled or refunded otherwise.
//!
//! Every step is idempotent by booking id and step, twice over. Stripe gets
//! an idempotency key made of both. And since the local Stripe server ignores
//! those keys, and a key cannot make a concurrent duplicate wait anyway, each
//! step writes and locks its own row (`payment_attempt`, `refund`) in one
//! transaction around the Stripe call: a duplicate execution waits on the row
//! lock, then finds the result and does not call Stripe again. Where the row
//! cannot know (a response lost after Stripe acted), the step asks Stripe for
//! the intent's status before deciding.
//!
//! Responses are read into the few fields used here rather than into
//! async-stripe's resource types, which require fields that localstripe
//! leaves out (`amount_capturable`, `confirmation_method`, ...).
//!
//! Here: the client, its requests and the keys of the steps. The steps:
//! - [`intents`]: create, authorize, capture and cancel a PaymentIntent;
//! - [`refunds`]: refund a captured payment;
//! - [`answers`]: Stripe's answers and what they mean (an intent's
//!   outcome, a decline, a failure: transient or final);
//! - [`attempts`]: the `payment_attempt` ledger the steps lock.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use stripe::{IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_core::payment_intent::RetrievePaymentIntent;
use uuid::Uuid;
use workflows::contract::{BookingId, Failure, Money};

use crate::error::{StepError, StepResult};

mod answers;
mod attempts;
mod intents;
mod refunds;

use answers::{Intent, stripe_failure};

/// Counter of payment authorizations by `result` (`authorized`,
/// `declined`), one per payment attempt.
pub const AUTHORIZATIONS: &str = "booking_payment_authorizations_total";

/// The largest amount Stripe charges, in minor units (eight digits).
pub const MAX_AMOUNT: i64 = 99_999_999;

/// How to reach Stripe (or localstripe).
#[derive(Clone, Debug)]
pub struct StripeConfig {
    pub secret_key: SecretString,
    /// E.g. `http://127.0.0.1:8420` for localstripe; `None` is real Stripe.
    pub api_base: Option<String>,
    /// Per HTTP request.
    pub timeout: Duration,
}

/// The payment steps of the booking workflow.
#[derive(Clone)]
pub struct Payments {
    stripe: stripe::Client,
    db: PgPool,
}

impl fmt::Debug for Payments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Payments").finish_non_exhaustive()
    }
}

impl Payments {
    /// `pool` is the booking database (tables `payment_attempt`, `refund`).
    pub fn new(config: &StripeConfig, pool: PgPool) -> anyhow::Result<Self> {
        let mut builder = stripe::ClientBuilder::new(config.secret_key.expose_secret())
            .timeout(config.timeout)
            .app_info(
                env!("CARGO_PKG_NAME"),
                Some(env!("CARGO_PKG_VERSION").to_owned()),
                None,
            );
        if let Some(base) = &config.api_base {
            // The client appends `v1/...` to the base as it is.
            let base = if base.ends_with('/') {
                base.clone()
            } else {
                format!("{base}/")
            };
            builder = builder.url(base);
        }
        let stripe = builder
            .build()
            .map_err(|e| anyhow::anyhow!("invalid Stripe configuration: {e}"))?;
        Ok(Self { stripe, db: pool })
    }

    async fn retrieve(&self, intent_id: &str) -> StepResult<Intent> {
        self.send(&RetrievePaymentIntent::new(intent_id), None)
            .await
            .map_err(|e| stripe_failure("read the PaymentIntent", &e))
    }

    /// One request, with the step's idempotency key when it changes
    /// anything, read into `T`.
    async fn send<T: miniserde::Deserialize>(
        &self,
        request: &impl StripeRequest,
        idempotency_key: Option<String>,
    ) -> Result<T, StripeError> {
        let mut request = request.build().customize::<T>();
        if let Some(key) = idempotency_key {
            let key =
                IdempotencyKey::new(key).map_err(|e| StripeError::ConfigError(e.to_string()))?;
            request = request.request_strategy(RequestStrategy::Idempotent(key));
        }
        request.send(&self.stripe).await
    }

    /// [`Self::send`] as the step `step` of this payment attempt.
    async fn send_step<T: miniserde::Deserialize>(
        &self,
        request: &impl StripeRequest,
        booking: Uuid,
        step: &str,
        attempt: i32,
    ) -> Result<T, StripeError> {
        self.send(request, Some(step_key(booking, step, Some(attempt))))
            .await
    }
}

/// `booking-{booking id}-{step}[-{attempt}]`.
fn step_key(booking: Uuid, step: &str, attempt: Option<i32>) -> String {
    match attempt {
        Some(attempt) => format!("booking-{booking}-{step}-{attempt}"),
        None => format!("booking-{booking}-{step}"),
    }
}

fn parse_ref(booking_id: BookingId, attempt: u32) -> StepResult<(Uuid, i32)> {
    let booking = booking_id.uuid();
    let attempt = i32::try_from(attempt)
        .ok()
        .filter(|a| *a > 0)
        .ok_or_else(|| {
            StepError::business(
                Failure::PaymentRejected,
                format!("no payment attempt {attempt}"),
            )
        })?;
    Ok((booking, attempt))
}

/// An amount read back from our own records (written from a [`Money`]).
fn money(amount: i64, currency: &str) -> StepResult<Money> {
    domain::Currency::parse(currency)
        .and_then(|currency| Money::new(amount, currency))
        .map_err(|e| StepError::transient(format!("a recorded amount does not parse: {e}")))
}
