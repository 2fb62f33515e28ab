//! `loadgen`: drives the flight service over HTTP/1.1 with N concurrent
//! clients (one keep-alive connection each) for a fixed time and prints
//! throughput and latency percentiles.
//!
//! `loadgen search --queries FILE`: each line of FILE is a query string.
//! `loadgen holds --flights FILE`: each line is a flight id; a cycle is a
//! hold of one economy seat for a new booking, then its release.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpStream;

/// mimalloc: measurably less allocator time than glibc's under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Cli {
    /// host:port of the flight service.
    #[arg(long, default_value = "127.0.0.1:8081")]
    addr: String,
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Unmeasured warm-up before the timed run.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand, Clone)]
enum Mode {
    Search {
        #[arg(long)]
        queries: std::path::PathBuf,
    },
    Holds {
        #[arg(long)]
        flights: std::path::PathBuf,
        /// Bearer token of the inventory API.
        #[arg(long, env = "FLIGHTS_SERVICE_TOKEN")]
        token: String,
    },
}

struct Outcome {
    hist: Histogram<u64>,
    ok: u64,
    errors: u64,
    first_error: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let (label, lines) = match &cli.mode {
        Mode::Search { queries } => ("search requests", read_lines(queries)?),
        Mode::Holds { flights, .. } => ("hold+release cycles", read_lines(flights)?),
    };
    let lines = Arc::new(lines);
    if cli.warmup > Duration::ZERO {
        run(&cli, &lines, cli.warmup).await?;
    }
    let started = Instant::now();
    let outcomes = run(&cli, &lines, cli.duration).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let mut hist = Histogram::<u64>::new(3)?;
    let (mut ok, mut errors, mut first_error) = (0, 0, None);
    for o in outcomes {
        hist.add(&o.hist)?;
        ok += o.ok;
        errors += o.errors;
        first_error = first_error.or(o.first_error);
    }
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{label}: {:.0}/s over {:.1}s with {} clients; ok {ok}, errors {errors}; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ok as f64 / elapsed,
        elapsed,
        cli.concurrency,
        ms(0.5),
        ms(0.99),
        hist.max() as f64 / 1000.0
    );
    if let Some(e) = first_error {
        println!("first error: {e}");
    }
    if errors > 0 {
        bail!("{errors} requests failed");
    }
    Ok(())
}

fn read_lines(path: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    if lines.is_empty() {
        bail!("{} is empty", path.display());
    }
    Ok(lines)
}

/// One keep-alive HTTP/1.1 connection.
async fn connect(addr: &str) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

async fn run(
    cli: &Cli,
    lines: &Arc<Vec<String>>,
    duration: Duration,
) -> anyhow::Result<Vec<Outcome>> {
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for i in 0..cli.concurrency {
        let mut conn = connect(&cli.addr).await?;
        let lines = lines.clone();
        let addr = cli.addr.clone();
        let mode = cli.mode.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(i as u64);
            let mut o = Outcome {
                hist: Histogram::new(3).expect("histogram"),
                ok: 0,
                errors: 0,
                first_error: None,
            };
            while Instant::now() < deadline {
                let line = &lines[rng.random_range(0..lines.len())];
                let t = Instant::now();
                let result = match &mode {
                    Mode::Search { .. } => search(&mut conn, &addr, line).await,
                    Mode::Holds { token, .. } => cycle(&mut conn, &addr, token, line).await,
                };
                match result {
                    Ok(()) => {
                        o.ok += 1;
                        let _ = o.hist.record(t.elapsed().as_micros() as u64);
                    }
                    Err(e) => {
                        o.errors += 1;
                        o.first_error.get_or_insert_with(|| format!("{e:#}"));
                        // A broken connection is replaced; stop if the server is gone.
                        match connect(&addr).await {
                            Ok(c) => conn = c,
                            Err(_) => break,
                        }
                    }
                }
            }
            o
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await?);
    }
    Ok(out)
}

/// Sends `req` and reads the answer, which must have status `expected`;
/// any other is an error naming the request (`{what} {subject}`).
async fn send(
    conn: &mut SendRequest<Full<Bytes>>,
    req: Request<Full<Bytes>>,
    expected: u16,
    (what, subject): (&str, &str),
) -> anyhow::Result<()> {
    conn.ready().await?;
    let resp = conn.send_request(req).await?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    if status != expected {
        bail!(
            "{what} {subject}: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(())
}

async fn search(
    conn: &mut SendRequest<Full<Bytes>>,
    addr: &str,
    query: &str,
) -> anyhow::Result<()> {
    let req = Request::get(format!("/api/v1/flights?{query}"))
        .header("host", addr)
        .body(Full::new(Bytes::new()))?;
    send(conn, req, 200, ("search", query)).await
}

async fn cycle(
    conn: &mut SendRequest<Full<Bytes>>,
    addr: &str,
    token: &str,
    flight: &str,
) -> anyhow::Result<()> {
    let booking = uuid::Uuid::new_v4();
    let body = format!(r#"{{"flight_id":{flight},"seats":{{"cabin":"economy","count":1}}}}"#);
    let req = Request::builder()
        .method(Method::PUT)
        .uri(format!("/api/v1/holds/{booking}"))
        .header("host", addr)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))?;
    send(conn, req, 201, ("hold on flight", flight)).await?;
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/holds/{booking}/release"))
        .header("host", addr)
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::new()))?;
    send(conn, req, 200, ("release on flight", flight)).await
}
