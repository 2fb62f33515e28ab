//! `bookingbench`: end-to-end booking load against a running stack (the
//! `worker` binary, the flight service, localstripe, the Temporal dev
//! server), and the same client pattern against a no-op workflow as the
//! ceiling. Used by `make bench-booking`.
//!
//! `bookingbench pay`: N bookings, C at a time; each is started with
//! update-with-start (`wait_for_hold`: "seats held") and then paid with
//! `submit_payment` ("confirmed").
//! `bookingbench hold`: N bookings started and left awaiting payment.
//! `bookingbench noop`: the ceiling, a no-op workflow with the booking's
//! client contract and no activities: update-with-start answered from its
//! first workflow task, one payment update answered from one task, the
//! payment-window timer and the reminder timer, and (with
//! `--search-attributes`) the booking's search attribute writes; on its own
//! task queue, run by a worker inside this process.
//!
//! After `pay`, the history of the last booking up to its reminder timer:
//! events and workflow tasks, the currency of a Temporal round trip.
//! Exits non-zero, after the figures, if a booking failed.
//!
//! Bookings get `PAYMENT_WINDOW` and `REMINDER_LEAD` from the environment
//! (defaults 5m and 48h), as the gateway's will. Like the gateway, the
//! bench writes each booking's `booking_request` (for one bench account)
//! in the booking database (`BOOKING_DATABASE_URL`, the gateway's tables
//! migrated) before starting it: the worker holds seats for no other.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use hdrhistogram::Histogram;
use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, Url, WorkflowExecuteUpdateOptions,
    WorkflowIdConflictPolicy, WorkflowUpdateWithStartOptions,
};
use temporalio_common::search_attributes::{SearchAttributeKey, SearchAttributes, Timestamp};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    CancellableFuture, Runtime, Worker, WorkerOptions, WorkflowContext, WorkflowResult,
};
use tokio::sync::Semaphore;
use workflows::BookingWorkflow;
use workflows::contract::BookingTimings;
use workflows::contract::{
    BookingId, BookingInput, BookingStatus, Cabin, Passenger, PaymentMethodId, PaymentRequest,
    SeatSelection, TASK_QUEUE, workflow_id,
};

const STATUS: SearchAttributeKey<String> = SearchAttributeKey::keyword("BookingStatus");
const FLIGHT_NUMBER: SearchAttributeKey<String> = SearchAttributeKey::keyword("FlightNumber");
const DEPARTURE: SearchAttributeKey<Timestamp> = SearchAttributeKey::datetime("DepartureTime");
const USER_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("UserId");
const BOOKING_REF: SearchAttributeKey<String> = SearchAttributeKey::keyword("BookingRef");

#[derive(Parser)]
struct Cli {
    /// host:port of the Temporal frontend.
    #[arg(long, default_value = "127.0.0.1:7233")]
    temporal: String,
    #[arg(long, default_value_t = 1000)]
    bookings: usize,
    #[arg(long, default_value_t = 50)]
    concurrency: usize,
    /// The booking database, where each booking's owner record goes.
    #[arg(long, env = "BOOKING_DATABASE_URL")]
    booking_database_url: Option<String>,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand, Clone)]
enum Mode {
    /// Book and pay.
    Pay {
        /// Flight ids, one per line; bookings take one economy seat each.
        #[arg(long)]
        flights: std::path::PathBuf,
    },
    /// Book and leave awaiting payment.
    Hold {
        #[arg(long)]
        flights: std::path::PathBuf,
    },
    /// The ceiling: a no-op workflow with the same shape.
    Noop {
        /// Also set and update the search attributes as a booking does
        /// (at start, held, confirming, confirmed).
        #[arg(long)]
        search_attributes: bool,
    },
}

struct Figures {
    held: Histogram<u64>,
    confirmed: Histogram<u64>,
    errors: u64,
    first_error: Option<String>,
    /// The workflow id of a booking confirmed in this run.
    last_confirmed: Option<String>,
}

