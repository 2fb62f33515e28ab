//! `TestApp`: the real flight service on a random port, against a fresh
//! database cloned from a migrated template, dropped when the test ends.

use std::sync::Once;
use std::time::Duration;

use flights::app::Application;
use flights::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

pub const TOKEN: &str = "test-service-token-0123456789";

pub struct TestApp {
    pub base: String,
    /// URL of this test's own database.
    pub db_url: String,
    pub client: reqwest::Client,
    pub pool: PgPool,
    db_name: String,
    admin_url: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    /// The error code of an error reply, checking the one error shape.
    pub fn error_code(&self) -> &str {
        let err = &self.body["error"];
        assert!(
            err["message"].is_string(),
            "no error message in {}",
            self.body
        );
        err["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error body: {}", self.body))
    }

    pub fn error_field(&self) -> Option<&str> {
        self.body["error"]["field"].as_str()
    }
}

pub use crate::db::{admin_url, drop_database, with_db};

/// The template of this migration set, built (once) if need be.
async fn template(admin: &str) -> String {
    let name = crate::db::template_name("flights_tmpl", &flights::MIGRATOR);
    crate::db::ensure_template(admin, &name, "flights\\_tmpl\\_%", &flights::MIGRATOR).await;
    name
}

pub fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var("TEST_LOG").is_ok() {
            kit::telemetry::init_logging("info,sqlx=warn,tower_http=info");
        }
    });
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// A service with the [`TestApp::small_flight`] on it.
    pub async fn with_small_flight() -> (TestApp, i64) {
        let app = Self::spawn().await;
        let flight = app.small_flight().await;
        (app, flight)
    }

    /// Like `spawn`, with the configuration adjusted first.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        init_logging();
        let admin = admin_url();
        let tmpl = template(&admin).await;
        let db_name = format!("flights_test_{}", uuid::Uuid::new_v4().simple());
        crate::db::create_database(&admin, &db_name, Some(&tmpl)).await;
        let url = with_db(&admin, &db_name);
        let mut config = Config {
            host: "127.0.0.1".parse().unwrap(),
            port: 0,
            database_url: url.clone().into(),
            db_max_connections: 20,
            service_token: TOKEN.to_owned().into(),
            request_timeout: Duration::from_secs(30),
            body_limit_bytes: 64 * 1024,
            directory_refresh: Duration::from_secs(10),
            // Tests book flights leaving in minutes; the cut-off has its own.
            booking_cutoff: Duration::ZERO,
        };
        adjust(&mut config);
        let app = Application::build(config).await.expect("app builds");
        let port = app.port();
        tokio::spawn(app.run_until(std::future::pending()));
        let pool = PgPool::connect(&url).await.unwrap();
        TestApp {
            base: format!("http://127.0.0.1:{port}"),
            db_url: url.clone(),
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(200)
                .build()
                .unwrap(),
            pool,
            db_name,
            admin_url: admin,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON body {status}: {text}"))
        };
        Reply { status, body }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None, None).await
    }

    /// A DELETE with the service token.
    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None, Some(TOKEN)).await
    }

    /// A write with the service token.
    pub async fn send(&self, method: Method, path: &str, body: Value) -> Reply {
        self.call(method, path, Some(body), Some(TOKEN)).await
    }

    /// A raw body with a given content type, for malformed-input tests.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Reply {
        let resp = self
            .client
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(TOKEN)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body = resp.json().await.unwrap_or(Value::Null);
        Reply { status, body }
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }

    // --- catalogue helpers -------------------------------------------------

    pub async fn city(&self, name: &str, country: &str) -> i64 {
        let r = self
            .send(
                Method::POST,
                "/api/v1/cities",
                json!({"name": name, "country_code": country}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_i64().unwrap()
    }

    pub async fn airport(&self, code: &str, city_id: i64, tz: &str) -> i64 {
        let r = self
            .send(
                Method::POST,
                "/api/v1/airports",
                json!({"iata_code": code, "name": format!("{code} International"), "city_id": city_id, "time_zone": tz}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_i64().unwrap()
    }

    /// A small airplane: business rows 1-2 "AC", economy rows 3-(2+rows) "ABC".
    pub async fn airplane(&self, economy_rows: u16) -> i64 {
        let r = self
            .send(
                Method::POST,
                "/api/v1/airplanes",
                json!({"model": "Test 100", "seat_map": {"sections": [
                    {"cabin": "business", "from_row": 1, "to_row": 2, "seat_letters": "AC"},
                    {"cabin": "economy", "from_row": 3, "to_row": 2 + economy_rows, "seat_letters": "ABC"}
                ]}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_i64().unwrap()
    }

    /// LHR (London) and CDG (Paris) with their cities.
    pub async fn two_airports(&self) {
        let london = self.city("London", "GB").await;
        let paris = self.city("Paris", "FR").await;
        self.airport("LHR", london, "Europe/London").await;
        self.airport("CDG", paris, "Europe/Paris").await;
    }

    /// LHR→CDG in nine days on a fresh airplane with 4 business and 30
    /// economy seats (economy rows 3-12, letters ABC): the inventory tests' flight.
    pub async fn small_flight(&self) -> i64 {
        self.two_airports().await;
        let plane = self.airplane(10).await;
        self.flight_at(plane, "ZZ10", &utc_in_days(9, 10, 0), 70)
            .await
    }

    pub async fn flight(&self, body: Value) -> Reply {
        self.send(Method::POST, "/api/v1/flights", body).await
    }

    /// A flight LHR→CDG departing `departure` (RFC 3339), economy 10000 and
    /// business 40000 EUR cents, on `airplane`.
    pub async fn flight_at(
        &self,
        airplane: i64,
        number: &str,
        departure: &str,
        minutes: i64,
    ) -> i64 {
        let dep = chrono::DateTime::parse_from_rfc3339(departure).unwrap();
        let arr = dep + chrono::Duration::minutes(minutes);
        let r = self
            .flight(json!({
                "flight_number": number, "airplane_id": airplane,
                "origin": "LHR", "destination": "CDG",
                "departure_time": dep.to_rfc3339(), "arrival_time": arr.to_rfc3339(),
                "currency": "EUR", "fares": {"economy": 10000, "business": 40000}
            }))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_i64().unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop_database(&self.admin_url, &self.db_name);
    }
}

/// `days` days from today at `hh:mm` UTC, as RFC 3339.
pub fn utc_in_days(days: i64, hh: u32, mm: u32) -> String {
    let date = chrono::Utc::now().date_naive() + chrono::Duration::days(days);
    date.and_hms_opt(hh, mm, 0).unwrap().and_utc().to_rfc3339()
}

/// The local date (YYYY-MM-DD) `days` days from today.
pub fn date_in_days(days: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(days)).to_string()
}

impl TestApp {
    /// The seats the flight has available, as its page says.
    pub async fn seats_available(&self, flight_id: i64) -> i64 {
        let r = self.get(&format!("/api/v1/flights/{flight_id}")).await;
        r.body["seats_available"].as_i64().expect("seats_available")
    }

    /// This booking's hold as the worker reads it: (status code, body).
    pub async fn hold_status(&self, booking_id: impl std::fmt::Display) -> (u16, Value) {
        let path = format!("/api/v1/holds/{booking_id}");
        let r = self.call(Method::GET, &path, None, Some(TOKEN)).await;
        (r.status.as_u16(), r.body)
    }

    pub async fn hold(&self, booking: uuid::Uuid, body: Value) -> Reply {
        self.send(Method::PUT, &format!("/api/v1/holds/{booking}"), body)
            .await
    }

    pub async fn confirm(&self, booking: uuid::Uuid) -> Reply {
        self.call(
            Method::POST,
            &format!("/api/v1/holds/{booking}/confirm"),
            None,
            Some(TOKEN),
        )
        .await
    }

    pub async fn release(&self, booking: uuid::Uuid, cancellation: bool) -> Reply {
        self.send(
            Method::POST,
            &format!("/api/v1/holds/{booking}/release"),
            json!({"cancellation": cancellation}),
        )
        .await
    }

    /// Checks the per-cabin counters against the seat rows and the live hold
    /// items against the taken seats; returns the flight's available seats.
    pub async fn assert_inventory_consistent(&self, flight: i64) -> i64 {
        let mismatched: i64 = self
            .count(&format!(
                "select count(*) from flight_cabin fc
                  where fc.flight_id = {flight}
                    and fc.seats_available <> (select count(*) from seat s
                         where s.flight_id = fc.flight_id and s.cabin = fc.cabin
                           and s.status = 'available')"
            ))
            .await;
        assert_eq!(
            mismatched, 0,
            "seats_available disagrees with the seat rows"
        );
        let taken = self
            .count(&format!(
                "select count(*) from seat where flight_id = {flight} and status <> 'available'"
            ))
            .await;
        let live_items = self
            .count(&format!(
                "select count(*) from seat_hold_item where flight_id = {flight}"
            ))
            .await;
        assert_eq!(taken, live_items, "taken seats and live hold items differ");
        let orphans = self
            .count(&format!(
                "select count(*) from seat s where s.flight_id = {flight} and s.status <> 'available'
                   and not exists (select 1 from seat_hold_item i where i.booking_id = s.booking_id
                                     and i.seat_number = s.seat_number)"
            ))
            .await;
        assert_eq!(orphans, 0, "a taken seat has no live hold");
        let r = self.get(&format!("/api/v1/flights/{flight}")).await;
        let api = r.body["seats_available"].as_i64().unwrap();
        let rows = self
            .count(&format!(
                "select count(*) from seat where flight_id = {flight} and status = 'available'"
            ))
            .await;
        assert_eq!(
            api, rows,
            "the API's seats_available disagrees with the seat rows"
        );
        api
    }
}
