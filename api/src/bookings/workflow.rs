//! The gateway's side of the booking workflow: start it and wait for the
//! hold in one round trip, query it, send it updates. Temporal's errors
//! become the gateway's.

use booking_workflows::BookingWorkflow;
use booking_workflows::contract::{
    BookingInput, BookingState, CancelRequest, PaymentRequest, reasons, workflow_id,
};
use temporalio_client::errors::{
    WorkflowInteractionError, WorkflowQueryError, WorkflowStartError, WorkflowUpdateError,
    WorkflowUpdateWithStartError,
};
use temporalio_client::tonic::Code;
use temporalio_client::{
    WorkflowExecuteUpdateOptions, WorkflowIdConflictPolicy, WorkflowIdReusePolicy,
    WorkflowQueryOptions, WorkflowUpdateWithStartOptions,
};

use crate::app::AppState;
use crate::error::Error;

/// Times a call to Temporal: `gateway_temporal_call_seconds{call}`
/// (`start_and_hold`, `submit_payment`, `cancel`) shows how much of a
/// request's time is the workflow's; the rest is the gateway's.
async fn timed<T>(call: &'static str, f: impl std::future::Future<Output = T>) -> T {
    let start = std::time::Instant::now();
    let out = f.await;
    metrics::histogram!("gateway_temporal_call_seconds", "call" => call)
        .record(start.elapsed().as_secs_f64());
    out
}

/// Starts the booking (or joins the one already running under this id) and
/// answers once the seats are held or refused.
pub async fn start_and_hold(state: &AppState, input: BookingInput) -> Result<BookingState, Error> {
    let id = workflow_id(&input.booking_id);
    let attributes = booking_workflows::initial_search_attributes(&input);
    let summary = booking_workflows::start_summary(&input);
    let options = WorkflowUpdateWithStartOptions::new(
        state.config.bookings.task_queue.clone(),
        id.clone(),
        // A concurrent duplicate joins the running workflow...
        WorkflowIdConflictPolicy::UseExisting,
    )
    // ...and a retry after it closed reads it instead of starting another.
    .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
    .search_attributes(attributes)
    .static_summary(summary)
    .build();
    let started = timed(
        "start_and_hold",
        state.temporal.execute_update_with_start_workflow(
            BookingWorkflow::run,
            input,
            BookingWorkflow::wait_for_hold,
            (),
            options,
        ),
    )
    .await;
    match started {
        Ok(held) => Ok(held),
        Err(WorkflowUpdateWithStartError::Start(WorkflowStartError::AlreadyStarted { .. })) => {
            status(state, &id).await
        }
        Err(e) => Err(temporal_error(
            "starting the booking",
            &e,
            grpc_code_of_start(&e),
        )),
    }
}

/// The live state, from the workflow itself.
pub async fn status(state: &AppState, workflow_id: &str) -> Result<BookingState, Error> {
    state
        .temporal
        .get_workflow_handle::<BookingWorkflow>(workflow_id)
        .query(BookingWorkflow::status, (), WorkflowQueryOptions::default())
        .await
        .map_err(|e| match e {
            WorkflowQueryError::NotFound(_) => Error::NotFound("booking"),
            WorkflowQueryError::Rpc(ref s) => {
                temporal_error("querying the booking", &e, Some(s.code()))
            }
            other => temporal_error("querying the booking", &other, None),
        })
}

/// A traveller's call on a booking, sent to its workflow as an update.
pub enum Call {
    /// Pay with this Stripe payment method.
    Pay(String),
    /// Cancel, for this reason.
    Cancel(Option<String>),
}

impl Call {
    /// Its update id's prefix, its `gateway_temporal_call_seconds` label,
    /// and what it does (for the logs).
    fn names(&self) -> (&'static str, &'static str, &'static str) {
        match self {
            Call::Pay(_) => ("payment", "submit_payment", "paying for the booking"),
            Call::Cancel(_) => ("cancel", "cancel", "cancelling the booking"),
        }
    }
}

