//! The texts travellers get by SMS: short, in GSM-7 when every character
//! allows it and UCS-2 otherwise, and never longer than
//! [`MAX_SEGMENTS`] segments (a long name or many seats are shortened
//! first, the text cut last).

use chrono::{DateTime, Utc};
use workflows::activities::EmailKind as Kind;
use workflows::contract::BookingState;

use crate::email::{CHECK_IN_OPENS_BEFORE, format_money};

/// The most segments one text may take (two are billed as two).
pub const MAX_SEGMENTS: usize = 2;

/// A first name longer than this is cut in the greeting.
const NAME_CHARS: usize = 20;

/// How a text travels: 7-bit GSM 03.38 (160 characters, 153 a segment when
/// concatenated) or UCS-2 (70 UTF-16 units, 67 a segment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gsm7,
    Ucs2,
}

impl Coding {
    pub fn as_str(self) -> &'static str {
        match self {
            Coding::Gsm7 => "gsm7",
            Coding::Ucs2 => "ucs2",
        }
    }

    /// The smallest coding that carries `text`.
    pub fn of(text: &str) -> Coding {
        if text.chars().all(|c| gsm_septets(c).is_some()) {
            Coding::Gsm7
        } else {
            Coding::Ucs2
        }
    }
}

/// A text ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub body: String,
    pub coding: Coding,
    pub segments: usize,
}

impl Text {
    fn new(body: String) -> Text {
        let coding = Coding::of(&body);
        let segments = segments(&body, coding);
        Text {
            body,
            coding,
            segments,
        }
    }
}

