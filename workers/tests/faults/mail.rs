//! The mail server down: the booking goes on without it, and an email
//! given up is recorded once.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_server_down_holds_back_neither_the_refund_nor_the_release() {
    let mut stack = stack_without_mail_server("fault-smtp-down").await;
    let flight = stack.flights.small_flight().await;
    let before = stack.flights.seats_available(flight).await;
    let (handle, booking_id) = book_with(&stack, flight, "11A", |input| {
        // Longer than the test: the emails keep retrying throughout.
        input.step_budget_ms = Some(600_000);
    })
    .await;
    stack.wait_awaiting_payment(&handle).await;
    let paid = stack.pay(&handle, GOOD_CARD).await;
    assert_eq!(paid.status, BookingStatus::Confirmed);

    // The confirmation email cannot go out; the cancel is not held back.
    let started = std::time::Instant::now();
    let cancelled = stack.cancel(&handle).await;
    assert_eq!(cancelled.status, BookingStatus::Cancelled);
    assert!(cancelled.payment.refund.is_some(), "{cancelled:#?}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the cancel waited {:?} for the mail server",
        started.elapsed()
    );
    assert_seats_freed(&stack, &booking_id, flight, before).await;
    assert!(stack.mail().all().is_empty());

    // The mail server is back (a worker that reaches the sink): each email
    // goes out once, in order.
    let old = stack.terminate_worker();
    drop(old);
    stack.start_worker().await;
    assert_eq!(stack.mail().wait("confirmed", 1).await.len(), 1);
    assert_eq!(stack.mail().wait("cancelled", 1).await.len(), 1);
    assert_ended(&stack, &handle, &booking_id, BookingStatus::Cancelled).await;
    save_history(&handle, "smtp_down_then_back").await;
}

/// A stack whose worker's mail server does not answer.
async fn stack_without_mail_server(name: &str) -> Stack {
    let mut stack = Stack::start_without_worker(name).await;
    let dead = testkit::process::free_port().to_string();
    stack
        .start_worker_with(&[("SMTP_PORT", dead.as_str())])
        .await;
    stack
}

/// The email failures recorded for a booking: `(kind, cause)` by key.
async fn email_failures(stack: &Stack, booking_id: &str) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "select email_key, kind, cause from email_failure where booking_id = $1::uuid
          order by email_key",
    )
    .bind(booking_id)
    .fetch_all(&stack.db().pool)
    .await
    .unwrap()
}

/// An email the mail server refuses for good, and one it never takes
/// within the budget: the bookings go on, and each failure is recorded
/// once for ops (`email_failure`, `booking_emails_failed_total`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_given_up_is_recorded_once_and_counted() {
    let stack = stack_without_mail_server("fault-email-given-up").await;
    let flight = stack.flights.small_flight().await;

    // An address the mailer cannot parse: refused before any SMTP.
    let (refused, refused_id) = book_with(&stack, flight, "12A", |input| {
        input.contact_email = "a..b@example.com".parse().unwrap();
    })
    .await;
    // A good address, and no mail server past the budget.
    let (unsent, unsent_id) = book(&stack, flight, "12B").await;
    for handle in [&refused, &unsent] {
        stack.wait_awaiting_payment(handle).await;
        assert_eq!(
            stack.pay(handle, GOOD_CARD).await.status,
            BookingStatus::Confirmed
        );
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let want = |cause: &str| {
        vec![(
            "confirmation".to_owned(),
            "confirmation".to_owned(),
            cause.to_owned(),
        )]
    };
    loop {
        let (a, b) = (
            email_failures(&stack, &refused_id).await,
            email_failures(&stack, &unsent_id).await,
        );
        if a == want("rejected") && b == want("out_of_budget") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "email failures: {a:?} and {b:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Both bookings stay confirmed: an email never undoes a booking.
    for handle in [&refused, &unsent] {
        assert_eq!(stack.status(handle).await.status, BookingStatus::Confirmed);
    }
    let page = stack
        .get_text(&format!(
            "http://127.0.0.1:{}/metrics",
            stack.worker_http_port
        ))
        .await;
    for (cause, want) in [("rejected", 1.0), ("out_of_budget", 1.0)] {
        let series =
            format!("booking_emails_failed_total{{kind=\"confirmation\",cause=\"{cause}\"}}");
        let value: Option<f64> = page
            .lines()
            .find_map(|l| l.strip_prefix(series.as_str())?.trim().parse().ok());
        assert_eq!(value, Some(want), "{series} in:\n{page}");
    }
    assert!(
        page.contains(
            "booking_emails_failed_total{kind=\"check_in_reminder\",cause=\"rejected\"} 0"
        ),
        "every series starts at zero:\n{page}"
    );
    save_history(&unsent, "email_out_of_budget").await;
}
