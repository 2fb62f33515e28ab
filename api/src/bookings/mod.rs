//! The bookings API: create (idempotent, one round trip to the held
//! seats), read, list, pay, cancel; the admin list.

mod idempotency;
pub mod public;
mod read_model;
mod validation;
pub mod views;
pub mod workflow;

use idempotency::{claim_key, request_hash};
use read_model::{current, list, owned_booking};
use validation::{call_key, idempotency_key, validate};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use workflows::contract::{
    BookingId, BookingInput, BookingState, BookingStatus, CancelRequest, OutcomeCode,
    PaymentMethodId, UserId, workflow_id,
};

use crate::auth::extract::{Admin, AuthUser, VerifiedUser};
use crate::error::{Error, GatewayError, Result};
use crate::extract::PageQuery;
use crate::extract::{ApiJson, Page, Params};
use crate::routes::Routes;
use crate::state::AppState;
use views::{BookingList, BookingView, CreateBooking, PayRequest};

/// Every booking of `user_id`, newest first, as its owner sees them (the
/// account's data export).
pub(crate) async fn all_of(state: &AppState, user_id: uuid::Uuid) -> Result<Vec<BookingView>> {
    let rows: Vec<sqlx::types::Json<BookingState>> = sqlx::query_scalar(
        "select state from booking where user_id = $1 order by created_at desc limit 10000",
    )
    .bind(user_id.to_string())
    .fetch_all(&state.pool)
    .await?;
    Ok(rows.into_iter().map(|r| r.0.into()).collect())
}

/// Seats (and passengers) in one booking.
pub(crate) const MAX_SEATS: usize = 9;

pub fn routes() -> Routes {
    Routes::new()
        .post("/bookings", create)
        .get("/bookings", list_mine)
        .get("/bookings/{id}", read)
        .post("/bookings/{id}/payment", pay)
        .post("/bookings/{id}/cancel", cancel)
        .get("/admin/bookings", admin_list)
}

/// Hold seats on a flight: starts the booking and answers once the seats
/// are held, with the price and the payment's client secret. The same
/// user and `Idempotency-Key` always give the same booking.
#[utoipa::path(post, path = "/api/v1/bookings", tag = "bookings", request_body = CreateBooking,
    params(("Idempotency-Key" = String, Header, pattern = "^[\x21-\x7e]{1,255}$", description = "one key per booking attempt (1 to 255 visible ASCII characters); a retry with the same key gets the same booking")),
    security(("bearer" = [])),
    responses((status = 201, body = BookingView), (status = 400, description = "missing Idempotency-Key or malformed JSON"),
              (status = 401), (status = 403, description = "email_not_verified: the account's address is not confirmed yet (POST /auth/verify-email/resend)"),
              (status = 409, description = "seats_unavailable, booking_closed, too_many_holds (BOOKING_MAX_LIVE_PER_USER, BOOKING_MAX_HELD_SEATS_PER_USER), or booking_failed: the booking this key started ended because a service it needs stayed out of reach (nothing is held or charged; every retry of the key gets this answer: book again with a new key)"),
              (status = 422, description = "invalid field, booking_rejected, payment_rejected or idempotency_key_reused"),
              (status = 503, description = "unavailable (with Retry-After): Temporal, the database or a service is busy or out of reach right now; retry with the same key")))]
