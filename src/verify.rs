//! `pinfra verify`: proves the data path end to end, the way the seed's posting emulator used it.
//!
//! For each topic: one record (or `flush.size` records, so that the sink writes an object) is
//! POSTed through the API's invoke URL in the Kafka REST Proxy v2 JSON format; then the bucket is
//! polled until an object holding it appears under the sink's `topics/<topic>/partition=<p>/`.
//! Each hop is reported on its own, and a failure names the hop and what to check:
//!
//! 1. `api`: API Gateway answered (and has a route for `/topics/...`);
//! 2. `proxy`: the Kafka REST proxy behind it accepted the record (partition, offset);
//! 3. `sink`: the S3 sink connector wrote it to the bucket.

use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use crate::aws::{Aws, Classify};

/// What `verify` needs to know about the pipeline.
#[derive(Clone)]
pub struct Target {
    /// The API's invoke URL (with the stage).
    pub invoke_url: String,
    /// The sink's bucket.
    pub bucket: String,
    /// The sink's `topics.dir` (default `topics`).
    pub topics_dir: String,
    /// The sink's `flush.size`: records per object.
    pub flush_size: u32,
    /// The sink's `topics.regex`, for the hint when a topic is not read.
    pub topics_regex: Option<String>,
    /// The REST proxy's port, for hints.
    pub proxy_port: u16,
    /// The API key to send as `x-api-key`, when the method requires one. A secret.
    pub api_key: Option<String>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("invoke_url", &self.invoke_url)
            .field("bucket", &self.bucket)
            .field("flush_size", &self.flush_size)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// How long to wait for the sink, and how often to look.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    /// Give up on the sink after this long.
    pub timeout: Duration,
    /// When to look again: soon at first, then a fifth of the time waited (`Pace::Seconds`), as
    /// every other wait of pinfra's. The timeout is `timeout`'s, not `poll`'s.
    pub poll: crate::retry::Poll,
}

/// One hop of the data path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hop {
    /// API Gateway.
    Api,
    /// The Kafka REST proxy on the EC2 client.
    Proxy,
    /// The S3 sink connector.
    Sink,
}

impl Hop {
    /// The network paths a failure of this hop may come from.
    pub fn paths(self) -> &'static [crate::network::Path] {
        use crate::network::Path;
        match self {
            Hop::Api => &[Path::ApiToProxy, Path::ClientToInternet],
            Hop::Proxy => &[Path::ClientToBrokers],
            Hop::Sink => &[Path::ConnectorToBrokers, Path::ConnectorToS3],
        }
    }

    /// The hop's name as printed.
    pub fn name(self) -> &'static str {
        match self {
            Hop::Api => "api",
            Hop::Proxy => "proxy",
            Hop::Sink => "sink",
        }
    }
}

/// What one hop showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HopResult {
    /// Which hop.
    pub hop: Hop,
    /// Whether it worked; `None`: not reached, because an earlier hop failed.
    pub ok: Option<bool>,
    /// What was seen.
    pub detail: String,
    /// What to check, for a failure.
    pub hint: Option<String>,
}

/// The hops of one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicReport {
    /// The topic.
    pub topic: String,
    /// Api, proxy, sink, in that order.
    pub hops: Vec<HopResult>,
}

impl TopicReport {
    /// Whether every hop worked.
    pub fn passed(&self) -> bool {
        self.hops.iter().all(|h| h.ok == Some(true))
    }
}

fn ok(hop: Hop, detail: String) -> HopResult {
    HopResult { hop, ok: Some(true), detail, hint: None }
}

fn failed(hop: Hop, detail: String, hint: String) -> HopResult {
    HopResult { hop, ok: Some(false), detail, hint: Some(hint) }
}

fn not_reached(hop: Hop) -> HopResult {
    HopResult { hop, ok: None, detail: "not reached".into(), hint: None }
}

/// An HTTP answer: status and body.
struct Answer {
    status: u16,
    body: String,
    elapsed: Duration,
}

