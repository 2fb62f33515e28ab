//! A create request checked into the workflow's types, naming the
//! offending field; and the `Idempotency-Key` a booking, payment or cancel
//! call needs (the header itself is read by
//! [`crate::extract::optional_idempotency_key`]).

use axum::http::HeaderMap;
use domain::{Cabin, EmailAddress, PhoneNumber, SeatNumber};
use uuid::Uuid;
use workflows::contract::{Channels, Passenger, SeatSelection};

use super::MAX_SEATS;
use super::views::{CreateBooking, SeatsRequest, date_of_birth};
use crate::error::{Error, Result};
use crate::extract::optional_idempotency_key;
use crate::validate::{Email, text};

pub(super) fn idempotency_key(headers: &HeaderMap) -> Result<String> {
    optional_idempotency_key(headers)?.ok_or_else(|| Error::BadRequest {
        code: "idempotency_key_required",
        field: Some("Idempotency-Key".into()),
        message: "send a unique key (e.g. a UUID) per booking attempt in this header".into(),
    })
}

/// The key of a payment or cancel call: the client's `Idempotency-Key`,
/// else a fresh one (the call is then not retryable as the same call).
pub(super) fn call_key(headers: &HeaderMap) -> Result<String> {
    Ok(optional_idempotency_key(headers)?.unwrap_or_else(|| Uuid::new_v4().to_string()))
}

/// A create request, validated.
#[derive(serde::Serialize)]
pub(super) struct ValidBooking {
    pub(super) flight_id: i64,
    pub(super) seats: SeatSelection,
    pub(super) passengers: Vec<Passenger>,
    pub(super) contact_email: EmailAddress,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) contact_phone: Option<PhoneNumber>,
    #[serde(skip_serializing_if = "Channels::is_default")]
    pub(super) channels: Channels,
}

pub(super) fn validate(req: CreateBooking) -> Result<ValidBooking> {
    if req.flight_id <= 0 {
        return Err(Error::validation(
            "flight_id",
            "must be a positive flight id",
        ));
    }
    let (seats, count) = match req.seats {
        SeatsRequest::Seats(list) => {
            if list.is_empty() || list.len() > MAX_SEATS {
                return Err(Error::validation(
                    "seats",
                    format!("must list 1 to {MAX_SEATS} seats"),
                ));
            }
            let mut seats: Vec<SeatNumber> = Vec::with_capacity(list.len());
            for (i, raw) in list.iter().enumerate() {
                let seat = SeatNumber::parse(raw).map_err(|e| {
                    Error::validation(format!("seats[{i}]"), e.message().to_owned())
                })?;
                if seats.contains(&seat) {
                    return Err(Error::validation(format!("seats[{i}]"), "listed twice"));
                }
                seats.push(seat);
            }
            let n = seats.len();
            (SeatSelection::Seats(seats), n)
        }
        SeatsRequest::Cabin { cabin, count } => {
            let cabin: Cabin = cabin.parse().map_err(|e: domain::ParseError| {
                Error::validation("seats.cabin", e.message().to_owned())
            })?;
            if count == 0 || usize::from(count) > MAX_SEATS {
                return Err(Error::validation(
                    "seats.count",
                    format!("must be between 1 and {MAX_SEATS}"),
                ));
            }
            (SeatSelection::Cabin { cabin, count }, usize::from(count))
        }
    };
    if req.passengers.len() != count {
        return Err(Error::validation(
            "passengers",
            format!("must name one passenger per seat ({count})"),
        ));
    }
    let mut passengers = Vec::with_capacity(count);
    for (i, p) in req.passengers.into_iter().enumerate() {
        let field = |name: &str| format!("passengers[{i}].{name}");
        let first_name =
            text("first_name", &p.first_name, 60).map_err(|e| rename(e, field("first_name")))?;
        let last_name =
            text("last_name", &p.last_name, 60).map_err(|e| rename(e, field("last_name")))?;
        let dob = date_of_birth(&p.date_of_birth)
            .map_err(|why| Error::validation(field("date_of_birth"), why))?;
        passengers.push(Passenger {
            first_name,
            last_name,
            date_of_birth: dob.format("%Y-%m-%d").to_string(),
        });
    }
    let contact_email = Email::parse("contact_email", &req.contact_email)?;
    let contact_phone = req
        .contact_phone
        .as_deref()
        .map(mobile_number)
        .transpose()?;
    let channels = channels(req.channels.as_deref(), contact_phone.is_some())?;
    Ok(ValidBooking {
        flight_id: req.flight_id,
        seats,
        passengers,
        contact_email: contact_email.into_address(),
        contact_phone,
        channels,
    })
}

