//! [`poll_until`]: the tests' one polling loop.

use std::fmt::Display;
use std::time::{Duration, Instant};

/// Calls `attempt` every `every` until it answers `Ok`, and returns that
/// answer. Each `Err` says what it saw instead; once `within` has passed,
/// the test fails with `what` and the last of them.
pub async fn poll_until<T, E: Display>(
    what: &str,
    within: Duration,
    every: Duration,
    mut attempt: impl AsyncFnMut() -> Result<T, E>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        match attempt().await {
            Ok(done) => return done,
            Err(last) if Instant::now() >= deadline => {
                panic!("{what} (gave up after {within:?}); last: {last}")
            }
            Err(_) => tokio::time::sleep(every).await,
        }
    }
}
