//! Text messages through Kannel's `sendsms` HTTP interface, at most once
//! per booking and key thanks to the `sms_message` table; Kannel's
//! delivery reports, recorded on the message and in `sms_event`.
//!
//! Kannel is the small sender boundary: in production its `smsc = smpp`
//! group connects to the carrier; another provider would replace
//! [`Texter::send_to_gateway`] alone (README, "SMS").

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use uuid::Uuid;
use workflows::activities::{SendSms, SmsFailed};
use workflows::contract::{Failure, PhoneNumber};

use crate::error::{StepError, StepResult};

pub mod text;

pub use text::{Coding, Text, render};

/// Counter of text messages by `kind` and `status` (sent, then each
/// delivery report's, or a failure).
pub const SMS_METRIC: &str = "booking_sms_total";

/// Every status [`SMS_METRIC`] counts.
pub const SMS_STATUSES: [&str; 7] = [
    "sent",
    "accepted",
    "buffered",
    "delivered",
    "failed",
    "rejected",
    "out_of_budget",
];

/// Every series of [`SMS_METRIC`] at zero, so that a first text of a kind
/// and status is an increase Prometheus can see (called once the recorder
/// is installed).
pub fn register_metrics() {
    for kind in workflows::activities::EmailKind::ALL {
        for status in SMS_STATUSES {
            metrics::counter!(SMS_METRIC, "kind" => kind.as_str(), "status" => status).absolute(0);
        }
    }
}

/// Where and how to send texts. `Debug` never shows the secrets.
#[derive(Debug, Clone)]
pub struct SmsConfig {
    /// Kannel's sendsms URL, e.g. `http://127.0.0.1:13013/cgi-bin/sendsms`.
    pub sendsms_url: String,
    pub username: String,
    pub password: SecretString,
    /// The sender id travellers see (at most 11 letters and digits).
    pub sender: String,
    /// Where Kannel posts delivery reports: the worker's HTTP endpoint,
    /// `<base>/sms/dlr/<token>`.
    pub dlr_base_url: String,
    pub dlr_token: SecretString,
    pub timeout: Duration,
}

/// Sends the booking texts. Cheap to clone.
#[derive(Clone)]
pub struct Texter {
    http: reqwest::Client,
    config: SmsConfig,
    pool: PgPool,
}

impl std::fmt::Debug for Texter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Texter")
            .field("sendsms_url", &self.config.sendsms_url)
            .finish_non_exhaustive()
    }
}

/// A delivery report as Kannel reports it (`%d`): 1 delivered, 2 failed
/// (undeliverable), 4 buffered by the SMSC, 8 accepted by the SMSC, 16
/// rejected by the SMSC.
pub fn dlr_status(dlr_type: u32) -> Option<&'static str> {
    Some(match dlr_type {
        1 => "delivered",
        2 | 16 => "failed",
        4 => "buffered",
        8 => "accepted",
        _ => return None,
    })
}

impl Texter {
    pub fn new(config: &SmsConfig, pool: PgPool) -> anyhow::Result<Self> {
        anyhow::ensure!(
            !config.sender.is_empty()
                && config.sender.len() <= 11
                && config.sender.bytes().all(|b| b.is_ascii_alphanumeric()),
            "SMS_SENDER {:?}: 1 to 11 ASCII letters and digits",
            config.sender
        );
        let http = reqwest::Client::builder().timeout(config.timeout).build()?;
        Ok(Texter {
            http,
            config: config.clone(),
            pool,
        })
    }

