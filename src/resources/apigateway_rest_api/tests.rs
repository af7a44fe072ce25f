//! Unit tests of `apigateway_rest_api`: the pure diff of the API, its integration and stage.

use super::*;

const URI: &str = "http://ec2-1-2-3-4.compute-1.amazonaws.com:8082/{proxy}";

fn desired(uri: Option<&str>) -> Desired {
    let route = uri.map_or(Value::Unknown, |u| Value::Known(route(false, u)));
    let fingerprint = match &route {
        Value::Known(r) => Value::of(fingerprint(r)),
        Value::Unknown => Value::Unknown,
    };
    Desired {
        route,
        fingerprint,
        throttling: throttling(100.0, 200),
        api_key: Json::Null,
        tags: Tags::from([("pinfra:env".into(), "dev".into())]),
    }
}

fn converged() -> Live {
    let r = route(false, URI);
    Live {
        id: "abc".into(),
        root_id: "root".into(),
        endpoint: "REGIONAL".into(),
        proxy_resource: Some("res".into()),
        stage: Some(LiveStage { fingerprint: Some(fingerprint(&r)), throttling: throttling(100.0, 200) }),
        api_key: None,
        api_key_json: Json::Null,
        route: r,
        tags: Tags::from([("pinfra:env".into(), "dev".into())]),
    }
}

fn paths(desired: &Desired, live: &Live) -> Vec<String> {
    ApigatewayRestApi::diff(desired, Some(live)).unwrap().into_iter().map(|f| f.path).collect()
}

#[test]
fn converged_is_empty() {
    assert!(paths(&desired(Some(URI)), &converged()).is_empty());
}

#[test]
fn a_new_instance_dns_is_an_integration_update_and_a_redeploy() {
    let other = "http://ec2-5-6-7-8.compute-1.amazonaws.com:8082/{proxy}";
    assert_eq!(paths(&desired(Some(other)), &converged()), ["route.integration", "deployment"]);
    let changes = ApigatewayRestApi::diff(&desired(Some(other)), Some(&converged())).unwrap();
    assert!(ApigatewayRestApi::explain(&changes).unwrap().contains("new deployment"));
    // The instance is being replaced: both known after apply.
    let unknown = ApigatewayRestApi::diff(&desired(None), Some(&converged())).unwrap();
    assert_eq!(
        unknown.iter().map(|f| (f.path.as_str(), f.new.clone())).collect::<Vec<_>>(),
        [("route.integration", Some(Value::Unknown)), ("deployment", Some(Value::Unknown))]
    );
}

#[test]
fn a_route_changed_by_hand_is_fixed_without_a_redeploy_when_the_deployment_has_the_plans_route() {
    let mut live = converged();
    live.route["integration"]["uri"] = json!("http://elsewhere:80/{proxy}");
    assert_eq!(paths(&desired(Some(URI)), &live), ["route.integration"]);
}

#[test]
fn a_deployment_not_made_by_pinfra_is_redeployed_and_throttling_restored() {
    let mut live = converged();
    live.stage = Some(LiveStage { fingerprint: None, throttling: Json::Null });
    assert_eq!(paths(&desired(Some(URI)), &live), ["deployment", "throttling"]);
    live.stage = None;
    assert_eq!(paths(&desired(Some(URI)), &live), ["deployment", "throttling"]);
}

#[test]
fn fingerprints_follow_the_route() {
    assert_eq!(fingerprint(&route(false, URI)), fingerprint(&route(false, URI)));
    assert_ne!(fingerprint(&route(false, URI)), fingerprint(&route(true, URI)));
    assert_eq!(fingerprint(&route(false, URI)).len(), 16);
}

#[test]
fn invoke_urls() {
    assert_eq!(invoke_url(None, "us-east-1", "abc", "dev"), "https://abc.execute-api.us-east-1.amazonaws.com/dev");
    // China's Regions have a DNS suffix of their own.
    assert_eq!(invoke_url(None, "cn-north-1", "abc", "dev"), "https://abc.execute-api.cn-north-1.amazonaws.com.cn/dev");
    assert_eq!(
        invoke_url(Some("http://127.0.0.1:4566/"), "us-east-1", "abc", "dev"),
        "http://127.0.0.1:4566/restapis/abc/dev/_user_request_"
    );
}
