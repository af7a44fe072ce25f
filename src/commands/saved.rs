//! Saved plans in the commands: `diff --out FILE` writes one ([`save`]), `apply FILE` opens it
//! ([`open`]), checks what it can before any call ([`check_inputs`]) and, after each read of
//! AWS, that the change set is still the one saved ([`check_live`]). The format is
//! [`crate::saved_plan`]'s.

use std::path::{Path, PathBuf};

use crate::cli::{ApplyArgs, GlobalArgs, VERSION};
use crate::commands::{Reported, Session};
use crate::engine::Planned;
use crate::engine::render::{self, Style};
use crate::saved_plan::{self, Body, MAX_BYTES, PlanFile};
use crate::terminal::escape;

/// Writes the saved plan of `session`'s `planned` changes to `out`.
pub fn save(out: &Path, plan_path: &Path, env: Option<&str>, prune: bool, session: &Session, planned: &Planned) -> anyhow::Result<()> {
    let bytes = std::fs::read(plan_path).map_err(|e| Reported::new(format!("cannot read plan `{}`: {e}", plan_path.display())))?;
    let body = Body {
        pinfra_version: VERSION.to_owned(),
        made_at: aws_smithy_types::DateTime::from(std::time::SystemTime::now())
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap_or_default(),
        plan: PlanFile { path: plan_path.to_string_lossy().into_owned(), sha256: crate::artifact::sha256_hex(&bytes) },
        env: env.map(str::to_owned),
        environment: session.plan.environment.name.clone(),
        region: session.plan.environment.region.clone(),
        prune,
        resources: saved_plan::fingerprints(planned, &session.observed.outputs()),
        diff: render::json_document(planned, &session.plan.environment.name, &session.plan.environment.region),
    };
    // Written beside the target and renamed over it: a reader never sees half a plan.
    let temporary = out.with_file_name(format!(".{}.partial", out.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()));
    std::fs::write(&temporary, saved_plan::write(&body)).and_then(|()| std::fs::rename(&temporary, out)).map_err(|e| {
        Reported::new(format!("cannot write the saved plan `{}`: {e}", out.display())).hint("give --out a path you can write to")
    })?;
    Ok(())
}

/// The saved plan at `path`, if the file is one (else `None`: a TOML plan). A file that looks
/// saved but cannot be read whole is an error that says why.
pub fn open(path: &Path) -> anyhow::Result<Option<Body>> {
    use std::io::Read as _;
    let refuse = |why: String, hint: &str| Reported::new(format!("`{}` {why}", path.display())).hint(hint);
    // Only the first bytes tell: a TOML plan is not read twice here.
    let Ok(file) = std::fs::File::open(path) else { return Ok(None) };
    let mut head = Vec::new();
    if file.take(4096).read_to_end(&mut head).is_err() || !saved_plan::looks_saved(&head) {
        return Ok(None);
    }
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_BYTES {
        return Err(refuse(format!("is {size} bytes, more than a saved plan's {MAX_BYTES}"), saved_plan::ReadError::Altered.hint()).into());
    }
    let bytes = std::fs::read(path).map_err(|e| refuse(format!("cannot be read: {e}"), "check the path"))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| refuse("is not a whole saved plan: not UTF-8".to_owned(), saved_plan::ReadError::Altered.hint()))?;
    saved_plan::read(&text).map(Some).map_err(|e| refuse(e.to_string(), e.hint()).into())
}

/// Refuses what a saved plan fixes itself: the environment, `--prune`, and a fleet.
pub fn refuse_flags(args: &ApplyArgs, global: &GlobalArgs, saved: &Body) -> anyhow::Result<()> {
    let given = if args.all_envs {
        Some("--all-envs")
    } else if args.prune {
        Some("--prune")
    } else if args.json {
        Some("--json")
    } else if global.env.is_some() && global.env != saved.env {
        Some("--env (or PINFRA_ENV)")
    } else {
        None
    };
    match given {
        Some(flag) => Err(Reported::new(format!("{flag} does not go with a saved plan, which fixes its environment and options"))
            .hint("`pinfra diff --out FILE` takes them; `pinfra apply FILE` applies what was saved")
            .into()),
        None => Ok(()),
    }
}

/// The plan file a saved plan was made from, checked before any call: the same pinfra, the
/// same plan file, byte for byte.
pub fn check_inputs(saved: &Body) -> anyhow::Result<PathBuf> {
    let stale = |why: String| -> anyhow::Error {
        Reported::new(format!("the saved plan is stale: {why}; nothing was changed"))
            .hint("make the plan again with `pinfra diff --out FILE`, review it, and apply that file")
            .into()
    };
    if saved.pinfra_version != VERSION {
        return Err(stale(format!("it was made by pinfra {}, and this is pinfra {VERSION}", escape(&saved.pinfra_version))));
    }
    let path = PathBuf::from(&saved.plan.path);
    let bytes = std::fs::read(&path).map_err(|e| {
        Reported::new(format!("cannot read `{}`, the plan file the saved plan was made from: {e}", escape(&saved.plan.path)))
            .hint("run `pinfra apply` from the directory `pinfra diff --out` ran in")
    })?;
    if crate::artifact::sha256_hex(&bytes) != saved.plan.sha256 {
        return Err(stale(format!("`{}` changed since the plan was made", escape(&saved.plan.path))));
    }
    Ok(path)
}

/// Whether `planned`, read from AWS now, is the change set that was saved; if not, an error
/// naming each resource that drifted, with its diff now.
pub fn check_live(saved: &Body, session: &Session, planned: &Planned) -> anyhow::Result<()> {
    if session.plan.environment.region != saved.region {
        return Err(Reported::new(format!(
            "the saved plan is for Region {}, and the plan is now for {}; nothing was changed",
            escape(&saved.region),
            escape(&session.plan.environment.region)
        ))
        .into());
    }
    let now = saved_plan::fingerprints(planned, &session.observed.outputs());
    let drift = saved_plan::drift(&saved.resources, &now);
    if drift.is_empty() {
        return Ok(());
    }
    for (address, how) in &drift {
        session.printer.notice(format_args!("  drifted: {}: {}", escape(address), escape(how)));
    }
    let current = Planned {
        changes: planned.changes.iter().filter(|c| drift.iter().any(|(address, _)| *address == c.id.to_string())).cloned().collect(),
        skipped: Vec::new(),
    };
    let text = render::text(&current, Style { color: false, show_unchanged: true });
    // Without the summary line: it would count only these resources.
    let text = text.trim_end().rsplit_once("\n\n").map_or(text.as_str(), |(diff, _)| diff);
    session.printer.notice(format_args!("what those resources' diff is now:\n{text}"));
    Err(Reported::new(format!(
        "the saved plan is stale: {} resource{} changed since it was made; nothing was changed",
        drift.len(),
        if drift.len() == 1 { "" } else { "s" }
    ))
    .hint("make the plan again with `pinfra diff --out FILE`, review it, and apply that file")
    .into())
}
