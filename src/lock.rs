//! One mutating run per environment at a time: a lock object created with S3's atomic
//! create-if-absent (`PutObject` with `If-None-Match: *`, which answers 412 when the object
//! exists).
//!
//! The lock lives in a bucket of its own, `pinfra-locks-<account>-<region>` (created on first
//! use, private, encrypted by S3's default, never deleted by `destroy`), under
//! `<project>/<user_id>/<env>.lock`, and records who holds it and since when. Bucket names are
//! global: every call names the account as the bucket's expected owner, so a bucket of that name
//! in another account is refused (S3 answers 403), never written to. A run that crashed leaves its lock behind: the next run
//! reports it with its holder and age, and only `pinfra unlock --force` removes it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use serde::{Deserialize, Serialize};

use crate::aws::{Aws, AwsError, Classify};
use crate::plan::Plan;

/// Why the lock could not be taken or released.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another run holds it.
    #[error("environment `{env}` is locked by {} (pid {}, `{}`) since {} ({} ago)", .holder.holder, .holder.pid, .holder.command, .holder.started, age(.holder))]
    Held {
        /// The environment.
        env: String,
        /// Who holds it.
        holder: Holder,
    },
    /// The lock bucket is not the account's (another account owns the name), or this identity
    /// may not use it: S3 refused the call (403).
    #[error(
        "the lock bucket `{bucket}` is not usable by account {account}: S3 refused access ({detail}); another account may own the name, or this identity may not use it"
    )]
    Refused {
        /// The bucket.
        bucket: String,
        /// The account that should own it.
        account: String,
        /// S3's answer.
        detail: String,
    },
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl LockError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            LockError::Held { .. } => Some(
                "wait for that run to finish; if it crashed or was killed, check nothing is running, then `pinfra unlock --force PLAN`"
                    .into(),
            ),
            LockError::Refused { .. } => Some(
                "pinfra never writes its lock into a bucket another account owns; check that this identity may use S3 on it (docs/permissions.md), or that the account owns the bucket"
                    .into(),
            ),
            LockError::Aws(e) => e.hint(),
        }
    }
}

/// What the lock object says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// `user@host`.
    pub holder: String,
    /// The process id on that host.
    pub pid: u32,
    /// The command (`apply`, `destroy`).
    pub command: String,
    /// When it was taken, RFC 3339 UTC.
    pub started: String,
    /// When it was taken, seconds since the epoch (for the age).
    pub started_unix: u64,
    /// pinfra's version.
    pub version: String,
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn age(holder: &Holder) -> String {
    let secs = now_unix().saturating_sub(holder.started_unix);
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        _ => format!("{} h", secs / 3600),
    }
}

/// Where the lock of a plan's environment lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRef {
    /// The lock bucket.
    pub bucket: String,
    /// The object key.
    pub key: String,
    /// The plan's region.
    pub region: String,
    /// The environment, for messages.
    pub env: String,
    /// The account that must own the bucket.
    pub owner: String,
}

impl LockRef {
    /// The lock of `plan`'s environment in `account`.
    pub fn of(plan: &Plan, account: &str) -> Self {
        let env = &plan.environment;
        Self {
            bucket: format!("pinfra-locks-{account}-{}", env.region),
            key: format!("{}/{}/{}.lock", env.project, env.user_id, env.name),
            region: env.region.clone(),
            env: env.name.clone(),
            owner: account.to_owned(),
        }
    }

    /// The lock of `plan`'s environment in the caller's account (GetCallerIdentity).
    pub async fn find(aws: &Aws, plan: &Plan) -> Result<Self, AwsError> {
        let identity = aws.sts.get_caller_identity().send().await.or_aws("sts:GetCallerIdentity")?;
        let account = identity
            .account()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| AwsError::Other { operation: "sts:GetCallerIdentity", detail: "the answer names no account".into() })?;
        Ok(Self::of(plan, account))
    }
}

/// A held lock; [`Lock::release`] deletes it.
#[derive(Debug)]
pub struct Lock {
    /// Where it is.
    pub at: LockRef,
    /// Its ETag, so that release deletes only this lock.
    etag: Option<String>,
}

