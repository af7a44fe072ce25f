//! `pinfra render PLAN --out DIR`: writes the Kafka client's files.

use anyhow::Context as _;

use crate::cli::{GlobalArgs, RenderArgs};
use crate::commands::{ExitStatus, Reported, load_plan, session};
use crate::engine::{ResourceId, Value};
use crate::plan::Plan;
use crate::render::{self, LiveValues};
use crate::resources::{iam_role, msk_cluster};
use crate::settings::{Environment, Output};

/// Runs the command.
pub async fn run(args: &RenderArgs, global: &GlobalArgs, env: &Environment, out: Output) -> anyhow::Result<ExitStatus> {
    let templates = crate::commands::load_templates(global, out)?;
    let (plan, live) = if args.offline {
        (load_plan(&args.plan.plan, global.env.as_deref(), out)?, LiveValues::default())
    } else {
        let session = session(&args.plan.plan, global, env, out, false).await?;
        let outputs = session.observed.outputs();
        let get = |id: ResourceId, key: &str| match outputs.get(&id).and_then(|o| o.get(key)) {
            Some(Value::Known(serde_json::Value::String(s))) => Some(s.clone()),
            _ => None,
        };
        let cluster = ResourceId::new(msk_cluster::KIND, session.plan.msk.cluster.name());
        let live = LiveValues {
            role_arn: get(ResourceId::new(iam_role::KIND, &session.plan.role.name), "arn"),
            bootstrap_servers: get(cluster.clone(), msk_cluster::OUTPUT_BOOTSTRAP),
            zookeeper_connect: get(cluster, msk_cluster::OUTPUT_ZOOKEEPER),
        };
        (Plan::clone(&session.plan), live)
    };
    let rendered = render::render(&plan, &templates, &live)?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    // A symbolic link in the way would be followed, and its target (anywhere) overwritten: refuse
    // before writing anything.
    for (name, _) in &rendered.files {
        let path = args.out.join(name);
        if std::fs::symlink_metadata(&path).is_ok_and(|meta| meta.file_type().is_symlink()) {
            let target =
                std::fs::read_link(&path).map(|t| format!(" (to {})", crate::terminal::escape(&t.to_string_lossy()))).unwrap_or_default();
            return Err(Reported::new(format!(
                "{} is a symbolic link{target}; render never writes through one, so nothing was written",
                crate::terminal::escape(&path.to_string_lossy())
            ))
            .hint("remove the link, or give --out a directory without it")
            .into());
        }
    }
    for (name, content) in &rendered.files {
        let path = args.out.join(name);
        std::fs::write(&path, content).with_context(|| format!("cannot write {}", path.display()))?;
        out.printer.data(format_args!("{}\n", path.display()))?;
    }
    if !rendered.unknown.is_empty() {
        out.printer.warning(format_args!("not known yet, written as `<unknown: ...>`: {}", rendered.unknown.join(", ")));
    }
    Ok(ExitStatus::Success)
}
