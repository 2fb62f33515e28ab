//! Request extractors shared with the flight service: JSON bodies that name
//! the offending field, query strings, pages. Their rejections render in
//! the same error shape.

pub use flights::extract::{ApiJson, Page, Params};
