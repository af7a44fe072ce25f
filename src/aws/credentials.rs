//! Whose credentials pinfra signs with, decided before the first call, as the AWS CLI decides:
//! an explicit `--profile` wins over keys in the environment; without it, `AWS_ACCESS_KEY_ID`
//! wins over `AWS_PROFILE`; then the shared files' `default` profile, then the SDK's remaining
//! sources (web identity, container, instance metadata). A profile that the shared files do not
//! define is an error, never a silent fall-back to other credentials.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use aws_runtime::env_config::file::EnvConfigFiles;
use aws_types::os_shim_internal::{Env, Fs};

/// What the command line and the environment say about credentials.
#[derive(Debug, Clone, Default)]
pub struct CredentialSettings {
    /// `--profile`.
    pub profile_flag: Option<String>,
    /// `AWS_PROFILE`.
    pub profile_env: Option<String>,
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` are both set.
    pub env_keys: bool,
    /// The variables that locate the shared files: `HOME`, `AWS_CONFIG_FILE`,
    /// `AWS_SHARED_CREDENTIALS_FILE`.
    pub files_env: Vec<(String, String)>,
}

/// Who named a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileOrigin {
    /// `--profile`.
    Flag,
    /// `AWS_PROFILE`.
    EnvVar,
}

/// Where the credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// A profile of the shared files, and who named it (`default` when nobody did).
    Profile(String, Option<ProfileOrigin>),
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    Environment,
    /// Neither: the SDK's web identity, container or instance metadata credentials.
    Chain,
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::Profile(name, Some(ProfileOrigin::Flag)) => write!(f, "profile `{}`", crate::terminal::escape(name)),
            CredentialSource::Profile(name, Some(ProfileOrigin::EnvVar)) => {
                write!(f, "profile `{}` from AWS_PROFILE", crate::terminal::escape(name))
            }
            CredentialSource::Profile(name, None) => write!(f, "profile `{}` of the shared files", crate::terminal::escape(name)),
            CredentialSource::Environment => f.write_str("AWS_ACCESS_KEY_ID in the environment"),
            CredentialSource::Chain => f.write_str("web identity, container or instance metadata"),
        }
    }
}

/// Why the credentials cannot be chosen.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// A named profile is not in the shared files.
    #[error("the profile `{}` ({}) is not defined in {}", crate::terminal::escape(name), if *.origin == ProfileOrigin::Flag { "--profile" } else { "AWS_PROFILE" }, crate::terminal::escape(files))]
    UnknownProfile {
        /// The profile.
        name: String,
        /// Who named it.
        origin: ProfileOrigin,
        /// The files read, for the message.
        files: String,
        /// The profiles they define.
        found: Vec<String>,
    },
    /// The shared files cannot be read or parsed.
    #[error("cannot read the shared AWS config files ({files}): {detail}")]
    Files {
        /// The files read.
        files: String,
        /// Why.
        detail: String,
    },
}

impl CredentialsError {
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            CredentialsError::UnknownProfile { found, .. } if found.is_empty() => {
                "these files define no profile; create one with `aws configure --profile NAME`, or set AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE".into()
            }
            CredentialsError::UnknownProfile { name, found, .. } => {
                // Names from a file: shown escaped, like every text pinfra did not write.
                let names: Vec<String> = found.iter().map(|p| format!("`{}`", crate::terminal::escape(p))).collect();
                let closest = crate::diagnostics::closest(name, found.iter().map(String::as_str))
                    .map(|c| format!("did you mean `{}`? ", crate::terminal::escape(c)))
                    .unwrap_or_default();
                format!("{closest}the profiles found: {}", names.join(", "))
            }
            CredentialsError::Files { .. } => "fix the file, or point AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE elsewhere".into(),
        }
    }
}

/// Decides where the credentials come from; a named profile must exist.
pub async fn resolve(settings: &CredentialSettings) -> Result<CredentialSource, CredentialsError> {
    let vars: HashMap<String, String> = settings.files_env.iter().cloned().collect();
    let files = describe_files(&vars);
    // Parsing ignores AWS_PROFILE: which profile is selected is decided here.
    let set = aws_config::profile::load(&Fs::real(), &Env::from(vars), &EnvConfigFiles::default(), Some(Cow::Borrowed("default")))
        .await
        .map_err(|e| CredentialsError::Files { files: files.clone(), detail: e.to_string() })?;
    let named = match (&settings.profile_flag, &settings.profile_env) {
        (Some(name), _) => Some((name, ProfileOrigin::Flag)),
        (None, Some(name)) => Some((name, ProfileOrigin::EnvVar)),
        (None, None) => None,
    };
    if let Some((name, origin)) = named
        && set.get_profile(name).is_none()
    {
        let mut found: Vec<String> = set.profiles().map(str::to_owned).collect();
        found.sort();
        return Err(CredentialsError::UnknownProfile { name: name.clone(), origin, files, found });
    }
    Ok(match named {
        Some((name, ProfileOrigin::Flag)) => CredentialSource::Profile(name.clone(), Some(ProfileOrigin::Flag)),
        _ if settings.env_keys => CredentialSource::Environment,
        Some((name, origin)) => CredentialSource::Profile(name.clone(), Some(origin)),
        None if set.get_profile("default").is_some() => CredentialSource::Profile("default".into(), None),
        None => CredentialSource::Chain,
    })
}

/// The shared files as the SDK finds them, for messages.
fn describe_files(vars: &HashMap<String, String>) -> String {
    let config = vars.get("AWS_CONFIG_FILE").map_or("~/.aws/config", String::as_str);
    let credentials = vars.get("AWS_SHARED_CREDENTIALS_FILE").map_or("~/.aws/credentials", String::as_str);
    format!("{config} and {credentials}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &std::path::Path, flag: Option<&str>, env: Option<&str>, env_keys: bool) -> CredentialSettings {
        CredentialSettings {
            profile_flag: flag.map(str::to_owned),
            profile_env: env.map(str::to_owned),
            env_keys,
            files_env: vec![
                ("HOME".into(), dir.display().to_string()),
                ("AWS_CONFIG_FILE".into(), dir.join("config").display().to_string()),
                ("AWS_SHARED_CREDENTIALS_FILE".into(), dir.join("credentials").display().to_string()),
            ],
        }
    }

    fn files() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("config"), "[profile other]\nregion = eu-west-1\n").expect("write");
        std::fs::write(dir.path().join("credentials"), "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = x\n")
            .expect("write");
        dir
    }

    #[tokio::test]
    async fn an_explicit_profile_wins_over_keys_in_the_environment_and_aws_profile_does_not() {
        let dir = files();
        let flag = resolve(&settings(dir.path(), Some("other"), None, true)).await.expect("flag");
        assert_eq!(flag, CredentialSource::Profile("other".into(), Some(ProfileOrigin::Flag)));
        let env = resolve(&settings(dir.path(), None, Some("other"), true)).await.expect("env");
        assert_eq!(env, CredentialSource::Environment);
        let env_only = resolve(&settings(dir.path(), None, Some("other"), false)).await.expect("env only");
        assert_eq!(env_only, CredentialSource::Profile("other".into(), Some(ProfileOrigin::EnvVar)));
        let nothing = resolve(&settings(dir.path(), None, None, false)).await.expect("default");
        assert_eq!(nothing, CredentialSource::Profile("default".into(), None));
    }

    /// The name comes from the command line or the environment (the SDK's parser drops a
    /// section whose name holds control characters, so the files' names are safe already).
    #[tokio::test]
    async fn a_profile_name_is_shown_escaped() {
        let dir = files();
        let error = resolve(&settings(dir.path(), Some("nope\u{1b}[2J\u{7}"), None, true)).await.expect_err("unknown profile");
        assert!(error.to_string().starts_with("the profile `nope\\e[2J\\x07` (--profile)"), "{error}");
    }

    #[tokio::test]
    async fn an_unknown_profile_is_an_error_listing_the_profiles_found() {
        let dir = files();
        for (flag, env) in [(Some("othr"), None), (None, Some("othr"))] {
            let error = resolve(&settings(dir.path(), flag, env, true)).await.expect_err("unknown profile");
            assert!(error.to_string().contains("the profile `othr`"), "{error}");
            assert_eq!(error.hint(), "did you mean `other`? the profiles found: `default`, `other`");
        }
    }
}
