//! Money as integer minor units plus an ISO 4217 currency.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::ParseError;

/// An ISO 4217 currency code, upper case (`EUR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let b = raw.trim().as_bytes();
        if b.len() == 3 && b.iter().all(u8::is_ascii_alphabetic) {
            Ok(Self([
                b[0].to_ascii_uppercase(),
                b[1].to_ascii_uppercase(),
                b[2].to_ascii_uppercase(),
            ]))
        } else {
            Err(ParseError(format!(
                "'{raw}' is not a currency code (three letters, e.g. EUR)"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters ever get in.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Digits after the decimal point of its minor unit (ISO 4217): 0 for
    /// the yen, 3 for the Kuwaiti dinar, 2 for most.
    pub fn minor_unit_digits(&self) -> u32 {
        match self.as_str() {
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF"
            | "UGX" | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
            "CLF" | "UYW" => 4,
            _ => 2,
        }
    }
}

#[cfg(test)]
mod minor_units {
    use super::Currency;

    #[test]
    fn minor_units_follow_iso_4217() {
        let digits = |c| Currency::parse(c).unwrap().minor_unit_digits();
        assert_eq!(
            [digits("EUR"), digits("JPY"), digits("KWD"), digits("usd")],
            [2, 0, 3, 2]
        );
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Currency {
    type Err = ParseError;

    fn from_str(raw: &str) -> Result<Self, ParseError> {
        Self::parse(raw)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// An amount in minor units (cents) of a currency. Never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawMoney")]
pub struct Money {
    amount: i64,
    currency: Currency,
}

impl Money {
    pub fn new(amount: i64, currency: Currency) -> Result<Self, ParseError> {
        if amount < 0 {
            return Err(ParseError(format!("amount {amount} is negative")));
        }
        Ok(Self { amount, currency })
    }

    pub fn amount(&self) -> i64 {
        self.amount
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }
}

#[derive(Deserialize)]
struct RawMoney {
    amount: i64,
    currency: Currency,
}

impl TryFrom<RawMoney> for Money {
    type Error = ParseError;

    fn try_from(raw: RawMoney) -> Result<Self, ParseError> {
        Money::new(raw.amount, raw.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_round_trips_through_json() {
        let c: Currency = serde_json::from_str("\"eur\"").unwrap();
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"EUR\"");
    }

    #[test]
    fn money_refuses_negative_amounts() {
        assert!(Money::new(-1, Currency::parse("EUR").unwrap()).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount":-5,"currency":"EUR"}"#).is_err());
    }
}
