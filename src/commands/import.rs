//! `pinfra import --user-id ID [--region R] [--cluster NAME] [--env NAME] [--out PLAN]`: finds a
//! pipeline built by hand (the seed's way: in the console) by the names the seed's naming gives,
//! and writes a plan that reproduces it, so that the next `diff` shows it adopted, not created
//! or replaced.
//!
//! It only reads. Where a live value differs from pinfra's default, the plan keeps the live value
//! and the report on stdout lists it; what the plan cannot reproduce (and the adopting apply will
//! therefore change) is listed too. The plan is parsed before it is written, and an existing
//! file is never overwritten.
//!
//! Discovery happens in [`discover`] (AWS calls only); [`generate`] turns what was found into
//! the plan's text and the report, a pure function tested without AWS.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use aws_sdk_ec2::types::Filter;

use crate::aws::{Aws, AwsError, Classify};
use crate::cli::{GlobalArgs, ImportArgs};
use crate::commands::{ExitStatus, Reported};
use crate::diagnostics::SourceFile;
use crate::plan::SEED_SINK_CONFIG;
use crate::resources::{self, discovery::ConnectListing, s3_bucket};
use crate::settings::{self, Environment, Output};

/// Runs the command.
pub async fn run(args: &ImportArgs, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    let path = &args.out;
    super::init::refuse_existing(path, "import", "name another file with --out")?;
    let Some(region) = global.region.clone().or_else(|| env.aws_region.clone()) else {
        return Err(Reported(
            "import needs the region of the hand-built pipeline\n  hint: pass --region (for example --region us-east-1)".into(),
        )
        .into());
    };
    let env_name = global.env.clone().unwrap_or_else(|| "dev".to_owned());
    let project = args.project.clone().unwrap_or_else(|| "pipeline".to_owned());
    let (aws_settings, warning) = settings::aws(global, env, &region)?;
    if let Some(warning) = warning
        && !out.quiet
    {
        eprintln!("warning: {warning}");
    }
    let aws = crate::commands::connect(&aws_settings).await?;
    let cluster = match &args.cluster {
        Some(cluster) => cluster.clone(),
        None => only_cluster(&aws, &region).await?,
    };
    // The default plan for these names: it tells discovery what to look for.
    let base_text = super::init::render(&env_name, &args.user_id, &region, &cluster, &project)?;
    let parsed = crate::plan::parse(&base_text);
    let Some(base) = parsed.plan else {
        let name = format!("{} (the plan for these flags)", path.display());
        SourceFile { name: &name, text: &base_text }.emit(&parsed.diagnostics, out.color_stderr);
        return Err(Reported("these flags do not make a valid plan; nothing was read".into()).into());
    };
    let spinner = super::spinner(out, format!("looking for the pipeline of user id {} in {region}", args.user_id));
    let found = discover(&aws, &base).await;
    spinner.finish_and_clear();
    let found =
        found.map_err(|e| Reported(format!("{e}\n  hint: {}", e.hint().unwrap_or_else(|| "check the credentials and region".into()))))?;
    let (env_name, project) = managed_names(&found, args, global, env_name, project, out)?;
    let generated = generate(&Header { env: env_name, project, region, user_id: args.user_id.clone(), cluster }, &found);
    let mut generated = generated;
    let parsed = crate::plan::parse(&generated.text);
    let Some(plan) = parsed.plan.filter(|_| !parsed.diagnostics.has_errors()) else {
        let name = path.display().to_string();
        SourceFile { name: &name, text: &generated.text }.emit(&parsed.diagnostics, out.color_stderr);
        return Err(Reported(format!("{}: the live values do not make a valid plan; nothing was written", path.display())).into());
    };
    generated.blockers.extend(resources::connect_checks(&plan).problems);
    super::init::write_new(path, &generated.text)?;
    print!("{}", generated.report(&path.display().to_string()));
    if !generated.blockers.is_empty() {
        return Err(Reported(format!(
            "{}: written, but {} thing(s) block adopting the pipeline as it is\n  hint: fix what `blocks adopting` lists, then import again (to another --out)",
            path.display(),
            generated.blockers.len()
        ))
        .into());
    }
    if !out.quiet {
        let p = path.display();
        eprintln!("next: pinfra diff {p}   # what was found shows as adopt; then pinfra apply {p}");
    }
    Ok(ExitStatus::Success)
}

/// The environment and project names of the plan written: those of the pinfra plan that
/// already manages the pipeline, if one does, so that the plan written is that plan and not a
/// colliding one (whose `destroy` would find the other plan's resources).
fn managed_names(
    found: &Found,
    args: &ImportArgs,
    global: &GlobalArgs,
    env_name: String,
    project: String,
    out: Output,
) -> anyhow::Result<(String, String)> {
    let owners = found.owners();
    let mut owners = owners.into_iter();
    let (Some((plan, env)), None) = (owners.next(), owners.next()) else {
        if found.owners().len() > 1 {
            let names: Vec<String> = found.owners().iter().map(|(p, e)| format!("plan `{p}`, environment `{e}`")).collect();
            return Err(Reported(format!(
                "the resources found carry the tags of several pinfra plans ({}); nothing was written\n  hint: import is for a pipeline made by hand; keep the plan files of those plans",
                names.join("; ")
            ))
            .into());
        }
        return Ok((env_name, project));
    };
    let clash = |flag: &str, given: &str, tagged: &str| -> anyhow::Error {
        Reported(format!(
            "this pipeline is pinfra's already: plan `{plan}`, environment `{env}`; {flag} {given} names another, whose plan would collide with it (nothing was written)\n  hint: leave out {flag} to write the plan of `{tagged}`, or use that plan's file"
        ))
        .into()
    };
    if let Some(given) = args.project.as_deref().filter(|given| *given != plan) {
        return Err(clash("--project", given, &plan));
    }
    if let Some(given) = global.env.as_deref().filter(|given| *given != env) {
        return Err(clash("--env", given, &env));
    }
    if !out.quiet {
        eprintln!("note: this pipeline is pinfra's already (plan `{plan}`, environment `{env}`): the plan written takes those names");
    }
    Ok((env, plan))
}

/// The region's only MSK cluster, or an error listing them.
async fn only_cluster(aws: &Aws, region: &str) -> anyhow::Result<String> {
    let mut names = Vec::new();
    let mut pages = aws.kafka.list_clusters_v2().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.or_aws("kafka:ListClustersV2")?;
        names.extend(page.cluster_info_list().iter().filter_map(|c| c.cluster_name()).map(str::to_owned));
    }
    match names.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Reported(format!("there is no MSK cluster in {region}\n  hint: pass --cluster, or --region of the pipeline")).into()),
        many => {
            Err(Reported(format!("{region} has {} MSK clusters ({})\n  hint: pass --cluster NAME", many.len(), many.join(", "))).into())
        }
    }
}

/// The values the plan's `[environment]` and `[msk]` get.
#[derive(Debug, Clone)]
pub struct Header {
    /// Environment name.
    pub env: String,
    /// Project.
    pub project: String,
    /// Region.
    pub region: String,
    /// User id.
    pub user_id: String,
    /// The cluster, by name or ARN, as given.
    pub cluster: String,
}

/// What was found in the account.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// Topics under `<user_id>.`: name, partitions, replication factor.
    pub topics: Vec<(String, i32, i32)>,
    /// The cluster's broker subnets and security groups.
    pub cluster_network: (Vec<String>, Vec<String>),
    /// The role.
    pub role: Option<FoundRole>,
    /// The bucket.
    pub bucket: Option<FoundBucket>,
    /// The Kafka client instance and its security group.
    pub instance: Option<FoundInstance>,
    /// The custom plugin the connector runs (or the one of the seed's name).
    pub plugin: Option<FoundPlugin>,
    /// The connector.
    pub connector: Option<FoundConnector>,
    /// The REST API.
    pub api: Option<FoundApi>,
    /// What a person made in the network for the pipeline (a rule on the brokers' group, an S3
    /// endpoint), in words: kept as found.
    pub network: Vec<String>,
}

/// The IAM role.
#[derive(Debug, Clone, Default)]
pub struct FoundRole {
    /// Name.
    pub name: String,
    /// Whether it has pinfra's inline policy.
    pub has_pinfra_policy: bool,
    /// Its other policies: inline names and attached ARNs.
    pub other_policies: Vec<String>,
    /// The pinfra plan and environment its tags name, if any.
    pub owner: Option<(String, String)>,
}

/// The bucket.
#[derive(Debug, Clone, Default)]
pub struct FoundBucket {
    /// Name.
    pub name: String,
    /// `Enabled`, `Suspended`, or `None` (never enabled).
    pub versioning: Option<String>,
    /// `AES256`, `aws:kms` (with its key), or `None`.
    pub encryption: Option<(String, Option<String>)>,
    /// Whether all four public access block settings are on.
    pub public_access_blocked: bool,
    /// Why pinfra cannot use it (another account's, another region's), if so.
    pub unusable: Option<String>,
}