    /// Send one text, at most once per booking and key: the `sms_message`
    /// row is written first, then locked while the text goes to Kannel, so
    /// a retry or a concurrent run of the same step waits and then finds it
    /// sent, and so does a delivery report that beats the commit.
    #[tracing::instrument(
        name = "send_sms",
        skip_all,
        fields(booking_id = %input.booking.booking_id, kind = input.kind.as_str(), key = %input.key),
    )]
    pub async fn send(&self, input: &SendSms) -> StepResult<()> {
        let booking = &input.booking;
        let booking_id = booking.booking_id.uuid();
        let Some(phone) = booking.contact_phone.as_ref().map(PhoneNumber::as_str) else {
            return Err(StepError::business(
                Failure::SmsRejected,
                "the booking has no contact phone",
            ));
        };
        let text = render(input.kind, booking);

        sqlx::query(
            "insert into sms_message (booking_id, sms_key, kind, message_id, recipient_hint, \
             coding, segments) values ($1, $2, $3, $4, $5, $6, $7) \
             on conflict (booking_id, sms_key) do nothing",
        )
        .bind(booking_id)
        .bind(&input.key)
        .bind(input.kind.as_str())
        .bind(Uuid::new_v4())
        .bind(recipient_hint(phone))
        .bind(text.coding.as_str())
        .bind(i16::try_from(text.segments).unwrap_or(i16::MAX))
        .execute(&self.pool)
        .await?;
        // The row is committed before the text goes out and locked while it
        // does: a delivery report arriving meanwhile waits for the lock
        // (an uncommitted row would be invisible to it, and its report lost).
        let mut tx = self.pool.begin().await?;
        let (message_id, status): (Uuid, String) = sqlx::query_as(
            "select message_id, status from sms_message \
             where booking_id = $1 and sms_key = $2 for update",
        )
        .bind(booking_id)
        .bind(&input.key)
        .fetch_one(&mut *tx)
        .await?;
        if status != "sending" {
            tracing::info!(
                status,
                "text already handed to Kannel, refused or given up; not sending it again"
            );
            tx.rollback().await?;
            return Ok(());
        }

        let refused = match self.send_to_gateway(phone, &text, message_id).await {
            Ok(()) => None,
            Err(SendError::Refused(why)) => Some(why),
            Err(SendError::Transient(e)) => return Err(StepError::Transient(e)),
        };
        let status = if refused.is_some() {
            "rejected"
        } else {
            "sent"
        };
        record_status(&mut tx, message_id, status, refused.as_deref()).await?;
        tx.commit().await?;
        metrics::counter!(SMS_METRIC, "kind" => input.kind.as_str(), "status" => status)
            .increment(1);
        if let Some(why) = refused {
            return Err(StepError::business(
                Failure::SmsRejected,
                format!("the SMS gateway refused the text: {why}"),
            ));
        }
        tracing::info!(%message_id, coding = text.coding.as_str(), segments = text.segments, "text sent");
        Ok(())
    }

    /// One `sendsms` request. Kannel answers 202 when it took the message;
    /// 4xx when it refuses the request (a number it will not send to,
    /// 400), except 403 (our credentials: fixed by configuration, so
    /// retried); anything else is transient.
    async fn send_to_gateway(
        &self,
        phone: &str,
        text: &Text,
        message_id: Uuid,
    ) -> Result<(), SendError> {
        let dlr_url = format!(
            "{}/sms/dlr/{}?id={message_id}&type=%d",
            self.config.dlr_base_url.trim_end_matches('/'),
            self.config.dlr_token.expose_secret()
        );
        let coding = match text.coding {
            Coding::Gsm7 => "0",
            Coding::Ucs2 => "2",
        };
        let answer = self
            .http
            .get(&self.config.sendsms_url)
            .query(&[
                ("username", self.config.username.as_str()),
                ("password", self.config.password.expose_secret()),
                ("from", self.config.sender.as_str()),
                ("to", phone),
                ("text", text.body.as_str()),
                ("charset", "UTF-8"),
                ("coding", coding),
                ("dlr-mask", "31"),
                ("dlr-url", dlr_url.as_str()),
            ])
            .send()
            .await
            .map_err(|e| {
                // Never the URL: it carries the password.
                SendError::Transient(anyhow::anyhow!(
                    "the SMS gateway is out of reach: {}",
                    e.without_url()
                ))
            })?;
        let status = answer.status();
        let body = answer.text().await.unwrap_or_default();
        let body = body.trim();
        if status.is_success() {
            return Ok(());
        }
        if status.is_client_error() && status != reqwest::StatusCode::FORBIDDEN {
            return Err(SendError::Refused(format!("{status}: {body}")));
        }
        Err(SendError::Transient(anyhow::anyhow!(
            "the SMS gateway answered {status}: {body}"
        )))
    }

    /// Record a text the worker gave up on (Kannel out of reach past the
    /// text's budget), once per booking and key.
    pub async fn failed(&self, input: &SmsFailed) -> StepResult<()> {
        let booking_id = input.booking_id.uuid();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "insert into sms_message (booking_id, sms_key, kind, message_id) \
             values ($1, $2, $3, $4) on conflict (booking_id, sms_key) do nothing",
        )
        .bind(booking_id)
        .bind(&input.key)
        .bind(input.kind.as_str())
        .bind(Uuid::new_v4())
        .execute(&mut *tx)
        .await?;
        // Only a text still waiting to go is given up (and counted) once; one
        // an attempt still running sent meanwhile stays sent.
        let waiting: Option<Uuid> = sqlx::query_scalar(
            "select message_id from sms_message \
             where booking_id = $1 and sms_key = $2 and status = 'sending' for update",
        )
        .bind(booking_id)
        .bind(&input.key)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(message_id) = waiting else {
            return Ok(());
        };
        let why = "the SMS gateway stayed out of reach";
        record_status(&mut tx, message_id, "out_of_budget", Some(why)).await?;
        tx.commit().await?;
        metrics::counter!(SMS_METRIC, "kind" => input.kind.as_str(), "status" => "out_of_budget")
            .increment(1);
        Ok(())
    }
}

