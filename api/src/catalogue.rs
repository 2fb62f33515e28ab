//! The catalogue, forwarded to the flight service with the same paths,
//! query parameters and shapes: search, flight details and seat maps for
//! everyone; create/update/delete of cities, airports, airplanes and
//! flights for admins. A change of a flight's departure, or its
//! cancellation, is a durable fan-out workflow: it applies the change, then
//! tells every booking on the flight.

use axum::body::Body;
use axum::extract::{
    FromRequest, FromRequestParts, MatchedPath, OriginalUri, RawPathParams, State,
};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use domain::{Cabin, IataCode};
use flights_api::catalogue::{
    Airplane, AirplaneInput, Airport, AirportInput, City, CityInput, FlightDetails, FlightInput,
    FlightPatch, FlightSeats, Paged, SearchResult,
};
use secrecy::ExposeSecret;
use temporalio_client::errors::WorkflowStartError;
use temporalio_client::{WorkflowIdConflictPolicy, WorkflowStartOptions};
use utoipa::IntoParams;
use workflows::FlightChangeFanout;
use workflows::fanout::{FanoutResult, FlightChangeInput, change_in};

use crate::auth::extract::Admin;
use crate::error::{Error, Result};
use crate::extract::{ApiJson, PageQuery, optional_idempotency_key};
use crate::routes::Routes;
use crate::state::AppState;

pub fn routes() -> Routes {
    Routes::new()
        .get("/flights", search_flights)
        .post("/flights", create_flight)
        .get("/flights/{id}", read_flight)
        .patch("/flights/{id}", update_flight)
        .delete("/flights/{id}", delete_flight)
        .get("/flights/{id}/seats", flight_seats)
        .get("/cities", list_cities)
        .post("/cities", create_city)
        .get("/cities/{id}", read_city)
        .put("/cities/{id}", replace_city)
        .delete("/cities/{id}", delete_city)
        .get("/airports", list_airports)
        .post("/airports", create_airport)
        .get("/airports/{id}", read_airport)
        .put("/airports/{id}", replace_airport)
        .delete("/airports/{id}", delete_airport)
        .get("/airplanes", list_airplanes)
        .post("/airplanes", create_airplane)
        .get("/airplanes/{id}", read_airplane)
        .put("/airplanes/{id}", replace_airplane)
        .delete("/airplanes/{id}", delete_airplane)
}

/// Reads for everyone, forwarded to the flight service as they came.
async fn public(state: &AppState, target: &Upstream, headers: &HeaderMap) -> Result<Response> {
    forward(state, Method::GET, target, headers, None, false)
        .await?
        .into_response()
}

/// Creates, replaces and deletes (admins only), forwarded with the service
/// token.
async fn admin(
    state: &AppState,
    method: Method,
    target: &Upstream,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response> {
    forward(state, method, target, headers, Some(body), true)
        .await?
        .into_response()
}

/// A documented public read: `public` under its own name, with its
/// `utoipa::path`. `list` is a page of `Paged<$item>` with the query
/// parameters of each `$query`; `one` is one `$item` by its id, or 404.
macro_rules! read_route {
    (@handler $(#[$attr:meta])* $name:ident) => {
        $(#[$attr])*
        async fn $name(
            State(state): State<AppState>,
            target: Upstream,
            headers: HeaderMap,
        ) -> Result<Response> {
            public(&state, &target, &headers).await
        }
    };
    ($(#[$doc:meta])* $name:ident: list $path:literal ($($query:ident),+) => $item:ident) => {
        read_route!(@handler $(#[$doc])*
            #[utoipa::path(get, path = $path, tag = "catalogue", params($($query),+),
                responses((status = 200, body = Paged<$item>)))]
            $name);
    };
    ($(#[$doc:meta])* $name:ident: one $path:literal => $item:ident) => {
        read_route!(@handler $(#[$doc])*
            #[utoipa::path(get, path = $path, tag = "catalogue",
                params(("id" = i64, Path, minimum = 1)),
                responses((status = 200, body = $item), (status = 404)))]
            $name);
    };
}

/// The request body as it came, to forward (the operation's annotation
/// documents its shape); over the body limit is 413 in the error shape.
struct RawBody(Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = Error;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|e| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge,
                _ => Error::bad_request("bad_request", e.body_text()),
            })
    }
}

