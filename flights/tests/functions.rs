//! The inventory functions file (`migrations/flights/functions/inventory.sql`,
//! `flights::schema`): it redefines every inventory function the migrations
//! leave, adds none, and services applying it at once take turns.

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use testkit::db::{admin_url, create_database, drop_database, with_db};

/// A migrated database of its own, dropped when the test ends.
struct Db {
    pool: PgPool,
    admin: String,
    name: String,
}

impl Db {
    async fn migrated() -> Db {
        let admin = admin_url();
        let name = format!("flights_test_{}", uuid::Uuid::new_v4().simple());
        create_database(&admin, &name, None).await;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect(&with_db(&admin, &name))
            .await
            .unwrap();
        flights::MIGRATOR.run(&pool).await.unwrap();
        Db { pool, admin, name }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        drop_database(&self.admin, &self.name);
    }
}

/// The inventory functions in the database: signature and definition.
async fn inventory_functions(pool: &PgPool) -> Vec<(String, String)> {
    sqlx::query_as(
        "select p.oid::regprocedure::text, pg_get_functiondef(p.oid)
           from pg_proc p join pg_namespace n on n.oid = p.pronamespace
          where n.nspname = 'public' and p.proname like 'inventory\\_%'
          order by 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_functions_file_redefines_every_inventory_function_and_adds_none() {
    let db = Db::migrated().await;
    let migrated = inventory_functions(&db.pool).await;
    assert!(migrated.len() >= 5, "{migrated:?}");
    flights::schema::migrate(&db.pool).await.unwrap();
    let applied = inventory_functions(&db.pool).await;
    let signatures = |f: &[(String, String)]| f.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>();
    assert_eq!(signatures(&applied), signatures(&migrated));
    let file = flights::schema::INVENTORY_FUNCTIONS;
    for (signature, _) in &migrated {
        let name = signature.split('(').next().unwrap();
        assert!(
            file.contains(&format!("create or replace function {name}(")),
            "{name} is not in migrations/flights/functions/inventory.sql"
        );
    }
    // Applying it again changes nothing.
    flights::schema::apply_functions(&db.pool).await.unwrap();
    assert_eq!(inventory_functions(&db.pool).await, applied);
}

#[tokio::test]
async fn services_applying_the_functions_at_once_take_turns() {
    let db = Db::migrated().await;
    let starts: Vec<_> = (0..8)
        .map(|_| {
            let pool = db.pool.clone();
            tokio::spawn(async move { flights::schema::apply_functions(&pool).await })
        })
        .collect();
    for start in starts {
        start.await.unwrap().expect("applied without a collision");
    }
}
