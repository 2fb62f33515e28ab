//! The emails' words: a subject, and a plain text and an HTML body
//! rendered from the templates in `activities/templates/` (minijinja), for
//! each kind of email and a booking.

use std::sync::LazyLock;

use chrono::{DateTime, TimeDelta, Utc};
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;
use workflows::activities::EmailKind;
use workflows::contract::{BookingState, Money};

/// Online check-in opens this long before departure (what the reminder says).
pub const CHECK_IN_OPENS_BEFORE: TimeDelta = TimeDelta::hours(24);

/// One email, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Render one kind of email for a booking.
///
/// # Panics
/// Only if a built-in template is broken, which the unit tests rule out.
pub fn render(kind: EmailKind, booking: &BookingState) -> Rendered {
    try_render(kind, booking).expect("the built-in email templates render")
}

pub(super) fn try_render(
    kind: EmailKind,
    booking: &BookingState,
) -> Result<Rendered, minijinja::Error> {
    let view = View::new(kind, booking);
    let env = &*TEMPLATES;
    let text = env
        .get_template(&format!("{}.txt", kind.as_str()))?
        .render(&view)?;
    let html = env
        .get_template(&format!("{}.html", kind.as_str()))?
        .render(&view)?;
    Ok(Rendered {
        subject: subject(kind, booking),
        text,
        html,
    })
}

fn subject(kind: EmailKind, booking: &BookingState) -> String {
    let reference = &booking.booking_ref;
    match kind {
        EmailKind::Confirmation => format!("Your booking {reference} is confirmed"),
        EmailKind::PaymentExpired => format!("Your booking {reference} has expired"),
        EmailKind::Cancellation => format!("Your booking {reference} is cancelled"),
        EmailKind::FlightCancelled => match &booking.flight {
            Some(flight) => format!(
                "Flight {} is cancelled: your booking {reference}",
                flight.flight_number
            ),
            None => format!("Your flight is cancelled: booking {reference}"),
        },
        EmailKind::ScheduleChange => format!("New departure time for your booking {reference}"),
        EmailKind::CheckInReminder => format!("Check-in reminder for your booking {reference}"),
    }
}

/// The templates, compiled once. `.html` templates are auto-escaped,
/// `.txt` ones are not; an undefined variable is an error.
static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    for (name, source) in TEMPLATE_SOURCES {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("email template {name} does not compile: {e:#}"));
    }
    env
});

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("../../templates/", $name)))),*]
    };
}

const TEMPLATE_SOURCES: [(&str, &str); 16] = templates![
    "layout.txt",
    "layout.html",
    "itinerary.txt",
    "itinerary.html",
    "confirmation.txt",
    "confirmation.html",
    "payment_expired.txt",
    "payment_expired.html",
    "cancellation.txt",
    "cancellation.html",
    "flight_cancelled.txt",
    "flight_cancelled.html",
    "schedule_change.txt",
    "schedule_change.html",
    "check_in_reminder.txt",
    "check_in_reminder.html",
];

/// What the templates see: every value already formatted.
#[derive(Debug, Serialize)]
struct View<'a> {
    booking_ref: &'a str,
    /// The first passenger's first name, for the greeting.
    name: Option<&'a str>,
    flight: Option<FlightView<'a>>,
    seats: Vec<SeatView<'a>>,
    passengers: Vec<PassengerView<'a>>,
    total: Option<String>,
    refund: Option<String>,
    check_in_opens: Option<String>,
    check_in_hours: i64,
}

#[derive(Debug, Serialize)]
struct FlightView<'a> {
    number: &'a str,
    origin: &'a str,
    destination: &'a str,
    /// In the origin airport's local time, with its zone.
    departure: String,
    /// In the destination airport's local time, with its zone.
    arrival: Option<String>,
}

#[derive(Debug, Serialize)]
struct SeatView<'a> {
    number: &'a str,
    cabin: &'a str,
}

#[derive(Debug, Serialize)]
struct PassengerView<'a> {
    name: String,
    ticket: Option<&'a str>,
}

