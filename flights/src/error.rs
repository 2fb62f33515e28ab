//! The flight service's errors: the service kit's kinds, which are all it
//! has (`service_kit::error`).

pub use service_kit::error::{Error, Result, ResultExt};
