//! Every resource kind pinfra manages, one module each, and [`for_plan`], the one ordered list
//! that turns a plan into the engine's nodes.

pub mod iam_instance_profile;
pub mod iam_role;
pub mod msk_cluster;
pub mod policy;
pub mod s3_bucket;

use std::collections::BTreeMap;

use crate::engine::{Node, Outputs, Ownership, ResourceId, Tags, Value};
use crate::plan::Plan;

/// The ownership tags of a plan.
pub fn ownership(plan: &Plan) -> Ownership {
    Ownership { plan: plan.environment.project.clone(), env: plan.environment.name.clone() }
}

/// The resources of `plan`, in registry order (the engine orders them by dependency).
pub fn for_plan(plan: &Plan) -> Vec<Box<dyn Node>> {
    let mut tags: Tags = plan.environment.tags.clone();
    tags.extend(ownership(plan).tags());
    let cluster = msk_cluster::MskCluster { cluster: plan.msk.cluster.clone() };
    let cluster_id = ResourceId::new(msk_cluster::KIND, plan.msk.cluster.name());
    vec![
        Box::new(cluster),
        Box::new(s3_bucket::S3Bucket { spec: plan.bucket.clone(), region: plan.environment.region.clone(), tags: tags.clone() }),
        Box::new(iam_role::IamRole {
            name: plan.role.name.clone(),
            bucket: plan.bucket.name.clone(),
            user_id: plan.environment.user_id.clone(),
            cluster: cluster_id,
            tags: tags.clone(),
        }),
        Box::new(iam_instance_profile::IamInstanceProfile { name: plan.role.instance_profile.clone(), role: plan.role.name.clone(), tags }),
    ]
}

/// The outputs users see (`pinfra output`), by stable name, from the outputs of existing
/// resources. Resources that do not exist yet show as unknown.
pub fn named_outputs(plan: &Plan, live: &BTreeMap<ResourceId, Outputs>) -> BTreeMap<&'static str, Value> {
    let get = |kind: &'static str, name: &str, key: &str| {
        live.get(&ResourceId::new(kind, name)).and_then(|o| o.get(key)).cloned().unwrap_or(Value::Unknown)
    };
    BTreeMap::from([
        ("cluster_arn", get(msk_cluster::KIND, plan.msk.cluster.name(), msk_cluster::OUTPUT_ARN)),
        ("bucket_name", get(s3_bucket::KIND, &plan.bucket.name, "name")),
        ("bucket_arn", get(s3_bucket::KIND, &plan.bucket.name, "arn")),
        ("role_name", get(iam_role::KIND, &plan.role.name, "name")),
        ("role_arn", get(iam_role::KIND, &plan.role.name, "arn")),
        ("instance_profile_name", get(iam_instance_profile::KIND, &plan.role.instance_profile, "name")),
        ("instance_profile_arn", get(iam_instance_profile::KIND, &plan.role.instance_profile, "arn")),
    ])
}
