//! Paces AWS calls by the control-plane quotas AWS documents, so that a fleet of environments
//! stays under them instead of meeting a storm of throttling errors.
//!
//! Every call of a run, from every environment, takes a token from the buckets of its operation
//! before it is sent: one bucket per (Region, operation), plus one per (Region, service) where AWS
//! documents a quota for the service as a whole. Buckets are per process, so every environment of
//! a fleet shares them. The SDK's retries stay the safety net for what the table does not know
//! (another tool in the same account, a quota lowered for the account).
//!
//! How: an interceptor ([`OperationTag`]) marks each request with its operation, and the HTTP
//! connector ([`PacedHttpClient`]) waits for the tokens before it sends it. Retries are paced too:
//! each attempt passes through the connector.
//!
//! Overrides, for accounts with raised quotas or for the sandbox's scaled time:
//! `--rate KEY=N/SECONDS` (KEY is `service:Operation`, or `service:*` for the service-wide bucket;
//! `off` removes a bucket), and `PINFRA_TIME_SCALE` multiplies every rate (and divides every
//! polling delay, `settings::poll`).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, Metadata};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// A documented rate: `count` calls every `seconds`, with a burst of `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Calls per period.
    pub count: f64,
    /// The period, in seconds.
    pub seconds: f64,
    /// How many calls may go at once after a quiet spell (the bucket's size).
    pub burst: f64,
}

impl Rate {
    const fn every(count: f64, seconds: f64, burst: f64) -> Self {
        Self { count, seconds, burst }
    }

    /// Calls per second.
    pub fn per_second(&self) -> f64 {
        self.count / self.seconds
    }
}

/// One row of the quota table.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    /// `service:Operation`, or `service:*` for every operation of the service together.
    pub key: &'static str,
    /// The rate.
    pub rate: Rate,
}

const fn quota(key: &'static str, count: f64, seconds: f64, burst: f64) -> Quota {
    Quota { key, rate: Rate::every(count, seconds, burst) }
}

/// The documented quotas. AWS gives no burst for a "1 request every N seconds" quota: those
/// buckets hold one token.
pub const QUOTAS: &[Quota] = &[
    // API Gateway developer guide, "Amazon API Gateway quotas", table "API Gateway quotas for
    // creating, deploying and managing an API" (per account, per Region; not adjustable):
    // https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
    // "Total operations: 10 requests per second with a burst limit of 40 requests".
    quota("apigateway:*", 10.0, 1.0, 40.0),
    // "CreateRestApi (regional or private API): 1 request every 3 seconds" (edge-optimized:
    // every 30 s; pinfra makes regional APIs). ImportRestApi counts as CreateRestApi.
    quota("apigateway:CreateRestApi", 1.0, 3.0, 1.0),
    quota("apigateway:ImportRestApi", 1.0, 3.0, 1.0),
    // "PutRestApi: 1 request per second".
    quota("apigateway:PutRestApi", 1.0, 1.0, 1.0),
    // "CreateDeployment: 1 request every 5 seconds".
    quota("apigateway:CreateDeployment", 1.0, 5.0, 1.0),
    // "DeleteRestApi: 1 request every 30 seconds".
    quota("apigateway:DeleteRestApi", 1.0, 30.0, 1.0),
    // "CreateResource: 5 requests per second", "DeleteResource: 5 requests per second".
    quota("apigateway:CreateResource", 5.0, 1.0, 5.0),
    quota("apigateway:DeleteResource", 5.0, 1.0, 5.0),
    // "CreateApiKey: 5 requests per second".
    quota("apigateway:CreateApiKey", 5.0, 1.0, 5.0),
    // "GetResources: 5 requests every 2 seconds".
    quota("apigateway:GetResources", 5.0, 2.0, 5.0),
    // "UpdateUsagePlan: 1 request every 20 seconds".
    quota("apigateway:UpdateUsagePlan", 1.0, 20.0, 1.0),
    // Amazon EC2 API reference, "Request throttling for the Amazon EC2 API", tables "Request
    // token bucket sizes and refill rates" (per account, per Region, per action; a bucket of
    // its own for each action): https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html
    // Actions without a row of their own take their category's (see `ec2_category`).
    // "RunInstances: bucket 5, refill 2 per second".
    quota("ec2:RunInstances", 2.0, 1.0, 5.0),
    // "TerminateInstances: bucket 100, refill 5 per second".
    quota("ec2:TerminateInstances", 5.0, 1.0, 100.0),
    // "AssociateIamInstanceProfile: 100, 5"; "CreateTags: 100, 10".
    quota("ec2:AssociateIamInstanceProfile", 5.0, 1.0, 100.0),
    quota("ec2:CreateTags", 10.0, 1.0, 100.0),
    // IAM, Amazon MSK, MSK Connect and S3 bucket operations: AWS documents no request rate
    // ("IAM and AWS STS quotas", "Amazon MSK quota", "MSK Connect quotas", "Amazon S3 quotas").
    // Their throttling errors (IAM `Throttling`, MSK's `TooManyRequestsException`, S3
    // `SlowDown`) are retried by the SDK, with backoff.
];