/// A documented admin write: `admin` under its own name, with its
/// `utoipa::path`: `post` creates from `$input` (201 with the new `$out`),
/// `put` replaces one by id (200 with it, or 404), `delete` deletes one by
/// id (204, or 404); each then lists its own refusals, status and words.
macro_rules! admin_route {
    (@handler $(#[$attr:meta])* $name:ident) => {
        $(#[$attr])*
        async fn $name(
            _admin: Admin,
            State(state): State<AppState>,
            method: Method,
            target: Upstream,
            headers: HeaderMap,
            RawBody(body): RawBody,
        ) -> Result<Response> {
            admin(&state, method, &target, &headers, body).await
        }
    };
    ($(#[$doc:meta])* $name:ident: post $path:literal, $input:ident => $out:ident
        $(, $status:literal $why:expr)*) => {
        admin_route!(@handler $(#[$doc])*
            #[utoipa::path(post, path = $path, tag = "admin", security(("bearer" = [])),
                request_body = $input,
                responses((status = 201, body = $out)
                          $(, (status = $status, description = $why))*))]
            $name);
    };
    ($(#[$doc:meta])* $name:ident: put $path:literal, $input:ident => $out:ident
        $(, $status:literal $why:expr)*) => {
        admin_route!(@handler $(#[$doc])*
            #[utoipa::path(put, path = $path, tag = "admin", security(("bearer" = [])),
                params(("id" = i64, Path, minimum = 1)), request_body = $input,
                responses((status = 200, body = $out), (status = 404)
                          $(, (status = $status, description = $why))*))]
            $name);
    };
    ($(#[$doc:meta])* $name:ident: delete $path:literal $(, $status:literal $why:expr)*) => {
        admin_route!(@handler $(#[$doc])*
            #[utoipa::path(delete, path = $path, tag = "admin", security(("bearer" = [])),
                params(("id" = i64, Path, minimum = 1)),
                responses((status = 204), (status = 404)
                          $(, (status = $status, description = $why))*))]
            $name);
    };
}

/// Query parameters of the flight search, but for its page (for the
/// document; the flight service parses them and names the one it refuses).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct SearchQuery {
    /// Origin airport.
    from: Option<IataCode>,
    /// Destination airport, not the origin.
    to: Option<IataCode>,
    /// Local departure date at the origin.
    #[param(format = Date, value_type = Option<String>)]
    date: Option<String>,
    /// Seats wanted: a flight is listed when one cabin has that many free.
    #[param(minimum = 1, maximum = 9)]
    travellers: Option<u32>,
    cabin: Option<Cabin>,
    /// Lowest fare, minor units.
    #[param(minimum = 0)]
    min_price: Option<i64>,
    /// Highest fare, minor units; not below `min_price`.
    #[param(minimum = 0)]
    max_price: Option<i64>,
    /// Local departure time of day at the origin, from (`HH:MM`).
    #[param(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "06:00")]
    departs_after: Option<String>,
    /// Local departure time of day at the origin, until (`HH:MM`); not
    /// before `departs_after`.
    #[param(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "12:00")]
    departs_before: Option<String>,
    /// Sort keys, comma-separated, each at most once, `-` for descending:
    /// `price`, `departure_time` (the default), `duration`.
    #[param(
        pattern = "^-?(price|departure_time|duration)(,-?(price|departure_time|duration)){0,2}$",
        example = "price,-departure_time"
    )]
    sort: Option<String>,
}

/// A list's lookup (its page is a `PageQuery`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct LookupQuery {
    /// A prefix of the name (or code), any case.
    #[param(max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    q: Option<String>,
}