/// The Kafka client instance.
#[derive(Debug, Clone, Default)]
pub struct FoundInstance {
    /// Its `Name` tag.
    pub name: String,
    /// Instance id.
    pub id: String,
    /// State (`running`, `stopped`, ...).
    pub state: String,
    /// Instance type.
    pub instance_type: String,
    /// AMI.
    pub ami: String,
    /// Root volume size (GiB) and encryption.
    pub root_volume: Option<(i32, bool)>,
    /// `required` or `optional`.
    pub http_tokens: Option<String>,
    /// Whether its user-data is one pinfra rendered.
    pub pinfra_user_data: bool,
    /// Key pair name.
    pub key_name: Option<String>,
    /// Instance profile name.
    pub profile: Option<String>,
    /// Public DNS name.
    pub public_dns: Option<String>,
    /// The security group (the first the instance has).
    pub security_group: Option<FoundGroup>,
    /// Private IPv4 address.
    pub private_ip: Option<String>,
    /// Its subnet, when the plan must name it: it is not one pinfra would place a client in
    /// (no route to an internet gateway), so only `subnet_id` keeps it where it is.
    pub pinned_subnet: Option<String>,
    /// Its other security groups, by id (the plan gives the instance one).
    pub other_groups: Vec<String>,
    /// The pinfra plan and environment its tags name, if any.
    pub owner: Option<(String, String)>,
}

/// The instance's security group.
#[derive(Debug, Clone, Default)]
pub struct FoundGroup {
    /// Group id.
    pub id: String,
    /// Group name.
    pub name: String,
    /// Its VPC, when it is not the region's default VPC.
    pub vpc_id: Option<String>,
    /// Ingress rules: (protocol, from port, to port, IPv4 CIDR), one per CIDR.
    pub ingress: Vec<(String, i32, i32, String)>,
    /// Ingress rules from other security groups or IPv6 ranges (not reproducible).
    pub other_ingress: usize,
}

/// The custom plugin.
#[derive(Debug, Clone, Default)]
pub struct FoundPlugin {
    /// Name.
    pub name: String,
    /// State.
    pub state: String,
}

/// The connector.
#[derive(Debug, Clone, Default)]
pub struct FoundConnector {
    /// Name.
    pub name: String,
    /// State.
    pub state: String,
    /// Kafka Connect version.
    pub kafka_connect_version: String,
    /// Its whole configuration.
    pub config: BTreeMap<String, String>,
    /// `(mcu, workers)` when provisioned.
    pub provisioned: Option<(i32, i32)>,
    /// `(mcu, min, max, scale in %, scale out %, max tasks)` when autoscaling.
    pub autoscaling: Option<(i32, i32, i32, i32, i32, i32)>,
    /// Subnets and security groups.
    pub network: (Vec<String>, Vec<String>),
    /// Role it runs as (name, from its ARN).
    pub role: String,
    /// CloudWatch log group, when logs go there.
    pub log_group: Option<String>,
    /// S3 log delivery: bucket and prefix.
    pub log_bucket: Option<(String, String)>,
    /// Whether it uses IAM authentication and TLS (what pinfra always sets).
    pub iam_and_tls: bool,
}

/// The REST API.
#[derive(Debug, Clone, Default)]
pub struct FoundApi {
    /// Name.
    pub name: String,
    /// Endpoint type (`REGIONAL`, `EDGE`, `PRIVATE`).
    pub endpoint: String,
    /// The stage (the first if several) and the others' names.
    pub stage: Option<String>,
    /// Other stages.
    pub other_stages: Vec<String>,
    /// `*/*` throttling of the stage: rate and burst.
    pub throttling: Option<(f64, i32)>,
    /// Whether the stage's deployment carries pinfra's fingerprint.
    pub pinfra_deployment: bool,
    /// Whether the ANY method on `{proxy+}` requires an API key; `None`: no such method.
    pub api_key_required: Option<bool>,
    /// Its authorization type.
    pub authorization: Option<String>,
    /// How many REST APIs have this name (pinfra needs exactly one).
    pub same_name: usize,
    /// The integration's type and URI.
    pub integration: Option<(String, String)>,
    /// The pinfra plan and environment its tags name, if any.
    pub owner: Option<(String, String)>,
}

impl Found {
    /// The pinfra plans and environments whose tags the found resources carry: a pipeline
    /// pinfra already manages (`docs/RELIABILITY.md`, "Ownership").
    pub fn owners(&self) -> std::collections::BTreeSet<(String, String)> {
        let role = self.role.as_ref().and_then(|r| r.owner.clone());
        let instance = self.instance.as_ref().and_then(|i| i.owner.clone());
        let api = self.api.as_ref().and_then(|a| a.owner.clone());
        [role, instance, api].into_iter().flatten().collect()
    }
}

/// The pinfra plan and environment that `tags` name, if they name any.
fn owner<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<(String, String)> {
    let (mut plan, mut env) = (None, None);
    for (key, value) in tags {
        match key {
            crate::engine::TAG_PLAN => plan = Some(value.to_owned()),
            crate::engine::TAG_ENV => env = Some(value.to_owned()),
            _ => {}
        }
    }
    (plan.is_some() || env.is_some()).then(|| (plan.unwrap_or_default(), env.unwrap_or_default()))
}

/// Everything [`discover`] reads, concurrently where it can.
pub async fn discover(aws: &Aws, base: &crate::plan::Plan) -> Result<Found, AwsError> {
    let discovery = resources::discover(aws, base).await?;
    let Some(cluster) = &discovery.cluster else {
        return Err(AwsError::Other {
            operation: "kafka:ListClustersV2",
            detail: format!("no MSK cluster `{}` in {}", base.msk.cluster.name(), base.environment.region),
        });
    };
    let problems = cluster.problems();
    if !problems.is_empty() {
        return Err(AwsError::Other {
            operation: "kafka:DescribeClusterV2",
            detail: format!("the MSK cluster `{}` cannot serve the pipeline: {}", base.msk.cluster.name(), problems.join("; ")),
        });
    }
    let mut found = Found {
        topics: discovery.topics.iter().flatten().map(|(name, t)| (name.clone(), t.partitions, t.replication_factor)).collect(),
        cluster_network: (cluster.subnets.clone(), cluster.security_groups.clone()),
        ..Found::default()
    };
    let user_id = &base.environment.user_id;
    let (instance, connector, api) = tokio::join!(
        find_instance(aws, &base.kafka_client.instance_name, user_id),
        find_connector(aws, base, discovery.connect.as_ref()),
        find_api(aws, base)
    );
    found.instance = instance?;
    let (connector, plugin) = connector?;
    found.connector = connector;
    found.plugin = plugin;
    found.api = api?;
    // The role: the one the instance runs with, else the seed's name, else the connector's.
    let profile_role = match found.instance.as_ref().and_then(|i| i.profile.clone()) {
        Some(profile) => profile_role(aws, &profile).await?,
        None => None,
    };
    let candidates = [profile_role, Some(base.role.name.clone()), found.connector.as_ref().map(|c| c.role.clone())];
    for name in candidates.into_iter().flatten() {
        if let Some(role) = find_role(aws, &name).await? {
            found.role = Some(role);
            break;
        }
    }
    if let Some(network) = &discovery.network {
        let (_, broker_groups) = resources::brokers(&discovery, base);
        let connector_subnets = found.connector.as_ref().map_or(&cluster.subnets, |c| &c.network.0);
        found.network = network_findings(network, &broker_groups, found.instance.as_ref(), connector_subnets);
        // A client in a subnet pinfra would pick too needs no `subnet_id`.
        if let Some(instance) = found.instance.as_mut() {
            let public = crate::network::paths::public_subnets(network);
            instance.pinned_subnet = instance.pinned_subnet.take().filter(|s| !public.iter().any(|p| &p.id == s));
        }
    } else if let Some(instance) = found.instance.as_mut() {
        instance.pinned_subnet = None;
    }
    // The bucket: the one the connector writes to, else the seed's name.
    let bucket_candidates =
        [found.connector.as_ref().and_then(|c| c.config.get("s3.bucket.name").cloned()), Some(base.bucket.name.clone())];
    for name in bucket_candidates.into_iter().flatten() {
        if let Some(bucket) = find_bucket(aws, &name, &base.environment.region).await? {
            found.bucket = Some(bucket);
            break;
        }
    }
    Ok(found)
}

