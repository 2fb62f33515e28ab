//! The booking workflow (docs/workflow.md): deterministic
//! code only. This crate has no I/O dependencies; the activities it calls
//! are declared in [`activities`] and implemented in `activities`.

pub mod activities;
pub mod booking;
pub mod bounds;
pub mod contract;
pub mod fanout;
pub mod inbound;

pub use booking::{BookingWorkflow, initial_search_attributes, start_summary};
pub use fanout::FlightChangeFanout;
