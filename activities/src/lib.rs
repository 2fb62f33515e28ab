//! The booking activities: flight inventory over HTTP, Stripe payments,
//! email over SMTP, text messages through Kannel, and the booking records in PostgreSQL. Every one is
//! idempotent by booking id and step.

pub mod config;
pub mod email;
pub mod error;
pub mod handlers;
pub mod holds;
pub mod inventory;
pub mod payments;
pub mod records;
#[cfg(any(test, feature = "sample"))]
pub mod sample;
pub mod sms;
