//! The bookings API: create (idempotent, one round trip to the held
//! seats), read, list, pay, cancel; the admin list.

pub mod public;
pub mod views;
pub mod workflow;

use airline_domain::{BookingRef, Cabin, SeatNumber};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use booking_workflows::contract::{
    BookingInput, BookingState, BookingStatus, Passenger, SeatSelection, reasons, workflow_id,
};
use rand::Rng;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::extract::{Admin, AuthUser};
use crate::auth::tokens::Principal;
use crate::catalogue::PageQuery;
use crate::error::{Error, GatewayError, Result};
use crate::extract::{ApiJson, Page, Params};
use crate::routes::Routes;
use crate::validate::{Email, text};
use views::{BookingList, BookingView, CreateBooking, PayRequest, SeatsRequest, date_of_birth};

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
              (status = 401), (status = 409, description = "seats_unavailable, booking_closed, or too_many_holds (BOOKING_MAX_LIVE_PER_USER, BOOKING_MAX_HELD_SEATS_PER_USER)"),
              (status = 422, description = "invalid field, booking_rejected, payment_rejected or idempotency_key_reused"),
              (status = 503, description = "unavailable: a service the booking needs stayed out of reach; nothing is held")))]
async fn create(
    AuthUser(user): AuthUser,
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
        booking_id: booking_id.to_string(),
        booking_ref,
        user_id: user.user_id.to_string(),
        flight_id: request.flight_id,
        seats: request.seats,
        passengers: request.passengers,
        contact_email: request.contact_email,
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
    let reason = held.reason.as_deref().unwrap_or_default();
    if held.status == BookingStatus::NeedsAttention {
        tracing::error!(booking_id = %held.booking_id, reason, "a new booking needs attention");
        return Error::Unavailable;
    }
    if reason == "seats_unavailable" {
        return Error::conflict("seats_unavailable", "the seats are no longer available");
    }
    if reason.starts_with("booking_rejected: booking_closed") {
        return Error::conflict(
            "booking_closed",
            "booking has closed for this flight: it departs too soon",
        );
    }
    if reason.starts_with(reasons::PAYMENT_REJECTED) {
        return GatewayError::Unprocessable {
            code: reasons::PAYMENT_REJECTED,
            message: "this booking cannot be paid for; please contact the airline".to_owned(),
        }
        .into();
    }
    if reason == reasons::FLIGHTS_UNAVAILABLE || reason == reasons::PAYMENT_UNAVAILABLE {
        tracing::warn!(booking_id = %held.booking_id, reason, "booking failed: a service was out of reach");
        return Error::Unavailable;
    }
    tracing::info!(booking_id = %held.booking_id, reason, "booking refused");
    let (code, message) = public::reason(held.status, reason);
    GatewayError::Unprocessable { code, message }.into()
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
              (status = 409, description = "invalid_state: the booking takes no payment now; payment_in_progress: another payment is being processed; payment_attempts_exhausted: this decline was the last allowed (PAYMENT_MAX_ATTEMPTS), the booking is cancelled")))]
