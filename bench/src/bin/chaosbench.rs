//! `chaosbench`: bookings through the gateway while something else
//! (scripts/chaos.sh) kills the worker every few seconds. Each client is a
//! traveller who books one seat, pays with a good card, and cancels every
//! fourth booking once confirmed, retrying each call with its
//! `Idempotency-Key` on 503 as the API asks. Prints every answer a client
//! got, by call and status; the bookings' final statuses; and what Stripe,
//! the mail sink and the fake SMSC hold: captures per booking, open
//! authorizations, charges without a confirmation, duplicate emails and
//! texts. Exits non-zero when money or messages went wrong.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::{Value, json};
use tokio::sync::Mutex;

#[derive(Parser)]
#[command(about = "Bookings through the gateway while the worker is killed")]
struct Args {
    /// The gateway's base URL.
    #[arg(long)]
    base: String,
    /// localstripe's base URL (read at the end).
    #[arg(long)]
    stripe: String,
    /// The SMTP sink's mail folder.
    #[arg(long)]
    mail_dir: PathBuf,
    /// The fake SMSC's messages.jsonl (texts), if Kannel runs.
    #[arg(long)]
    texts: Option<PathBuf>,
    /// Flight ids to book on, one per line (round robin).
    #[arg(long)]
    flights: PathBuf,
    #[arg(long, default_value_t = 20)]
    clients: usize,
    #[arg(long, default_value_t = 200)]
    bookings: usize,
    /// How long a booking may take to reach its end.
    #[arg(long, default_value = "10m")]
    patience: humantime::Duration,
    #[arg(long, default_value = "chaos")]
    tag: String,
}

/// Answers by (call, status).
type Answers = Arc<Mutex<BTreeMap<(&'static str, u16), usize>>>;

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    answers: Answers,
    deadline: Instant,
}

