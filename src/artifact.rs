//! The connector's plugin zip: found (a local file, or a pinned download kept in a cache),
//! hashed, and checked before anything is uploaded.
//!
//! The SHA-256 of the zip names the plugin and its S3 key (custom plugins are immutable, so a
//! new zip is a new plugin). A local file is read and checked when the plan is loaded, so
//! `validate` already says what is wrong with it; a download is needed only when the zip is not
//! in the bucket yet, and is verified against the plan's pinned hash before it is used.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::plan::{ArtifactSource, PluginSpec};

/// The largest zip pinfra reads (the Confluent S3 sink is about 30 MB).
const MAX_ZIP_BYTES: u64 = 1 << 30;

/// Why a plugin zip cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The local file cannot be read.
    #[error("cannot read the plugin zip `{}`: {source}", .path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a zip archive, or hold no connector.
    #[error("`{origin}` is not a usable connector plugin: {problem}")]
    Invalid {
        /// File or URL.
        origin: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The download failed.
    #[error("cannot download the plugin from {url}: {detail}")]
    Download {
        /// The URL.
        url: String,
        /// Why.
        detail: String,
    },
    /// The download is not what the plan pinned.
    #[error("the plugin downloaded from {url} has SHA-256 {actual}, but the plan pins {expected}")]
    Checksum {
        /// The URL.
        url: String,
        /// The plan's hash.
        expected: String,
        /// The download's hash.
        actual: String,
    },
    /// The cache cannot be written.
    #[error("cannot write the plugin cache `{}`: {source}", .path.display())]
    Cache {
        /// The cache file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl ArtifactError {
    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            ArtifactError::Unreadable { .. } => {
                "download the Confluent S3 sink zip from Confluent Hub (confluentinc-kafka-connect-s3) and give its path, relative to the plan file"
            }
            ArtifactError::Invalid { .. } => {
                "use the zip Confluent Hub publishes for the S3 sink: it holds lib/*.jar with the connector class"
            }
            ArtifactError::Download { .. } => "check the URL and the network, or download the zip yourself and name it in `source`",
            ArtifactError::Checksum { .. } => "the file changed or the pin is wrong: check `sha256` against the publisher's checksum",
            ArtifactError::Cache { .. } => "set PINFRA_CACHE_DIR to a writable directory",
        }
    }
}

/// What a zip holds that matters to MSK Connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    /// The jars in it, by path.
    pub jars: Vec<String>,
}

/// A plugin zip the plan names, with its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Lower-case hex SHA-256 of the zip.
    pub sha256: String,
    /// Where the bytes come from.
    pub origin: Origin,
}

/// Where an artifact's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A local file, already read and checked.
    File(PathBuf),
    /// A download, kept at `cache` once fetched.
    Url {
        /// The URL.
        url: String,
        /// The cache file (`<cache dir>/plugins/<sha256>.zip`).
        cache: PathBuf,
    },
}

impl Artifact {
    /// The first 12 hex digits of the hash, as plugin names carry it.
    pub fn short_hash(&self) -> &str {
        &self.sha256[..12.min(self.sha256.len())]
    }
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The class file a connector class lives in (`io/confluent/connect/s3/S3SinkConnector.class`).
fn class_path(class: &str) -> String {
    format!("{}.class", class.replace('.', "/"))
}

/// Checks that `bytes` is a zip with jars in it and, if `connector_class` is given, that one of
/// them (or the zip itself) holds that class. `Err` says what is wrong, in a sentence.
pub fn inspect(bytes: &[u8], connector_class: Option<&str>) -> Result<Contents, String> {
    inspect_within(bytes, connector_class, Limits { jar: MAX_JAR_BYTES, total: MAX_ZIP_BYTES })
}

/// How much `inspect` decompresses at most: one jar, and all the jars it opens together (a zip
/// bomb is refused, never inflated).
#[derive(Debug, Clone, Copy)]
struct Limits {
    jar: u64,
    total: u64,
}

/// The most one jar of a connector plugin may hold uncompressed.
const MAX_JAR_BYTES: u64 = 256 << 20;

fn inspect_within(bytes: &[u8], connector_class: Option<&str>, limits: Limits) -> Result<Contents, String> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| format!("not a zip archive ({e})"))?;
    let names: Vec<String> = archive.file_names().filter_map(Result::ok).map(|n| n.into_owned()).collect();
    let jars: Vec<String> = names.iter().filter(|n| n.to_ascii_lowercase().ends_with(".jar")).cloned().collect();
    if jars.is_empty() {
        return Err(format!("the zip holds no .jar file ({} entries)", names.len()));
    }
    let Some(class) = connector_class else { return Ok(Contents { jars }) };
    let wanted = class_path(class);
    if names.contains(&wanted) {
        return Ok(Contents { jars });
    }
    let mut budget = limits.total;
    let mut skipped: Vec<&str> = Vec::new();
    let over_budget = || format!("its jars inflate beyond {} MiB together: not a connector plugin (a zip bomb?)", limits.total >> 20);
    for jar in &jars {
        let mut entry = archive.by_name(jar).map_err(|e| format!("cannot read {jar} ({e})"))?;
        // A jar bigger than a connector's own (an SDK bundle, or a bomb) is not opened: the
        // declared size first (cheap), then the bytes actually inflated (a header can lie).
        if entry.size() > limits.jar {
            skipped.push(jar);
            continue;
        }
        if budget == 0 {
            return Err(over_budget());
        }
        let limit = limits.jar.min(budget);
        let mut inner = Vec::new();
        entry.by_ref().take(limit + 1).read_to_end(&mut inner).map_err(|e| format!("cannot read {jar} ({e})"))?;
        if inner.len() as u64 > limit {
            if limit < limits.jar {
                return Err(over_budget());
            }
            skipped.push(jar);
            budget -= limit;
            continue;
        }
        budget -= inner.len() as u64;
        let Ok(inner) = zip::ZipArchive::new(Cursor::new(inner)) else { continue };
        if inner.file_names().filter_map(Result::ok).any(|n| n == wanted.as_str()) {
            return Ok(Contents { jars });
        }
    }
    let not_opened = if skipped.is_empty() {
        String::new()
    } else {
        format!("; not opened, over {} MiB uncompressed: {}", limits.jar >> 20, skipped.join(", "))
    };
    Err(format!("none of its {} jar(s) holds the connector class `{class}` ({wanted}){not_opened}", jars.len()))
}

