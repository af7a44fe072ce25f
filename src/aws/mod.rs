//! The AWS clients pinfra uses, built once from the resolved settings, and the error type every
//! AWS call is mapped into.

mod credentials;
pub mod ec2_tags;
mod error;
pub mod pacing;
pub mod shared;

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
use aws_smithy_runtime_api::client::runtime_plugin::RuntimePlugin as _;
use aws_types::region::Region;

pub use credentials::{CredentialSettings, CredentialSource, CredentialsError, ProfileOrigin};
pub use error::{AwsError, CallResult, Classify, classify};

/// Where and as whom to call AWS; resolved from flags and the environment by
/// [`crate::settings`].
#[derive(Debug, Clone)]
pub struct AwsSettings {
    /// Region: always the plan's (see `settings::aws`).
    pub region: String,
    /// Whose credentials to use (`--profile`, `AWS_PROFILE`, keys in the environment).
    pub credentials: CredentialSettings,
    /// A custom endpoint for every service (the sandbox); `None` for real AWS.
    pub endpoint_url: Option<String>,
    /// Whether a custom endpoint is in use for S3, in which case path-style addressing is used.
    pub custom_s3_endpoint: bool,
    /// Maximum attempts per call for throttling and transient errors.
    pub max_attempts: u32,
    /// How to wait for asynchronous changes.
    pub poll: crate::retry::Poll,
    /// The rates calls are paced at (`pacing`).
    pub rates: pacing::Rates,
}

/// One client per service, sharing one configuration.
#[derive(Debug, Clone)]
pub struct Aws {
    /// IAM (global).
    pub iam: aws_sdk_iam::Client,
    /// S3.
    pub s3: aws_sdk_s3::Client,
    /// MSK.
    pub kafka: aws_sdk_kafka::Client,
    /// EC2 (default VPC subnets, the Kafka client).
    pub ec2: aws_sdk_ec2::Client,
    /// SSM (the public Amazon Linux AMI parameter).
    pub ssm: aws_sdk_ssm::Client,
    /// MSK Connect (the sink's custom plugin and connector).
    pub kafkaconnect: aws_sdk_kafkaconnect::Client,
    /// API Gateway (the REST API in front of the REST proxy).
    pub apigateway: aws_sdk_apigateway::Client,
    /// STS (the account, for the lock bucket).
    pub sts: aws_sdk_sts::Client,
    /// The region calls go to.
    pub region: String,
    /// The custom endpoint, if any; named in "cannot reach" errors.
    pub endpoint: Option<String>,
    /// Where the credentials come from, for the user.
    pub credentials: CredentialSource,
    /// The reads this round shares between environments (`shared`); [`Aws::fresh`] starts
    /// another round.
    pub shared: std::sync::Arc<shared::SharedReads>,
}

impl Aws {
    /// The same clients with a new round of shared reads: nothing read before is reused.
    pub fn fresh(&self) -> Aws {
        Aws { shared: std::sync::Arc::default(), ..self.clone() }
    }
}