/// EC2's category of an action without a row of its own: "Non-mutating actions" (Describe*,
/// List*, Get*) bucket 100, refill 20 per second; "Mutating actions" bucket 50, refill 5.
fn ec2_category(operation: &str) -> Rate {
    if ["Describe", "List", "Get"].iter().any(|p| operation.starts_with(p)) {
        Rate::every(20.0, 1.0, 100.0)
    } else {
        Rate::every(5.0, 1.0, 50.0)
    }
}

/// The SDK's name of a service (`Metadata::service`) as pinfra names it in keys (`apigateway`).
fn service_key(service: &str) -> String {
    service.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase()
}

/// Why a `--rate` does not parse.
#[derive(Debug, thiserror::Error)]
#[error("`--rate {given}`: {why}")]
pub struct RateError {
    given: String,
    why: String,
}

impl RateError {
    /// What to write instead.
    pub fn hint(&self) -> String {
        "write SERVICE:OPERATION=COUNT/SECONDS, such as `apigateway:CreateRestApi=1/1` (or `=off`); `apigateway:*` is the service-wide bucket".to_owned()
    }
}

/// Parses `KEY=COUNT/SECONDS` or `KEY=off`.
pub fn parse_override(text: &str) -> Result<(String, Option<Rate>), RateError> {
    let error = |why: &str| RateError { given: text.to_owned(), why: why.to_owned() };
    let (key, value) = text.split_once('=').ok_or_else(|| error("no `=`"))?;
    let key = key.trim();
    let (service, operation) = key.split_once(':').ok_or_else(|| error("the key has no `service:`"))?;
    if service.is_empty() || operation.is_empty() {
        return Err(error("the key needs a service and an operation"));
    }
    let value = value.trim();
    if value == "off" {
        return Ok((key.to_owned(), None));
    }
    let (count, seconds) = value.split_once('/').unwrap_or((value, "1"));
    let number = |s: &str| s.trim().trim_end_matches('s').parse::<f64>().ok().filter(|n| n.is_finite() && *n > 0.0);
    let (Some(count), Some(seconds)) = (number(count), number(seconds)) else {
        return Err(error("the rate must be COUNT/SECONDS, both above zero"));
    };
    Ok((key.to_owned(), Some(Rate::every(count, seconds, count.max(1.0)))))
}

/// The rates in force: the table, the overrides, and the scale.
#[derive(Debug, Clone)]
pub struct Rates {
    table: HashMap<String, Option<Rate>>,
    scale: f64,
}

impl Rates {
    /// The documented table, with `overrides` (from `--rate`) and every rate times `scale`.
    pub fn new(overrides: &[(String, Option<Rate>)], scale: f64) -> Self {
        let mut table: HashMap<String, Option<Rate>> = QUOTAS.iter().map(|q| (q.key.to_owned(), Some(q.rate))).collect();
        for (key, rate) in overrides {
            table.insert(key.clone(), *rate);
        }
        Self { table, scale: if scale.is_finite() && scale > 0.0 { scale } else { 1.0 } }
    }

