//! The committed histories hold bookings' outcomes as the workflow wrote
//! them when they were recorded: free-text `reason`s before outcomes were
//! typed, `{code, detail}` since. Every one, in every payload of every
//! history (sealed ones opened with the test keys), must read as a code
//! that fits the status it was written with.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde_json::Value;
use temporalio_common::protos::temporal::api::common::v1::Payload;
use workflows::contract::{BookingStatus, CancelRequest, Outcome, OutcomeCode};

/// A state or a transition: a status, and why.
#[derive(Deserialize)]
struct Ended {
    status: BookingStatus,
    #[serde(default, alias = "reason")]
    outcome: Option<Outcome>,
}

/// The codes a booking may end with in `status`.
fn fits(status: BookingStatus, code: OutcomeCode) -> bool {
    use OutcomeCode as C;
    match status {
        BookingStatus::Failed => matches!(
            code,
            C::SeatsUnavailable
                | C::BookingClosed
                | C::BookingRejected
                | C::OwnerUnknown
                | C::InputOutOfBounds
                | C::FlightServiceUnavailable
                | C::PaymentRejected
                | C::PaymentUnavailable
                | C::ConfirmationFailed
                | C::CaptureFailed
                | C::TicketingFailed
        ),
        BookingStatus::Expired => code == C::PaymentWindowClosed,
        BookingStatus::Cancelled => matches!(
            code,
            C::PaymentAttemptsExhausted
                | C::CancelledByTraveller
                | C::CancelledByAgent
                | C::CancelledByOperator
                | C::FlightCancelled
        ),
        BookingStatus::Completed => code == C::Departed,
        BookingStatus::NeedsAttention => code == C::NeedsAttention,
        _ => false,
    }
}

#[derive(Default)]
struct Seen {
    legacy: usize,
    typed: usize,
    cancels: usize,
    codes: std::collections::BTreeSet<&'static str>,
}

/// Every JSON value the payloads under `node` carry.
fn payload_values(node: &Value, keys: &codec::Keys, out: &mut Vec<Value>) {
    match node {
        Value::Object(map) => {
            if let (Some(Value::Object(metadata)), Some(Value::String(data))) =
                (map.get("metadata"), map.get("data"))
            {
                let mut payload = Payload {
                    data: B64.decode(data).unwrap_or_default(),
                    ..Default::default()
                };
                for (k, v) in metadata {
                    let v = v
                        .as_str()
                        .and_then(|v| B64.decode(v).ok())
                        .unwrap_or_default();
                    payload.metadata.insert(k.clone(), v);
                }
                // A payload sealed with another key (the forged messages'
                // history) is not ours to read.
                let Ok(payload) = keys.show(payload) else {
                    return;
                };
                if payload.metadata.get("encoding").map(Vec::as_slice) == Some(b"json/plain")
                    && let Ok(value) = serde_json::from_slice::<Value>(&payload.data)
                {
                    out.push(value);
                }
                return;
            }
            for v in map.values() {
                payload_values(v, keys, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| payload_values(v, keys, out)),
        _ => {}
    }
}

/// Checks every outcome in `value` (a payload's JSON).
fn check(value: &Value, history: &str, seen: &mut Seen) {
    match value {
        Value::Object(map) => {
            let why = map.get("outcome").or_else(|| map.get("reason"));
            if let (Some(why), true) = (why, map.contains_key("status")) {
                let ended: Ended = serde_json::from_value(value.clone())
                    .unwrap_or_else(|e| panic!("{history}: {e}: {value}"));
                if let Some(outcome) = ended.outcome {
                    assert!(
                        fits(ended.status, outcome.code),
                        "{history}: {why} read as {} for a {} booking",
                        outcome.code,
                        ended.status
                    );
                    seen.codes.insert(outcome.code.as_str());
                    if why.is_string() {
                        seen.legacy += 1;
                    } else {
                        seen.typed += 1;
                    }
                }
            } else if map.len() == 1
                && let Some(why) = why
            {
                // A cancel's input: who asked.
                let request: CancelRequest = serde_json::from_value(value.clone())
                    .unwrap_or_else(|e| panic!("{history}: {e}: {value}"));
                let code = request.outcome().code;
                assert!(
                    matches!(
                        code,
                        OutcomeCode::CancelledByTraveller | OutcomeCode::CancelledByAgent
                    ),
                    "{history}: cancel {why} read as {code}"
                );
                seen.cancels += 1;
            }
            map.values().for_each(|v| check(v, history, seen));
        }
        Value::Array(items) => items.iter().for_each(|v| check(v, history, seen)),
        _ => {}
    }
}

/// The `*.json` files below `dir`, at any depth.
fn history_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            history_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

#[test]
fn every_committed_outcome_reads_as_a_code_that_fits_its_status() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/histories");
    let keys = codec::Keys::parse(testkit::stack::PAYLOAD_KEYS).unwrap();
    let mut files = Vec::new();
    history_files(&dir, &mut files);
    let mut seen = Seen::default();
    for path in &files {
        let history: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let mut values = Vec::new();
        payload_values(&history, &keys, &mut values);
        let name = path.strip_prefix(&dir).unwrap().display().to_string();
        for value in &values {
            check(value, &name, &mut seen);
        }
    }
    // The histories hold the legacy strings of most ends: each read as its
    // code (a sentence that fell through would read as `flight_cancelled`
    // and fail `fits` for any booking not cancelled).
    assert!(seen.legacy > 100, "{} legacy outcomes", seen.legacy);
    assert!(seen.cancels > 0);
    for code in [
        "seats_unavailable",
        "payment_window_closed",
        "cancelled_by_traveller",
        "cancelled_by_operator",
        "flight_cancelled",
        "payment_rejected",
        "confirmation_failed",
        "needs_attention",
        "payment_attempts_exhausted",
        "input_out_of_bounds",
        "owner_unknown",
    ] {
        assert!(
            seen.codes.contains(code),
            "no history ends {code}: {:?}",
            seen.codes
        );
    }
}
