//! What every service of the workspace shares, so that each service's own
//! crate holds only its own routes, errors and settings: the error core
//! and its one JSON shape (`error`), request extractors (`extract`),
//! settings from the environment (`config`), logging, metrics, the time
//! limit and the shutdown signal (`telemetry`), liveness and the metrics
//! scrape (`health`), the HTTP middleware stack (`http`), and with the
//! `temporal` feature the Temporal client (`temporal`), with `mail` the SMTP
//! settings and transport (`mail`).
//! docs/architecture.md shows where each piece sits.

pub mod config;
pub mod error;
pub mod extract;
pub mod health;
pub mod http;
#[cfg(feature = "mail")]
pub mod mail;
pub mod telemetry;
#[cfg(feature = "temporal")]
pub mod temporal;
