//! Bounded retries with jittered exponential backoff, for errors the SDK's own retry does not
//! cover: IAM's eventual consistency (a role or instance profile just created is not yet usable
//! everywhere). What is retryable is decided by the caller's predicate, in one place per use.

use std::future::Future;
use std::time::Duration;

/// How long and how often to retry.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Delay before the first retry.
    pub initial: Duration,
    /// Upper bound of one delay.
    pub max: Duration,
    /// Give up after this many attempts in all.
    pub attempts: u32,
}

impl Backoff {
    /// IAM propagation: usually seconds, documented as "may take a while"; about a minute in all.
    pub const IAM_PROPAGATION: Backoff = Backoff { initial: Duration::from_millis(500), max: Duration::from_secs(8), attempts: 10 };

    /// The delay before retry number `n` (0-based), with full jitter.
    pub fn delay(&self, n: u32, jitter: f64) -> Duration {
        let exp = self.initial.saturating_mul(2u32.saturating_pow(n.min(16)));
        exp.min(self.max).mul_f64(jitter.clamp(0.0, 1.0).max(0.5))
    }
}

/// Runs `call` until it succeeds, fails with an error `retryable` rejects, or attempts run out.
pub async fn retry<T, E, F, Fut>(backoff: Backoff, what: &str, retryable: impl Fn(&E) -> bool, mut call: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let mut attempt = 0;
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(error) if attempt + 1 < backoff.attempts && retryable(&error) => {
                let delay = backoff.delay(attempt, jitter());
                tracing::info!(%error, attempt = attempt + 1, ?delay, "{what}: retrying");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// A cheap jitter in [0, 1) from the clock; no need for a random number generator here.
fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    f64::from(nanos % 1000) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn delays_grow_and_are_capped() {
        let b = Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(1), attempts: 5 };
        assert_eq!(b.delay(0, 1.0), Duration::from_millis(100));
        assert_eq!(b.delay(2, 1.0), Duration::from_millis(400));
        assert_eq!(b.delay(10, 1.0), Duration::from_secs(1));
        assert_eq!(b.delay(0, 0.0), Duration::from_millis(50));
    }

    #[tokio::test]
    async fn retries_only_what_is_retryable_and_stops() {
        let b = Backoff { initial: Duration::from_millis(1), max: Duration::from_millis(2), attempts: 3 };
        let calls = Cell::new(0);
        let result: Result<(), String> = retry(
            b,
            "t",
            |e: &String| e == "later",
            || {
                calls.set(calls.get() + 1);
                async { Err("later".to_owned()) }
            },
        )
        .await;
        assert!(result.is_err());
        assert_eq!(calls.get(), 3);

        calls.set(0);
        let result: Result<(), String> = retry(
            b,
            "t",
            |e: &String| e == "later",
            || {
                calls.set(calls.get() + 1);
                async { Err("fatal".to_owned()) }
            },
        )
        .await;
        assert_eq!(result, Err("fatal".to_owned()));
        assert_eq!(calls.get(), 1);
    }
}