impl Aws {
    /// Builds the clients. Only the shared config files are read: nothing is sent until the first
    /// call. A profile the files do not define is an error.
    pub async fn connect(settings: &AwsSettings) -> Result<Self, CredentialsError> {
        let credentials = credentials::resolve(&settings.credentials).await?;
        tracing::info!("credentials: {credentials}");
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(settings.max_attempts.max(1))
                    .with_initial_backoff(Duration::from_millis(200))
                    .with_max_backoff(Duration::from_secs(5)),
            )
            // No attempt timeout: an attempt's time includes its wait in the pacer (the pacing
            // client waits for its tokens inside the attempt), and under AWS's fixed quotas a
            // fleet's calls wait minutes (50 CreateDeployment at one every 5 s: 250 s). A
            // 60-second attempt timeout failed them as "timed out" with nothing wrong. The time
            // to connect and to read an answer are bounded instead, in the HTTP client, after
            // the pacer.
            .timeout_config(TimeoutConfig::builder().connect_timeout(Duration::from_secs(5)).read_timeout(Duration::from_secs(60)).build())
            // Not for uploads: the SDK's check that a request body is read at 1 byte/s or more
            // starts with the attempt, so a request waiting its turn in the pacer or for an
            // in-flight slot for 5 s was cut off as "timed out", retried at the back of the
            // line, and cut off again: a 50-environment diff failed whole. pinfra's request
            // bodies are a few KiB; answers (an object `verify` reads) keep the check.
            .stalled_stream_protection(
                aws_smithy_runtime_api::client::stalled_stream_protection::StalledStreamProtectionConfig::enabled()
                    .upload_enabled(false)
                    .build(),
            );
        if let CredentialSource::Profile(name, Some(origin)) = &credentials {
            loader = loader.profile_name(name);
            if *origin == ProfileOrigin::Flag {
                // The default chain reads the environment's keys first; an explicit profile wins.
                let provider = aws_config::profile::ProfileFileCredentialsProvider::builder().profile_name(name).build();
                loader = loader.credentials_provider(provider);
            }
        }
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        // The SDK's own default HTTPS client, wrapped so that every request waits for the
        // pacer's tokens first (`pacing`).
        let pacer = pacing::Pacer::new(settings.rates.clone(), &settings.region);
        let default_client = aws_smithy_runtime::client::defaults::default_http_client_plugin_v2(BehaviorVersion::latest())
            .and_then(|plugin| plugin.runtime_components(&RuntimeComponentsBuilder::new("pinfra")).http_client());
        if let Some(inner) = default_client {
            loader = loader.http_client(pacing::PacedHttpClient::new(inner, pacer));
        }
        let config = loader.load().await;
        let s3_config = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(settings.custom_s3_endpoint)
            .interceptor(pacing::OperationTag)
            .build();
        Ok(Self {
            iam: aws_sdk_iam::Client::from_conf(aws_sdk_iam::config::Builder::from(&config).interceptor(pacing::OperationTag).build()),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            kafka: aws_sdk_kafka::Client::from_conf(
                aws_sdk_kafka::config::Builder::from(&config).interceptor(pacing::OperationTag).build(),
            ),
            ec2: aws_sdk_ec2::Client::from_conf(aws_sdk_ec2::config::Builder::from(&config).interceptor(pacing::OperationTag).build()),
            ssm: aws_sdk_ssm::Client::from_conf(aws_sdk_ssm::config::Builder::from(&config).interceptor(pacing::OperationTag).build()),
            kafkaconnect: aws_sdk_kafkaconnect::Client::from_conf(
                aws_sdk_kafkaconnect::config::Builder::from(&config).interceptor(pacing::OperationTag).build(),
            ),
            apigateway: aws_sdk_apigateway::Client::from_conf(
                aws_sdk_apigateway::config::Builder::from(&config).interceptor(pacing::OperationTag).build(),
            ),
            sts: aws_sdk_sts::Client::from_conf(aws_sdk_sts::config::Builder::from(&config).interceptor(pacing::OperationTag).build()),
            region: settings.region.clone(),
            endpoint: settings.endpoint_url.clone(),
            credentials,
            shared: std::sync::Arc::default(),
        })
    }
}

#[cfg(test)]
impl Aws {
    /// Clients for unit tests: `iam` as given (usually an `aws-smithy-mocks` client), the others
    /// unusable (no endpoint a test would reach).
    pub fn with_iam(iam: aws_sdk_iam::Client) -> Self {
        let config = aws_types::SdkConfig::builder().behavior_version(BehaviorVersion::latest()).region(Region::new("us-east-1")).build();
        Self {
            iam,
            s3: aws_sdk_s3::Client::new(&config),
            kafka: aws_sdk_kafka::Client::new(&config),
            ec2: aws_sdk_ec2::Client::new(&config),
            ssm: aws_sdk_ssm::Client::new(&config),
            kafkaconnect: aws_sdk_kafkaconnect::Client::new(&config),
            apigateway: aws_sdk_apigateway::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
            region: "us-east-1".to_owned(),
            endpoint: None,
            credentials: CredentialSource::Chain,
            shared: std::sync::Arc::default(),
        }
    }
}

/// The partition of a Region, for ARNs: `aws-cn` (China), `aws-us-gov` (GovCloud), `aws-iso`
/// and `aws-iso-b` (the isolated Regions), else `aws` (AWS General Reference, "Amazon Resource
/// Names"; the partitions of botocore's `endpoints.json`).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else {
        "aws"
    }
}

/// The DNS suffix of a Region's service endpoints: `amazonaws.com.cn` in China, `c2s.ic.gov`
/// and `sc2s.sgov.gov` in the isolated Regions, else `amazonaws.com` (botocore `endpoints.json`
/// `dnsSuffix`).
pub fn dns_suffix(region: &str) -> &'static str {
    match partition(region) {
        "aws-cn" => "amazonaws.com.cn",
        "aws-iso" => "c2s.ic.gov",
        "aws-iso-b" => "sc2s.sgov.gov",
        _ => "amazonaws.com",
    }
}

#[cfg(test)]
mod partition_tests {
    use super::*;

    #[test]
    fn arns_and_urls_follow_the_regions_partition() {
        let cases = [
            ("us-east-1", "aws", "amazonaws.com"),
            ("cn-north-1", "aws-cn", "amazonaws.com.cn"),
            ("us-gov-west-1", "aws-us-gov", "amazonaws.com"),
            ("us-iso-east-1", "aws-iso", "c2s.ic.gov"),
            ("us-isob-east-1", "aws-iso-b", "sc2s.sgov.gov"),
        ];
        for (region, arn_partition, suffix) in cases {
            assert_eq!((partition(region), dns_suffix(region)), (arn_partition, suffix), "{region}");
        }
    }
}
