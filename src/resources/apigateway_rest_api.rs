//! The API Gateway REST API in front of the Kafka REST proxy: a regional API with one
//! `{proxy+}` resource, an ANY method and an HTTP_PROXY integration to
//! `http://<instance public DNS>:<port>/{proxy}` (authorization NONE, as in the seed), deployed
//! to one stage with throttling on.
//!
//! A REST API deployment is a snapshot: changing a method or an integration does nothing until a
//! new deployment is made (the trap of hashicorp/terraform#6613). So the route's configuration
//! is fingerprinted, the fingerprint is written into the deployment's description, and the
//! stage's deployment is compared by it: any change of the route (a new instance DNS name after
//! the instance was replaced, another port) shows as `deployment` in the diff and is made live by
//! a new deployment.

use std::collections::BTreeMap;

use aws_sdk_apigateway::types::{EndpointConfiguration, EndpointType, IntegrationType, Method, Op, PatchOperation, Stage};
use serde_json::{Value as Json, json};

use crate::artifact::sha256_hex;
use crate::aws::{Aws, AwsError, Classify};
use crate::engine::{Action, Change, FieldChange, Fields, Inputs, Kind, Outputs, ResourceError, ResourceId, Tags, Value};
use crate::plan::ApiSpec;

/// The kind name.
pub const KIND: &str = "apigateway_rest_api";
/// The output carrying the invoke URL.
pub const OUTPUT_INVOKE_URL: &str = "invoke_url";
/// The greedy path resource, as the seed made it.
const PROXY_PATH: &str = "/{proxy+}";
/// Words before the fingerprint in a deployment's description.
const FINGERPRINT_PREFIX: &str = "pinfra route ";

/// The REST API as the plan declares it.
#[derive(Debug, Clone)]
pub struct ApigatewayRestApi {
    /// Name, stage, API key, throttling.
    pub spec: ApiSpec,
    /// The REST proxy's port on the instance.
    pub port: u16,
    /// The Kafka client instance whose public DNS name the integration calls.
    pub instance: ResourceId,
    /// Tags, ownership included.
    pub tags: Tags,
    /// The plan's region.
    pub region: String,
    /// The custom AWS endpoint, if any (the sandbox's invoke URLs differ).
    pub endpoint: Option<String>,
}

/// What the plan wants.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// The route (`path`, `method`, `authorization`, `api_key_required`, `integration`); its
    /// integration URI is unknown until the instance's DNS name is.
    route: Value,
    /// Fingerprint of `route`.
    fingerprint: Value,
    throttling: Json,
    /// With `api_key_required`: `{"key", "usage_plan", "stage"}`; else null (a key pinfra made
    /// earlier is removed).
    api_key: Json,
    tags: Tags,
}

/// What API Gateway has.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Live {
    id: String,
    root_id: String,
    endpoint: String,
    proxy_resource: Option<String>,
    /// The route as configured now (not necessarily deployed).
    route: Json,
    stage: Option<LiveStage>,
    /// The key `<name>-key` and its usage plan, when the key exists.
    api_key: Option<LiveKey>,
    /// `api_key` as the diff compares it.
    api_key_json: Json,
    tags: Tags,
}

/// The API key and the usage plan that admits it, as found.
#[derive(Debug, Clone, PartialEq, Default)]
struct LiveKey {
    key_id: Option<String>,
    plan_id: Option<String>,
    /// The plan admits the key to this API's stage.
    admits: bool,
}

impl LiveKey {
    fn json(&self, spec: &ApiSpec) -> Json {
        match (&self.key_id, &self.plan_id, self.admits) {
            (Some(_), Some(_), true) => key_json(spec),
            (Some(_), _, _) => json!({"key": format!("{}-key", spec.name)}),
            _ => Json::Null,
        }
    }
}

fn key_json(spec: &ApiSpec) -> Json {
    json!({"key": format!("{}-key", spec.name), "usage_plan": format!("{}-plan", spec.name), "stage": spec.stage})
}

/// The stage, if it exists.
#[derive(Debug, Clone, PartialEq, Default)]
struct LiveStage {
    /// The fingerprint in its deployment's description; `None` for a deployment pinfra did not make.
    fingerprint: Option<String>,
    throttling: Json,
}

