//! `Stack`: everything a booking needs, real and on random ports — a
//! Temporal dev server (from the project's venv), the flight service
//! (in-process, fresh database), localstripe, the SMTP sink, a fresh
//! booking database, and the `worker` binary. Dropping it stops the
//! processes and drops the databases. Process logs go to
//! `target/test-logs/<test>/`. Starting and stopping the processes is
//! here; the booking driver is [`bookings::Bookings`] ([`Stack::bookings`],
//! and the stack derefs to it),
//! and what a test reads back from the services is in [`observers`]
//! ([`Stack::mail`], [`Stack::texts`], [`Stack::stripe`], [`Stack::db`];
//! the flight service's seats and holds on [`Stack::flights`]).

pub use crate::flight_service as flights;
pub mod bookings;
pub mod observers;
pub mod proxy;
pub mod stripe_proxy;

pub use bookings::Bookings;
pub use observers::{BookingDb, Mail, Stripe, Texts};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sqlx::PgPool;
use temporalio_client::{
    Client, ClientOptions, Connection as TemporalConnection, ConnectionOptions, WorkflowHandle,
};
use workflows::BookingWorkflow;
use workflows::contract::SeatSelection;

pub use flights::TestApp as FlightService;

/// The secret in Kannel's delivery report URL.
pub const SMS_DLR_TOKEN: &str = "test-sms-dlr-token";

/// The account every booking started straight on Temporal belongs to
/// ([`Stack::record_owner`]).
pub const TRAVELLER_ID: &str = "5f0b6c1e-8d4a-4f3e-9c2b-7a1d0e9f8c01";

pub const STRIPE_KEY: &str = "sk_test_booking_tests";
/// localstripe's test cards, as payment methods it accepts.
pub const GOOD_CARD: &str = "4242424242424242";
pub const DECLINED_CARD: &str = "4000000000000341";

/// The tests' payload keys (test-only, never used anywhere else): the
/// worker, the tests' client, the gateway and the replay test share them,
/// and the committed histories recorded since payloads are encrypted are
/// sealed with them.
pub const PAYLOAD_KEYS: &str = "test-2026=dGVzdC1vbmx5LXBheWxvYWQta2V5LTMyLWJ5dGVzISE=";

/// Serves the codec endpoint for a Web UI on `ui_port` (payloads are
/// encrypted; the UI decodes them through it, as in `make dev`): without a
/// credential, on loopback, as development allows, since the dev server's
/// Web UI has no sign-in to pass a token from. Returns the URL to give the
/// dev server.
fn serve_codec_endpoint(ui_port: u16) -> String {
    let keys = codec::Keys::parse(PAYLOAD_KEYS).expect("the test payload keys");
    let config = codec::http::EndpointConfig {
        operators: codec::operator::OperatorAuth::Unauthenticated,
        cors_origins: vec![
            format!("http://127.0.0.1:{ui_port}"),
            format!("http://localhost:{ui_port}"),
        ],
    };
    let router = codec::http::router(keys, &config).expect("codec router");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://127.0.0.1:{port}/codec")
}

/// The data converter of the tests' clients and replayers, as the worker
/// reads payloads: sealed with [`PAYLOAD_KEYS`], anything else refused.
pub fn test_keys_converter() -> temporalio_common::data_converters::DataConverter {
    let keys = codec::Keys::parse(PAYLOAD_KEYS).expect("the test payload keys");
    codec::EncryptionCodec::data_converter(keys)
}

/// [`test_keys_converter`] letting plain payloads through: for replaying
/// the committed histories recorded before payloads were encrypted (their
/// shapes must still replay; no worker reads plain payloads any more).
pub fn plain_history_converter() -> temporalio_common::data_converters::DataConverter {
    let keys = codec::Keys::parse(PAYLOAD_KEYS).expect("the test payload keys");
    codec::EncryptionCodec::data_converter(keys.accepting_plain())
}

const SEARCH_ATTRIBUTES: [&str; 5] = [
    "BookingStatus=Keyword",
    "FlightNumber=Keyword",
    "DepartureTime=Datetime",
    "UserId=Keyword",
    "BookingRef=Keyword",
];

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

