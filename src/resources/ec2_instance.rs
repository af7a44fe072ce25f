//! The EC2 Kafka client: Amazon Linux 2023 with the Kafka CLI, aws-msk-iam-auth and the REST
//! proxy, installed by the user-data that `pinfra render` also writes (the same bytes).
//!
//! EC2 runs user-data once, at first boot: a changed user-data (a new template, version, role or
//! broker list) therefore replaces the instance. The launch carries a ClientToken derived from
//! everything that would make it a different instance, so a retried or interrupted launch never
//! starts a second one. The instance type changes in place (stop, modify, start); IMDSv2, the
//! security group and the instance profile (by its id: one made again under the same name is
//! another profile) are changed in place too; the root volume forces a replacement.

use std::sync::{Arc, OnceLock};

use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, Filter, HttpTokensState, IamInstanceProfileSpecification, InstanceMetadataEndpointState,
    InstanceMetadataOptionsRequest, InstanceNetworkInterfaceSpecification, InstanceStateName, InstanceType, ResourceType, Tag,
    TagSpecification, VolumeType,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use super::{ec2_key_pair, ec2_security_group, iam_instance_profile, iam_role, msk_cluster};
use crate::aws::ec2_tags;
use crate::aws::{Aws, AwsError, Classify};
use crate::engine::{Change, FieldChange, Fields, Inputs, Kind, Outputs, ResourceError, ResourceId, Tags, Value};
use crate::plan::{KafkaClientSpec, Plan};
use crate::render::{self, LiveValues, Templates};
use crate::retry::{Backoff, Pace, Poll, Seen, WaitError, poll_until, retry};

/// The kind name.
pub const KIND: &str = "ec2_instance";
/// The public SSM parameter naming the latest Amazon Linux 2023 AMI.
pub const AL2023_PARAMETER: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

/// The latest Amazon Linux 2023 AMI of the Region ([`AL2023_PARAMETER`], SSM GetParameter).
async fn latest_ami(aws: &Aws) -> Result<String, AwsError> {
    let out = aws.ssm.get_parameter().name(AL2023_PARAMETER).send().await.or_aws("ssm:GetParameter")?;
    Ok(out.parameter().and_then(|p| p.value()).unwrap_or_default().to_owned())
}
const ROOT_DEVICE: &str = "/dev/xvda";
/// The output carrying the instance's subnet.
pub const OUTPUT_SUBNET: &str = "subnet_id";
/// The output carrying the instance's private address.
pub const OUTPUT_PRIVATE_IP: &str = "private_ip";
/// The instance's state (`running`, `stopped`, ...), so that an empty public address can be
/// explained.
pub const OUTPUT_STATE: &str = "state";

/// The instance as the plan declares it.
#[derive(Debug)]
pub struct Ec2Instance {
    /// The `[kafka_client]` section.
    pub spec: KafkaClientSpec,
    /// The whole plan, for rendering the user-data.
    pub plan: Arc<Plan>,
    /// The templates the user-data is rendered from.
    pub templates: Arc<Templates>,
    /// Tags, ownership included (`Name` is added).
    pub tags: Tags,
    /// Where ownership tags say the instance belongs, for the ClientToken.
    pub owner: String,
    /// The resources whose outputs go into the instance.
    pub role: ResourceId,
    /// The instance profile.
    pub profile: ResourceId,
    /// The security group.
    pub security_group: ResourceId,
    /// The cluster.
    pub cluster: ResourceId,
    /// The SSH key pair, when the plan gives a public key.
    pub key_pair: Option<ResourceId>,
    /// How to wait for instance states.
    pub poll: Poll,
    /// Where it goes in the cluster's VPC.
    pub placement: Placement,
    /// The AMI, resolved from SSM at observation unless pinned.
    resolved_ami: OnceLock<String>,
}

impl Ec2Instance {
    /// An instance for `plan`, placed by `placement`.
    pub fn new(plan: Arc<Plan>, templates: Arc<Templates>, tags: Tags, poll: Poll, placement: Placement) -> Self {
        let mut tags = tags;
        tags.insert("Name".to_owned(), plan.kafka_client.instance_name.clone());
        Ec2Instance {
            spec: plan.kafka_client.clone(),
            owner: format!("{}/{}", plan.environment.project, plan.environment.name),
            role: ResourceId::new(iam_role::KIND, &plan.role.name),
            profile: ResourceId::new(iam_instance_profile::KIND, &plan.role.instance_profile),
            security_group: ResourceId::new(ec2_security_group::KIND, &plan.kafka_client.security_group),
            cluster: ResourceId::new(msk_cluster::KIND, plan.msk.cluster.name()),
            key_pair: plan
                .kafka_client
                .ssh_public_key
                .as_ref()
                .map(|_| ResourceId::new(ec2_key_pair::KIND, &plan.kafka_client.ssh_key_name)),
            plan,
            templates,
            tags,
            poll,
            placement,
            resolved_ami: OnceLock::new(),
        }
    }
}

