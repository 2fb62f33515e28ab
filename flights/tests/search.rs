//! Search over HTTP: route, local day, filters, sorting, paging, bad input.

mod support;

use reqwest::StatusCode;
use serde_json::json;
use support::{TestApp, date_in_days, patch_flight, utc_in_days};

/// LHR→CDG flights on day 6: 07:00Z (60 min, 100 EUR), 12:00Z (90 min,
/// 250 EUR), 23:30Z (which is the next local day in Paris but the same one
/// in London, 45 min, 50 EUR); one on day 7; a cancelled one on day 6.
async fn schedule(app: &TestApp) -> Vec<i64> {
    app.two_airports().await;
    let plane = app.airplane(4).await;
    let mut ids = Vec::new();
    for (n, (h, m), minutes, economy) in [
        ("ZZ1", (7, 0), 60, 10000),
        ("ZZ2", (12, 0), 90, 25000),
        ("ZZ3", (23, 30), 45, 5000),
    ] {
        let dep = chrono::DateTime::parse_from_rfc3339(&utc_in_days(6, h, m)).unwrap();
        let r = app
            .flight(json!({
                "flight_number": n, "airplane_id": plane, "origin": "LHR", "destination": "CDG",
                "departure_time": dep.to_rfc3339(),
                "arrival_time": (dep + chrono::Duration::minutes(minutes)).to_rfc3339(),
                "currency": "EUR", "fares": {"economy": economy, "business": economy * 4}
            }))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        ids.push(r.body["id"].as_i64().unwrap());
    }
    ids.push(app.flight_at(plane, "ZZ4", &utc_in_days(7, 9, 0), 60).await);
    let cancelled = app.flight_at(plane, "ZZ5", &utc_in_days(6, 9, 0), 60).await;
    let r = patch_flight(app, cancelled, json!({"status": "cancelled"})).await;
    assert_eq!(r.status, StatusCode::OK);
    ids
}

fn numbers(body: &serde_json::Value) -> Vec<String> {
    support::strings(body, "items", "flight_number")
}

#[tokio::test]
async fn search_finds_a_route_on_the_departure_airports_local_day() {
    let app = TestApp::spawn().await;
    schedule(&app).await;
    let day = date_in_days(6);
    let r = app
        .get(&format!("/api/v1/flights?from=lhr&to=CDG&date={day}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // 23:30Z is 23:30 in London in winter and 00:30 the next day in summer.
    let london_offset: i32 = sqlx::query_scalar(
        "select extract(hour from (($1::timestamptz) at time zone 'Europe/London') - ($1::timestamptz at time zone 'UTC'))::int",
    )
    .bind(chrono::DateTime::parse_from_rfc3339(&utc_in_days(6, 23, 30)).unwrap())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let expected: Vec<&str> = if london_offset == 0 {
        vec!["ZZ1", "ZZ2", "ZZ3"]
    } else {
        vec!["ZZ1", "ZZ2"]
    };
    assert_eq!(numbers(&r.body), expected);
    assert_eq!(r.body["total"], expected.len());
    let item = &r.body["items"][0];
    assert_eq!(
        item["origin"],
        json!({"code": "LHR", "name": "LHR International", "city": "London", "time_zone": "Europe/London"})
    );
    assert_eq!(item["destination"]["city"], "Paris");
    assert_eq!(item["duration_minutes"], 60);
    assert_eq!(item["fare"], json!({"amount": 10000, "currency": "EUR"}));
    assert_eq!(item["seats_available"], 16);
    assert_eq!(item["status"], "scheduled");
    assert!(item["id"].is_i64());
}

#[tokio::test]
async fn search_sorts_filters_and_pages() {
    let app = TestApp::spawn().await;
    schedule(&app).await;
    let day = date_in_days(6);
    let base = format!("/api/v1/flights?from=LHR&to=CDG&date={day}&departs_before=20:00");

    let r = app.get(&format!("{base}&sort=-price")).await;
    assert_eq!(numbers(&r.body), ["ZZ2", "ZZ1"]);
    let r = app
        .get(&format!("{base}&sort=duration,-departure_time"))
        .await;
    assert_eq!(numbers(&r.body), ["ZZ1", "ZZ2"]);
    let r = app.get(&format!("{base}&min_price=15000")).await;
    assert_eq!(numbers(&r.body), ["ZZ2"]);
    let r = app
        .get(&format!("{base}&max_price=15000&departs_after=06:30"))
        .await;
    assert_eq!(numbers(&r.body), ["ZZ1"]);
    // The business fare is the lowest available fare when asked for business.
    let r = app.get(&format!("{base}&cabin=business&sort=price")).await;
    assert_eq!(r.body["items"][0]["fare"]["amount"], 40000);
    assert_eq!(r.body["items"][0]["seats_available"], 4);
    // More travellers than business seats: nothing in business.
    let r = app
        .get(&format!("{base}&cabin=business&travellers=5"))
        .await;
    assert_eq!(r.body["total"], 0);
    // Paging keeps the total.
    let r = app
        .get("/api/v1/flights?per_page=2&page=2&sort=departure_time")
        .await;
    assert_eq!(r.body["total"], 4);
    assert_eq!(r.body["page"], 2);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    // Totals agree whichever way they are counted (with or without fares).
    for q in [
        "per_page=1",
        "per_page=1&min_price=1",
        "per_page=1&cabin=business",
        "per_page=1&max_price=39999&cabin=business",
    ] {
        let r = app.get(&format!("/api/v1/flights?{q}")).await;
        let expected = if q.contains("max_price") { 1 } else { 4 };
        assert_eq!(r.body["total"], expected, "{q}: {}", r.body);
    }
    let r = app.get("/api/v1/flights?per_page=2&page=9").await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0);
    assert_eq!(r.body["total"], 4);
    // No route: upcoming flights, never the cancelled one.
    let r = app.get("/api/v1/flights").await;
    assert!(!numbers(&r.body).contains(&"ZZ5".to_owned()));
}

#[tokio::test]
async fn search_rejects_bad_parameters_naming_them() {
    let app = TestApp::spawn().await;
    app.two_airports().await;
    for (query, field) in [
        ("from=XXX&to=CDG", "from"),
        ("from=LHR&to=ZZZ", "to"),
        ("from=L1", "from"),
        ("from=LHR&to=LHR", "to"),
        ("date=2026-13-01", "date"),
        ("date=tomorrow", "date"),
        ("travellers=0", "travellers"),
        ("travellers=-2", "travellers"),
        ("travellers=many", "travellers"),
        ("min_price=-1", "min_price"),
        ("min_price=500&max_price=100", "max_price"),
        ("departs_after=25:00", "departs_after"),
        ("departs_after=18:00&departs_before=09:00", "departs_before"),
        ("cabin=steerage", "cabin"),
        ("sort=name", "sort"),
        ("sort=price,price", "sort"),
        ("page=0", "page"),
        ("page=99999999", "page"),
        ("per_page=101", "per_page"),
        ("per_page=0", "per_page"),
        ("page=1&page=2", "page"),
    ] {
        let r = app.get(&format!("/api/v1/flights?{query}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.body);
        assert_eq!(r.error_code(), "invalid_parameter");
        assert_eq!(r.error_field(), Some(field), "{query}: {}", r.body);
    }
}