/// POSTs `body` to `url` on a worker thread (ureq is blocking). `Err`: no answer at all.
async fn post(url: String, body: String, api_key: Option<String>) -> Result<Answer, String> {
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent =
            ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(40))).http_status_as_error(false).build().into();
        let started = Instant::now();
        let mut request = agent
            .post(&url)
            .header("Content-Type", "application/vnd.kafka.json.v2+json")
            .header("Accept", "application/vnd.kafka.v2+json, application/json");
        if let Some(key) = &api_key {
            request = request.header("x-api-key", key);
        }
        let mut response = request.send(body.as_bytes()).map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response.body_mut().with_config().limit(1 << 20).read_to_string().unwrap_or_default();
        Ok(Answer { status, body, elapsed: started.elapsed() })
    })
    .await
    .map_err(|e| e.to_string())?
}

/// The marker that identifies this run's record for `topic`.
pub fn marker(topic: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("pinfra-verify-{nanos:x}-{topic}")
}

/// The produce request: `count` records, all with the marker as key (one partition).
fn produce_body(marker: &str, topic: &str, count: u32) -> String {
    let records: Vec<Json> = (0..count)
        .map(|n| json!({"key": marker, "value": {"pinfra_verify": marker, "topic": topic, "n": n, "note": "test record from pinfra verify"}}))
        .collect();
    json!({ "records": records }).to_string()
}

/// Classifies what API Gateway and the proxy answered: the api and proxy hops, and the
/// partition and offset of the first record when it was accepted.
fn judge_answer(target: &Target, topic: &str, url: &str, answer: Result<Answer, String>) -> (HopResult, HopResult, Option<(i64, i64)>) {
    let answer = match answer {
        Ok(answer) => answer,
        Err(error) => {
            return (
                failed(
                    Hop::Api,
                    format!("POST {url}: no answer: {error}"),
                    "check the invoke URL (`pinfra output`: invoke_url) and the network".into(),
                ),
                not_reached(Hop::Proxy),
                None,
            );
        }
    };
    let message = serde_json::from_str::<Json>(&answer.body).ok();
    let gateway_message = message.as_ref().and_then(|m| m["message"].as_str()).unwrap_or_default().to_owned();
    let took = format!("HTTP {} ({} ms)", answer.status, answer.elapsed.as_millis());
    match answer.status {
        403 if gateway_message.contains("Missing Authentication Token") => (
            failed(
                Hop::Api,
                format!("POST {url}: {took}: the API has no route for /topics/{topic}"),
                "run `pinfra apply`: the stage serves its last deployment, which lacks the {proxy+} route".into(),
            ),
            not_reached(Hop::Proxy),
            None,
        ),
        // The REST proxy's own refusal, passed through: Kafka (MSK IAM) refused the role.
        401 | 403 if message.as_ref().is_some_and(|m| m.get("offsets").is_some() || m.get("error_code").is_some()) => {
            let body = message.unwrap_or(Json::Null);
            let first = body["offsets"].as_array().and_then(|o| o.first()).cloned().unwrap_or(Json::Null);
            let (code, text) = match first["error_code"].as_i64() {
                Some(code) => (code, first["error"].as_str().unwrap_or("(no error text)").to_owned()),
                None => (body["error_code"].as_i64().unwrap_or_default(), body["message"].as_str().unwrap_or("(no error text)").to_owned()),
            };
            (
                ok(Hop::Api, format!("POST {url}: {took}")),
                failed(
                    Hop::Proxy,
                    format!("Kafka refused the REST proxy's role: {code} {text}"),
                    "the instance's role must grant kafka-cluster:Connect and WriteDataIdempotently on the cluster and DescribeTopic and WriteData on the topic (`pinfra validate` checks pinfra's policy)".into(),
                ),
                None,
            )
        }
        403 => (
            failed(
                Hop::Api,
                format!("POST {url}: {took}: {gateway_message}"),
                "API Gateway refused the call: check `api_key_required` and the stage name".into(),
            ),
            not_reached(Hop::Proxy),
            None,
        ),
        429 => (
            failed(Hop::Api, format!("POST {url}: {took}: throttled"), "the stage's throttling limits were hit; try again".into()),
            not_reached(Hop::Proxy),
            None,
        ),
        500 | 502 | 503 | 504 if !gateway_message.is_empty() => (
            ok(Hop::Api, format!("POST {url}: {took}")),
            failed(
                Hop::Proxy,
                format!("API Gateway got no answer from the REST proxy: {gateway_message}"),
                format!(
                    "check that the Kafka client instance is running, that the REST proxy runs on it (`sudo systemctl status kafka-rest`, log /var/log/pinfra-user-data.log), and that its security group lets port {} in",
                    target.proxy_port
                ),
            ),
            None,
        ),
        200 => {
            let first = message.as_ref().and_then(|m| m["offsets"].as_array()).and_then(|o| o.first()).cloned().unwrap_or(Json::Null);
            match (first["partition"].as_i64(), first["offset"].as_i64()) {
                (Some(partition), Some(offset)) if first["error_code"].is_null() => (
                    ok(Hop::Api, format!("POST {url}: {took}")),
                    ok(Hop::Proxy, format!("accepted at partition {partition}, offset {offset}")),
                    Some((partition, offset)),
                ),
                _ => (
                    ok(Hop::Api, format!("POST {url}: {took}")),
                    failed(
                        Hop::Proxy,
                        format!(
                            "the REST proxy could not write to Kafka: {} {}",
                            first["error_code"],
                            first["error"].as_str().unwrap_or("(no error text)")
                        ),
                        format!(
                            "check that topic {topic} exists (`pinfra diff`) and the proxy's IAM settings in kafka-rest.properties (`pinfra render`)"
                        ),
                    ),
                    None,
                ),
            }
        }
        status => (
            ok(Hop::Api, format!("POST {url}: {took}")),
            failed(
                Hop::Proxy,
                format!("the REST proxy answered HTTP {status}: {}", answer.body.chars().take(300).collect::<String>()),
                "check the REST proxy's log on the instance".into(),
            ),
            None,
        ),
    }
}

