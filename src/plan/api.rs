//! The `[api]` section: the API Gateway REST API in front of the Kafka REST proxy, as the seed
//! built it (`{proxy+}`, ANY, HTTP_PROXY), with its stage.

use super::reader::Table;
use super::rules::{self, Invalid};
use super::{Diagnostic, Diagnostics, Variables, name};

/// The `[api]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSpec {
    /// REST API name; default `{user_id}-api`.
    pub name: String,
    /// Stage name; default the environment's name.
    pub stage: String,
    /// Whether callers must send an API key (`x-api-key`): pinfra then manages the key
    /// `<name>-key` and the usage plan `<name>-plan` that admits it to the stage.
    pub api_key_required: bool,
    /// Stage throttling: steady requests per second.
    pub throttle_rate_limit: i32,
    /// Stage throttling: burst.
    pub throttle_burst_limit: i32,
}

pub(super) fn read_api(d: &mut Diagnostics, mut t: Table<'_, '_>, vars: Option<&Variables<'_>>) -> Option<ApiSpec> {
    let given_name = t.string(d, "name");
    let stage = t.string(d, "stage");
    let key = t.bool(d, "api_key_required");
    let rate = t.integer(d, "throttle_rate_limit", 1..=10_000);
    let burst = t.integer(d, "throttle_burst_limit", 1..=5_000);
    t.finish(d);
    let api_name = name(d, given_name, super::defaults::API_NAME, vars, "API name", |n| {
        if n.is_empty() || n.len() > 1024 {
            Err(Invalid { reason: "REST API names are 1-1024 characters".into(), hint: None })
        } else {
            // API Gateway's model gives no pattern (botocore `apigateway/2015-07-09`
            // CreateRestApiRequest `name` is a bare String); control characters are refused.
            rules::printable("the REST API name", n)
        }
    });
    let stage = name(d, stage, "{env}", vars, "stage name", |s| {
        if !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            Ok(())
        } else {
            Err(Invalid { reason: format!("`{s}` is not a stage name"), hint: Some("letters, digits, `-` and `_`, up to 128".into()) })
        }
    });
    let rate_limit = rate.as_ref().map_or(100, |r| *r.get_ref());
    let burst_limit = burst.as_ref().map_or(200, |b| *b.get_ref());
    if burst_limit < rate_limit.min(5_000) / 10 {
        d.push(
            Diagnostic::warning(
                format!("a burst of {burst_limit} against {rate_limit} requests per second rejects most bursts"),
                burst.as_ref().map(toml::Spanned::span),
            )
            .with_label("burst limit")
            .with_hint("API Gateway's default burst is twice the rate; set `throttle_burst_limit` near that"),
        );
    }
    Some(ApiSpec {
        name: api_name?,
        stage: stage?,
        api_key_required: key.is_some_and(|k| *k.get_ref()),
        throttle_rate_limit: i32::try_from(rate_limit).unwrap_or(100),
        throttle_burst_limit: i32::try_from(burst_limit).unwrap_or(200),
    })
}
