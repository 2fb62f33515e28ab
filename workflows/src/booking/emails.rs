//! The traveller's emails and texts: queued by the saga, sent by the
//! mailer and the texter beside it, recorded for ops when given up.

use std::time::Duration;

use temporalio_common::ActivityDefinition;
use temporalio_common::data_converters::TemporalDeserializable;
use temporalio_sdk::{ActivityExecutionError, WorkflowResult};

use crate::activities::{
    BookingActivities, EmailFailed, EmailFailure, EmailKind, SendEmail, SendSms, SmsFailed,
};

use super::execution::{Budget, business_failure, defined_ends, since, step_options};
use super::visibility::snapshot;
use super::{BookingWorkflow, Ctx, EMAILS_RECORDED};

/// Sends one email: inline before [`MAILS_APART`], else through the
/// mailer's queue (the booking's state as it is now goes with it).
pub(super) async fn email(ctx: &Ctx, kind: EmailKind, key: String) -> WorkflowResult<()> {
    let booking = snapshot(ctx);
    if ctx.state(|s| s.run.mails_apart) {
        ctx.state_mut(|s| {
            if s.notifications.texts {
                s.notifications.sms_queue.push_back(SendSms {
                    kind,
                    key: key.clone(),
                    booking: booking.clone(),
                });
            }
            if s.notifications.emails {
                s.notifications
                    .mail_queue
                    .push_back(SendEmail { kind, key, booking });
            }
        });
        return Ok(());
    }
    let mail = SendEmail { kind, key, booking };
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
    beside_saga(
        ctx,
        |s| !s.notifications.mail_queue.is_empty(),
        |s| s.notifications.mail_queue.pop_front(),
        send_email,
    )
    .await;
}

/// Waits for `queued` and sends what `next` takes with `send`, in order,
/// until the saga has ended and nothing is queued (or the workflow is
/// cancelled).
async fn beside_saga<T>(
    ctx: &Ctx,
    queued: fn(&BookingWorkflow) -> bool,
    next: fn(&mut BookingWorkflow) -> Option<T>,
    send: impl AsyncFn(&Ctx, T),
) {
    loop {
        if ctx
            .wait_condition(move |s| queued(s) || s.notifications.saga_done)
            .await
            .is_err()
        {
            return;
        }
        let Some(item) = ctx.state_mut(next) else {
            return;
        };
        send(ctx, item).await;
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
    let (booking_id, kind, key) = (mail.booking.booking_id, mail.kind, mail.key.clone());
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
    record_given_up(ctx, BookingActivities::record_email_failed, failed, summary).await;
}

/// Records a message given up, for ops (15 s an attempt, a day's budget).
/// Its own record failing past that leaves the log line and the
/// workflow's history as the trace.
async fn record_given_up<AD>(ctx: &Ctx, activity: AD, input: AD::Input, summary: String)
where
    AD: ActivityDefinition,
    AD::Output: TemporalDeserializable,
{
    let options = step_options(ctx, summary, Duration::from_secs(15), Budget::Record);
    let _ = ctx.execute_activity(activity, input, options).await;
}

/// Sends the saga's texts in order, beside it and apart from the emails,
/// until the saga has ended and the queue is empty ([`SMS_TEXTS`]); a
/// booking that does not text returns at once. Each text retries within
/// its budget (a day), then is recorded as given up.
pub(super) async fn texter(ctx: &Ctx) {
    let queued: fn(&BookingWorkflow) -> bool = |s| !s.notifications.sms_queue.is_empty();
    if ctx.state(|s| s.notifications.texts) {
        beside_saga(
            ctx,
            queued,
            |s| s.notifications.sms_queue.pop_front(),
            send_sms,
        )
        .await;
    }
}

/// The `send_sms` activity for one text (30 s an attempt, a day's
/// budget); past the budget, the `record_sms_failed` activity. A refusal
/// is recorded by `send_sms` itself.
pub(super) async fn send_sms(ctx: &Ctx, sms: SendSms) {
    let (booking_id, kind, key) = (sms.booking.booking_id, sms.kind, sms.key.clone());
    let summary = format!("SMS: {}", kind.as_str());
    let options = step_options(ctx, summary, Duration::from_secs(30), Budget::Record);
    let Err(e) = ctx
        .execute_activity(BookingActivities::send_sms, sms, options)
        .await
    else {
        return;
    };
    if business_failure(&e).is_some() {
        return;
    }
    let failed = SmsFailed {
        booking_id,
        kind,
        key,
    };
    let summary = format!("SMS {} failed: out_of_budget", kind.as_str());
    record_given_up(ctx, BookingActivities::record_sms_failed, failed, summary).await;
}
