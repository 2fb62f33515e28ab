//! Refunding a captured payment, at most once per booking: the `refund`
//! row is written and locked around the Stripe call, and a refund made by
//! a run whose answer was lost is found on Stripe before making another.

use stripe_core::refund::{CreateRefund, ListRefund};
use workflows::activities::RefundPayment;
use workflows::contract::{Failure, RefundInfo};

use super::answers::{Outcome, Refund, RefundList, stripe_failure};
use super::attempts::{AttemptStatus, existing_intent, set_status};
use super::{Payments, money, parse_ref, step_key};
use crate::error::{StepError, StepResult};

impl Payments {
    /// Refund the captured payment of this attempt in full, at most once
    /// per booking; a retry returns the recorded refund.
    #[tracing::instrument(skip_all, fields(booking_id = %input.booking_id, attempt = input.attempt))]
    pub async fn refund(&self, input: &RefundPayment) -> StepResult<RefundInfo> {
        let (booking, attempt) = parse_ref(input.booking_id, input.attempt)?;
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "insert into refund (booking_id, amount, currency) values ($1, $2, $3) \
             on conflict (booking_id) do nothing",
        )
        .bind(booking)
        .bind(input.amount.amount())
        .bind(input.amount.currency().to_string())
        .execute(&mut *tx)
        .await?;
        let recorded: (Option<String>, i64, String) = sqlx::query_as(
            "select refund_id, amount, currency from refund where booking_id = $1 for update",
        )
        .bind(booking)
        .fetch_one(&mut *tx)
        .await?;
        if let (Some(refund_id), amount, currency) = recorded {
            tx.commit().await?;
            return Ok(RefundInfo {
                refund_id,
                amount: money(amount, &currency)?,
            });
        }

        let (row, intent_id) = existing_intent(&mut tx, booking, attempt).await?;
        if row.status()? != AttemptStatus::Captured {
            let intent = self.retrieve(&intent_id).await?;
            if Outcome::of(&intent) != Outcome::Captured {
                return Err(StepError::business(
                    Failure::PaymentRejected,
                    format!(
                        "PaymentIntent {intent_id} is {}; nothing captured to refund",
                        intent.status
                    ),
                ));
            }
            set_status(&mut tx, booking, attempt, AttemptStatus::Captured, None).await?;
        }
        if input.amount.amount() != row.amount {
            tracing::warn!(
                requested = input.amount.amount(),
                captured = row.amount,
                "refunding the captured amount, not the requested one"
            );
        }

        // A refund made by a run whose answer was lost is the refund.
        let list = ListRefund::new().payment_intent(intent_id.as_str());
        let existing = self
            .send::<RefundList>(&list, None)
            .await
            .map_err(|e| stripe_failure("list the refunds", &e))?
            .data
            .into_iter()
            .next();
        let refund = match existing {
            Some(refund) => refund,
            None => {
                let create = CreateRefund::new().payment_intent(intent_id.as_str());
                self.send::<Refund>(&create, Some(step_key(booking, "refund", None)))
                    .await
                    .map_err(|e| stripe_failure("refund the payment", &e))?
            }
        };

        sqlx::query(
            "update refund set refund_id = $2, amount = $3, currency = $4 where booking_id = $1",
        )
        .bind(booking)
        .bind(&refund.id)
        .bind(refund.amount)
        .bind(&row.currency)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(payment_intent = %intent_id, refund = %refund.id, "payment refunded");
        Ok(RefundInfo {
            refund_id: refund.id,
            amount: money(refund.amount, &row.currency)?,
        })
    }
}