/// The events of a booking's history up to its reminder timer (the last
/// `TimerStarted` of the payment's workflow task), and its workflow tasks.
async fn history_to_reminder(client: &Client, workflow_id: &str) -> anyhow::Result<(usize, usize)> {
    use temporalio_common::protos::temporal::api::enums::v1::EventType;
    // The confirmation's email and its task may still be arriving: the
    // reminder timer is in the task that confirmed.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events = client
        .get_workflow_handle::<BookingWorkflow>(workflow_id)
        .fetch_history(Default::default())
        .into_events()
        .await?;
    let upto = events
        .iter()
        .rposition(|e| e.event_type() == EventType::TimerStarted)
        .context("no timer in the history")?;
    let tasks = events[..=upto]
        .iter()
        .filter(|e| e.event_type() == EventType::WorkflowTaskCompleted)
        .count();
    Ok((upto + 1, tasks))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let defaults = BookingTimings::parse(kit::config::var).map_err(anyhow::Error::msg)?;
    let url: Url = format!("http://{}", cli.temporal).parse()?;
    let connection = Connection::connect(ConnectionOptions::new(url).build())
        .await
        .context("connecting to Temporal")?;
    // The worker's keys (bench-stack.sh exports them): payloads encrypted
    // as in production, for the bookings and the ceiling alike.
    let keys = codec::Keys::from_env()?;
    let client = Client::new(
        connection,
        ClientOptions::new("default")
            .data_converter(codec::EncryptionCodec::data_converter(keys))
            .build(),
    )?;

    let mut noop_worker = None;
    let owners = match (&cli.mode, &cli.booking_database_url) {
        (Mode::Noop { .. }, _) => None,
        (_, Some(url)) => Some(Owners::connect(url, cli.concurrency).await?),
        (_, None) => bail!("set BOOKING_DATABASE_URL: bookings need their owner record"),
    };
    let flights = match &cli.mode {
        Mode::Pay { flights } | Mode::Hold { flights } => std::fs::read_to_string(flights)?
            .lines()
            .filter_map(|l| l.trim().parse::<i64>().ok())
            .collect::<Vec<_>>(),
        Mode::Noop { .. } => {
            noop_worker = Some(start_noop_worker(client.clone())?);
            Vec::new()
        }
    };
    if flights.is_empty() && !matches!(cli.mode, Mode::Noop { .. }) {
        bail!("no flight ids");
    }
    let flights = Arc::new(flights);

    let permits = Arc::new(Semaphore::new(cli.concurrency));
    let figures = Arc::new(std::sync::Mutex::new(Figures {
        held: Histogram::new(3)?,
        confirmed: Histogram::new(3)?,
        errors: 0,
        first_error: None,
        last_confirmed: None,
    }));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(cli.bookings);
    for i in 0..cli.bookings {
        let permit = permits.clone().acquire_owned().await?;
        let client = client.clone();
        let mode = cli.mode.clone();
        let flights = flights.clone();
        let figures = figures.clone();
        let owners = owners.clone();
        tasks.push(tokio::spawn(async move {
            let flight = flights.get(i % flights.len().max(1)).copied().unwrap_or(0);
            let result = match (mode, &owners) {
                (Mode::Pay { .. }, Some(owners)) => {
                    book(&client, owners, flight, true, defaults).await
                }
                (Mode::Hold { .. }, Some(owners)) => {
                    book(&client, owners, flight, false, defaults).await
                }
                (Mode::Pay { .. } | Mode::Hold { .. }, None) => unreachable!("owners connected"),
                (Mode::Noop { search_attributes }, _) => noop(&client, search_attributes).await,
            };
            let mut f = figures.lock().unwrap();
            match result {
                Ok((held, confirmed)) => {
                    f.held.record(held.as_micros() as u64).ok();
                    if let Some((c, id)) = confirmed {
                        f.confirmed.record(c.as_micros() as u64).ok();
                        f.last_confirmed = Some(id);
                    }
                }
                Err(e) => {
                    f.errors += 1;
                    f.first_error.get_or_insert(format!("{e:#}"));
                }
            }
            drop(permit);
        }));
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = started.elapsed();
    let client_ticks = own_cpu_ticks();
    let f = Arc::try_unwrap(figures)
        .map_err(|_| anyhow::anyhow!("a booking task still holds the figures"))?
        .into_inner()
        .unwrap();
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let done = f.held.len().max(f.confirmed.len());
    println!(
        "{}: {} bookings in {:.1} s, {} at a time: {:.1} bookings/s, {} errors",
        match cli.mode {
            Mode::Pay { .. } => "booking (hold + pay + confirm)",
            Mode::Hold { .. } => "booking (hold only)",
            Mode::Noop {
                search_attributes: false,
            } => "no-op ceiling",
            Mode::Noop {
                search_attributes: true,
            } => "no-op with the booking's search attribute updates",
        },
        done,
        elapsed.as_secs_f64(),
        cli.concurrency,
        done as f64 / elapsed.as_secs_f64(),
        f.errors
    );
    println!(
        "  seats held:  p50 {:.1} ms  p99 {:.1} ms",
        ms(&f.held, 0.5),
        ms(&f.held, 0.99)
    );
    if !f.confirmed.is_empty() {
        println!(
            "  confirmed:   p50 {:.1} ms  p99 {:.1} ms",
            ms(&f.confirmed, 0.5),
            ms(&f.confirmed, 0.99)
        );
    }
    if let Some(e) = &f.first_error {
        println!("  first error: {e}");
    }
    // For bench-booking.sh's CPU accounting (the no-op ceiling's worker
    // runs in this process).
    if let Some(ticks) = client_ticks {
        println!("  client CPU ticks: {ticks}");
    }
    if let (Mode::Pay { .. }, Some(id)) = (&cli.mode, f.last_confirmed.as_deref()) {
        let (events, tasks) = history_to_reminder(&client, id).await?;
        println!(
            "  history of a confirmed booking up to its reminder timer: {events} events, {tasks} workflow tasks (targets <= 40, <= 5)"
        );
    }
    if let Some((stop, thread)) = noop_worker {
        let _ = stop.send(());
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
    // The figures are printed; a run with failed bookings still fails.
    if f.errors > 0 {
        bail!("{} of {} bookings failed", f.errors, cli.bookings);
    }
    Ok(())
}

/// User plus system CPU time of this process so far, in clock ticks
/// (`/proc/self/stat`, fields 14 and 15).
fn own_cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces: count fields after its ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(user + system)
}

/// The bench's account and each booking's `booking_request`, as the
/// gateway writes them before it starts a booking.
#[derive(Clone)]
struct Owners {
    pool: sqlx::PgPool,
}

/// The one account every bench booking belongs to.
const BENCH_USER: &str = "b0000000-0000-4000-8000-0000000be0c4";

impl Owners {
    async fn connect(url: &str, concurrency: usize) -> anyhow::Result<Self> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(concurrency.clamp(1, 20) as u32)
            .connect(url)
            .await
            .context("connecting to the booking database")?;
        sqlx::query(
            "insert into app_user (user_id, email, name, password_hash, role)
             values ($1::uuid, 'bench@bench.test', 'Bench', '-', 'customer')
             on conflict do nothing",
        )
        .bind(BENCH_USER)
        .execute(&pool)
        .await
        .context("the bench account (are the gateway's tables migrated? `api migrate`)")?;
        Ok(Owners { pool })
    }

    async fn record(&self, input: &BookingInput) -> anyhow::Result<()> {
        sqlx::query(
            "insert into booking_request
                    (user_id, idempotency_key, request_hash, booking_id, booking_ref, seats)
             values ($1::uuid, $2, '', $2::uuid, $3, $4)",
        )
        .bind(input.user_id.as_str())
        .bind(input.booking_id.to_string())
        .bind(input.booking_ref.as_str())
        .bind(input.passengers.len() as i32)
        .execute(&self.pool)
        .await
        .context("the booking's request")?;
        Ok(())
    }
}

