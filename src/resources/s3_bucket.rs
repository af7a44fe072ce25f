//! The bucket the S3 sink connector writes to: public access blocked, default encryption,
//! versioning as planned, tags, in the plan's region.

use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Delete, ObjectIdentifier, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
    VersioningConfiguration,
};
use serde_json::{Value as Json, json};

use crate::aws::{Aws, AwsError, Classify};
use crate::engine::{Change, FieldChange, Fields, Inputs, Kind, Outputs, ResourceError, ResourceId, Tags, Value};
use crate::plan::{BucketSpec, Encryption};

/// The kind name.
pub const KIND: &str = "s3_bucket";

/// The bucket as the plan declares it.
#[derive(Debug, Clone)]
pub struct S3Bucket {
    /// Name, versioning, encryption, force_destroy.
    pub spec: BucketSpec,
    /// The plan's region.
    pub region: String,
    /// Tags, ownership included.
    pub tags: Tags,
}

/// What the plan wants.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    region: String,
    versioning: bool,
    encryption: Json,
    tags: Tags,
}

/// What S3 has.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Live {
    region: String,
    /// The four public access block flags, all `false` when there is no configuration.
    public_access_block: Json,
    /// `{"algorithm": ..., "kms_key": ...}`, or null without default encryption.
    encryption: Json,
    /// `Enabled`, `Suspended`, or `None` when versioning was never enabled.
    versioning: Option<String>,
    tags: Tags,
}

fn public_access_block(all: bool) -> Json {
    json!({"block_public_acls": all, "block_public_policy": all, "ignore_public_acls": all, "restrict_public_buckets": all})
}

#[cfg(test)]
impl Live {
    /// A bucket in `us-east-1` with public access blocked, SSE-S3 and versioning never
    /// enabled, carrying `tags`: a fixture for the engine's planner goldens.
    pub(crate) fn fixture(tags: Tags) -> Self {
        Live {
            region: "us-east-1".into(),
            public_access_block: public_access_block(true),
            encryption: json!({"algorithm": "AES256"}),
            versioning: None,
            tags,
        }
    }
}

fn encryption_json(encryption: &Encryption) -> Json {
    match encryption {
        Encryption::SseS3 => json!({"algorithm": "AES256"}),
        Encryption::SseKms(None) => json!({"algorithm": "aws:kms"}),
        Encryption::SseKms(Some(key)) => json!({"algorithm": "aws:kms", "kms_key": key}),
    }
}

/// The region a `GetBucketLocation` constraint stands for.
pub fn location_region(constraint: Option<&str>) -> String {
    match constraint {
        None | Some("") => "us-east-1".to_owned(),
        Some("EU") => "eu-west-1".to_owned(),
        Some(region) => region.to_owned(),
    }
}

impl S3Bucket {
    fn name(&self) -> &str {
        &self.spec.name
    }

