//! Identifiers written by people: IATA airport codes and flight numbers.

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
    fn flight_number_rejects_garbage() {
        for bad in ["", "BA", "BA12345", "12", "99123", "B-117"] {
            assert!(FlightNumber::parse(bad).is_err(), "{bad}");
        }
    }
}
