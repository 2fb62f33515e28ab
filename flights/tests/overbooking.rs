//! No overbooking under concurrency: many holds race for the last seats of
//! a flight, over HTTP, against the real database.

mod support;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use support::{TestApp, created, economy_seats, hold_request};
use uuid::Uuid;

/// Holds economy seats until only `left` remain.
async fn fill_economy_leaving(app: &TestApp, flight: i64, left: u32) {
    let mut to_take = 30 - left;
    while to_take > 0 {
        let n = to_take.min(9);
        let r = app.hold(Uuid::new_v4(), economy_seats(flight, n)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        to_take -= n;
    }
}

#[tokio::test]
async fn a_hundred_and_twenty_concurrent_holds_get_exactly_the_last_five_seats() {
    let (app, flight) = TestApp::with_small_flight().await;
    fill_economy_leaving(&app, flight, 5).await;

    let bookings: Vec<Uuid> = (0..120).map(|_| Uuid::new_v4()).collect();
    let replies = join_all(
        bookings
            .iter()
            .map(|b| app.hold(*b, economy_seats(flight, 1))),
    )
    .await;
    let winners: Vec<Uuid> = bookings
        .iter()
        .zip(&replies)
        .filter(|(_, r)| r.status == StatusCode::CREATED)
        .map(|(b, _)| *b)
        .collect();
    assert_eq!(winners.len(), 5);
    for r in replies.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        assert_eq!(r.error_code(), "seats_unavailable");
    }
    let won_seats: std::collections::HashSet<String> = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .map(|r| {
            r.body["seats"][0]["seat_number"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(won_seats.len(), 5, "two holds got the same seat");
    assert_eq!(app.assert_inventory_consistent(flight).await, 4); // business only

    // Releasing (concurrently) makes the seats available again.
    let released = join_all(winners.iter().map(|b| app.release(*b, false))).await;
    assert!(released.iter().all(|r| r.status == StatusCode::OK));
    assert_eq!(app.assert_inventory_consistent(flight).await, 9);
    let r = app.get(&format!("/api/v1/flights/{flight}")).await;
    assert_eq!(r.body["cabins"][0]["cabin"], "economy");
    assert_eq!(r.body["cabins"][0]["seats_available"], 5);
}

#[tokio::test]
async fn overlapping_seat_sets_never_both_succeed() {
    let (app, flight) = TestApp::with_small_flight().await;
    // Ten triples of adjacent economy seats; per triple, one booking wants
    // the first two seats and the other the last two, and they race.
    let rows = 3..=12;
    let mut requests = Vec::new();
    for row in rows.clone() {
        requests.push((
            row,
            Uuid::new_v4(),
            json!([format!("{row}A"), format!("{row}B")]),
        ));
        requests.push((
            row,
            Uuid::new_v4(),
            json!([format!("{row}C"), format!("{row}B")]),
        ));
    }
    // Several rounds of the same race, each on fresh bookings.
    let replies = join_all(
        requests
            .iter()
            .map(|(_, b, seats)| app.hold(*b, hold_request(flight, seats.clone()))),
    )
    .await;
    for row in rows {
        let won: Vec<_> = requests
            .iter()
            .zip(&replies)
            .filter(|((r, _, _), reply)| *r == row && reply.status == StatusCode::CREATED)
            .collect();
        assert_eq!(won.len(), 1, "row {row}: {} holds succeeded", won.len());
    }
    for r in replies.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_eq!(r.error_code(), "seats_unavailable", "{}", r.body);
    }
    assert_eq!(app.assert_inventory_consistent(flight).await, 34 - 20);
}

#[tokio::test]
async fn concurrent_multi_seat_holds_take_whole_groups_only() {
    let (app, flight) = TestApp::with_small_flight().await;
    fill_economy_leaving(&app, flight, 7).await;
    let replies =
        join_all((0..50).map(|_| app.hold(Uuid::new_v4(), economy_seats(flight, 2)))).await;
    assert_eq!(created(&replies), 3, "7 seats make exactly three pairs");
    for r in replies.iter().filter(|r| r.status == StatusCode::CREATED) {
        assert_eq!(r.body["seats"].as_array().unwrap().len(), 2);
    }
    assert_eq!(app.assert_inventory_consistent(flight).await, 4 + 1);
}

#[tokio::test]
async fn concurrent_retries_of_one_booking_make_one_hold() {
    let (app, flight) = TestApp::with_small_flight().await;
    let booking = Uuid::new_v4();
    let replies = join_all((0..20).map(|_| app.hold(booking, economy_seats(flight, 3)))).await;
    assert_eq!(created(&replies), 1);
    assert!(
        replies.iter().all(|r| r.status.is_success()),
        "all answered the hold"
    );
    assert!(
        replies
            .iter()
            .all(|r| r.body["seats"] == replies[0].body["seats"])
    );
    assert_eq!(app.count("select count(*) from seat_hold").await, 1);
    assert_eq!(app.assert_inventory_consistent(flight).await, 31);
}
