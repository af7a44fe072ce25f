//! `pinfra import --user-id ID [--region R] [--cluster NAME] [--env NAME] [--out PLAN]`: finds a
//! pipeline built by hand (the seed's way: in the console) by the names the seed's naming gives,
//! and writes a plan that reproduces it, so that the next `diff` shows it adopted, not created
//! or replaced.
//!
//! It only reads. Where a live value differs from pinfra's default, the plan keeps the live value
//! and the report on stdout lists it; what the plan cannot reproduce (and the adopting apply will
//! therefore change) is listed too. The plan is parsed before it is written, and an existing
//! file is never overwritten. The plan schema is written beside it for editors, as by `init`.
//!
//! Discovery happens in [`discover`] (`find.rs`, AWS calls only); [`generate`] (`generate.rs`)
//! turns what was found into the plan's text and the report, a pure function tested without AWS.

mod find;
mod generate;

use std::collections::BTreeMap;

use find::discover;
use generate::generate;

use crate::aws::Aws;
use crate::cli::{GlobalArgs, ImportArgs};
use crate::commands::{ExitStatus, Reported};
use crate::diagnostics::SourceFile;
use crate::resources;
use crate::settings::{self, Environment, Output};

/// Runs the command.
pub async fn run(args: &ImportArgs, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    let path = &args.out;
    super::init::refuse_existing(path, "import", "name another file with --out")?;
    let Some(region) = global.region.clone().or_else(|| env.aws_region.clone()) else {
        return Err(Reported::new("import needs the region of the hand-built pipeline")
            .hint("pass --region (for example --region us-east-1)")
            .into());
    };
    let env_name = global.env.clone().unwrap_or_else(|| "dev".to_owned());
    let project = args.project.clone().unwrap_or_else(|| "pipeline".to_owned());
    let (aws_settings, warning) = settings::aws(global, env, &region)?;
    if let Some(warning) = warning {
        out.printer.warning(warning);
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
        return Err(Reported::new("these flags do not make a valid plan; nothing was read").into());
    };
    let spinner = super::spinner(out, format!("looking for the pipeline of user id {} in {region}", args.user_id));
    let found = discover(&aws, &base).await;
    spinner.finish_and_clear();
    let found =
        found.map_err(|e| Reported::new(e.to_string()).hint(e.hint().unwrap_or_else(|| "check the credentials and region".into())))?;
    let (env_name, project) = managed_names(&found, args, global, env_name, project, out)?;
    let generated = generate(&Header { env: env_name, project, region, user_id: args.user_id.clone(), cluster }, &found);
    let mut generated = generated;
    let parsed = crate::plan::parse(&generated.text);
    let Some(plan) = parsed.plan.filter(|_| !parsed.diagnostics.has_errors()) else {
        let name = path.display().to_string();
        SourceFile { name: &name, text: &generated.text }.emit(&parsed.diagnostics, out.color_stderr);
        return Err(Reported::new(format!("{}: the live values do not make a valid plan; nothing was written", path.display())).into());
    };
    generated.blockers.extend(resources::connect_checks(&plan).problems.into_iter().map(|problem| match problem.hint {
        Some(hint) => format!("{} ({hint})", problem.message),
        None => problem.message,
    }));
    super::init::write_new(path, &generated.text)?;
    super::schema::write_beside(path, out);
    out.printer.data(generated.report(&path.display().to_string()))?;
    if !generated.blockers.is_empty() {
        return Err(Reported::new(format!(
            "{}: written, but {} thing(s) block adopting the pipeline as it is",
            path.display(),
            generated.blockers.len()
        ))
        .hint("fix what `blocks adopting` lists, then import again (to another --out)")
        .into());
    }
    let p = path.display();
    out.printer.status(format_args!("next: pinfra diff {p}   # what was found shows as adopt; then pinfra apply {p}"));
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
    let owners: Vec<(String, String)> = found.owners().into_iter().collect();
    let (plan, env) = match owners.as_slice() {
        [] => return Ok((env_name, project)),
        [(plan, env)] => (plan.clone(), env.clone()),
        many => {
            let names: Vec<String> = many.iter().map(|(p, e)| format!("plan `{p}`, environment `{e}`")).collect();
            return Err(Reported::new(format!(
                "the resources found carry the tags of several pinfra plans ({}); nothing was written",
                names.join("; ")
            ))
            .hint("import is for a pipeline made by hand; keep the plan files of those plans")
            .into());
        }
    };
    let clash = |flag: &str, given: &str, tagged: &str| -> anyhow::Error {
        Reported::new(format!(
            "this pipeline is pinfra's already: plan `{plan}`, environment `{env}`; {flag} {given} names another, whose plan would collide with it (nothing was written)"
        ))
        .hint(format!("leave out {flag} to write the plan of `{tagged}`, or use that plan's file"))
        .into()
    };
    if let Some(given) = args.project.as_deref().filter(|given| *given != plan) {
        return Err(clash("--project", given, &plan));
    }
    if let Some(given) = global.env.as_deref().filter(|given| *given != env) {
        return Err(clash("--env", given, &env));
    }
    out.printer.status(format_args!(
        "note: this pipeline is pinfra's already (plan `{plan}`, environment `{env}`): the plan written takes those names"
    ));
    Ok((env, plan))
}

/// The region's only MSK cluster, or an error listing them.
async fn only_cluster(aws: &Aws, region: &str) -> anyhow::Result<String> {
    let names = resources::discovery::cluster_names(aws).await?;
    match names.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Reported::new(format!("there is no MSK cluster in {region}")).hint("pass --cluster, or --region of the pipeline").into()),
        many => {
            Err(Reported::new(format!("{region} has {} MSK clusters ({})", many.len(), many.join(", "))).hint("pass --cluster NAME").into())
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
