//! The mailer against a real SMTP socket (the project's sink,
//! `temporal-dev/smtp_sink.py`) and a fresh PostgreSQL database per test.
//! Permanent and temporary rejections come from a tiny scripted SMTP server,
//! because the sink accepts everything.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::time::Duration;

use activities::email::{Mailer, SmtpConfig, SmtpTls};
use activities::error::StepError;
use chrono::{DateTime, Utc};
use mail_parser::MessageParser;
use sqlx::PgPool;
use support::TestDb;
use testkit::db::admin_url;
use testkit::fakes::{python, start_smtp_sink};
use testkit::process::{Proc, free_port};
use uuid::Uuid;
use workflows::activities::{EmailKind, SendEmail};
use workflows::contract::{BookingState, Failure};

const FROM: &str = "Skyway Air <bookings@skyway.example>";

// ---------------------------------------------------------------- SMTP sink

/// The project's SMTP sink on a free loopback port, writing to a temp dir.
struct Sink {
    _child: Proc,
    port: u16,
    dir: PathBuf,
    log: PathBuf,
}

impl Sink {
    async fn start() -> Sink {
        let dir = std::env::temp_dir().join(format!("smtp-sink-{}", Uuid::new_v4().simple()));
        let log = dir.with_extension("log");
        let (child, port) = start_smtp_sink(&python("SMTP_SINK_PYTHON"), &log, &dir).await;
        Sink {
            _child: child,
            port,
            dir,
            log,
        }
    }

