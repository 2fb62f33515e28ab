//! Replays the committed histories of every path of the booking workflow,
//! and of the flight-change fan-out (workers/tests/histories/*.json),
//! against the current code: a change that
//! is not deterministic for bookings already running fails here. Record
//! new histories with `make record-histories` after a deliberate,
//! `patched`-guarded change.

use booking_workflows::{BookingWorkflow, FlightChangeFanout};
use temporalio_client::WorkflowHistory;
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};

#[tokio::test]
async fn committed_histories_replay_against_the_current_workflow() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/histories");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("workers/tests/histories exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for path in [
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
        // recorded by the gateway's fan-out test (api/tests/gateway.rs)
        "fanout_schedule_changed",
        "fanout_flight_cancelled",
    ] {
        assert!(names.iter().any(|n| n == path), "no history for {path}");
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
    for (path, name) in files.iter().zip(&names) {
        let history = WorkflowHistory::from_json(&std::fs::read(path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: not a history: {e}"));
        replayer
            .replay_workflow(history)
            .await
            .unwrap_or_else(|e| panic!("{name} does not replay: {e}"));
    }
}
