//! The flight service: catalogue, search, and the seat inventory with holds.

pub mod app;
pub mod catalogue;
pub mod config;
pub mod error;
pub mod extract;
pub mod health;
pub mod inventory;
pub mod schema;
pub mod search;
pub mod seed;
pub mod state;

/// The flight database's migrations, embedded at build time; the inventory
/// functions are applied after them ([`schema`]).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/flights");
