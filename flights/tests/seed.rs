//! `flights seed`: the demo catalogue and the benchmark one.

mod support;

use support::TestApp;

#[tokio::test]
async fn the_demo_catalogue_spans_countries_time_zones_and_every_day() {
    let app = TestApp::spawn().await;
    let url = app.db_url.clone().into();
    flights::seed::run(&url, None, 3).await.unwrap();

    assert!(app.count("select count(*) from airport").await >= 20);
    assert!(
        app.count("select count(distinct country_code) from city")
            .await
            >= 5
    );
    assert!(
        app.count("select count(distinct time_zone) from airport")
            .await
            >= 5
    );
    assert!(app.count("select count(*) from airplane").await >= 3);
    let days = app
        .count(
            "select count(distinct (departure_time at time zone 'UTC')::date) from flight
              where departure_time > now()",
        )
        .await;
    assert!(days >= 3, "flights on {days} days");
    // Every flight has its seats, cabins and a consistent counter.
    assert_eq!(
        app.count("select count(*) from flight f where not exists (select 1 from seat s where s.flight_id = f.flight_id)")
            .await,
        0
    );
    assert_eq!(
        app.count(
            "select count(*) from flight_cabin fc where fc.seats_total <> (select count(*) from seat s
                where s.flight_id = fc.flight_id and s.cabin = fc.cabin)"
        )
        .await,
        0
    );
    // Search finds seeded flights through the API.
    let r = app.get("/api/v1/flights?from=LHR&per_page=5").await;
    assert!(r.body["total"].as_i64().unwrap() > 0, "{}", r.body);

    // Seeding again adds nothing.
    let before = app.count("select count(*) from flight").await;
    flights::seed::run(&url, None, 3).await.unwrap();
    assert_eq!(app.count("select count(*) from flight").await, before);
}

#[tokio::test]
async fn the_benchmark_catalogue_has_the_number_of_flights_asked_for() {
    let app = TestApp::spawn().await;
    let url = app.db_url.clone().into();
    flights::seed::run(&url, Some(1_200), 60).await.unwrap();
    assert_eq!(app.count("select count(*) from flight").await, 1_200);
    assert_eq!(
        app.count("select count(*) from (select flight_number, departure_time from flight group by 1, 2 having count(*) > 1) d")
            .await,
        0
    );
}
