//! The booking database: the read model and its append-only event log, and
//! e-ticket numbers. Every write is idempotent: a retried record is a no-op
//! or an upsert that never goes back in time.

use std::time::Duration;
use workflows::activities::{EmailFailed, EmailFailure, EmailKind};
use workflows::contract::{BookingId, BookingState};

use sqlx::PgPool;

use crate::error::StepResult;

/// The booking records' migrations (`migrations/booking`): the read model,
/// event log, payments, refunds, tickets, notifications. The gateway's
/// tables in the same database are the gateway's (`api migrate`).
pub fn migrations() -> sqlx::migrate::Migrator {
    sqlx::migrate!("../migrations/booking")
}

/// Counter of booking transitions, labelled with the status entered:
/// bookings by outcome are its `confirmed`, `expired`, `cancelled`,
/// `failed` and `completed` series.
pub const TRANSITIONS: &str = "booking_transitions_total";

/// Counter of emails the mailer gave up on, by `kind` and `cause`
/// (`rejected`, `out_of_budget`); each email counted once.
pub const EMAILS_FAILED: &str = "booking_emails_failed_total";

/// Every series of [`EMAILS_FAILED`] at zero, so that a first failure is an
/// increase Prometheus can see (called once the recorder is installed).
pub fn register_email_failures() {
    for kind in EmailKind::ALL {
        for cause in [EmailFailure::Rejected, EmailFailure::OutOfBudget] {
            metrics::counter!(EMAILS_FAILED, "kind" => kind.as_str(), "cause" => cause.as_str())
                .absolute(0);
        }
    }
}

/// Bookings found stuck by [`Records::stuck`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stuck {
    pub payment_window_passed: i64,
    pub confirming_too_long: i64,
    /// Bookings in `needs_attention`: ops must act on each.
    pub needs_attention: i64,
}

/// The 3-digit airline prefix of our e-ticket numbers.
const TICKET_PREFIX: &str = "176";

#[derive(Clone)]
pub struct Records {
    pool: PgPool,
}

impl Records {
    pub fn new(pool: PgPool) -> Self {
        Records { pool }
    }

