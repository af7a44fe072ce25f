//! `pinfra render`: the Kafka client's files, offline and from the live account.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod common;

use std::process::Command;

use common::{Run, Sandbox, pinfra_command};

const PLAN: &str = "plans/pinterest.toml";

fn shellcheck(path: &std::path::Path) {
    let out = Command::new("shellcheck")
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("this test needs shellcheck (Debian package `shellcheck`; ./scripts/test installs it): {e}"));
    assert!(out.status.success(), "shellcheck {}:\n{}", path.display(), String::from_utf8_lossy(&out.stdout));
}

#[test]
fn offline_render_writes_three_files_with_unknowns_marked() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rendered");
    let run = Run::from(pinfra_command(&["render", "--offline", "--out", out.to_str().unwrap(), PLAN]).output().unwrap());
    run.expect_code(0);
    let written: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(written.len(), 3, "{}", run.stdout);
    assert!(run.stderr.contains("not known yet, written as `<unknown: ...>`: role_arn, bootstrap_servers"), "{}", run.stderr);
    let client = std::fs::read_to_string(out.join("client.properties")).unwrap();
    assert!(client.contains("awsRoleArn=\"<unknown: role_arn;"), "{client}");
    shellcheck(&out.join("user-data.sh"));
}

#[test]
fn render_takes_the_role_and_brokers_from_the_account() {
    let sandbox = Sandbox::with_cluster("pinterest-msk-cluster");
    sandbox.pinfra(&["apply", "--auto-approve", PLAN]).expect_code(0);
    let dir = tempfile::tempdir().unwrap();
    let run = sandbox.pinfra(&["render", "--out", dir.path().to_str().unwrap(), PLAN]);
    run.expect_code(0);
    assert!(!run.stderr.contains("unknown"), "{}", run.stderr);
    let client = std::fs::read_to_string(dir.path().join("client.properties")).unwrap();
    assert!(client.contains("awsRoleArn=\"arn:aws:iam::123456789012:role/0a1b2c3d4e5f-ec2-access-role\";"), "{client}");
    let rest = std::fs::read_to_string(dir.path().join("kafka-rest.properties")).unwrap();
    let bootstrap = rest.lines().find_map(|l| l.strip_prefix("bootstrap.servers=")).unwrap();
    assert_eq!(bootstrap.split(',').count(), 3, "{rest}");
    assert!(bootstrap.split(',').all(|b| b.ends_with(":9098")), "{rest}");
    let user_data = std::fs::read_to_string(dir.path().join("user-data.sh")).unwrap();
    assert!(user_data.contains(&rest), "user-data writes kafka-rest.properties byte for byte");
    shellcheck(&dir.path().join("user-data.sh"));
}

#[test]
fn templates_from_a_directory_override_the_embedded_ones() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("client.properties.j2"), "# ours\nsecurity.protocol=SASL_SSL\n").unwrap();
    let out = dir.path().join("out");
    let run = Run::from(
        pinfra_command(&["render", "--offline", "--templates", dir.path().to_str().unwrap(), "--out", out.to_str().unwrap(), PLAN])
            .output()
            .unwrap(),
    );
    run.expect_code(0);
    assert_eq!(std::fs::read_to_string(out.join("client.properties")).unwrap(), "# ours\nsecurity.protocol=SASL_SSL\n");
}
