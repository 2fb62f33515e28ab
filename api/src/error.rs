//! The gateway's errors: the service kit's kinds, which every service has
//! (`kit::error`: bad input, not found, conflicts, unavailable...),
//! and its own, [`GatewayError`]: accounts, roles, limits, business
//! refusals. Both leave as `{"error": {"code", "message", "field"?}}`.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
pub use kit::error::{Error, Result, ResultExt, ServiceError, render};

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Valid, but refused for a business reason that is not a conflict.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    #[error("email or password is wrong")]
    InvalidCredentials,
    #[error("admin role required")]
    Forbidden,
    #[error("confirm your email address first: follow the link we sent you")]
    EmailNotVerified,
    /// The password was right; the account also needs its second factor.
    #[error("enter the code from your authenticator app")]
    OtpRequired,
    #[error("too many requests; retry in {} s", seconds(*retry_after))]
    TooManyRequests { retry_after: Duration },
    /// Too many failed logins for one account (every replica counts them).
    #[error("too many failed logins for this account; retry in {} s", seconds(*retry_after))]
    LoginThrottled { retry_after: Duration },
}

/// Whole seconds to wait, at least one.
fn seconds(d: Duration) -> u64 {
    d.as_secs_f64().ceil().max(1.0) as u64
}

impl ServiceError for GatewayError {
    fn status(&self) -> StatusCode {
        match self {
            GatewayError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            GatewayError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            GatewayError::Forbidden | GatewayError::EmailNotVerified => StatusCode::FORBIDDEN,
            GatewayError::OtpRequired => StatusCode::UNAUTHORIZED,
            GatewayError::TooManyRequests { .. } | GatewayError::LoginThrottled { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
        }
    }

    fn code(&self) -> &'static str {
        match self {
            GatewayError::Unprocessable { code, .. } => code,
            GatewayError::InvalidCredentials => "invalid_credentials",
            GatewayError::Forbidden => "forbidden",
            GatewayError::EmailNotVerified => "email_not_verified",
            GatewayError::OtpRequired => "otp_required",
            GatewayError::TooManyRequests { .. } => "rate_limited",
            GatewayError::LoginThrottled { .. } => "login_throttled",
        }
    }

    fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let GatewayError::TooManyRequests { retry_after }
        | GatewayError::LoginThrottled { retry_after } = self
        {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(seconds(*retry_after)),
            );
        }
        headers
    }
}

impl From<GatewayError> for Error {
    fn from(e: GatewayError) -> Self {
        Error::Service(Box::new(e))
    }
}

/// The one error shape, for code outside the error type (rate limiter,
/// fallbacks).
pub fn error_response(status: StatusCode, code: &str, message: String) -> Response {
    render(status, code, None, message)
}
