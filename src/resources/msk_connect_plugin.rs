//! The MSK Connect custom plugin that carries the Confluent S3 sink, content-addressed.
//!
//! Custom plugins are immutable: only their tags change. So the plugin's name carries the first
//! 12 hex digits of the zip's SHA-256 (`<name>-<hash>`) and the zip is uploaded under a key with
//! the whole hash: a new zip is a new plugin, the connector is replaced onto it, and the old
//! plugin is deleted afterwards, once no connector uses it. A plugin whose creation failed is
//! replaced.
//!
//! Every plugin under the plan's base name is listed once per run ([`list`]), together with the
//! connectors and the plugins each one uses.

use std::sync::Arc;

use aws_sdk_kafkaconnect::types::{CustomPluginContentType, CustomPluginLocation, S3Location};
use serde_json::Value as Json;

use super::discovery::{Discovery, list_connect};
use crate::artifact::{Artifact, ArtifactError};
use crate::aws::{Aws, AwsError, Classify};
use crate::engine::{Change, FieldChange, Fields, Inputs, Kind, Outputs, Presence, ResourceError, ResourceId, Tags, Value};
use crate::retry::{Pace, Poll, Seen, WaitError, poll_until};

/// The kind name.
pub const KIND: &str = "msk_connect_plugin";
/// The output carrying the plugin's ARN.
pub const OUTPUT_ARN: &str = "arn";

/// The plugin name for a zip: `<base>-<first 12 hex digits of its SHA-256>`.
pub fn plugin_name(base: &str, artifact: &Artifact) -> String {
    format!("{base}-{}", artifact.short_hash())
}

/// One custom plugin: the plan's current zip, or an older one to clean up.
#[derive(Debug, Clone)]
pub struct MskConnectPlugin {
    /// Full name, `<base>-<hash>`.
    pub name: String,
    /// The zip, for the current plugin; `None` for an older plugin the plan no longer wants,
    /// and for an existing one.
    pub artifact: Option<Arc<Artifact>>,
    /// A plugin that exists already (`existing = "<name>"`): wanted, adopted, never uploaded or
    /// replaced.
    pub existing: bool,
    /// The connector class the zip must hold.
    pub connector_class: Option<String>,
    /// The plan's bucket, where the zip is uploaded.
    pub bucket: ResourceId,
    /// The zip's key in that bucket.
    pub key: String,
    /// The plan's connector: an older plugin is deleted after it moved to the new one.
    pub connector: ResourceId,
    /// Tags, ownership included.
    pub tags: Tags,
    /// What discovery listed.
    pub discovery: Arc<Discovery>,
    /// The Region (its partition is in the bucket's ARN).
    pub region: String,
    /// How to wait for plugin states.
    pub poll: Poll,
}

/// What the plan wants.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    location: String,
    existing: bool,
    tags: Tags,
}

/// What MSK Connect has.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    arn: String,
    state: String,
    location: Option<String>,
    tags: Tags,
    /// Connectors other than the plan's that run this plugin.
    used_by: Vec<String>,
}

impl MskConnectPlugin {
    fn bucket_name(&self) -> &str {
        &self.bucket.name
    }

    fn location(&self) -> String {
        format!("arn:{}:s3:::{}/{}", crate::aws::partition(&self.region), self.bucket_name(), self.key)
    }