    /// The buckets a call of `service`'s `operation` takes a token from, by key.
    pub fn for_call(&self, service: &str, operation: &str) -> Vec<(String, Rate)> {
        let service = service_key(service);
        let own = format!("{service}:{operation}");
        let mut buckets = Vec::new();
        match self.table.get(&own) {
            Some(Some(rate)) => buckets.push((own, *rate)),
            Some(None) => {}
            None if service == "ec2" => buckets.push((own, ec2_category(operation))),
            None => {}
        }
        let whole = format!("{service}:*");
        if let Some(Some(rate)) = self.table.get(&whole) {
            buckets.push((whole, *rate));
        }
        buckets.into_iter().map(|(k, r)| (k, Rate { count: r.count * self.scale, ..r })).collect()
    }

    /// The least time `calls` calls of each key take under these rates, from full buckets: the
    /// bound a fleet's wall time is compared with.
    pub fn bound(&self, calls: &HashMap<(String, String), usize>) -> Duration {
        let mut per_bucket: HashMap<String, (Rate, usize)> = HashMap::new();
        for ((service, operation), n) in calls {
            for (key, rate) in self.for_call(service, operation) {
                per_bucket.entry(key).or_insert((rate, 0)).1 += n;
            }
        }
        let worst = per_bucket.values().map(|(rate, n)| ((*n as f64 - rate.burst).max(0.0)) / rate.per_second()).fold(0.0_f64, f64::max);
        Duration::from_secs_f64(worst)
    }
}

/// A token bucket.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The run's buckets, shared by every client and environment.
#[derive(Debug)]
pub struct Pacer {
    rates: Rates,
    region: String,
    buckets: Mutex<HashMap<String, Bucket>>,
    waited: Mutex<Duration>,
    /// Requests in flight to the Region, for the whole run ([`IN_FLIGHT`]).
    in_flight: tokio::sync::Semaphore,
    /// When the last call of each one-token bucket may be, or was, sent ([`Pacer::space`]).
    sent: Mutex<HashMap<String, Instant>>,
}

/// A call of a one-token bucket ("1 request every N seconds") goes at least this share of its
/// interval after the one before it, beyond the interval itself: AWS's bucket and pinfra's do
/// not start their clocks together, and two calls exactly one interval apart when they leave
/// may be less than one apart when they arrive.
const SPACING_MARGIN: f64 = 0.02;

/// And at least this much, for the time between leaving the pacer and reaching AWS (the
/// in-flight slot, the connection): small against AWS's seconds, not against a sandbox's scaled
/// time.
const SPACING_FLOOR: Duration = Duration::from_millis(10);

/// At most this many requests in flight to one Region, for the whole run. A fleet reads every
/// environment at once, up to 32 reads each: 100 environments sent 3,200 requests together, and
/// the last answers came after the 60 s read timeout. A request waits for its slot, like its
/// tokens, before the HTTP client's timeouts start.
pub const IN_FLIGHT: usize = 64;

impl Pacer {
    /// A pacer for calls to `region`.
    pub fn new(rates: Rates, region: &str) -> Arc<Self> {
        Arc::new(Self {
            rates,
            region: region.to_owned(),
            buckets: Mutex::new(HashMap::new()),
            waited: Mutex::new(Duration::ZERO),
            in_flight: tokio::sync::Semaphore::new(IN_FLIGHT),
            sent: Mutex::new(HashMap::new()),
        })
    }