/// GSM 03.38's basic character set, in table order (the escape at 0x1B
/// left out).
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// Its extension table: each takes an escape and itself, two septets.
const GSM_EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// Septets `c` takes in GSM-7, or `None` when GSM-7 cannot carry it.
fn gsm_septets(c: char) -> Option<usize> {
    if GSM_BASIC.contains(c) {
        Some(1)
    } else if GSM_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// How many segments `text` takes in `coding`: one when it fits a single
/// message, else concatenated parts, never splitting an escape pair or a
/// surrogate pair.
pub fn segments(text: &str, coding: Coding) -> usize {
    let (single, part, units): (usize, usize, Vec<usize>) = match coding {
        Coding::Gsm7 => (
            160,
            153,
            text.chars().map(|c| gsm_septets(c).unwrap_or(1)).collect(),
        ),
        Coding::Ucs2 => (70, 67, text.chars().map(char::len_utf16).collect()),
    };
    if units.iter().sum::<usize>() <= single {
        return 1;
    }
    let (mut parts, mut used) = (1, 0);
    for u in units {
        if used + u > part {
            parts += 1;
            used = 0;
        }
        used += u;
    }
    parts
}

/// The text of one kind of message for a booking, within
/// [`MAX_SEGMENTS`].
pub fn render(kind: Kind, booking: &BookingState) -> Text {
    let name = booking
        .passengers
        .first()
        .map(|p| p.first_name.trim())
        .filter(|n| !n.is_empty())
        .map(|n| cut(n, NAME_CHARS));
    let seats: Vec<&str> = booking
        .seats
        .iter()
        .map(|s| s.seat_number.as_str())
        .collect();
    let seat_list = match seats.len() {
        0 => None,
        1 => Some(format!("Seat {}", seats[0])),
        _ => Some(format!("Seats {}", seats.join(", "))),
    };
    let seat_count = match seats.len() {
        0 => None,
        1 => Some("1 seat".to_owned()),
        n => Some(format!("{n} seats")),
    };
    // Longest first; the first that fits is sent.
    let tries = [
        (name.as_deref(), seat_list.as_deref()),
        (name.as_deref(), seat_count.as_deref()),
        (None, seat_count.as_deref()),
    ];
    for (name, seats) in tries {
        let text = Text::new(body(kind, booking, name, seats));
        if text.segments <= MAX_SEGMENTS {
            return text;
        }
    }
    // Only a booking reference or flight data far beyond ours gets here.
    let full: Vec<char> = body(kind, booking, None, seat_count.as_deref())
        .chars()
        .collect();
    let mut keep = full.len();
    loop {
        keep -= 1;
        let text = Text::new(format!("{}...", full[..keep].iter().collect::<String>()));
        if text.segments <= MAX_SEGMENTS || keep == 0 {
            return text;
        }
    }
}

fn body(kind: Kind, b: &BookingState, name: Option<&str>, seats: Option<&str>) -> String {
    let hi = match name {
        Some(name) => format!("Hi {name}, "),
        None => String::new(),
    };
    let r = b.booking_ref.as_str();
    let flight = b.flight.as_ref();
    let number = flight.map_or("your flight", |f| f.flight_number.as_str());
    let route = flight
        .map(|f| format!(" {}-{}", f.origin, f.destination))
        .unwrap_or_default();
    let departs = flight
        .map(|f| {
            format!(
                " departs {}",
                local_time(f.departure_time, f.origin_time_zone.as_deref())
            )
        })
        .unwrap_or_default();
    let refund = b.payment.refund.as_ref().map(|r| format_money(&r.amount));
    let text = match kind {
        Kind::Confirmation => {
            let seats = seats.map(|s| format!(" {s}.")).unwrap_or_default();
            format!(
                "{hi}booking {r} is confirmed: {number}{route}{departs}.{seats} Have a good trip!"
            )
        }
        Kind::PaymentExpired => format!(
            "{hi}booking {r} has expired: no payment arrived in time and the seats were released. Nothing was charged."
        ),
        Kind::Cancellation => match refund {
            Some(amount) => {
                format!("{hi}booking {r} is cancelled. {amount} will be refunded to your card.")
            }
            None => format!("{hi}booking {r} is cancelled. Nothing was charged."),
        },
        Kind::ScheduleChange => {
            format!("{hi}new time for booking {r}: {number}{route} now{departs}.")
        }
        Kind::FlightCancelled => {
            let refund = match refund {
                Some(amount) => format!(" {amount} will be refunded to your card."),
                None => " Nothing was charged.".to_owned(),
            };
            format!("{hi}we are sorry: {number}{route} is cancelled (booking {r}).{refund}")
        }
        Kind::CheckInReminder => {
            let opens = flight
                .map(|f| {
                    format!(
                        " Check-in opens {}.",
                        local_time(
                            f.departure_time - CHECK_IN_OPENS_BEFORE,
                            f.origin_time_zone.as_deref()
                        )
                    )
                })
                .unwrap_or_default();
            format!("{hi}reminder for booking {r}: {number}{route}{departs}.{opens}")
        }
    };
    capitalise(text)
}

/// `Tue 01 Dec 09:30 CET`: the airport's local time with its zone.
fn local_time(at: DateTime<Utc>, zone: Option<&str>) -> String {
    match zone.and_then(|z| z.parse::<chrono_tz::Tz>().ok()) {
        Some(tz) => at
            .with_timezone(&tz)
            .format("%a %d %b %H:%M %Z")
            .to_string(),
        None => at.format("%a %d %b %H:%M UTC").to_string(),
    }
}

fn cut(s: &str, chars: usize) -> String {
    s.chars().take(chars).collect()
}

fn capitalise(s: String) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) if first.is_lowercase() => first.to_uppercase().chain(chars).collect(),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use workflows::contract::{Cabin, HeldSeat, PaymentStatus, RefundInfo};

    use super::*;
    use crate::sample;

    fn booking() -> BookingState {
        sample::booking("9b2f6c1e-8d4a-4c1b-9e3f-2a7d5c6b8e01")
    }

    #[test]
    fn gsm_text_is_seven_bit_and_a_non_gsm_name_is_ucs2() {
        assert_eq!(Coding::of("Hi Zoé, Ünal & Ñandù: 12A £5 {x}"), Coding::Gsm7);
        assert_eq!(Coding::of("Hi Łukasz"), Coding::Ucs2);
        assert_eq!(Coding::of("Hi 李"), Coding::Ucs2);
        assert_eq!(Coding::of("Hi Zoë"), Coding::Ucs2);
        assert_eq!(Coding::of("ç is not GSM; Ç is"), Coding::Ucs2);
    }

    #[test]
    fn segments_follow_the_single_and_concatenated_limits() {
        // (text, coding, segments): the limits on either side, an
        // extension character taking two septets, a surrogate pair two
        // UTF-16 units and never split.
        let cases = [
            ("a", 160, Coding::Gsm7, 1),
            ("a", 161, Coding::Gsm7, 2),
            ("a", 306, Coding::Gsm7, 2),
            ("a", 307, Coding::Gsm7, 3),
            ("€", 80, Coding::Gsm7, 1),
            ("€", 81, Coding::Gsm7, 2),
            ("李", 70, Coding::Ucs2, 1),
            ("李", 71, Coding::Ucs2, 2),
            ("李", 134, Coding::Ucs2, 2),
            ("李", 135, Coding::Ucs2, 3),
            ("😀", 35, Coding::Ucs2, 1),
            ("😀", 36, Coding::Ucs2, 2),
            ("😀", 66, Coding::Ucs2, 2),
            ("😀", 67, Coding::Ucs2, 3),
        ];
        for (c, n, coding, want) in cases {
            assert_eq!(segments(&c.repeat(n), coding), want, "{n} × {c}");
        }
    }

    #[test]
    fn the_confirmation_says_reference_flight_local_time_and_seats() {
        let text = render(Kind::Confirmation, &booking());
        assert_eq!(
            text.body,
            "Hi Ada, booking K7Q2ZP is confirmed: SK123 LIS-BER departs Tue 01 Dec 08:30 WET. Seats 12A, 12B. Have a good trip!"
        );
        assert_eq!((text.coding, text.segments), (Coding::Gsm7, 1));
    }

    #[test]
    fn each_kind_says_what_happened() {
        let mut b = booking();
        b.payment.status = PaymentStatus::Refunded;
        b.payment.refund = Some(RefundInfo {
            refund_id: "re_1".into(),
            amount: sample::eur(12_345),
        });
        let body = |kind| render(kind, &b).body;
        assert!(
            body(Kind::Cancellation).contains("K7Q2ZP is cancelled. 123.45 EUR will be refunded")
        );
        assert!(body(Kind::FlightCancelled).contains("SK123 LIS-BER is cancelled"));
        assert!(body(Kind::FlightCancelled).contains("123.45 EUR will be refunded"));
        assert!(body(Kind::ScheduleChange).contains("now departs Tue 01 Dec 08:30 WET"));
        assert!(body(Kind::CheckInReminder).contains("Check-in opens Mon 30 Nov 08:30 WET"));
        assert!(body(Kind::PaymentExpired).contains("Nothing was charged"));
    }

    #[test]
    fn a_name_outside_gsm_makes_the_text_ucs2_within_two_segments() {
        let mut b = booking();
        b.passengers[0].first_name = "Łukasz".into();
        let text = render(Kind::Confirmation, &b);
        assert!(
            text.body.starts_with("Hi Łukasz, booking K7Q2ZP"),
            "{}",
            text.body
        );
        assert_eq!((text.coding, text.segments), (Coding::Ucs2, 2));
    }

    #[test]
    fn every_kind_fits_two_segments_at_the_longest_inputs() {
        let mut b = booking();
        b.passengers[0].first_name = "李".repeat(60);
        b.seats = (1..=9)
            .map(|row| HeldSeat {
                seat_number: format!("{row}0A").parse().unwrap(),
                cabin: Cabin::Economy,
                fare: sample::eur(100),
            })
            .collect();
        if let Some(f) = &mut b.flight {
            f.origin_time_zone = Some("America/Argentina/ComodRivadavia".into());
        }
        b.payment.refund = Some(RefundInfo {
            refund_id: "re_1".into(),
            amount: sample::eur(999_999_999),
        });
        for kind in Kind::ALL {
            let text = render(kind, &b);
            assert!(text.segments <= MAX_SEGMENTS, "{kind:?}: {}", text.body);
            assert!(text.body.contains("K7Q2ZP"), "{kind:?}: {}", text.body);
        }
        // The seats are counted instead of listed before the name goes.
        let confirmation = render(Kind::Confirmation, &b).body;
        assert!(confirmation.contains("9 seats"), "{confirmation}");
    }
}
