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

/// `pinfra render --offline` of the shipped plan with the templates in `templates`, into
/// `<templates>/out` (checked to succeed).
fn render_with_templates(templates: &std::path::Path) -> std::path::PathBuf {
    let out = templates.join("out");
    let run = Run::from(
        pinfra_command(&["render", "--offline", "--templates", templates.to_str().unwrap(), "--out", out.to_str().unwrap(), PLAN])
            .output()
            .unwrap(),
    );
    run.expect_code(0);
    out
}

#[test]
fn templates_from_a_directory_override_the_embedded_ones() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("client.properties.j2"), "# ours\nsecurity.protocol=SASL_SSL\n").unwrap();
    let out = render_with_templates(dir.path());
    assert_eq!(std::fs::read_to_string(out.join("client.properties")).unwrap(), "# ours\nsecurity.protocol=SASL_SSL\n");
}

/// The escaping path of hostile input: whatever text the properties files hold (here a
/// template override full of shell syntax: `$(...)`, backticks, quotes, `=`, `;`, `\`), the
/// user-data writes it byte for byte and the shell runs none of it, because it goes through a
/// quoted here-document. The here-document is cut out of the real `user-data.sh` and run by
/// bash against a temporary file.
#[test]
fn shell_syntax_in_the_properties_reaches_the_file_literally_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let canary = dir.path().join("canary");
    let hostile = format!(
        "listeners=http://0.0.0.0:8082\nid=$(touch {c})\nname=`touch {c}`\nquote=\"a'b\"\\\nsemi=x; touch {c}\nvar=${{HOME}} $HOME\n",
        c = canary.display()
    );
    std::fs::write(dir.path().join("kafka-rest.properties.j2"), &hostile).unwrap();
    let out = render_with_templates(dir.path());
    let user_data = std::fs::read_to_string(out.join("user-data.sh")).unwrap();
    let start = user_data.find("cat >\"$confluent_dir/etc/kafka-rest/kafka-rest.properties\" <<'PINFRA_REST_PROPERTIES'").unwrap();
    let end = user_data[start..].find("\nPINFRA_REST_PROPERTIES\n").map(|e| start + e + "\nPINFRA_REST_PROPERTIES\n".len()).unwrap();
    let written = dir.path().join("written.properties");
    let block =
        user_data[start..end].replacen("\"$confluent_dir/etc/kafka-rest/kafka-rest.properties\"", &format!("'{}'", written.display()), 1);
    let bash = Command::new("bash").arg("-c").arg(&block).output().unwrap();
    assert!(bash.status.success(), "{}", String::from_utf8_lossy(&bash.stderr));
    assert_eq!(std::fs::read_to_string(&written).unwrap(), hostile, "byte for byte");
    assert!(!canary.exists(), "the shell ran something from the properties");
    shellcheck(&out.join("user-data.sh"));
}

/// A typo in `--templates` on `apply` used to fall back to the embedded templates silently,
/// and so replaced an instance launched with the overrides. Now it is an error before any call.
#[test]
fn a_templates_directory_that_does_not_exist_is_an_error_not_a_fall_back_to_the_embedded_ones() {
    let sandbox = Sandbox::with_cluster("pinterest-msk-cluster");
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    std::fs::write(templates.join("client.properties.j2"), "# ours\nsecurity.protocol=SASL_SSL\n").unwrap();
    sandbox.pinfra(&["apply", "--auto-approve", "--templates", templates.to_str().unwrap(), PLAN]).expect_code(0);

    let typo = dir.path().join("tempaltes");
    sandbox.reset_calls();
    let run = sandbox.pinfra(&["apply", "--auto-approve", "--templates", typo.to_str().unwrap(), PLAN]);
    run.expect_code(1);
    assert!(run.stderr.contains(&format!("error: --templates {}: no such directory", typo.display())), "{}", run.stderr);
    assert!(run.stderr.contains("hint: name the directory that holds your overrides"), "{}", run.stderr);
    assert_eq!(sandbox.calls(), Vec::new(), "nothing is read or changed");

    // A file instead of a directory is refused too.
    let file = templates.join("client.properties.j2");
    let run = Run::from(
        pinfra_command(&["render", "--offline", "--templates", file.to_str().unwrap(), "--out", "unused", PLAN]).output().unwrap(),
    );
    run.expect_code(1);
    assert!(run.stderr.contains(&format!("error: --templates {}: not a directory", file.display())), "{}", run.stderr);
}

#[test]
fn a_file_in_the_templates_directory_that_matches_no_template_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("user-data.sh"), "#!/bin/sh\n").unwrap();
    std::fs::write(dir.path().join(".gitkeep"), "").unwrap();
    let out = dir.path().join("out");
    let run = Run::from(
        pinfra_command(&["render", "--offline", "--templates", dir.path().to_str().unwrap(), "--out", out.to_str().unwrap(), PLAN])
            .output()
            .unwrap(),
    );
    run.expect_code(0);
    let warning = format!(
        "warning: --templates {}: `user-data.sh` matches no template and is not used (did you mean `user-data.sh.j2`? the templates: `client.properties.j2`, `kafka-rest.properties.j2`, `user-data.sh.j2`)",
        dir.path().display()
    );
    assert!(run.stderr.contains(&warning), "{}", run.stderr);
    assert_eq!(run.stderr.matches("matches no template").count(), 1, "hidden files are not warned about: {}", run.stderr);
}

#[test]
fn a_template_error_prints_its_text_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("client.properties.j2"), "x = {{ foo }\n").unwrap();
    let out = dir.path().join("out");
    let run = Run::from(
        pinfra_command(&["render", "--offline", "--templates", dir.path().to_str().unwrap(), "--out", out.to_str().unwrap(), PLAN])
            .output()
            .unwrap(),
    );
    run.expect_code(1);
    assert!(run.stderr.contains("error: template client.properties.j2: syntax error: unexpected `}`"), "{}", run.stderr);
    assert_eq!(run.stderr.matches("unexpected `}`").count(), 1, "{}", run.stderr);
}

#[test]
fn render_out_refuses_to_write_through_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::os::unix::fs::symlink(&victim, out.join("user-data.sh")).unwrap();
    let run = Run::from(pinfra_command(&["render", "--offline", "--out", out.to_str().unwrap(), PLAN]).output().unwrap());
    run.expect_code(1);
    let link = out.join("user-data.sh");
    assert!(run.stderr.contains(&format!("error: {} is a symbolic link (to {})", link.display(), victim.display())), "{}", run.stderr);
    assert!(run.stderr.contains("hint: remove the link"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n", "the link's target is untouched");
    assert!(!out.join("client.properties").exists(), "nothing is written");
}
