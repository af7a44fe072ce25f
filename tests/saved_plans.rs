//! Saved plans (`docs/saved-plans.md`): `diff --out FILE` then `apply FILE` applies exactly the
//! reviewed changes; a plan made stale by its plan file, a live resource or pinfra's version is
//! refused and changes nothing; a damaged file is an error, never a panic.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod common;

use std::path::Path;

use common::{Run, Sandbox, plan_copy};
use pinfra::saved_plan;

const PLAN: &str = "plans/pinterest.toml";
const CLUSTER: &str = "pinterest-msk-cluster";
const BUCKET: &str = "user-0a1b2c3d4e5f-bucket";

fn saved(sandbox: &Sandbox, plan: &Path, out: &Path) {
    let diff = sandbox.pinfra(&["diff", "--out", out.to_str().unwrap(), plan.to_str().unwrap()]);
    diff.expect_code(2);
    assert!(diff.stderr.contains("Saved these changes to"), "{}", diff.stderr);
}

/// `apply FILE`, with the calls it makes recorded from a clean slate.
fn apply_saved(sandbox: &Sandbox, file: &Path) -> Run {
    sandbox.reset_calls();
    sandbox.pinfra(&["apply", file.to_str().unwrap()])
}

#[test]
fn a_saved_plan_applies_exactly_its_changes_without_asking_and_the_next_diff_is_empty() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_copy(dir.path(), PLAN, |t| t);
    let file = dir.path().join("reviewed.pinfra-plan");
    saved(&sandbox, &plan, &file);
    let text = std::fs::read_to_string(&file).unwrap();
    let body = saved_plan::read(&text).unwrap();
    assert_eq!(body.environment, "dev");
    assert!(body.resources.iter().any(|r| r.address == format!("s3_bucket \"{BUCKET}\"") && r.action == "create"), "{text}");

    // No --auto-approve and no terminal: a saved plan was reviewed, so apply does not ask.
    let apply = apply_saved(&sandbox, &file);
    apply.expect_code(0);
    assert!(apply.stdout.contains("will be created") && apply.stderr.contains("Apply complete."), "{}", apply.stderr);
    sandbox.pinfra(&["diff", plan.to_str().unwrap()]).expect_code(0);

    // Applied, the plan is stale: its creates would now be no-ops. Nothing is written.
    let again = apply_saved(&sandbox, &file);
    again.expect_code(1);
    assert!(again.stderr.contains("the saved plan is stale"), "{}", again.stderr);
    assert_eq!(sandbox.writes(), Vec::<String>::new());
}

#[test]
fn a_plan_made_stale_by_its_plan_file_live_state_or_pinfra_version_is_refused_and_changes_nothing() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_copy(dir.path(), PLAN, |t| t);
    sandbox.pinfra(&["apply", "--auto-approve", "-q", plan.to_str().unwrap()]).expect_code(0);
    // A change to review: versioning on.
    let text = std::fs::read_to_string(&plan).unwrap();
    std::fs::write(&plan, text.replace("versioning = false", "versioning = true")).unwrap();
    let file = dir.path().join("reviewed.json");
    saved(&sandbox, &plan, &file);

    // 1. The plan file changed after the review.
    let reviewed = std::fs::read_to_string(&plan).unwrap();
    std::fs::write(&plan, format!("{reviewed}\n# an edit after the review\n")).unwrap();
    let run = apply_saved(&sandbox, &file);
    run.expect_code(1);
    assert!(run.stderr.contains("changed since the plan was made") && run.stderr.contains("nothing was changed"), "{}", run.stderr);
    assert!(sandbox.calls().is_empty(), "refused before any call: {:?}", sandbox.calls());
    std::fs::write(&plan, &reviewed).unwrap();

    // 2. A live resource changed after the review: someone removed the bucket's `team` tag, which
    // the plan sets. (A tag the plan does not manage would change no diff, and no fingerprint.)
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s3 = sandbox.s3("us-east-1").await;
        let tags = s3.get_bucket_tagging().bucket(BUCKET).send().await.unwrap();
        let set: Vec<_> = tags.tag_set().iter().filter(|t| t.key() != "team").cloned().collect();
        let tagging = aws_sdk_s3::types::Tagging::builder().set_tag_set(Some(set)).build().unwrap();
        s3.put_bucket_tagging().bucket(BUCKET).tagging(tagging).send().await.unwrap();
    });
    let run = apply_saved(&sandbox, &file);
    run.expect_code(1);
    assert!(run.stderr.contains(&format!("drifted: s3_bucket \"{BUCKET}\"")), "names the drift: {}", run.stderr);
    assert!(run.stderr.contains("tags.team"), "shows the diff now: {}", run.stderr);
    assert_eq!(sandbox.writes(), Vec::<String>::new());

    // 3. Another pinfra: the saved plan's version, resealed so that only the version differs.
    let fresh = dir.path().join("fresh.json");
    saved(&sandbox, &plan, &fresh);
    let mut body = saved_plan::read(&std::fs::read_to_string(&fresh).unwrap()).unwrap();
    body.pinfra_version = "0.0.9 (0123456789ab)".into();
    std::fs::write(&fresh, saved_plan::write(&body)).unwrap();
    let run = apply_saved(&sandbox, &fresh);
    run.expect_code(1);
    assert!(run.stderr.contains("it was made by pinfra 0.0.9 (0123456789ab)"), "{}", run.stderr);
    assert!(sandbox.calls().is_empty(), "refused before any call: {:?}", sandbox.calls());
}

