//! Puts the commit pinfra is built from into `pinfra --version` (`PINFRA_COMMIT`): `0.1.0
//! (3f2a9c1d0b7e)`, or `0.1.0 (commit unknown)` when built outside a git checkout (a source
//! tarball).

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    println!("cargo:rustc-env=PINFRA_COMMIT={}", commit.as_deref().unwrap_or("commit unknown"));
    println!("cargo:rerun-if-changed=build.rs");
    // Build again when HEAD moves: a checkout changes HEAD, a commit the branch it names (a
    // loose ref under refs/heads, or packed-refs). Only paths that exist: Cargo runs this script
    // on every build for one that does not.
    let dirs = [git(&["rev-parse", "--git-dir"]), git(&["rev-parse", "--git-common-dir"])];
    let [Some(dir), Some(common)] = dirs.map(|d| d.map(PathBuf::from)) else { return };
    for path in [dir.join("HEAD"), common.join("refs").join("heads"), common.join("packed-refs")] {
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}
