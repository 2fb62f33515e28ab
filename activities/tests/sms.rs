//! The texter against real Kannel (bearerbox, smsbox and its fake SMSC,
//! `temporal-dev/kannel.py`) and a fresh PostgreSQL database per test.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use activities::error::StepError;
use activities::sms::{Report, SmsConfig, Texter, render};
use support::TestDb;
use testkit::fakes::{
    KANNEL_PASSWORD, KANNEL_USER, python, received_texts, restart_kannel, start_kannel,
    wait_received_texts,
};
use testkit::process::{Proc, free_port};
use testkit::scratch::ScratchDir;
use uuid::Uuid;
use workflows::activities::{EmailKind, SendSms, SmsFailed};
use workflows::contract::{BookingState, Failure};

const PHONE: &str = "+447400123456";

/// Kannel on its own port, keeping its configuration, logs and what its
/// fake SMSC receives in `dir` (removed with it).
struct Kannel {
    proc: Option<Proc>,
    port: u16,
    dir: ScratchDir,
}

impl Kannel {
    /// Kannel's port with nothing listening yet; [`Kannel::up`] starts it.
    fn down() -> Kannel {
        Kannel {
            proc: None,
            port: free_port(),
            dir: ScratchDir::new("kannel"),
        }
    }

    async fn start() -> Kannel {
        let mut kannel = Kannel::down();
        let (proc, port) = start_kannel(&python("KANNEL_PYTHON"), &kannel.log(), &kannel.dir).await;
        kannel.proc = Some(proc);
        kannel.port = port;
        kannel
    }

    fn log(&self) -> PathBuf {
        self.dir.join("launcher.log")
    }

    async fn up(&mut self) {
        let python = python("KANNEL_PYTHON");
        self.proc = Some(restart_kannel(&python, &self.log(), &self.dir, self.port).await);
    }

    fn config(&self, password: &str) -> SmsConfig {
        SmsConfig {
            sendsms_url: format!("http://127.0.0.1:{}/cgi-bin/sendsms", self.port),
            username: KANNEL_USER.into(),
            password: password.to_owned().into(),
            sender: "SkywayAir".into(),
            // Nothing listens there: Kannel's reports are the worker's
            // (workers/tests/texts.rs); these tests record them directly.
            dlr_base_url: format!("http://127.0.0.1:{}", free_port()),
            dlr_token: "test-token".to_owned().into(),
            timeout: Duration::from_secs(5),
        }
    }

    async fn wait_texts(&self, n: usize) -> Vec<testkit::fakes::Received> {
        wait_received_texts(&self.dir, n).await
    }
}

fn booking(phone: &str) -> BookingState {
    let mut b = support::sample::booking(&Uuid::new_v4().to_string());
    b.contact_phone = Some(phone.parse().expect("an E.164 number"));
    b
}

fn sms(kind: EmailKind, booking: &BookingState) -> SendSms {
    SendSms {
        kind,
        key: kind.as_str().to_owned(),
        booking: booking.clone(),
    }
}

async fn texter(kannel: &Kannel) -> (TestDb, Texter) {
    let db = TestDb::create("sms_test").await;
    let texter = Texter::new(&kannel.config(KANNEL_PASSWORD), db.pool.clone()).unwrap();
    (db, texter)
}

/// Kannel, the texter, and a booking whose confirmation it has sent.
async fn sent_confirmation() -> (Kannel, TestDb, Texter, BookingState) {
    let kannel = Kannel::start().await;
    let (db, texter) = texter(&kannel).await;
    let b = booking(PHONE);
    texter
        .send(&sms(EmailKind::Confirmation, &b))
        .await
        .unwrap();
    (kannel, db, texter, b)
}

