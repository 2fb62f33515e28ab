//! The booking stack for the worker's tests lives in `airline-testkit`
//! (`stack`): Temporal, the flight service, localstripe, SMTP, the booking
//! database and the worker binary, on random ports.

pub use airline_testkit::stack::*;
