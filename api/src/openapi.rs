//! The OpenAPI 3.1 document, generated from the handlers' annotations and
//! the request and response types, served at `/api/v1/openapi.json`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{auth, bookings, catalogue, webhook};

#[derive(OpenApi)]
#[openapi(
    info(title = "Airline booking API", description = "Search flights, hold seats, pay, cancel. Every booking is a durable Temporal workflow. Errors: {\"error\": {\"code\", \"message\", \"field\"?}}."),
    paths(
        auth::signup, auth::login, auth::refresh, auth::logout, auth::me,
        catalogue::public, catalogue::update_flight,
        bookings::create, bookings::read, bookings::list_mine, bookings::pay, bookings::cancel,
        bookings::admin_list,
        webhook::stripe,
    ),
    modifiers(&Bearer),
    tags((name = "auth"), (name = "catalogue"), (name = "bookings"), (name = "admin"), (name = "webhooks"))
)]
pub struct ApiDoc;

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

pub async fn document() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}
