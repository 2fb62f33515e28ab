//! Text messages end to end: the booking workflow, the `worker` binary,
//! real Kannel (bearerbox and smsbox) with its fake SMSC, and Kannel's
//! delivery reports posted back to the worker.

use std::time::Duration;

use activities::sms::render;
use testkit::stack::{GOOD_CARD, Stack, flights::utc_in_days, save_history, seats};
use workflows::activities::EmailKind;
use workflows::contract::{BookingInput, BookingStatus, Channels};

const PHONE: &str = "+447400123456";

fn texting(mut input: BookingInput, email: bool) -> BookingInput {
    input.contact_phone = Some(PHONE.parse().unwrap());
    input.channels = Channels { email, sms: true };
    input
}

/// The statuses a text of the booking went through (`sms_event`), and its
/// status now, once it is `want`.
async fn text_reaches(
    stack: &Stack,
    booking_id: &str,
    key: &str,
    want: &str,
) -> (String, Vec<String>) {
    let booking_id = uuid::Uuid::parse_str(booking_id).unwrap();
    testkit::poll_until(
        &format!("the {key} text never became {want}"),
        Duration::from_secs(30),
        Duration::from_millis(100),
        async || {
            let row: Option<(String, String, String, i16)> = sqlx::query_as(
                "select status, coding, recipient_hint, segments from sms_message \
                 where booking_id = $1 and sms_key = $2",
            )
            .bind(booking_id)
            .bind(key)
            .fetch_optional(&stack.db().pool)
            .await
            .unwrap();
            match row {
                Some((status, coding, hint, segments)) if status == want => {
                    let events: Vec<String> = sqlx::query_scalar(
                        "select e.status from sms_event e join sms_message m using (message_id) \
                         where m.booking_id = $1 and m.sms_key = $2 order by e.sms_event_id",
                    )
                    .bind(booking_id)
                    .bind(key)
                    .fetch_all(&stack.db().pool)
                    .await
                    .unwrap();
                    Ok((format!("{coding}/{segments}/{hint}"), events))
                }
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traveller_who_chose_sms_and_email_gets_both_and_the_deliveries_are_recorded() {
    let (mut stack, flight) = Stack::with_small_flight("texts-both").await;
    stack.start_kannel().await;
    // The reminder about 10 s after the start, after confirmation.
    let mut input = texting(stack.input(flight, seats(&["3A"])), true);
    let departure = chrono::DateTime::parse_from_rfc3339(&utc_in_days(9, 10, 0)).unwrap();
    let lead = departure.signed_duration_since(chrono::Utc::now()) - chrono::TimeDelta::seconds(10);
    input.reminder_lead_ms = lead.num_milliseconds() as u64;
    let booking_id = input.booking_id.to_string();
    let (handle, _) = stack.held_booking(input).await;
    let paid = stack.pay(&handle, GOOD_CARD).await;
    assert_eq!(paid.status, BookingStatus::Confirmed, "{paid:#?}");

    let texts = stack.texts().wait(1).await;
    assert_eq!(texts[0].to, PHONE);
    assert_eq!(texts[0].from, "SkywayAir");
    assert_eq!((texts[0].kind.as_str(), texts[0].parts), ("text", 1));
    assert_eq!(
        texts[0].gsm_text(),
        render(EmailKind::Confirmation, &paid).body
    );
    assert!(texts[0].gsm_text().contains(paid.booking_ref.as_str()));
    assert_eq!(stack.mail().wait("is confirmed", 1).await.len(), 1);

    // Kannel's reports: the SMSC took it, the handset has it (they may
    // arrive in either order; `delivered` is final either way).
    let (shape, mut events) = text_reaches(&stack, &booking_id, "confirmation", "delivered").await;
    assert_eq!(shape, "gsm7/1/+44•••••••456");
    assert_eq!(events.remove(0), "sent");
    events.sort();
    assert_eq!(events, ["accepted", "delivered"]);

    // The check-in reminder goes both ways too, each once.
    stack
        .wait_for(&handle, Duration::from_secs(30), |s| s.reminder_sent)
        .await;
    let texts = stack.texts().wait(2).await;
    assert!(texts[1].gsm_text().contains("Check-in opens"), "{texts:?}");
    assert_eq!(stack.mail().wait("Check-in reminder", 1).await.len(), 1);
    text_reaches(&stack, &booking_id, "check_in_reminder", "delivered").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(stack.texts().all().len(), 2, "one text of each");
    save_history(&handle, "texted_confirmed_reminded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traveller_who_chose_email_only_gets_no_text() {
    let (mut stack, flight) = Stack::with_small_flight("texts-email-only").await;
    stack.start_kannel().await;
    let mut input = stack.input(flight, seats(&["3A"]));
    input.contact_phone = Some(PHONE.parse().unwrap());
    let (handle, _) = stack.held_booking(input).await;
    let paid = stack.pay(&handle, GOOD_CARD).await;
    assert_eq!(paid.status, BookingStatus::Confirmed, "{paid:#?}");
    assert_eq!(stack.mail().wait("is confirmed", 1).await.len(), 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(stack.texts().all().is_empty(), "{:?}", stack.texts().all());
    let rows: i64 = sqlx::query_scalar("select count(*) from sms_message")
        .fetch_one(&stack.db().pool)
        .await
        .unwrap();
    assert_eq!(rows, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_only_with_a_name_outside_gsm_goes_as_two_ucs2_segments_and_no_email() {
    let (mut stack, flight) = Stack::with_small_flight("texts-ucs2").await;
    stack.start_kannel().await;
    let mut input = texting(stack.input(flight, seats(&["3A"])), false);
    input.passengers[0].first_name = "Łukasz".to_owned();
    let booking_id = input.booking_id.to_string();
    let (handle, _) = stack.held_booking(input).await;
    let paid = stack.pay(&handle, GOOD_CARD).await;
    assert_eq!(paid.status, BookingStatus::Confirmed, "{paid:#?}");

    let texts = stack.texts().wait(1).await;
    let expected = render(EmailKind::Confirmation, &paid).body;
    assert!(expected.starts_with("Hi Łukasz, booking"), "{expected}");
    assert_eq!((texts[0].kind.as_str(), texts[0].parts), ("udh", 2));
    assert_eq!(texts[0].ucs2_text(), expected);
    let (shape, _) = text_reaches(&stack, &booking_id, "confirmation", "delivered").await;
    assert!(shape.starts_with("ucs2/2/"), "{shape}");
    // SMS only: no email at all.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(stack.mail().all().is_empty(), "{:?}", stack.mail().all());
    save_history(&handle, "texted_only_ucs2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sms_gateway_down_then_up_sends_the_text_once_and_never_holds_the_email() {
    let (mut stack, flight) = Stack::with_small_flight("texts-gateway-down").await;
    // Kannel is not running: every send_sms attempt fails to connect.
    let input = texting(stack.input(flight, seats(&["3A"])), true);
    let booking_id = input.booking_id.to_string();
    let (handle, _) = stack.held_booking(input).await;
    let paid = stack.pay(&handle, GOOD_CARD).await;
    assert_eq!(paid.status, BookingStatus::Confirmed, "{paid:#?}");
    // The email does not wait for the text.
    assert_eq!(stack.mail().wait("is confirmed", 1).await.len(), 1);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(stack.texts().all().is_empty());

    stack.start_kannel().await;
    let texts = stack.texts().wait(1).await;
    assert!(texts[0].gsm_text().contains("is confirmed"));
    text_reaches(&stack, &booking_id, "confirmation", "delivered").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(stack.texts().all().len(), 1, "the text went once");
    save_history(&handle, "texted_after_gateway_outage").await;
}