/// Sends `call` to the booking's workflow and waits for its answer. The
/// update id is derived from the client's `Idempotency-Key`, so a retried
/// call attaches to the update already accepted (and gets its answer)
/// instead of starting another.
pub async fn update(
    state: &AppState,
    workflow_id: &str,
    call: Call,
    key: &str,
) -> Result<BookingState, Error> {
    let handle = state
        .temporal
        .get_workflow_handle::<BookingWorkflow>(workflow_id);
    let (prefix, label, what) = call.names();
    let options = WorkflowExecuteUpdateOptions::builder()
        .update_id(format!("{prefix}:{key}"))
        .build();
    let answer = match call {
        Call::Pay(payment_method) => {
            let payment = PaymentRequest { payment_method };
            let update = handle.execute_update(BookingWorkflow::submit_payment, payment, options);
            timed(label, update).await
        }
        Call::Cancel(reason) => {
            let cancel = CancelRequest { reason };
            let update = handle.execute_update(BookingWorkflow::cancel, cancel, options);
            timed(label, update).await
        }
    };
    answer.map_err(|e| update_error(what, e))
}

pub async fn signal_payment_authorized(
    state: &AppState,
    booking_id: &str,
    payment_intent_id: String,
) -> Result<(), WorkflowInteractionError> {
    state
        .temporal
        .get_workflow_handle::<BookingWorkflow>(workflow_id(booking_id))
        .signal(
            BookingWorkflow::payment_authorized,
            booking_workflows::contract::PaymentAuthorized { payment_intent_id },
            Default::default(),
        )
        .await
}

/// An update the workflow refused (its validator said no, or it has
/// closed) is a conflict with the booking's state; anything else is ours.
fn update_error(what: &str, e: WorkflowUpdateError) -> Error {
    match e {
        WorkflowUpdateError::Failed(failure) => {
            if failure.message.starts_with(reasons::CONFIRMING) {
                return Error::conflict(
                    reasons::CONFIRMING,
                    "the booking is being confirmed; try again in a few seconds",
                );
            }
            if failure.message.starts_with(reasons::PAYMENT_IN_PROGRESS) {
                return Error::conflict(
                    reasons::PAYMENT_IN_PROGRESS,
                    "a payment for this booking is being processed; retry with the same Idempotency-Key to get its answer",
                );
            }
            Error::conflict("invalid_state", failure.message.clone())
        }
        WorkflowUpdateError::NotFound(_) => Error::conflict(
            "invalid_state",
            "the booking is closed; nothing can change it",
        ),
        WorkflowUpdateError::Rpc(ref s) => {
            let code = s.code();
            if code == Code::FailedPrecondition || code == Code::NotFound {
                Error::conflict(
                    "invalid_state",
                    "the booking is closed; nothing can change it",
                )
            } else {
                temporal_error(what, &e, Some(code))
            }
        }
        other => temporal_error(what, &other, None),
    }
}

fn grpc_code_of_start(e: &WorkflowUpdateWithStartError) -> Option<Code> {
    match e {
        WorkflowUpdateWithStartError::Rpc(s)
        | WorkflowUpdateWithStartError::Start(WorkflowStartError::Rpc(s))
        | WorkflowUpdateWithStartError::Update(WorkflowUpdateError::Rpc(s)) => Some(s.code()),
        _ => None,
    }
}

/// Temporal unreachable or overloaded is 503; anything else is logged as
/// an internal error.
fn temporal_error(what: &str, e: &dyn std::error::Error, code: Option<Code>) -> Error {
    match code {
        Some(Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted) => {
            tracing::warn!(error = %e, "{what}: Temporal unavailable");
            Error::Unavailable
        }
        _ => Error::Internal(anyhow::anyhow!("{what}: {e}")),
    }
}