/// Who this process is, for the lock object.
pub fn whoami(command: &str, user: Option<&str>, host: Option<&str>) -> Holder {
    let started_unix = now_unix();
    Holder {
        holder: format!("{}@{}", user.unwrap_or("unknown"), host.unwrap_or("unknown-host")),
        pid: std::process::id(),
        command: command.to_owned(),
        started: rfc3339(started_unix),
        started_unix,
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

/// Seconds since the epoch as RFC 3339 UTC (civil-from-days, proleptic Gregorian).
fn rfc3339(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Takes the lock, creating the lock bucket first if it does not exist.
pub async fn acquire(aws: &Aws, at: &LockRef, holder: &Holder) -> Result<Lock, LockError> {
    let body = serde_json::to_vec_pretty(holder).unwrap_or_default();
    for attempt in 0..2 {
        let put = aws
            .s3
            .put_object()
            .bucket(&at.bucket)
            .key(&at.key)
            .expected_bucket_owner(&at.owner)
            .if_none_match("*")
            .content_type("application/json")
            .body(body.clone().into())
            .send()
            .await
            .or_aws("s3:PutObject");
        match put {
            Ok(out) => return Ok(Lock { at: at.clone(), etag: out.e_tag().map(str::to_owned) }),
            Err(e) if e.is_code(&["PreconditionFailed", "ConditionalRequestConflict"]) => {
                return match read(aws, at).await? {
                    // Our own create, whose answer was lost and retried by the SDK: ours.
                    Some(found) if found == *holder => Ok(Lock { at: at.clone(), etag: None }),
                    Some(found) => Err(LockError::Held { env: at.env.clone(), holder: found }),
                    // Released between the two calls: one more try.
                    None if attempt == 0 => continue,
                    None => Err(LockError::Aws(e)),
                };
            }
            Err(e) if e.is_code(&["NoSuchBucket"]) && attempt == 0 => create_bucket(aws, at).await?,
            Err(e) if e.is_code(&["AccessDenied"]) => {
                return Err(LockError::Refused { bucket: at.bucket.clone(), account: at.owner.clone(), detail: e.to_string() });
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(LockError::Aws(AwsError::Other { operation: "s3:PutObject", detail: "the lock could not be taken".into() }))
}

/// What the lock object says, or `None` when there is no lock.
pub async fn read(aws: &Aws, at: &LockRef) -> Result<Option<Holder>, AwsError> {
    match aws.s3.get_object().bucket(&at.bucket).key(&at.key).expected_bucket_owner(&at.owner).send().await.or_aws("s3:GetObject") {
        Ok(out) => {
            let bytes = out.body.collect().await.map(|b| b.into_bytes().to_vec()).unwrap_or_default();
            Ok(Some(serde_json::from_slice(&bytes).unwrap_or_else(|_| Holder {
                holder: "(unreadable lock object)".into(),
                pid: 0,
                command: String::new(),
                started: String::new(),
                started_unix: now_unix(),
                version: String::new(),
            })))
        }
        Err(e) if e.is_not_found() || e.is_code(&["NoSuchKey"]) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Deletes the lock whatever it says (`pinfra unlock --force`).
pub async fn force_remove(aws: &Aws, at: &LockRef) -> Result<(), AwsError> {
    match aws.s3.delete_object().bucket(&at.bucket).key(&at.key).expected_bucket_owner(&at.owner).send().await.or_aws("s3:DeleteObject") {
        Err(e) if !(e.is_not_found() || e.is_code(&["NoSuchKey"])) => Err(e),
        _ => Ok(()),
    }
}

impl Lock {
    /// Deletes the lock, if it is still this run's (`If-Match` on its ETag where S3 supports it).
    pub async fn release(self, aws: &Aws) -> Result<(), AwsError> {
        remove_if_ours(aws, &self.at, self.etag.as_deref()).await
    }

    /// Its ETag, for [`remove_if_ours`] from elsewhere (the Ctrl-C handler).
    pub fn etag(&self) -> Option<String> {
        self.etag.clone()
    }
}

/// Deletes the lock at `at` only if it is still the one with `etag` (when known): a lock that
/// was forced away and taken by another run is left to that run.
pub async fn remove_if_ours(aws: &Aws, at: &LockRef, etag: Option<&str>) -> Result<(), AwsError> {
    let mut delete = aws.s3.delete_object().bucket(&at.bucket).key(&at.key).expected_bucket_owner(&at.owner);
    if let Some(etag) = etag {
        delete = delete.if_match(etag);
    }
    match delete.send().await.or_aws("s3:DeleteObject") {
        // Someone forced it away and took it: theirs now.
        Err(e) if e.is_code(&["PreconditionFailed"]) => Ok(()),
        Err(e) if !(e.is_not_found() || e.is_code(&["NoSuchKey"])) => Err(e),
        _ => Ok(()),
    }
}

async fn create_bucket(aws: &Aws, at: &LockRef) -> Result<(), AwsError> {
    let mut create = aws.s3.create_bucket().bucket(&at.bucket);
    if at.region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(at.region.as_str())).build(),
        );
    }
    match create.send().await.or_aws("s3:CreateBucket") {
        Err(e) if e.is_code(&["BucketAlreadyOwnedByYou"]) => {}
        Err(e) if e.is_code(&["BucketAlreadyExists"]) => {
            return Err(AwsError::Other {
                operation: "s3:CreateBucket",
                detail: format!("the lock bucket name `{}` belongs to another account; pinfra will not use it", at.bucket),
            });
        }
        other => {
            other?;
        }
    }
    crate::resources::s3_bucket::block_public_access(aws, &at.bucket, Some(&at.owner)).await?;
    // Default encryption: S3 encrypts every new bucket with SSE-S3 (since January 2023).
    Ok(())
}

/// How long ago a holder took its lock.
pub fn held_for(holder: &Holder) -> Duration {
    Duration::from_secs(now_unix().saturating_sub(holder.started_unix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_083_199), "2026-11-30T23:59:59Z");
    }

    #[test]
    fn the_lock_is_per_account_region_and_environment() {
        let text = "[environment]\nname = \"staging\"\nproject = \"pinterest\"\nregion = \"ap-southeast-2\"\nuser_id = \"0a1b2c3d4e5f\"\n[msk]\ncluster = \"c\"\n";
        let plan = crate::plan::parse(text).plan.unwrap();
        let at = LockRef::of(&plan, "123456789012");
        assert_eq!(at.bucket, "pinfra-locks-123456789012-ap-southeast-2");
        assert!(at.bucket.len() <= 63, "an S3 bucket name");
        assert_eq!(at.key, "pinterest/0a1b2c3d4e5f/staging.lock", "two user ids in one account have two locks");
        assert_eq!(at.owner, "123456789012");
    }

    #[test]
    fn the_message_names_holder_and_age() {
        let mut holder = whoami("apply", Some("ana"), Some("laptop"));
        holder.started_unix -= 300;
        let error = LockError::Held { env: "dev".into(), holder };
        let text = error.to_string();
        assert!(text.starts_with("environment `dev` is locked by ana@laptop (pid "), "{text}");
        assert!(text.ends_with("(5 min ago)"), "{text}");
        assert!(error.hint().unwrap().contains("pinfra unlock --force"));
    }
}
