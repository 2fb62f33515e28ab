//! Activities run a second time (a retry after a lost answer) do their
//! work once: one hold, one charge, one email, one text.

use super::*;

/// Every step run twice at once, as a retry after a timeout would: one
/// hold, one intent, one charge, one email.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activities_executed_twice_do_their_work_once() {
    let stack = Stack::start_without_worker("twice").await;
    let flight = stack.flights.small_flight().await;
    let before = stack.flights.seats_available(flight).await;
    let config = ActivitiesConfig {
        database_url: stack.db().url.clone().into(),
        db_max_connections: 5,
        inventory: InventoryConfig {
            base_url: stack.flights.base.clone(),
            service_token: testkit::stack::flights::TOKEN.to_owned().into(),
            timeout: Duration::from_secs(5),
        },
        stripe: StripeConfig {
            secret_key: testkit::stack::STRIPE_KEY.to_owned().into(),
            api_base: Some(stack.stripe().url.clone()),
            timeout: Duration::from_secs(10),
        },
        smtp: SmtpConfig {
            host: "127.0.0.1".into(),
            port: stack.smtp_port,
            username: None,
            password: None,
            tls: SmtpTls::None,
            from: "Skyway Air <bookings@skyway.example>".into(),
            timeout: Duration::from_secs(10),
        },
        sms: SmsConfig {
            sendsms_url: format!("http://127.0.0.1:{}/cgi-bin/sendsms", stack.kannel_port),
            username: "airline".into(),
            password: "unused".to_owned().into(),
            sender: "SkywayAir".into(),
            dlr_base_url: format!("http://127.0.0.1:{}", stack.worker_http_port),
            dlr_token: "unused".to_owned().into(),
            timeout: Duration::from_secs(10),
        },
    };
    let acts = Activities::connect(&config).await.unwrap();
    let booking_id = workflows::contract::BookingId::new_random();

    let hold = HoldSeats {
        booking_id,
        flight_id: flight,
        seats: seats(&["9A", "9B"]),
        user_id: None,
    };
    let (a, b) = tokio::join!(acts.inventory.hold(&hold), acts.inventory.hold(&hold));
    assert_eq!(a.unwrap(), b.unwrap());
    assert_eq!(
        stack.flights.seats_available(flight).await,
        before - 2,
        "one hold"
    );

    let create = CreatePayment {
        booking_id,
        booking_ref: "TWICE1".parse().unwrap(),
        attempt: 1,
        amount: Money::new(20000, "EUR".parse().unwrap()).unwrap(),
    };
    let (a, b) = tokio::join!(acts.payments.create(&create), acts.payments.create(&create));
    let intent = a.unwrap();
    assert_eq!(intent, b.unwrap(), "one intent");
    let pm = stack.stripe().payment_method(GOOD_CARD).await;
    let authorize = AuthorizePayment {
        booking_id,
        attempt: 1,
        payment_method: pm.parse().unwrap(),
    };
    let (a, b) = tokio::join!(
        acts.payments.authorize(&authorize),
        acts.payments.authorize(&authorize)
    );
    assert_eq!(a.unwrap(), Authorization::Authorized);
    assert_eq!(b.unwrap(), Authorization::Authorized);
    let capture = PaymentRef {
        booking_id,
        attempt: 1,
    };
    let (a, b) = tokio::join!(
        acts.payments.capture(&capture),
        acts.payments.capture(&capture)
    );
    a.unwrap();
    b.unwrap();
    let stripe_intent = stack.stripe().intent(&intent.payment_intent_id).await;
    assert_eq!(stripe_intent["status"], "succeeded");
    assert_eq!(
        stripe_intent["charges"]["data"].as_array().unwrap().len(),
        1,
        "one charge"
    );

    let (a, b) = tokio::join!(
        acts.records.issue_tickets(booking_id, 2),
        acts.records.issue_tickets(booking_id, 2)
    );
    assert_eq!(a.unwrap(), b.unwrap(), "the same ticket numbers");

    let mut booking = confirmed_state_for(&stack, booking_id, flight);
    booking.contact_email = "twice@example.com".parse().unwrap();
    let email = SendEmail {
        kind: EmailKind::Confirmation,
        key: "confirmation".into(),
        booking,
    };
    let (a, b) = tokio::join!(acts.mailer.send(&email), acts.mailer.send(&email));
    a.unwrap();
    b.unwrap();
    acts.mailer.send(&email).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stack.mail().all().len(), 1, "one email");
}

/// A booking state for the email step (what the workflow would pass).
fn confirmed_state_for(
    stack: &Stack,
    booking_id: workflows::contract::BookingId,
    flight: i64,
) -> workflows::contract::BookingState {
    let mut input = stack.input(flight, seats(&["9A", "9B"]));
    input.booking_id = booking_id;
    let mut state = workflows::contract::BookingState::new(input);
    state.status = BookingStatus::Confirmed;
    state.payment.status = PaymentStatus::Captured;
    state.payment.attempts = 1;
    state
}