    /// How long calls waited for tokens, all together.
    pub fn waited(&self) -> Duration {
        *self.waited.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for the call's turn and takes its tokens; `on_wait` hears how long the turn is
    /// when the call must wait for it.
    ///
    /// The operation's own bucket is a line: each call takes its token at once, into debt when
    /// the bucket is empty, and waits for the time the debt takes to refill. Calls go in the
    /// order they came, and a call knows at once when it will go (the ETA a fleet shows). A
    /// service-wide bucket is only checked once that turn has come, so calls queued for a slow
    /// operation do not hold the service's fast tokens while they wait.
    pub async fn wait(&self, service: &str, operation: &str, on_wait: impl FnOnce(Duration)) {
        let buckets = self.rates.for_call(service, operation);
        if buckets.is_empty() {
            return;
        }
        let (shared, own): (Vec<_>, Vec<_>) = buckets.into_iter().partition(|(key, _)| key.ends_with(":*"));
        let turn = self.reserve(&own);
        if !turn.is_zero() {
            on_wait(turn);
            tracing::debug!("pacing {service}:{operation} in {}: its turn in {:.2}s", self.region, turn.as_secs_f64());
            *self.waited.lock().unwrap_or_else(PoisonError::into_inner) += turn;
            tokio::time::sleep(turn).await;
        }
        loop {
            let wait = self.try_take(&shared);
            if wait.is_zero() {
                return;
            }
            tracing::debug!("pacing {service}:{operation} in {}: {:.2}s", self.region, wait.as_secs_f64());
            *self.waited.lock().unwrap_or_else(PoisonError::into_inner) += wait;
            tokio::time::sleep(wait).await;
        }
    }

    /// Holds a call of a one-token bucket until a whole interval (and a margin) has passed since
    /// the one before it was sent, as close to the send as the pacer gets: after its turn and its
    /// in-flight slot. A call whose turn came late would otherwise leave its follower, on time,
    /// less than an interval behind it, and AWS would throttle the follower.
    async fn space(&self, service: &str, operation: &str) {
        let now = Instant::now();
        let mut latest = now;
        {
            let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
            for (key, rate) in self.rates.for_call(service, operation) {
                if rate.burst > 1.0 {
                    continue;
                }
                let interval = Duration::from_secs_f64(1.0 / rate.per_second());
                let gap = interval + interval.mul_f64(SPACING_MARGIN).max(SPACING_FLOOR);
                let at = sent.get(&key).map_or(now, |last| (*last + gap).max(now));
                sent.insert(key, at);
                latest = latest.max(at);
            }
        }
        if latest > now {
            tracing::debug!("pacing {service}:{operation} in {}: spaced {:.3}s", self.region, (latest - now).as_secs_f64());
            tokio::time::sleep_until(latest).await;
        }
    }

    /// The bucket as of now: refilled for the time since it was last touched.
    fn refill<'a>(all: &'a mut HashMap<String, Bucket>, key: &str, rate: &Rate, now: Instant) -> &'a mut Bucket {
        let bucket = all.entry(key.to_owned()).or_insert(Bucket { tokens: rate.burst, at: now });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * rate.per_second()).min(rate.burst);
        bucket.at = now;
        bucket
    }

    /// Takes a token from each bucket now, into debt if need be, and says how long until the
    /// buckets have refilled what was taken: the call's turn.
    fn reserve(&self, buckets: &[(String, Rate)]) -> Duration {
        let now = Instant::now();
        let mut all = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let mut turn = 0.0_f64;
        for (key, rate) in buckets {
            let bucket = Self::refill(&mut all, key, rate, now);
            bucket.tokens -= 1.0;
            if bucket.tokens < 0.0 {
                turn = turn.max(-bucket.tokens / rate.per_second());
            }
        }
        Duration::from_secs_f64(turn)
    }

    /// Takes a token from each bucket if all have one (zero), else says how long until they do.
    fn try_take(&self, buckets: &[(String, Rate)]) -> Duration {
        let now = Instant::now();
        let mut all = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let mut wait = 0.0_f64;
        for (key, rate) in buckets {
            let bucket = Self::refill(&mut all, key, rate, now);
            if bucket.tokens < 1.0 {
                wait = wait.max((1.0 - bucket.tokens) / rate.per_second());
            }
        }
        if wait > 0.0 {
            return Duration::from_secs_f64(wait);
        }
        for (key, _) in buckets {
            if let Some(bucket) = all.get_mut(key) {
                bucket.tokens -= 1.0;
            }
        }
        Duration::ZERO
    }
}