    async fn put_tags(&self, aws: &Aws, desired: &Tags, live: Option<&Tags>) -> Result<(), AwsError> {
        // PutBucketTagging replaces the whole set: keep tags others set.
        let mut all = live.cloned().unwrap_or_default();
        all.extend(desired.clone());
        let tag_set: Vec<Tag> = all.iter().filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok()).collect();
        let tagging = Tagging::builder()
            .set_tag_set(Some(tag_set))
            .build()
            .map_err(|e| AwsError::Other { operation: "s3:PutBucketTagging", detail: e.to_string() })?;
        aws.s3.put_bucket_tagging().bucket(self.name()).tagging(tagging).send().await.or_aws("s3:PutBucketTagging")?;
        Ok(())
    }

    async fn put_encryption(&self, aws: &Aws) -> Result<(), AwsError> {
        let operation = "s3:PutBucketEncryption";
        let by_default = match &self.spec.encryption {
            Encryption::SseS3 => ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256),
            Encryption::SseKms(key) => {
                ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::AwsKms).set_kms_master_key_id(key.clone())
            }
        }
        .build()
        .map_err(|e| AwsError::Other { operation, detail: e.to_string() })?;
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(by_default)
            .bucket_key_enabled(matches!(self.spec.encryption, Encryption::SseKms(_)))
            .build();
        let configuration = ServerSideEncryptionConfiguration::builder()
            .rules(rule)
            .build()
            .map_err(|e| AwsError::Other { operation, detail: e.to_string() })?;
        aws.s3
            .put_bucket_encryption()
            .bucket(self.name())
            .server_side_encryption_configuration(configuration)
            .send()
            .await
            .or_aws(operation)?;
        Ok(())
    }

    /// Deletes every object version and delete marker, for `force_destroy`.
    async fn empty(&self, aws: &Aws) -> Result<(), AwsError> {
        loop {
            let listing = aws.s3.list_object_versions().bucket(self.name()).send().await.or_aws("s3:ListObjectVersions")?;
            let mut doomed: Vec<ObjectIdentifier> = Vec::new();
            for version in listing.versions() {
                if let Some(key) = version.key() {
                    doomed
                        .extend(ObjectIdentifier::builder().key(key).set_version_id(version.version_id().map(str::to_owned)).build().ok());
                }
            }
            for marker in listing.delete_markers() {
                if let Some(key) = marker.key() {
                    doomed.extend(ObjectIdentifier::builder().key(key).set_version_id(marker.version_id().map(str::to_owned)).build().ok());
                }
            }
            if doomed.is_empty() {
                return Ok(());
            }
            let delete = Delete::builder()
                .set_objects(Some(doomed))
                .quiet(true)
                .build()
                .map_err(|e| AwsError::Other { operation: "s3:DeleteObjects", detail: e.to_string() })?;
            let out = aws.s3.delete_objects().bucket(self.name()).delete(delete).send().await.or_aws("s3:DeleteObjects")?;
            // DeleteObjects answers 200 with an error per key it refused (Object Lock, a missing
            // permission): listing again would find them again, forever. Report them and stop.
            if !out.errors().is_empty() {
                let shown: Vec<String> = out
                    .errors()
                    .iter()
                    .take(5)
                    .map(|e| {
                        format!("{} ({}: {})", e.key().unwrap_or("?"), e.code().unwrap_or("no code"), e.message().unwrap_or("no message"))
                    })
                    .collect();
                let more = out.errors().len().saturating_sub(shown.len());
                return Err(AwsError::Other {
                    operation: "s3:DeleteObjects",
                    detail: format!(
                        "S3 refused to delete {} object(s) of bucket {}: {}{}",
                        out.errors().len(),
                        self.name(),
                        shown.join(", "),
                        if more > 0 { format!(" and {more} more") } else { String::new() }
                    ),
                });
            }
        }
    }
}

/// A bucket's public access block, default encryption and versioning, as the diff compares
/// them; read side by side.
pub struct Settings {
    /// The four public access block flags.
    pub public_access_block: Json,
    /// `{"algorithm", "kms_key"?}`, or null without default encryption.
    pub encryption: Json,
    /// `Enabled`, `Suspended`, or `None` (never enabled).
    pub versioning: Option<String>,
}

impl Settings {
    /// Whether all four public access block flags are on.
    pub fn blocks_public_access(&self) -> bool {
        self.public_access_block == public_access_block(true)
    }
}