impl Client {
    /// One call, retried with the same key while the answer is 503 or no
    /// answer came (a gateway timeout, a reset): the final answer.
    async fn call(&self, name: &'static str, path: &str, body: Value) -> (u16, Value) {
        let key = uuid::Uuid::new_v4().to_string();
        loop {
            let sent = self
                .http
                .post(format!("{}{path}", self.base))
                .bearer_auth(&self.token)
                .header("idempotency-key", &key)
                .json(&body)
                .timeout(Duration::from_secs(45))
                .send()
                .await;
            let (status, answer) = match sent {
                Ok(r) => {
                    let status = r.status().as_u16();
                    (status, r.json::<Value>().await.unwrap_or(Value::Null))
                }
                Err(_) => (0, Value::Null),
            };
            *self.answers.lock().await.entry((name, status)).or_default() += 1;
            if !(status == 503 || status == 0) || Instant::now() > self.deadline {
                return (status, answer);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The booking as `GET` tells it, once it reached an end (or the
    /// deadline passed).
    async fn settled(&self, id: &str) -> String {
        loop {
            let r = self
                .http
                .get(format!("{}/api/v1/bookings/{id}", self.base))
                .bearer_auth(&self.token)
                .send()
                .await;
            if let Ok(r) = r
                && r.status() == 200
                && let Ok(b) = r.json::<Value>().await
            {
                let status = b["status"].as_str().unwrap_or_default().to_owned();
                let settled = matches!(
                    status.as_str(),
                    "confirmed" | "cancelled" | "expired" | "failed" | "needs_attention"
                );
                if settled || Instant::now() > self.deadline {
                    return status;
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// One traveller's bookings, one after another.
async fn traveller(
    client: Client,
    next: Arc<AtomicUsize>,
    total: usize,
    flights: Arc<Vec<i64>>,
    finals: Arc<Mutex<HashMap<String, String>>>,
) {
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= total {
            return;
        }
        let body = json!({
            "flight_id": flights[n % flights.len()],
            "seats": {"cabin": "economy", "count": 1},
            "passengers": [{"first_name": "Chaos", "last_name": format!("Traveller{n}"), "date_of_birth": "1990-01-01"}],
            "contact_email": format!("chaos-{n}@example.com"),
            // A number of its own per booking: a text twice is a duplicate.
            "contact_phone": format!("+4474{:08}", 10_000_000 + n),
            "channels": ["email", "sms"],
        });
        let (_, created) = client.call("create", "/api/v1/bookings", body).await;
        let Some(id) = created["booking_id"].as_str().map(str::to_owned) else {
            continue;
        };
        let pay = json!({"payment_method": "pm_card_visa"});
        let (_, paid) = client
            .call("pay", &format!("/api/v1/bookings/{id}/payment"), pay)
            .await;
        let mut status = paid["status"].as_str().unwrap_or_default().to_owned();
        if status != "confirmed" {
            status = client.settled(&id).await;
        }
        if status == "confirmed" && n % 4 == 3 {
            // A cancel while the booking is still being confirmed is a 409
            // that asks to retry: retried like a 503.
            loop {
                let (code, answer) = client
                    .call(
                        "cancel",
                        &format!("/api/v1/bookings/{id}/cancel"),
                        json!({}),
                    )
                    .await;
                if code == 409 && answer["error"]["code"] == "booking_confirming" {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                break;
            }
        }
        let status = client.settled(&id).await;
        finals.lock().await.insert(id, status);
    }
}

/// Every PaymentIntent localstripe holds.
async fn intents(http: &reqwest::Client, stripe: &str) -> anyhow::Result<Vec<Value>> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut url = format!("{stripe}/v1/payment_intents?limit=100");
        if let Some(a) = &after {
            url.push_str(&format!("&starting_after={a}"));
        }
        let page: Value = http
            .get(url)
            .basic_auth("sk_test_bench", Some(""))
            .send()
            .await?
            .json()
            .await?;
        let data = page["data"].as_array().cloned().unwrap_or_default();
        after = data
            .last()
            .and_then(|i| i["id"].as_str())
            .map(str::to_owned);
        all.extend(data);
        if page["has_more"] != true || after.is_none() {
            return Ok(all);
        }
    }
}

/// How many times each Message-ID arrived at the sink.
fn message_ids(dir: &PathBuf) -> anyhow::Result<HashMap<String, usize>> {
    let mut seen = HashMap::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let raw = std::fs::read_to_string(entry?.path()).unwrap_or_default();
        let id = raw
            .lines()
            .take_while(|l| !l.is_empty())
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("message-id")
                    .then(|| value.trim().to_owned())
            })
            .unwrap_or_default();
        *seen.entry(id).or_default() += 1;
    }
    Ok(seen)
}

/// How many times each text part (number, part, octets) reached the SMSC.
fn text_parts(path: &PathBuf) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
        let Ok(part) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let key = format!("{} {} {}", part["to"], part["part"], part["data"]);
        *seen.entry(key).or_default() += 1;
    }
    seen
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let flights: Vec<i64> = std::fs::read_to_string(&args.flights)?
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    if flights.is_empty() {
        bail!("no flight ids in {}", args.flights.display());
    }
    let http = reqwest::Client::new();
    let answers: Answers = Arc::default();
    let finals: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let next = Arc::new(AtomicUsize::new(0));
    let flights = Arc::new(flights);
    let deadline = Instant::now() + Duration::from(args.patience);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..args.clients {
        let r = http
            .post(format!("{}/api/v1/auth/signup", args.base))
            .json(&json!({"email": format!("{}-{i}@example.com", args.tag),
                          "password": "chaos lantern orchard 42", "name": "Chaos Traveller"}))
            .send()
            .await?;
        let body: Value = r.json().await?;
        let token = body["access_token"]
            .as_str()
            .with_context(|| format!("signup: {body}"))?
            .to_owned();
        let client = Client {
            http: http.clone(),
            base: args.base.clone(),
            token,
            answers: answers.clone(),
            deadline,
        };
        tasks.push(tokio::spawn(traveller(
            client,
            next.clone(),
            args.bookings,
            flights.clone(),
            finals.clone(),
        )));
    }
    for t in tasks {
        t.await?;
    }
    let took = started.elapsed();

    let finals = finals.lock().await.clone();
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for status in finals.values() {
        *by_status.entry(status.as_str()).or_default() += 1;
    }
    println!(
        "{} bookings asked for by {} clients in {:.0} s; {} created",
        args.bookings,
        args.clients,
        took.as_secs_f64(),
        finals.len()
    );
    println!("final statuses: {by_status:?}");
    let answers = answers.lock().await.clone();
    let line: Vec<String> = answers
        .iter()
        .map(|((call, status), n)| {
            let status = if *status == 0 {
                "no answer".to_owned()
            } else {
                status.to_string()
            };
            format!("{call} {status}: {n}")
        })
        .collect();
    println!("answers: {}", line.join(", "));

    // Money, as Stripe holds it.
    let mut captured: HashMap<String, usize> = HashMap::new();
    let (mut open, mut unconfirmed_captures, mut unrefunded) = (0, 0, 0);
    let mut cancelled_paid = 0;
    for intent in intents(&http, &args.stripe).await? {
        let Some(booking) = intent["metadata"]["booking_id"].as_str() else {
            continue;
        };
        let status = finals.get(booking).map(String::as_str).unwrap_or("unknown");
        match intent["status"].as_str() {
            Some("succeeded") => {
                *captured.entry(booking.to_owned()).or_default() += 1;
                if !matches!(status, "confirmed" | "cancelled") {
                    unconfirmed_captures += 1;
                }
                if status == "cancelled" {
                    cancelled_paid += 1;
                    let id = intent["id"].as_str().unwrap_or_default();
                    let refunds: Value = http
                        .get(format!("{}/v1/refunds?payment_intent={id}", args.stripe))
                        .basic_auth("sk_test_bench", Some(""))
                        .send()
                        .await?
                        .json()
                        .await?;
                    let count = refunds["data"].as_array().map_or(0, Vec::len);
                    if count != 1 {
                        unrefunded += 1;
                    }
                }
            }
            Some("requires_capture") => open += 1,
            _ => {}
        }
    }
    let doubled = captured.values().filter(|n| **n > 1).count();
    println!(
        "money: {} bookings captured, {doubled} captured more than once, {unconfirmed_captures} captured without a confirmation, {open} authorizations left open; {cancelled_paid} cancelled after capture, {unrefunded} of them not refunded exactly once",
        captured.len()
    );

    // The messages go out beside the bookings: wait until the sink and
    // the SMSC have had nothing new for 5 s (2 minutes at most).
    let counted = || {
        let mails = std::fs::read_dir(&args.mail_dir).map_or(0, |d| d.count());
        let texts = args
            .texts
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map_or(0, |t| t.lines().count());
        (mails, texts)
    };
    let (mut last, mut quiet, drain) = (counted(), Instant::now(), Instant::now());
    while quiet.elapsed() < Duration::from_secs(5) && drain.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = counted();
        if now != last {
            (last, quiet) = (now, Instant::now());
        }
    }
    let mails = message_ids(&args.mail_dir)?;
    let mail_total: usize = mails.values().sum();
    let mail_dups: usize = mails.values().map(|n| n - 1).sum();
    let mail_dup_ids = mails.values().filter(|n| **n > 1).count();
    println!(
        "emails: {mail_total} received, {} distinct; {mail_dups} duplicates ({mail_dup_ids} emails sent more than once) = {:.1}% of emails",
        mails.len(),
        100.0 * mail_dups as f64 / mails.len().max(1) as f64
    );
    if let Some(path) = &args.texts {
        let parts = text_parts(path);
        let text_total: usize = parts.values().sum();
        let text_distinct = parts.len();
        let text_dups: usize = parts.values().map(|n| n - 1).sum();
        println!(
            "texts: {text_total} parts received, {text_distinct} distinct; {text_dups} duplicates = {:.1}%",
            100.0 * text_dups as f64 / text_distinct.max(1) as f64
        );
    }
    let unsettled = finals
        .values()
        .filter(|s| !matches!(s.as_str(), "confirmed" | "cancelled" | "expired" | "failed"))
        .count();
    if doubled > 0 || unconfirmed_captures > 0 || open > 0 || unrefunded > 0 || unsettled > 0 {
        bail!(
            "money or bookings went wrong: {doubled} double captures, {unconfirmed_captures} unconfirmed captures, {open} open authorizations, {unrefunded} cancels not refunded once, {unsettled} bookings not settled"
        );
    }
    Ok(())
}