    /// Uploads the zip unless the bucket has it already (the key is content-addressed).
    async fn upload(&self, aws: &Aws, artifact: &Artifact) -> Result<(), ResourceError> {
        match aws.s3.head_object().bucket(self.bucket_name()).key(&self.key).send().await.or_aws("s3:HeadObject") {
            Ok(_) => return Ok(()),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        let bytes = artifact.bytes(self.connector_class.as_deref()).await.map_err(artifact_error)?;
        aws.s3
            .put_object()
            .bucket(self.bucket_name())
            .key(&self.key)
            .content_type("application/zip")
            .metadata("sha256", &artifact.sha256)
            .body(bytes.into())
            .send()
            .await
            .or_aws("s3:PutObject")?;
        Ok(())
    }

    async fn describe(&self, aws: &Aws, arn: &str) -> Result<Option<(String, Option<String>)>, AwsError> {
        match aws.kafkaconnect.describe_custom_plugin().custom_plugin_arn(arn).send().await.or_aws("kafkaconnect:DescribeCustomPlugin") {
            Ok(out) => Ok(Some((
                out.custom_plugin_state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                out.state_description().map(|d| format!("{}: {}", d.code().unwrap_or("error"), d.message().unwrap_or(""))),
            ))),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn create(&self, aws: &Aws, artifact: &Artifact, tags: &Tags) -> Result<String, ResourceError> {
        self.upload(aws, artifact).await?;
        let location = S3Location::builder()
            .bucket_arn(format!("arn:{}:s3:::{}", crate::aws::partition(&aws.region), self.bucket_name()))
            .file_key(&self.key)
            .build()
            .map_err(|e| AwsError::Other { operation: "kafkaconnect:CreateCustomPlugin", detail: e.to_string() })?;
        let created = aws
            .kafkaconnect
            .create_custom_plugin()
            .name(&self.name)
            .content_type(CustomPluginContentType::Zip)
            .description(format!("pinfra: sha256 {}", artifact.sha256))
            .location(CustomPluginLocation::builder().s3_location(location).build())
            .set_tags(Some(tags.clone().into_iter().collect()))
            .send()
            .await
            .or_aws("kafkaconnect:CreateCustomPlugin");
        let arn = match created {
            Ok(out) => out.custom_plugin_arn().unwrap_or_default().to_owned(),
            // Created by an interrupted earlier run: the name holds the hash, so it is this zip.
            Err(e) if e.is_code(&["ConflictException"]) => {
                let listing = list_connect(aws, self.name.rsplit_once('-').map_or(&*self.name, |(base, _)| base), false).await?;
                listing.plugins.into_iter().find(|p| p.name == self.name).map(|p| p.arn).ok_or(e)?
            }
            Err(e) => return Err(e.into()),
        };
        self.wait_active(aws, &arn).await?;
        Ok(arn)
    }

    async fn wait_active(&self, aws: &Aws, arn: &str) -> Result<(), ResourceError> {
        let what = format!("custom plugin {} to be ACTIVE", self.name);
        let outcome = poll_until(self.poll, Pace::Minutes, &what, 1, || async {
            match self.describe(aws, arn).await? {
                Some((state, _)) if state == "ACTIVE" => Ok(Seen::Done(())),
                Some((state, reason)) if state == "CREATE_FAILED" => Err(ResourceError::refused(
                    format!(
                        "MSK Connect could not create custom plugin {}: {}",
                        self.name,
                        reason.unwrap_or_else(|| "no reason given".into())
                    ),
                    "check that the zip is the connector's plugin archive; apply again to retry with a new plugin",
                )),
                Some((state, _)) => Ok(Seen::Pending(state)),
                None => Ok(Seen::Pending("not found yet".into())),
            }
        })
        .await;
        outcome.map_err(wait_error)
    }

    async fn remove(&self, aws: &Aws, live: &Live) -> Result<(), ResourceError> {
        match aws.kafkaconnect.delete_custom_plugin().custom_plugin_arn(&live.arn).send().await.or_aws("kafkaconnect:DeleteCustomPlugin") {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) if e.is_code(&["ConflictException", "BadRequestException"]) => {
                return Err(ResourceError::refused(
                    format!("MSK Connect refused to delete custom plugin {}: {e}", self.name),
                    "a connector still uses it; it is deleted by a later apply once no connector does",
                ));
            }
            Err(e) => return Err(e.into()),
        }
        let what = format!("custom plugin {} to be deleted", self.name);
        poll_until(self.poll, Pace::Minutes, &what, 1, || async {
            Ok::<_, ResourceError>(match self.describe(aws, &live.arn).await? {
                None => Seen::Done(()),
                Some((state, _)) => Seen::Pending(state),
            })
        })
        .await
        .map_err(wait_error)?;
        // The zip went with the plugin: delete it too when it is under the key pinfra chose.
        if let Some((bucket, key)) = live.location.as_deref().and_then(|l| l.split_once(":s3:::")).and_then(|(_, l)| l.split_once('/'))
            && !self.existing
            && bucket == self.bucket_name()
            && key.ends_with(".zip")
            && self.key.rsplit_once('/').is_some_and(|(prefix, _)| key.starts_with(&format!("{prefix}/")))
        {
            match aws.s3.delete_object().bucket(bucket).key(key).send().await.or_aws("s3:DeleteObject") {
                Err(e) if !e.is_not_found() => return Err(e.into()),
                _ => {}
            }
        }
        Ok(())
    }
}

fn artifact_error(error: ArtifactError) -> ResourceError {
    let hint = error.hint();
    ResourceError::refused(error.to_string(), hint)
}

/// Adds or overwrites `tags` on an MSK Connect plugin or connector.
pub(super) async fn tag(aws: &Aws, arn: &str, tags: &Tags) -> Result<(), AwsError> {
    aws.kafkaconnect
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(tags.clone().into_iter().collect()))
        .send()
        .await
        .or_aws("kafkaconnect:TagResource")?;
    Ok(())
}

/// A failed or timed-out wait for an MSK Connect `what` (plugin, connector), as a resource error.
pub(super) fn connect_wait_error(error: WaitError<ResourceError>, what: &str) -> ResourceError {
    match error {
        WaitError::Failed(e) => e,
        timeout @ WaitError::Timeout { .. } => {
            ResourceError::refused(timeout.to_string(), format!("raise --timeout, or look at the {what} in the MSK Connect console"))
        }
    }
}

fn wait_error(error: WaitError<ResourceError>) -> ResourceError {
    connect_wait_error(error, "plugin")
}

/// The name and state of the custom plugin `arn` (DescribeCustomPlugin): how `import` reads the
/// plugin a hand-made connector runs, which need not carry the plan's name (so discovery's
/// listing may not hold it).
pub async fn describe(aws: &Aws, arn: &str) -> Result<(String, String), AwsError> {
    let out = aws.kafkaconnect.describe_custom_plugin().custom_plugin_arn(arn).send().await.or_aws("kafkaconnect:DescribeCustomPlugin")?;
    Ok((out.name().unwrap_or_default().to_owned(), out.custom_plugin_state().map(|s| s.as_str().to_owned()).unwrap_or_default()))
}

impl Kind for MskConnectPlugin {
    type Desired = Desired;
    type Live = Live;

