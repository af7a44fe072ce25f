//! `pinfra verify PLAN`: one test record per topic through the API, the REST proxy and the sink,
//! each hop reported; exit 1 if any topic fails a hop. With `--all-envs` (or `--env a,b`), every
//! environment at once.

use std::fmt::Write as _;
use std::time::Duration;

use futures::future::join_all;

use crate::cli::{GlobalArgs, VerifyArgs};
use crate::commands::{Clients, ExitStatus, Reported, fleet, session_for};
use crate::engine::{ResourceId, Value};
use crate::resources::apigateway_rest_api;
use crate::settings::{Environment, Output};
use crate::terminal::escape;
use crate::verify::{self, Target, Wait};

/// Runs the command: on one environment, or on several at once (each report under
/// `== environment <name>`, then a summary).
pub async fn run(args: &VerifyArgs, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    let names = match fleet::select(&args.plan.plan, global, args.all_envs)? {
        fleet::Selection::One(name) => {
            let clients = Clients::default();
            let (report, result) = one(args, name.as_deref(), global, env, out, &clients).await?;
            out.printer.data(report)?;
            return result;
        }
        fleet::Selection::Many(names) => names,
    };
    let wall = std::time::Instant::now();
    let clients = Clients::default();
    let quiet = Output { interactive_stderr: false, ..out };
    let reports = join_all(names.iter().map(|name| {
        let clients = &clients;
        async move {
            let started = std::time::Instant::now();
            (name.clone(), started, one(args, Some(name), global, env, quiet, clients).await)
        }
    }))
    .await;
    let mut results = Vec::new();
    for (name, started, report) in reports {
        out.printer.data(format_args!("== environment {name}\n"))?;
        let fate = match report {
            Ok((text, Ok(_))) => {
                out.printer.data(text)?;
                fleet::Fate::UpToDate
            }
            Ok((text, Err(error))) => {
                out.printer.data(text)?;
                fleet::Fate::Failed(fleet::one_line(&error))
            }
            Err(error) => {
                let why = fleet::one_line(&error);
                out.printer.data(format_args!("(failed: {})\n", escape(&why)))?;
                fleet::Fate::Failed(why)
            }
        };
        out.printer.data("\n")?;
        results.push(fleet::EnvResult { name, result: fate, elapsed: started.elapsed() });
    }
    out.printer.data(fleet::summary("verify", &results, wall.elapsed()))?;
    fleet::exit("verify", &results, ExitStatus::Success)
}