/// Who hears of a paced call's wait: set by a fleet for each environment's run, so that its
/// line can say which quota it waits on and when its turn comes.
pub type WaitReport = Arc<dyn Fn(&str, Duration) + Send + Sync>;

tokio::task_local! {
    static REPORT: WaitReport;
}

/// Runs `future` with `report` hearing of every wait of its paced calls: the operation and the
/// time until its turn.
pub async fn reporting_waits<F: std::future::Future>(report: WaitReport, future: F) -> F::Output {
    REPORT.scope(report, future).await
}

/// The operation of a request, put on it by [`OperationTag`] for [`PacedHttpClient`].
#[derive(Debug, Clone)]
struct Operation {
    service: String,
    name: String,
}

/// Marks every request with its service and operation, just before it is sent.
#[derive(Debug, Default)]
pub struct OperationTag;

impl Intercept for OperationTag {
    fn name(&self) -> &'static str {
        "pinfra::OperationTag"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(metadata) = cfg.load::<Metadata>() {
            let operation = Operation { service: metadata.service().to_owned(), name: metadata.name().to_owned() };
            context.request_mut().add_extension(operation);
        }
        Ok(())
    }
}

/// An HTTP client that waits for the pacer's tokens before each request it sends.
#[derive(Clone)]
pub struct PacedHttpClient {
    inner: SharedHttpClient,
    pacer: Arc<Pacer>,
}

impl fmt::Debug for PacedHttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacedHttpClient").field("pacer", &self.pacer).finish_non_exhaustive()
    }
}

impl PacedHttpClient {
    /// Wraps `inner`.
    pub fn new(inner: SharedHttpClient, pacer: Arc<Pacer>) -> Self {
        Self { inner, pacer }
    }
}

impl HttpClient for PacedHttpClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(PacedConnector { inner: self.inner.http_connector(settings, components), pacer: Arc::clone(&self.pacer) })
    }
}

#[derive(Debug)]
struct PacedConnector {
    inner: SharedHttpConnector,
    pacer: Arc<Pacer>,
}