    fn id(&self) -> ResourceId {
        ResourceId::new(KIND, &self.name)
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        match (&self.artifact, self.existing) {
            (Some(_), _) => vec![self.bucket.clone()],
            (None, true) => Vec::new(),
            (None, false) => vec![self.connector.clone()],
        }
    }

    fn destroy_depends_on(&self) -> Vec<ResourceId> {
        // The bucket holds the zip: it goes after every plugin. An old plugin goes after the
        // connector too, which lists it among its own destroy dependencies.
        vec![self.bucket.clone()]
    }

    fn presence(&self) -> Presence {
        if self.artifact.is_some() || self.existing { Presence::Wanted } else { Presence::Unwanted }
    }

    fn keep_unwanted(live: &Live) -> Option<String> {
        (!live.used_by.is_empty())
            .then(|| format!("still used by connector {} outside the plan: kept until no other connector uses it", live.used_by.join(", ")))
    }

    async fn observe(&self, aws: &Aws) -> Result<Option<Live>, AwsError> {
        let Some(listing) = &self.discovery.connect else { return Ok(None) };
        let Some(summary) = listing.plugins.iter().find(|p| p.name == self.name) else { return Ok(None) };
        let tags = match aws
            .kafkaconnect
            .list_tags_for_resource()
            .resource_arn(&summary.arn)
            .send()
            .await
            .or_aws("kafkaconnect:ListTagsForResource")
        {
            Ok(out) => out.tags().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default(),
            // Listed a moment ago, deleted since.
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(Live {
            arn: summary.arn.clone(),
            state: summary.state.clone(),
            location: summary.location.clone(),
            tags,
            used_by: listing.users(&summary.arn, &self.connector.name),
        }))
    }

    fn desired(&self, _inputs: &Inputs) -> Desired {
        Desired { location: self.location(), existing: self.existing, tags: self.tags.clone() }
    }

    fn diff(desired: &Desired, live: Option<&Live>) -> Result<Vec<FieldChange>, ResourceError> {
        if desired.existing && live.is_none() {
            return Err(ResourceError::refused(
                "the custom plugin named by `[connect.plugin] existing` does not exist",
                "check its name in the MSK Connect console, or give `source` (the zip) so that pinfra makes the plugin",
            ));
        }
        let mut fields = Fields::new(live.is_none());
        if let Some(live) = live {
            // A plugin that failed to create is replaced; one being created or deleted is waited
            // for by apply.
            if live.state == "CREATE_FAILED" && desired.existing {
                return Err(ResourceError::refused(
                    "the custom plugin named by `[connect.plugin] existing` failed to create (CREATE_FAILED)",
                    "make the plugin again by hand, or give `source` (the zip) so that pinfra makes one",
                ));
            } else if live.state == "CREATE_FAILED" {
                fields.known("state", "ACTIVE", Some(Json::String(live.state.clone())), true);
            } else if live.state != "ACTIVE" {
                // Left CREATING by an interrupted run: apply waits for it, so the connector
                // is created only on an ACTIVE plugin.
                fields.known("state", "ACTIVE", Some(Json::String(live.state.clone())), false);
            }
        } else {
            fields.known("location", desired.location.clone(), None, true);
        }
        fields.tags("tags", &desired.tags, live.map(|l| &l.tags));
        Ok(fields.finish())
    }

