//! PostgreSQL databases for tests.

use std::time::{Duration, Instant};

use sqlx::migrate::Migrator;
use sqlx::{Connection, Executor, PgConnection};

/// The server the tests create their databases on: `DATABASE_URL`, else
/// the local server.
pub fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `url` with its database replaced by `db` (query parameters kept).
pub fn with_db(url: &str, db: &str) -> String {
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

/// A name for a migration set's template: `<prefix>_<hash of the
/// migrations' checksums>`, so a changed migration gets a new template.
pub fn template_name(prefix: &str, migrator: &Migrator) -> String {
    let mut hash: u64 = 1469598103934665603;
    for m in migrator.iter() {
        for b in m.checksum.iter() {
            hash = (hash ^ u64::from(*b)).wrapping_mul(1099511628211);
        }
    }
    format!("{prefix}_{hash:016x}")
}

/// Makes sure the database `name` exists as a complete template migrated
/// by `migrator`, building it if need be; returns how long the call took,
/// waiting included.
///
/// Safe when several test processes start at once on a server that has
/// nothing yet, and when a builder died half-way:
/// - builders take turns under an advisory lock (which the server releases
///   if the holder dies);
/// - the template is created under its final name and marked complete
///   (`datistemplate`, which only this function sets) once its migrations
///   ran; an unmarked database of that name is a dead builder's leftover
///   and is rebuilt;
/// - nothing is renamed, and before the mark the builder ends every other
///   session on the database (a migration pool's session can outlive its
///   `close()`), then forbids connections, so no session can block a clone.
///
/// Other databases whose names match `stale_like` (a `LIKE` pattern: the
/// templates of older migration sets) are dropped.
pub async fn ensure_template(
    admin: &str,
    name: &str,
    stale_like: &str,
    migrator: &Migrator,
) -> Duration {
    let started = Instant::now();
    let mut conn = PgConnection::connect(admin)
        .await
        .expect("connect to DATABASE_URL");
    conn.execute("select pg_advisory_lock(727274)")
        .await
        .unwrap();
    let complete: Option<bool> =
        sqlx::query_scalar("select datistemplate from pg_database where datname = $1")
            .bind(name)
            .fetch_optional(&mut conn)
            .await
            .unwrap();
    if complete != Some(true) {
        let stale: Vec<String> = sqlx::query_scalar(
            "select datname from pg_database where datname like $1 and datname <> $2",
        )
        .bind(stale_like)
        .bind(name)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        for db in stale
            .iter()
            .map(String::as_str)
            .chain(complete.map(|_| name))
        {
            drop_any(&mut conn, db).await;
        }
        conn.execute(format!("create database {name} template template0").as_str())
            .await
            .unwrap();
        let mut migrating = PgConnection::connect(&with_db(admin, name)).await.unwrap();
        migrator
            .run(&mut migrating)
            .await
            .expect("migrations apply");
        migrating.close().await.unwrap();
        end_sessions(&mut conn, name).await;
        conn.execute(
            format!("alter database {name} with is_template true allow_connections false").as_str(),
        )
        .await
        .unwrap();
    }
    conn.execute("select pg_advisory_unlock(727274)")
        .await
        .unwrap();
    conn.close().await.unwrap();
    started.elapsed()
}

/// Creates the empty database `name` (from `template0`, which nobody can
/// connect to, so no session elsewhere can block the create), or a copy
/// of `template`.
pub async fn create_database(admin: &str, name: &str, template: Option<&str>) {
    let mut conn = PgConnection::connect(admin)
        .await
        .expect("connect to DATABASE_URL");
    let template = template.unwrap_or("template0");
    conn.execute(format!("create database {name} template {template}").as_str())
        .await
        .unwrap_or_else(|e| panic!("create database {name} from {template}: {e}"));
    let _ = conn.close().await;
}

/// Drops a database, template or not, whoever is connected to it.
pub async fn drop_any(conn: &mut PgConnection, db: &str) {
    let _ = conn
        .execute(
            format!("alter database {db} with is_template false allow_connections true").as_str(),
        )
        .await;
    conn.execute(format!("drop database if exists {db} with (force)").as_str())
        .await
        .unwrap();
}

/// Drops a test database from synchronous code (a `Drop`): a small runtime
/// of its own, on a thread of its own.
pub fn drop_database(admin_url: &str, name: &str) {
    let (admin, name) = (admin_url.to_owned(), name.to_owned());
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

/// Ends every other session on `db` and waits until the server let them
/// go (a terminated backend leaves `pg_stat_activity` a moment later).
async fn end_sessions(conn: &mut PgConnection, db: &str) {
    let what = format!("sessions on {db} would not end");
    let every = Duration::from_millis(20);
    crate::poll_until(&what, Duration::from_secs(10), every, async || {
        let left: i64 = sqlx::query_scalar(
            "select count(pg_terminate_backend(pid)) from pg_stat_activity
              where datname = $1 and pid <> pg_backend_pid()",
        )
        .bind(db)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        if left == 0 {
            Ok(())
        } else {
            Err(format!("{left} left"))
        }
    })
    .await
}