/// The route the plan wants, given the instance's public DNS name.
pub fn route(api_key_required: bool, integration_uri: &str) -> Json {
    json!({
        "path": PROXY_PATH,
        "method": "ANY",
        "authorization": "NONE",
        "api_key_required": api_key_required,
        "integration": {
            "type": "HTTP_PROXY",
            "http_method": "ANY",
            "uri": integration_uri,
            "request_parameters": {"integration.request.path.proxy": "method.request.path.proxy"},
        },
    })
}

/// A short, stable digest of a route (serde_json maps are sorted, so equal routes hash alike).
pub fn fingerprint(route: &Json) -> String {
    sha256_hex(route.to_string().as_bytes())[..16].to_owned()
}

fn throttling(rate: f64, burst: i64) -> Json {
    json!({"rate_limit": rate, "burst_limit": burst})
}

/// The value of the plan's API key, for `verify`; `None` if it does not exist. A secret: never
/// printed or logged.
pub async fn api_key_value(aws: &Aws, spec: &ApiSpec) -> Result<Option<String>, AwsError> {
    let name = format!("{}-key", spec.name);
    let keys =
        aws.apigateway.get_api_keys().name_query(&name).include_values(true).limit(500).send().await.or_aws("apigateway:GetApiKeys")?;
    let value = keys.items().iter().find(|k| k.name() == Some(name.as_str())).and_then(|k| k.value()).map(str::to_owned);
    // Masked in every log line from now on (`logging`): verify sends it as a header.
    value.iter().for_each(|v| crate::secrets::remember(v));
    Ok(value)
}

/// Every REST API named `name`, all pages.
pub async fn named(aws: &Aws, name: &str) -> Result<Vec<aws_sdk_apigateway::types::RestApi>, AwsError> {
    // One listing serves every environment of a round (`aws::shared`): GetRestApis counts
    // against API Gateway's account-wide 10 calls a second.
    let all = aws.shared.get_or_read("apigateway:GetRestApis".into(), || all_rest_apis(aws)).await?;
    Ok(all.into_iter().filter(|a| a.name() == Some(name)).collect())
}

/// Every REST API of the Region (GetRestApis, every page).
async fn all_rest_apis(aws: &Aws) -> Result<Vec<aws_sdk_apigateway::types::RestApi>, AwsError> {
    let mut found = Vec::new();
    let mut position = None;
    loop {
        let page = aws.apigateway.get_rest_apis().limit(500).set_position(position).send().await.or_aws("apigateway:GetRestApis")?;
        found.extend(page.items().iter().cloned());
        position = page.position().map(str::to_owned);
        if position.is_none() || page.items().is_empty() {
            return Ok(found);
        }
    }
}

/// One resource of a REST API, with its ANY method.
#[derive(Debug, Clone)]
pub struct ApiResource {
    /// The resource's id.
    pub id: String,
    /// Its path, such as `/{proxy+}`.
    pub path: String,
    /// Its ANY method, with the integration, if it has one.
    pub any: Option<Method>,
}

/// The REST API `id`'s resources with their methods embedded (GetResources with
/// `embed=methods`, every page), so that no GetMethod follows. Without `embed`, API Gateway
/// answers each method only by its verb (API reference, GetResources: "embed ... Currently, the
/// request supports only retrieval of the embedded Method resources this way").
pub async fn resources(aws: &Aws, id: &str) -> Result<Vec<ApiResource>, AwsError> {
    let mut out = Vec::new();
    let mut position = None;
    loop {
        let page = aws
            .apigateway
            .get_resources()
            .rest_api_id(id)
            .embed("methods")
            .limit(500)
            .set_position(position)
            .send()
            .await
            .or_aws("apigateway:GetResources")?;
        out.extend(page.items().iter().filter_map(|r| {
            Some(ApiResource {
                id: r.id()?.to_owned(),
                path: r.path()?.to_owned(),
                any: r.resource_methods().and_then(|m| m.get("ANY")).cloned(),
            })
        }));
        position = page.position().map(str::to_owned);
        if position.is_none() || page.items().is_empty() {
            return Ok(out);
        }
    }
}

