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
///
/// Reads adapt to the wait instead of coming at a fixed interval: the first comes [`Poll::first`]
/// after the call, then each interval is a fraction of the time waited so far (so a read comes
/// at most that fraction late), between `first` and [`Poll::cap`]. A state seen is confirmed by
/// one more read `first` later, not a whole interval later. [`Pace`] says how long the awaited
/// change takes on AWS, and with it how fast the intervals grow.
#[derive(Debug, Clone, Copy)]
pub struct Poll {
    /// The first read's delay after the call, the shortest interval and a confirmation's delay.
    pub first: Duration,
    /// The longest interval, for a [`Pace::Minutes`] wait; a [`Pace::Seconds`] wait's is two
    /// thirds of it.
    pub cap: Duration,
    /// Give up after this long.
    pub timeout: Duration,
    /// How often a wait says it is still waiting (through [`report_waits_with`]); zero: never.
    pub report_every: Duration,
}

/// How long an awaited change takes on AWS, which sets how a wait's intervals grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Seconds: a topic's change, an instance's state. Each interval is a fifth of the time
    /// waited (a read at most 20 % late), up to two thirds of the cap (10 s on AWS).
    Seconds,
    /// Minutes: a custom plugin, a connector and its updates, a cluster (MSK Connect's
    /// connectors take minutes to create). A fifth of the time waited for the first
    /// `40 × first` (10 s on AWS), then half of it, up to the cap (15 s on AWS): a simulated
    /// 10-minute creation is seen by the 58th read and confirmed by the 59th, where a fixed 2 s
    /// interval made 300.
    Minutes,
}

impl Poll {
    /// On AWS: a first read 250 ms after the call.
    pub const FIRST: Duration = Duration::from_millis(250);
    /// On AWS: at most 15 s between two reads.
    pub const CAP: Duration = Duration::from_secs(15);

    /// The time to wait before the next read, `waited` after the call, at `pace`.
    pub fn interval(&self, pace: Pace, waited: Duration) -> Duration {
        let (share, cap) = match pace {
            Pace::Seconds => (0.2, self.cap.mul_f64(2.0 / 3.0)),
            Pace::Minutes if waited < self.first.saturating_mul(40) => (0.2, self.cap),
            Pace::Minutes => (0.5, self.cap),
        };
        waited.mul_f64(share).clamp(self.first, cap.max(self.first))
    }
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

/// Reads with `check`, on `poll`'s schedule at `pace`, until it reports [`Seen::Done`]
/// `confirmations` times in a row (AWS answers can be stale: one sighting may be an old
/// answer), an error, or the timeout. The first read comes [`Poll::first`] after the call.
pub async fn poll_until<T, E, F, Fut>(poll: Poll, pace: Pace, what: &str, confirmations: u32, mut check: F) -> Result<T, WaitError<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Seen<T>, E>>,
{
    let started = tokio::time::Instant::now();
    let mut next_report = poll.report_every;
    let mut streak = 0;
    let mut last: String;
    tokio::time::sleep(poll.first).await;
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
        // Not while confirming: the state is reached, and the next read comes at once.
        if streak == 0
            && !poll.report_every.is_zero()
            && started.elapsed() >= next_report
            && let Some(report) = WAIT_REPORTER.get()
        {
            report(&format!("still waiting for {what}: {last}, {} of {}", minutes(started.elapsed()), minutes(poll.timeout)));
            while next_report <= started.elapsed() {
                next_report += poll.report_every;
            }
        }
        let interval = if streak > 0 { poll.first } else { poll.interval(pace, started.elapsed()) };
        tokio::time::sleep(interval).await;
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
        let poll = Poll {
            first: Duration::from_millis(1),
            cap: Duration::from_millis(1),
            timeout: Duration::from_secs(5),
            report_every: Duration::ZERO,
        };
        // A stale answer in between resets the streak: ACTIVE, CREATING, ACTIVE, ACTIVE.
        let answers = std::sync::Mutex::new(vec!["ACTIVE", "ACTIVE", "CREATING", "ACTIVE"]);
        let reads = Cell::new(0);
        let result: Result<u32, WaitError<String>> = poll_until(poll, Pace::Seconds, "topic", 2, || {
            reads.set(reads.get() + 1);
            let answer = answers.lock().unwrap().pop().unwrap_or("ACTIVE");
            async move { Ok(if answer == "ACTIVE" { Seen::Done(7) } else { Seen::Pending(answer.to_owned()) }) }
        })
        .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(reads.get(), 4);

        let short = Poll {
            first: Duration::from_millis(1),
            cap: Duration::from_millis(1),
            timeout: Duration::from_millis(20),
            report_every: Duration::ZERO,
        };
        let result: Result<(), WaitError<String>> =
            poll_until(short, Pace::Seconds, "topic", 2, || async { Ok(Seen::Pending("CREATING".to_owned())) }).await;
        let error = result.unwrap_err().to_string();
        assert!(error.contains("waiting for topic (last seen: CREATING)"), "{error}");
    }