async fn create(
    VerifiedUser(user): VerifiedUser,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CreateBooking>,
) -> Result<Response> {
    let key = idempotency_key(&headers)?;
    let request = validate(req)?;
    let hash = request_hash(&request);
    let seats = request.passengers.len();
    let (booking_id, booking_ref, replayed) = claim_key(&state, &user, &key, &hash, seats).await?;
    let input = BookingInput {
        booking_id: BookingId::from_uuid(booking_id),
        booking_ref,
        user_id: UserId::from_uuid(user.user_id),
        flight_id: request.flight_id,
        seats: request.seats,
        passengers: request.passengers,
        contact_email: request.contact_email,
        contact_phone: request.contact_phone,
        channels: request.channels,
        payment_window_ms: millis(state.config.bookings.payment_window),
        reminder_lead_ms: millis(state.config.bookings.reminder_lead),
        step_budget_ms: None,
        max_payment_attempts: Some(state.config.bookings.max_payment_attempts),
    };
    // A retry reads the booking its key started; the workflow is started
    // (or joined, while it still holds) only when the key's first request
    // did not get that far. Starting again after the history's retention
    // would hold seats for a booking long over.
    let held = if replayed {
        match current(&state, booking_id).await {
            Ok(booking) if booking.status != BookingStatus::Holding => booking,
            Ok(_) | Err(Error::NotFound(_)) => workflow::start_and_hold(&state, input).await?,
            Err(e) => return Err(e),
        }
    } else {
        workflow::start_and_hold(&state, input).await?
    };
    if matches!(
        held.status,
        BookingStatus::Failed | BookingStatus::NeedsAttention
    ) {
        return Err(refused_create(&held));
    }
    tracing::info!(booking_id = %booking_id, status = %held.status, replayed, "booking held");
    let mut response = (StatusCode::CREATED, Json(BookingView::from(held))).into_response();
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The answer to a create whose booking ended at once (its compensations
/// already ran): a stable code per cause, never a 500.
fn refused_create(held: &BookingState) -> Error {
    let outcome = held
        .outcome
        .clone()
        .unwrap_or(OutcomeCode::BookingRejected.outcome());
    let booking_id = &held.booking_id;
    if held.status == BookingStatus::NeedsAttention {
        tracing::error!(%booking_id, %outcome, "a new booking needs attention");
        return Error::Unavailable;
    }
    match outcome.code {
        OutcomeCode::SeatsUnavailable => {
            Error::conflict("seats_unavailable", "the seats are no longer available")
        }
        OutcomeCode::BookingClosed => Error::conflict(
            "booking_closed",
            "booking has closed for this flight: it departs too soon",
        ),
        OutcomeCode::PaymentRejected => GatewayError::Unprocessable {
            code: "payment_rejected",
            message: "this booking cannot be paid for; please contact the airline".to_owned(),
        }
        .into(),
        // Final: the booking ended (its compensations ran), so every retry
        // of this key gets this same answer, not a 503 that promises a
        // retry would work. A new key makes a new booking.
        OutcomeCode::FlightServiceUnavailable | OutcomeCode::PaymentUnavailable => {
            tracing::warn!(%booking_id, %outcome, "booking failed: a service was out of reach");
            Error::conflict(
                "booking_failed",
                "this booking failed because a service it needs was out of reach; nothing is \
                 held or charged. Book again with a new Idempotency-Key",
            )
        }
        _ => {
            tracing::info!(%booking_id, %outcome, "booking refused");
            let (code, message) = public::outcome(held.status, &outcome);
            GatewayError::Unprocessable { code, message }.into()
        }
    }
}

/// One booking, live. Anyone but its owner or an admin gets 404.
#[utoipa::path(get, path = "/api/v1/bookings/{id}", tag = "bookings", security(("bearer" = [])),
    params(("id" = String, Path, description = "booking id (UUID)")),
    responses((status = 200, body = BookingView), (status = 404)))]
async fn read(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<BookingView>> {
    let booking_id = owned_booking(&state, &user, &id).await?;
    Ok(Json(current(&state, booking_id).await?.into()))
}

/// Pay with a Stripe payment method. Answers with the booking: `confirmed`,
/// or still `awaiting_payment` with the decline in `payment.last_error`.
/// A retry with the same `Idempotency-Key` gets the same payment's answer
/// (it never pays twice); without one, the gateway makes one per call.
#[utoipa::path(post, path = "/api/v1/bookings/{id}/payment", tag = "bookings", security(("bearer" = [])),
    params(("id" = String, Path, description = "booking id (UUID)"),
           ("Idempotency-Key" = Option<String>, Header, pattern = "^[\x21-\x7e]{1,255}$", description = "one key per payment attempt; a retry with the same key attaches to it")),
    request_body = PayRequest,
    responses((status = 200, body = BookingView), (status = 404),
              (status = 409, description = "invalid_state: the booking takes no payment now; payment_in_progress: another payment is being processed; payment_attempts_exhausted: this decline was the last allowed (PAYMENT_MAX_ATTEMPTS), the booking is cancelled"),
              (status = 503, description = "unavailable (with Retry-After): Temporal, the database, or the booking's workflow task (after a worker crash) is busy; retry with the same Idempotency-Key")))]