impl<'a> View<'a> {
    fn new(kind: EmailKind, booking: &'a BookingState) -> Self {
        let check_in_opens = match (kind, &booking.flight) {
            (EmailKind::CheckInReminder, Some(flight)) => Some(format_time(
                flight.departure_time - CHECK_IN_OPENS_BEFORE,
                flight.origin_time_zone.as_deref(),
            )),
            _ => None,
        };
        View {
            booking_ref: booking.booking_ref.as_str(),
            name: booking
                .passengers
                .first()
                .map(|p| p.first_name.as_str())
                .filter(|n| !n.trim().is_empty()),
            flight: booking.flight.as_ref().map(|f| FlightView {
                number: f.flight_number.as_str(),
                origin: f.origin.as_str(),
                destination: f.destination.as_str(),
                departure: format_time(f.departure_time, f.origin_time_zone.as_deref()),
                arrival: f
                    .arrival_time
                    .map(|at| format_time(at, f.destination_time_zone.as_deref())),
            }),
            seats: booking
                .seats
                .iter()
                .map(|s| SeatView {
                    number: s.seat_number.as_str(),
                    cabin: s.cabin.as_str(),
                })
                .collect(),
            // Tickets are issued one per passenger, in passenger order.
            passengers: booking
                .passengers
                .iter()
                .enumerate()
                .map(|(i, p)| PassengerView {
                    name: format!("{} {}", p.first_name, p.last_name),
                    ticket: booking.ticket_numbers.get(i).map(String::as_str),
                })
                .collect(),
            total: booking.total.as_ref().map(format_money),
            refund: booking
                .payment
                .refund
                .as_ref()
                .map(|r| format_money(&r.amount)),
            check_in_opens,
            check_in_hours: CHECK_IN_OPENS_BEFORE.num_hours(),
        }
    }
}

/// `Tue 01 Dec 2026, 09:30 CET (UTC+01:00)`: the airport's local time with
/// its zone; `Tue 01 Dec 2026, 08:30 UTC` when the zone is unknown.
fn format_time(at: DateTime<Utc>, zone: Option<&str>) -> String {
    local_time(at, zone, "%a %d %b %Y, %H:%M", " %Z (UTC%:z)")
}

/// `at` in the IANA `zone` as `date_time` then `zone_suffix` (chrono's
/// format), or in UTC with ` UTC` when the zone is unknown.
pub(crate) fn local_time(
    at: DateTime<Utc>,
    zone: Option<&str>,
    date_time: &str,
    zone_suffix: &str,
) -> String {
    match zone.and_then(|z| z.parse::<chrono_tz::Tz>().ok()) {
        Some(tz) => at
            .with_timezone(&tz)
            .format(&format!("{date_time}{zone_suffix}"))
            .to_string(),
        None => format!("{} UTC", at.format(date_time)),
    }
}

