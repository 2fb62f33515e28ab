//! The flight service's shared state: what every handler reaches through
//! `State<AppState>` (built once by [`crate::app::Application`]).

use std::sync::Arc;

use sqlx::PgPool;

use crate::catalogue::directory::Directory;
use crate::config::Config;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<Config>,
    pub airports: Arc<Directory>,
}