    /// AWS's schedule: a first read at 250 ms, intervals up to 15 s.
    const AWS: Poll = Poll { first: Poll::FIRST, cap: Poll::CAP, timeout: Duration::from_secs(3600), report_every: Duration::ZERO };

    /// Waits at `pace` for a change that is done `after` the call, with `confirmations`; answers
    /// the reads it took and how long after the change the wait ended.
    async fn wait_for_change(pace: Pace, after: Duration, confirmations: u32) -> (u32, Duration) {
        let started = tokio::time::Instant::now();
        let reads = Cell::new(0);
        let result: Result<(), WaitError<String>> = poll_until(AWS, pace, "change", confirmations, || {
            reads.set(reads.get() + 1);
            let done = started.elapsed() >= after;
            async move { Ok(if done { Seen::Done(()) } else { Seen::Pending("CREATING".to_owned()) }) }
        })
        .await;
        result.unwrap();
        (reads.get(), started.elapsed().saturating_sub(after))
    }

    #[tokio::test(start_paused = true)]
    async fn a_ten_minute_connector_creation_costs_at_most_sixty_reads() {
        let (reads, late) = wait_for_change(Pace::Minutes, Duration::from_secs(600), 2).await;
        assert!(reads <= 60, "{reads} reads");
        // The last interval is the cap, and the confirmation comes `first` after the sighting.
        assert!(late <= Poll::CAP + Poll::FIRST, "{late:?} late");
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_read_comes_soon_after_the_call() {
        let (reads, late) = wait_for_change(Pace::Minutes, Duration::ZERO, 1).await;
        assert_eq!((reads, late), (1, Poll::FIRST));
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_comes_at_most_a_fifth_of_the_wait_late_and_confirms_at_once() {
        // Every duration from 0.3 s to 10 s, by 100 ms: the sighting is at most 20 % (or the
        // shortest interval) after the change, and the confirmation 250 ms after the sighting.
        for tenths in 3..=100 {
            let after = Duration::from_millis(tenths * 100);
            for pace in [Pace::Seconds, Pace::Minutes] {
                let (_, late) = wait_for_change(pace, after, 2).await;
                let allowed = after.mul_f64(0.2).max(Poll::FIRST) + Poll::FIRST;
                assert!(late <= allowed, "{pace:?}, done after {after:?}: ended {late:?} late, allowed {allowed:?}");
            }
        }
    }

    #[test]
    fn intervals_grow_with_the_wait_up_to_the_cap() {
        let at = |pace, secs: f64| AWS.interval(pace, Duration::from_secs_f64(secs));
        assert_eq!(at(Pace::Seconds, 0.5), Poll::FIRST);
        assert_eq!(at(Pace::Seconds, 5.0), Duration::from_secs(1));
        assert_eq!(at(Pace::Seconds, 600.0), Duration::from_secs(10));
        assert_eq!(at(Pace::Minutes, 5.0), Duration::from_secs(1));
        assert_eq!(at(Pace::Minutes, 20.0), Duration::from_secs(10));
        assert_eq!(at(Pace::Minutes, 600.0), Poll::CAP);
        // A time scale divides every duration alike.
        let scaled = Poll { first: Poll::FIRST / 100, cap: Poll::CAP / 100, ..AWS };
        assert_eq!(scaled.interval(Pace::Minutes, Duration::from_millis(200)), Duration::from_millis(100));
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
