//! Replays the committed histories of every path of the booking workflow,
//! and of the flight-change fan-out (workers/tests/histories/*.json), plus
//! those of the shape before `DEFINED_ENDS` (histories/before-defined-ends),
//! against the current code: a change that is not deterministic for
//! bookings already running fails here. Record new histories with `make
//! record-histories` after a deliberate, `patched`-guarded change.

use booking_workflows::{BookingWorkflow, FlightChangeFanout};
use temporalio_client::WorkflowHistory;
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};

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
    // recorded by the gateway's 3-D Secure test (api/tests/gateway.rs)
    "three_d_secure_then_webhook",
    // recorded by the gateway's fan-out test (api/tests/gateway.rs)
    "fanout_schedule_changed",
    "fanout_flight_cancelled",
];

/// Histories of bookings started before `DEFINED_ENDS`: they may still be
/// running when the new worker deploys, so they must replay for good.
/// Never re-recorded.
const BEFORE_DEFINED_ENDS: &str = "before-defined-ends";

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

    let replayer = WorkflowReplayer::new(
        WorkflowReplayerOptions::new()
            .register_workflow::<BookingWorkflow>()
            .unwrap()
            .register_workflow::<FlightChangeFanout>()
            .unwrap()
            .build(),
    )
    .unwrap();
    for (name, path) in current.iter().chain(&before).chain(&old_fanouts) {
        let history = WorkflowHistory::from_json(&std::fs::read(path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: not a history: {e}"));
        replayer
            .replay_workflow(history)
            .await
            .unwrap_or_else(|e| panic!("{} does not replay: {e}", path.display()));
    }
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
