//! Replays the committed histories of every path of the booking workflow,
//! and of the flight-change fan-out (workers/tests/histories/*.json), plus
//! those of the shape before `DEFINED_ENDS` (histories/before-defined-ends),
//! against the current code: a change that is not deterministic for
//! bookings already running fails here. Record new histories with `make
//! record-histories` after a deliberate, `patched`-guarded change.

use temporalio_client::WorkflowHistory;
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};
use workflows::{BookingWorkflow, FlightChangeFanout};

/// Every path's history in the shape recorded today (`make
/// record-histories` rewrites these), and the fault matrix's.
const CURRENT: &[&str] = &[
    "confirmed_reminded",
    "expired",
    "declined_then_paid",
    "cancelled_before_payment",
    "cancelled_after_confirmation",
    "no_seats",
    "webhook_paid",
    "flight_service_outage",
    "schedule_change_then_flight_cancelled",
    "operator_cancel",
    "cancelled_while_holding",
    "payment_create_refused",
    "confirm_refused",
    "capture_needs_attention",
    "smtp_down_then_back",
    "email_out_of_budget",
    "payment_retried_across_kill",
    "payment_attempts_capped",
    // recorded by the texts tests (workers/tests/texts.rs)
    "texted_confirmed_reminded",
    "texted_only_ucs2",
    "texted_after_gateway_outage",
    // recorded by the gateway's 3-D Secure test (api/tests/gateway.rs)
    "three_d_secure_then_webhook",
    // recorded by the gateway's fan-out test (api/tests/gateway.rs)
    "fanout_schedule_changed",
    "fanout_flight_cancelled",
    // recorded by the tests of what reaches Temporal without the gateway
    // (workers/tests/frontend.rs): plain signals ignored, input out of
    // bounds, no owner record
    "forged_messages_ignored",
    "input_out_of_bounds",
    "owner_unknown",
];

/// Paths that exist only since a patch later than `FAST_PATH`: no older
/// shape of them exists.
const NEWER_THAN_FAST_PATH: &[&str] = &[
    "payment_attempts_capped",
    "texted_confirmed_reminded",
    "texted_only_ucs2",
    "texted_after_gateway_outage",
    "forged_messages_ignored",
    "input_out_of_bounds",
    "owner_unknown",
];

/// Histories of bookings started before `DEFINED_ENDS`: they may still be
/// running when the new worker deploys, so they must replay for good.
/// Never re-recorded.
const BEFORE_DEFINED_ENDS: &str = "before-defined-ends";

/// Histories of bookings started after `DEFINED_ENDS` and `MAILS_APART`
/// but before `FAST_PATH` (every step an activity of its own). Never
/// re-recorded.
const BEFORE_FAST_PATH: &str = "before-fast-path";

/// Histories of fan-outs whose change the gateway had applied before
/// starting them (before the fan-out applied changes itself). Never
/// re-recorded.
const BEFORE_FANOUT_APPLIES: &str = "before-fanout-applies";

#[tokio::test]
async fn committed_histories_replay_against_the_current_workflow() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/histories");
    let current = histories(&dir);
    let before = histories(&dir.join(BEFORE_DEFINED_ENDS));
    let old_fanouts = histories(&dir.join(BEFORE_FANOUT_APPLIES));
    let before_fast_path = histories(&dir.join(BEFORE_FAST_PATH));
    let before_fast_path_shapes = CURRENT
        .iter()
        .filter(|n| !n.starts_with("fanout_") && !NEWER_THAN_FAST_PATH.contains(n));
    for name in before_fast_path_shapes {
        assert!(
            before_fast_path.iter().any(|(n, _)| n == name),
            "no {BEFORE_FAST_PATH} history for {name}"
        );
    }
    assert_eq!(
        old_fanouts.len(),
        2,
        "{BEFORE_FANOUT_APPLIES}: {old_fanouts:?}"
    );
    for name in CURRENT {
        assert!(
            current.iter().any(|(n, _)| n == name),
            "no history for {name}"
        );
    }
    for name in &CURRENT[..11] {
        assert!(
            before.iter().any(|(n, _)| n == name),
            "no {BEFORE_DEFINED_ENDS} history for {name}"
        );
    }

    let strict = replayer(testkit::stack::test_keys_converter());
    let plain = replayer(testkit::stack::plain_history_converter());
    let (mut sealed, mut recorded_plain) = (0, 0);
    for (name, path) in current
        .iter()
        .chain(&before)
        .chain(&old_fanouts)
        .chain(&before_fast_path)
    {
        let json = std::fs::read(path).unwrap();
        let history = WorkflowHistory::from_json(&json)
            .unwrap_or_else(|e| panic!("{name}: not a history: {e}"));
        // Recorded since payloads are encrypted: read as the worker reads
        // them (a plain payload refused). Before: their shapes still
        // replay, their plain payloads let through.
        let replayer = if is_sealed(&json) {
            sealed += 1;
            &strict
        } else {
            recorded_plain += 1;
            &plain
        };
        replayer
            .replay_workflow(history)
            .await
            .unwrap_or_else(|e| panic!("{} does not replay: {e}", path.display()));
    }
    assert!(
        sealed >= 5 && recorded_plain > 0,
        "{sealed} sealed, {recorded_plain} plain"
    );
}

