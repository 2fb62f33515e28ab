//! The traveller's web app in real Chromium (api/tests/webapp.py, Playwright
//! from the project's venv; `make test` installs both), against a gateway
//! on the whole stack and localstripe's Stripe.js: search to confirmation
//! with ticket numbers, a declined card then a good one, 3-D Secure, the
//! last seat lost to another traveller, cancel with refund, a token refresh
//! the traveller does not see, a payment window closing, a phone-sized
//! screen, the confirmation and cancellation texted to the number given. Screenshots go to
//! target/webapp/.

use std::ffi::OsString;
use std::time::Duration;

use api::web::WebConfig;
use reqwest::StatusCode;
use testkit::gateway::{Gateway, repo_root, run_python_check, utc_in_days};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traveller_books_pays_and_cancels_in_the_browser() {
    let web = |stripe_url: &str| WebConfig {
        stripe_js_url: format!("{stripe_url}/js.stripe.com/v3/"),
        stripe_publishable_key: Some("pk_test_airline_web".into()),
    };
    let mut gw = Gateway::start_with_stack("webapp", |stack, config| {
        config.web = web(&stack.stripe().url);
        // Short-lived access tokens: the page must refresh them unseen.
        config.auth.access_ttl = Duration::from_secs(5);
    })
    .await;
    gw.deliver_stripe_events().await;
    gw.stack.start_kannel().await;

    // LHR→CDG in nine days (ZZ10), and a one-row flight the next day for
    // the lost seat.
    let flights = &gw.stack.flights;
    flights.small_flight().await;
    let small = flights.airplane(1).await;
    let last_seat = flights
        .flight_at(small, "ZZ11", &utc_in_days(10, 10, 0), 70)
        .await;
    let date = utc_in_days(9, 10, 0)[..10].to_owned();
    // A replica whose bookings get a 4-second payment window: the window
    // closes in front of the traveller.
    let short_window = gw
        .serve_another(|config| {
            config.web = web(&gw.stack.stripe().url);
            config.bookings.payment_window = Duration::from_secs(4);
        })
        .await;

    let page = gw.http.get(format!("{}/", gw.base)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains(&gw.stack.stripe().url), "{csp}");

    let out = repo_root().join("target/webapp");
    let _ = std::fs::remove_dir_all(&out);
    let args: Vec<OsString> = vec![
        gw.base.clone().into(),
        out.clone().into(),
        "--date".into(),
        date.into(),
        "--last-seat-flight".into(),
        last_seat.to_string().into(),
        "--short-window".into(),
        short_window.into(),
        "--mail-dir".into(),
        gw.stack.mail().dir.clone().into(),
    ];
    tokio::task::spawn_blocking(move || {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(OsString::as_os_str).collect();
        run_python_check("api/tests/webapp.py", &args);
    })
    .await
    .unwrap();
    for shot in [
        "05-confirmation",
        "06-declined",
        "07-3d-secure",
        "08-seat-lost",
        "10-cancelled",
    ] {
        let size = std::fs::metadata(out.join(format!("{shot}.png")))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(size > 10_000, "{shot}.png is {size} bytes");
    }

    // What the browser did, as the stack recorded it: the journey's booking
    // cancelled with its €100 refunded, the declined-then-paid and the
    // 3-D Secure bookings confirmed with their tickets, the other
    // traveller's hold on the lost seat awaiting payment, our attempt at
    // that seat failed with nothing held, and the short window's booking
    // expired.
    let rows: Vec<(String, Option<i64>, i64)> = sqlx::query_as(
        "select status, refund_amount, jsonb_array_length(ticket_numbers)::bigint
           from booking order by created_at",
    )
    .fetch_all(&gw.stack.db().pool)
    .await
    .unwrap();
    let summary: Vec<(&str, Option<i64>, i64)> =
        rows.iter().map(|(s, r, t)| (s.as_str(), *r, *t)).collect();
    assert_eq!(
        summary,
        [
            ("cancelled", Some(10_000), 1),
            ("confirmed", None, 1),
            ("confirmed", None, 2),
            ("confirmed", None, 1),
            ("awaiting_payment", None, 0),
            ("failed", None, 0),
            ("expired", None, 0),
        ]
    );
    // The booking whose 3-D Secure failed was paid by the card given
    // after it, on an intent of its own: Stripe's record of the intent
    // names a card ending 4242, and the 3-D Secure card's intents were
    // voided.
    let (intent, state): (String, serde_json::Value) = sqlx::query_as(
        "select payment_intent_id, state from booking
          where passengers->0->>'last_name' = 'Lamarr'",
    )
    .fetch_one(&gw.stack.db().pool)
    .await
    .unwrap();
    let paid = gw
        .stack
        .stripe()
        .get(&format!("/v1/payment_intents/{intent}"))
        .await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    let method = paid["payment_method"].as_str().unwrap();
    let method = gw
        .stack
        .stripe()
        .get(&format!("/v1/payment_methods/{method}"))
        .await;
    assert_eq!(method["card"]["last4"], "4242", "{method}");
    assert_eq!(state["payment"]["attempts"], 3, "{state}");
    let intents = gw.stack.stripe().get("/v1/payment_intents?limit=100").await;
    let voided = intents["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| {
            i["metadata"]["booking_id"] == state["booking_id"] && i["id"] != intent.as_str()
        })
        .map(|i| i["status"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(voided, ["canceled", "canceled"], "{intents}");

    // The journey's traveller gave a mobile number: the confirmation and
    // the cancellation with its refund came by text too.
    let texts = gw.stack.texts().wait(2).await;
    let to_ada: Vec<String> = texts
        .iter()
        .filter(|t| t.to == "+447400123456")
        .map(|t| t.gsm_text())
        .collect();
    assert_eq!(to_ada.len(), 2, "{texts:?}");
    assert!(to_ada[0].contains("is confirmed"), "{to_ada:?}");
    assert!(
        to_ada[1].contains("100.00 EUR will be refunded"),
        "{to_ada:?}"
    );
}