/// Where the instance goes, decided once per run from the network (`network::paths::place_client`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// The brokers' network could not be read: EC2's default subnet, and the subnet is not
    /// compared.
    Default,
    /// Launched into `subnet` with a public address; an instance already in one of
    /// `acceptable` stays where it is.
    Subnet {
        /// Where a new instance goes.
        subnet: String,
        /// Where an existing one may stay.
        acceptable: Vec<String>,
    },
    /// There is no place for it: why, and what to do.
    Refused {
        /// Why.
        reason: String,
        /// What to do.
        hint: String,
    },
}

impl Placement {
    /// The placement `network` gives a client, `planned` the plan's `subnet_id`.
    pub fn in_network(network: Option<&crate::network::Network>, planned: Option<&str>) -> Self {
        let Some(network) = network else { return Placement::Default };
        match crate::network::paths::place_client(network, planned) {
            Ok(subnet) => {
                let acceptable = match planned {
                    Some(_) => vec![subnet.clone()],
                    None => crate::network::paths::public_subnets(network).iter().map(|s| s.id.clone()).collect(),
                };
                Placement::Subnet { subnet, acceptable }
            }
            Err(blocked) => Placement::Refused { reason: blocked.reason, hint: blocked.hint },
        }
    }
}

/// What the plan wants.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    ami: Option<String>,
    ami_pinned: bool,
    instance_type: String,
    profile: String,
    /// The profile's id, once it exists.
    profile_id: Value,
    security_group: Value,
    /// Groups the instance keeps besides the plan's (made elsewhere).
    extra_groups: Vec<String>,
    /// The user-data, once the role ARN and the brokers are known.
    user_data: Value,
    root_volume_gib: i32,
    /// Whether an existing instance's root volume must be encrypted (a new one always is).
    root_volume_encrypted: bool,
    /// Whether an existing instance must require IMDSv2 (a new one always does).
    imdsv2: bool,

    /// Whether the user-data is compared (false: the instance was set up by other means).
    manage_user_data: bool,
    /// The key pair name and the digest of its public key, when SSH is planned.
    key: Option<(String, String)>,
    /// Why the user-data could not be rendered (a broken `--templates` override).
    render_error: Option<String>,
    placement: Placement,
    tags: Tags,
}

impl Desired {
    fn user_data_sha256(&self) -> Value {
        match &self.user_data {
            Value::Known(Json::String(text)) => Value::of(sha256(text)),
            _ => Value::Unknown,
        }
    }

    /// The launch's ClientToken: a digest of every RunInstances parameter, so a retry of the
    /// same launch gets the same token and any other launch another one (EC2 rejects a token
    /// reused with other parameters).
    fn client_token(&self, owner: &str) -> Option<String> {
        let (Value::Known(Json::String(user_data)), Value::Known(Json::String(group))) = (&self.user_data, &self.security_group) else {
            return None;
        };
        let mut identity = format!(
            "{owner}|{}|{}|{}|{}|{}|{group}|{:?}|{:?}",
            self.ami.as_deref().unwrap_or_default(),
            self.instance_type,
            self.profile,
            self.root_volume_gib,
            sha256(user_data),
            self.tags,
            self.key
        );
        // Only when there are any, so the tokens of plain launches stay as they were.
        if !self.extra_groups.is_empty() {
            identity.push('|');
            identity.push_str(&self.extra_groups.join(","));
        }
        if let Placement::Subnet { subnet, .. } = &self.placement {
            identity.push_str("|subnet ");
            identity.push_str(subnet);
        }

        Some(format!("pinfra-{}", &sha256(&identity)[..48]))
    }
}

/// What EC2 has.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    id: String,
    state: String,
    ami: String,
    instance_type: String,
    profile_arn: Option<String>,
    /// The id of the profile the instance is associated with.
    profile_id: Option<String>,
    http_tokens: Option<String>,
    security_groups: Vec<String>,
    user_data_sha256: Option<String>,
    root_volume: Option<(i32, bool)>,
    key_name: Option<String>,
    public_dns: Option<String>,
    public_ip: Option<String>,
    subnet_id: Option<String>,
    private_ip: Option<String>,
    tags: Tags,
}