pub fn venv_bin(name: &str) -> PathBuf {
    repo_root().join(".dev/venv/bin").join(name)
}

use crate::fakes::{
    KANNEL_PASSWORD, KANNEL_USER, restart_kannel, start_localstripe, start_smtp_sink,
};
use crate::process::start_server;
pub use crate::process::{Proc, free_port};

/// A choice of these seats (`"3A"`, ...).
pub fn seats(list: &[&str]) -> SeatSelection {
    SeatSelection::Seats(list.iter().map(|s| s.parse().unwrap()).collect())
}

/// Runs one of the project's Python checks (`scripts/check-tools.sh`
/// installs their packages into the venv) and fails the test with its
/// output unless it succeeds.
pub fn run_python_check(script: &str, args: &[&std::ffi::OsStr]) {
    let out = Command::new(venv_bin("python"))
        .arg(repo_root().join(script))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    assert!(
        out.status.success(),
        "{script} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub struct Stack {
    pub name: String,
    pub logs: PathBuf,
    pub flights: FlightService,
    pub proxy: proxy::Proxy,
    pub temporal_port: u16,
    /// Between the worker and localstripe: records, and injects failures.
    pub stripe_proxy: stripe_proxy::StripeProxy,
    pub smtp_port: u16,
    /// Kannel's sendsms port: the worker's `KANNEL_SENDSMS_URL`. Kannel
    /// runs only once a test starts it ([`Stack::start_kannel`]).
    pub kannel_port: u16,
    pub kannel: Option<Proc>,
    booking_db_name: String,
    admin_url: String,
    pub client: Client,
    bookings: Bookings,
    mail: Mail,
    texts: Texts,
    stripe: Stripe,
    db: BookingDb,
    pub http: reqwest::Client,
    pub worker: Option<Proc>,
    /// The worker's `/healthz`, `/readyz` and booking metrics.
    pub worker_http_port: u16,
    /// The worker's `temporal_*` metrics.
    pub worker_metrics_port: u16,
    worker_runs: u32,
    _temporal: Proc,
    _stripe: Proc,
    _smtp: Proc,
}

impl Stack {
    /// The whole stack with a running worker.
    pub async fn start(name: &str) -> Stack {
        let mut stack = Self::start_without_worker(name).await;
        stack.start_worker().await;
        stack
    }

    /// The whole stack with a running worker, and the flight service's
    /// small flight on it: how most booking tests begin.
    pub async fn with_small_flight(name: &str) -> (Stack, i64) {
        let stack = Self::start(name).await;
        let flight = stack.flights.small_flight().await;
        (stack, flight)
    }

    /// [`Stack::with_small_flight`], and the seats it has available at the
    /// start, for tests that check they come back.
    pub async fn with_small_flight_and_seats(name: &str) -> (Stack, i64, i64) {
        let (stack, flight) = Self::with_small_flight(name).await;
        let seats = stack.flights.seats_available(flight).await;
        (stack, flight, seats)
    }

    pub async fn start_without_worker(name: &str) -> Stack {
        Self::start_stack(name, None).await
    }

    /// The whole stack, with the Temporal Web UI on `ui_port`.
    pub async fn start_with_ui(name: &str, ui_port: u16) -> Stack {
        let mut stack = Self::start_stack(name, Some(ui_port)).await;
        stack.start_worker().await;
        stack
    }

    async fn start_stack(name: &str, ui_port: Option<u16>) -> Stack {
        let logs = repo_root()
            .join("target/test-logs")
            .join(format!("{name}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&logs).unwrap();
        let mail_dir = logs.join("mail");
        let sms_dir = logs.join("sms");
        std::fs::create_dir_all(&mail_dir).unwrap();
        let (temporal_log, stripe_log, smtp_log) = (
            logs.join("temporal.log"),
            logs.join("stripe.log"),
            logs.join("smtp.log"),
        );
        let python = venv_bin("python");
        // The three start at once; each is started again on another port
        // if it dies or hangs before it answers its own protocol.
        let ((temporal, temporal_port), (localstripe, stripe_port), (smtp, smtp_port)) = tokio::join!(
            start_server(
                "temporal (run `scripts/venv.sh`)",
                &temporal_log,
                |port| {
                    let mut cmd = Command::new(venv_bin("temporal"));
                    // Its HTTP and metrics ports too: left to pick them itself,
                    // it raced the other servers of the test for a free port.
                    cmd.args(["server", "start-dev", "--ip", "127.0.0.1"])
                        .args(["--port", &port.to_string(), "--log-level", "warn"]);
                    match ui_port {
                        Some(ui) => cmd
                            .args(["--ui-ip", "127.0.0.1", "--ui-port", &ui.to_string()])
                            .arg("--ui-codec-endpoint")
                            .arg(serve_codec_endpoint(ui)),
                        None => cmd.arg("--headless"),
                    };
                    cmd.args(["--http-port", &free_port().to_string()])
                        .args(["--metrics-port", &free_port().to_string()]);
                    for sa in SEARCH_ATTRIBUTES {
                        cmd.args(["--search-attribute", sa]);
                    }
                    // As `make dev`: attributes registered at start, no
                    // cache refresh on every lookup.
                    cmd.args([
                        "--dynamic-config-value",
                        "system.forceSearchAttributesCacheRefreshOnRead=false",
                    ]);
                    cmd
                },
                temporal_answers
            ),
            start_localstripe(&python, &stripe_log),
            start_smtp_sink(&python, &smtp_log, &mail_dir),
        );

        let flights = FlightService::spawn().await;
        let proxy = proxy::Proxy::start(&flights.base).await;
        let stripe_url = format!("http://127.0.0.1:{stripe_port}");
        let stripe_proxy = stripe_proxy::StripeProxy::start(&stripe_url).await;

        let admin_url = flights::admin_url();
        let booking_db_name = format!("booking_test_{}", uuid::Uuid::new_v4().simple());
        crate::db::create_database(&admin_url, &booking_db_name, None).await;
        let booking_db_url = flights::with_db(&admin_url, &booking_db_name);
        let booking_pool = PgPool::connect(&booking_db_url).await.unwrap();
        let db = BookingDb {
            url: booking_db_url,
            pool: booking_pool,
        };
        let stripe = Stripe::new(stripe_url);

        let client = temporal_client(temporal_port).await;

        Stack {
            name: name.to_owned(),
            logs,
            flights,
            proxy,
            temporal_port,
            stripe_proxy,
            smtp_port,
            kannel_port: free_port(),
            kannel: None,
            booking_db_name,
            admin_url,
            bookings: Bookings::new(client.clone(), db.clone(), stripe.clone()),
            client,
            mail: Mail { dir: mail_dir },
            texts: Texts { dir: sms_dir },
            stripe,
            db,
            http: reqwest::Client::new(),
            worker: None,
            worker_http_port: free_port(),
            worker_metrics_port: free_port(),
            worker_runs: 0,
            _temporal: temporal,
            _stripe: localstripe,
            _smtp: smtp,
        }
    }

    /// The `worker` binary, configured for this stack.
    pub fn worker_command(&self) -> Command {
        let mut cmd = Command::new(worker_binary());
        cmd.env(
            "TEMPORAL_ADDRESS",
            format!("127.0.0.1:{}", self.temporal_port),
        )
        .env("TEMPORAL_NAMESPACE", "default")
        .env("BOOKING_DATABASE_URL", &self.db.url)
        .env("FLIGHTS_URL", &self.proxy.url)
        .env("FLIGHTS_SERVICE_TOKEN", flights::TOKEN)
        .env("FLIGHTS_TIMEOUT", "3s")
        .env("STRIPE_SECRET_KEY", STRIPE_KEY)
        .env("STRIPE_API_BASE", &self.stripe_proxy.url)
        .env("SMTP_HOST", "127.0.0.1")
        .env("SMTP_PORT", self.smtp_port.to_string())
        .env(
            "KANNEL_SENDSMS_URL",
            format!("http://127.0.0.1:{}/cgi-bin/sendsms", self.kannel_port),
        )
        .env("KANNEL_USER", KANNEL_USER)
        .env("KANNEL_PASSWORD", KANNEL_PASSWORD)
        .env("KANNEL_TIMEOUT", "3s")
        .env(
            "SMS_DLR_BASE_URL",
            format!("http://127.0.0.1:{}", self.worker_http_port),
        )
        .env("SMS_DLR_TOKEN", SMS_DLR_TOKEN)
        .env(
            "WORKER_METRICS_ADDR",
            format!("127.0.0.1:{}", self.worker_metrics_port),
        )
        .env(
            "WORKER_HTTP_ADDR",
            format!("127.0.0.1:{}", self.worker_http_port),
        )
        .env("WORKER_SHUTDOWN_GRACE", "5s")
        .env(codec::KEYS_VAR, PAYLOAD_KEYS)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
        );
        cmd
    }

    /// Starts Kannel (and its fake SMSC) on [`Stack::kannel_port`], or
    /// starts it again there after [`Stack::stop_kannel`].
    pub async fn start_kannel(&mut self) {
        let dir = &self.texts.dir;
        std::fs::create_dir_all(dir).unwrap();
        let log = self.logs.join("kannel.log");
        self.kannel = Some(restart_kannel(&venv_bin("python"), &log, dir, self.kannel_port).await);
    }

    /// Stops Kannel (its launcher's children die with it): the SMS
    /// gateway out of reach until [`Stack::start_kannel`].
    pub async fn stop_kannel(&mut self) {
        if let Some(mut kannel) = self.kannel.take() {
            kannel.kill();
        }
        let port = self.kannel_port;
        crate::poll_until(
            "Kannel's sendsms port stayed open",
            Duration::from_secs(10),
            Duration::from_millis(100),
            async || match crate::process::http_answers(port, "/cgi-bin/sendsms").await {
                true => Err("still answering"),
                false => Ok(()),
            },
        )
        .await;
    }

    pub async fn start_worker(&mut self) {
        self.start_worker_with(&[]).await;
    }

    /// A worker with these variables on top of the stack's; its log is
    /// `worker-<n>.log` in the test's log folder ([`Stack::worker_log`]).
    pub async fn start_worker_with(&mut self, env: &[(&str, &str)]) {
        self.worker_runs += 1;
        let log = std::fs::File::create(self.worker_log(self.worker_runs)).unwrap();
        let mut cmd = self.worker_command();
        cmd.envs(env.iter().copied());
        self.worker = Some(Proc::spawn(cmd, log, "worker"));
    }

    /// The log of the `n`th worker started (from 1).
    pub fn worker_log(&self, n: u32) -> PathBuf {
        self.logs.join(format!("worker-{n}.log"))
    }

    /// SIGKILL: no drain, no goodbye.
    pub fn kill_worker(&mut self) {
        if let Some(mut w) = self.worker.take() {
            w.kill();
        }
    }

    /// SIGTERM, as Kubernetes stops a pod; returns the process, still
    /// draining, for the caller to wait on.
    pub fn terminate_worker(&mut self) -> Proc {
        let worker = self.worker.take().expect("a running worker");
        let status = Command::new("kill")
            .args(["-TERM", &worker.0.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success(), "kill -TERM failed");
        worker
    }

    /// The worker answers `/readyz` with 200.
    pub async fn wait_worker_ready(&self) {
        let url = format!("http://127.0.0.1:{}/readyz", self.worker_http_port);
        let every = Duration::from_millis(100);
        crate::poll_until(
            "the worker never became ready",
            Duration::from_secs(60),
            every,
            async || match self.http.get(&url).send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(r.status().to_string()),
                Err(e) => Err(e.to_string()),
            },
        )
        .await
    }
}

/// A stack is mostly driven by its bookings: `stack.pay(&handle, card)` is
/// `stack.bookings().pay(&handle, card)`.
impl std::ops::Deref for Stack {
    type Target = Bookings;

    fn deref(&self) -> &Bookings {
        &self.bookings
    }
}

impl Stack {
    /// The booking driver: bookings started on this stack's Temporal.
    pub fn bookings(&self) -> &Bookings {
        &self.bookings
    }

    /// The SMTP sink's messages.
    pub fn mail(&self) -> &Mail {
        &self.mail
    }

    /// What Kannel's fake SMSC received.
    pub fn texts(&self) -> &Texts {
        &self.texts
    }

    /// localstripe, asked directly.
    pub fn stripe(&self) -> &Stripe {
        &self.stripe
    }

    /// The booking database.
    pub fn db(&self) -> &BookingDb {
        &self.db
    }

    /// The HTTP status the worker answers a GET of `path` (`/readyz`,
    /// `/healthz`) with.
    pub async fn worker_http_status(&self, path: &str) -> reqwest::StatusCode {
        let url = format!("http://127.0.0.1:{}{path}", self.worker_http_port);
        self.http.get(url).send().await.unwrap().status()
    }

    /// The body of a GET of `url` (a Prometheus page, say).
    pub async fn get_text(&self, url: &str) -> String {
        let answer = self.http.get(url).send().await.unwrap();
        answer.text().await.unwrap()
    }

    /// [`save_history`], for tests that reach the workflow through a stack.
    pub async fn save_history<W: temporalio_common::HasWorkflowDefinition>(
        &self,
        handle: &WorkflowHandle<Client, W>,
        name: &str,
    ) {
        save_history(handle, name).await;
    }
}

/// With `RECORD_HISTORIES=1`, saves the workflow's history as
/// `workers/tests/histories/<name>.json` for the replay test.
pub async fn save_history<W: temporalio_common::HasWorkflowDefinition>(
    handle: &WorkflowHandle<Client, W>,
    name: &str,
) {
    if std::env::var("RECORD_HISTORIES").is_err() {
        return;
    }
    let json = handle
        .fetch_history(Default::default())
        .to_json()
        .await
        .expect("history fetched");
    let dir = repo_root().join("workers/tests/histories");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.json")), json).unwrap();
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.kill_worker();
        flights::drop_database(&self.admin_url, &self.booking_db_name);
    }
}

pub type Handle = WorkflowHandle<Client, BookingWorkflow>;

/// The `worker` binary: cargo's own path in this package's tests; in
/// another package's (the gateway's), the one in the same target folder,
/// which `cargo test --workspace` (and so `make test`) builds.
pub fn worker_binary() -> PathBuf {
    if let Some(path) = option_env!("CARGO_BIN_EXE_worker") {
        return path.into();
    }
    let exe = std::env::current_exe().expect("test binary path");
    let worker = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .join("worker");
    assert!(
        worker.exists(),
        "{} is missing: build it first (cargo build -p workers)",
        worker.display()
    );
    worker
}

/// A client of the dev server on `port`, which [`Stack`] started and
/// found answering.
pub async fn temporal_client(port: u16) -> Client {
    connect_temporal(port)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to Temporal on port {port}: {e}"))
}

async fn connect_temporal(port: u16) -> Result<Client, String> {
    let url: temporalio_client::Url = format!("http://127.0.0.1:{port}").parse().unwrap();
    let conn = tokio::time::timeout(
        Duration::from_secs(5),
        TemporalConnection::connect(ConnectionOptions::new(url).build()),
    )
    .await
    .map_err(|_| "no answer within 5 s".to_owned())?
    .map_err(|e| e.to_string())?;
    let options = ClientOptions::new("default")
        .data_converter(test_keys_converter())
        .build();
    Client::new(conn, options).map_err(|e| e.to_string())
}

/// A Temporal frontend answers gRPC on the port, and its `default`
/// namespace's visibility store answers too.
async fn temporal_answers(port: u16) -> bool {
    let Ok(client) = connect_temporal(port).await else {
        return false;
    };
    tokio::time::timeout(
        Duration::from_secs(5),
        client.count_workflows("", Default::default()),
    )
    .await
    .is_ok_and(|r| r.is_ok())
}