async fn pay(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<PayRequest>,
) -> Result<Json<BookingView>> {
    let key = call_key(&headers)?;
    let method = req.payment_method.trim();
    let valid = (3..=255).contains(&method.len())
        && method.starts_with("pm_")
        && method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid {
        return Err(Error::validation(
            "payment_method",
            "must be a Stripe payment method id such as pm_card_visa",
        ));
    }
    let booking_id = owned_booking(&state, &user, &id).await?;
    let paid = workflow::submit_payment(
        &state,
        &workflow_id(&booking_id.to_string()),
        method.to_owned(),
        workflow::update_id("payment", &key),
    )
    .await?;
    tracing::info!(%booking_id, status = %paid.status, "payment submitted");
    let exhausted = paid
        .reason
        .as_deref()
        .is_some_and(|r| r.starts_with(reasons::PAYMENT_ATTEMPTS_EXHAUSTED));
    if paid.status == BookingStatus::Cancelled && exhausted {
        return Err(Error::conflict(
            reasons::PAYMENT_ATTEMPTS_EXHAUSTED,
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
    responses((status = 200, body = BookingView), (status = 404), (status = 409, description = "invalid_state: already final; booking_confirming: being confirmed, retry in a few seconds")))]
async fn cancel(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<BookingView>> {
    let key = call_key(&headers)?;
    let booking_id = owned_booking(&state, &user, &id).await?;
    let reason = if user.is_admin() {
        "cancelled by an agent"
    } else {
        "cancelled by the traveller"
    };
    let cancelled = workflow::cancel(
        &state,
        &workflow_id(&booking_id.to_string()),
        Some(reason.to_owned()),
        workflow::update_id("cancel", &key),
    )
    .await?;
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

async fn list(
    state: &AppState,
    page: Page,
    user: Option<Uuid>,
    status: Option<&'static str>,
    flight_id: Option<i64>,
) -> Result<Json<BookingList>> {
    let rows: Vec<sqlx::types::Json<BookingState>> = sqlx::query_scalar(
        "select state from booking
          where ($1::text is null or user_id = $1)
            and ($2::text is null or status = $2)
            and ($3::bigint is null or flight_id = $3)
          order by created_at desc, booking_id
          limit $4 offset $5",
    )
    .bind(user.map(|u| u.to_string()))
    .bind(status)
    .bind(flight_id)
    .bind(page.limit() + 1)
    .bind(page.offset())
    .fetch_all(&state.pool)
    .await?;
    let has_more = rows.len() as i64 > page.limit();
    let items = rows
        .into_iter()
        .take(page.per_page as usize)
        .map(|r| r.0.into())
        .collect();
    Ok(Json(BookingList {
        items,
        page: page.page,
        per_page: page.per_page,
        has_more,
    }))
}

/// The booking id, when the caller owns it or is an admin; 404 otherwise
/// (a stranger learns nothing, not even that it exists).
async fn owned_booking(state: &AppState, user: &Principal, raw: &str) -> Result<Uuid> {
    let id = Uuid::parse_str(raw).map_err(|_| Error::NotFound("booking"))?;
    let owner: Option<Uuid> =
        sqlx::query_scalar("select user_id from booking_request where booking_id = $1")
            .bind(id)
            .fetch_optional(&state.pool)
            .await?;
    match owner {
        Some(owner) if owner == user.user_id || user.is_admin() => Ok(id),
        _ => Err(Error::NotFound("booking")),
    }
}

/// The booking as last recorded in the read model, which the workflow
/// writes at every transition (within milliseconds of answering a call).
/// Reads do not query the workflow: a query reaching a worker that has just
/// restarted, while events wait for a workflow task, makes the Rust SDK
/// (sdk-core 0.10.1) apply those events outside a workflow task, and an
/// update accepted next then writes a history that no longer replays
/// (README, "Known limits"). Only a booking not recorded yet (its first
/// milliseconds) is asked of the workflow.
async fn current(state: &AppState, booking_id: Uuid) -> Result<BookingState> {
    let stored: Option<sqlx::types::Json<BookingState>> =
        sqlx::query_scalar("select state from booking where booking_id = $1")
            .bind(booking_id)
            .fetch_optional(&state.pool)
            .await?;
    match stored {
        Some(recorded) => Ok(recorded.0),
        None => workflow::status(state, &workflow_id(&booking_id.to_string())).await,
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<String> {
    optional_idempotency_key(headers)?.ok_or_else(|| Error::BadRequest {
        code: "idempotency_key_required",
        field: Some("Idempotency-Key".into()),
        message: "send a unique key (e.g. a UUID) per booking attempt in this header".into(),
    })
}

/// The key of a payment or cancel call: the client's `Idempotency-Key`,
/// else a fresh one (the call is then not retryable as the same call).
fn call_key(headers: &HeaderMap) -> Result<String> {
    Ok(optional_idempotency_key(headers)?.unwrap_or_else(|| Uuid::new_v4().to_string()))
}

/// The `Idempotency-Key` header when the request has one: 1 to 255
/// visible ASCII characters.
pub(crate) fn optional_idempotency_key(headers: &HeaderMap) -> Result<Option<String>> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let invalid = || Error::BadRequest {
        code: "invalid_idempotency_key",
        field: Some("Idempotency-Key".into()),
        message: "must be 1 to 255 visible ASCII characters".into(),
    };
    let raw = value.to_str().map_err(|_| invalid())?.trim();
    if raw.is_empty() || raw.len() > 255 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid());
    }
    Ok(Some(raw.to_owned()))
}

/// A create request, validated.
#[derive(serde::Serialize)]
struct ValidBooking {
    flight_id: i64,
    seats: SeatSelection,
    passengers: Vec<Passenger>,
    contact_email: String,
}

fn validate(req: CreateBooking) -> Result<ValidBooking> {
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
            let cabin: Cabin = cabin.parse().map_err(|e: airline_domain::ParseError| {
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
    Ok(ValidBooking {
        flight_id: req.flight_id,
        seats,
        passengers,
        contact_email: contact_email.as_str().to_owned(),
    })
}

/// The same validation error, about a field deeper in the body.
fn rename(e: Error, field: String) -> Error {
    match e {
        Error::Validation { message, .. } => Error::validation(field, message),
        other => other,
    }
}

fn request_hash(request: &ValidBooking) -> Vec<u8> {
    let canonical = serde_json::to_vec(request).unwrap_or_default();
    Sha256::digest(&canonical).to_vec()
}

/// Records the key, allocating the booking id and a unique reference; or
/// finds the booking an earlier request with this key started. A new
/// booking must fit the user's caps on live holds (bookings and seats
/// awaiting payment). One user's creates go one at a time (an advisory
/// lock on the user), so concurrent ones neither race for the key nor
/// slip past the caps together.
async fn claim_key(
    state: &AppState,
    user: &Principal,
    key: &str,
    hash: &[u8],
    seats: usize,
) -> Result<(Uuid, BookingRef, bool)> {
    for _ in 0..8 {
        let mut tx = state.pool.begin().await?;
        sqlx::query("select pg_advisory_xact_lock(hashtextextended($1, 2026))")
            .bind(user.user_id.to_string())
            .execute(&mut *tx)
            .await?;
        let existing: Option<(Uuid, String, Vec<u8>)> = sqlx::query_as(
            "select booking_id, booking_ref, request_hash from booking_request
              where user_id = $1 and idempotency_key = $2",
        )
        .bind(user.user_id)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((id, reference, stored_hash)) = existing {
            if stored_hash != hash {
                return Err(GatewayError::Unprocessable {
                    code: "idempotency_key_reused",
                    message: "this Idempotency-Key was used for a different booking request".into(),
                }
                .into());
            }
            let reference = BookingRef::parse(&reference)
                .map_err(|e| anyhow::anyhow!("stored booking reference: {e}"))?;
            return Ok((id, reference, true));
        }
        check_live_holds(&mut tx, state, user, seats).await?;
        let booking_id = Uuid::new_v4();
        let booking_ref = new_reference();
        let inserted = sqlx::query(
            "insert into booking_request
                    (user_id, idempotency_key, request_hash, booking_id, booking_ref, seats)
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(user.user_id)
        .bind(key)
        .bind(hash)
        .bind(booking_id)
        .bind(booking_ref.as_str())
        .bind(i32::try_from(seats).unwrap_or(i32::MAX))
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {
                tx.commit().await?;
                return Ok((booking_id, booking_ref, false));
            }
            Err(sqlx::Error::Database(db))
                if db.constraint() == Some("booking_request_ref_unique") =>
            {
                continue; // that reference is taken: draw another
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Internal(anyhow::anyhow!(
        "no free booking reference after 8 draws"
    )))
}

/// Refuses a new booking past the user's caps: bookings holding seats or
/// awaiting payment (a request not in the read model yet counts as
/// holding), and the seats they hold. Anything older than the payment
/// window (and a minute) is over, whatever the read model says.
async fn check_live_holds(
    tx: &mut sqlx::PgConnection,
    state: &AppState,
    user: &Principal,
    seats: usize,
) -> Result<()> {
    let config = &state.config.bookings;
    let horizon = config.payment_window + std::time::Duration::from_secs(60);
    let (live, held): (i64, i64) = sqlx::query_as(
        "select count(*), coalesce(sum(r.seats), 0)::bigint
           from booking_request r
           left join booking b on b.booking_id = r.booking_id
          where r.user_id = $1
            and r.created_at > now() - make_interval(secs => $2)
            and coalesce(b.status, 'holding') in ('holding', 'awaiting_payment')",
    )
    .bind(user.user_id)
    .bind(horizon.as_secs_f64())
    .fetch_one(&mut *tx)
    .await?;
    let seats = i64::try_from(seats).unwrap_or(i64::MAX);
    if live >= i64::from(config.max_live_bookings)
        || held + seats > i64::from(config.max_held_seats)
    {
        return Err(Error::conflict(
            "too_many_holds",
            format!(
                "you have {live} booking(s) with {held} seat(s) awaiting payment; at most {} \
                 bookings and {} seats may await payment at once: pay for or cancel one first",
                config.max_live_bookings, config.max_held_seats
            ),
        ));
    }
    Ok(())
}

/// Six characters from an alphabet without look-alikes (no 0/O, 1/I/L):
/// 30^6 ≈ 729 million references.
fn new_reference() -> BookingRef {
    let mut rng = rand::rng();
    BookingRef::from_indexes(|n| rng.random_range(0..n))
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
