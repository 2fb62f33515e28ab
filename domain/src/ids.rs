//! Who and what a booking is about: its id, its owner, and the payment
//! method a traveller pays with. Each is parsed once where it enters (the
//! gateway's handlers, an activity's input) and carried as itself after:
//! the JSON is the plain string it always was, so histories and read-model
//! rows written before these types read the same.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ParseError;

/// A booking's id: a UUID, written hyphenated and lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BookingId(Uuid);

impl BookingId {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        Uuid::try_parse(raw.trim())
            .map(BookingId)
            .map_err(|_| ParseError(format!("'{raw}' is not a booking id (a UUID)")))
    }

    /// A new random id.
    pub fn new_random() -> Self {
        BookingId(Uuid::new_v4())
    }

    pub fn from_uuid(id: Uuid) -> Self {
        BookingId(id)
    }

    pub fn uuid(self) -> Uuid {
        self.0
    }
}

impl fmt::Display for BookingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl std::str::FromStr for BookingId {
    type Err = ParseError;

    fn from_str(raw: &str) -> Result<Self, ParseError> {
        Self::parse(raw)
    }
}

impl Serialize for BookingId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BookingId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str> as Deserialize>::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// A Stripe payment method id (`pm_…`) or card token (`tok_…`): 3–255
/// letters, digits and underscores.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct PaymentMethodId(String);

impl PaymentMethodId {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let id = raw.trim();
        let valid = (3..=255).contains(&id.len())
            && (id.starts_with("pm_") || id.starts_with("tok_"))
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if valid {
            Ok(PaymentMethodId(id.to_owned()))
        } else {
            Err(ParseError(
                "must be a Stripe payment method id such as pm_card_visa, or a card token (tok_...)"
                    .to_owned(),
            ))
        }
    }

    /// A card token (`tok_…`), which is attached as a card first.
    pub fn is_token(&self) -> bool {
        self.0.starts_with("tok_")
    }
}

string_newtype!(PaymentMethodId);

/// The account a booking belongs to, as the gateway names it (a UUID in
/// its accounts; older bookings have other ids): 1–64 characters, no
/// whitespace or control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let ok = !raw.is_empty()
            && raw.chars().count() <= Self::MAX_CHARS
            && !raw.chars().any(|c| c.is_whitespace() || c.is_control());
        if ok {
            Ok(UserId(raw.to_owned()))
        } else {
            Err(ParseError(
                "must be a user id: 1-64 characters, no spaces".to_owned(),
            ))
        }
    }

    /// The gateway's accounts are UUIDs.
    pub fn from_uuid(id: Uuid) -> Self {
        UserId(id.hyphenated().to_string())
    }
}

string_newtype!(UserId);

/// An email address as accounts and bookings keep it: trimmed, lower case,
/// at most 254 characters, a local part and a dotted domain. (The gateway
/// also asks the mailer's parser before it takes one from a client.)
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let value = raw.trim().to_lowercase();
        let bad = |why: &str| Err(ParseError(why.to_owned()));
        if value.is_empty() {
            return bad("must not be empty");
        }
        if value.len() > 254 {
            return bad("must be at most 254 characters");
        }
        let Some((local, domain)) = value.rsplit_once('@') else {
            return bad("must be an email address like name@example.com");
        };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && domain
                .split('.')
                .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && local
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && c != '"');
        if !domain_ok || !local_ok {
            return bad("must be an email address like name@example.com");
        }
        Ok(EmailAddress(value))
    }
}

string_newtype!(EmailAddress);

/// A phone number in E.164 form (`+447400123456`): `+`, then 7–15 digits
/// not starting with 0. (The gateway also checks, with libphonenumber's
/// metadata, that it is a mobile number before it takes one.)
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// What a number that is not in E.164 form is told.
    const FORM: &'static str = "must be a phone number in E.164 form: + then the country code and number, digits only (e.g. +447400123456)";

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        raw.strip_prefix('+')
            .filter(|digits| (7..=15).contains(&digits.len()) && !digits.starts_with('0'))
            .filter(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
            .map(|_| PhoneNumber(raw.to_owned()))
            .ok_or_else(|| ParseError(Self::FORM.to_owned()))
    }
}

string_newtype!(PhoneNumber);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_booking_id_is_a_uuid_written_as_before() {
        let raw = "E454AC4F-4887-4916-9AB1-617B836F4CC4";
        let id = BookingId::parse(raw).unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, r#""e454ac4f-4887-4916-9ab1-617b836f4cc4""#);
        assert_eq!(serde_json::from_str::<BookingId>(&json).unwrap(), id);
        assert!(BookingId::parse("booking-1").is_err());
        assert!(serde_json::from_str::<BookingId>(r#""12""#).is_err());
    }

    #[test]
    fn payment_methods_are_stripe_ids_or_tokens() {
        for good in ["pm_card_visa", "tok_1Nabc", " pm_1Q2w3E "] {
            assert!(PaymentMethodId::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "pm",
            "card_visa",
            "pm_card visa",
            "pm_card;drop",
            "pi_123",
        ] {
            assert!(PaymentMethodId::parse(bad).is_err(), "{bad}");
        }
        assert!(PaymentMethodId::parse("tok_visa").unwrap().is_token());
        let json = serde_json::to_string(&PaymentMethodId::parse("pm_card_visa").unwrap());
        assert_eq!(json.unwrap(), r#""pm_card_visa""#);
    }

    #[test]
    fn people_and_their_addresses() {
        assert!(UserId::parse("5f0b6c1e-8d4a-4f3e-9c2b-7a1d0e9f8c01").is_ok());
        assert!(UserId::parse("user-1").is_ok());
        for bad in ["", "a b", "x\n", &"u".repeat(65)] {
            assert!(UserId::parse(bad).is_err(), "{bad:?}");
        }
        let email = EmailAddress::parse("  Ada@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "ada@example.com");
        for bad in [
            "",
            "ada",
            "ada@localhost",
            "ada@.com",
            "a b@example.com",
            "@example.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
        assert!(PhoneNumber::parse("+447400123456").is_ok());
        for bad in ["447400123456", "+44 7400 123456", "+0123456789", "+123"] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad:?}");
        }
        let json = serde_json::to_string(&PhoneNumber::parse("+447400123456").unwrap());
        assert_eq!(json.unwrap(), r#""+447400123456""#);
        assert!(serde_json::from_str::<EmailAddress>(r#""not-an-address""#).is_err());
    }
}
