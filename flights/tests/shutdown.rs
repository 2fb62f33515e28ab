//! Graceful shutdown of the `flights` binary, as Kubernetes stops a pod:
//! on SIGTERM it stops accepting connections, finishes the request in
//! flight, and exits 0.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{TOKEN, TestApp};
use testkit::process::{http_answers, start_server};

#[tokio::test]
async fn sigterm_stops_accepting_and_finishes_the_request_in_flight() {
    // The test app provides the database; the binary serves it.
    let app = TestApp::spawn().await;
    let log = std::env::temp_dir().join(format!(
        "flights-shutdown-{}.log",
        uuid::Uuid::new_v4().simple()
    ));
    let (mut server, port) = start_server(
        "flights serve",
        &log,
        |port| {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_flights"));
            cmd.arg("serve")
                .env("FLIGHTS_DATABASE_URL", &app.db_url)
                .env("FLIGHTS_HOST", "127.0.0.1")
                .env("FLIGHTS_PORT", port.to_string())
                .env("FLIGHTS_SERVICE_TOKEN", TOKEN);
            cmd
        },
        |port| http_answers(port, "/healthz"),
    )
    .await;
    let _ = std::fs::remove_file(&log);
    let addr = format!("127.0.0.1:{port}");

    // A request in flight: the headers and half the body sent.
    let body = br#"{"name": "Reykjavik", "country_code": "IS"}"#;
    let (first, rest) = body.split_at(body.len() / 2);
    let mut conn = TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        conn,
        "POST /api/v1/cities HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    conn.write_all(first).unwrap();
    conn.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let term = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    tokio::time::sleep(Duration::from_millis(300)).await;

    // No new connections...
    assert!(
        TcpStream::connect(&addr).is_err(),
        "a new connection was accepted after SIGTERM"
    );
    assert!(
        server.0.try_wait().unwrap().is_none(),
        "exited with a request in flight"
    );

    // ...but the request in flight is answered, and then the process exits.
    conn.write_all(rest).unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 201"),
        "the request in flight got: {response}"
    );
    assert!(response.contains("Reykjavik"), "{response}");

    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running after its last request"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exited with {status}");
    assert_eq!(
        app.count("select count(*) from city where name = 'Reykjavik'")
            .await,
        1
    );
}
