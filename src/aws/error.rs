//! One error type for every AWS call, classified once so the rest of pinfra can ask "was it not
//! found?" or "is this the IAM propagation delay?" without knowing the SDK's error shapes, and
//! so users get one clear line with a hint instead of an SDK debug dump.

use std::error::Error as StdError;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// A failed AWS call, with the operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// No credentials could be found by the default chain.
    #[error("{operation}: no AWS credentials found")]
    NoCredentials {
        /// `service:Operation`.
        operation: &'static str,
    },
    /// The endpoint did not answer (refused, DNS, TLS, reset).
    #[error("{operation}: cannot reach the AWS endpoint: {}", crate::terminal::escape(detail))]
    Unreachable {
        /// `service:Operation`.
        operation: &'static str,
        /// What the connector said, without the SDK's nesting.
        detail: String,
    },
    /// The call or one of its attempts timed out.
    #[error("{operation}: timed out")]
    Timeout {
        /// `service:Operation`.
        operation: &'static str,
    },
    /// AWS answered with an error. Its code and message are AWS's text, shown on one line with
    /// control characters escaped (a message is never trusted to be printable).
    #[error("{operation}: {}: {}", crate::terminal::escape(code), crate::terminal::escape(message))]
    Service {
        /// `service:Operation`.
        operation: &'static str,
        /// The AWS error code, such as `NoSuchEntity`.
        code: String,
        /// AWS's message.
        message: String,
        /// The HTTP status.
        status: u16,
    },
    /// Anything else: a response that could not be parsed, a request that could not be built.
    #[error("{operation}: {detail}")]
    Other {
        /// `service:Operation`.
        operation: &'static str,
        /// What went wrong.
        detail: String,
    },
}

/// The result of one AWS call.
pub type CallResult<T> = Result<T, AwsError>;

impl AwsError {
    /// The AWS error code, for service errors.
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether AWS answered with one of `codes`.
    pub fn is_code(&self, codes: &[&str]) -> bool {
        self.code().is_some_and(|c| codes.contains(&c))
    }

    /// Whether AWS answered 404 or a not-found code.
    pub fn is_not_found(&self) -> bool {
        matches!(self, AwsError::Service { status: 404, .. })
            || self.is_code(&["NoSuchEntity", "NoSuchBucket", "NotFound", "NotFoundException", "NoSuchTagSet"])
    }

    /// Whether the error is about the environment (credentials, network) rather than one
    /// resource, so that it is reported once however many calls hit it.
    pub fn is_environmental(&self) -> bool {
        matches!(self, AwsError::NoCredentials { .. } | AwsError::Unreachable { .. })
    }

    /// The message without the operation, for errors that are not about one call.
    pub fn summary(&self) -> String {
        match self {
            AwsError::NoCredentials { .. } => "no AWS credentials found".to_owned(),
            AwsError::Unreachable { detail, .. } => format!("cannot reach the AWS endpoint: {}", crate::terminal::escape(detail)),
            other => other.to_string(),
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            AwsError::NoCredentials { .. } => Some(
                "set AWS_PROFILE (or --profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; for the local sandbox any dummy keys work"
                    .into(),
            ),
            AwsError::Unreachable { .. } => Some(
                "check the network and AWS_ENDPOINT_URL; for the local sandbox run `./scripts/sandbox start` and export the URL it prints"
                    .into(),
            ),
            AwsError::Timeout { .. } => Some("AWS did not answer in time; run the command again".into()),
            AwsError::Service { code, .. } if code.contains("AccessDenied") || code == "UnauthorizedOperation" => {
                Some("the credentials in use lack a permission; see docs/permissions.md".into())
            }
            AwsError::Service { code, .. } if code == "InvalidClientTokenId" || code == "SignatureDoesNotMatch" => {
                Some("the credentials are not valid for this account or endpoint".into())
            }
            _ => None,
        }
    }
}