    /// Upserts the read model (only forward: `version` is the state's
    /// revision, and an older one never overwrites a newer one) and appends
    /// the transitions not yet in the event log.
    #[tracing::instrument(skip_all, fields(booking_id = %b.booking_id, status = %b.status))]
    pub async fn record(&self, b: &BookingState) -> StepResult<()> {
        let id = b.booking_id.uuid();
        let version = b.revision as i32;
        let state = serde_json::to_value(b).map_err(anyhow::Error::from)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "insert into booking (booking_id, booking_ref, user_id, flight_id, flight_number,
                departure_time, status, seats, total_amount, currency, contact_email, passengers,
                payment_intent_id, payment_due_at, ticket_numbers, failure_reason, refund_id,
                refund_amount, state, version, outcome)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                $18, $19, $20, $21)
             on conflict (booking_id) do update set
                flight_number = excluded.flight_number,
                departure_time = excluded.departure_time,
                status = excluded.status,
                seats = excluded.seats,
                total_amount = excluded.total_amount,
                currency = excluded.currency,
                payment_intent_id = excluded.payment_intent_id,
                payment_due_at = excluded.payment_due_at,
                ticket_numbers = excluded.ticket_numbers,
                failure_reason = excluded.failure_reason,
                outcome = excluded.outcome,
                refund_id = excluded.refund_id,
                refund_amount = excluded.refund_amount,
                state = excluded.state,
                version = excluded.version,
                updated_at = now()
             where booking.version < excluded.version",
        )
        .bind(id)
        .bind(b.booking_ref.as_str())
        .bind(b.user_id.as_str())
        .bind(b.flight_id)
        .bind(b.flight.as_ref().map(|f| f.flight_number.as_str()))
        .bind(b.flight.as_ref().map(|f| f.departure_time))
        .bind(b.status.as_str())
        .bind(sqlx::types::Json(&b.seats))
        .bind(b.total.as_ref().map(|t| t.amount()))
        .bind(b.total.as_ref().map(|t| t.currency().to_string()))
        .bind(b.contact_email.as_str())
        .bind(sqlx::types::Json(&b.passengers))
        .bind(b.payment.payment_intent_id.as_deref())
        .bind(b.payment_due_at)
        .bind(sqlx::types::Json(&b.ticket_numbers))
        .bind(b.outcome.as_ref().and_then(|o| o.detail.as_deref()))
        .bind(b.payment.refund.as_ref().map(|r| r.refund_id.as_str()))
        .bind(b.payment.refund.as_ref().map(|r| r.amount.amount()))
        .bind(state)
        .bind(version)
        .bind(b.outcome.as_ref().map(|o| o.code.as_str()))
        .execute(&mut *tx)
        .await?;

        let seqs: Vec<i32> = (1..=b.history.len() as i32).collect();
        let statuses: Vec<&str> = b.history.iter().map(|t| t.status.as_str()).collect();
        let outcomes = || b.history.iter().map(|t| t.outcome.as_ref());
        let codes: Vec<Option<&str>> = outcomes().map(|o| o.map(|o| o.code.as_str())).collect();
        let details: Vec<Option<&str>> = outcomes()
            .map(|o| o.and_then(|o| o.detail.as_deref()))
            .collect();
        let ats: Vec<_> = b.history.iter().map(|t| t.at).collect();
        let entered: Vec<String> = sqlx::query_scalar(
            "insert into booking_event (booking_id, seq, status, outcome, reason, occurred_at)
             select $1, * from unnest($2::int[], $3::text[], $4::text[], $5::text[],
                                      $6::timestamptz[])
             on conflict (booking_id, seq) do nothing
             returning status",
        )
        .bind(id)
        .bind(seqs)
        .bind(statuses)
        .bind(codes)
        .bind(details)
        .bind(ats)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        // Counted once per transition: a retried record inserts no event.
        for status in entered {
            metrics::counter!(TRANSITIONS, "status" => status).increment(1);
        }
        Ok(())
    }

    /// Bookings that should have moved on and have not: awaiting payment
    /// longer than `payment_grace` past their due time (the expiry timer
    /// should have fired), and confirming for longer than `confirming_after`.
    pub async fn stuck(
        &self,
        payment_grace: Duration,
        confirming_after: Duration,
    ) -> sqlx::Result<Stuck> {
        let (payment_window_passed, confirming_too_long, needs_attention): (i64, i64, i64) =
            sqlx::query_as(
                "select
                count(*) filter (where status = 'awaiting_payment'
                    and payment_due_at < now() - make_interval(secs => $1)),
                count(*) filter (where status = 'confirming'
                    and updated_at < now() - make_interval(secs => $2)),
                count(*) filter (where status = 'needs_attention')
             from booking where status in ('awaiting_payment', 'confirming', 'needs_attention')",
            )
            .bind(payment_grace.as_secs_f64())
            .bind(confirming_after.as_secs_f64())
            .fetch_one(&self.pool)
            .await?;
        Ok(Stuck {
            payment_window_passed,
            confirming_too_long,
            needs_attention,
        })
    }

    /// Records an email the mailer gave up on; a retried record is a no-op
    /// and is not counted twice.
    #[tracing::instrument(skip_all, fields(booking_id = %f.booking_id, kind = f.kind.as_str()))]
    pub async fn email_failed(&self, f: &EmailFailed) -> StepResult<()> {
        let id = f.booking_id.uuid();
        let inserted = sqlx::query(
            "insert into email_failure (booking_id, email_key, kind, cause)
             values ($1, $2, $3, $4)
             on conflict (booking_id, email_key) do nothing",
        )
        .bind(id)
        .bind(&f.key)
        .bind(f.kind.as_str())
        .bind(f.cause.as_str())
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted > 0 {
            tracing::warn!(cause = f.cause.as_str(), "email given up");
            metrics::counter!(EMAILS_FAILED, "kind" => f.kind.as_str(), "cause" => f.cause.as_str())
                .increment(1);
        }
        Ok(())
    }

    /// The database answers.
    pub async fn ping(&self) -> sqlx::Result<()> {
        sqlx::query("select 1").execute(&self.pool).await.map(drop)
    }

    /// One e-ticket number per passenger, issued once per booking.
    #[tracing::instrument(skip_all, fields(booking_id = %booking_id))]
    pub async fn issue_tickets(
        &self,
        booking_id: BookingId,
        passengers: u32,
    ) -> StepResult<Vec<String>> {
        let id = booking_id.uuid();
        sqlx::query(
            "insert into ticket (booking_id, passenger_no, ticket_number)
             select $1, g, $3 || lpad(nextval('ticket_number_seq')::text, 10, '0')
             from generate_series(1, $2) g
             on conflict (booking_id, passenger_no) do nothing",
        )
        .bind(id)
        .bind(passengers as i32)
        .bind(TICKET_PREFIX)
        .execute(&self.pool)
        .await?;
        let numbers = sqlx::query_scalar(
            "select ticket_number from ticket where booking_id = $1 and passenger_no <= $2
             order by passenger_no",
        )
        .bind(id)
        .bind(passengers as i32)
        .fetch_all(&self.pool)
        .await?;
        Ok(numbers)
    }
}
