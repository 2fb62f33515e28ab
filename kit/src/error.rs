//! The one error type of every service and its HTTP rendering.
//!
//! Every failure leaves a service as `{"error": {"code", "message"}}` (plus
//! `field` when one input is to blame). The variants here are the kinds
//! every service has; a service adds its own by implementing
//! [`ServiceError`] (the gateway's accounts and limits, for instance) and
//! converting into [`Error::Service`]. Internal errors are logged once
//! here, with their cause chain, and never reach the client's body.

use std::borrow::Cow;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is not well formed (bad JSON syntax, bad query string,
    /// bad header).
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        field: Option<Cow<'static, str>>,
        message: String,
    },
    /// The request is well formed but one of its values is not acceptable.
    #[error("{field}: {message}")]
    Validation {
        field: Cow<'static, str>,
        message: String,
    },
    /// Missing or bad credentials; the reason is logged at debug level only.
    #[error("authentication required")]
    Unauthorized,
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request conflicts with the current state (seat taken, in use).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("request body too large")]
    PayloadTooLarge,
    /// A dependency (database, Temporal, another service) is down or busy.
    #[error("service unavailable")]
    Unavailable,
    #[error("the request took too long")]
    Timeout,
    /// A kind of error one service has and the others do not.
    #[error("{0}")]
    Service(Box<dyn ServiceError>),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// A service's own kind of error: its status, stable code, message for
/// the client, and any headers (`Retry-After`).
pub trait ServiceError:
    std::any::Any + std::fmt::Display + std::fmt::Debug + Send + Sync + 'static
{
    fn status(&self) -> StatusCode;
    fn code(&self) -> &'static str;
    fn headers(&self) -> HeaderMap {
        HeaderMap::new()
    }
}

impl Error {
    pub fn validation(field: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Error::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn invalid_param(field: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Error::BadRequest {
            code: "invalid_parameter",
            field: Some(field.into()),
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

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict {
            code,
            message: message.into(),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        if transient(&e) {
            tracing::warn!(error = %e, "database busy or out of reach");
            Error::Unavailable
        } else {
            Error::Internal(e.into())
        }
    }
}

/// Whether a database error may go away if the caller retries: the
/// connection lost or refused (I/O, TLS, a protocol stream cut short), the
/// pool exhausted or closing, or the server's own transient SQLSTATEs
/// (class 08 connection exceptions, 40001 serialization failure, 40P01
/// deadlock, class 53 insufficient resources, 55P03 lock not available,
/// 57P01–57P03 shutdown and start-up). A constraint, a syntax error or a
/// type mismatch stays an internal error.
pub fn transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            let code = code.as_ref();
            code.starts_with("08")
                || code.starts_with("53")
                || matches!(
                    code,
                    "40001" | "40P01" | "55P03" | "57P01" | "57P02" | "57P03"
                )
        }),
        _ => false,
    }
}

/// How long a client should wait before retrying a 503.
const RETRY_AFTER_SECONDS: u32 = 1;

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code, field, message) = match &self {
            Error::BadRequest {
                code,
                field,
                message,
            } => {
                let message = match field {
                    Some(f) => format!("{f}: {message}"),
                    None => message.clone(),
                };
                (StatusCode::BAD_REQUEST, *code, field.as_deref(), message)
            }
            Error::Validation { field, .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                Some(field.as_ref()),
                self.to_string(),
            ),
            Error::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                None,
                self.to_string(),
            ),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", None, self.to_string()),
            Error::Conflict { code, message } => {
                (StatusCode::CONFLICT, *code, None, message.clone())
            }
            Error::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                None,
                self.to_string(),
            ),
            Error::Unavailable => {
                tracing::warn!("a dependency is unavailable or the pool is exhausted");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    None,
                    "the service is busy, try again".to_owned(),
                )
            }
            Error::Timeout => (
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                None,
                self.to_string(),
            ),
            Error::Service(e) => {
                let mut response = render(e.status(), e.code(), None, e.to_string());
                response.headers_mut().extend(e.headers());
                return response;
            }
            Error::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    None,
                    "internal error".to_owned(),
                )
            }
        };
        let mut response = render(status, code, field, message);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // Transient by definition: say when to try again.
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(RETRY_AFTER_SECONDS),
            );
        }
        response
    }
}

/// The one error shape, `{"error": {"code", "message", "field"?}}`: for
/// every service of the workspace, and for code outside [`Error`] (rate
/// limiter, fallbacks).
pub fn render(status: StatusCode, code: &str, field: Option<&str>, message: String) -> Response {
    let body = Body {
        error: Detail {
            code,
            message,
            field,
        },
    };
    (status, axum::Json(body)).into_response()
}

/// Turns a violation of a *named* database constraint into a client error.
/// The constraint is the last line of defence; its name is the contract.
pub trait ResultExt<T> {
    fn on_constraint(self, name: &str, f: impl FnOnce() -> Error) -> Result<T>;
}

impl<T, E: Into<Error>> ResultExt<T> for std::result::Result<T, E> {
    fn on_constraint(self, name: &str, f: impl FnOnce() -> Error) -> Result<T> {
        self.map_err(|e| match e.into() {
            Error::Internal(inner) => match inner.downcast_ref::<sqlx::Error>() {
                Some(sqlx::Error::Database(db)) if db.constraint() == Some(name) => f(),
                _ => Error::Internal(inner),
            },
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_connection_is_transient_and_a_bad_query_is_not() {
        let io = || std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        assert!(transient(&sqlx::Error::Io(io())));
        assert!(transient(&sqlx::Error::PoolTimedOut));
        assert!(transient(&sqlx::Error::PoolClosed));
        assert!(transient(&sqlx::Error::WorkerCrashed));
        assert!(transient(&sqlx::Error::Protocol(
            "unexpected end of stream".into()
        )));
        assert!(transient(&sqlx::Error::Tls("handshake cut short".into())));
        assert!(!transient(&sqlx::Error::RowNotFound));
        assert!(!transient(&sqlx::Error::ColumnNotFound("x".into())));
        assert!(!transient(&sqlx::Error::Configuration("bad url".into())));
    }

    #[test]
    fn unavailable_says_when_to_retry() {
        let response = Error::from(sqlx::Error::PoolTimedOut).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after"], "1");
        let response = Error::from(sqlx::Error::RowNotFound).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!response.headers().contains_key("retry-after"));
    }
}
