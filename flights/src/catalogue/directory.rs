//! An in-memory copy of the airports (code, name, city, zone) for the search hot
//! path: search filters by airport id and names the airports from memory,
//! so its SQL touches only flights and their cabins.
//!
//! Freshness: reloaded after every airport or city write made through this
//! instance, every `refresh` interval for writes made through others, and on
//! a cache miss for a code the database does know.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sqlx::PgPool;

#[derive(Debug)]
pub struct AirportInfo {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub city: String,
    /// IANA zone, for local times.
    pub time_zone: String,
}

#[derive(Default)]
struct Snapshot {
    by_code: HashMap<String, Arc<AirportInfo>>,
    by_id: HashMap<i64, Arc<AirportInfo>>,
}

#[derive(Default)]
pub struct Directory {
    snapshot: RwLock<Arc<Snapshot>>,
}

impl Directory {
    pub async fn load(pool: &PgPool) -> sqlx::Result<Arc<Self>> {
        let dir = Arc::new(Directory::default());
        dir.refresh(pool).await?;
        Ok(dir)
    }

    /// Reloads every airport (a few thousand rows at most).
    pub async fn refresh(&self, pool: &PgPool) -> sqlx::Result<()> {
        let rows: Vec<(i64, String, String, String, String)> = sqlx::query_as(
            "select a.airport_id, a.iata_code, a.name, c.name, a.time_zone
               from airport a join city c using (city_id)",
        )
        .fetch_all(pool)
        .await?;
        let mut snap = Snapshot::default();
        for (id, code, name, city, time_zone) in rows {
            let info = Arc::new(AirportInfo {
                id,
                code: code.clone(),
                name,
                city,
                time_zone,
            });
            snap.by_code.insert(code, info.clone());
            snap.by_id.insert(id, info);
        }
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(snap);
        Ok(())
    }

    fn current(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn by_code(&self, code: &str) -> Option<Arc<AirportInfo>> {
        self.current().by_code.get(code).cloned()
    }

    pub fn by_id(&self, id: i64) -> Option<Arc<AirportInfo>> {
        self.current().by_id.get(&id).cloned()
    }

    /// Keeps the copy fresh for writes made through other instances.
    pub fn spawn_refresher(self: &Arc<Self>, pool: PgPool, every: Duration) {
        let dir = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(dir) = dir.upgrade() else { break };
                if let Err(e) = dir.refresh(&pool).await {
                    tracing::warn!(error = %e, "airport directory refresh failed");
                }
            }
        });
    }
}