read_route!(
    /// Search flights with seats left, by route, local date, cabin, fare and
    /// time of day; sorted and paged.
    search_flights: list "/api/v1/flights" (SearchQuery, PageQuery) => SearchResult
);
read_route!(
    /// A flight: airports with their time zones, times, cabins with fares
    /// and seats left.
    read_flight: one "/api/v1/flights/{id}" => FlightDetails
);
read_route!(
    /// A flight's seats with their cabin, fare and status, live.
    flight_seats: one "/api/v1/flights/{id}/seats" => FlightSeats
);
admin_route!(
    /// Create a flight; its seats come from the airplane's seat map.
    create_flight: post "/api/v1/flights", FlightInput => FlightDetails,
    409 "already_exists: the flight number already departs at that time",
    422 "invalid field, including an unknown airport or airplane, a departure in the past, or a missing or extra cabin fare"
);
admin_route!(
    /// Delete a flight that never had a booking (otherwise cancel it).
    delete_flight: delete "/api/v1/flights/{id}",
    409 "in_use: the flight has bookings; cancel it instead"
);

/// The refusals a create and a replace share.
const CITY_EXISTS: &str = "already_exists: a city of that name in that country";
const AIRPORT_EXISTS: &str = "already_exists: an airport with this IATA code";
const AIRPORT_INVALID: &str = "invalid field, including an unknown city or time zone";
const AIRPLANE_INVALID: &str = "invalid field, including overlapping rows or repeated seat letters";

read_route!(
    /// Cities, by name prefix.
    list_cities: list "/api/v1/cities" (LookupQuery, PageQuery) => City
);
read_route!(read_city: one "/api/v1/cities/{id}" => City);
admin_route!(create_city: post "/api/v1/cities", CityInput => City, 409 CITY_EXISTS);
admin_route!(replace_city: put "/api/v1/cities/{id}", CityInput => City, 409 CITY_EXISTS);
admin_route!(delete_city: delete "/api/v1/cities/{id}", 409 "in_use: the city still has airports");

read_route!(
    /// Airports, by code, name or city prefix (an exact code first).
    list_airports: list "/api/v1/airports" (LookupQuery, PageQuery) => Airport
);
read_route!(read_airport: one "/api/v1/airports/{id}" => Airport);
admin_route!(
    create_airport: post "/api/v1/airports", AirportInput => Airport,
    409 AIRPORT_EXISTS, 422 AIRPORT_INVALID
);
admin_route!(
    /// Replace an airport; a new time zone re-derives its flights' local
    /// departures.
    replace_airport: put "/api/v1/airports/{id}", AirportInput => Airport,
    409 AIRPORT_EXISTS, 422 AIRPORT_INVALID
);
admin_route!(
    delete_airport: delete "/api/v1/airports/{id}",
    409 "in_use: flights still use this airport"
);

read_route!(
    /// Airplanes and their seat maps.
    list_airplanes: list "/api/v1/airplanes" (PageQuery) => Airplane
);
read_route!(read_airplane: one "/api/v1/airplanes/{id}" => Airplane);
admin_route!(
    create_airplane: post "/api/v1/airplanes", AirplaneInput => Airplane,
    422 AIRPLANE_INVALID
);
admin_route!(
    replace_airplane: put "/api/v1/airplanes/{id}", AirplaneInput => Airplane,
    422 AIRPLANE_INVALID
);
admin_route!(
    delete_airplane: delete "/api/v1/airplanes/{id}",
    409 "in_use: flights still use this airplane"
);

/// Change a flight (times, gate, status, fares; admins only). A new
/// departure or a cancellation is applied by a `FlightChangeFanout`
/// workflow, which then tells every live booking on the flight: a crash
/// of the gateway after the request loses neither. The answer waits for
/// the fan-out, for two thirds of `API_REQUEST_TIMEOUT` (10 s by default)
/// at most, so that the request's own time limit never cuts it: then 202
/// with its workflow id (the change goes on in the workflow).
/// `Idempotency-Key` (optional) makes a retried change apply once.
#[utoipa::path(patch, path = "/api/v1/flights/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path, minimum = 1),
           ("Idempotency-Key" = Option<String>, Header, pattern = "^[\x21-\x7e]{1,200}$", description = "a retry with the same key applies the change once (1 to 200 visible ASCII characters)")),
    request_body = FlightPatch,
    responses((status = 200, body = FlightDetails),
              (status = 202, description = "the change is still being applied and told to the bookings: `workflow_id` names its fan-out"),
              (status = 403), (status = 404), (status = 409), (status = 422)))]
