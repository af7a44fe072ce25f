//! The instance profile through which the EC2 Kafka client assumes the role.

use serde_json::Value as Json;

use super::iam_role::{self, iam_tags, is_propagating, tag_map};
use crate::aws::{Aws, AwsError, Classify};
use crate::engine::{Change, FieldChange, Fields, Inputs, Kind, Outputs, ResourceError, ResourceId, Tags, Value};
use crate::retry::{Backoff, retry};

/// The kind name.
pub const KIND: &str = "iam_instance_profile";
/// Output: the profile's `InstanceProfileId`, which tells a profile made again under the same
/// name (and so the same ARN) from the one an instance is associated with.
pub const OUTPUT_ID: &str = "id";

/// The instance profile as the plan declares it.
#[derive(Debug, Clone)]
pub struct IamInstanceProfile {
    /// Profile name.
    pub name: String,
    /// The role it holds.
    pub role: String,
    /// Tags, ownership included.
    pub tags: Tags,
}

/// What the plan wants.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    role: String,
    tags: Tags,
}

/// What IAM has.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    arn: String,
    id: String,
    /// An instance profile holds at most one role.
    roles: Vec<String>,
    tags: Tags,
}

impl Live {
    /// The role it holds, if any (an instance profile holds at most one).
    pub fn role(&self) -> Option<&str> {
        self.roles.first().map(String::as_str)
    }
}