/// What a person made in the network for the pipeline: the brokers' group admitting the client
/// (by its group, which the first apply adopts as pinfra's rule, or by its address, which stays
/// as it is beside pinfra's rule), and S3 gateway endpoints on the connector's route tables.
fn network_findings(
    network: &crate::network::Network,
    broker_groups: &[String],
    instance: Option<&FoundInstance>,
    connector_subnets: &[String],
) -> Vec<String> {
    use crate::network::Peer;
    let port = i32::from(resources::ec2_security_group_rule::IAM_BROKER_PORT);
    let mut found = Vec::new();
    let brokers = broker_groups.first().and_then(|g| network.groups.get(g));
    if let (Some(brokers), Some(instance)) = (brokers, instance) {
        let client_group = instance.security_group.as_ref();
        let address: Option<std::net::Ipv4Addr> = instance.private_ip.as_deref().and_then(|a| a.parse().ok());
        for rule in &brokers.ingress {
            let covers =
                rule.protocol == "-1" || (matches!(rule.protocol.as_str(), "tcp" | "6") && rule.from_port <= port && port <= rule.to_port);
            if !covers {
                continue;
            }
            match &rule.peer {
                Peer::Group(g) if client_group.is_some_and(|c| &c.id == g) => found.push(format!(
                    "the brokers' group {} admits the client's group `{}` on TCP {port} (made by hand): the first apply adopts that rule as pinfra's (tags it)",
                    brokers.id,
                    client_group.map_or("", |c| c.name.as_str())
                )),
                Peer::Cidr(c) if c.prefix_len() > 0 && address.is_some_and(|a| c.contains(&a)) => found.push(format!(
                    "the brokers' group {} admits the client's address ({c}) on TCP {port} (made by hand): kept as found; the first apply adds pinfra's rule from the client's group beside it",
                    brokers.id
                )),
                _ => {}
            }
        }
    }
    let mut tables: Vec<&str> = connector_subnets.iter().filter_map(|s| network.route_table(s)).map(|t| t.id.as_str()).collect();
    tables.sort_unstable();
    tables.dedup();
    for endpoint in network.endpoints.iter().filter(|e| e.is_s3_gateway(&network.region)) {
        let served: Vec<&str> = tables.iter().copied().filter(|t| endpoint.route_tables.iter().any(|r| r == t)).collect();
        if !served.is_empty() {
            found.push(format!(
                "S3 gateway endpoint {} serves the connector's route table(s) {}: kept as found (pinfra makes none there)",
                endpoint.id,
                served.join(", ")
            ));
        }
    }
    found
}

