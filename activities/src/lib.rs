//! The booking activities: flight inventory over HTTP, Stripe payments,
//! email over SMTP, and the booking records in PostgreSQL. Every one is
//! idempotent by booking id and step.

pub mod error;
