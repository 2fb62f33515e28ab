//! Test support shared by every crate's tests (a dev-dependency only).
//!
//! - [`db`]: the admin connection, template databases built once per
//!   migration set (safe with several test processes at once and with a
//!   builder that died half-way), per-test databases and their dropping.
//! - [`process`]: free loopback ports outside the kernel's ephemeral range,
//!   and servers started so that a lost port, an early death or a hung
//!   start is noticed at once and retried with a new port and process.

pub mod db;
pub mod process;