async fn update_flight(
    Admin(admin): Admin,
    State(state): State<AppState>,
    target: Upstream,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    ApiJson(patch): ApiJson<serde_json::Value>,
) -> Result<Response> {
    let key = optional_idempotency_key(&headers)?;
    if !patch.is_object() {
        return Err(Error::validation(
            "body",
            "must be a JSON object of the fields to change",
        ));
    }
    let body = Bytes::from(serde_json::to_vec(&patch).map_err(anyhow::Error::from)?);
    if change_in(&patch).is_none() {
        // A gate or a fare: nothing for the bookings to hear of.
        return forward(&state, Method::PATCH, &target, &headers, Some(body), true)
            .await?
            .into_response();
    }
    let flight_id: i64 = id.parse().map_err(|_| Error::NotFound("flight"))?;
    let key = key.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let input = FlightChangeInput::apply(flight_id, patch, key);
    let workflow_id = input.workflow_id();
    tracing::info!(flight_id, admin = %admin.user_id, %workflow_id, "flight change fan-out starting");
    match run_fanout(&state, input).await? {
        Some(FanoutResult {
            answer: Some(answer),
            ..
        }) => {
            let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
            Ok((status, axum::Json(answer.body)).into_response())
        }
        // Still telling the bookings (or an older fan-out shape).
        _ => Ok((
            StatusCode::ACCEPTED,
            axum::Json(serde_json::json!({
                "workflow_id": workflow_id,
                "message": "the change is being applied and told to the flight's bookings",
            })),
        )
            .into_response()),
    }
}

/// Starts the fan-out (or joins the one running with the same key) and
/// waits for its result, within two thirds of the request's time limit.
async fn run_fanout(state: &AppState, input: FlightChangeInput) -> Result<Option<FanoutResult>> {
    let id = input.workflow_id();
    let options = WorkflowStartOptions::new(state.config.bookings.task_queue.clone(), id.clone())
        .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
        .static_summary(input.summary())
        .build();
    match state
        .temporal
        .start_workflow(FlightChangeFanout::run, input, options)
        .await
    {
        Ok(_) | Err(WorkflowStartError::AlreadyStarted { .. }) => {}
        Err(e) => {
            tracing::error!(error = %e, "starting the flight change fan-out");
            return Err(Error::Unavailable);
        }
    }
    let handle = state
        .temporal
        .get_workflow_handle::<FlightChangeFanout>(&id);
    let wait = state.config.request_timeout * 2 / 3;
    match tokio::time::timeout(wait, handle.get_result(Default::default())).await {
        Ok(Ok(result)) => Ok(Some(result)),
        Ok(Err(e)) => {
            tracing::error!(error = %e, workflow_id = %id, "the flight change fan-out failed");
            Err(Error::Unavailable)
        }
        Err(_) => Ok(None),
    }
}

/// The flight service's answer, passed back as it came.
struct Answer {
    status: StatusCode,
    content_type: Option<axum::http::HeaderValue>,
    body: Bytes,
}

impl Answer {
    fn into_response(self) -> Result<Response> {
        let mut response = Response::builder().status(self.status);
        if let Some(ct) = self.content_type {
            response = response.header(header::CONTENT_TYPE, ct);
        }
        response
            .body(Body::from(self.body))
            .map_err(|e| Error::Internal(e.into()))
    }
}

/// Where a catalogue request goes in the flight service: the route the
/// gateway matched, its template filled with the parsed ids (positive
/// integers, so never `..`, `\\`, `/` or an encoding of them), and the query
/// parsed and encoded again. Never the raw path: a URL parser resolves
/// `..` and reads `\\` as `/`, which would let a request reach any route of
/// the flight service (its metrics, its holds) with the service token.
struct Upstream(String);

