//! The flight service's inventory API (hold / confirm / release), over HTTP
//! with timeouts. The flight service makes each call idempotent by booking
//! id; this client maps its answers to business or transient failures.

use std::time::Duration;

use flights_api::catalogue::FlightDetails;
use flights_api::inventory::{
    HoldRequest, HoldView, LiveHolds, Refusal, ReleaseRequest, SeatRequest,
};
use reqwest::{Method, RequestBuilder, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use workflows::activities::{
    ApplyFlightChange, FlightChangeAnswer, HoldSeats, ReleaseSeats, SeatsHeld,
};
use workflows::contract::{
    BookingId, Failure, FlightInfo, FlightNumber, HeldSeat, IataCode, SeatSelection,
};

use crate::error::{StepError, StepResult};

#[derive(Debug, Clone)]
pub struct InventoryConfig {
    /// e.g. `http://127.0.0.1:8081`
    pub base_url: String,
    pub service_token: SecretString,
    pub timeout: Duration,
}

#[derive(Clone)]
pub struct Inventory {
    http: reqwest::Client,
    base_url: String,
    token: SecretString,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

impl Inventory {
    pub fn new(config: &InventoryConfig) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2).min(config.timeout))
            .timeout(config.timeout)
            .build()?;
        Ok(Inventory {
            http,
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            token: config.service_token.clone(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base_url)
    }

    /// A request to `path` with the service token.
    fn authorized(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(self.token.expose_secret())
    }

    /// Holds the seats (idempotent by booking id) and reads the flight.
    #[tracing::instrument(skip_all, fields(booking_id = %input.booking_id, flight_id = input.flight_id))]
    pub async fn hold(&self, input: &HoldSeats) -> StepResult<SeatsHeld> {
        let request = HoldRequest {
            flight_id: input.flight_id,
            seats: match &input.seats {
                SeatSelection::Seats(s) => SeatRequest::Seats(s.clone()),
                SeatSelection::Cabin { cabin, count } => SeatRequest::Cabin {
                    cabin: *cabin,
                    count: *count,
                },
            },
        };
        let response = self
            .authorized(Method::PUT, &format!("/holds/{}", input.booking_id))
            .json(&request)
            .send()
            .await?;
        let hold: HoldView = match response.status() {
            StatusCode::OK | StatusCode::CREATED => response.json().await?,
            status => {
                return Err(refusal(status, response, |code| match code {
                    Some(Refusal::SeatsUnavailable) => Failure::SeatsUnavailable,
                    Some(Refusal::BookingClosed) => Failure::BookingClosed,
                    _ => Failure::BookingRejected,
                })
                .await);
            }
        };
        let flight = self.flight(input.flight_id).await?;
        tracing::info!(
            seats = hold.seats.len(),
            flight_number = %flight.flight_number,
            "seats held"
        );
        Ok(SeatsHeld {
            flight,
            seats: hold
                .seats
                .into_iter()
                .map(|s| HeldSeat {
                    seat_number: s.seat_number,
                    cabin: s.cabin,
                    fare: s.fare,
                })
                .collect(),
            total: hold.total,
        })
    }

    async fn flight(&self, flight_id: i64) -> StepResult<FlightInfo> {
        let response = self
            .http
            .get(self.url(&format!("/flights/{flight_id}")))
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(StepError::transient(format!(
                "flight service answered {} reading flight {flight_id}",
                response.status()
            )));
        }
        let f: FlightDetails = response.json().await?;
        let unreadable = |e: domain::ParseError| {
            StepError::transient(format!("flight {flight_id} unreadable: {e}"))
        };
        Ok(FlightInfo {
            flight_id,
            flight_number: FlightNumber::parse(&f.flight_number).map_err(unreadable)?,
            origin: IataCode::parse(&f.origin.code).map_err(unreadable)?,
            destination: IataCode::parse(&f.destination.code).map_err(unreadable)?,
            departure_time: f.departure_time,
            arrival_time: Some(f.arrival_time),
            origin_time_zone: f.origin.time_zone,
            destination_time_zone: f.destination.time_zone,
            version: Some(f.version),
        })
    }

    /// Held → sold.
    #[tracing::instrument(skip_all, fields(booking_id = %booking_id))]
    pub async fn confirm(&self, booking_id: BookingId) -> StepResult<()> {
        let response = self
            .authorized(Method::POST, &format!("/holds/{booking_id}/confirm"))
            .send()
            .await?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(refusal(response.status(), response, |_| Failure::HoldConflict).await)
    }

    /// The bookings with seats held or sold on a flight (the fan-out's
    /// list: the flight service knows a hold as soon as it is made).
    #[tracing::instrument(skip_all, fields(flight_id))]
    pub async fn live_bookings(&self, flight_id: i64) -> StepResult<Vec<String>> {
        let response = self
            .authorized(Method::GET, &format!("/flights/{flight_id}/holds"))
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(refusal(response.status(), response, |_| Failure::BookingRejected).await);
        }
        let holds: LiveHolds = response.json().await?;
        Ok(holds.booking_ids.iter().map(ToString::to_string).collect())
    }

    /// PATCHes the flight with the change's key as `Idempotency-Key`: the
    /// flight service applies each key once. A 4xx refusal (but 401, 408,
    /// 429) is the answer; 5xx and the network are transient.
    #[tracing::instrument(skip_all, fields(flight_id = input.flight_id, key = %input.key))]
    pub async fn apply_change(&self, input: &ApplyFlightChange) -> StepResult<FlightChangeAnswer> {
        let response = self
            .authorized(Method::PATCH, &format!("/flights/{}", input.flight_id))
            .header("idempotency-key", &input.key)
            .json(&input.patch)
            .send()
            .await?;
        let status = response.status();
        if is_transient(status) {
            return Err(StepError::transient(format!(
                "flight service answered {status} to a flight change"
            )));
        }
        let body = response.json::<serde_json::Value>().await.map_err(|e| {
            StepError::transient(format!("flight service answer to a change unreadable: {e}"))
        })?;
        Ok(FlightChangeAnswer {
            status: status.as_u16(),
            body,
        })
    }

    /// Seats back; a booking with no hold has nothing to release.
    #[tracing::instrument(skip_all, fields(booking_id = %input.booking_id))]
    pub async fn release(&self, input: &ReleaseSeats) -> StepResult<()> {
        let response = self
            .authorized(
                Method::POST,
                &format!("/holds/{}/release", input.booking_id),
            )
            .json(&ReleaseRequest {
                cancellation: input.cancellation,
            })
            .send()
            .await?;
        match response.status() {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Ok(()),
            status => Err(refusal(status, response, |_| Failure::HoldConflict).await),
        }
    }
}

/// 5xx, and the 4xx that a retry may get past: 401 (the token), 408, 429.
fn is_transient(status: StatusCode) -> bool {
    status.is_server_error()
        || matches!(
            status,
            StatusCode::UNAUTHORIZED | StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS
        )
}

/// A non-success answer: 4xx (but 401/408/429) is a business refusal typed
/// by `kind`, anything else is transient.
async fn refusal(
    status: StatusCode,
    response: reqwest::Response,
    kind: impl Fn(Option<Refusal>) -> Failure,
) -> StepError {
    let body = response.json::<ErrorBody>().await.ok();
    let transient = is_transient(status);
    match body {
        Some(ErrorBody { error }) if !transient => StepError::business(
            kind(Some(Refusal::of(&error.code))),
            format!("{}: {}", error.code, error.message),
        ),
        Some(ErrorBody { error }) => StepError::transient(format!(
            "flight service answered {status}: {}: {}",
            error.code, error.message
        )),
        None if !transient && status.is_client_error() => {
            StepError::business(kind(None), format!("flight service answered {status}"))
        }
        None => StepError::transient(format!("flight service answered {status}")),
    }
}
