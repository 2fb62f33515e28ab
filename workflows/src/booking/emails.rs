//! The traveller's emails: queued by the saga, sent by the mailer beside
//! it, recorded for ops when given up.

use super::*;

/// Sends one email: inline before [`MAILS_APART`], else through the
/// mailer's queue (the booking's state as it is now goes with it).
pub(super) async fn email(ctx: &Ctx, kind: EmailKind, key: String) -> WorkflowResult<()> {
    let booking = snapshot(ctx);
    let mail = SendEmail { kind, key, booking };
    if ctx.state(|s| s.mails_apart) {
        ctx.state_mut(|s| s.mail_queue.push_back(mail));
        return Ok(());
    }
    match send(ctx, mail).await {
        Ok(()) => Ok(()),
        // A mailbox that refuses mail for good must not undo the booking;
        // nor may a mail server down for longer than the budget (its
        // failures show in the activity metrics and alerts).
        Err(e) if business_failure(&e).is_some() || defined_ends(ctx) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Sends the saga's emails in order, beside it, until the saga has ended
/// and the queue is empty. Each email retries within its budget (a day),
/// then is dropped: its failures show in the activity metrics and alerts.
/// A cancelled workflow's conditions end at once: the mailer stops, and
/// `run` sends the rest.
pub(super) async fn mailer(ctx: &Ctx) {
    loop {
        if ctx
            .wait_condition(|s| !s.mail_queue.is_empty() || s.saga_done)
            .await
            .is_err()
        {
            return;
        }
        let Some(mail) = ctx.state_mut(|s| s.mail_queue.pop_front()) else {
            return;
        };
        send_email(ctx, mail).await;
    }
}

/// The `send_email` activity for one email: 30 s an attempt, a day's budget.
async fn send(ctx: &Ctx, mail: SendEmail) -> Result<(), ActivityExecutionError> {
    let summary = format!("Email: {}", mail.kind.as_str());
    let options = step_options(ctx, summary, Duration::from_secs(30), Budget::Record);
    ctx.execute_activity(BookingActivities::send_email, mail, options)
        .await
}

pub(super) async fn send_email(ctx: &Ctx, mail: SendEmail) {
    let (booking_id, kind, key) = (mail.booking.booking_id.clone(), mail.kind, mail.key.clone());
    let Err(e) = send(ctx, mail).await else {
        return;
    };
    // Refused for good, or out of reach past the budget: the booking goes
    // on without it, and ops learn of it ([`EMAILS_RECORDED`]).
    if !since(ctx, EMAILS_RECORDED) {
        return;
    }
    let cause = if business_failure(&e).is_some() {
        EmailFailure::Rejected
    } else {
        EmailFailure::OutOfBudget
    };
    let failed = EmailFailed {
        booking_id,
        kind,
        key,
        cause,
    };
    let summary = format!("Email {} failed: {}", kind.as_str(), cause.as_str());
    // Its own record failing past a day's budget leaves the log line and
    // the workflow's history as the trace.
    let options = step_options(ctx, summary, Duration::from_secs(15), Budget::Record);
    let _ = ctx
        .execute_activity(BookingActivities::record_email_failed, failed, options)
        .await;
}
