//! CLI behaviour that needs no sandbox: help, validate, exit codes, and the one-line errors for
//! missing credentials, an unreachable endpoint and a missing TTY. Snapshots live in
//! `tests/snapshots/`; `INSTA_UPDATE=always cargo test` rewrites them.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod common;

use common::{Run, pinfra_command};

fn run(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = pinfra_command(args);
    for (k, v) in env {
        command.env(k, v);
    }
    Run::from(command.output().expect("run pinfra"))
}

const DUMMY_KEYS: [(&str, &str); 2] = [("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"), ("AWS_SECRET_ACCESS_KEY", "not-a-secret")];

#[test]
fn help() {
    let run = run(&["--help"], &[]);
    run.expect_code(0);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn validate_accepts_the_shipped_plan() {
    let run = run(&["validate", "plans/pinterest.toml"], &[]);
    run.expect_code(0);
    assert_eq!(run.stdout, "", "validate prints nothing on stdout");
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn validate_reports_every_error_and_exits_1() {
    let run = run(&["validate", "tests/plans/invalid/unknown_keys.toml"], &[]);
    run.expect_code(1);
    assert_eq!(run.stdout, "");
    insta::assert_snapshot!(run.stderr);
}

/// A plugin URL with `user:password@` passed `validate`, and a failed download printed the
/// password; a private key pasted as `ssh_public_key` was refused, then printed whole. Both are
/// refused now, with the place and a hint, and nothing secret reaches the terminal.
#[test]
fn validate_refuses_credentials_in_urls_and_never_prints_a_secret() {
    let run = run(&["validate", "tests/plans/invalid/secrets_in_snippets.toml"], &[]);
    run.expect_code(1);
    assert!(run.stderr.contains("secrets_in_snippets.toml:17:7"), "{}", run.stderr);
    assert!(run.stderr.contains("the URL holds a user name or password"), "{}", run.stderr);
    assert!(run.stderr.contains("hint: remove the credentials and rotate them"), "{}", run.stderr);
    for secret in ["hunter2", "s3cr3t-T0ken", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"] {
        assert!(!run.stderr.contains(secret) && !run.stdout.contains(secret), "`{secret}` printed: {}", run.stderr);
    }
}

#[test]
fn a_plan_with_errors_never_reaches_aws() {
    // The endpoint would refuse every connection; the error is about the plan, not the network.
    let run =
        run(&["diff", "tests/plans/invalid/bad_values.toml"], &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9"), DUMMY_KEYS[0], DUMMY_KEYS[1]]);
    run.expect_code(1);
    assert!(run.stderr.contains("6 errors in the plan; nothing was sent to AWS"), "{}", run.stderr);
    assert!(!run.stderr.contains("cannot reach"), "{}", run.stderr);
}

#[test]
fn missing_credentials_give_one_line_and_a_hint() {
    // -q: only errors on stderr (the plan's PF001 warning is not what this test is about).
    let run = run(&["diff", "-q", "plans/pinterest.toml"], &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")]);
    run.expect_code(1);
    insta::assert_snapshot!(run.stderr, @r"
    error: no AWS credentials found
      hint: set AWS_PROFILE (or --profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; for the local sandbox any dummy keys work
    ");
}

#[test]
fn an_unreachable_endpoint_gives_one_line_and_a_hint() {
    let run = run(&["diff", "-q", "plans/pinterest.toml"], &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9"), DUMMY_KEYS[0], DUMMY_KEYS[1]]);
    run.expect_code(1);
    insta::assert_snapshot!(run.stderr, @r"
    error: cannot reach the AWS endpoint: Connection refused (os error 111) (endpoint http://127.0.0.1:9)
      hint: check the network and AWS_ENDPOINT_URL; for the local sandbox run `./scripts/sandbox start` and export the URL it prints
    ");
}

#[test]
fn region_flag_must_match_the_plan() {
    let run = run(&["diff", "-q", "--region", "eu-west-1", "plans/pinterest.toml"], &[DUMMY_KEYS[0], DUMMY_KEYS[1]]);
    run.expect_code(1);
    assert_eq!(run.stderr, "error: --region eu-west-1 does not match the plan's region us-east-1\n");
}

#[test]
fn a_missing_plan_file_is_one_clear_error() {
    let run = run(&["validate", "plans/nope.toml"], &[]);
    run.expect_code(1);
    assert!(run.stderr.starts_with("error: cannot read plan `plans/nope.toml`: "), "{}", run.stderr);
}

#[test]
fn unknown_subcommands_suggest_the_right_one_and_exit_1() {
    // Not clap's usual 2, which would read as "diff found changes".
    let run = run(&["aply", "plans/pinterest.toml"], &[]);
    run.expect_code(1);
    assert!(run.stderr.contains("similar subcommand exists: 'apply'"), "{}", run.stderr);
}

#[test]
fn a_reader_that_stops_early_ends_the_command_quietly() {
    // `pinfra render ... | head -0`: the reader is gone before pinfra writes a line.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let dir = tempfile::tempdir().unwrap();
    let out = pinfra_command(&["render", "--offline", "--out", dir.path().to_str().unwrap(), "plans/pinterest.toml"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "no panic: {stderr}");
    assert_eq!(out.status.code(), Some(141), "128 + SIGPIPE, as a Unix tool: {stderr}");
}

#[test]
fn a_zero_timeout_is_refused_at_parse_time() {
    let run = run(&["diff", "--timeout", "0", "plans/pinterest.toml"], &[DUMMY_KEYS[0], DUMMY_KEYS[1]]);
    run.expect_code(1);
    assert!(run.stderr.starts_with("error: invalid value '0' for '--timeout <SECONDS>': must be at least 1 second"), "{}", run.stderr);
}

#[test]
fn env_with_all_envs_is_refused_not_ignored() {
    for env in [vec![], vec![("PINFRA_ENV", "dev")]] {
        let args: &[&str] = if env.is_empty() {
            &["diff", "--all-envs", "--env", "dev", "plans/pinterest.toml"]
        } else {
            &["diff", "--all-envs", "plans/pinterest.toml"]
        };
        let run = run(args, &env);
        run.expect_code(1);
        assert!(run.stderr.starts_with("error: the argument '--all-envs' cannot be used with '--env <NAME>'"), "{}", run.stderr);
    }
}

#[test]
fn validate_checks_the_region_flag_and_aws_region_as_docs_plan_md_says() {
    let flag = run(&["validate", "-q", "--region", "eu-west-1", "plans/pinterest.toml"], &[]);
    flag.expect_code(1);
    assert_eq!(flag.stderr, "error: --region eu-west-1 does not match the plan's region us-east-1\n");
    let env = run(&["validate", "plans/pinterest.toml"], &[("AWS_REGION", "eu-west-1")]);
    env.expect_code(0);
    assert!(env.stderr.contains("warning: AWS_REGION=eu-west-1 is ignored: the plan's region us-east-1 is used"), "{}", env.stderr);
}

/// A 20 MB invalid value used to be echoed in full three times (the error, the expansion note
/// and the snippet): now each diagnostic shows it once in the message and once in the snippet,
/// each cut short with `…`, and still points at file:line:col.
#[test]
fn a_20_mb_invalid_value_is_echoed_once_and_cut() {
    let dir = tempfile::tempdir().unwrap();
    let plan = common::plan_copy(dir.path(), "plans/pinterest.toml", |text| {
        text.replacen("name = \"{user_id}.pin\"", &format!("name = \"{{user_id}}.{}\"", "a/".repeat(10_000_000)), 1)
    });
    let run = run(&["validate", plan.to_str().unwrap()], &[]);
    run.expect_code(1);
    assert!(run.stderr.len() < 2_000, "{} bytes on stderr", run.stderr.len());
    let message = run.stderr.lines().find(|l| l.starts_with("error: `0a1b2c3d4e5f.a/a/")).unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(message.ends_with("…` is not a valid Kafka topic name"), "{message}");
    assert_eq!(message.matches("0a1b2c3d4e5f.a/").count(), 1, "{message}");
    assert!(run.stderr.contains(&format!("┌─ {}:19:8", plan.display())), "{}", run.stderr);
    let snippet = run.stderr.lines().find(|l| l.starts_with("19 │ name = \"{user_id}.a/a/")).unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(snippet.ends_with('…') && snippet.len() < 300, "{snippet}");
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let run = run(&["--version"], &[]);
    run.expect_code(0);
    let head = std::process::Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output().expect("git, which build.rs uses too");
    let head = String::from_utf8(head.stdout).unwrap();
    assert_eq!(run.stdout, format!("pinfra {} ({})\n", env!("CARGO_PKG_VERSION"), head.trim()));
}

#[test]
fn completions_are_generated_for_each_shell_and_bash_parses_its_script() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = run(&["completions", shell], &[]);
        run.expect_code(0);
        for word in ["pinfra", "apply", "destroy", "all-envs", "auto-approve"] {
            assert!(run.stdout.contains(word), "{shell}'s script lacks {word}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("pinfra.bash");
    std::fs::write(&script, run(&["completions", "bash"], &[]).stdout).unwrap();
    let bash = std::process::Command::new("bash").arg("-n").arg(&script).output().expect("bash");
    assert!(bash.status.success(), "{}", String::from_utf8_lossy(&bash.stderr));
    let bad = run(&["completions", "tcsh"], &[]);
    bad.expect_code(1);
    assert!(bad.stderr.contains("possible values"), "{}", bad.stderr);
}

#[test]
fn the_manual_is_generated_from_the_cli_with_a_page_per_command() {
    let page = run(&["man"], &[]);
    page.expect_code(0);
    assert!(page.stdout.contains(".TH pinfra 1"), "{}", page.stdout);
    assert!(page.stdout.contains("pinfra\\-apply(1)"), "the top page names the command pages: {}", page.stdout);
    let dir = tempfile::tempdir().unwrap();
    let written = run(&["man", "--dir", dir.path().to_str().unwrap()], &[]);
    written.expect_code(0);
    for command in ["pinfra", "pinfra-apply", "pinfra-diff", "pinfra-destroy", "pinfra-completions"] {
        let text = std::fs::read_to_string(dir.path().join(format!("{command}.1"))).unwrap();
        assert!(text.starts_with(".ie") && text.contains(".SH OPTIONS"), "{command}.1: {text}");
    }
    let apply = std::fs::read_to_string(dir.path().join("pinfra-apply.1")).unwrap();
    assert!(apply.contains("auto\\-approve"), "{apply}");
}
