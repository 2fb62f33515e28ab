//! The Temporal Web UI as ops use it (docs/ops.md), in headless Chromium
//! (Debian's `chromium`, driven by scripts/ui_check.py; `make test`
//! installs both): the bookings list filtered by search attributes, and one
//! booking's page with the summaries of its steps. Screenshots go to
//! target/ui-check/.

use std::ffi::OsStr;
use std::path::Path;

use testkit::stack::{GOOD_CARD, Handle, Stack, free_port, repo_root, run_python_check};
use workflows::contract::{BookingStatus, SeatSelection};

/// scripts/ui_check.py: loads `url` in headless Chromium until every
/// `expect` text shows, checks no `reject` text does, saves `png`.
fn ui_check(url: &str, png: &Path, expect: &[&str], reject: &[&str], height: u32) {
    let _ = std::fs::remove_file(png);
    let height = height.to_string();
    let mut args: Vec<&OsStr> = vec![url.as_ref(), png.as_ref()];
    args.extend([OsStr::new("--height"), OsStr::new(&height)]);
    for text in expect {
        args.extend([OsStr::new("--expect"), OsStr::new(text)]);
    }
    for text in reject {
        args.extend([OsStr::new("--reject"), OsStr::new(text)]);
    }
    run_python_check("scripts/ui_check.py", &args);
    let size = std::fs::metadata(png).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "{} is {size} bytes", png.display());
}

fn query_param(query: &str) -> String {
    query
        .replace('%', "%25")
        .replace(' ', "%20")
        .replace('"', "%22")
        .replace('=', "%3D")
}

async fn awaiting_payment(stack: &Stack, flight: i64, seat: &str) -> Handle {
    let input = stack.input(flight, SeatSelection::Seats(vec![seat.parse().unwrap()]));
    let handle = stack.start_booking(input).await;
    stack
        .wait_status(&handle, BookingStatus::AwaitingPayment)
        .await;
    handle
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_lists_bookings_by_search_attribute_and_shows_their_steps() {
    let ui = free_port();
    let stack = Stack::start_with_ui("web-ui", ui).await;
    let flight = stack.flights.small_flight().await;
    let waiting = [
        awaiting_payment(&stack, flight, "3A").await,
        awaiting_payment(&stack, flight, "3B").await,
    ];
    let paid = awaiting_payment(&stack, flight, "4A").await;
    assert_eq!(
        stack.pay(&paid, GOOD_CARD).await.status,
        BookingStatus::Confirmed
    );
    let flight_number = stack.status(&paid).await.flight.unwrap().flight_number;

    let dir = repo_root().join("target/ui-check");
    std::fs::create_dir_all(&dir).unwrap();
    let base = format!("http://127.0.0.1:{ui}/namespaces/default/workflows");

    // Ops' first question: which bookings on this flight still await payment?
    let query =
        format!("BookingStatus = \"awaiting_payment\" AND FlightNumber = \"{flight_number}\"");
    let list = format!("{base}?query={}", query_param(&query));
    let ids: Vec<String> = waiting
        .iter()
        .map(|h| h.info().workflow_id.clone())
        .collect();
    let paid_id = paid.info().workflow_id.clone();
    ui_check(
        &list,
        &dir.join("bookings-awaiting-payment.png"),
        &[ids[0].as_str(), ids[1].as_str()],
        &[paid_id.as_str()],
        900,
    );

    // The confirmed booking's page: its steps under their summaries.
    let run_id = paid
        .describe(Default::default())
        .await
        .unwrap()
        .run_id()
        .to_owned();
    let paid_state = stack.status(&paid).await;
    let summary = format!("Booking {}: seats 4A on flight", paid_state.booking_ref);
    ui_check(
        &format!("{base}/{paid_id}/{run_id}/history"),
        &dir.join("booking-confirmed.png"),
        &[
            summary.as_str(),
            "Hold seats on flight",
            "Payment window closes at",
            "Record status confirmed",
        ],
        &[],
        2400,
    );
}
