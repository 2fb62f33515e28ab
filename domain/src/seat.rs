//! Seat numbers: a row number and a seat letter (`12A`).

use serde::Serialize;

use crate::ParseError;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SeatNumber(String);

impl SeatNumber {
    /// Largest row number we accept; no airliner comes close.
    pub const MAX_ROW: u16 = 999;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let s = raw.trim().to_ascii_uppercase();
        let bad = || {
            ParseError(format!(
                "'{raw}' is not a seat number (row and letter, e.g. 12A)"
            ))
        };
        if s.is_empty() || !s.is_ascii() {
            return Err(bad());
        }
        let (row, letter) = s.split_at(s.len() - 1);
        let letter_ok = letter.len() == 1 && letter.bytes().all(|b| b.is_ascii_uppercase());
        let row: u16 = if row.starts_with('0') {
            return Err(bad());
        } else {
            row.parse().map_err(|_| bad())?
        };
        if letter_ok && (1..=Self::MAX_ROW).contains(&row) {
            Ok(Self(s))
        } else {
            Err(bad())
        }
    }

    /// Builds a seat number from parts already known to be valid.
    pub fn from_parts(row: u16, letter: char) -> Result<Self, ParseError> {
        Self::parse(&format!("{row}{letter}"))
    }
}

string_newtype!(SeatNumber);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seat_number_normalises_case() {
        assert_eq!(SeatNumber::parse("12a").unwrap().as_str(), "12A");
    }

    #[test]
    fn seat_number_rejects_malformed() {
        for bad in ["", "A", "12", "0A", "012A", "1000A", "12AB", "-1A", "12é"] {
            assert!(SeatNumber::parse(bad).is_err(), "{bad}");
        }
    }
}
