//! Request extractors that fail with the one error shape: JSON bodies
//! (naming the offending field), query strings, pages, numeric ids.

use std::collections::HashMap;
use std::str::FromStr;

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::Error;

/// A JSON body. Syntax errors are 400 `malformed_json`; a value of the wrong
/// type or shape is 422 naming the field by its path (`seats[2]`).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let mime = v.split(';').next().unwrap_or("").trim();
                mime.eq_ignore_ascii_case("application/json")
            });
        if !is_json {
            return Err(Error::BadRequest {
                code: "unsupported_media_type",
                field: None,
                message: "expected a JSON body with content-type application/json".into(),
            });
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(inner)
                if inner.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Error::PayloadTooLarge
            }
            other => Error::BadRequest {
                code: "bad_request",
                field: None,
                message: other.body_text(),
            },
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    // Syntax first (400), then shape and types (422, naming the field).
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| malformed(&e))?;
    // A key given twice is refused: parsers disagree on which one wins
    // (first, last, error), so a proxy or a signature check could read
    // another request than the one served.
    if let Err(e) = serde::de::DeserializeSeed::deserialize(
        NoDuplicateKeys,
        &mut serde_json::Deserializer::from_slice(bytes),
    ) {
        return Err(Error::BadRequest {
            code: "malformed_json",
            field: None,
            message: format!("the body is not valid JSON: {e}"),
        });
    }
    from_value(value)
}

/// Walks a JSON document and fails on an object that repeats a key.
struct NoDuplicateKeys;

impl<'de> serde::de::DeserializeSeed<'de> for NoDuplicateKeys {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for NoDuplicateKeys {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(NoDuplicateKeys)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!("duplicate key {key:?}")));
            }
            map.next_value_seed(NoDuplicateKeys)?;
        }
        Ok(())
    }
}

/// A parsed JSON value into `T`; a wrong type or shape is 422 naming the
/// field by its path.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, Error> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        // "missing field `x`" is about x, one level below the path.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next());
        let field = match (path.as_str(), missing) {
            (".", Some(name)) => name.to_owned(),
            (".", None) => "body".to_owned(),
            (p, Some(name)) => format!("{p}.{name}"),
            (p, None) => p.to_owned(),
        };
        Error::validation(field, message)
    })
}

fn malformed(e: &serde_json::Error) -> Error {
    Error::BadRequest {
        code: "malformed_json",
        field: None,
        message: format!("the body is not valid JSON: {e}"),
    }
}

/// The query string as a map. Each accessor names the parameter it rejects.
pub struct Params(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        let mut map = HashMap::new();
        for (k, v) in form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(Error::invalid_param(k.to_string(), "given more than once"));
            }
        }
        Ok(Params(map))
    }
}

impl Params {
    /// A present, non-empty value.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    pub fn parse<T: FromStr>(&self, name: &'static str, what: &str) -> Result<Option<T>, Error> {
        self.str(name)
            .map(|raw| {
                raw.parse()
                    .map_err(|_| Error::invalid_param(name, format!("'{raw}' is not {what}")))
            })
            .transpose()
    }

    pub fn parse_with<T, E: std::fmt::Display>(
        &self,
        name: &'static str,
        f: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, Error> {
        self.str(name)
            .map(|raw| f(raw).map_err(|e| Error::invalid_param(name, e.to_string())))
            .transpose()
    }
}

/// Page and page size, validated: `page` ≥ 1, `per_page` in 1..=100.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub page: u32,
    pub per_page: u32,
}

impl Page {
    pub const MAX_PER_PAGE: u32 = 100;
    /// Deep pages are refused rather than scanned: use filters instead.
    pub const MAX_PAGE: u32 = 10_000;

    pub fn from_params(p: &Params, default_per_page: u32) -> Result<Self, Error> {
        let page = p.parse::<u32>("page", "a page number")?.unwrap_or(1);
        if !(1..=Self::MAX_PAGE).contains(&page) {
            return Err(Error::invalid_param(
                "page",
                format!("must be between 1 and {}", Self::MAX_PAGE),
            ));
        }
        let per_page = p
            .parse::<u32>("per_page", "a page size")?
            .unwrap_or(default_per_page);
        if !(1..=Self::MAX_PER_PAGE).contains(&per_page) {
            return Err(Error::invalid_param(
                "per_page",
                format!("must be between 1 and {}", Self::MAX_PER_PAGE),
            ));
        }
        Ok(Page { page, per_page })
    }

    pub fn limit(&self) -> i64 {
        i64::from(self.per_page)
    }

    pub fn offset(&self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.per_page)
    }
}

/// A numeric id in the path; anything else is 404 rather than a parse error.
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| Error::NotFound("resource"))?;
        raw.parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(Id)
            .ok_or(Error::NotFound("resource"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct Login {
        #[allow(dead_code)]
        email: String,
        #[allow(dead_code)]
        extra: Option<serde_json::Value>,
    }

    #[test]
    fn a_key_given_twice_is_refused_at_any_depth() {
        for body in [
            r#"{"email":"a@x.io","email":"b@x.io"}"#,
            r#"{"email":"a@x.io","extra":{"k":1,"k":2}}"#,
            r#"{"email":"a@x.io","extra":[{"k":1,"k":2}]}"#,
        ] {
            match parse_json::<Login>(body.as_bytes()) {
                Err(Error::BadRequest { code, message, .. }) => {
                    assert_eq!(code, "malformed_json");
                    assert!(message.contains("duplicate key"), "{message}");
                }
                other => panic!("{body} gave {other:?}"),
            }
        }
        parse_json::<Login>(br#"{"email":"a@x.io","extra":{"k":1,"j":[1,{"k":2}]}}"#).unwrap();
    }
}
