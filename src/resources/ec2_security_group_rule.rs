//! One ingress rule pinfra owns in a security group it does not own: the brokers' group admits
//! the Kafka client's group (or the connector's own group) on the port of IAM authentication.
//!
//! Security-group rules have ids of their own (`sgr-…`) and take tags (EC2 API reference,
//! DescribeSecurityGroupRules, AuthorizeSecurityGroupIngress `TagSpecifications` with resource
//! type `security-group-rule`), so this one rule is found by its tags, created, kept and revoked
//! by id without touching any other rule of the group. A rule a person added by hand with the
//! same meaning (TCP on exactly that port from that group, untagged) is adopted, not doubled.

use aws_sdk_ec2::types::{Filter, IpPermission, ResourceType, SecurityGroupRule, TagSpecification, UserIdGroupPair};
use serde_json::Value as Json;

use crate::aws::ec2_tags;
use crate::aws::{Aws, AwsError, Classify};
use crate::engine::{Change, FieldChange, Fields, Inputs, Kind, Outputs, ResourceError, ResourceId, TAG_ENV, TAG_PLAN, Tags, Value};

/// The kind name.
pub const KIND: &str = "ec2_security_group_rule";
/// The brokers' port for SASL/IAM clients (MSK developer guide, "Port information").
pub const IAM_BROKER_PORT: u16 = 9098;

/// The group a rule admits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A group pinfra manages: its `id` output, and its name (to find the rule before that
    /// output is known).
    Managed {
        /// The group's resource.
        node: ResourceId,
        /// Its id when it exists already.
        known: Option<String>,
    },
    /// A group made elsewhere, by id.
    Group(String),
}

/// The rule as the plan implies it.
#[derive(Debug, Clone)]
pub struct Ec2SecurityGroupRule {
    /// Its name in the diff, such as `<client group>-to-brokers`.
    pub name: String,
    /// The group that admits (the brokers' first group), `sg-…`.
    pub group: String,
    /// The group admitted.
    pub source: Source,
    /// The TCP port.
    pub port: u16,
    /// Tags, ownership included.
    pub tags: Tags,
}

/// What the plan wants.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// The group admitted, once known.
    source: Option<String>,
    port: u16,
    tags: Tags,
}

/// What EC2 has.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    id: String,
    group: String,
    /// `tcp/<port> from <sg>` as it stands.
    rule: String,
    tags: Tags,
}

fn describe(port: u16, source: &str) -> String {
    format!("tcp/{port} from {source}")
}

impl Ec2SecurityGroupRule {
    fn source_id(&self) -> Option<&str> {
        match &self.source {
            Source::Managed { known, .. } => known.as_deref(),
            Source::Group(id) => Some(id),
        }
    }

