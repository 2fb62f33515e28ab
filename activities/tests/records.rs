//! The booking database records: the read model only moves forward, the
//! event log gets each transition once, tickets are issued once.

mod support;

use activities::records::Records;
use support::TestDb;
use workflows::contract::{
    BookingId, BookingInput, BookingState, BookingStatus, SeatSelection, Transition,
};

fn state(id: &str, revision: u32, statuses: &[BookingStatus]) -> BookingState {
    let mut state = BookingState::new(BookingInput {
        booking_id: id.parse().unwrap(),
        booking_ref: "REC001".parse().unwrap(),
        user_id: "user-1".parse().unwrap(),
        flight_id: 7,
        seats: SeatSelection::Seats(vec!["1A".parse().unwrap()]),
        passengers: Vec::new(),
        contact_email: "ada@example.com".parse().unwrap(),
        contact_phone: None,
        channels: Default::default(),
        payment_window_ms: 60_000,
        reminder_lead_ms: 60_000,
        step_budget_ms: None,
        max_payment_attempts: None,
    });
    state.status = *statuses.last().unwrap();
    state.history = statuses
        .iter()
        .map(|&status| Transition {
            status,
            at: chrono::Utc::now(),
            outcome: None,
        })
        .collect();
    state.revision = revision;
    state
}

#[tokio::test]
async fn a_late_older_record_never_overwrites_a_newer_one() {
    let db = TestDb::create("records_test").await;
    let records = Records::new(db.pool.clone());
    let id = uuid::Uuid::new_v4().to_string();
    use BookingStatus::*;
    let newer = state(&id, 3, &[Holding, AwaitingPayment, Confirming]);
    let older = state(&id, 2, &[Holding, AwaitingPayment]);
    records.record(&newer).await.unwrap();
    records.record(&older).await.unwrap();
    records.record(&newer).await.unwrap();

    let (status, version): (String, i32) =
        sqlx::query_as("select status, version from booking where booking_id = $1::uuid")
            .bind(&id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), version), ("confirming", 3));
    let events: Vec<String> = sqlx::query_scalar(
        "select status from booking_event where booking_id = $1::uuid order by seq",
    )
    .bind(&id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(events, ["holding", "awaiting_payment", "confirming"]);
}

#[tokio::test]
async fn tickets_are_issued_once_per_passenger() {
    let db = TestDb::create("records_test").await;
    let records = Records::new(db.pool.clone());
    let id = BookingId::new_random();
    let (a, b) = tokio::join!(records.issue_tickets(id, 3), records.issue_tickets(id, 3));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b);
    assert_eq!(a.len(), 3);
    assert!(a.iter().all(|t| t.len() == 13 && t.starts_with("176")));
    let other = records
        .issue_tickets(BookingId::new_random(), 1)
        .await
        .unwrap();
    assert!(!a.contains(&other[0]), "ticket numbers are unique");
}