    const OUTPUTS: &'static [&'static str] = &[OUTPUT_ARN, "name"];

    fn live_tags(live: &Live) -> Option<&Tags> {
        Some(&live.tags)
    }

    fn outputs(&self, live: &Live) -> Outputs {
        Outputs::from([(OUTPUT_ARN, Value::of(live.arn.clone())), ("name", Value::of(self.name.clone()))])
    }

    async fn apply(&self, aws: &Aws, desired: &Desired, live: Option<&Live>, change: &Change) -> Result<Outputs, ResourceError> {
        let arn = match (live, &self.artifact) {
            // An existing plugin: tags only (diff refused a missing or failed one).
            (Some(live), None) if self.existing => {
                if change.touches("tags") {
                    tag(aws, &live.arn, &desired.tags).await?;
                }
                if live.state != "ACTIVE" {
                    self.wait_active(aws, &live.arn).await?;
                }
                live.arn.clone()
            }
            (_, None) => return Ok(Outputs::new()),
            (live, Some(artifact)) => self.converge(aws, artifact, desired, live, change).await?,
        };
        Ok(Outputs::from([(OUTPUT_ARN, Value::of(arn)), ("name", Value::of(self.name.clone()))]))
    }

    async fn delete(&self, aws: &Aws, live: &Live) -> Result<(), ResourceError> {
        self.remove(aws, live).await
    }
}

impl MskConnectPlugin {
    /// Creates, replaces, tags or waits for the plan's content-addressed plugin.
    async fn converge(
        &self,
        aws: &Aws,
        artifact: &Artifact,
        desired: &Desired,
        live: Option<&Live>,
        change: &Change,
    ) -> Result<String, ResourceError> {
        Ok(match live {
            Some(live) if change.action == crate::engine::Action::Replace => {
                self.remove(aws, live).await?;
                self.create(aws, artifact, &desired.tags).await?
            }
            Some(live) => {
                if change.touches("tags") {
                    tag(aws, &live.arn, &desired.tags).await?;
                }
                // Created by an interrupted run and still CREATING: wait for it.
                if live.state != "ACTIVE" {
                    self.wait_active(aws, &live.arn).await?;
                }
                live.arn.clone()
            }
            None => self.create(aws, artifact, &desired.tags).await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(state: &str, tags: &[(&str, &str)]) -> Live {
        Live {
            arn: "arn:aws:kafkaconnect:us-east-1:123456789012:custom-plugin/p-0123456789ab/x".into(),
            state: state.into(),
            location: None,
            tags: tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            used_by: Vec::new(),
        }
    }

    fn desired() -> Desired {
        Desired {
            location: "arn:aws:s3:::b/pinfra/plugins/p.zip".into(),
            existing: false,
            tags: Tags::from([("pinfra:env".into(), "dev".into())]),
        }
    }

    #[test]
    fn diff_table() {
        let paths = |l: Option<&Live>| -> Vec<(String, bool)> {
            MskConnectPlugin::diff(&desired(), l).unwrap().into_iter().map(|f| (f.path, f.forces_replace)).collect()
        };
        assert_eq!(paths(None), [("location".to_owned(), false), ("tags.pinfra:env".to_owned(), false)]);
        assert!(paths(Some(&live("ACTIVE", &[("pinfra:env", "dev")]))).is_empty());
        assert_eq!(paths(Some(&live("CREATING", &[("pinfra:env", "dev")]))), [("state".to_owned(), false)]);
        assert_eq!(paths(Some(&live("ACTIVE", &[]))), [("tags.pinfra:env".to_owned(), false)]);
        assert_eq!(paths(Some(&live("CREATE_FAILED", &[("pinfra:env", "dev")]))), [("state".to_owned(), true)]);
    }

    #[test]
    fn an_old_plugin_in_use_is_kept() {
        let mut old = live("ACTIVE", &[]);
        assert_eq!(MskConnectPlugin::keep_unwanted(&old), None);
        old.used_by = vec!["someone-elses".into()];
        assert!(MskConnectPlugin::keep_unwanted(&old).unwrap().contains("someone-elses"));
    }
}
