//! Logs that are safe to keep: CI keeps them, and people paste them into tickets.
//!
//! `-v` to `-vvv` (and `PINFRA_LOG`) log through [`SafeStderr`], which masks each line before it
//! reaches stderr. The AWS SDK's trace lines (`output_or_error=`, `read HTTP response body`) print
//! whole responses and redact only the members AWS's models mark sensitive; an API key's `value`
//! is not marked. So every line is masked three ways:
//!
//! - the values pinfra knows are secret ([`secrets::remember`]: an API key's value once read, the
//!   credentials in the environment);
//! - on a line of an operation whose answer holds an API key (`CreateApiKey`, `GetApiKeys`,
//!   `CreateUsagePlanKey`...), every `value` member, in the SDK's `Debug` form and in JSON: the
//!   first time a key is made, its value is logged before pinfra can remember it;
//! - whatever looks like a secret ([`secrets::mask`]: access keys, a 40-character secret, a
//!   `token = "..."`).
//!
//! ureq's byte-by-byte trace (a hex dump, 16 bytes to a line: no line holds a whole secret to
//! mask) is never shown. Colour codes go to a terminal only, so a log file holds plain text.

use std::io::{self, Write as _};
use std::sync::LazyLock;

use regex::Regex;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::secrets;

/// Sets up logging on stderr: `verbose` counts `-v`; `ansi` says whether stderr takes colour.
pub fn init(verbose: u8, quiet: bool, ansi: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "pinfra=info,warn",
        (false, 2) => "pinfra=debug,info",
        _ => "trace",
    };
    for name in ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] {
        if let Ok(value) = std::env::var(name) {
            secrets::remember(&value);
        }
    }
    let mut filter = EnvFilter::try_from_env("PINFRA_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // ureq's trace is a hex dump of every byte sent, 16 to an event: a header's value split over
    // two events is masked in neither. Its debug lines name the request, with only the headers
    // it knows are not secret. This directive comes last, so it wins over PINFRA_LOG's.
    if let Ok(directive) = "ureq_proto=debug".parse() {
        filter = filter.add_directive(directive);
    }
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(SafeStderr).with_ansi(ansi).with_target(false).init();
}

/// stderr, one masked log line at a time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SafeStderr;

impl<'a> MakeWriter<'a> for SafeStderr {
    type Writer = MaskedLine;

    fn make_writer(&'a self) -> Self::Writer {
        MaskedLine(Vec::new())
    }
}

/// One log event: gathered while it is written, masked and sent to stderr when dropped (the
/// formatter writes each event through a writer of its own).
#[derive(Debug)]
pub struct MaskedLine(Vec<u8>);

impl io::Write for MaskedLine {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for MaskedLine {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let text = mask_line(&String::from_utf8_lossy(&self.0));
        // A log line that cannot be written is dropped: logging never ends a command.
        let _ = io::stderr().lock().write_all(text.as_bytes());
    }
}

/// An operation whose answer (or request) holds an API key's value.
static KEY_OPERATION: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\b(?:Create|Get|Update|Import)(?:ApiKeys?|UsagePlanKeys?)\b").ok());

/// A `value` member's string: `value: Some("...")` (the SDK's `Debug`) or `"value": "..."` (JSON).
static VALUE_MEMBER: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r#"(value: Some\(|"value"\s*:\s*)"((?:[^"\\]|\\.)*)""#).ok());

/// `line` with every secret masked; see the module's header.
pub fn mask_line(line: &str) -> String {
    let mut text = secrets::mask_known(line);
    if KEY_OPERATION.as_ref().is_some_and(|r| r.is_match(&text))
        && let Some(value) = VALUE_MEMBER.as_ref()
    {
        text = value.replace_all(&text, |caps: &regex::Captures<'_>| format!("{}\"{}\"", &caps[1], secrets::MASK)).into_owned();
    }
    secrets::mask(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_keys_value_is_masked_in_the_sdks_trace_lines() {
        let output = r#"TRACE API Gateway.CreateApiKey{rpc.service="API Gateway" rpc.method="CreateApiKey"}:try_op: output_or_error=Ok(Output(CreateApiKeyOutput { id: Some("uu7jy2w5qw"), value: Some("7CZuBXKHqJePlN0Mns2ADUfrkzbG"), name: Some("k") }))"#;
        let shown = mask_line(output);
        assert!(!shown.contains("7CZuBXKHqJePlN0Mns2ADUfrkzbG"), "{shown}");
        assert!(shown.contains(r#"id: Some("uu7jy2w5qw"), value: Some("********"), name: Some("k")"#), "{shown}");
        let body = r#"TRACE API Gateway.GetApiKeys{rpc.method="GetApiKeys"}: read HTTP response body response={"item":[{"id":"a","value" : "s3cr3tK3yValue","name":"k"}]}"#;
        let shown = mask_line(body);
        assert!(!shown.contains("s3cr3tK3yValue") && shown.contains(r#""value" : "********""#), "{shown}");
    }

    #[test]
    fn other_operations_keep_their_values_and_remembered_secrets_go_everywhere() {
        let tag = r#"TRACE S3.GetBucketTagging: output_or_error=Ok(Tag { key: Some("pinfra:plan"), value: Some("pipeline") })"#;
        assert_eq!(mask_line(tag), tag);
        secrets::remember("remembered-api-key-of-a-test");
        let header = "DEBUG ureq: headers: x-api-key: remembered-api-key-of-a-test";
        assert_eq!(mask_line(header), "DEBUG ureq: headers: x-api-key: ********");
    }
}
