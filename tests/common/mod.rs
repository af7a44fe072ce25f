//! Test harness: a private sandbox per test (the pinned moto launcher on a free loopback port)
//! and helpers to run the real `pinfra` binary against it.
//!
//! A test that needs the sandbox starts it; if it cannot, the test fails and says why. Nothing
//! is skipped.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Dummy credentials for the sandbox (moto accepts any).
pub const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
/// Dummy secret; tests check it never appears in output.
pub const SECRET_KEY: &str = "sandbox-secret-do-not-print";

/// One running sandbox, stopped on drop.
pub struct Sandbox {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    _log: tempfile::NamedTempFile,
}

impl Sandbox {
    /// Starts a sandbox on a free port and waits until it answers.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a sandbox with extra launcher arguments (`--latency-ms 20`).
    pub fn start_with(extra: &[&str]) -> Self {
        let python = root().join(".venv/bin/python");
        assert!(
            python.exists(),
            "the sandbox needs its Python venv at {}; run ./scripts/setup-venv (./scripts/test does it for you)",
            python.display()
        );
        // The server logs every request: its stderr goes to a file, never to a pipe nobody
        // reads (a full pipe would stall the server).
        let log = tempfile::NamedTempFile::new().expect("sandbox log file");
        let mut child = Command::new(&python)
            .arg(root().join("scripts/sandbox.py"))
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(log.reopen().expect("reopen log"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the sandbox with {}: {e}", python.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next().and_then(Result::ok).unwrap_or_default());
            // Keep draining, for the same reason as stderr.
            for _ in lines {}
        });
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line.starts_with("http://") => line.trim().to_owned(),
            other => {
                let _ = child.kill();
                let stderr = std::fs::read_to_string(log.path()).unwrap_or_default();
                panic!("the sandbox did not start (got {other:?}); its log:\n{stderr}");
            }
        };
        Sandbox { child, url, _log: log }
    }

    /// A sandbox with the seed's MSK cluster in it.
    pub fn with_cluster(name: &str) -> Self {
        let sandbox = Self::start();
        sandbox.seed_cluster(name, "us-east-1");
        sandbox
    }

    /// Creates an MSK cluster the way a person would (boto3), returning its ARN.
    pub fn seed_cluster(&self, name: &str, region: &str) -> String {
        let out = Command::new(root().join(".venv/bin/python"))
            .arg(root().join("scripts/sandbox_seed.py"))
            .args(["--endpoint", &self.url, "cluster", name, region])
            .output()
            .expect("run sandbox_seed.py");
        assert!(out.status.success(), "seeding the cluster failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().to_owned()
    }

    /// Runs `pinfra` with `args` against this sandbox.
    pub fn pinfra(&self, args: &[&str]) -> Run {
        self.pinfra_with(args, &[])
    }

    /// Starts `pinfra` in the background against this sandbox (stdout and stderr piped).
    pub fn pinfra_spawn(&self, args: &[&str]) -> Child {
        let mut command = pinfra_command(args);
        command.env("AWS_ENDPOINT_URL", &self.url).env("AWS_ACCESS_KEY_ID", ACCESS_KEY).env("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
        command.env("PINFRA_POLL_INTERVAL_MS", "50").stdout(Stdio::piped()).stderr(Stdio::piped());
        command.spawn().expect("spawn pinfra")
    }

    /// Runs `pinfra` with extra environment variables.
    pub fn pinfra_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = pinfra_command(args);
        command.env("AWS_ENDPOINT_URL", &self.url).env("AWS_ACCESS_KEY_ID", ACCESS_KEY).env("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
        // The sandbox's asynchronous states take a few hundred milliseconds; poll often.
        command.env("PINFRA_POLL_INTERVAL_MS", "50");
        for (k, v) in env {
            command.env(k, v);
        }
        Run::from(command.output().expect("run pinfra"))
    }

    /// The AWS calls recorded since the last reset: `(service, operation, mutating)`.
    pub fn calls(&self) -> Vec<(String, String, bool)> {
        let body = self.http("GET", "/_sandbox/calls", None);
        let json: serde_json::Value = serde_json::from_str(&body).expect("calls JSON");
        json["calls"]
            .as_array()
            .expect("calls array")
            .iter()
            .map(|c| {
                let op = c["operation"].as_str().unwrap_or_default().to_owned();
                let query = c["query"].as_str().unwrap_or_default();
                let op = if query.is_empty() { op } else { format!("{op}?{query}") };
                (c["service"].as_str().unwrap_or_default().to_owned(), op, c["mutating"].as_bool().unwrap_or(true))
            })
            .collect()
    }

    /// The access key ids that signed the calls recorded since the last reset, each once, in the
    /// order first seen.
    pub fn access_keys(&self) -> Vec<String> {
        let body = self.http("GET", "/_sandbox/calls", None);
        let json: serde_json::Value = serde_json::from_str(&body).expect("calls JSON");
        let mut keys: Vec<String> = Vec::new();
        for call in json["calls"].as_array().expect("calls array") {
            let key = call["access_key"].as_str().unwrap_or("<unsigned>").to_owned();
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        keys
    }

    /// The mutating calls recorded, as `service:operation`, without the environment lock's own
    /// (taken and released by every apply that changes something).
    pub fn writes(&self) -> Vec<String> {
        self.calls().into_iter().filter(|(_, op, m)| *m && !op.contains("/pinfra-locks-")).map(|(s, o, _)| format!("{s}:{o}")).collect()
    }

    /// Forgets the recorded calls.
    pub fn reset_calls(&self) {
        self.http("POST", "/_sandbox/calls/reset", None);
    }

    /// Makes the next `count` calls matching `service`/`operation` (and `query`, a substring of
    /// the query string) fail with `status`/`code`.
    pub fn arm_fault(&self, service: &str, operation: Option<&str>, query: Option<&str>, status: u16, code: &str, count: u32) {
        let spec =
            serde_json::json!({"service": service, "operation": operation, "query": query, "status": status, "code": code, "count": count});
        self.http("POST", "/_sandbox/faults", Some(&spec.to_string()));
    }

    /// Changes the emulated MSK's timing (`cluster_delay_ms`, `topic_delay_ms`, `stale_ms`, ...).
    pub fn msk_settings(&self, settings: serde_json::Value) {
        self.http("POST", "/_sandbox/msk/settings", Some(&settings.to_string()));
    }

    /// Lets the next `count` matching calls take effect, then answers them with an error (a
    /// lost response: the SDK retries the same request).
    pub fn arm_fault_after(&self, service: &str, operation: &str, status: u16, code: &str, count: u32) {
        let spec =
            serde_json::json!({"service": service, "operation": operation, "status": status, "code": code, "count": count, "after": true});
        self.http("POST", "/_sandbox/faults", Some(&spec.to_string()));
    }

    /// Makes the next connector `operation` (`create` or `update`) fail asynchronously, ending
    /// in `state` with AWS's `code` and `message` (`POST /_sandbox/kafkaconnect/fail-next`).
    pub fn fail_next_connector(&self, operation: &str, state: &str, code: &str, message: &str) {
        let spec = serde_json::json!({"operation": operation, "state": state, "code": code, "message": message});
        self.http("POST", "/_sandbox/kafkaconnect/fail-next", Some(&spec.to_string()));
    }

    /// Any control route of the sandbox (`/_sandbox/...`), answering its body.
    pub fn control(&self, method: &str, path: &str, body: Option<&serde_json::Value>) -> String {
        self.http(method, path, body.map(ToString::to_string).as_deref())
    }

    /// An MSK Connect client for this sandbox.
    pub async fn kafkaconnect(&self) -> aws_sdk_kafkaconnect::Client {
        aws_sdk_kafkaconnect::Client::new(&self.sdk_config("us-east-1").await)
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        self.http("DELETE", "/_sandbox/faults", None);
    }

    fn http(&self, method: &str, path: &str, body: Option<&str>) -> String {
        let address = self.url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).expect("connect to the sandbox");
        let body = body.unwrap_or("");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("write request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read response");
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        assert!(head.starts_with("HTTP/1.1 2") || head.starts_with("HTTP/1.0 2"), "{method} {path}: {head}");
        body.to_owned()
    }

    /// An SDK configuration pointed at this sandbox, for tests that set the stage by hand.
    pub async fn sdk_config(&self, region: &str) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_types::region::Region::new(region.to_owned()))
            .endpoint_url(&self.url)
            .credentials_provider(aws_credential_types::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
            .load()
            .await
    }

    /// An S3 client for this sandbox (path-style).
    pub async fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let config = self.sdk_config(region).await;
        aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build())
    }

    /// An IAM client for this sandbox.
    pub async fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk_config("us-east-1").await)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The plugin zip the shipped plan names (`plans/artifacts/...`, relative to the plan).
