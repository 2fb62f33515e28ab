//! The OpenAPI 3.1 document, generated from the handlers' annotations and
//! the request and response types, served at `/api/v1/openapi.json`.
//!
//! Each operation lists its own answers; [`Answers`] adds the ones every
//! operation of its kind can give (a body that is not JSON, a missing
//! token, the rate limit, a dependency down), and the error shape to every
//! error answer, so the document names every status a route can answer.
//! `tests::every_route_is_documented` holds it to the routes as routed;
//! `api/tests/conformance.rs` sends it generated requests.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use crate::{auth, bookings, catalogue, health, webhook};

#[derive(OpenApi)]
#[openapi(
    info(title = "Airline booking API", description = "Search flights, hold seats, pay, cancel. Every booking is a durable Temporal workflow. Errors: {\"error\": {\"code\", \"message\", \"field\"?}}. Query values and text fields are trimmed, and an empty query value counts as absent (as HTML forms send them); codes and seat numbers are accepted in any case. Integers are written without a decimal point (1, not 1.0)."),
    paths(
        auth::signup, auth::login, auth::refresh, auth::logout, auth::me,
        auth::account::verify_email, auth::account::resend_verification,
        auth::account::request_reset, auth::account::confirm_reset, auth::account::unlock,
        auth::account::change_password, auth::account::delete_account, auth::account::export,
        auth::sessions::list, auth::sessions::end, auth::sessions::logout_everywhere,
        auth::totp::begin, auth::totp::confirm, auth::totp::disable,
        catalogue::search_flights, catalogue::read_flight, catalogue::flight_seats,
        catalogue::list_cities, catalogue::read_city,
        catalogue::list_airports, catalogue::read_airport,
        catalogue::list_airplanes, catalogue::read_airplane,
        catalogue::create_flight, catalogue::update_flight, catalogue::delete_flight,
        catalogue::create_city, catalogue::replace_city, catalogue::delete_city,
        catalogue::create_airport, catalogue::replace_airport, catalogue::delete_airport,
        catalogue::create_airplane, catalogue::replace_airplane, catalogue::delete_airplane,
        bookings::create, bookings::read, bookings::list_mine, bookings::pay, bookings::cancel,
        bookings::admin_list,
        webhook::stripe,
        document,
        health::healthz, health::readyz,
    ),
    modifiers(&Bearer, &Answers),
    tags((name = "auth"), (name = "catalogue"), (name = "bookings"), (name = "admin"),
         (name = "webhooks"), (name = "operations"))
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations",
    responses((status = 200, description = "the OpenAPI 3.1 document", body = Object)))]
pub async fn document() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Paths without the per-client or per-user rate limit.
const UNLIMITED: [&str; 4] = [
    "/api/v1/webhooks/stripe",
    "/api/v1/openapi.json",
    "/healthz",
    "/readyz",
];

/// The answers an operation gives by its kind, and the error shape.
struct Answers;

impl Answers {
    fn error_schema() -> utoipa::openapi::Schema {
        let string = || ObjectBuilder::new().schema_type(SchemaType::new(Type::String));
        let detail = ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::Object))
            .property(
                "code",
                string().description(Some("stable, for programs: `seats_unavailable`")),
            )
            .required("code")
            .property(
                "message",
                string().description(Some("for people; never provider or internal text")),
            )
            .required("message")
            .property(
                "field",
                string().description(Some(
                    "the offending input: a body path (`passengers[1].date_of_birth`), a query parameter or a header",
                )),
            );
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::Object))
            .property("error", detail)
            .required("error")
            .into()
    }

    fn add(op: &mut Operation, status: u16, description: &str) {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| ResponseBuilder::new().description(description).into());
    }

    fn operation(path: &str, op: &mut Operation) {
        let params = op.parameters.as_deref().unwrap_or_default();
        let has = |kind: ParameterIn| params.iter().any(|p| p.parameter_in == kind);
        let (query, in_path, header) = (
            has(ParameterIn::Query),
            has(ParameterIn::Path),
            has(ParameterIn::Header),
        );
        let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
        let admin = op
            .tags
            .as_ref()
            .is_some_and(|t| t.iter().any(|t| t == "admin"));
        if op.request_body.is_some() {
            Self::add(
                op,
                400,
                "malformed_json, unsupported_media_type (not application/json) or bad_request",
            );
            Self::add(op, 413, "payload_too_large: over API_BODY_LIMIT_BYTES");
            Self::add(
                op,
                422,
                "validation_failed: `field` names the offending input",
            );
        }
        if query || header {
            Self::add(op, 400, "invalid_parameter: `field` names it");
        }
        if secured {
            Self::add(
                op,
                401,
                "unauthorized: no access token, or an expired or revoked one",
            );
        }
        if admin {
            Self::add(op, 403, "forbidden: admin role required");
        }
        if in_path {
            Self::add(op, 404, "not_found");
        }
        if !UNLIMITED.contains(&path) {
            Self::add(
                op,
                429,
                "rate_limited: over the per-client or per-user limit; see Retry-After",
            );
        }
        Self::add(
            op,
            503,
            "unavailable: a dependency is down or busy, or the request ran past API_REQUEST_TIMEOUT",
        );
        for (status, response) in op.responses.responses.iter_mut() {
            let RefOr::T(response) = response else {
                continue;
            };
            if status.as_str() >= "400" {
                Self::error_body(status, response);
            }
        }
    }

    fn error_body(status: &str, response: &mut Response) {
        if response.content.is_empty() {
            response.content.insert(
                "application/json".into(),
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Error")))
                    .build(),
            );
        }
        if status == "429" {
            response
                .headers
                .entry("Retry-After".into())
                .or_insert_with(|| {
                    HeaderBuilder::new()
                        .schema(ObjectBuilder::new().schema_type(SchemaType::new(Type::Integer)))
                        .description(Some("seconds to wait"))
                        .build()
                });
        }
    }
}

impl Modify for Answers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .schemas
            .insert("Error".into(), Self::error_schema().into());
        for (path, item) in openapi.paths.paths.iter_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                Self::operation(path, op);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use utoipa::OpenApi;

    use super::ApiDoc;

    /// Every (method, path) the gateway routes is in the document, and the
    /// document has nothing the gateway does not route.
    #[test]
    fn every_route_is_documented() {
        let routed: BTreeSet<(String, String)> = crate::app::route_table()
            .into_iter()
            .map(|(m, p)| (m.as_str().to_ascii_lowercase(), p))
            .collect();
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in ["get", "put", "post", "delete", "patch", "head", "options"] {
                if item.get(method).is_some() {
                    documented.insert((method.to_owned(), path.clone()));
                }
            }
        }
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            undocumented.is_empty(),
            "routed but missing from the OpenAPI document: {undocumented:?}"
        );
        assert!(
            unrouted.is_empty(),
            "in the OpenAPI document but not routed: {unrouted:?}"
        );
        assert_eq!(routed.len(), 50, "{routed:?}");
    }

    /// Every error answer carries the one error shape.
    #[test]
    fn every_error_answer_has_the_error_shape() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let Some(responses) = op["responses"].as_object() else {
                    continue;
                };
                for (status, response) in responses {
                    if status.as_str() >= "400" {
                        assert_eq!(
                            response["content"]["application/json"]["schema"]["$ref"],
                            "#/components/schemas/Error",
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
    }
}
