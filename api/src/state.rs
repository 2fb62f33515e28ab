//! The gateway's shared state: what every handler reaches through
//! `State<AppState>` (built once by [`crate::app::Application`]).

use std::sync::Arc;

use sqlx::PgPool;
use temporalio_client::Client;

use crate::auth::password::Passwords;
use crate::auth::tokens::Tokens;
use crate::config::Config;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<Config>,
    pub tokens: Arc<Tokens>,
    pub passwords: Passwords,
    /// Signs the cookie of devices that logged in before (`auth::device`).
    pub devices: crate::auth::device::Devices,
    pub temporal: Client,
    pub flights: reqwest::Client,
    /// The account emails (confirm, reset, unlock, notices).
    pub mailer: crate::auth::mail::Mailer,
    /// Seals the two-step sign-in secrets.
    pub sealer: crate::auth::totp::Sealer,
}
