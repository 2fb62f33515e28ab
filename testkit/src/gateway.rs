//! `Gateway`: the whole booking stack (`Stack`: Temporal dev server,
//! flight service, localstripe, SMTP sink, booking database, the worker
//! binary) plus the gateway itself, in-process on a random port, spoken to
//! over HTTP only; and [`binary_command`], the gateway's binary with
//! settings of its own, for the tests of what it refuses to start with.
//! With the `gateway` feature (the `api` crate's tests).

pub use crate::stack;

use std::ffi::OsStr;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::time::Duration;

use api::app::Application;
use api::config::{AuthConfig, BookingConfig, Config, LimitConfig};
use kit::http::Service;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub use stack::flights::{Reply, TOKEN as FLIGHTS_TOKEN, utc_in_days};
pub use stack::{DECLINED_CARD, GOOD_CARD, Stack, repo_root, run_python_check, venv_bin};

/// The gateway's secrets, as [`test_config`] sets them, and the Web UI's
/// origin its codec endpoint allows.
pub const JWT_SECRET: &str = "gateway-test-jwt-secret-0123456789abcdef";
pub const WEBHOOK_SECRET: &str = "whsec_gateway_tests";
pub const CODEC_UI_ORIGIN: &str = "http://127.0.0.1:8233";

pub struct Gateway {
    pub stack: Stack,
    pub base: String,
    /// The internal listener (`/metrics`, the codec endpoint).
    pub metrics_base: String,
    pub http: reqwest::Client,
    /// The operators' identity provider the codec endpoint trusts.
    pub operators: crate::operator::IdentityProvider,
}

/// A logged-in user.
#[derive(Clone, Debug)]
pub struct Session {
    pub user_id: String,
    pub access: String,
    pub refresh: String,
}

/// Who logs in: the first admin ([`test_config`]), and every other test
/// user with the one password.
pub const ADMIN_EMAIL: &str = "ops@airline.test";
pub const ADMIN_PASSWORD: &str = "admin-password-123";
pub const PASSWORD: &str = "correct horse battery";
/// The mobile number the tests' travellers give for texts.
pub const PHONE: &str = "+447400123456";

pub fn test_config() -> Config {
    Config {
        host: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port: 0,
        metrics_addr: (Ipv4Addr::LOCALHOST, 0).into(),
        database_url: String::new().into(),
        db_max_connections: 10,
        request_timeout: Duration::from_secs(30),
        body_limit_bytes: 16 * 1024,
        cors_origins: vec!["https://app.airline.test".into()],
        flights_url: String::new(),
        flights_token: FLIGHTS_TOKEN.to_owned().into(),
        auth: AuthConfig {
            jwt_secret: JWT_SECRET.to_owned().into(),
            issuer: "airline-api".into(),
            access_ttl: Duration::from_secs(900),
            refresh_ttl: Duration::from_secs(3600),
            session_max_age: Duration::from_secs(24 * 3600),
            refresh_reuse_grace: Duration::from_secs(10),
            // Cheap hashes: the tests make many accounts on 2 cores.
            argon2_memory_kib: 1024,
            argon2_iterations: 1,
            argon2_parallelism: 1,
            argon2_max_concurrent: 2,
            admin: Some((ADMIN_EMAIL.into(), ADMIN_PASSWORD.to_owned().into())),
        },
        limits: LimitConfig {
            auth_period: Duration::from_millis(10),
            auth_burst: 1000,
            api_period: Duration::from_millis(1),
            api_burst: 1000,
            trusted_proxies: Vec::new(),
        },
        bookings: BookingConfig {
            payment_window: Duration::from_secs(60),
            // Generous: the tests of the caps set their own.
            max_payment_attempts: 20,
            max_live_bookings: 100,
            max_held_seats: 500,
            reminder_lead: Duration::from_secs(48 * 3600),
            task_queue: workflows::contract::TASK_QUEUE.into(),
        },
        stripe_webhook_secret: WEBHOOK_SECRET.to_owned().into(),
        payload_keys: codec::Keys::parse(stack::PAYLOAD_KEYS).unwrap(),
        // Started with the gateway: the operators' identity provider.
        codec: None,
        web: api::web::WebConfig::default(),
        accounts: api::config::AccountConfig {
            // The stack's SMTP sink (its port set by `build`).
            smtp: kit::mail::SmtpConfig {
                host: "127.0.0.1".into(),
                port: 0,
                username: None,
                password: None,
                tls: kit::mail::SmtpTls::None,
                from: kit::mail::DEFAULT_FROM.into(),
                timeout: Duration::from_secs(10),
            },
            public_url: "https://app.airline.test".into(),
            require_verified_email: true,
        },
        environment: kit::config::Environment::Production,
    }
}