async fn status(db: &TestDb, booking: &BookingState, key: &str) -> Option<(String, Uuid)> {
    sqlx::query_as(
        "select status, message_id from sms_message where booking_id = $1 and sms_key = $2",
    )
    .bind(booking.booking_id.uuid())
    .bind(key)
    .fetch_optional(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_confirmation_text_reaches_the_smsc_in_gsm7() {
    let (kannel, db, _texter, b) = sent_confirmation().await;
    let texts = kannel.wait_texts(1).await;
    assert_eq!(
        (texts[0].from.as_str(), texts[0].to.as_str()),
        ("SkywayAir", PHONE)
    );
    assert_eq!((texts[0].kind.as_str(), texts[0].parts), ("text", 1));
    assert_eq!(
        texts[0].gsm_text(),
        render(EmailKind::Confirmation, &b).body
    );
    assert_eq!(status(&db, &b, "confirmation").await.unwrap().0, "sent");
}

#[tokio::test]
async fn a_retried_or_concurrent_send_gives_one_message() {
    let kannel = Kannel::start().await;
    let (db, texter) = texter(&kannel).await;
    let b = booking(PHONE);
    let one = sms(EmailKind::Confirmation, &b);
    let (x, y) = tokio::join!(texter.send(&one), texter.send(&one));
    x.unwrap();
    y.unwrap();
    texter.send(&one).await.unwrap();
    kannel.wait_texts(1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(received_texts(&kannel.dir).len(), 1, "one message");
    // Another kind of the same booking is its own message.
    texter
        .send(&sms(EmailKind::CheckInReminder, &b))
        .await
        .unwrap();
    assert_eq!(kannel.wait_texts(2).await.len(), 2);
    assert_eq!(status(&db, &b, "confirmation").await.unwrap().0, "sent");
}

#[tokio::test]
async fn a_name_outside_gsm_is_sent_as_ucs2_in_two_segments() {
    let kannel = Kannel::start().await;
    let (_db, texter) = texter(&kannel).await;
    let mut b = booking(PHONE);
    b.passengers[0].first_name = "Zoë 李".into();
    let text = render(EmailKind::Confirmation, &b);
    assert_eq!(text.segments, 2, "{}", text.body);
    texter
        .send(&sms(EmailKind::Confirmation, &b))
        .await
        .unwrap();
    let texts = kannel.wait_texts(1).await;
    assert_eq!((texts[0].kind.as_str(), texts[0].parts), ("udh", 2));
    assert_eq!(texts[0].ucs2_text(), text.body);
    assert!(texts[0].ucs2_text().starts_with("Hi Zoë 李, booking"));
}

#[tokio::test]
async fn the_gateway_down_is_transient_and_the_text_goes_once_it_is_up() {
    let mut kannel = Kannel::down();
    let (db, texter) = texter(&kannel).await;
    let b = booking(PHONE);
    let one = sms(EmailKind::Confirmation, &b);
    for _ in 0..2 {
        match texter.send(&one).await {
            Err(StepError::Transient(_)) => {}
            other => panic!("expected a transient failure, got {other:?}"),
        }
    }
    assert_eq!(status(&db, &b, "confirmation").await.unwrap().0, "sending");
    kannel.up().await;
    texter.send(&one).await.unwrap();
    texter.send(&one).await.unwrap();
    kannel.wait_texts(1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(received_texts(&kannel.dir).len(), 1);
    assert_eq!(status(&db, &b, "confirmation").await.unwrap().0, "sent");
}

#[tokio::test]
async fn wrong_credentials_are_transient_and_a_booking_without_a_number_is_a_business_failure() {
    let kannel = Kannel::start().await;
    let db = TestDb::create("sms_test").await;
    let b = booking(PHONE);
    let wrong = Texter::new(&kannel.config("not-the-password"), db.pool.clone()).unwrap();
    let err = wrong
        .send(&sms(EmailKind::Confirmation, &b))
        .await
        .unwrap_err();
    assert!(matches!(err, StepError::Transient(_)), "{err:?}");

    let texter = Texter::new(&kannel.config(KANNEL_PASSWORD), db.pool.clone()).unwrap();
    // A number the domain's type refuses cannot reach the texter: a
    // booking without one is refused for good, before any text is sent.
    let mut refused = booking(PHONE);
    refused.contact_phone = None;
    match texter.send(&sms(EmailKind::Confirmation, &refused)).await {
        Err(StepError::Business { kind, message }) => {
            assert_eq!(kind, Failure::SmsRejected);
            assert!(!message.contains(KANNEL_PASSWORD), "{message}");
        }
        other => panic!("expected a business failure, got {other:?}"),
    }
    assert_eq!(status(&db, &refused, "confirmation").await, None);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(received_texts(&kannel.dir).is_empty());
}

#[tokio::test]
async fn delivery_reports_move_the_status_forward_never_back() {
    let (_kannel, db, texter, b) = sent_confirmation().await;
    let (_, id) = status(&db, &b, "confirmation").await.unwrap();
    assert_eq!(
        texter.report(id, 8).await.unwrap(),
        Report::Recorded("accepted".into())
    );
    assert_eq!(
        texter.report(id, 1).await.unwrap(),
        Report::Recorded("delivered".into())
    );
    // A late "accepted" after "delivered" is logged, not applied.
    assert_eq!(
        texter.report(id, 8).await.unwrap(),
        Report::Recorded("delivered".into())
    );
    assert_eq!(
        texter.report(Uuid::new_v4(), 1).await.unwrap(),
        Report::Unknown
    );
    let events: Vec<String> = sqlx::query_scalar(
        "select status from sms_event where message_id = $1 order by sms_event_id",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(events, ["sent", "accepted", "delivered", "accepted"]);
    assert!(texter.report(id, 3).await.is_err(), "not a report type");
}

#[tokio::test]
async fn a_text_given_up_is_recorded_once() {
    let kannel = Kannel::down();
    let (db, texter) = texter(&kannel).await;
    let b = booking(PHONE);
    let _ = texter.send(&sms(EmailKind::Confirmation, &b)).await;
    let failed = SmsFailed {
        booking_id: b.booking_id,
        kind: EmailKind::Confirmation,
        key: "confirmation".into(),
    };
    texter.failed(&failed).await.unwrap();
    texter.failed(&failed).await.unwrap();
    let (status, id) = status(&db, &b, "confirmation").await.unwrap();
    assert_eq!(status, "out_of_budget");
    let events: i64 = sqlx::query_scalar("select count(*) from sms_event where message_id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(events, 1);
}

#[tokio::test]
async fn a_text_sent_before_its_give_up_is_recorded_stays_sent() {
    let (_kannel, db, texter, b) = sent_confirmation().await;
    let failed = SmsFailed {
        booking_id: b.booking_id,
        kind: EmailKind::Confirmation,
        key: "confirmation".into(),
    };
    texter.failed(&failed).await.unwrap();
    assert_eq!(status(&db, &b, "confirmation").await.unwrap().0, "sent");
}