async fn profile_role(aws: &Aws, profile: &str) -> Result<Option<String>, AwsError> {
    match aws.iam.get_instance_profile().instance_profile_name(profile).send().await.or_aws("iam:GetInstanceProfile") {
        Ok(out) => Ok(out.instance_profile().and_then(|p| p.roles().first()).map(|r| r.role_name().to_owned())),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

async fn find_role(aws: &Aws, name: &str) -> Result<Option<FoundRole>, AwsError> {
    let owner = match aws.iam.get_role().role_name(name).send().await.or_aws("iam:GetRole") {
        Ok(out) => out.role().and_then(|r| owner(r.tags().iter().map(|t| (t.key(), t.value())))),
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    let (inline, attached) =
        tokio::join!(aws.iam.list_role_policies().role_name(name).send(), aws.iam.list_attached_role_policies().role_name(name).send());
    let inline: Vec<String> = inline.or_aws("iam:ListRolePolicies")?.policy_names().to_vec();
    let attached: Vec<String> = attached
        .or_aws("iam:ListAttachedRolePolicies")?
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn())
        .map(str::to_owned)
        .collect();
    let has_pinfra_policy = inline.iter().any(|p| p == resources::iam_role::POLICY_NAME);
    let other_policies = inline.into_iter().filter(|p| p != resources::iam_role::POLICY_NAME).chain(attached).collect();
    Ok(Some(FoundRole { name: name.to_owned(), has_pinfra_policy, other_policies, owner }))
}

async fn find_bucket(aws: &Aws, name: &str, region: &str) -> Result<Option<FoundBucket>, AwsError> {
    // GetBucketLocation answers from any region (HeadBucket answers a bare 301 for a bucket in
    // another region, which the Rust SDK does not follow).
    let unusable = |why: String| Ok(Some(FoundBucket { name: name.to_owned(), unusable: Some(why), ..FoundBucket::default() }));
    let location = match aws.s3.get_bucket_location().bucket(name).send().await.or_aws("s3:GetBucketLocation") {
        Ok(out) => s3_bucket::location_region(out.location_constraint().map(|c| c.as_str())),
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) if e.is_code(&["AccessDenied", "AllAccessDisabled"]) => {
            return unusable("belongs to another account, or this identity may not read it".into());
        }
        Err(e) => return Err(e),
    };
    if location != region {
        return unusable(format!("is in {location}, not in the plan's region {region} (a bucket cannot move)"));
    }
    let settings = s3_bucket::settings(aws, name).await?;
    let encryption = settings.encryption["algorithm"]
        .as_str()
        .map(|algorithm| (algorithm.to_owned(), settings.encryption["kms_key"].as_str().map(str::to_owned)));
    Ok(Some(FoundBucket {
        name: name.to_owned(),
        public_access_blocked: settings.blocks_public_access(),
        versioning: settings.versioning,
        encryption,
        unusable: None,
    }))
}

/// The instance named `name`, else the only one whose `Name` tag holds the user id.
async fn find_instance(aws: &Aws, name: &str, user_id: &str) -> Result<Option<FoundInstance>, AwsError> {
    let live =
        || Filter::builder().name("instance-state-name").values("pending").values("running").values("stopping").values("stopped").build();
    let by_name = |pattern: &str| {
        aws.ec2.describe_instances().filters(Filter::builder().name("tag:Name").values(pattern).build()).filters(live()).send()
    };
    let mut instances: Vec<aws_sdk_ec2::types::Instance> =
        by_name(name).await.or_aws("ec2:DescribeInstances")?.reservations().iter().flat_map(|r| r.instances()).cloned().collect();
    if instances.is_empty() {
        instances = by_name(&format!("*{user_id}*"))
            .await
            .or_aws("ec2:DescribeInstances")?
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .cloned()
            .collect();
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
    let Some(instance) = instances.into_iter().next() else { return Ok(None) };
    let id = instance.instance_id().unwrap_or_default().to_owned();
    let tag_name = instance.tags().iter().find(|t| t.key() == Some("Name")).and_then(|t| t.value()).unwrap_or(name).to_owned();
    let group_id = instance.security_groups().first().and_then(|g| g.group_id()).map(str::to_owned);
    let other_groups: Vec<String> = instance.security_groups().iter().skip(1).filter_map(|g| g.group_id()).map(str::to_owned).collect();
    let (details, group) = tokio::join!(resources::ec2_instance::user_data_and_root_volume(aws, &instance), async {
        match &group_id {
            Some(g) => find_group(aws, g).await,
            None => Ok(None),
        }
    });
    let (user_data, root_volume) = details?;
    let user_data = user_data.unwrap_or_default();
    Ok(Some(FoundInstance {
        name: tag_name,
        state: instance.state().and_then(|s| s.name()).map(|n| n.as_str().to_owned()).unwrap_or_default(),
        other_groups,
        instance_type: instance.instance_type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
        ami: instance.image_id().unwrap_or_default().to_owned(),
        root_volume,
        http_tokens: instance.metadata_options().and_then(|m| m.http_tokens()).map(|t| t.as_str().to_owned()),
        pinfra_user_data: user_data.contains(crate::render::USER_DATA_MARKER),
        key_name: instance.key_name().map(str::to_owned),
        profile: instance.iam_instance_profile().and_then(|p| p.arn()).and_then(|arn| arn.rsplit('/').next()).map(str::to_owned),
        public_dns: instance.public_dns_name().filter(|d| !d.is_empty()).map(str::to_owned),
        security_group: group?,
        private_ip: instance.private_ip_address().map(str::to_owned),
        pinned_subnet: instance.subnet_id().map(str::to_owned),
        owner: owner(instance.tags().iter().filter_map(|t| Some((t.key()?, t.value()?)))),
        id,
    }))
}

async fn find_group(aws: &Aws, id: &str) -> Result<Option<FoundGroup>, AwsError> {
    let out = aws.ec2.describe_security_groups().group_ids(id).send().await.or_aws("ec2:DescribeSecurityGroups")?;
    let Some(group) = out.security_groups().first() else { return Ok(None) };
    let vpc = group.vpc_id().map(str::to_owned);
    let default_vpc = crate::network::default_vpc(aws).await?;
    let mut ingress = Vec::new();
    let mut other_ingress = 0;
    for permission in group.ip_permissions() {
        let protocol = permission.ip_protocol().unwrap_or_default().to_owned();
        let (from, to) = (permission.from_port().unwrap_or(-1), permission.to_port().unwrap_or(-1));
        other_ingress += permission.user_id_group_pairs().len() + permission.ipv6_ranges().len() + permission.prefix_list_ids().len();
        for range in permission.ip_ranges() {
            if let Some(cidr) = range.cidr_ip() {
                ingress.push((protocol.clone(), from, to, cidr.to_owned()));
            }
        }
    }
    Ok(Some(FoundGroup {
        id: id.to_owned(),
        name: group.group_name().unwrap_or_default().to_owned(),
        vpc_id: vpc.filter(|v| Some(v) != default_vpc.as_ref()),
        ingress,
        other_ingress,
    }))
}

/// The connector of the seed's name and the plugin it runs; without a connector, the plugin of
/// the seed's name.
async fn find_connector(
    aws: &Aws,
    base: &crate::plan::Plan,
    listing: Option<&ConnectListing>,
) -> Result<(Option<FoundConnector>, Option<FoundPlugin>), AwsError> {
    let Some(connect) = &base.connect else { return Ok((None, None)) };
    let name = &connect.connector.name;
    let arn = resources::msk_connector::connector_arn(aws, name).await?;
    let connector = match arn {
        Some(arn) => Some(aws.kafkaconnect.describe_connector().connector_arn(arn).send().await.or_aws("kafkaconnect:DescribeConnector")?),
        None => None,
    };
    let plugin_arn = connector
        .as_ref()
        .and_then(|c| c.plugins().iter().find_map(|p| p.custom_plugin().and_then(|c| c.custom_plugin_arn())).map(str::to_owned));
    let plugin = match plugin_arn {
        Some(arn) => {
            let out = aws
                .kafkaconnect
                .describe_custom_plugin()
                .custom_plugin_arn(arn)
                .send()
                .await
                .or_aws("kafkaconnect:DescribeCustomPlugin")?;
            Some(FoundPlugin {
                name: out.name().unwrap_or_default().to_owned(),
                state: out.custom_plugin_state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            })
        }
        // Discovery listed the plugins of the seed's name (`<name>` among them).
        None => listing
            .and_then(|l| l.plugins.iter().find(|p| p.name == connect.plugin.name))
            .map(|p| FoundPlugin { name: p.name.clone(), state: p.state.clone() }),
    };

    let Some(c) = connector else { return Ok((None, plugin)) };
    let cluster = c.kafka_cluster().and_then(|k| k.apache_kafka_cluster());
    let vpc = cluster.and_then(|k| k.vpc());
    let capacity = c.capacity();
    let logs = c.log_delivery().and_then(|l| l.worker_log_delivery());
    let found = FoundConnector {
        name: name.clone(),
        state: c.connector_state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        kafka_connect_version: c.kafka_connect_version().unwrap_or_default().to_owned(),
        config: c.connector_configuration().map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default(),
        provisioned: capacity.and_then(|c| c.provisioned_capacity()).map(|p| (p.mcu_count(), p.worker_count())),
        autoscaling: capacity.and_then(|c| c.auto_scaling()).map(|a| {
            (
                a.mcu_count(),
                a.min_worker_count(),
                a.max_worker_count(),
                a.scale_in_policy().map_or(0, |p| p.cpu_utilization_percentage()),
                a.scale_out_policy().map_or(0, |p| p.cpu_utilization_percentage()),
                a.max_autoscaling_task_count(),
            )
        }),
        network: (vpc.map(|v| v.subnets().to_vec()).unwrap_or_default(), vpc.map(|v| v.security_groups().to_vec()).unwrap_or_default()),
        role: c.service_execution_role_arn().and_then(|arn| arn.rsplit('/').next()).unwrap_or_default().to_owned(),
        log_group: logs.and_then(|l| l.cloud_watch_logs()).filter(|c| c.enabled()).and_then(|c| c.log_group()).map(str::to_owned),
        log_bucket: logs
            .and_then(|l| l.s3())
            .filter(|s| s.enabled())
            .map(|s| (s.bucket().unwrap_or_default().to_owned(), s.prefix().unwrap_or_default().to_owned())),
        iam_and_tls: c.kafka_cluster_client_authentication().and_then(|a| a.authentication_type()).map(|t| t.as_str()) == Some("IAM")
            && c.kafka_cluster_encryption_in_transit().and_then(|e| e.encryption_type()).map(|t| t.as_str()) == Some("TLS"),
    };
    Ok((Some(found), plugin))
}

async fn find_api(aws: &Aws, base: &crate::plan::Plan) -> Result<Option<FoundApi>, AwsError> {
    let Some(spec) = &base.api else { return Ok(None) };
    let named = resources::apigateway_rest_api::named(aws, &spec.name).await?;
    let same_name = named.len();
    let Some(api) = named.into_iter().next() else { return Ok(None) };
    let id = api.id().unwrap_or_default().to_owned();
    let endpoint =
        api.endpoint_configuration().and_then(|e| e.types().first()).map_or_else(|| "EDGE".to_owned(), |t| t.as_str().to_owned());
    let (resources, stages) = tokio::join!(
        aws.apigateway.get_resources().rest_api_id(&id).limit(500).send(),
        aws.apigateway.get_stages().rest_api_id(&id).send()
    );
    let proxy = resources
        .or_aws("apigateway:GetResources")?
        .items()
        .iter()
        .find(|r| r.path() == Some("/{proxy+}"))
        .and_then(|r| r.id())
        .map(str::to_owned);
    let method = match &proxy {
        Some(resource) => match aws
            .apigateway
            .get_method()
            .rest_api_id(&id)
            .resource_id(resource)
            .http_method("ANY")
            .send()
            .await
            .or_aws("apigateway:GetMethod")
        {
            Ok(m) => Some(m),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    let mut stages: Vec<aws_sdk_apigateway::types::Stage> = stages.or_aws("apigateway:GetStages")?.item().to_vec();
    // The plan's stage first, if it is there.
    stages.sort_by_key(|s| s.stage_name() != Some(spec.stage.as_str()));
    let stage = stages.first();
    let pinfra_deployment = match stage.and_then(|s| s.deployment_id()) {
        Some(deployment) => aws
            .apigateway
            .get_deployment()
            .rest_api_id(&id)
            .deployment_id(deployment)
            .send()
            .await
            .or_aws("apigateway:GetDeployment")?
            .description()
            .and_then(resources::apigateway_rest_api::deployment_fingerprint)
            .is_some(),
        None => false,
    };
    Ok(Some(FoundApi {
        name: spec.name.clone(),
        endpoint,
        stage: stage.and_then(|s| s.stage_name()).map(str::to_owned),
        other_stages: stages.iter().skip(1).filter_map(|s| s.stage_name()).map(str::to_owned).collect(),
        throttling: stage
            .and_then(|s| s.method_settings())
            .and_then(|m| m.get("*/*"))
            .map(|s| (s.throttling_rate_limit(), s.throttling_burst_limit())),
        pinfra_deployment,
        api_key_required: method.as_ref().map(|m| m.api_key_required().unwrap_or(false)),
        authorization: method.as_ref().and_then(|m| m.authorization_type()).map(str::to_owned),
        same_name,
        integration: method
            .as_ref()
            .and_then(|m| m.method_integration())
            .map(|i| (i.r#type().map(|t| t.as_str().to_owned()).unwrap_or_default(), i.uri().unwrap_or_default().to_owned())),
        owner: api.tags().and_then(|tags| owner(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))),
    }))
}

/// The plan's text and the report.
#[derive(Debug, Clone, Default)]
pub struct Generated {
    /// The plan.
    pub text: String,
    /// Live values that differ from pinfra's defaults, kept in the plan.
    pub kept: Vec<String>,
    /// What the first apply changes beyond adopting (the plan cannot keep it), each with why.
    pub changes: Vec<String>,
    /// What stops the adoption: a resource pinfra would have to replace (it never replaces
    /// what it does not own) or cannot use; fixed by hand first.
    pub blockers: Vec<String>,
    /// What was not found: the first apply creates it.
    pub missing: Vec<String>,
}

impl Generated {
    /// The report users read.
    pub fn report(&self, path: &str) -> String {
        let mut out = format!("wrote {path}\n");
        let mut section = |title: &str, items: &[String]| {
            if !items.is_empty() {
                let _ = writeln!(out, "{title}:");
                for item in items {
                    let _ = writeln!(out, "  - {item}");
                }
            }
        };
        section("blocks adopting (fix by hand, then import again; pinfra never replaces what it does not own)", &self.blockers);
        section("kept as found (differs from pinfra's defaults)", &self.kept);
        section("changed by the first apply (the plan cannot keep it)", &self.changes);
        section("not found (the first apply creates it)", &self.missing);
        out
    }
}

/// A TOML string (JSON's string syntax is TOML's basic string).
fn q(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn list(values: &[String]) -> String {
    format!("[{}]", values.iter().map(|v| q(v)).collect::<Vec<_>>().join(", "))
}

/// A live value as a plan string that takes placeholders: braces doubled (literal), and the
/// user id written as `{user_id}` where the value derives from it.
fn templated(value: &str, user_id: &str) -> String {
    let literal = value.replace('{', "{{").replace('}', "}}");
    if user_id.is_empty() { literal } else { literal.replace(user_id, "{user_id}") }
}

fn sorted(list: &[String]) -> Vec<String> {
    let mut list = list.to_vec();
    list.sort();
    list
}

/// The plan that reproduces `found`, and the report.
pub fn generate(header: &Header, found: &Found) -> Generated {
    let mut g = Generated::default();
    let uid = header.user_id.as_str();
    let t = |name: &str| q(&templated(name, uid));
    let text = &mut g.text;
    let _ = writeln!(text, "# The pipeline of user id {uid}, as `pinfra import` found it in {}.", header.region);
    let _ = writeln!(text, "# Values that differ from pinfra's defaults are kept as found; the format is docs/plan.md.");
    let _ = writeln!(
        text,
        "\n[environment]\nname = {}\nproject = {}\nregion = {}\nuser_id = {}",
        q(&header.env),
        q(&header.project),
        q(&header.region),
        q(uid)
    );
    let _ = writeln!(text, "\n[msk]\ncluster = {}", q(&header.cluster));
    if found.topics.is_empty() {
        g.missing.push(format!("topics under `{uid}.`: the plan lists the seed's three (`{uid}.pin`, `{uid}.geo`, `{uid}.user`)"));
        for suffix in ["pin", "geo", "user"] {
            let _ = writeln!(text, "\n[[topics]]\nname = \"{{user_id}}.{suffix}\"\npartitions = 3\nreplication_factor = 3");
        }
    }
    for (name, partitions, replication) in &found.topics {
        let _ = writeln!(text, "\n[[topics]]\nname = {}\npartitions = {partitions}\nreplication_factor = {replication}", t(name));
        if (*partitions, *replication) != (3, 3) {
            g.kept.push(format!("topic {name} has {partitions} partition(s), replication factor {replication} (pinfra's default 3, 3)"));
        }
    }

    // [role]
    let role_default = format!("{uid}-ec2-access-role");
    let role_name = found.role.as_ref().map_or(role_default.clone(), |r| r.name.clone());
    let _ = writeln!(text, "\n[role]\nname = {}", t(&role_name));
    match &found.role {
        Some(role) => {
            if role.name != role_default {
                g.kept.push(format!("role is `{}` (pinfra's default `{role_default}`)", role.name));
            }
            if !role.has_pinfra_policy {
                let _ = writeln!(text, "manage_policies = false   # its policies were made by hand; pinfra manages only its tags");
                let policies = if role.other_policies.is_empty() { "none".to_owned() } else { role.other_policies.join(", ") };
                g.kept.push(format!(
                    "role `{}` keeps its own policies ({policies}): `manage_policies = false`; drop it to have pinfra add its least-privilege policy and trust",
                    role.name
                ));
            }
        }
        None => g.missing.push(format!("the role `{role_name}` and its instance profile")),
    }
    if let Some(profile) = found.instance.as_ref().and_then(|i| i.profile.as_ref()).filter(|p| **p != role_name) {
        let _ = writeln!(text, "instance_profile = {}", t(profile));
        g.kept.push(format!("instance profile is `{profile}` (pinfra's default: the role's name)"));
    }

    // [bucket]
    let bucket_default = format!("user-{uid}-bucket");
    let bucket_name = found.bucket.as_ref().map_or(bucket_default.clone(), |b| b.name.clone());
    let _ = writeln!(text, "\n[bucket]\nname = {}", t(&bucket_name));
    match &found.bucket {
        Some(FoundBucket { name, unusable: Some(why), .. }) => {
            g.blockers.push(format!("bucket `{name}` {why}: pinfra cannot adopt it"));
        }
        Some(bucket) => {
            if bucket.name != bucket_default {
                g.kept.push(format!("bucket is `{}` (pinfra's default `{bucket_default}`)", bucket.name));
            }
            if bucket.versioning.as_deref() == Some("Enabled") {
                let _ = writeln!(text, "versioning = true");
                g.kept.push(format!("bucket `{}` has versioning on", bucket.name));
            }
            match &bucket.encryption {
                Some((algorithm, key)) if algorithm == "aws:kms" => {
                    let _ = writeln!(text, "encryption = \"sse-kms\"");
                    match key {
                        Some(key) if key.starts_with("arn:") => {
                            let _ = writeln!(text, "kms_key_arn = {}", q(key));
                            g.kept.push(format!("bucket `{}` is encrypted with SSE-KMS, key {key}", bucket.name));
                        }
                        Some(key) => g.changes.push(format!(
                            "bucket `{}` is encrypted with KMS key `{key}`, which the plan names by ARN only: the apply sets the AWS managed key unless you add `kms_key_arn = \"<the key's ARN>\"`",
                            bucket.name
                        )),
                        None => g.kept.push(format!("bucket `{}` is encrypted with SSE-KMS (the AWS managed key)", bucket.name)),
                    }
                }
                Some((algorithm, _)) if algorithm != "AES256" => g.changes.push(format!(
                    "bucket `{}` is encrypted with {algorithm}, which the plan cannot express: the apply sets SSE-S3",
                    bucket.name
                )),
                Some(_) => {}
                None => g.changes.push(format!("bucket `{}` has no default encryption: the apply turns on SSE-S3", bucket.name)),
            }
            if !bucket.public_access_blocked {
                g.changes
                    .push(format!("bucket `{}` does not block all public access: the apply turns the public access block on", bucket.name));
            }
        }
        None => g.missing.push(format!("the bucket `{bucket_name}`")),
    }

    // [kafka_client]
    let port = api_port(found).unwrap_or(8082);
    let _ = writeln!(text, "\n[kafka_client]\nrest_proxy_port = {port}");
    if port != 8082 {
        g.kept.push(format!("the REST proxy listens on port {port} (pinfra's default 8082)"));
    }
    match &found.instance {
        Some(instance) => client_section(&mut g, instance, port, uid),
        None => g.missing.push(format!("the Kafka client instance `{uid}-kafka-client` and its security group")),
    }

    // [connect]
    let text = &mut g.text;
    match &found.plugin {
        Some(plugin) => {
            let _ = writeln!(
                text,
                "\n[connect.plugin]\n# Made by hand: used as it is (pinfra never uploads or replaces it).\nexisting = {}",
                t(&plugin.name)
            );
            g.kept.push(format!(
                "plugin `{}` is used as it is (`existing`); to let pinfra manage the zip, give `source` instead (a new, content-addressed plugin)",
                plugin.name
            ));
            if plugin.state != "ACTIVE" {
                g.changes
                    .push(format!("plugin `{}` is {}: pinfra uses an existing plugin only once it is ACTIVE", plugin.name, plugin.state));
            }
        }
        None => {
            let _ = writeln!(text, "\n[connect.plugin]\nsource = \"artifacts/confluentinc-kafka-connect-s3-10.0.3.zip\"");
            g.missing.push(format!("the custom plugin `{uid}-plugin`: put the Confluent S3 sink's zip at artifacts/ beside the plan"));
        }
    }
    match &found.connector {
        Some(connector) => connector_section(&mut g, connector, found, header, &bucket_name, &role_name),
        None => {
            let _ = writeln!(g.text, "\n[connect.connector]\ntopics_regex = \"{{user_id}}.*\"");
            g.missing.push(format!("the connector `{uid}-connector`"));
        }
    }

    // [api]
    match &found.api {
        Some(api) => api_section(&mut g, api, found, &header.env),
        None => {
            let _ = writeln!(g.text, "\n[api]\nstage = {}", q(&header.env));
            g.missing.push(format!("the REST API `{uid}-api`"));
        }
    }
    // The network is not the plan's: what a person made there is only reported.
    g.kept.extend(found.network.iter().cloned());
    g
}

/// The port the REST API's integration calls, if it names one.
fn api_port(found: &Found) -> Option<u16> {
    let (_, uri) = found.api.as_ref()?.integration.as_ref()?;
    let authority = uri.strip_prefix("http://").or_else(|| uri.strip_prefix("https://"))?.split('/').next()?;
    authority.rsplit_once(':').and_then(|(_, port)| port.parse().ok())
}

fn client_section(g: &mut Generated, instance: &FoundInstance, port: u16, uid: &str) {
    let text = &mut g.text;
    let default_name = format!("{uid}-kafka-client");
    if instance.name != default_name {
        let _ = writeln!(text, "instance_name = {}", q(&templated(&instance.name, uid)));
        g.kept.push(format!("instance is named `{}` (pinfra's default `{default_name}`)", instance.name));
    }
    let _ = writeln!(text, "instance_type = {}", q(&instance.instance_type));
    if instance.instance_type != "t3.micro" {
        g.kept.push(format!("instance {} is a {} (pinfra's default t3.micro)", instance.id, instance.instance_type));
    }
    let _ = writeln!(
        text,
        "ami = {}   # pinned to the live AMI; without it, the latest Amazon Linux 2023 (which would replace the instance)",
        q(&instance.ami)
    );
    g.kept.push(format!("instance {} runs AMI {}, pinned (pinfra's default: the latest Amazon Linux 2023)", instance.id, instance.ami));
    if let Some((size, encrypted)) = instance.root_volume {
        let _ = writeln!(text, "root_volume_gib = {size}");
        if size != 20 {
            g.kept.push(format!("instance {} has a root volume of {size} GiB (pinfra's default 20)", instance.id));
        }
        if !encrypted {
            let _ =
                writeln!(text, "root_volume_encrypted = false   # as found: not required of this instance (a new one is always encrypted)");
            g.kept.push(format!("instance {} has an unencrypted root volume (pinfra's default: encrypted; warning PF004)", instance.id));
        }
    }
    if instance.http_tokens.as_deref() == Some("optional") {
        let _ = writeln!(text, "imdsv2 = false   # as found: IMDSv1 allowed on this instance (a new one requires IMDSv2)");
        g.kept.push(format!("instance {} allows IMDSv1 (pinfra's default: IMDSv2 only; warning PF005)", instance.id));
    }
    // Even a user-data pinfra rendered was rendered from a plan import cannot know: it is never
    // compared until the user says so.
    let _ = writeln!(text, "manage_user_data = false   # set up outside this plan: its user-data is not compared");
    if instance.pinfra_user_data {
        g.kept.push(format!(
            "instance {} runs a user-data pinfra rendered for another plan: `manage_user_data = false`; drop it to compare (a difference replaces the instance)",
            instance.id
        ));
    } else {
        g.kept.push(format!(
            "instance {} was set up without pinfra's user-data: `manage_user_data = false` (`pinfra render` still writes the properties files)",
            instance.id
        ));
    }
    if instance.state == "stopped" {
        g.changes.push(format!("instance {} is stopped: the apply starts it (the plan wants a running Kafka client)", instance.id));
    }
    if instance.root_volume.is_none() {
        g.blockers.push(format!("instance {}: its root volume cannot be read, so the plan cannot match it (a replacement)", instance.id));
    }
    if !instance.other_groups.is_empty() {
        let _ = writeln!(text, "extra_security_groups = {}   # made elsewhere; kept on the instance", list(&instance.other_groups));
        g.kept.push(format!(
            "instance {} also has security groups {}: `extra_security_groups`",
            instance.id,
            instance.other_groups.join(", ")
        ));
    }
    if let Some(key) = &instance.key_name {
        let _ = writeln!(text, "ssh_key_name = {}   # an existing key pair", q(&templated(key, uid)));
        g.kept.push(format!("instance {} uses the key pair `{key}`", instance.id));
    }
    if instance.profile.is_none() {
        g.blockers.push(format!(
            "instance {} has no instance profile: the plan's profile forces a replacement; attach the role's instance profile in the EC2 console first",
            instance.id
        ));
    }
    let Some(group) = &instance.security_group else {
        g.changes.push(format!("instance {} has no security group pinfra can read", instance.id));
        return;
    };
    let _ = writeln!(text, "security_group = {}", q(&templated(&group.name, uid)));
    if group.name != default_name {
        g.kept.push(format!("security group is `{}` (pinfra's default `{default_name}`)", group.name));
    }
    if let Some(vpc) = &group.vpc_id {
        let _ = writeln!(text, "vpc_id = {}", q(vpc));
        g.kept.push(format!("security group `{}` is in {vpc}, not the default VPC", group.name));
    }
    if let Some(subnet) = &instance.pinned_subnet {
        let _ = writeln!(text, "subnet_id = {}", q(subnet));
        g.kept.push(format!(
            "instance {} is in subnet {subnet}, which does not route 0.0.0.0/0 to an internet gateway: `subnet_id` keeps it there (API Gateway cannot reach it there; the diff says so)",
            instance.id
        ));
    }
    let (mut proxy, mut ssh) = (Vec::new(), Vec::new());
    for (protocol, from, to, cidr) in &group.ingress {
        let tcp = protocol == "tcp" || protocol == "6";
        if tcp && *from == i32::from(port) && *to == i32::from(port) {
            proxy.push(cidr.clone());
        } else if tcp && *from == 22 && *to == 22 {
            if cidr.ends_with("/0") {
                g.changes.push(format!(
                    "security group `{}` lets the whole internet reach SSH ({cidr}); pinfra refuses that (PF002), so the apply revokes it: add your own address to `ssh_sources`",
                    group.name
                ));
            } else {
                ssh.push(cidr.clone());
            }
        } else if tcp && from == to {
            g.changes.push(format!("security group `{}` allows tcp {from} from {cidr}: not in the plan, the apply revokes it", group.name));
        } else {
            g.kept
                .push(format!("security group `{}` allows {protocol} {from}-{to} from {cidr}: pinfra leaves such rules alone", group.name));
        }
    }
    if group.other_ingress > 0 {
        g.changes.push(format!(
            "security group `{}` has {} rule(s) from other groups, IPv6 ranges or prefix lists: pinfra leaves them alone",
            group.name, group.other_ingress
        ));
    }
    let _ = writeln!(text, "proxy_sources = {}", list(&proxy));
    let _ = writeln!(text, "ssh_sources = {}", list(&ssh));
    if !ssh.is_empty() {
        g.kept.push(format!("SSH is open to {}", ssh.join(", ")));
    }
}

fn connector_section(g: &mut Generated, connector: &FoundConnector, found: &Found, header: &Header, bucket: &str, role: &str) {
    let uid = header.user_id.as_str();
    let text = &mut g.text;
    let _ = writeln!(text, "\n[connect.connector]");
    let default_name = format!("{uid}-connector");
    if connector.name != default_name {
        let _ = writeln!(text, "name = {}", q(&templated(&connector.name, uid)));
    }
    let _ = writeln!(text, "kafka_connect_version = {}", q(&connector.kafka_connect_version));
    let live = &connector.config;
    if let Some(regex) = live.get("topics.regex") {
        let _ = writeln!(text, "topics_regex = {}", q(&templated(regex, uid)));
    }
    // The configuration pinfra would write, and what the live one changes of it.
    let mut derived: BTreeMap<String, String> = SEED_SINK_CONFIG.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    derived.insert("s3.bucket.name".into(), bucket.to_owned());
    derived.insert("s3.region".into(), header.region.clone());
    let mut overrides = BTreeMap::new();
    for (key, value) in live {
        if key == "topics.regex" {
            continue;
        }
        if derived.get(key) != Some(value) {
            overrides.insert(key.clone(), value.clone());
            match derived.get(key) {
                Some(default) => g.kept.push(format!("connector has {key}={value} (pinfra's default {default})")),
                None => g.kept.push(format!("connector has {key}={value} (not among pinfra's defaults)")),
            }
        }
    }
    for (key, default) in &derived {
        if !live.contains_key(key) {
            g.changes.push(format!("connector has no {key}: the apply sets {key}={default} (pinfra's sink settings), in place"));
        }
    }
    if !live.contains_key("topics.regex") && !live.contains_key("topics") {
        g.changes.push("connector has neither topics nor topics.regex: the apply sets topics.regex".to_owned());
    }
    if !overrides.is_empty() {
        let body: Vec<String> = overrides.iter().map(|(k, v)| format!("{} = {}", q(k), q(&templated(v, uid)))).collect();
        let _ = writeln!(text, "config = {{ {} }}", body.join(", "));
    }
    let (cluster_subnets, cluster_groups) = &found.cluster_network;
    if sorted(&connector.network.0) != sorted(cluster_subnets) {
        let _ = writeln!(text, "subnets = {}", list(&connector.network.0));
        g.kept.push(format!("connector runs in subnets {} (pinfra's default: the brokers')", connector.network.0.join(", ")));
    }
    if sorted(&connector.network.1) != sorted(cluster_groups) {
        let _ = writeln!(text, "security_groups = {}", list(&connector.network.1));
        g.kept.push(format!("connector uses security groups {} (pinfra's default: the brokers')", connector.network.1.join(", ")));
    }
    if let Some(group) = &connector.log_group {
        let _ = writeln!(text, "log_group = {}", q(group));
        g.kept.push(format!("connector logs to CloudWatch group {group}"));
    }
    if let Some((log_bucket, prefix)) = &connector.log_bucket {
        let prefix_ok = !prefix.is_empty() && prefix.ends_with('/') && !prefix.starts_with('/');
        if log_bucket == bucket && prefix_ok {
            let _ = writeln!(text, "log_bucket_prefix = {}", q(prefix));
            g.kept.push(format!("connector logs to s3://{log_bucket}/{prefix}"));
        } else {
            g.blockers.push(format!(
                "connector logs to s3://{log_bucket}/{prefix}, which the plan cannot express (the plan's bucket, a prefix ending in `/`): a replacement"
            ));
        }
    }
    if connector.role != role {
        g.blockers.push(format!(
            "connector runs as role `{}`, but the plan has one role (`{role}`) for the instance and the connector: a replacement",
            connector.role
        ));
    }
    if !connector.iam_and_tls {
        g.blockers.push("connector does not use IAM authentication with TLS, which pinfra always uses: a replacement".to_owned());
    }
    match connector.state.as_str() {
        "RUNNING" => {}
        "FAILED" => g.blockers.push("connector is FAILED: pinfra would replace it; delete it by hand (the plan makes it again)".to_owned()),
        state => g.changes.push(format!("connector is {state}: the apply waits for it")),
    }
    match (connector.provisioned, connector.autoscaling) {
        (Some((mcu, workers)), _) => {
            let _ = writeln!(text, "\n[connect.connector.capacity]\nmcu_count = {mcu}\nworkers = {workers}");
            if (mcu, workers) != (1, 1) {
                g.kept.push(format!("connector has {workers} worker(s) of {mcu} MCU (pinfra's default 1 of 1)"));
            }
        }
        (None, Some((mcu, min, max, scale_in, scale_out, max_tasks))) => {
            let _ = writeln!(
                text,
                "\n[connect.connector.capacity]\nmcu_count = {mcu}\nmin_workers = {min}\nmax_workers = {max}\nscale_in_cpu = {scale_in}\nscale_out_cpu = {scale_out}"
            );
            if max_tasks > 0 {
                let _ = writeln!(text, "max_tasks = {max_tasks}");
            }
            g.kept.push(format!("connector autoscales {min}-{max} workers of {mcu} MCU"));
        }
        (None, None) => {}
    }
}

fn api_section(g: &mut Generated, api: &FoundApi, found: &Found, header_env: &str) {
    let text = &mut g.text;
    let _ = writeln!(text, "\n[api]");
    let stage = api.stage.clone().unwrap_or_else(|| header_env.to_owned());
    let _ = writeln!(text, "stage = {}", q(&stage));
    if !api.other_stages.is_empty() {
        g.kept.push(format!("API `{}` has other stages ({}): pinfra manages `{stage}` only", api.name, api.other_stages.join(", ")));
    }
    if api.stage.is_none() {
        g.changes.push(format!("API `{}` has no stage: the apply deploys it to `{stage}`", api.name));
    }
    match api.throttling {
        Some((rate, burst)) => {
            // The plan takes whole requests per second, 1-10000, and a burst of 1-5000.
            #[allow(clippy::cast_possible_truncation)]
            let whole = (rate.round() as i64).clamp(1, 10_000);
            let burst_kept = burst.clamp(1, 5_000);
            let _ = writeln!(text, "throttle_rate_limit = {whole}");
            let _ = writeln!(text, "throttle_burst_limit = {burst_kept}");
            #[allow(clippy::cast_precision_loss)]
            let exact = (whole as f64 - rate).abs() < f64::EPSILON && burst_kept == burst;
            if !exact {
                g.changes.push(format!(
                    "stage `{stage}` throttles at {rate} requests/s, burst {burst}: the plan takes 1-10000 whole requests/s and a burst of 1-5000, so the apply sets {whole}, {burst_kept}"
                ));
            }
            if (whole, burst_kept) != (100, 200) {
                g.kept.push(format!("stage `{stage}` throttles at {whole} requests/s, burst {burst_kept} (pinfra's default 100, 200)"));
            }
        }
        None => g.changes.push(format!("stage `{stage}` has no throttling: the apply sets 100 requests/s, burst 200")),
    }
    if api.api_key_required == Some(true) {
        let _ = writeln!(text, "api_key_required = true");
        g.changes.push(format!(
            "API `{}` requires an API key: pinfra manages its own key `{}-key` and usage plan (a hand-made key keeps working only if its usage plan admits the stage)",
            api.name, api.name
        ));
    }
    if api.endpoint != "REGIONAL" {
        g.changes.push(format!(
            "API `{}` is {}: the apply changes it to REGIONAL in place (UpdateRestApi), keeping its id",
            api.name, api.endpoint
        ));
    }
    if api.same_name > 1 {
        g.blockers.push(format!("{} REST APIs are named `{}`: delete all but one by hand", api.same_name, api.name));
    }
    if api.authorization.as_deref().is_some_and(|a| a != "NONE") {
        g.changes.push(format!(
            "the API's ANY method uses {} authorization: the apply sets NONE, as the seed's design has it (use `api_key_required` to require a key)",
            api.authorization.as_deref().unwrap_or_default()
        ));
    }
    if !api.pinfra_deployment && api.stage.is_some() {
        g.changes.push(format!(
            "stage `{stage}` serves a deployment made by hand, which pinfra cannot compare: the apply makes a new deployment of the same route (with pinfra's fingerprint)"
        ));
    }
    let port = api_port(found).unwrap_or(8082);
    let expected = found.instance.as_ref().and_then(|i| i.public_dns.as_ref()).map(|dns| format!("http://{dns}:{port}/{{proxy}}"));
    match (&api.integration, expected) {
        (Some((kind, uri)), Some(expected)) if kind == "HTTP_PROXY" && *uri == expected => {}
        (Some((kind, uri)), _) => {
            g.changes.push(format!("the API's integration is {kind} {uri}: the apply points it at the instance's REST proxy"))
        }
        (None, _) => g.changes.push("the API has no ANY method on /{proxy+}: the apply makes it".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            env: "dev".into(),
            project: "pipeline".into(),
            region: "us-east-1".into(),
            user_id: "0a1b2c3d4e5f".into(),
            cluster: "c".into(),
        }
    }

    fn hand_built() -> Found {
        let uid = "0a1b2c3d4e5f";
        let mut config: BTreeMap<String, String> = SEED_SINK_CONFIG.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        config.insert("tasks.max".into(), "3".into());
        config.insert("topics.regex".into(), format!("{uid}.*"));
        config.insert("s3.bucket.name".into(), format!("user-{uid}-bucket"));
        config.insert("s3.region".into(), "us-east-1".into());
        Found {
            topics: ["pin", "geo", "user"].iter().map(|s| (format!("{uid}.{s}"), 3, 3)).collect(),
            cluster_network: (vec!["subnet-1".into()], vec!["sg-1".into()]),
            role: Some(FoundRole {
                name: format!("{uid}-ec2-access-role"),
                has_pinfra_policy: false,
                other_policies: vec!["msk-s3-access".into()],
                owner: None,
            }),
            bucket: Some(FoundBucket {
                name: format!("user-{uid}-bucket"),
                versioning: None,
                encryption: Some(("AES256".into(), None)),
                public_access_blocked: true,
                unusable: None,
            }),
            instance: Some(FoundInstance {
                name: format!("{uid}-kafka-client"),
                id: "i-1".into(),
                state: "running".into(),
                other_groups: Vec::new(),
                owner: None,
                private_ip: Some("172.31.0.5".into()),
                pinned_subnet: None,
                instance_type: "t2.micro".into(),
                ami: "ami-0123456789abcdef0".into(),
                root_volume: Some((8, false)),
                http_tokens: Some("required".into()),
                pinfra_user_data: false,
                key_name: Some(format!("{uid}-key-pair")),
                profile: Some(format!("{uid}-ec2-access-role")),
                public_dns: Some("ec2-1.compute-1.amazonaws.com".into()),
                security_group: Some(FoundGroup {
                    id: "sg-1".into(),
                    name: "launch-wizard-1".into(),
                    vpc_id: None,
                    ingress: vec![("tcp".into(), 22, 22, "203.0.113.7/32".into()), ("tcp".into(), 8082, 8082, "0.0.0.0/0".into())],
                    other_ingress: 0,
                }),
            }),
            plugin: Some(FoundPlugin { name: format!("{uid}-plugin"), state: "ACTIVE".into() }),
            connector: Some(FoundConnector {
                name: format!("{uid}-connector"),
                state: "RUNNING".into(),
                kafka_connect_version: "2.7.1".into(),
                config,
                provisioned: Some((1, 1)),
                network: (vec!["subnet-1".into()], vec!["sg-1".into()]),
                role: format!("{uid}-ec2-access-role"),
                iam_and_tls: true,
                ..FoundConnector::default()
            }),
            api: Some(FoundApi {
                name: format!("{uid}-api"),
                endpoint: "REGIONAL".into(),
                stage: Some("dev".into()),
                throttling: Some((10000.0, 5000)),
                api_key_required: Some(false),
                integration: Some(("HTTP_PROXY".into(), "http://ec2-1.compute-1.amazonaws.com:8082/{proxy}".into())),
                ..FoundApi::default()
            }),
            network: Vec::new(),
        }
    }

    #[test]
    fn a_hand_built_pipeline_makes_a_valid_plan_that_keeps_its_live_values() {
        let generated = generate(&header(), &hand_built());
        let parsed = crate::plan::parse(&generated.text);
        assert!(!parsed.diagnostics.has_errors(), "{:?}\n{}", parsed.diagnostics, generated.text);
        let plan = parsed.plan.unwrap();
        assert_eq!(plan.kafka_client.instance_type, "t2.micro");
        assert_eq!(plan.kafka_client.root_volume_gib, 8);
        assert!(!plan.kafka_client.root_volume_encrypted && !plan.kafka_client.manage_user_data && plan.kafka_client.ssh_key_existing);
        assert_eq!(plan.kafka_client.ssh_key_name, "0a1b2c3d4e5f-key-pair");
        assert_eq!(plan.kafka_client.security_group, "launch-wizard-1");
        assert_eq!(plan.kafka_client.ssh_sources, ["203.0.113.7/32"]);
        assert!(!plan.role.manage_policies);
        let connect = plan.connect.unwrap();
        assert_eq!(connect.plugin.source, crate::plan::ArtifactSource::Existing);
        assert_eq!(connect.plugin.name, "0a1b2c3d4e5f-plugin");
        assert_eq!(connect.connector.config.get("tasks.max").map(String::as_str), Some("3"));
        let api = plan.api.unwrap();
        assert_eq!((api.throttle_rate_limit, api.throttle_burst_limit), (10000, 5000));
        let report = generated.report("p.toml");
        assert!(report.contains("connector has tasks.max=3 (pinfra's default 1)"), "{report}");
        assert!(report.contains("deployment made by hand"), "{report}");
        assert!(generated.missing.is_empty(), "{:?}", generated.missing);
    }

    #[test]
    fn what_the_plan_cannot_keep_is_listed_as_a_change() {
        let mut found = hand_built();
        if let Some(group) = found.instance.as_mut().and_then(|i| i.security_group.as_mut()) {
            group.ingress.push(("tcp".into(), 22, 22, "0.0.0.0/0".into()));
            group.ingress.push(("tcp".into(), 9092, 9092, "10.0.0.0/8".into()));
        }
        found.bucket.as_mut().unwrap().encryption = None;
        found.api = None;
        found.instance.as_mut().unwrap().other_groups = vec!["sg-0123456789abcdef0".into()];
        let generated = generate(&header(), &found);
        let plan = crate::plan::parse(&generated.text).plan.unwrap_or_else(|| panic!("still a valid plan:\n{}", generated.text));
        assert_eq!(plan.kafka_client.extra_security_groups, ["sg-0123456789abcdef0"], "other groups are kept");
        let changes = generated.changes.join("\n");
        assert!(changes.contains("SSH (0.0.0.0/0)"), "{changes}");
        assert!(changes.contains("9092"), "{changes}");
        assert!(changes.contains("no default encryption"), "{changes}");
        assert_eq!(generated.missing, ["the REST API `0a1b2c3d4e5f-api`"]);
    }

    #[test]
    fn what_pinfra_would_have_to_replace_blocks_the_adoption() {
        let mut found = hand_built();
        found.connector.as_mut().unwrap().role = "another-role".into();
        found.instance.as_mut().unwrap().profile = None;
        found.bucket.as_mut().unwrap().unusable = Some("is in eu-west-1, not in the plan's region us-east-1".into());
        let generated = generate(&header(), &found);
        let blockers = generated.blockers.join("\n");
        for expected in ["runs as role `another-role`", "has no instance profile", "is in eu-west-1"] {
            assert!(blockers.contains(expected), "{expected}: {blockers}");
        }
        assert!(generated.report("p.toml").contains("blocks adopting"), "the report leads with them");
        assert!(generated.changes.iter().all(|c| !c.contains("replace")), "a replacement is never promised: {:?}", generated.changes);
    }

    #[test]
    fn what_a_person_made_in_the_network_is_reported_as_kept() {
        use crate::network::{Endpoint, Network, Peer, RouteTable, Rule, SecurityGroup, Subnet};
        let subnet = |id: &str, block: &str| {
            (id.to_owned(), Subnet { id: id.into(), cidr: block.parse().unwrap(), zone: "z".into(), map_public_ip: false })
        };
        let rule = |peer| Rule { protocol: "tcp".into(), from_port: 9098, to_port: 9098, peer };
        let network = Network {
            region: "us-east-1".into(),
            vpc_id: "vpc-1".into(),
            subnets: [subnet("subnet-b", "10.0.1.0/24"), subnet("subnet-c", "10.0.2.0/24")].into_iter().collect(),
            route_tables: vec![RouteTable { id: "rtb-main".into(), main: true, subnets: vec![], routes: vec![] }],
            endpoints: vec![Endpoint {
                id: "vpce-1".into(),
                service: "com.amazonaws.us-east-1.s3".into(),
                gateway: true,
                route_tables: vec!["rtb-main".into()],
                tags: Default::default(),
            }],
            groups: [(
                "sg-b".to_owned(),
                SecurityGroup {
                    id: "sg-b".into(),
                    name: "default".into(),
                    ingress: vec![
                        rule(Peer::Group("sg-1".into())),
                        rule(Peer::Cidr("10.0.2.7/32".parse().unwrap())),
                        rule(Peer::Cidr("0.0.0.0/0".parse().unwrap())),
                    ],
                    egress: vec![],
                    tags: Default::default(),
                },
            )]
            .into_iter()
            .collect(),
            ..Network::default()
        };
        let mut instance = hand_built().instance.unwrap();
        instance.private_ip = Some("10.0.2.7".into());
        let notes = network_findings(&network, &["sg-b".to_owned()], Some(&instance), &["subnet-b".to_owned()]);
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert!(
            notes[0].contains("admits the client's group `launch-wizard-1` on TCP 9098 (made by hand): the first apply adopts"),
            "{notes:?}"
        );
        assert!(notes[1].contains("admits the client's address (10.0.2.7/32) on TCP 9098 (made by hand): kept as found"), "{notes:?}");
        assert!(notes[2].contains("S3 gateway endpoint vpce-1 serves the connector's route table(s) rtb-main: kept as found"), "{notes:?}");
        let mut found = hand_built();
        found.network = notes;
        assert!(generate(&header(), &found).kept.iter().any(|k| k.contains("vpce-1")));
    }

    #[test]
    fn a_client_in_a_subnet_without_an_internet_route_is_kept_there() {
        let mut found = hand_built();
        found.instance.as_mut().unwrap().pinned_subnet = Some("subnet-0abc12345".into());
        let generated = generate(&header(), &found);
        assert!(generated.text.contains("subnet_id = \"subnet-0abc12345\""), "{}", generated.text);
        assert!(generated.kept.iter().any(|k| k.contains("`subnet_id` keeps it there")), "{:?}", generated.kept);
        assert!(crate::plan::parse(&generated.text).plan.is_some(), "the plan parses:\n{}", generated.text);
    }

    #[test]
    fn an_edge_api_is_converted_in_place_not_a_blocker() {
        let mut found = hand_built();
        found.api.as_mut().unwrap().endpoint = "EDGE".into();
        let generated = generate(&header(), &found);
        assert!(generated.blockers.is_empty(), "{:?}", generated.blockers);
        assert!(
            generated.changes.iter().any(|c| c.contains("is EDGE: the apply changes it to REGIONAL in place")),
            "{:?}",
            generated.changes
        );
    }

    #[test]
    fn hostile_live_values_stay_strings() {
        let mut found = hand_built();
        let hostile = "\"\n[y]\n${env:SECRET} {user_id} }{";
        found.connector.as_mut().unwrap().config.insert("transforms.x".into(), hostile.into());
        let generated = generate(&header(), &found);
        assert!(!generated.text.contains("\n[y]"));
        let parsed = crate::plan::parse(&generated.text);
        let plan = parsed.plan.unwrap_or_else(|| panic!("{:?}\n{}", parsed.diagnostics, generated.text));
        assert_eq!(plan.connect.unwrap().connector.config.get("transforms.x").map(String::as_str), Some(hostile), "kept byte for byte");
    }
}
