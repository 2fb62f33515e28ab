//! The gateway's one error type and its HTTP rendering: every failure
//! leaves as `{"error": {"code", "message"}}` (plus `field` when one input
//! is to blame). Internal errors are logged once here, with their cause
//! chain, and never reach the client's body.

use std::borrow::Cow;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not well formed (bad JSON syntax, bad header, bad query string).
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        field: Option<Cow<'static, str>>,
        message: String,
    },
    /// Well formed, but one value is not acceptable.
    #[error("{field}: {message}")]
    Validation {
        field: Cow<'static, str>,
        message: String,
    },
    /// Valid, but refused for a business reason that is not a conflict.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// Missing, expired or otherwise bad credentials. The reason is logged
    /// at debug level only.
    #[error("authentication required")]
    Unauthorized,
    #[error("email or password is wrong")]
    InvalidCredentials,
    #[error("admin role required")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("too many requests")]
    TooManyRequests { retry_after: Duration },
    /// Too many failed logins for one account (every replica counts them).
    #[error("too many failed logins")]
    LoginThrottled { retry_after: Duration },
    /// A dependency (database, Temporal, the flight service) is down or busy.
    #[error("service unavailable")]
    Unavailable,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn validation(field: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Error::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Error::BadRequest {
            code,
            field: None,
            message: message.into(),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut => Error::Unavailable,
            _ => Error::Internal(e.into()),
        }
    }
}

/// The flight service's JSON parsing helpers answer with its own error
/// type; the shapes are the same.
impl From<flights::error::Error> for Error {
    fn from(e: flights::error::Error) -> Self {
        use flights::error::Error as F;
        match e {
            F::BadRequest {
                code,
                field,
                message,
            } => Error::BadRequest {
                code,
                field,
                message,
            },
            F::Validation { field, message } => Error::Validation { field, message },
            F::PayloadTooLarge => Error::PayloadTooLarge,
            other => Error::Internal(anyhow::anyhow!("{other}")),
        }
    }
}

/// The one error shape (shared with the flight service), for code outside
/// this type (rate limiter, fallbacks).
pub fn error_response(status: StatusCode, code: &str, message: String) -> Response {
    flights::error::render(status, code, None, message)
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        use flights::error::Error as Shared;
        // What the flight service renders the same way, it renders.
        let shared = match self {
            Error::BadRequest {
                code,
                field,
                message,
            } => Shared::BadRequest {
                code,
                field,
                message,
            },
            Error::Validation { field, message } => Shared::Validation { field, message },
            Error::NotFound(what) => Shared::NotFound(what),
            Error::Conflict { code, message } => Shared::Conflict { code, message },
            Error::PayloadTooLarge => Shared::PayloadTooLarge,
            Error::Unavailable => Shared::Unavailable,
            Error::Internal(e) => Shared::Internal(e),
            own => return own.render(),
        };
        shared.into_response()
    }
}

impl Error {
    /// The gateway's own errors: accounts, roles, limits, refusals.
    fn render(self) -> Response {
        let (status, code) = match &self {
            Error::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, *code),
            Error::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Error::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            Error::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Error::TooManyRequests { retry_after } | Error::LoginThrottled { retry_after } => {
                let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
                let (code, message) = match self {
                    Error::LoginThrottled { .. } => (
                        "login_throttled",
                        format!("too many failed logins for this account; retry in {secs} s"),
                    ),
                    _ => (
                        "rate_limited",
                        format!("too many requests; retry in {secs} s"),
                    ),
                };
                let mut response = error_response(StatusCode::TOO_MANY_REQUESTS, code, message);
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                return response;
            }
            shared => {
                return Error::Internal(anyhow::anyhow!("unrendered error: {shared}"))
                    .into_response();
            }
        };
        error_response(status, code, self.to_string())
    }
}

/// Turns a violation of a *named* database constraint into a client error.
pub trait ResultExt<T> {
    fn on_constraint(self, name: &str, f: impl FnOnce() -> Error) -> Result<T>;
}

impl<T> ResultExt<T> for std::result::Result<T, sqlx::Error> {
    fn on_constraint(self, name: &str, f: impl FnOnce() -> Error) -> Result<T> {
        self.map_err(|e| match &e {
            sqlx::Error::Database(db) if db.constraint() == Some(name) => f(),
            _ => e.into(),
        })
    }
}