/// The instance profile `name` (GetInstanceProfile), or `None`: what the kind observes, and how
/// `import` learns the role of a hand-built instance.
pub async fn find(aws: &Aws, name: &str) -> Result<Option<Live>, AwsError> {
    match aws.iam.get_instance_profile().instance_profile_name(name).send().await.or_aws("iam:GetInstanceProfile") {
        Ok(out) => {
            let Some(profile) = out.instance_profile else { return Ok(None) };
            Ok(Some(Live {
                roles: profile.roles().iter().map(|r| r.role_name().to_owned()).collect(),
                tags: tag_map(profile.tags()),
                arn: profile.arn,
                id: profile.instance_profile_id,
            }))
        }
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

impl Kind for IamInstanceProfile {
    type Desired = Desired;
    type Live = Live;

    fn id(&self) -> ResourceId {
        ResourceId::new(KIND, &self.name)
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        vec![ResourceId::new(iam_role::KIND, &self.role)]
    }

    async fn observe(&self, aws: &Aws) -> Result<Option<Live>, AwsError> {
        find(aws, &self.name).await
    }

    fn desired(&self, _inputs: &Inputs) -> Desired {
        Desired { role: self.role.clone(), tags: self.tags.clone() }
    }

    fn diff(desired: &Desired, live: Option<&Live>) -> Result<Vec<FieldChange>, ResourceError> {
        let mut fields = Fields::new(live.is_none());
        let live_role = live.map(|l| l.roles.first().map_or(Json::Null, |r| Json::String(r.clone())));
        fields.known("role", desired.role.clone(), live_role, false);
        fields.tags("tags", &desired.tags, live.map(|l| &l.tags));
        Ok(fields.finish())
    }

    const OUTPUTS: &'static [&'static str] = &["arn", "name", OUTPUT_ID];

    fn live_tags(live: &Live) -> Option<&Tags> {
        Some(&live.tags)
    }

    fn outputs(&self, live: &Live) -> Outputs {
        Outputs::from([
            ("arn", Value::of(live.arn.clone())),
            ("name", Value::of(self.name.clone())),
            (OUTPUT_ID, Value::of(live.id.clone())),
        ])
    }

    async fn apply(&self, aws: &Aws, desired: &Desired, live: Option<&Live>, change: &Change) -> Result<Outputs, ResourceError> {
        let (arn, id) = match live {
            Some(live) => {
                if change.touches("tags") {
                    aws.iam
                        .tag_instance_profile()
                        .instance_profile_name(&self.name)
                        .set_tags(Some(iam_tags(&desired.tags)))
                        .send()
                        .await
                        .or_aws("iam:TagInstanceProfile")?;
                }
                for other in live.roles.iter().filter(|r| **r != desired.role) {
                    aws.iam
                        .remove_role_from_instance_profile()
                        .instance_profile_name(&self.name)
                        .role_name(other)
                        .send()
                        .await
                        .or_aws("iam:RemoveRoleFromInstanceProfile")?;
                }
                (live.arn.clone(), live.id.clone())
            }
            None => {
                let created = match aws
                    .iam
                    .create_instance_profile()
                    .instance_profile_name(&self.name)
                    .set_tags(Some(iam_tags(&desired.tags)))
                    .send()
                    .await
                    .or_aws("iam:CreateInstanceProfile")
                {
                    Ok(out) => out.instance_profile,
                    Err(e) if e.is_code(&["EntityAlreadyExists"]) => {
                        aws.iam
                            .get_instance_profile()
                            .instance_profile_name(&self.name)
                            .send()
                            .await
                            .or_aws("iam:GetInstanceProfile")?
                            .instance_profile
                    }
                    Err(e) => return Err(e.into()),
                };
                created.map(|p| (p.arn, p.instance_profile_id)).unwrap_or_default()
            }
        };
        if change.touches("role") {
            let added = retry(Backoff::IAM_PROPAGATION, "iam:AddRoleToInstanceProfile", is_propagating, || async {
                aws.iam
                    .add_role_to_instance_profile()
                    .instance_profile_name(&self.name)
                    .role_name(&desired.role)
                    .send()
                    .await
                    .or_aws("iam:AddRoleToInstanceProfile")
            })
            .await;
            match added {
                // Already added by an interrupted earlier run.
                Err(e) if e.is_code(&["LimitExceeded", "EntityAlreadyExists"]) => {}
                other => {
                    other?;
                }
            }
        }
        Ok(Outputs::from([("arn", Value::of(arn)), ("name", Value::of(self.name.clone())), (OUTPUT_ID, Value::of(id))]))
    }

    async fn delete(&self, aws: &Aws, live: &Live) -> Result<(), ResourceError> {
        for role in &live.roles {
            match aws
                .iam
                .remove_role_from_instance_profile()
                .instance_profile_name(&self.name)
                .role_name(role)
                .send()
                .await
                .or_aws("iam:RemoveRoleFromInstanceProfile")
            {
                Err(e) if !e.is_not_found() => return Err(e.into()),
                _ => {}
            }
        }
        match aws.iam.delete_instance_profile().instance_profile_name(&self.name).send().await.or_aws("iam:DeleteInstanceProfile") {
            Err(e) if !e.is_not_found() => Err(e.into()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(roles: &[&str], tagged: bool) -> Live {
        let tags = if tagged { Tags::from([("pinfra:env".into(), "dev".into())]) } else { Tags::new() };
        Live {
            arn: "arn:aws:iam::123456789012:instance-profile/p".into(),
            id: "AIPAEXAMPLE".into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            tags,
        }
    }

    #[test]
    fn diff_table() {
        let desired = Desired { role: "r".into(), tags: Tags::from([("pinfra:env".into(), "dev".into())]) };
        let cases: Vec<(&str, Option<Live>, Vec<&str>)> = vec![
            ("create", None, vec!["role", "tags.pinfra:env"]),
            ("converged", Some(live(&["r"], true)), vec![]),
            ("empty profile", Some(live(&[], true)), vec!["role"]),
            ("other role", Some(live(&["x"], true)), vec!["role"]),
            ("untagged", Some(live(&["r"], false)), vec!["tags.pinfra:env"]),
        ];
        for (name, live, expected) in cases {
            let changes = IamInstanceProfile::diff(&desired, live.as_ref()).expect(name);
            assert_eq!(changes.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(), expected, "{name}");
        }
    }
}