async fn pay(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<PayRequest>,
) -> Result<Json<BookingView>> {
    let key = call_key(&headers)?;
    let method = PaymentMethodId::parse(&req.payment_method)
        .map_err(|e| Error::validation("payment_method", e.message().to_owned()))?;
    let booking_id = owned_booking(&state, &user, &id).await?;
    let workflow_id = workflow_id(booking_id);
    let payment = workflow::Call::Pay(method);
    let paid = workflow::update(&state, &workflow_id, payment, &key).await?;
    tracing::info!(%booking_id, status = %paid.status, "payment submitted");
    let exhausted = paid
        .outcome
        .as_ref()
        .is_some_and(|o| o.code == OutcomeCode::PaymentAttemptsExhausted);
    if paid.status == BookingStatus::Cancelled && exhausted {
        return Err(Error::conflict(
            OutcomeCode::PaymentAttemptsExhausted.as_str(),
            format!(
                "the card was declined and this was the last of {} payment attempts: \
                 the booking is cancelled and its seats released",
                state.config.bookings.max_payment_attempts
            ),
        ));
    }
    Ok(Json(paid.into()))
}

/// Cancel: before payment the seats go back; after, the payment is refunded.
/// A retry with the same `Idempotency-Key` attaches to the same cancel.
#[utoipa::path(post, path = "/api/v1/bookings/{id}/cancel", tag = "bookings", security(("bearer" = [])),
    params(("id" = String, Path, description = "booking id (UUID)"),
           ("Idempotency-Key" = Option<String>, Header, pattern = "^[\x21-\x7e]{1,255}$", description = "a retry with the same key attaches to the cancel already running")),
    responses((status = 200, body = BookingView), (status = 404), (status = 409, description = "invalid_state: already final; booking_confirming: being confirmed, retry in a few seconds"),
              (status = 503, description = "unavailable (with Retry-After): busy for now; retry with the same Idempotency-Key")))]
async fn cancel(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<BookingView>> {
    let key = call_key(&headers)?;
    let booking_id = owned_booking(&state, &user, &id).await?;
    let workflow_id = workflow_id(booking_id);
    let cancel = workflow::Call::Cancel(CancelRequest::by(user.is_admin()));
    let cancelled = workflow::update(&state, &workflow_id, cancel, &key).await?;
    tracing::info!(%booking_id, status = %cancelled.status, "booking cancel requested");
    Ok(Json(cancelled.into()))
}

/// My bookings, newest first (from the read model).
#[utoipa::path(get, path = "/api/v1/bookings", tag = "bookings", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = BookingList)))]
async fn list_mine(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<BookingList>> {
    let page = Page::from_params(&params, 20)?;
    list(&state, page, Some(user.user_id), None, None).await
}

/// Every booking, filtered by status and flight (admins only).
#[utoipa::path(get, path = "/api/v1/admin/bookings", tag = "admin", security(("bearer" = [])),
    params(("status" = Option<String>, Query, pattern = "^(holding|awaiting_payment|confirming|confirmed|expired|cancelled|failed|completed|needs_attention)$"),
           ("flight_id" = Option<i64>, Query), PageQuery),
    responses((status = 200, body = BookingList), (status = 403)))]
async fn admin_list(
    _admin: Admin,
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<BookingList>> {
    let page = Page::from_params(&params, 50)?;
    let status = params.parse_with("status", |raw| {
        serde_json::from_value::<BookingStatus>(serde_json::Value::String(raw.to_owned()))
            .map(BookingStatus::as_str)
            .map_err(|_| format!("'{raw}' is not a booking status"))
    })?;
    let flight_id = params.parse::<i64>("flight_id", "a flight id")?;
    list(&state, page, None, status, flight_id).await
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
