//! Outside development (`AIRLINE_ENV` unset, so production) the real
//! `flights` binary refuses the service token this repository publishes
//! for the local stack, naming the variable and never the value; in
//! development it is the local stack's and passes.

use std::process::{Command, Output};

const PUBLISHED: &str = "dev-flights-service-token";

fn flights(env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flights"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        // Fails at once: the configuration is checked first.
        .env("FLIGHTS_DATABASE_URL", "not-a-postgres-url")
        .env("FLIGHTS_SERVICE_TOKEN", PUBLISHED)
        .env("FLIGHTS_PORT", "0")
        .envs(env.iter().copied())
        .output()
        .expect("the flight service runs")
}

#[test]
fn the_published_service_token_stops_the_flight_service_outside_development() {
    let out = flights(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started");
    assert!(
        stderr.contains("FLIGHTS_SERVICE_TOKEN is one of the development values"),
        "{stderr}"
    );
    assert!(!stderr.contains(PUBLISHED), "the value leaked: {stderr}");

    let out = flights(&[("AIRLINE_ENV", "development")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(!stderr.contains("development values"), "{stderr}");
}
