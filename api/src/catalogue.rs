//! The catalogue, forwarded to the flight service with the same paths,
//! query parameters and shapes: search, flight details and seat maps for
//! everyone; create/update/delete of cities, airports, airplanes and
//! flights for admins. A change of a flight's departure, or its
//! cancellation, is a durable fan-out workflow: it applies the change, then
//! tells every booking on the flight.

use axum::Router;
use axum::body::Body;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use booking_workflows::FlightChangeFanout;
use booking_workflows::fanout::{FanoutResult, FlightChangeInput, change_in};
use bytes::Bytes;
use secrecy::ExposeSecret;
use temporalio_client::errors::WorkflowStartError;
use temporalio_client::{WorkflowIdConflictPolicy, WorkflowStartOptions};

use crate::app::AppState;
use crate::auth::extract::Admin;
use crate::error::{Error, Result};
use crate::extract::ApiJson;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/flights", get(public).post(admin))
        .route(
            "/flights/{id}",
            get(public).patch(update_flight).delete(admin),
        )
        .route("/flights/{id}/seats", get(public))
        .route("/cities", get(public).post(admin))
        .route("/cities/{id}", get(public).put(admin).delete(admin))
        .route("/airports", get(public).post(admin))
        .route("/airports/{id}", get(public).put(admin).delete(admin))
        .route("/airplanes", get(public).post(admin))
        .route("/airplanes/{id}", get(public).put(admin).delete(admin))
}

/// Search flights (`/flights?from=&to=&date=...`), flight details, seat
/// maps, and the reference lists. The flight service's query parameters.
#[utoipa::path(get, path = "/api/v1/flights", tag = "catalogue",
    params(("from" = Option<String>, Query), ("to" = Option<String>, Query), ("date" = Option<String>, Query),
           ("travellers" = Option<u32>, Query), ("cabin" = Option<String>, Query), ("min_price" = Option<i64>, Query),
           ("max_price" = Option<i64>, Query), ("departs_after" = Option<String>, Query), ("departs_before" = Option<String>, Query),
           ("sort" = Option<String>, Query), ("page" = Option<u32>, Query), ("per_page" = Option<u32>, Query)),
    responses((status = 200, description = "flights found (the flight service's search shape)"), (status = 400)))]
async fn public(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response> {
    forward(&state, Method::GET, &uri, &headers, None, false)
        .await?
        .into_response()
}

/// Create, replace or delete catalogue entries (admins only).
async fn admin(
    Admin(_): Admin,
    State(state): State<AppState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    forward(&state, method, &uri, &headers, Some(body), true)
        .await?
        .into_response()
}

/// Change a flight (times, gate, status, fares; admins only). A new
/// departure or a cancellation is applied by a `FlightChangeFanout`
/// workflow, which then tells every live booking on the flight: a crash
/// of the gateway after the request loses neither. The answer waits for
/// the fan-out, for two thirds of `API_REQUEST_TIMEOUT` (10 s by default)
/// at most, so that the request's own time limit never cuts it: then 202
/// with its workflow id (the change goes on in the workflow).
/// `Idempotency-Key` (optional) makes a retried change apply once.
#[utoipa::path(patch, path = "/api/v1/flights/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path),
           ("Idempotency-Key" = Option<String>, Header, description = "a retry with the same key applies the change once")),
    request_body(content = serde_json::Value, description = "departure_time, arrival_time, gate, status (scheduled|delayed|cancelled), fares"),
    responses((status = 200, description = "the flight, as the flight service answers"),
              (status = 202, description = "the change is still being applied and told to the bookings: `workflow_id` names its fan-out"),
              (status = 403), (status = 404), (status = 409), (status = 422)))]
async fn update_flight(
    Admin(admin): Admin,
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    ApiJson(patch): ApiJson<serde_json::Value>,
) -> Result<Response> {
    let key = crate::bookings::optional_idempotency_key(&headers)?;
    let body = Bytes::from(serde_json::to_vec(&patch).map_err(anyhow::Error::from)?);
    if change_in(&patch).is_none() {
        // A gate or a fare: nothing for the bookings to hear of.
        return forward(&state, Method::PATCH, &uri, &headers, Some(body), true)
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

/// Sends the request on to the flight service.
async fn forward(
    state: &AppState,
    method: Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: Option<Bytes>,
    with_token: bool,
) -> Result<Answer> {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut request = state
        .flights
        .request(method, format!("{}{}", state.config.flights_url, path));
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