#[test]
fn a_damaged_saved_plan_is_an_error_that_says_why_never_a_panic() {
    let sandbox = Sandbox::with_cluster(CLUSTER);
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_copy(dir.path(), PLAN, |t| format!("{t}\n[cohort]\nuser_ids = [\"1b2c3d4e5f99\"]\n"));
    let file = dir.path().join("reviewed.json");
    saved(&sandbox, &plan, &file);
    let text = std::fs::read_to_string(&file).unwrap();
    let cases = [
        ("truncated", text[..text.len() * 2 / 3].to_owned(), "is not a whole saved plan"),
        ("altered", text.replacen("\"create\"", "\"no-op\"", 1), "was changed after it was written"),
        ("newer", text.replace("\"format_version\": 1", "\"format_version\": 7"), "by a newer pinfra"),
        ("foreign", "{\"hello\": \"world\"}".to_owned(), "is not a pinfra saved plan"),
        ("binary", "{\u{0}\u{1}garbage".to_owned(), "is not a whole saved plan"),
    ];
    for (what, damaged, says) in cases {
        std::fs::write(&file, damaged).unwrap();
        let run = apply_saved(&sandbox, &file);
        run.expect_code(1);
        assert!(run.stderr.contains(says) && run.stderr.contains("hint:"), "{what}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{what}: {}", run.stderr);
        assert!(sandbox.calls().is_empty(), "{what}: {:?}", sandbox.calls());
    }
    // A file past the size of any saved plan is refused unread (sparse: nothing is written).
    let huge = std::fs::File::create(&file).unwrap();
    std::io::Write::write_all(&mut &huge, b"{").unwrap();
    huge.set_len(saved_plan::MAX_BYTES + 1).unwrap();
    let run = apply_saved(&sandbox, &file);
    run.expect_code(1);
    assert!(run.stderr.contains("more than a saved plan's") && run.stderr.contains("hint:"), "{}", run.stderr);
    assert!(sandbox.calls().is_empty(), "{:?}", sandbox.calls());
    // A saved plan holds one environment.
    let fleet = sandbox.pinfra(&["--env", "dev,1b2c3d4e5f99", "diff", "--out", file.to_str().unwrap(), plan.to_str().unwrap()]);
    fleet.expect_code(1);
    assert!(fleet.stderr.contains("a saved plan (`--out`) holds one environment"), "{}", fleet.stderr);
    // The environment and options come from the saved plan: flags that would change them are refused.
    std::fs::write(&file, &text).unwrap();
    let run = sandbox.pinfra(&["apply", "--prune", file.to_str().unwrap()]);
    run.expect_code(1);
    assert!(run.stderr.contains("--prune does not go with a saved plan"), "{}", run.stderr);
}
