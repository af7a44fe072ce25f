//! What `import` reads: the cluster through discovery, then each resource the seed's way (by
//! name, else as a person leaves it), into [`Found`]. Only reads.

use super::{Found, FoundApi, FoundBucket, FoundConnector, FoundGroup, FoundInstance, FoundPlugin, FoundRole};
use crate::aws::{Aws, AwsError};
use crate::resources::{self, discovery::ConnectListing, s3_bucket};

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
pub(super) fn network_findings(
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

/// The role the instance profile `profile` holds, if both exist.
async fn profile_role(aws: &Aws, profile: &str) -> Result<Option<String>, AwsError> {
    Ok(resources::iam_instance_profile::find(aws, profile).await?.and_then(|p| p.role().map(str::to_owned)))
}

async fn find_role(aws: &Aws, name: &str) -> Result<Option<FoundRole>, AwsError> {
    let Some(role) = resources::iam_role::find(aws, name).await? else { return Ok(None) };
    Ok(Some(FoundRole {
        has_pinfra_policy: role.has_pinfra_policy(),
        other_policies: role.other_policies(),
        owner: owner(role.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        name: role.name,
    }))
}

async fn find_bucket(aws: &Aws, name: &str, region: &str) -> Result<Option<FoundBucket>, AwsError> {
    let unusable = |why: String| Ok(Some(FoundBucket { name: name.to_owned(), unusable: Some(why), ..FoundBucket::default() }));
    let location = match s3_bucket::region_of(aws, name).await {
        Ok(Some(region)) => region,
        Ok(None) => return Ok(None),
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
    let Some(instance) = resources::ec2_instance::find_by_hand(aws, name, user_id).await? else { return Ok(None) };
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
    let Some(group) = resources::ec2_security_group::find_by_id(aws, id).await? else { return Ok(None) };
    let default_vpc = crate::network::default_vpc(aws).await?;
    Ok(Some(FoundGroup {
        vpc_id: group.vpc_id.filter(|v| Some(v) != default_vpc.as_ref()),
        id: group.id,
        name: group.name,
        ingress: group.ingress,
        other_ingress: group.other_ingress,
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
    let connector = resources::msk_connector::find(aws, name).await?;
    let plugin_arn = connector
        .as_ref()
        .and_then(|c| c.plugins().iter().find_map(|p| p.custom_plugin().and_then(|c| c.custom_plugin_arn())).map(str::to_owned));
    let plugin = match plugin_arn {
        Some(arn) => {
            let (name, state) = resources::msk_connect_plugin::describe(aws, &arn).await?;
            Some(FoundPlugin { name, state })
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
    use resources::apigateway_rest_api as rest_api;
    let Some(spec) = &base.api else { return Ok(None) };
    let named = rest_api::named(aws, &spec.name).await?;
    let same_name = named.len();
    let Some(api) = named.into_iter().next() else { return Ok(None) };
    let id = api.id().unwrap_or_default().to_owned();
    let endpoint =
        api.endpoint_configuration().and_then(|e| e.types().first()).map_or_else(|| "EDGE".to_owned(), |t| t.as_str().to_owned());
    let (paths, stages) = tokio::join!(rest_api::resources(aws, &id), rest_api::stages(aws, &id));
    let method = paths?.into_iter().find(|r| r.path == "/{proxy+}").and_then(|r| r.any);
    let mut stages = stages?;
    // The plan's stage first, if it is there.
    stages.sort_by_key(|s| s.stage_name() != Some(spec.stage.as_str()));
    let stage = stages.first();
    let pinfra_deployment = match stage.and_then(|s| s.deployment_id()) {
        Some(deployment) => rest_api::fingerprint_of(aws, &id, deployment).await?.is_some(),
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