/// A gateway on `stack` with the test configuration, adjusted; not serving.
async fn build(stack: &Stack, adjust: impl FnOnce(&mut Config)) -> anyhow::Result<Service> {
    let mut config = test_config();
    config.database_url = stack.db().url.clone().into();
    config.flights_url = stack.flights.base.clone();
    config.accounts.smtp.port = stack.smtp_port;
    adjust(&mut config);
    Application::build_with(config, stack.db().pool.clone(), stack.client.clone()).await
}

impl Gateway {
    /// Builds another gateway on this one's stack and database (a replica,
    /// or the next deploy), without serving it: what its start says.
    pub async fn build_another(&self, adjust: impl FnOnce(&mut Config)) -> anyhow::Result<Service> {
        build(&self.stack, adjust).await
    }

    /// Serves another gateway (a replica) on this one's stack and database;
    /// returns its base URL.
    pub async fn serve_another(&self, adjust: impl FnOnce(&mut Config)) -> String {
        let app = self.build_another(adjust).await.expect("replica builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until(std::future::pending()));
        base
    }

    pub async fn start(name: &str) -> Gateway {
        Self::start_with(name, |_| {}).await
    }

    /// `start`, then a flight (`flight`) and Ada signed up: most tests'
    /// beginning.
    pub async fn start_with_ada(name: &str) -> (Gateway, i64, Session) {
        let gw = Self::start(name).await;
        let flight = gw.flight().await;
        let ada = gw.signup("ada@example.com").await;
        (gw, flight, ada)
    }

    /// [`Gateway::start_with_ada`] with Kannel running, and Ada's booking
    /// of `seat` that gives [`PHONE`] for texts, held.
    pub async fn start_texting(name: &str, seat: &str) -> (Gateway, Session, Reply) {
        let (mut gw, flight, ada) = Self::start_with_ada(name).await;
        gw.stack.start_kannel().await;
        let mut body = Self::booking_body(flight, json!([seat]), 1);
        body["contact_phone"] = json!(PHONE);
        let held = gw.book(&ada, &uuid::Uuid::new_v4().to_string(), body).await;
        assert_eq!(held.status, StatusCode::CREATED, "{}", held.body);
        (gw, ada, held)
    }

    pub async fn start_with(name: &str, adjust: impl FnOnce(&mut Config)) -> Gateway {
        Self::start_with_stack(name, |_, config| adjust(config)).await
    }

    /// [`Gateway::start_with`], the adjustment seeing the stack (its
    /// localstripe's address, say).
    pub async fn start_with_stack(name: &str, adjust: impl FnOnce(&Stack, &mut Config)) -> Gateway {
        let stack = Stack::start(name).await;
        kit::config::migrate_shared(&stack.db().pool, api::app::migrations(), "gateway's tables")
            .await
            .expect("the gateway's migrations");
        let operators = crate::operator::IdentityProvider::start().await;
        let app = build(&stack, |config| {
            config.codec = Some(codec::http::EndpointConfig {
                operators: codec::operator::OperatorAuth::Jwt(operators.settings()),
                cors_origins: vec![CODEC_UI_ORIGIN.to_owned()],
            });
            adjust(&stack, config)
        })
        .await
        .expect("gateway builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let metrics_base = format!("http://127.0.0.1:{}", app.metrics_port());
        tokio::spawn(app.run_until(std::future::pending()));
        Gateway {
            stack,
            base,
            metrics_base,
            http: reqwest::Client::new(),
            operators,
        }
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        assert!(
            resp.headers().contains_key("x-request-id"),
            "no request id on {path}"
        );
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("non-JSON body {status} on {path}: {text}"))
        };
        Reply { status, body }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.request(Method::GET, path, Some(token), None, &[])
            .await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.request(Method::POST, path, token, Some(body), &[])
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request(Method::PATCH, path, Some(token), Some(body), &[])
            .await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request(Method::PUT, path, Some(token), Some(body), &[])
            .await
    }

    pub async fn delete(&self, path: &str, token: &str, body: Option<Value>) -> Reply {
        self.request(Method::DELETE, path, Some(token), body, &[])
            .await
    }

    /// `method` on `path` as `token`, with `body` and an `Idempotency-Key`.
    pub async fn keyed(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Value,
        key: &str,
    ) -> Reply {
        let headers = [("idempotency-key", key)];
        self.request(method, path, Some(token), Some(body), &headers)
            .await
    }

    pub async fn signup(&self, email: &str) -> Session {
        let session = self.signup_unverified(email).await;
        self.verify_email(email).await;
        session
    }

