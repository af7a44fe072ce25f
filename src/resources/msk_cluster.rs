//! The existing MSK cluster the pipeline uses, looked up by name or ARN. pinfra reads it (its
//! ARN scopes the role's policy) but does not create, change or delete it.

use crate::aws::{Aws, AwsError, Classify};
use crate::engine::{Change, FieldChange, Inputs, Kind, Outputs, ResourceError, ResourceId, Tags, Value};
use crate::plan::ClusterRef;

/// The kind name.
pub const KIND: &str = "msk_cluster";
/// The output carrying the cluster ARN.
pub const OUTPUT_ARN: &str = "arn";

/// The cluster as the plan names it.
#[derive(Debug, Clone)]
pub struct MskCluster {
    /// Name or ARN.
    pub cluster: ClusterRef,
}

/// What MSK has.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    arn: String,
    state: String,
}

impl Kind for MskCluster {
    type Desired = ();
    type Live = Live;

    fn id(&self) -> ResourceId {
        ResourceId::new(KIND, self.cluster.name())
    }

    fn read_only(&self) -> bool {
        true
    }

    async fn observe(&self, aws: &Aws) -> Result<Option<Live>, AwsError> {
        match &self.cluster {
            ClusterRef::Arn(arn) => match aws.kafka.describe_cluster_v2().cluster_arn(arn).send().await.or_aws("kafka:DescribeClusterV2") {
                Ok(out) => Ok(out.cluster_info.map(|c| Live {
                    arn: c.cluster_arn.unwrap_or_else(|| arn.clone()),
                    state: c.state.map(|s| s.as_str().to_owned()).unwrap_or_default(),
                })),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            },
            ClusterRef::Name(name) => {
                let mut token: Option<String> = None;
                loop {
                    let page = aws
                        .kafka
                        .list_clusters_v2()
                        .cluster_name_filter(name)
                        .set_next_token(token.take())
                        .send()
                        .await
                        .or_aws("kafka:ListClustersV2")?;
                    // The filter matches prefixes: keep the exact name only.
                    if let Some(found) = page.cluster_info_list().iter().find(|c| c.cluster_name() == Some(name.as_str())) {
                        return Ok(Some(Live {
                            arn: found.cluster_arn().unwrap_or_default().to_owned(),
                            state: found.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                        }));
                    }
                    match page.next_token {
                        Some(next) if !next.is_empty() => token = Some(next),
                        _ => return Ok(None),
                    }
                }
            }
        }
    }

    fn desired(&self, _inputs: &Inputs) {}

    fn diff(_desired: &(), _live: Option<&Live>) -> Result<Vec<FieldChange>, ResourceError> {
        Ok(Vec::new())
    }

    fn live_tags(_live: &Live) -> Option<&Tags> {
        None
    }

    fn outputs(&self, live: &Live) -> Outputs {
        Outputs::from([(OUTPUT_ARN, Value::of(live.arn.clone())), ("state", Value::of(live.state.clone()))])
    }

    async fn apply(&self, _aws: &Aws, _desired: &(), live: Option<&Live>, _change: &Change) -> Result<Outputs, ResourceError> {
        // Read-only: the engine never asks for a change, so this only reports what exists.
        live.map(|l| self.outputs(l))
            .ok_or_else(|| ResourceError::refused(format!("{} does not exist", self.id()), "create the cluster first"))
    }

    async fn delete(&self, _aws: &Aws, _live: &Live) -> Result<(), ResourceError> {
        Err(ResourceError::refused(format!("{} is not pinfra's to delete", self.id()), "delete the cluster in the MSK console"))
    }
}