    /// Every message received so far, oldest first.
    fn messages(&self) -> Vec<Vec<u8>> {
        let mut paths: Vec<PathBuf> = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries
                .map(|e| e.unwrap().path())
                .filter(|p| {
                    p.extension().is_some_and(|e| e == "eml")
                        && !p.file_name().unwrap().to_string_lossy().starts_with('.')
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        paths.sort();
        paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A scripted SMTP server that answers `RCPT TO` with `rcpt_reply` (e.g.
/// `550 5.1.1 no such user`) and everything else with success. It runs on
/// a plain thread and lives as long as the test process.
fn scripted_server(rcpt_reply: &'static str) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { break };
            std::thread::spawn(move || -> std::io::Result<()> {
                stream.set_read_timeout(Some(Duration::from_secs(10)))?;
                let mut write = stream.try_clone()?;
                write.write_all(b"220 scripted ESMTP\r\n")?;
                for line in BufReader::new(stream).lines() {
                    let line = line?;
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply = match verb.as_str() {
                        "EHLO" | "HELO" => "250 scripted",
                        "RCPT" => rcpt_reply,
                        "QUIT" => "221 bye",
                        _ => "250 ok",
                    };
                    write.write_all(format!("{reply}\r\n").as_bytes())?;
                    if verb == "QUIT" {
                        break;
                    }
                }
                Ok(())
            });
        }
    });
    port
}

// ---------------------------------------------------------------- fixtures

fn config(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        username: None,
        password: None,
        tls: SmtpTls::None,
        from: FROM.into(),
        timeout: Duration::from_secs(5),
    }
}

fn booking() -> BookingState {
    support::sample::booking(&Uuid::new_v4().to_string())
}

fn email(kind: EmailKind, key: &str, booking: &BookingState) -> SendEmail {
    SendEmail {
        kind,
        key: key.into(),
        booking: booking.clone(),
    }
}

/// The confirmation of `booking`, under its usual key.
fn confirmation(booking: &BookingState) -> SendEmail {
    email(EmailKind::Confirmation, "confirmation", booking)
}

/// A fresh database, the SMTP sink, and a mailer that sends to the sink.
async fn mailer_to_sink() -> (TestDb, Sink, Mailer) {
    let db = TestDb::create("email_test").await;
    let sink = Sink::start().await;
    let mailer = Mailer::new(&config(sink.port), db.pool.clone()).unwrap();
    (db, sink, mailer)
}

/// A fresh database and a mailer that sends to a [`scripted_server`]
/// answering `RCPT TO` with `rcpt_reply`.
async fn mailer_to_scripted(rcpt_reply: &'static str) -> (TestDb, Mailer) {
    let db = TestDb::create("email_test").await;
    let port = scripted_server(rcpt_reply);
    let mailer = Mailer::new(&config(port), db.pool.clone()).unwrap();
    (db, mailer)
}

async fn notification(pool: &PgPool, booking: &BookingState, key: &str) -> Option<NotificationRow> {
    sqlx::query_as(
        "select kind, recipient, message_id, sent_at from notification \
         where booking_id = $1 and notification_key = $2",
    )
    .bind(booking.booking_id.uuid())
    .bind(key)
    .fetch_optional(pool)
    .await
    .unwrap()
}

#[derive(Debug, sqlx::FromRow)]
struct NotificationRow {
    kind: String,
    recipient: String,
    message_id: Option<String>,
    sent_at: Option<DateTime<Utc>>,
}

fn assert_business_rejection(result: Result<(), StepError>) {
    match result {
        Err(StepError::Business { kind, .. }) => assert_eq!(kind, Failure::EmailRejected),
        other => panic!(
            "expected an {} business error, got {other:?}",
            Failure::EmailRejected
        ),
    }
}

/// Each part contains each needle.
fn assert_all_contain(parts: &[&str], needles: &[&str]) {
    for part in parts {
        for needle in needles {
            assert!(part.contains(needle), "{needle:?} missing from {part}");
        }
    }
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn confirmation_email_arrives_with_seats_and_tickets_in_text_and_html() {
    let (db, sink, mailer) = mailer_to_sink().await;
    let b = booking();

    mailer.send(&confirmation(&b)).await.unwrap();

    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    let raw = &messages[0];
    let raw_text = String::from_utf8_lossy(raw);
    assert!(
        raw_text.contains("X-Envelope-To: ada@example.com"),
        "{raw_text}"
    );
    let message = MessageParser::default().parse(raw).expect("a MIME message");
    assert_eq!(message.subject(), Some("Your booking K7Q2ZP is confirmed"));
    let expected_id = format!("booking-{}.confirmation@skyway.example", b.booking_id);
    assert_eq!(message.message_id(), Some(expected_id.as_str()));
    assert!(
        raw_text.contains("multipart/alternative"),
        "not multipart/alternative: {raw_text}"
    );
    assert_eq!(message.text_body.len(), 1);
    assert_eq!(message.html_body.len(), 1);
    let text = message.body_text(0).unwrap();
    let html = message.body_html(0).unwrap();
    assert!(html.contains("<html"), "the HTML part is HTML: {html}");
    assert!(!text.contains("<html"), "the text part is text: {text}");
    assert_all_contain(
        &[&text, &html],
        &[
            "K7Q2ZP",
            "SK123",
            "Tue 01 Dec 2026, 08:30 WET (UTC+00:00)",
            "12A (economy)",
            "12B (economy)",
            "Ada Lovelace, e-ticket 1000000001",
            "Charles Babbage, e-ticket 1000000002",
            "123.45 EUR",
        ],
    );

    let row = notification(&db.pool, &b, "confirmation").await.unwrap();
    assert_eq!(row.kind, "confirmation");
    assert_eq!(row.recipient, "ada@example.com");
    assert!(row.sent_at.is_some());
    assert_eq!(row.message_id, Some(format!("<{expected_id}>")));
}

#[tokio::test]
async fn sending_the_same_key_twice_delivers_one_message() {
    let (db, sink, mailer) = mailer_to_sink().await;
    let b = booking();
    let input = confirmation(&b);

    mailer.send(&input).await.unwrap();
    let first = notification(&db.pool, &b, "confirmation").await.unwrap();
    mailer.send(&input).await.unwrap();
    let second = notification(&db.pool, &b, "confirmation").await.unwrap();

    assert_eq!(sink.messages().len(), 1);
    assert_eq!(first.sent_at, second.sent_at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sends_of_the_same_key_deliver_one_message() {
    let (db, sink, mailer) = mailer_to_sink().await;
    let b = booking();
    let input = email(EmailKind::PaymentExpired, "payment_expired", &b);

    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let mailer = mailer.clone();
            let input = input.clone();
            tokio::spawn(async move { mailer.send(&input).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }

    assert_eq!(sink.messages().len(), 1);
    let row = notification(&db.pool, &b, "payment_expired").await.unwrap();
    assert!(row.sent_at.is_some());
}

#[tokio::test]
async fn each_key_of_a_booking_is_sent_once() {
    let (_db, sink, mailer) = mailer_to_sink().await;
    let mut b = booking();

    mailer
        .send(&email(EmailKind::ScheduleChange, "schedule_change-1", &b))
        .await
        .unwrap();
    b.flight.as_mut().unwrap().departure_time =
        support::sample::departure() + chrono::TimeDelta::minutes(95);
    mailer
        .send(&email(EmailKind::ScheduleChange, "schedule_change-2", &b))
        .await
        .unwrap();
    mailer
        .send(&email(EmailKind::ScheduleChange, "schedule_change-2", &b))
        .await
        .unwrap();

    let messages: Vec<_> = sink
        .messages()
        .iter()
        .map(|raw| {
            let m = MessageParser::default().parse(raw).unwrap();
            (
                m.message_id().unwrap().to_owned(),
                m.body_text(0).unwrap().into_owned(),
            )
        })
        .collect();
    assert_eq!(messages.len(), 2);
    assert_ne!(messages[0].0, messages[1].0);
    assert!(
        messages[0]
            .1
            .contains("New departure: Tue 01 Dec 2026, 08:30 WET (UTC+00:00)")
    );
    assert!(
        messages[1]
            .1
            .contains("New departure: Tue 01 Dec 2026, 10:05 WET (UTC+00:00)")
    );
}

#[tokio::test]
async fn a_permanent_rejection_is_a_business_failure_and_is_not_recorded_as_sent() {
    let (db, mailer) = mailer_to_scripted("550 5.1.1 mailbox unavailable").await;
    let b = booking();

    let result = mailer.send(&confirmation(&b)).await;

    assert_business_rejection(result);
    let row = notification(&db.pool, &b, "confirmation").await;
    assert!(row.is_none_or(|r| r.sent_at.is_none()), "recorded as sent");
}

#[tokio::test]
async fn a_temporary_rejection_is_transient_and_is_not_recorded_as_sent() {
    let (db, mailer) = mailer_to_scripted("451 4.3.0 try again later").await;
    let b = booking();

    let result = mailer.send(&confirmation(&b)).await;

    assert!(matches!(result, Err(StepError::Transient(_))), "{result:?}");
    let row = notification(&db.pool, &b, "confirmation").await;
    assert!(row.is_none_or(|r| r.sent_at.is_none()), "recorded as sent");
}

#[tokio::test]
async fn an_unreachable_server_is_transient_and_a_retry_then_sends() {
    let db = TestDb::create("email_test").await;
    let b = booking();
    let input = email(EmailKind::Cancellation, "cancellation", &b);

    let down = Mailer::new(&config(free_port()), db.pool.clone()).unwrap();
    let result = down.send(&input).await;
    assert!(matches!(result, Err(StepError::Transient(_))), "{result:?}");

    let sink = Sink::start().await;
    let up = Mailer::new(&config(sink.port), db.pool.clone()).unwrap();
    up.send(&input).await.unwrap();
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn an_invalid_contact_email_is_a_business_failure() {
    let (_db, mailer) = mailer_to_scripted("250 ok").await;
    let mut b = booking();
    // The domain's type takes it; the mailer's parser (RFC 5322 atoms) does
    // not: only the gateway's check, which both run, keeps such an
    // address out of a booking.
    b.contact_email = "a,b@example.com".parse().unwrap();

    let result = mailer.send(&confirmation(&b)).await;

    assert_business_rejection(result);
}

#[test]
fn a_mailer_needs_a_valid_sender_and_both_credentials() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // A lazy pool never connects: enough to build a mailer.
        let pool = PgPool::connect_lazy(&admin_url()).unwrap();
        let mut bad_from = config(2525);
        bad_from.from = "not an address".into();
        assert!(Mailer::new(&bad_from, pool.clone()).is_err());
        let mut half_credentials = config(2525);
        half_credentials.username = Some("user".into());
        assert!(Mailer::new(&half_credentials, pool.clone()).is_err());
        let mut full = config(587);
        full.tls = SmtpTls::StartTls;
        full.host = "smtp.skyway.example".into();
        full.username = Some("user".into());
        full.password = Some("secret".into());
        assert!(Mailer::new(&full, pool).is_ok());
    });
}

#[tokio::test]
async fn a_claim_left_by_an_attempt_that_died_is_taken_over_and_the_email_sent() {
    let (db, sink, mailer) = mailer_to_sink().await;
    let b = booking();
    // An attempt claimed the email and died before the mail server
    // answered: its lease has run out.
    sqlx::query(
        "insert into notification (booking_id, notification_key, kind, recipient, claimed_until)
         values ($1, 'confirmation', 'confirmation', $2, now() - interval '1 second')",
    )
    .bind(b.booking_id.uuid())
    .bind(b.contact_email.as_str())
    .execute(&db.pool)
    .await
    .unwrap();

    mailer.send(&confirmation(&b)).await.unwrap();

    assert_eq!(sink.messages().len(), 1);
    let row = notification(&db.pool, &b, "confirmation").await.unwrap();
    assert!(row.sent_at.is_some() && row.message_id.is_some());
}
