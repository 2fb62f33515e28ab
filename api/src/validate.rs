//! Parse, don't validate: the gateway's input newtypes. Raw strings stop at
//! the handlers; each constructor names the field it refuses.

use std::borrow::Cow;

use domain::EmailAddress;
use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::{UnicodeNormalization, is_nfc};

use crate::error::Error;

/// An email address from a client: the domain's [`EmailAddress`] (trimmed,
/// lower case), which the mailer's parser also takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(EmailAddress);

/// What the API document says an [`Email`] field takes (a subset of what
/// [`Email::parse`] accepts, for clients that check before sending): the
/// schema of the sign-up's and the password reset's `email`.
pub(crate) fn email_schema() -> utoipa::openapi::ObjectBuilder {
    #[allow(deprecated)] // `example`, as the derived schemas write it
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .max_length(Some(254))
        .pattern(Some(
            r"^[A-Za-z0-9_%+-]{1,30}(\.[A-Za-z0-9_%+-]{1,16}){0,2}@([A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?\.){1,3}[A-Za-z]{2,10}$",
        ))
        .example(Some(serde_json::json!("ada@example.com")))
}

impl Email {
    pub fn parse(field: impl Into<Cow<'static, str>>, raw: &str) -> Result<Self, Error> {
        let field = field.into();
        let bad = |why: &str| Error::validation(field.clone(), why.to_owned());
        let address = EmailAddress::parse(raw).map_err(|e| bad(e.message()))?;
        // The mailer's own parser (lettre) has the last word: an address it
        // would refuse at send time is refused here, where the traveller
        // can still correct it.
        if address.as_str().parse::<lettre::Address>().is_err() {
            return Err(bad("must be an email address like name@example.com"));
        }
        Ok(Email(address))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The domain's address, for the workflow's contract.
    pub fn into_address(self) -> EmailAddress {
        self.0
    }
}

/// Free text with a length limit, trimmed, no control characters.
pub fn text(field: &'static str, raw: &str, max: usize) -> Result<String, Error> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(Error::validation(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(Error::validation(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::validation(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

/// A password as typed, in Unicode NFC: the same password typed on a Mac
/// (NFD) and on Windows (NFC) is the same password.
pub fn password(raw: &SecretString) -> SecretString {
    let raw = raw.expose_secret();
    if is_nfc(raw) {
        return raw.to_owned().into();
    }
    raw.nfc().collect::<String>().into()
}

/// A new password, normalised ([`password`]): 10 to 128 characters, no
/// control characters (NUL included), and not guessable: zxcvbn's estimate
/// must reach 3 of 4 (about 10^8 guesses), counting the account's own
/// address and name as known words, so ten `a`s, `password123` or the
/// traveller's name are refused with zxcvbn's advice.
pub fn new_password(
    field: &'static str,
    raw: &SecretString,
    known: &[&str],
) -> Result<SecretString, Error> {
    let normalised = password(raw);
    let value = normalised.expose_secret();
    let n = value.chars().count();
    if n < 10 {
        return Err(Error::validation(field, "must be at least 10 characters"));
    }
    if n > 128 {
        return Err(Error::validation(field, "must be at most 128 characters"));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::validation(
            field,
            "must not contain control characters",
        ));
    }
    let estimate = zxcvbn::zxcvbn(value, known);
    if (estimate.score() as u8) < 3 {
        let advice = estimate
            .feedback()
            .and_then(|f| f.warning().map(|w| w.to_string()))
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "it would be guessed quickly".to_owned());
        return Err(Error::validation(
            field,
            format!(
                "is too easy to guess ({}): add words or characters",
                advice.trim_end_matches('.')
            ),
        ));
    }
    Ok(normalised)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("email", " Ann@Example.COM ").unwrap().as_str(),
            "ann@example.com"
        );
    }

    #[test]
    fn email_without_a_proper_domain_is_refused() {
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "ann@.com",
            "a b@example.com",
            "ann@exa_mple.com",
            // Accepted by a looser check, refused by the mailer.
            "a..b@example.com",
            ".ann@example.com",
            "ann.@example.com",
            "ann(x)@example.com",
        ] {
            assert!(Email::parse("email", bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn text_refuses_blank_long_and_control_characters() {
        assert!(text("name", "  ", 10).is_err());
        assert!(text("name", "abcdefghijk", 10).is_err());
        assert!(text("name", "a\u{0}b", 10).is_err());
        assert_eq!(text("name", " Zoë ", 10).unwrap(), "Zoë");
    }

    #[test]
    fn guessable_passwords_are_refused_with_advice() {
        for bad in [
            "aaaaaaaaaa",
            "password123",
            "qwertyuiop1",
            "ada@example.com1",
            "Ada Lovelace 1",
        ] {
            let err = new_password(
                "password",
                &bad.to_owned().into(),
                &["ada@example.com", "Ada Lovelace"],
            )
            .err()
            .unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(
                err.to_string().contains("too easy to guess")
                    || err.to_string().contains("at least"),
                "{bad}: {err}"
            );
        }
        assert!(new_password("password", &"correct horse battery".to_owned().into(), &[]).is_ok());
    }

    #[test]
    fn passwords_are_nfc_and_refuse_control_characters() {
        let nfd: SecretString = "Zoe\u{301} ferry lantern 42".to_owned().into();
        let nfc: SecretString = "Zo\u{e9} ferry lantern 42".to_owned().into();
        assert_eq!(
            password(&nfd).expose_secret(),
            password(&nfc).expose_secret()
        );
        assert_eq!(
            new_password("password", &nfd, &[]).unwrap().expose_secret(),
            nfc.expose_secret()
        );
        let nul: SecretString = "tangerine\u{0}harbour lamp".to_owned().into();
        assert!(new_password("password", &nul, &[]).is_err());
    }
}
