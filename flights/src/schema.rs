//! The flight database's schema: the migrations ([`crate::MIGRATOR`],
//! `migrations/flights/`, applied once each and never edited), then the
//! seat inventory functions as they are now
//! (`migrations/flights/functions/inventory.sql`, [`INVENTORY_FUNCTIONS`]).
//!
//! The functions file is the one place to read and change `inventory_hold`,
//! `inventory_confirm`, `inventory_release` and their helpers: every
//! statement in it is a `create or replace function`, applied by
//! [`migrate`] (`flights migrate`) and again at every start of the service
//! ([`crate::app::Application`]), so a changed definition reaches every
//! database, old ones included, without a migration. Their earlier
//! definitions stay in the migrations that first created them
//! (`20261121000002_inventory_functions.sql`, redefined by
//! `20261201000001_booking_cutoff.sql`); what must still be a migration (a
//! new signature, a dropped function, the tables they read) is in
//! `migrations/flights/README.md`.
//!
//! Two services starting at once would collide on the same catalog rows
//! ("tuple concurrently updated"): the file runs in one transaction that
//! first takes [`FUNCTIONS_LOCK`] with `pg_advisory_xact_lock`, so they
//! take turns, and the lock ends with the transaction.

use anyhow::Context;
use sqlx::{Executor, PgConnection, PgPool};

/// The current definitions of the seat inventory functions.
pub const INVENTORY_FUNCTIONS: &str =
    include_str!("../../migrations/flights/functions/inventory.sql");

/// The advisory lock (per database) taken while the functions are applied.
pub const FUNCTIONS_LOCK: i64 = 0x666c_6967_6874_7366; // "flightsf"

/// Applies the migrations, then the inventory functions.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    crate::MIGRATOR
        .run(pool)
        .await
        .context("applying migrations")?;
    apply_functions(pool).await
}

/// (Re)defines the inventory functions from [`INVENTORY_FUNCTIONS`], in one
/// transaction under [`FUNCTIONS_LOCK`]. Needs the migrations applied.
pub async fn apply_functions(pool: &PgPool) -> anyhow::Result<()> {
    let context = "applying migrations/flights/functions/inventory.sql";
    let mut tx = pool.begin().await.context(context)?;
    let conn: &mut PgConnection = &mut tx;
    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(FUNCTIONS_LOCK)
        .execute(&mut *conn)
        .await
        .context(context)?;
    conn.execute(INVENTORY_FUNCTIONS).await.context(context)?;
    tx.commit().await.context(context)?;
    Ok(())
}