/// The innermost message of an error chain, which is where the SDK puts the useful part.
fn root_cause(error: &(dyn StdError + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

fn chain_mentions(error: &(dyn StdError + 'static), needles: &[&str]) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        let text = format!("{e} {e:?}").to_ascii_lowercase();
        if needles.iter().any(|n| text.contains(n)) {
            return true;
        }
        current = e.source();
    }
    false
}

/// Maps an SDK error into an [`AwsError`] for `operation` (`"iam:GetRole"`).
pub fn classify<E>(operation: &'static str, error: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    if chain_mentions(&error, &["no credentials", "credentials provider", "credentialsnotloaded", "failed to load credentials"]) {
        return AwsError::NoCredentials { operation };
    }
    match error {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let err = service.err();
            let message = match err.message().map(str::trim) {
                Some(message) if !message.is_empty() => message.to_owned(),
                _ => no_message(status, request_id(service.raw())),
            };
            AwsError::Service { operation, code: err.code().map_or_else(|| format!("HTTP {status}"), str::to_owned), message, status }
        }
        SdkError::TimeoutError(_) => AwsError::Timeout { operation },
        SdkError::DispatchFailure(failure) => {
            if failure.is_timeout() {
                AwsError::Timeout { operation }
            } else {
                let detail = failure.as_connector_error().map_or_else(|| "dispatch failure".to_owned(), |c| root_cause(c));
                AwsError::Unreachable { operation, detail }
            }
        }
        SdkError::ResponseError(response) => {
            let status = response.raw().status().as_u16();
            AwsError::Other { operation, detail: format!("unreadable response (HTTP {status})") }
        }
        other => match root_cause(&other) {
            detail if detail.trim().is_empty() => AwsError::Other { operation, detail: "the SDK gave no reason".into() },
            detail => AwsError::Other { operation, detail },
        },
    }
}

/// The request id of an answer, from the header each AWS protocol uses for it.
fn request_id(response: &HttpResponse) -> Option<&str> {
    ["x-amzn-requestid", "x-amz-request-id", "x-amzn-request-id"]
        .iter()
        .find_map(|h| response.headers().get(*h))
        .filter(|id| !id.is_empty())
}

/// The reason given for an error answer without a message (an empty body, HTML from a proxy,
/// an operation the endpoint does not implement): the status's reason phrase, and the request
/// id to quote to AWS support. Never an empty string.
fn no_message(status: u16, request_id: Option<&str>) -> String {
    let phrase = match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "error",
    };
    match request_id {
        Some(id) => format!("{phrase} (the answer carried no error message; request id {id})"),
        None => format!("{phrase} (the answer carried no error message)"),
    }
}

/// Lets call sites write `.map_err(classify_as("iam:GetRole"))`.
pub trait Classify<T> {
    /// Maps the error of an SDK call.
    fn or_aws(self, operation: &'static str) -> CallResult<T>;
}

impl<T, E> Classify<T> for Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    fn or_aws(self, operation: &'static str) -> CallResult<T> {
        self.map_err(|e| classify(operation, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error answer with an empty body (moto's 500 for an operation it lacks, a proxy's 502)
    /// printed `apigateway:UpdateMethod: HTTP 500: ` with nothing after the colon.
    #[tokio::test]
    async fn an_error_answer_without_a_message_still_says_why() {
        use aws_smithy_mocks::{RuleMode, mock, mock_client};
        use aws_smithy_runtime_api::http::StatusCode;
        use aws_smithy_types::body::SdkBody;
        for (status, body, request_id, reason) in [
            (500, "", Some("req-1"), "Internal Server Error (the answer carried no error message; request id req-1)"),
            (502, "<html>bad gateway</html>", None, "Bad Gateway (the answer carried no error message)"),
            (418, "", None, "error (the answer carried no error message)"),
        ] {
            let rule = mock!(aws_sdk_iam::Client::get_role).then_http_response(move || {
                let status = StatusCode::try_from(status).expect("a valid status");
                let mut response = HttpResponse::new(status, SdkBody::from(body));
                if let Some(id) = request_id {
                    response.headers_mut().insert("x-amzn-RequestId", id);
                }
                response
            });
            let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&rule]);
            let error = iam.get_role().role_name("r").send().await.or_aws("iam:GetRole").expect_err("an error answer");
            let text = error.to_string();
            assert!(text.ends_with(reason), "{text}");
            assert!(!text.trim_end().ends_with(':'), "{text}");
        }
    }
}