/// The history holds payloads sealed by the payload codec.
fn is_sealed(json: &[u8]) -> bool {
    use base64::Engine;
    let encoding = base64::engine::general_purpose::STANDARD.encode(codec::ENCODING);
    String::from_utf8_lossy(json).contains(&encoding)
}

fn replayer(converter: temporalio_common::data_converters::DataConverter) -> WorkflowReplayer {
    WorkflowReplayer::new(
        WorkflowReplayerOptions::new()
            .register_workflow::<BookingWorkflow>()
            .unwrap()
            .register_workflow::<FlightChangeFanout>()
            .unwrap()
            .data_converter(converter)
            .build(),
    )
    .unwrap()
}

/// The `*.json` histories in `dir`, by name.
fn histories(dir: &std::path::Path) -> Vec<(String, std::path::PathBuf)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    files.sort();
    files
}

/// The history of `incidents/nondeterminism-after-kill.json` (a booking
/// wedged in a kill test): a status query reached a worker that had just
/// restarted while events waited for a workflow task; sdk-core 0.10.1
/// applied them outside a workflow task (its legacy-query path) and kept
/// the timer and activity the workflow then asked for; the next workflow
/// task accepted a retried payment update after them. Replay delivers
/// that update with the events and accepts it first, so the history can
/// no longer replay, whatever the workflow's code.
///
/// What replays: every event before that workflow task's completion. The
/// gateway no longer queries workflows to read a booking, and retried
/// payments carry their update id; the full history is kept to learn when
/// an SDK release replays it (then it moves to `CURRENT`).
const INCIDENT: &str = "incidents/nondeterminism-after-kill.json";

/// The incident's history, cut after `last_event`.
fn incident(last_event: i64) -> WorkflowHistory {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/histories");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(INCIDENT)).unwrap()).unwrap();
    json["events"]
        .as_array_mut()
        .unwrap()
        .retain(|e| e["event_id"].as_i64().unwrap() <= last_event);
    WorkflowHistory::from_json(&serde_json::to_vec(&json).unwrap()).unwrap()
}

/// The incident was recorded before payloads were encrypted.
fn booking_replayer() -> WorkflowReplayer {
    replayer(testkit::stack::plain_history_converter())
}

#[tokio::test]
async fn the_incident_history_replays_up_to_the_sdks_misordered_task() {
    // Event 43: the workflow task whose completion (44) put the update's
    // acceptance (47) after the timer (45) and the activity (46).
    booking_replayer()
        .replay_workflow(incident(43))
        .await
        .expect("the incident replays up to event 43");
}

#[tokio::test]
async fn the_incident_history_still_trips_the_sdk_at_event_45() {
    let error = booking_replayer()
        .replay_workflow(incident(i64::MAX))
        .await
        .expect_err(
            "the incident replays in full: this SDK fixed it; move it next to the others in CURRENT",
        );
    let error = format!("{error:#}");
    assert!(
        error.contains("Update machine does not handle this event") && error.contains("id: 45"),
        "{error}"
    );
}