    /// Ours by tags, else an untagged rule of exactly this meaning.
    fn pick<'a>(&self, rules: &'a [SecurityGroupRule]) -> Option<&'a SecurityGroupRule> {
        let ingress = || rules.iter().filter(|r| r.is_egress() == Some(false));
        let ours = |r: &&SecurityGroupRule| {
            let tags = ec2_tags::from_ec2(r.tags());
            [TAG_PLAN, TAG_ENV].iter().all(|k| tags.contains_key(*k) && tags.get(*k) == self.tags.get(*k))
        };
        let same = |r: &&SecurityGroupRule| {
            let port = i32::from(self.port);
            matches!(r.ip_protocol(), Some("tcp" | "6"))
                && r.from_port() == Some(port)
                && r.to_port() == Some(port)
                && self.source_id().is_some()
                && r.referenced_group_info().and_then(|g| g.group_id()) == self.source_id()
        };
        ingress().find(ours).or_else(|| ingress().find(same))
    }

    async fn rules(&self, aws: &Aws) -> Result<Vec<SecurityGroupRule>, AwsError> {
        let mut pages = aws
            .ec2
            .describe_security_group_rules()
            .filters(Filter::builder().name("group-id").values(&self.group).build())
            .into_paginator()
            .send();
        let mut rules = Vec::new();
        while let Some(page) = pages.next().await {
            rules.extend(page.or_aws("ec2:DescribeSecurityGroupRules")?.security_group_rules().iter().cloned());
        }
        Ok(rules)
    }

    fn live(rule: &SecurityGroupRule, group: &str) -> Live {
        let port = rule.from_port().unwrap_or_default();
        let source = rule.referenced_group_info().and_then(|g| g.group_id()).or(rule.cidr_ipv4()).unwrap_or("?");
        let rule_text = if rule.from_port() == rule.to_port() {
            format!("{}/{port} from {source}", rule.ip_protocol().unwrap_or("-1"))
        } else {
            format!("{}/{port}-{} from {source}", rule.ip_protocol().unwrap_or("-1"), rule.to_port().unwrap_or_default())
        };
        Live {
            id: rule.security_group_rule_id().unwrap_or_default().to_owned(),
            group: group.to_owned(),
            rule: rule_text,
            tags: ec2_tags::from_ec2(rule.tags()),
        }
    }

    async fn authorize(&self, aws: &Aws, source: &str, tags: &Tags) -> Result<String, ResourceError> {
        let permission = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(i32::from(self.port))
            .to_port(i32::from(self.port))
            .user_id_group_pairs(UserIdGroupPair::builder().group_id(source).description(format!("pinfra: {}", self.name)).build())
            .build();
        let created = aws
            .ec2
            .authorize_security_group_ingress()
            .group_id(&self.group)
            .ip_permissions(permission)
            .tag_specifications(
                TagSpecification::builder().resource_type(ResourceType::SecurityGroupRule).set_tags(Some(ec2_tags::to_ec2(tags))).build(),
            )
            .send()
            .await
            .or_aws("ec2:AuthorizeSecurityGroupIngress");
        match created {
            Ok(out) => Ok(out.security_group_rules().first().and_then(|r| r.security_group_rule_id()).unwrap_or_default().to_owned()),
            // Made by an interrupted earlier run (or by hand since the diff): tag that one.
            Err(e) if e.is_code(&["InvalidPermission.Duplicate"]) => {
                let rules = self.rules(aws).await?;
                let id = self
                    .pick(&rules)
                    .and_then(|r| r.security_group_rule_id())
                    .ok_or_else(|| ResourceError::refused(format!("{} exists but cannot be found", self.id()), "run the command again"))?
                    .to_owned();
                aws.ec2.create_tags().resources(&id).set_tags(Some(ec2_tags::to_ec2(tags))).send().await.or_aws("ec2:CreateTags")?;
                Ok(id)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn revoke(&self, aws: &Aws, live: &Live) -> Result<(), ResourceError> {
        match aws
            .ec2
            .revoke_security_group_ingress()
            .group_id(&live.group)
            .security_group_rule_ids(&live.id)
            .send()
            .await
            .or_aws("ec2:RevokeSecurityGroupIngress")
        {
            Err(e) if !e.is_code(&["InvalidPermission.NotFound", "InvalidSecurityGroupRuleId.NotFound", "InvalidGroup.NotFound"]) => {
                Err(e.into())
            }
            _ => Ok(()),
        }
    }
}

impl Kind for Ec2SecurityGroupRule {
    type Desired = Desired;
    type Live = Live;

    fn id(&self) -> ResourceId {
        ResourceId::new(KIND, &self.name)
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        match &self.source {
            Source::Managed { node, .. } => vec![node.clone()],
            Source::Group(_) => Vec::new(),
        }
    }

    async fn observe(&self, aws: &Aws) -> Result<Option<Live>, AwsError> {
        let rules = match self.rules(aws).await {
            Err(e) if e.is_code(&["InvalidGroup.NotFound", "InvalidGroupId.Malformed"]) => return Ok(None),
            other => other?,
        };
        Ok(self.pick(&rules).map(|r| Self::live(r, &self.group)))
    }

    fn desired(&self, inputs: &Inputs) -> Desired {
        let source = match &self.source {
            Source::Managed { node, .. } => inputs.get(node, "id"),
            Source::Group(id) => Value::of(id.clone()),
        };
        let source = match source {
            Value::Known(Json::String(id)) => Some(id),
            _ => None,
        };
        Desired { source, port: self.port, tags: self.tags.clone() }
    }

    fn diff(desired: &Desired, live: Option<&Live>) -> Result<Vec<FieldChange>, ResourceError> {
        let mut fields = Fields::new(live.is_none());
        // A rule's meaning cannot change: another source group is another rule.
        let rule = desired.source.as_ref().map_or(Value::Unknown, |source| Value::of(describe(desired.port, source)));
        fields.field("rule", rule, live.map(|l| Json::from(l.rule.clone())), true);
        fields.tags("tags", &desired.tags, live.map(|l| &l.tags));
        Ok(fields.finish())
    }

    const OUTPUTS: &'static [&'static str] = &["id"];

    fn live_tags(live: &Live) -> Option<&Tags> {
        Some(&live.tags)
    }

    fn outputs(&self, live: &Live) -> Outputs {
        Outputs::from([("id", Value::of(live.id.clone()))])
    }

    async fn apply(&self, aws: &Aws, desired: &Desired, live: Option<&Live>, change: &Change) -> Result<Outputs, ResourceError> {
        let Some(source) = desired.source.clone() else {
            return Err(ResourceError::refused(format!("{} depends on values that are still unknown", self.id()), "apply again"));
        };
        let id = match live {
            Some(live) if change.action == crate::engine::Action::Replace => {
                self.revoke(aws, live).await?;
                self.authorize(aws, &source, &desired.tags).await?
            }
            Some(live) => {
                if change.touches("tags") {
                    let tags = ec2_tags::to_ec2(&desired.tags);
                    aws.ec2.create_tags().resources(&live.id).set_tags(Some(tags)).send().await.or_aws("ec2:CreateTags")?;
                }
                live.id.clone()
            }
            None => self.authorize(aws, &source, &desired.tags).await?,
        };
        Ok(Outputs::from([("id", Value::of(id))]))
    }

    async fn delete(&self, aws: &Aws, live: &Live) -> Result<(), ResourceError> {
        self.revoke(aws, live).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(rule: &str, tags: &[(&str, &str)]) -> Live {
        Live {
            id: "sgr-1".into(),
            group: "sg-brokers".into(),
            rule: rule.into(),
            tags: tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        }
    }

    #[test]
    fn the_rule_is_replaced_when_its_source_group_changes_and_tagged_in_place() {
        let tags = Tags::from([(TAG_PLAN.to_owned(), "p".to_owned()), (TAG_ENV.to_owned(), "dev".to_owned())]);
        let desired = Desired { source: Some("sg-client".into()), port: IAM_BROKER_PORT, tags: tags.clone() };
        type Case = (&'static str, Option<Live>, Vec<(&'static str, bool)>);
        let cases: Vec<Case> = vec![
            ("create", None, vec![("rule", false), ("tags.pinfra:env", false), ("tags.pinfra:plan", false)]),
            ("converged", Some(live("tcp/9098 from sg-client", &[(TAG_PLAN, "p"), (TAG_ENV, "dev")])), vec![]),
            ("adopted by hand", Some(live("tcp/9098 from sg-client", &[])), vec![("tags.pinfra:env", false), ("tags.pinfra:plan", false)]),
            (
                "the client's group was replaced",
                Some(live("tcp/9098 from sg-old", &[(TAG_PLAN, "p"), (TAG_ENV, "dev")])),
                vec![("rule", true)],
            ),
        ];
        for (name, live, expected) in cases {
            let changes = Ec2SecurityGroupRule::diff(&desired, live.as_ref()).expect("diff");
            let found: Vec<(&str, bool)> = changes.iter().map(|c| (c.path.as_str(), c.forces_replace)).collect();
            assert_eq!(found, expected, "{name}");
        }
        // Before the client's group exists its id is unknown: the rule is created after it.
        let unknown = Desired { source: None, port: IAM_BROKER_PORT, tags };
        let changes = Ec2SecurityGroupRule::diff(&unknown, None).expect("diff");
        assert_eq!(changes.first().and_then(|c| c.new.clone()), Some(Value::Unknown));
    }
}