/// A number that can receive texts, in E.164 form (`+447400123456`),
/// checked against libphonenumber's metadata (the `phonenumber` crate).
fn mobile_number(raw: &str) -> Result<PhoneNumber> {
    let invalid = |why: &str| Error::validation("contact_phone", why.to_owned());
    PhoneNumber::parse(raw).map_err(|e| invalid(e.message()))?;
    let number = phonenumber::parse(None, raw)
        .map_err(|_| invalid("is not a phone number in any country's numbering plan"))?;
    if !phonenumber::is_valid(&number) {
        return Err(invalid(
            "is not a valid number in its country's numbering plan",
        ));
    }
    use phonenumber::Type;
    use phonenumber::metadata::DATABASE;
    match number.number_type(&DATABASE) {
        Type::Mobile | Type::FixedLineOrMobile | Type::PersonalNumber | Type::Voip => {}
        _ => {
            return Err(invalid(
                "must be a mobile number (it cannot receive text messages)",
            ));
        }
    }
    let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
    PhoneNumber::parse(&e164).map_err(|e| invalid(e.message()))
}

/// The channels asked for; by default SMS too when a number is given.
fn channels(asked: Option<&[String]>, has_phone: bool) -> Result<Channels> {
    let Some(asked) = asked else {
        return Ok(Channels {
            email: true,
            sms: has_phone,
        });
    };
    if asked.is_empty() {
        return Err(Error::validation(
            "channels",
            "name at least one channel: email, sms",
        ));
    }
    let mut channels = Channels {
        email: false,
        sms: false,
    };
    for (i, name) in asked.iter().enumerate() {
        let slot = match name.as_str() {
            "email" => &mut channels.email,
            "sms" => &mut channels.sms,
            _ => {
                return Err(Error::validation(
                    format!("channels[{i}]"),
                    "must be email or sms",
                ));
            }
        };
        *slot = true;
    }
    if channels.sms && !has_phone {
        return Err(Error::validation(
            "contact_phone",
            "is required to be sent text messages (channels has sms)",
        ));
    }
    Ok(channels)
}

/// The same validation error, about a field deeper in the body.
pub(super) fn rename(e: Error, field: String) -> Error {
    match e {
        Error::Validation { message, .. } => Error::validation(field, message),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: Error) -> String {
        match e {
            Error::Validation { field, .. } => field.to_string(),
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn mobile_numbers_in_e164_are_accepted_and_normalised() {
        assert_eq!(
            mobile_number("+447400123456").unwrap().as_str(),
            "+447400123456"
        );
        assert_eq!(
            mobile_number("+4915123456789").unwrap().as_str(),
            "+4915123456789"
        );
        assert_eq!(
            mobile_number("+12015550123").unwrap().as_str(),
            "+12015550123"
        );
    }

    #[test]
    fn other_numbers_are_refused_naming_contact_phone() {
        for bad in [
            "07400123456",     // not E.164
            "+44 7400 123456", // spaces
            "+44740012345a",
            "+0447400123456",
            "+4474001",      // too short for the plan
            "+999123456789", // no such country
            "+442079460000", // a London landline
        ] {
            let e = mobile_number(bad).expect_err(bad);
            assert_eq!(field_of(e), "contact_phone", "{bad}");
        }
    }

    #[test]
    fn channels_default_to_sms_with_a_number_and_need_one_for_sms() {
        let both = Channels {
            email: true,
            sms: true,
        };
        assert_eq!(channels(None, true).unwrap(), both);
        assert_eq!(channels(None, false).unwrap(), Channels::default());
        let sms = vec!["sms".to_owned()];
        assert_eq!(
            channels(Some(&sms), true).unwrap(),
            Channels {
                email: false,
                sms: true
            }
        );
        assert_eq!(
            field_of(channels(Some(&sms), false).unwrap_err()),
            "contact_phone"
        );
        assert_eq!(field_of(channels(Some(&[]), true).unwrap_err()), "channels");
        let fax = vec!["email".to_owned(), "fax".to_owned()];
        assert_eq!(
            field_of(channels(Some(&fax), true).unwrap_err()),
            "channels[1]"
        );
    }
}