/// Reads [`Settings`] of the bucket `name`.
pub async fn settings(aws: &Aws, name: &str) -> Result<Settings, AwsError> {
    let (block, encryption, versioning) = tokio::join!(
        aws.s3.get_public_access_block().bucket(name).send(),
        aws.s3.get_bucket_encryption().bucket(name).send(),
        aws.s3.get_bucket_versioning().bucket(name).send(),
    );
    let public_access_block = match block.or_aws("s3:GetPublicAccessBlock") {
        Ok(out) => {
            let c = out.public_access_block_configuration();
            let flag = |f: fn(&PublicAccessBlockConfiguration) -> Option<bool>| c.and_then(f).unwrap_or(false);
            json!({
                "block_public_acls": flag(PublicAccessBlockConfiguration::block_public_acls),
                "block_public_policy": flag(PublicAccessBlockConfiguration::block_public_policy),
                "ignore_public_acls": flag(PublicAccessBlockConfiguration::ignore_public_acls),
                "restrict_public_buckets": flag(PublicAccessBlockConfiguration::restrict_public_buckets),
            })
        }
        Err(e) if e.is_code(&["NoSuchPublicAccessBlockConfiguration"]) => public_access_block(false),
        Err(e) => return Err(e),
    };
    let encryption = match encryption.or_aws("s3:GetBucketEncryption") {
        Ok(out) => out
            .server_side_encryption_configuration()
            .and_then(|c| c.rules().first())
            .and_then(|r| r.apply_server_side_encryption_by_default())
            .map_or(Json::Null, |d| match d.kms_master_key_id() {
                Some(key) => json!({"algorithm": d.sse_algorithm().as_str(), "kms_key": key}),
                None => json!({"algorithm": d.sse_algorithm().as_str()}),
            }),
        Err(e) if e.is_code(&["ServerSideEncryptionConfigurationNotFoundError"]) => Json::Null,
        Err(e) => return Err(e),
    };
    let versioning = versioning.or_aws("s3:GetBucketVersioning")?.status().map(|s| s.as_str().to_owned());
    Ok(Settings { public_access_block, encryption, versioning })
}