/// Every stage of the REST API `id` (GetStages): how `import` finds a stage of any name.
pub async fn stages(aws: &Aws, id: &str) -> Result<Vec<Stage>, AwsError> {
    Ok(aws.apigateway.get_stages().rest_api_id(id).send().await.or_aws("apigateway:GetStages")?.item().to_vec())
}

/// The route fingerprint of `deployment` (GetDeployment), if pinfra made it.
pub async fn fingerprint_of(aws: &Aws, id: &str, deployment: &str) -> Result<Option<String>, AwsError> {
    let out = aws.apigateway.get_deployment().rest_api_id(id).deployment_id(deployment).send().await.or_aws("apigateway:GetDeployment")?;
    Ok(out.description().and_then(deployment_fingerprint).map(str::to_owned))
}

/// Every deployment of the REST API `id` (GetDeployments, every page), by id, with the route
/// fingerprint of those pinfra made.
async fn deployment_fingerprints(aws: &Aws, id: &str) -> Result<BTreeMap<String, Option<String>>, AwsError> {
    let mut out = BTreeMap::new();
    let mut position = None;
    loop {
        let page = aws
            .apigateway
            .get_deployments()
            .rest_api_id(id)
            .limit(500)
            .set_position(position)
            .send()
            .await
            .or_aws("apigateway:GetDeployments")?;
        for deployment in page.items() {
            if let Some(deployment_id) = deployment.id() {
                let fingerprint = deployment.description().and_then(deployment_fingerprint).map(str::to_owned);
                out.insert(deployment_id.to_owned(), fingerprint);
            }
        }
        position = page.position().map(str::to_owned);
        if position.is_none() || page.items().is_empty() {
            return Ok(out);
        }
    }
}

/// The route fingerprint in a deployment's description, if pinfra made the deployment.
pub fn deployment_fingerprint(description: &str) -> Option<&str> {
    description.strip_prefix(FINGERPRINT_PREFIX)
}

/// The URL clients call: API Gateway's, or the sandbox's execute-api route when the endpoint is
/// a loopback address (the LocalStack convention `/restapis/{id}/{stage}/_user_request_`).
pub fn invoke_url(endpoint: Option<&str>, region: &str, id: &str, stage: &str) -> String {
    match endpoint {
        Some(url) if ["http://127.0.0.1", "http://localhost", "http://[::1]"].iter().any(|p| url.starts_with(p)) => {
            format!("{}/restapis/{id}/{stage}/_user_request_", url.trim_end_matches('/'))
        }
        _ => format!("https://{id}.execute-api.{region}.{}/{stage}", crate::aws::dns_suffix(region)),
    }
}

impl ApigatewayRestApi {
    fn name(&self) -> &str {
        &self.spec.name
    }

    /// Every REST API with the plan's name (there should be at most one).
    async fn find(&self, aws: &Aws) -> Result<Vec<aws_sdk_apigateway::types::RestApi>, AwsError> {
        named(aws, self.name()).await
    }

    /// The route as the proxy resource's embedded ANY method shows it.
    fn read_route(method: Option<&Method>) -> Json {
        let Some(method) = method else { return Json::Null };
        let integration = method.method_integration().map_or(Json::Null, |i| {
            let params: BTreeMap<&str, &str> =
                i.request_parameters().map(|p| p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()).unwrap_or_default();
            json!({
                "type": i.r#type().map(|t| t.as_str()),
                "http_method": i.http_method(),
                "uri": i.uri(),
                "request_parameters": params,
            })
        });
        json!({
            "path": PROXY_PATH,
            "method": "ANY",
            "authorization": method.authorization_type(),
            "api_key_required": method.api_key_required().unwrap_or(false),
            "integration": integration,
        })
    }

