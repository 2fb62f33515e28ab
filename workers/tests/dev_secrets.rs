//! Outside development (`AIRLINE_ENV` unset, so production) the real
//! `worker` binary refuses to start with any secret this repository
//! publishes for the local stack (`scripts/env.sh`, `deploy/overlays/dev`),
//! naming the variable and never the value; with `AIRLINE_ENV=development`
//! the same value is the local stack's and passes.

use std::process::{Command, Output};

/// The worker with every secret it needs, none a published value, and a
/// database URL that fails at once: the configuration is checked first.
fn worker(env: &[(&str, &str)]) -> Output {
    Command::new(testkit::stack::worker_binary())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BOOKING_DATABASE_URL", "not-a-postgres-url")
        .env("FLIGHTS_SERVICE_TOKEN", "a-flights-token-of-our-own-0123")
        .env("STRIPE_SECRET_KEY", "sk_test_a_key_of_our_own")
        .env("KANNEL_PASSWORD", "a-kannel-password-of-our-own")
        .env("SMS_DLR_TOKEN", "a-delivery-report-token-of-our-own")
        .env(codec::KEYS_VAR, testkit::stack::PAYLOAD_KEYS)
        .env("WORKER_HTTP_ADDR", "127.0.0.1:0")
        .env("WORKER_METRICS_ADDR", "127.0.0.1:0")
        .envs(env.iter().copied())
        .output()
        .expect("the worker runs")
}

#[test]
fn every_published_dev_secret_stops_the_worker_outside_development() {
    let published = [
        ("FLIGHTS_SERVICE_TOKEN", "dev-flights-service-token"),
        ("STRIPE_SECRET_KEY", "sk_test_local_dev"),
        ("KANNEL_PASSWORD", "dev-only-kannel-password"),
        ("SMS_DLR_TOKEN", "dev-only-sms-dlr-token"),
        (
            codec::KEYS_VAR,
            "dev-1=ZGV2LW9ubHktcGF5bG9hZC1rZXktY2hhbmdlLW1lISE=",
        ),
    ];
    for (name, value) in published {
        let out = worker(&[(name, value)]);
        testkit::process::assert_refused_published(&out, name, value);
        // The local stack's value, in development: refused no more (the
        // start fails further on, at the database).
        let out = worker(&[(name, value), ("AIRLINE_ENV", "development")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            !stderr.contains("development values") && stderr.contains("booking database"),
            "{name} in development: {stderr}"
        );
    }
}