/// The start offset in a sink object's name (`<topic>+<partition>+<start>.json`).
fn start_offset(key: &str) -> Option<i64> {
    key.rsplit('/').next()?.strip_suffix(".json")?.rsplit('+').next()?.parse().ok()
}

/// Polls the bucket until an object holding the marker appears.
async fn wait_for_object(aws: &Aws, target: &Target, topic: &str, partition: i64, offset: i64, marker: &str, wait: Wait) -> HopResult {
    let prefix = format!("{}/{topic}/partition={partition}/", target.topics_dir);
    let started = Instant::now();
    let mut checked: Vec<String> = Vec::new();
    loop {
        // Object names carry zero-padded start offsets, so they sort by offset: start after the
        // last object that cannot hold this record (a listing stops at 1000 keys).
        let earliest = (offset - i64::from(target.flush_size)).max(-1);
        let mut list = aws.s3.list_objects_v2().bucket(&target.bucket).prefix(&prefix);
        if earliest >= 0 {
            list = list.start_after(format!("{prefix}{topic}+{partition}+{earliest:010}.json"));
        }
        let listing = list.send().await.or_aws("s3:ListObjectsV2");
        match listing {
            Ok(listing) => {
                for key in listing.contents().iter().filter_map(|o| o.key()) {
                    // Only objects that can hold the record: those starting at or before its offset.
                    if checked.iter().any(|c| c == key) || start_offset(key).is_some_and(|start| start > offset) {
                        continue;
                    }
                    checked.push(key.to_owned());
                    let body = match aws.s3.get_object().bucket(&target.bucket).key(key).send().await.or_aws("s3:GetObject") {
                        Ok(object) => object.body.collect().await.map(|b| b.into_bytes().to_vec()).unwrap_or_default(),
                        Err(_) => continue,
                    };
                    if String::from_utf8_lossy(&body).contains(marker) {
                        return ok(Hop::Sink, format!("s3://{}/{key} ({:.1} s)", target.bucket, started.elapsed().as_secs_f64()));
                    }
                }
            }
            Err(error) => {
                return failed(
                    Hop::Sink,
                    format!("cannot list s3://{}/{prefix}: {error}", target.bucket),
                    "check the bucket and your S3 permissions".into(),
                );
            }
        }
        if started.elapsed() >= wait.timeout {
            let matches =
                target.topics_regex.as_deref().map(|r| crate::plan::connect::topics_matching(r, [topic]).is_ok_and(|m| !m.is_empty()));
            let hint = match (&target.topics_regex, matches) {
                (Some(regex), Some(false)) => {
                    format!("the connector's topics.regex `{regex}` does not match `{topic}`: the sink does not read this topic")
                }
                _ => "check that the connector is RUNNING (`pinfra output`: connector_state) and read its worker logs".to_owned(),
            };
            return failed(
                Hop::Sink,
                format!("no object with the record under s3://{}/{prefix} after {} s", target.bucket, wait.timeout.as_secs()),
                hint,
            );
        }
        tokio::time::sleep(wait.poll.interval(crate::retry::Pace::Seconds, started.elapsed())).await;
    }
}

