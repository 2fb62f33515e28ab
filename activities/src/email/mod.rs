//! The emails travellers get: rendered from templates (plain text and
//! HTML, [`render`]), sent here over SMTP with lettre's async transport, at
//! most once per booking and key thanks to the `notification` table.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::response::{Category, Severity};
use lettre::{Address, AsyncTransport, Message};
use sqlx::PgPool;
use uuid::Uuid;
use workflows::activities::SendEmail;
use workflows::contract::Failure;

use crate::error::{StepError, StepResult};

mod render;

use kit::mail::Outbox;
pub use kit::mail::{SmtpConfig, SmtpTls};
use render::try_render;
pub use render::{CHECK_IN_OPENS_BEFORE, Rendered, format_money, render};

/// Sends the booking emails. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Mailer {
    outbox: Outbox,
    pool: PgPool,
    /// The SMTP timeout, per command: what an attempt's claim outlasts.
    timeout: Duration,
}

impl Mailer {
    pub fn new(config: &SmtpConfig, pool: PgPool) -> anyhow::Result<Self> {
        Ok(Mailer {
            outbox: Outbox::new(config)?,
            pool,
            timeout: config.timeout,
        })
    }

    /// Send one email, at most once per booking and key: the `notification`
    /// row is claimed (committed, with a lease) before the message goes
    /// out and marked sent right after, so a retry or a concurrent
    /// run of the same step waits and then finds it sent.
    #[tracing::instrument(
        name = "send_email",
        skip_all,
        fields(booking_id = %input.booking.booking_id, kind = input.kind.as_str(), key = %input.key),
    )]
    pub async fn send(&self, input: &SendEmail) -> StepResult<()> {
        let booking = &input.booking;
        let booking_id = booking.booking_id.uuid();
        let to = Address::from_str(booking.contact_email.as_str()).map_err(|e| {
            StepError::business(
                Failure::EmailRejected,
                format!("the contact email is not a valid address: {e}"),
            )
        })?;

        // Rendered before the claim: a message that cannot be built never
        // holds a claim another attempt must wait out.
        let rendered = try_render(input.kind, booking).map_err(|e| {
            StepError::Transient(anyhow::Error::new(e).context("rendering the email"))
        })?;
        let message_id = message_id(&booking_id, &input.key, self.outbox.from.email.domain());
        let message = Message::builder()
            .from(self.outbox.from.clone())
            .to(Mailbox::new(None, to))
            .subject(rendered.subject)
            .message_id(Some(message_id.clone()))
            .date_now()
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))
            .map_err(|e| {
                StepError::Transient(anyhow::Error::new(e).context("building the email"))
            })?;

        // The claim, committed before the mail server is spoken to: an
        // attempt that finds the email sent stops; one that finds another
        // attempt's live claim waits for it to end. The lease outlasts
        // one SMTP conversation (connect, commands and data, each within
        // the timeout).
        let lease = self.timeout * 2 + Duration::from_secs(2);
        let waited = std::time::Instant::now();
        loop {
            if self.claim(booking_id, input, lease).await? {
                break;
            }
            let (sent, live): (Option<DateTime<Utc>>, bool) = sqlx::query_as(
                "select sent_at, coalesce(claimed_until > now(), false) from notification
                  where booking_id = $1 and notification_key = $2",
            )
            .bind(booking_id)
            .bind(&input.key)
            .fetch_one(&self.pool)
            .await?;
            if sent.is_some() {
                tracing::info!("email already sent; not sending it again");
                return Ok(());
            }
            if live && waited.elapsed() > lease {
                return Err(StepError::transient(
                    "another attempt is still sending this email",
                ));
            }
            if live {
                // Another attempt is talking to the mail server: its
                // answer comes within the lease.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }

        if let Err(e) = self.outbox.transport.send(message).await {
            // Not sent: the claim goes, so that the retry need not wait.
            let released = sqlx::query(
                "update notification set claimed_until = null
                  where booking_id = $1 and notification_key = $2 and sent_at is null",
            )
            .bind(booking_id)
            .bind(&input.key)
            .execute(&self.pool)
            .await;
            if let Err(release) = released {
                tracing::warn!(error = %release, "the email's claim was not released");
            }
            return Err(classify(e));
        }

        // The one write between the mail server's "accepted" and the
        // record of it: a crash in between is the only way an email goes
        // twice (with the same Message-ID).
        sqlx::query(
            "update notification set sent_at = now(), message_id = $3, claimed_until = null \
             where booking_id = $1 and notification_key = $2",
        )
        .bind(booking_id)
        .bind(&input.key)
        .bind(&message_id)
        .execute(&self.pool)
        .await?;
        tracing::info!(message_id, "email sent");
        Ok(())
    }

    /// Claims the email for this attempt, for `lease`: true unless it was
    /// sent already or another attempt's claim is still live. One
    /// statement, committed before the mail server is spoken to.
    async fn claim(
        &self,
        booking_id: Uuid,
        input: &SendEmail,
        lease: Duration,
    ) -> sqlx::Result<bool> {
        let claimed: Option<Uuid> = sqlx::query_scalar(
            "insert into notification (booking_id, notification_key, kind, recipient, claimed_until)
             values ($1, $2, $3, $4, now() + make_interval(secs => $5))
             on conflict (booking_id, notification_key) do update
                set claimed_until = excluded.claimed_until
              where notification.sent_at is null
                and (notification.claimed_until is null or notification.claimed_until <= now())
             returning booking_id",
        )
        .bind(booking_id)
        .bind(&input.key)
        .bind(input.kind.as_str())
        .bind(input.booking.contact_email.as_str())
        .bind(lease.as_secs_f64())
        .fetch_optional(&self.pool)
        .await?;
        Ok(claimed.is_some())
    }
}

/// A permanent (5xx) answer is a business failure: the server will refuse
/// the message again. Authentication failures (53x) are the exception: they
/// are our configuration, and retries succeed once it is fixed. Everything
/// else (4xx, connection, TLS, timeouts) is transient.
fn classify(e: lettre::transport::smtp::Error) -> StepError {
    match e.status() {
        Some(code)
            if code.severity == Severity::PermanentNegativeCompletion
                && code.category != Category::Unspecified3 =>
        {
            StepError::business(
                Failure::EmailRejected,
                format!("the mail server rejected the email: {e}"),
            )
        }
        _ => StepError::Transient(anyhow::Error::new(e).context("sending the email over SMTP")),
    }
}

/// `<booking-<booking id>.<key>@<sender domain>>`: the same for every
/// attempt at the same email, so a duplicate is recognisable. Characters of
/// the key outside `[A-Za-z0-9_-]` are written as `=XX`.
fn message_id(booking_id: &Uuid, key: &str, domain: &str) -> String {
    let mut key_part = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            key_part.push(char::from(b));
        } else {
            key_part.push_str(&format!("={b:02X}"));
        }
    }
    format!("<booking-{booking_id}.{key_part}@{domain}>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_is_derived_from_booking_and_key() {
        let id = Uuid::parse_str("6f1c1f5e-8a43-4c6e-9d59-0b1f3f0e2a11").unwrap();
        assert_eq!(
            message_id(&id, "schedule_change-2", "skyway.example"),
            "<booking-6f1c1f5e-8a43-4c6e-9d59-0b1f3f0e2a11.schedule_change-2@skyway.example>"
        );
        assert_eq!(
            message_id(&id, "a.b c", "skyway.example"),
            "<booking-6f1c1f5e-8a43-4c6e-9d59-0b1f3f0e2a11.a=2Eb=20c@skyway.example>"
        );
    }
}
