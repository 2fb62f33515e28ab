//! Test support shared by every crate's tests (a dev-dependency only).
//!
//! - [`db`]: the admin connection, template databases built once per
//!   migration set (safe with several test processes at once and with a
//!   builder that died half-way), per-test databases and their dropping.
//! - [`process`]: free loopback ports outside the kernel's ephemeral range,
//!   and servers started so that a lost port, an early death or a hung
//!   start is noticed at once and retried with a new port and process.
//! - [`fakes`]: localstripe and the SMTP sink, started as processes.
//! - [`flight_service`]: the real flight service on a random port against
//!   a fresh database cloned from a migrated template.
//! - [`stack`]: the whole booking stack on random ports (Temporal dev
//!   server, the flight service, localstripe, the SMTP sink, a booking
//!   database, the `worker` binary): its processes, a booking driver
//!   and observers of mail, texts, Stripe and the booking database.
//! - `gateway` (feature `gateway`, for the `api` crate's tests): the
//!   stack with the gateway in-process on top, spoken to over HTTP.
//! - [`operator`]: a stand-in for the operators' identity provider (its
//!   JWKS, tokens signed with fixture keys) for the codec endpoint.
//! - [`scratch`]: temporary folders removed when the test is done, even
//!   after a test process that was killed.
//! - [`poll_until`]: the one polling loop (wait until something holds,
//!   or fail the test with what was seen last).

pub mod db;
pub mod fakes;
pub mod flight_service;
#[cfg(feature = "gateway")]
pub mod gateway;
pub mod operator;
mod poll;
pub mod process;
pub mod scratch;
pub mod stack;

pub use poll::poll_until;