/// Sends the record(s) for `topic` and follows them through every hop.
pub async fn verify_topic(aws: &Aws, target: &Target, topic: &str, wait: Wait) -> TopicReport {
    let marker = marker(topic);
    let url = format!("{}/topics/{topic}", target.invoke_url.trim_end_matches('/'));
    let count = target.flush_size.clamp(1, 1000);
    let answer = post(url.clone(), produce_body(&marker, topic, count), target.api_key.clone()).await;
    let (api, proxy, accepted) = judge_answer(target, topic, &url, answer);
    let sink = match accepted {
        Some((partition, offset)) if target.flush_size <= 1000 => {
            wait_for_object(aws, target, topic, partition, offset, &marker, wait).await
        }
        Some(_) => failed(
            Hop::Sink,
            format!("flush.size is {}: verify would have to send that many records to see an object", target.flush_size),
            "check the sink another way, or verify an environment with a smaller flush.size".into(),
        ),
        None => not_reached(Hop::Sink),
    };
    TopicReport { topic: topic.to_owned(), hops: vec![api, proxy, sink] }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            invoke_url: "https://x".into(),
            bucket: "b".into(),
            topics_dir: "topics".into(),
            flush_size: 1,
            topics_regex: Some("u\\..*".into()),
            proxy_port: 8082,
            api_key: None,
        }
    }

    fn answer(status: u16, body: &str) -> Result<Answer, String> {
        Ok(Answer { status, body: body.into(), elapsed: Duration::from_millis(5) })
    }

    fn oks(result: &(HopResult, HopResult, Option<(i64, i64)>)) -> (Option<bool>, Option<bool>) {
        (result.0.ok, result.1.ok)
    }

    #[test]
    fn each_answer_names_its_hop() {
        let t = target();
        let accepted =
            judge_answer(&t, "u.pin", "u", answer(200, r#"{"offsets":[{"partition":2,"offset":7,"error_code":null,"error":null}]}"#));
        assert_eq!(oks(&accepted), (Some(true), Some(true)));
        assert_eq!(accepted.2, Some((2, 7)));
        let unreachable = judge_answer(&t, "u.pin", "u", answer(504, r#"{"message": "Network error communicating with endpoint"}"#));
        assert_eq!(oks(&unreachable), (Some(true), Some(false)));
        assert!(unreachable.1.hint.as_deref().unwrap().contains("port 8082"));
        let no_route = judge_answer(&t, "u.pin", "u", answer(403, r#"{"message":"Missing Authentication Token"}"#));
        assert_eq!(oks(&no_route), (Some(false), None));
        let kafka = judge_answer(
            &t,
            "u.pin",
            "u",
            answer(200, r#"{"offsets":[{"partition":null,"offset":null,"error_code":50003,"error":"Topic not present"}]}"#),
        );
        assert_eq!(oks(&kafka), (Some(true), Some(false)));
        assert!(kafka.1.detail.contains("50003"));
        let down = judge_answer(&t, "u.pin", "u", Err("connection refused".into()));
        assert_eq!(oks(&down), (Some(false), None));
    }

    #[test]
    fn object_names_give_their_start_offset() {
        assert_eq!(start_offset("topics/u.pin/partition=0/u.pin+0+0000000012.json"), Some(12));
        assert_eq!(start_offset("topics/u.pin/partition=0/other"), None);
    }

    #[test]
    fn records_share_one_key() {
        let body: Json = serde_json::from_str(&produce_body("m", "t", 3)).unwrap();
        let records = body["records"].as_array().unwrap();
        assert_eq!(records.len(), 3);
        assert!(records.iter().all(|r| r["key"] == "m" && r["value"]["pinfra_verify"] == "m"));
    }
}
