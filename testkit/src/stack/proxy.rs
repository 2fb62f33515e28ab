//! A TCP relay between the worker and the flight service that a test can
//! switch off, to make the flight service unreachable for a while without
//! losing its state, or slow down, to keep an activity running on demand.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

pub struct Proxy {
    pub url: String,
    up: Arc<AtomicBool>,
    delay_ms: Arc<AtomicU64>,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Relays to `target` (`http://127.0.0.1:PORT`).
    pub async fn start(target: &str) -> Proxy {
        let target = target.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (flag, delay, count) = (up.clone(), delay_ms.clone(), accepted.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !flag.load(Ordering::SeqCst) {
                    drop(inbound); // connection reset: the service is "down"
                    continue;
                }
                count.fetch_add(1, Ordering::SeqCst);
                let target = target.clone();
                let flag = flag.clone();
                let delay = Duration::from_millis(delay.load(Ordering::SeqCst));
                tokio::spawn(async move {
                    // A slow network: the request waits before it is passed on.
                    tokio::time::sleep(delay).await;
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    // Connections in flight are cut too when the switch goes off.
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = async {
                            while flag.load(Ordering::SeqCst) {
                                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                            }
                        } => {}
                    }
                });
            }
        });
        Proxy {
            url: format!("http://127.0.0.1:{port}"),
            up,
            delay_ms,
            accepted,
            task,
        }
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }

    /// Connections opened from now on wait this long before reaching the
    /// flight service.
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