/// An instance's user-data (decoded) and its root volume's size (GiB) and encryption, read
/// side by side; `None` where the instance has none.
pub async fn user_data_and_root_volume(
    aws: &Aws,
    instance: &aws_sdk_ec2::types::Instance,
) -> Result<(Option<String>, Option<(i32, bool)>), AwsError> {
    let id = instance.instance_id().unwrap_or_default();
    let root_volume_id = instance
        .block_device_mappings()
        .iter()
        .find(|m| m.device_name() == instance.root_device_name())
        .and_then(|m| m.ebs())
        .and_then(|e| e.volume_id());
    let (user_data, volume) = tokio::join!(
        aws.ec2.describe_instance_attribute().instance_id(id).attribute(aws_sdk_ec2::types::InstanceAttributeName::UserData).send(),
        async {
            match root_volume_id {
                Some(volume) => aws.ec2.describe_volumes().volume_ids(volume).send().await.map(Some),
                None => Ok(None),
            }
        }
    );
    let user_data = user_data
        .or_aws("ec2:DescribeInstanceAttribute")?
        .user_data()
        .and_then(|u| u.value())
        .and_then(|v| BASE64.decode(v).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    let root_volume = volume
        .or_aws("ec2:DescribeVolumes")?
        .and_then(|v| v.volumes().first().map(|v| (v.size().unwrap_or_default(), v.encrypted().unwrap_or(false))));
    Ok((user_data, root_volume))
}

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// DescribeInstances with `filters`: every instance it answers (one page).
async fn describe_instances(aws: &Aws, filters: Vec<Filter>) -> Result<Vec<aws_sdk_ec2::types::Instance>, AwsError> {
    let out = aws.ec2.describe_instances().set_filters(Some(filters)).send().await.or_aws("ec2:DescribeInstances")?;
    Ok(out.reservations().iter().flat_map(|r| r.instances()).cloned().collect())
}

/// The instances not terminated (nor shutting down) whose `Name` tag matches `pattern` (EC2's
/// `*` wildcards allowed).
async fn not_terminated_named(aws: &Aws, pattern: &str) -> Result<Vec<aws_sdk_ec2::types::Instance>, AwsError> {
    let filters = vec![
        Filter::builder().name("tag:Name").values(pattern).build(),
        Filter::builder().name("instance-state-name").values("pending").values("running").values("stopping").values("stopped").build(),
    ];
    describe_instances(aws, filters).await
}

/// The Kafka client as a person leaves it: the instance named `name` (its `Name` tag, as the
/// kind finds it), else the only one whose `Name` tag holds `user_id`; `None` when there is
/// neither, an error naming the count when several hold the user id.
pub async fn find_by_hand(aws: &Aws, name: &str, user_id: &str) -> Result<Option<aws_sdk_ec2::types::Instance>, AwsError> {
    let mut instances = not_terminated_named(aws, name).await?;
    if instances.is_empty() {
        instances = not_terminated_named(aws, &format!("*{user_id}*")).await?;
        if instances.len() > 1 {
            return Err(AwsError::Other {
                operation: "ec2:DescribeInstances",
                detail: format!(
                    "{} instances have `{user_id}` in their Name tag and none is named `{name}`; rename the Kafka client `{name}`",
                    instances.len()
                ),
            });
        }
    }
    Ok(instances.into_iter().next())
}

impl Ec2Instance {
    async fn describe(&self, aws: &Aws, filters: Vec<Filter>) -> Result<Option<aws_sdk_ec2::types::Instance>, AwsError> {
        Ok(describe_instances(aws, filters).await?.into_iter().next())
    }

    async fn by_id(&self, aws: &Aws, id: &str) -> Result<Option<aws_sdk_ec2::types::Instance>, AwsError> {
        self.describe(aws, vec![Filter::builder().name("instance-id").values(id).build()]).await
    }

    async fn wait_state(
        &self,
        aws: &Aws,
        id: &str,
        wanted: InstanceStateName,
    ) -> Result<Option<aws_sdk_ec2::types::Instance>, ResourceError> {
        let what = format!("instance {id} to be {}", wanted.as_str());
        poll_until(self.poll, Pace::Seconds, &what, 2, || async {
            let instance = self.by_id(aws, id).await?;
            let state = instance.as_ref().and_then(|i| i.state()).and_then(|s| s.name()).cloned();
            Ok::<_, AwsError>(match (instance, state) {
                (Some(instance), Some(state)) if state == wanted => Seen::Done(Some(instance)),
                // EC2 forgets terminated instances after a while: gone is as good as terminated.
                (None, _) if wanted == InstanceStateName::Terminated => Seen::Done(None),
                (_, state) => Seen::Pending(state.map_or_else(|| "not found yet".to_owned(), |s| s.as_str().to_owned())),
            })
        })
        .await
        .map_err(|e| match e {
            WaitError::Failed(e) => e.into(),
            timeout @ WaitError::Timeout { .. } => {
                ResourceError::refused(timeout.to_string(), "raise --timeout, or look at the instance in the EC2 console")
            }
        })
    }

    async fn launch(&self, aws: &Aws, desired: &Desired) -> Result<String, ResourceError> {
        // A replacement of an instance whose AMI is not pinned: the latest AMI, read now.
        let with_ami;
        let desired = match &desired.ami {
            None if !desired.ami_pinned => {
                let ami = latest_ami(aws).await?;
                let _ = self.resolved_ami.set(ami.clone());
                with_ami = Desired { ami: Some(ami).filter(|a| !a.is_empty()), ..desired.clone() };
                &with_ami
            }
            _ => desired,
        };
        let (Some(ami), Value::Known(Json::String(user_data)), Value::Known(Json::String(group)), Some(token)) =
            (&desired.ami, &desired.user_data, &desired.security_group, desired.client_token(&self.owner))
        else {
            return Err(ResourceError::refused(format!("{} depends on values that are still unknown", self.id()), "apply again"));
        };
        let tags: Vec<Tag> = ec2_tags::to_ec2(&desired.tags);
        let mut token = token;
        // EC2 answers a token it has seen with that launch's instance, even once terminated
        // (after a destroy, or a replacement back to an earlier configuration). Then the launch
        // is made again with a token derived from the dead instance: still deterministic, so
        // still safe to retry.
        for _ in 0..3 {
            let out = self.run_once(aws, desired, ami, user_data, group, &token, &tags).await?;
            let Some(instance) = out.instances().first() else {
                return Err(AwsError::Other { operation: "ec2:RunInstances", detail: "answer without an instance".into() }.into());
            };
            let id = instance.instance_id().unwrap_or_default().to_owned();
            let state = instance.state().and_then(|s| s.name()).cloned();
            if matches!(state, Some(InstanceStateName::Terminated | InstanceStateName::ShuttingDown)) {
                token = format!("pinfra-{}", &sha256(&format!("{token}|{id}"))[..48]);
                continue;
            }
            return Ok(id);
        }
        Err(ResourceError::refused("EC2 keeps answering with terminated instances for this launch", "run apply again"))
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_once(
        &self,
        aws: &Aws,
        desired: &Desired,
        ami: &str,
        user_data: &str,
        group: &str,
        token: &str,
        tags: &[Tag],
    ) -> Result<aws_sdk_ec2::operation::run_instances::RunInstancesOutput, ResourceError> {
        let groups: Vec<String> = std::iter::once(group.to_owned()).chain(desired.extra_groups.iter().cloned()).collect();
        let run = || async {
            let request = aws
                .ec2
                .run_instances()
                .image_id(ami)
                .instance_type(InstanceType::from(desired.instance_type.as_str()))
                .min_count(1)
                .max_count(1)
                .client_token(token)
                .set_key_name(desired.key.as_ref().map(|(name, _)| name.clone()))
                .iam_instance_profile(IamInstanceProfileSpecification::builder().name(&desired.profile).build());
            // In a subnet, with a public address requested (API Gateway calls the instance's
            // public DNS name): the groups then go on the interface, not the request.
            let request = match &desired.placement {
                Placement::Subnet { subnet, .. } => request.network_interfaces(
                    InstanceNetworkInterfaceSpecification::builder()
                        .device_index(0)
                        .subnet_id(subnet)
                        .set_groups(Some(groups.clone()))
                        .associate_public_ip_address(true)
                        .delete_on_termination(true)
                        .build(),
                ),
                Placement::Default | Placement::Refused { .. } => request.set_security_group_ids(Some(groups.clone())),
            };
            request
                .user_data(BASE64.encode(user_data))
                .metadata_options(
                    InstanceMetadataOptionsRequest::builder()
                        .http_tokens(HttpTokensState::Required)
                        .http_endpoint(InstanceMetadataEndpointState::Enabled)
                        .build(),
                )
                .block_device_mappings(
                    BlockDeviceMapping::builder()
                        .device_name(ROOT_DEVICE)
                        .ebs(
                            EbsBlockDevice::builder()
                                .volume_size(desired.root_volume_gib)
                                .volume_type(VolumeType::Gp3)
                                .encrypted(true)
                                .delete_on_termination(true)
                                .build(),
                        )
                        .build(),
                )
                .tag_specifications(TagSpecification::builder().resource_type(ResourceType::Instance).set_tags(Some(tags.to_vec())).build())
                .tag_specifications(TagSpecification::builder().resource_type(ResourceType::Volume).set_tags(Some(tags.to_vec())).build())
                .send()
                .await
                .or_aws("ec2:RunInstances")
        };
        // A just-created instance profile is not usable by EC2 at once.
        let propagating = |e: &AwsError| e.is_code(&["InvalidParameterValue"]) && e.to_string().contains("nstance Profile");
        Ok(retry(Backoff::IAM_PROPAGATION, "ec2:RunInstances", propagating, run).await?)
    }

    /// Associates the instance with the profile named `profile` in place: replaces its current
    /// association (ReplaceIamInstanceProfileAssociation), or makes one when it has none.
    async fn associate_profile(&self, aws: &Aws, instance: &str, profile: &str) -> Result<(), ResourceError> {
        let associations = aws
            .ec2
            .describe_iam_instance_profile_associations()
            .filters(Filter::builder().name("instance-id").values(instance).build())
            .send()
            .await
            .or_aws("ec2:DescribeIamInstanceProfileAssociations")?;
        let current = associations
            .iam_instance_profile_associations()
            .iter()
            .find(|a| a.state().is_some_and(|s| matches!(s.as_str(), "associated" | "associating")))
            .and_then(|a| a.association_id())
            .map(str::to_owned);
        let spec = IamInstanceProfileSpecification::builder().name(profile).build();
        // A just-created instance profile is not usable by EC2 at once.
        let propagating = |e: &AwsError| e.is_code(&["InvalidParameterValue"]) && e.to_string().contains("nstance Profile");
        match current {
            Some(association) => {
                retry(Backoff::IAM_PROPAGATION, "ec2:ReplaceIamInstanceProfileAssociation", propagating, || async {
                    aws.ec2
                        .replace_iam_instance_profile_association()
                        .association_id(&association)
                        .iam_instance_profile(spec.clone())
                        .send()
                        .await
                        .or_aws("ec2:ReplaceIamInstanceProfileAssociation")
                })
                .await?;
            }
            None => {
                retry(Backoff::IAM_PROPAGATION, "ec2:AssociateIamInstanceProfile", propagating, || async {
                    aws.ec2
                        .associate_iam_instance_profile()
                        .instance_id(instance)
                        .iam_instance_profile(spec.clone())
                        .send()
                        .await
                        .or_aws("ec2:AssociateIamInstanceProfile")
                })
                .await?;
            }
        }
        Ok(())
    }

    async fn terminate(&self, aws: &Aws, id: &str) -> Result<(), ResourceError> {
        match aws.ec2.terminate_instances().instance_ids(id).send().await.or_aws("ec2:TerminateInstances") {
            Err(e) if !e.is_code(&["InvalidInstanceID.NotFound"]) => return Err(e.into()),
            _ => {}
        }
        self.wait_state(aws, id, InstanceStateName::Terminated).await.map(|_| ())
    }

    fn outputs_of(instance: &aws_sdk_ec2::types::Instance) -> Outputs {
        Outputs::from([
            ("id", Value::of(instance.instance_id().unwrap_or_default())),
            ("public_dns", Value::of(instance.public_dns_name().unwrap_or_default())),
            ("public_ip", Value::of(instance.public_ip_address().unwrap_or_default())),
            (OUTPUT_SUBNET, Value::of(instance.subnet_id().unwrap_or_default())),
            (OUTPUT_PRIVATE_IP, Value::of(instance.private_ip_address().unwrap_or_default())),
            (OUTPUT_STATE, Value::of(instance.state().and_then(|s| s.name()).map_or("", |n| n.as_str()))),
        ])
    }
}

impl Kind for Ec2Instance {
    type Desired = Desired;
    type Live = Live;

    fn id(&self) -> ResourceId {
        ResourceId::new(KIND, &self.spec.instance_name)
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        let mut deps = vec![self.role.clone(), self.profile.clone(), self.security_group.clone(), self.cluster.clone()];
        deps.extend(self.key_pair.clone());
        deps
    }

    async fn observe(&self, aws: &Aws) -> Result<Option<Live>, AwsError> {
        let Some(instance) = not_terminated_named(aws, &self.spec.instance_name).await?.into_iter().next() else {
            // Only a launch needs the latest AMI, and the diff shows it: an existing instance's
            // unpinned AMI is never compared, so a converged diff makes no SSM call.
            if self.spec.ami.is_none() {
                let _ = self.resolved_ami.set(latest_ami(aws).await?);
            }
            return Ok(None);
        };
        let id = instance.instance_id().unwrap_or_default().to_owned();
        let (user_data, root_volume) = user_data_and_root_volume(aws, &instance).await?;
        let user_data_sha256 = user_data.map(|text| sha256(&text));
        Ok(Some(Live {
            state: instance.state().and_then(|s| s.name()).map(|n| n.as_str().to_owned()).unwrap_or_default(),
            ami: instance.image_id().unwrap_or_default().to_owned(),
            instance_type: instance.instance_type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
            profile_arn: instance.iam_instance_profile().and_then(|p| p.arn()).map(str::to_owned),
            profile_id: instance.iam_instance_profile().and_then(|p| p.id()).map(str::to_owned),
            http_tokens: instance.metadata_options().and_then(|m| m.http_tokens()).map(|t| t.as_str().to_owned()),
            security_groups: instance.security_groups().iter().filter_map(|g| g.group_id()).map(str::to_owned).collect(),
            user_data_sha256,
            root_volume,
            key_name: instance.key_name().map(str::to_owned),
            public_dns: instance.public_dns_name().map(str::to_owned),
            public_ip: instance.public_ip_address().map(str::to_owned),
            subnet_id: instance.subnet_id().map(str::to_owned),
            private_ip: instance.private_ip_address().map(str::to_owned),
            tags: ec2_tags::from_ec2(instance.tags()),
            id,
        }))
    }

    fn desired(&self, inputs: &Inputs) -> Desired {
        let live = LiveValues {
            role_arn: inputs.string(&self.role, "arn"),
            bootstrap_servers: inputs.string(&self.cluster, msk_cluster::OUTPUT_BOOTSTRAP),
            zookeeper_connect: inputs.string(&self.cluster, msk_cluster::OUTPUT_ZOOKEEPER),
        };
        let mut render_error = None;
        let user_data = if live.role_arn.is_some() && live.bootstrap_servers.is_some() {
            match render::render(&self.plan, &self.templates, &live) {
                Ok(rendered) => {
                    rendered.files.into_iter().find(|(name, _)| *name == "user-data.sh").map_or(Value::Unknown, |(_, text)| Value::of(text))
                }
                Err(error) => {
                    render_error = Some(error.to_string());
                    Value::Unknown
                }
            }
        } else {
            Value::Unknown
        };
        Desired {
            // A pinned AMI is the plan's own; only the SSM parameter needs observing.
            ami: self.spec.ami.clone().or_else(|| self.resolved_ami.get().cloned()).filter(|a| !a.is_empty()),
            ami_pinned: self.spec.ami.is_some(),
            instance_type: self.spec.instance_type.clone(),
            profile: self.plan.role.instance_profile.clone(),
            profile_id: inputs.get(&self.profile, iam_instance_profile::OUTPUT_ID),
            security_group: inputs.get(&self.security_group, "id"),
            extra_groups: self.spec.extra_security_groups.clone(),
            user_data,
            root_volume_gib: self.spec.root_volume_gib,
            root_volume_encrypted: self.spec.root_volume_encrypted,
            imdsv2: self.spec.imdsv2,
            manage_user_data: self.spec.manage_user_data,
            render_error,
            placement: self.placement.clone(),
            key: match &self.key_pair {
                Some(id) => {
                    let digest = inputs.string(id, "public_key_sha256").unwrap_or_default();
                    Some((id.name.clone(), digest))
                }
                // A key pair that exists already, by name.
                None if self.spec.ssh_key_existing => Some((self.spec.ssh_key_name.clone(), String::new())),
                None => None,
            },
            tags: self.tags.clone(),
        }
    }

    fn diff(desired: &Desired, live: Option<&Live>) -> Result<Vec<FieldChange>, ResourceError> {
        if let Some(error) = &desired.render_error {
            return Err(ResourceError::refused(
                format!("the user-data cannot be rendered: {error}"),
                "fix the template, or drop --templates",
            ));
        }
        let mut fields = Fields::new(live.is_none());
        match &desired.placement {
            Placement::Default => {}
            Placement::Refused { reason, hint } => return Err(ResourceError::refused(reason.clone(), hint.clone())),
            Placement::Subnet { subnet, acceptable } => {
                let live_subnet = live.map(|l| l.subnet_id.clone().unwrap_or_default());
                let wanted = match &live_subnet {
                    Some(here) if acceptable.contains(here) => here.clone(),
                    _ => subnet.clone(),
                };
                fields.known("subnet_id", wanted, live_subnet.map(Json::from), true);
            }
        }
        // An AMI from SSM moves on by itself; only a pinned one is held to.
        if desired.ami_pinned || live.is_none() {
            fields.known("ami", desired.ami.clone().unwrap_or_default(), live.map(|l| Json::from(l.ami.clone())), true);
        }
        // Unmanaged user-data (an instance set up by hand) is not compared: a new instance
        // still gets pinfra's.
        if desired.manage_user_data || live.is_none() {
            fields.field("user_data_sha256", desired.user_data_sha256(), live.map(|l| Json::from(l.user_data_sha256.clone())), true);
        }
        fields.known("instance_type", desired.instance_type.clone(), live.map(|l| Json::from(l.instance_type.clone())), false);
        // By id: a profile deleted and made again under the same name has the same ARN, but the
        // instance is still associated with the deleted one, and so has no credentials.
        let profile = |name: &str, id: &str| Json::from(format!("{name} ({id})"));
        let wanted = match (&desired.profile_id, live) {
            (Value::Known(Json::String(id)), _) => Value::Known(profile(&desired.profile, id)),
            (_, None) => Value::of(desired.profile.clone()),
            (_, Some(_)) => Value::Unknown,
        };
        let live_profile = live.map(|l| match &l.profile_arn {
            Some(arn) => profile(arn.rsplit('/').next().unwrap_or(arn), l.profile_id.as_deref().unwrap_or_default()),
            None => Json::Null,
        });
        fields.field("instance_profile", wanted, live_profile, false);
        // `imdsv2 = false` (an adopted instance) only stops requiring it: never a downgrade.
        if desired.imdsv2 || live.is_none() {
            fields.known("metadata_http_tokens", "required", live.map(|l| Json::from(l.http_tokens.clone())), false);
        }
        let sorted = |mut groups: Vec<String>| {
            groups.sort();
            groups
        };
        let live_groups = live.map(|l| Json::from(sorted(l.security_groups.clone())));
        let wanted_groups = match &desired.security_group {
            Value::Known(Json::String(id)) => {
                Value::of(sorted(std::iter::once(id.clone()).chain(desired.extra_groups.iter().cloned()).collect()))
            }
            _ => Value::Unknown,
        };
        fields.field("security_groups", wanted_groups, live_groups, false);
        // `root_volume_encrypted = false` (an adopted instance) only stops requiring encryption.
        let require = desired.root_volume_encrypted || live.is_none();
        let volume = |(size, encrypted): (i32, bool)| {
            if require { serde_json::json!({"size_gib": size, "encrypted": encrypted}) } else { serde_json::json!({"size_gib": size}) }
        };
        fields.known("root_volume", volume((desired.root_volume_gib, true)), live.map(|l| l.root_volume.map_or(Json::Null, volume)), true);
        if let Some(live) = live
            && live.state == "stopped"
        {
            fields.known("state", "running", Some(Json::from(live.state.clone())), false);
        }
        // A key is given at launch only: another key pair means another instance.
        fields.known("key_name", desired.key.as_ref().map(|(name, _)| name.clone()), live.map(|l| Json::from(l.key_name.clone())), true);
        fields.tags("tags", &desired.tags, live.map(|l| &l.tags));
        Ok(fields.finish())
    }

    fn explain(fields: &[FieldChange]) -> Option<String> {
        let resized = fields.iter().any(|f| f.path == "instance_type" && f.old.is_some());
        let replaced = fields.iter().any(|f| f.forces_replace);
        (resized && !replaced).then(|| {
            "the instance type changes in place: the instance is stopped, resized and started again (its public IP and DNS name change)"
                .to_owned()
        })
    }

    const OUTPUTS: &'static [&'static str] = &["id", "public_dns", "public_ip", OUTPUT_SUBNET, OUTPUT_PRIVATE_IP, OUTPUT_STATE];

    fn live_tags(live: &Live) -> Option<&Tags> {
        Some(&live.tags)
    }

    fn outputs(&self, live: &Live) -> Outputs {
        Outputs::from([
            ("id", Value::of(live.id.clone())),
            ("public_dns", Value::of(live.public_dns.clone().unwrap_or_default())),
            ("public_ip", Value::of(live.public_ip.clone().unwrap_or_default())),
            (OUTPUT_SUBNET, Value::of(live.subnet_id.clone().unwrap_or_default())),
            (OUTPUT_PRIVATE_IP, Value::of(live.private_ip.clone().unwrap_or_default())),
            (OUTPUT_STATE, Value::of(live.state.clone())),
        ])
    }

    fn outputs_during_update(&self, live: &Live, fields: &[FieldChange]) -> Outputs {
        let mut outputs = self.outputs(live);
        // A stopped and started instance gets a new public address (without an Elastic IP):
        // what calls it (the REST API's integration) must follow.
        if fields.iter().any(|f| f.path == "instance_type" || f.path == "state") {
            outputs.insert("public_dns", Value::Unknown);
            outputs.insert("public_ip", Value::Unknown);
            outputs.insert(OUTPUT_STATE, Value::Unknown);
        }
        outputs
    }

    async fn apply(&self, aws: &Aws, desired: &Desired, live: Option<&Live>, change: &Change) -> Result<Outputs, ResourceError> {
        let id = match live {
            None => self.launch(aws, desired).await?,
            Some(live) if change.action == crate::engine::Action::Replace => {
                self.terminate(aws, &live.id).await?;
                self.launch(aws, desired).await?
            }
            Some(live) => {
                if change.touches("tags") {
                    let tags: Vec<Tag> = ec2_tags::to_ec2(&desired.tags);
                    aws.ec2.create_tags().resources(&live.id).set_tags(Some(tags)).send().await.or_aws("ec2:CreateTags")?;
                }
                if change.touches("metadata_http_tokens") {
                    aws.ec2
                        .modify_instance_metadata_options()
                        .instance_id(&live.id)
                        .http_tokens(HttpTokensState::Required)
                        .http_endpoint(InstanceMetadataEndpointState::Enabled)
                        .send()
                        .await
                        .or_aws("ec2:ModifyInstanceMetadataOptions")?;
                }
                if change.touches("security_groups")
                    && let Value::Known(Json::String(group)) = &desired.security_group
                {
                    aws.ec2
                        .modify_instance_attribute()
                        .instance_id(&live.id)
                        .set_groups(Some(std::iter::once(group.clone()).chain(desired.extra_groups.iter().cloned()).collect()))
                        .send()
                        .await
                        .or_aws("ec2:ModifyInstanceAttribute")?;
                }
                if change.touches("instance_profile") {
                    self.associate_profile(aws, &live.id, &desired.profile).await?;
                }
                if change.touches("state") && !change.touches("instance_type") {
                    // The plan wants a running client: a stopped one is started again.
                    aws.ec2.start_instances().instance_ids(&live.id).send().await.or_aws("ec2:StartInstances")?;
                }
                if change.touches("instance_type") {
                    // EC2 changes the type of a stopped instance only: stop, modify, start.
                    aws.ec2.stop_instances().instance_ids(&live.id).send().await.or_aws("ec2:StopInstances")?;
                    self.wait_state(aws, &live.id, InstanceStateName::Stopped).await?;
                    aws.ec2
                        .modify_instance_attribute()
                        .instance_id(&live.id)
                        .instance_type(aws_sdk_ec2::types::AttributeValue::builder().value(&desired.instance_type).build())
                        .send()
                        .await
                        .or_aws("ec2:ModifyInstanceAttribute")?;
                    aws.ec2.start_instances().instance_ids(&live.id).send().await.or_aws("ec2:StartInstances")?;
                }
                live.id.clone()
            }
        };
        let instance = self
            .wait_state(aws, &id, InstanceStateName::Running)
            .await?
            .ok_or_else(|| ResourceError::refused(format!("instance {id} disappeared while starting"), "run apply again"))?;
        Ok(Self::outputs_of(&instance))
    }

    async fn delete(&self, aws: &Aws, live: &Live) -> Result<(), ResourceError> {
        self.terminate(aws, &live.id).await
    }
}

#[cfg(test)]
mod tests;
