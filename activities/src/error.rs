//! One error type for every activity: a business failure (retrying cannot
//! help: non-retryable, with a stable type name from
//! `workflows::contract::Failure`) or a transient one (retried with
//! backoff by Temporal).

use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::ActivityError;
use workflows::contract::Failure;

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Retrying cannot fix it: no seats, card declined, hold gone.
    #[error("{message}")]
    Business { kind: Failure, message: String },
    /// Network, timeouts, 5xx, database: Temporal retries the activity.
    #[error(transparent)]
    Transient(#[from] anyhow::Error),
}

impl StepError {
    pub fn business(kind: Failure, message: impl Into<String>) -> Self {
        StepError::Business {
            kind,
            message: message.into(),
        }
    }

    pub fn transient(message: impl std::fmt::Display) -> Self {
        StepError::Transient(anyhow::anyhow!("{message}"))
    }
}

impl From<sqlx::Error> for StepError {
    fn from(e: sqlx::Error) -> Self {
        StepError::Transient(e.into())
    }
}

impl From<reqwest::Error> for StepError {
    fn from(e: reqwest::Error) -> Self {
        StepError::Transient(e.into())
    }
}

impl StepError {
    /// What the activity returns to Temporal. (Not a `From` impl: the SDK
    /// already converts every `std::error::Error` into a retryable failure.)
    pub fn into_activity_error(self) -> ActivityError {
        match self {
            StepError::Business { kind, message } => ActivityError::application(
                ApplicationFailure::builder(message)
                    .type_name(kind.as_str().to_owned())
                    .non_retryable(true)
                    .build(),
            ),
            StepError::Transient(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "activity failed; it will be retried"
                );
                ActivityError::from(e)
            }
        }
    }
}

pub type StepResult<T> = Result<T, StepError>;