    /// The stage (GetStage) and the route fingerprint of its deployment, read beside it from the
    /// API's deployments (GetDeployments: one round trip where GetStage, then GetDeployment,
    /// took two).
    async fn read_stage(&self, aws: &Aws, id: &str) -> Result<Option<LiveStage>, AwsError> {
        let (stage, deployments) =
            tokio::join!(aws.apigateway.get_stage().rest_api_id(id).stage_name(&self.spec.stage).send(), deployment_fingerprints(aws, id));
        let stage = match stage.or_aws("apigateway:GetStage") {
            Ok(stage) => stage,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let deployments = deployments?;
        let all = stage.method_settings().and_then(|m| m.get("*/*"));
        let throttling = match all {
            Some(s) => throttling(s.throttling_rate_limit(), i64::from(s.throttling_burst_limit())),
            None => Json::Null,
        };
        let fingerprint = match stage.deployment_id() {
            Some(deployment) => match deployments.get(deployment) {
                Some(fingerprint) => fingerprint.clone(),
                // Made after the listing: read it alone.
                None => fingerprint_of(aws, id, deployment).await?,
            },
            None => None,
        };
        Ok(Some(LiveStage { fingerprint, throttling }))
    }

    fn key_name(&self) -> String {
        format!("{}-key", self.name())
    }

    fn plan_name(&self) -> String {
        format!("{}-plan", self.name())
    }

    /// The id of the key `<name>-key` (GetApiKeys), if it exists: found by name, so read beside
    /// the REST API's lookup.
    async fn key_id(&self, aws: &Aws) -> Result<Option<String>, AwsError> {
        let keys = aws.apigateway.get_api_keys().name_query(self.key_name()).limit(500).send().await.or_aws("apigateway:GetApiKeys")?;
        Ok(keys.items().iter().find(|k| k.name() == Some(self.key_name().as_str())).and_then(|k| k.id()).map(str::to_owned))
    }

    /// The key `key_id` and the usage plan that holds it (GetUsagePlans).
    async fn read_key(&self, aws: &Aws, api_id: &str, key_id: String) -> Result<LiveKey, AwsError> {
        let plans = aws.apigateway.get_usage_plans().key_id(&key_id).limit(500).send().await.or_aws("apigateway:GetUsagePlans")?;
        let plan = plans.items().iter().find(|p| p.name() == Some(self.plan_name().as_str()));
        Ok(LiveKey {
            plan_id: plan.and_then(|p| p.id()).map(str::to_owned),
            admits: plan
                .is_some_and(|p| p.api_stages().iter().any(|s| s.api_id() == Some(api_id) && s.stage() == Some(self.spec.stage.as_str()))),
            key_id: Some(key_id),
        })
    }

    /// Creates what is missing of the key and its usage plan (after the stage exists).
    async fn put_key(&self, aws: &Aws, api_id: &str, live: Option<&LiveKey>, tags: &Tags) -> Result<(), ResourceError> {
        let key_id = match live.and_then(|l| l.key_id.clone()) {
            Some(id) => id,
            None => {
                let made = aws
                    .apigateway
                    .create_api_key()
                    .name(self.key_name())
                    .description("pinfra: callers of the pipeline's REST API")
                    .enabled(true)
                    .set_tags(Some(tags.clone().into_iter().collect()))
                    .send()
                    .await
                    .or_aws("apigateway:CreateApiKey")?;
                // Its value comes back in the answer: masked in every log line from now on.
                made.value().iter().for_each(|v| crate::secrets::remember(v));
                made.id().unwrap_or_default().to_owned()
            }
        };
        if live.is_some_and(|l| l.admits) {
            return Ok(());
        }
        // The plan exists but does not admit this API's stage (a replaced API, a renamed
        // stage): add the stage to it rather than make a second plan of the same name.
        if let Some(plan_id) = live.and_then(|l| l.plan_id.as_deref()) {
            let add = PatchOperation::builder().op(Op::Add).path("/apiStages").value(format!("{api_id}:{}", self.spec.stage)).build();
            aws.apigateway
                .update_usage_plan()
                .usage_plan_id(plan_id)
                .patch_operations(add)
                .send()
                .await
                .or_aws("apigateway:UpdateUsagePlan")?;
            return Ok(());
        }
        let stage = aws_sdk_apigateway::types::ApiStage::builder().api_id(api_id).stage(&self.spec.stage).build();
        let plan = aws
            .apigateway
            .create_usage_plan()
            .name(self.plan_name())
            .description("pinfra: admits the pipeline's API key to its stage")
            .api_stages(stage)
            .set_tags(Some(tags.clone().into_iter().collect()))
            .send()
            .await
            .or_aws("apigateway:CreateUsagePlan")?;
        aws.apigateway
            .create_usage_plan_key()
            .usage_plan_id(plan.id().unwrap_or_default())
            .key_id(key_id)
            .key_type("API_KEY")
            .send()
            .await
            .or_aws("apigateway:CreateUsagePlanKey")?;
        Ok(())
    }

    /// Deletes the usage plan, then the key (destroy, or `api_key_required` turned off).
    async fn remove_key(&self, aws: &Aws, live: &LiveKey) -> Result<(), ResourceError> {
        if let Some(plan) = &live.plan_id {
            // API Gateway refuses to delete a usage plan that still lists API stages
            // (BadRequestException "Cannot delete Usage Plan ... because there are API Stages
            // associated with it"): take them out first.
            let stages = match aws.apigateway.get_usage_plan().usage_plan_id(plan).send().await.or_aws("apigateway:GetUsagePlan") {
                Ok(found) => found.api_stages().iter().filter_map(|s| Some(format!("{}:{}", s.api_id()?, s.stage()?))).collect(),
                Err(e) if e.is_not_found() => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            if !stages.is_empty() {
                let removals =
                    stages.into_iter().map(|stage| PatchOperation::builder().op(Op::Remove).path("/apiStages").value(stage).build());
                aws.apigateway
                    .update_usage_plan()
                    .usage_plan_id(plan)
                    .set_patch_operations(Some(removals.collect()))
                    .send()
                    .await
                    .or_aws("apigateway:UpdateUsagePlan")?;
            }
            match aws.apigateway.delete_usage_plan().usage_plan_id(plan).send().await.or_aws("apigateway:DeleteUsagePlan") {
                Err(e) if !e.is_not_found() => return Err(e.into()),
                _ => {}
            }
        }
        if let Some(key) = &live.key_id {
            match aws.apigateway.delete_api_key().api_key(key).send().await.or_aws("apigateway:DeleteApiKey") {
                Err(e) if !e.is_not_found() => return Err(e.into()),
                _ => {}
            }
        }
        Ok(())
    }

    async fn create_api(&self, aws: &Aws, tags: &Tags) -> Result<(String, String), ResourceError> {
        let created = aws
            .apigateway
            .create_rest_api()
            .name(self.name())
            .description("pinfra: the Kafka REST proxy of the pipeline")
            .endpoint_configuration(EndpointConfiguration::builder().types(EndpointType::Regional).build())
            .set_tags(Some(tags.clone().into_iter().collect()))
            .send()
            .await
            .or_aws("apigateway:CreateRestApi")?;
        let id = created.id().unwrap_or_default().to_owned();
        let root = match created.root_resource_id() {
            Some(root) => root.to_owned(),
            None => resources(aws, &id).await?.into_iter().find(|r| r.path == "/").map(|r| r.id).unwrap_or_default(),
        };
        Ok((id, root))
    }

    /// Makes the route match: the resource, the method, the integration.
    async fn put_route(&self, aws: &Aws, id: &str, root: &str, live: Option<&Live>, route: &Json) -> Result<(), ResourceError> {
        let resource = match live.and_then(|l| l.proxy_resource.clone()) {
            Some(resource) => resource,
            None => {
                let created = aws
                    .apigateway
                    .create_resource()
                    .rest_api_id(id)
                    .parent_id(root)
                    .path_part("{proxy+}")
                    .send()
                    .await
                    .or_aws("apigateway:CreateResource");
                match created {
                    Ok(r) => r.id().unwrap_or_default().to_owned(),
                    // Made by an interrupted earlier run.
                    Err(e) if e.is_code(&["ConflictException"]) => {
                        resources(aws, id).await?.into_iter().find(|r| r.path == PROXY_PATH).map(|r| r.id).ok_or(e)?
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let key_required = route["api_key_required"].as_bool().unwrap_or(false);
        let live_route = live.map_or(&Json::Null, |l| &l.route);
        if live_route.is_null() {
            aws.apigateway
                .put_method()
                .rest_api_id(id)
                .resource_id(&resource)
                .http_method("ANY")
                .authorization_type("NONE")
                .api_key_required(key_required)
                .request_parameters("method.request.path.proxy", true)
                .send()
                .await
                .or_aws("apigateway:PutMethod")?;
        } else if live_route["api_key_required"] != route["api_key_required"] || live_route["authorization"] != route["authorization"] {
            let operation = "apigateway:UpdateMethod";
            let patch = |path: &str, value: &str| PatchOperation::builder().op(Op::Replace).path(path).value(value).build();
            aws.apigateway
                .update_method()
                .rest_api_id(id)
                .resource_id(&resource)
                .http_method("ANY")
                .patch_operations(patch("/apiKeyRequired", if key_required { "true" } else { "false" }))
                .patch_operations(patch("/authorizationType", "NONE"))
                .send()
                .await
                .or_aws(operation)?;
        }
        if live_route.get("integration") != route.get("integration") {
            let uri = route["integration"]["uri"].as_str().unwrap_or_default();
            aws.apigateway
                .put_integration()
                .rest_api_id(id)
                .resource_id(&resource)
                .http_method("ANY")
                .r#type(IntegrationType::HttpProxy)
                .integration_http_method("ANY")
                .uri(uri)
                .request_parameters("integration.request.path.proxy", "method.request.path.proxy")
                .send()
                .await
                .or_aws("apigateway:PutIntegration")?;
        }
        Ok(())
    }

    /// A new deployment carrying the fingerprint, pointed at by the stage (created if missing);
    /// then the stage's throttling.
    async fn deploy(
        &self,
        aws: &Aws,
        id: &str,
        live: Option<&LiveStage>,
        fingerprint: &str,
        desired: &Desired,
    ) -> Result<(), ResourceError> {
        let deployment = aws
            .apigateway
            .create_deployment()
            .rest_api_id(id)
            .description(format!("{FINGERPRINT_PREFIX}{fingerprint}"))
            .send()
            .await
            .or_aws("apigateway:CreateDeployment")?;
        let deployment = deployment.id().unwrap_or_default();
        match live {
            None => {
                aws.apigateway
                    .create_stage()
                    .rest_api_id(id)
                    .stage_name(&self.spec.stage)
                    .deployment_id(deployment)
                    .set_tags(Some(desired.tags.clone().into_iter().collect()))
                    .send()
                    .await
                    .or_aws("apigateway:CreateStage")?;
            }
            Some(_) => {
                let patch = PatchOperation::builder().op(Op::Replace).path("/deploymentId").value(deployment).build();
                aws.apigateway
                    .update_stage()
                    .rest_api_id(id)
                    .stage_name(&self.spec.stage)
                    .patch_operations(patch)
                    .send()
                    .await
                    .or_aws("apigateway:UpdateStage")?;
            }
        }
        Ok(())
    }

    async fn put_throttling(&self, aws: &Aws, id: &str) -> Result<(), ResourceError> {
        let patch = |path: &str, value: String| PatchOperation::builder().op(Op::Replace).path(path).value(value).build();
        aws.apigateway
            .update_stage()
            .rest_api_id(id)
            .stage_name(&self.spec.stage)
            .patch_operations(patch("/*/*/throttling/rateLimit", format!("{}", self.spec.throttle_rate_limit)))
            .patch_operations(patch("/*/*/throttling/burstLimit", self.spec.throttle_burst_limit.to_string()))
            .send()
            .await
            .or_aws("apigateway:UpdateStage")?;
        Ok(())
    }

    fn outputs_for(&self, id: &str) -> Outputs {
        Outputs::from([
            ("id", Value::of(id)),
            ("stage", Value::of(self.spec.stage.clone())),
            (OUTPUT_INVOKE_URL, Value::of(invoke_url(self.endpoint.as_deref(), &self.region, id, &self.spec.stage))),
        ])
    }
}

impl Kind for ApigatewayRestApi {
    type Desired = Desired;
    type Live = Live;

    fn id(&self) -> ResourceId {
        ResourceId::new(KIND, self.name())
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        vec![self.instance.clone()]
    }

    async fn observe(&self, aws: &Aws) -> Result<Option<Live>, AwsError> {
        // Read also when the plan no longer requires a key: the key and usage plan pinfra made
        // then go (`api_key_required` turned off).
        let (found, key_id) = tokio::join!(self.find(aws), self.key_id(aws));
        let found = found?;
        let api = match found.as_slice() {
            [] => return Ok(None),
            [one] => one,
            many => {
                // Only one can be ours; more than one of that name is ambiguous.
                let ours: Vec<_> =
                    many.iter().filter(|a| a.tags().is_some_and(|t| self.tags.iter().all(|(k, v)| t.get(k) == Some(v)))).collect();
                match ours.as_slice() {
                    [one] => *one,
                    _ => {
                        return Err(AwsError::Other {
                            operation: "apigateway:GetRestApis",
                            detail: format!("{} REST APIs are named `{}`; rename or delete all but one", many.len(), self.name()),
                        });
                    }
                }
            }
        };
        let id = api.id().unwrap_or_default().to_owned();
        let key = async {
            match key_id? {
                Some(key_id) => self.read_key(aws, &id, key_id).await.map(Some),
                None => Ok(None),
            }
        };
        // The resources (methods embedded), the stage and the key side by side.
        let (resources, stage, api_key) = tokio::try_join!(resources(aws, &id), self.read_stage(aws, &id), key)?;
        let root_id = resources.iter().find(|r| r.path == "/").map(|r| r.id.clone()).unwrap_or_default();
        let proxy = resources.iter().find(|r| r.path == PROXY_PATH);
        let proxy_resource = proxy.map(|r| r.id.clone());
        let route = Self::read_route(proxy.and_then(|r| r.any.as_ref()));
        let endpoint =
            api.endpoint_configuration().map(|e| e.types().iter().map(|t| t.as_str()).collect::<Vec<_>>().join(",")).unwrap_or_default();
        Ok(Some(Live {
            id,
            root_id,
            endpoint,
            proxy_resource,
            route,
            stage,
            api_key_json: api_key.as_ref().map_or(Json::Null, |k| k.json(&self.spec)),
            api_key,
            tags: api.tags().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default(),
        }))
    }

    fn desired(&self, inputs: &Inputs) -> Desired {
        let route = match inputs.string(&self.instance, "public_dns") {
            Some(dns) if !dns.is_empty() => {
                Value::Known(route(self.spec.api_key_required, &format!("http://{dns}:{}/{{proxy}}", self.port)))
            }
            _ => Value::Unknown,
        };
        let fingerprint = match &route {
            Value::Known(r) => Value::of(fingerprint(r)),
            Value::Unknown => Value::Unknown,
        };
        Desired {
            route,
            fingerprint,
            throttling: throttling(f64::from(self.spec.throttle_rate_limit), i64::from(self.spec.throttle_burst_limit)),
            api_key: if self.spec.api_key_required { key_json(&self.spec) } else { Json::Null },
            tags: self.tags.clone(),
        }
    }

    fn diff(desired: &Desired, live: Option<&Live>) -> Result<Vec<FieldChange>, ResourceError> {
        let mut fields = Fields::new(live.is_none());
        // A regional endpoint. API Gateway changes an endpoint type in place (developer guide,
        // "Change a public or private API endpoint type": UpdateRestApi on
        // `/endpointConfiguration/types/<type>`), so an EDGE API (the default outside the console)
        // is converted, not replaced.
        fields.known("endpoint", "REGIONAL", live.map(|l| json!(l.endpoint)), false);
        let live_route = live.map(|l| &l.route);
        match &desired.route {
            Value::Known(route) => {
                for key in ["method", "authorization", "api_key_required"] {
                    let have = live_route.map(|r| if r.is_null() { Json::Null } else { r[key].clone() });
                    fields.known(&format!("route.{key}"), route[key].clone(), have, false);
                }
                fields.known(
                    "route.integration",
                    route["integration"].clone(),
                    live_route.map(|r| r.get("integration").cloned().unwrap_or(Json::Null)),
                    false,
                );
            }
            Value::Unknown => fields.field(
                "route.integration",
                Value::Unknown,
                live_route.map(|r| r.get("integration").cloned().unwrap_or(Json::Null)),
                false,
            ),
        }
        let stage = live.and_then(|l| l.stage.as_ref());
        fields.field(
            "deployment",
            desired.fingerprint.clone(),
            live.map(|_| stage.and_then(|s| s.fingerprint.clone()).map_or(Json::Null, Json::String)),
            false,
        );
        fields.known("throttling", desired.throttling.clone(), live.map(|_| stage.map_or(Json::Null, |s| s.throttling.clone())), false);
        if !desired.api_key.is_null() || live.is_some_and(|l| !l.api_key_json.is_null()) {
            fields.known("api_key", desired.api_key.clone(), live.map(|l| l.api_key_json.clone()), false);
        }
        fields.tags("tags", &desired.tags, live.map(|l| &l.tags));
        Ok(fields.finish())
    }

    fn explain(fields: &[FieldChange]) -> Option<String> {
        fields
            .iter()
            .any(|f| f.path == "deployment" && f.old.is_some())
            .then(|| "a new deployment makes the route live: API Gateway serves what was deployed, not what is configured".to_owned())
    }

    const OUTPUTS: &'static [&'static str] = &["id", "stage", OUTPUT_INVOKE_URL];

    fn live_tags(live: &Live) -> Option<&Tags> {
        Some(&live.tags)
    }

    fn outputs(&self, live: &Live) -> Outputs {
        self.outputs_for(&live.id)
    }

    async fn apply(&self, aws: &Aws, desired: &Desired, live: Option<&Live>, change: &Change) -> Result<Outputs, ResourceError> {
        let (Value::Known(route), Value::Known(Json::String(fingerprint))) = (&desired.route, &desired.fingerprint) else {
            return Err(ResourceError::refused(
                format!("the integration of {} needs the instance's public DNS name", self.id()),
                "the Kafka client instance has no public DNS name yet; apply again once it is running in a subnet with public DNS",
            ));
        };
        // The key and its usage plan outlive a replaced API: keep using them.
        let old_key = live.and_then(|l| l.api_key.clone());
        let live = if change.action == Action::Replace {
            if let Some(old) = live {
                aws.apigateway.delete_rest_api().rest_api_id(&old.id).send().await.or_aws("apigateway:DeleteRestApi")?;
            }
            None
        } else {
            live
        };
        let (id, root) = match live {
            Some(l) => (l.id.clone(), l.root_id.clone()),
            None => self.create_api(aws, &desired.tags).await?,
        };
        if let Some(l) = live
            && change.touches("tags")
        {
            let arn = format!("arn:{}:apigateway:{}::/restapis/{}", crate::aws::partition(&aws.region), aws.region, l.id);
            aws.apigateway
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(desired.tags.clone().into_iter().collect()))
                .send()
                .await
                .or_aws("apigateway:TagResource")?;
        }
        if let Some(l) = live
            && change.touches("endpoint")
        {
            let from = l.endpoint.split(',').next().unwrap_or("EDGE");
            aws.apigateway
                .update_rest_api()
                .rest_api_id(&l.id)
                .patch_operations(
                    PatchOperation::builder()
                        .op(Op::Replace)
                        .path(format!("/endpointConfiguration/types/{from}"))
                        .value("REGIONAL")
                        .build(),
                )
                .send()
                .await
                .or_aws("apigateway:UpdateRestApi")?;
        }
        if live.is_none() || change.touches("route") {
            self.put_route(aws, &id, &root, live, route).await?;
        }
        let stage = live.and_then(|l| l.stage.as_ref());
        if live.is_none() || change.touches("deployment") || stage.is_none() {
            self.deploy(aws, &id, stage, fingerprint, desired).await?;
        }
        if live.is_none() || change.touches("throttling") || stage.is_none() {
            self.put_throttling(aws, &id).await?;
        }
        if self.spec.api_key_required && (live.is_none() || change.touches("api_key")) {
            self.put_key(aws, &id, old_key.as_ref(), &desired.tags).await?;
        } else if !self.spec.api_key_required
            && change.touches("api_key")
            && let Some(key) = &old_key
        {
            self.remove_key(aws, key).await?;
        }
        Ok(self.outputs_for(&id))
    }

    async fn delete(&self, aws: &Aws, live: &Live) -> Result<(), ResourceError> {
        if let Some(key) = &live.api_key {
            self.remove_key(aws, key).await?;
        }
        match aws.apigateway.delete_rest_api().rest_api_id(&live.id).send().await.or_aws("apigateway:DeleteRestApi") {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests;
