//! The tests' template database: built once per migration set, safely, when
//! several test processes start at once on a server that has none, and when
//! a builder died half-way and left a session behind.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};
use testkit::db::{admin_url, drop_any, ensure_template, with_db};

/// How long a builder may take, waiting included: the migrations take well
/// under a second; a lingering session used to cost minutes.
const FEW_SECONDS: Duration = Duration::from_secs(10);

/// Run by `two_processes_building_one_template_at_once_both_get_it_complete`
/// in processes of their own; does nothing otherwise.
#[tokio::test]
#[ignore = "a child process of the template race test"]
async fn template_builder_child() {
    let Ok(name) = std::env::var("TEMPLATE_RACE_NAME") else {
        return;
    };
    let waited = ensure_template(&admin_url(), &name, &name, &flights::MIGRATOR).await;
    println!("TEMPLATE_BUILDER_MS={}", waited.as_millis());
}

#[tokio::test]
async fn two_processes_building_one_template_at_once_both_get_it_complete() {
    let name = format!("flights_tmpl_race_{}", uuid::Uuid::new_v4().simple());
    let exe = std::env::current_exe().unwrap();
    let started = Instant::now();
    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "template_builder_child",
                    "--ignored",
                    "--nocapture",
                ])
                .env("TEMPLATE_RACE_NAME", &name)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("test binary runs")
        })
        .collect();
    let mut waits = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "a builder failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ms: u64 = stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("TEMPLATE_BUILDER_MS="))
            .unwrap_or_else(|| panic!("no figure from a builder:\n{stdout}"))
            .parse()
            .unwrap();
        waits.push(Duration::from_millis(ms));
    }
    println!(
        "builders took {waits:?}; both done {:?} after the start",
        started.elapsed()
    );
    for waited in &waits {
        assert!(*waited < FEW_SECONDS, "a builder took {waited:?}");
    }
    assert_template_complete(&name).await;
}

#[tokio::test]
async fn a_half_built_template_with_a_session_still_on_it_is_rebuilt_at_once() {
    let admin = admin_url();
    let name = format!("flights_tmpl_dead_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin).await.unwrap();
    create_database(&mut conn, &name, "template0").await;
    // The dead builder's session, still connected, in a transaction.
    let mut lingering = connect_to(&admin, &name).await;
    lingering.execute("begin").await.unwrap();
    lingering
        .execute("create table half_done (x int)")
        .await
        .unwrap();

    let waited = ensure_template(&admin, &name, &name, &flights::MIGRATOR).await;
    assert!(waited < FEW_SECONDS, "rebuilding took {waited:?}");
    assert_template_complete(&name).await;
    assert!(
        lingering.execute("select 1").await.is_err(),
        "the dead builder's session survived the rebuild"
    );
}

/// Creates database `name` as a copy of `template`.
async fn create_database(conn: &mut PgConnection, name: &str, template: &str) {
    conn.execute(format!("create database {name} template {template}").as_str())
        .await
        .unwrap();
}

/// A connection to database `db` on the server of `admin`.
async fn connect_to(admin: &str, db: &str) -> PgConnection {
    PgConnection::connect(&with_db(admin, db)).await.unwrap()
}

/// The template is marked complete, holds every migration and nothing of a
/// half-built one, and clones; then it is dropped.
async fn assert_template_complete(name: &str) {
    let admin = admin_url();
    let mut conn = PgConnection::connect(&admin).await.unwrap();
    let (is_template, sessions): (bool, i64) = sqlx::query_as(
        "select d.datistemplate,
                (select count(*) from pg_stat_activity a where a.datname = d.datname)
           from pg_database d where d.datname = $1",
    )
    .bind(name)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(is_template, "{name} is not marked complete");
    assert_eq!(sessions, 0, "sessions left on the template");

    let clone = format!("{name}_clone");
    create_database(&mut conn, &clone, name).await;
    let mut db = connect_to(&admin, &clone).await;
    let applied: i64 = sqlx::query_scalar("select count(*) from _sqlx_migrations where success")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(applied, flights::MIGRATOR.iter().count() as i64);
    let leftovers: i64 = sqlx::query_scalar(
        "select count(*) from information_schema.tables where table_name = 'half_done'",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(leftovers, 0, "the half-built database was kept");
    db.close().await.unwrap();
    for db in [clone.as_str(), name] {
        drop_any(&mut conn, db).await;
    }
}
