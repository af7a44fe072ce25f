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

/// How often and how long to wait for an asynchronous AWS state change (a topic becoming
/// ACTIVE, a connector RUNNING).
#[derive(Debug, Clone, Copy)]
pub struct Poll {
    /// Time between two reads.
    pub interval: Duration,
    /// Give up after this long.
    pub timeout: Duration,
    /// How often a wait says it is still waiting (through [`report_waits_with`]); zero: never.
    pub report_every: Duration,
}

/// Where long waits say they are still waiting: set once by the command (stderr), unset in
/// quiet mode and in library use.
static WAIT_REPORTER: std::sync::OnceLock<fn(&str)> = std::sync::OnceLock::new();

/// Makes every [`poll_until`] longer than [`Poll::report_every`] call `report` with a line such
/// as `still waiting for connector x to be RUNNING: CREATING, 1m30s of 30m`, every period.
pub fn report_waits_with(report: fn(&str)) {
    let _ = WAIT_REPORTER.set(report);
}

/// `90 s` as `1m30s`.
fn minutes(d: Duration) -> String {
    let secs = d.as_secs();
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s:02}s"),
    }
}

/// Why waiting ended without the awaited state.
#[derive(Debug, thiserror::Error)]
pub enum WaitError<E> {
    /// The state was not reached in time; `last` says what was seen last.
    #[error("timed out after {}s waiting for {what} (last seen: {last})", .waited.as_secs())]
    Timeout {
        /// What was awaited.
        what: String,
        /// The last state seen.
        last: String,
        /// How long it waited.
        waited: Duration,
    },
    /// A read failed, or the state can no longer be reached.
    #[error(transparent)]
    Failed(E),
}

/// What one read of a waited-for state found.
#[derive(Debug)]
pub enum Seen<T> {
    /// The awaited state, with its value.
    Done(T),
    /// Not yet; the string describes the current state for progress and timeouts.
    Pending(String),
}

/// Reads with `check` every `poll.interval` until it reports [`Seen::Done`] `confirmations`
/// times in a row (AWS answers can be stale: one sighting may be an old answer), an error, or
/// the timeout.
pub async fn poll_until<T, E, F, Fut>(poll: Poll, what: &str, confirmations: u32, mut check: F) -> Result<T, WaitError<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Seen<T>, E>>,
{
    let started = tokio::time::Instant::now();
    let mut next_report = poll.report_every;
    let mut streak = 0;
    let mut last: String;
    loop {
        match check().await.map_err(WaitError::Failed)? {
            Seen::Done(value) => {
                streak += 1;
                if streak >= confirmations.max(1) {
                    return Ok(value);
                }
                last = "reached, confirming".to_owned();
            }
            Seen::Pending(state) => {
                streak = 0;
                tracing::debug!(%state, "waiting for {what}");
                last = state;
            }
        }
        if started.elapsed() >= poll.timeout {
            return Err(WaitError::Timeout { what: what.to_owned(), last, waited: started.elapsed() });
        }
        if !poll.report_every.is_zero()
            && started.elapsed() >= next_report
            && let Some(report) = WAIT_REPORTER.get()
        {
            report(&format!("still waiting for {what}: {last}, {} of {}", minutes(started.elapsed()), minutes(poll.timeout)));
            while next_report <= started.elapsed() {
                next_report += poll.report_every;
            }
        }
        tokio::time::sleep(poll.interval).await;
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
    fn waits_are_reported_in_minutes() {
        assert_eq!(minutes(Duration::from_secs(45)), "45s");
        assert_eq!(minutes(Duration::from_secs(90)), "1m30s");
        assert_eq!(minutes(Duration::from_secs(1800)), "30m");
    }

    #[test]
    fn delays_grow_and_are_capped() {
        let b = Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(1), attempts: 5 };
        assert_eq!(b.delay(0, 1.0), Duration::from_millis(100));
        assert_eq!(b.delay(2, 1.0), Duration::from_millis(400));
        assert_eq!(b.delay(10, 1.0), Duration::from_secs(1));
        assert_eq!(b.delay(0, 0.0), Duration::from_millis(50));
    }

    #[tokio::test]
    async fn polling_needs_consecutive_sightings_and_times_out() {
        let poll = Poll { interval: Duration::from_millis(1), timeout: Duration::from_secs(5), report_every: Duration::ZERO };
        // A stale answer in between resets the streak: ACTIVE, CREATING, ACTIVE, ACTIVE.
        let answers = std::sync::Mutex::new(vec!["ACTIVE", "ACTIVE", "CREATING", "ACTIVE"]);
        let reads = Cell::new(0);
        let result: Result<u32, WaitError<String>> = poll_until(poll, "topic", 2, || {
            reads.set(reads.get() + 1);
            let answer = answers.lock().unwrap().pop().unwrap_or("ACTIVE");
            async move { Ok(if answer == "ACTIVE" { Seen::Done(7) } else { Seen::Pending(answer.to_owned()) }) }
        })
        .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(reads.get(), 4);

        let short = Poll { interval: Duration::from_millis(1), timeout: Duration::from_millis(20), report_every: Duration::ZERO };
        let result: Result<(), WaitError<String>> =
            poll_until(short, "topic", 2, || async { Ok(Seen::Pending("CREATING".to_owned())) }).await;
        let error = result.unwrap_err().to_string();
        assert!(error.contains("waiting for topic (last seen: CREATING)"), "{error}");
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