/// Finds the artifact `spec` names. A local file is read, hashed and checked now (against
/// `connector_class`); a URL's hash is the plan's pin, and its bytes are fetched only by
/// [`Artifact::bytes`].
pub fn resolve(
    spec: &PluginSpec,
    plan_dir: &Path,
    cache_dir: &Path,
    connector_class: Option<&str>,
) -> Result<Option<Artifact>, ArtifactError> {
    Ok(Some(match &spec.source {
        // An existing plugin: no zip.
        ArtifactSource::Existing => return Ok(None),
        ArtifactSource::File(file) => {
            let path = plan_dir.join(file);
            let bytes = read_limited(&path)?;
            inspect(&bytes, connector_class).map_err(|problem| ArtifactError::Invalid { origin: path.display().to_string(), problem })?;
            Artifact { sha256: sha256_hex(&bytes), origin: Origin::File(path) }
        }
        ArtifactSource::Url { url, sha256 } => Artifact {
            sha256: sha256.clone(),
            origin: Origin::Url { url: url.clone(), cache: cache_dir.join("plugins").join(format!("{sha256}.zip")) },
        },
    }))
}

fn read_limited(path: &Path) -> Result<Vec<u8>, ArtifactError> {
    let unreadable = |source| ArtifactError::Unreadable { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(MAX_ZIP_BYTES + 1).read_to_end(&mut bytes).map_err(unreadable)?;
    if bytes.len() as u64 > MAX_ZIP_BYTES {
        return Err(ArtifactError::Invalid { origin: path.display().to_string(), problem: "larger than 1 GiB".into() });
    }
    Ok(bytes)
}

impl Artifact {
    /// The zip's bytes, checked: the local file read again (and refused if it changed since the
    /// plan was loaded), or the cached download, or a new download verified against the pin
    /// and then cached.
    pub async fn bytes(&self, connector_class: Option<&str>) -> Result<Vec<u8>, ArtifactError> {
        match &self.origin {
            Origin::File(path) => {
                let bytes = read_limited(path)?;
                let actual = sha256_hex(&bytes);
                if actual != self.sha256 {
                    return Err(ArtifactError::Invalid {
                        origin: path.display().to_string(),
                        problem: "the file changed while pinfra ran; run the command again".into(),
                    });
                }
                Ok(bytes)
            }
            Origin::Url { url, cache } => {
                if let Ok(bytes) = std::fs::read(cache)
                    && sha256_hex(&bytes) == self.sha256
                {
                    return Ok(bytes);
                }
                let bytes = download(url).await?;
                let actual = sha256_hex(&bytes);
                if actual != self.sha256 {
                    return Err(ArtifactError::Checksum { url: crate::secrets::mask(url), expected: self.sha256.clone(), actual });
                }
                inspect(&bytes, connector_class)
                    .map_err(|problem| ArtifactError::Invalid { origin: crate::secrets::mask(url), problem })?;
                store(cache, &bytes)?;
                Ok(bytes)
            }
        }
    }
}

/// Writes the cache file atomically (a temporary file renamed into place), so an interrupted
/// download never leaves a partial zip under the final name.
fn store(cache: &Path, bytes: &[u8]) -> Result<(), ArtifactError> {
    let failed = |source| ArtifactError::Cache { path: cache.to_owned(), source };
    if let Some(dir) = cache.parent() {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let partial = cache.with_extension(format!("partial-{}", std::process::id()));
    std::fs::write(&partial, bytes).map_err(failed)?;
    std::fs::rename(&partial, cache).map_err(failed)
}

async fn download(url: &str) -> Result<Vec<u8>, ArtifactError> {
    let owned = url.to_owned();
    let fetched = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(std::time::Duration::from_secs(600))).build().into();
        let mut response = agent.get(&owned).call().map_err(|e| e.to_string())?;
        response.body_mut().with_config().limit(MAX_ZIP_BYTES).read_to_vec().map_err(|e| e.to_string())
    })
    .await;
    // `validate` refuses a URL with credentials; should one get here all the same, neither the
    // URL nor the HTTP client's message (which may quote it) shows them.
    let shown = crate::secrets::mask(url);
    match fetched {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(detail)) => Err(ArtifactError::Download { url: shown, detail: crate::secrets::mask(&detail) }),
        Err(join) => Err(ArtifactError::Download { url: shown, detail: crate::secrets::mask(&join.to_string()) }),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let mut writer = zip::ZipWriter::new(&mut out);
        for (name, bytes) in entries {
            writer.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            writer.write_all(bytes).unwrap();
        }
        writer.finish().unwrap();
        out.into_inner()
    }

    const CLASS: &str = "io.confluent.connect.s3.S3SinkConnector";

    /// A plugin URL with `user:password@` printed the password when the download failed.
    /// `validate` refuses such a URL now; should one get this far, the error masks it.
    #[tokio::test]
    async fn a_failed_download_never_prints_the_urls_password() {
        // Port 9 on loopback: nothing listens, the connection is refused at once.
        let error = download("http://alice:hunter2@127.0.0.1:9/plugin.zip").await.unwrap_err();
        let shown = format!("{error}");
        assert!(shown.contains("http://********@127.0.0.1:9/plugin.zip"), "{shown}");
        assert!(!shown.contains("hunter2") && !shown.contains("alice"), "{shown}");
    }

    #[test]
    fn a_sink_zip_with_the_class_in_a_jar_passes() {
        let jar = zip_of(&[("io/confluent/connect/s3/S3SinkConnector.class", b"\xca\xfe\xba\xbe")]);
        let zip = zip_of(&[("confluentinc-kafka-connect-s3/lib/kafka-connect-s3.jar", &jar), ("manifest.json", b"{}")]);
        let contents = inspect(&zip, Some(CLASS)).unwrap();
        assert_eq!(contents.jars, ["confluentinc-kafka-connect-s3/lib/kafka-connect-s3.jar"]);
    }

    #[test]
    fn a_zip_bomb_is_refused_without_being_inflated() {
        let zeros = vec![0_u8; 3 << 20];
        let bomb = zip_of(&[("lib/huge.jar", &zeros)]);
        assert!(bomb.len() < 1 << 20, "deflate squeezes the zeros: {} bytes", bomb.len());
        let limits = Limits { jar: 1 << 20, total: 4 << 20 };
        let error = inspect_within(&bomb, Some(CLASS), limits).unwrap_err();
        assert!(error.ends_with("not opened, over 1 MiB uncompressed: lib/huge.jar"), "{error}");
        // A big jar beside the connector's own is passed over, not fatal.
        let real =
            zip_of(&[("lib/huge.jar", &zeros), ("lib/sink.jar", &zip_of(&[("io/confluent/connect/s3/S3SinkConnector.class", b"x")]))]);
        assert!(inspect_within(&real, Some(CLASS), limits).is_ok());
        let two = zip_of(&[("a.jar", &zeros[..(1 << 20) - 1]), ("b.jar", &zeros[..(1 << 20) - 1])]);
        let error = inspect_within(&two, Some(CLASS), Limits { jar: 1 << 20, total: 3 << 19 }).unwrap_err();
        assert!(error.contains("inflate beyond 1 MiB together"), "the budget is shared: {error}");
    }

    #[test]
    fn what_is_wrong_is_said() {
        assert!(inspect(b"not a zip", None).unwrap_err().starts_with("not a zip archive"));
        let no_jars = zip_of(&[("README.md", b"hello")]);
        assert_eq!(inspect(&no_jars, None).unwrap_err(), "the zip holds no .jar file (1 entries)");
        let other = zip_of(&[("lib/other.jar", &zip_of(&[("org/Other.class", b"")]))]);
        let error = inspect(&other, Some(CLASS)).unwrap_err();
        assert!(error.contains("holds the connector class `io.confluent.connect.s3.S3SinkConnector`"), "{error}");
    }

    #[test]
    fn hashes_are_lower_case_hex() {
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