impl Texter {
    /// Whether `token` is the delivery report URL's secret (constant time).
    pub fn dlr_token_matches(&self, token: &str) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(
            token
                .as_bytes()
                .ct_eq(self.config.dlr_token.expose_secret().as_bytes()),
        )
    }

    /// Records one of Kannel's delivery reports ([`record_report`]).
    pub async fn report(&self, message_id: Uuid, dlr_type: u32) -> StepResult<Report> {
        record_report(&self.pool, message_id, dlr_type).await
    }
}

/// What a delivery report did.
#[derive(Debug, PartialEq, Eq)]
pub enum Report {
    /// Recorded; the message's status is now this.
    Recorded(String),
    /// No such message (a report for a message we never sent).
    Unknown,
}

/// Records one delivery report on its message: an event always, the
/// status unless the message already reached a final one (reports can
/// arrive out of order; `delivered` and `failed` are final).
pub async fn record_report(pool: &PgPool, message_id: Uuid, dlr_type: u32) -> StepResult<Report> {
    let Some(status) = dlr_status(dlr_type) else {
        return Err(StepError::business(
            Failure::SmsRejected,
            format!("unknown delivery report type {dlr_type}"),
        ));
    };
    let mut tx = pool.begin().await?;
    let row: Option<(String, String)> =
        sqlx::query_as("select status, kind from sms_message where message_id = $1 for update")
            .bind(message_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((current, kind)) = row else {
        return Ok(Report::Unknown);
    };
    sqlx::query("insert into sms_event (message_id, status, detail) values ($1, $2, $3)")
        .bind(message_id)
        .bind(status)
        .bind(format!("delivery report type {dlr_type}"))
        .execute(&mut *tx)
        .await?;
    let now = if matches!(current.as_str(), "delivered" | "failed" | "rejected") {
        current
    } else {
        sqlx::query("update sms_message set status = $2, updated_at = now() where message_id = $1")
            .bind(message_id)
            .bind(status)
            .execute(&mut *tx)
            .await?;
        status.to_owned()
    };
    tx.commit().await?;
    metrics::counter!(SMS_METRIC, "kind" => kind, "status" => status).increment(1);
    Ok(Report::Recorded(now))
}

async fn record_status(
    tx: &mut sqlx::PgConnection,
    message_id: Uuid,
    status: &str,
    detail: Option<&str>,
) -> StepResult<()> {
    sqlx::query("update sms_message set status = $2, updated_at = now() where message_id = $1")
        .bind(message_id)
        .bind(status)
        .execute(&mut *tx)
        .await?;
    sqlx::query("insert into sms_event (message_id, status, detail) values ($1, $2, $3)")
        .bind(message_id)
        .bind(status)
        .bind(detail)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

enum SendError {
    Refused(String),
    Transient(anyhow::Error),
}

/// `+44•••••••456`: enough for ops to tell two numbers apart, never the
/// number (it is personal data).
fn recipient_hint(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().collect();
    let keep_end = 3.min(digits.len());
    let keep_start = 3.min(digits.len() - keep_end);
    let hidden = digits.len() - keep_end - keep_start;
    format!(
        "{}{}{}",
        digits[..keep_start].iter().collect::<String>(),
        "•".repeat(hidden),
        digits[digits.len() - keep_end..].iter().collect::<String>()
    )
}
