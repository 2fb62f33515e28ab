//! Every metric the dashboard and the alerts use is exported.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::new_key;
use testkit::gateway::{GOOD_CARD, Gateway};

/// The Prometheus page of `url`, saved as `dir/name.txt`.
async fn scrape(gw: &Gateway, url: &str, dir: &std::path::Path, name: &str) -> String {
    let page = gw.stack.get_text(url).await;
    std::fs::write(dir.join(format!("{name}.txt")), &page).unwrap();
    page
}

fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

/// Every service exports what the Grafana dashboard and the alert rules
/// in deploy/observability query: a booking whose hold is retried (the
/// flight service briefly unreachable), a declined card, then a good one;
/// then the pages of the gateway (with the in-process flight service), the
/// worker's booking metrics and its Temporal metrics go to
/// `deploy/validate.py metrics`, which fails on any name no one exports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_export_every_metric_the_dashboard_and_alerts_use() {
    let gw = Gateway::start("gw-metrics").await;
    gw.stack.wait_worker_ready().await;
    let flight = gw.flight().await;
    let ada = gw.signup("ada@metrics.test").await;

    // The first hold attempt fails: the flight service is "down" for 1.5 s.
    gw.stack.proxy.set_up(false);
    let body = Gateway::booking_body(flight, json!({"cabin": "economy", "count": 1}), 1);
    let key = new_key();
    let (created, ()) = tokio::join!(gw.book(&ada, &key, body), async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        gw.stack.proxy.set_up(true);
    });
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["booking_id"].as_str().unwrap().to_owned();

    // Stripe "down" for the first authorization: the activity fails and
    // is retried (an activity's failure, which the alerts count).
    gw.stack.stripe_proxy.on(
        "POST",
        "/v1/payment_intents/",
        "/confirm",
        testkit::stack::stripe_proxy::Action::outage(),
    );
    let (declined, ()) = tokio::join!(gw.pay(&ada, &id, testkit::gateway::DECLINED_CARD), async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        gw.stack.stripe_proxy.clear();
    });
    assert_eq!(
        declined.body["status"], "awaiting_payment",
        "{}",
        declined.body
    );
    let paid = gw.pay(&ada, &id, GOOD_CARD).await;
    assert_eq!(paid.body["status"], "confirmed", "{}", paid.body);

    let dir = gw.stack.logs.join("metrics");
    std::fs::create_dir_all(&dir).unwrap();
    let worker = format!("http://127.0.0.1:{}/metrics", gw.stack.worker_http_port);
    let temporal = format!("http://127.0.0.1:{}/metrics", gw.stack.worker_metrics_port);
    // The read model is written just after the answer: wait for the count.
    let deadline = Instant::now() + Duration::from_secs(30);
    let bookings = loop {
        let page = scrape(&gw, &worker, &dir, "worker").await;
        if sample(&page, "booking_transitions_total{status=\"confirmed\"}") == Some(1.0) {
            break page;
        }
        assert!(
            Instant::now() < deadline,
            "no confirmed transition counted:\n{page}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for (series, want) in [
        (
            "booking_transitions_total{status=\"awaiting_payment\"}",
            1.0,
        ),
        (
            "booking_payment_authorizations_total{result=\"declined\"}",
            1.0,
        ),
        (
            "booking_payment_authorizations_total{result=\"authorized\"}",
            1.0,
        ),
        ("booking_stuck{reason=\"payment_window_passed\"}", 0.0),
        ("booking_stuck{reason=\"confirming_too_long\"}", 0.0),
        ("booking_stuck{reason=\"needs_attention\"}", 0.0),
    ] {
        assert_eq!(
            sample(&bookings, series),
            Some(want),
            "{series}:\n{bookings}"
        );
    }
    let temporal_page = scrape(&gw, &temporal, &dir, "worker-temporal").await;
    assert!(
        temporal_page
            .lines()
            .any(|l| l.starts_with("temporal_activity_execution_failed{")
                && l.contains("activity_type=\"authorize_payment\"")),
        "the failed authorization attempt is not counted:\n{temporal_page}"
    );
    // The hold is a local activity on the fast path: counted apart.
    assert!(
        temporal_page.lines().any(
            |l| l.starts_with("temporal_local_activity_execution_failed{")
                && l.contains("activity_type=\"hold_seats\"")
        ),
        "the failed hold attempt is not counted:\n{temporal_page}"
    );
    scrape(&gw, &format!("{}/metrics", gw.metrics_base), &dir, "api").await;

    testkit::gateway::run_python_check(
        "deploy/validate.py",
        &["metrics".as_ref(), dir.as_os_str()],
    );
}