pub const SHIPPED_ARTIFACT: &str = "artifacts/confluentinc-kafka-connect-s3-10.0.3.zip";

/// Writes the stand-in plugin zip (`scripts/sandbox_plugin_zip.py`) to `path`, with `args`
/// (`--marker X` for other content, `--variant not-zip` for a broken one).
pub fn write_plugin_zip(path: &Path, args: &[&str]) {
    let out = Command::new(root().join(".venv/bin/python"))
        .arg(root().join("scripts/sandbox_plugin_zip.py"))
        .arg(path)
        .args(args)
        .output()
        .expect("run sandbox_plugin_zip.py (./scripts/setup-venv makes the venv)");
    assert!(out.status.success(), "writing the plugin zip failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Makes sure the zip `plans/pinterest.toml` names exists (git ignores it: the real one comes
/// from Confluent Hub; the stand-in is the same bytes every time, so concurrent tests agree).
pub fn ensure_shipped_artifact() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let path = root().join("plans").join(SHIPPED_ARTIFACT);
        if !path.exists() {
            write_plugin_zip(&path, &[]);
        }
    });
}

/// A `pinfra` command with a clean environment: no AWS variables leak in from the host.
pub fn pinfra_command(args: &[&str]) -> Command {
    ensure_shipped_artifact();
    let mut command = Command::new(env!("CARGO_BIN_EXE_pinfra"));
    command.args(args).current_dir(root()).stdin(Stdio::null());
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") || key == "PINFRA_LOG" || key == "NO_COLOR" {
            command.env_remove(key);
        }
    }
    // Never read the host's shared config or instance metadata.
    command.env("AWS_CONFIG_FILE", "/dev/null").env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null").env("AWS_EC2_METADATA_DISABLED", "true");
    command
}

/// The result of one `pinfra` run.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Self {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts the exit code, showing both streams when it differs.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }
}

/// A copy of `plan` (a path under the repository) in a temp dir, with `edit` applied to its text.
pub fn plan_copy(dir: &Path, plan: &str, edit: impl FnOnce(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(root().join(plan)).expect("read plan");
    let path = dir.join("plan.toml");
    std::fs::write(&path, edit(text)).expect("write plan");
    // The plan names its plugin zip relative to itself: put one beside the copy.
    let zip = dir.join(SHIPPED_ARTIFACT);
    if !zip.exists() {
        write_plugin_zip(&zip, &[]);
    }
    path
}
