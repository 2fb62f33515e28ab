//! `apibench`: creates bookings through the gateway with N concurrent
//! clients (each its own signed-up user, one booking request after
//! another) and prints the create-booking latency distribution.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use hdrhistogram::Histogram;
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "Create-booking latency through the gateway")]
struct Args {
    /// The gateway's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base: String,
    /// Concurrent clients, each a user of its own.
    #[arg(long, default_value_t = 20)]
    clients: usize,
    /// Booking requests in all.
    #[arg(long, default_value_t = 400)]
    bookings: usize,
    /// Flight ids to book on, one per line (used round robin).
    #[arg(long)]
    flights: PathBuf,
    /// A tag that makes this run's accounts unique.
    #[arg(long, default_value = "run")]
    tag: String,
}

struct Outcome {
    hist: Histogram<u64>,
    created: usize,
    refused: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let flights: Vec<i64> = std::fs::read_to_string(&args.flights)
        .with_context(|| format!("reading {}", args.flights.display()))?
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    if flights.is_empty() {
        bail!("no flight ids in {}", args.flights.display());
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let mut tokens = Vec::with_capacity(args.clients);
    for i in 0..args.clients {
        let r = http
            .post(format!("{}/api/v1/auth/signup", args.base))
            .json(
                &json!({"email": format!("bench-{}-{i}@example.com", args.tag),
                          "password": "bench lantern orchard 42", "name": "Bench Client"}),
            )
            .send()
            .await?;
        let status = r.status();
        let body: Value = r.json().await?;
        if status != 201 {
            bail!("signup failed: {status} {body}");
        }
        tokens.push(body["access_token"].as_str().unwrap_or_default().to_owned());
    }
    let flights = Arc::new(flights);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for token in tokens {
        let (http, flights, next, base, total) = (
            http.clone(),
            flights.clone(),
            next.clone(),
            args.base.clone(),
            args.bookings,
        );
        tasks.push(tokio::spawn(async move {
            let mut out = Outcome {
                hist: Histogram::new(3).expect("histogram"),
                created: 0,
                refused: 0,
            };
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    return Ok::<_, anyhow::Error>(out);
                }
                let flight = flights[n % flights.len()];
                let body = json!({
                    "flight_id": flight, "seats": {"cabin": "economy", "count": 1},
                    "passengers": [{"first_name": "Bench", "last_name": "Client", "date_of_birth": "1990-01-01"}],
                    "contact_email": "bench@example.com"
                });
                let sent = Instant::now();
                let r = http
                    .post(format!("{base}/api/v1/bookings"))
                    .bearer_auth(&token)
                    .header("idempotency-key", uuid::Uuid::new_v4().to_string())
                    .json(&body)
                    .send()
                    .await?;
                let status = r.status();
                let _ = r.bytes().await?;
                let took = sent.elapsed();
                out.hist.record(took.as_micros() as u64)?;
                match status.as_u16() {
                    201 => out.created += 1,
                    409 => out.refused += 1,
                    other => bail!("create booking answered {other}"),
                }
            }
        }));
    }
    let mut hist = Histogram::<u64>::new(3)?;
    let (mut created, mut refused) = (0, 0);
    for t in tasks {
        let out = t.await??;
        hist.add(&out.hist)?;
        created += out.created;
        refused += out.refused;
    }
    let elapsed = start.elapsed();
    let ms = |q: f64| Duration::from_micros(hist.value_at_quantile(q)).as_secs_f64() * 1000.0;
    println!(
        "create booking, {} clients: {} requests in {:.1} s = {:.1}/s ({created} created, {refused} seats_unavailable); latency p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        args.clients,
        hist.len(),
        elapsed.as_secs_f64(),
        hist.len() as f64 / elapsed.as_secs_f64(),
        ms(0.5),
        ms(0.9),
        ms(0.99),
        ms(1.0),
    );
    Ok(())
}
