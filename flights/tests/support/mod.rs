//! The flight service's test support lives in `airline-testkit`
//! (`flight_service`): the service on a random port against a fresh
//! database cloned from a migrated template.

pub use airline_testkit::flight_service::*;
