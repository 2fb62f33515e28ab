//! The gateway's side of the booking workflow: start it and wait for the
//! hold in one round trip, query it, send it updates. Temporal's errors
//! become the gateway's.

use temporalio_client::errors::{
    WorkflowInteractionError, WorkflowQueryError, WorkflowStartError, WorkflowUpdateError,
    WorkflowUpdateWithStartError,
};
use temporalio_client::tonic::Code;
use temporalio_client::{
    WorkflowExecuteUpdateOptions, WorkflowIdConflictPolicy, WorkflowIdReusePolicy,
    WorkflowQueryOptions, WorkflowUpdateWithStartOptions,
};
use workflows::BookingWorkflow;
use workflows::contract::{
    BookingInput, BookingState, CancelRequest, PaymentMethodId, PaymentRequest, Refusal,
    workflow_id,
};

use crate::error::Error;
use crate::state::AppState;

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
    let id = workflow_id(input.booking_id);
    let attributes = workflows::initial_search_attributes(&input);
    let summary = workflows::start_summary(&input);
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
    Pay(PaymentMethodId),
    /// Cancel, for this reason.
    Cancel(CancelRequest),
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
        Call::Cancel(cancel) => {
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
            workflows::contract::PaymentAuthorized { payment_intent_id }.into(),
            Default::default(),
        )
        .await
}

pub async fn signal_payment_failed(
    state: &AppState,
    booking_id: &str,
    failure: workflows::contract::PaymentFailed,
) -> Result<(), WorkflowInteractionError> {
    state
        .temporal
        .get_workflow_handle::<BookingWorkflow>(workflow_id(booking_id))
        .signal(
            BookingWorkflow::payment_failed,
            failure.into(),
            Default::default(),
        )
        .await
}

/// An update the workflow refused (its validator said no, or it has
/// closed) is a conflict with the booking's state; a workflow whose task
/// is being retried (`WorkflowNotReady`, FailedPrecondition) or a Temporal
/// out of reach is transient (503, retry with the same key); anything else
/// is ours.
fn update_error(what: &str, e: WorkflowUpdateError) -> Error {
    match e {
        WorkflowUpdateError::Failed(failure) => match Refusal::of(&failure.message) {
            Some(Refusal::Confirming) => Error::conflict(
                Refusal::Confirming.as_str(),
                "the booking is being confirmed; try again in a few seconds",
            ),
            Some(Refusal::PaymentInProgress) => Error::conflict(
                Refusal::PaymentInProgress.as_str(),
                "a payment for this booking is being processed; retry with the same Idempotency-Key to get its answer",
            ),
            None => Error::conflict("invalid_state", failure.message.clone()),
        },
        WorkflowUpdateError::NotFound(_) => closed(),
        WorkflowUpdateError::Rpc(ref s) => temporal_error(what, &e, Some(s.code())),
        other => temporal_error(what, &other, None),
    }
}

/// A booking whose workflow has closed: nothing can change it.
fn closed() -> Error {
    Error::conflict(
        "invalid_state",
        "the booking is closed; nothing can change it",
    )
}

fn grpc_code_of_start(e: &WorkflowUpdateWithStartError) -> Option<Code> {
    match e {
        WorkflowUpdateWithStartError::Rpc(s)
        | WorkflowUpdateWithStartError::Start(WorkflowStartError::Rpc(s))
        | WorkflowUpdateWithStartError::Update(WorkflowUpdateError::Rpc(s)) => Some(s.code()),
        _ => None,
    }
}

/// Whether a gRPC answer from Temporal may change if the caller retries:
/// the server out of reach, overloaded or timing out, or the workflow not
/// ready for the request (its task is being retried after a worker crash:
/// `WorkflowNotReady` is FailedPrecondition, and the same call succeeds
/// once a worker completes the task). What is left is a request Temporal
/// will refuse every time (bad arguments, credentials, an unknown method):
/// ours to fix.
pub(crate) fn transient(code: Code) -> bool {
    !matches!(
        code,
        Code::Ok
            | Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::PermissionDenied
            | Code::Unauthenticated
            | Code::Unimplemented
            | Code::OutOfRange
    )
}

/// A transient answer is 503 (with `Retry-After`); anything else is logged
/// as an internal error.
fn temporal_error(what: &str, e: &dyn std::error::Error, code: Option<Code>) -> Error {
    match code {
        Some(code) if transient(code) => {
            tracing::warn!(error = %e, ?code, "{what}: Temporal busy or out of reach");
            Error::Unavailable
        }
        _ => Error::Internal(anyhow::anyhow!("{what}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;
    use temporalio_client::tonic::Status;

    /// The HTTP status and error code an update's failure becomes; a 503
    /// always says when to retry.
    async fn answer(e: WorkflowUpdateError) -> (u16, String) {
        let response = update_error("paying", e).into_response();
        let status = response.status().as_u16();
        let retry_after = response.headers().contains_key("retry-after");
        assert_eq!(retry_after, status == 503, "Retry-After exactly when 503");
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        (status, body["error"]["code"].as_str().unwrap().to_owned())
    }

    #[tokio::test]
    async fn every_grpc_code_of_an_update_maps_to_a_status() {
        let transient = [
            Code::Cancelled,
            Code::Unknown,
            Code::DeadlineExceeded,
            Code::ResourceExhausted,
            Code::FailedPrecondition,
            Code::Aborted,
            Code::Internal,
            Code::Unavailable,
            Code::DataLoss,
        ];
        for code in transient {
            let e = WorkflowUpdateError::Rpc(Status::new(code, "busy"));
            assert_eq!(answer(e).await, (503, "unavailable".to_owned()), "{code:?}");
        }
        let ours = [
            Code::InvalidArgument,
            Code::AlreadyExists,
            Code::PermissionDenied,
            Code::Unauthenticated,
            Code::Unimplemented,
            Code::OutOfRange,
        ];
        for code in ours {
            let e = WorkflowUpdateError::Rpc(Status::new(code, "refused"));
            assert_eq!(answer(e).await, (500, "internal".to_owned()), "{code:?}");
        }
        // Closed (or never there): final.
        let gone = WorkflowUpdateError::NotFound(Status::not_found("already completed"));
        assert_eq!(answer(gone).await, (409, "invalid_state".to_owned()));
    }

    #[tokio::test]
    async fn workflow_not_ready_is_never_told_as_closed() {
        // What the server answers while the workflow's task is on its
        // third attempt or later, even to a same-id retry of an accepted
        // update.
        let not_ready = Status::failed_precondition("Workflow is not ready to handle the request.");
        let e = WorkflowUpdateError::Rpc(not_ready);
        assert_eq!(answer(e).await, (503, "unavailable".to_owned()));
    }
}