/// Verifies one environment (`None`: the base): its report, for stdout, and how it ended.
async fn one(
    args: &VerifyArgs,
    name: Option<&str>,
    global: &GlobalArgs,
    env: &Environment,
    out: Output,
    clients: &Clients,
) -> anyhow::Result<(String, anyhow::Result<ExitStatus>)> {
    let mut text = String::new();
    let session = session_for(&args.plan.plan, name, global, env, out, false, clients).await?;
    let plan = &session.plan;
    let (Some(api), Some(connect)) = (&plan.api, &plan.connect) else {
        return Err(Reported::new("verify needs the whole data path: the plan has no `[api]` or no `[connect]`")
            .hint("add both (docs/plan.md), apply, then verify")
            .into());
    };
    let outputs = session.observed.outputs();
    let invoke_url = match outputs
        .get(&ResourceId::new(apigateway_rest_api::KIND, &api.name))
        .and_then(|o| o.get(apigateway_rest_api::OUTPUT_INVOKE_URL))
    {
        Some(Value::Known(serde_json::Value::String(url))) => url.clone(),
        _ => {
            return Err(Reported::new(format!("the REST API `{}` does not exist yet", api.name)).hint("run `pinfra apply` first").into());
        }
    };
    let api_key = if api.api_key_required {
        match apigateway_rest_api::api_key_value(&session.aws, api).await {
            Ok(Some(value)) => Some(value),
            Ok(None) => {
                return Err(Reported::new(format!("the API key `{}-key` does not exist yet", api.name))
                    .hint("run `pinfra apply` first")
                    .into());
            }
            Err(error) => return Err(Reported::new(format!("cannot read the API key: {error}")).maybe_hint(error.hint()).into()),
        }
    } else {
        None
    };
    let config = &connect.connector.config;
    let target = Target {
        invoke_url,
        bucket: config.get("s3.bucket.name").cloned().unwrap_or_else(|| plan.bucket.name.clone()),
        topics_dir: config.get("topics.dir").cloned().unwrap_or_else(|| "topics".to_owned()),
        flush_size: config.get("flush.size").and_then(|f| f.parse().ok()).unwrap_or(1),
        topics_regex: config.get("topics.regex").cloned(),
        proxy_port: plan.kafka_client.rest_proxy_port,
        api_key,
    };
    let wait = Wait { timeout: Duration::from_secs(args.wait.max(1)), poll: crate::settings::poll(global, env) };
    let network = session.network_check(None);
    if let Some(network) = network.as_ref().filter(|_| !args.json) {
        let _ = writeln!(text, "{}", network.text(true));
    }
    out.printer.status(format_args!(
        "verify: {} topic(s) through {}; waiting up to {} s for the sink",
        plan.topics.len(),
        target.invoke_url,
        wait.timeout.as_secs()
    ));
    let spinner = crate::commands::spinner(out, "sending test records and waiting for the sink".to_owned());
    let mut reports = join_all(plan.topics.iter().map(|t| verify::verify_topic(&session.aws, &target, &t.name, wait))).await;
    spinner.finish_and_clear();
    // A failed hop whose path the network blocks names the blocking rule or route.
    if let Some(network) = &network {
        for hop in reports.iter_mut().flat_map(|r| r.hops.iter_mut()).filter(|h| h.ok == Some(false)) {
            let blocked =
                network.paths.iter().filter(|p| hop.hop.paths().contains(&p.path)).find_map(|p| p.now.as_ref().err().map(|b| (p, b)));
            if let Some((path, why)) = blocked {
                hop.detail = format!("{}; network path {} is blocked: {}", hop.detail, path.path.name(), why.reason);
                hop.hint = Some(why.hint.clone());
            }
        }
    }
    let passed = reports.iter().filter(|r| r.passed()).count();
    if args.json {
        let document = serde_json::json!({
            "network": network.as_ref().map(crate::resources::network_check::NetworkCheck::json),
            "topics": reports.iter().map(|r| serde_json::json!({
                "topic": r.topic,
                "passed": r.passed(),
                "hops": r.hops.iter().map(|h| serde_json::json!({"hop": h.hop.name(), "ok": h.ok, "detail": h.detail, "hint": h.hint})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "passed": passed,
            "total": reports.len(),
        });
        let _ = writeln!(text, "{}", serde_json::to_string_pretty(&document).unwrap_or_default());
    }
    for report in reports.iter().filter(|_| !args.json) {
        let _ = writeln!(text, "{}", escape(&report.topic));
        for hop in &report.hops {
            let mark = match hop.ok {
                Some(true) => "ok  ",
                Some(false) => "FAIL",
                None => "skip",
            };
            // What the proxy, the gateway or S3 answered is quoted in a hop's detail: escaped.
            let _ = writeln!(text, "  {mark} {:<5} {}", hop.hop.name(), escape(&hop.detail));
            if let Some(hint) = &hop.hint {
                let _ = writeln!(text, "       hint: {}", escape(hint));
            }
        }
    }
    if !args.json {
        let _ = writeln!(text, "verify: {passed} of {} topics passed every hop", reports.len());
    }
    if passed == reports.len() {
        Ok((text, Ok(ExitStatus::Success)))
    } else {
        let failing: Vec<String> = reports
            .iter()
            .filter(|r| !r.passed())
            .map(|r| format!("{} ({})", r.topic, r.hops.iter().find(|h| h.ok == Some(false)).map_or("?", |h| h.hop.name())))
            .collect();
        Ok((text, Err(Reported::new(format!("verify failed for {}", failing.join(", "))).into())))
    }
}
