//! Identifiers written by people: IATA airport codes, flight numbers and
//! booking references.

use serde::Serialize;

use crate::ParseError;

/// A three-letter IATA airport code, stored upper case (`LHR`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct IataCode(String);

impl IataCode {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let code = raw.trim();
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Self(code.to_ascii_uppercase()))
        } else {
            Err(ParseError(format!(
                "'{raw}' is not an IATA airport code (three letters)"
            )))
        }
    }
}

string_newtype!(IataCode);

/// A flight number: a two-character airline designator and 1–4 digits
/// (`BA117`, `U21234`), stored upper case without spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct FlightNumber(String);

impl FlightNumber {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let compact: String = raw
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        let bad = || {
            ParseError(format!(
                "'{raw}' is not a flight number (airline code and 1-4 digits, e.g. BA117)"
            ))
        };
        if compact.len() < 3 || !compact.is_ascii() {
            return Err(bad());
        }
        let (airline, number) = compact.split_at(2);
        let airline_ok = airline.bytes().all(|b| b.is_ascii_alphanumeric())
            && airline.bytes().any(|b| b.is_ascii_alphabetic());
        let number_ok =
            (1..=4).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_digit());
        if airline_ok && number_ok {
            Ok(Self(compact))
        } else {
            Err(bad())
        }
    }
}

string_newtype!(FlightNumber);

/// The short reference a traveller quotes (`K7Q2ZP`): 5–10 letters and
/// digits, stored upper case. New ones are six characters of
/// [`BookingRef::ALPHABET`], which leaves out look-alikes (0/O, 1/I/L, 8/B);
/// parsing accepts any letters and digits, as older references have them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct BookingRef(String);

impl BookingRef {
    /// The characters of a new reference.
    pub const ALPHABET: &'static [u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ2345679";
    /// The length of a new reference.
    pub const LEN: usize = 6;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let code = raw.trim();
        if (5..=10).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(code.to_ascii_uppercase()))
        } else {
            Err(ParseError(format!(
                "'{raw}' is not a booking reference (5-10 letters and digits, e.g. K7Q2ZP)"
            )))
        }
    }

    /// A new reference from [`Self::LEN`] random indexes into
    /// [`Self::ALPHABET`] (the caller brings the randomness).
    pub fn from_indexes(mut index: impl FnMut(usize) -> usize) -> Self {
        Self(
            (0..Self::LEN)
                .map(|_| Self::ALPHABET[index(Self::ALPHABET.len()) % Self::ALPHABET.len()] as char)
                .collect(),
        )
    }
}

string_newtype!(BookingRef);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iata_code_is_upper_cased() {
        assert_eq!(IataCode::parse("lhr").unwrap().as_str(), "LHR");
    }

    #[test]
    fn iata_code_rejects_wrong_length_and_digits() {
        for bad in ["", "LH", "LHRX", "L1R", "ÄBC"] {
            assert!(IataCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn flight_number_accepts_common_forms() {
        assert_eq!(FlightNumber::parse("ba 117").unwrap().as_str(), "BA117");
        assert_eq!(FlightNumber::parse("U21234").unwrap().as_str(), "U21234");
    }

    #[test]
    fn booking_ref_is_upper_cased_and_bounded() {
        assert_eq!(BookingRef::parse("k7q2zp").unwrap().as_str(), "K7Q2ZP");
        for bad in ["", "K7Q2", "K7Q2ZP12345", "K7-2ZP", "K7Q 2Z"] {
            assert!(BookingRef::parse(bad).is_err(), "{bad}");
        }
        let fresh = BookingRef::from_indexes(|n| n - 1);
        assert_eq!(fresh.as_str(), "999999");
        assert!(BookingRef::parse(fresh.as_str()).is_ok());
    }

    #[test]
    fn flight_number_rejects_garbage() {
        for bad in ["", "BA", "BA12345", "12", "99123", "B-117"] {
            assert!(FlightNumber::parse(bad).is_err(), "{bad}");
        }
    }
}