impl<S: Send + Sync> FromRequestParts<S> for Upstream {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self> {
        let template = MatchedPath::from_request_parts(parts, state)
            .await
            .map_err(|_| Error::NotFound("route"))?
            .as_str()
            .to_owned();
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| Error::NotFound("route"))?;
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        let OriginalUri(uri) = OriginalUri::from_request_parts(parts, state)
            .await
            .map_err(|_| Error::NotFound("route"))?;
        upstream(&template, &params, uri.query()).map(Upstream)
    }
}

/// `template` with each `{name}` replaced by its id from `params`, and the
/// query encoded again; an id that is not a positive integer is 404 (no
/// such resource can exist).
fn upstream(template: &str, params: &[(String, String)], query: Option<&str>) -> Result<String> {
    let mut path = template.to_owned();
    for (name, value) in params {
        let id = value
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0 && value.bytes().all(|b| b.is_ascii_digit()))
            .ok_or(Error::NotFound("resource"))?;
        path = path.replace(&format!("{{{name}}}"), &id.to_string());
    }
    if path.contains(['{', '}']) {
        return Err(Error::NotFound("route"));
    }
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        let pairs = form_urlencoded::parse(query.as_bytes());
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        path.push('?');
        path.push_str(&encoded);
    }
    Ok(path)
}

/// Sends the request on to the flight service.
async fn forward(
    state: &AppState,
    method: Method,
    target: &Upstream,
    headers: &HeaderMap,
    body: Option<Bytes>,
    with_token: bool,
) -> Result<Answer> {
    let mut request = state
        .flights
        .request(method, format!("{}{}", state.config.flights_url, target.0));
    if let Some(id) = headers.get("x-request-id") {
        request = request.header("x-request-id", id);
    }
    if with_token {
        request = request.bearer_auth(state.config.flights_token.expose_secret());
    }
    if let Some(body) = body {
        if let Some(ct) = headers.get(header::CONTENT_TYPE) {
            request = request.header(header::CONTENT_TYPE, ct);
        }
        request = request.body(body);
    }
    let answer = request.send().await.map_err(|e| {
        tracing::warn!(error = %e, "flight service unreachable");
        Error::Unavailable
    })?;
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let body = answer.bytes().await.map_err(|e| {
        tracing::warn!(error = %e, "flight service answer cut short");
        Error::Unavailable
    })?;
    Ok(Answer {
        status,
        content_type,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::upstream;

    fn id(value: &str) -> Vec<(String, String)> {
        vec![("id".to_owned(), value.to_owned())]
    }

    #[test]
    fn every_traversal_spelling_of_an_id_is_refused() {
        // As the router hands them over: percent-decoded already.
        for value in [
            "..",
            "../..",
            "..\\..\\..\\metrics",
            "..\\holds\\1",
            "%2e%2e",
            "%5c",
            "1/../../metrics",
            "1\\..",
            "1#x",
            "1?x=1",
            "",
            "0",
            "-1",
            "+1",
            " 1",
            "1.0",
            "99999999999999999999",
        ] {
            assert!(
                upstream("/api/v1/cities/{id}", &id(value), None).is_err(),
                "{value:?} went through"
            );
        }
    }

    #[test]
    fn ids_and_queries_are_forwarded_encoded_again() {
        assert_eq!(
            upstream("/api/v1/flights/{id}/seats", &id("42"), None).unwrap(),
            "/api/v1/flights/42/seats"
        );
        assert_eq!(
            upstream(
                "/api/v1/flights",
                &[],
                Some("from=LHR&to=CDG&date=2026-12-24")
            )
            .unwrap(),
            "/api/v1/flights?from=LHR&to=CDG&date=2026-12-24"
        );
        // A query cannot smuggle a path or a fragment.
        assert_eq!(
            upstream(
                "/api/v1/flights",
                &[],
                Some("q=%2F..%2Fmetrics#frag&x=/../a")
            )
            .unwrap(),
            "/api/v1/flights?q=%2F..%2Fmetrics%23frag&x=%2F..%2Fa"
        );
    }
}
