//! What the activities' tests share: a migrated booking database of their
//! own, dropped afterwards, and free loopback ports.
#![allow(dead_code)] // each test binary uses its own subset

pub mod sample;

use sqlx::{Connection, Executor, PgConnection, PgPool};
use uuid::Uuid;

pub fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn with_db(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let server = base.rsplit_once('/').map_or(base, |(s, _)| s);
    match query {
        Some(q) => format!("{server}/{db}?{q}"),
        None => format!("{server}/{db}"),
    }
}

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
        let mut conn = PgConnection::connect(&admin_url)
            .await
            .expect("connect to DATABASE_URL");
        conn.execute(format!("create database {name}").as_str())
            .await
            .unwrap();
        let pool = PgPool::connect(&with_db(&admin_url, &name)).await.unwrap();
        booking_activities::records::MIGRATOR
            .run(&pool)
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
        let admin = self.admin_url.clone();
        let name = self.name.clone();
        // No async in Drop: a small runtime of its own, on its own thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut c) = PgConnection::connect(&admin).await {
                    let _ = c
                        .execute(format!("drop database if exists {name} with (force)").as_str())
                        .await;
                }
            });
        })
        .join();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
