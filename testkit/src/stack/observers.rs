//! What a test reads back from the stack, one observer a service:
//! [`Mail`] (the SMTP sink's messages), [`Texts`] (what Kannel's fake SMSC
//! received), [`Stripe`] (localstripe, asked directly, not through the
//! relay) and [`BookingDb`] (the booking database's rows). The [`Stack`]
//! hands them out ([`Stack::mail`], [`Stack::texts`], [`Stack::stripe`],
//! [`Stack::db`]); the flight service's seats and holds are its own
//! ([`crate::flight_service::TestApp::seats_available`]).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::PgPool;
use workflows::contract::BookingState;

use super::{STRIPE_KEY, Stack};
use crate::fakes::{Received, card_form, json_answer, received_texts, wait_received_texts};

/// The messages the SMTP sink wrote, one `.eml` file each.
#[derive(Clone, Debug)]
pub struct Mail {
    pub dir: PathBuf,
}

impl Mail {
    /// Every message received so far, raw, in the order they arrived.
    pub fn all(&self) -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(&self.dir)
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
    pub fn about(&self, needle: &str) -> Vec<String> {
        self.all()
            .into_iter()
            .filter(|m| {
                m.lines()
                    .any(|l| l.starts_with("Subject:") && l.contains(needle))
            })
            .collect()
    }

    /// Waits until `count` messages with `needle` in the subject arrived
    /// (60 s at most), and returns those there are.
    pub async fn wait(&self, needle: &str, count: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mails = self.about(needle);
            if mails.len() >= count || Instant::now() > deadline {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The `token` of the link in the latest message to `to` whose subject
    /// contains `needle` (an account email), waiting up to 30 s for one.
    pub async fn link_token(&self, needle: &str, to: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = self
                .about(needle)
                .into_iter()
                .rev()
                .find_map(|raw| link_token_to(&raw, to));
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
}

/// The `token=` of the link in `raw`, if it is addressed to `to`.
fn link_token_to(raw: &str, to: &str) -> Option<String> {
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
}

/// What Kannel's fake SMSC received (its `messages.jsonl`).
#[derive(Clone, Debug)]
pub struct Texts {
    pub dir: PathBuf,
}

impl Texts {
    /// The texts received so far.
    pub fn all(&self) -> Vec<Received> {
        received_texts(&self.dir)
    }

    /// Waits until `n` texts arrived, and returns them.
    pub async fn wait(&self, n: usize) -> Vec<Received> {
        wait_received_texts(&self.dir, n).await
    }
}

/// localstripe, asked by the test itself (the worker's requests go
/// through [`super::stripe_proxy::StripeProxy`]).
#[derive(Clone, Debug)]
pub struct Stripe {
    pub url: String,
    http: reqwest::Client,
}

impl Stripe {
    pub fn new(url: String) -> Stripe {
        Stripe {
            url,
            http: reqwest::Client::new(),
        }
    }

    pub async fn get(&self, path: &str) -> Value {
        json_answer(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        json_answer(self.request(reqwest::Method::POST, path).form(form)).await
    }

    /// A request to localstripe with the tests' key.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.url))
            .basic_auth(STRIPE_KEY, Some(""))
    }

    /// A payment method for a card number.
    pub async fn payment_method(&self, card: &str) -> String {
        let body = self.post("/v1/payment_methods", &card_form(card)).await;
        body["id"].as_str().expect("payment method id").to_owned()
    }

    /// What a traveller's browser does with Stripe.js before it confirms
    /// the intent: a payment method for `card`, set on the intent.
    pub async fn set_card(&self, intent: &str, card: &str) {
        let pm = self.payment_method(card).await;
        let path = format!("/v1/payment_intents/{intent}");
        self.post(&path, &[("payment_method", &pm)]).await;
    }

    pub async fn intent(&self, id: &str) -> Value {
        self.get(&format!("/v1/payment_intents/{id}")).await
    }

    /// The PaymentIntent of this booking's payment (it must have one).
    pub async fn intent_of(&self, booking: &BookingState) -> Value {
        let id = booking.payment.payment_intent_id.as_deref();
        self.intent(id.expect("a PaymentIntent")).await
    }

    /// The refunds made for a PaymentIntent.
    pub async fn refunds(&self, intent: &str) -> Vec<Value> {
        let body = self
            .get(&format!("/v1/refunds?payment_intent={intent}"))
            .await;
        body["data"].as_array().cloned().unwrap_or_default()
    }
}

/// The stack's booking database (the worker's and the gateway's tables).
#[derive(Clone, Debug)]
pub struct BookingDb {
    pub url: String,
    pub pool: PgPool,
}

impl BookingDb {
    /// The read model's row for a booking: (status, version).
    pub async fn read_model(&self, booking_id: impl std::fmt::Display) -> Option<(String, i32)> {
        sqlx::query_as("select status, version from booking where booking_id = $1::uuid")
            .bind(booking_id.to_string())
            .fetch_optional(&self.pool)
            .await
            .unwrap()
    }

    /// The statuses the booking's events recorded, in order.
    pub async fn events(&self, booking_id: impl std::fmt::Display) -> Vec<String> {
        sqlx::query_scalar(
            "select status from booking_event where booking_id = $1::uuid order by seq",
        )
        .bind(booking_id.to_string())
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    /// The one number a query answers (a `count(*)`, say).
    pub async fn scalar(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }
}

impl Stack {
    /// A cancelled booking let go of its seats (the flight has `before`
    /// available again) and sent one cancellation email; returns that email.
    pub async fn assert_released_and_mailed(&self, flight_id: i64, before: i64) -> String {
        assert_eq!(self.flights.seats_available(flight_id).await, before);
        let mut mails = self.mail().wait("cancelled", 1).await;
        assert_eq!(mails.len(), 1, "one cancellation email");
        mails.remove(0)
    }
}
