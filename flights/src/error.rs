//! The flight service's errors: the service kit's kinds, which are all it
//! has (`kit::error`).

pub use kit::error::{Error, Result, ResultExt};
