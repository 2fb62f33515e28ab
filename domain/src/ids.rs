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
        for bad in ["", "pm", "card_visa", "pm_card visa", "pm_card;drop", "pi_123"] {
            assert!(PaymentMethodId::parse(bad).is_err(), "{bad}");
        }
        assert!(PaymentMethodId::parse("tok_visa").unwrap().is_token());
        let json = serde_json::to_string(&PaymentMethodId::parse("pm_card_visa").unwrap());
        assert_eq!(json.unwrap(), r#""pm_card_visa""#);
    }
}