/// Minor units to `123.45 EUR`, `12345 JPY`, `12.345 KWD`: as many
/// decimals as the currency's minor unit has (ISO 4217).
pub fn format_money(money: &Money) -> String {
    // Never negative (`Money::new` refuses it).
    let (amount, currency) = (money.amount().unsigned_abs(), money.currency());
    let digits = currency.minor_unit_digits();
    if digits == 0 {
        return format!("{amount} {currency}");
    }
    let unit = 10u64.pow(digits);
    format!(
        "{}.{:0width$} {currency}",
        amount / unit,
        amount % unit,
        width = digits as usize
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use workflows::contract::{PaymentStatus, RefundInfo};

    use super::*;

    const ALL_KINDS: [EmailKind; 6] = EmailKind::ALL;

    use crate::sample;
    use sample::eur;

    const BOOKING_ID: &str = "6f1c1f5e-8a43-4c6e-9d59-0b1f3f0e2a11";

    fn booking() -> BookingState {
        sample::booking(BOOKING_ID)
    }

    /// Every needle is in `part` (the text or the HTML of an email).
    fn assert_contains_all(part: &str, needles: &[&str]) {
        for needle in needles {
            assert!(part.contains(needle), "{needle:?} missing from {part}");
        }
    }

    /// Every needle is in both the text and the HTML of `r`.
    fn assert_both_contain(r: &Rendered, needles: &[&str]) {
        for part in [&r.text, &r.html] {
            assert_contains_all(part, needles);
        }
    }

    fn refunded(mut b: BookingState) -> BookingState {
        b.payment.status = PaymentStatus::Refunded;
        b.payment.refund = Some(RefundInfo {
            refund_id: "re_1".into(),
            amount: eur(12_345),
        });
        b
    }

    #[test]
    fn money_is_formatted_from_minor_units() {
        assert_eq!(format_money(&eur(12_345)), "123.45 EUR");
        assert_eq!(format_money(&eur(5)), "0.05 EUR");
        assert_eq!(format_money(&eur(100)), "1.00 EUR");
        let money = |amount, currency: &str| {
            Money::new(amount, domain::Currency::parse(currency).unwrap()).unwrap()
        };
        assert_eq!(format_money(&money(12_345, "JPY")), "12345 JPY");
        assert_eq!(format_money(&money(12_345, "KWD")), "12.345 KWD");
    }

    #[test]
    fn every_kind_renders_a_subject_text_and_html() {
        for kind in ALL_KINDS {
            for b in [booking(), refunded(booking())] {
                let r = try_render(kind, &b).unwrap_or_else(|e| panic!("{kind:?}: {e:#}"));
                assert!(r.subject.contains("K7Q2ZP") || r.subject.contains("SK123"));
                assert!(r.text.contains("K7Q2ZP"), "{kind:?} text: {}", r.text);
                assert!(r.html.contains("K7Q2ZP"), "{kind:?} html: {}", r.html);
                assert!(r.html.starts_with("<!DOCTYPE html>"));
                assert!(r.text.starts_with("Hello Ada,\n"), "{kind:?}: {}", r.text);
            }
        }
    }

    #[test]
    fn every_kind_renders_without_a_flight_or_passengers() {
        let mut b = booking();
        b.flight = None;
        b.passengers.clear();
        b.seats.clear();
        b.ticket_numbers.clear();
        b.total = None;
        for kind in ALL_KINDS {
            let r = try_render(kind, &b).unwrap_or_else(|e| panic!("{kind:?}: {e:#}"));
            assert!(r.text.starts_with("Hello,\n"), "{kind:?}: {}", r.text);
        }
    }

    /// The confirmation lists flight, seats, passengers, tickets and total;
    /// the check-in reminder gives departure, seats and when check-in opens.
    #[test]
    fn confirmation_and_check_in_reminder_give_their_details_in_text_and_html() {
        let cases: [(EmailKind, &str, &[&str]); 2] = [
            (
                EmailKind::Confirmation,
                "Your booking K7Q2ZP is confirmed",
                &[
                    "SK123",
                    "LIS",
                    "BER",
                    "Tue 01 Dec 2026, 08:30 WET (UTC+00:00)",
                    "Tue 01 Dec 2026, 13:00 CET (UTC+01:00)",
                    "12A (economy)",
                    "12B (economy)",
                    "Ada Lovelace, e-ticket 1000000001",
                    "Charles Babbage, e-ticket 1000000002",
                    "123.45 EUR",
                ],
            ),
            (
                EmailKind::CheckInReminder,
                "Check-in reminder for your booking K7Q2ZP",
                &[
                    "Tue 01 Dec 2026, 08:30 WET (UTC+00:00)",
                    "12A (economy)",
                    "Mon 30 Nov 2026, 08:30 WET (UTC+00:00)",
                ],
            ),
        ];
        for (kind, subject, needles) in cases {
            let r = render(kind, &booking());
            assert_eq!(r.subject, subject, "{kind:?}");
            assert_both_contain(&r, needles);
        }
    }

    #[test]
    fn payment_expired_says_seats_released_and_nothing_charged() {
        let r = render(EmailKind::PaymentExpired, &booking());
        assert_eq!(r.subject, "Your booking K7Q2ZP has expired");
        assert_contains_all(
            &r.text,
            &[
                "payment window has closed",
                "released",
                "nothing was charged",
            ],
        );
        assert_contains_all(&r.html, &["nothing was charged"]);
    }

    #[test]
    fn cancellation_names_the_refund_or_says_nothing_was_charged() {
        let r = render(EmailKind::Cancellation, &refunded(booking()));
        assert_eq!(r.subject, "Your booking K7Q2ZP is cancelled");
        assert_contains_all(&r.text, &["A refund of 123.45 EUR"]);
        assert_contains_all(&r.html, &["123.45 EUR"]);
        assert!(!r.text.contains("Nothing was charged"));

        let mut b = booking();
        b.payment.status = PaymentStatus::Cancelled;
        let r = render(EmailKind::Cancellation, &b);
        assert_both_contain(&r, &["Nothing was charged"]);
        assert!(!r.text.contains("refund"));
    }

    #[test]
    fn flight_cancelled_apologises_with_the_full_refund() {
        let r = render(EmailKind::FlightCancelled, &refunded(booking()));
        assert_eq!(r.subject, "Flight SK123 is cancelled: your booking K7Q2ZP");
        assert_contains_all(
            &r.text,
            &[
                "We are very sorry",
                "full refund of 123.45 EUR",
                "apologise",
            ],
        );
        assert_contains_all(&r.html, &["full refund of 123.45 EUR"]);
    }

    #[test]
    fn schedule_change_gives_the_new_departure_time() {
        let mut b = booking();
        b.flight.as_mut().unwrap().departure_time =
            Utc.with_ymd_and_hms(2026, 12, 1, 10, 5, 0).unwrap();
        let r = render(EmailKind::ScheduleChange, &b);
        assert_eq!(r.subject, "New departure time for your booking K7Q2ZP");
        assert!(
            r.text
                .contains("New departure: Tue 01 Dec 2026, 10:05 WET (UTC+00:00)")
        );
        assert!(r.html.contains("Tue 01 Dec 2026, 10:05 WET (UTC+00:00)"));
    }

    #[test]
    fn html_escapes_what_travellers_typed_and_text_does_not() {
        let mut b = booking();
        b.passengers[0].first_name = "<script>alert(1)</script>".into();
        b.passengers[0].last_name = "O'Brien & Co".into();
        let r = render(EmailKind::Confirmation, &b);
        assert!(!r.html.contains("<script>"));
        assert!(r.html.contains("&lt;script&gt;"));
        assert!(r.html.contains("O&#x27;Brien &amp; Co"), "{}", r.html);
        assert!(r.text.contains("<script>alert(1)</script> O'Brien & Co"));
    }
}
