//! The gateway: the single public entry point. Accounts and tokens, rate
//! limits, the catalogue (forwarded to the flight service), the bookings
//! API over the booking workflows, the Stripe webhook, OpenAPI, and the
//! traveller's web app at `/`.

pub mod app;
pub mod auth;
pub mod bookings;
pub mod catalogue;
pub mod config;
pub mod error;
pub mod extract;
pub mod health;
pub mod limits;
pub mod openapi;
pub mod routes;
pub mod state;
pub mod validate;
pub mod web;
pub mod webhook;