/// The Region of `bucket` (GetBucketLocation), or `None` when there is no such bucket: how the
/// kind and `import` find a bucket. GetBucketLocation answers from any Region; HeadBucket on a
/// bucket of another Region answers a bare 301, which the SDK does not follow (S3 API
/// reference, HeadBucket). Other errors, such as another account's `AccessDenied`, are returned.
pub async fn region_of(aws: &Aws, bucket: &str) -> Result<Option<String>, AwsError> {
    match aws.s3.get_bucket_location().bucket(bucket).send().await.or_aws("s3:GetBucketLocation") {
        Ok(out) => Ok(Some(location_region(out.location_constraint().map(BucketLocationConstraint::as_str)))),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Turns on all four public access block settings of `bucket` (the plan's bucket, the lock
/// bucket, which passes its `expected_owner`: S3 refuses the call for another account's bucket).
pub async fn block_public_access(aws: &Aws, bucket: &str, expected_owner: Option<&str>) -> Result<(), AwsError> {
    let block = PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .block_public_policy(true)
        .ignore_public_acls(true)
        .restrict_public_buckets(true)
        .build();
    aws.s3
        .put_public_access_block()
        .bucket(bucket)
        .set_expected_bucket_owner(expected_owner.map(str::to_owned))
        .public_access_block_configuration(block)
        .send()
        .await
        .or_aws("s3:PutPublicAccessBlock")?;
    Ok(())
}

impl Kind for S3Bucket {
    type Desired = Desired;
    type Live = Live;

    fn id(&self) -> ResourceId {
        ResourceId::new(KIND, self.name())
    }

    async fn observe(&self, aws: &Aws) -> Result<Option<Live>, AwsError> {
        let name = self.name();
        // All five reads side by side, one round trip: the settings are looked at only when the
        // bucket exists in the plan's Region (elsewhere S3 answers them with a redirect, and a
        // missing bucket with NoSuchBucket).
        let (region, settings, tagging) =
            tokio::join!(region_of(aws, name), settings(aws, name), aws.s3.get_bucket_tagging().bucket(name).send());
        let Some(region) = region? else { return Ok(None) };
        if region != self.region {
            // Its other settings can be read only in its Region; the diff refuses the move.
            return Ok(Some(Live { region, public_access_block: Json::Null, encryption: Json::Null, versioning: None, tags: Tags::new() }));
        }
        let Settings { public_access_block, encryption, versioning } = settings?;
        let tags = match tagging.or_aws("s3:GetBucketTagging") {
            Ok(out) => out.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect(),
            Err(e) if e.is_code(&["NoSuchTagSet"]) => Tags::new(),
            Err(e) => return Err(e),
        };
        Ok(Some(Live { region, public_access_block, encryption, versioning, tags }))
    }

    fn desired(&self, _inputs: &Inputs) -> Desired {
        Desired {
            region: self.region.clone(),
            versioning: self.spec.versioning,
            encryption: encryption_json(&self.spec.encryption),
            tags: self.tags.clone(),
        }
    }

    fn diff(desired: &Desired, live: Option<&Live>) -> Result<Vec<FieldChange>, ResourceError> {
        if let Some(live) = live
            && live.region != desired.region
        {
            return Err(ResourceError::refused(
                format!("bucket exists in {} but the plan's region is {}", live.region, desired.region),
                "bucket names are global and a bucket cannot move; choose another `[bucket] name`, or move the data by hand",
            ));
        }
        let mut fields = Fields::new(live.is_none());
        // A differing region was refused above: a bucket cannot move.
        fields.known("region", desired.region.clone(), live.map(|l| Json::String(l.region.clone())), false);
        fields.known("public_access_block", public_access_block(true), live.map(|l| l.public_access_block.clone()), false);
        fields.known("encryption", desired.encryption.clone(), live.map(|l| l.encryption.clone()), false);
        let live_versioning = live.map(|l| l.versioning.clone().map_or(Json::String("Disabled".into()), Json::String));
        let want_versioning = match (desired.versioning, live_versioning.as_ref().and_then(Json::as_str)) {
            (true, _) => "Enabled",
            // Versioning can only be suspended once enabled, never turned off.
            (false, Some("Enabled" | "Suspended")) => "Suspended",
            (false, _) => "Disabled",
        };
        fields.known("versioning", want_versioning, live_versioning, false);
        fields.tags("tags", &desired.tags, live.map(|l| &l.tags));
        Ok(fields.finish())
    }

    const OUTPUTS: &'static [&'static str] = &["arn", "name"];

    fn live_tags(live: &Live) -> Option<&Tags> {
        Some(&live.tags)
    }

    fn outputs(&self, _live: &Live) -> Outputs {
        Outputs::from([
            ("name", Value::of(self.name())),
            ("arn", Value::of(format!("arn:{}:s3:::{}", crate::aws::partition(&self.region), self.name()))),
        ])
    }

    async fn apply(&self, aws: &Aws, desired: &Desired, live: Option<&Live>, change: &Change) -> Result<Outputs, ResourceError> {
        let name = self.name();
        let creating = live.is_none();
        if creating {
            let mut create = aws.s3.create_bucket().bucket(name);
            if desired.region != "us-east-1" {
                create = create.create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(desired.region.as_str()))
                        .build(),
                );
            }
            match create.send().await.or_aws("s3:CreateBucket") {
                // Created by an interrupted earlier run: converge.
                Err(e) if e.is_code(&["BucketAlreadyOwnedByYou"]) => {}
                Err(e) if e.is_code(&["BucketAlreadyExists"]) => {
                    return Err(ResourceError::refused(
                        format!("bucket name `{name}` is taken by another AWS account"),
                        "choose another `[bucket] name`",
                    ));
                }
                other => {
                    other?;
                }
            }
        }
        // Tags first: a bucket whose later settings fail is still recognisably pinfra's, so the
        // next run updates it instead of offering to adopt it.
        if creating || change.touches("tags") {
            self.put_tags(aws, &desired.tags, live.map(|l| &l.tags)).await?;
        }
        // The other settings are independent of each other: side by side, one round trip.
        let block = async {
            if creating || change.touches("public_access_block") {
                block_public_access(aws, name, None).await?;
            }
            Ok::<_, ResourceError>(())
        };
        let encryption = async {
            if creating || change.touches("encryption") {
                self.put_encryption(aws).await?;
            }
            Ok::<_, ResourceError>(())
        };
        let versioning = async {
            if change.touches("versioning") && (desired.versioning || !creating) {
                let status = if desired.versioning { BucketVersioningStatus::Enabled } else { BucketVersioningStatus::Suspended };
                aws.s3
                    .put_bucket_versioning()
                    .bucket(name)
                    .versioning_configuration(VersioningConfiguration::builder().status(status).build())
                    .send()
                    .await
                    .or_aws("s3:PutBucketVersioning")?;
            }
            Ok::<_, ResourceError>(())
        };
        tokio::try_join!(block, encryption, versioning)?;
        Ok(self.outputs(&Live::default()))
    }

    async fn delete(&self, aws: &Aws, _live: &Live) -> Result<(), ResourceError> {
        if self.spec.force_destroy {
            self.empty(aws).await?;
        }
        match aws.s3.delete_bucket().bucket(self.name()).send().await.or_aws("s3:DeleteBucket") {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) if e.is_code(&["BucketNotEmpty"]) => Err(ResourceError::refused(
                format!("bucket `{}` still holds objects", self.name()),
                "empty it first, or set `force_destroy = true` in [bucket] to let destroy delete every object",
            )),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(versioning: bool) -> Desired {
        Desired {
            region: "us-east-1".into(),
            versioning,
            encryption: json!({"algorithm": "AES256"}),
            tags: Tags::from([("pinfra:env".into(), "dev".into())]),
        }
    }

    fn converged() -> Live {
        Live {
            region: "us-east-1".into(),
            public_access_block: public_access_block(true),
            encryption: json!({"algorithm": "AES256"}),
            versioning: None,
            tags: Tags::from([("pinfra:env".into(), "dev".into()), ("theirs".into(), "kept".into())]),
        }
    }

    #[test]
    #[allow(clippy::type_complexity)] // a table of test cases
    fn diff_table() {
        let with = |f: fn(&mut Live)| {
            let mut live = converged();
            f(&mut live);
            Some(live)
        };
        let cases: Vec<(&str, Desired, Option<Live>, Vec<(&str, Option<Json>, Json)>)> = vec![
            ("converged", desired(false), Some(converged()), vec![]),
            (
                "others' tags are not a change",
                desired(false),
                with(|l| {
                    l.tags.insert("extra".into(), "x".into());
                }),
                vec![],
            ),
            ("enable versioning", desired(true), Some(converged()), vec![("versioning", Some(json!("Disabled")), json!("Enabled"))]),
            (
                "suspend versioning",
                desired(false),
                with(|l| l.versioning = Some("Enabled".into())),
                vec![("versioning", Some(json!("Enabled")), json!("Suspended"))],
            ),
            ("suspended stays suspended", desired(false), with(|l| l.versioning = Some("Suspended".into())), vec![]),
            (
                "no public access block",
                desired(false),
                with(|l| l.public_access_block = public_access_block(false)),
                vec![("public_access_block", Some(public_access_block(false)), public_access_block(true))],
            ),
            (
                "no encryption",
                desired(false),
                with(|l| l.encryption = Json::Null),
                vec![("encryption", Some(Json::Null), json!({"algorithm": "AES256"}))],
            ),
            ("untagged", desired(false), with(|l| l.tags.clear()), vec![("tags.pinfra:env", None, json!("dev"))]),
        ];
        for (name, desired, live, expected) in cases {
            let changes = S3Bucket::diff(&desired, live.as_ref()).expect(name);
            let got: Vec<(&str, Option<Json>, Json)> = changes
                .iter()
                .map(|c| {
                    (
                        c.path.as_str(),
                        c.old.clone(),
                        match &c.new {
                            Some(Value::Known(v)) => v.clone(),
                            other => panic!("{other:?}"),
                        },
                    )
                })
                .collect();
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn create_lists_every_field() {
        let paths: Vec<String> = S3Bucket::diff(&desired(false), None).unwrap().into_iter().map(|c| c.path).collect();
        assert_eq!(paths, ["region", "public_access_block", "encryption", "versioning", "tags.pinfra:env"]);
    }

    #[test]
    fn a_bucket_in_another_region_is_refused_not_replaced() {
        let mut live = converged();
        live.region = "eu-west-1".into();
        let error = S3Bucket::diff(&desired(false), Some(&live)).unwrap_err();
        assert!(error.to_string().contains("eu-west-1"), "{error}");
    }

    #[test]
    fn location_constraints() {
        assert_eq!(location_region(None), "us-east-1");
        assert_eq!(location_region(Some("")), "us-east-1");
        assert_eq!(location_region(Some("EU")), "eu-west-1");
        assert_eq!(location_region(Some("eu-west-2")), "eu-west-2");
    }
}
