//! Where the KEV catalogue comes from: a file in CISA's JSON format (`SCANTIX_KEV_PATH`), read
//! once when a process starts and again at every sweep, so a refreshed copy reaches the policy
//! without a redeploy. A read that fails keeps the catalogue already loaded (and says why): a
//! half-written download must not make every CVE look unexploited.
//!
//! Deployed, the file is wherever the function can read it; an S3 object is not read here yet
//! (see the deployment guide).

use scantix_policy::kev::{KevCatalogue, KevError, MAX_KEV_BYTES};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// Why the catalogue could not be (re)loaded.
#[derive(Debug, thiserror::Error)]
pub enum KevLoadError {
    #[error("could not read the KEV catalogue {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the KEV catalogue {path}: {source}")]
    Invalid { path: PathBuf, source: KevError },
}

/// The catalogue at a path, as last read.
#[derive(Debug)]
pub struct KevSource {
    path: PathBuf,
    current: RwLock<Arc<KevCatalogue>>,
}

impl KevSource {
    /// Reads the catalogue at `path`; an error names the file and what is wrong with it.
    pub fn load(path: impl Into<PathBuf>) -> Result<KevSource, KevLoadError> {
        let path = path.into();
        let catalogue = read(&path)?;
        tracing::info!(path = %path.display(), entries = catalogue.len(), version = %catalogue.version, "KEV catalogue loaded");
        Ok(KevSource {
            path,
            current: RwLock::new(Arc::new(catalogue)),
        })
    }

    /// Reads the file again; on failure the catalogue already loaded stays. Returns the number
    /// of entries now known.
    pub fn refresh(&self) -> Result<usize, KevLoadError> {
        let catalogue = read(&self.path)?;
        let entries = catalogue.len();
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        *current = Arc::new(catalogue);
        Ok(entries)
    }

    /// The catalogue as last read.
    pub fn current(&self) -> Arc<KevCatalogue> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// The file's catalogue; its size is checked before it is read.
fn read(path: &Path) -> Result<KevCatalogue, KevLoadError> {
    let io = |source| KevLoadError::Read {
        path: path.to_owned(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_KEV_BYTES as u64 {
        return Err(KevLoadError::Invalid {
            path: path.to_owned(),
            source: KevError::TooLarge {
                bytes: usize::try_from(size).unwrap_or(usize::MAX),
            },
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    KevCatalogue::parse(&bytes).map_err(|source| KevLoadError::Invalid {
        path: path.to_owned(),
        source,
    })
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

    #[test]
    fn a_refresh_reads_the_file_again_and_a_bad_one_keeps_the_last() {
        let dir = scratch("refresh");
        let path = dir.join("kev.json");
        std::fs::write(&path, r#"{"vulnerabilities": []}"#).unwrap();
        let source = KevSource::load(&path).unwrap();
        assert!(source.current().get("CVE-2021-44228").is_none());
        std::fs::copy(SAMPLE, &path).unwrap();
        assert_eq!(source.refresh().unwrap(), 3);
        assert!(source.current().get("CVE-2021-44228").is_some());
        std::fs::write(&path, b"{\"vulnerabilities\": [").unwrap();
        let error = source.refresh().unwrap_err().to_string();
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
