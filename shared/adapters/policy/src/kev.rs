//! CISA's Known Exploited Vulnerabilities catalogue, read from its published JSON
//! (`known_exploited_vulnerabilities.json`: `{"catalogVersion", "dateReleased", "count",
//! "vulnerabilities": [{"cveID", "vendorProject", "product", "vulnerabilityName", "dateAdded",
//! "shortDescription", "requiredAction", "dueDate", "knownRansomwareCampaignUse", "notes",
//! "cwes"}]}`), so that a policy can tell a CVE attackers already use (`input.kev`).
//!
//! The file comes from outside (a path an operator names, a copy the sweeper refreshes), so it is
//! bounded: at most [`MAX_KEV_BYTES`] and [`MAX_KEV_ENTRIES`] entries, each text cut to
//! [`MAX_TEXT_CHARS`]. What a policy sees of an entry is data, never markup: the ticket renderers
//! make any of it that reaches a ticket inert.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The largest catalogue read. CISA's whole catalogue is about 1.5 MB (some 1,400 entries in
/// 2025); 16 MB leaves room for a decade of growth and refuses a wrong file (an NVD dump) early.
pub const MAX_KEV_BYTES: usize = 16 * 1024 * 1024;

/// The most entries kept (CISA lists well under 2,000).
pub const MAX_KEV_ENTRIES: usize = 100_000;

/// The longest text kept per field of an entry.
pub const MAX_TEXT_CHARS: usize = 500;

/// Why a catalogue could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KevError {
    #[error(
        "the KEV catalogue is {bytes} bytes; scantix reads catalogues of up to {MAX_KEV_BYTES} \
         bytes: point the setting at CISA's known_exploited_vulnerabilities.json"
    )]
    TooLarge { bytes: usize },
    #[error(
        "the KEV catalogue lists {entries} vulnerabilities; scantix keeps up to \
         {MAX_KEV_ENTRIES}: point the setting at CISA's known_exploited_vulnerabilities.json"
    )]
    TooManyEntries { entries: usize },
    #[error(
        "the KEV catalogue is not CISA's JSON format ({path}: {message}); expected \
         {{\"vulnerabilities\": [{{\"cveID\": \"CVE-…\", …}}]}}"
    )]
    Format { path: String, message: String },
}

/// One known exploited vulnerability, as a policy reads it (`input.kev`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KevEntry {
    pub cve_id: String,
    pub vendor_project: String,
    pub product: String,
    pub vulnerability_name: String,
    /// When CISA added it (`YYYY-MM-DD`).
    pub date_added: String,
    /// The remediation date CISA set for US federal agencies (`YYYY-MM-DD`).
    pub due_date: String,
    /// Used in ransomware campaigns (`knownRansomwareCampaignUse` is `Known`).
    pub known_ransomware: bool,
}

