//! Where the KEV catalogue comes from: CISA's JSON format, in a file (`SCANTIX_KEV_PATH`) or,
//! deployed, an S3 object (`SCANTIX_KEV_S3`, read through [`KevOrigin`], implemented in the
//! wiring). Read once when a process starts and again at every sweep, so a refreshed copy reaches
//! the policy without a redeploy; an origin that can say "unchanged" (S3's ETag) is asked that
//! first, so a sweep costs one conditional request, not a download. A read that fails keeps the
//! catalogue already loaded (and says why): a half-written upload must not make every CVE look
//! unexploited.

use async_trait::async_trait;
use scantix_policy::kev::{KevCatalogue, KevError, MAX_KEV_BYTES};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

/// Why the catalogue could not be (re)loaded.
#[derive(Debug, thiserror::Error)]
pub enum KevLoadError {
    #[error("could not read the KEV catalogue {from}: {why}")]
    Read { from: String, why: String },
    #[error("the KEV catalogue {from}: {source}")]
    Invalid { from: String, source: KevError },
}

/// What an origin answered.
#[derive(Debug)]
pub enum Fetched {
    /// The copy with this version tag is still current: nothing was downloaded.
    Unchanged,
    /// The catalogue's bytes (at most [`MAX_KEV_BYTES`]), and the tag of this version if the
    /// origin has one.
    Changed { bytes: Vec<u8>, tag: Option<String> },
}

/// Where the catalogue is read from.
#[async_trait]
pub trait KevOrigin: Send + Sync + std::fmt::Debug {
    /// The origin as messages name it (a path, `s3://bucket/key`).
    fn name(&self) -> String;

    /// The catalogue, unless the version tagged `known` is still current. More than
    /// [`MAX_KEV_BYTES`] is refused before it is read.
    async fn fetch(&self, known: Option<&str>) -> Result<Fetched, KevLoadError>;
}

/// A file: read whole each time (a local file is cheap to read).
#[derive(Debug)]
pub struct KevFile(pub PathBuf);

#[async_trait]
impl KevOrigin for KevFile {
    fn name(&self) -> String {
        self.0.display().to_string()
    }

    async fn fetch(&self, _known: Option<&str>) -> Result<Fetched, KevLoadError> {
        read_file(&self.0).map(|bytes| Fetched::Changed { bytes, tag: None })
    }
}

/// The catalogue as last read, and where it is read from.
#[derive(Debug)]
pub struct KevSource {
    origin: Box<dyn KevOrigin>,
    current: RwLock<Arc<KevCatalogue>>,
    /// The version tag of `current`, when the origin gave one.
    tag: Mutex<Option<String>>,
}

impl KevSource {
    /// Reads the catalogue at `path`; an error names the file and what is wrong with it.
    pub fn load(path: impl Into<PathBuf>) -> Result<KevSource, KevLoadError> {
        let origin = KevFile(path.into());
        let bytes = read_file(&origin.0)?;
        KevSource::with(Box::new(origin), &bytes, None)
    }

    /// Reads the catalogue from `origin`; an error names it and what is wrong.
    pub async fn from_origin(origin: Box<dyn KevOrigin>) -> Result<KevSource, KevLoadError> {
        match origin.fetch(None).await? {
            Fetched::Changed { bytes, tag } => KevSource::with(origin, &bytes, tag),
            Fetched::Unchanged => Err(KevLoadError::Read {
                from: origin.name(),
                why: "answered \"unchanged\" to a first read".into(),
            }),
        }
    }

    fn with(
        origin: Box<dyn KevOrigin>,
        bytes: &[u8],
        tag: Option<String>,
    ) -> Result<KevSource, KevLoadError> {
        let catalogue = parse(origin.as_ref(), bytes)?;
        tracing::info!(from = %origin.name(), entries = catalogue.len(), version = %catalogue.version, "KEV catalogue loaded");
        Ok(KevSource {
            origin,
            current: RwLock::new(Arc::new(catalogue)),
            tag: Mutex::new(tag),
        })
    }