/// One booking: its owner record, update-with-start until held, then
/// (optionally) pay.
async fn book(
    client: &Client,
    owners: &Owners,
    flight_id: i64,
    pay: bool,
    defaults: BookingTimings,
) -> anyhow::Result<(Duration, Option<(Duration, String)>)> {
    let id = uuid::Uuid::new_v4();
    let input = BookingInput {
        booking_id: BookingId::from_uuid(id),
        booking_ref: id.simple().to_string()[..10].parse()?,
        user_id: BENCH_USER.parse()?,
        flight_id,
        seats: SeatSelection::Cabin {
            cabin: Cabin::Economy,
            count: 1,
        },
        passengers: vec![Passenger {
            first_name: "Bench".into(),
            last_name: "Traveller".into(),
            date_of_birth: "1990-01-01".into(),
        }],
        contact_email: "bench@example.com".parse()?,
        contact_phone: None,
        channels: Default::default(),
        payment_window_ms: defaults.payment_window.as_millis() as u64,
        reminder_lead_ms: defaults.reminder_lead.as_millis() as u64,
        step_budget_ms: None,
        max_payment_attempts: None,
    };
    owners.record(&input).await?;
    let wf_id = workflow_id(input.booking_id);
    let attributes = workflows::initial_search_attributes(&input);
    let summary = workflows::start_summary(&input);
    let start = Instant::now();
    let held = client
        .execute_update_with_start_workflow(
            BookingWorkflow::run,
            input,
            BookingWorkflow::wait_for_hold,
            (),
            WorkflowUpdateWithStartOptions::new(
                TASK_QUEUE,
                wf_id.clone(),
                WorkflowIdConflictPolicy::Fail,
            )
            .search_attributes(attributes)
            .static_summary(summary)
            .build(),
        )
        .await
        .context("update-with-start")?;
    let held_at = start.elapsed();
    if held.status != BookingStatus::AwaitingPayment {
        bail!("not held: {:?} {:?}", held.status, held.outcome);
    }
    if !pay {
        return Ok((held_at, None));
    }
    let paid = client
        .get_workflow_handle::<BookingWorkflow>(&wf_id)
        .execute_update(
            BookingWorkflow::submit_payment,
            PaymentRequest {
                payment_method: PaymentMethodId::parse("pm_card_visa")?,
            },
            WorkflowExecuteUpdateOptions::default(),
        )
        .await
        .context("submit_payment")?;
    if paid.status != BookingStatus::Confirmed {
        bail!(
            "not confirmed: {:?} {:?}",
            paid.status,
            paid.payment.last_error
        );
    }
    Ok((held_at, Some((start.elapsed(), wf_id))))
}

