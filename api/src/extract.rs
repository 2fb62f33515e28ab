//! Request extractors shared with every service (the service kit's): JSON bodies that name
//! the offending field, query strings, pages. Their rejections render in
//! the same error shape.

pub use service_kit::extract::{ApiJson, Page, Params};
