//! An HTTP relay between the worker and localstripe that records every
//! request (method, path, headers, body) and can answer some of them
//! itself: a refusal or an outage that localstripe cannot produce on
//! demand, or a slow answer. Rules match a method and a path prefix; the
//! first rule that matches applies.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the relay does with a matching request.
#[derive(Clone, Debug)]
pub enum Action {
    /// Answer with this status and a Stripe error body of this type and
    /// message; localstripe never sees the request.
    Answer {
        status: u16,
        kind: &'static str,
        message: &'static str,
    },
    /// Pass the request on after this delay.
    Delay(Duration),
}

impl Action {
    /// Stripe down: 500, which the client retries.
    pub fn outage() -> Action {
        Action::Answer {
            status: 500,
            kind: "api_error",
            message: "injected outage",
        }
    }

    /// Stripe refusing for good: 400 `invalid_request_error`.
    pub fn refusal(message: &'static str) -> Action {
        Action::Answer {
            status: 400,
            kind: "invalid_request_error",
            message,
        }
    }
}

struct Rule {
    method: String,
    prefix: String,
    suffix: String,
    action: Action,
}

#[derive(Default)]
struct Shared {
    rules: Mutex<Vec<Rule>>,
    log: Mutex<Vec<Recorded>>,
}

pub struct StripeProxy {
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl StripeProxy {
    /// Relays to `upstream` (`http://127.0.0.1:PORT`).
    pub async fn start(upstream: &str) -> StripeProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let shared = Arc::new(Shared::default());
        let http = reqwest::Client::new();
        let (upstream, state) = (upstream.to_owned(), shared.clone());
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (upstream, state, http) = (upstream.clone(), state.clone(), http.clone());
                tokio::spawn(async move {
                    let _ = serve(conn, &upstream, &state, &http).await;
                });
            }
        });
        StripeProxy { url, shared, task }
    }

    /// From now on, `method` requests whose path starts with `prefix` and
    /// ends with `suffix` get `action`.
    pub fn on(&self, method: &str, prefix: &str, suffix: &str, action: Action) {
        self.shared.rules.lock().unwrap().push(Rule {
            method: method.to_owned(),
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
            action,
        });
    }

    /// From now on, `POST /v1/payment_intents/<id><step>` (`step` is
    /// `/confirm`, `/capture`, ...) gets `action`.
    pub fn on_intent_step(&self, step: &str, action: Action) {
        self.on("POST", "/v1/payment_intents/", step, action);
    }

    /// Every rule off: all requests pass again.
    pub fn clear(&self) {
        self.shared.rules.lock().unwrap().clear();
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.log.lock().unwrap().clone()
    }
}

impl Drop for StripeProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One connection: requests in turn (keep-alive) until the client closes.
async fn serve(
    conn: TcpStream,
    upstream: &str,
    state: &Shared,
    http: &reqwest::Client,
) -> std::io::Result<()> {
    let mut conn = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if conn.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or_default().to_owned(),
            parts.next().unwrap_or_default().to_owned(),
        );
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            conn.read_line(&mut h).await?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        conn.read_exact(&mut body).await?;
        let request = Recorded {
            method,
            path,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        state.log.lock().unwrap().push(request.clone());

        let action = state
            .rules
            .lock()
            .unwrap()
            .iter()
            .find(|r| {
                r.method == request.method
                    && request.path.starts_with(&r.prefix)
                    && request
                        .path
                        .split('?')
                        .next()
                        .unwrap_or_default()
                        .ends_with(&r.suffix)
            })
            .map(|r| r.action.clone());
        let (status, content_type, answer) = match action {
            Some(Action::Answer {
                status,
                kind,
                message,
            }) => {
                let body = serde_json::json!({"error": {"type": kind, "message": message}});
                (
                    status,
                    "application/json".to_owned(),
                    body.to_string().into_bytes(),
                )
            }
            delay => {
                if let Some(Action::Delay(d)) = delay {
                    tokio::time::sleep(d).await;
                }
                forward(&request, upstream, http).await
            }
        };
        let head = format!(
            "HTTP/1.1 {status} Relayed\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
            answer.len()
        );
        let out = conn.get_mut();
        out.write_all(head.as_bytes()).await?;
        out.write_all(&answer).await?;
        out.flush().await?;
    }
}

async fn forward(
    request: &Recorded,
    upstream: &str,
    http: &reqwest::Client,
) -> (u16, String, Vec<u8>) {
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).unwrap();
    let mut req = http.request(method, format!("{upstream}{}", request.path));
    for (name, value) in &request.headers {
        if !matches!(
            name.as_str(),
            "host" | "content-length" | "connection" | "transfer-encoding"
        ) {
            req = req.header(name, value);
        }
    }
    match req.body(request.body.clone()).send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let content_type = resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/json")
                .to_owned();
            let body = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
            (status, content_type, body)
        }
        Err(_) => (
            502,
            "text/plain".to_owned(),
            b"upstream unreachable".to_vec(),
        ),
    }
}
