//! Servers the tests start as processes of their own (the Temporal dev
//! server, localstripe, the SMTP sink, service binaries).

use std::future::Future;
use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one start may take before the process is taken for hung and
/// replaced (several dev servers start at once on 2 cores: seconds).
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Starts tried, each on a new port, before the test fails.
pub const START_ATTEMPTS: u32 = 4;

/// A free loopback port for a server to bind.
///
/// Chosen at random below the kernel's ephemeral range
/// (`net.ipv4.ip_local_port_range`), where outgoing connections take their
/// local ports: with many connections open, a port from that range
/// (binding port 0) can be taken by one of them between our choosing it
/// and the server binding it.
pub fn free_port() -> u16 {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    if low > 11_000 {
        let span = u128::from(low - 10_000);
        for _ in 0..200 {
            let port = 10_000 + (uuid::Uuid::new_v4().as_u128() % span) as u16;
            if TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return port;
            }
        }
    }
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process, killed (hard) when dropped.
pub struct Proc(pub Child);

impl Proc {
    /// Starts `cmd` with stdin closed and stdout and stderr to `log`.
    pub fn spawn(mut cmd: Command, log: std::fs::File, what: &str) -> Proc {
        let err = log.try_clone().unwrap();
        cmd.stdin(Stdio::null()).stdout(log).stderr(err);
        Proc(
            cmd.spawn()
                .unwrap_or_else(|e| panic!("cannot start {what}: {e}")),
        )
    }

    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// Waits for the process to exit on its own.
    pub async fn exited(&mut self, within: Duration) -> ExitStatus {
        let every = Duration::from_millis(50);
        crate::poll_until("the process did not exit", within, every, async || {
            self.0.try_wait().expect("try_wait").ok_or("still running")
        })
        .await
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts a server on a free port and returns it once `ready(port)`
/// answers true while the process is alive.
///
/// `command(port)` builds the process. A process that exits before it is
/// ready (its port was taken, say), or is not ready within
/// [`START_TIMEOUT`], is killed and replaced by a new one on a new port,
/// up to [`START_ATTEMPTS`] times; the test then fails with every
/// attempt's outcome and the end of the log, which keeps all attempts.
pub async fn start_server<F: Future<Output = bool>>(
    what: &str,
    log: &Path,
    command: impl Fn(u16) -> Command,
    ready: impl Fn(u16) -> F,
) -> (Proc, u16) {
    let mut outcomes = Vec::new();
    for attempt in 1..=START_ATTEMPTS {
        let port = free_port();
        let mut file = std::fs::File::options()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let _ = writeln!(file, "--- {what}: start {attempt} on port {port}");
        let mut server = Proc::spawn(command(port), file, what);
        let deadline = Instant::now() + START_TIMEOUT;
        let outcome = loop {
            if let Some(status) = server.0.try_wait().unwrap() {
                break format!("port {port}: exited with {status} before it was ready");
            }
            if ready(port).await && server.0.try_wait().unwrap().is_none() {
                return (server, port);
            }
            if Instant::now() > deadline {
                server.kill();
                break format!("port {port}: not ready within {START_TIMEOUT:?}; killed");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        outcomes.push(outcome);
    }
    panic!(
        "{what} never started:\n  {}\n--- the end of {}:\n{}",
        outcomes.join("\n  "),
        log.display(),
        tail(log, 40)
    );
}

/// The last `lines` lines of a log file.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Something accepts connections on the port.
pub async fn tcp_answers(port: u16) -> bool {
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT, TcpStream::connect(("127.0.0.1", port))).await,
        Ok(Ok(_))
    )
}

/// An SMTP server greets on the port (`220 ...`).
pub async fn smtp_answers(port: u16) -> bool {
    let greet = async {
        let mut conn = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let mut buf = [0u8; 3];
        conn.read_exact(&mut buf).await.ok()?;
        let _ = conn.write_all(b"QUIT\r\n").await;
        Some(&buf == b"220")
    };
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT, greet).await,
        Ok(Some(true))
    )
}

/// An HTTP server answers `GET path` on the port, whatever its status.
pub async fn http_answers(port: u16, path: &str) -> bool {
    let get = async {
        let mut conn = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        conn.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
            .await
            .ok()?;
        let mut buf = [0u8; 7];
        conn.read_exact(&mut buf).await.ok()?;
        Some(&buf == b"HTTP/1.")
    };
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT, get).await,
        Ok(Some(true))
    )
}

/// A service that was given `name=value`, one of the development values
/// published in this repository, refused to start, and said which setting
/// without showing the value.
pub fn assert_refused_published(out: &std::process::Output, name: &str, value: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{name}: started");
    let says = format!("{name} is one of the development values");
    assert!(stderr.contains(&says), "{name}: {stderr}");
    assert!(
        !stderr.contains(value),
        "{name}: the value leaked: {stderr}"
    );
}