impl HttpConnector for PacedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let pacer = Arc::clone(&self.pacer);
        HttpConnectorFuture::new(async move {
            if let Some(operation) = request.extension::<Operation>().cloned() {
                let report = |turn| {
                    let _ = REPORT.try_with(|report| report(&operation.name, turn));
                };
                pacer.wait(&operation.service, &operation.name, report).await;
            }
            // The semaphore is never closed, so acquiring fails never; without a slot the request
            // would still go.
            let _slot = pacer.in_flight.acquire().await.ok();
            if let Some(operation) = request.extension::<Operation>() {
                pacer.space(&operation.service, &operation.name).await;
            }
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_takes_its_operations_bucket_and_its_services() {
        let rates = Rates::new(&[], 1.0);
        let keys = |service, op| rates.for_call(service, op).into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(keys("API Gateway", "CreateRestApi"), ["apigateway:CreateRestApi", "apigateway:*"]);
        assert_eq!(keys("API Gateway", "GetRestApis"), ["apigateway:*"]);
        // Every EC2 action has its own bucket, of its category when the table has no row.
        assert_eq!(rates.for_call("EC2", "DescribeVpcs"), [("ec2:DescribeVpcs".to_owned(), Rate::every(20.0, 1.0, 100.0))]);
        assert_eq!(rates.for_call("EC2", "CreateVpcEndpoint"), [("ec2:CreateVpcEndpoint".to_owned(), Rate::every(5.0, 1.0, 50.0))]);
        assert!(keys("IAM", "CreateRole").is_empty(), "IAM documents no rate");
    }

    #[test]
    fn overrides_and_the_scale_change_the_rates() {
        let overrides = [parse_override("apigateway:CreateRestApi=2/1").unwrap(), parse_override("apigateway:*=off").unwrap()];
        let rates = Rates::new(&overrides, 10.0);
        assert_eq!(rates.for_call("API Gateway", "CreateRestApi"), [("apigateway:CreateRestApi".to_owned(), Rate::every(20.0, 1.0, 2.0))]);
        for bad in ["apigateway:CreateRestApi", "CreateRestApi=1/1", "apigateway:X=0/1", "apigateway:X=a/b"] {
            assert!(parse_override(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_bound_is_the_slowest_bucket_after_its_burst() {
        let rates = Rates::new(&[], 1.0);
        let calls = HashMap::from([
            (("API Gateway".to_owned(), "CreateRestApi".to_owned()), 50),
            (("API Gateway".to_owned(), "CreateDeployment".to_owned()), 50),
        ]);
        // 50 deployments, one every 5 s after the first: 245 s; the rest is quicker.
        assert_eq!(rates.bound(&calls), Duration::from_secs(245));
    }

    #[tokio::test(start_paused = true)]
    async fn a_bucket_paces_calls_at_its_rate_after_its_burst() {
        let pacer = Pacer::new(Rates::new(&[], 1.0), "us-east-1");
        let start = tokio::time::Instant::now();
        for _ in 0..3 {
            pacer.wait("API Gateway", "CreateDeployment", |_| {}).await;
        }
        // One token, then one every 5 s.
        assert_eq!(start.elapsed().as_secs(), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn calls_wait_in_line_and_know_their_turn_when_they_join_it() {
        let pacer = Pacer::new(Rates::new(&[], 1.0), "us-east-1");
        let turns = Mutex::new(Vec::new());
        let start = tokio::time::Instant::now();
        let call = |i: u64| {
            let (pacer, turns) = (&pacer, &turns);
            async move {
                pacer.wait("API Gateway", "CreateDeployment", |turn| turns.lock().unwrap().push((i, turn.as_secs()))).await;
                (i, start.elapsed().as_secs())
            }
        };
        let went = futures::future::join_all((0..4).map(call)).await;
        // The first goes at once; the others learn their turn as they join the line, and go then.
        assert_eq!(went, [(0, 0), (1, 5), (2, 10), (3, 15)]);
        assert_eq!(*turns.lock().unwrap(), [(1, 5), (2, 10), (3, 15)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_line_for_one_operation_keeps_none_of_the_services_tokens() {
        let pacer = Pacer::new(Rates::new(&[], 1.0), "us-east-1");
        let start = tokio::time::Instant::now();
        let queued = futures::future::join_all((0..60).map(|_| pacer.wait("API Gateway", "CreateDeployment", |_| {})));
        let read = async {
            // After 60 deployments joined the line, 40 reads (the service's burst) still go at once.
            tokio::task::yield_now().await;
            for _ in 0..40 {
                pacer.wait("API Gateway", "GetRestApis", |_| {}).await;
            }
            start.elapsed()
        };
        let (_, read) = tokio::join!(queued, read);
        assert!(read < Duration::from_secs(1), "{read:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_call_pushes_its_follower_back_to_a_whole_interval() {
        let pacer = Pacer::new(Rates::new(&[], 1.0), "us-east-1");
        let start = tokio::time::Instant::now();
        // The first deployment left its turn (0 s) late, at 4 s; the second's turn is 5 s.
        tokio::time::sleep(Duration::from_secs(4)).await;
        pacer.space("API Gateway", "CreateDeployment").await;
        pacer.space("API Gateway", "CreateDeployment").await;
        // It goes one interval and the margin (2 % of 5 s) after the first: 9.1 s, not 5 s.
        assert_eq!(start.elapsed(), Duration::from_millis(9100));
        // A bucket with a burst is not spaced: GetResources, 5 every 2 s.
        let before = tokio::time::Instant::now();
        for _ in 0..5 {
            pacer.space("API Gateway", "GetResources").await;
        }
        assert_eq!(before.elapsed(), Duration::ZERO);
    }
}