/// The catalogue: CVE id → entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KevCatalogue {
    /// CISA's `catalogVersion` (`2025.01.02`), for logs and the sweep report.
    pub version: String,
    entries: HashMap<String, KevEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WrittenCatalogue {
    #[serde(default)]
    catalog_version: Option<String>,
    vulnerabilities: Vec<WrittenEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WrittenEntry {
    #[serde(rename = "cveID")]
    cve_id: String,
    #[serde(default)]
    vendor_project: String,
    #[serde(default)]
    product: String,
    #[serde(default)]
    vulnerability_name: String,
    #[serde(default)]
    date_added: String,
    #[serde(default)]
    due_date: String,
    #[serde(default)]
    known_ransomware_campaign_use: String,
}

impl KevCatalogue {
    /// Reads a catalogue in CISA's JSON format.
    pub fn parse(bytes: &[u8]) -> Result<KevCatalogue, KevError> {
        if bytes.len() > MAX_KEV_BYTES {
            return Err(KevError::TooLarge { bytes: bytes.len() });
        }
        let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
        let written: WrittenCatalogue =
            serde_path_to_error::deserialize(deserializer).map_err(|e| KevError::Format {
                path: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        if written.vulnerabilities.len() > MAX_KEV_ENTRIES {
            return Err(KevError::TooManyEntries {
                entries: written.vulnerabilities.len(),
            });
        }
        let entries = written
            .vulnerabilities
            .into_iter()
            .filter_map(|e| {
                let cve_id = normalised_cve(&e.cve_id)?;
                let entry = KevEntry {
                    cve_id: cve_id.clone(),
                    vendor_project: capped(&e.vendor_project),
                    product: capped(&e.product),
                    vulnerability_name: capped(&e.vulnerability_name),
                    date_added: capped(&e.date_added),
                    due_date: capped(&e.due_date),
                    known_ransomware: e
                        .known_ransomware_campaign_use
                        .eq_ignore_ascii_case("known"),
                };
                Some((cve_id, entry))
            })
            .collect();
        Ok(KevCatalogue {
            version: capped(written.catalog_version.as_deref().unwrap_or_default()),
            entries,
        })
    }

    /// The entry for `cve` (`CVE-2021-44228`, any case), if CISA lists it.
    pub fn get(&self, cve: &str) -> Option<&KevEntry> {
        self.entries.get(&normalised_cve(cve)?)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// `CVE-YYYY-NNNN…` in upper case, or `None` for anything else.
fn normalised_cve(raw: &str) -> Option<String> {
    let id = raw.trim().to_ascii_uppercase();
    let rest = id.strip_prefix("CVE-")?;
    let (year, number) = rest.split_once('-')?;
    let digits = |s: &str, min: usize, max: usize| {
        (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    (digits(year, 4, 4) && digits(number, 4, 12)).then_some(id)
}

/// One line of at most `MAX_TEXT_CHARS`, without control characters.
fn capped(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MAX_TEXT_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("../tests/fixtures/kev-sample.json");

    #[test]
    fn cisa_entries_are_found_by_cve_in_any_case() {
        let catalogue = KevCatalogue::parse(SAMPLE.as_bytes()).unwrap();
        assert_eq!(catalogue.len(), 3);
        let log4shell = catalogue.get("cve-2021-44228").unwrap();
        assert_eq!(log4shell.product, "Log4j2");
        assert_eq!(log4shell.date_added, "2021-12-10");
        assert!(log4shell.known_ransomware);
        assert!(catalogue.get("CVE-2020-0001").is_none());
        assert!(catalogue.get("not a cve").is_none());
    }

    #[test]
    fn an_oversized_or_foreign_file_is_refused_with_what_to_fix() {
        let big = vec![b' '; MAX_KEV_BYTES + 1];
        let e = KevCatalogue::parse(&big).unwrap_err();
        assert!(matches!(e, KevError::TooLarge { .. }), "{e}");
        assert!(
            e.to_string()
                .contains("known_exploited_vulnerabilities.json")
        );
        let e = KevCatalogue::parse(br#"{"CVE_Items": []}"#).unwrap_err();
        assert!(e.to_string().contains("not CISA's JSON format"), "{e}");
        let e = KevCatalogue::parse(br#"{"vulnerabilities": [{"cveID": 7}]}"#).unwrap_err();
        assert!(e.to_string().contains("vulnerabilities[0].cveID"), "{e}");
    }

    #[test]
    fn hostile_entries_are_cut_and_lose_control_characters() {
        let long = "x".repeat(10_000);
        let json = serde_json::json!({"vulnerabilities": [
            {"cveID": "CVE-2024-0001", "product": format!("a\u{0}\nb{long}")},
            {"cveID": "../../etc/passwd"},
        ]});
        let catalogue = KevCatalogue::parse(json.to_string().as_bytes()).unwrap();
        assert_eq!(catalogue.len(), 1);
        let product = &catalogue.get("CVE-2024-0001").unwrap().product;
        assert_eq!(product.chars().count(), MAX_TEXT_CHARS);
        assert!(product.starts_with("abx"));
    }
}
