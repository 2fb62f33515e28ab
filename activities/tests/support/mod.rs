//! What the activities' tests share: a migrated booking database of their
//! own, dropped afterwards.
#![allow(dead_code)] // each test binary uses its own subset

#[allow(unused_imports)] // the sample booking, for the tests that send
pub use activities::sample;

use sqlx::PgPool;
use uuid::Uuid;

use testkit::db::{admin_url, create_database, drop_database, with_db};

/// A migrated database of its own, dropped with the value.
pub struct TestDb {
    pub pool: PgPool,
    admin_url: String,
    name: String,
}

impl TestDb {
    /// A database named `<prefix>_<uuid>`.
    pub async fn create(prefix: &str) -> TestDb {
        let admin_url = admin_url();
        let name = format!("{prefix}_{}", Uuid::new_v4().simple());
        create_database(&admin_url, &name, None).await;
        let pool = PgPool::connect(&with_db(&admin_url, &name)).await.unwrap();
        kit::config::migrate_shared(&pool, activities::records::migrations(), "booking records")
            .await
            .expect("migrations apply");
        TestDb {
            pool,
            admin_url,
            name,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        drop_database(&self.admin_url, &self.name);
    }
}
