//! Request extractors shared with every service (the service kit's): JSON
//! bodies that name the offending field, query strings, pages. Their
//! rejections render in the same error shape. Also the gateway's own: the
//! page parameters a list documents ([`PageQuery`]), and the optional
//! `Idempotency-Key` header ([`optional_idempotency_key`]).

use axum::http::HeaderMap;
pub use kit::extract::{ApiJson, Page, Params};
use utoipa::IntoParams;

use crate::error::{Error, Result};

/// `page` and `per_page` of a list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct PageQuery {
    #[param(minimum = 1, maximum = 10000)]
    page: Option<u32>,
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<u32>,
}

/// The `Idempotency-Key` header when the request has one: 1 to 255
/// visible ASCII characters.
pub(crate) fn optional_idempotency_key(headers: &HeaderMap) -> Result<Option<String>> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let invalid = || Error::BadRequest {
        code: "invalid_idempotency_key",
        field: Some("Idempotency-Key".into()),
        message: "must be 1 to 255 visible ASCII characters".into(),
    };
    let raw = value.to_str().map_err(|_| invalid())?.trim();
    if raw.is_empty() || raw.len() > 255 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid());
    }
    Ok(Some(raw.to_owned()))
}
