//! Whose credentials pinfra signs with (docs/RELIABILITY.md, "Credentials"): an explicit
//! `--profile` wins over keys in the environment, an unknown profile is an error, and a mutating
//! command says which account and credentials it acts with before it asks.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod common;

use std::path::Path;

use common::Sandbox;

const PLAN: &str = "plans/pinterest.toml";
const OTHER_KEY: &str = "AKIAOTHERPROFILE0001";
const DEFAULT_KEY: &str = "AKIADEFAULTPROFILE01";

/// A config file with the profile `other` and a credentials file with `default`, as the
/// variables that point the SDK at them.
fn shared_files(dir: &Path) -> Vec<(String, String)> {
    let config = dir.join("config");
    let credentials = dir.join("credentials");
    std::fs::write(
        &config,
        format!("[profile other]\naws_access_key_id = {OTHER_KEY}\naws_secret_access_key = other-secret-do-not-print\n"),
    )
    .unwrap();
    std::fs::write(
        &credentials,
        format!("[default]\naws_access_key_id = {DEFAULT_KEY}\naws_secret_access_key = default-secret-do-not-print\n"),
    )
    .unwrap();
    vec![
        ("AWS_CONFIG_FILE".into(), config.display().to_string()),
        ("AWS_SHARED_CREDENTIALS_FILE".into(), credentials.display().to_string()),
    ]
}

fn env(vars: &[(String, String)]) -> Vec<(&str, &str)> {
    vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[test]
fn an_explicit_profile_wins_over_keys_in_the_environment_and_apply_names_the_account() {
    let sandbox = Sandbox::with_cluster("pinterest-msk-cluster");
    let dir = tempfile::tempdir().unwrap();
    let files = shared_files(dir.path());

    // The harness exports AWS_ACCESS_KEY_ID; --profile must still sign with the profile's key.
    sandbox.reset_calls();
    let diff = sandbox.pinfra_with(&["diff", PLAN, "--profile", "other", "-v"], &env(&files));
    diff.expect_code(2);
    assert_eq!(sandbox.access_keys(), [OTHER_KEY], "every call is signed with the profile's key");
    assert!(diff.stderr.contains("credentials: profile `other`"), "-v names the source: {}", diff.stderr);

    sandbox.reset_calls();
    let apply = sandbox.pinfra_with(&["apply", "--auto-approve", PLAN, "--profile", "other"], &env(&files));
    apply.expect_code(0);
    assert_eq!(sandbox.access_keys(), [OTHER_KEY]);
    assert!(apply.stderr.contains("Acting as account 123456789012 (credentials: profile `other`)"), "{}", apply.stderr);
    for stream in [&apply.stdout, &apply.stderr, &diff.stdout, &diff.stderr] {
        assert!(!stream.contains("other-secret-do-not-print"), "the secret key was printed");
    }
}

#[test]
fn without_profile_the_environments_keys_win_over_aws_profile_as_in_the_aws_cli() {
    let sandbox = Sandbox::with_cluster("pinterest-msk-cluster");
    let dir = tempfile::tempdir().unwrap();
    let mut files = shared_files(dir.path());
    files.push(("AWS_PROFILE".into(), "other".into()));

    sandbox.reset_calls();
    let diff = sandbox.pinfra_with(&["diff", PLAN, "-v"], &env(&files));
    diff.expect_code(2);
    assert_eq!(sandbox.access_keys(), [common::ACCESS_KEY]);
    assert!(diff.stderr.contains("credentials: AWS_ACCESS_KEY_ID in the environment"), "{}", diff.stderr);
}

#[test]
fn an_unknown_profile_is_an_error_listing_the_profiles_found_and_nothing_is_sent() {
    let sandbox = Sandbox::with_cluster("pinterest-msk-cluster");
    let dir = tempfile::tempdir().unwrap();
    let files = shared_files(dir.path());

    for (args, named) in [(vec!["diff", PLAN, "--profile", "nope"], "--profile"), (vec!["diff", PLAN], "AWS_PROFILE")] {
        let mut vars = files.clone();
        if named == "AWS_PROFILE" {
            vars.push(("AWS_PROFILE".into(), "nope".into()));
        }
        sandbox.reset_calls();
        let run = sandbox.pinfra_with(&args, &env(&vars));
        run.expect_code(1);
        assert!(run.stderr.contains(&format!("error: the profile `nope` ({named}) is not defined in ")), "{}", run.stderr);
        assert!(run.stderr.contains("hint: the profiles found: `default`, `other`"), "{}", run.stderr);
        assert_eq!(sandbox.calls(), Vec::new(), "nothing is sent with unknown credentials");
    }
}