    /// Reads the catalogue again (when its origin says it changed); on failure the catalogue
    /// already loaded stays. Returns the number of entries now known, and whether a new copy
    /// was read.
    pub async fn refresh(&self) -> Result<(usize, bool), KevLoadError> {
        let known = self.tag.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let (bytes, tag) = match self.origin.fetch(known.as_deref()).await? {
            Fetched::Unchanged => return Ok((self.current().len(), false)),
            Fetched::Changed { bytes, tag } => (bytes, tag),
        };
        let catalogue = parse(self.origin.as_ref(), &bytes)?;
        let entries = catalogue.len();
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(catalogue);
        *self.tag.lock().unwrap_or_else(|p| p.into_inner()) = tag;
        Ok((entries, true))
    }

    /// The catalogue as last read.
    pub fn current(&self) -> Arc<KevCatalogue> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

fn parse(origin: &dyn KevOrigin, bytes: &[u8]) -> Result<KevCatalogue, KevLoadError> {
    KevCatalogue::parse(bytes).map_err(|source| KevLoadError::Invalid {
        from: origin.name(),
        source,
    })
}

/// The file's bytes; its size is checked before it is read.
fn read_file(path: &std::path::Path) -> Result<Vec<u8>, KevLoadError> {
    let from = || path.display().to_string();
    let io = |e: std::io::Error| KevLoadError::Read {
        from: from(),
        why: e.to_string(),
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    too_large(&from(), size)?;
    std::fs::read(path).map_err(io)
}

/// Refuses a catalogue of `size` bytes beyond [`MAX_KEV_BYTES`] (an origin checks before it reads).
pub fn too_large(from: &str, size: u64) -> Result<(), KevLoadError> {
    if size > MAX_KEV_BYTES as u64 {
        return Err(KevLoadError::Invalid {
            from: from.to_owned(),
            source: KevError::TooLarge {
                bytes: usize::try_from(size).unwrap_or(usize::MAX),
            },
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "../adapters/policy/tests/fixtures/kev-sample.json";

    /// A fresh directory of this test's own.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("scantix-kev-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn a_refresh_reads_the_file_again_and_a_bad_one_keeps_the_last() {
        let dir = scratch("refresh");
        let path = dir.join("kev.json");
        std::fs::write(&path, r#"{"vulnerabilities": []}"#).unwrap();
        let source = KevSource::load(&path).unwrap();
        assert!(source.current().get("CVE-2021-44228").is_none());
        std::fs::copy(SAMPLE, &path).unwrap();
        assert_eq!(source.refresh().await.unwrap(), (3, true));
        assert!(source.current().get("CVE-2021-44228").is_some());
        std::fs::write(&path, b"{\"vulnerabilities\": [").unwrap();
        let error = source.refresh().await.unwrap_err().to_string();
        assert!(
            error.contains("kev.json") && error.contains("not CISA's JSON format"),
            "{error}"
        );
        assert!(source.current().get("CVE-2021-44228").is_some());
    }

    #[test]
    fn a_repositorys_policy_sees_the_catalogue() {
        use scantix_core::finding::Severity;
        let mut settings = crate::repo_settings::RepoSettings::defaults();
        let mut log4j = scantix_core::testing::dependabot_alert(
            1,
            "GHSA-jfh8-c2jp-5v3q",
            "log4j-core",
            "pom.xml",
        );
        if let Some(advisory) = log4j.advisory.as_mut() {
            advisory.cve_id = Some("CVE-2021-44228".into());
        }
        assert_eq!(settings.verdict(&log4j).priority, None, "no catalogue");
        settings.kev = Some(Arc::new(KevSource::load(SAMPLE).unwrap()));
        let verdict = settings.verdict(&log4j);
        assert_eq!(verdict.priority, Some(Severity::Critical));
        assert_eq!(verdict.sla_days, Some(7));
        assert!(
            verdict
                .priority_reason
                .is_some_and(|why| why.contains("CVE-2021-44228 is in CISA's")),
        );
    }

    #[test]
    fn an_oversized_file_is_refused_before_it_is_read() {
        let dir = scratch("big");
        let path = dir.join("big.json");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(MAX_KEV_BYTES as u64 + 1).unwrap();
        let error = KevSource::load(&path).unwrap_err().to_string();
        assert!(
            error.contains("big.json") && error.contains("bytes"),
            "{error}"
        );
        let missing = KevSource::load(dir.join("none.json")).unwrap_err();
        assert!(missing.to_string().contains("none.json"), "{missing}");
    }
}