// ---- the ceiling ------------------------------------------------------------

const NOOP_QUEUE: &str = "bench-noop";
#[workflow]
#[derive(Default)]
pub struct NoopBooking {
    stage: u8,
    paid: bool,
}

#[workflow_methods]
impl NoopBooking {
    #[run(name = "BenchNoopBooking")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        search_attributes: bool,
    ) -> WorkflowResult<()> {
        let status = |status: &str, flight: bool| {
            if search_attributes {
                let mut updates = vec![STATUS.value_set(status.to_owned())];
                if flight {
                    updates.push(FLIGHT_NUMBER.value_set("SK100".to_owned()));
                    updates.push(DEPARTURE.value_set(Timestamp::new(1_900_000_000, 0)));
                }
                ctx.upsert_search_attributes(updates);
            }
        };
        status("awaiting_payment", true);
        ctx.state_mut(|s| s.stage = 1);
        let mut window = Box::pin(ctx.timer(Duration::from_secs(3600)));
        temporalio_sdk::workflows::select! {
            _ = window.as_mut() => {}
            _ = ctx.wait_condition(|s| s.paid) => { window.cancel(); }
        }
        status("confirming", false);
        status("confirmed", false);
        ctx.state_mut(|s| s.stage = 2);
        // The booking then waits for its reminder; so does this.
        ctx.timer(Duration::from_secs(48 * 3600)).await;
        Ok(())
    }

    #[update]
    pub async fn held(ctx: &mut WorkflowContext<Self>, _input: ()) -> u8 {
        let _ = ctx.wait_condition(|s| s.stage >= 1).await;
        ctx.state(|s| s.stage)
    }

    #[update]
    pub async fn pay(ctx: &mut WorkflowContext<Self>, _input: ()) -> u8 {
        ctx.state_mut(|s| s.paid = true);
        let _ = ctx.wait_condition(|s| s.stage >= 2).await;
        ctx.state(|s| s.stage)
    }
}

/// Stops the no-op worker (draining it) when sent to.
type NoopWorker = (
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<anyhow::Result<()>>,
);

/// The SDK's worker future is not `Send`: it runs on a thread of its own.
fn start_noop_worker(client: Client) -> anyhow::Result<NoopWorker> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || -> anyhow::Result<()> {
        // Two threads, like the `worker` binary's runtime on this machine.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        rt.block_on(async move {
            let runtime = Runtime::from_current_tokio(Default::default())?;
            let options = WorkerOptions::new(NOOP_QUEUE)
                .register_workflow::<NoopBooking>()?
                .build();
            let mut worker = Worker::new(&runtime, client, options)?;
            let shutdown = worker.shutdown_handle();
            let run = worker.run();
            tokio::pin!(run);
            tokio::select! {
                r = &mut run => r?,
                _ = stopped => {
                    shutdown();
                    run.await?;
                }
            }
            Ok(())
        })
    });
    Ok((stop, thread))
}

async fn noop(
    client: &Client,
    search_attributes: bool,
) -> anyhow::Result<(Duration, Option<(Duration, String)>)> {
    let id = format!("bench-noop-{}", uuid::Uuid::new_v4());
    let mut options =
        WorkflowUpdateWithStartOptions::new(NOOP_QUEUE, id.clone(), WorkflowIdConflictPolicy::Fail)
            .build();
    if search_attributes {
        options.search_attributes = Some(SearchAttributes::new([
            STATUS.value_set("holding".to_owned()),
            USER_ID.value_set("bench".to_owned()),
            BOOKING_REF.value_set(id[11..21].to_uppercase()),
        ]));
    }
    let start = Instant::now();
    client
        .execute_update_with_start_workflow(
            NoopBooking::run,
            search_attributes,
            NoopBooking::held,
            (),
            options,
        )
        .await
        .context("update-with-start")?;
    let held = start.elapsed();
    client
        .get_workflow_handle::<NoopBooking>(&id)
        .execute_update(
            NoopBooking::pay,
            (),
            WorkflowExecuteUpdateOptions::default(),
        )
        .await
        .context("pay")?;
    Ok((held, Some((start.elapsed(), id))))
}
