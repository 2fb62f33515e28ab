//! An airplane's seat map (`flights_api::catalogue::SeatMap`: row ranges,
//! each with a cabin and seat letters): its rules, and the seats it makes.

use domain::{Cabin, SeatNumber};
pub use flights_api::catalogue::{SeatMap, Section};

use crate::error::Error;

/// Most seats one airplane may have.
pub const MAX_SEATS: usize = 1_000;

/// One seat of the map, in row order.
#[derive(Debug, Clone)]
pub struct MapSeat {
    pub seat_number: SeatNumber,
    pub row: u16,
    pub cabin: Cabin,
}

/// A seat map from its sections: (cabin, first row, last row, seat letters).
pub fn from_sections(sections: &[(Cabin, u16, u16, &str)]) -> SeatMap {
    SeatMap {
        sections: sections
            .iter()
            .map(|&(cabin, from_row, to_row, letters)| Section {
                cabin,
                from_row,
                to_row,
                seat_letters: letters.to_owned(),
            })
            .collect(),
    }
}

/// What the flight service checks and derives from a seat map.
pub trait SeatMapRules {
    /// Checks the map and names the first offending field.
    fn validate(&self, field: &str) -> Result<(), Error>;
    /// Total seats, saturating for absurd maps (validation refuses them).
    fn seat_count(&self) -> usize;
    /// Every seat of a validated map, row by row.
    fn seats(&self) -> Vec<MapSeat>;
    /// The distinct cabins, cheapest first.
    fn cabins(&self) -> Vec<Cabin>;
}

impl SeatMapRules for SeatMap {
    /// Checks the map and names the first offending field.
    fn validate(&self, field: &str) -> Result<(), Error> {
        if self.sections.is_empty() {
            return Err(Error::validation(
                format!("{field}.sections"),
                "needs at least one section",
            ));
        }
        let mut sections: Vec<(usize, &Section)> = self.sections.iter().enumerate().collect();
        sections.sort_by_key(|(_, s)| s.from_row);
        let mut last_row = 0u16;
        for (i, s) in sections {
            let f = |name: &str| format!("{field}.sections[{i}].{name}");
            if s.from_row == 0 || s.from_row > SeatNumber::MAX_ROW {
                return Err(Error::validation(
                    f("from_row"),
                    format!("must be between 1 and {}", SeatNumber::MAX_ROW),
                ));
            }
            if s.to_row < s.from_row || s.to_row > SeatNumber::MAX_ROW {
                return Err(Error::validation(
                    f("to_row"),
                    format!("must be between from_row and {}", SeatNumber::MAX_ROW),
                ));
            }
            if s.from_row <= last_row {
                return Err(Error::validation(f("from_row"), "row ranges overlap"));
            }
            last_row = s.to_row;
            let letters = s.seat_letters.as_bytes();
            if letters.is_empty() || letters.len() > 12 {
                return Err(Error::validation(
                    f("seat_letters"),
                    "must have 1 to 12 letters",
                ));
            }
            if !letters.iter().all(u8::is_ascii_uppercase) {
                return Err(Error::validation(
                    f("seat_letters"),
                    "must be upper-case letters A-Z",
                ));
            }
            let mut sorted = letters.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            if sorted.len() != letters.len() {
                return Err(Error::validation(
                    f("seat_letters"),
                    "letters must not repeat",
                ));
            }
        }
        let count = self.seat_count();
        if count > MAX_SEATS {
            return Err(Error::validation(
                format!("{field}.sections"),
                format!("{count} seats is more than {}", MAX_SEATS),
            ));
        }
        Ok(())
    }

    /// Total seats, saturating for absurd maps (validation refuses them).
    fn seat_count(&self) -> usize {
        self.sections
            .iter()
            .map(|s| usize::from(s.to_row.saturating_sub(s.from_row) + 1) * s.seat_letters.len())
            .fold(0usize, usize::saturating_add)
    }

    /// Every seat of a validated map, row by row.
    fn seats(&self) -> Vec<MapSeat> {
        let mut out = Vec::with_capacity(self.seat_count());
        let mut sections: Vec<&Section> = self.sections.iter().collect();
        sections.sort_by_key(|s| s.from_row);
        for s in sections {
            for row in s.from_row..=s.to_row {
                for letter in s.seat_letters.chars() {
                    if let Ok(seat_number) = SeatNumber::from_parts(row, letter) {
                        out.push(MapSeat {
                            seat_number,
                            row,
                            cabin: s.cabin,
                        });
                    }
                }
            }
        }
        out
    }

    /// The distinct cabins, cheapest first.
    fn cabins(&self) -> Vec<Cabin> {
        let mut cabins: Vec<Cabin> = self.sections.iter().map(|s| s.cabin).collect();
        cabins.sort();
        cabins.dedup();
        cabins
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seats_are_listed_row_by_row() {
        let m = from_sections(&[(Cabin::Economy, 3, 4, "AB"), (Cabin::Business, 1, 2, "A")]);
        m.validate("seat_map").unwrap();
        let seats: Vec<String> = m
            .seats()
            .iter()
            .map(|s| s.seat_number.to_string())
            .collect();
        assert_eq!(seats, ["1A", "2A", "3A", "3B", "4A", "4B"]);
        assert_eq!(m.seat_count(), 6);
        assert_eq!(m.cabins(), [Cabin::Economy, Cabin::Business]);
    }

    #[test]
    fn overlapping_rows_are_refused() {
        let m = from_sections(&[
            (Cabin::Economy, 1, 10, "AB"),
            (Cabin::Business, 10, 12, "A"),
        ]);
        assert!(m.validate("seat_map").is_err());
    }

    #[test]
    fn repeated_or_lower_case_letters_are_refused() {
        let refused: [&[(Cabin, u16, u16, &str)]; 4] = [
            &[(Cabin::Economy, 1, 2, "AA")],
            &[(Cabin::Economy, 1, 2, "ab")],
            &[(Cabin::Economy, 0, 2, "AB")],
            &[],
        ];
        for sections in refused {
            assert!(
                from_sections(sections).validate("m").is_err(),
                "{sections:?}"
            );
        }
    }
}