    /// Signs up without confirming the address.
    pub async fn signup_unverified(&self, email: &str) -> Session {
        let r = self
            .post(
                "/api/v1/auth/signup",
                None,
                json!({"email": email, "password": PASSWORD, "name": "Ada Lovelace"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        session(&r.body, r.body["user"]["id"].as_str().unwrap())
    }

    /// Follows the confirmation link emailed to `email`.
    pub async fn verify_email(&self, email: &str) {
        let token = self
            .stack
            .mail()
            .link_token("Confirm your email address", email)
            .await;
        let r = self
            .post("/api/v1/auth/verify-email", None, json!({"token": token}))
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    }

    /// A login as a browser sends it, with these headers (a `user-agent`,
    /// an `x-forwarded-for` behind a trusted proxy, a device `cookie`):
    /// the answer as it came, whatever it is.
    pub async fn login_raw(
        &self,
        email: &str,
        password: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self.http.post(format!("{}/api/v1/auth/login", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let credentials = json!({"email": email, "password": password});
        req.json(&credentials).send().await.expect("request sent")
    }

    /// The answer to a login, whatever it is.
    pub async fn try_login(&self, email: &str, password: &str) -> Reply {
        let credentials = json!({"email": email, "password": password});
        self.post("/api/v1/auth/login", None, credentials).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Session {
        let r = self.try_login(email, password).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let me = self
            .get("/api/v1/auth/me", r.body["access_token"].as_str().unwrap())
            .await;
        session(&r.body, me.body["id"].as_str().unwrap())
    }

    pub async fn admin(&self) -> Session {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// A flight with 10 economy rows, in 9 days, through the flight service.
    pub async fn flight(&self) -> i64 {
        self.stack.flights.small_flight().await
    }

    pub fn booking_body(flight_id: i64, seats: Value, passengers: usize) -> Value {
        let passengers: Vec<Value> = (0..passengers)
            .map(|i| {
                json!({"first_name": format!("Ada{i}"), "last_name": "Lovelace",
                       "date_of_birth": "1990-12-10"})
            })
            .collect();
        json!({"flight_id": flight_id, "seats": seats, "passengers": passengers,
               "contact_email": "ada@example.com"})
    }

    /// `booking_body` for any `count` economy seats.
    pub fn economy_body(flight_id: i64, count: usize) -> Value {
        Self::booking_body(
            flight_id,
            json!({"cabin": "economy", "count": count}),
            count,
        )
    }

    pub async fn book(&self, who: &Session, key: &str, body: Value) -> Reply {
        self.keyed(Method::POST, "/api/v1/bookings", &who.access, body, key)
            .await
    }

    pub async fn pay(&self, who: &Session, booking_id: &str, card: &str) -> Reply {
        let method = self.stack.stripe().payment_method(card).await;
        self.post(
            &format!("/api/v1/bookings/{booking_id}/payment"),
            Some(&who.access),
            json!({"payment_method": method}),
        )
        .await
    }

    /// Cancels as `who`, without an `Idempotency-Key`.
    pub async fn cancel(&self, who: &Session, booking_id: &str) -> Reply {
        let path = format!("/api/v1/bookings/{booking_id}/cancel");
        self.post(&path, Some(&who.access), json!({})).await
    }

    /// Has localstripe deliver its events to this gateway's webhook, as
    /// `make dev` does.
    pub async fn deliver_stripe_events(&self) {
        let registered = self
            .http
            .post(format!(
                "{}/_config/webhooks/gateway",
                self.stack.stripe().url
            ))
            .form(&[
                ("url", format!("{}/api/v1/webhooks/stripe", self.base)),
                ("secret", WEBHOOK_SECRET.to_owned()),
            ])
            .send()
            .await
            .unwrap();
        assert!(registered.status().is_success());
    }

    /// The one number a query of the booking database answers.
    pub async fn rows(&self, sql: &str) -> i64 {
        self.stack.db().scalar(sql).await
    }
}

fn session(body: &Value, user_id: &str) -> Session {
    assert_eq!(body["token_type"], "Bearer");
    Session {
        user_id: user_id.to_owned(),
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

/// The gateway's binary `exe` (the api package's tests have it as
/// `env!("CARGO_BIN_EXE_api")`) to `serve`, with every setting it needs,
/// none of them a published development value, and `AIRLINE_ENV` unset
/// (production); a database URL it never reaches (the configuration is
/// refused first, or the start fails there).
pub fn binary_command(exe: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(exe);
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("JWT_SECRET", JWT_SECRET)
        .env("FLIGHTS_SERVICE_TOKEN", FLIGHTS_TOKEN)
        .env("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .env(codec::KEYS_VAR, stack::PAYLOAD_KEYS)
        .env("BOOKING_DATABASE_URL", "postgres://127.0.0.1:9/none")
        .env("API_PORT", "0")
        .env("API_METRICS_ADDR", "127.0.0.1:0");
    cmd
}
